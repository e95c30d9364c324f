#!/usr/bin/env bash
# `?readonly=1` on a backend URL through the CLI: populate, gc and remove are
# refused with the URL in the message and nothing changes; pack, stats and
# ls-style reads work.
source "$(dirname "$0")/cli_lib.sh" "$1"

expect_exit 0 sample "$tmp/s.bin"
expect_exit 0 populate "$tmp/s.bin" "file://$tmp/d"
expect_exit 0 stats --json "file://$tmp/d"
mv "$tmp/out" "$tmp/stats_before.json"

# Writes: every artifact refused with a permission error naming the URL.
expect_exit 1 populate "$tmp/s.bin" "file://$tmp/d?readonly=1" --policy overwrite
grep -q "^FAILED: 0 stored, 0 skipped, 22 failed" "$tmp/out" || fail "populate summary: $(tail -1 "$tmp/out")"
grep -q "readonly=1" "$tmp/out" "$tmp/err" || fail "no readonly in the messages: $(cat "$tmp/err")"
grep -q "file://$tmp/d" "$tmp/out" "$tmp/err" || fail "URL not named: $(cat "$tmp/err")"
expect_exit 1 gc "file://$tmp/d?readonly=true" --max-size 0
grep -q "readonly=1" "$tmp/err" || fail "gc message: $(cat "$tmp/err")"

# Reads: the same artifacts as before, and nothing was removed.
expect_exit 0 stats --json "file://$tmp/d?readonly=1"
cmp -s "$tmp/out" "$tmp/stats_before.json" || fail "stats differ: $(cat "$tmp/out")"
expect_exit 0 pack "file://$tmp/d?readonly=1" "$tmp/packed.bin"
expect_exit 0 ls --json "$tmp/packed.bin"
grep -q '"type"' "$tmp/out" || fail "packed nothing"

# A value that is not a flag is a bad URL (invalid argument, exit 1).
expect_exit 1 stats "file://$tmp/d?readonly=perhaps"
grep -q "readonly" "$tmp/err" || fail "bad flag message: $(cat "$tmp/err")"

finish "readonly URLs refuse writes, serve reads"
