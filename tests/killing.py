"""Kill a writer in the middle of a write, and prove that the kill landed there (used by the kill tests).

The writer runs in a child process. It first writes twice to a scratch copy of the target (warm-up, then a rehearsal
that times how long the write's first temporary file lives before its rename), then once to the real target, while
it reports every temporary file it creates and every rename that commits one. The parent waits for the real write's
first temporary file, sleeps a fraction of the rehearsed window and sends SIGKILL. A kill counts only if it provably
landed mid-write: the child died of the signal, its temporary file was never committed and is still on disk. A kill
that came too late (the rename had happened) is not judged: the target is put back as it was and the kill retried.
After a kill that landed, the target must be exactly what it was before: the previous version, whole.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), 'OMP_NUM_THREADS': '1'}
ENV.pop('IN_TEST', None)

CHILD = """
import os, sys, tempfile, time
sys.path.insert(0, {root!r})
import knowledge_mixer.core as core
target, rehearsal = sys.argv[1], sys.argv[2]
events, live = [], False
def note(what, path):
    events.append((what, str(path), time.perf_counter()))
    if live: print(what, path, flush=True)
_mkstemp, _mkdtemp, _replace, _exchange = tempfile.mkstemp, tempfile.mkdtemp, os.replace, core._exchange
def mkstemp(*a, **k):
    fd, p = _mkstemp(*a, **k); note('temp', p); return fd, p
def mkdtemp(*a, **k):
    p = _mkdtemp(*a, **k); note('temp', p); return p
def replace(src, dst, *a, **k):
    note('commit', src); return _replace(src, dst, *a, **k)
def exchange(a, b):
    note('commit', a); return _exchange(a, b)
tempfile.mkstemp, tempfile.mkdtemp, os.replace, core._exchange = mkstemp, mkdtemp, replace, exchange
{setup}
def write(target):
{write}
os.makedirs(os.path.dirname(rehearsal), exist_ok=True)
write(rehearsal)  # warm up: imports, caches
events.clear(); write(rehearsal)
first, t0 = next((p, t) for w, p, t in events if w == 'temp')
t1 = next(t for w, p, t in events if w == 'commit' and p == first)
print('ready', t1 - t0, flush=True)
live = True
write(target)
print('done', flush=True)
"""


def indent(code): return '\n'.join('    ' + l for l in code.strip().splitlines())


def _remove(p: Path):
    if p.is_dir(): shutil.rmtree(p)
    elif p.exists(): p.unlink()


def _copy(src: Path, dst: Path):
    _remove(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir(): shutil.copytree(src, dst)
    else: shutil.copy2(src, dst)


def kill_once(script, target, rehearsal, frac):
    "One child, killed `frac` of the rehearsed window after its real write created its first temporary file."
    proc = subprocess.Popen([sys.executable, '-c', script, str(target), str(rehearsal)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    temp = None
    try:
        line = proc.stdout.readline().split()
        assert line and line[0] == 'ready', f'writer failed to start: {line} {proc.stderr.read()[-3000:] if proc.poll() is not None else ""}'
        window = float(line[1])
        what, _, temp = proc.stdout.readline().rstrip('\n').partition(' ')
        assert what == 'temp', f'the real write created no temporary file: {what!r}'
        time.sleep(frac * window)
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate()
    committed = f'commit {temp}' in rest.splitlines() or 'done' in rest.split()
    landed = proc.returncode == -signal.SIGKILL and not committed and Path(temp).exists()
    return landed, Path(temp), window


def kill_during_writes(target, setup, write, check, offsets=(0.15, 0.5, 0.85), tries=8):
    """Write `target` in a child (`setup` code, then `write` code using `target`) and SIGKILL it at each of `offsets`
    (fractions of the first temporary file's rehearsed lifetime). Every kill is proven to land mid-write (see the module
    docstring); after each, `check(target)` must return what it returned before the kills. Returns the windows (s)."""
    target = Path(target)
    before = check(target)
    rehearsal, saved = target.parent / '.rehearsal' / target.name, target.parent / '.before' / target.name
    _copy(target, saved)
    script = CHILD.format(root=str(ROOT), setup=setup.strip(), write=indent(write))
    windows = []
    for frac in offsets:
        for attempt in range(1, tries + 1):
            landed, temp, window = kill_once(script, target, rehearsal, frac)
            if landed: break
            _remove(temp)  # too late: the rename happened (or the child died on its own): undo it and try again
            _copy(saved, target)
        else:
            pytest.fail(f'no SIGKILL at {frac:.0%} of the write landed before its rename in {tries} tries (window {window:.4f} s)')
        assert check(target) == before, f'after a kill mid-write (temporary {temp.name} left), {target.name} changed'
        _remove(temp)  # a killed process cannot clean up its temporary file
        print(f'\n{target.name}: SIGKILL at {frac:.0%} of a {window * 1000:.1f} ms write landed mid-write (try {attempt}); previous version intact')
        windows.append(window)
    return windows
