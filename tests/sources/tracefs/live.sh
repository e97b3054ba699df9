#!/usr/bin/env bash
# tests/sources/tracefs/live.sh BIN - live tracefs sessions, for real (root only).
#
# Skips, saying why, without root or tracefs.  Ends with
# "live: N passed, N failed".
set -u
BIN=$(realpath "$1")
TMP=$(mktemp -d)
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
cleanup() {
    for n in etwl-t-main etwl-t-exists etwl-t-int etwl-t-term etwl-t-hup etwl-t-a etwl-t-b etwl-t-f etwl-t-loss; do
        "$BIN" --kill "$n" >/dev/null 2>&1
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
    echo "live: 0 passed, 0 failed (skipped: live tracing needs root)"
    exit 0
fi
# etwlua mounts tracefs itself; a failing --kill of a missing name tells us
# whether tracefs is usable at all
"$BIN" --kill etwl-t-probe >"$TMP/probe" 2>&1
if grep -q "tracefs is not mounted" "$TMP/probe"; then
    echo "live: 0 passed, 0 failed (skipped: $(cat "$TMP/probe"))"
    exit 0
fi
TRACEFS=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)

# Starts a session in the background and waits until its instance exists.
start() { # name args...
    local name=$1
    shift
    "$BIN" -n "$name" --no-rules "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    eval "pid_${name//-/_}=$!"
    for _ in $(seq 100); do
        [ -d "$TRACEFS/instances/$name" ] && grep -q "started" "$TMP/$name.err" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
instance_gone() { [ ! -d "$TRACEFS/instances/$1" ] && ! grep -q "etwlua_${1//[^a-zA-Z0-9]/_}/" "$TRACEFS/uprobe_events"; }

# 1. /bin/echo with a unique argument: full command line, pid and ppid.
mark="uniq-$$-$RANDOM"
start etwl-t-main --json --duration 4 --dump -p process || bad "session did not start"
bash -c "/bin/echo $mark 'second arg' >/dev/null & echo \$! \$\$ >$TMP/ids; wait"
wait "$pid_etwl_t_main"
read -r echo_pid sh_pid <"$TMP/ids"
python3 - "$TMP/etwl-t-main.out" "$mark" "$echo_pid" "$sh_pid" <<'PY' && ok || bad "/bin/echo not seen whole"
import json, sys
path, mark, pid, ppid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for line in open(path):
    e = json.loads(line)
    i = e["info"]
    if e["header"]["event_name"] == "start" and i.get("argv", [""])[0] == "/bin/echo" and mark in i["cmdline"]:
        assert i["argv"] == ["/bin/echo", mark, "second arg"], i["argv"]
        assert i["cmdline"] == "/bin/echo %s 'second arg'" % mark, i["cmdline"]
        assert i["pid"] == pid and i["ppid"] == ppid, (i["pid"], i["ppid"], pid, ppid)
        assert i["argv_source"] == "probe" and i["image"] == "/bin/echo"
        sys.exit(0)
sys.exit("no start event for " + mark)
PY
instance_gone etwl-t-main && ok || bad "instance left after --duration"

# 2. A 50-deep sh -c chain, whole and with correct parentage.
mark="chain-$$-$RANDOM"
start etwl-t-main --json --duration 5 --dump -p process || bad "session did not start"
S='n=$1; if [ "$n" -lt 50 ]; then sh -c "$0" "$0" $((n+1)) '$mark'; fi; true'
sh -c "$S" "$S" 1 "$mark"
wait "$pid_etwl_t_main"
python3 - "$TMP/etwl-t-main.out" "$mark" <<'PY' && ok || bad "50-deep chain"
import json, sys
levels = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    i = e["info"]
    if e["header"]["event_name"] == "start" and sys.argv[2] in i.get("cmdline", "") and len(i["argv"]) == 6:
        levels[int(i["argv"][4])] = (i["pid"], i["ppid"])
assert sorted(levels) == list(range(1, 51)), sorted(levels)
for k in range(2, 51):
    assert levels[k][1] == levels[k - 1][0], (k, levels[k], levels[k - 1])
PY

# 3. The exists error, and kill.
mkdir "$TRACEFS/instances/etwl-t-exists"
"$BIN" -n etwl-t-exists --no-rules --duration 1 >/dev/null 2>"$TMP/exists.err"
code=$?
[ $code = 3 ] && grep -q "session named 'etwl-t-exists' already exists" "$TMP/exists.err" && [ -d "$TRACEFS/instances/etwl-t-exists" ] &&
    ok || bad "exists error (exit $code: $(cat "$TMP/exists.err"))"
"$BIN" --kill etwl-t-exists 2>/dev/null && [ ! -d "$TRACEFS/instances/etwl-t-exists" ] && ok || bad "--kill"
"$BIN" --kill etwl-t-exists 2>"$TMP/kill.err"
[ $? = 1 ] && grep -q "no session named" "$TMP/kill.err" && ok || bad "--kill of a missing session"
# a running session killed from outside stops, and cleans up
start etwl-t-main --dump || bad "session did not start"
"$BIN" --kill etwl-t-main 2>/dev/null
for _ in $(seq 50); do kill -0 "$pid_etwl_t_main" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid_etwl_t_main" 2>/dev/null && { bad "killed session still running"; kill "$pid_etwl_t_main"; } || ok
instance_gone etwl-t-main && ok || bad "instance left after --kill"

# 4. SIGINT, SIGTERM and SIGHUP leave nothing behind.
for sig in INT TERM HUP; do
    n=etwl-t-$(echo $sig | tr A-Z a-z)
    start "$n" --dump || bad "$n did not start"
    eval "p=\$pid_${n//-/_}"
    kill -$sig "$p"
    wait "$p"
    code=$?
    [ $code = 0 ] && instance_gone "$n" && ok || bad "SIG$sig: exit $code, instance $(ls "$TRACEFS/instances")"
done

# 5. Two sessions with different names at once both see the same process.
mark="two-$$-$RANDOM"
start etwl-t-a --json --duration 4 --dump -p process || bad "a did not start"
start etwl-t-b --json --duration 4 --dump -p process || bad "b did not start"
/bin/echo "$mark" >/dev/null
wait "$pid_etwl_t_a" "$pid_etwl_t_b"
grep -q "$mark" "$TMP/etwl-t-a.out" && grep -q "$mark" "$TMP/etwl-t-b.out" && ok || bad "two sessions"

# 6. A script filter on sched:sched_process_exec passes only those events.
start etwl-t-f -p sched --duration 3 -e 'local etw = require "etw"
etw.on({provider="sched:sched_process_exec"}, function(ev) print(ev.provider .. ":" .. ev.event_name, ev.info.filename) end)' ||
    bad "filter session did not start"
/bin/echo filtered >/dev/null
wait "$pid_etwl_t_f"
grep -q "sched:sched_process_exec.*/bin/echo" "$TMP/etwl-t-f.err" &&
    ! grep -v "^etwlua" "$TMP/etwl-t-f.err" | grep -vq "^sched:sched_process_exec" && ok || bad "script filter"

# 7. A deliberately tiny buffer under load reports losses, not silence.
start etwl-t-loss --buffer-kb 4 -p raw_syscalls:sys_enter --stats --duration 3 -e 'local etw = require "etw"
etw.on(function(ev) local x = 0 for i = 1, 2000 do x = x + i end end)' || bad "loss session did not start"
python3 -c 'import os
for i in range(300000): os.getppid()' &
wait "$pid_etwl_t_loss"
wait
lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' "$TMP/etwl-t-loss.err" | tail -1)
[ "${lost:-0}" -gt 0 ] && grep -q '"rule":"etwlua.events_lost"' "$TMP/etwl-t-loss.out" && ok ||
    bad "loss accounting (lost=${lost:-?}: $(tail -3 "$TMP/etwl-t-loss.err"))"

# 8. STACK_TRACE: each event's kernel stack arrives in ext.stacktrace, also
# under a burst of execs, when events end read rounds and their stack
# records only arrive with the next round.
start etwl-t-f -p sched:sched_process_exec -E STACK_TRACE --dump --json --duration 3 || bad "stack session did not start"
/bin/echo stacks >/dev/null
for i in $(seq 300); do /bin/true; done
wait "$pid_etwl_t_f"
python3 - "$TMP/etwl-t-f.out" <<'PY' && ok || bad "STACK_TRACE"
import json, sys
seen = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    st = e["ext"].get("stacktrace")
    assert st and len(st["addresses"]) > 0, e["ext"]
    assert all(a >= 0xffff000000000000 for a in st["addresses"]), st  # kernel addresses
    seen += 1
assert seen > 0
PY

echo "live: $pass passed, $fail failed"
[ $fail = 0 ]
