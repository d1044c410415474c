"""Batch jobs on Ray give the single-process output, also when a worker dies mid-job.

A local Ray cluster with 2 CPUs is started once for this file and shut down after it.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip('ray', reason="Ray is an optional extra (pip install 'knowledge-mixer[ray]')")
psutil = pytest.importorskip('psutil')

from knowledge_mixer.core import KMInputError
from knowledge_mixer.engine import EngineSettings, ordered_map, start_ray, stop_ray
from knowledge_mixer.graph import random_kg
from knowledge_mixer.paths import write_paths
from knowledge_mixer.walk import write_walks

BIN = Path(sys.executable).parent
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module by name


@pytest.fixture(scope='module')
def cluster():
    start_ray(2)
    yield
    stop_ray()


def _task_workers():
    "PIDs of Ray worker processes running one of our walk tasks."
    return [p.pid for p in psutil.process_iter(['cmdline']) if any('_walk_task' in c for c in (p.info['cmdline'] or []))]


def test_walks_survive_a_killed_worker(cluster, tmp_path):
    kg = random_kg(20_000, 100_000, seed=2)
    args = dict(n_walks=3, length=12, seed=11, chunk=2_000)
    here = write_walks(kg, tmp_path/'here.txt', **args)
    killed = []
    def killer():  # kill the first worker seen running a chunk, mid-job
        t0 = time.time()
        while not killed and time.time() - t0 < 60:
            pids = _task_workers()
            if pids: os.kill(pids[0], signal.SIGKILL); killed.append(pids[0])
            time.sleep(0.05)
    th = threading.Thread(target=killer); th.start()
    there = write_walks(kg, tmp_path/'there.txt', **args, engine='ray', workers=2)
    th.join()
    assert killed, 'no worker was seen running a walk chunk'
    assert there.path.read_bytes() == here.path.read_bytes()
    assert (there.walks, there.steps, there.lines) == (here.walks, here.steps, here.lines)


def test_npz_walks_identical_on_ray(cluster, tmp_path):
    kg = random_kg(5_000, 30_000, seed=3, n_relations=5)
    for mode in ('uniform', 'node2vec', 'restart'):
        a = write_walks(kg, tmp_path/f'{mode}_a.npz', n_walks=2, length=8, mode=mode, p=0.5, q=2, seed=4, chunk=777)
        b = write_walks(kg, tmp_path/f'{mode}_b.npz', n_walks=2, length=8, mode=mode, p=0.5, q=2, seed=4, chunk=777,
                        engine='ray', workers=2)
        assert a.path.read_bytes() == b.path.read_bytes(), mode


def test_truth_paths_identical_on_ray(cluster, tmp_path):
    kg = random_kg(3_000, 15_000, seed=5)
    rng = np.random.default_rng(0)
    qs = [{'id': i, 'topic_entities': [kg.entities[rng.integers(kg.n_entities)]],
           'answers': [kg.entities[rng.integers(kg.n_entities)] for _ in range(2)]} for i in range(300)]
    write_paths(kg, qs, tmp_path/'a.jsonl', 'truth', max_hops=3, chunk=32)
    write_paths(kg, qs, tmp_path/'b.jsonl', 'truth', max_hops=3, chunk=32, engine='ray', workers=2)
    assert (tmp_path/'a.jsonl').read_bytes() == (tmp_path/'b.jsonl').read_bytes()


def _fails_on_three(shared, t):
    if t == 3: raise KMInputError('question 3: bad')
    return t


def test_errors_and_order(cluster):
    s = EngineSettings('ray', 2)
    assert list(ordered_map(_fails_on_three, [], None, s)) == []
    assert list(ordered_map(_fails_on_three, range(3), None, s)) == [0, 1, 2]
    with pytest.raises(KMInputError, match='question 3: bad'): list(ordered_map(_fails_on_three, range(8), None, s))
    with pytest.raises(KMInputError, match="engine must be one of local, ray"): list(ordered_map(_fails_on_three, [1], None, EngineSettings('dask')))


def test_cli_engine_ray(tmp_path):
    "km_walk and km_paths with --engine ray start a local cluster, write what the default engine writes, and stop it."
    kg = random_kg(500, 2_000, seed=6)
    kg.save(tmp_path/'kg.npz')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    env.pop('RAY_ADDRESS', None)
    for extra, name in (([], 'a.txt'), (['--engine', 'ray', '--workers', '2'], 'b.txt')):
        r = subprocess.run([BIN/'km_walk', 'kg.npz', name, '--n_walks', '2', '--length', '5', '--chunk', '300', *extra],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path/'a.txt').read_bytes() == (tmp_path/'b.txt').read_bytes()
