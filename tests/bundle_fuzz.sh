#!/usr/bin/env bash
# Fuzzes the bundle reader with libFuzzer + ASan/UBSan (clang from Debian).
# Seeds: small bundles made by the cachepack CLI from its sample blob.
#   tests/bundle_fuzz.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
capnp compile -oc++:"$out" --src-prefix=serializer serializer/bundle.capnp
mkdir -p "$out/serializer"
mv "$out/bundle.capnp.h" "$out/bundle.capnp.c++" "$out/serializer/"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. -I"$out" \
  tests/bundle_fuzz.cc serializer/bundle_reader.cc serializer/bundle_format.cc \
  serializer/bundle_signing.cc "$out/serializer/bundle.capnp.c++" util/*.cc \
  -lcapnp -lkj -lzstd -lz -lcrypto -o "$out/fuzz"
bazel build --noshow_progress //tools:cachepack >/dev/null 2>&1
cp="$root/bazel-bin/tools/cachepack"
mkdir -p "$out/corpus"
"$cp" sample "$out/s.bin" --graphs 1 >/dev/null
"$cp" convert "$out/s.bin" "$out/corpus/plain.cpk" >/dev/null
"$cp" convert "$out/s.bin" "$out/corpus/chunked.cpk" --chunk-size 4096 >/dev/null
"$cp" keygen --out "$out/k.pem" >/dev/null
"$cp" convert "$out/s.bin" "$out/corpus/signed.cpk" --sign "$out/k.pem" >/dev/null
# Each seed twice: as a file (mode 0) and as data + index (mode 1).
python3 - "$out/corpus" <<'PY'
import os, struct, sys
d = sys.argv[1]
for name in list(os.listdir(d)):
    b = open(os.path.join(d, name), "rb").read()
    index_offset, index_size = struct.unpack(">QQ", b[-72:-56])
    data = b[16:index_offset][:0xffff]
    open(os.path.join(d, name), "wb").write(b"\x00" + b)
    open(os.path.join(d, name + ".index"), "wb").write(
        b"\x01" + struct.pack(">H", len(data)) + data
        + b[index_offset:index_offset + index_size])
PY
"$out/fuzz" "$out/corpus" -max_total_time="$seconds" -max_len=65536 \
  -print_final_stats=1 2>&1 | tail -15
