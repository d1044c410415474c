"""Security: no unsafe deserialisation, no shell, no remote code by default, safetensors weights.

An AST audit of the package and tools, plus behaviour: a user path full of shell metacharacters is just a path, and a
checkpoint carrying a pickle payload is refused on resume without running it.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / 'knowledge_mixer').glob('*.py')) + sorted((ROOT / 'tools').glob('*.py'))
ENV = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), 'OMP_NUM_THREADS': '1'}
ENV.pop('IN_TEST', None)


def _name(node) -> str:
    "Dotted name of a call target: `torch.load`, `np.load`, `x.save_pretrained` -> 'save_pretrained' suffix kept."
    if isinstance(node, ast.Name): return node.id
    if isinstance(node, ast.Attribute): return f'{_name(node.value)}.{node.attr}'
    return '?'


def _kw(call, name):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node, value): return isinstance(node, ast.Constant) and node.value is value


def audit(path: Path) -> list[str]:
    "Every unsafe pattern in one source file, as 'file:line: what'."
    tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
    bad = []
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    def flag(node, what): bad.append(f'{name}:{node.lineno}: {what}')
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or '']
            if isinstance(node, ast.ImportFrom) and node.module == 'torch' and any(a.name == 'load' for a in node.names):
                flag(node, 'from torch import load (hides torch.load from this audit)')
            for m in mods:
                if m.split('.')[0] in ('pickle', 'cPickle', '_pickle', 'cloudpickle', 'dill', 'joblib', 'shelve', 'marshal'):
                    flag(node, f'imports {m} (unpickling runs code)')
        if not isinstance(node, ast.Call): continue
        fn = _name(node.func)
        last = fn.rsplit('.', 1)[-1]
        if last in ('loads', 'load') and fn.split('.')[0] in ('pickle', 'cloudpickle', 'dill', 'joblib', 'marshal'):
            flag(node, f'{fn}()')
        if fn.endswith('torch.load') and not _is_const(_kw(node, 'weights_only'), True): flag(node, 'torch.load without weights_only=True')
        if fn in ('np.load', 'numpy.load') and not _is_const(_kw(node, 'allow_pickle'), False):
            flag(node, f'{fn} without allow_pickle=False')
        if fn in ('os.system', 'os.popen', 'subprocess.getoutput', 'subprocess.getstatusoutput', 'commands.getoutput'):
            flag(node, f'{fn}() runs a shell')
        sh = _kw(node, 'shell')
        if sh is not None and not _is_const(sh, False): flag(node, f'{fn}(shell=...) runs a shell')
        if fn in ('eval', 'exec', 'builtins.eval', 'builtins.exec', 'compile'): flag(node, f'{fn}() of data')
        trc = _kw(node, 'trust_remote_code')
        if trc is not None and _is_const(trc, True): flag(node, 'trust_remote_code=True hard-coded')
        if last == 'save_pretrained' and _kw(node, 'safe_serialization') is not None and not _is_const(_kw(node, 'safe_serialization'), True):
            flag(node, 'save_pretrained without safetensors')
        if fn in ('torch.save',) and 'weights' in ast.unparse(node).lower(): flag(node, 'model weights saved with torch.save (pickle)')
    # parameters and dataclass fields named trust_remote_code default to False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults + node.args.kw_defaults
            for a, d in zip(args, defaults):
                if a.arg == 'trust_remote_code' and not _is_const(d, False): flag(node, f'{node.name}(trust_remote_code=...) must default to False')
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == 'trust_remote_code':
            if not _is_const(node.value, False): flag(node, 'trust_remote_code field must default to False')
    return bad


def test_sources_exist():
    names = {p.name for p in SOURCES}
    assert {'core.py', 'graph.py', 'train.py', 'reason.py', 'model.py'} <= names and any(p.parent.name == 'tools' for p in SOURCES)


@pytest.mark.parametrize('path', SOURCES, ids=lambda p: f'{p.parent.name}/{p.name}')
def test_audit(path):
    assert audit(path) == []


def test_audit_catches_each_pattern(tmp_path):
    "The audit itself: every forbidden pattern in a planted file is reported (so a passing audit means something)."
    planted = tmp_path / 'planted.py'
    planted.write_text('\n'.join([
        'import pickle', 'import dill', 'import numpy as np', 'import torch, os, subprocess',
        'x = pickle.loads(b"")', 'torch.load("a.pt")', 'torch.load("a.pt", weights_only=False)', 'np.load("a.npz", allow_pickle=True)',
        'np.load("a.npz")', 'os.system("ls")', 'os.popen("ls")', 'subprocess.run("ls", shell=True)', 'eval("1")', 'exec("x=1")',
        'm.from_pretrained("p", trust_remote_code=True)', 'def load(p, trust_remote_code=True): pass',
        'model.save_pretrained("d", safe_serialization=False)', 'torch.save(model.state_dict(), "weights.pt")',
        'torch.load("ok.pt", weights_only=True)', 'np.load("ok.npz", allow_pickle=False)', 'subprocess.run(["ls"], shell=False)',
    ]) + '\n')
    found = audit(planted)
    lines = sorted(int(f.split(':')[1]) for f in found)
    assert lines == [1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], found


def test_trust_remote_code_is_off_by_default():
    import inspect
    from knowledge_mixer.model import load_base_model
    from knowledge_mixer.train import TrainConfig
    assert TrainConfig().trust_remote_code is False
    assert inspect.signature(load_base_model).parameters['trust_remote_code'].default is False


# --------------------------------------------------------------------------------------------------- paths are not shell

NASTY = "a;b $(touch PWNED) `touch PWNED2` 'x' \"y\" | & > z.tsv"


def _cli(module, func, *args, cwd):
    "Run a console script of this checkout as the installed wrapper does (a script file calling the command)."
    launcher = cwd.parent / f'{func}.py'
    launcher.write_text(f'import sys\nfrom knowledge_mixer.{module} import {func}\nif __name__ == "__main__": sys.exit({func}())\n')
    return subprocess.run([sys.executable, str(launcher), *map(str, args)], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


def test_shell_metacharacters_in_paths_are_just_names(tmp_path):
    tmp_path = tmp_path / 'work'; tmp_path.mkdir()
    kb = tmp_path / NASTY
    kb.write_text('a\tr\tb\nb\ts\tc\n')
    r = _cli('graph', 'km_graph', 'stats', kb.name, '--json', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)['triples'] == 2
    qs = tmp_path / ("q;$(touch PWNED3)'.jsonl")
    qs.write_text(json.dumps(dict(id='1', topic_entities=['a'], answers=['c'], gold_relation_path=['r', 's'])) + '\n')
    out = tmp_path / "out $(touch PWNED4);.jsonl"
    r = subprocess.run([sys.executable, '-m', 'knowledge_mixer.paths', qs.name, kb.name, out.name], cwd=tmp_path, env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(out.read_text().splitlines()[0])['retrieved'] == {'c': 1}
    made = sorted(p.name for p in tmp_path.iterdir())
    assert not [m for m in made if m.startswith('PWNED')], made
    assert sorted(made) == sorted([kb.name, qs.name, out.name, out.name + '.config.json'])  # the outputs and the settings that made them


# --------------------------------------------------------------------------------------------------- pickle payloads in checkpoints

from test_train import planning, tiny_base, tiny_cfg, torch1  # noqa: E402,F401


class _Payload:
    "Unpickling this creates a file: harmless, but proof that code ran."
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (open, (self.path, 'w'))


@pytest.fixture(scope='module')
def finished_checkpoint(tiny_base, tmp_path_factory):
    "A run folder with checkpoint-2 (of 4 steps) from real training with the tiny model."
    from knowledge_mixer.train import TrainConfig, run_training
    run = tmp_path_factory.mktemp('sec') / 'run'
    cfg = tiny_cfg(tiny_base, run, steps=2, eval_steps=2, plan_eval_n=0, max_eval=8, threads=1, max_train=32)
    run_training(cfg)
    assert (run / 'checkpoint-2' / 'rng_state.pth').exists() and (run / 'checkpoint-2' / 'optimizer.pt').exists()
    return cfg


@pytest.mark.parametrize('victim', ['rng_state.pth', 'optimizer.pt', 'scheduler.pt'])
def test_pickle_payload_in_a_checkpoint_is_refused(finished_checkpoint, tmp_path, victim, torch1):
    import shutil
    from knowledge_mixer.core import KMInputError
    from knowledge_mixer.train import TrainConfig, run_training
    run = tmp_path / 'run'
    shutil.copytree(finished_checkpoint.out, run)
    for d in ('model',): shutil.rmtree(run / d, ignore_errors=True)
    pwned = tmp_path / 'PWNED'
    torch1.save({'python': _Payload(pwned)}, run / 'checkpoint-2' / victim)
    # the payload is real: an unsafe load would run it
    probe = tmp_path / 'probe.pt'; torch1.save(_Payload(tmp_path / 'PROBE'), probe)
    torch1.load(probe, weights_only=False); assert (tmp_path / 'PROBE').exists()
    cfg = TrainConfig(**{**finished_checkpoint.__dict__, 'out': str(run), 'steps': 4})
    with pytest.raises(KMInputError, match=r'checkpoint-2: a file of this checkpoint holds objects other than tensors.*delete that checkpoint'):
        run_training(cfg)
    assert not pwned.exists()


def test_model_folders_hold_only_safetensors(finished_checkpoint):
    "The final model/ and every checkpoint keep weights in safetensors; pickled .pt files are trainer state read with weights_only."
    run = Path(finished_checkpoint.out)
    weights = [p.name for p in (run / 'model').iterdir() if p.suffix in ('.bin', '.pt', '.pth', '.pkl', '.safetensors')]
    assert weights == ['adapter_model.safetensors'], weights
    ckpt = {p.name for p in (run / 'checkpoint-2').iterdir()}
    assert 'adapter_model.safetensors' in ckpt and not {'pytorch_model.bin', 'adapter_model.bin'} & ckpt
