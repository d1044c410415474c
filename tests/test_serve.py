"""km_serve: the official `openai` client, plain HTTP and headless Chromium against a real uvicorn server on a free loopback port.

The server layer is tested on `FakeReasoner` below, which has the `Reasoner` interface (name, ask, ask_many) and records how
it was called; the command on a real trained run is tested where `knowledge_mixer.ask` exists (marked slow: it trains a tiny run).
"""
import base64
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from knowledge_mixer.core import KMInputError
from knowledge_mixer.serve import km_serve, make_app, running_server

BIN = Path(sys.executable).parent
ERROR_KEYS = {'message', 'type', 'param', 'code'}


class FakeAnswer:
    def __init__(self, d): self.d = d
    def to_dict(self): return dict(self.d)


class FakeReasoner:
    "The Reasoner interface: '... about X' answers 'X-answer' (two paths through X-mid/X-mid2) and 'X-other'; '!bad' is a user error, '!bug' a bug."
    def __init__(self, name='fake-run', delay=0.0):
        self.name, self.delay = name, delay
        self.calls, self.active, self.max_active, self.lock = [], 0, 0, threading.Lock()

    def _one(self, q):
        if q == '!bad': raise KMInputError('no entity of the graph in "!bad"')
        if q == '!bug': raise RuntimeError('secret internal state 0xdeadbeef')
        x = q.split()[-1].strip('?')
        return FakeAnswer(dict(question=q, answers=[dict(answer=f'{x}-answer', score=0.9), dict(answer=f'{x}-other', score=0.25)],
                               entities=[dict(entity=x, span=x, start=q.index(x), end=q.index(x) + len(x), score=1.0)],
                               plans=[dict(relations=['r1', 'r2'], score=0.8, valid=True)],
                               paths=[f'{x} -> r1 -> {x}-mid -> r2 -> {x}-answer', f'{x} -> r1 -> {x}-mid2 -> r2 -> {x}-answer',
                                      f'{x} -> r3 -> {x}-other'],
                               explanation=f'{x} leads to {x}-answer twice.', seconds=0.01))

    def _call(self, questions):
        with self.lock:
            self.active += 1; self.max_active = max(self.max_active, self.active); self.calls.append(len(questions))
        try:
            time.sleep(self.delay)
            return [self._one(q) for q in questions]
        finally:
            with self.lock: self.active -= 1

    def ask(self, question): return self._call([question])[0]
    def ask_many(self, questions, batch_size=8): return self._call(list(questions))


@pytest.fixture(scope='module')
def server():
    "A server on a free loopback port answering from FakeReasoner (no key)."
    fake = FakeReasoner()
    with running_server(make_app(fake, max_body=4000)) as url:
        yield url, fake


def client(url, key='no-key-needed'):
    return openai.OpenAI(base_url=f'{url}/v1', api_key=key, max_retries=0, timeout=30)


def ask_body(question, **kw):
    return {'model': 'fake-run', 'messages': [{'role': 'user', 'content': question}], **kw}


# ---------------------------------------------------------------- the official client

def test_models_list(server):
    url, _ = server
    c = client(url)
    assert [m.id for m in c.models.list()] == ['fake-run']
    assert c.models.retrieve('fake-run').owned_by == 'knowledge-mixer'
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve('gpt-4o')


