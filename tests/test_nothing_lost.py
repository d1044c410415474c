"""Nothing lost: every artifact writer survives SIGKILL mid-write, training resumes after SIGKILL (also in the middle of
writing a checkpoint), and re-running the pipeline never silently overwrites a finished run folder.

Kill tests (tests/killing.py) run the writer in a child process, SIGKILL it at several offsets inside its write of a
big-enough artifact, prove that each kill landed mid-write (the child died holding its uncommitted temporary file), and
then read the artifact in this process: it must be exactly the previous version, whole. (The graph .npz has the same
test in test_reliability.py.)
"""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from knowledge_mixer.core import KMInputError
from killing import kill_during_writes

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), 'OMP_NUM_THREADS': '1'}
ENV.pop('IN_TEST', None)

# --------------------------------------------------------------------------------------------------- artifact writers

def test_killed_save_dataset_leaves_a_whole_dataset(tmp_path):
    from datasets import Dataset
    from knowledge_mixer.data import load_dataset_dir, save_dataset
    target = tmp_path / 'planning'
    save_dataset(Dataset.from_dict({'prompt': ['old'] * 3, 'completion': ['x'] * 3}), target)
    n = 150_000
    setup = f"""
from datasets import Dataset
from knowledge_mixer.data import save_dataset
ds = Dataset.from_dict({{'prompt': ['question %d ' % i + 'x' * 100 for i in range({n})], 'completion': ['<PATH>r</PATH>'] * {n}}})
"""
    def check(p):
        ds = load_dataset_dir(p)
        assert len(ds) in (3, n), len(ds)
        if len(ds) == n: assert ds[n - 1]['prompt'].startswith(f'question {n - 1} ')
        return len(ds)
    kill_during_writes(target, setup, 'save_dataset(ds, target)', check)
    # nothing but the dataset itself (and no stray half-written copy under the target's name)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith('.')] == ['planning']


def test_killed_save_jsonl_leaves_a_whole_file(tmp_path):
    from knowledge_mixer.data import QARecord, load_jsonl, save_jsonl
    target = tmp_path / 'questions.jsonl'
    save_jsonl([QARecord(f'old-{i}', f'q [e{i}]', ['a'], [f'e{i}']) for i in range(3)], target)
    n = 40_000
    setup = f"""
from knowledge_mixer.data import QARecord, save_jsonl
recs = [QARecord(f'q-{{i}}', f'what is [e{{i}}] about', ['a', 'b'], [f'e{{i}}'], hops=2, relation_path=['r', '~s']) for i in range({n})]
"""
    def check(p):
        recs = load_jsonl(p)  # raises on a torn last line
        assert len(recs) in (3, n) and recs[-1].id in ('old-2', f'q-{n - 1}'), (len(recs), recs[-1])
        return len(recs)
    kill_during_writes(target, setup, 'save_jsonl(recs, target)', check)


def test_killed_write_predictions_leaves_a_whole_file(tmp_path):
    from knowledge_mixer.eval import read_predictions
    from knowledge_mixer.reason import Prediction, write_predictions
    target = tmp_path / 'predictions.jsonl'
    write_predictions([Prediction(f'old-{i}', 'q', ['a'], [], ground_truth=['a']) for i in range(3)], target)
    n = 30_000
    setup = f"""
from knowledge_mixer.reason import Prediction, write_predictions
preds = [Prediction(f'q-{{i}}', 'what is [e] about', ['a', 'b', 'c'], [dict(path=['r', '~s'], score=-0.5, valid=True)],
                    ['e -> r -> a'], ['a'], 2) for i in range({n})]
"""
    def check(p):
        rows = read_predictions(p)  # raises on a torn line
        assert len(rows) in (3, n) and rows[-1]['id'] in ('old-2', f'q-{n - 1}')
        return len(rows)
    kill_during_writes(target, setup, 'write_predictions(preds, target)', check)


def test_killed_walks_save_leaves_a_whole_file(tmp_path):
    from knowledge_mixer.walk import Walks
    target = tmp_path / 'walks.npz'
    Walks(np.zeros((3, 5), np.int32), np.zeros((3, 4), np.int32)).save(target)
    setup = """
import numpy as np
from knowledge_mixer.walk import Walks
w = Walks(np.arange(1_000_000 * 11, dtype=np.int32).reshape(-1, 11), np.ones((1_000_000, 10), np.int32), 1)
"""
    def check(p):
        w = Walks.load(p)
        assert len(w) in (3, 1_000_000)
        if len(w) > 3: assert int(w.nodes[-1, -1]) == 1_000_000 * 11 - 1
        return len(w)
    kill_during_writes(target, setup, 'w.save(target)', check)


