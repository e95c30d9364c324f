#!/usr/bin/env bash
# End-to-end checks of environments: `env` prints this machine's, --env
# records one in the bundles convert, append and pack write, populate
# refuses a bundle whose artifacts cannot hit the target (unless
# --ignore-env) and only warns about the rest, and explain compares a
# bundle with a file:// cache that holds some of its keys.
source "$(dirname "$0")/cli_lib.sh" "$1"

# json_check FILE PYTHON-EXPRESSION: the expression, with `j` the parsed
# JSON of FILE, must be true.
json_check() {
  python3 - "$1" "$2" <<'PY' || fail "json check failed: $2: $(head -c 400 "$1")"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}
# meta_env BUNDLE: the environment a bundle recorded, into $tmp/env.json.
meta_env() {
  run inspect --json "$1" >"$tmp/inspect.json" || fail "inspect $1"
  python3 - "$tmp/inspect.json" >"$tmp/env.json" <<'PY'
import json, sys
print(json.load(open(sys.argv[1]))["metadata"]["user"].get("cachepack.environment", "null"))
PY
}

# env: this machine as cachepack knows it, one JSON object in fixed order.
expect_exit 0 env
json_check "$tmp/out" "list(j) == ['cachepack_version', 'cpu_arch', 'os', 'libc']"
json_check "$tmp/out" "j['cpu_arch'] == '$(uname -m)' and j['os'] == '$(uname -s) $(uname -r)'"
json_check "$tmp/out" "j['libc'].startswith('glibc 2.')"

cat >"$tmp/made.json" <<'EOF'
{"torch_version": "2.13.0+cpu", "python_version": "3.11.7",
 "vector_isa": "avx2", "libc": "glibc 2.36", "build_host": {"name": "ci-7"}}
EOF
expect_exit 0 env --env "$tmp/made.json"
json_check "$tmp/out" "j['torch_version'] == '2.13.0+cpu' and j['cpu_arch'] == '$(uname -m)'"
json_check "$tmp/out" "list(j)[-1] == 'build_host' and j['build_host'] == {'name': 'ci-7'}"

# A file that is not an environment: exit 1 naming the file.
echo '{"torch_version": 2.13}' >"$tmp/bad.json"
expect_exit 1 env --env "$tmp/bad.json"
grep -q "invalid argument (invalid JSON).*torch_version must be a string.*bad.json" "$tmp/err" ||
  fail "bad --env error: $(cat "$tmp/err")"

# --env records the file over this machine; without it nothing is guessed.
write_blob "$tmp/a.bin" inductor fa1 "graph a1" inductor fa2 "graph a2" \
  inductor fa3 "graph a3" autotune "ab/c.best_config" "{}"
expect_exit 0 convert "$tmp/a.bin" "$tmp/plain.cpk"
meta_env "$tmp/plain.cpk"
[ "$(cat "$tmp/env.json")" = null ] || fail "convert without --env recorded $(cat "$tmp/env.json")"
expect_exit 0 convert "$tmp/a.bin" "$tmp/a.cpk" --env "$tmp/made.json"
meta_env "$tmp/a.cpk"
json_check "$tmp/env.json" "j['torch_version'] == '2.13.0+cpu' and j['vector_isa'] == 'avx2'"
json_check "$tmp/env.json" "j['cpu_arch'] == '$(uname -m)' and j['libc'] == 'glibc 2.36'"
json_check "$tmp/env.json" "j['build_host'] == {'name': 'ci-7'}"
# convert of a bundle keeps its environment; to a blob, --env is refused.
expect_exit 0 convert "$tmp/a.cpk" "$tmp/again.cpk" --level 9
meta_env "$tmp/again.cpk"
json_check "$tmp/env.json" "j['torch_version'] == '2.13.0+cpu'"
expect_exit 1 convert "$tmp/a.cpk" "$tmp/out.bin" --env "$tmp/made.json"
grep -q "no place to record an environment" "$tmp/err" || fail "blob --env: $(cat "$tmp/err")"
[ ! -e "$tmp/out.bin" ] || fail "convert to a blob with --env wrote it"
# pack records --env; from bundles that agree, their environment.
expect_exit 0 pack "$tmp/a.bin" "$tmp/p.cpk" --env "$tmp/made.json"
meta_env "$tmp/p.cpk"
json_check "$tmp/env.json" "j['vector_isa'] == 'avx2'"
expect_exit 0 pack "$tmp/a.cpk" "$tmp/again.cpk" "$tmp/p2.cpk"
meta_env "$tmp/p2.cpk"
json_check "$tmp/env.json" "j['torch_version'] == '2.13.0+cpu'"
expect_exit 0 pack "$tmp/a.cpk" "$tmp/a.bin" "$tmp/p3.cpk"
meta_env "$tmp/p3.cpk"
[ "$(cat "$tmp/env.json")" = null ] || fail "pack of a mix recorded an environment"
grep -q "do not all record one environment" "$tmp/err" || fail "pack mix note: $(cat "$tmp/err")"
expect_exit 1 pack "$tmp/a.cpk" "$tmp/p.bin" --env "$tmp/made.json"
# append --env replaces it, and says when a blocking field changes.
echo '{"torch_version": "2.14.1"}' >"$tmp/newer.json"
cp "$tmp/a.cpk" "$tmp/grown.cpk"
write_blob "$tmp/b.bin" inductor fb1 "graph b1"
expect_exit 0 append "$tmp/grown.cpk" "$tmp/b.bin" --env "$tmp/newer.json"
grep -q "changes torch_version from 2.13.0+cpu to 2.14.1" "$tmp/err" ||
  fail "append --env warning: $(cat "$tmp/err")"
