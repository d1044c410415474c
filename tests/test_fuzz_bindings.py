"""Fuzz every entry point of the C++ binding `knowledge_mixer._core` with random graphs and random, often invalid,
arguments. Whatever goes in, a call either raises a Python exception of a sensible type (ValueError, IndexError,
TypeError, OverflowError) whose message names the problem, or returns a valid result; it never crashes, hangs or
allocates without bound. Valid inputs are checked against small Python references (edge sets, BFS, DFS).

`BAD_INPUTS` is the catalogue of hand-picked bad inputs with the exception each one gets; the hypothesis tests then
mutate random graphs and arguments. Run them under ASan + UBSan with `bash tools/sanitize.sh tests/test_fuzz_bindings.py`.
`KM_FUZZ_EXAMPLES=<n>` sets every hypothesis test's example count (default: sized for a quick run).
"""
import math
import os
import sys
from dataclasses import dataclass

if __name__ == '__main__':  # run as a script: import the package of this checkout, not an installed one
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from knowledge_mixer import _core
from knowledge_mixer.core import KMInputError
from knowledge_mixer.graph import random_kg
from knowledge_mixer.walk import random_walks

SENSIBLE = (ValueError, IndexError, TypeError, OverflowError)
_N = int(os.environ.get('KM_FUZZ_EXAMPLES', '0'))


