#!/usr/bin/env bash
# tests/rules/live_noise.sh BIN [--suites] - the live false-alert check of the
# Linux rules (issue #17), as root.
#
# Runs a live session with the rule library (process starts, and the file
# and ptrace providers) while a scripted session of ordinary administration
# runs: a package installed, reinstalled and purged with apt-get, a local
# .deb installed and removed with dpkg, a service restarted, C compiled and
# run, a git repository made, committed to and cloned, and ssh to localhost
# with a generated key (a scratch sshd on its own port, key and host key in
# a scratch directory: no real SSH configuration is touched).  With
# --suites, most of the test suite runs at the same time (the unit tests,
# the end-to-end cases, the replay, output and Sigma suites, the rules'
# examples and reports, and the live suites).
#
# The session sees the whole machine.  Alerts are attributed to this run by
# process ancestry (the fork events of the dump): an alert whose process
# descends from this script is ours; the rest come from whatever else runs
# on the machine (other worktrees' tests) and are listed apart.  Each of
# ours must match a line of tests/rules/live-noise-expected.tsv (rule,
# extended regex over the alert's message, verdict): anything else is an
# unexpected alert, and the script fails.
#
# Prints the alerts by rule and verdict, then one line
# "live-noise: N alerts from this run, N documented, N unexpected".
set -u
BIN=$(realpath "$1")
SUITES=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EXPECTED=$ROOT/tests/rules/live-noise-expected.tsv
TMP=$(mktemp -d)
P=etwl-noise$$
LIMIT=${ETWLUA_LIVE_LIMIT:-120}
SSHD_PID=
cleanup() {
    local me
    read -r me _ </proc/self/stat
    [ "$me" = "$$" ] || return
    "$BIN" --kill "$P" >/dev/null 2>&1
    [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
skip() {
    echo "live-noise: 0 alerts (skipped: $*)"
    exit 0
}
[ "$(id -u)" = 0 ] || skip "live tracing needs root"
for t in ssh sshd ssh-keygen gcc git dpkg-deb apt-get service python3; do
    command -v $t >/dev/null || [ -x /usr/sbin/$t ] || skip "no $t (scripts/build.sh installs openssh-server)"
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)

# ---- set-up, before the session: the scratch sshd and its key ----------------
mkdir -p "$TMP/ssh" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/id" </dev/null
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/host" </dev/null
cp "$TMP/ssh/id.pub" "$TMP/ssh/authorized_keys"
chmod 600 "$TMP/ssh/authorized_keys"
PORT=$((20000 + $$ % 20000))

# ---- the session ------------------------------------------------------------------
"$BIN" -n "$P" --dump --json >"$TMP/dump" 2>"$TMP/err" &
EP=$!
for ((i = 0; i < LIMIT * 20; i++)); do
    grep -q "started" "$TMP/err" 2>/dev/null && break
    kill -0 $EP 2>/dev/null || break
    sleep 0.05
done
grep -q "started" "$TMP/err" || {
    echo "live-noise: the session did not start: $(cat "$TMP/err")"
    exit 1
}
T0=$(date +%s)

admin() {
    set -x
    cd "$TMP"
    # packages: a real install, reinstall and purge through apt, and a local .deb through dpkg
    export DEBIAN_FRONTEND=noninteractive
    if apt-get install -y -q hello >"$TMP/apt1.log" 2>&1; then
        apt-get install -y -q --reinstall hello >"$TMP/apt2.log" 2>&1
        hello
        apt-get purge -y -q hello >"$TMP/apt3.log" 2>&1
    else
        echo "apt-get install hello failed (no network?); dpkg only" >&2
    fi
    mkdir -p deb/DEBIAN deb/usr/share/doc/etwlua-noise-test
    printf 'Package: etwlua-noise-test\nVersion: 1.0\nArchitecture: all\nMaintainer: etwlua <t@example.invalid>\nDescription: scratch package of the etwlua noise check\n' >deb/DEBIAN/control
    printf '#!/bin/sh\nset -e\necho configured >/dev/null\n' >deb/DEBIAN/postinst
    chmod 755 deb/DEBIAN/postinst
    echo doc >deb/usr/share/doc/etwlua-noise-test/README
    dpkg-deb --build deb etwlua-noise-test.deb >/dev/null
    dpkg -i etwlua-noise-test.deb >/dev/null
    dpkg -s etwlua-noise-test >/dev/null
    dpkg -r etwlua-noise-test >/dev/null
    # a service restart (init scripts: this machine has no systemd), put back as it was
    local was_running=0
    service ssh status >/dev/null 2>&1 && was_running=1
    service ssh restart
    service ssh status
    [ $was_running = 1 ] || service ssh stop
    # compiles
    printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >hello.c
    printf 'all: hello\nhello: hello.c\n\tgcc -O2 -Wall -o hello hello.c\n' >Makefile
    make -s && ./hello && make -s -B && gcc -g -c hello.c -o hello.o && ar rcs libhello.a hello.o
    # git
    git init -q repo && cd repo && git config user.email t@example.invalid && git config user.name t
    cp ../hello.c . && git add hello.c && git commit -q -m first && echo '// x' >>hello.c && git commit -qam second
    git log --oneline >/dev/null && git branch topic && git checkout -q topic && cd ..
    git clone -q repo clone && git -C clone log --oneline >/dev/null && git -C clone status >/dev/null
    # ssh to localhost: the scratch sshd, a command, a copy
    "$SSHD" -D -p $PORT -o ListenAddress=127.0.0.1 -o HostKey="$TMP/ssh/host" \
        -o AuthorizedKeysFile="$TMP/ssh/authorized_keys" -o PidFile="$TMP/ssh/sshd.pid" \
        -o StrictModes=no -o UsePAM=no &
    SSHD_PID=$!
    local o="-p $PORT -i $TMP/ssh/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=$TMP/ssh/known -o BatchMode=yes"
    for ((i = 0; i < 200; i++)); do ssh $o root@127.0.0.1 true 2>/dev/null && break; sleep 0.1; done
    ssh $o root@127.0.0.1 'uname -a; id; ls / >/dev/null; ps aux >/dev/null; df -h >/dev/null'
    scp -q -P $PORT -i "$TMP/ssh/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile="$TMP/ssh/known" \
        hello.c root@127.0.0.1:"$TMP/copied.c"
    kill $SSHD_PID
    wait $SSHD_PID 2>/dev/null
    SSHD_PID=
    # everyday commands
    ps aux >/dev/null; df -h >/dev/null; free -m >/dev/null; ss -tln >/dev/null 2>&1; id; uptime
    tail -n 5 /var/log/dpkg.log >/dev/null; grep -c . /etc/passwd >/dev/null; crontab -l >/dev/null 2>&1
    find /etc -maxdepth 1 -name '*.conf' >/dev/null; tar czf etc-backup.tgz -C "$TMP" repo
    # the canary: one deliberate key planting in a scratch home, which must
    # be seen and attributed to this run (else the check proves nothing)
    mkdir -p "$TMP/canary/.ssh"
    sh -c "echo ssh-ed25519 AAAAcanary >> $TMP/canary/.ssh/authorized_keys"
    set +x
}
admin >"$TMP/admin.log" 2>&1 || true
[ -n "${ETWLUA_NOISE_LOG:-}" ] && cp "$TMP/admin.log" "$ETWLUA_NOISE_LOG"
ADMIN_SECS=$(($(date +%s) - T0))

if [ "$SUITES" = --suites ]; then
    (
        cd "$ROOT"
        for t in build/bin/release/test_*; do "$t" >/dev/null 2>&1; done
        bash tests/cli/e2e/run.sh build/bin/release/etwlua
        bash tests/sources/evtx/hostile.sh build/bin/release/etwlua
        bash tests/sources/evtx/run.sh build/bin/release/etwlua
        bash tests/sources/etl/run.sh build/bin/release/etwlua
        bash tests/output/run.sh build/bin/release/etwlua
        bash tests/sigma/run.sh build/bin/release/etwlua
        build/bin/release/etwlua test | tail -1
        build/bin/release/etwlua --no-rules -r /dev/null tests/lua/helpers.lua | tail -1
        python3 tests/rules/report.py build/bin/release/etwlua --check tests/rules/evtx-attack-samples.md | tail -1
        bash tests/docs/counts.sh build/bin/release/etwlua | tail -1
        bash tests/sources/tracefs/live.sh build/bin/release/etwlua | tail -1
        bash tests/sources/tracefs/files.sh build/bin/release/etwlua | tail -1
    ) >"$TMP/suites.log" 2>&1
    grep -E '^[a-z0-9-]+: [0-9]+ passed' "$TMP/suites.log" | sed 's/^/  suite /'
fi
SECS=$(($(date +%s) - T0))

"$BIN" --kill "$P" >/dev/null 2>&1
for ((i = 0; i < LIMIT * 20; i++)); do kill -0 $EP 2>/dev/null || break; sleep 0.05; done
wait $EP

python3 - "$TMP/dump" "$$" "$EXPECTED" "$SECS" "$ADMIN_SECS" <<'EOF'
import json, re, sys
dump, root, expected, secs, admin_secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
# this run's processes, followed through the dump in order: the script,
# then every process forked by one of them (a fork of anything else, or a
# pid reused by another process, is not ours)
mine, rows_in, events, counts = {root}, [], 0, {}
for line in open(dump, "rb"):
    try:
        e = json.loads(line.decode("utf-8", "replace"))
    except ValueError:
        continue
    if "rule" in e:
        ev = e.get("event", {})
        pid = ev.get("info", {}).get("pid") or ev.get("header", {}).get("process_id")
        rows_in.append((e, pid in mine))
        continue
    events += 1
    h, i = e.get("header", {}), e.get("info", {})
    prov, name = h.get("provider_name"), h.get("event_name")
    if prov in ("file", "ptrace"):
        k = "%s %s (%s)" % (prov, name, i.get("watch") or i.get("request_name") or "-")
        counts[k] = counts.get(k, 0) + 1
        k = "%s path_source=%s" % (prov, i.get("path_source", "-"))
        counts[k] = counts.get(k, 0) + 1
    if prov == "process" and name == "fork":
        if i.get("ppid") in mine:
            mine.add(i.get("pid"))
        else:
            mine.discard(i.get("pid"))
docs = []
for l in open(expected):
    if l.strip() and not l.startswith("#"):
        rule, rx, verdict = l.rstrip("\n").split("\t")
        docs.append((rule, re.compile(rx), verdict))
rows, other, other_img = {}, {}, {}
for a, is_mine in rows_in:
    msg = a.get("message", "")
    if not is_mine:
        other[a["rule"]] = other.get(a["rule"], 0) + 1
        img = a.get("fields", {}).get("image") or "?"
        img = re.sub(r"^/tmp/tmp\.[^/]+/", "/tmp/tmp.*/", re.sub(r"[0-9]{3,}", "N", img))
        k = (a["rule"], img)
        other_img[k] = other_img.get(k, 0) + 1
        continue
    verdict = next((v for r, rx, v in docs if r == a["rule"] and rx.search(msg)), None)
    k = (a["rule"], verdict or "UNEXPECTED")
    rows.setdefault(k, []).append(msg)
n = sum(len(v) for v in rows.values())
bad = sum(len(v) for (r, v2), v in rows.items() if v2 == "UNEXPECTED")
print("events: %d in %s s (admin session %s s); alerts: %d from this run, %d from other processes on the machine"
      % (events, secs, admin_secs, n, sum(other.values())))
for (rule, verdict), msgs in sorted(rows.items()):
    print("  %3d  %-38s %s" % (len(msgs), rule, verdict))
    if verdict == "UNEXPECTED":
        for m in msgs[:5]:
            print("         " + m[:300].replace("\n", " "))
print("file and ptrace events (all processes on the machine):")
for k, c in sorted(counts.items()):
    print("  %6d  %s" % (c, k))
for rule, c in sorted(other.items()):
    print("  %3d  %-38s (not this run: another process on the machine)" % (c, rule))
    for (r, img), ci in sorted(other_img.items(), key=lambda x: -x[1])[:40]:
        if r == rule:
            print("         %5d  %s" % (ci, img))
canary = sum(1 for (r, v), msgs in rows.items() for m in msgs if "canary" in v)
print("live-noise: %d alerts from this run, %d documented, %d unexpected" % (n, n - bad, bad))
if not canary:
    print("live-noise: FAIL: the canary key planting was not seen as this run's alert")
sys.exit(1 if bad or not canary else 0)
EOF
