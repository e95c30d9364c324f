#!/usr/bin/env bash
# The exit codes of docs/CLI.md, command by command, through the real
# binary: 2 for usage, 1 for bad data, 3 for a backend that cannot be
# reached (a Redis and an HTTP cache on loopback ports where nothing
# listens), and under --json one error object on stdout whose code says
# the same. Also: every subcommand's --help shows an example.
source "$(dirname "$0")/cli_lib.sh" "$1"

commands="ls verify sample convert inspect cat keygen sign append populate pack
stats gc diff merge push pull env explain autotune"

# Every subcommand: an unknown flag is usage (2); --help exits 0 and shows
# at least one example.
for c in $commands; do
  expect_exit 2 "$c" --no-such-flag
  expect_exit 0 "$c" --help
  grep -q "^Examples:" "$tmp/out" && grep -q "^  cachepack $c" "$tmp/out" ||
    fail "cachepack $c --help shows no example"
done
# The list above is every subcommand the binary has.
expect_exit 0 --help
for c in $(awk '/^Subcommands:/{on=1; next} on && NF {print $1}' "$tmp/out"); do
  case " $(echo $commands) " in
    *" $c "*) ;;
    *) fail "subcommand $c is not covered by this test" ;;
  esac
done

# Bad data is 1 for every command that reads a file.
write_blob "$tmp/good.bin" inductor k1 C1
head -c 40 "$tmp/good.bin" >"$tmp/cut.bin"
printf 'CPK1 not really a bundle' >"$tmp/bad.cpk"
expect_exit 0 convert "$tmp/good.bin" "$tmp/good.cpk" --quiet
for args in "ls $tmp/cut.bin" "verify $tmp/cut.bin" "convert $tmp/cut.bin $tmp/o.cpk" \
  "inspect $tmp/bad.cpk" "cat $tmp/bad.cpk inductor k1" "append $tmp/good.cpk $tmp/cut.bin" \
  "populate $tmp/cut.bin file://$tmp/d" "pack $tmp/cut.bin $tmp/o.cpk" \
  "diff $tmp/good.bin $tmp/cut.bin" "merge $tmp/o.cpk $tmp/good.bin $tmp/cut.bin" \
  "explain $tmp/cut.bin" "sign $tmp/bad.cpk --key $tmp/missing.pem" \
  "sample $tmp/no/such/dir/s.bin" "keygen --out $tmp/no/such/dir/k.pem" \
  "env --env $tmp/cut.bin" "push $tmp/bad.cpk file://$tmp/ship --name x" \
  "pull file://$tmp/ship $tmp/p.cpk --name never-pushed" "autotune ls $tmp/cut.bin"; do
  # shellcheck disable=SC2086
  expect_exit 1 $args
done

# A malformed value is usage too, even where CLI11 cannot check it.
expect_exit 2 gc "file://$tmp/gc" --max-size lots

# Nothing listens on these ports (bound, then closed).
read -r redis_port http_port < <(python3 -c '
import socket
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s.getsockname()[1]); s.close()
print(*ports)')
redis="redis://127.0.0.1:$redis_port/?timeout_ms=2000"
http="http://127.0.0.1:$http_port/cache?timeout_ms=2000"
# The Bazel HTTP protocol cannot list, so only populate and explain (which
# look keys up) reach an HTTP cache; listing one is unsupported (1).
for args in "populate $tmp/good.cpk $redis" "pack $redis $tmp/o.cpk" "stats $redis" \
  "diff $tmp/good.cpk $redis" "explain $tmp/good.cpk $redis" \
  "push $tmp/good.cpk $redis --name x" "pull $redis $tmp/p.cpk --name x" \
  "autotune ls $redis" \
  "populate $tmp/good.cpk $http" "explain $tmp/good.cpk $http"; do
  # shellcheck disable=SC2086
  expect_exit 3 $args
  grep -q "unavailable\|deadline exceeded" "$tmp/err" ||
    fail "cachepack $args: error does not say unavailable: $(cat "$tmp/err")"
done
expect_exit 1 stats "$http"
for args in "populate $tmp/good.cpk $redis" "stats $redis" "diff $tmp/good.cpk $redis" \
  "populate $tmp/good.cpk $http"; do
  # shellcheck disable=SC2086
  expect_exit 3 $args --json
  python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
if "error" in doc:
    assert doc["error"]["code"] in ("unavailable", "deadline_exceeded"), doc
else:  # populate reports per artifact
    assert doc["ok"] is False, doc
    assert doc["failures"][0]["error"]["code"] in ("unavailable", "deadline_exceeded"), doc
' "$tmp/out" || fail "cachepack $args --json: $(cat "$tmp/out")"
done
# gc refuses backends without size accounting as unsupported (1), before
# any connection.
expect_exit 1 gc "redis://127.0.0.1:$redis_port" --max-size 1G

finish "exit codes"
