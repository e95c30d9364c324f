#!/usr/bin/env bash
# Checks examples/bazel, a workspace of its own that depends on
# @cachepack//:cachepack through local_repository, and runs its program;
# then checks its bundle made with tools/bazel/defs.bzl: it verifies, and
# it has the same bytes when built again.
# Bazel cannot run inside a Bazel test, so tools/test.sh calls this after
# `bazel test //...`.
#
# Two steps, so that the suite compiles the library once rather than three
# times (docs/BUILDING.md):
# 1. the example's own WORKSPACE is loaded and analysed in its own output
#    base (--nobuild: repositories, labels, rules and toolchains resolve,
#    nothing compiles);
# 2. the example is built, run and tested as @cachepack_example from the main
#    workspace (its WORKSPACE declares it), where @cachepack is the main
#    repository itself, so quickstart links the objects `bazel test //...`
#    already compiled.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# No bazel-* links in the example folder: the main workspace would see them.
flags=(--noshow_progress --symlink_prefix=/)
cd "$root/examples/bazel"
if ! timeout 600 bazel --max_idle_secs=60 build --nobuild "${flags[@]}" \
  //:quickstart //:compile_cache_test >"$tmp/log" 2>&1; then
  echo "FAIL: examples/bazel does not load and analyse as a workspace of its own:"
  tail -30 "$tmp/log"
  exit 1
fi

cd "$root"
if ! timeout 900 bazel build "${flags[@]}" @cachepack_example//:quickstart >"$tmp/log" 2>&1; then
  echo "FAIL: examples/bazel does not build:"
  tail -30 "$tmp/log"
  exit 1
fi
bin=$(bazel info bazel-bin 2>/dev/null)/external/cachepack_example
out=$("$bin/quickstart" "$tmp/run" 2>&1) || {
  echo "FAIL: examples/bazel's quickstart exited $?: $out"
  exit 1
}
want="populated: 2 stored, 0 skipped, 0 failed"
[[ $out == *"$want"* ]] || {
  echo "FAIL: quickstart output lacks '$want': $out"
  exit 1
}

# The Starlark rules (tools/bazel/defs.bzl): the signed bundle verifies, and
# packing it again, with its outputs gone, gives the same bytes.
if ! timeout 900 bazel test "${flags[@]}" @cachepack_example//:compile_cache_test \
  >"$tmp/log" 2>&1; then
  echo "FAIL: examples/bazel's compile_cache_test:"
  tail -30 "$tmp/log"
  exit 1
fi
first=$(sha256sum <"$bin/compile_cache.cpk")
rm -f "$bin/compile_cache.cpk" "$bin/compile_cache.merged.bin"
if ! timeout 600 bazel build "${flags[@]}" @cachepack_example//:compile_cache \
  >"$tmp/log" 2>&1; then
  echo "FAIL: examples/bazel's compile_cache does not build again:"
  tail -30 "$tmp/log"
  exit 1
fi
second=$(sha256sum <"$bin/compile_cache.cpk")
[ "$first" = "$second" ] || {
  echo "FAIL: compile_cache.cpk differs between two builds"
  exit 1
}
