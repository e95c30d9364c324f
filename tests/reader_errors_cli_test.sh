#!/usr/bin/env bash
# Index and limit errors through the CLI: every error a bundle reader
# returns names the file (and the offset), and a long key is cut short in
# print. The bundles come from tests/craft_bundle.cc: no writer makes them.
source "$(dirname "$0")/cli_lib.sh" "$1"
"$2" "$tmp" || { echo "craft_bundle failed"; exit 1; }

# (long-key.cpk has a sound index: only commands that read content fail.)
for f in bad-range huge-key long-key solid-past-end; do
  cmds=("ls" "ls --json" "inspect" "verify" "populate" "convert")
  [ "$f" = long-key ] && cmds=("verify" "populate" "convert")
  for cmd in "${cmds[@]}"; do
    case $cmd in
      populate) args=("$tmp/$f.cpk" mem://) ;;
      convert) args=("$tmp/$f.cpk" "$tmp/out.bin") ;;
      *) args=("$tmp/$f.cpk") ;;
    esac
    # shellcheck disable=SC2086
    expect_exit 1 $cmd "${args[@]}"
    grep -q "^cachepack: .*\[file $tmp/$f.cpk, offset [0-9]*" "$tmp/err" \
      || fail "$cmd $f.cpk: the error does not name the file and offset: $(head -c 300 "$tmp/err")"
    [ "$(wc -c <"$tmp/err")" -lt 1000 ] || fail "$cmd $f.cpk: $(wc -c <"$tmp/err") bytes of error"
  done
done
expect_exit 1 ls "$tmp/bad-range.cpk"
grep -q "data loss (bad index): entry 0: stored range" "$tmp/err" || fail "bad range: $(cat "$tmp/err")"
expect_exit 1 ls "$tmp/solid-past-end.cpk"
grep -q "data loss (bad index): entry 0: content \[1, +2) ends past the 2 decompressed bytes of solid block 1" "$tmp/err" || fail "solid past end: $(cat "$tmp/err")"
expect_exit 1 ls "$tmp/huge-key.cpk"
grep -q "resource exhausted (limit exceeded): entry 0: key of 2097158 bytes" "$tmp/err" || fail "huge key: $(cat "$tmp/err")"
expect_exit 1 verify "$tmp/long-key.cpk"
grep -q "checksum mismatch.*key \"kkkk*\.\.\.\" (10000 bytes)\]$" "$tmp/err" || fail "long key: $(cat "$tmp/err")"

finish "reader errors name the file"
