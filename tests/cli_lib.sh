# Shared harness of the CLI end-to-end tests, sourced by each with the
# cachepack binary as $1: a temp dir, a failure count, and checks of exit
# codes (0 ok, 1 failed, 2 usage). A check fails rather than hangs: every
# run has a time limit (124 means the CLI hung).
set -uo pipefail
CP="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tmp="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cli.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() { timeout 20 "$CP" "$@"; }
# expect_exit CODE ARGS...: runs cachepack ARGS, output in $tmp/out and
# $tmp/err, and counts a failure unless it exits with CODE.
expect_exit() {
  local want=$1; shift
  run "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || fail "cachepack $* exited $got, want $want: $(head -c 300 "$tmp/err")"
}
# Ends the test: exit 1 with the count if any check failed.
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed: $1"
}
# write_blob OUT TYPE KEY CONTENT [TYPE KEY CONTENT]...: a PyTorch Mega-Cache
# blob with one group per artifact, for tests that need chosen keys.
write_blob() {
  python3 - "$@" <<'PY'
import base64, struct, sys, zlib
out, rest = sys.argv[1], sys.argv[2:]
def field(b): return struct.pack(">Q", len(b)) + b
body = struct.pack(">Q", 1)
for i in range(0, len(rest), 3):
    t, k, c = (x.encode() for x in rest[i:i + 3])
    body += field(base64.b64encode(t)) + struct.pack(">Q", 1)
    body += field(base64.b64encode(k)) + field(c)
open(out, "wb").write(struct.pack(">I", zlib.crc32(body)) + body)
PY
}
