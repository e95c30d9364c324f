#!/usr/bin/env bash
# The public API is include/cachepack/: every header there compiles on its
# own and includes only standard headers, <tl/expected.hpp> and its
# siblings; the quickstart example, built against //:cachepack alone, runs
# end to end. Arguments: the quickstart binary, then the public headers.
set -uo pipefail
quickstart=$1
shift
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/public_api.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

include_dir=$(cd "$(dirname "$1")/.." && pwd)
for header in "$@"; do
  name=${header#*include/}
  stray=$(grep -E '^#include "' "$header" | grep -v '^#include "cachepack/')
  [ -z "$stray" ] || fail "$name includes internal headers: $stray"
  echo "#include \"$name\"" >"$tmp/one.cc"
  g++ -std=c++20 -fsyntax-only -I"$include_dir" "$tmp/one.cc" 2>"$tmp/err" ||
    fail "$name does not compile on its own: $(head -3 "$tmp/err")"
done

out=$(timeout 60 "$quickstart" "$tmp/quickstart" 2>&1) ||
  fail "quickstart exited $?: $out"
for want in "2 artifacts" "populated: 2 stored, 0 skipped, 0 failed"; do
  [[ $out == *"$want"* ]] || fail "quickstart output lacks '$want': $out"
done
[ -n "$(find "$tmp/quickstart/cache" -type f 2>/dev/null)" ] ||
  fail "quickstart left no files in its cache"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed: $# public headers, quickstart"
