"""Path mining against straightforward networkx references on random multigraphs, MetaQA checks, bad input, CLI."""
import itertools
import json
import subprocess
import sys
from collections import Counter, deque

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from knowledge_mixer import _core
from knowledge_mixer.core import KMInputError, KMNotFound
from knowledge_mixer.graph import KnowledgeGraph
from knowledge_mixer.paths import (batch_retrieve, batch_shortest_paths, enumerate_paths, relation_paths_from,
                                   retrieve_paths, shortest_paths)

# Small entity and relation alphabets so that random graphs have parallel edges, self loops and cycles.
triples_st = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2), st.integers(0, 6)), min_size=1, max_size=30)


def build(ts):
    names = [(f'e{h}', f'r{r}', f'e{t}') for h, r, t in ts]
    kg = KnowledgeGraph.from_triples(names)
    G = nx.MultiDiGraph()
    G.add_nodes_from(kg.entities)
    for h, r, t in set(names):
        G.add_edge(h, t, key=r)
        G.add_edge(t, h, key='~' + r)
    return kg, G


# --- networkx references: the obvious algorithms, no cleverness -------------------------------------------------

def nx_shortest(G, s, t, max_hops):
    "Every shortest s-t path as (entities, relations): networkx node paths expanded over parallel edges."
    if s == t: return {((s,), ())}
    try: node_paths = list(nx.all_shortest_paths(G, s, t))
    except nx.NetworkXNoPath: return set()
    out = set()
    for p in node_paths:
        if len(p) - 1 > max_hops: continue
        for rels in itertools.product(*[sorted(G[u][v]) for u, v in zip(p, p[1:])]):
            out.add((tuple(p), rels))
    return out


def nx_retrieve(G, sources, rp, simple=False, exclude_sources=False):
    "RoG's bfs_with_rule on a multigraph: follow the relations in order (every parallel edge is its own path)."
    q = deque(((s,), ()) for s in dict.fromkeys(sources))
    out = []
    while q:
        nodes, rels = q.popleft()
        k = len(rels)
        if k == len(rp):
            if not (exclude_sources and any(v in sources for v in nodes[1:])): out.append((nodes, rels))
            continue
        for _, v, key in G.out_edges(nodes[-1], keys=True):
            if key != rp[k] or (simple and v in nodes): continue
            q.append((nodes + (v,), rels + (key,)))
    return out


def nx_enumerate(G, s, max_hops, simple):
    out = []
    def dfs(nodes, rels):
        if len(rels) == max_hops: return
        for _, v, key in G.out_edges(nodes[-1], keys=True):
            if simple and v in nodes: continue
            out.append((nodes + (v,), rels + (key,)))
            dfs(nodes + (v,), rels + (key,))
    dfs((s,), ())
    return out


def as_pairs(paths):
    return [(p.entities, p.relations) for p in paths]


# --- properties on random multigraphs ------------------------------------------------------------------------

@settings(max_examples=120, deadline=None)
@given(triples_st, st.data())
def test_shortest_paths_match_networkx(ts, data):
    kg, G = build(ts)
    ents = kg.entities
    S = data.draw(st.lists(st.sampled_from(ents), min_size=1, max_size=3), label='sources')
    T = data.draw(st.lists(st.sampled_from(ents), min_size=1, max_size=3), label='targets')
    max_hops = data.draw(st.integers(0, 4), label='max_hops')
    res = shortest_paths(kg, S, T, max_hops=max_hops)
    expected = set()
    for s in dict.fromkeys(S):
        for t in dict.fromkeys(T): expected |= nx_shortest(G, s, t, max_hops)
    got = as_pairs(res.paths)
    assert len(got) == len(set(got)), 'duplicate paths'
    assert set(got) == expected
    assert not res.truncated
    assert res.relation_paths == dict(Counter(r for _, r in got).most_common())


@settings(max_examples=60, deadline=None)
@given(triples_st, st.data())
def test_shortest_paths_cap(ts, data):
    kg, G = build(ts)
    s, t = data.draw(st.sampled_from(kg.entities)), data.draw(st.sampled_from(kg.entities))
    cap = data.draw(st.integers(1, 3))
    expected = nx_shortest(G, s, t, 4)
    res = shortest_paths(kg, s, t, max_hops=4, max_paths=cap)
    assert set(as_pairs(res.paths)) <= expected
    assert len(res.paths) == min(cap, len(expected))
    assert res.truncated == (len(expected) > cap)


