#!/usr/bin/env bash
# The standalone server starts on a free port, logs requests, rejects bad
# flags and stops cleanly on SIGTERM.
set -uo pipefail
server=$1
out=$(mktemp) err=$(mktemp)

"$server" --help >"$out" 2>"$err" || { echo "FAIL: --help exited non-zero"; exit 1; }
grep -q "^usage: polaris_mock_server" "$out" || { echo "FAIL: --help printed no usage"; cat "$out"; exit 1; }

if "$server" --naming_port=notaport 2>"$err"; then
  echo "FAIL: a bad port was accepted"; exit 1
fi
grep -q "naming_port: 'notaport' is not a port" "$err" || { echo "FAIL: no clear error"; cat "$err"; exit 1; }
if "$server" --bogus 2>"$err"; then echo "FAIL: unknown flag accepted"; exit 1; fi
grep -q "unknown flag '--bogus'" "$err" || { echo "FAIL: unknown flag not named"; exit 1; }

echo '{"services": [{"service": "Echo", "routng": {}}]}' >"$TEST_TMPDIR/bad.json"
if "$server" --naming_port=0 --rules="$TEST_TMPDIR/bad.json" 2>"$err"; then
  echo "FAIL: a bad rules file was accepted"; exit 1
fi
grep -q "routng" "$err" || { echo "FAIL: bad rules file error does not name the field"; cat "$err"; exit 1; }
echo '{"services": [{"service": "Echo", "routing": {"inbounds": [{}]}}]}' >"$TEST_TMPDIR/rules.json"

"$server" --naming_port=0 --ratelimit_port=0 --rules="$TEST_TMPDIR/rules.json" >"$out" 2>"$err" &
pid=$!
for _ in $(seq 1 100); do grep -q "naming API on 127.0.0.1:" "$out" && break; sleep 0.05; done
grep -q "naming API on 127.0.0.1:[0-9]" "$out" || { echo "FAIL: did not start"; cat "$out" "$err"; kill $pid; exit 1; }
port=$(sed -n 's/.*naming API on 127.0.0.1:\([0-9]*\),.*/\1/p' "$out")
ratelimit_port=$(sed -n 's/.*rate limit on 127.0.0.1:\([0-9]*\).*/\1/p' "$out")
# Something is listening on both ports.
for p in "$port" "$ratelimit_port"; do
  if [[ -z "$p" ]] || ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
    echo "FAIL: nothing listens on '$p'"; cat "$out"; kill $pid; exit 1
  fi
done
kill -TERM $pid
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then echo "FAIL: did not stop on SIGTERM"; kill -9 $pid; exit 1; fi
wait $pid; rc=$?
[[ $rc == 0 ]] || { echo "FAIL: exit code $rc"; exit 1; }
grep -q "stopping (signal 15)" "$err" || { echo "FAIL: no stop message"; exit 1; }
echo PASS
