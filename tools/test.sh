#!/usr/bin/env bash
# The whole test suite: notebooks as tests (nbdev_test), then pytest (last, so its summary ends the log).
# Runs offline with one torch thread; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/env.sh
source tools/offline.sh
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
echo "== nbdev_test (notebooks)"
.venv/bin/nbdev_test --n_workers 2
echo "== pytest"
# two workers (KM_TEST_WORKERS to change), a test file per worker: fixtures and files a file shares stay in one process
.venv/bin/python -m pytest -q --durations=15 -n "${KM_TEST_WORKERS:-2}" --dist loadfile tests "$@"