def _png_ok(p):
    data = Path(p).read_bytes()
    return data.startswith(b'\x89PNG\r\n\x1a\n') and data[-8:-4] == b'IEND'


def test_killed_eval_report_leaves_whole_files(tmp_path):
    from knowledge_mixer.eval import write_report
    out = tmp_path / 'run'
    rows = [dict(id='a', prediction=['x'], ground_truth=['x'], hops=1)]
    write_report(rows, out)
    setup = """
from knowledge_mixer.eval import write_report
rows = [dict(id=f'q{i}', prediction=['x', 'y'], ground_truth=['x'], hops=i % 3 + 1, qtype=f'type-{i % 1500}',
             plans=[dict(path=['r'], valid=True)], gold_relation_paths=[['r']]) for i in range(3000)]
"""
    def check(o):
        ev = json.loads((o / 'eval_metrics.json').read_text())
        assert ev['overall']['n'] in (1, 3000)
        md = (o / 'eval_report.md').read_text()
        assert md.startswith('# Evaluation') and md.rstrip().endswith('(eval_size_f1.png)')
        assert _png_ok(o / 'eval_by_hop.png') and _png_ok(o / 'eval_size_f1.png')
        return ev['overall']['n']
    kill_during_writes(out, setup, 'write_report(rows, target)', check, offsets=(0.3, 0.6, 0.9))


def test_killed_pipeline_report_leaves_whole_files(tmp_path):
    from knowledge_mixer.pipeline import PipelineConfig, write_report
    out = tmp_path / 'run'
    write_report(PipelineConfig(out=str(out)), [dict(stage='graph', seconds=1.0, metrics=dict(entities=3))])
    setup = """
from knowledge_mixer.pipeline import PipelineConfig, write_report
results = [dict(stage=f'stage{i}', seconds=0.5, metrics={f'm{j}': j / 7 for j in range(40)}) for i in range(6000)]
"""
    def check(o):
        m = json.loads((o / 'metrics.json').read_text())
        assert len(m) in (1, 6000)
        md = (o / 'report.md').read_text()
        assert md.startswith('# knowledge-mixer run') and 'Total:' in md
        return len(m)
    kill_during_writes(out, setup, 'write_report(PipelineConfig(out=target), results)', check)


def test_killed_folder_replacement_leaves_a_whole_folder(tmp_path):
    "`atomic_dir` writes every folder artifact: datasets, the final model/, merged models, converted and tiny base models."
    from knowledge_mixer.core import atomic_dir
    target = tmp_path / 'model'
    with atomic_dir(target) as d: (d / 'manifest.json').write_text(json.dumps({'weights.bin': 10})); (d / 'weights.bin').write_bytes(b'o' * 10)
    setup = """
import json, os
from knowledge_mixer.core import atomic_dir
blob = os.urandom(4 << 20)
"""
    write = """
with atomic_dir(target) as d:
    (d / 'manifest.json').write_text(json.dumps({f'shard{i}.bin': len(blob) for i in range(8)}))
    for i in range(8): (d / f'shard{i}.bin').write_bytes(blob)
"""
    def check(p):
        manifest = json.loads((p / 'manifest.json').read_text())
        assert {f.name: f.stat().st_size for f in p.iterdir() if f.name != 'manifest.json'} == manifest
        return len(manifest)
    kill_during_writes(target, setup, write, check)


def test_kill_test_catches_a_writer_that_writes_in_place(tmp_path):
    "Control: a writer that overwrites its target in place (while holding a temporary file beside it) is caught torn."
    target = tmp_path / 'inplace.txt'
    target.write_text('old\n')
    setup = "from knowledge_mixer.core import atomic_path\nblob = 'x' * (1 << 20)"
    write = """
with atomic_path(str(target) + '.side') as tmp, open(target, 'w') as f:
    for _ in range(64): f.write(blob); f.flush()
"""
    with pytest.raises(AssertionError, match='changed'):
        kill_during_writes(target, setup, write, lambda p: p.read_text()[:4], offsets=(0.5,))


