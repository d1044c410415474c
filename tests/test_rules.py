"""Path rules (#21): the four rules against a plain reference walker, the rule learned back from question sets, and the CLI."""
import json
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from knowledge_mixer.core import KMInputError
from knowledge_mixer.data import build_questions, planning_dataset, QARecord
from knowledge_mixer.graph import KnowledgeGraph
from knowledge_mixer.paths import PATH_RULES, batch_retrieve, choose_path_rule, retrieve_paths, rule_agreement
from knowledge_mixer.reason import Plan, answer, mark_valid, resolve_path_rule

BIN = Path(sys.executable).parent
triples_st = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1), st.integers(0, 5)), min_size=1, max_size=25)


def walks(kg, sources, rp):
    "Every walk from `sources` along relation path `rp` (names; `~r` backwards), as entity tuples: the obvious breadth-first search."
    edges = {}
    for h, r, t in set(kg.triples()):
        edges.setdefault((h, r), []).append(t)
        edges.setdefault((t, '~' + r), []).append(h)
    q, out = deque((s,) for s in dict.fromkeys(sources)), []
    while q:
        nodes = q.popleft()
        if len(nodes) == len(rp) + 1: out.append(nodes); continue
        q.extend(nodes + (v,) for v in edges.get((nodes[-1], rp[len(nodes) - 1]), []))
    return out


def counts(nodes, rule, sources):
    if rule == 'no-return': return not any(v in sources for v in nodes[1:])
    if rule == 'end-not-topic': return nodes[-1] not in sources
    if rule == 'simple': return len(set(nodes)) == len(nodes)
    return True


@settings(max_examples=150, deadline=None)
@given(triples_st, st.lists(st.integers(0, 5), min_size=1, max_size=2), st.lists(st.sampled_from(['r0', '~r0', 'r1', '~r1']), min_size=1, max_size=4))
def test_each_rule_keeps_exactly_the_walks_it_names(ts, srcs, rp):
    kg = KnowledgeGraph.from_triples([(f'e{h}', f'r{r}', f'e{t}') for h, r, t in ts])
    sources = [f'e{s}' for s in srcs if kg.has_entity(f'e{s}')]
    if not sources or any(r.lstrip('~') not in kg.relations for r in rp): return
    all_walks = walks(kg, sources, rp)
    for rule in PATH_RULES:
        want = {}
        for w in all_walks:
            if counts(w, rule, set(sources)): want[w[-1]] = want.get(w[-1], 0) + 1
        got = retrieve_paths(kg, sources, rp, max_paths=10_000, rule=rule)
        assert got.ends == want, rule
        assert got.n_paths == sum(want.values()), rule
        assert {p.entities for p in got.paths} == {w for w in all_walks if counts(w, rule, set(sources))}, rule


FAMILY = [('Ann', 'spouse', 'Bob'), ('Bob', 'spouse', 'Ann'), ('Ann', 'child', 'Eve'), ('Bob', 'child', 'Eve'), ('Ann', 'child', 'Fay'),
          ('Bob', 'child', 'Fay'), ('Bob', 'child', 'Hal'), ('Ivy', 'child', 'Hal'), ('Cid', 'spouse', 'Dee'), ('Dee', 'spouse', 'Cid'),
          ('Cid', 'child', 'Gus'), ('Dee', 'child', 'Gus')]
TYPES = [['child', '~child'], ['spouse', 'child', '~child'], ['spouse', 'spouse', 'child'], ['spouse', 'spouse']]


@pytest.mark.parametrize('rule', list(PATH_RULES))
def test_questions_built_under_a_rule_give_it_back(rule):
    kg = KnowledgeGraph.from_triples(FAMILY)
    qs = build_questions(kg, TYPES, per_type=10, path_rule=rule)
    ag = rule_agreement(kg, [(q.q_entity, q.answer, [q.relation_path]) for q in qs])
    assert ag[rule]['exact'] == 1.0
    assert choose_path_rule(ag) == rule, ag
    if rule == 'any': assert any(q.q_entity[0] in q.answer for q in qs)  # "her spouse's spouse" is herself
    else: assert not any(q.q_entity[0] in q.answer for q in qs)