meta_env "$tmp/grown.cpk"
json_check "$tmp/env.json" "j['torch_version'] == '2.14.1' and 'vector_isa' not in j"

# populate: a blocking difference refuses, writing nothing.
cat >"$tmp/here.json" <<'EOF'
{"torch_version": "2.14.1", "vector_isa": "avx512", "libc": "glibc 2.31"}
EOF
expect_exit 1 populate "$tmp/a.cpk" "file://$tmp/refused" --env "$tmp/here.json"
grep -q "invalid argument (environment mismatch): .*2 differences" "$tmp/err" ||
  fail "refusal: $(cat "$tmp/err")"
grep -q "^  made with torch 2.13.0+cpu; here 2.14.1: no artifact can hit" "$tmp/err" ||
  fail "refusal lacks the torch line: $(cat "$tmp/err")"
grep -q "^  made with vector ISA avx2; here avx512" "$tmp/err" ||
  fail "refusal lacks the ISA line: $(cat "$tmp/err")"
grep -q -- "--ignore-env" "$tmp/err" || fail "refusal does not name --ignore-env"
[ -z "$(find "$tmp/refused" -path '*objects*' -type f 2>/dev/null)" ] ||
  fail "a refused populate wrote entries"
# --ignore-env goes on and prints every difference as a warning.
expect_exit 0 populate "$tmp/a.cpk" "file://$tmp/ignored" --env "$tmp/here.json" --ignore-env
grep -q "^ok: 4 stored" "$tmp/out" || fail "--ignore-env populate: $(tail -1 "$tmp/out")"
grep -q "warning: made with torch 2.13.0+cpu; here 2.14.1: no artifact can hit (--ignore-env)" "$tmp/err" ||
  fail "--ignore-env warnings: $(cat "$tmp/err")"
grep -q "warning: made with libc glibc 2.36; here glibc 2.31" "$tmp/err" ||
  fail "--ignore-env libc warning: $(cat "$tmp/err")"
# Only warnings: populate goes on and says them.
echo '{"torch_version": "2.13.0+cpu", "vector_isa": "avx2", "libc": "glibc 2.31", "python_version": "3.12.1"}' >"$tmp/close.json"
expect_exit 0 populate "$tmp/a.cpk" "file://$tmp/warned" --env "$tmp/close.json"
grep -q "^ok: 4 stored" "$tmp/out" || fail "warning-only populate: $(tail -1 "$tmp/out")"
grep -q "warning: made with libc glibc 2.36; here glibc 2.31: not in PyTorch's cache keys" "$tmp/err" ||
  fail "libc warning: $(cat "$tmp/err")"
grep -q "warning: made with Python 3.11.7; here 3.12.1: precompile entries will not load" "$tmp/err" ||
  fail "python warning: $(cat "$tmp/err")"