def fuzz(n):
    "Hypothesis settings: `n` examples (KM_FUZZ_EXAMPLES overrides), no deadline (sanitizer builds are slow)."
    return settings(max_examples=_N or n, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


# ---- random graphs and their Python reference -------------------------------------------------------------

@dataclass
class G:
    "A graph built by build_csr, with the triples it came from and a pure-Python reference."
    n: int
    n_rels: int            # interleaved relation ids: 2k forward, 2k + 1 inverse
    H: list
    R: list
    T: list
    W: list | None
    inverse: bool
    indptr: np.ndarray
    dst: np.ndarray
    rel: np.ndarray
    weight: np.ndarray | None

    def __post_init__(self):
        first = {}
        for i, (h, r, t) in enumerate(zip(self.H, self.R, self.T)):
            w = None if self.W is None else float(np.float32(self.W[i]))
            first.setdefault((h, r, t), w)
            if self.inverse: first.setdefault((t, r ^ 1, h), w)
        self.wmap = first
        self.edges = set(first)
        self.rows = [sorted((r, t) for (h, r, t) in first if h == v) for v in range(self.n)]

    @property
    def csr(self): return self.indptr, self.dst, self.rel


@st.composite
def graphs(draw, min_nodes=1, max_nodes=9, max_triples=24, weighted=None, inverse=None):
    n = draw(st.integers(min_nodes, max_nodes))
    n_base = draw(st.integers(1, 3))
    m = draw(st.integers(0, max_triples)) if n else 0
    node = st.integers(0, max(n - 1, 0))
    H = draw(st.lists(node, min_size=m, max_size=m))
    T = draw(st.lists(node, min_size=m, max_size=m))
    R = [2 * r for r in draw(st.lists(st.integers(0, n_base - 1), min_size=m, max_size=m))]
    for k in draw(st.lists(st.integers(0, max(m - 1, 0)), max_size=3)) if m else []:
        T[k] = H[k]  # self-loops
    inv = draw(st.booleans()) if inverse is None else inverse
    wtd = draw(st.booleans()) if weighted is None else weighted
    W = draw(st.lists(st.one_of(st.just(0.0), st.floats(0, 10, width=32)), min_size=m, max_size=m)) if wtd else None
    threads = draw(st.sampled_from([1, 2, 5]))
    indptr, dst, rel, weight = _core.build_csr(np.array(H, np.int32), np.array(R, np.int32), np.array(T, np.int32),
                                               None if W is None else np.array(W, np.float32), n, 2 * n_base, inv, threads)
    return G(n, 2 * n_base, H, R, T, W, inv, indptr, dst, rel, weight)


def expect_csr(g):
    "The CSR arrays the reference says build_csr must return."
    indptr = np.cumsum([0] + [len(r) for r in g.rows])
    flat = [(v, r, t) for v in range(g.n) for r, t in g.rows[v]]
    return indptr, [t for _, _, t in flat], [r for _, r, _ in flat], [g.wmap[e] for e in flat]


def raises_sensibly(fn, *hints):
    "Call fn; return (result, None) or (None, exception). An exception must be SENSIBLE and name one of `hints`."
    try:
        return fn(), None
    except SENSIBLE as e:
        msg = str(e)
        assert msg, f'{type(e).__name__} without a message'
        if hints: assert any(h in msg for h in hints), f'{type(e).__name__}: {msg!r} names none of {hints}'
        return None, e


# ---- build_csr, validate_csr and the point queries --------------------------------------------------------

@fuzz(300)
@given(graphs(min_nodes=0))
def test_build_csr_matches_reference(g):
    indptr, dst, rel, w = expect_csr(g)
    assert g.indptr.dtype == np.int64 and g.dst.dtype == np.int32 and g.rel.dtype == np.int32
    assert g.indptr.tolist() == indptr.tolist() and g.dst.tolist() == dst and g.rel.tolist() == rel
    if g.W is None: assert g.weight is None
    else: assert g.weight.tolist() == w
    _core.validate_csr(g.indptr, g.dst, g.rel, g.weight, g.n_rels)
    # the aux arrays of the walk kernels
    packed = _core.packed_edges(*g.csr)
    assert packed[0::2].tolist() == dst and packed[1::2].tolist() == rel
    sd = _core.row_sorted_dst(*g.csr)
    for v in range(g.n):
        lo, hi = indptr[v], indptr[v + 1]
        assert sd[lo:hi].tolist() == sorted(dst[lo:hi])
    if g.weight is not None:
        cw = _core.row_cumulative_weights(*g.csr, g.weight)
        for v in range(g.n):
            lo, hi = indptr[v], indptr[v + 1]
            assert np.allclose(cw[lo:hi], np.cumsum(np.array(w[lo:hi], np.float64)))


@fuzz(200)
@given(graphs(min_nodes=0), st.data())
def test_equivalent_inputs_give_the_same_graph(g, data):
    "Lists, wider integer dtypes and strided views of the same ids are the same input."
    form = data.draw(st.sampled_from(['list', 'int64', 'uint16', 'strided', 'int8']))
    def conv(xs):
        a = np.array(xs, np.int64)
        if form == 'list': return list(xs)
        if form == 'int64': return a
        if form == 'uint16': return a.astype(np.uint16)
        if form == 'int8': return a.astype(np.int8)
        return np.repeat(a, 2)[::2]  # a non-contiguous view
    w = None if g.W is None else (np.repeat(np.array(g.W, np.float64), 2)[::2] if form == 'strided' else list(g.W))
    out = _core.build_csr(conv(g.H), conv(g.R), conv(g.T), w, g.n, g.n_rels, g.inverse, 1)
    assert out[0].tolist() == g.indptr.tolist() and out[1].tolist() == g.dst.tolist() and out[2].tolist() == g.rel.tolist()
    assert (out[3] is None) == (g.weight is None)
    if g.weight is not None: assert out[3].tolist() == g.weight.tolist()
    ok = _core.has_edges(conv(g.indptr.tolist()), conv(g.dst.tolist()), conv(g.rel.tolist()), conv(g.H), conv(g.R), conv(g.T))
    assert ok.all()


def _bad_id_array(data, xs, lo, hi):
    "Mutate an id array: one value out of [lo, hi), a wrong dtype, a wrong shape or a wrong length."
    kind = data.draw(st.sampled_from(['below', 'above', 'int32max', 'int64huge', 'float', 'str', '2d', 'shorter', 'longer', 'object']))
    a = np.array(xs, np.int64)
    if kind in ('below', 'above', 'int32max', 'int64huge'):
        if not len(a): return None, ()
        v = {'below': lo - data.draw(st.integers(1, 10**6)), 'above': hi + data.draw(st.integers(0, 10**6)),
             'int32max': 2**31 - 1, 'int64huge': data.draw(st.sampled_from([2**31, 2**32 + 1, -2**31 - 1, 2**62]))}[kind]
        a[data.draw(st.integers(0, len(a) - 1))] = v
        return a, (str(v), 'out of range', 'must be even')
    if kind in ('float', 'str') and not len(a): return None, ()  # an empty array of any dtype is a valid empty input
    if kind == 'float': return a.astype(np.float64) + 0.5, ('dtype float64', 'integer')
    if kind == 'str': return a.astype(str), ('dtype', 'integer')
    if kind == 'object': return np.array([None] * max(len(a), 1), dtype=object), ('dtype object', 'integer')
    if kind == '2d': return np.stack([a, a]), ('1-d', 'same length')
    if kind == 'shorter': return (a[:-1], ('same length', 'one entry')) if len(a) else (None, ())
    return np.append(a, lo), ('same length', 'one entry')


@fuzz(400)
@given(graphs(max_nodes=6, max_triples=8), st.data())
def test_build_csr_refuses_bad_triples(g, data):
    args = dict(heads=g.H, rels=g.R, tails=g.T, weights=g.W, n_nodes=g.n, n_rels=g.n_rels, add_inverse=g.inverse, threads=1)
    which = data.draw(st.sampled_from(['heads', 'rels', 'tails', 'weights', 'n_nodes', 'n_rels', 'threads', 'odd_rel', 'max_bytes']))
    hints = ()
    if which in ('heads', 'tails'):
        args[which], hints = _bad_id_array(data, args[which], 0, g.n)
    elif which == 'rels':
        args[which], hints = _bad_id_array(data, args[which], 0, g.n_rels)
    elif which == 'odd_rel':
        assume(g.R)
        args['rels'] = list(g.R); args['rels'][data.draw(st.integers(0, len(g.R) - 1))] |= 1; hints = ('must be even',)
    elif which == 'weights':
        assume(g.R)
        args['weights'] = data.draw(st.sampled_from([[1.0] * (len(g.R) + 1), ['x'] * len(g.R), [[1.0]] * len(g.R), []]))
        hints = ('weights', 'one entry', 'numbers')
    elif which in ('n_nodes', 'n_rels'):
        v = data.draw(st.sampled_from([-1, -2**31, 2**31, 2**40, 10**30]))
        args[which], hints = v, (str(v), which, 'incompatible')
    elif which == 'threads':
        v = data.draw(st.sampled_from([0, -1, 1025, 10**6, 10**10]))
        args['threads'], hints = v, (str(v), 'threads', 'incompatible')
    else:
        args['max_bytes'], hints = data.draw(st.sampled_from([-1, 0])), ('max_bytes',)
    if hints == ():
        return
    out, err = raises_sensibly(lambda: _core.build_csr(**args), *hints)
    # every mutation above is invalid, except a weight list that happens to fit
    assert err is not None, f'{which} mutation was accepted: {args}'


@fuzz(300)
@given(graphs(min_nodes=0, max_nodes=6, max_triples=10), st.data())
def test_csr_consumers_survive_corrupt_arrays(g, data):
    "validate_csr names every corruption; every other entry point raises or returns, never reads out of bounds."
    indptr, dst, rel = g.indptr.copy(), g.dst.copy(), g.rel.copy()
    m = len(dst)
    kind = data.draw(st.sampled_from(['ip_decrease', 'ip_huge', 'ip_negative', 'ip_first', 'ip_last', 'dst_range', 'rel_range',
                                      'unsorted', 'dst_len', 'ip_float', 'ip_2d', 'ip_empty']))
    if kind.startswith('ip_') and kind not in ('ip_first', 'ip_last', 'ip_float', 'ip_2d', 'ip_empty'):
        assume(g.n >= 2)
        i = data.draw(st.integers(1, g.n - 1))
        indptr[i] = {'ip_decrease': -1 if indptr[i - 1] == 0 else indptr[i - 1] - 1, 'ip_huge': data.draw(st.sampled_from([m + 1, 10**9, 2**62])),
                     'ip_negative': data.draw(st.sampled_from([-1, -10**9, -2**62]))}[kind]
        if kind == 'ip_decrease': assume(indptr[i] < indptr[i - 1])
    elif kind == 'ip_first': indptr[0] = data.draw(st.sampled_from([1, -1]))
    elif kind == 'ip_last': indptr[-1] = m + data.draw(st.sampled_from([1, -1]))
    elif kind in ('dst_range', 'rel_range', 'unsorted'):
        assume(m >= 2)
        e = data.draw(st.integers(0, m - 1))
        if kind == 'dst_range': dst[e] = data.draw(st.sampled_from([-1, g.n, 2**31 - 1, -2**31]))
        elif kind == 'rel_range': rel[e] = data.draw(st.sampled_from([-1, g.n_rels, 2**31 - 1]))
        else:
            dst, rel = dst[::-1].copy(), rel[::-1].copy()
            assume(any(indptr[v + 1] - indptr[v] >= 2 for v in range(g.n)))
    elif kind == 'dst_len': dst = dst[:-1] if m else np.zeros(1, np.int32)
    elif kind == 'ip_float': indptr = indptr.astype(np.float64) + 0.25
    elif kind == 'ip_2d': indptr = np.stack([indptr, indptr])
    else: indptr = np.zeros(0, np.int64)
    corrupt = kind != 'unsorted' or any(
        list(zip(rel[indptr[v]:indptr[v + 1]], dst[indptr[v]:indptr[v + 1]])) != sorted(zip(rel[indptr[v]:indptr[v + 1]], dst[indptr[v]:indptr[v + 1]]))
        or len(set(zip(rel[indptr[v]:indptr[v + 1]], dst[indptr[v]:indptr[v + 1]]))) < indptr[v + 1] - indptr[v]
        for v in range(g.n))
    _, err = raises_sensibly(lambda: _core.validate_csr(indptr, dst, rel, None, g.n_rels))
    if corrupt: assert err is not None, f'validate_csr accepted {kind}'
    starts = np.arange(min(g.n, 3), dtype=np.int32)
    z = np.zeros(0, np.int32)
    pk = np.zeros(2 * len(dst), np.int32)
    if len(dst) == len(rel) and data.draw(st.booleans()): pk[0::2], pk[1::2] = dst, rel  # the packed copy may be corrupt too
    calls = {
        'has_edges': lambda: _core.has_edges(indptr, dst, rel, starts, starts, starts),
        'packed_edges': lambda: _core.packed_edges(indptr, dst, rel),
        'row_sorted_dst': lambda: _core.row_sorted_dst(indptr, dst, rel),
        'row_cumulative_weights': lambda: _core.row_cumulative_weights(indptr, dst, rel, np.ones(len(dst), np.float32)),
        'random_walks': lambda: _core.random_walks(indptr, dst, rel, starts, 2, 5, data.draw(st.sampled_from(['uniform', 'weighted', 'node2vec', 'restart'])),
                                                   0.5, 2.0, 0.3, 1, data.draw(st.sampled_from([1, 2])),
                                                   np.arange(1, len(dst) + 1, dtype=np.float64), np.sort(dst),
                                                   pk if data.draw(st.booleans()) else None, data.draw(st.sampled_from([1, 64]))),
        'bench_bare_uniform': lambda: _core.bench_bare_uniform(indptr, dst, starts, 5, 0, 8),
        'batch_shortest_paths': lambda: _core.batch_shortest_paths(indptr, dst, rel, np.array([0, len(starts)]), starts,
                                                                   np.array([0, len(starts)]), starts[::-1].copy(), 3, 50,
                                                                   data.draw(st.booleans()), 1),
        'batch_retrieve': lambda: _core.batch_retrieve(indptr, dst, rel, np.array([0, len(starts)]), starts, np.array([0, 2]),
                                                       np.array([0, 1], np.int32), max(g.n_rels, 2), 50, data.draw(st.booleans()),
                                                       data.draw(st.booleans()), 1),
        'enumerate_paths': lambda: _core.enumerate_paths(indptr, dst, rel, 0, 3, 200, data.draw(st.booleans())),
        'relation_paths_from': lambda: _core.relation_paths_from(indptr, dst, rel, starts, 3, 200),
        'update_csr': lambda: _core.update_csr(indptr, dst, rel, None, g.n + 1, np.array([g.n], np.int32), np.array([0], np.int32),
                                               np.array([0], np.int32), None, z, z, z, True),
    }
    name = data.draw(st.sampled_from(sorted(calls)))
    if g.n == 0 and name in ('enumerate_paths', 'update_csr'): return
    raises_sensibly(calls[name])


@fuzz(200)
@given(graphs(min_nodes=0), st.data())
def test_has_edges_matches_reference(g, data):
    ids = st.integers(-3, g.n + 3)
    k = data.draw(st.integers(0, 12))
    H = data.draw(st.lists(ids, min_size=k, max_size=k)); T = data.draw(st.lists(ids, min_size=k, max_size=k))
    R = data.draw(st.lists(st.integers(-2, g.n_rels + 2), min_size=k, max_size=k))
    got = _core.has_edges(*g.csr, np.array(H, np.int32), np.array(R, np.int32), np.array(T, np.int32))
    assert got.tolist() == [(h, r, t) in g.edges for h, r, t in zip(H, R, T)]
    raises_sensibly(lambda: _core.has_edges(*g.csr, H[:-1], R, T), 'same length') if k else None


# ---- update_csr ------------------------------------------------------------------------------------------

@fuzz(240)
@given(graphs(max_nodes=7), st.data())
def test_update_csr_matches_reference(g, data):
    grow = data.draw(st.integers(0, 2))
    n2 = g.n + grow
    node = st.integers(0, n2 - 1)
    def triples(k):
        return (data.draw(st.lists(node, min_size=k, max_size=k)),
                [2 * r for r in data.draw(st.lists(st.integers(0, g.n_rels // 2 - 1), min_size=k, max_size=k))],
                data.draw(st.lists(node, min_size=k, max_size=k)))
    ka, kr = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6))
    aH, aR, aT = triples(ka)
    rH, rR, rT = triples(kr)
    if data.draw(st.booleans()) and g.H:  # remove some edges that exist
        i = data.draw(st.integers(0, len(g.H) - 1)); rH, rR, rT = rH + [g.H[i]], rR + [g.R[i]], rT + [g.T[i]]
    aW = data.draw(st.lists(st.floats(0, 5, width=32), min_size=ka, max_size=ka)) if g.weight is not None and data.draw(st.booleans()) else None
    arr = lambda xs: np.array(xs, np.int32)
    indptr, dst, rel, w = _core.update_csr(g.indptr, g.dst, g.rel, g.weight, n2, arr(aH), arr(aR), arr(aT),
                                           None if aW is None else np.array(aW, np.float32), arr(rH), arr(rR), arr(rT), g.inverse)
    _core.validate_csr(indptr, dst, rel, w, 2**31 - 1)
    want = dict(g.wmap)
    added = {}
    for i, (h, r, t) in enumerate(zip(aH, aR, aT)):
        x = 1.0 if aW is None else float(np.float32(aW[i]))
        added.setdefault((h, r, t), x)
        if g.inverse: added.setdefault((t, r ^ 1, h), x)
    for e, x in added.items(): want.setdefault(e, x)
    for h, r, t in zip(rH, rR, rT):
        want.pop((h, r, t), None)
        if g.inverse: want.pop((t, r ^ 1, h), None)
    got = {(v, int(r), int(t)) for v in range(n2) for r, t in zip(rel[indptr[v]:indptr[v + 1]], dst[indptr[v]:indptr[v + 1]])}
    assert len(indptr) == n2 + 1 and got == set(want)
    if g.weight is not None:
        gw = {(v, int(rel[e]), int(dst[e])): float(w[e]) for v in range(n2) for e in range(indptr[v], indptr[v + 1])}
        assert gw == want
    # bad arguments
    z = np.zeros(0, np.int32)
    bad = data.draw(st.sampled_from(['shrink', 'huge', 'id', 'len', 'weights']))
    args = [g.indptr, g.dst, g.rel, g.weight, n2, arr(aH), arr(aR), arr(aT), None, z, z, z, g.inverse]
    if bad == 'shrink': args[4], hints = g.n - 1, ('n_nodes_new', 'drop')
    elif bad == 'huge': args[4], hints = data.draw(st.sampled_from([2**31, 2**40, 2**31 - 1])), ('n_nodes_new', 'max_bytes')
    elif bad == 'id': args[5], hints = np.array([n2], np.int32), ('out of range', 'same length')
    elif bad == 'len': args[6], hints = np.zeros(ka + 1, np.int32), ('same length',)
    else: args[8], hints = np.ones(ka + 2, np.float32), ('weight',)
    _, err = raises_sensibly(lambda: _core.update_csr(*args), *hints)
    assert err is not None or (bad == 'weights' and g.weight is None), f'{bad} was accepted'  # unweighted graphs ignore add_weights


# ---- random walks ----------------------------------------------------------------------------------------

def check_walks(g, nodes, rels, starts, n_walks, length, mode):
    "Every step is an edge of the graph with its relation; -1 pads after a dead end; -2 marks a restart."
    W = len(starts) * n_walks
    assert nodes.shape == (W, length + 1) and rels.shape == (W, length)
    assert nodes.dtype == np.int32 and rels.dtype == np.int32
    total_w = [sum(g.wmap[(v, r, t)] for r, t in g.rows[v]) if g.W is not None else len(g.rows[v]) for v in range(g.n)]
    for w in range(W):
        ns, rs = nodes[w].tolist(), rels[w].tolist()
        start = int(starts[w // n_walks])
        assert ns[0] == start
        for t in range(length):
            u, r, v = ns[t], rs[t], ns[t + 1]
            if r == -1:
                assert all(x == -1 for x in rs[t:]) and all(x == -1 for x in ns[t + 1:]), (ns, rs)
                dead = total_w[u] <= 0 if mode == 'weighted' else not g.rows[u]
                assert dead, f'walk stopped at {u}, which has out-edges'
                break
            if r == -2:
                assert mode == 'restart' and v == start, (ns, rs)
                continue
            assert (u, r, v) in g.edges, f'step {u} -{r}-> {v} is not an edge'
            if mode == 'weighted': assert g.wmap[(u, r, v)] > 0, 'a zero-weight edge was taken'


@st.composite
def walk_args(draw, g):
    modes = ['uniform', 'node2vec', 'restart'] + (['weighted'] if g.weight is not None else [])
    mode = draw(st.sampled_from(modes))
    k = draw(st.integers(0, 4))
    starts = np.array(draw(st.lists(st.integers(0, g.n - 1), min_size=k, max_size=k)), np.int32)
    pq = st.sampled_from([1e-3, 0.25, 1.0, 4.0, 1e3])
    return dict(starts=starts, n_walks=draw(st.integers(0, 3)), length=draw(st.integers(0, 7)), mode=mode,
                p=draw(pq), q=draw(pq), alpha=draw(st.sampled_from([0.0, 0.3, 1.0])), seed=draw(st.integers(0, 2**64 - 1)),
                threads=draw(st.sampled_from([1, 2, 3])), block=draw(st.sampled_from([1, 3, 64])),
                cached=draw(st.booleans()))


def run_walks(g, a, **over):
    a = {**a, **over}
    cw = _core.row_cumulative_weights(*g.csr, g.weight) if a['mode'] == 'weighted' else None
    sd = _core.row_sorted_dst(*g.csr) if a['mode'] == 'node2vec' else None
    pk = _core.packed_edges(*g.csr) if a['cached'] else None
    return _core.random_walks(*g.csr, a['starts'], a['n_walks'], a['length'], a['mode'], a['p'], a['q'], a['alpha'],
                              a['seed'], a['threads'], cw, sd, pk, a['block'])


@fuzz(400)
@given(st.data())
def test_random_walks_are_valid(data):
    g = data.draw(graphs())
    a = data.draw(walk_args(g))
    nodes, rels = run_walks(g, a)
    check_walks(g, nodes, rels, a['starts'], a['n_walks'], a['length'], a['mode'])
    # the same walks whatever the thread count and the lock-step block
    n2, r2 = run_walks(g, a, threads=1, block=1 if a['block'] > 1 else 64)
    assert np.array_equal(nodes, n2) and np.array_equal(rels, r2)


def _bad_walk_arg(data, g):
    "One invalid (or absurd) argument of random_walks, with words its error must contain."
    name = data.draw(st.sampled_from(['n_walks', 'length', 'p', 'q', 'alpha', 'threads', 'block', 'mode', 'seed', 'max_bytes',
                                      'starts', 'cumw', 'sorted_dst', 'packed']))
    if name == 'n_walks': v = data.draw(st.sampled_from([-1, -2**63, 10**9, 2**62, 2**63 - 1]))
    elif name == 'length': v = data.draw(st.sampled_from([-1, 10**9, 2**31, 2**40, 2**63 - 1, -2**63]))
    elif name in ('p', 'q'): v = data.draw(st.sampled_from([0.0, -1.0, -0.0, math.nan, math.inf, -math.inf]))
    elif name == 'alpha': v = data.draw(st.sampled_from([-0.01, 1.01, math.nan, math.inf, -math.inf, 2.0]))
    elif name == 'threads': v = data.draw(st.sampled_from([0, -1, 1025, 10**6, 2**31, 10**10]))
    elif name == 'block': v = data.draw(st.sampled_from([0, -1, 65, 2**31]))
    elif name == 'mode': v = data.draw(st.sampled_from(['', 'UNIFORM', 'bfs', 'weighted\0']))
    elif name == 'seed': v = data.draw(st.sampled_from([-1, 2**64, 1.5]))
    elif name == 'max_bytes': v = data.draw(st.sampled_from([-1, -2**63]))
    elif name == 'starts':
        v = data.draw(st.sampled_from([np.array([g.n], np.int32), np.array([-1], np.int32), np.array([[0]], np.int32),
                                       np.array([0.5]), np.array([2**40]), np.array(['0'])]))
    elif name == 'cumw': v = data.draw(st.sampled_from([np.ones(len(g.dst) + 1), np.array(['a'] * max(1, len(g.dst)))]))
    elif name == 'sorted_dst': v = np.ones(len(g.dst) + 1, np.int32)
    else: v = data.draw(st.sampled_from([np.ones(2 * len(g.dst) + 1, np.int32), np.array([0.5] * (2 * len(g.dst) or 1))]))
    return name, v


@fuzz(500)
@given(st.data())
def test_random_walks_refuse_bad_arguments(data):
    g = data.draw(graphs(max_nodes=5, max_triples=8))
    a = data.draw(walk_args(g))
    name, v = _bad_walk_arg(data, g)
    starts = a['starts'] if len(a['starts']) else np.zeros(1, np.int32)
    mode = {'cumw': 'weighted', 'sorted_dst': 'node2vec'}.get(name, a['mode'] if a['mode'] != 'weighted' else 'uniform')
    kw = dict(mode=mode, p=a['p'], q=a['q'], alpha=a['alpha'], seed=a['seed'], threads=a['threads'], block=a['block'],
              cumw=np.ones(len(g.dst)), sorted_dst=_core.row_sorted_dst(*g.csr), packed=None)
    n_walks, length = max(a['n_walks'], 1), max(a['length'], 1)
    if name == 'n_walks': n_walks = v
    elif name == 'length': length = v
    elif name == 'starts': starts = v
    else: kw[name] = v
    _, err = raises_sensibly(lambda: _core.random_walks(*g.csr, starts, n_walks, length, **kw))
    assert err is not None, f'{name}={v!r} was accepted'  # p, q and alpha are checked whatever the mode
    msg = str(err)
    if isinstance(err, TypeError) and 'incompatible function arguments' in msg:
        return  # pybind11 refused a value that does not fit the C++ type; it lists the call's arguments
    words = {'n_walks': ('n_walks', 'MiB'), 'length': ('length', 'MiB'), 'max_bytes': ('max_bytes',), 'cumw': ('cumw', 'numbers'),
             'packed': ('packed', 'integer array'), 'starts': ('starts', 'integer array', 'int32', '1-d'), 'sorted_dst': ('sorted_dst',)}
    assert any(w in msg for w in words.get(name, (f'{name} must',))), f'{name}={v!r}: {msg!r}'


@fuzz(120)
@given(st.data())
def test_bench_bare_uniform_walks_edges(data):
    g = data.draw(graphs())
    k = data.draw(st.integers(0, 5))
    starts = np.array(data.draw(st.lists(st.integers(0, g.n - 1), min_size=k, max_size=k)), np.int32)
    length = data.draw(st.integers(0, 6))
    nodes, secs = _core.bench_bare_uniform(g.indptr, g.dst, starts, length, data.draw(st.integers(0, 99)), data.draw(st.sampled_from([1, 7, 64])))
    assert secs >= 0 and nodes.shape == (k, length + 1)
    pairs = {(h, t) for h, _, t in g.edges}
    for w, ns in enumerate(nodes.tolist()):
        assert ns[0] == starts[w]
        for t in range(length):
            if ns[t + 1] == -1:
                assert not g.rows[ns[t]] and all(x == -1 for x in ns[t + 1:])
                break
            assert (ns[t], ns[t + 1]) in pairs
    bad = data.draw(st.sampled_from([('length', -1), ('length', 10**9), ('length', 2**62), ('block', 0), ('block', 65),
                                     ('starts', np.array([g.n], np.int32)), ('max_bytes', -1)]))
    kw = dict(indptr=g.indptr, dst=g.dst, starts=np.zeros(1, np.int32), length=3, block=8)
    kw[bad[0]] = bad[1]
    _, err = raises_sensibly(lambda: _core.bench_bare_uniform(**kw), bad[0], 'MiB')
    assert err is not None


# ---- shortest paths, retrieval, enumeration, relation paths ---------------------------------------------

def unique(xs):
    return list(dict.fromkeys(xs))


def bfs(g, s, max_hops):
    dist, frontier = {s: 0}, [s]
    for d in range(max_hops):
        nxt = []
        for u in frontier:
            for _, v in g.rows[u]:
                if v not in dist: dist[v] = d + 1; nxt.append(v)
        frontier = nxt
    return dist


def path_key(ns, rs):
    return (ns[0],) + tuple(x for pair in zip(rs, ns[1:]) for x in pair)


def all_shortest(g, s, t, max_hops):
    dist = bfs(g, s, max_hops)
    if t not in dist: return None
    out = []
    def rec(ns, rs):
        if len(rs) == dist[t]:
            if ns[-1] == t: out.append((tuple(ns), tuple(rs)))
            return
        for r, v in g.rows[ns[-1]]:
            if dist.get(v) == len(rs) + 1: rec(ns + [v], rs + [r])
    rec([s], [])
    return sorted(out, key=lambda p: path_key(*p))


def unpack_paths(d):
    pptr = d['pptr'].tolist()
    return [(tuple(d['nodes'][pptr[i]:pptr[i + 1]].tolist()), tuple(d['rels'][pptr[i] - i:pptr[i + 1] - i - 1].tolist()))
            for i in range(len(pptr) - 1)]


def pack(lists):
    ptr = np.cumsum([0] + [len(x) for x in lists]).astype(np.int64)
    return ptr, np.array([v for x in lists for v in x], np.int32)


@fuzz(300)
@given(st.data())
def test_batch_shortest_paths_are_bfs_shortest_edges(data):
    g = data.draw(graphs())
    q = data.draw(st.integers(0, 3))
    ids = st.lists(st.integers(0, g.n - 1), max_size=3)
    S = [data.draw(ids) for _ in range(q)]
    T = [data.draw(ids) for _ in range(q)]
    max_hops = data.draw(st.integers(0, 5))
    max_paths = data.draw(st.sampled_from([1, 2, 10**6]))
    use_inverse = g.inverse and data.draw(st.booleans())  # closing from the targets needs the inverse edges stored
    sptr, s = pack(S); tptr, t = pack(T)
    d = _core.batch_shortest_paths(*g.csr, sptr, s, tptr, t, max_hops, max_paths, use_inverse, data.draw(st.sampled_from([1, 2])))
    paths, qptr = unpack_paths(d), d['qptr'].tolist()
    assert len(qptr) == q + 1 and qptr[-1] == len(paths)
    for i in range(q):
        want, trunc = [], False
        for a in unique(S[i]):
            for b in unique(T[i]):
                ps = all_shortest(g, a, b, max_hops)
                if ps is None: continue
                trunc |= len(ps) > max_paths
                want += ps[:max_paths]
        got = paths[qptr[i]:qptr[i + 1]]
        assert bool(d['truncated'][i]) == trunc
        if not trunc: assert got == want
        for ns, rs in got:  # every path is made of edges of the graph and is as short as BFS says
            assert len(rs) == bfs(g, ns[0], max_hops)[ns[-1]]
            assert all((u, r, v) in g.edges for u, r, v in zip(ns, rs, ns[1:]))


def retrieve_ref(g, S, R, simple, exclude):
    "Every path from the (unique) sources that follows R, in the kernel's DFS order."
    src, out = unique(S), []
    def rec(ns, rs):
        k = len(rs)
        if k == len(R): out.append((tuple(ns), tuple(rs))); return
        for r, v in g.rows[ns[-1]]:
            if r != R[k]: continue
            if exclude and v in src: continue
            if simple and v in ns: continue
            rec(ns + [v], rs + [r])
    for s in src: rec([s], [])
    return out


@fuzz(300)
@given(st.data())
def test_batch_retrieve_matches_reference(data):
    g = data.draw(graphs())
    q = data.draw(st.integers(0, 3))
    S = [data.draw(st.lists(st.integers(0, g.n - 1), max_size=3)) for _ in range(q)]
    Rs = [data.draw(st.lists(st.integers(0, g.n_rels - 1), min_size=1, max_size=4)) for _ in range(q)]
    max_paths = data.draw(st.sampled_from([0, 1, 3, 10**6]))
    simple, exclude = data.draw(st.booleans()), data.draw(st.booleans())
    sptr, s = pack(S); rptr, r = pack(Rs)
    d = _core.batch_retrieve(*g.csr, sptr, s, rptr, r, g.n_rels, max_paths, simple, exclude, data.draw(st.sampled_from([1, 2])))
    paths, qptr, eptr = unpack_paths(d), d['qptr'].tolist(), d['eptr'].tolist()
    for i in range(q):
        ref = retrieve_ref(g, S[i], Rs[i], simple, exclude)
        counts = {}
        for ns, _ in ref: counts[ns[-1]] = counts.get(ns[-1], 0) + 1
        ends = d['ends'][eptr[i]:eptr[i + 1]].tolist()
        assert ends == sorted(counts) and d['counts'][eptr[i]:eptr[i + 1]].tolist() == [counts[e] for e in ends]
        assert d['totals'][i] == len(ref)
        assert bool(d['truncated'][i]) == (len(ref) > max_paths)
        assert paths[qptr[i]:qptr[i + 1]] == ref[:max_paths]


def enumerate_ref(g, s, max_hops, cap, simple):
    out = []
    def rec(ns, rs):
        for r, v in g.rows[ns[-1]]:
            if len(out) > cap: return
            if simple and v in ns: continue
            out.append((tuple(ns + [v]), tuple(rs + [r])))
            if len(rs) + 1 < max_hops: rec(ns + [v], rs + [r])
    if max_hops: rec([s], [])
    return out


@fuzz(300)
@given(st.data())
def test_enumerate_paths_matches_reference(data):
    g = data.draw(graphs())
    s = data.draw(st.integers(0, g.n - 1))
    max_hops = data.draw(st.integers(0, 4))
    max_paths = data.draw(st.sampled_from([0, 1, 5, 10**4]))
    simple = data.draw(st.booleans())
    d = _core.enumerate_paths(*g.csr, s, max_hops, max_paths, simple)
    ref = enumerate_ref(g, s, max_hops, max_paths, simple)
    assert unpack_paths(d) == ref[:max_paths]
    assert d['truncated'] == (len(ref) > max_paths)


def relation_paths_ref(g, S, max_hops, cap):
    out = []
    def rec(F, prefix):
        if len(prefix) == max_hops: return
        for r in sorted({r for v in F for r, _ in g.rows[v]}):
            if len(out) > cap: return
            nxt = sorted({t for v in F for r2, t in g.rows[v] if r2 == r})
            out.append((tuple(prefix + [r]), len(nxt)))
            rec(nxt, prefix + [r])
    rec(sorted(set(S)), [])
    return out


@fuzz(300)
@given(st.data())
def test_relation_paths_from_matches_reference(data):
    g = data.draw(graphs())
    S = data.draw(st.lists(st.integers(0, g.n - 1), max_size=3))
    max_hops = data.draw(st.integers(0, 4))
    max_paths = data.draw(st.sampled_from([0, 1, 5, 10**5]))
    d = _core.relation_paths_from(*g.csr, np.array(S, np.int32), max_hops, max_paths)
    rptr = d['rptr'].tolist()
    got = [(tuple(d['rels'][rptr[i]:rptr[i + 1]].tolist()), int(n)) for i, n in enumerate(d['n_ends'].tolist())]
    ref = relation_paths_ref(g, S, max_hops, max_paths)
    assert got == ref[:max_paths] and d['truncated'] == (len(ref) > max_paths)


@fuzz(400)
@given(st.data())
def test_path_kernels_refuse_bad_arguments(data):
    g = data.draw(graphs(max_nodes=5, max_triples=8))
    fn = data.draw(st.sampled_from(['batch_shortest_paths', 'batch_retrieve', 'enumerate_paths', 'relation_paths_from']))
    ids = np.zeros(1, np.int32)
    bad = data.draw(st.sampled_from(['id_neg', 'id_big', 'max_hops', 'max_paths', 'threads', 'ptr', 'max_bytes', 'dtype']))
    hops = {'max_hops': data.draw(st.sampled_from([-1, 65, 10**6, 2**40]))}.get(bad, 2)
    paths = {'max_paths': data.draw(st.sampled_from([-1, -2**63, 2**63]))}.get(bad, 10)
    threads = {'threads': data.draw(st.sampled_from([0, -1, 1025, 10**6, 2**40]))}.get(bad, 1)
    max_bytes = -1 if bad == 'max_bytes' else 2**32
    src = {'id_neg': np.array([-1], np.int32), 'id_big': np.array([g.n], np.int32), 'dtype': np.array([0.5])}.get(bad, ids)
    ptr = np.array([0, 2] if bad == 'ptr' else [0, 1], np.int64)
    if fn == 'batch_shortest_paths':
        call = lambda: _core.batch_shortest_paths(*g.csr, ptr, src, np.array([0, 1]), ids, hops, max(paths, 1) if bad != 'max_paths' else 0,
                                                  g.inverse, threads, max_bytes)
    elif fn == 'batch_retrieve':
        call = lambda: _core.batch_retrieve(*g.csr, ptr, src, np.array([0, hops if 0 <= hops <= 64 else 1]),
                                            np.zeros(hops if 0 <= hops <= 64 else 1, np.int32), g.n_rels, paths, False, False, threads, max_bytes)
        if bad == 'max_hops': call = lambda: _core.batch_retrieve(*g.csr, ptr, src, np.array([0, 0]), np.zeros(0, np.int32), g.n_rels, 10, False, False, 1)
    elif fn == 'enumerate_paths':
        call = lambda: _core.enumerate_paths(*g.csr, int(src[0]) if bad != 'dtype' else 0.5, hops, paths, True, max_bytes)
    else:
        call = lambda: _core.relation_paths_from(*g.csr, src, hops, paths, max_bytes)
    if bad == 'threads' and fn in ('enumerate_paths', 'relation_paths_from'): return  # no threads argument
    if bad == 'ptr' and fn in ('enumerate_paths', 'relation_paths_from'): return
    hints = {'id_neg': ('-1', 'source'), 'id_big': (str(g.n), 'source'), 'max_hops': ('max_hops', 'relation path length', 'incompatible'),
             'max_paths': ('max_paths', 'incompatible'), 'threads': ('threads', 'incompatible'), 'ptr': ('offsets',),
             'max_bytes': ('max_bytes',), 'dtype': ('dtype float64', 'incompatible')}[bad]
    _, err = raises_sensibly(call, *hints)
    assert err is not None, f'{fn}: {bad} was accepted'


@fuzz(80)
@given(st.data())
def test_absurd_max_paths_hit_max_bytes_not_memory(data):
    "A dense graph with cycles has astronomically many paths: the output cap turns that into a ValueError."
    n = data.draw(st.integers(2, 4))
    H = [h for h in range(n) for t in range(n)]; T = [t for h in range(n) for t in range(n)]
    indptr, dst, rel, _ = _core.build_csr(np.array(H, np.int32), np.zeros(len(H), np.int32), np.array(T, np.int32), None, n, 2, True, 1)
    cap = data.draw(st.sampled_from([1 << 12, 1 << 16]))
    fn = data.draw(st.sampled_from(['enumerate', 'relpaths', 'retrieve']))
    if fn == 'enumerate': call = lambda: _core.enumerate_paths(indptr, dst, rel, 0, 64, 2**62, False, cap)
    elif fn == 'relpaths': call = lambda: _core.relation_paths_from(indptr, dst, rel, np.array([0], np.int32), 64, 2**62, cap)
    else: call = lambda: _core.batch_retrieve(indptr, dst, rel, np.array([0, 1]), np.array([0], np.int32), np.array([0, 64]),
                                              np.zeros(64, np.int32), 2, 2**62, False, False, 1, cap)
    with pytest.raises(ValueError, match='max_bytes'):
        call()


# ---- the catalogue: hand-picked bad inputs, one per row, with the exception each gets ---------------------

def _small():
    H, R, T = np.array([0, 1, 2, 2, 3], np.int32), np.array([0, 2, 0, 0, 2], np.int32), np.array([1, 2, 0, 2, 3], np.int32)
    return _core.build_csr(H, R, T, np.array([1, 2, 0, 3, 1], np.float32), 5, 4, True, 1)


_ip, _dst, _rel, _w = _small()
_s = np.array([0, 2], np.int32)
_z = np.zeros(0, np.int32)
_ip_dec = _ip.copy(); _ip_dec[2] = 0
_ip_jump = _ip.copy(); _ip_jump[1] = len(_dst) + 5
_dst_bad = _dst.copy(); _dst_bad[0] = 99
CSR = (_ip, _dst, _rel)
# indptr [0, 5, 3] over 3 sorted edges: row 0 runs past the end of dst (validate_csr used to read it)
_J = (np.array([0, 5, 3]), np.array([0, 1, 1], np.int32), np.array([0, 0, 2], np.int32))
# a graph big enough that numpy's small-block cache does not hide a freed weight array from ASan
_rng = np.random.default_rng(0)
_B = _core.build_csr(_rng.integers(0, 1000, 20000).astype(np.int32), np.zeros(20000, np.int32),
                     _rng.integers(0, 1000, 20000).astype(np.int32), np.ones(20000, np.float32), 1000, 2, True, 1)
# three entities, every ordered pair (self-loops too) linked by relation 0: 3^k paths of k hops, 2^k relation sequences
_K3 = _core.build_csr(np.repeat(np.arange(3, dtype=np.int32), 3), np.zeros(9, np.int32), np.tile(np.arange(3, dtype=np.int32), 3), None, 3, 2)[:3]

# (id, call, exception type, words the message must contain)
BAD_INPUTS = [
    ('build_csr: head id -1', lambda: _core.build_csr([-1], [0], [1], None, 5, 4), IndexError, 'entity id out of range [0, 5)'),
    ('build_csr: tail id = n_nodes', lambda: _core.build_csr([0], [0], [5], None, 5, 4), IndexError, 'entity id out of range'),
    ('build_csr: odd (inverse) relation id', lambda: _core.build_csr([0], [1], [1], None, 5, 4), ValueError, 'must be even'),
    ('build_csr: relation id = n_rels', lambda: _core.build_csr([0], [4], [1], None, 5, 4), IndexError, 'relation id out of range [0, 4)'),
    ('build_csr: id 2**32 + 1 in an int64 array (would wrap to 1)', lambda: _core.build_csr(np.array([2**32 + 1]), [0], [1], None, 5, 4), OverflowError, '4294967297'),
    ('build_csr: float ids 1.5', lambda: _core.build_csr(np.array([1.5]), [0], [1], None, 5, 4), TypeError, 'dtype float64'),
    ('build_csr: string ids', lambda: _core.build_csr(np.array(['a']), [0], [1], None, 5, 4), TypeError, 'dtype <U1'),
    ('build_csr: 2-d heads', lambda: _core.build_csr(np.zeros((1, 1), np.int32), [0], [1], None, 5, 4), ValueError, 'heads must be a 1-d array'),
    ('build_csr: mismatched lengths', lambda: _core.build_csr([0, 1], [0], [1], None, 5, 4), ValueError, 'same length'),
    ('build_csr: weights of the wrong length', lambda: _core.build_csr([0], [0], [1], [1.0, 2.0], 5, 4), ValueError, 'one entry per triple'),
    ('build_csr: string weights', lambda: _core.build_csr([0], [0], [1], ['x'], 5, 4), TypeError, 'weights must be an array of numbers'),
    ('build_csr: n_nodes -1', lambda: _core.build_csr([], [], [], None, -1, 4), ValueError, 'n_nodes must be in [0, 2^31), got -1'),
    ('build_csr: n_nodes 2**31 - 1 (48 GiB of rows)', lambda: _core.build_csr([], [], [], None, 2**31 - 1, 4), ValueError, 'over max_bytes'),
    ('build_csr: n_nodes 2**40', lambda: _core.build_csr([], [], [], None, 2**40, 4), ValueError, 'n_nodes must be in [0, 2^31)'),
    ('build_csr: n_rels -3', lambda: _core.build_csr([], [], [], None, 5, -3), ValueError, 'n_rels must be in [0, 2^31), got -3'),
    ('build_csr: threads 0', lambda: _core.build_csr([0], [0], [1], None, 5, 4, True, 0), ValueError, 'threads must be in [1, 1024], got 0'),
    ('build_csr: threads -1', lambda: _core.build_csr([0], [0], [1], None, 5, 4, True, -1), ValueError, 'got -1'),
    ('build_csr: threads 10**6', lambda: _core.build_csr([0], [0], [1], None, 5, 4, True, 10**6), ValueError, 'got 1000000'),
    ('build_csr: threads 10**10 (not a C int)', lambda: _core.build_csr([0], [0], [1], None, 5, 4, True, 10**10), TypeError, '10000000000'),
    ('build_csr: max_bytes -1', lambda: _core.build_csr([0], [0], [1], None, 5, 4, True, 1, -1), ValueError, 'max_bytes must be >= 0'),
    ('validate_csr: indptr decreasing', lambda: _core.validate_csr(_ip_dec, _dst, _rel, None, 4), ValueError, 'non-decreasing (at node 1'),
    ('validate_csr: indptr jumps past the edges then comes back', lambda: _core.validate_csr(_ip_jump, _dst, _rel, None, 4), ValueError, 'non-decreasing (at node 1'),
    ('validate_csr: sorted row 0 running past the edges (was an out-of-bounds read)', lambda: _core.validate_csr(*_J, None, 4), ValueError, 'non-decreasing (at node 1: 5 > 3)'),
    ('validate_csr: indptr[0] != 0', lambda: _core.validate_csr(_ip + 1, _dst, _rel, None, 4), ValueError, 'indptr must start at 0'),
    ('validate_csr: dst 99', lambda: _core.validate_csr(_ip, _dst_bad, _rel, None, 4), IndexError, 'dst out of range (99'),
    ('validate_csr: relation id 4 with 4 relation ids', lambda: _core.validate_csr(_ip, _dst, _rel + 4, None, 4), IndexError, 'relation out of range'),
    ('validate_csr: rows unsorted', lambda: _core.validate_csr(_ip, _dst[::-1].copy(), _rel[::-1].copy(), None, 4), ValueError, 'not sorted'),
    ('validate_csr: dst and rel lengths differ', lambda: _core.validate_csr(_ip, _dst, _rel[:-1], None, 4), ValueError, 'same length'),
    ('validate_csr: float64 weights (were a dangling pointer)', lambda: _core.validate_csr(_ip, _dst, _rel, np.full(len(_dst), np.nan), 4) or 'ok', None, 'ok'),
    ('validate_csr: weights of the wrong length', lambda: _core.validate_csr(_ip, _dst, _rel, np.ones(2, np.float32), 4), ValueError, 'one entry per edge'),
    ('validate_csr: empty indptr', lambda: _core.validate_csr(np.zeros(0, np.int64), _z, _z, None, 4), ValueError, 'n_nodes + 1 >= 1'),
    ('has_edges: out-of-range query ids', lambda: _core.has_edges(*CSR, [-1, 99, 0], [0, 0, -5], [1, 1, 1]).tolist(), None, [False, False, False]),
    ('has_edges: indptr jumps past the edges', lambda: _core.has_edges(_ip_jump, _dst, _rel, [0], [0], [1]), IndexError, 'indptr[0:2]'),
    ('has_edges: row 0 running past the edges (was an out-of-bounds read)', lambda: _core.has_edges(*_J, [0, 0, 0], [0, 2, 3], [1, 1, 1]), IndexError, 'indptr[0:2] = 0, 5 with 3 edges'),
    ('has_edges: 2-d queries', lambda: _core.has_edges(*CSR, [[0]], [[0]], [[1]]), ValueError, 'heads must be a 1-d array'),
    ('packed_edges: mismatched dst/rel', lambda: _core.packed_edges(_ip, _dst, _rel[:1]), ValueError, 'same length'),
    ('row_sorted_dst: indptr decreasing', lambda: _core.row_sorted_dst(_ip_dec, _dst, _rel), ValueError, 'non-decreasing (at node 1)'),
    ('row_cumulative_weights: NaN weight', lambda: _core.row_cumulative_weights(*CSR, np.where(np.arange(len(_dst)) == 1, np.nan, 1)), ValueError, 'edge 1: weight must be finite and >= 0'),
    ('row_cumulative_weights: -inf weight', lambda: _core.row_cumulative_weights(*CSR, np.where(np.arange(len(_dst)) == 0, -np.inf, 1)), ValueError, 'edge 0: weight must be finite'),
    ('row_cumulative_weights: negative weight', lambda: _core.row_cumulative_weights(*CSR, -np.ones(len(_dst))), ValueError, 'finite and >= 0'),
    ('row_cumulative_weights: weights None', lambda: _core.row_cumulative_weights(*CSR, None), ValueError, 'needs the edge weights'),
    ('random_walks: length 10**9 (8 GB of output)', lambda: _core.random_walks(*CSR, _s, 1, 10**9), ValueError, 'over the limit of 4096 MiB'),
    ('random_walks: length 2**63 - 1 with no starts (length + 1 overflowed)', lambda: _core.random_walks(*CSR, _z, 1, 2**63 - 1), ValueError, 'length must be < 2^31, got 9223372036854775807'),
    ('random_walks: n_walks 10**12', lambda: _core.random_walks(*CSR, _s, 10**12, 5), ValueError, 'MiB, over the limit'),
    ('random_walks: n_walks -1', lambda: _core.random_walks(*CSR, _s, -1, 5), ValueError, 'n_walks must be >= 0, got -1'),
    ('random_walks: n_walks 2**63 (not an int64)', lambda: _core.random_walks(*CSR, _s, 2**63, 5), TypeError, '9223372036854775808'),
    ('random_walks: length -1', lambda: _core.random_walks(*CSR, _s, 1, -1), ValueError, 'length must be >= 0, got -1'),
    ('random_walks: max_bytes -1', lambda: _core.random_walks(*CSR, _s, 1, 2, max_bytes=-1), ValueError, 'max_bytes must be >= 0'),
    ('random_walks: node2vec p = 0', lambda: _core.random_walks(*CSR, _s, 1, 2, 'node2vec', 0.0), ValueError, 'p must be finite and > 0, got 0'),
    ('random_walks: node2vec q = -1', lambda: _core.random_walks(*CSR, _s, 1, 2, 'node2vec', 1.0, -1.0), ValueError, 'q must be finite and > 0, got -1'),
    ('random_walks: p = NaN', lambda: _core.random_walks(*CSR, _s, 1, 2, 'node2vec', math.nan), ValueError, 'p must be finite and > 0, got nan'),
    ('random_walks: q = inf', lambda: _core.random_walks(*CSR, _s, 1, 2, 'node2vec', 1.0, math.inf), ValueError, 'q must be finite and > 0, got inf'),
    ('random_walks: alpha -0.1', lambda: _core.random_walks(*CSR, _s, 1, 2, 'restart', alpha=-0.1), ValueError, 'alpha must be in [0, 1] (a restart probability), got -0.1'),
    ('random_walks: alpha 1.5', lambda: _core.random_walks(*CSR, _s, 1, 2, 'restart', alpha=1.5), ValueError, 'got 1.5'),
    ('random_walks: alpha NaN', lambda: _core.random_walks(*CSR, _s, 1, 2, 'restart', alpha=math.nan), ValueError, 'got nan'),
    ('random_walks: threads 0', lambda: _core.random_walks(*CSR, _s, 1, 2, threads=0), ValueError, 'threads must be in [1, 1024], got 0'),
    ('random_walks: threads -1', lambda: _core.random_walks(*CSR, _s, 1, 2, threads=-1), ValueError, 'got -1'),
    ('random_walks: threads 10**6', lambda: _core.random_walks(*CSR, _s, 1, 2, threads=10**6), ValueError, 'got 1000000'),
    ('random_walks: block 65', lambda: _core.random_walks(*CSR, _s, 1, 2, block=65), ValueError, 'block must be in [1, 64], got 65'),
    ('random_walks: mode "bfs"', lambda: _core.random_walks(*CSR, _s, 1, 2, 'bfs'), ValueError, "got 'bfs'"),
    ('random_walks: seed -1', lambda: _core.random_walks(*CSR, _s, 1, 2, seed=-1), TypeError, 'incompatible function arguments'),
    ('random_walks: start 5 with 5 nodes', lambda: _core.random_walks(*CSR, np.array([5], np.int32), 1, 2), IndexError, 'starts[0] = 5 is not a node id in [0, 5)'),
    ('random_walks: start -1', lambda: _core.random_walks(*CSR, np.array([0, -1], np.int32), 1, 2), IndexError, 'starts[1] = -1'),
    ('random_walks: start 2**32 in int64 (would wrap to 0)', lambda: _core.random_walks(*CSR, np.array([2**32]), 1, 2), OverflowError, '4294967296'),
    ('random_walks: float starts', lambda: _core.random_walks(*CSR, np.array([0.5]), 1, 2), TypeError, 'dtype float64'),
    ('random_walks: weighted without cumw', lambda: _core.random_walks(*CSR, _s, 1, 2, 'weighted'), ValueError, 'needs the cumulative weights'),
    ('random_walks: cumw of the wrong length', lambda: _core.random_walks(*CSR, _s, 1, 2, 'weighted', cumw=np.ones(2)), ValueError, 'cumw must have one entry per edge'),
    ('random_walks: string cumw', lambda: _core.random_walks(*CSR, _s, 1, 2, 'weighted', cumw=np.array(['a'] * len(_dst))), TypeError, 'cumw must be an array of numbers'),
    ('random_walks: NaN/negative cumw (garbage, but in bounds)', lambda: _core.random_walks(*CSR, _s, 2, 3, 'weighted', cumw=np.full(len(_dst), np.nan))[1].shape, None, (4, 3)),
    ('random_walks: node2vec without sorted_dst', lambda: _core.random_walks(*CSR, _s, 1, 2, 'node2vec'), ValueError, 'needs the dst-sorted rows'),
    ('random_walks: packed of the wrong length', lambda: _core.random_walks(*CSR, _s, 1, 2, packed=np.zeros(3, np.int32)), ValueError, '2 entries (dst, rel) per edge'),
    ('random_walks: packed with dst 99', lambda: _core.random_walks(*CSR, _s, 1, 2, packed=np.full(2 * len(_dst), 99, np.int32)), IndexError, 'out-of-range index'),
    ('random_walks: dst 99 in the CSR', lambda: _core.random_walks(_ip, _dst_bad, _rel, np.array([0], np.int32), 4, 2), IndexError, 'out-of-range index'),
    ('random_walks: indptr jumping past the edges', lambda: _core.random_walks(_ip_jump, _dst, _rel, np.array([0], np.int32), 2, 2, 'node2vec', sorted_dst=np.sort(_dst)), IndexError, 'out-of-range index'),
    ('bench_bare_uniform: length 10**9 (was allowed: 4 GB)', lambda: _core.bench_bare_uniform(_ip, _dst, _s, 10**9), ValueError, 'over the limit of 4096 MiB'),
    ('bench_bare_uniform: length 2**63 - 1, no starts', lambda: _core.bench_bare_uniform(_ip, _dst, _z, 2**63 - 1), ValueError, 'length must be < 2^31, got 9223372036854775807'),
    ('bench_bare_uniform: dst 99', lambda: _core.bench_bare_uniform(_ip, _dst_bad, _s, 2), IndexError, 'dst[0] = 99'),
    ('bench_bare_uniform: indptr decreasing', lambda: _core.bench_bare_uniform(_ip_dec, _dst, _s, 2), ValueError, 'non-decreasing (at node 1)'),
    ('bench_bare_uniform: block 0', lambda: _core.bench_bare_uniform(_ip, _dst, _s, 2, 0, 0), ValueError, 'block must be in [1, 64], got 0'),
    ('update_csr: n_nodes_new 2**40', lambda: _core.update_csr(*CSR, None, 2**40, _z, _z, _z, None, _z, _z, _z), ValueError, 'n_nodes_new must be in [n_nodes, 2^31)'),
    ('update_csr: n_nodes_new 2**31 - 1 (48 GiB)', lambda: _core.update_csr(*CSR, None, 2**31 - 1, _z, _z, _z, None, _z, _z, _z), ValueError, 'over max_bytes'),
    ('update_csr: n_nodes_new shrinks the graph', lambda: _core.update_csr(*CSR, None, 2, _z, _z, _z, None, _z, _z, _z), ValueError, 'cannot drop nodes'),
    ('update_csr: added tail 9 with 5 nodes', lambda: _core.update_csr(*CSR, None, 5, [0], [0], [9], None, _z, _z, _z), IndexError, 'entity id out of range [0, 5)'),
    ('update_csr: added odd relation', lambda: _core.update_csr(*CSR, None, 5, [0], [3], [1], None, _z, _z, _z), ValueError, 'must be even'),
    ('update_csr: removed lengths differ', lambda: _core.update_csr(*CSR, None, 5, _z, _z, _z, None, [0], [0, 2], [1]), ValueError, 'removed heads, rels and tails'),
    ('update_csr: add_weights of the wrong length', lambda: _core.update_csr(*CSR, _w, 5, [0], [0], [1], [1.0, 2.0], _z, _z, _z), ValueError, 'one weight per added triple'),
    ('update_csr: float64 weights (were freed before the merge read them)',
     lambda: float(_core.update_csr(*_B[:3], _B[3].astype(np.float64), 1000, [0], [0], [4], None, _z, _z, _z)[3].sum()), None, float(len(_B[1]) + 2)),
    ('update_csr: row 0 running past the edges (was an out-of-bounds read)', lambda: _core.update_csr(*_J, None, 2, _z, _z, _z, None, _z, _z, _z), ValueError, 'non-decreasing'),
    ('update_csr: corrupt old graph (dst 99)', lambda: _core.update_csr(_ip, _dst_bad, _rel, None, 5, _z, _z, _z, None, _z, _z, _z), IndexError, 'dst out of range'),
    ('update_csr: old indptr jumps past the edges (was an out-of-bounds read)', lambda: _core.update_csr(_ip_jump, _dst, _rel, None, 5, _z, _z, _z, None, _z, _z, _z), ValueError, 'non-decreasing'),
    ('batch_shortest_paths: source -1', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [-1], [0, 1], [0], 2, 10), IndexError, 'sources[0] = -1 is out of range [0, 5)'),
    ('batch_shortest_paths: target 5', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [0], [0, 1], [5], 2, 10), IndexError, 'targets[0] = 5'),
    ('batch_shortest_paths: max_hops 65', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [0], [0, 1], [1], 65, 10), ValueError, 'max_hops must be in [0, 64], got 65'),
    ('batch_shortest_paths: max_hops -1', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [0], [0, 1], [1], -1, 10), ValueError, 'got -1'),
    ('batch_shortest_paths: max_paths 0', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [0], [0, 1], [1], 2, 0), ValueError, 'max_paths must be >= 1, got 0'),
    ('batch_shortest_paths: threads 0', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [0], [0, 1], [1], 2, 5, True, 0), ValueError, 'threads must be in [1, 1024], got 0'),
    ('batch_shortest_paths: threads 10**6', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [0], [0, 1], [1], 2, 5, True, 10**6), ValueError, 'got 1000000'),
    ('batch_shortest_paths: offsets past the sources', lambda: _core.batch_shortest_paths(*CSR, [0, 3], [0], [0, 1], [1], 2, 5), ValueError, 'source offsets must start at 0 and end at the number of items (1)'),
    ('batch_shortest_paths: decreasing offsets', lambda: _core.batch_shortest_paths(*CSR, [0, 2, 1, 2], [0, 1], [0, 1, 1, 2], [1, 2], 2, 5), ValueError, 'non-decreasing (at 1)'),
    ('batch_shortest_paths: question counts differ', lambda: _core.batch_shortest_paths(*CSR, [0, 1], [0], [0, 0, 1], [1], 2, 5), ValueError, 'same number of questions'),
    ('batch_shortest_paths: dst 99 in the CSR', lambda: _core.batch_shortest_paths(_ip, _dst_bad, _rel, [0, 1], [0], [0, 1], [3], 3, 5, False), IndexError, 'dst[0] = 99'),
    ('batch_shortest_paths: indptr jumping past the edges', lambda: _core.batch_shortest_paths(_ip_jump, _dst, _rel, [0, 1], [0], [0, 1], [3], 3, 5), IndexError, 'out-of-range index'),
    ('batch_retrieve: relation id 4 with 4 relation ids', lambda: _core.batch_retrieve(*CSR, [0, 1], [0], [0, 1], [4], 4, 5), IndexError, 'relation paths[0] = 4'),
    ('batch_retrieve: empty relation path', lambda: _core.batch_retrieve(*CSR, [0, 1], [0], [0, 0], _z, 4, 5), ValueError, 'relation path length 0 is not in [1, 64]'),
    ('batch_retrieve: relation path of 65', lambda: _core.batch_retrieve(*CSR, [0, 1], [0], [0, 65], np.zeros(65, np.int32), 4, 5), ValueError, 'length 65'),
    ('batch_retrieve: max_paths -1', lambda: _core.batch_retrieve(*CSR, [0, 1], [0], [0, 1], [0], 4, -1), ValueError, 'max_paths must be >= 0, got -1'),
    ('batch_retrieve: dst 99 in the CSR', lambda: _core.batch_retrieve(_ip, _dst_bad, _rel, [0, 1], [0], [0, 1], [0], 4, 5), IndexError, 'dst[0] = 99'),
    ('batch_retrieve: 2**62 paths of 64 hops on a cycle', lambda: _core.batch_retrieve(*_K3, [0, 1], [2], [0, 64], np.zeros(64, np.int32), 2, 2**62, max_bytes=1 << 16), ValueError, 'max_bytes'),
    ('enumerate_paths: source 5', lambda: _core.enumerate_paths(*CSR, 5, 2, 10), IndexError, 'source[0] = 5'),
    ('enumerate_paths: source 2**40 (not an int32)', lambda: _core.enumerate_paths(*CSR, 2**40, 2, 10), TypeError, '1099511627776'),
    ('enumerate_paths: max_hops 100', lambda: _core.enumerate_paths(*CSR, 0, 100, 10), ValueError, 'got 100'),
    ('enumerate_paths: max_paths -5', lambda: _core.enumerate_paths(*CSR, 0, 2, -5), ValueError, 'got -5'),
    # (the default max_bytes is 4 GiB; a smaller cap keeps the test from filling 4 GiB first)
    ('enumerate_paths: 64 hops, 2**62 paths, non-simple (was unbounded memory)', lambda: _core.enumerate_paths(*_K3, 2, 64, 2**62, False, 1 << 20), ValueError, 'more than max_bytes = 1048576 bytes'),
    ('enumerate_paths: indptr jumping past the edges', lambda: _core.enumerate_paths(_ip_jump, _dst, _rel, 0, 2, 10), IndexError, 'out-of-range index'),
    ('relation_paths_from: sources 7', lambda: _core.relation_paths_from(*CSR, [7], 2, 10), IndexError, 'sources[0] = 7'),
    ('relation_paths_from: max_hops -2', lambda: _core.relation_paths_from(*CSR, [0], -2, 10), ValueError, 'got -2'),
    ('relation_paths_from: max_paths -1', lambda: _core.relation_paths_from(*CSR, [0], 2, -1), ValueError, 'got -1'),
    ('relation_paths_from: 64 hops, 2**62 sequences (was unbounded)', lambda: _core.relation_paths_from(*_K3, [0, 2], 64, 2**62, 1 << 20), ValueError, 'max_bytes'),
    ('relation_paths_from: dst 99 in the CSR', lambda: _core.relation_paths_from(_ip, _dst_bad, _rel, [0], 2, 10), IndexError, 'dst[0] = 99'),
]


