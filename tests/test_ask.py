"""The Reasoner and km_ask on a tiny run folder: answers as km_predict gives them, clear errors, the command line and its prompt.

The run folder is made once per session: the main job's graph and questions stages on a 100-film world, and an untrained
tiny planner saved where the train stage puts its model. Untrained plans are noise, but KG-constrained decoding keeps
them valid, so everything here can be checked against `reason.plan`/`reason.answer` on the same planner.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError, KMNotFound

BIN = Path(sys.executable).parent
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'KM_PROGRESS': '0'}
TOPIC = 'The Lost River'  # the first film of movie_world(n, seed=0), for any n


@pytest.fixture(scope='session')
def ask_run(tmp_path_factory):
    "A run folder as km_pipeline leaves it for asking (config.json, kg.npz, questions, train/model), with an untrained tiny planner."
    import contextlib, io
    from knowledge_mixer.data import load_jsonl
    from knowledge_mixer.model import add_path_tokens, build_tokenizer, tiny_model
    from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
    from knowledge_mixer.text import planning_prompt
    out = tmp_path_factory.mktemp('ask') / 'run'
    with contextlib.redirect_stdout(io.StringIO()):
        run_pipeline(PipelineConfig(out=str(out), n_movies=100, per_type=2, beams=2, threads=1), ['graph', 'questions'])
    recs = load_jsonl(out / 'questions' / 'train.jsonl')
    tok = build_tokenizer([planning_prompt(r.question) for r in recs], vocab_size=300)
    model = tiny_model(tok, hidden=32, layers=1, heads=2)
    add_path_tokens(model, tok)
    model.save_pretrained(out / 'train' / 'model'); tok.save_pretrained(out / 'train' / 'model')
    return out


@pytest.fixture(scope='session')
def reasoner(ask_run):
    from knowledge_mixer.ask import Reasoner
    return Reasoner.from_run(ask_run)


def _ends_at(path, entity): return path.endswith(' -> ' + entity)


def test_from_run_reads_the_runs_settings(ask_run, reasoner):
    from knowledge_mixer.ask import Reasoner
    assert reasoner.name == 'run' and reasoner.settings.beams == 2 and reasoner.settings.top_plans == 1  # config.json's
    assert Reasoner.from_run(ask_run, beams=3, top_plans=2).settings.beams == 3
    with pytest.raises(KMInputError, match=r"unknown setting\(s\) \['beam'\]"): Reasoner.from_run(ask_run, beam=3)
    with pytest.raises(KMInputError, match='top_plans must be >= 1, got 0'): Reasoner.from_run(ask_run, top_plans=0)


def test_ask_returns_a_complete_answer(reasoner):
    a = reasoner.ask(f'name the director of [{TOPIC}]')
    d = json.loads(json.dumps(a.to_dict()))
    assert list(d) == ['question', 'answers', 'entities', 'plans', 'paths', 'explanation', 'seconds']
    assert d['entities'] == [{'entity': TOPIC, 'span': TOPIC, 'start': 22, 'end': 22 + len(TOPIC), 'score': 1.0}]
    assert a.answers and all(set(x) == {'answer', 'score'} and 0 < x['score'] <= 1 for x in a.answers)
    scores = [x['score'] for x in a.answers]
    assert scores == sorted(scores, reverse=True)
    assert a.plans and len(a.plans) <= 2 and a.plans[0]['valid']  # constrained planning, beams=2; the best plan reaches an answer
    assert a.paths and all(p.startswith(TOPIC + ' -> ') and any(_ends_at(p, x['answer']) for x in a.answers) for p in a.paths)
    assert _ends_at(a.paths[0], a.answers[0]['answer'])  # best answers' support first
    assert TOPIC in a.explanation and 'confidence' in a.explanation and '\n' not in a.explanation
    assert a.seconds > 0


def test_answers_are_km_predicts(ask_run, reasoner):
    "ask_many ranks exactly as km_predict (plan + answer) does, and a batch answers as one-at-a-time does."
    from knowledge_mixer.data import load_jsonl
    from knowledge_mixer.reason import answer, plan
    test = load_jsonl(ask_run / 'questions' / 'test.jsonl')[:6]
    many = reasoner.ask_many([q.question for q in test], batch_size=4)
    ref = answer(reasoner.kg, test, plan(reasoner.model, reasoner.tokenizer, test, reasoner.kg, beams=2, batch_size=4))
    assert [[x['answer'] for x in a.answers] for a in many] == [p.prediction for p in ref]
    one_by_one = reasoner.ask_many([q.question for q in test[:3]], batch_size=1)  # (padding in a batch may move near-ties)
    assert [a.answers for a in one_by_one] == [reasoner.ask(q.question).answers for q in test[:3]]
    assert [a.question for a in many] == [q.question for q in test]


def test_top_plans_add_answers_with_lower_scores(ask_run):
    from knowledge_mixer.ask import Reasoner
    one, two = (Reasoner.from_run(ask_run, top_plans=k).ask(f'name the director of [{TOPIC}]') for k in (1, 2))
    assert [x['answer'] for x in two.answers[:len(one.answers)]] == [x['answer'] for x in one.answers]
    if len(two.answers) > len(one.answers):
        assert two.answers[-1]['score'] <= one.answers[-1]['score'] and 'The next plan' in two.explanation


def test_no_entity_is_an_answer_not_an_error(reasoner):
    a = reasoner.ask('name the director of [Nowhere Film]')
    assert (a.answers, a.entities, a.plans, a.paths) == ([], [], [], [])
    assert '[Nowhere Film] is not an entity of the knowledge graph' in a.explanation
    b = reasoner.ask('what is the meaning of life?')
    assert b.answers == [] and 'I found no entity of the knowledge graph' in b.explanation and '[brackets]' in b.explanation
    c = reasoner.ask(f'name the director of [{TOPIC}] and [Nowhere Film]')  # one known, one not: asked about the known one
    assert [e['entity'] for e in c.entities] == [TOPIC] and '[Nowhere Film] is not in the graph and left out' in c.explanation


def test_bad_questions_are_input_errors(reasoner):
    for q, msg in (('', 'the question is empty'), ('   \n', 'the question is empty'), (None, 'must be a string, got NoneType'),
                   (f'name the director of [{TOPIC}] ' + 'please ' * 400, 'is too long: its prompt is')):
        with pytest.raises(KMInputError, match=msg): reasoner.ask(q)
    with pytest.raises(KMInputError, match='question 1 is empty'): reasoner.ask_many([f'name the director of [{TOPIC}]', ''])
    with pytest.raises(KMInputError, match='takes a list of questions'): reasoner.ask_many('name the director of [X]')
    with pytest.raises(KMInputError, match='batch_size must be >= 1'): reasoner.ask_many(['x'], batch_size=0)
    assert reasoner.ask_many([]) == []


def _unfinished(tmp_path, ask_run, keep):
    d = tmp_path / 'half'; d.mkdir()
    for f in keep:
        (shutil.copytree if (ask_run / f).is_dir() else shutil.copy)(ask_run / f, d / f)
    return d


def test_not_a_finished_run_says_what_is_missing(tmp_path, ask_run):
    from knowledge_mixer.ask import Reasoner
    with pytest.raises(KMNotFound, match=r'no such run folder; make one with `km_pipeline --out .*nothing`'):
        Reasoner.from_run(tmp_path / 'nothing')
    (tmp_path / 'file').write_text('x')
    with pytest.raises(KMInputError, match='not a folder'): Reasoner.from_run(tmp_path / 'file')
    with pytest.raises(KMInputError, match=r'not a km_pipeline run folder \(no config.json\)'): Reasoner.from_run(tmp_path)
    half = _unfinished(tmp_path, ask_run, ['config.json'])
    with pytest.raises(KMNotFound, match=r'the graph stage has not finished \(no kg.npz\); finish the run with `km_pipeline --config .*config.json --out'):
        Reasoner.from_run(half)
    shutil.copy(ask_run / 'kg.npz', half / 'kg.npz')
    with pytest.raises(KMNotFound, match=r'the train stage has not finished \(no train/model\)'): Reasoner.from_run(half)
    shutil.copytree(ask_run / 'train', half / 'train')
    (half / 'config.json').write_text('{"reason": ')
    with pytest.raises(KMInputError, match=r'config.json.*broken JSON'): Reasoner.from_run(half)
    (half / 'config.json').write_text(json.dumps({'beams': 1, 'top_plans': 1}))  # the flat config.json of earlier versions
    assert Reasoner.from_run(half).settings.beams == 1


def test_format_answer(reasoner):
    from knowledge_mixer.ask import format_answer
    a = reasoner.ask(f'tell me the films directed by [{reasoner.kg.neighbors(TOPIC, "directed_by")[0]}]')
    lines = format_answer(a, top=1).splitlines()
    assert lines[0] == f' 1. {a.answers[0]["answer"]}  ({a.answers[0]["score"]:.2f})'
    assert lines[1].strip() in a.paths and lines[-1].endswith(' s)')
    if len(a.answers) > 1: assert f'... and {len(a.answers) - 1} more' in format_answer(a, top=1)
    assert format_answer(a, top=0).count('\n') >= len(a.answers)
    assert format_answer(reasoner.ask('name the director of [Nowhere Film]')).startswith('(no answer)\n')


def test_unbracketed_questions_are_linked(reasoner):
    "Without brackets the entity linker finds the topic; the span is recorded and the planner reads the question with it in brackets."
    from knowledge_mixer.link import mark_mentions
    from knowledge_mixer.reason import plan
    q = f'name the director of {TOPIC.lower()}?'
    a, b = reasoner.ask(q), reasoner.ask(f'name the director of [{TOPIC}]?')
    e = a.entities[0]
    assert e['entity'] == TOPIC and q[e['start']:e['end']] == e['span'] and e['span'].lower() == TOPIC.lower()
    assert b.entities[0]['entity'] == TOPIC
    s = reasoner.settings
    ref = plan(reasoner.model, reasoner.tokenizer, [dict(id='q', question=mark_mentions(q, [e]), q_entity=[TOPIC])], reasoner.kg,
               s.beams, max_hops=s.max_hops, method=s.planner)[0]
    assert [p['relations'] for p in a.plans] == [list(p.path) for p in ref]  # the span as asked, in brackets: what the planner read
    assert f'{TOPIC} (from "{e["span"]}")' in a.explanation or e['span'] == TOPIC


def test_unbracketed_question_without_entity(reasoner):
    a = reasoner.ask('what is the meaning of life?')
    assert (a.answers, a.entities) == ([], []) and 'I found no entity of the knowledge graph' in a.explanation


def test_km_ask_one_question_without_heavy_imports(ask_run):
    "The command answers one question (text with supporting paths, or JSON) and loads neither trl nor datasets."
    code = ('import sys; from knowledge_mixer.ask import km_ask; sys.argv = ["km_ask", *sys.argv[1:]]; km_ask(); '
            'print(sorted(m for m in ("trl", "datasets", "deepspeed") if m in sys.modules), file=sys.stderr)')
    r = subprocess.run([sys.executable, '-c', code, str(ask_run), f'name the director of [{TOPIC}]', '--top', '2'],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == '[]', r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(' 1. ') and ' -> ' in lines[1] and f'The question is about {TOPIC}' in r.stdout


def test_km_ask_prompt(ask_run, tmp_path):
    "Piped lines: blank ones skipped, an error printed and the prompt goes on, :quit ends it; JSON lines; history saved."
    hist = tmp_path / 'hist' / 'km_ask_history'
    lines = [f'name the director of [{TOPIC}]', '', '   ', f'name the director of [{TOPIC}] ' + 'x ' * 2000,
             'name the director of [Nowhere Film]', ':quit', 'never asked']
    r = subprocess.run([str(BIN / 'km_ask'), str(ask_run), '--json', '--history', str(hist)], input='\n'.join(lines) + '\n',
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    assert [d['question'] for d in out] == [lines[0], lines[4]] and out[0]['answers'] and out[1]['answers'] == []
    assert "error: question '0' is too long" in r.stderr and 'Traceback' not in r.stderr
    assert hist.read_text().splitlines() == [lines[0], lines[3].strip(), lines[4], ':quit']


def test_prompt_ends_at_end_of_input(reasoner, monkeypatch, capsys):
    "Without :quit the prompt ends at the end of input; text answers are separated by a blank line; no history file: none written."
    import io
    from knowledge_mixer.ask import AskConfig, _prompt
    monkeypatch.setattr(sys, 'stdin', io.StringIO(f'name the director of [{TOPIC}]\nname the director of [Nowhere Film]'))
    _prompt(reasoner, AskConfig(run='run', history=''))
    out = capsys.readouterr().out
    assert out.count('The question is about') == 1 and '(no answer)' in out and out.endswith(' s)\n\n')


def test_km_ask_not_a_run_is_one_line_exit_2(tmp_path, ask_run):
    half = _unfinished(tmp_path, ask_run, ['config.json', 'kg.npz'])
    r = subprocess.run([str(BIN / 'km_ask'), str(half), 'name the director of [X]'], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and r.stderr.count('\n') == 1, r.stderr
    assert r.stderr.startswith(f'km_ask: error: {half}: the train stage has not finished') and '--config' in r.stderr
    r = subprocess.run([str(BIN / 'km_ask'), str(ask_run), 'q', '--top', '-1'], capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and 'top must be >= 0' in r.stderr
