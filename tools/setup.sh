#!/usr/bin/env bash
# Installs every Debian package that cachepack's build, tests and benchmarks
# need, and the pinned Python packages (requirements.txt: torch 2.13.0 CPU,
# pytest, ...) into .venv/. Idempotent: when everything is present it prints
# one line and exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

PACKAGES=(
  bazel-bootstrap default-jdk-headless g++ git
  capnproto libcapnp-dev libzstd-dev zstd libxxhash-dev libssl-dev libisal-dev
  libgtest-dev libgmock-dev libbenchmark-dev libexpected-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev pybind11-dev
  libhiredis-dev libcurl4-openssl-dev redis-server redis-tools nginx-core
  clang-format clang python3 openssl pkgconf
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

install_python() {
  local venv="$root/.venv" req="$root/requirements.txt"
  local stamp="$venv/.requirements.sha256"
  local want
  want="$(sha256sum <"$req" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 1  # Nothing to do.
  fi
  local version
  version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ "$version" != "3.11" ]; then
    echo "setup: python3 is $version; the PyTorch 2.13.0 wheel needs Python 3.11" >&2
    exit 1
  fi
  echo "setup: installing Python packages into .venv (requirements.txt)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" 2>&1 |
    grep -v "^WARNING: Location" || true
  "$venv/bin/python" -c "import torch" || {
    echo "setup: torch does not import in .venv" >&2
    exit 1
  }
  echo "$want" >"$stamp"
  return 0
}

python_count=$(grep -c '^[A-Za-z]' "$root/requirements.txt")
if [ ${#missing[@]} -eq 0 ]; then
  if ! install_python; then
    echo "setup: all ${#PACKAGES[@]} Debian and $python_count Python packages present"
  fi
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null

# Debian 13 may lack bazel-bootstrap (Bazel 4.2.3): take Debian 12's, from
# a bookworm source on the mirror this machine already uses, pinned so that
# nothing else comes from bookworm.
if ! apt-cache policy bazel-bootstrap 2>/dev/null | grep -q "Candidate: [0-9]"; then
  mirror=$(grep -hoE "https?://[^ ]+/debian/?( |$)" /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    head -1 | tr -d ' ')
  mirror="${mirror:-http://deb.debian.org/debian}"
  echo "setup: bazel-bootstrap missing here; adding Debian 12 (bookworm) from $mirror for it alone"
  echo "deb $mirror bookworm main" | $SUDO tee /etc/apt/sources.list.d/cachepack-bookworm.list >/dev/null
  printf 'Package: *\nPin: release n=bookworm\nPin-Priority: -10\n\nPackage: bazel-bootstrap bazel-bootstrap-data\nPin: release n=bookworm\nPin-Priority: 500\n' |
    $SUDO tee /etc/apt/preferences.d/cachepack-bookworm >/dev/null
  $SUDO apt-get update -qq >/dev/null
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_python || true
echo "setup: done"
