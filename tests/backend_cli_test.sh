#!/usr/bin/env bash
# End-to-end checks of populate, pack, stats and gc: a sample blob goes into
# a PyTorch cache directory and a disk cache and comes back out; bad input
# gets exit 1 (failed) or 2 (usage) with a message.
source "$(dirname "$0")/cli_lib.sh" "$1"

expect_exit 0 sample "$tmp/s.bin"

# Populate a PyTorch cache directory: files land in PyTorch's layout.
expect_exit 0 populate "$tmp/s.bin" "torch://$tmp/torch" --threads 3
grep -q "^ok: 22 stored, 0 skipped, 0 failed" "$tmp/out" || fail "populate summary: $(tail -1 "$tmp/out")"
ls "$tmp"/torch/fxgraph/*/*/* >/dev/null 2>&1 || fail "no fxgraph entries"
ls "$tmp"/torch/aotautograd/*/* >/dev/null 2>&1 || fail "no aotautograd entries"
ls "$tmp"/torch/dynamo/code_state_*.pkl >/dev/null 2>&1 || fail "no pgo entry"
ls "$tmp"/torch/*/*.best_config >/dev/null 2>&1 || fail "no autotune entries"
# --progress reports on stderr and ends at the total.
expect_exit 0 populate "$tmp/s.bin" "mem://" --progress
grep -q "22/22 artifacts" "$tmp/err" || fail "no final progress line: $(cat "$tmp/err")"
# Again with skip-existing: nothing rewritten.
expect_exit 0 populate "$tmp/s.bin" "torch://$tmp/torch"
grep -q "^ok: 0 stored, 22 skipped" "$tmp/out" || fail "second populate: $(tail -1 "$tmp/out")"
expect_exit 0 populate "$tmp/s.bin" "torch://$tmp/torch" --policy verify
grep -q "^ok: 22 stored" "$tmp/out" || fail "verify populate: $(tail -1 "$tmp/out")"

# Pack the directory back into a blob: same artifacts, PGO key sanitised.
expect_exit 0 pack "torch://$tmp/torch" "$tmp/packed.bin"
expect_exit 0 ls --json "$tmp/s.bin"
mv "$tmp/out" "$tmp/orig.json"
expect_exit 0 ls --json "$tmp/packed.bin"
python3 - "$tmp/orig.json" "$tmp/out" <<'PY' || fail "packed artifacts differ from the sample's"
import json, re, sys
def ids(path, sanitise):
    out = set()
    for a in json.load(open(path))["artifacts"]:
        key = a["key"]
        if sanitise and a["type"] == "pgo":
            key = re.sub(r'[<>:"/\\|?*]', "_", key)
        out.add((a["type"], key, a["sha256"]))
    return out
orig, packed = ids(sys.argv[1], True), ids(sys.argv[2], False)
assert orig == packed, (orig ^ packed)
PY

# Several populates racing on one directory end consistent, no temp files.
for i in 1 2 3; do
  run populate "$tmp/s.bin" "torch://$tmp/race" --policy overwrite --quiet >"$tmp/race$i.out" 2>&1 &
done
wait
for i in 1 2 3; do
  [ -s "$tmp/race$i.out" ] && fail "racing populate $i printed: $(cat "$tmp/race$i.out")"
done
[ -z "$(find "$tmp/race" -name '*.tmp')" ] || fail "temp files left behind"
expect_exit 0 pack "torch://$tmp/race" "$tmp/race.bin"
grep -q "packed 22 artifacts" "$tmp/out" || fail "race pack: $(cat "$tmp/out")"

# Disk cache: stats, gc, then empty.
expect_exit 0 populate "$tmp/s.bin" "file://$tmp/disk"
expect_exit 0 stats "file://$tmp/disk"
grep -q "^total: 22 entries" "$tmp/out" || fail "stats: $(cat "$tmp/out")"
expect_exit 0 stats --json "file://$tmp/disk"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["entries"]==22 and len(d["types"])==5, d' "$tmp/out" || fail "stats --json"
expect_exit 0 gc "file://$tmp/disk" --max-size 100K
expect_exit 0 stats --json "file://$tmp/disk"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert 0 < d["bytes"] <= 100*1024, d' "$tmp/out" || fail "gc did not trim to 100K"
expect_exit 0 gc "file://$tmp/disk" --max-size 0
expect_exit 0 stats "file://$tmp/disk"
grep -q "^total: 0 entries" "$tmp/out" || fail "gc to 0 left entries"

