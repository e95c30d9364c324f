#!/usr/bin/env bash
# The main job, end to end, with no server: install what is needed, build
# the cachepack CLI, then take a PyTorch Mega-Cache blob (the one given, or a
# sample compile cache made by cachepack's own writer) and
#   verify and list it -> pack it into a signed, compressed bundle ->
#   populate a PyTorch cache directory from it, trusting only our key ->
#   export that directory back and check nothing was lost.
#   tools/run.sh [BLOB]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools/setup.sh
bazel build --noshow_progress --ui_event_filters=-info,-stdout,-stderr \
  //tools:cachepack
cp="$root/bazel-bin/tools/cachepack"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
blob="${1:-}"
if [ -z "$blob" ]; then
  blob="$work/sample.megacache"
  echo "== no blob given: writing a sample compile cache"
  "$cp" sample "$blob"
fi
step() { echo; echo "== cachepack $*"; "$cp" "$@"; }

step verify "$blob"
step ls "$blob"
"$cp" keygen --out "$work/signing.key" >/dev/null
step convert "$blob" "$work/cache.cpk" --sign "$work/signing.key" --threads 2
step inspect "$work/cache.cpk"
step verify "$work/cache.cpk" --trusted-key "$work/signing.key.pub"
step populate "$work/cache.cpk" "torch://$work/torchinductor" \
  --trusted-key "$work/signing.key.pub"
step stats "torch://$work/torchinductor"
step pack "torch://$work/torchinductor" "$work/exported.cpk"

# What came back out of the PyTorch directory is what went in. A directory
# holds one content per place, so an input that records one key twice with
# different contents comes back once; PyTorch keeps PGO keys only in a
# sanitised form, so places are compared in that form.
"$cp" ls --json "$work/cache.cpk" >"$work/in.json"
"$cp" ls --json "$work/exported.cpk" >"$work/out.json"
python3 - "$work/in.json" "$work/out.json" <<'PY'
import json, re, sys
def load(path):
    return json.load(open(path))["artifacts"]
def place(a):
    key = re.sub(r'[<>:"/\\|?*]', "_", a["key"]) if a["type"] == "pgo" else a["key"]
    return (a["type"], key)
inp, out = load(sys.argv[1]), load(sys.argv[2])
contents_in = {(a["type"], a["sha256"]) for a in inp}
# FX-graph and AOTAutograd keys hold every content (one file each).
multi = {"inductor", "aot_autograd"}
places_in = {place(a) + ((a["sha256"],) if a["type"] in multi else ()) for a in inp}
stray = [a for a in out if (a["type"], a["sha256"]) not in contents_in]
ok = not stray and len(out) == len(places_in)
print(f"\n== round trip: {len(inp)} artifacts in ({len(places_in)} places), "
      f"{len(out)} out: " + ("every place filled with a content that went in"
                             if ok else f"MISMATCH ({len(stray)} unknown contents)"))
sys.exit(0 if ok else 1)
PY
