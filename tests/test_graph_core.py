"""The C++ CSR binding and KnowledgeGraph against a networkx reference on random multigraphs."""
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from knowledge_mixer import _core
from knowledge_mixer.graph import KnowledgeGraph

triples_st = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 2), st.integers(0, 7)), max_size=40)


def as_names(ts):
    return [(f'e{h}', f'r{r}', f'e{t}') for h, r, t in ts]


def test_build_csr_sorted_dedup_inverse():
    h = np.array([0, 0, 1, 0], np.int32); r = np.array([2, 0, 0, 2], np.int32); t = np.array([1, 1, 2, 1], np.int32)
    indptr, dst, rel, w = _core.build_csr(h, r, t, None, 3, 4, True, 1)
    assert w is None
    assert indptr.tolist() == [0, 2, 5, 6]
    assert list(zip(rel.tolist(), dst.tolist())) == [(0, 1), (2, 1), (0, 2), (1, 0), (3, 0), (1, 1)]


@pytest.mark.parametrize('bad, match', [
    (dict(heads=np.array([5], np.int32)), 'entity id out of range'),
    (dict(rels=np.array([9], np.int32)), 'relation id out of range'),
    (dict(rels=np.array([1], np.int32)), 'must be even'),
    (dict(heads=np.array([0, 1], np.int32)), 'same length'),
])
def test_build_csr_rejects_bad_ids(bad, match):
    args = dict(heads=np.array([0], np.int32), rels=np.array([0], np.int32), tails=np.array([1], np.int32))
    args.update(bad)
    with pytest.raises((IndexError, ValueError), match=match):
        _core.build_csr(args['heads'], args['rels'], args['tails'], None, 2, 2, True, 1)


def test_validate_csr_rejects_corrupt_arrays():
    with pytest.raises(IndexError, match='dst out of range'):
        _core.validate_csr(np.array([0, 2]), np.array([1, 0], np.int32), np.array([0, 0], np.int32), None, 2)
    with pytest.raises(ValueError, match='not sorted'):
        _core.validate_csr(np.array([0, 2, 2]), np.array([1, 0], np.int32), np.array([0, 0], np.int32), None, 2)


@settings(max_examples=150, deadline=None)
@given(triples_st, st.integers(1, 3))
def test_matches_networkx_multidigraph(ts, threads):
    names = as_names(ts)
    kg = KnowledgeGraph.from_triples(names, threads=threads)
    G = nx.MultiDiGraph()
    for h, r, t in set(names):
        G.add_edge(h, t, key=r)
        G.add_edge(t, h, key='~' + r)
    assert kg.n_triples == len(set(names))
    for e in kg.entities:
        want = sorted((k, v) for _, v, k in G.out_edges(e, keys=True))
        assert sorted(kg.edges(e)) == want
        assert kg.degree(e) == G.out_degree(e)
    assert sorted(kg.to_networkx().edges(keys=True)) == sorted((h, t, r) for h, r, t in set(names))


@settings(max_examples=100, deadline=None)
@given(triples_st, st.lists(st.tuples(st.booleans(), triples_st), max_size=4))
def test_updates_equal_fresh_rebuild(initial, ops):
    kg = KnowledgeGraph.from_triples(as_names(initial))
    current = list(dict.fromkeys(as_names(initial)))
    for is_add, batch in ops:
        batch = as_names(batch)
        if is_add:
            kg.add_triples(batch)
            current += [t for t in dict.fromkeys(batch) if t not in current]
        else:
            kg.remove_triples(batch, missing='ignore')
            current = [t for t in current if t not in set(batch)]
        fresh = KnowledgeGraph.from_triples(current, entities=kg.entities, relations=kg.relations)
        assert fresh.entities == kg.entities
        for a in ('indptr', 'dst', 'rel'):
            np.testing.assert_array_equal(getattr(kg, a), getattr(fresh, a))


def test_director_who_acted_keeps_both_relations():
    kg = KnowledgeGraph.from_triples([('Unforgiven', 'directed_by', 'Clint Eastwood'),
                                      ('Unforgiven', 'starred_actors', 'Clint Eastwood')])
    assert kg.relations_of('Unforgiven') == ['directed_by', 'starred_actors']
    assert kg.relations_of('Clint Eastwood') == ['~directed_by', '~starred_actors']
    assert not kg.has_edge('Clint Eastwood', 'directed_by', 'Unforgiven')


def test_metaqa_kb_loads(metaqa_dir):
    kg = KnowledgeGraph.from_file(metaqa_dir / 'kb.txt')
    assert (kg.n_triples, kg.n_entities, kg.n_relations) == (133_582, 43_234, 9)
    assert kg.degree('Drama', inverse=True) == 4176
