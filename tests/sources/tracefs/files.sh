#!/usr/bin/env bash
# tests/sources/tracefs/files.sh BIN - the file and ptrace providers and the
# Linux rules over them, live and end to end (root only).
#
# Every write happens where nothing real can change: /etc and /var/log are
# overlay-mounted in a private mount namespace (unshare -m), so the writes
# land in a scratch upper directory and the real files are never touched;
# SSH keys and histories are files under a scratch home.  ptrace and
# process_vm_* target a `sleep` this script starts.  Skips, saying why,
# without root, tracefs, unshare or overlayfs.  Ends with
# "files: N passed, N failed".
set -u
BIN=$(realpath "$1")
TMP=$(mktemp -d)
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
P=etwl-f$$
cleanup() {
    local me
    read -r me _ </proc/self/stat
    [ "$me" = "$$" ] || return
    "$BIN" --kill "$P" >/dev/null 2>&1
    "$BIN" --kill "$P-k" >/dev/null 2>&1
    [ -n "${SLEEPER:-}" ] && kill "$SLEEPER" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
skip() {
    echo "files: 0 passed, 0 failed (skipped: $*)"
    exit 0
}
[ "$(id -u)" = 0 ] || skip "live tracing needs root"
"$BIN" --kill $P-probe >"$TMP/probe" 2>&1
grep -q "tracefs is not mounted" "$TMP/probe" && skip "$(cat "$TMP/probe")"
TRACEFS=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)
command -v unshare >/dev/null || skip "no unshare(1)"
mkdir -p "$TMP/o/up" "$TMP/o/work"
unshare -m --propagation private sh -c \
    "mount -t overlay overlay -o lowerdir=/etc,upperdir=$TMP/o/up,workdir=$TMP/o/work /etc" 2>"$TMP/ovl" ||
    skip "no overlayfs in a private mount namespace: $(cat "$TMP/ovl")"
PY=$(command -v python3) || skip "no python3 (the long-lived writers and ptrace use it)"
LIMIT=${ETWLUA_LIVE_LIMIT:-60}

# the session: the rule library, JSON alerts, and the events themselves
# (the negatives must be seen, with their path, and not alert)
"$BIN" -n "$P" --dump --json >"$TMP/out" 2>"$TMP/err" &
EP=$!
for ((i = 0; i < LIMIT * 20; i++)); do
    grep -q "started" "$TMP/err" 2>/dev/null && break
    kill -0 $EP 2>/dev/null || break
    sleep 0.05
done
grep -q "started" "$TMP/err" || {
    bad "session did not start: $(cat "$TMP/err")"
    echo "files: $pass passed, $fail failed"
    exit 1
}
# one file family per instance, besides the session's own
n=$(ls "$TRACEFS/instances" | grep -c "^$P~f[0-9]$")
[ "$n" = 8 ] && ok || bad "expected 8 family instances, found $n"

