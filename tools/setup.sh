#!/usr/bin/env bash
# Installs every Debian package that cachepack's build, tests and benchmarks
# need. Idempotent: when everything is present it prints one line and exits.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap default-jdk-headless g++ git
  capnproto libcapnp-dev libzstd-dev zstd libxxhash-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libexpected-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev
  libhiredis-dev libcurl4-openssl-dev redis-server redis-tools nginx-core
  clang-format clang python3 openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
