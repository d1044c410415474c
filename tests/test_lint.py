"""Lint: ruff is clean on the package, the tools and the tests (rules and justified ignores in pyproject.toml).

The rules are pyflakes' (unused imports and variables, undefined names, ...) and flake8-bandit's security rules, which
stand in for a hand-written audit: unpickling, eval/exec, shells, unsafe YAML and the like. The control below plants
each pattern in a file and checks that this configuration reports it, so a clean run means something.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ruff_check(*args):
    "Run this environment's ruff (a dev requirement) with the project's configuration."
    exe = Path(sys.executable).parent / 'ruff'
    exe = str(exe) if exe.exists() else shutil.which('ruff')
    if exe is None: pytest.fail('ruff is not installed; it is a dev requirement: bash tools/env.sh (or pip install -e ".[dev]")')
    return subprocess.run([exe, 'check', '--no-cache', '--config', str(ROOT / 'pyproject.toml'), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_ruff_is_clean():
    r = ruff_check('knowledge_mixer', 'tools', 'tests')
    assert r.returncode == 0, f'ruff found problems (fix them in the notebooks for knowledge_mixer/, then nbdev_export):\n{r.stdout[-8000:]}{r.stderr[-2000:]}'


PLANTED = {  # line -> the rule that must report it
    'import pickle, os, subprocess, yaml': None,
    'import json as unused_json': 'F401',
    'data = pickle.loads(b"")': 'S301',
    'value = eval("1 + 1")': 'S307',
    'exec("x = 1")': 'S102',
    'os.system("ls")': 'S605',
    'subprocess.run("ls", shell=True)': 'S602',
    'cfg = yaml.load(open("c.yaml"))': 'S506',
    'def f():\n    unused = 1': 'F841',
    'print(undefined_name)': 'F821',
}


def test_ruff_reports_each_planted_pattern(tmp_path):
    planted = tmp_path / 'planted.py'
    planted.write_text('\n'.join(PLANTED) + '\n')
    r = ruff_check('--output-format', 'json', str(planted))
    found = {(f['location']['row'], f['code']) for f in json.loads(r.stdout)}
    want, row = set(), 1
    for line, code in PLANTED.items():
        if code: want.add((row + line.count('\n'), code))
        row += line.count('\n') + 1
    assert want <= found, (sorted(want - found), r.stdout[-3000:])
