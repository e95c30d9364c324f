#!/usr/bin/env bash
# Every command's standard output is checked: a write error (a full disk,
# /dev/full) ends with exit 1 and a message naming stdout, never a silent
# exit 0; a pipe whose reader has gone (`ls | head -1`) ends quietly with
# exit 0, not with SIGPIPE's 141.
source "$(dirname "$0")/cli_lib.sh" "$1"

# Enough artifacts that a listing far exceeds a pipe's 64 KiB buffer.
expect_exit 0 sample "$tmp/big.bin" --graphs 400
expect_exit 0 convert "$tmp/big.bin" "$tmp/big.cpk"
expect_exit 0 keygen --out "$tmp/k.pem"
run ls --json "$tmp/big.cpk" >"$tmp/ls.json"
[ "$(stat -c %s "$tmp/ls.json")" -gt 262144 ] || fail "the listing is too small to fill a pipe"
read -r type key < <(python3 -c "
import json,sys
a=max(json.load(open(sys.argv[1]))['artifacts'], key=lambda a: a['size'])
print(a['type'], a['key'])" "$tmp/ls.json")

# A closed pipe: exit 0, nothing on stderr.
closed_pipe() {
  local reader=$1; shift
  run "$@" 2>"$tmp/err" | $reader >/dev/null
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || fail "cachepack $* | $reader exited $rc, want 0"
  [ ! -s "$tmp/err" ] || fail "cachepack $* | $reader printed: $(head -c 300 "$tmp/err")"
}
closed_pipe "head -1" ls "$tmp/big.cpk"
closed_pipe "head -1" ls "$tmp/big.bin"
closed_pipe "head -c 100" ls --json "$tmp/big.cpk"
closed_pipe "head -c 100" ls --json "$tmp/big.bin"
closed_pipe "head -c 100" convert "$tmp/big.bin" - --to cachepack
closed_pipe "head -c 100" convert "$tmp/big.cpk" - --to pytorch
closed_pipe "head -c 100" cat "$tmp/big.cpk" "$type" "$key"

# A full device: exit 1 and a message naming stdout.
full() {
  run "$@" >/dev/full 2>"$tmp/err"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "cachepack $* >/dev/full exited $rc, want 1"
  grep -q "^cachepack: I/O error: write failed: No space left on device \[file stdout\]$" "$tmp/err" \
    || fail "cachepack $* >/dev/full: $(head -c 300 "$tmp/err")"
  [ "$(grep -c . "$tmp/err")" -eq 1 ] || fail "cachepack $* >/dev/full reported $(grep -c . "$tmp/err") times"
}
full ls "$tmp/big.cpk"
full ls --json "$tmp/big.cpk"
full ls "$tmp/big.bin"
full verify "$tmp/big.cpk"
full verify "$tmp/big.bin"
full inspect "$tmp/big.cpk"
full inspect --json "$tmp/big.cpk"
full cat "$tmp/big.cpk" "$type" "$key"
full convert "$tmp/big.bin" - --to cachepack
full convert "$tmp/big.cpk" - --to pytorch
full convert "$tmp/big.bin" "$tmp/again.cpk"
full sample "$tmp/small.bin"
full keygen --out "$tmp/k2.pem"
full sign "$tmp/big.cpk" --key "$tmp/k.pem"
full append "$tmp/big.cpk" "$tmp/small.bin"
full populate "$tmp/small.bin" mem://
full pack "$tmp/small.bin" "$tmp/packed.cpk"
full stats "file://$tmp/disk"
full stats "file://$tmp/disk" --json
full --help
full convert --help

finish "stdout errors"
