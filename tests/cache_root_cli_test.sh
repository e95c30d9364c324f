#!/usr/bin/env bash
# Regression tests, through the real binary, for what a hostile cache root
# did to cachepack (docs/SECURITY.md): links below the root were followed by
# gc, populate and pack, a FIFO hung pack, an inductor key escaped fxgraph/,
# crashed writers' temp files stayed forever or were deleted by readers, and
# populate held whole entries in memory.
source "$(dirname "$0")/cli_lib.sh" "$1"

outside="$tmp/outside"
mkdir -p "$outside"
echo "not yours" >"$outside/secret"
outside_unchanged() {
  [ "$(ls -A "$outside")" = "secret" ] && [ "$(cat "$outside/secret")" = "not yours" ]
}

expect_exit 0 sample "$tmp/s.bin"
expect_exit 0 convert "$tmp/s.bin" "$tmp/s.cpk"

# 1. gc must not delete through a linked objects/ or shard directory.
mkdir -p "$tmp/disk1"
ln -s "$outside" "$tmp/disk1/objects"
expect_exit 1 gc "file://$tmp/disk1" --max-size 10G
grep -q "unsafe path" "$tmp/err" || fail "gc on a linked objects/: $(cat "$tmp/err")"
outside_unchanged || fail "gc deleted or changed files outside the root"
expect_exit 0 populate "$tmp/s.bin" "file://$tmp/disk2"
shard=$(find "$tmp/disk2/objects" -mindepth 2 -maxdepth 2 -type d | head -1)
mv "$shard" "$tmp/moved-shard"
ln -s "$outside" "$shard"
expect_exit 0 gc "file://$tmp/disk2" --max-size 0
grep -q "warning: skipped $shard" "$tmp/err" || fail "gc did not report the linked shard: $(cat "$tmp/err")"
outside_unchanged || fail "gc deleted files in a linked shard's target"

# 2. populate must not write through linked type directories or lock files.
for linked in fxgraph aotautograd dynamo; do
  root="$tmp/t-$linked"
  mkdir -p "$root"
  ln -s "$outside" "$root/$linked"
  expect_exit 1 populate "$tmp/s.cpk" "torch://$root"
  grep -q "unsafe path.*$root/$linked" "$tmp/err" || fail "populate through $linked: $(head -3 "$tmp/err")"
  outside_unchanged || fail "populate wrote through a linked $linked/"
