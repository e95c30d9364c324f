#!/usr/bin/env bash
# Writers of one output path take turns, through the real binary with real
# races: while a slow append, convert or pack writes a path, every other
# writer of that path (append, sign, convert, pack) fails at once with exit
# 3 (busy: retry later) instead of overwriting it, and the slow one's result is complete. A
# killed convert's temporary file is removed by the next writer of the same
# output, never by a reader, and a live writer's is kept.
source "$(dirname "$0")/cli_lib.sh" "$1"

# Slow on purpose: level 19 on a few MB takes seconds. (Background writers
# run without `timeout` so that $! is cachepack itself; Bazel's test timeout
# still bounds them.)
expect_exit 0 sample "$tmp/big.bin" --graphs 150
expect_exit 0 sample "$tmp/bigger.bin" --graphs 300
expect_exit 0 sample "$tmp/s.bin"
expect_exit 0 sample "$tmp/s2.bin" --seed 2
expect_exit 0 keygen --out "$tmp/k.pem"
count() { run ls "$1" | wc -l; }
big_count=$(run ls "$tmp/big.bin" | wc -l)
small_count=$(count "$tmp/s.bin")

# wait_until DESCRIPTION COMMAND...: polls until COMMAND succeeds (60 s).
wait_until() {
  local what=$1; shift
  for _ in $(seq 1 600); do
    "$@" && return 0
    sleep 0.1
  done
  fail "timed out waiting until $what"
  return 1
}
# Whether some process holds a flock on the file, read from /proc/locks:
# taking the lock to find out would race with the writer being watched.
locked() {
  local inode
  inode=$(stat -c %i "$1" 2>/dev/null) || return 1
  grep -q "FLOCK .*:$inode " /proc/locks
}
temp_exists() { compgen -G "$1.tmp-*" >/dev/null; }
still_running() { kill -0 "$1" 2>/dev/null || fail "the slow writer finished before the race was run: $2"; }
# refused ARGS...: another writer of the path is at work: exit 3 (busy,
# retry later; docs/CLI.md), at once.
refused() {
  expect_exit 3 "$@"
  grep -q "^cachepack: unavailable: .*\(another cachepack process\)" "$tmp/err" \
    || fail "cachepack $*: not refused as busy: $(head -c 300 "$tmp/err")"
}

# 1. append base.cpk BIG in the background, then writers of base.cpk.
expect_exit 0 convert "$tmp/s.bin" "$tmp/base.cpk"
"$CP" append "$tmp/base.cpk" "$tmp/big.bin" --level 19 >"$tmp/bg.out" 2>&1 &
bg=$!
wait_until "append holds the lock" locked "$tmp/base.cpk"
refused convert "$tmp/s2.bin" "$tmp/base.cpk"
refused convert "$tmp/s2.bin" "$tmp/base.cpk" --to pytorch
refused pack "$tmp/s2.bin" "$tmp/base.cpk"
refused append "$tmp/base.cpk" "$tmp/s2.bin"
refused sign "$tmp/base.cpk" --key "$tmp/k.pem"
still_running $bg "append"
wait $bg || fail "the background append failed: $(cat "$tmp/bg.out")"
expect_exit 0 verify "$tmp/base.cpk"
[ "$(count "$tmp/base.cpk")" -eq $((small_count + big_count)) ] \
  || fail "the append's entries were lost: $(count "$tmp/base.cpk") listed"

# 2. convert BIG base.cpk in the background: it holds base.cpk while it
# writes its temporary file, and replaces it at the end.
"$CP" convert "$tmp/big.bin" "$tmp/base.cpk" --level 19 >"$tmp/bg.out" 2>&1 &
bg=$!
wait_until "convert holds the lock" locked "$tmp/base.cpk"
refused append "$tmp/base.cpk" "$tmp/s2.bin"
refused sign "$tmp/base.cpk" --key "$tmp/k.pem"
refused convert "$tmp/s2.bin" "$tmp/base.cpk"
refused pack "$tmp/s2.bin" "$tmp/base.cpk"
still_running $bg "convert over an existing file"
wait $bg || fail "the background convert failed: $(cat "$tmp/bg.out")"
[ "$(count "$tmp/base.cpk")" -eq "$big_count" ] || fail "convert's result was changed: $(count "$tmp/base.cpk") listed"

# 3. Two converts creating one new file: the second is refused while the
# first writes (its locked temporary file says it is there).
"$CP" convert "$tmp/big.bin" "$tmp/new.cpk" --level 19 >"$tmp/bg.out" 2>&1 &
bg=$!
wait_until "convert creates its temporary file" temp_exists "$tmp/new.cpk"
expect_exit 3 convert "$tmp/s.bin" "$tmp/new.cpk"
grep -q "unavailable: another cachepack process (pid $bg on .*) is writing this file" "$tmp/err" \
  || fail "second creator: $(cat "$tmp/err")"
expect_exit 3 pack "$tmp/s.bin" "$tmp/new.cpk"
still_running $bg "convert to a new file"
wait $bg || fail "the background convert failed: $(cat "$tmp/bg.out")"
[ "$(count "$tmp/new.cpk")" -eq "$big_count" ] || fail "new.cpk is not the first convert's"

# 4. A killed convert leaves its temporary file; readers leave it alone, the
# next writer of the same output removes it, and keeps a live writer's.
expect_exit 0 convert "$tmp/s.bin" "$tmp/out.cpk"
"$CP" convert "$tmp/bigger.bin" "$tmp/out.cpk" --level 19 >/dev/null 2>&1 &
bg=$!
has_data() { local f; for f in "$tmp"/out.cpk.tmp-*; do [ -s "$f" ] && return 0; done; return 1; }
wait_until "convert has written part of its temporary file" has_data
still_running $bg "convert to be killed"
kill -KILL $bg
wait $bg 2>/dev/null
leftover=$(compgen -G "$tmp/out.cpk.tmp-*")
[ -n "$leftover" ] || fail "the killed convert left no temporary file (nothing to test)"
sleep 60 &
sleeper=$!
live="$tmp/out.cpk.tmp-$(uname -n)-$sleeper-abcdef"
echo partial >"$live"
for cmd in "ls $tmp/out.cpk" "inspect $tmp/out.cpk" "verify $tmp/out.cpk" "convert $tmp/out.cpk $tmp/copy.bin"; do
  # shellcheck disable=SC2086
  expect_exit 0 $cmd
  [ -e "$leftover" ] || fail "$cmd (a reader of out.cpk) removed a temporary file"
done
expect_exit 0 convert "$tmp/s2.bin" "$tmp/out.cpk"
[ ! -e "$leftover" ] || fail "the next convert did not remove the killed convert's temporary file"
[ -e "$live" ] || fail "the next convert removed a live writer's temporary file"
[ "$(compgen -G "$tmp/out.cpk.tmp-*")" = "$live" ] || fail "temporary files left: $(compgen -G "$tmp/out.cpk.tmp-*")"
kill $sleeper
wait $sleeper 2>/dev/null
# With its owner gone, the next writer (pack, to a blob this time) removes it.
expect_exit 0 pack "$tmp/s.bin" "$tmp/out.cpk"
[ ! -e "$live" ] || fail "pack did not remove a dead writer's temporary file"

finish "concurrent writers"
