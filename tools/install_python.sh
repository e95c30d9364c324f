#!/usr/bin/env bash
# Installs the cachepack Python package (python/, docs/PYTHON.md) into .venv:
# pip runs the in-tree PEP 517 backend, which builds the native module with
# Bazel (//python:_native) for .venv's interpreter. Nothing is fetched.
# Idempotent: a stamp in .venv holds the hash of every source the package is
# built from (everything but tests, docs, benchmarks and examples) and of
# $CACHEPACK_BAZEL_FLAGS; when it matches, prints one line. Needs
# tools/setup.sh to have run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.cachepack-package.sha256"

if [ ! -x "$venv/bin/python" ]; then
  echo "install_python: no .venv; run tools/setup.sh first" >&2
  exit 1
fi

want="$(cd "$root" && "$venv/bin/python" - <<'PY'
import hashlib, os, subprocess
skip = ("tests/", "docs/", "bench/", "examples/", ".ci/")
try:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                         capture_output=True, check=True).stdout.decode()
    names = [n for n in out.split("\0") if n]
except (OSError, subprocess.CalledProcessError):  # Not a git checkout.
    names = [os.path.relpath(os.path.join(d, f)) for d, subdirs, files in os.walk(".")
             if not d.startswith(("./.git", "./.venv", "./bazel-")) for f in files]
h = hashlib.sha256()
# The Bazel flags too: an optimised module (tools/bench.sh) is another build.
h.update(os.environ.get("CACHEPACK_BAZEL_FLAGS", "").encode() + b"\0")
for name in sorted(set(names)):
    if name.startswith(skip) or name.endswith(".md") or not os.path.isfile(name):
        continue
    h.update(name.encode() + b"\0")
    with open(name, "rb") as f:
        h.update(hashlib.sha256(f.read()).digest())
print(h.hexdigest())
PY
)"

if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
  (cd / && "$venv/bin/python" -c "import cachepack._native") 2>/dev/null; then
  echo "install_python: cachepack package up to date in .venv"
  exit 0
fi

echo "install_python: building and installing the cachepack package into .venv"
rm -f "$stamp"
"$venv/bin/python" -m pip install --quiet --no-index --no-build-isolation \
  --no-deps --force-reinstall "$root/python"
(cd / && "$venv/bin/python" -c "import cachepack._native") || {
  echo "install_python: cachepack does not import in .venv" >&2
  exit 1
}
echo "$want" >"$stamp"
