#!/usr/bin/env bash
# Acceptance throughput of POST /api/v1/messages measured by an external load generator (wrk)
# against the release binary with its workers off: persist-and-enqueue alone.
#   scripts/accept_load.sh [connections...]    (default: 8 32 64)
# Env: DATABASE (default: a fresh SQLite file; a postgres:// URL of an empty database works
# too), DURATION (default 10s), BIN (default target/release/taskbridge), PORT (default 18080),
# RATE_LIMIT and RATE_BURST (the API-key limit, default off; a limit high enough never to refuse
# measures the limiter's cost), REDIS_URL (the limiter shared through Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/taskbridge}"
PORT="${PORT:-18080}"
DURATION="${DURATION:-10s}"
KEY="load-admin-key-0123456789abcdef"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
DATABASE="${DATABASE:-sqlite://$work/load.db}"

env TASKBRIDGE_ADDR="127.0.0.1:$PORT" TASKBRIDGE_DATABASE_URL="$DATABASE" TASKBRIDGE_API_KEY="$KEY" \
  TASKBRIDGE_WORKERS=0 TASKBRIDGE_RATE_LIMIT="${RATE_LIMIT:-off}" TASKBRIDGE_RATE_BURST="${RATE_BURST:-100000}" \
  ${REDIS_URL:+TASKBRIDGE_REDIS_URL="$REDIS_URL"} TASKBRIDGE_LOG=warn "$BIN" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.1; done
project=$(curl -fsS -X POST "http://127.0.0.1:$PORT/api/v1/projects" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"name":"load"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

cat > "$work/post.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  local body = '{"project_id":"$project","text":"Please renew the certificate of host node-' .. n .. ' before Friday"}'
  return wrk.format("POST", "/api/v1/messages",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $KEY"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.0f %.2f %.2f %.2f %d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

echo "| connections | accepted/s | p50 | p99 | max | errors |"
echo "| --- | --- | --- | --- | --- | --- |"
for c in "${@:-8 32 64}"; do
  for conns in $c; do
    line=$(wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$work/post.lua" "http://127.0.0.1:$PORT" | grep '^RESULT')
    read -r _ total rate p50 p99 max errors <<<"$line"
    echo "| $conns | $rate | $p50 ms | $p99 ms | $max ms | $errors |"
  done
done
kept=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/messages?project_id=$project&limit=1" -H "Authorization: Bearer $KEY" >/dev/null && echo ok)
echo "server answered after the load: ${kept:-no}"
# The server's memory after the load: resident now and at its peak.
echo "server memory: $(grep -E '^Vm(RSS|HWM)' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd, -)"