H=$TMP/home
mkdir -p "$H/.ssh" "$TMP/l/up" "$TMP/l/work" "$TMP/o2/up" "$TMP/o2/work"
# The long-lived writers stay until the checks below saw their alerts: on a
# loaded machine the session may read an event well after the call, and a
# writer gone by then leaves no path to read.  The Python ones sleep (at
# most LIMIT seconds; sleeping allocates nothing, so the path they passed
# is still in their memory) and are killed by pid; the shells keep the file
# open and wait for $REL.
REL=$TMP/release
N=$((LIMIT * 20))
PYHOLD="time.sleep($LIMIT)"
SHHOLD="i=0; while [ ! -e $REL ] && [ \$i -lt $N ]; do sleep 0.05; i=\$((i+1)); done"
: >"$TMP/pids"
# the scripted attacks, inside the namespace; each leaves a marker in its path
unshare -m --propagation private bash -c "
set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir=$TMP/o2/up,workdir=$TMP/o2/work /etc
mount -t overlay overlay -o lowerdir=/var/log,upperdir=$TMP/l/up,workdir=$TMP/l/work /var/log
mkdir -p /etc/sudoers.d /etc/cron.d /etc/systemd/system
# one-shot shells: often gone before their path can be read, seen by family
sh -c 'echo > /etc/ld.so.preload'
sh -c 'echo etwluatest:x:0:0::/:/bin/sh >> /etc/passwd'
# long-lived writers: the path itself
$PY -c \"import os,time; f=open('/etc/shadow','a'); $PYHOLD\" & echo \$! >>$TMP/pids
sh -c 'exec 3>/etc/sudoers.d/zz-etwlua-test; $SHHOLD' &
sh -c 'exec 3>/etc/cron.d/etwlua-test; $SHHOLD' &
sh -c 'exec 3>/etc/systemd/system/etwlua-test.service; $SHHOLD' &
echo k > /var/log/etwlua-test.log
$PY -c \"import os,time; f=open('/var/log/etwlua-test.log','r+'); os.ftruncate(f.fileno(),0); $PYHOLD\" & echo \$! >>$TMP/pids
echo k > /var/log/etwlua-test3.log
$PY -c \"import os,time; os.unlink('/var/log/etwlua-test3.log'); $PYHOLD\" & echo \$! >>$TMP/pids
# a path written the long way round is normalised: /etc/cron.d/etwlua-test2
$PY -c \"import os,time; f=open('/etc//cron.d/./../cron.d/etwlua-test2','w'); $PYHOLD\" & echo \$! >>$TMP/pids
# not attacks: a file beside /etc/passwd, a rotated log, a passwd outside /etc
$PY -c \"import os,time; f=open('/etc/etwlua-neg.passwd','a'); $PYHOLD\" & echo \$! >>$TMP/pids
echo r > /var/log/etwlua-test.log.1
$PY -c \"import os,time; os.unlink('/var/log/etwlua-test.log.1'); $PYHOLD\" & echo \$! >>$TMP/pids
wait
" 2>"$TMP/ns.err" &
NSP=$!
sh -c "echo ssh-ed25519 AAAAetwlua >> '$H/.ssh/authorized_keys'"
# through a symlinked directory: resolved to the real .ssh
mkdir -p "$TMP/home2/.ssh"
ln -s "$TMP/home2/.ssh" "$TMP/keylink"
$PY -c "import os,time; f=open('$TMP/keylink/authorized_keys','a'); $PYHOLD" &
H1=$!
echo $H1 >>"$TMP/pids"
echo h >"$H/.bash_history"
$PY -c "import os,time; os.truncate('$H/.bash_history',0); $PYHOLD" &
H2=$!
echo $H2 >>"$TMP/pids"
$PY -c "import os,time; f=open('$TMP/passwd','w'); $PYHOLD" & # outside /etc: no alert
H3=$!
echo $H3 >>"$TMP/pids"

# ptrace and process_vm_* against a sleep of ours
sleep 60 &
SLEEPER=$!
cat >"$TMP/pt.py" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
if libc.ptrace(16, pid, None, None) != 0: sys.exit("attach: %d" % ctypes.get_errno())
os.waitpid(pid, 0)
class iovec(ctypes.Structure): _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(8)
# the first readable word of the target: its first mapping
addr = int(open("/proc/%d/maps" % pid).readline().split("-")[0], 16)
l, r = iovec(ctypes.cast(buf, ctypes.c_void_p), 8), iovec(addr, 8)
if libc.process_vm_readv(pid, ctypes.byref(l), 1, ctypes.byref(r), 1, 0) != 8: sys.exit("readv")
libc.ptrace.restype = ctypes.c_long
word = libc.ptrace(2, pid, ctypes.c_void_p(addr), None)   # PEEKDATA
libc.ptrace(5, pid, ctypes.c_void_p(addr), ctypes.c_void_p(word & 0xffffffffffffffff))  # POKEDATA, same word
libc.ptrace(17, pid, None, None)  # DETACH
EOF
$PY "$TMP/pt.py" $SLEEPER 2>"$TMP/pt.err" || bad "ptrace script: $(cat "$TMP/pt.err")"
kill $SLEEPER 2>/dev/null
wait $SLEEPER 2>/dev/null
SLEEPER=

# every expected alert, polled for (bounded)
expect() { # rule ERE-in-the-alert
    local i
    for ((i = 0; i < LIMIT * 10; i++)); do
        grep "\"rule\":\"$1\"" "$TMP/out" | grep -Eq -- "$2" && return 0
        sleep 0.1
    done
    return 1
}
# a one-line sh is usually gone before its path can be read, but not
# always: either message will do
for c in "lnx.ld_so_preload_written|watched preload path|wrote /etc/ld\.so\.preload" \
    "lnx.account_files_written|watched accounts path|wrote /etc/passwd" \
    "lnx.account_files_written|wrote /etc/shadow" \
    "lnx.sudoers_written|/etc/sudoers.d/zz-etwlua-test" \
    "lnx.cron_file_written|wrote /etc/cron.d/etwlua-test\"" \
    "lnx.cron_file_written|wrote /etc/cron.d/etwlua-test2\"" \
    "lnx.authorized_keys_written|wrote $TMP/home2/\.ssh/authorized_keys" \
    "lnx.systemd_unit_written|/etc/systemd/system/etwlua-test.service" \
    "lnx.log_file_wiped|emptied /var/log/etwlua-test.log" \
    "lnx.log_file_deleted|deleted /var/log/etwlua-test3\.log\"" \
    "lnx.authorized_keys_written|watched ssh_keys path|wrote $H/\.ssh/authorized_keys" \
    "lnx.shell_history_wiped|$H/.bash_history" \
    "lnx.ptrace_attach|ATTACH" \
    "lnx.ptrace_poke|POKEDATA" \
    "lnx.process_vm_readv|read the memory of /usr/bin/sleep"; do
    expect "${c%%|*}" "${c#*|}" && ok || bad "no ${c%%|*} alert with '${c#*|}'"
