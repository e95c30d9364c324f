#!/usr/bin/env bash
# End-to-end checks of the bundle commands: convert both ways (byte-exact for
# PyTorch's vectors), inspect, cat, keygen/sign/verify with trusted keys,
# append, ls --json on a bundle, and typed failures (exit 1) on damage.
source "$(dirname "$0")/cli_lib.sh" "$1"

expect_exit 0 sample "$tmp/s.bin"
# Format by extension, and reproducible bytes.
expect_exit 0 convert "$tmp/s.bin" "$tmp/a.cpk"
expect_exit 0 convert "$tmp/s.bin" "$tmp/b.cpk" --threads 3
cmp -s "$tmp/a.cpk" "$tmp/b.cpk" || fail "convert is not deterministic across thread counts"
head -c 8 "$tmp/a.cpk" | od -An -tx1 | grep -q "89 43 50 4b 0d 0a 1a 0a" || fail "bundle magic missing"
expect_exit 0 convert "$tmp/a.cpk" "$tmp/back.bin"
cmp -s "$tmp/s.bin" "$tmp/back.bin" || fail "blob -> bundle -> blob changed bytes"
expect_exit 0 convert "$tmp/a.cpk" "$tmp/back2" --to pytorch
cmp -s "$tmp/s.bin" "$tmp/back2" || fail "--to pytorch"
# To stdout: a bundle never seeks, so it can go straight into a pipe.
run convert "$tmp/s.bin" - --to cachepack 2>/dev/null | cat >"$tmp/piped.cpk"
cmp -s "$tmp/a.cpk" "$tmp/piped.cpk" || fail "convert to stdout differs from convert to a file"
run convert "$tmp/a.cpk" - --to pytorch 2>/dev/null >"$tmp/piped.bin"
cmp -s "$tmp/s.bin" "$tmp/piped.bin" || fail "convert --to pytorch to stdout"
# Solid blocks (the default) against each artifact on its own: smaller,
# the same artifacts, and --solid-block 0 leaves the header flag clear for
# readers before solid blocks.
expect_exit 0 convert "$tmp/s.bin" "$tmp/alone.cpk" --solid-block 0
[ "$(wc -c <"$tmp/a.cpk")" -lt "$(wc -c <"$tmp/alone.cpk")" ] || fail "solid blocks did not shrink the bundle"
head -c 16 "$tmp/alone.cpk" | tail -c 4 | od -An -tx1 | grep -q "00 00 00 00" || fail "--solid-block 0 set a header flag"
head -c 16 "$tmp/a.cpk" | tail -c 4 | od -An -tx1 | grep -q "00 00 00 01" || fail "solid bundle without its header flag"
expect_exit 0 convert "$tmp/alone.cpk" "$tmp/alone.bin"
cmp -s "$tmp/s.bin" "$tmp/alone.bin" || fail "--solid-block 0: blob -> bundle -> blob changed bytes"
expect_exit 0 inspect --json "$tmp/a.cpk"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); b=d["solid_blocks"]; assert b["count"] >= 1 and 0 < b["stored_bytes"] < b["original_bytes"], b' \
  "$tmp/out" || fail "inspect --json solid_blocks: $(cat "$tmp/out")"
expect_exit 2 convert "$tmp/s.bin" "$tmp/x.cpk" --solid-block 100
expect_exit 0 convert "$tmp/s.bin" "$tmp/big-blocks.cpk" --solid-block 16MiB
expect_exit 0 verify "$tmp/big-blocks.cpk"
expect_exit 0 convert "$tmp/s.bin" "$tmp/c.bundle" --to cachepack --level 19 --dict
expect_exit 0 verify "$tmp/c.bundle"
expect_exit 0 verify --canonical-keys "$tmp/c.bundle"
grep -q "^ok: .*cachepack" "$tmp/out" || fail "verify of a bundle: $(cat "$tmp/out")"

# ls and inspect.
expect_exit 0 ls --json "$tmp/a.cpk"
python3 - "$tmp/out" <<'PY' || fail "ls --json of a bundle is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["format"] == "cachepack", doc["format"]
assert len(doc["artifacts"]) == 22, len(doc["artifacts"])
a = doc["artifacts"][0]
assert set(a) == {"type", "key", "size", "sha256", "registered"}, a
PY
expect_exit 0 inspect --json "$tmp/c.bundle"
python3 - "$tmp/out" <<'PY' || fail "inspect --json is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["format"] == "cachepack" and doc["header"]["version"] == 1
assert doc["entries"] == 22 and doc["signatures"] == []
assert doc["metadata"]["producer"] == "cachepack"
assert "creation_unix_seconds" not in doc["metadata"]
assert {t["type"] for t in doc["types"]} == {"inductor", "aot_autograd", "autotune", "pgo", "precompile"}
assert all(t["registered"] for t in doc["types"])
assert all(t["ratio"] > 0 for t in doc["types"])
PY
expect_exit 0 inspect "$tmp/a.cpk"
grep -q "^signatures: none" "$tmp/out" || fail "inspect text shows no signature state"

