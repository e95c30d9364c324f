#!/usr/bin/env bash
# End-to-end checks of push and pull through a file:// backend: a signed
# bundle comes back byte for byte, a second pull fetches nothing, and an
# untrusted bundle or a name never pushed fails with exit 1 and leaves OUT.
source "$(dirname "$0")/cli_lib.sh" "$1"

expect_exit 0 sample "$tmp/s.bin"
expect_exit 0 keygen --out "$tmp/key"
expect_exit 0 keygen --out "$tmp/other"
expect_exit 0 convert "$tmp/s.bin" "$tmp/s.cpk" --sign "$tmp/key"
remote="file://$tmp/remote"

expect_exit 0 push "$tmp/s.cpk" "$remote" --name app
grep -q "^pushed .* as 'app'" "$tmp/out" || fail "push summary: $(cat "$tmp/out")"
expect_exit 0 pull "$remote" --name app "$tmp/fleet.cpk" --trusted-key "$tmp/key.pub" --json
cmp -s "$tmp/s.cpk" "$tmp/fleet.cpk" || fail "pulled bundle differs from the pushed one"
python3 - "$tmp/out" <<'PY' || fail "first pull's summary: $(cat "$tmp/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["blobs_fetched"] == d["blobs"] > 0 and d["trusted_signatures"] == 1, d
PY
# Again: everything is already in OUT.
expect_exit 0 pull "$remote" --name app "$tmp/fleet.cpk" --trusted-key "$tmp/key.pub" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["blobs_fetched"] == 0 and d["bytes_fetched"] == 0, d' \
  "$tmp/out" || fail "second pull fetched: $(cat "$tmp/out")"
expect_exit 0 verify "$tmp/fleet.cpk" --trusted-key "$tmp/key.pub"

# A fresh machine whose local cache already holds the artifacts (populated
# from the same bundle): nothing is fetched, the bundle is still identical.
expect_exit 0 populate "$tmp/s.cpk" "file://$tmp/local"
expect_exit 0 pull "$remote" --name app "$tmp/fresh.cpk" --have "file://$tmp/local" --json
cmp -s "$tmp/s.cpk" "$tmp/fresh.cpk" || fail "pull --have differs from the pushed bundle"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["blobs_from_have"] == d["blobs"] and d["bytes_fetched"] == 0, d' \
  "$tmp/out" || fail "pull --have fetched: $(cat "$tmp/out")"

# Another key's bundle under the same name: refused, OUT untouched.
cp "$tmp/fleet.cpk" "$tmp/before.cpk"
expect_exit 0 convert "$tmp/s.bin" "$tmp/evil.cpk" --sign "$tmp/other"
expect_exit 0 push "$tmp/evil.cpk" "$remote" --name app
expect_exit 1 pull "$remote" --name app "$tmp/fleet.cpk" --trusted-key "$tmp/key.pub"
grep -q "permission denied" "$tmp/err" || fail "untrusted pull's error: $(cat "$tmp/err")"
cmp -s "$tmp/before.cpk" "$tmp/fleet.cpk" || fail "an untrusted pull changed OUT"

expect_exit 1 pull "$remote" --name never-pushed "$tmp/none.cpk"
grep -q "not found" "$tmp/err" || fail "missing name's error: $(cat "$tmp/err")"
[ ! -e "$tmp/none.cpk" ] || fail "a failed pull created OUT"
expect_exit 2 pull "$remote" "$tmp/x.cpk"  # --name is required

finish "ship CLI"
