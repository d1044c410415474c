"""Offline guarantee: with default settings, a fresh process runs the whole tiny pipeline without any network call."""
import os
import subprocess
import sys

import pytest

GUARDED_RUN = r'''
import socket, sys
attempts = []
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
def local(host): return not isinstance(host, str) or host.startswith(('127.', 'localhost', '::1', '0.0.0.0'))
def connect(self, address):
    if self.family != socket.AF_UNIX and not local(address[0]):
        attempts.append(address); raise OSError('network blocked by test')
    return real_connect(self, address)
def getaddrinfo(host, *a, **k):
    if not local(host):
        attempts.append(host); raise OSError('name lookup blocked by test')
    return real_getaddrinfo(host, *a, **k)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
run_pipeline(PipelineConfig(out=sys.argv[1], n_movies=100, per_type=2, base='tiny', steps=3, eval_steps=3, beams=2, threads=1))
import threading, time
for t in threading.enumerate():  # telemetry would be sent from background threads: let them finish
    if t is not threading.current_thread() and not t.daemon: t.join(timeout=10)
time.sleep(1)
print('NETWORK_ATTEMPTS', attempts)
'''


@pytest.mark.slow
def test_tiny_pipeline_makes_no_network_call(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (
        'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE', 'HF_HUB_DISABLE_TELEMETRY', 'WANDB_MODE',
        'DO_NOT_TRACK')}  # the project's own defaults, not the test environment's
    r = subprocess.run([sys.executable, '-c', GUARDED_RUN, str(tmp_path / 'run')], env=env, capture_output=True, text=True,
                       cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / 'run' / 'report.md').exists()
    assert 'NETWORK_ATTEMPTS []' in r.stdout, r.stdout[-2000:]
