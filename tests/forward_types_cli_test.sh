#!/usr/bin/env bash
# A packaging tool must never make a cache unreadable because PyTorch added
# a type: artifacts of types cachepack does not know are carried unchanged
# by every command and marked unregistered; --strict-types refuses them;
# torch:// populate skips them (and the in-process types of newer PyTorch)
# with one line per type and exit 0.
source "$(dirname "$0")/cli_lib.sh" "$1"

python3 - "$tmp/mixed.bin" <<'PY'
import base64, hashlib, struct, sys, zlib
def s(x): b = base64.b64encode(x.encode()); return struct.pack(">Q", len(b)) + b
def b(x): return struct.pack(">Q", len(x)) + x
def group(t, items):
    out = s(t) + struct.pack(">Q", len(items))
    for k, c in items: out += s(k) + b(c)
    return out
kernels = b"TORCH_TRITON_RUNTIME_CACHE\0 runtime kernels"
cpp = b"\x80\x04 pickled dict of .so files"
body = struct.pack(">Q", 1)
body += group("inductor", [("f" + "q" * 51, b"graph")])
body += group("triton_runtime", [(hashlib.sha256(kernels).hexdigest(), kernels)])
body += group("inductor_cpp", [(hashlib.sha256(cpp).hexdigest(), cpp)])
body += group("from_the_future", [("k1", b"new"), ("k2", b"newer")])
open(sys.argv[1], "wb").write(struct.pack(">I", zlib.crc32(body)) + body)
PY

expect_exit 0 verify "$tmp/mixed.bin"
grep -q "2 artifacts of types cachepack does not know, carried unchanged: from_the_future" "$tmp/out" || fail "verify: $(cat "$tmp/out")"
expect_exit 0 ls --json "$tmp/mixed.bin"
python3 - "$tmp/out" <<'PY' || fail "ls --json marks the wrong types unregistered"
import json, sys
a = json.load(open(sys.argv[1]))["artifacts"]
assert [(x["type"], x["registered"]) for x in a] == [
    ("inductor", True), ("triton_runtime", True), ("inductor_cpp", True),
    ("from_the_future", False), ("from_the_future", False)], a
PY
expect_exit 1 ls --strict-types "$tmp/mixed.bin"
grep -q "from_the_future" "$tmp/err" || fail "strict ls does not name the type"

# Carried by convert both ways, byte for byte, and by inspect.
expect_exit 0 convert "$tmp/mixed.bin" "$tmp/mixed.cpk"
expect_exit 0 convert "$tmp/mixed.cpk" "$tmp/back.bin"
cmp -s "$tmp/mixed.bin" "$tmp/back.bin" || fail "blob -> bundle -> blob changed bytes"
expect_exit 1 convert "$tmp/mixed.bin" "$tmp/strict.cpk" --strict-types
expect_exit 0 inspect "$tmp/mixed.cpk"
grep -q "from_the_future (unregistered): 2 entries" "$tmp/out" || fail "inspect: $(cat "$tmp/out")"

# torch://: in-process and unknown types skipped, one line each, exit 0.
expect_exit 0 populate "$tmp/mixed.cpk" "torch://$tmp/torch"
grep -q "^ok: 1 stored, 4 skipped, 0 failed" "$tmp/out" || fail "torch populate: $(cat "$tmp/out")"
grep -q "^cachepack: no PyTorch layout known for type from_the_future: 2 skipped$" "$tmp/err" || fail "unknown-type skip line: $(cat "$tmp/err")"
grep -q "^cachepack: PyTorch keeps triton_runtime artifacts in memory.*load_cache_artifacts.*: 1 skipped$" "$tmp/err" || fail "triton_runtime skip line: $(cat "$tmp/err")"
grep -q "^cachepack: PyTorch keeps inductor_cpp artifacts in memory.*: 1 skipped$" "$tmp/err" || fail "inductor_cpp skip line: $(cat "$tmp/err")"
[ "$(grep -c "skipped$" "$tmp/err")" = 3 ] || fail "not one line per type: $(cat "$tmp/err")"
expect_exit 1 populate "$tmp/mixed.cpk" "torch://$tmp/torch2" --strict-types

# Other backends carry every type; pack brings them back unchanged.
expect_exit 0 populate "$tmp/mixed.cpk" "file://$tmp/disk"
grep -q "^ok: 5 stored, 0 skipped, 0 failed" "$tmp/out" || fail "file populate: $(cat "$tmp/out")"
expect_exit 0 pack "file://$tmp/disk" "$tmp/packed.bin"
expect_exit 0 ls --json "$tmp/packed.bin"
python3 - "$tmp/out" <<'PY' || fail "pack from file:// lost a type"
import json, sys
a = json.load(open(sys.argv[1]))["artifacts"]
assert sorted({x["type"] for x in a}) == ["from_the_future", "inductor", "inductor_cpp", "triton_runtime"], a
assert len(a) == 5, a
PY
expect_exit 1 pack "file://$tmp/disk" "$tmp/strict.bin" --strict-types

finish "forward-compatible types"
