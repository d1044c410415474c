"""Output folders, temporary files, locks and stale stages (issue #20): a command writes only a folder it made,
reading never moves anything, a killed writer's temporaries are removed by the next writer, two writers of one folder
never both run, and the main job re-runs a stage whose input content changed or whose output is gone."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from killing import ENV, kill_once, CHILD, indent
from knowledge_mixer.core import KMInputError, KMNotFound, atomic_path, folder_lock, replace_dir

BIN = Path(sys.executable).parent


def km(cmd, *args, cwd=None):
    "(exit status, stderr) of the console script `cmd`."
    r = subprocess.run([str(BIN / cmd), *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)
    return r.returncode, r.stderr


def _one_error_line(err: str) -> str:
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and 'Traceback' not in err, err[-2000:]
    return lines[0]


def _user_folder(p: Path) -> dict:
    "A folder of the user's, not made by knowledge-mixer; returns its contents to compare after."
    p.mkdir(parents=True)
    (p / 'config.json').write_text('{"my": "settings"}')
    (p / 'data.csv').write_text('a,b\n1,2\n')
    (p / 'checkpoint-7').mkdir(); (p / 'checkpoint-7' / 'notes.txt').write_text('mine')
    return _contents(p)


def _contents(p: Path) -> dict:
    return {str(f.relative_to(p)): f.read_bytes() for f in sorted(p.rglob('*')) if f.is_file()}


# ------------------------------------------------------------------------------------------- output folders


@pytest.mark.slow
def test_km_train_refuses_a_folder_it_did_not_make(tmp_path):
    "Before: it overwrote the user's config.json and deleted checkpoint-7/ ('removing incomplete checkpoint')."
    mine = tmp_path / 'mine'; before = _user_folder(mine)
    code, err = km('km_train', '--out', mine, '--steps', '1', '--max_train', '8', '--max_eval', '4')
    assert code == 2 and 'is not empty and was not made by km_train' in _one_error_line(err) and 'choose a new --out or empty it' in err
    assert _contents(mine) == before


@pytest.mark.slow
def test_km_dataset_sft_refuses_a_users_folder_and_rewrites_its_own(tmp_path):
    "Before: `km_dataset sft DIR` replaced the user's folder whole (data.csv gone)."
    q = tmp_path / 'q.jsonl'
    assert km('km_dataset', 'questions', q, '--n_movies', '40', '--per_type', '2')[0] == 0
    mine = tmp_path / 'mine'; before = _user_folder(mine)
    code, err = km('km_dataset', 'sft', mine, '--questions', q, '--n_movies', '40')
    assert code == 2 and 'was not made by km_dataset (it holds checkpoint-7, config.json, data.csv)' in _one_error_line(err)
    assert _contents(mine) == before
    ours = tmp_path / 'sft'
    for _ in range(2): assert km('km_dataset', 'sft', ours, '--questions', q, '--n_movies', '40')[0] == 0  # its own: rewritten
    from knowledge_mixer.data import load_dataset_dir
    assert len(load_dataset_dir(ours)) > 0


@pytest.mark.slow
def test_km_corpus_and_km_inject_refuse_a_users_folder(tmp_path):
    "Before: km_corpus replaced the folder whole; km_inject wrote its config.json (and a run) into it."
    mine = tmp_path / 'mine'; before = _user_folder(mine)
    code, err = km('km_corpus', 'facts', mine, '--n_movies', '20')
    assert code == 2 and 'was not made by km_corpus' in _one_error_line(err)
    code, err = km('km_inject', '--out', mine, '--n_movies', '20', '--steps', '1')
    assert code == 2 and 'was not made by km_inject' in _one_error_line(err)
    assert _contents(mine) == before


@pytest.mark.slow
def test_km_benchmark_and_km_pipeline_use_the_shared_rule(tmp_path):
    mine = tmp_path / 'mine'; before = _user_folder(mine)
    code, err = km('km_benchmark', 'build', 'movie-world', '--out', mine, '--per_family', '1')
    assert code == 2 and 'was not made by km_benchmark' in _one_error_line(err)
    code, err = km('km_pipeline', '--out', mine, '--n_movies', '40', '--per_type', '2', '--force')
    assert code == 2 and 'was not made by km_pipeline' in _one_error_line(err)  # before: --force wrote into it anyway
    assert _contents(mine) == before


def test_a_folder_made_by_another_command_is_refused(tmp_path):
    from knowledge_mixer.core import check_output_dir, mark_output_dir
    mark_output_dir(tmp_path / 'corpus', 'km_corpus'); (tmp_path / 'corpus' / 'stats.json').write_text('{}')
    with pytest.raises(KMInputError, match=r'was not made by km_train \(but by km_corpus\)'):
        check_output_dir(tmp_path / 'corpus', 'km_train')


# -------------------------------------------------------------------------------------- reading moves nothing


def test_reading_never_renames_a_users_old_folder(tmp_path):
    "Before: a loader (km_predict's, load_dataset_dir, model_path) renamed a user's `.NAME.old` folder to NAME."
    from knowledge_mixer.data import load_dataset_dir
    from knowledge_mixer.model import model_path
    old = tmp_path / '.model.old'; old.mkdir(); (old / 'config.json').write_text('{"mine": 1}')
    with pytest.raises(KMNotFound): model_path(str(tmp_path / 'model'))
    with pytest.raises(FileNotFoundError): load_dataset_dir(tmp_path / 'model')
    assert not (tmp_path / 'model').exists() and (old / 'config.json').read_text() == '{"mine": 1}'


def test_replace_dir_never_deletes_a_users_old_folder(tmp_path, monkeypatch):
    "Before: the fallback swap (no renameat2) deleted whatever `.NAME.old` held."
    import knowledge_mixer.core as core
    monkeypatch.setattr(core, '_exchange', lambda a, b: False)
    (tmp_path / 'ds').mkdir(); (tmp_path / 'new').mkdir()
    old = tmp_path / '.ds.old'; old.mkdir(); (old / 'keep.txt').write_text('mine')
    with pytest.raises(KMInputError, match=r'\.ds\.old is in the way'):
        replace_dir(tmp_path / 'new', tmp_path / 'ds')
    assert (old / 'keep.txt').read_text() == 'mine'
    old.rename(tmp_path / 'kept')
    replace_dir(tmp_path / 'new', tmp_path / 'ds')  # our own set-aside copy comes and goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ds', 'kept']


# ------------------------------------------------------------------------------------------------ temp files


WALKS_SETUP = """
import numpy as np
from knowledge_mixer.walk import Walks
w = Walks(np.arange(1_000_000 * 11, dtype=np.int32).reshape(-1, 11), np.ones((1_000_000, 10), np.int32), 1)
"""


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    "Before: each SIGKILL mid-write left a hidden `.walks.npz.*.tmp` (84 MB here) that nothing removed."
    target = tmp_path / 'walks.npz'
    script = CHILD.format(root=str(Path(__file__).resolve().parent.parent), setup=WALKS_SETUP.strip(), write=indent('w.save(target)'))
    temps = []
    for _ in range(3):
        for _try in range(8):
            landed, temp, _ = kill_once(script, target, tmp_path / '.rehearsal' / 'walks.npz', 0.5)
            if landed: break
        assert landed, 'no kill landed mid-write'  # proof: the child died mid-write, its temporary still on disk
        assert temp.parent == tmp_path and not any(t.exists() for t in temps)  # the earlier kills' were removed by this writer
        temps.append(temp)
    assert temps[-1].exists() and len({t.name for t in temps}) == 3  # left behind: one, of the last dead writer
    # a writer that is still running keeps its temporary: a child that sleeps, named as its own
    alive = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        from knowledge_mixer.core import _writer_tag
        theirs = tmp_path / f'.walks.npz.km{alive.pid}-{_writer_tag().split("-")[1]}-live.tmp'; theirs.write_text('half')
        with atomic_path(tmp_path / 'other.txt') as tmp: tmp.write_text('x')  # any atomic write into the folder
        assert not temps[-1].exists() and theirs.exists()
    finally:
        alive.kill(); alive.wait()
    with atomic_path(tmp_path / 'other.txt') as tmp: tmp.write_text('y')
    assert not theirs.exists()  # its writer is gone now
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.') and p.name != '.rehearsal'] == []  # no temporary left


# ----------------------------------------------------------------------------------------------------- locks


def test_a_second_writer_of_a_folder_fails_at_once_naming_the_first(tmp_path):
    "Before: two km_pipeline runs on one folder both did all the work."
    out = tmp_path / 'run'
    with folder_lock(out):
        t0 = time.time()
        code, err = km('km_pipeline', '--out', out, '--n_movies', '40', '--per_type', '2')
        line = _one_error_line(err)
        assert code == 2 and f'run is in use by pid {os.getpid()}' in line and 'wait for it or use another --out' in line
        code, err = km('km_dataset', 'sft', out, '--questions', 'q.jsonl')
        assert code == 2 and 'is in use by pid' in _one_error_line(err)
        assert time.time() - t0 < 120
    assert not out.exists()  # the refused runs wrote nothing


def test_a_killed_holders_lock_does_not_block(tmp_path):
    out = tmp_path / 'run'
    code = f'from knowledge_mixer.core import folder_lock\nimport time\nwith folder_lock({str(out)!r}):\n    print("held", flush=True); time.sleep(60)'
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True, env=ENV)
    assert p.stdout.readline().strip() == 'held'
    with pytest.raises(KMInputError, match=f'in use by pid {p.pid}'):
        with folder_lock(out): pass
    p.send_signal(signal.SIGKILL); p.wait()
    with folder_lock(out): pass  # the kernel released it with the process


# -------------------------------------------------------------------------------------- stale main-job stages


def test_pipeline_reruns_a_stage_whose_input_content_or_output_changed(tmp_path, capsys):
    "Before: a KG edited in place (same path) left every stage 'already done' with the old numbers."
    from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
    from knowledge_mixer.data import movie_world
    kg = tmp_path / 'kg.tsv'
    from knowledge_mixer.graph import write_triples
    write_triples(movie_world(60, seed=0), kg)
    out = tmp_path / 'run'
    cfg = dict(out=str(out), kg=str(kg), per_type=2)
    stages = ['graph', 'questions']
    run_pipeline(PipelineConfig(**cfg), stages)
    n1 = json.loads((out / 'stages' / 'graph.done.json').read_text())['metrics']['triples']
    capsys.readouterr()
    run_pipeline(PipelineConfig(**cfg), stages)
    assert '[graph] already done' in capsys.readouterr().out
    lines = kg.read_text().splitlines(keepends=True)
    kg.write_text(''.join(lines[: len(lines) // 2]))  # same path, other content
    run_pipeline(PipelineConfig(**cfg), stages)
    said = capsys.readouterr().out
    assert f'[graph] running again: {kg} changed since it ran' in said and '[questions] running' in said
    n2 = json.loads((out / 'stages' / 'graph.done.json').read_text())['metrics']['triples']
    assert n2 < n1
    (out / 'questions' / 'test.jsonl').unlink()  # an output behind a done marker deleted
    run_pipeline(PipelineConfig(**cfg), stages)
    said = capsys.readouterr().out
    assert '[graph] already done' in said and '[questions] running again: its output questions/test.jsonl is missing' in said
    assert (out / 'questions' / 'test.jsonl').exists()
