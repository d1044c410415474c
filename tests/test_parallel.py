"""The engine's one thread pool (`parallel_for` in cpp/parallel.hpp), seen from Python.

An exception thrown inside a worker thread must reach Python as the clear exception a one-thread run raises
(same type, same message), whatever the thread count and however the chunks were shared out, and the engine
must stay usable afterwards. The path kernels are where workers throw: they follow the CSR arrays as they
read them (a corrupt id raises std::out_of_range -> IndexError) and charge a shared output budget
(std::length_error -> ValueError). The walk kernels report a corrupt graph through a flag checked after the
join instead, and the CSR build's workers only sort, so they have no worker-thrown error of their own.
"""
import numpy as np
import pytest

from knowledge_mixer import _core

N = 20_000  # nodes of the random part; A, B: one corrupt edge each; Z: isolated
A, B, Z = N, N + 1, N + 2
CHUNK = 64  # questions per work unit in the batch kernels (kChunk in cpp/paths.hpp)


@pytest.fixture(scope='module')
def corrupt():
    "A random graph plus nodes A and B whose one edge each points past the last node (no edge leads to them)."
    rng = np.random.default_rng(0)
    m = 10 * N
    H = np.concatenate([rng.integers(0, N, m), [A, B]]).astype(np.int32)
    T = np.concatenate([rng.integers(0, N, m), [0, 0]]).astype(np.int32)
    R = np.zeros(m + 2, np.int32)
    indptr, dst, rel, _ = _core.build_csr(H, R, T, None, N + 3, 2, False)
    ok = dst.copy()
    ea, eb = indptr[A], indptr[B]
    dst[ea], dst[eb] = N + 50, N + 90
    return indptr, dst, rel, ok, ea, eb


def _questions(indptr, dst):
    """Chunk 0: short searches (a target three first-edges away). Chunk 1: slow searches of the whole graph for the
    isolated Z; its last question starts at A. Chunk 2 starts at B. Then trivial questions (source = target)."""
    rng = np.random.default_rng(1)
    near = rng.integers(0, N, CHUNK)
    far = near.copy()
    for _ in range(3): far = dst[indptr[far]]
    src = np.concatenate([near, rng.integers(0, N, CHUNK - 1), [A], [B], np.arange(CHUNK - 1)])
    tgt = np.concatenate([far, np.full(CHUNK - 1, Z), [Z], [Z], np.arange(CHUNK - 1)])
    ptr = np.arange(len(src) + 1, dtype=np.int64)
    return ptr, src.astype(np.int32), ptr, tgt.astype(np.int32)


def _error(call):
    with pytest.raises(Exception) as e:
        call()
    return type(e.value), str(e.value)


def test_worker_exception_is_the_one_thread_error(corrupt):
    """threads=1 meets A's corrupt edge first (question 127). With two workers, one takes chunk 0 and then chunk 2,
    reaching B (question 128) long before the other finishes chunk 1's slow searches; the pool still raises A's
    error, because it keeps the lowest failing chunk's exception. (The pool this replaced kept the exception of the
    lowest-numbered thread, so with two threads it usually raised B's.)"""
    indptr, dst, rel, ok, ea, eb = corrupt
    q = _questions(indptr, ok)
    run = lambda threads: _core.batch_shortest_paths(indptr, dst, rel, *q, 6, 5, False, threads)
    want = _error(lambda: run(1))
    assert want[0] is IndexError and f'dst[{ea}] = {N + 50}' in want[1] and 'corrupt' in want[1], want
    for threads in (2, 3, 4, 2, 2):
        assert _error(lambda: run(threads)) == want, threads


def test_worker_exception_leaves_the_engine_usable(corrupt):
    "After a failed multi-threaded batch, the same call on the intact arrays answers, and the same for any thread count."
    indptr, dst, rel, ok, ea, eb = corrupt
    q = _questions(indptr, ok)
    with pytest.raises(IndexError, match=r'out-of-range index \(dst\['):
        _core.batch_retrieve(indptr, dst, rel, *q[:2], q[0], np.zeros(len(q[1]), np.int32), 2, 10, False, False, 4)
    ref = _core.batch_shortest_paths(indptr, ok, rel, *q, 3, 5, False, 1)
    for threads in (2, 4):
        got = _core.batch_shortest_paths(indptr, ok, rel, *q, 3, 5, False, threads)
        assert all(np.array_equal(ref[k], got[k]) for k in ref), threads


def test_shared_budget_overflow_in_a_worker(corrupt):
    "The output budget the workers share overflows inside one of them: a ValueError naming max_bytes, not an abort."
    indptr, _, rel, ok, _, _ = corrupt
    ptr, src, _, _ = _questions(indptr, ok)
    src = np.where(src >= N, 0, src).astype(np.int32)  # no corrupt rows here: only the budget can fail
    path_ptr = np.arange(0, 2 * len(src) + 1, 2, dtype=np.int64)
    path = np.zeros(2 * len(src), np.int32)
    for threads in (1, 3):
        with pytest.raises(ValueError, match='more than max_bytes = 4096 bytes'):
            _core.batch_retrieve(indptr, ok, rel, ptr, src, path_ptr, path, 2, 100, False, False, threads, 4096)
