"""Answer ranking (#21): `answer(rank=...)` orders what the plans reach by paths, plan score, degree or both; bad values exit 2."""
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError
from knowledge_mixer.data import movie_questions, movie_world
from knowledge_mixer.graph import KnowledgeGraph
from knowledge_mixer.reason import RANKINGS, Plan, ReasonConfig, answer, mark_valid, predict

BIN = Path(sys.executable).parent
Q = dict(id='q', question='what did the people behind [Start] make', q_entity=['Start'], answer=['Film B'])


@pytest.fixture(scope='module')
def kg():
    "Film A: two directing paths; Film B: one directing and one writing path (two plans agree); Hub Film: one path, most edges."
    return KnowledgeGraph.from_triples(
        [('Start', 'directed_by', 'Dee'), ('Start', 'directed_by', 'Eli'), ('Start', 'written_by', 'Dee'),
         ('Film A', 'directed_by', 'Dee'), ('Film A', 'directed_by', 'Eli'), ('Film B', 'directed_by', 'Dee'),
         ('Film B', 'written_by', 'Dee'), ('Hub Film', 'directed_by', 'Eli')] + [('Hub Film', 'has_tags', f't{i}') for i in range(6)])


def two_plans(kg, second=-0.3):
    return mark_valid(kg, [['Start']], [[Plan(('directed_by', '~directed_by'), -0.1), Plan(('written_by', '~written_by'), second)]])


def test_paths_keeps_the_best_plan_first(kg):
    got = answer(kg, [Q], two_plans(kg), top_plans=2, rank='paths')[0]
    assert got.prediction == ['Film A', 'Film B', 'Hub Film'] and got.answered_by == [1]  # plan 2 adds nothing new


@pytest.mark.parametrize('rank', ['score', 'evidence'])
def test_an_entity_two_plans_reach_ranks_first(kg, rank):
    assert answer(kg, [Q], two_plans(kg), top_plans=2, rank=rank)[0].prediction[0] == 'Film B'


def test_evidence_lets_many_paths_outvote_a_weak_second_plan(kg):
    assert answer(kg, [Q], two_plans(kg, -1.5), top_plans=2, rank='evidence')[0].prediction[0] == 'Film A'
    assert answer(kg, [Q], two_plans(kg, -1.5), top_plans=2, rank='score')[0].prediction[0] == 'Film B'


def test_degree_orders_by_degree(kg):
    one = mark_valid(kg, [['Start']], [[Plan(('directed_by', '~directed_by'), -0.1)]])
    assert answer(kg, [Q], one, rank='degree')[0].prediction == ['Hub Film', 'Film A', 'Film B']
    assert answer(kg, [Q], one, rank='paths')[0].prediction == ['Film A', 'Film B', 'Hub Film']


def test_degree_counts_incoming_edges_without_inverse():
    g = KnowledgeGraph.from_triples([('s', 'r', 'a'), ('s', 'r', 'b'), ('x', 'q', 'b'), ('y', 'q', 'b')], inverse=False)
    ps = mark_valid(g, [['s']], [[Plan(('r',), 0.0)]])
    assert answer(g, [dict(id='g', question='[s]', q_entity=['s'])], ps, rank='degree')[0].prediction == ['b', 'a']


def test_one_plan_score_is_paths_and_paths_is_the_default():
    mw = movie_world(n_movies=80)
    qs = movie_questions(mw, per_type=3, seed=2)
    gold = mark_valid(mw, [r.q_entity for r in qs], [[Plan(tuple(r.relation_path), -0.2)] for r in qs])
    paths = [p.prediction for p in answer(mw, qs, gold, rank='paths')]
    assert [p.prediction for p in answer(mw, qs, gold, rank='score')] == paths
    assert [p.prediction for p in answer(mw, qs, gold)] == paths
    assert [p.prediction for p in predict(mw, qs, gold, ReasonConfig(rank='paths'))] == paths
    for r in RANKINGS: assert [sorted(p.prediction) for p in answer(mw, qs, gold, rank=r)] == [sorted(p) for p in paths]


def test_predict_passes_the_configured_rank(kg):
    got = predict(kg, [Q], two_plans(kg), ReasonConfig(top_plans=2, rank='degree'))[0].prediction
    assert got[0] == 'Hub Film'


@pytest.mark.parametrize('call', [lambda kg: answer(kg, [Q], two_plans(kg), rank='best'),
                                  lambda kg: ReasonConfig(rank='best').check()])
def test_unknown_rank_is_refused(kg, call):
    with pytest.raises(KMInputError, match="rank must be one of 'paths', 'score', 'degree', 'evidence', got 'best'"): call(kg)


def test_km_predict_unknown_rank_exits_2(tmp_path):
    r = subprocess.run([str(BIN / 'km_predict'), str(tmp_path / 'model'), str(tmp_path / 'kb.txt'), str(tmp_path / 'q.jsonl'),
                        '--rank', 'nonsense', '--out', str(tmp_path / 'p.jsonl')], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and 'Traceback' not in r.stderr, r.stderr
    assert "rank must be one of 'paths', 'score', 'degree', 'evidence', got 'nonsense'" in r.stderr
