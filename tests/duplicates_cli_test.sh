#!/usr/bin/env bash
# One rule for a (type, key) stored more than once, e.g. by an append that
# adds a newer artifact under an old key: the newest (last stored) wins in
# every command. cat returns it; ls lists every stored entry in stored
# order, so the newest is the last line for that key; inspect counts the
# shadowed ones; convert (to a bundle or a blob) and pack keep the order, so
# what they write resolves to the newest too.
source "$(dirname "$0")/cli_lib.sh" "$1"
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# The sha256 of the last listed artifact with this key, from `ls` output.
last_sha() { awk -F'\t' -v k="$2" '$2 == k { s = $4 } END { print s }' "$1"; }

write_blob "$tmp/v1.bin" pgo "job:0:tag" old pgo "job:1:tag" kept
write_blob "$tmp/v2.bin" pgo "job:0:tag" new
expect_exit 0 convert "$tmp/v1.bin" "$tmp/d.cpk"
expect_exit 0 append "$tmp/d.cpk" "$tmp/v2.bin"
expect_exit 0 verify "$tmp/d.cpk"

expect_exit 0 cat "$tmp/d.cpk" pgo "job:0:tag"
[ "$(cat "$tmp/out")" = new ] || fail "cat returned '$(cat "$tmp/out")', not the newest"
expect_exit 0 ls "$tmp/d.cpk"
[ "$(wc -l <"$tmp/out")" -eq 3 ] || fail "ls lists $(wc -l <"$tmp/out") stored entries, want 3"
[ "$(last_sha "$tmp/out" "job:0:tag")" = "$(sha new)" ] || fail "ls: the last line for the key is not the newest"
expect_exit 0 ls --json "$tmp/d.cpk"
python3 - "$tmp/out" "$(sha new)" <<'PY' || fail "ls --json: the newest is not the last for its key"
import json, sys
arts = [a for a in json.load(open(sys.argv[1]))["artifacts"] if a["key"] == "job:0:tag"]
assert len(arts) == 2 and arts[-1]["sha256"] == sys.argv[2], arts
PY
expect_exit 0 inspect --json "$tmp/d.cpk"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['entries'] == 3 and d['shadowed_entries'] == 1, d" "$tmp/out" \
  || fail "inspect --json does not count the shadowed entry"
expect_exit 0 inspect "$tmp/d.cpk"
grep -q "^shadowed: 1 entries" "$tmp/out" || fail "inspect does not say an entry is shadowed"

# What convert and pack write resolves to the newest as well.
expect_exit 0 convert "$tmp/d.cpk" "$tmp/copy.cpk"
expect_exit 0 pack "$tmp/d.cpk" "$tmp/packed.cpk"
for f in copy packed; do
  expect_exit 0 cat "$tmp/$f.cpk" pgo "job:0:tag"
  [ "$(cat "$tmp/out")" = new ] || fail "$f.cpk: cat returned '$(cat "$tmp/out")'"
done
expect_exit 0 convert "$tmp/d.cpk" "$tmp/blob.bin"
expect_exit 0 pack "$tmp/d.cpk" "$tmp/packed.bin"
for f in blob packed; do
  expect_exit 0 ls "$tmp/$f.bin"
  [ "$(last_sha "$tmp/out" "job:0:tag")" = "$(sha new)" ] || fail "$f.bin: the newest is not last for its key"
done

finish "the newest of a repeated (type, key) wins everywhere"