@pytest.mark.parametrize('name, call, exc, words', BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_catalogue(name, call, exc, words):
    if exc is None:  # a valid (if odd) input: the documented result
        assert call() == words
        return
    with pytest.raises(exc) as e:
        call()
    assert words in str(e.value), f'{type(e.value).__name__}: {e.value}'


# ---- the Python walk API: clear KMInputErrors (cases not already in tests/test_walk.py) -----------------

@pytest.fixture(scope='module')
def kg():
    return random_kg(20, 50, seed=0)


def test_walk_length_zero_is_just_the_start(kg):
    w = random_walks(kg, ['e0', 'e1'], n_walks=2, length=0)
    assert w.nodes.shape == (4, 1) and w.relations.shape == (4, 0)
    assert w.nodes[:, 0].tolist() == kg.entity_ids(['e0', 'e0', 'e1', 'e1']).tolist() and w.length == 0


@pytest.mark.parametrize('kwargs, match', [
    (dict(length=10**9), r'1 starts x 1 walks x length 1,000,000,000 needs 7,629 MiB, over max_bytes=4,096 MiB'),
    (dict(length=2**63), 'over max_bytes'),
    (dict(n_walks=10**15), 'over max_bytes=4,096 MiB; walk fewer starts or in batches, or raise max_bytes'),
    (dict(n_walks=-10**12), r'n_walks must be >= 0, got -1000000000000; pass the number of walks per start'),
    (dict(n_walks=3.0), 'n_walks must be an integer, got 3.0'),
    (dict(n_walks=True), 'n_walks must be an integer, got True'),
    (dict(length='5'), "length must be an integer, got '5'"),
    (dict(mode='node2vec', q=0), 'q must be a finite number > 0, got 0'),
    (dict(mode='node2vec', p=-1e-9), 'p must be a finite number > 0, got -1e-09'),
    (dict(mode='node2vec', q=float('inf')), 'q must be a finite number > 0, got inf'),
    (dict(mode='node2vec', p='2'), "p must be a finite number > 0, got '2'"),
    (dict(mode='restart', alpha=float('nan')), r'alpha must be a probability in \[0, 1\], got nan'),
    (dict(mode='restart', alpha=float('inf')), 'got inf'),
    (dict(mode='restart', alpha=-1), 'got -1; it is the chance of restarting'),
    (dict(threads=-1), r'threads must be in \[1, 1024\], got -1; use e.g. threads=os.cpu_count\(\)'),
    (dict(threads=10**6), r'threads must be in \[1, 1024\], got 1000000'),
    (dict(threads=2.0), 'threads must be an integer, got 2.0'),
    (dict(max_bytes=-1), r'max_bytes must be >= 0, got -1'),
    (dict(max_bytes='4GB'), "max_bytes must be an integer, got '4GB'"),
])
def test_walk_api_names_the_bad_value(kg, kwargs, match):
    kw = dict(starts=['e0'], n_walks=1, length=3)
    kw.update(kwargs)
    with pytest.raises(KMInputError, match=match):
        random_walks(kg, **kw)


if __name__ == '__main__':  # print the catalogue with what each bad input gets now
    for name, call, exc, words in BAD_INPUTS:
        try: print(f'{name}: ok -> {call()!r}')
        except Exception as e: print(f'{name}: {type(e).__name__}: {e}')
