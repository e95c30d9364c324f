#!/usr/bin/env bash
# A signed bundle whose newest version is damaged (a footer checksum byte
# zeroed, its last byte cut) or followed by junk is refused by every reading
# command: none of them falls back to the older signed version on its own.
# --allow-older-version asks for that version, and stderr then says how many
# bytes were ignored. populate --trusted-key checks what verify
# --trusted-key checks (every byte accounted for, padding included) before
# writing anything.
source "$(dirname "$0")/cli_lib.sh" "$1"
# Artifacts a populate read (stored + skipped), from its summary line.
populated() { sed -n 's/^ok: \([0-9]*\) stored, \([0-9]*\) skipped, 0 failed.*/\1 \2/p' "$tmp/out" | awk '{print $1 + $2}'; }

expect_exit 0 keygen --out "$tmp/k.pem"
pub="$tmp/k.pem.pub"
expect_exit 0 sample "$tmp/v1.bin"
expect_exit 0 sample "$tmp/v2.bin" --seed 2
# Two signed versions: 22 artifacts, then 22 more.
expect_exit 0 convert "$tmp/v1.bin" "$tmp/good.cpk" --sign "$tmp/k.pem"
expect_exit 0 append "$tmp/good.cpk" "$tmp/v2.bin" --sign "$tmp/k.pem"
expect_exit 0 verify "$tmp/good.cpk" --trusted-key "$pub"
expect_exit 0 populate "$tmp/good.cpk" "mem://" --trusted-key "$pub"
# The second version has the first's keys: the newest of each is installed.
grep -q "^ok: 22 stored, 22 skipped, 0 failed" "$tmp/out" || fail "intact bundle: $(tail -1 "$tmp/out")"
superseded=$(grep -o "; [0-9]* superseded by newer artifacts with the same key" "$tmp/out" | awk '{s += $2} END {print s}')
[ "$superseded" = 22 ] || fail "intact bundle: $superseded superseded, want 22: $(cat "$tmp/out")"
run ls --json "$tmp/good.cpk" >"$tmp/ls.json"
read -r type key < <(python3 -c "
import json,sys
a=json.load(open(sys.argv[1]))['artifacts'][0]
print(a['type'], a['key'])" "$tmp/ls.json")

size=$(stat -c %s "$tmp/good.cpk")
python3 - "$tmp/good.cpk" "$tmp/zeroed.cpk" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
at = len(b) - 72 + 56  # The newest footer's checksum.
b[at] = 0 if b[at] else 1
open(sys.argv[2], "wb").write(b)
PY
head -c $((size - 1)) "$tmp/good.cpk" >"$tmp/cut.cpk"
{ cat "$tmp/good.cpk"; printf 'junk1234'; } >"$tmp/junk.cpk"

# name:entries of the version an explicit --allow-older-version reads.
for case in zeroed:22 cut:22 junk:44; do
  name=${case%%:*} entries=${case##*:}
  f="$tmp/$name.cpk"
  dir="$tmp/torch-$name"
  expect_exit 1 populate "$f" "torch://$dir" --trusted-key "$pub"
  grep -q "intact footer at offset" "$tmp/err" || fail "$name: populate error does not name the intact footer: $(cat "$tmp/err")"
  [ -z "$(ls -A "$dir" 2>/dev/null)" ] || fail "$name: populate wrote into $dir before refusing"
  expect_exit 1 populate "$f" "mem://"
  expect_exit 1 verify "$f" --trusted-key "$pub"
  expect_exit 1 verify "$f"
  expect_exit 1 cat "$f" "$type" "$key" --trusted-key "$pub"
  expect_exit 1 cat "$f" "$type" "$key"
  expect_exit 1 ls "$f"
  [ ! -s "$tmp/out" ] || fail "$name: ls printed a listing of an older version"
  expect_exit 1 ls --json "$f"
  expect_exit 1 inspect "$f"
  expect_exit 1 inspect --json "$f"
  expect_exit 1 convert "$f" "$tmp/out-$name.bin"
  expect_exit 1 convert "$f" "$tmp/out-$name.cpk"
  expect_exit 1 pack "$f" "$tmp/packed-$name.cpk"
  for out in "$tmp/out-$name.bin" "$tmp/out-$name.cpk" "$tmp/packed-$name.cpk"; do
    [ ! -e "$out" ] || fail "$name: $(basename "$out") was written from a refused input"
  done
  grep -q "file $f" "$tmp/err" || fail "$name: the error does not name the file: $(cat "$tmp/err")"

  # Asked for explicitly, the older version is read, and stderr says so.
  expect_exit 0 populate "$f" "torch://$dir" --trusted-key "$pub" --allow-older-version
  [ "$(populated)" = "$entries" ] || fail "$name: --allow-older-version populate: $(tail -1 "$tmp/out")"
  grep -q "reading an older version (--allow-older-version): [0-9]* bytes after its footer" "$tmp/err" \
    || fail "$name: populate --allow-older-version says nothing on stderr: $(cat "$tmp/err")"
  expect_exit 0 verify "$f" --trusted-key "$pub" --allow-older-version
  grep -q "bytes after its footer" "$tmp/err" || fail "$name: verify --allow-older-version is silent"
  expect_exit 0 ls "$f" --allow-older-version
  [ "$(wc -l <"$tmp/out")" -eq "$entries" ] || fail "$name: ls --allow-older-version lists $(wc -l <"$tmp/out") artifacts, want $entries"
  for cmd in "inspect $f" "cat $f $type $key" "convert $f $tmp/older-$name.bin" "pack $f $tmp/older-$name.cpk"; do
    # shellcheck disable=SC2086
    expect_exit 0 $cmd --allow-older-version
    grep -q "bytes after its footer" "$tmp/err" || fail "$name: $cmd --allow-older-version is silent on stderr"
  done
done
# The sizes in the note are the real ones.
expect_exit 0 ls "$tmp/junk.cpk" --allow-older-version
grep -q ": 8 bytes after its footer at offset $((size - 72)) were ignored" "$tmp/err" \
  || fail "junk: wrong byte count or offset: $(cat "$tmp/err")"

# After append + sign, the version before the damaged one is unsigned: even
# when asked for, a trusted key refuses it.
expect_exit 0 convert "$tmp/v1.bin" "$tmp/resigned.cpk" --sign "$tmp/k.pem"
expect_exit 0 append "$tmp/resigned.cpk" "$tmp/v2.bin"
expect_exit 0 sign "$tmp/resigned.cpk" --key "$tmp/k.pem"
size=$(stat -c %s "$tmp/resigned.cpk")
head -c $((size - 1)) "$tmp/resigned.cpk" >"$tmp/resigned-cut.cpk"
expect_exit 1 populate "$tmp/resigned-cut.cpk" "mem://" --trusted-key "$pub"
expect_exit 1 populate "$tmp/resigned-cut.cpk" "mem://" --trusted-key "$pub" --allow-older-version
grep -q "permission denied (signature)" "$tmp/err" || fail "unsigned older version: $(cat "$tmp/err")"

# Padding before the index must be zero: "hi" is stored raw at offset 16, so
# bytes 18..23 pad the index to 24. populate checks them before writing.
write_blob "$tmp/hi.bin" pgo "job:0:tag" hi
expect_exit 0 convert "$tmp/hi.bin" "$tmp/hi.cpk" --sign "$tmp/k.pem"
expect_exit 0 populate "$tmp/hi.cpk" "torch://$tmp/torch-hi-good" --trusted-key "$pub"
python3 - "$tmp/hi.cpk" "$tmp/padded.cpk" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
assert b[16:18] == b"hi" and b[18:24] == bytes(6), b[16:24]
b[20] = 1
open(sys.argv[2], "wb").write(b)
PY
expect_exit 1 verify "$tmp/padded.cpk" --trusted-key "$pub"
expect_exit 1 populate "$tmp/padded.cpk" "torch://$tmp/torch-padded" --trusted-key "$pub"
grep -q "belong to nothing.*offset 18" "$tmp/err" || fail "padding: $(cat "$tmp/err")"
[ -z "$(ls -A "$tmp/torch-padded" 2>/dev/null)" ] || fail "populate wrote before checking the padding"

finish "damaged tails are refused by every reading command"
