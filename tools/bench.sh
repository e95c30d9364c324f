#!/usr/bin/env bash
# cachepack against the tools a user would otherwise use, on real PyTorch
# compile caches and sets scaled from them, side by side in one table
# (BENCHMARKS.md says what each row measures and why its baseline is fair).
#
#   bash tools/bench.sh [--no-opt] [--quick] [--json] [--reps N] [--warm-reps N]
#                       [--no-1gb] [--rows 1,2,...] [--models mlp,...]
#
# Builds cachepack optimised (-c opt, without touching the bazel-* symlinks
# the tests use), then runs bench/cpbench with .venv's Python (torch 2.13).
# The data (the model zoo's cold compiles, the scaled sets) is made on first
# use under $CACHEPACK_BENCH_DATA, else $XDG_CACHE_HOME/cachepack-bench,
# else ~/.cache/cachepack-bench, and reused. --quick: small sets, no cold
# compile (row 1 only when a full run left the zoo), about a minute.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
  echo "bench: no .venv; run tools/setup.sh first" >&2
  exit 2
fi
opt=(-c opt --symlink_prefix=/)
# --no-opt (first): the test suite's build, already there, for a smoke test
# whose figures mean nothing; a clean checkout's suite then compiles
# cachepack once rather than twice.
if [ "${1:-}" = --no-opt ]; then
  opt=()
  shift
fi
bazel build "${opt[@]+"${opt[@]}"}" //tools:cachepack //bench:bundle_bench >&2
# Rows 1 and 2 call the Python package in .venv: built as the CLI is, so
# both sides of those rows measure the same build.
CACHEPACK_BAZEL_FLAGS="${opt[*]+"${opt[*]}"}" tools/install_python.sh >&2
bin="$(bazel info "${opt[@]+"${opt[@]}"}" bazel-bin 2>/dev/null)"
for cmd in zstd tar redis-server redis-benchmark redis-cli nginx curl; do
  command -v "$cmd" >/dev/null || { echo "bench: $cmd not found (tools/setup.sh installs it)" >&2; exit 2; }
done
PYTHONPATH="$root/bench:$root/tests/torch" exec "$python" -m cpbench \
  --cachepack "$bin/tools/cachepack" --bundle-bench "$bin/bench/bundle_bench" "$@"
