#!/usr/bin/env bash
# CI: builds the Debian package, installs it on this machine with dpkg -i, starts the
# installed binary with the installed configuration the way the systemd unit would (this
# machine's PID 1 is not systemd, so the unit's User=, WorkingDirectory=, EnvironmentFile=,
# UMask= and ExecStart= are read from the installed unit and applied with setpriv), waits
# for /ready, checks that the data landed in /var/lib/taskbridge, stops it, then removes
# and purges the package, checking what each step keeps. Then the container files'
# offline checks (scripts/container_check.py). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

fail() { echo "package_check: FAILED: $*" >&2; exit 1; }
step() { echo "package_check: $*"; }

unit=/lib/systemd/system/taskbridge.service
log="$(mktemp)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" || true; fi
    if dpkg-query -W -f '${Status}' taskbridge 2>/dev/null | grep -qv not-installed; then dpkg -P taskbridge >/dev/null || true; fi
    rm -f "$log"
}
trap cleanup EXIT

if dpkg-query -W -f '${Status}' taskbridge 2>/dev/null | grep -qv 'not-installed'; then
    step "purging a taskbridge package left by an earlier run"
    dpkg -P taskbridge >/dev/null
fi
getent passwd taskbridge >/dev/null && fail "a taskbridge user exists before the install"

deb="$(bash scripts/build_deb.sh | tail -n1)"
built=$(date +%s)
step "built $deb ($(du -h "$deb" | cut -f1)) in $((built - started)) s"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Depends\|Installed-Size\):/  \1:/p'
# Debian's linter and Compose validator, when they can be installed (about a minute, once a machine).
if ! command -v lintian >/dev/null || ! command -v docker-compose >/dev/null; then
    step "installing lintian and docker-compose"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        lintian docker-compose; } >/dev/null 2>&1 || step "could not install them: the checks that use them are skipped"
fi
if command -v lintian >/dev/null; then
    # The tags accepted on purpose are overridden, with the reason, in packaging/deb/lintian-overrides.
    step "lintian"
    lintian --fail-on error,warning "$deb"
else
    step "lintian is not installed: the package is not linted"
fi

step "dpkg -i"
dpkg -i "$deb"
[ -x /usr/bin/taskbridge ] || fail "/usr/bin/taskbridge is not installed"
/usr/bin/taskbridge --version
[ "$(getent passwd taskbridge | cut -d: -f7)" = /usr/sbin/nologin ] || fail "the taskbridge user has a login shell"
[ "$(id -u taskbridge)" -lt 1000 ] || fail "the taskbridge user is not a system user"
[ "$(stat -c '%a %U %G' /etc/taskbridge/taskbridge.env)" = "640 root taskbridge" ] \
    || fail "/etc/taskbridge/taskbridge.env is $(stat -c '%a %U %G' /etc/taskbridge/taskbridge.env), not 640 root taskbridge"
[ "$(stat -c '%a %U %G' /etc/taskbridge/bootstrap.env)" = "640 root taskbridge" ] \
    || fail "/etc/taskbridge/bootstrap.env is not 640 root taskbridge"
[ "$(stat -c '%a %U %G' /var/lib/taskbridge)" = "750 taskbridge taskbridge" ] \
    || fail "/var/lib/taskbridge is $(stat -c '%a %U %G' /var/lib/taskbridge), not 750 taskbridge taskbridge"
dpkg-query -W -f '${Conffiles}\n' taskbridge | grep -q '^ /etc/taskbridge/taskbridge.env ' \
    || fail "taskbridge.env is not a conffile"
[ -L /etc/systemd/system/multi-user.target.wants/taskbridge.service ] || fail "the unit was not enabled"
if command -v systemd-analyze >/dev/null; then
    step "systemd-analyze verify"
    verify_out="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify: $verify_out"
    # Messages about other units (this machine's own) are not ours.
    if printf '%s\n' "$verify_out" | grep -i 'taskbridge'; then fail "systemd-analyze verify complained about the unit"; fi
    step "systemd-analyze security: $(systemd-analyze security --offline=yes "$unit" 2>/dev/null | tail -n1)"
fi