def test_answer_and_validity_follow_the_rule():
    kg = KnowledgeGraph.from_triples(FAMILY)
    q = [QARecord('q', "who is [Ann]'s spouse's spouse?", ['Ann'], ['Ann'])]
    plans = lambda: [[Plan(('spouse', 'spouse'), -0.1)]]
    assert [ps[0].valid for ps in mark_valid(kg, [['Ann']], plans())] == [False]  # the old fixed rule: a round trip is no plan
    assert [ps[0].valid for ps in mark_valid(kg, [['Ann']], plans(), path_rule='any')] == [True]
    assert answer(kg, q, mark_valid(kg, [['Ann']], plans(), path_rule='any'), path_rule='any')[0].prediction == ['Ann']
    with pytest.raises(KMInputError, match='path_rule must be one of'): resolve_path_rule('loose')
    with pytest.raises(KMInputError, match='path_rule must be one of'): batch_retrieve(kg, [('Ann', ['spouse'])], rule='auto')


def test_mined_paths_must_reach_an_answer_under_the_rule():
    kg = KnowledgeGraph.from_triples([('A', 'r', 'B'), ('B', 's', 'C')])
    q = [QARecord('q', 'what do [A] and [B] lead to?', ['C'], ['A', 'B'])]
    assert sorted(planning_dataset(kg, q, source='shortest', path_rule='any')['completion']) == ['<PATH>r<SEP>s</PATH>', '<PATH>s</PATH>']
    assert list(planning_dataset(kg, q, source='shortest', path_rule='no-return')['completion']) == ['<PATH>s</PATH>']


def test_km_dataset_builds_questions_under_a_rule(tmp_path):
    kb = tmp_path/'family.tsv'
    kb.write_text(''.join(f'{h}\t{r}\t{t}\n' for h, r, t in FAMILY))
    r = subprocess.run([str(BIN/'km_dataset'), 'questions', str(tmp_path/'q.jsonl'), '--kg', str(kb), '--path_rule', 'any', '--per_type', '5'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    qs = [json.loads(line) for line in open(tmp_path/'q.jsonl')]
    assert any(q['q_entity'][0] in q['answer'] for q in qs)
    bad = subprocess.run([str(BIN/'km_dataset'), 'questions', str(tmp_path/'p.jsonl'), '--kg', str(kb), '--path_rule', 'loose'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and 'path_rule must be one of no-return, any, end-not-topic, simple' in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path/'p.jsonl').exists()


def test_km_predict_refuses_an_unknown_rule_before_loading(tmp_path):
    r = subprocess.run([str(BIN/'km_predict'), str(tmp_path/'none'), str(tmp_path/'kb.txt'), str(tmp_path/'q.jsonl'), '--path_rule', 'loose'],
                       capture_output=True, text=True)
    assert r.returncode == 2 and 'path_rule must be one of no-return, any, end-not-topic, simple, auto' in r.stderr, r.stderr


@pytest.mark.slow
def test_main_job_learns_the_rule_of_typeless_questions(tmp_path):
    "Questions without qtype (one file, the job splits it): the rule is learned and recorded, the report groups by relation path."
    kb = tmp_path/'family.tsv'
    kb.write_text(''.join(f'{h}\t{r}\t{t}\n' for h, r, t in FAMILY))
    kg = KnowledgeGraph.from_triples(FAMILY)
    qs = build_questions(kg, TYPES, per_type=10, path_rule='any')
    with open(tmp_path/'q.jsonl', 'w') as f:
        for q in qs: f.write(json.dumps({k: v for k, v in q.to_dict().items() if k != 'qtype'}) + '\n')
    r = subprocess.run([str(BIN/'km_pipeline'), '--kg', str(kb), '--questions', str(tmp_path/'q.jsonl'), '--out', str(tmp_path/'run'),
                        '--steps', '20', '--split', '0.6,0.2,0.2', '--threads', '1'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads((tmp_path/'run'/'questions'/'path_rule.json').read_text())
    assert (rec['rule'], rec['chosen'], rec['agreement']['any']) == ('any', 'auto', 1.0), rec
    assert 'path rule any (learned)' in r.stdout
    report = (tmp_path/'run'/'eval_report.md').read_text()
    assert 'Grouped by relation path' in report, report
    parts = {n: [json.loads(line) for line in open(tmp_path/'run'/'questions'/f'{n}.jsonl')] for n in ('train', 'test')}
    key = lambda q: (tuple(q['q_entity']), tuple(q['relation_path']))
    assert not {key(q) for q in parts['train']} & {key(q) for q in parts['test']}  # grouped by (topic, path)
