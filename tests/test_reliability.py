"""Bad input gets a clear error naming the file/line or value; the C++ boundary never crashes; writes are atomic."""
import os
import subprocess
import sys

import numpy as np
import pytest

from knowledge_mixer import _core
from knowledge_mixer.core import KMInputError, KMNotFound
from knowledge_mixer.graph import KnowledgeGraph, random_kg


@pytest.mark.parametrize('content, match', [
    (b'a|r|b\na|r\n', 'kb.txt:2: expected 3 pipe fields'),
    (b'a|r|b\na|r|b|c\n', 'kb.txt:2: expected 3 pipe fields'),
    (b'a|r|b\na||b\n', 'kb.txt:2: empty or non-string field'),
    (b'a|r|b\n\xff\xfe|r|b\n', 'kb.txt:2: invalid UTF-8'),
    (b'a|~r|b\n', "kb.txt:1: relation '~r' starts with '~'"),
    (b'a r b\n', 'cannot tell the format'),
    (b'a|r|' + b'x' * (11 << 20) + b'\n', 'kb.txt:1: line longer than'),
])
def test_triples_file_errors_name_the_line(tmp_path, content, match):
    p = tmp_path / 'kb.txt'
    p.write_bytes(content)
    with pytest.raises(KMInputError, match=match.replace('|', r'\|').replace('~', '~')):
        KnowledgeGraph.from_file(p)


def test_tolerated_file_quirks(tmp_path):
    p = tmp_path / 'kb.txt'
    p.write_bytes(b'\xef\xbb\xbfhead|relation|tail\r\n\r\n# comment\r\n  \r\nA|r|B\r\nB|r|B\r\n')
    kg = KnowledgeGraph.from_file(p)
    assert kg.triples() == [('A', 'r', 'B'), ('B', 'r', 'B')]
    assert kg.stats()['self_loops'] == 1


@pytest.mark.parametrize('content, match', [
    ('{"head": "a", "relation": "r"}\n', 'kb.jsonl:1: JSON object needs head/relation/tail'),
    ('{"head": "a", "relation": "r", "tail": "b"}\n{oops\n', 'kb.jsonl:2: broken JSON'),
    ('"just a string"\n', 'kb.jsonl:1: expected a JSON object or list'),
    ('["a", "r", 3]\n', 'kb.jsonl:1: empty or non-string field'),
])
def test_jsonl_errors(tmp_path, content, match):
    p = tmp_path / 'kb.jsonl'
    p.write_text(content)
    with pytest.raises(KMInputError, match=match):
        KnowledgeGraph.from_file(p)


def test_empty_and_isolated_graphs():
    kg = KnowledgeGraph.from_triples([])
    assert (kg.n_entities, kg.n_edges) == (0, 0) and kg.stats()['max_degree'] == 0
    kg = KnowledgeGraph.from_triples([('a', 'r', 'b')], entities=['lonely'])
    assert kg.neighbors('lonely') == [] and kg.stats()['isolated'] == 1
    with pytest.raises(KMNotFound, match="entity 'nobody' is not in the graph"):
        kg.neighbors('nobody')
    with pytest.raises(KMNotFound, match='entity id 99 out of range'):
        kg.neighbors(99)


@pytest.mark.slow
def test_hub_with_a_million_edges():
    n = 1_000_000
    H = np.zeros(n, np.int32); T = np.arange(1, n + 1, dtype=np.int32); R = np.zeros(n, np.int32)
    kg = KnowledgeGraph._from_ids([f'e{i}' for i in range(n + 1)], ['r'], H, R, T)
    assert kg.degree(0) == n and kg.has_edge(0, 'r', n) and kg.has_edge(n, '~r', 0)


@pytest.mark.parametrize('kwargs, exc', [
    (dict(heads=[-1]), IndexError), (dict(tails=[7]), IndexError), (dict(rels=[4]), IndexError),
    (dict(rels=[1]), ValueError), (dict(n_nodes=-5), ValueError), (dict(threads=0), ValueError),
    (dict(threads=10**6), ValueError), (dict(weights=[1.0, 2.0]), ValueError),
])
def test_binding_rejects_bad_arguments(kwargs, exc):
    args = dict(heads=[0], rels=[0], tails=[1], weights=None, n_nodes=2, n_rels=2, add_inverse=True, threads=1)
    args.update(kwargs)
    for k in ('heads', 'rels', 'tails'): args[k] = np.asarray(args[k], np.int32)
    if args['weights'] is not None: args['weights'] = np.asarray(args['weights'], np.float32)
    with pytest.raises(exc):
        _core.build_csr(**args)