def test_chat_completion(server):
    url, _ = server
    r = client(url).chat.completions.create(model='fake-run', messages=[
        {'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'tell me about Alpha'},
        {'role': 'assistant', 'content': 'Alpha-answer'}, {'role': 'user', 'content': 'and about Beta?'}])
    text = r.choices[0].message.content
    assert r.object == 'chat.completion' and r.model == 'fake-run' and r.choices[0].finish_reason == 'stop'
    assert text.startswith('Answer: Beta-answer (0.90); Beta-other (0.25)')  # the last user message is the question
    assert '- Beta -> r1 -> Beta-mid -> r2 -> Beta-answer' in text and 'Beta leads to Beta-answer twice.' in text
    kgqa = r.model_extra['kgqa']  # the structured answer: Answer.to_dict() as the reasoner gave it
    assert kgqa == FakeReasoner()._one('and about Beta?').to_dict()
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0


def test_chat_completion_stream(server):
    url, _ = server
    c = client(url)
    plain = c.chat.completions.create(**ask_body('what about Gamma?')).choices[0].message.content
    chunks = list(c.chat.completions.create(**ask_body('what about Gamma?'), stream=True, stream_options={'include_usage': True}))
    assert chunks[0].choices[0].delta.role == 'assistant'
    assert ''.join(ch.choices[0].delta.content or '' for ch in chunks if ch.choices) == plain
    finals = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert [f.choices[0].finish_reason for f in finals] == ['stop'] and finals[0].model_extra['kgqa']['answers'][0]['answer'] == 'Gamma-answer'
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    # on the wire: OpenAI's SSE framing, every event a `data:` line, the last one [DONE]
    with httpx.stream('POST', f'{url}/v1/chat/completions', json=ask_body('what about Gamma?', stream=True)) as r:
        assert r.headers['content-type'].startswith('text/event-stream')
        events = [line for line in r.iter_lines() if line]
    assert all(e.startswith('data: ') for e in events) and events[-1] == 'data: [DONE]'
    assert all(json.loads(e[6:])['object'] == 'chat.completion.chunk' for e in events[:-1])


def test_kgqa_native(server):
    url, _ = server
    one = httpx.post(f'{url}/v1/kgqa', json={'question': '  about Delta  '}).json()
    assert one['model'] == 'fake-run' and one['question'] == 'about Delta' and one['answers'][0]['answer'] == 'Delta-answer'
    many = httpx.post(f'{url}/v1/kgqa', json={'questions': ['about A', 'about B', 'about C']}).json()
    assert [r['answers'][0]['answer'] for r in many['results']] == ['A-answer', 'B-answer', 'C-answer']
    h = httpx.get(f'{url}/healthz').json()
    assert h['status'] == 'ok' and h['model'] == 'fake-run' and h['answered'] >= 4


# ---------------------------------------------------------------- errors: 4xx in OpenAI's shape, never a traceback

BAD_REQUESTS = [  # (id, method, path, httpx kwargs, status, a phrase of the message, param)
    ('content-not-text', 'POST', '/v1/chat/completions', dict(json={'messages': [{'role': 'user', 'content': 42}]}), 400, 'valid string', 'messages.0.content'),
    ('stream-not-bool', 'POST', '/v1/chat/completions', dict(json=ask_body('q', stream='yes')), 400, 'valid boolean', 'stream'),
    ('messages-not-list', 'POST', '/v1/chat/completions', dict(json={'messages': 'hi'}), 400, 'valid list', 'messages'),
    ('temperature-not-number', 'POST', '/v1/chat/completions', dict(json=ask_body('q', temperature='hot')), 400, 'valid number', 'temperature'),
    ('bad-role', 'POST', '/v1/chat/completions', dict(json={'messages': [{'role': 'wizard', 'content': 'q'}]}), 400, "'user'", 'messages.0.role'),
    ('n-2', 'POST', '/v1/chat/completions', dict(json=ask_body('q', n=2)), 400, 'less than or equal to 1', 'n'),
    ('empty-messages', 'POST', '/v1/chat/completions', dict(json={'messages': []}), 400, 'must not be empty', 'messages'),
    ('no-user-message', 'POST', '/v1/chat/completions', dict(json={'messages': [{'role': 'system', 'content': 'x'}]}), 400, 'no user message', 'messages'),
    ('blank-question', 'POST', '/v1/chat/completions', dict(json=ask_body('   ')), 400, 'the question is empty', 'messages'),
    ('image-part', 'POST', '/v1/chat/completions', dict(json={'messages': [{'role': 'user', 'content': [{'type': 'image_url'}]}]}), 400, 'only text', 'messages'),
    ('unknown-model', 'POST', '/v1/chat/completions', dict(json=ask_body('q') | {'model': 'gpt-4o'}), 404, "'gpt-4o' is not served", 'model'),
    ('bad-json', 'POST', '/v1/chat/completions', dict(content=b'{"messages": [', headers={'content-type': 'application/json'}), 400, 'not valid JSON', None),
    ('no-body', 'POST', '/v1/chat/completions', dict(), 400, 'no JSON body', None),
    ('body-is-list', 'POST', '/v1/kgqa', dict(json=['about A']), 400, 'must be a JSON object', None),
    ('not-sent-as-json', 'POST', '/v1/kgqa', dict(content=b'{"question": "about A"}', headers={'content-type': 'text/plain'}), 400,
     'Content-Type: application/json', None),
    ('too-large', 'POST', '/v1/kgqa', dict(json={'question': 'x' * 5000}), 413, 'larger than 4,000 bytes', None),
    ('too-large-chunked', 'POST', '/v1/kgqa', dict(content=iter([b'{"question": "', b'x' * 5000, b'"}']), headers={'content-type': 'application/json'}),
     413, 'larger than 4,000 bytes', None),
    ('question-and-questions', 'POST', '/v1/kgqa', dict(json={'question': 'a', 'questions': ['b']}), 400, 'either "question"', 'question'),
    ('too-many-questions', 'POST', '/v1/kgqa', dict(json={'questions': ['q'] * 65}), 400, 'at most 64', 'questions'),
    ('blank-in-batch', 'POST', '/v1/kgqa', dict(json={'questions': ['about A', ' ']}), 400, 'the question is empty', 'questions.1'),
    ('reasoner-input-error', 'POST', '/v1/kgqa', dict(json={'question': '!bad'}), 400, 'no entity of the graph', 'question'),
    ('unknown-route', 'GET', '/v1/completions', dict(), 404, 'no route GET /v1/completions', None),
    ('wrong-method', 'GET', '/v1/chat/completions', dict(), 405, 'GET is not allowed', None),
]


@pytest.mark.parametrize('method,path,kw,status,phrase,param', [pytest.param(*b[1:], id=b[0]) for b in BAD_REQUESTS])
def test_bad_requests_are_4xx_in_openai_shape(server, method, path, kw, status, phrase, param):
    url, _ = server
    r = httpx.request(method, f'{url}{path}', **kw)
    assert r.status_code == status, r.text
    err = r.json()['error']
    assert set(err) == ERROR_KEYS and phrase in err['message'] and err['param'] == param, err
    assert err['type'] == 'invalid_request_error' and 'Traceback' not in r.text


def test_body_limit_is_exact(server):
    "Control for the 413 cases: a body of exactly the limit passes, one byte more does not."
    url, _ = server
    def body(n):
        b = json.dumps({'question': 'about A', 'pad': ''}).encode()
        return json.dumps({'question': 'about A', 'pad': 'p' * (n - len(b))}).encode()
    ok = httpx.post(f'{url}/v1/kgqa', content=body(4000), headers={'content-type': 'application/json'})
    over = httpx.post(f'{url}/v1/kgqa', content=body(4001), headers={'content-type': 'application/json'})
    assert (ok.status_code, over.status_code) == (200, 413)


def test_a_bug_is_a_generic_500_and_logged(server, caplog):
    "The reasoner crashing: the client gets a 500 with an error id and nothing of the internals; the log has the traceback."
    url, _ = server
    with caplog.at_level(logging.ERROR, logger='km_serve'):
        r = httpx.post(f'{url}/v1/chat/completions', json=ask_body('!bug'))
    err = r.json()['error']
    assert r.status_code == 500 and set(err) == ERROR_KEYS and err['type'] == 'server_error'
    assert 'secret' not in r.text and 'RuntimeError' not in r.text and 'Traceback' not in r.text
    eid = err['message'].split('(id ')[1].split(')')[0]
    logged = [rec for rec in caplog.records if eid in rec.getMessage()]
    assert logged and 'secret internal state' in str(logged[0].exc_info[1])


def test_one_bad_question_fails_only_its_request():
    "A batch holding a failing question: the batch call fails, its questions are asked one by one, the others succeed."
    fake = FakeReasoner(delay=0.2)
    with running_server(make_app(fake)) as url, ThreadPoolExecutor(6) as pool:
        qs = ['about A', '!bug', 'about B', '!bad', 'about C', 'about D']
        rs = list(pool.map(lambda q: httpx.post(f'{url}/v1/kgqa', json={'question': q}, timeout=30), qs))
    assert [r.status_code for r in rs] == [200, 500, 200, 400, 200, 200]
    assert [rs[i].json()['answers'][0]['answer'] for i in (0, 2, 4, 5)] == ['A-answer', 'B-answer', 'C-answer', 'D-answer']


def test_a_short_batch_reply_still_answers_everyone():
    "ask_many returning fewer answers than questions: the batcher notices and asks one by one; no request hangs."
    class Short(FakeReasoner):
        def ask_many(self, questions, batch_size=8): return super().ask_many(questions)[:1]
    with running_server(make_app(Short(delay=0.2))) as url, ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(lambda i: httpx.post(f'{url}/v1/kgqa', json={'question': f'about x{i}'}, timeout=30), range(4)))
    assert [r.json()['answers'][0]['answer'] for r in rs] == [f'x{i}-answer' for i in range(4)]


