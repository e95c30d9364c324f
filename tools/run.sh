#!/usr/bin/env bash
# The main job, end to end, with no server: install what is needed, build
# the cachepack CLI, then take a Mega-Cache blob (the one given, or a sample
# compile cache made by cachepack's own writer), verify it and list it.
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

echo "== cachepack verify $blob"
"$cp" verify "$blob"
echo "== cachepack ls $blob"
"$cp" ls "$blob"
