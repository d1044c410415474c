"""Load: 1M walks and 100k retrieval questions stream to disk with flat memory.

The big runs happen in fresh interpreters (the `km_walk` / `km_paths` commands, run the way their console
scripts run them), each reporting its own peak resident set size (VmHWM from /proc/self/status). The bound:
a streaming run holds one chunk at a time, so going from the small batch to the big one (10x the walks or
questions, same chunk size) must raise its peak by less than a quarter of the extra output. A run that kept
its output in memory grows by at least the extra output — numpy arrays by exactly their bytes, Python objects
by several times the JSON they become — and the in-memory controls below check that the measurement sees
that, so the bound can fail. The files are checked against the in-memory functions (`random_walks`,
`walks_to_text`, `retrieve_paths`, `shortest_paths`): completely for the walk arrays, by spot checks for the rest.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from knowledge_mixer import _core
from knowledge_mixer.core import KMInputError
from knowledge_mixer.graph import KnowledgeGraph, random_kg
from knowledge_mixer.paths import paths_for_questions, retrieve_paths, shortest_paths, write_paths
from knowledge_mixer.walk import Walks, random_walks, walks_to_text, write_walks

ROOT = Path(__file__).resolve().parent.parent
N_ENT, N_TRIPLES, LENGTH, SEED = 100_000, 500_000, 20, 3  # walk graph: 1M walks = 10 from every entity
Q_ENT, Q_TRIPLES = 50_000, 200_000                        # question graph

CHILD = r'''
import json, sys, time
spec = json.loads(sys.argv[1])
def hwm():
    return int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]) / 1024
from knowledge_mixer.graph import load_graph
from knowledge_mixer.paths import _read_questions, km_paths, paths_for_questions
from knowledge_mixer.walk import km_walk, random_walks
base, t0 = hwm(), time.perf_counter()
if spec['kind'] in ('km_walk', 'km_paths'):  # the console script: argv parsed by the command itself
    sys.argv = [spec['kind'], *spec['argv']]
    (km_walk if spec['kind'] == 'km_walk' else km_paths)()
elif spec['kind'] == 'walks_in_memory':  # what km_walk did before streaming
    random_walks(load_graph(spec['graph']), None, spec['n_walks'], spec['length'], seed=spec['seed']).save(spec['out'])
elif spec['kind'] == 'paths_in_memory':  # what km_paths did before streaming
    kg = load_graph(spec['graph'])
    res = paths_for_questions(kg, _read_questions(spec['questions'], []), 'both', max_hops=2, max_paths=10)
    with open(spec['out'], 'w') as f:
        for r in res: f.write(json.dumps(r) + '\n')
print(json.dumps(dict(base_mib=base, peak_mib=hwm(), seconds=time.perf_counter() - t0)))
'''


def child(tmp, **spec):
    "Run one measured job in a fresh interpreter; returns its base/peak RSS (MiB) and seconds."
    script = Path(tmp) / 'child.py'
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    r = subprocess.run([sys.executable, str(script), json.dumps(spec)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def mib(path): return Path(path).stat().st_size / 2**20


# ---- chunking never changes the result (in process, small) -------------------------------------------------

def test_kernel_walk_ranges_equal_one_call():
    "Any walk range [first, first + count) of the C++ kernel is exactly those rows of the full call, every mode."
    H, R, T = np.random.default_rng(0).integers(0, [[300], [4], [300]], (3, 900))
    kg = KnowledgeGraph.from_triples([(f'e{h}', f'r{r}', f'e{t}', 0.5 + i % 3) for i, (h, r, t) in enumerate(zip(H, R, T))],
                                     weighted=True, inverse=False)  # forward only: some walks hit dead ends
    s = np.arange(kg.n_entities, dtype=np.int32)
    args = dict(indptr=kg.indptr, dst=kg.dst, rel=kg.rel, starts=s, n_walks=3, length=9, p=0.5, q=2.0, alpha=0.2, seed=11,
                cumw=_core.row_cumulative_weights(kg.indptr, kg.dst, kg.rel, kg.weight),
                sorted_dst=_core.row_sorted_dst(kg.indptr, kg.dst, kg.rel))
    for mode in ('uniform', 'weighted', 'node2vec', 'restart'):
        full = _core.random_walks(**args, mode=mode)
        W = len(full[0])
        assert (full[1] == -1).any()
        for chunk, threads in ((1, 1), (64, 2), (97, 3), (W, 1)):
            parts = [_core.random_walks(**args, mode=mode, threads=threads, first=f, count=min(chunk, W - f)) for f in range(0, W, chunk)]
            np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), full[0], err_msg=f'{mode} chunk {chunk}')
            np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), full[1], err_msg=f'{mode} chunk {chunk}')
    assert _core.random_walks(**args, first=5)[0].shape == (len(s) * 3 - 5, 10)  # count -1: to the end
    with pytest.raises(IndexError, match=r'first = -1 is not a walk index'): _core.random_walks(**args, first=-1)
    with pytest.raises(IndexError, match=r'runs past the'): _core.random_walks(**args, first=10, count=len(s) * 3)
    huge = {**args, 'n_walks': 10**4}  # ~3M walks, 228 MB: max_bytes limits what one call allocates, the range
    assert _core.random_walks(**huge, first=10**6, count=10, max_bytes=2**20)[0].shape == (10, 10)
    with pytest.raises(ValueError, match=r'over the limit'): _core.random_walks(**huge, first=10**6, max_bytes=2**20)


@pytest.mark.parametrize('suffix', ['.npz', '.txt'])
def test_write_walks_equals_random_walks(tmp_path, suffix):
    kg = random_kg(3000, 9000, seed=1)
    ref = random_walks(kg, None, 2, 7, 'restart', alpha=0.2, seed=5)
    for chunk, threads in ((1000, 1), (333, 2), (10**6, 1)):
        wf = write_walks(kg, tmp_path / f'w{suffix}', None, 2, 7, 'restart', alpha=0.2, seed=5, chunk=chunk, threads=threads)
        assert (wf.walks, wf.length, wf.steps) == (6000, 7, int(ref.steps.sum()))
        if suffix == '.npz':
            for mmap in (False, True):
                got = Walks.load(wf.path, mmap=mmap)
                np.testing.assert_array_equal(got.nodes, ref.nodes); np.testing.assert_array_equal(got.relations, ref.relations)
                assert got.n_walks == 2
        else:
            text = walks_to_text(kg, ref)
            assert wf.path.read_text(encoding='utf-8').splitlines() == text and wf.lines == len(text)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f'w{suffix}']  # no scratch or temporary file left


def test_write_walks_empty_and_bad_arguments(tmp_path):
    kg = random_kg(50, 100, seed=0)
    w = Walks.load(write_walks(kg, tmp_path / 'e.npz', None, 0, 5).path, mmap=True)
    assert w.nodes.shape == (0, 6) and w.relations.shape == (0, 5)
    assert write_walks(kg, tmp_path / 'e.txt', None, 0, 5).path.read_text() == ''
    with pytest.raises(KMInputError, match='chunk must be >= 1, got 0'): write_walks(kg, tmp_path / 'x.npz', chunk=0)
    with pytest.raises(KMInputError, match='mode must be one of'): write_walks(kg, tmp_path / 'x.npz', mode='levy')
    assert not (tmp_path / 'x.npz').exists()


def test_write_paths_equals_paths_for_questions(tmp_path):
    kg, qs = question_graph(2000, 8000, 300)
    (tmp_path / 'q.jsonl').write_text(''.join(json.dumps(q) + '\n' for q in qs))
    ref = paths_for_questions(kg, qs, 'both', max_hops=2, max_paths=5)
    for chunk in (1, 64, 10**6):
        assert write_paths(kg, tmp_path / 'q.jsonl', tmp_path / 'o.jsonl', 'both', max_hops=2, max_paths=5, chunk=chunk) == 300
        assert [json.loads(l) for l in (tmp_path / 'o.jsonl').read_text().splitlines()] == ref


# ---- 1M walks: flat memory ---------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def walk_graph(tmp_path_factory):
    d = tmp_path_factory.mktemp('load-walks')
    kg = random_kg(N_ENT, N_TRIPLES, seed=0)
    kg.save(d / 'kg.npz')
    return kg, d


def km_walk_run(d, out, n_walks):
    return child(d, kind='km_walk', argv=[str(d / 'kg.npz'), str(out), '--n_walks', str(n_walks),
                                          '--length', str(LENGTH), '--seed', str(SEED)])


@pytest.mark.slow
def test_million_walks_stream_with_flat_memory(walk_graph):
    kg, d = walk_graph
    small, big = km_walk_run(d, d / 'small.npz', 1), km_walk_run(d, d / 'big.npz', 10)
    control = child(d, kind='walks_in_memory', graph=str(d / 'kg.npz'), out=str(d / 'mem.npz'), n_walks=10, length=LENGTH, seed=SEED)
    extra = mib(d / 'big.npz') - mib(d / 'small.npz')
    print(f'\nkm_walk .npz: 100k walks peak {small["peak_mib"]:.1f} MiB ({small["seconds"]:.2f} s), '
          f'1M walks peak {big["peak_mib"]:.1f} MiB ({big["seconds"]:.2f} s, {mib(d / "big.npz"):.0f} MiB file); '
          f'in memory 1M peak {control["peak_mib"]:.1f} MiB')
    assert extra > 130  # 900k more walks of 20 steps: 900k * 41 * 4 bytes
    assert big['peak_mib'] - small['peak_mib'] < extra / 4, (small, big, extra)
    assert control['peak_mib'] - small['peak_mib'] > extra / 2, (small, control)  # the measurement sees a buffered run
    # the file is complete and exactly random_walks' output (the kernel's walks, whatever the chunking)
    ref = random_walks(kg, None, 10, LENGTH, seed=SEED)
    got = Walks.load(d / 'big.npz', mmap=True)
    assert got.n_walks == 10 and got.nodes.shape == (1_000_000, LENGTH + 1)
    assert np.array_equal(got.nodes, ref.nodes) and np.array_equal(got.relations, ref.relations)
    del got
    assert Walks.load(d / 'mem.npz').nodes.shape == (1_000_000, LENGTH + 1)
    for f in ('big.npz', 'mem.npz'): (d / f).unlink()


@pytest.mark.slow
def test_million_walks_as_text_stream_with_flat_memory(walk_graph):
    kg, d = walk_graph
    small, big = km_walk_run(d, d / 'small.txt', 1), km_walk_run(d, d / 'big.txt', 10)
    extra = mib(d / 'big.txt') - mib(d / 'small.txt')
    print(f'\nkm_walk text: 100k walks peak {small["peak_mib"]:.1f} MiB ({small["seconds"]:.2f} s), '
          f'1M walks peak {big["peak_mib"]:.1f} MiB ({big["seconds"]:.2f} s, {mib(d / "big.txt"):.0f} MiB file)')
    assert extra > 250
    assert big['peak_mib'] - small['peak_mib'] < extra / 4, (small, big, extra)
    # complete (one line per walk that took a step) and correct at sampled walks
    ref = random_walks(kg, None, 10, LENGTH, seed=SEED)
    has_line = ref.steps > 0
    line_of = np.cumsum(has_line) - 1
    sample = [int(w) for w in np.random.default_rng(0).choice(np.flatnonzero(has_line), 25, replace=False)]
    want = {int(line_of[w]): walks_to_text(kg, Walks(ref.nodes[w:w + 1], ref.relations[w:w + 1]))[0] for w in sample}
    n = 0
    with open(d / 'big.txt', encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if n - 1 in want: assert line.rstrip('\n') == want[n - 1], n - 1
    assert n == int(has_line.sum())
    (d / 'big.txt').unlink()


@pytest.mark.slow
def test_killed_stream_leaves_previous_file_intact(walk_graph):
    kg, d = walk_graph
    out = d / 'kill.txt'
    write_walks(kg, out, ['e1', 'e2'], 2, 3)
    before = out.read_bytes()
    script = d / 'child.py'
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    spec = dict(kind='km_walk', argv=[str(d / 'kg.npz'), str(out), '--n_walks', '10', '--length', str(LENGTH)])
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(spec)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, written = time.time() + 60, 0
    while time.time() < deadline and proc.poll() is None and written < 4 * 2**20:  # kill it mid-write
        try: written = max([t.stat().st_size for t in d.glob('.kill.txt.*')] + [0])
        except FileNotFoundError: pass
        time.sleep(0.01)
    assert proc.poll() is None, 'the writer finished before it could be killed'
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert written >= 4 * 2**20, f'the temporary file never grew: {proc.stderr.read()[-2000:]}'
    assert out.read_bytes() == before
    print(f'\nkilled km_walk after {written / 2**20:.1f} MiB of text; the previous file is intact')
    for t in d.glob('.kill.txt.*'): t.unlink()  # a killed process cannot clean up its temporary file


# ---- 100k retrieval questions: flat memory ------------------------------------------------------------------

def question_graph(n_ent, n_triples, n_questions, seed=0):
    "A random graph and questions generated on it: a topic, the relations of a 1-3 step walk from it, its end as answer."
    kg = random_kg(n_ent, n_triples, seed=seed)
    rng = np.random.default_rng(seed + 1)
    w = random_walks(kg, rng.integers(0, kg.n_entities, n_questions).astype(np.int32), 1, 3, seed=seed + 2)
    E, R = kg.entities, kg.relation_names
    qs = []
    for i, (ns, rs, h) in enumerate(zip(w.nodes.tolist(), w.relations.tolist(), rng.integers(1, 4, n_questions).tolist())):
        h = min(h, int((np.array(rs) >= 0).sum())) or 1
        qs.append({'id': f'q{i}', 'topic_entities': [E[ns[0]]], 'answers': [E[ns[h]]] if ns[h] >= 0 else [],
                   'gold_relation_path': [R[r] if r >= 0 else R[0] for r in rs[:h]], 'hops': h})
    return kg, qs


@pytest.mark.slow
def test_hundred_thousand_questions_stream_with_flat_memory(tmp_path):
    kg, qs = question_graph(Q_ENT, Q_TRIPLES, 100_000)
    kg.save(tmp_path / 'kg.npz')
    for n in (10_000, 100_000):
        with open(tmp_path / f'q{n}.jsonl', 'w') as f:
            for q in qs[:n]: f.write(json.dumps(q) + '\n')
    run = lambda n: child(tmp_path, kind='km_paths', argv=[str(tmp_path / f'q{n}.jsonl'), str(tmp_path / 'kg.npz'),
                                                          str(tmp_path / f'o{n}.jsonl'), '--max_hops', '2', '--max_paths', '10'])
    small, big = run(10_000), run(100_000)
    control = child(tmp_path, kind='paths_in_memory', graph=str(tmp_path / 'kg.npz'), questions=str(tmp_path / 'q100000.jsonl'),
                    out=str(tmp_path / 'mem.jsonl'))
    extra = mib(tmp_path / 'o100000.jsonl') - mib(tmp_path / 'o10000.jsonl')
    print(f'\nkm_paths: 10k questions peak {small["peak_mib"]:.1f} MiB ({small["seconds"]:.2f} s), 100k questions peak '
          f'{big["peak_mib"]:.1f} MiB ({big["seconds"]:.2f} s, {mib(tmp_path / "o100000.jsonl"):.0f} MiB file); '
          f'in memory 100k peak {control["peak_mib"]:.1f} MiB')
    assert extra > 10
    assert big['peak_mib'] - small['peak_mib'] < extra / 4, (small, big, extra)
    assert control['peak_mib'] - small['peak_mib'] > extra, (small, control)
    # complete, in order, and each sampled line is what the single-question functions return
    lines = (tmp_path / 'o100000.jsonl').read_text(encoding='utf-8').splitlines()
    assert len(lines) == 100_000
    assert [json.loads(lines[i])['id'] for i in (0, 4095, 4096, 99_999)] == ['q0', 'q4095', 'q4096', 'q99999']
    for i in np.random.default_rng(1).choice(100_000, 30, replace=False).tolist():
        o, q = json.loads(lines[i]), qs[i]
        r = retrieve_paths(kg, q['topic_entities'], q['gold_relation_path'], max_paths=10)
        assert (o['id'], o['retrieved'], o['retrieve_truncated']) == (q['id'], r.ends, r.truncated)
        assert o['paths'] == [[x for pair in zip(p.entities, p.relations + ('',)) for x in pair][:-1] for p in r.paths]
        s = shortest_paths(kg, q['topic_entities'], q['answers'], max_hops=2, max_paths=10)
        assert o['truth_relation_paths'] == [{'path': list(p), 'support': c} for p, c in s.relation_paths.items()]
    assert (tmp_path / 'mem.jsonl').read_text(encoding='utf-8').splitlines() == [json.dumps(json.loads(l)) for l in lines]