@settings(max_examples=150, deadline=None)
@given(triples_st, st.data())
def test_retrieve_matches_networkx(ts, data):
    kg, G = build(ts)
    S = data.draw(st.lists(st.sampled_from(kg.entities), min_size=1, max_size=3), label='sources')
    rp = data.draw(st.lists(st.sampled_from(kg.relation_names), min_size=1, max_size=4), label='relation path')
    simple, excl = data.draw(st.booleans(), label='simple'), data.draw(st.booleans(), label='exclude_sources')
    cap = data.draw(st.sampled_from([0, 1, 3, 1000]), label='max_paths')
    ref = nx_retrieve(G, S, rp, simple, excl)
    res = retrieve_paths(kg, S, rp, max_paths=cap, simple=simple, exclude_sources=excl)
    assert res.ends == dict(sorted(Counter(p[0][-1] for p in ref).items(), key=lambda kv: kg.entity_id(kv[0])))
    assert res.n_paths == len(ref)
    assert res.truncated == (len(ref) > cap)
    got = as_pairs(res.paths)
    assert len(got) == min(cap, len(ref))
    if len(ref) <= cap: assert sorted(got) == sorted(ref)
    else: assert set(got) <= set(ref)


@settings(max_examples=80, deadline=None)
@given(triples_st, st.data())
def test_enumerate_and_relation_paths_match_networkx(ts, data):
    kg, G = build(ts)
    s = data.draw(st.sampled_from(kg.entities))
    hops, simple = data.draw(st.integers(0, 3)), data.draw(st.booleans())
    ref = nx_enumerate(G, s, hops, simple)
    res = enumerate_paths(kg, s, hops, max_paths=10_000, simple=simple)
    assert sorted(as_pairs(res.paths)) == sorted(ref) and len(res.paths) == len(ref)
    # relation sequences: those of all (non-simple) walks, with the number of distinct end entities
    walks = nx_enumerate(G, s, hops, False)
    ends = {}
    for nodes, rels in walks: ends.setdefault(rels, set()).add(nodes[-1])
    rp = relation_paths_from(kg, s, hops)
    assert rp.paths == {k: len(v) for k, v in ends.items()}
    assert not rp.truncated


@settings(max_examples=120, deadline=None)
@given(triples_st, st.data())
def test_relation_paths_cap_cuts_only_the_longest(ts, data):
    "#20: over max_paths, every shorter sequence is kept (the engine's depth-first cut dropped late one-hop sequences), counts stay exact."
    kg, _ = build(ts)
    s = data.draw(st.sampled_from(kg.entities))
    hops = data.draw(st.integers(1, 3))
    full = relation_paths_from(kg, s, hops).paths
    cap = data.draw(st.integers(0, len(full)))
    got = relation_paths_from(kg, s, hops, max_paths=cap)
    assert got.truncated == (cap < len(full)) and len(got.paths) == min(cap, len(full))
    assert all(full[p] == n for p, n in got.paths.items())
    kept = [len(p) for p in got.paths]
    cut = [len(p) for p in full if p not in got.paths]
    assert not cut or max(kept, default=0) <= min(cut)  # nothing shorter than a cut sequence is missing