# The unit's settings, read from the installed unit.
unit_value() { sed -n "s/^$1=//p" "$unit"; }
user="$(unit_value User)"; group="$(unit_value Group)"; workdir="$(unit_value WorkingDirectory)"
umask_value="$(unit_value UMask)"; exec_start="$(unit_value ExecStart)"
[ -n "$user" ] && [ -n "$workdir" ] && [ -n "$exec_start" ] || fail "the unit lacks User=, WorkingDirectory= or ExecStart="
# EnvironmentFile= in order, later files overriding earlier ones, as systemd reads them. The
# files keep to NAME=value lines, for which systemd's reading and this one agree.
env_args=()
plain='^[A-Z_][A-Z0-9_]*=[^"'"'"' ]*$'
while IFS= read -r file; do
    optional=false
    case "$file" in -*) optional=true; file="${file#-}" ;; esac
    if [ ! -e "$file" ]; then $optional && continue; fail "EnvironmentFile $file is missing"; fi
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in '' | '#'* | ';'*) continue ;; esac
        [[ "$line" =~ $plain ]] || fail "$file: not a plain NAME=value line: ${line%%=*}=…"
        env_args+=("$line")
    done <"$file"
done < <(unit_value EnvironmentFile)
addr=""
for kv in "${env_args[@]}"; do case "$kv" in TASKBRIDGE_ADDR=*) addr="${kv#TASKBRIDGE_ADDR=}" ;; esac; done
[ -n "$addr" ] || fail "the installed configuration sets no TASKBRIDGE_ADDR"
port="${addr##*:}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    # Something else has the configured port on this machine: use another, as a drop-in would.
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    env_args+=("TASKBRIDGE_ADDR=127.0.0.1:$port")
    step "port ${addr##*:} is taken here; TASKBRIDGE_ADDR=127.0.0.1:$port instead"
fi
home="$(getent passwd "$user" | cut -d: -f6)"

step "starting '$exec_start' as $user in $workdir"
# shellcheck disable=SC2086 # ExecStart is a command line.
(cd "$workdir" && umask "${umask_value:-0022}" && exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME="$home" USER="$user" LOGNAME="$user" "${env_args[@]}" \
    setpriv --reuid "$user" --regid "${group:-$user}" --init-groups --no-new-privs --inh-caps=-all --bounding-set=-all \
    $exec_start) >"$log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 120); do
    if ready="$(curl -fsS "http://127.0.0.1:$port/ready" 2>/dev/null)"; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; fail "the service exited before it was ready"; }
    ready=""
    sleep 0.5
done
[ -n "$ready" ] || { cat "$log" >&2; fail "/ready did not answer 200 within 60 s"; }
step "/ready: $ready"
ps -o user= -p "$server_pid" | grep -qx "$user" || fail "the service does not run as $user"

# The data landed in the data directory, owned by the service's user.
[ "$(stat -c '%U' /var/lib/taskbridge/taskbridge.db)" = "$user" ] || fail "no database in /var/lib/taskbridge owned by $user"
[ "$(stat -c '%a %U' /var/lib/taskbridge/taskbridge.key)" = "600 $user" ] || fail "no key file (0600, $user) in /var/lib/taskbridge"
# The key the package generated is the admin key; it was never printed.
api_key="$(sed -n 's/^TASKBRIDGE_API_KEY=//p' /etc/taskbridge/bootstrap.env)"
status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/api/v1/projects")"
[ "$status" = 200 ] || fail "GET /api/v1/projects with the generated key answered $status"
if grep -qF "$api_key" "$log"; then fail "the admin key appears in the service's output"; fi
step "the generated admin key works and was not printed"

kill -TERM "$server_pid"
for _ in $(seq 1 90); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$server_pid" 2>/dev/null && fail "the service did not stop within 45 s of SIGTERM"
rc=0; wait "$server_pid" || rc=$?
[ "$rc" = 0 ] || { cat "$log" >&2; fail "the service exited with status $rc after SIGTERM"; }
server_pid=""
step "stopped cleanly"

step "dpkg -r keeps the configuration, the data and the user"
dpkg -r taskbridge >/dev/null
[ ! -e /usr/bin/taskbridge ] || fail "/usr/bin/taskbridge is still there after dpkg -r"
[ -e /etc/taskbridge/taskbridge.env ] && [ -e /var/lib/taskbridge/taskbridge.db ] && getent passwd taskbridge >/dev/null \
    || fail "dpkg -r removed configuration, data or the user"
step "dpkg -P deletes them"
dpkg -P taskbridge >/dev/null
[ ! -e /etc/taskbridge ] || fail "/etc/taskbridge is still there after purge"
[ ! -e /var/lib/taskbridge ] || fail "/var/lib/taskbridge is still there after purge"
! getent passwd taskbridge >/dev/null || fail "the taskbridge user is still there after purge"
! getent group taskbridge >/dev/null || fail "the taskbridge group is still there after purge"
[ ! -e /etc/systemd/system/multi-user.target.wants/taskbridge.service ] || fail "the unit is still enabled after purge"
[ -z "$(dpkg-statoverride --list | grep taskbridge || true)" ] || fail "statoverrides are left after purge"

python3 scripts/container_check.py
step "passed in $(($(date +%s) - started)) s"
