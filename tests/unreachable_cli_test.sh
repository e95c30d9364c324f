#!/usr/bin/env bash
# A backend that does not answer is exit 3 (retry later), not 1 (bad data):
# populate, pack and stats against a closed loopback port, over redis://,
# redis+cluster:// and http://. A refused write (readonly) stays exit 1.
source "$(dirname "$0")/cli_lib.sh" "$1"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_exit 0 sample "$tmp/s.bin"
for url in "redis://127.0.0.1:$port?connect_timeout_ms=200" \
           "redis+cluster://127.0.0.1:$port?connect_timeout_ms=200" \
           "http://127.0.0.1:$port/cache?retries=0"; do
  expect_exit 3 populate "$tmp/s.bin" "$url"
  grep -q "^FAILED: 0 stored, 0 skipped, 22 failed" "$tmp/out" || fail "$url populate: $(tail -1 "$tmp/out")"
  grep -q "unavailable" "$tmp/err" || fail "$url: not unavailable: $(head -3 "$tmp/err")"
done
for url in "redis://127.0.0.1:$port?connect_timeout_ms=200" \
           "redis+cluster://127.0.0.1:$port?connect_timeout_ms=200"; do
  expect_exit 3 pack "$url" "$tmp/out.cpk"
  expect_exit 3 stats "$url"
done
# Failures that retrying cannot fix keep exit 1.
expect_exit 1 populate "$tmp/s.bin" "mem://?readonly=1"

finish "an unreachable backend exits 3"
