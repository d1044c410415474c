"""Console scripts: help, one-line errors with exit code 2, and the main job on a small world."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(*args, cwd=None):
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, cwd=cwd)


COMMANDS = ('km_graph', 'km_pipeline', 'km_walk', 'km_paths', 'km_dataset', 'km_corpus', 'km_inject', 'km_train', 'km_predict', 'km_eval',
            'km_ask', 'km_serve')


def test_help_lists_examples():
    for cmd in COMMANDS:
        r = run(cmd, '--help')
        # examples stay one per line, as written in the docstring (not re-wrapped into a paragraph)
        assert r.returncode == 0 and f'Examples:\n  {cmd}' in r.stdout, (cmd, r.stdout)


def test_version():
    from knowledge_mixer import __version__
    for cmd in COMMANDS:
        r = run(cmd, '--version')
        assert (r.returncode, r.stdout.strip()) == (0, f'{cmd} (knowledge-mixer) {__version__}'), (cmd, r)
    # `python -m knowledge_mixer.<stage>` is the same command (multi-process training launches it that way)
    r = subprocess.run([sys.executable, '-m', 'knowledge_mixer.train', '--version'], capture_output=True, text=True)
    assert (r.returncode, r.stdout.strip()) == (0, f'km_train (knowledge-mixer) {__version__}'), r


def test_usage_errors_exit_2():
    r = run('km_graph', 'stats')  # missing the path argument
    assert r.returncode == 2 and 'usage: km_graph' in r.stderr and 'Traceback' not in r.stderr


def test_km_graph_convert_round_trip(tmp_path):
    src = tmp_path / 'kb.tsv'
    src.write_text('a\tr\tb\nb\ts\tc\n')
    r = run('km_graph', 'convert', str(src), '--out', str(tmp_path / 'kb.npz'))
    assert r.returncode == 0, r.stderr
    r = run('km_graph', 'stats', str(tmp_path / 'kb.npz'), '--json')
    assert json.loads(r.stdout)['triples'] == 2


def test_bad_input_is_one_line_exit_2(tmp_path):
    bad = tmp_path / 'kb.txt'
    bad.write_text('a|r|b\na|r\n')
    r = run('km_graph', 'stats', str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().count('\n') == 0 and 'kb.txt:2' in r.stderr and 'Traceback' not in r.stderr


@pytest.mark.slow
def test_km_pipeline_small_world(tmp_path):
    small = ('--n_movies', '100', '--per_type', '2', '--base', 'tiny', '--steps', '3', '--beams', '2', '--threads', '1')
    r = run('km_pipeline', '--out', 'run', *small, cwd=tmp_path)  # a relative run folder
    assert r.returncode == 0, r.stderr
    # stderr is a pipe here, not a terminal: no progress bars (tqdm's '\r' redraws or 'it/s') in the log
    assert '\r' not in r.stderr and 'it/s' not in r.stderr and '%|' not in r.stderr, r.stderr[-2000:]
    assert (tmp_path / 'run' / 'report.md').exists() and (tmp_path / 'run' / 'degree.png').stat().st_size > 0
    # the trained planner works from any working directory (its adapter names the base relative to the run)
    elsewhere = tmp_path / 'elsewhere'; elsewhere.mkdir()
    run_dir = tmp_path / 'run'
    p = run('km_predict', str(run_dir / 'train' / 'model'), str(run_dir / 'kg.npz'), str(run_dir / 'questions' / 'test.jsonl'),
            '--out', 'preds.jsonl', '--beams', '2', cwd=elsewhere)
    assert p.returncode == 0, p.stderr
    assert (elsewhere / 'preds.jsonl').read_text().count('\n') == len((run_dir / 'questions' / 'test.jsonl').read_text().splitlines())
    # on a local Ray cluster of 2 workers (started and stopped by the command): the same predictions
    p = run('km_predict', str(run_dir / 'train' / 'model'), str(run_dir / 'kg.npz'), str(run_dir / 'questions' / 'test.jsonl'),
            '--out', 'preds_ray.jsonl', '--beams', '2', '--engine', 'ray', '--workers', '2', cwd=elsewhere)
    assert p.returncode == 0, p.stderr
    assert (elsewhere / 'preds_ray.jsonl').read_bytes() == (elsewhere / 'preds.jsonl').read_bytes()
    again = run('km_pipeline', '--out', str(tmp_path / 'run'), *small)
    assert 'already done' in again.stdout
    other = run('km_pipeline', '--out', str(tmp_path / 'run'), *small[:-2], '--threads', '2', '--seed', '3')
    assert other.returncode == 2 and 'other settings' in other.stderr


def test_success_exits_0(tmp_path):
    "A command's Python return value (a path, a result object) must not become a non-zero exit status."
    kb = tmp_path / 'kb.tsv'
    kb.write_text('a\tr\tb\nb\ts\tc\n')
    q = tmp_path / 'q.jsonl'
    q.write_text(json.dumps({'id': 'q1', 'question': 'what is [a] r s', 'answers': ['c'], 'topic_entities': ['a'],
                             'gold_relation_path': ['r', 's']}) + '\n')
    r = run('km_paths', str(q), str(kb), str(tmp_path / 'paths.jsonl'))
    assert (r.returncode, r.stderr) == (0, ''), r
    assert json.loads((tmp_path / 'paths.jsonl').read_text())['retrieved'] == {'c': 1}
    r = run('km_walk', str(kb), str(tmp_path / 'walks.txt'), '--n_walks', '2', '--length', '3')
    assert r.returncode == 0, r.stderr


def test_progress_bar_on_request_only(tmp_path):
    "Long streaming work shows a bar when asked (KM_PROGRESS=1, as at a terminal) and nothing in a pipe by default."
    import os
    kb = tmp_path / 'kb.tsv'
    kb.write_text(''.join(f'e{i}\tr\te{i + 1}\n' for i in range(500)))
    cmd = [str(BIN / 'km_walk'), str(kb), str(tmp_path / 'w.npz'), '--n_walks', '4', '--length', '5']
    quiet = subprocess.run(cmd, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != 'KM_PROGRESS'})
    loud = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'KM_PROGRESS': '1'})
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == '' and 'walks: 100%' in loud.stderr, (quiet.stderr, loud.stderr)