def test_a_full_queue_answers_503_at_once():
    "More questions waiting than max_queue: the extra requests get 503 'overloaded' immediately; the rest are answered."
    with running_server(make_app(FakeReasoner(delay=0.5), batch=1, max_queue=2)) as url, ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda i: httpx.post(f'{url}/v1/kgqa', json={'question': f'about x{i}'}, timeout=30), range(8)))
    codes = sorted(r.status_code for r in rs)
    assert 200 in codes and 503 in codes and set(codes) <= {200, 503}, codes
    busy = next(r for r in rs if r.status_code == 503).json()['error']
    assert busy['code'] == 'overloaded' and busy['type'] == 'server_error'


# ---------------------------------------------------------------- the API key

def test_api_key_on_every_route():
    with running_server(make_app(FakeReasoner(), api_key='k-123')) as url:
        with pytest.raises(openai.AuthenticationError):
            client(url, 'wrong').models.list()
        assert client(url, 'k-123').chat.completions.create(**ask_body('about A')).choices[0].message.content.startswith('Answer: A-answer')
        for method, path in (('GET', '/'), ('GET', '/healthz'), ('GET', '/v1/models'), ('POST', '/v1/kgqa'),
                             ('POST', '/v1/chat/completions'), ('GET', '/no/such/route'), ('GET', '/openapi.json')):
            r = httpx.request(method, f'{url}{path}', json={'question': 'about A'} if method == 'POST' else None)
            assert r.status_code == 401 and r.json()['error']['code'] == 'invalid_api_key', (path, r.text)
        assert httpx.get(url).headers['www-authenticate'].startswith('Basic')  # the page: a browser prompts for the key
        basic = 'Basic ' + base64.b64encode(b'me:k-123').decode()
        assert httpx.get(url, headers={'Authorization': basic}).status_code == 200
        assert httpx.get(f'{url}/healthz', headers={'Authorization': 'Bearer k-12'}).status_code == 401


