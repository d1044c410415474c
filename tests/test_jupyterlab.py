"""`jupyter lab` starts from the installed environment, serves the notebooks, and its kernel is this venv's Python."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = 'km-test-token'  # noqa: S105 (the token of a throwaway JupyterLab on 127.0.0.1 for this test)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def get(port, path):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}?token={TOKEN}', timeout=10) as r:
        return r.status, r.read().decode()


def test_jupyter_lab_starts_and_serves_the_notebooks(tmp_path):
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / 'cfg'), JUPYTER_RUNTIME_DIR=str(tmp_path / 'rt'))
    cmd = [str(BIN / 'jupyter'), 'lab', '--no-browser', f'--port={port}', '--ip=127.0.0.1', f'--IdentityProvider.token={TOKEN}',
           f'--ServerApp.root_dir={ROOT / "nbs"}', '--ServerApp.port_retries=0',
           '--LabApp.extension_manager=readonly']  # no PyPI queries for extensions: we run offline
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')  # CI containers run as root
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        deadline, status = time.time() + 90, None
        while time.time() < deadline and proc.poll() is None:
            try: status = get(port, '/api/status'); break
            except OSError: time.sleep(0.5)
        if status is None:
            proc.terminate(); out = proc.communicate(timeout=20)[0]
            raise AssertionError(f'jupyter lab did not answer within 90 s (exit {proc.poll()}):\n{out[-3000:]}')
        code, page = get(port, '/lab')
        assert code == 200 and 'JupyterLab' in page
        code, listing = get(port, '/api/contents')
        names = {c['name'] for c in json.loads(listing)['content']}
        assert {'00_graph.ipynb', '09_pipeline.ipynb', 'pipelines'} <= names, names
        code, specs = get(port, '/api/kernelspecs')
        spec = json.loads(specs)['kernelspecs']['python3']['spec']
        # the kernel a notebook opens with runs this environment's Python (with knowledge_mixer importable)
        exe = spec['argv'][0]
        assert exe == 'python' or Path(exe).resolve().parent == BIN.resolve() or Path(exe).resolve() == Path(sys.executable).resolve(), spec['argv']
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
