#!/usr/bin/env bash
# End-to-end checks of `cachepack autotune`: records written where torch 2.13
# writes them are listed, bundled into one entry, unbundled byte for byte, read
# from a .cpk bundle and a Mega-Cache blob; bad records and bad flags get exit 1 or 2.
source "$(dirname "$0")/cli_lib.sh" "$1"

# Three records in PyTorch's cache-dir layout, as json.dumps writes them.
src="$tmp/src"
write_record() {  # NAME JSON
  mkdir -p "$src/${1:1:2}"
  printf '%s' "$2" >"$src/${1:1:2}/$1.best_config"
}
write_record 0aa1 '{"XBLOCK": 64, "num_warps": 4, "num_stages": 1, "configs_hash": "h1", "found_by_coordesc": false, "time_taken_ms": 12, "triton_cache_hash": null}'
write_record 0bb2 '{"XBLOCK": 8, "R0_BLOCK": 32, "num_warps": 8, "num_stages": 2, "configs_hash": "h2", "found_by_coordesc": true, "time_taken_ms": 30, "triton_cache_hash": "t"}'
write_record 0cc3 '{"YBLOCK": 1, "num_warps": 2, "num_stages": 1, "configs_hash": "h1", "found_by_coordesc": false, "time_taken_ms": 0, "triton_cache_hash": null, "extra_options": {"k": "\u00e9"}}'

# ls: every record, its config, time saved, and acceptance for a hash.
expect_exit 0 autotune ls "torch://$src" --configs-hash h1
grep -q "^3 record(s), 42 ms of autotuning saved, 2 accepted$" "$tmp/out" || fail "ls summary: $(tail -1 "$tmp/out")"
grep -q "XBLOCK=8, R0_BLOCK=32, num_warps=8, num_stages=2" "$tmp/out" || fail "ls config: $(cat "$tmp/out")"
grep -q "saves 30 ms, coordesc, configs_hash h2, not accepted" "$tmp/out" || fail "ls record line: $(cat "$tmp/out")"
expect_exit 0 autotune ls "torch://$src" --json
[ "$(wc -l <"$tmp/out")" -eq 3 ] || fail "ls --json rows: $(cat "$tmp/out")"

# bundle into a disk cache, list it there, unbundle into a fresh cache dir:
# the same files with the same bytes.
flags=(--code-hash cabc --backend-hash BH)
expect_exit 0 autotune bundle "torch://$src" "file://$tmp/disk" "${flags[@]}"
grep -q "^bundled 3 record(s) (42 ms of autotuning) into bundled-autotune-v1/" "$tmp/out" || fail "bundle: $(cat "$tmp/out")"
expect_exit 0 autotune ls "file://$tmp/disk"
[ "$(grep -c '^bundle ' "$tmp/out")" -eq 3 ] || fail "ls of the bundle: $(cat "$tmp/out")"
expect_exit 0 autotune unbundle "file://$tmp/disk" "torch://$tmp/dst" "${flags[@]}"
grep -q "^unbundled 1 bundle(s): 3 record(s), 42 ms of autotuning saved$" "$tmp/out" || fail "unbundle: $(cat "$tmp/out")"
diff -r "$src" "$tmp/dst" >/dev/null || fail "unbundled files differ: $(diff -r "$src" "$tmp/dst" | head -5)"
# Without a key, every bundle of the source.
expect_exit 0 autotune unbundle "file://$tmp/disk" "torch://$tmp/dst2"
diff -r "$src" "$tmp/dst2" >/dev/null || fail "unbundle of all bundles differs"
# A bundle that is not there.
expect_exit 1 autotune unbundle "file://$tmp/disk" "torch://$tmp/dst3" --code-hash cother --backend-hash BH
grep -q "no autotune bundle" "$tmp/err" || fail "missing bundle: $(cat "$tmp/err")"

# A .cpk bundle's autotune artifacts read the same way.
expect_exit 0 pack "torch://$src" "$tmp/warm.cpk"
expect_exit 0 autotune ls "$tmp/warm.cpk" --configs-hash h2
grep -q "^3 record(s), 42 ms of autotuning saved, 1 accepted$" "$tmp/out" || fail "ls of .cpk: $(tail -1 "$tmp/out")"
expect_exit 0 autotune bundle "$tmp/warm.cpk" "file://$tmp/disk2" "${flags[@]}"
expect_exit 0 autotune unbundle "file://$tmp/disk2" "torch://$tmp/dst4" "${flags[@]}"
diff -r "$src" "$tmp/dst4" >/dev/null || fail "round trip through .cpk differs"

# And a Mega-Cache blob's (torch.compiler.save_cache_artifacts()).
expect_exit 0 pack "torch://$src" "$tmp/warm.bin"
expect_exit 0 autotune ls "$tmp/warm.bin" --configs-hash h1
grep -q "^3 record(s), 42 ms of autotuning saved, 2 accepted$" "$tmp/out" || fail "ls of a blob: $(tail -1 "$tmp/out")"

# key: the same keys as torch (tests/torch/test_autotune_keys.py checks 1,200).
expect_exit 0 autotune key --kernel-file /tmp/torchinductor_u/ab/cabcdef.py \
  --torch-key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
  --backend-hash BH --configs-hash CH
grep -q '"remote_cache_id": "e94f73d7067a3634d76ce34fe0880b8c24374d06560b9c80d605f7807449d652"' "$tmp/out" || fail "key: $(cat "$tmp/out")"
expect_exit 1 autotune key --kernel-file k.py
grep -q "torch key" "$tmp/err" || fail "key without torch key: $(cat "$tmp/err")"
expect_exit 1 autotune key --kernel-file k.py --torch-key 0g

# A corrupt record is reported and fails ls; the others are still listed.
printf '{"XBLOCK": ' >"$src/aa/0aa1.best_config"
expect_exit 1 autotune ls "torch://$src"
grep -q "unreadable: data loss (invalid JSON)" "$tmp/out" || fail "corrupt record: $(cat "$tmp/out")"
grep -q "^2 record(s), 30 ms of autotuning saved, 1 unreadable$" "$tmp/out" || fail "corrupt summary: $(tail -1 "$tmp/out")"
# ... and is not bundled.
expect_exit 1 autotune bundle "torch://$src" "file://$tmp/disk3" "${flags[@]}"

# Usage errors.
expect_exit 2 autotune
expect_exit 1 autotune bundle "torch://$src" "file://$tmp/disk3" --code-hash cabc
grep -q "backend-hash" "$tmp/err" || fail "bundle without backend hash: $(cat "$tmp/err")"

finish "autotune CLI"