done
mkdir -p "$tmp/t-lock/dynamo"
expect_exit 0 ls --json "$tmp/s.bin"
pgo_file=$(python3 -c "
import json, re, sys
a = [a for a in json.load(open(sys.argv[1]))['artifacts'] if a['type'] == 'pgo'][0]
print('code_state_' + re.sub(r'[<>:\"/\\\\|?*]', '_', a['key']) + '.pkl')" "$tmp/out")
ln -s "$outside/created-by-lock" "$tmp/t-lock/dynamo/$pgo_file.lock"
expect_exit 1 populate "$tmp/s.cpk" "torch://$tmp/t-lock"
outside_unchanged || fail "populate created a file through a linked PGO lock"
mkdir -p "$tmp/d-lock/locks"
for i in $(seq 0 255); do ln -s "$outside/lock$i" "$tmp/d-lock/locks/$(printf %02x "$i").lock"; done
expect_exit 1 populate "$tmp/s.cpk" "file://$tmp/d-lock"
outside_unchanged || fail "populate created lock files outside a file:// root"

# 3. pack must not read through links: /etc/passwd-like files, directories.
expect_exit 0 populate "$tmp/s.cpk" "torch://$tmp/t3"
fx_dir=$(find "$tmp/t3/fxgraph" -mindepth 2 -maxdepth 2 -type d | head -1)
ln -s "$outside/secret" "$fx_dir/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
ln -s "$outside/secret" "$tmp/t3/dynamo/code_state_stolen.pkl"
ln -s "$outside" "$tmp/t3/aotautograd/a$(printf 'x%.0s' $(seq 51))"
expect_exit 0 pack "torch://$tmp/t3" "$tmp/p3.cpk"
grep -q "warning: skipped .*code_state_stolen.pkl: is a symbolic link" "$tmp/err" || fail "pack did not report a linked entry: $(cat "$tmp/err")"
expect_exit 0 ls --json "$tmp/p3.cpk"
secret_sha=$(sha256sum <"$outside/secret" | cut -d' ' -f1)
grep -q "$secret_sha" "$tmp/out" && fail "pack carried a file from outside the root"
grep -q "stolen" "$tmp/out" && fail "pack exported a linked PGO file"

# 4. An inductor key whose [1:3] is '..' is refused, and what populate
# stores is exactly what pack exports.
python3 - "$tmp/dots.bin" <<'PY'
import base64, struct, sys, zlib
def s(x): b = base64.b64encode(x.encode()); return struct.pack(">Q", len(b)) + b
def b(x): return struct.pack(">Q", len(x)) + x
body = struct.pack(">Q", 1) + s("inductor") + struct.pack(">Q", 2)
body += s("f..abc") + b(b"escapes") + s("f" + "q" * 51) + b(b"fine")
open(sys.argv[1], "wb").write(struct.pack(">I", zlib.crc32(body)) + body)
PY
expect_exit 1 populate "$tmp/dots.bin" "torch://$tmp/t4/cache"
grep -q 'invalid key.*key "f..abc"' "$tmp/err" || fail "f..abc not refused by name: $(cat "$tmp/err")"
[ -e "$tmp/t4/f..abc" ] && fail "f..abc escaped fxgraph/"
grep -q "1 stored, 0 skipped, 1 failed" "$tmp/out" || fail "dots populate summary: $(cat "$tmp/out")"
expect_exit 0 pack "torch://$tmp/t4/cache" "$tmp/p4.bin"
grep -q "packed 1 artifacts" "$tmp/out" || fail "pack of the populated dir: $(cat "$tmp/out")"

# 9. A FIFO (or a directory) among entries neither hangs nor fails export.
expect_exit 0 populate "$tmp/s.cpk" "torch://$tmp/t9"
mkfifo "$tmp/t9/dynamo/code_state_fifo.pkl"
mkdir -p "$tmp/t9/dynamo/$(printf 'f%.0s' $(seq 64))"
mkfifo "$tmp/t9/dynamo/$(printf 'f%.0s' $(seq 64))/entry"
fx_dir=$(find "$tmp/t9/fxgraph" -mindepth 2 -maxdepth 2 -type d | head -1)
mkdir "$fx_dir/$(printf 'd%.0s' $(seq 51))"
expect_exit 0 pack "torch://$tmp/t9" "$tmp/p9.cpk"
grep -q "FIFO" "$tmp/err" || fail "pack did not report the FIFO: $(cat "$tmp/err")"
expect_exit 0 stats "torch://$tmp/t9"
expect_exit 0 verify "$tmp/p9.cpk"

# 10. Temp files: the next writer removes those of writers that exited,
# readers never remove anything.
expect_exit 0 populate "$tmp/s.cpk" "file://$tmp/d10"
sleep 0.01 & dead=$!; wait $dead
sleep 30 & live=$!
host=$(hostname)
echo partial >"$tmp/d10/tmp/aaa.cpk~$dead~$host~1.tmp"
echo writing >"$tmp/d10/tmp/bbb.cpk~$live~$host~2.tmp"
expect_exit 0 stats "file://$tmp/d10?temp_max_age_s=0"
[ -e "$tmp/d10/tmp/aaa.cpk~$dead~$host~1.tmp" ] || fail "a read-only stats removed a temp file"
expect_exit 0 populate "$tmp/s.cpk" "file://$tmp/d10" --policy overwrite
[ -e "$tmp/d10/tmp/aaa.cpk~$dead~$host~1.tmp" ] && fail "the next writer left a dead writer's temp file"
[ -e "$tmp/d10/tmp/bbb.cpk~$live~$host~2.tmp" ] || fail "the next writer removed a live writer's temp file"
key_dir=$(find "$tmp/t3/aotautograd" -mindepth 1 -maxdepth 1 -type d | head -1)
echo partial >"$key_dir/.entry.cpk~$dead~$host~3.tmp"
expect_exit 0 populate "$tmp/s.cpk" "torch://$tmp/t3" --policy overwrite
[ -e "$key_dir/.entry.cpk~$dead~$host~3.tmp" ] && fail "torch:// left a dead writer's temp file"
kill $live 2>/dev/null

# 7. populate streams: five 200 MiB entries (a 33 KB bundle) go into file://
# and torch:// with bounded memory, and mem:// under an address-space limit
# fails with a typed error instead of aborting.
python3 - "$tmp/big.bin" <<'PY'
import base64, struct, sys, zlib
def s(x): b = base64.b64encode(x.encode()); return struct.pack(">Q", len(b)) + b
size = 200 << 20
zeros = bytes(1 << 20)
with open(sys.argv[1], "wb") as f:
    body = struct.pack(">Q", 1) + s("precompile") + struct.pack(">Q", 5)
    f.write(b"\0\0\0\0" + body)
    crc = zlib.crc32(body)
    for i in range(5):
        head = s("%064x" % i) + struct.pack(">Q", size)
        f.write(head)
        crc = zlib.crc32(head, crc)
        for _ in range(size >> 20):
            f.write(zeros)
            crc = zlib.crc32(zeros, crc)
    f.seek(0)
    f.write(struct.pack(">I", crc))
PY
expect_exit 0 convert "$tmp/big.bin" "$tmp/big.cpk"
rm -f "$tmp/big.bin"
peak_kib() {  # peak_kib ARGS...: runs cachepack, prints its peak RSS in KiB.
  /usr/bin/time -f "%M" -o "$tmp/rss" "$CP" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [ "$rc" -eq 0 ] || fail "cachepack $* exited $rc: $(head -c 300 "$tmp/err")"
  cat "$tmp/rss"
}
for url in "file://$tmp/big-disk" "torch://$tmp/big-torch"; do
  kib=$(peak_kib populate "$tmp/big.cpk" "$url")
  echo "populate of 5 x 200 MiB into ${url%%:*}://: peak RSS $((kib / 1024)) MiB"
  [ "$kib" -lt $((128 * 1024)) ] || fail "populate into $url peaked at $((kib / 1024)) MiB (limit 128)"
done
kib=$(peak_kib pack "$tmp/big.cpk" "$tmp/big-packed.cpk")
echo "pack of 5 x 200 MiB from a bundle: peak RSS $((kib / 1024)) MiB"
[ "$kib" -lt $((128 * 1024)) ] || fail "pack from a bundle peaked at $((kib / 1024)) MiB (limit 128)"
expect_exit 0 verify "$tmp/big-packed.cpk"
rm -rf "$tmp/big-disk" "$tmp/big-torch" "$tmp/big-packed.cpk"
prlimit --as=$((700 << 20)) "$CP" populate "$tmp/big.cpk" mem:// >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] || fail "mem:// populate under a 700 MB limit exited $rc (want 1): $(tail -2 "$tmp/err")"
grep -q "resource exhausted" "$tmp/err" || fail "no typed out-of-memory error: $(tail -2 "$tmp/err")"

finish "cache root safety"