# ---------------------------------------------------------------- many clients

def test_sixteen_concurrent_clients():
    "16 openai clients at once: each gets its own answer; the model ran one call at a time, batching the waiting questions."
    fake = FakeReasoner(delay=0.3)
    with running_server(make_app(fake, batch=8)) as url:
        start = threading.Barrier(16)
        def one(i):
            c = client(url)
            start.wait()
            return c.chat.completions.create(**ask_body(f'about q{i}')).model_extra['kgqa']['answers'][0]['answer']
        with ThreadPoolExecutor(16) as pool: got = list(pool.map(one, range(16)))
        health = httpx.get(f'{url}/healthz').json()
    assert got == [f'q{i}-answer' for i in range(16)]
    assert fake.max_active == 1, 'two model calls overlapped'
    assert sum(fake.calls) == 16 and max(fake.calls) <= 8 and len(fake.calls) < 16, fake.calls
    assert health['answered'] == 16 and health['model_calls'] == len(fake.calls)


def test_event_loop_stays_responsive_during_a_slow_answer():
    "While the model works on a slow question, /healthz still answers at once (the call runs off the event loop)."
    with running_server(make_app(FakeReasoner(delay=1.5))) as url, ThreadPoolExecutor(1) as pool:
        slow = pool.submit(httpx.post, f'{url}/v1/kgqa', json={'question': 'about A'}, timeout=30)
        time.sleep(0.3)
        t0 = time.perf_counter(); h = httpx.get(f'{url}/healthz'); dt = time.perf_counter() - t0
        assert h.status_code == 200 and dt < 0.5 and not slow.done(), dt
        assert slow.result().status_code == 200