# cat: content of one artifact; absent is exit 1.
run ls --json "$tmp/a.cpk" >"$tmp/ls.json"
read -r type key sha < <(python3 -c "
import json,sys
a=json.load(open(sys.argv[1]))['artifacts'][0]
print(a['type'], a['key'], a['sha256'])" "$tmp/ls.json")
run cat "$tmp/a.cpk" "$type" "$key" >"$tmp/one" || fail "cat exited non-zero"
[ "$(sha256sum <"$tmp/one" | cut -d' ' -f1)" = "$sha" ] || fail "cat content differs from ls sha256"
expect_exit 1 cat "$tmp/a.cpk" "$type" "no-such-key"
grep -q "not found" "$tmp/err" || fail "cat of a missing key does not say not found"
# A 10,000-character key is cut short in the error, with its length.
long_key=$(head -c 10000 /dev/zero | tr '\0' k)
expect_exit 1 cat "$tmp/a.cpk" "$type" "$long_key"
[ "$(wc -c <"$tmp/err")" -lt 500 ] || fail "a long key is printed whole: $(wc -c <"$tmp/err") bytes of error"
grep -q "key \"kkkk*\.\.\.\" (10000 bytes)\]$" "$tmp/err" || fail "long key error: $(head -c 300 "$tmp/err")"

# Keys and signatures.
expect_exit 0 keygen --out "$tmp/k.pem"
[ -f "$tmp/k.pem.pub" ] || fail "keygen wrote no .pub"
grep -q "BEGIN PRIVATE KEY" "$tmp/k.pem" || fail "private key is not PEM"
expect_exit 1 keygen --out "$tmp/k.pem"
expect_exit 0 keygen --out "$tmp/other.pem"
expect_exit 1 verify "$tmp/a.cpk" --trusted-key "$tmp/k.pem.pub"
expect_exit 0 sign "$tmp/a.cpk" --key "$tmp/k.pem"
expect_exit 0 verify "$tmp/a.cpk" --trusted-key "$tmp/k.pem.pub"
expect_exit 1 verify "$tmp/a.cpk" --trusted-key "$tmp/other.pem.pub"
expect_exit 0 verify "$tmp/a.cpk" --trusted-key "$tmp/other.pem.pub" --trusted-key "$tmp/k.pem.pub"
expect_exit 1 verify "$tmp/s.bin" --trusted-key "$tmp/k.pem.pub"
expect_exit 0 convert "$tmp/s.bin" "$tmp/signed.cpk" --sign "$tmp/k.pem" --meta torch=2.5.1
expect_exit 0 verify "$tmp/signed.cpk" --trusted-key "$tmp/k.pem.pub"
expect_exit 0 cat "$tmp/signed.cpk" "$type" "$key" --trusted-key "$tmp/k.pem.pub"
expect_exit 1 cat "$tmp/signed.cpk" "$type" "$key" --trusted-key "$tmp/other.pem.pub"
# A flipped byte in the middle fails verification.
python3 - "$tmp/signed.cpk" "$tmp/flipped.cpk" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 1
open(sys.argv[2], "wb").write(b)
PY
expect_exit 1 verify "$tmp/flipped.cpk" --trusted-key "$tmp/k.pem.pub"

# Append: blobs and bundles; the signature must be renewed.
expect_exit 0 sample "$tmp/s2.bin" --seed 2
expect_exit 0 append "$tmp/signed.cpk" "$tmp/s2.bin" "$tmp/c.bundle"
expect_exit 1 verify "$tmp/signed.cpk" --trusted-key "$tmp/k.pem.pub"
expect_exit 0 verify "$tmp/signed.cpk"
expect_exit 0 ls --json "$tmp/signed.cpk"
python3 -c "import json,sys; n=len(json.load(open(sys.argv[1]))['artifacts']); assert n == 66, n" "$tmp/out" || fail "append count"
expect_exit 0 append "$tmp/signed.cpk" "$tmp/s2.bin" --sign "$tmp/k.pem" --dict
expect_exit 0 verify "$tmp/signed.cpk" --trusted-key "$tmp/k.pem.pub"

# Damage and misuse: exit 1 with a message, never a crash or hang.
# (b.cpk was never appended to or signed: no earlier version to fall back on.)
size=$(stat -c %s "$tmp/b.cpk")
for cut in 0 7 16 100 $((size / 2)) $((size - 1)); do
  head -c "$cut" "$tmp/b.cpk" >"$tmp/cut.cpk"
  expect_exit 1 inspect "$tmp/cut.cpk"
  expect_exit 1 verify "$tmp/cut.cpk"
done
expect_exit 1 append "$tmp/a.cpk" "$tmp/missing.bin"
expect_exit 1 convert "$tmp/missing.bin" "$tmp/x.cpk"
# An interrupted sign (footer cut off): no reader falls back to the unsigned
# version on its own.
size=$(stat -c %s "$tmp/a.cpk")
head -c $((size - 1)) "$tmp/a.cpk" >"$tmp/cut.cpk"
expect_exit 1 inspect "$tmp/cut.cpk"
grep -q "intact footer at offset" "$tmp/err" || fail "inspect does not name the intact footer: $(cat "$tmp/err")"
expect_exit 1 verify "$tmp/cut.cpk"
# A damaged magic is a damaged bundle, whatever the command: one answer to
# "is this a bundle?" (is_bundle), never the blob parser's CRC mismatch.
python3 - "$tmp/b.cpk" "$tmp" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
first = bytearray(b); first[0] ^= 1
two = bytearray(b); two[2] ^= 0x20; two[5] ^= 0x20
wiped = bytearray(b); wiped[0:8] = bytes(8)
for name, data in (("magic0", first), ("magic2", two), ("wiped", wiped)):
    open(f"{sys.argv[2]}/{name}.cpk", "wb").write(data)
PY
for case in magic0:0 magic2:2 wiped:0; do
  f="$tmp/${case%%:*}.cpk" at=${case##*:}
  for cmd in "ls $f" "ls --json $f" "verify $f" "inspect $f" "convert $f $tmp/m.bin" "convert $f $tmp/m.cpk" "populate $f mem://" "pack $f $tmp/m2.cpk" "append $tmp/a.cpk $f"; do
    # shellcheck disable=SC2086
    expect_exit 1 $cmd
    grep -q "^cachepack: data loss (bad magic): damaged bundle: .*\[file $f, offset $at\]" "$tmp/err" \
      || fail "$cmd: $(cat "$tmp/err")"
  done
done
expect_exit 2 convert "$tmp/s.bin" "$tmp/x.cpk" --to zip
expect_exit 2 convert "$tmp/s.bin" "$tmp/x.cpk" --level 99

V="${CACHEPACK_VECTORS:-}"
if [ -n "$V" ] && [ -d "$V" ]; then
  for name in empty one_artifact all_types large appended_two_saves; do
    expect_exit 0 convert "$V/$name.bin" "$tmp/$name.cpk"
    expect_exit 0 convert "$tmp/$name.cpk" "$tmp/$name.back" --to pytorch
    cmp -s "$V/$name.bin" "$tmp/$name.back" || fail "$name does not round-trip byte for byte"
  done
  expect_exit 1 convert "$V/quirk_noncanonical_base64_key.bin" "$tmp/q.cpk"
  expect_exit 0 convert "$V/quirk_noncanonical_base64_key.bin" "$tmp/q.cpk" --lenient-base64
  expect_exit 1 convert "$V/corrupt_unknown_type.bin" "$tmp/u.cpk" --strict-types
  expect_exit 0 convert "$V/corrupt_unknown_type.bin" "$tmp/u.cpk"
  expect_exit 0 verify --canonical-keys "$tmp/u.cpk"  # No rules known to break.
  expect_exit 1 verify --strict-types "$tmp/u.cpk"
  expect_exit 0 inspect --json "$tmp/u.cpk"
  python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["types"]; assert [x["registered"] for x in t] == [False], t' "$tmp/out" || fail "inspect --json does not mark the type unregistered"
  expect_exit 1 inspect --strict-types "$tmp/u.cpk"
  cp "$tmp/a.cpk" "$tmp/grow.cpk"
  expect_exit 0 append "$tmp/grow.cpk" "$V/corrupt_unknown_type.bin"
  expect_exit 1 append "$tmp/grow.cpk" "$tmp/u.cpk" --strict-types
  expect_exit 0 pack "$tmp/u.cpk" "$tmp/u-packed.cpk"
  expect_exit 1 pack "$tmp/u.cpk" "$tmp/u-strict.cpk" --strict-types
  expect_exit 0 convert "$tmp/u.cpk" "$tmp/u.bin"
  cmp -s "$V/corrupt_unknown_type.bin" "$tmp/u.bin" || fail "unknown-type blob does not round-trip"
  for bad in corrupt_crc_byte_flipped corrupt_truncated corrupt_length_overrun_valid_crc corrupt_too_short; do
    expect_exit 1 convert "$V/$bad.bin" "$tmp/bad.cpk"
  done
else
  echo "note: CACHEPACK_VECTORS unset; vector round trips skipped"
fi

finish "bundle CLI checks"
