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

# What came back out of the PyTorch directory is what went in (PyTorch keeps
# only a sanitised form of PGO keys, so compare types and contents).
"$cp" ls --json "$work/cache.cpk" >"$work/in.json"
"$cp" ls --json "$work/exported.cpk" >"$work/out.json"
python3 - "$work/in.json" "$work/out.json" <<'PY'
import json, sys
def contents(path):
    return sorted((a["type"], a["sha256"]) for a in json.load(open(path))["artifacts"])
a, b = contents(sys.argv[1]), contents(sys.argv[2])
print(f"\n== round trip: {len(a)} artifacts in, {len(b)} out: "
      + ("identical contents" if a == b else "DIFFERENT"))
sys.exit(0 if a == b else 1)
PY
