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
# Session names are this run's own, so runs from other worktrees on the
# same machine cannot collide with ours; every name a check uses, for the
# cleanup.
P=etwl-$$
NAMES="$P-main $P-exists $P-int $P-term $P-hup $P-a $P-b $P-f $P-loss
$P-x ${P}_x $P-list $P-st $P-rl $P-tree $P-tree2"
cleanup() {
    # only this shell: a background job killed between bash's fork and its
    # exec is a copy of this shell and would run this trap mid-test
    local me
    read -r me _ </proc/self/stat # (a builtin: this process's own pid)
    [ "$me" = "$$" ] || return
    for n in $NAMES; do
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
"$BIN" --kill $P-probe >"$TMP/probe" 2>&1
if grep -q "tracefs is not mounted" "$TMP/probe"; then
    echo "live: 0 passed, 0 failed (skipped: $(cat "$TMP/probe"))"
    exit 0
fi
TRACEFS=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)
# How long a session may take to start, or to stop, on a loaded machine.
# Waits poll for readiness and end as soon as it is there; this is only
# the bound that turns a hang into a failure.
LIMIT=${ETWLUA_LIVE_LIMIT:-60}

declare -A PID # session name -> pid
# Starts a session in the background and waits until its instance exists
# and it says it started (it handles SIGINT/SIGTERM/SIGHUP by then; a
# background job of this shell starts with SIGINT ignored until etwlua
# installs its handler).
start() { # name args...
    local name=$1 i
    shift
    "$BIN" -n "$name" --no-rules "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PID[$name]=$!
    for ((i = 0; i < LIMIT * 20; i++)); do
        [ -d "$TRACEFS/instances/$name" ] && grep -q "started" "$TMP/$name.err" 2>/dev/null && return 0
        kill -0 $! 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
# Waits for a process of ours to end, at most SECS (default LIMIT), and
# returns its exit code; one that does not end is killed (exit 137) so the
# suite never hangs.
bwait() { # pid [secs]
    local pid=$1 secs=${2:-$LIMIT} i
    for ((i = 0; i < secs * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL: pid $pid still running after ${secs}s; killed"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
}
# Polls until a command succeeds, at most SECS.
until_ok() { # secs command...
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}
# The uprobe group of a session name, as tracefs.c derives it.
group() { printf 'etwlua_%s' "$(printf '%s' "$1" | sed 's/_/__/g; s/-/_d/g; s/\./_o/g')"; }
probe_left() { grep -q "$(group "$1")/" "$TRACEFS/uprobe_events"; }
instance_gone() { [ ! -d "$TRACEFS/instances/$1" ] && ! probe_left "$1"; }

# Sessions run until the test has seen what it waits for, not for a fixed
# time: SHOW prints each process start on stderr (unbuffered, unlike the
# --dump output), and stop_when stops the session with SIGTERM once a
# pattern appeared COUNT times (at most LIMIT s), then waits for it.
# A pattern must not match the START line of the grep that looks for it
# (its command line holds the pattern): anchor it on what follows the argv
# source, or on the line's end.
SHOW='local etw = require "etw"
etw.on({provider="process"}, function(ev)
  if ev.event_name == "start" then print("START", ev.info.argv_source, ev.info.cmdline) end
end)'
stop_when() { # name pattern [count]
    local f=$TMP/$1.err pat=$2 want=${3:-1}
    until_ok "$LIMIT" eval '[ "$(grep -c -- "$pat" "$f")" -ge "$want" ]'
    kill -TERM "${PID[$1]}" 2>/dev/null
    bwait "${PID[$1]}"
}

# 1. /bin/echo with a unique argument: full command line, pid and ppid.
mark="uniq-$$-$RANDOM"
start $P-main --json --dump -p process -e "$SHOW" || bad "session did not start"
timeout -s KILL "$LIMIT" bash -c "/bin/echo $mark 'second arg' >/dev/null & echo \$! \$\$ >$TMP/ids; wait"
stop_when $P-main "^START.[a-z]*./bin/echo $mark" # (not bash -c, whose command line has it too)
read -r echo_pid sh_pid <"$TMP/ids"
python3 - "$TMP/$P-main.out" "$mark" "$echo_pid" "$sh_pid" <<'PY' && ok || bad "/bin/echo not seen whole"
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
instance_gone $P-main && ok || bad "instance left after SIGTERM"

# 2. A 50-deep sh -c chain, whole and with correct parentage.
mark="chain-$$-$RANDOM"
start $P-main --json --dump -p process -e "$SHOW" || bad "session did not start"
S='n=$1; if [ "$n" -lt 50 ]; then sh -c "$0" "$0" $((n+1)) '$mark'; fi; true'
timeout -s KILL "$LIMIT" sh -c "$S" "$S" 1 "$mark"
stop_when $P-main "^START.*' 50 $mark\$" # the last level
python3 - "$TMP/$P-main.out" "$mark" <<'PY' && ok || bad "50-deep chain"
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
mkdir "$TRACEFS/instances/$P-exists"
timeout -s KILL "$LIMIT" "$BIN" -n $P-exists --no-rules --duration 1 >/dev/null 2>"$TMP/exists.err"
code=$?
[ $code = 3 ] && grep -q "session named '$P-exists' already exists" "$TMP/exists.err" && [ -d "$TRACEFS/instances/$P-exists" ] &&
    ok || bad "exists error (exit $code: $(cat "$TMP/exists.err"))"
"$BIN" --kill $P-exists 2>/dev/null && [ ! -d "$TRACEFS/instances/$P-exists" ] && ok || bad "--kill"
"$BIN" --kill $P-exists 2>"$TMP/kill.err"
[ $? = 1 ] && grep -q "no session named" "$TMP/kill.err" && ok || bad "--kill of a missing session"
# a running session killed from outside stops, and cleans up
start $P-main --dump || bad "session did not start"
timeout -s KILL "$LIMIT" "$BIN" --kill $P-main 2>/dev/null
until_ok "$LIMIT" eval '! kill -0 "${PID[$P-main]}" 2>/dev/null' && ok || bad "killed session still running"
bwait "${PID[$P-main]}" 5 >/dev/null
instance_gone $P-main && ok || bad "instance left after --kill"

# 4. SIGINT and SIGTERM leave nothing behind; SIGHUP reloads and goes on.
for sig in INT TERM; do
    n=$P-$(echo $sig | tr A-Z a-z)
    start "$n" --dump || bad "$n did not start"
    p=${PID[$n]}
    kill -$sig "$p"
    bwait "$p"
    code=$?
    [ $code = 0 ] && instance_gone "$n" && ok || bad "SIG$sig: exit $code, instance $(ls "$TRACEFS/instances")"
done

start $P-hup -p process -e 'local etw = require "etw"
etw.on(function() end)
etw.on_start(function() print("HUP-START") end)' || bad "$P-hup did not start"
p=${PID[$P-hup]}
until_ok "$LIMIT" grep -q HUP-START "$TMP/$P-hup.err"
kill -HUP "$p"
# the new state is swapped in at the next event: make some
until_ok "$LIMIT" eval '/bin/true; [ "$(grep -c HUP-START "$TMP/$P-hup.err")" -ge 2 ]' && kill -0 "$p" 2>/dev/null &&
    ok || bad "SIGHUP: no reload ($(tail -3 "$TMP/$P-hup.err"))"
kill -TERM "$p"
bwait "$p"
code=$?
[ $code = 0 ] && instance_gone $P-hup && ok || bad "SIGTERM after SIGHUP: exit $code"

# --duration ends a session by itself, and cleans up
start $P-int --duration 1 || bad "--duration session did not start"
bwait "${PID[$P-int]}"
code=$?
[ $code = 0 ] && instance_gone $P-int && ok || bad "--duration: exit $code, instance $(ls "$TRACEFS/instances")"

# 5. Two sessions with different names at once both see the same process.
mark="two-$$-$RANDOM"
start $P-a --json --dump -p process -e "$SHOW" || bad "a did not start"
start $P-b --json --dump -p process -e "$SHOW" || bad "b did not start"
/bin/echo "$mark" >/dev/null
stop_when $P-a "^START.[a-z]*./bin/echo $mark\$"
stop_when $P-b "^START.[a-z]*./bin/echo $mark\$"
grep -q "\"cmdline\":\"/bin/echo $mark\"" "$TMP/$P-a.out" && grep -q "\"cmdline\":\"/bin/echo $mark\"" "$TMP/$P-b.out" &&
    ok || bad "two sessions"

# 6. A script filter on sched:sched_process_exec passes only those events.
start $P-f -p sched -e 'local etw = require "etw"
etw.on({provider="sched:sched_process_exec"}, function(ev) print(ev.provider .. ":" .. ev.event_name, ev.info.filename) end)' ||
    bad "filter session did not start"
/bin/echo filtered >/dev/null
stop_when $P-f "sched:sched_process_exec.*/bin/echo"
grep -q "sched:sched_process_exec.*/bin/echo" "$TMP/$P-f.err" &&
    ! grep -v "^etwlua" "$TMP/$P-f.err" | grep -vq "^sched:sched_process_exec" && ok || bad "script filter"

# 7. A deliberately tiny buffer under load reports losses, not silence.
start $P-loss --buffer-kb 4 -p raw_syscalls:sys_enter --stats -e 'local etw = require "etw"
etw.on(function(ev) local x = 0 for i = 1, 2000 do x = x + i end end)' || bad "loss session did not start"
timeout -s KILL "$LIMIT" python3 -c 'import os
for i in range(300000): os.getppid()' &
gen=$!
bwait $gen >/dev/null
kill -TERM "${PID[$P-loss]}"
bwait "${PID[$P-loss]}"
lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' "$TMP/$P-loss.err" | tail -1)
[ "${lost:-0}" -gt 0 ] && grep -q '"rule":"etwlua.events_lost"' "$TMP/$P-loss.out" && ok ||
    bad "loss accounting (lost=${lost:-?}: $(tail -3 "$TMP/$P-loss.err"))"

# 8. STACK_TRACE: each event's kernel stack arrives in ext.stacktrace, also
# under a burst of execs, when events end read rounds and their stack
# records only arrive with the next round.
start $P-f -p sched:sched_process_exec -E STACK_TRACE --dump --json -e 'local etw = require "etw"
etw.on(function(ev) print("EXEC", ev.info.filename) end)' || bad "stack session did not start"
/bin/echo stacks >/dev/null
for i in $(seq 300); do /bin/true; done
stop_when $P-f "EXEC./bin/true" 300
python3 - "$TMP/$P-f.out" <<'PY' && ok || bad "STACK_TRACE"
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

# 9. Session names that differ only in '-' and '_' (X-Y, X_Y) get their own
# argv probes: both see command lines from the probe, also after the first
# one stops (it once removed the probe the two shared).
show='local etw = require "etw"
etw.on({provider="process"}, function(ev)
  if ev.event_name == "start" then print("START", ev.info.argv_source, ev.info.cmdline) end
end)'
start $P-x -p process -e "$show" || bad "$P-x did not start"
start ${P}_x -p process -e "$show" || bad "${P}_x did not start"
[ "$(group $P-x)" != "$(group ${P}_x)" ] && probe_left $P-x && probe_left ${P}_x && ok ||
    bad "colliding names: two probe groups ($(grep -o 'etwlua_[^/]*' "$TRACEFS/uprobe_events" | tr '\n' ' '))"
seen() { grep -q "^START.probe./bin/echo $2\$" "$TMP/$1.err"; }
m1="collide-1-$$-$RANDOM"
/bin/echo "$m1" >/dev/null
until_ok "$LIMIT" seen $P-x "$m1" && ok || bad "X-Y: argv from the probe ($(grep "$m1" "$TMP/$P-x.err"))"
until_ok "$LIMIT" seen ${P}_x "$m1" && ok || bad "X_Y: argv from the probe ($(grep "$m1" "$TMP/${P}_x.err"))"
kill -TERM "${PID[$P-x]}"
bwait "${PID[$P-x]}" >/dev/null
m2="collide-2-$$-$RANDOM"
/bin/echo "$m2" >/dev/null
until_ok "$LIMIT" seen ${P}_x "$m2" && ok || bad "X_Y keeps its probe after X-Y stops ($(grep "$m2" "$TMP/${P}_x.err"))"
kill -TERM "${PID[${P}_x]}"
bwait "${PID[${P}_x]}" >/dev/null
instance_gone $P-x && instance_gone ${P}_x && ok || bad "colliding names: left behind"

# 10. --list shows each session with its owner and whether the owner runs;
# a session whose owner was killed (-9) keeps recording, and --list says
# so, until --kill removes it.
start $P-list || bad "$P-list did not start"
lp=${PID[$P-list]}
timeout -s KILL "$LIMIT" "$BIN" --list >"$TMP/list1" 2>&1
grep -Eq "^$P-list +$lp +alive +yes$" "$TMP/list1" && ok || bad "--list of a running session: $(cat "$TMP/list1")"
kill -KILL "$lp"
bwait "$lp" >/dev/null 2>&1 # (and no "Killed" notice)
timeout -s KILL "$LIMIT" "$BIN" --list >"$TMP/list2" 2>&1
grep -Eq "^$P-list +$lp +gone +yes$" "$TMP/list2" && ok || bad "--list after kill -9: $(cat "$TMP/list2")"
probe_left $P-list && ok || bad "the orphan's probe should stay armed until --kill"
timeout -s KILL "$LIMIT" "$BIN" --kill $P-list 2>/dev/null
timeout -s KILL "$LIMIT" "$BIN" --list >"$TMP/list3" 2>&1
! grep -q "$P-list" "$TMP/list3" && instance_gone $P-list && ok || bad "--list after --kill: $(cat "$TMP/list3")"

# 11. A stop during start-up never leaves a session behind: SIGTERM at 20
# delays from 0 to 2 s after launch (before, during and after the instance
# and the probe are made, and while the rundown runs).
left=0
for i in $(seq 0 19); do
    d=$(awk -v i="$i" 'BEGIN { printf "%.3f", i * 2 / 19 }')
    "$BIN" -n $P-st --no-rules -p process >/dev/null 2>"$TMP/st.err" &
    sp=$!
    # count from etwlua's exec: a signal to bash's child before its exec
    # would hit a copy of this shell, which shares (and moves) our read
    # offset in this script
    until_ok "$LIMIT" eval '[ "$(readlink /proc/$sp/exe)" = "$BIN" ] || ! kill -0 $sp 2>/dev/null'
    sleep "$d"
    kill -TERM "$sp" 2>/dev/null
    bwait "$sp" >/dev/null
    code=$?
    if ! instance_gone $P-st || [ -e /run/etwlua/$P-st ]; then
        left=$((left + 1))
        echo "FAIL: SIGTERM after ${d}s (exit $code) left: $(ls "$TRACEFS/instances") $(grep -o 'etwlua_[^/]*' "$TRACEFS/uprobe_events")"
        timeout -s KILL "$LIMIT" "$BIN" --kill $P-st >/dev/null 2>&1
    elif [ "$code" != 0 ] && [ "$code" != 143 ]; then
        left=$((left + 1))
        echo "FAIL: SIGTERM after ${d}s: exit $code: $(cat "$TMP/st.err")"
    fi
done
[ $left = 0 ] && ok || bad "SIGTERM during start-up: $left of 20 delays failed"

# 12. Hot reload on a live session with the rule library: a rule file
# touched under --watch and SIGHUP both swap a new state in; a syntax error
# and an on_start that throws are refused and the old rules keep alerting;
# process lookups (ev.process) work across the swaps.
cp -r "$(dirname "$BIN")/../../../lua" "$TMP/lua"
RL='local etw = require "etw"
local s = etw.reload_state
etw.on_start(function() s.v = (s.v or 0) + 1 print("RL-START " .. s.v) end)
etw.on({provider="process"}, function(ev)
  if ev.event_name == "start" and ev.info.cmdline:find("^/bin/echo rl%-mark") then
    local p = ev.process
    print("RL-SEEN v" .. s.v .. " " .. ev.info.cmdline .. " process=" .. tostring(p and p.pid == ev.info.pid))
  end
end)'
printf '%s\n' "$RL" >"$TMP/rl.lua"
start_rl() { # waits for the watch too
    "$BIN" -n $P-rl --lua-dir "$TMP/lua" -p process --stats --watch "$TMP/rl.lua" >"$TMP/$P-rl.out" 2>"$TMP/$P-rl.err" &
    PID[$P-rl]=$!
    until_ok "$LIMIT" grep -q "RL-START 1" "$TMP/$P-rl.err"
}
rl_seen() { # version mark: the process start of `/bin/echo rl-mark-MARK` seen by that version
    local v=$1 m=rl-mark-$2
    until_ok "$LIMIT" eval "/bin/echo $m >/dev/null; grep -q '^RL-SEEN v$v /bin/echo $m process=true' '$TMP/$P-rl.err'"
}
start_rl || bad "reload session did not start: $(tail -3 "$TMP/$P-rl.err")"
rl_seen 1 a && ok || bad "v1 does not see processes"
touch "$TMP/lua/rules/linux/$(ls "$TMP/lua/rules/linux" | head -1)"
rl_seen 2 b && ok || bad "--watch: a touched rule file did not reload ($(tail -3 "$TMP/$P-rl.err"))"
kill -HUP "${PID[$P-rl]}"
rl_seen 3 c && ok || bad "SIGHUP did not reload ($(tail -3 "$TMP/$P-rl.err"))"
# broken: a syntax error in a rule file, then an on_start that throws
# (each version is written aside and renamed in, as editors save: one change)
cp "$TMP/rl.lua" "$TMP/rl.good"
{ cat "$TMP/rl.good"; printf 'local x = = 1\n'; } >"$TMP/rl.new" && mv "$TMP/rl.new" "$TMP/rl.lua"
until_ok "$LIMIT" grep -q "reload refused.*rl.lua:[0-9]*:" "$TMP/$P-rl.err" && ok || bad "syntax error not refused"
rl_seen 3 d && ok || bad "the old rules stopped after a refused reload"
{ cat "$TMP/rl.good"; printf 'etw.on_start(function() error("broken start") end)\n'; } >"$TMP/rl.new" &&
    mv "$TMP/rl.new" "$TMP/rl.lua"
until_ok "$LIMIT" eval '/bin/true; grep -q "reload refused.*broken start" "$TMP/$P-rl.err"' && ok || bad "on_start error not refused"
rl_seen 3 e && ok || bad "the old rules stopped after a refused on_start"
# the rule library still alerts after the swaps and refusals: a program run from /tmp
cp /bin/true "$TMP/rl-exec-from-tmp"
until_ok "$LIMIT" eval '"$TMP/rl-exec-from-tmp"; grep -q "lnx.exec_from_tmp.*rl-exec-from-tmp" "$TMP/$P-rl.out" || { kill -0 ${PID[$P-rl]} && false; }' ||
    true # (stdout is flushed at exit: checked below)
kill -TERM "${PID[$P-rl]}"
bwait "${PID[$P-rl]}"
code=$?
grep -q '"rule":"lnx.exec_from_tmp".*rl-exec-from-tmp' "$TMP/$P-rl.out" && ok || bad "no library alert after the reloads"
grep -q "etwlua: reload: reloads=2 refused=2" "$TMP/$P-rl.err" && [ $code = 0 ] && instance_gone $P-rl && ok ||
    bad "reload stats (exit $code): $(grep 'reload:' "$TMP/$P-rl.err")"
[ "$(grep -c '"rule":"etwlua.reloaded"' "$TMP/$P-rl.out")" = 2 ] && ok || bad "etwlua.reloaded alerts"

# 13. The live process tree (SIGUSR2): a sh -c chain appears with the
# right parents.  And a fork child that the rundown catches before its exec
# (a subshell, with bash's image, waiting on a fifo) shows up as what it
# execs once released, not as the rundown saw it.
mark="tree-$$-$RANDOM"
mkfifo "$TMP/gate"
(read -r _ <"$TMP/gate"; exec sleep 61) &
waiter=$!
start $P-tree -p process --json -e "$SHOW
etw.on({provider=\"process\"}, function(ev)
  local a = ev.info.argv -- (the mark itself would put this session in the chain)
  if ev.event_name == \"start\" and a and #a == 6 and a[5] == \"3\" and a[6]:find(\"^tree%-\") then
    etw.alert{rule = \"test.chain_end\", severity = \"low\", event = ev}
    print(\"CHAIN-END\")
  end
end)" || bad "tree session did not start"
echo go >"$TMP/gate"
S='n=$1; if [ "$n" -lt 3 ]; then sh -c "$0" "$0" $((n+1)) '$mark'; else sleep 60; fi'
sh -c "$S" "$S" 1 "$mark" &
chain=$!
# (a wait that named the mark would put its own grep in the chain)
until_ok "$LIMIT" grep -q "^CHAIN-END\$" "$TMP/$P-tree.err" || bad "chain's third level not seen"
until_ok "$LIMIT" grep -q "^START.[a-z]*.sleep 60\$" "$TMP/$P-tree.err" || bad "chain's sleep not seen"
until_ok "$LIMIT" grep -q "^START.[a-z]*.sleep 61\$" "$TMP/$P-tree.err" || bad "the released subshell's exec not seen"
kill -USR2 "${PID[$P-tree]}"
until_ok "$LIMIT" grep -q "^etwlua: end of process tree" "$TMP/$P-tree.err" || bad "no tree on SIGUSR2"
python3 - "$TMP/$P-tree.err" "$mark" "$chain" "$waiter" <<'PY' && ok || bad "live tree of the chain: $(grep -c . "$TMP/$P-tree.err") lines"
import json, sys
lines = open(sys.argv[1]).read().split("etwlua: process tree at ", 1)[1].split("etwlua: end of process tree")[0]
nodes = [json.loads(l) for l in lines.splitlines()[1:] if l.startswith("{")]
chain = [n for n in nodes if sys.argv[2] in (n.get("command_line") or "")]
levels = {int(n["command_line"].split()[-2]): n for n in chain}
assert sorted(levels) == [1, 2, 3], sorted(levels)
assert levels[1]["pid"] == int(sys.argv[3]), (levels[1], sys.argv[3])
for k in (2, 3):
    assert levels[k]["ppid"] == levels[k - 1]["pid"] and levels[k]["parent_seen"], levels[k]
    assert levels[k]["depth"] == levels[k - 1]["depth"] + 1, levels[k]
# the alert its start event raised is counted on the third level
assert levels[3]["alerts"] == {"test.chain_end": 1} and levels[2]["alerts"] == {}, (levels[3], levels[2])
sleep = [n for n in nodes if n["ppid"] == levels[3]["pid"] and (n.get("image") or "").endswith("sleep")]
assert sleep and sleep[0]["depth"] == levels[3]["depth"] + 1, sleep
waiter = [n for n in nodes if n["pid"] == int(sys.argv[4])]
assert len(waiter) == 1 and (waiter[0]["image"] or "").endswith("/sleep"), waiter
assert waiter[0]["command_line"] == "sleep 61" and waiter[0]["start"], waiter
PY
kill "$waiter" 2>/dev/null
# the chain's processes, by the mark in their command lines, then sleep's
for c in $(pgrep -f "$mark"); do pkill -P "$c" sleep 2>/dev/null; done
wait "$chain" 2>/dev/null
kill -TERM "${PID[$P-tree]}"
bwait "${PID[$P-tree]}" >/dev/null
# --tree-every, without a Lua state (the run feeds the table itself): the
# tree comes again and again, in event time
start $P-tree2 -p process --tree-every 0.5 || bad "--tree-every session did not start"
until_ok "$LIMIT" eval '/bin/true; [ "$(grep -c "^etwlua: end of process tree" "$TMP/$P-tree2.err")" -ge 3 ]' &&
    grep -q "process tree at .* ([1-9][0-9]* processes)" "$TMP/$P-tree2.err" && ok || bad "--tree-every: $(grep -c 'process tree at' "$TMP/$P-tree2.err") trees"
kill -TERM "${PID[$P-tree2]}"
bwait "${PID[$P-tree2]}" >/dev/null

echo "live: $pass passed, $fail failed"
[ $fail = 0 ]
