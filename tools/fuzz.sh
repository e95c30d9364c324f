#!/usr/bin/env bash
# Fuzzes one target with libFuzzer + ASan/UBSan (clang from Debian), built
# through Bazel with --config=fuzz in an output base of its own (so the
# ordinary gcc build is not invalidated):
#   tools/fuzz.sh [TARGET] [SECONDS]
# TARGET: megacache_fuzz (default), bundle_fuzz or cache_root_fuzz.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${1:-megacache_fuzz}"
seconds="${2:-60}"
base="${CACHEPACK_FUZZ_OUTPUT_BASE:-$HOME/.cache/cachepack-fuzz}"
tools/setup.sh >/dev/null
# clang's sanitizer and libFuzzer runtimes, for the default clang.
if ! dpkg-query -W -f='${Status}' libclang-rt-dev 2>/dev/null | grep -q "ok installed"; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libclang-rt-dev >/dev/null
fi
bazel --output_base="$base" build --noshow_progress --config=fuzz \
  "//tests/fuzz:$target" >/dev/null
bin="$(bazel --output_base="$base" info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz/$target"
bazel build --noshow_progress //tools:cachepack >/dev/null 2>&1
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
bash tests/fuzz/seeds.sh "$target" "$out/corpus" "$root/bazel-bin/tools/cachepack"
max_len=4096
[ "$target" = bundle_fuzz ] && max_len=65536
TMPDIR="$out" "$bin" "$out/corpus" -max_total_time="$seconds" \
  -max_len="$max_len" -print_final_stats=1 2>&1 | tail -15
