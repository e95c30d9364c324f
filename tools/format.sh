#!/usr/bin/env bash
# clang-format (Google style, .clang-format) over every C++ file git tracks.
#   tools/format.sh          rewrite files in place
#   tools/format.sh --check  list unformatted files, exit 1 if any
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "${1:-}" = "--check" ]; then
  bad=0
  for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "unformatted: $f"
      bad=1
    fi
  done
  exit $bad
fi
clang-format -i "${files[@]}"