@settings(max_examples=40, deadline=None)
@given(triples_st, st.data())
def test_batches_equal_single_calls_for_any_thread_count(ts, data):
    kg, _ = build(ts)
    ents, rels = kg.entities, kg.relation_names
    n = data.draw(st.integers(1, 150), label='questions')
    qs = [([ents[i % len(ents)], ents[(3 * i) % len(ents)]], [rels[i % len(rels)], rels[(i // 2) % len(rels)]])
          for i in range(n)]
    pairs = [(ents[i % len(ents)], [ents[(5 * i + 1) % len(ents)]]) for i in range(n)]
    rb = [batch_retrieve(kg, qs, max_paths=2, threads=t) for t in (1, 2, 3)]
    sb = [batch_shortest_paths(kg, pairs, max_hops=3, max_paths=2, threads=t) for t in (1, 2, 3)]
    for b in rb[1:]:
        for k in ('qptr', 'pptr', 'nodes', 'rels', 'truncated', 'eptr', 'ends', 'counts', 'totals'):
            np.testing.assert_array_equal(getattr(b, k), getattr(rb[0], k))
    for b in sb[1:]:
        for k in ('qptr', 'pptr', 'nodes', 'rels', 'truncated'):
            np.testing.assert_array_equal(getattr(b, k), getattr(sb[0], k))
    for i in range(0, n, 7):
        assert rb[0][i] == retrieve_paths(kg, *qs[i], max_paths=2)
        assert sb[0][i] == shortest_paths(kg, *pairs[i], max_hops=3, max_paths=2)


def test_shortest_paths_parallel_edges_and_hub_side_closing():
    # a hub with many films: the last layer is closed from the target's side; results must not change
    ts = [(f'film{i}', 'has_genre', 'Drama') for i in range(200)]
    ts += [('film0', 'directed_by', 'D'), ('film0', 'written_by', 'D'), ('film7', 'directed_by', 'D')]
    kg = KnowledgeGraph.from_triples(ts)
    res = shortest_paths(kg, 'Drama', 'D', max_hops=3)
    assert sorted(as_pairs(res.paths)) == [(('Drama', 'film0', 'D'), ('~has_genre', 'directed_by')),
                                           (('Drama', 'film0', 'D'), ('~has_genre', 'written_by')),
                                           (('Drama', 'film7', 'D'), ('~has_genre', 'directed_by'))]
    assert res.relation_paths == {('~has_genre', 'directed_by'): 2, ('~has_genre', 'written_by'): 1}
    # the same graph without inverse edges stored cannot close from the target side: forward-only search
    fwd = KnowledgeGraph.from_triples(ts, inverse=False)
    assert shortest_paths(fwd, 'film0', 'D').relation_paths == {('directed_by',): 1, ('written_by',): 1}


def test_retrieval_counts_exact_beyond_the_cap():
    # 30 x 30 x 30 = 27,000 paths to one end entity: counted exactly, only 5 listed
    ts = [('s', 'a', f'm{i}') for i in range(30)] + [(f'm{i}', 'b', f'n{j}') for i in range(30) for j in range(30)]
    ts += [(f'n{j}', 'c', 'end') for j in range(30)]
    kg = KnowledgeGraph.from_triples(ts)
    r = retrieve_paths(kg, 's', ['a', 'b', 'c'], max_paths=5)
    assert r.ends == {'end': 900} and r.n_paths == 900 and r.truncated and len(r.paths) == 5
    r = retrieve_paths(kg, 's', ['a', 'b', '~b', 'b', 'c'], max_paths=5)
    assert r.ends == {'end': 30 * 30 * 30 * 30} and len(r.paths) == 5
    assert all(p.target == 'end' for p in r.paths)


# --- MetaQA ----------------------------------------------------------------------------------------------------

@pytest.mark.needs_data
def test_metaqa_mini_gold_paths(metaqa_mini_dir):
    kg = KnowledgeGraph.from_file(metaqa_mini_dir / 'kb.txt')
    qs = [json.loads(l) for l in (metaqa_mini_dir / 'questions.jsonl').read_text().splitlines() if l.strip()]
    assert len(qs) == 300
    rb = batch_retrieve(kg, [(q['topic_entities'], q['gold_relation_path']) for q in qs], max_paths=10, threads=2)
    sb = batch_shortest_paths(kg, [(q['topic_entities'], q['answers']) for q in qs], max_hops=3, threads=2)
    for i, q in enumerate(qs):
        ends = rb[i].ends
        assert set(q['answers']) <= set(ends), q['id']
        if q['hops'] == 3:  # MetaQA's 3-hop convention: the topic entity is never an answer
            ex = retrieve_paths(kg, q['topic_entities'], q['gold_relation_path'], exclude_sources=True).ends
            assert set(q['answers']) <= set(ex) and not set(q['topic_entities']) & set(ex)
        if q['hops'] <= 2:
            assert tuple(q['gold_relation_path']) in sb[i].relation_paths, q['id']
        for p in sb[i].paths:
            assert p.source in q['topic_entities'] and p.target in q['answers'] and len(p) <= 3


# --- bad input -------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def kg():
    return KnowledgeGraph.from_triples([('a', 'r', 'b'), ('b', 's', 'c')])


@pytest.mark.parametrize('call, exc, match', [
    (lambda kg: shortest_paths(kg, 'zz', 'b'), KMNotFound, "source 'zz'"),
    (lambda kg: shortest_paths(kg, 'a', ['b', 17]), KMNotFound, 'target 17'),
    (lambda kg: shortest_paths(kg, 'a', 'b', max_hops=-1), KMInputError, 'max_hops must be in'),
    (lambda kg: shortest_paths(kg, 'a', 'b', max_hops=10**6), KMInputError, 'MetaQA needs at most 3'),
    (lambda kg: shortest_paths(kg, 'a', 'b', max_paths=0), KMInputError, 'max_paths must be >= 1'),
    (lambda kg: retrieve_paths(kg, 'a', []), KMInputError, 'is empty'),
    (lambda kg: retrieve_paths(kg, 'a', ['r', 'nope']), KMNotFound, "relation 'nope'"),
    (lambda kg: retrieve_paths(kg, 'a', [99]), KMNotFound, 'relation id 99'),
    (lambda kg: retrieve_paths(kg, 'a', ['r'] * 17), KMInputError, 'at most 16'),
    (lambda kg: batch_retrieve(kg, [('a', 'r')], threads=0), KMInputError, 'threads must be'),
    (lambda kg: batch_shortest_paths(kg, [('a', 'b')], threads=2.5), KMInputError, 'threads must be'),
    (lambda kg: enumerate_paths(kg, 'a', max_hops=True), KMInputError, 'max_hops'),
    (lambda kg: relation_paths_from(kg, ['a', 'q'], 2), KMNotFound, "source 'q'"),
])
def test_bad_input_raises_clear_errors(kg, call, exc, match):
    with pytest.raises(exc, match=match):
        call(kg)


def test_binding_checks_ids_and_sizes(kg):
    A = (kg.indptr, kg.dst, kg.rel)
    i32 = lambda *x: np.array(x, np.int32)
    i64 = lambda *x: np.array(x, np.int64)
    with pytest.raises(IndexError, match='sources'):
        _core.batch_shortest_paths(*A, i64(0, 1), i32(5), i64(0, 1), i32(0), 3, 10)
    with pytest.raises(IndexError, match='targets'):
        _core.batch_shortest_paths(*A, i64(0, 1), i32(0), i64(0, 1), i32(-1), 3, 10)
    with pytest.raises(ValueError, match='same number of questions'):
        _core.batch_shortest_paths(*A, i64(0, 1), i32(0), i64(0, 1, 1), i32(1), 3, 10)
    with pytest.raises(ValueError, match='non-decreasing'):
        _core.batch_retrieve(*A, i64(0, 2, 1), i32(0), i64(0, 1, 1), i32(0), 4, 10)
    with pytest.raises(ValueError, match='end at the number of items'):
        _core.batch_retrieve(*A, i64(0, 3), i32(0), i64(0, 1), i32(0), 4, 10)
    with pytest.raises(IndexError, match='relation paths'):
        _core.batch_retrieve(*A, i64(0, 1), i32(0), i64(0, 1), i32(4), 4, 10)
    with pytest.raises(ValueError, match='relation path length 0'):
        _core.batch_retrieve(*A, i64(0, 1), i32(0), i64(0, 0), i32(), 4, 10)
    with pytest.raises(ValueError, match='max_hops'):
        _core.batch_shortest_paths(*A, i64(0, 1), i32(0), i64(0, 1), i32(1), 65, 10)
    with pytest.raises(ValueError, match='threads'):
        _core.batch_retrieve(*A, i64(0, 1), i32(0), i64(0, 1), i32(0), 4, 10, threads=0)
    with pytest.raises(IndexError, match='source'):
        _core.enumerate_paths(*A, 3, 2, 10)
    with pytest.raises(ValueError, match='indptr'):
        _core.relation_paths_from(np.array([0, 5]), kg.dst, kg.rel, i32(0), 2, 10)


# --- CLI -------------------------------------------------------------------------------------------------------

def _cli(tmp_path, *args):
    script = tmp_path / 'km_paths_cli.py'
    script.write_text('from knowledge_mixer.paths import km_paths\nkm_paths()\n')
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_cli(tmp_path):
    kb = tmp_path / 'kb.txt'
    kb.write_text('Unforgiven|directed_by|Clint Eastwood\nUnforgiven|starred_actors|Gene Hackman\n')
    qf = tmp_path / 'q.jsonl'
    qf.write_text(json.dumps({'id': 'x', 'topic_entities': ['Clint Eastwood'], 'answers': ['Gene Hackman'],
                              'gold_relation_path': ['~directed_by', 'starred_actors']}) + '\n')
    r = _cli(tmp_path, '--help')
    assert r.returncode == 0 and '--max_hops' in r.stdout and '--exclude_sources' in r.stdout
    out = tmp_path / 'out.jsonl'
    r = _cli(tmp_path, qf, kb, out, '--threads', 2)
    assert r.returncode == 0, r.stderr
    rec = json.loads(out.read_text())
    assert rec['retrieved'] == {'Gene Hackman': 1} and rec['answers_found'] == 1.0
    assert rec['truth_relation_paths'] == [{'path': ['~directed_by', 'starred_actors'], 'support': 1}]
    qf.write_text(json.dumps({'id': 'y', 'topic_entities': ['Nobody'], 'answers': ['Gene Hackman'],
                              'gold_relation_path': ['~directed_by']}) + '\n')
    r = _cli(tmp_path, qf, kb, tmp_path / 'o2.jsonl')
    assert r.returncode == 2 and "source 'Nobody' (" + str(qf) + ':1)' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'o2.jsonl').exists()
    r = _cli(tmp_path, qf, kb, tmp_path / 'o3.jsonl', '--max_hops', 99, '--mode', 'truth')
    assert r.returncode == 2 and 'max_hops must be' in r.stderr
