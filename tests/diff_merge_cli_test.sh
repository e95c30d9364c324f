#!/usr/bin/env bash
# `cachepack diff` and `cachepack merge` through the real binary: what each
# reports, their exit codes (diff: 0 equal, 1 different, 2 usage; merge: 1
# on a conflict unless --on-conflict says otherwise) and the shape of
# their --json output (docs/CLI.md).
source "$(dirname "$0")/cli_lib.sh" "$1"

# A and B: one key in common unchanged, one changed, one only on each side.
write_blob "$tmp/a.bin" inductor same S inductor changed A1 inductor gone G \
  autotune only_a X
write_blob "$tmp/b.bin" inductor same S inductor changed B1 inductor new N
expect_exit 0 convert "$tmp/a.bin" "$tmp/a.cpk" --quiet
expect_exit 0 convert "$tmp/b.bin" "$tmp/b.cpk" --quiet

# Equal caches: exit 0, in every pairing of formats.
expect_exit 0 diff "$tmp/a.bin" "$tmp/a.cpk"
grep -q "^same: 4 keys of 2 types" "$tmp/out" || fail "diff of equal caches: $(cat "$tmp/out")"
mkdir "$tmp/dir"
expect_exit 0 populate "$tmp/a.cpk" "file://$tmp/dir" --quiet
expect_exit 0 diff "$tmp/a.cpk" "file://$tmp/dir"

# Different caches: exit 1 with one line per key.
expect_exit 1 diff "$tmp/a.cpk" "$tmp/b.bin"
cat >"$tmp/want" <<'TXT'
autotune: 1 only in A, 0 only in B, 0 changed
- only_a
inductor: 1 only in A, 1 only in B, 1 changed
- gone
+ new
~ changed
TXT
diff -u "$tmp/want" "$tmp/out" || fail "diff text output"
expect_exit 1 diff --json "$tmp/a.cpk" "$tmp/b.cpk"
python3 - "$tmp/out" <<'PY' || fail "diff --json shape"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["equal"] is False
by_type = {t["type"]: t for t in doc["types"]}
assert by_type["inductor"] == {"type": "inductor", "only_in_a": ["gone"],
                               "only_in_b": ["new"], "changed": ["changed"]}, by_type
assert by_type["autotune"]["only_in_a"] == ["only_a"]
PY
expect_exit 0 diff --json "$tmp/a.cpk" "$tmp/a.bin"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["equal"] is True and d["types"] == []' "$tmp/out" || fail "diff --json of equal caches"

# Usage and bad input.
expect_exit 2 diff "$tmp/a.cpk"
expect_exit 1 diff "$tmp/a.cpk" "$tmp/missing.cpk"
grep -q "missing.cpk" "$tmp/err" || fail "diff names the missing file"
expect_exit 1 diff --json "$tmp/a.cpk" "$tmp/missing.cpk"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False and d["error"]["code"] == "not_found", d' "$tmp/out" \
  || fail "diff --json error object: $(cat "$tmp/out")"

# merge: a conflict is refused by default, naming type, key and both inputs,
# and nothing is written.
expect_exit 1 merge "$tmp/m.cpk" "$tmp/a.cpk" "$tmp/b.bin"
grep -q "conflict" "$tmp/err" && grep -q '"changed"' "$tmp/err" &&
  grep -q "a.cpk" "$tmp/err" && grep -q "b.bin" "$tmp/err" ||
  fail "merge conflict message: $(cat "$tmp/err")"
[ ! -e "$tmp/m.cpk" ] || fail "a refused merge left a file"
expect_exit 1 merge --json "$tmp/m.cpk" "$tmp/a.cpk" "$tmp/b.bin"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["error"]; assert e["reason"] == "conflict" and e["key"] == "changed", d' "$tmp/out" \
  || fail "merge --json conflict error"

# --on-conflict first / last keep one side's contents.
expect_exit 0 merge --on-conflict first "$tmp/first.cpk" "$tmp/a.cpk" "$tmp/b.bin"
expect_exit 0 cat "$tmp/first.cpk" inductor changed
[ "$(cat "$tmp/out")" = A1 ] || fail "--on-conflict first kept $(cat "$tmp/out")"
expect_exit 0 merge --on-conflict last --json "$tmp/last.cpk" "$tmp/a.cpk" "$tmp/b.bin"
python3 - "$tmp/out" <<'PY' || fail "merge --json shape: $(cat "$tmp/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["ok"] is True and doc["inputs"] == 2, doc
assert doc["conflicts"] == 1 and doc["dropped"] == 1, doc
assert doc["artifacts"] == 5 and doc["duplicates"] == 1, doc
PY
expect_exit 0 cat "$tmp/last.cpk" inductor changed
[ "$(cat "$tmp/out")" = B1 ] || fail "--on-conflict last kept $(cat "$tmp/out")"
# The merged bundle holds the union: its diff against each input shows only
# the other input's keys.
expect_exit 1 diff --json "$tmp/last.cpk" "$tmp/b.bin"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t={x["type"]:x for x in d["types"]}; assert t["inductor"]["only_in_a"]==["gone"] and t["inductor"]["changed"]==[] and t["autotune"]["only_in_a"]==["only_a"], d' "$tmp/out" \
  || fail "merged bundle is not the union"

# Merging identical inputs is not a conflict; blob output works; signing a
# blob is refused.
expect_exit 0 merge "$tmp/same.bin" "$tmp/a.bin" "$tmp/a.cpk"
expect_exit 0 diff "$tmp/same.bin" "$tmp/a.bin"
expect_exit 0 keygen --out "$tmp/k.pem"
expect_exit 1 merge --sign "$tmp/k.pem" "$tmp/s.bin" "$tmp/a.bin"
expect_exit 0 merge --sign "$tmp/k.pem" "$tmp/s.cpk" "$tmp/a.bin" "$tmp/b.cpk" --on-conflict first
expect_exit 0 verify --trusted-key "$tmp/k.pem.pub" "$tmp/s.cpk"
expect_exit 2 merge "$tmp/x.cpk" "$tmp/a.bin" --on-conflict sometimes
expect_exit 2 merge "$tmp/x.cpk"

finish "diff and merge"