# Without --env the target is this machine: torch is unknown here, so it
# is not compared, and the recorded libc may warn but nothing blocks.
expect_exit 0 populate "$tmp/a.cpk" "file://$tmp/native"
# Blobs and bundles without an environment: as before, silently.
expect_exit 0 populate "$tmp/a.bin" "file://$tmp/blob" --env "$tmp/here.json"
[ ! -s "$tmp/err" ] || fail "blob populate printed: $(cat "$tmp/err")"
expect_exit 0 populate "$tmp/plain.cpk" "file://$tmp/plain" --env "$tmp/here.json"
[ ! -s "$tmp/err" ] || fail "plain bundle populate printed: $(cat "$tmp/err")"

# explain against a file:// cache holding fa1 and a key the bundle lacks.
write_blob "$tmp/some.bin" inductor fa1 "graph a1" inductor fz9 "graph z9"
expect_exit 0 populate "$tmp/some.bin" "file://$tmp/target"
expect_exit 0 explain "$tmp/a.cpk" "file://$tmp/target" --env "$tmp/here.json"
cp "$tmp/out" "$tmp/explain.txt"
grep -q "^environment: 3 differences in .* fields compared, 2 blocking$" "$tmp/explain.txt" ||
  fail "explain environment line: $(cat "$tmp/explain.txt")"
[ "$(sed -n 2p "$tmp/explain.txt")" = "  blocks: made with torch 2.13.0+cpu; here 2.14.1: no artifact can hit" ] ||
  fail "explain does not put the torch difference first: $(cat "$tmp/explain.txt")"
grep -q "^  not compared: python_version unknown here (made with 3.11.7)$" "$tmp/explain.txt" ||
  fail "explain not-compared line: $(cat "$tmp/explain.txt")"
grep -q "^target: file://$tmp/target$" "$tmp/explain.txt" || fail "explain target line"
grep -q "^inductor: 3 artifacts, 3 keys; 1 already in the target, 2 would be written$" "$tmp/explain.txt" ||
  fail "explain inductor line: $(cat "$tmp/explain.txt")"
grep -q "^  missing from the target: fa2, fa3$" "$tmp/explain.txt" || fail "explain missing keys"
grep -q "^  only in the target: fz9$" "$tmp/explain.txt" || fail "explain target-only keys"
grep -q "^autotune: 1 artifact, 1 key; 0 already in the target, 1 would be written$" "$tmp/explain.txt" ||
  fail "explain autotune line: $(cat "$tmp/explain.txt")"
expect_exit 0 explain "$tmp/a.cpk" "file://$tmp/target" --env "$tmp/here.json" --json
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "explain --json is not one line"
json_check "$tmp/out" "j['environment']['blocked'] is True and j['target'] == 'file://$tmp/target'"
json_check "$tmp/out" "[d['field'] for d in j['environment']['differences']] == ['torch_version', 'vector_isa', 'libc']"
json_check "$tmp/out" "[d['severity'] for d in j['environment']['differences']] == ['blocks', 'blocks', 'warns']"
json_check "$tmp/out" "j['types'][0] == {'type': 'inductor', 'artifacts': 3, 'keys': 3, 'present': 1, 'would_write': 2, 'missing': ['fa2', 'fa3'], 'missing_more': 0, 'target_only': ['fz9'], 'target_only_more': 0, 'target_error': None}"
# Without a URL: the environment and the counts only; a blob has none.
expect_exit 0 explain "$tmp/plain.cpk"
[ "$(cat "$tmp/out")" = "environment: no environment recorded
inductor: 3 artifacts, 3 keys
autotune: 1 artifact, 1 key" ] || fail "explain without URL: $(cat "$tmp/out")"
expect_exit 0 explain "$tmp/a.bin" "file://$tmp/target" --json
json_check "$tmp/out" "j['environment']['recorded'] is None and j['types'][0]['present'] == 1"
# A torch:// target has no place for some types: reported, not fatal.
write_blob "$tmp/rt.bin" triton_runtime "$(printf kernels | sha256sum | cut -c1-64)" "kernels"
expect_exit 0 explain "$tmp/rt.bin" "torch://$tmp/torchdir"
grep -q "^triton_runtime: 1 artifact, 1 key; the target cannot hold them: .*in memory" "$tmp/out" ||
  fail "explain torch:// unsupported type: $(cat "$tmp/out")"
expect_exit 2 explain
expect_exit 1 explain "$tmp/missing.cpk"

finish "env, --env, populate refusal, explain"
