#!/usr/bin/env bash
# The tests the shared data changes, beside ../shared (or KM_DATA): the notebooks that read the data folder, then
# pytest's `needs_data` tests (those taking a data fixture, and the documented commands that read the data).
# CI runs this beside the data and the whole suite (tools/test.sh) on a lone copy without it, so together they cover
# both ways every test can go without running the rest twice. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/env.sh
source tools/offline.sh
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
if ! .venv/bin/python -c 'from knowledge_mixer.core import data_dir; assert data_dir(required=False)' 2>/dev/null; then
  echo "FAIL: no shared data folder (set KM_DATA, or place it at ../shared/data): these tests would all skip" >&2
  exit 1
fi
# the notebooks nbdev_test runs that read the data folder (shared_data(...) or data_dir(...))
mapfile -t nbs < <(.venv/bin/python - <<'PY'
import re
from nbdev.doclinks import nbglob
for p in nbglob(as_path=True):
    if re.search(r'\b(shared_data|data_dir)\(', p.read_text(encoding='utf-8')): print(p)
PY
)
echo "== nbdev_test on the ${#nbs[@]} notebooks that read the shared data"
failed=()
for nb in "${nbs[@]}"; do .venv/bin/nbdev_test --path "$nb" || failed+=("${nb#"$PWD/"}"); done
echo "== pytest -m needs_data"
status=0
.venv/bin/python -m pytest -q --durations=10 -n "${KM_TEST_WORKERS:-2}" --dist loadfile -m needs_data tests "$@" || status=$?
if [ ${#failed[@]} -gt 0 ]; then echo "FAIL: nbdev_test failed on ${failed[*]}" >&2; exit 1; fi
exit $status
