#!/usr/bin/env bash
# The progress line (docs/CLI.md, "Progress"): on when stderr is a
# terminal, here a pseudo-terminal, for convert, pack, populate, append,
# merge, push and pull; off with --quiet and when stderr is not a terminal; never on
# stdout.
source "$(dirname "$0")/cli_lib.sh" "$1"

expect_exit 0 sample "$tmp/s.bin" --graphs 40
expect_exit 0 sample "$tmp/t.bin" --graphs 10 --seed 2

# run_on_pty OUT ERR ARGS...: cachepack ARGS with stderr on a pseudo-terminal
# (read back into ERR) and stdout into OUT; exits with its exit code.
run_on_pty() {
  python3 - "$CP" "$@" <<'PY'
import os, pty, subprocess, sys
cp, out, err, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
master, slave = pty.openpty()
with open(out, "wb") as stdout:
    proc = subprocess.Popen([cp, *args], stdout=stdout, stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the child closed its end.
        break
    if not chunk:
        break
    data += chunk
open(err, "wb").write(data)
sys.exit(proc.wait(timeout=60))
PY
}

check_progress() {  # NAME: $tmp/err holds a progress line, $tmp/out none.
  grep -q "$1: [0-9/]* artifacts, .*/s" "$tmp/err" ||
    fail "$1: no progress line on the terminal: $(head -c 300 "$tmp/err")"
  grep -q $'\r' "$tmp/err" || fail "$1: the progress line is not rewritten in place"
  ! grep -q "artifacts, .*/s" "$tmp/out" || fail "$1: progress reached stdout"
}

run_on_pty "$tmp/out" "$tmp/err" convert "$tmp/s.bin" "$tmp/s.cpk" ||
  fail "convert on a pty"
check_progress convert
grep -q "of .*ETA\|of .*B/s" "$tmp/err" || fail "convert: no total for a blob input"
run_on_pty "$tmp/out" "$tmp/err" pack "$tmp/s.cpk" "$tmp/p.cpk" || fail "pack on a pty"
check_progress pack
mkdir "$tmp/dir"
run_on_pty "$tmp/out" "$tmp/err" populate "$tmp/s.cpk" "file://$tmp/dir" ||
  fail "populate on a pty"
check_progress populate
grep -q "populate: [0-9]*/[0-9]* artifacts" "$tmp/err" || fail "populate: no total"
run_on_pty "$tmp/out" "$tmp/err" append "$tmp/p.cpk" "$tmp/t.bin" || fail "append on a pty"
check_progress append
run_on_pty "$tmp/out" "$tmp/err" merge --on-conflict last "$tmp/m.cpk" "$tmp/s.cpk" "$tmp/t.bin" ||
  fail "merge on a pty"
check_progress merge
run_on_pty "$tmp/out" "$tmp/err" push "$tmp/s.cpk" "file://$tmp/ship" --name s ||
  fail "push on a pty"
check_progress push
run_on_pty "$tmp/out" "$tmp/err" pull "file://$tmp/ship" "$tmp/pulled.cpk" --name s ||
  fail "pull on a pty"
check_progress pull

# --quiet: nothing on the terminal, not even the summary.
run_on_pty "$tmp/out" "$tmp/err" convert --quiet "$tmp/s.bin" "$tmp/q.cpk" ||
  fail "convert --quiet on a pty"
[ ! -s "$tmp/err" ] && [ ! -s "$tmp/out" ] ||
  fail "--quiet printed: $(cat "$tmp/err" "$tmp/out" | head -c 300)"

# Not a terminal: no progress line, the summary only.
expect_exit 0 convert "$tmp/s.bin" "$tmp/n.cpk"
! grep -q "artifacts, .*/s" "$tmp/err" || fail "progress without a terminal"
grep -q "^wrote " "$tmp/out" || fail "convert summary missing"
# --progress forces it, for logs.
expect_exit 0 populate --progress "$tmp/s.cpk" "file://$tmp/dir2"
grep -q "populate: .* artifacts" "$tmp/err" || fail "--progress did not force the line"

finish "progress"
