"""The LLM reasoning step against an OpenAI-compatible API: a fake server on a free loopback port, never the internet.

The fake (stdlib `http.server`, one thread per request) records every request and answers deterministically from the
prompt: the tail entity of each `a -> r -> b` line, as a numbered list. The requested model name picks a failure
mode instead (`slow`, `crash`, `plain-text`, ...), so each error path of the client is met for real.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError, KMNotFound
from knowledge_mixer.graph import KnowledgeGraph
from knowledge_mixer.reason import (LLMEndpoint, Plan, PredictConfig, ReasonConfig, answer, chat_replies, check_endpoint, llm_endpoint,
                                    mark_valid, parse_answers, predict, reason)
from knowledge_mixer.text import reasoning_prompt

BIN = Path(sys.executable).parent
KEY = 'sk-test-0123456789'
FAILURES = {  # model name -> (status, content type, body) the fake answers with
    'crash': (500, 'application/json', {'error': {'message': 'the GPU caught fire', 'type': 'server_error'}}),
    'missing': (404, 'application/json', {'error': {'message': 'The model `missing` does not exist'}}),
    'limited': (429, 'application/json', {'error': {'message': 'slow down'}}),
    'plain-text': (200, 'text/plain', 'Hello! I am a web page, not an API.'),
    'broken-json': (200, 'application/json', '{"choices": [{"message": '),
    'no-choices': (200, 'application/json', {'id': 'c', 'object': 'chat.completion', 'created': 0, 'model': 'm', 'choices': []}),
    'not-a-completion': (200, 'application/json', {'status': 'ok'}),
}


class FakeLLM:
    "An OpenAI-compatible chat API on 127.0.0.1: records requests, echoes path tails, and fails on request (by model name)."

    def __init__(self, key=KEY, delay=0.0):
        self.key, self.delay, self.requests, self.lock = key, delay, [], threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.flaky_left = 0  # 'flaky' answers 503 this many times, then like 'echo'
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/v1'
        threading.Thread(target=self.httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True).start()

    def close(self):
        self.httpd.shutdown(); self.httpd.server_close()

    def chats(self): return [r for r in self.requests if r['path'].endswith('/chat/completions')]

    def answer(self, path, headers, body):
        "(status, content type, body, extra headers) for one request."
        if headers.get('authorization') != f'Bearer {self.key}':
            return 401, 'application/json', {'error': {'message': 'Incorrect API key provided', 'type': 'invalid_request_error'}}, {}
        if path.endswith('/models'):
            return 200, 'application/json', {'object': 'list', 'data': [{'id': 'echo', 'object': 'model', 'created': 0, 'owned_by': 'test'}]}, {}
        model = body.get('model')
        if model == 'slow': time.sleep(2)
        if model in FAILURES: return (*FAILURES[model], {'retry-after-ms': '1'})
        if model == 'flaky' and self.flaky_left > 0:
            self.flaky_left -= 1
            return 503, 'application/json', {'error': {'message': 'warming up'}}, {'retry-after-ms': '1'}
        prompt = body['messages'][-1]['content']
        tails = [line.rsplit(' -> ', 1)[1] for line in prompt.splitlines() if ' -> ' in line]
        text = '\n'.join(f'{i}. {t}' for i, t in enumerate(tails, 1))
        return 200, 'application/json', {'id': 'c', 'object': 'chat.completion', 'created': 0, 'model': model,
                                         'choices': [{'index': 0, 'finish_reason': 'stop', 'message': {'role': 'assistant', 'content': text}}]}, {}

    def _handler(fake):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args): pass

            def _serve(self):
                n = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(n)) if n else {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    fake.requests.append(dict(method=self.command, path=self.path, headers=headers, body=body))
                    fake.in_flight += 1; fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    time.sleep(fake.delay)
                    status, ctype, payload, extra = fake.answer(self.path, headers, body)
                finally:
                    with fake.lock: fake.in_flight -= 1
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                for k, v in {'Content-Type': ctype, 'Content-Length': str(len(data)), **extra}.items(): self.send_header(k, v)
                self.end_headers()
                try: self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError): pass  # the client gave up (a timeout test)

            do_GET = do_POST = _serve
        return Handler


@pytest.fixture
def fake():
    f = FakeLLM()
    yield f
    f.close()


def free_port() -> int:
    "A loopback port nobody listens on (bound, then released)."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def endpoint(url, model='echo', key=KEY, **settings) -> LLMEndpoint:
    return llm_endpoint(llm_base_url=url, llm_model=model, env={'KM_LLM_API_KEY': key} if key else {}, **settings)


@pytest.fixture(scope='module')
def films():
    "A six-triple KG, three questions with their (valid) gold plans."
    kg = KnowledgeGraph.from_triples([('Heat', 'directed_by', 'Michael Mann'), ('Heat', 'starred_actors', 'Al Pacino'),
                                      ('Heat', 'starred_actors', 'Robert De Niro'), ('Ronin', 'starred_actors', 'Robert De Niro'),
                                      ('Ronin', 'directed_by', 'John Frankenheimer'), ('Thief', 'directed_by', 'Michael Mann')])
    qs = [dict(id='q1', question='who acted in [Heat]', answer=['Al Pacino', 'Robert De Niro'], q_entity=['Heat']),
          dict(id='q2', question='who directed [Ronin]', answer=['John Frankenheimer'], q_entity=['Ronin']),
          dict(id='q3', question='which films share a director with [Thief]', answer=['Heat'], q_entity=['Thief'])]
    plans = [[Plan(('starred_actors',), 0.0)], [Plan(('directed_by',), 0.0)], [Plan(('directed_by', '~directed_by'), 0.0)]]
    mark_valid(kg, [q['q_entity'] for q in qs], plans)
    assert all(p.valid for ps in plans for p in ps)
    return kg, qs, plans


# ---------------------------------------------------------------- what is sent, what comes back

def test_prompt_carries_question_and_paths_key_is_bearer_answers_parsed(fake, films):
    kg, qs, plans = films
    preds = predict(kg, qs, plans, ReasonConfig(llm=True), endpoint=endpoint(fake.url))
    assert [sorted(p.prediction) for p in preds] == [sorted(q['answer']) for q in qs]
    sent = {req['body']['messages'][0]['content']: req for req in fake.chats()}
    assert len(sent) == 3
    for p in preds:
        req = sent[reasoning_prompt(p.question, p.paths, 3000)]  # RoG's prompt over the retrieved paths, as one user message
        assert req['headers']['authorization'] == f'Bearer {KEY}'
        assert req['body']['model'] == 'echo' and req['body']['temperature'] == 0 and req['body']['max_tokens'] == 256
        assert len(req['body']['messages']) == 1 and req['body']['messages'][0]['role'] == 'user'
        content = req['body']['messages'][0]['content']
        assert p.question in content and p.paths and all(path in content for path in p.paths)
    # the same answers as the reply's lines, read by the one parser both backends share
    assert parse_answers('1. Al Pacino\n2. Robert De Niro') == ['Al Pacino', 'Robert De Niro']


def test_retrieval_answers_unchanged_without_llm(films):
    kg, qs, plans = films
    assert [p.prediction for p in predict(kg, qs, plans, ReasonConfig())] == [p.prediction for p in answer(kg, qs, plans)]


def test_requests_in_flight_are_bounded_and_replies_keep_order(films):
    slow = FakeLLM(delay=0.15)
    try:
        prompts = [f'Reasoning Paths:\nq{i} -> r -> answer{i}\n\nQuestion:\nq{i}?' for i in range(12)]
        ep = endpoint(slow.url, llm_concurrency=3)
        assert chat_replies(ep, prompts) == [f'1. answer{i}' for i in range(12)]
        assert slow.max_in_flight == 3, slow.max_in_flight  # in parallel, never more than the setting
        slow.max_in_flight = 0
        assert len(chat_replies(endpoint(slow.url, llm_concurrency=1), prompts[:4])) == 4 and slow.max_in_flight == 1
    finally:
        slow.close()


def test_reason_accepts_an_endpoint_in_place_of_a_local_model(fake, films):
    kg, qs, plans = films
    preds = reason(endpoint(fake.url), None, qs, answer(kg, qs, plans, max_paths=10))
    assert [sorted(p.prediction) for p in preds] == [sorted(q['answer']) for q in qs]
    n = len(fake.requests)
    assert chat_replies(endpoint(fake.url), []) == [] and len(fake.requests) == n  # nothing to ask: no request


def test_retries_recover_from_a_flaky_server(fake):
    fake.flaky_left = 2
    assert chat_replies(endpoint(fake.url, 'flaky', llm_retries=2), ['a -> r -> b']) == ['1. b']
    assert len(fake.chats()) == 3  # two 503s, then the answer
    fake.flaky_left = 1
    with pytest.raises(KMInputError, match=r'HTTP 503: warming up'):
        chat_replies(endpoint(fake.url, 'flaky', llm_retries=0), ['a -> r -> b'])


# ---------------------------------------------------------------- failures: one clear error, never a traceback or the key

def _error(fn):
    with pytest.raises((KMInputError, KMNotFound)) as info: fn()
    e = info.value
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__), 'no chained traceback (raised `from None`)'
    assert KEY not in str(e)
    return e


@pytest.mark.parametrize('model,cls,says', [
    ('crash', KMInputError, "HTTP 500: the GPU caught fire; check the server's log"),
    ('missing', KMNotFound, 'HTTP 404: The model `missing` does not exist; check the model name (the server lists its models at'),
    ('limited', KMInputError, 'rate-limited (HTTP 429: slow down; 2 tries); lower llm_concurrency'),
    ('plain-text', KMInputError, "the reply is not JSON (it starts 'Hello! I am a web page"),
    ('broken-json', KMInputError, 'the reply is not JSON (JSONDecodeError'),
    ('no-choices', KMInputError, 'the reply has an empty choices list'),
    ('not-a-completion', KMInputError, 'the reply has no choices field'),
])
def test_error_replies_are_clear(fake, model, cls, says):
    e = _error(lambda: chat_replies(endpoint(fake.url, model, llm_retries=1), ['a -> r -> b']))
    assert type(e) is cls and str(e).startswith(f"LLM {model!r} at {fake.url}: ") and says in str(e), str(e)


def test_connection_refused_and_timeout_name_url_model_and_what_to_check(fake):
    url = f'http://127.0.0.1:{free_port()}/v1'
    e = _error(lambda: chat_replies(endpoint(url, llm_retries=0), ['q']))
    assert str(e).startswith(f"LLM 'echo' at {url}: cannot connect (") and 'check the URL (scheme, host, port)' in str(e), str(e)
    e = _error(lambda: check_endpoint(endpoint(url, llm_retries=0)))
    assert 'cannot connect' in str(e)
    t0 = time.perf_counter()
    e = _error(lambda: chat_replies(endpoint(fake.url, 'slow', llm_timeout=0.3, llm_retries=0), ['q']))
    assert 'no reply within 0.3 s (1 tries)' in str(e) and 'raise llm_timeout' in str(e), str(e)
    assert time.perf_counter() - t0 < 1.9  # the timeout, not the server's 2 s, ended the wait


def test_wrong_or_missing_key(fake):
    e = _error(lambda: chat_replies(endpoint(fake.url, key='sk-wrong-key'), ['q']))
    assert 'the key was refused (HTTP 401: Incorrect API key provided); check the key in $KM_LLM_API_KEY' in str(e)
    assert 'sk-wrong-key' not in str(e)
    e = _error(lambda: check_endpoint(endpoint(fake.url, key=None)))
    assert 'no key was sent: put it in KM_LLM_API_KEY or OPENAI_API_KEY' in str(e)
    assert fake.requests[-1]['headers']['authorization'] == 'Bearer no-key'  # a placeholder, as servers without keys expect


def test_a_key_echoed_by_the_server_is_blanked():
    class Echoing(FakeLLM):
        def answer(self, path, headers, body):
            return 400, 'application/json', {'error': {'message': f"bad request from {headers.get('authorization')}"}}, {}
    f = Echoing()
    try:
        e = _error(lambda: chat_replies(endpoint(f.url), ['q']))
        assert 'bad request from Bearer ***' in str(e)
    finally:
        f.close()


def test_first_failure_cancels_what_is_not_sent(fake):
    with pytest.raises(KMInputError): chat_replies(endpoint(fake.url, 'crash', llm_retries=0, llm_concurrency=2), ['q'] * 50)
    assert len(fake.chats()) < 10  # not all 50: the pool stopped at the first errors


# ---------------------------------------------------------------- settings: config, environment, command line

def test_settings_and_environment_fallbacks():
    env = {'OPENAI_BASE_URL': 'http://127.0.0.1:9/v1', 'KM_LLM_MODEL': 'm', 'OPENAI_API_KEY': 'sk-o'}
    ep = llm_endpoint(env=env)
    assert (ep.base_url, ep.model, ep.key_from) == ('http://127.0.0.1:9/v1', 'm', 'OPENAI_API_KEY')
    ep = llm_endpoint(env={**env, 'KM_LLM_BASE_URL': 'http://127.0.0.1:8/v1', 'KM_LLM_API_KEY': 'sk-k'})
    assert (ep.base_url, ep.key_from, ep.api_key) == ('http://127.0.0.1:8/v1', 'KM_LLM_API_KEY', 'sk-k')
    ep = llm_endpoint(ReasonConfig(llm_api_key_env='VAULT_KEY', llm_base_url='http://u:pw@127.0.0.1:7/v1'), env={**env, 'VAULT_KEY': 'sk-v'})
    assert (ep.key_from, ep.api_key) == ('VAULT_KEY', 'sk-v') and 'pw' not in str(ep) and 'sk-v' not in repr(ep)
    with pytest.raises(KMInputError, match='no LLM API to call'): llm_endpoint(env={})
    with pytest.raises(KMInputError, match='llm_timeout must be a positive'): llm_endpoint(env=env, llm_timeout=0)


def test_flags_reach_the_reasoning_config_of_both_commands(monkeypatch):
    from knowledge_mixer.core import parse_config
    from knowledge_mixer.pipeline import PipelineConfig
    argv = ['--llm', '--llm_base_url', 'http://127.0.0.1:9/v1', '--llm_model', 'm', '--llm_concurrency', '2', '--llm_timeout', '5']
    pc, _ = parse_config(PredictConfig, ['planner', 'kg.npz', 'q.jsonl', *argv])
    kc, _ = parse_config(PipelineConfig, argv)
    for c in (pc.reason, kc.reason):
        assert (c.llm, c.llm_base_url, c.llm_model, c.llm_concurrency, c.llm_timeout) == (True, 'http://127.0.0.1:9/v1', 'm', 2, 5.0)
    monkeypatch.delenv('KM_LLM_MODEL', raising=False)
    with pytest.raises(KMInputError, match='no LLM model'):  # the main job refuses before training, not after
        PipelineConfig(llm=True, llm_base_url='http://127.0.0.1:9/v1').check()


def test_an_old_run_folder_is_still_the_same_run(tmp_path):
    "A config.json written before the LLM settings existed matches a run that leaves them at their defaults."
    from knowledge_mixer.core import KMInputError as E
    from knowledge_mixer.pipeline import PipelineConfig, claim_run_folder
    cfg = PipelineConfig(out=str(tmp_path / 'run'), n_movies=80)
    claim_run_folder(cfg)
    f = tmp_path / 'run' / 'config.json'
    saved = json.loads(f.read_text())
    saved['reason'] = {k: v for k, v in saved['reason'].items() if not k.startswith('llm')}
    f.write_text(json.dumps(saved))
    claim_run_folder(PipelineConfig(out=str(tmp_path / 'run'), n_movies=80, llm_timeout=5))  # defaults, and a non-identity setting
    with pytest.raises(E, match=r'llm: None -> True|llm: False -> True'):
        claim_run_folder(PipelineConfig(out=str(tmp_path / 'run'), n_movies=80, llm=True, llm_base_url='http://127.0.0.1:9/v1', llm_model='m'))


# ---------------------------------------------------------------- km_predict --llm and the pipeline's predict stage, end to end

@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    "A run folder as the main job leaves it (kg.npz, questions/test.jsonl, train/model): a 60-film world, an untrained tiny planner."
    import torch
    torch.set_num_threads(1)
    from knowledge_mixer.data import movie_questions, movie_world, save_jsonl
    from knowledge_mixer.model import add_path_tokens, build_tokenizer, tiny_model
    from knowledge_mixer.text import planning_prompt
    d = tmp_path_factory.mktemp('run')
    kg = movie_world(60, seed=0)
    qs = movie_questions(kg, per_type=1, seed=0)[:4]
    tok = build_tokenizer([planning_prompt(q.question) for q in qs] + kg.relation_names, vocab_size=300)
    model = tiny_model(tok, hidden=32, layers=1, heads=2)
    add_path_tokens(model, tok)
    model.save_pretrained(d / 'train' / 'model'); tok.save_pretrained(d / 'train' / 'model')
    kg.save(d / 'kg.npz'); save_jsonl(qs, d / 'questions' / 'test.jsonl')
    return d


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('KM_LLM_', 'OPENAI_'))}
    return {**env, 'OMP_NUM_THREADS': '1', **extra}


def test_km_predict_llm_flag_end_to_end(fake, tiny_run, tmp_path):
    out = tmp_path / 'preds.jsonl'
    argv = [str(BIN / 'km_predict'), str(tiny_run / 'train' / 'model'), str(tiny_run / 'kg.npz'), str(tiny_run / 'questions' / 'test.jsonl'),
            '--out', str(out), '--beams', '1', '--llm', '--llm_base_url', fake.url, '--llm_model', 'echo', '--llm_concurrency', '2']
    r = subprocess.run(argv, capture_output=True, text=True, env=_clean_env(KM_LLM_API_KEY=KEY), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "answers by the LLM 'echo'" in r.stdout and KEY not in r.stdout + r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and len(fake.chats()) == 4 and fake.requests[0]['path'] == '/v1/models'  # checked first, then asked
    asked = {req['body']['messages'][0]['content'] for req in fake.chats()}
    assert sum(bool(row['paths']) for row in rows) >= 2  # the untrained planner's constrained plans are real paths, mostly reaching answers
    for row in rows:
        assert bool(row['paths']) == any(p['valid'] for p in row['plans']), row  # paths come from the plans that reach answers
        assert sorted(row['prediction']) == sorted({p.rsplit(' -> ', 1)[1] for p in row['paths']})
        assert any(row['question'] in a and all(p in a for p in row['paths']) for a in asked)
    saved = (tmp_path / 'preds.jsonl.config.json').read_text()
    assert json.loads(saved)['reason']['llm_base_url'] == fake.url and KEY not in saved


def test_km_predict_llm_errors_are_one_line_before_any_planning(tmp_path):
    "The endpoint is checked first: files that do not even exist are not what the error is about."
    base = [str(BIN / 'km_predict'), str(tmp_path / 'no-model'), str(tmp_path / 'no-kg.npz'), str(tmp_path / 'no-questions.jsonl'),
            '--out', str(tmp_path / 'p.jsonl'), '--llm']
    url = f'http://127.0.0.1:{free_port()}/v1'
    r = subprocess.run([*base, '--llm_base_url', url, '--llm_model', 'echo', '--llm_retries', '0'], capture_output=True, text=True,
                       env=_clean_env(KM_LLM_API_KEY=KEY), timeout=120)
    assert r.returncode == 2 and r.stderr.startswith(f"km_predict: error: LLM 'echo' at {url}: cannot connect"), r.stderr
    assert 'Traceback' not in r.stderr and KEY not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run(base, capture_output=True, text=True, env=_clean_env(), timeout=120)
    assert r.returncode == 2 and 'no LLM API to call: set llm_base_url (--llm_base_url URL) or KM_LLM_BASE_URL' in r.stderr, r.stderr
    assert not (tmp_path / 'p.jsonl').exists()


def test_pipeline_predict_stage_with_the_llm(fake, tiny_run, monkeypatch):
    from knowledge_mixer.pipeline import PipelineConfig, stage_predict
    monkeypatch.setenv('KM_LLM_API_KEY', KEY)
    cfg = PipelineConfig(out=str(tiny_run), beams=1, threads=1, llm=True, llm_base_url=fake.url, llm_model='echo')
    m = stage_predict(cfg, tiny_run)
    assert m['llm'] == 'echo' and m['questions'] == 4 and len(fake.chats()) == 4
    rows = [json.loads(line) for line in (tiny_run / 'predictions.jsonl').read_text().splitlines()]
    assert all(sorted(r['prediction']) == sorted({p.rsplit(' -> ', 1)[1] for p in r['paths']}) for r in rows)


def test_km_predict_reports_a_capped_menu(tiny_run, tmp_path):
    "#20: a question whose menu of relation paths was cut by --max_candidates says so in its prediction and in the command's summary."
    from knowledge_mixer.graph import KnowledgeGraph
    from knowledge_mixer.paths import relation_paths_from
    qs = [json.loads(line) for line in (tiny_run / 'questions' / 'test.jsonl').read_text().splitlines()]
    kg = KnowledgeGraph.load(tiny_run / 'kg.npz')
    menus = [len(relation_paths_from(kg, q['q_entity'], 3).paths) for q in qs]
    cap = sorted(menus)[len(menus) // 2]  # cuts the larger menus only
    base = [str(BIN / 'km_predict'), str(tiny_run / 'train' / 'model'), str(tiny_run / 'kg.npz'), str(tiny_run / 'questions' / 'test.jsonl'), '--beams', '1']
    r = subprocess.run([*base, '--out', str(tmp_path / 'capped.jsonl'), '--max_candidates', str(cap)], capture_output=True, text=True,
                       env=_clean_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / 'capped.jsonl').read_text().splitlines()]
    assert [row.get('capped', False) for row in rows] == [n > cap for n in menus]
    assert all(p.get('capped', False) == (n > cap) for row, n in zip(rows, menus) for p in row['plans'])
    assert f'{sum(n > cap for n in menus)} questions planned from a capped menu' in r.stdout and '--max_candidates' in r.stdout
    r = subprocess.run([*base, '--out', str(tmp_path / 'full.jsonl')], capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert r.returncode == 0 and 'capped' not in r.stdout + (tmp_path / 'full.jsonl').read_text()
    r = subprocess.run([*base, '--out', str(tmp_path / 'x.jsonl'), '--max_candidates', '0'], capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert r.returncode == 2 and 'max_candidates must be >= 1, got 0' in r.stderr and len(r.stderr.strip().splitlines()) == 1