def test_corrupt_arrays_never_reach_the_kernels():
    with pytest.raises(IndexError):
        KnowledgeGraph(['a'], ['r'], np.array([0, 1]), np.array([5], np.int32), np.array([0], np.int32))
    with pytest.raises(ValueError):
        KnowledgeGraph(['a'], ['r'], np.array([0, 2]), np.array([0], np.int32), np.array([0], np.int32))
    z = np.zeros(0, np.int32)
    with pytest.raises(IndexError):
        _core.update_csr(np.array([0, 1]), np.array([5], np.int32), np.array([0], np.int32), None, 1, z, z, z, None, z, z, z)


def test_load_rejects_tampered_npz(tmp_path):
    kg = random_kg(50, 200, seed=1)
    p = kg.save(tmp_path / 'kg.npz')
    data = dict(np.load(p))
    data['dst'] = data['dst'].copy(); data['dst'][3] = 10**6
    np.savez(tmp_path / 'bad.npz', **data)
    with pytest.raises(KMInputError, match='corrupt graph arrays'):
        KnowledgeGraph.load(tmp_path / 'bad.npz')
    (tmp_path / 'junk.npz').write_bytes(b'not a zip')
    with pytest.raises(KMInputError, match='not a readable knowledge-mixer graph'):
        KnowledgeGraph.load(tmp_path / 'junk.npz')


def test_killed_save_leaves_previous_version_intact(tmp_path):
    "SIGKILL in the middle of writing a 2M-edge graph (proven: tests/killing.py) leaves the previous graph, whole."
    from killing import kill_during_writes
    target = tmp_path / 'kg.npz'
    random_kg(1000, 3000, seed=0).save(target)
    setup = "from knowledge_mixer.graph import random_kg\nkg = random_kg(200_000, 2_000_000, seed=1)"
    kill_during_writes(target, setup, 'kg.save(target)', lambda p: KnowledgeGraph.load(p).n_entities, offsets=(0.2, 0.5, 0.8))


# ------------------------------------------------------------------ bad questions and plans: named file:line or value, and the fix

from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QA_KG = [('Heat', 'directed_by', 'Michael Mann'), ('Heat', 'starred_actors', 'Al Pacino')]


def _jsonl(tmp_path, *rows, name='questions.jsonl'):
    import json
    p = tmp_path / name
    p.write_text(''.join((r if isinstance(r, str) else json.dumps(r)) + '\n' for r in rows))
    return p


GOOD_Q = dict(id='ok', question='who directed [Heat]', answer=['Michael Mann'], q_entity=['Heat'], relation_path=['directed_by'])


@pytest.mark.parametrize('row, exc, match', [
    (dict(GOOD_Q, q_entity=['Heat (1995)']), KMNotFound, r"questions.jsonl:2: topic entity 'Heat \(1995\)' is not in the knowledge graph"),
    (dict(GOOD_Q, q_entity=['heat']), KMNotFound, r"questions.jsonl:2: topic entity 'heat' .*\(did you mean 'Heat'\?\)"),
    (dict(GOOD_Q, relation_path=['director']), KMNotFound, r"questions.jsonl:2: relation 'director' of relation_path \['director'\] is not in the knowledge graph; known relations: directed_by, starred_actors"),
    (dict(GOOD_Q, relation_path=['~directed_by', 'nope']), KMNotFound, r"questions.jsonl:2: relation 'nope'"),
    (dict(GOOD_Q, relation_path='directed_by'), KMInputError, r'questions.jsonl:2: relation_path must be a list of relation names like'),
    ({k: v for k, v in GOOD_Q.items() if k != 'q_entity'} | dict(question='who directed it'), KMNotFound,  # with the graph, Heat would be linked
     r'questions.jsonl:2: no entity of the knowledge graph found in question.*mark the entity in the question as \[name\]'),
    (dict(GOOD_Q, q_entity=[]), KMInputError, r"questions.jsonl:2: field 'q_entity' must hold at least one non-empty name"),
    (dict(GOOD_Q, answer={'a': 1}), KMInputError, r"questions.jsonl:2: field 'answer' must be a list of names"),
    (dict(GOOD_Q, question=''), KMInputError, r'questions.jsonl:2: question must be a non-empty string'),
    ('{"id": "x", "question": "q"', KMInputError, r'questions.jsonl:2: broken JSON'),
])
def test_bad_question_records_name_the_line(tmp_path, row, exc, match):
    from knowledge_mixer.data import SkipLog, load_jsonl
    kg = KnowledgeGraph.from_triples(QA_KG)
    p = _jsonl(tmp_path, GOOD_Q, row)
    with pytest.raises(exc, match=match):
        load_jsonl(p, kg=kg)
    skipped = SkipLog()
    assert [r.id for r in load_jsonl(p, skip=skipped, kg=kg)] == ['ok'] and skipped[0][0].endswith('questions.jsonl:2')


