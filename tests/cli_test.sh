#!/usr/bin/env bash
# End-to-end checks of the cachepack CLI: exit codes (0 ok, 1 failed, 2
# usage), `ls --json` against PyTorch's manifests, typed errors on corrupt
# blobs, and no hang or crash on any input.
source "$(dirname "$0")/cli_lib.sh" "$1"

# Usage errors exit 2.
expect_exit 2
expect_exit 2 ls
expect_exit 2 frobnicate
expect_exit 2 ls --no-such-flag x
# A missing file is a failed operation with a message naming it.
expect_exit 1 ls "$tmp/missing.bin"
grep -q "missing.bin" "$tmp/err" || fail "missing-file error does not name the file"

# The sample blob lists, verifies and is deterministic.
expect_exit 0 sample "$tmp/a.bin"
expect_exit 0 sample "$tmp/b.bin"
cmp -s "$tmp/a.bin" "$tmp/b.bin" || fail "sample is not deterministic"
expect_exit 0 verify "$tmp/a.bin"
grep -q "^ok: " "$tmp/out" || fail "verify summary missing"
expect_exit 0 verify --canonical-keys "$tmp/a.bin"
expect_exit 0 ls --json "$tmp/a.bin"
python3 - "$tmp/out" <<'PY' || fail "ls --json of the sample is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["format"] == "pytorch-megacache", doc["format"]
types = {a["type"] for a in doc["artifacts"]}
assert types == {"inductor", "aot_autograd", "autotune", "pgo", "precompile"}, types
assert all(len(a["sha256"]) == 64 and a["size"] >= 0 for a in doc["artifacts"])
assert all(a["registered"] is True for a in doc["artifacts"])
PY
expect_exit 0 ls "$tmp/a.bin"
[ "$(wc -l <"$tmp/out")" -eq 22 ] || fail "ls prints one line per artifact"

# Garbage never hangs or crashes: every outcome is exit 0 or 1.
for i in $(seq 1 40); do
  head -c $((RANDOM % 300)) /dev/urandom >"$tmp/junk.bin"
  run verify --lenient-base64 "$tmp/junk.bin" >/dev/null 2>&1
  rc=$?
  [ $rc -le 1 ] || fail "junk input $i: exit $rc"
done

V="${CACHEPACK_VECTORS:-}"
if [ -n "$V" ] && [ -d "$V" ]; then
  for name in empty one_artifact all_types large appended_two_saves; do
    expect_exit 0 ls --json "$V/$name.bin"
    python3 - "$tmp/out" "$V/$name.json" <<'PY' || fail "ls --json $name differs from its manifest"
import json, sys
got = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))
assert got["format"] == "pytorch-megacache"
g = [(a["type"], a["key"], a["size"], a["sha256"]) for a in got["artifacts"]]
w = [(a["type"], bytes.fromhex(a["key_utf8_hex"]).decode(), a["content_size"], a["content_sha256"]) for a in want["artifacts"]]
assert g == w, (g[:3], w[:3])
PY
  done
  for c in crc_byte_flipped payload_bit_flipped truncated too_short bad_version invalid_utf8_key length_overrun_valid_crc; do
    expect_exit 1 verify "$V/corrupt_$c.bin"
    grep -qE "^cachepack: (data loss|unsupported) \(" "$tmp/err" || fail "corrupt_$c: untyped error: $(cat "$tmp/err")"
    grep -q "offset" "$tmp/err" || fail "corrupt_$c: error names no offset"
    expect_exit 1 ls --json "$V/corrupt_$c.bin"
    # Under --json a failure is one error object on stdout (docs/CLI.md).
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["ok"] is False and d["error"]["code"] in ("data_loss", "unimplemented") and "offset" in d["error"], d' "$tmp/out" ||
      fail "corrupt_$c: ls --json error object: $(head -c 300 "$tmp/out")"
  done
  grep -q "length overrun" <(run verify "$V/corrupt_length_overrun_valid_crc.bin" 2>&1) || fail "overrun not reported as such"
  expect_exit 1 verify "$V/quirk_noncanonical_base64_key.bin"
  expect_exit 0 verify --lenient-base64 "$V/quirk_noncanonical_base64_key.bin"
  expect_exit 0 ls --lenient-base64 "$V/quirk_noncanonical_base64_key.bin"
  grep -q "main/quirk-136956" "$tmp/out" || fail "lenient key decoding"
  expect_exit 0 verify "$V/quirk_trailing_zero_group.bin"
  # A type PyTorch added after cachepack was built is carried, marked
  # unregistered; --strict-types refuses it.
  expect_exit 0 verify "$V/corrupt_unknown_type.bin"
  grep -q "types cachepack does not know, carried unchanged: not_a_registered_type_main" "$tmp/out" || fail "verify does not name the unregistered type: $(cat "$tmp/out")"
  expect_exit 1 verify --strict-types "$V/corrupt_unknown_type.bin"
  grep -q "unknown type.*not_a_registered_type_main.*offset 12" "$tmp/err" || fail "strict verify: $(cat "$tmp/err")"
  expect_exit 0 ls --json "$V/corrupt_unknown_type.bin"
  python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["artifacts"]; assert a and all(x["registered"] is False for x in a), a' "$tmp/out" || fail "ls --json does not mark the type unregistered"
  expect_exit 0 ls "$V/corrupt_unknown_type.bin"
  grep -q "	unregistered$" "$tmp/out" || fail "ls does not mark the type unregistered: $(cat "$tmp/out")"
  expect_exit 1 ls --strict-types "$V/corrupt_unknown_type.bin"
else
  echo "SKIP vector checks: CACHEPACK_VECTORS is not set (run tools/test.sh)"
fi

# --version prints the version bundles record as their producer's.
expect_exit 0 --version
grep -qx "cachepack [0-9][0-9.]*" "$tmp/out" || fail "--version: $(cat "$tmp/out")"

finish "CLI checks"
