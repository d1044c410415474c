#!/usr/bin/env bash
# Build the C++ engine with AddressSanitizer + UndefinedBehaviorSanitizer in a scratch copy of the
# package and run the C++-facing tests against it. Any memory error or undefined behaviour aborts
# the run. Extra arguments replace the default test files.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=$(mktemp -d -t km-asan-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp -r cpp knowledge_mixer tests setup.py settings.ini pyproject.toml "$scratch"/
rm -f "$scratch"/knowledge_mixer/_core*.so
(cd "$scratch" && KM_SANITIZE=1 "$root/.venv/bin/python" setup.py -q build_ext --inplace >"$scratch/build.log" 2>&1) \
  || { cat "$scratch/build.log"; exit 1; }
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(tests/test_graph_core.py tests/test_reliability.py)
  for t in tests/test_walk.py tests/test_paths.py tests/test_fuzz_bindings.py tests/test_parallel.py; do [ -f "$t" ] && tests+=("$t"); done
fi
source tools/offline.sh
# the shared data stays reachable from the scratch copy
[ -z "${KM_DATA:-}" ] && [ -d "$root/../shared/data" ] && export KM_DATA="$root/../shared/data"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cd "$scratch"  # so the scratch package, not the repo's, is the one imported
"$root/.venv/bin/python" -c "import knowledge_mixer._core as c, sys; sys.exit(not c.__file__.startswith('$scratch'))" \
  || { echo "sanitize.sh: the sanitized build is not the one imported" >&2; exit 1; }
echo "== sanitizer build (ASan + UBSan) of knowledge_mixer._core: ${tests[*]}"
# --capture=sys: a sanitizer report (written to fd 2) reaches the log even when it aborts the process
"$root/.venv/bin/python" -m pytest -q -p no:cacheprovider --capture=sys "${tests[@]}"