def test_small_replies_are_not_delayed_by_nagle(monkeypatch):
    "Sequential requests on one connection take about a millisecond, not a delayed ACK's 40 ms, on either event loop; the control can fail."
    import knowledge_mixer.serve as serve
    def median_ms(loop):
        with running_server(make_app(FakeReasoner()), loop=loop) as url, httpx.Client(base_url=url) as c:
            ts = []
            for _ in range(9):
                t = time.perf_counter(); c.post('/v1/kgqa', json={'question': 'about A'}); ts.append(time.perf_counter() - t)
        return sorted(ts)[4] * 1e3
    assert median_ms('auto') < 20 and median_ms('asyncio') < 20
    def bind_without_proto(host, port):  # control: a socket whose protocol is left 0, so asyncio leaves Nagle on
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind((host, port)); return s
    monkeypatch.setattr(serve, '_bind', bind_without_proto)
    assert median_ms('asyncio') > 30


# ---------------------------------------------------------------- the page

def test_page_is_self_contained(server):
    url, _ = server
    r = httpx.get(url)
    assert r.status_code == 200 and r.headers['content-type'].startswith('text/html')
    csp = r.headers['content-security-policy']
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and 'unsafe-inline' not in csp
    html = r.text
    for ref in ('src="http', "src='http", 'href="http', '@import', 'url(http', '//cdn'):
        assert ref not in html, ref


def test_page_in_headless_chromium(server, browser, tmp_path):
    "Type a question, press Enter: the answers appear and the supporting paths are drawn as an SVG graph; screenshot saved."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    url, _ = server
    browser.get(url + '/')
    assert 'fake-run' in browser.title
    box = browser.find_element(By.ID, 'q')
    box.send_keys('what about Omega?', Keys.ENTER)
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#graph g.edge'))
    answers = [li.text.split('\n')[0] for li in browser.find_elements(By.CSS_SELECTOR, '#answers li')]
    assert answers[0].startswith('Omega-answer') and answers[1].startswith('Omega-other'), answers
    nodes = {g.get_attribute('data-entity'): g.get_attribute('class') for g in browser.find_elements(By.CSS_SELECTOR, '#graph g.node')}
    edges = sorted(g.get_attribute('data-relation') for g in browser.find_elements(By.CSS_SELECTOR, '#graph g.edge'))
    assert set(nodes) == {'Omega', 'Omega-mid', 'Omega-mid2', 'Omega-answer', 'Omega-other'}, nodes
    assert edges == ['r1', 'r1', 'r2', 'r2', 'r3']  # one arrow per distinct step of the three paths
    assert 'topic' in nodes['Omega'] and 'answer' in nodes['Omega-answer'] and 'answer' not in nodes['Omega-mid']
    size = browser.execute_script("const r = document.getElementById('graph').getBoundingClientRect(); return [r.width, r.height];")
    assert size[0] > 400 and size[1] > 60, size  # drawn, not an empty box
    assert 'Omega leads to Omega-answer' in browser.find_element(By.ID, 'explanation').text
    shot = tmp_path / 'km_serve_page.png'
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    # nothing loaded from anywhere but this server; no script errors (a CSP violation would show up here)
    origins = browser.execute_script("return performance.getEntriesByType('resource').map(e => new URL(e.name).origin);")
    assert set(origins) <= {url}, origins
    severe = [e for e in browser.get_log('browser') if e['level'] == 'SEVERE']
    assert not severe, severe


