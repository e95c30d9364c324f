#!/usr/bin/env bash
# The CLI session in README.md is this test's output: it runs the commands
# shown there and fails when the README's block differs, so the README
# cannot rot. To refresh the block after a deliberate change:
#   bazel run //tests:readme_session_test -- --update
# Usage: readme_session_test.sh CACHEPACK README [--update]
set -uo pipefail
CP="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
readme="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
update="${3:-}"
if [ "$update" = --update ]; then
  readme="${BUILD_WORKSPACE_DIRECTORY:?run with bazel run}/README.md"
fi
tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/session.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# Each command as the README shows it, then its output; temp paths become
# /tmp/demo so the transcript is the same on every run.
session() {
  echo '```'
  for cmd in \
    "cachepack sample build.bin --graphs 1 --seed 7" \
    "cachepack convert build.bin build.cpk --quiet" \
    "cachepack ls build.cpk" \
    "cachepack inspect build.cpk" \
    "cachepack sample next.bin --graphs 2 --seed 7" \
    "cachepack diff build.cpk next.bin" \
    "cachepack populate build.cpk torch://$tmp/torch-cache"; do
    echo "\$ ${cmd//$tmp//tmp/demo}"
    ${cmd/cachepack/$CP} 2>&1 | sed "s|$tmp|/tmp/demo|g"
  done
  echo '```'
}
session >"$tmp/transcript"

begin='<!-- cli-session: made by tests/readme_session_test.sh -->'
end='<!-- cli-session end -->'
if [ "$update" = --update ]; then
  python3 - "$readme" "$tmp/transcript" "$begin" "$end" <<'PY'
import sys
readme, transcript, begin, end = sys.argv[1:]
text = open(readme).read()
a = text.index(begin) + len(begin)
b = text.index(end)
open(readme, "w").write(text[:a] + "\n" + open(transcript).read() + text[b:])
PY
  echo "updated $readme"
  exit 0
fi
awk -v b="$begin" -v e="$end" '$0 == e {on=0} on {print} $0 == b {on=1}' \
  "$readme" >"$tmp/shown"
if ! diff -u "$tmp/shown" "$tmp/transcript"; then
  echo "FAIL: README's CLI session differs from the commands' output;"
  echo "refresh it with: bazel run //tests:readme_session_test -- --update"
  exit 1
fi
echo "all checks passed: README session"