done
# the writers may go, once the negatives were read too; the namespace
# script must have succeeded
for neg in /etc/etwlua-neg.passwd /var/log/etwlua-test.log.1 "$TMP/passwd"; do
    for ((i = 0; i < LIMIT * 10; i++)); do
        grep -q -- "\"path\":\"$neg\"" "$TMP/out" && break
        sleep 0.1
    done
done
touch "$REL"
for pid in $(cat "$TMP/pids"); do kill "$pid" 2>/dev/null; done
for ((i = 0; i < LIMIT * 20; i++)); do
    kill -0 $NSP $H1 $H2 $H3 2>/dev/null || break
    sleep 0.05
done
wait $NSP
grep -qv Terminated "$TMP/ns.err" && bad "the namespace script failed: $(cat "$TMP/ns.err")"
wait $H1 $H2 $H3 2>/dev/null
"$BIN" --kill "$P" >/dev/null 2>&1
for ((i = 0; i < LIMIT * 20; i++)); do kill -0 $EP 2>/dev/null || break; sleep 0.05; done
wait $EP
# the negatives: no file alert names these paths (the namespace script's own
# start is flagged by process rules, for its command line names them all)
for neg in /etc/etwlua-neg.passwd /var/log/etwlua-test.log.1 "$TMP/passwd"; do
    grep -q -- "\"path\":\"$neg\"" "$TMP/out" || bad "the negative $neg was never seen with its path"
    grep -q -- "\"target_filename\":\"$neg\"" "$TMP/out" &&
        bad "alert on $neg: $(grep -- "\"target_filename\":\"$neg\"" "$TMP/out" | head -1 | cut -c1-300)" || ok
done
# and the positives were file alerts with the path as a field
grep -q '"target_filename":"/etc/cron.d/etwlua-test"' "$TMP/out" && ok || bad "no target_filename field in the cron alert"
# nothing real changed
grep -q etwluatest /etc/passwd && bad "/etc/passwd was changed" || ok
[ -e /etc/ld.so.preload ] && [ ! -s /etc/ld.so.preload ] && bad "/etc/ld.so.preload was created" || ok
# and nothing is left of the session
n=$(ls "$TRACEFS/instances" | grep -c "^$P")
[ "$n" = 0 ] && ok || bad "$n instances left after the session"

# a killed session leaves its family instances until --kill removes them
"$BIN" -n "$P-k" -p file >"$TMP/k.out" 2>"$TMP/k.err" &
KP=$!
for ((i = 0; i < LIMIT * 20; i++)); do
    grep -q "started" "$TMP/k.err" 2>/dev/null && break
    kill -0 $KP 2>/dev/null || break
    sleep 0.05
done
kill -9 $KP
wait $KP 2>/dev/null
n=$(ls "$TRACEFS/instances" | grep -c "^$P-k~f")
[ "$n" = 8 ] && ok || bad "expected the killed session's 8 family instances, found $n"
"$BIN" --kill "$P-k" >/dev/null 2>&1
n=$(ls "$TRACEFS/instances" | grep -c "^$P-k")
[ "$n" = 0 ] && ok || bad "--kill left $n instances"

# -p ptrace cannot share a session with the user's own ptrace tracepoint
"$BIN" -n "$P-c" -p ptrace -p syscalls:sys_enter_ptrace --duration 1 >"$TMP/c.out" 2>"$TMP/c.err"
code=$?
[ $code = 2 ] && grep -q "cannot share a session with -p syscalls:sys_enter_ptrace" "$TMP/c.err" && ok ||
    bad "-p ptrace with -p syscalls:sys_enter_ptrace: exit $code, $(cat "$TMP/c.err")"
n=$(ls "$TRACEFS/instances" | grep -c "^$P-c")
[ "$n" = 0 ] && ok || bad "a refused session left $n instances"

echo "files: $pass passed, $fail failed"
[ $fail = 0 ]