def test_page_shows_errors(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url, _ = server
    browser.get(url + '/?q=!bad')  # ?q= asks at once
    WebDriverWait(browser, 20).until(lambda d: 'Error' in d.find_element(By.ID, 'status').text)
    assert 'no entity of the graph' in browser.find_element(By.ID, 'status').text


def test_page_with_api_key_in_chromium(browser):
    "With a key, the page opens with it as the Basic-auth password (what a browser's prompt sends) and its requests carry it."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    with running_server(make_app(FakeReasoner(), api_key='k-123')) as url:
        browser.get(url + '/')
        assert 'fake-run' not in browser.title  # 401: no page without the key
        browser.get(url.replace('http://', 'http://me:k-123@') + '/?q=about%20Kappa')
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#graph g.edge'))
        assert browser.find_element(By.CSS_SELECTOR, '#answers li').text.startswith('Kappa-answer')


# ---------------------------------------------------------------- the command

@pytest.fixture
def fake_ask(monkeypatch):
    "A stand-in `knowledge_mixer.ask` whose Reasoner.from_run gives a FakeReasoner named after the run folder."
    mod = types.ModuleType('knowledge_mixer.ask')
    mod.Reasoner = type('Reasoner', (), {'from_run': staticmethod(lambda run, **kw: FakeReasoner(name=Path(run).name))})
    monkeypatch.setitem(sys.modules, 'knowledge_mixer.ask', mod)
    monkeypatch.delenv('KM_API_KEY', raising=False)
    return mod


def test_km_serve_check_with_key_from_env(fake_ask, monkeypatch, capsys):
    monkeypatch.setenv('KM_API_KEY', 'from-env')
    km_serve(run='runs/kgqa', check=True, question='who is behind Zeta?')
    out = capsys.readouterr().out
    assert 'kgqa loaded from runs/kgqa' in out and 'POST /v1/chat/completions -> 200' in out and 'Answer: Zeta-answer' in out


def test_km_serve_port_in_use_is_a_clear_error(fake_ask, capsys):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); s.listen(1)
        with pytest.raises(SystemExit) as e:
            km_serve(run='runs/kgqa', port=s.getsockname()[1])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'cannot listen on 127.0.0.1:' in err and '--port' in err and 'Traceback' not in err


def test_km_serve_command_line():
    r = subprocess.run([str(BIN / 'km_serve'), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and '--api-key' in r.stdout and '127.0.0.1' in r.stdout
    r = subprocess.run([str(BIN / 'km_serve'), 'runs/kgqa', '--port', '70000'], capture_output=True, text=True)
    assert r.returncode != 0 and 'Traceback' not in r.stderr


def _has_reasoner():
    try:
        from knowledge_mixer.ask import Reasoner  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _has_reasoner(), reason='needs knowledge_mixer.ask (the Reasoner of issue #16, built beside this server); runs once it is merged')
def test_km_serve_on_a_trained_run(tmp_path):
    "The real command on a tiny trained run: load, start, answer over HTTP (--check), exit 0."
    small = ('--n_movies', '100', '--per_type', '2', '--base', 'tiny', '--steps', '3', '--beams', '2', '--threads', '1')
    r = subprocess.run([str(BIN / 'km_pipeline'), '--out', 'run', *small], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([str(BIN / 'km_serve'), str(tmp_path / 'run'), '--check', '--api-key', 'k'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and 'POST /v1/chat/completions -> 200' in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
