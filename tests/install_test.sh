#!/usr/bin/env bash
# The installation without Bazel (tools/install.sh): installs the built
# files into a temporary prefix twice (the second time must change nothing
# and print nothing), then checks the prefix with install_check.sh.
# tools/test.sh runs tools/install.sh itself, Bazel build included, which a
# test inside Bazel cannot.
#
#   install_test.sh INSTALL_FILES ARCHIVE LINKOPTS CLI QUICKSTART_CC CHECK HEADER...
# (ARCHIVE and LINKOPTS are //tools/install:libcachepack's two files.)
set -euo pipefail
install_files=$1 archive=$2 linkopts=$3 cli=$4 quickstart_cc=$5 check=$6
shift 6
prefix="${TEST_TMPDIR:-$(mktemp -d)}/prefix"

"$install_files" "$prefix" "$archive" "$linkopts" "$cli" "$@"
before=$(find "$prefix" -type f -printf '%P %T@\n' | sort)
again=$("$install_files" "$prefix" "$archive" "$linkopts" "$cli" "$@" 2>&1)
after=$(find "$prefix" -type f -printf '%P %T@\n' | sort)
[ -z "$again" ] || { echo "FAIL: second install printed: $again"; exit 1; }
[ "$before" = "$after" ] || {
  echo "FAIL: second install changed files:"
  diff <(echo "$before") <(echo "$after") || true
  exit 1
}
for f in bin/cachepack lib/libcachepack.a lib/pkgconfig/cachepack.pc \
  include/cachepack/bundle_reader.h; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
"$check" "$prefix" "$quickstart_cc"
