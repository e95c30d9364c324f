#!/usr/bin/env bash
# Replays every fuzz target's seeds once (built without libFuzzer): the
# harnesses' own checks (no secret read, nothing outside a cache root
# changed, no crash) run on every test run, not only when fuzzing.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cp="$(cd "$(dirname "$4")" && pwd)/$(basename "$4")"
failures=0
for bin in "$1" "$2" "$3"; do
  name=$(basename "$bin")
  seeds="$(mktemp -d "${TEST_TMPDIR:-/tmp}/seeds.XXXXXX")"
  bash "$here/seeds.sh" "$name" "$seeds" "$cp" || { echo "FAIL: seeds for $name"; failures=$((failures + 1)); continue; }
  if ! TMPDIR="${TEST_TMPDIR:-/tmp}" timeout 300 "$bin" "$seeds"; then
    echo "FAIL: $name on its seeds"
    failures=$((failures + 1))
  fi
done
[ "$failures" -eq 0 ] || exit 1
echo "all fuzz targets replayed their seeds"
