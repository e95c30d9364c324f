#!/usr/bin/env bash
# Builds examples/bazel, a workspace of its own that depends on
# @cachepack//:cachepack through local_repository, and runs its program;
# then checks its bundle made with tools/bazel/defs.bzl: it verifies, and
# it has the same bytes when built again.
# Bazel cannot run inside a Bazel test, so tools/test.sh calls this after
# `bazel test //...`. The example's output base is Bazel's default for its
# folder, separate from the main workspace's; the first build compiles the
# library again (a few minutes on 2 cores), later ones reuse it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root/examples/bazel"

# No bazel-* links in the example folder: the main workspace would see them.
startup=(--max_idle_secs=300)
if ! timeout 900 bazel "${startup[@]}" build --noshow_progress --symlink_prefix=/ \
  //:quickstart >"$tmp/log" 2>&1; then
  echo "FAIL: examples/bazel does not build:"
  tail -30 "$tmp/log"
  exit 1
fi
bin=$(bazel "${startup[@]}" info bazel-bin 2>/dev/null)
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
if ! timeout 600 bazel "${startup[@]}" test --noshow_progress --symlink_prefix=/ \
  //:compile_cache_test >"$tmp/log" 2>&1; then
  echo "FAIL: examples/bazel's compile_cache_test:"
  tail -30 "$tmp/log"
  exit 1
fi
first=$(sha256sum <"$bin/compile_cache.cpk")
rm -f "$bin/compile_cache.cpk" "$bin/compile_cache.merged.bin"
if ! timeout 600 bazel "${startup[@]}" build --noshow_progress --symlink_prefix=/ \
  //:compile_cache >"$tmp/log" 2>&1; then
  echo "FAIL: examples/bazel's compile_cache does not build again:"
  tail -30 "$tmp/log"
  exit 1
fi
second=$(sha256sum <"$bin/compile_cache.cpk")
[ "$first" = "$second" ] || {
  echo "FAIL: compile_cache.cpk differs between two builds"
  exit 1
}
