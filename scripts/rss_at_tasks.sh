#!/usr/bin/env bash
# Memory of the release binary holding a project of N tasks (default 100,000): the tasks are
# created through `POST /api/v1/tasks` by wrk, then a request is processed against the project
# (which builds its duplicate index) and a task list is read; the server's resident memory is
# printed after each step. Issue 24's goal: under 200 MB.
#   scripts/rss_at_tasks.sh [tasks]
# Env: DATABASE (default: a fresh SQLite file), BIN (default target/release/taskbridge), PORT (18081).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
TASKS="${1:-100000}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/taskbridge}"
PORT="${PORT:-18081}"
KEY="rss-admin-key-0123456789abcdef"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
DATABASE="${DATABASE:-sqlite://$work/rss.db}"
base="http://127.0.0.1:$PORT"

TASKBRIDGE_ADDR="127.0.0.1:$PORT" TASKBRIDGE_DATABASE_URL="$DATABASE" TASKBRIDGE_API_KEY="$KEY" \
  TASKBRIDGE_RATE_LIMIT=off TASKBRIDGE_LOG=warn "$BIN" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fsS "$base/ready" >/dev/null 2>&1 && break; sleep 0.1; done
memory() { echo "| $1 | $(awk '/^VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status") | $(awk '/^VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status") |"; }
echo "| after | resident | peak |"
echo "| --- | --- | --- |"
memory "start"
project=$(curl -fsS -X POST "$base/api/v1/projects" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"name":"rss"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# Distinct titles from a small vocabulary, as a real backlog has; each wrk thread stops at its share.
cat > "$work/tasks.lua" <<LUA
local words = {"login","export","invoice","report","sync","search","upload","payment","email","dashboard",
  "import","backup","cache","profile","billing","webhook","timeout","crash","slow","missing"}
local share = math.floor($TASKS / 2)
local n = 0
local answered = 0
local id = 0
setup = function(thread) id = id + 1; thread:set("tid", id) end
request = function()
  n = n + 1
  local a = words[(n * 7 + tid) % #words + 1]
  local b = words[(n * 13 + tid * 3) % #words + 1]
  local body = '{"project_id":"$project","title":"' .. a .. ' ' .. b .. ' fails for customer ' .. tid .. '-' .. n ..
    '","description":"Customers report that ' .. a .. ' breaks when ' .. b .. ' is used (case ' .. tid .. '-' .. n .. ')."}'
  return wrk.format("POST", "/api/v1/tasks",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $KEY"}, body)
end
response = function(status, headers, body)
  answered = answered + 1
  if answered >= share then wrk.thread:stop() end
end
LUA
# A thread stops once its share is answered; the time limit only guards against a stall.
timeout 900 wrk -t2 -c16 -d600s -s "$work/tasks.lua" "$base" > "$work/wrk.log" || true
made=$(awk '/requests in/ {print $1}' "$work/wrk.log")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.log")
# wrk waits out its -d even once every thread has stopped, so this is not the creates' time.
echo "| ${made:-?} task creates answered (non-2xx: ${non2xx:-0}) | | |"
memory "the tasks created"
curl -fsS -X POST "$base/api/v1/messages?wait=true" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "{\"project_id\":\"$project\",\"text\":\"The export of invoices fails for customer 9-9 since Monday\"}" \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print("| request processed:", m.get("status"), "|", "|", "|")'
memory "a request decided against the project's tasks"
curl -fsS "$base/api/v1/tasks?project_id=$project&limit=100" -H "Authorization: Bearer $KEY" >/dev/null
memory "a page of the task list"
