#!/usr/bin/env bash
# Checks an installed cachepack (tools/install.sh) the way a user without
# Bazel uses it: examples/quickstart.cc compiles with g++ and pkg-config
# alone, runs end to end, and PREFIX/bin/cachepack --help runs.
#
#   install_check.sh PREFIX QUICKSTART_CC
set -euo pipefail
prefix=$1 quickstart_cc=$2
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/install_check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046  # pkg-config's flags are meant to split.
g++ -std=c++20 "$quickstart_cc" $(pkg-config --cflags --libs cachepack) \
  -o "$tmp/qs"
out=$("$tmp/qs" "$tmp/run" 2>&1) || {
  echo "FAIL: quickstart exited $?: $out"
  exit 1
}
want="populated: 2 stored, 0 skipped, 0 failed"
[[ $out == *"$want"* ]] || {
  echo "FAIL: quickstart output lacks '$want': $out"
  exit 1
}
"$prefix/bin/cachepack" --help >"$tmp/help" 2>&1 || {
  echo "FAIL: $prefix/bin/cachepack --help exited $?: $(head -5 "$tmp/help")"
  exit 1
}