def test_bad_questions_through_the_clis_are_one_line_exit_2(tmp_path):
    kb = tmp_path / 'kb.tsv'
    kb.write_text(''.join('\t'.join(t) + '\n' for t in QA_KG))
    bad = _jsonl(tmp_path, GOOD_Q, dict(GOOD_Q, q_entity=['Ronin']))
    env = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    def cli(module, *args):
        return subprocess.run([sys.executable, '-m', f'knowledge_mixer.{module}', *map(str, args)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300)
    for r in (cli('data', 'sft', tmp_path / 'ds', '--kg', kb, '--questions', bad),
              cli('reason', tmp_path / 'no-model-needed-yet', kb, bad, '--out', tmp_path / 'preds.jsonl')):
        assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr
        assert "questions.jsonl:2: topic entity 'Ronin' is not in the knowledge graph" in r.stderr, r.stderr
    assert not (tmp_path / 'ds').exists() and not (tmp_path / 'preds.jsonl').exists()
    paths_q = _jsonl(tmp_path, dict(topic_entities=['Heat'], answers=['Al Pacino'], gold_relation_path=['acted_in']), name='p.jsonl')
    r = cli('paths', paths_q, kb, tmp_path / 'out.jsonl')
    assert r.returncode == 2 and "relation 'acted_in' is not in the graph; known relations: directed_by, starred_actors" in r.stderr
    assert not (tmp_path / 'out.jsonl').exists()


def test_pipeline_questions_file_with_unknown_topic_names_the_line(tmp_path):
    from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
    kb = tmp_path / 'kb.tsv'
    kb.write_text(''.join('\t'.join(t) + '\n' for t in QA_KG))
    q = _jsonl(tmp_path, GOOD_Q, dict(GOOD_Q, id='two', q_entity=['Collateral']))
    with pytest.raises(KMNotFound, match=r"questions.jsonl:2: topic entity 'Collateral' is not in the knowledge graph"):
        run_pipeline(PipelineConfig(out=str(tmp_path / 'run'), kg=str(kb), questions=str(q)), ['graph', 'questions'])


def test_plans_and_questions_given_to_reasoning_are_checked():
    from types import SimpleNamespace
    from knowledge_mixer.paths import retrieve_paths
    from knowledge_mixer.reason import Plan, answer, plan
    kg = KnowledgeGraph.from_triples(QA_KG)
    tok = SimpleNamespace(eos_token_id=0, padding_side='right')  # the checks come before any model call
    with pytest.raises(KMNotFound, match=r"question 'q7': topic entity 'Thief' is not in the knowledge graph.*load_jsonl\(path, kg=kg\)"):
        plan(None, tok, [dict(id='q7', question='who directed [Thief]', q_entity=['Thief'])], kg)
    with pytest.raises(KMInputError, match=r"question 'q8': needs \"question\" and a non-empty \"q_entity\" list"):
        plan(None, tok, [dict(id='q8', question='who directed [Heat]')], kg)
    q = dict(id='q9', question='who directed [Heat]', answer=['Michael Mann'], q_entity=['Heat'])
    with pytest.raises(KMNotFound, match=r"question 'q9': plan \['director'\] is marked valid but relation 'director' is not in the knowledge graph"):
        answer(kg, [q], [[Plan(('director',), -0.1, valid=True)]])
    assert answer(kg, [q], [[Plan(('directed_by',), -0.1, valid=True)]])[0].prediction == ['Michael Mann']
    assert answer(kg, [q], [[Plan(('director',), -0.1, valid=False)]])[0].prediction == []  # invalid plans are simply not followed
    with pytest.raises(KMNotFound, match=r"relation 'director' is not in the graph; known relations: directed_by, starred_actors"):
        retrieve_paths(kg, 'Heat', ['director'])
