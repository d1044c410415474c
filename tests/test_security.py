"""Security: no unsafe deserialisation, no shell, no remote code by default, safetensors weights.

The static audit of the sources is ruff's flake8-bandit rules (tests/test_lint.py), plus the four ML loading rules that
bandit does not know (below); the rest is behaviour: remote code is off by default, a user path full of shell
metacharacters is just a path, and a checkpoint carrying a pickle payload is refused on resume without running it.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), 'OMP_NUM_THREADS': '1'}
ENV.pop('IN_TEST', None)


SOURCES = sorted((ROOT / 'knowledge_mixer').glob('*.py')) + sorted((ROOT / 'tools').glob('*.py'))


def ml_loading_risks(source: str, name: str = '<src>') -> list[str]:
    "Calls that would unpickle or run a model's code: the loaders' keyword rules that ruff's S rules do not cover."
    def kw(call, k): return next((x.value for x in call.keywords if x.arg == k), None)
    def is_(node, v): return isinstance(node, ast.Constant) and node.value is v
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call): continue
        fn = ast.unparse(node.func)
        if fn.endswith('torch.load') and not is_(kw(node, 'weights_only'), True): bad.append(f'{name}:{node.lineno}: {fn} without weights_only=True')
        if fn in ('np.load', 'numpy.load') and not is_(kw(node, 'allow_pickle'), False): bad.append(f'{name}:{node.lineno}: {fn} without allow_pickle=False')
        if is_(kw(node, 'trust_remote_code'), True): bad.append(f'{name}:{node.lineno}: trust_remote_code=True hard-coded')
        if kw(node, 'safe_serialization') is not None and not is_(kw(node, 'safe_serialization'), True):
            bad.append(f'{name}:{node.lineno}: weights saved without safetensors')
    return bad


def test_no_unsafe_model_or_array_loading():
    assert {'graph.py', 'train.py', 'model.py'} <= {p.name for p in SOURCES}
    assert [b for p in SOURCES for b in ml_loading_risks(p.read_text(encoding='utf-8'), p.name)] == []


def test_ml_loading_audit_catches_each_pattern():
    "A control: each planted risk is reported, the safe forms are not."
    planted = '\n'.join(['torch.load("a.pt")', 'torch.load("a.pt", weights_only=False)', 'np.load("a.npz")',
                         'np.load("a.npz", allow_pickle=True)', 'm.from_pretrained("p", trust_remote_code=True)',
                         'model.save_pretrained("d", safe_serialization=False)',
                         'torch.load("ok.pt", weights_only=True)', 'np.load("ok.npz", allow_pickle=False)'])
    assert [int(b.split(':')[1]) for b in ml_loading_risks(planted)] == [1, 2, 3, 4, 5, 6]


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
    from knowledge_mixer.train import run_training
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