def test_interrupted_fallback_swap_is_read_in_place_and_restored_by_writers(tmp_path):
    "Where renameat2 is missing, the old folder is set aside first (tagged as ours); after a kill between the two renames a loader reads it where it lies, the next writer puts it back."
    from datasets import Dataset
    from knowledge_mixer.core import restore_dir
    from knowledge_mixer.data import load_dataset_dir, save_dataset
    p = save_dataset(Dataset.from_dict({'a': [1, 2]}), tmp_path / 'ds')
    (tmp_path / '.ds.old.km').touch(); os.replace(p, tmp_path / '.ds.old')  # what replace_dir leaves when killed there
    assert not p.exists() and len(load_dataset_dir(p)) == 2 and not p.exists()  # reading moves nothing
    assert restore_dir(p).exists() and sorted(x.name for x in tmp_path.iterdir()) == ['ds']


def test_files_keep_the_umask_mode_not_mkstemp_0600(tmp_path):
    from knowledge_mixer.data import QARecord, save_jsonl
    old = os.umask(0o022)
    try: p = save_jsonl([QARecord('a', 'q', ['x'], ['e'])], tmp_path / 'q.jsonl')
    finally: os.umask(old)
    assert oct(p.stat().st_mode & 0o777) == oct(0o644)


# --------------------------------------------------------------------------------------------------- training

from test_train import planning, tiny_base, tiny_cfg, torch1  # noqa: E402,F401  (session fixtures: tiny model built once)

TORN_CHECKPOINT = """
import dataclasses, json, os, signal, sys
from transformers.trainer_callback import TrainerState
real = TrainerState.save_to_json
def save_to_json(self, path):
    if self.global_step == int(sys.argv[2]):  # SIGKILL in the middle of writing this checkpoint's trainer_state.json
        text = json.dumps(dataclasses.asdict(self), indent=2)
        with open(path, 'w') as f: f.write(text[:len(text) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    real(self, path)
TrainerState.save_to_json = save_to_json
from knowledge_mixer.train import TrainConfig, run_training
run_training(TrainConfig.load(sys.argv[1]))
"""


def test_kill_while_writing_a_checkpoint_resumes_from_the_previous_one(tiny_base, tmp_path, capsys):
    """transformers 5.23 writes checkpoint-N in place (model, optimizer, scheduler, RNG, then trainer_state.json, non-atomically):
    a SIGKILL there leaves a checkpoint whose trainer_state.json is cut short. Resuming must skip it, not crash on it."""
    from knowledge_mixer.train import TrainConfig, run_training
    run = tmp_path / 'run'
    cfg = tiny_cfg(tiny_base, run, steps=6, eval_steps=2, save_steps=2, plan_eval_n=4, max_eval=8, threads=1, max_train=64)
    cfg_path = cfg.save(tmp_path / 'cfg.json')
    r = subprocess.run([sys.executable, '-c', TORN_CHECKPOINT, str(cfg_path), '4'], env=ENV, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    torn = run / 'checkpoint-4' / 'trainer_state.json'
    with pytest.raises(json.JSONDecodeError):
        json.loads(torn.read_text())  # what HF leaves behind
    res = run_training(TrainConfig.load(cfg_path))
    out = capsys.readouterr().out
    assert 'removing incomplete checkpoint' in out and 'trainer_state.json is cut short' in out, out[-2000:]
    assert res.metrics['resumed_from'].endswith('checkpoint-2') and res.metrics['global_step'] == 6
    assert json.loads(torn.read_text())['global_step'] == 4  # rewritten whole by the resumed run
    assert (res.model_dir / 'adapter_model.safetensors').exists()


def test_sigkill_resume_light(tiny_base, tmp_path):
    "A lighter twin of test_train's SIGKILL test: kill after the first checkpoint, resume in-process, same result as uninterrupted."
    from knowledge_mixer.train import TrainConfig, run_training
    run = tmp_path / 'killed'
    cfg = tiny_cfg(tiny_base, run, steps=40, eval_steps=5, plan_eval_n=4, max_eval=16, threads=1, max_train=128)
    cfg_path = cfg.save(tmp_path / 'cfg.json')
    p = subprocess.Popen([sys.executable, '-m', 'knowledge_mixer.train', '--config', str(cfg_path)], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.time()
        while not any((c / 'trainer_state.json').exists() for c in run.glob('checkpoint-*')):
            assert p.poll() is None, f'training ended before a checkpoint appeared: {p.returncode}'
            assert time.time() - t0 < 300, 'no checkpoint within 5 minutes'
            time.sleep(0.02)
    finally:
        os.kill(p.pid, signal.SIGKILL); p.wait()
    # the kill landed mid-run: the process died of it (it had not exited), after a checkpoint and before the final model
    assert p.returncode == -signal.SIGKILL, f'training exited on its own (status {p.returncode}) before the kill'
    assert not (run / 'model').exists(), 'the run finished before it was killed; make it longer'
    res = run_training(TrainConfig.load(cfg_path))
    assert res.metrics['resumed_from'] and res.metrics['global_step'] == 40
    ref = run_training(TrainConfig(**{**asdict(cfg), 'out': str(tmp_path / 'ref')}))
    ev = lambda hist: [(h['step'], round(h['eval_loss'], 3)) for h in hist if 'eval_loss' in h]
    a, b = ev(res.history), ev(ref.history)
    assert [s for s, _ in a] == [s for s, _ in b]
    assert all(abs(x - y) <= 1e-3 * abs(y) + 1e-3 for (_, x), (_, y) in zip(a, b)), (a, b)


# --------------------------------------------------------------------------------------------------- re-running the pipeline

def _snapshot(folder):
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob('*')) if p.is_file()}


