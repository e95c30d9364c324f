#!/usr/bin/env bash
# The main job, end to end, with no server. Installs what is needed, builds
# the cachepack CLI, then:
#   with PyTorch in .venv (tools/setup.sh installs torch 2.13.0 CPU) and no
#   argument: compiles a small model cold in a fresh process and saves its
#   Mega-Cache blob -> verifies it and packs it into a signed bundle ->
#   populates an empty PyTorch cache directory from the bundle, trusting only
#   our key -> compiles the same model in a fresh process from that
#   directory: cache hits, no misses, identical outputs, seconds cold vs warm;
#   given BLOB (or without torch): the same pipeline on that blob (or a
#   sample compile cache), ending with the directory exported back and
#   checked against what went in.
#   tools/run.sh [BLOB]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools/setup.sh
bazel build --noshow_progress --ui_event_filters=-info,-stdout,-stderr \
  //tools:cachepack
cp="$root/bazel-bin/tools/cachepack"
python="$root/.venv/bin/python"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { echo; echo "== cachepack $*"; "$cp" "$@"; }

# torch_run DIR ARGS...: one PyTorch process with DIR/cache as its cache
# directory and nothing else from the environment deciding cold or warm
# (tests/torch/torchsuite/child.py); its JSON report goes to DIR/report.json.
torch_run() {
  local dir=$1; shift
  mkdir -p "$dir/cache" "$dir/triton"
  env $(env | grep -oE '^(TORCH|TRITON)[A-Z_]*' | sed 's/^/-u /') \
    TORCHINDUCTOR_CACHE_DIR="$dir/cache" TRITON_CACHE_DIR="$dir/triton" \
    PYTHONPATH="$root/tests/torch" PYTHONDONTWRITEBYTECODE=1 \
    "$python" -P -m torchsuite.child run --model mlp --json-out "$dir/report.json" "$@" \
    >/dev/null 2>"$dir/log" || { echo "PyTorch run failed; end of $dir/log:"; tail -20 "$dir/log"; exit 1; }
}

blob="${1:-}"
if [ -z "$blob" ] && "$python" -c "import torch" 2>/dev/null; then
  echo "== PyTorch $("$python" -c 'import torch; print(torch.__version__)'): compiling a small MLP cold, in a fresh process"
  torch_run "$work/cold" --save-blob "$work/cold.bin"
  step verify "$work/cold.bin"
  step ls "$work/cold.bin"
  "$cp" keygen --out "$work/signing.key" >/dev/null
  step convert "$work/cold.bin" "$work/cache.cpk" --sign "$work/signing.key"
  step verify "$work/cache.cpk" --trusted-key "$work/signing.key.pub"
  step populate "$work/cache.cpk" "torch://$work/warm/cache" \
    --trusted-key "$work/signing.key.pub"
  echo; echo "== PyTorch: the same model in a fresh process, warm from that directory"
  torch_run "$work/warm"
  "$python" - "$work/cold/report.json" "$work/warm/report.json" <<'PY'
import json, sys
cold, warm = (json.load(open(p))["run"] for p in sys.argv[1:])
c = warm["counters"]
hits = {"FX graph": c.get("inductor", {}).get("fxgraph_cache_hit", 0),
        "AOTAutograd": c.get("aot_autograd", {}).get("autograd_cache_hit", 0)}
misses = c.get("inductor", {}).get("fxgraph_cache_miss", 0) + \
    c.get("aot_autograd", {}).get("autograd_cache_miss", 0)
same = cold["outputs"] == warm["outputs"]
print(f"cold: {cold['first_output_s']:.1f} s to first output "
      f"({cold['counters'].get('inductor', {}).get('fxgraph_cache_miss', 0)} FX graph compiled)")
print(f"warm: {warm['first_output_s']:.1f} s to first output; hits: "
      + ", ".join(f"{k} {v}" for k, v in hits.items()) + f"; misses: {misses}; "
      + ("outputs identical to the cold run" if same else "OUTPUTS DIFFER"))
print("(on CPU a warm start still compiles the C++ kernels, which the blob does not carry: docs/PYTORCH.md)")
sys.exit(0 if same and misses == 0 and all(hits.values()) else 1)
PY
  exit 0
fi

if [ -z "$blob" ]; then
  blob="$work/sample.megacache"
  echo "== no blob given and no PyTorch: writing a sample compile cache"
  "$cp" sample "$blob"
fi
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
# sanitised form, so places are compared in that form; types that have no
# place in the directory (populate said so) are not expected back.
"$cp" ls --json "$work/cache.cpk" >"$work/in.json"
"$cp" ls --json "$work/exported.cpk" >"$work/out.json"
python3 - "$work/in.json" "$work/out.json" <<'PY'
import json, re, sys
def load(path):
    return json.load(open(path))["artifacts"]
def place(a):
    key = re.sub(r'[<>:"/\\|?*]', "_", a["key"]) if a["type"] == "pgo" else a["key"]
    return (a["type"], key)
directory_types = {"inductor", "aot_autograd", "autotune", "pgo", "precompile"}
inp = [a for a in load(sys.argv[1]) if a["type"] in directory_types]
out = load(sys.argv[2])
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
