#!/usr/bin/env bash
# Runs every cachepack test and ends with one line "N passed, N failed".
# Installs what it needs first, the cachepack Python package into .venv
# included (tools/install_python.sh). The PyTorch test vectors are read from
# ../shared/vectors/pytorch-megacache (or $CACHEPACK_VECTORS); tests that need
# them skip with a message when neither exists. After the Bazel tests, the
# real-PyTorch suite (tests/torch, docs/PYTORCH.md) runs with .venv's torch
# against bazel-bin/tools/cachepack; its cases are in the count, and its
# timings go to bazel-testlogs/torch/timings.json. So are the cases of the
# Python package's tests (tests/python), run against the installed package.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools/setup.sh
install_status=0
tools/install_python.sh || install_status=1

vectors="${CACHEPACK_VECTORS:-$root/../shared/vectors/pytorch-megacache}"
env_args=()
if [ -d "$vectors" ]; then
  env_args+=("--test_env=CACHEPACK_VECTORS=$(cd "$vectors" && pwd)")
else
  echo "test: no vectors at $vectors; vector tests will skip"
fi

bazel test //... --keep_going "${env_args[@]}" "$@"
status=$?
[ $install_status -eq 0 ] || status=1

# Steps that run Bazel themselves, which a Bazel test cannot: installing
# without Bazel (tools/install.sh, docs/BUILDING.md) and the example
# workspace that uses cachepack as an external repository. Each is one case
# in the count, from bazel-testlogs/steps/junit.xml.
steps_logs="$root/bazel-testlogs/steps"
mkdir -p "$steps_logs"
steps_cases=""
run_step() {
  local name=$1 started=$SECONDS
  shift
  if "$@" >"$steps_logs/$name.log" 2>&1; then
    # The time in the JUnit case and on the console: where a slow suite's
    # minutes go.
    steps_cases+="<testcase name=\"$name\" time=\"$((SECONDS - started))\"/>"
    echo "test: step $name passed in $((SECONDS - started)) s"
  else
    echo "test: $name failed:"
    cat "$steps_logs/$name.log"
    steps_cases+="<testcase name=\"$name\"><failure/></testcase>"
    status=1
  fi
}
install_prefix=$(mktemp -d)
run_step install bash -c 'tools/install.sh --prefix "$1" &&
  tests/install_check.sh "$1" examples/quickstart.cc' _ "$install_prefix"
rm -rf "$install_prefix"
run_step example_bazel tools/test_example_bazel.sh
# tools/bench.sh --quick as a smoke test: every row runs, no timing asserted.
run_step bench_quick tools/bench.sh --no-opt --quick
# The README's main job, end to end (a cold and a warm compile, about 80 s).
run_step main_job tools/run.sh
echo "<testsuite>$steps_cases</testsuite>" >"$steps_logs/junit.xml"

# The Python package, installed in .venv: run from the repository root, where
# `import cachepack` finds only the installed package (tests/python/conftest.py
# refuses anything else).
python_logs="$root/bazel-testlogs/python"
mkdir -p "$python_logs"
rm -f "$python_logs/junit.xml"
if [ $install_status -eq 0 ]; then
  CACHEPACK_VECTORS="$vectors" "$root/.venv/bin/python" -m pytest tests/python -q \
    --junitxml="$python_logs/junit.xml" || status=1
fi

# A few minutes: every scenario runs PyTorch in fresh processes, 2 at a time.
torch_logs="$root/bazel-testlogs/torch"
mkdir -p "$torch_logs"
rm -f "$torch_logs/junit.xml"
"$root/.venv/bin/python" -m pytest tests/torch -q \
  --junitxml="$torch_logs/junit.xml" --timings-json="$torch_logs/timings.json" ||
  status=1

# Count test cases (not just targets) from each target's JUnit XML, the
# PyTorch suite's and the Python package's.
targets=$(bazel query 'tests(//...)' 2>/dev/null)
python3 - "$root" "$torch_logs/junit.xml" "$python_logs/junit.xml" "$steps_logs/junit.xml" $targets <<'PY'
import os, sys, xml.etree.ElementTree as ET
root, torch_xml, python_xml, steps_xml, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
passed = failed = skipped = 0
paths = [os.path.join(root, "bazel-testlogs", t.lstrip("/").replace(":", "/"), "test.xml")
         for t in targets] + [torch_xml, python_xml, steps_xml]
for path in paths:
    if not os.path.exists(path):
        failed += 1  # Never ran (build failure).
        continue
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except ET.ParseError:
        failed += 1
        continue
    if not cases:
        failed += 1
    for c in cases:
        if c.find("failure") is not None or c.find("error") is not None:
            failed += 1
        elif c.find("skipped") is not None or c.get("result") == "skipped" or c.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
[ $? -eq 0 ] || status=1
exit $status
