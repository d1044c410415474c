"""Papermill parameters really reach the notebooks and survive nbdev_clean; every benchmark notebook runs headless; README is generated."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PARAM_NOTEBOOKS = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb') if '_runs' not in p.parts and
                         any('parameters' in c.metadata.get('tags', []) for c in nbformat.read(p, 4).cells))


def tags_of(path):
    return [c.metadata.get('tags', []) for c in nbformat.read(path, 4).cells]


def test_parameterized_notebooks_exist():
    names = {p.name for p in PARAM_NOTEBOOKS}
    assert 'kgqa.ipynb' in names, names


def test_parameters_tag_survives_nbdev_clean(tmp_path):
    for nb in PARAM_NOTEBOOKS:
        copy = tmp_path / nb.name
        shutil.copy(nb, copy)
        subprocess.run([str(BIN / 'nbdev_clean'), '--fname', str(copy)], cwd=ROOT, check=True, capture_output=True)
        assert ['parameters'] in tags_of(copy), f'{nb}: nbdev_clean dropped the parameters tag'


def test_papermill_parameter_changes_the_value_used(tmp_path):
    out_nb, run = tmp_path / 'out.ipynb', tmp_path / 'run'
    subprocess.run([str(BIN / 'papermill'), str(ROOT / 'nbs/pipelines/kgqa.ipynb'), str(out_nb),
                    '-p', 'n_movies', '120', '-p', 'seed', '7', '-p', 'out', str(run), '-p', 'base', 'tiny',
                    '-p', 'steps', '3', '-p', 'per_type', '2', '-p', 'beams', '2',
                    '--cwd', str(ROOT / 'nbs/pipelines')], check=True, capture_output=True)
    cfg = json.loads((run / 'config.json').read_text())
    assert (cfg['data']['n_movies'], cfg['seed']) == (120, 7)  # config.json holds the stages' sections
    stats = json.loads((run / 'graph_stats.json').read_text())
    # 120 films with 9 relation kinds: the world really is the small one, not the default 2500
    assert stats['entities'] < 800
    injected = [c for c in nbformat.read(out_nb, 4).cells if 'injected-parameters' in c.metadata.get('tags', [])]
    assert injected and 'seed = 7' in injected[0].source


def test_readme_is_generated_from_index():
    r = subprocess.run([sys.executable, str(ROOT / 'tools/make_readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def parameter_names(nb_path):
    cell = next(c for c in nbformat.read(nb_path, 4).cells if 'parameters' in c.metadata.get('tags', []))
    return [m.group(1) for m in re.finditer(r'^(\w+)\s*[:=]', cell.source, re.M)]


def test_help_notebook_documents_every_parameter():
    "`papermill --help-notebook` shows each parameter with a type and a meaning (annotation + comment in the cell)."
    for nb in PARAM_NOTEBOOKS:
        r = subprocess.run([str(BIN / 'papermill'), '--help-notebook', str(nb)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        names = parameter_names(nb)
        assert names, f'{nb}: empty parameters cell'
        for name in names:
            i = next((i for i, l in enumerate(lines) if l.strip().startswith(f'{name}: ')), None)
            assert i is not None, f'{nb}: parameter {name} missing from --help-notebook:\n{r.stdout}'
            assert 'Unknown type' not in lines[i], f'{nb}: {name} has no type annotation ({lines[i].strip()})'
            same_line = re.search(r'\)\s{2,}(\S.*)$', lines[i])  # short names: the help follows on the same line
            help_text = same_line.group(1) if same_line else (lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith(' ' * 8) else '')
            assert help_text, f'{nb}: {name} has no help comment'


BENCH_SMOKE = {  # tiny parameters: each benchmark notebook runs top to bottom in a fresh kernel in seconds
    'load': ['-p', 'walk_sizes', '3000', '-p', 'text_max', '3000', '-p', 'memory_max', '3000', '-p', 'question_sizes', '500'],
    'walks': ['-p', 'repeats', '1', '-p', 'ba_nodes', '2000', '-p', 'rand_nodes', '2000', '-p', 'rand_edges', '10000',
              '-p', 'nx_sample', '50', '-p', 'graphs', 'ba,random', '-p', 'pecanpy_python', '/nonexistent/python'],
    'paths': ['-p', 'n_sample', '2', '-p', 'reps', '1', '-p', 'limit', '50'],
    'reason': ['-p', 'n_questions', '8', '-p', 'batch_size', '4', '-p', 'smollm2', 'False', '-p', 'threads', '1', '-p', 'steps', '5'],
    'train': ['-p', 'steps', '3', '-p', 'smol_steps', '0', '-p', 'batch_size', '4'],
    'inject': ['-p', 'n_movies', '12', '-p', 'corpora', 'qa', '-p', 'steps', '6', '-p', 'curve_every', '3', '-p', 'probe_n', '20',
               '-p', 'full_steps', '0', '-p', 'smol_steps', '0', '-p', 'pack_steps', '0', '-p', 'incr_movies', '8', '-p', 'new_films', '2',
               '-p', 'incr_base_steps', '4', '-p', 'incr_steps', '3'],
    'serve': ['-p', 'clients', '1,4', '-p', 'requests_per_level', '20', '-p', 'seconds_per_level', '5', '-p', 'warmup', '5'],
    'link': ['-p', 'e2e_steps', '0', '-p', 'limit', '300', '-p', 'typos', '30', '-p', 'synth_entities', '20000', '-p', 'repeats', '1'],
    'export': ['-p', 'dataset', 'movies', '-p', 'steps', '3', '-p', 'n_questions', '8', '-p', 'threads', '1'],
    'rdf': ['-p', 'n_triples', '5000'],
    'rules': ['-p', 'kgs', 'movie-world', '-p', 'per_type', '2', '-p', 'steps', '3', '-p', 'threads', '1', '-p', 'check', 'False'],
    'ranking': ['-p', 'datasets', 'movie,nations', '-p', 'per_type', '4', '-p', 'limit', '40', '-p', 'reps', '1'],
    'graphqa': ['-p', 'kgs', 'movie-world', '-p', 'per_family', '2', '-p', 'steps', '3', '-p', 'smol_n', '0', '-p', 'threads', '1'],
    'engine': ['-p', 'n_walks', '20000', '-p', 'chunk', '5000', '-p', 'n_questions', '400', '-p', 'q_chunk', '100', '-p', 'per_type', '4',
               '-p', 'rog_batch', '64', '-p', 'repeats', '1'],
}
OUT_PARAM = {'load': 'out_dir', 'walks': 'out_dir', 'paths': 'out_dir', 'train': 'out', 'reason': 'out_json', 'inject': 'out_dir', 'serve': 'out_dir',
             'link': 'out_dir', 'export': 'out_dir', 'rdf': 'out_dir', 'engine': 'out_dir',
             'graphqa': 'out_dir', 'rules': 'out_dir', 'ranking': 'out_dir'}


def test_every_benchmark_notebook_is_smoke_tested():
    assert set(BENCH_SMOKE) == {p.stem for p in (ROOT / 'nbs/bench').glob('*.ipynb')}


def _reads_data(name:str) -> bool:
    "A benchmark notebook that reads the shared data folder where it is found (and runs on other data without it)."
    return bool(re.search(r'\b(shared_data|data_dir)\(', (ROOT / f'nbs/bench/{name}.ipynb').read_text(encoding='utf-8')))


NEEDS_METAQA = {'reason'}  # MetaQA's own benchmark: without the data it stops with a message saying so (run headless, not under IN_TEST)


def _has_metaqa() -> bool:
    from knowledge_mixer.core import data_dir
    d = data_dir(required=False)
    return d is not None and (d / 'metaqa' / 'kb.txt').exists()


def _bench_marks(name:str) -> list:
    marks = [pytest.mark.needs_data] if _reads_data(name) else []
    if name in NEEDS_METAQA and not _has_metaqa():
        marks.append(pytest.mark.skip(reason='needs MetaQA in the shared data folder (KM_DATA or ../shared/data)'))
    return marks


@pytest.mark.slow
@pytest.mark.parametrize('name', [pytest.param(n, marks=_bench_marks(n)) for n in sorted(BENCH_SMOKE)])
def test_benchmark_notebook_runs_with_small_parameters(name, tmp_path):
    "Papermill runs each benchmark headless with small (command-line typed) parameters; results go to a scratch folder."
    out = tmp_path / ('reason.json' if name == 'reason' else 'results')
    env = {k: v for k, v in os.environ.items() if k != 'IN_TEST'}
    r = subprocess.run([str(BIN / 'papermill'), str(ROOT / f'nbs/bench/{name}.ipynb'), str(tmp_path / 'out.ipynb'),
                        *BENCH_SMOKE[name], '-p', OUT_PARAM[name], str(out), '--cwd', str(ROOT / 'nbs/bench'),
                        # its 5-step planner goes to a scratch folder, where a later real run cannot mistake it for a trained one
                        *(['-p', 'run_dir', str(tmp_path / 'run')] if name == 'reason' else [])],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert list(out.parent.rglob('*.json')), f'{name}: no results written under {out.parent}'


def test_saved_outputs_are_portable():
    "Committed notebook outputs (tools/save_outputs.py) hold no stderr and no path of the machine that ran them."
    sys.path.insert(0, str(ROOT / 'tools'))
    from save_outputs import ABS_PATH, keepable
    bad = [(p.relative_to(ROOT), json.dumps(o)[:120]) for p in sorted((ROOT / 'nbs').rglob('*.ipynb')) if '_runs' not in p.parts
           for c in nbformat.read(p, 4).cells for o in c.get('outputs', []) if not keepable([o])]
    assert not bad, bad
    # the rule itself: a temp path or a warning is dropped, a plain result is kept
    assert keepable([{'output_type': 'stream', 'name': 'stdout', 'text': 'wrote /tmp/x1/run'}]) == []
    assert keepable([{'output_type': 'stream', 'name': 'stderr', 'text': 'UserWarning'}]) == []
    assert ABS_PATH.search('see /work/main/nbs') and not ABS_PATH.search('a/b/c and ~/x')
    ok = {'output_type': 'execute_result', 'data': {'text/plain': '(512, 16)'}, 'metadata': {}}
    assert keepable([ok]) == [ok]
