#!/usr/bin/env bash
# Fuzzes the Mega-Cache reader with libFuzzer + ASan/UBSan (clang 14 from
# Debian). Seeds: cachepack's sample blob and, when present, PyTorch's vectors.
#   tools/fuzz.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. \
  tests/fuzz/megacache_fuzz.cc serializer/megacache.cc \
  artifacts/type_registry.cc util/*.cc -lz -lcrypto -o "$out/fuzz"
mkdir -p "$out/corpus"
vectors="${CACHEPACK_VECTORS:-$root/../shared/vectors/pytorch-megacache}"
if [ -d "$vectors" ]; then
  for f in "$vectors"/*.bin; do
    tail -c +5 "$f" >"$out/corpus/$(basename "$f")"
  done
fi
"$out/fuzz" "$out/corpus" -max_total_time="$seconds" -max_len=4096 \
  -print_final_stats=1 2>&1 | tail -15