# Errors.
expect_exit 2 populate "$tmp/s.bin" "file://$tmp/disk" --policy sometimes
expect_exit 2 gc "file://$tmp/disk" --max-size 12Q
expect_exit 2 pack "$tmp/only-one-arg.bin"
expect_exit 1 populate "$tmp/s.bin" "nosuch://x"
grep -q "unknown scheme" "$tmp/err" || fail "unknown scheme message: $(cat "$tmp/err")"
expect_exit 1 populate "$tmp/s.bin" "file://relative/path"
grep -q "file:///absolute/path" "$tmp/err" || fail "bad file URL message: $(cat "$tmp/err")"
expect_exit 1 gc "torch://$tmp/torch" --max-size 1G
expect_exit 1 populate "$tmp/missing.bin" "mem://"
grep -q "missing.bin" "$tmp/err" || fail "missing input not named"
head -c 100 "$tmp/s.bin" >"$tmp/cut.bin"
expect_exit 1 populate "$tmp/cut.bin" "mem://"

# Bundles: populate from a signed bundle only with a trusted key; pack to .cpk.
expect_exit 0 keygen --out "$tmp/key"
expect_exit 0 keygen --out "$tmp/other"
expect_exit 0 convert "$tmp/s.bin" "$tmp/signed.cpk" --sign "$tmp/key"
expect_exit 0 convert "$tmp/s.bin" "$tmp/unsigned.cpk"
expect_exit 0 populate "$tmp/signed.cpk" "torch://$tmp/trusted" --trusted-key "$tmp/key.pub"
grep -q "^ok: 22 stored" "$tmp/out" || fail "populate signed bundle: $(tail -1 "$tmp/out")"
expect_exit 1 populate "$tmp/signed.cpk" "torch://$tmp/untrusted" --trusted-key "$tmp/other.pub"
grep -q "permission denied (signature)" "$tmp/err" || fail "untrusted key: $(cat "$tmp/err")"
expect_exit 1 populate "$tmp/unsigned.cpk" "torch://$tmp/untrusted" --trusted-key "$tmp/key.pub"
expect_exit 1 populate "$tmp/s.bin" "torch://$tmp/untrusted" --trusted-key "$tmp/key.pub"
[ ! -e "$tmp/untrusted/fxgraph" ] || fail "a refused populate wrote artifacts"
expect_exit 0 populate "$tmp/unsigned.cpk" "mem://"
grep -q "^ok: 22 stored" "$tmp/out" || fail "populate unsigned bundle: $(tail -1 "$tmp/out")"
expect_exit 0 pack "torch://$tmp/trusted" "$tmp/back.cpk"
expect_exit 0 verify "$tmp/back.cpk"
expect_exit 0 ls --json "$tmp/back.cpk"
python3 - "$tmp/out" "$tmp/orig.json" <<'PY' || fail "pack to .cpk lost or changed artifacts"
import json, sys
got = json.load(open(sys.argv[1])); want = json.load(open(sys.argv[2]))
assert got["format"] == "cachepack"
def ids(doc):
    return sorted((a["type"], a["sha256"], a["size"]) for a in doc["artifacts"])
assert ids(got) == ids(want)
PY
# pack --threads compresses on more threads and writes the same bytes (bundles
# are deterministic); --level and --solid-block reach the writer; a blob OUT,
# which is never compressed, refuses them rather than ignoring them.
expect_exit 0 pack "torch://$tmp/trusted" "$tmp/threads.cpk" --threads 2
cmp -s "$tmp/back.cpk" "$tmp/threads.cpk" || fail "pack --threads 2 wrote other bytes than one thread"
expect_exit 0 inspect --json "$tmp/threads.cpk"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["solid_blocks"]["count"] >= 1' \
  "$tmp/out" || fail "pack made no solid block: $(cat "$tmp/out")"
expect_exit 0 pack "torch://$tmp/trusted" "$tmp/alone.cpk" --level 9 --solid-block 0
expect_exit 0 inspect --json "$tmp/alone.cpk"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["solid_blocks"]["count"] == 0' \
  "$tmp/out" || fail "pack --solid-block 0 made blocks: $(cat "$tmp/out")"
expect_exit 1 pack "torch://$tmp/trusted" "$tmp/refused.bin" --threads 2
grep -q "a PyTorch Mega-Cache blob is not" "$tmp/err" || fail "pack to a blob with --threads: $(cat "$tmp/err")"
[ ! -e "$tmp/refused.bin" ] || fail "pack to a blob with --threads wrote it"
expect_exit 1 convert "$tmp/unsigned.cpk" "$tmp/refused.bin" --level 9
grep -q "a PyTorch Mega-Cache blob is not" "$tmp/err" || fail "convert to a blob with --level: $(cat "$tmp/err")"

finish "backend CLI checks"
