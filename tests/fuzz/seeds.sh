#!/usr/bin/env bash
# Writes the seed inputs of one fuzz target into a directory:
#   tests/fuzz/seeds.sh TARGET OUT_DIR CACHEPACK_BINARY
# megacache_fuzz: blob bodies of PyTorch's vectors (when $CACHEPACK_VECTORS
# or ../shared has them) and of cachepack's sample; bundle_fuzz: bundles made
# from the sample, whole and as data + index; cache_root_fuzz: a fixed set of
# pseudo-random tree-building programs.
set -euo pipefail
target=$1 out=$2 cp=$3
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$target" in
  megacache_fuzz)
    vectors="${CACHEPACK_VECTORS:-$here/../../../shared/vectors/pytorch-megacache}"
    if [ -d "$vectors" ]; then
      for f in "$vectors"/*.bin; do tail -c +5 "$f" >"$out/$(basename "$f")"; done
    fi
    "$cp" sample "$work/s.bin" --graphs 1 >/dev/null
    tail -c +5 "$work/s.bin" >"$out/sample.bin"
    ;;
  bundle_fuzz)
    "$cp" sample "$work/s.bin" --graphs 1 >/dev/null
    "$cp" convert "$work/s.bin" "$out/plain.cpk" >/dev/null
    "$cp" convert "$work/s.bin" "$out/chunked.cpk" --chunk-size 4096 >/dev/null
    "$cp" convert "$work/s.bin" "$out/alone.cpk" --solid-block 0 >/dev/null
    "$cp" keygen --out "$work/k.pem" >/dev/null
    "$cp" convert "$work/s.bin" "$out/signed.cpk" --sign "$work/k.pem" >/dev/null
    # Each seed twice: as a file (mode 0) and as data + index (mode 1).
    python3 - "$out" <<'PY'
import os, struct, sys
d = sys.argv[1]
for name in list(os.listdir(d)):
    b = open(os.path.join(d, name), "rb").read()
    index_offset, index_size = struct.unpack(">QQ", b[-72:-56])
    data = b[16:index_offset][:0xffff]
    open(os.path.join(d, name), "wb").write(b"\x00" + b)
    # Mode 1, plus bit 2 when the bundle has the solid-blocks flag.
    mode = b"\x05" if struct.unpack(">I", b[12:16])[0] & 1 else b"\x01"
    open(os.path.join(d, name + ".index"), "wb").write(
        mode + struct.pack(">H", len(data)) + data
        + b[index_offset:index_offset + index_size])
PY
    ;;
  cache_root_fuzz)
    python3 - "$out" <<'PY'
import os, random, sys
rng = random.Random(12)
for i in range(200):
    n = rng.randrange(4, 240)
    open(os.path.join(sys.argv[1], "tree%03d" % i), "wb").write(
        bytes(rng.randrange(256) for _ in range(n)))
PY
    ;;
  *)
    echo "seeds.sh: unknown target $target" >&2
    exit 2
    ;;
esac