def test_rerunning_the_pipeline_never_silently_overwrites(tmp_path, capsys):
    "Finished stages are skipped with a message (files untouched); other settings are refused; --force is the only way to redo."
    from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
    out = tmp_path / 'run'
    cfg = dict(out=str(out), n_movies=80, per_type=2, seed=0)
    stages = ['graph', 'questions']  # no training needed to check the run-folder rules
    run_pipeline(PipelineConfig(**cfg), stages)
    before = {k: v for k, v in _snapshot(out).items() if k not in ('report.md', 'metrics.json', 'config.json')}
    capsys.readouterr()
    run_pipeline(PipelineConfig(**cfg), stages)
    said = capsys.readouterr().out
    assert '[graph] already done' in said and '[questions] already done' in said
    after = _snapshot(out)
    assert {k: after[k] for k in before} == before  # not rewritten: same bytes and same mtime
    # other settings: refused before anything is written, naming the differences and the way out
    with pytest.raises(KMInputError, match=r"n_movies: 80 -> 90.*use another --out, or --force"):
        run_pipeline(PipelineConfig(**{**cfg, 'n_movies': 90}), stages)
    assert _snapshot(out) == after
    # --force redoes the stages, and what later stages made from the old output is no longer marked done
    (out / 'stages' / 'sft_data.done.json').write_text(json.dumps(dict(stage='sft_data', seconds=0.0, metrics={})))
    run_pipeline(PipelineConfig(**{**cfg, 'n_movies': 90, 'force': True}), ['graph'])
    assert 'running' in capsys.readouterr().out
    assert not (out / 'stages' / 'questions.done.json').exists() and not (out / 'stages' / 'sft_data.done.json').exists()
    assert json.loads((out / 'config.json').read_text())['data']['n_movies'] == 90


def test_pipeline_refuses_a_folder_that_is_not_a_run(tmp_path):
    from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
    mine = tmp_path / 'my_stuff'; mine.mkdir()
    (mine / 'report.md').write_text('my own notes')
    with pytest.raises(KMInputError, match='is not empty and was not made by km_pipeline'):
        run_pipeline(PipelineConfig(out=str(mine), n_movies=80, per_type=2), ['graph'])
    assert (mine / 'report.md').read_text() == 'my own notes' and sorted(p.name for p in mine.iterdir()) == ['report.md']
    (tmp_path / 'broken' / 'stages').mkdir(parents=True); (tmp_path / 'broken' / 'config.json').write_text('{"n_movies": 8')  # a run: its stages/
    with pytest.raises(KMInputError, match=r'config.json: not readable JSON'):
        run_pipeline(PipelineConfig(out=str(tmp_path / 'broken'), n_movies=80, per_type=2), ['graph'])
