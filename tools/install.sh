#!/usr/bin/env bash
# Installs cachepack for use without Bazel: PREFIX/bin/cachepack, the public
# headers in PREFIX/include/cachepack/, one static library
# PREFIX/lib/libcachepack.a and PREFIX/lib/pkgconfig/cachepack.pc.
# Builds with Bazel first; flags after -- go to Bazel (e.g. -- -c opt).
# Idempotent and quiet on success. See docs/BUILDING.md.
#
#   tools/install.sh --prefix DIR [-- BAZEL_FLAGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

usage() {
  echo "usage: tools/install.sh --prefix DIR [-- BAZEL_FLAGS...]" >&2
  exit 2
}
prefix=""
bazel_flags=()
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --) shift; bazel_flags=("$@"); break ;;
    *) usage ;;
  esac
done
[ -n "$prefix" ] || usage

if ! command -v bazel >/dev/null; then
  "$root/tools/setup.sh" >/dev/null
fi

cd "$root"
targets=(//tools/install:libcachepack //tools:cachepack)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! bazel build --noshow_progress "${bazel_flags[@]}" "${targets[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
bin=$(bazel info "${bazel_flags[@]}" bazel-bin 2>/dev/null)

mkdir -p "$prefix"
"$root/tools/install/install_files.sh" "$prefix" \
  "$bin/tools/install/libcachepack.a" "$bin/tools/install/libcachepack.linkopts" \
  "$bin/tools/cachepack" "$root"/include/cachepack/*.h
