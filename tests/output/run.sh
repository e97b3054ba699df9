#!/bin/bash
# tests/output/run.sh [ETWLUA] - the -o outputs against real counterparts,
# each started here: a file with a logrotate-style rename and SIGUSR1; a
# real rsyslogd (its own config, ports and pid file) over UDP, TCP and a
# local socket; an HTTP server (http_receiver.py) in Elasticsearch _bulk and
# Splunk HEC form, failing and recovering; librdkafka's mock cluster
# (kafka_mock, built beside etwlua).  In each, the receiver is killed or
# stalled in the middle of a run, and every alert must either arrive after
# it recovers or be counted as dropped (with etwlua.output_dropped raised).
#
# Every wait is bounded and polls for readiness.  A counterpart that is not
# installed skips its checks, saying so.  Ends with "output: N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
BIN=${1:-build/bin/release/etwlua}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
KMOCK=$(dirname "$BIN")/kafka_mock
HERE=$(pwd)/tests/output
EVENT=$(head -1 tests/data/events.jsonl)
T=$(mktemp -d)
PIDS=""
pass=0
fail=0

cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
    exec 3>&- 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}
no() {
    fail=$((fail + 1))
    echo "FAIL $1"
    shift
    for f in "$@"; do [ -f "$f" ] && sed 's/^/     | /' "$f" | tail -8; done
    return 0
}
# wait_for SECONDS COMMAND...: polls the command every 0.1 s until it succeeds
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
udp_bound() { ! python3 -c "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',$1))" 2>/dev/null; }
tcp_open() { python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1).close()" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
events() { # N: N copies of one process-start event
    local i
    for ((i = 0; i < $1; i++)); do printf '%s\n' "$EVENT"; done
}
has() { grep -q -- "$2" "$1" 2>/dev/null; }
lines_at_least() { [ "$(wc -l 2>/dev/null <"$1" || echo 0)" -ge "$2" ]; }

# One alert per event, numbered: "seq N" says which alerts arrived.
SCRIPT='local etw = require "etw"; local n = 0
etw.on(function(ev) n = n + 1; etw.alert{rule = "test.seq", severity = "high", message = "seq " .. n, event = ev} end)'

# seqs FORMAT FILE: how many distinct alerts arrived whole, from a file of
# JSON alerts (json), rsyslog lines "MSGID|SEV|APP|HOST|MSG" (syslog),
# Kafka "KEY<TAB>PAYLOAD" lines (kafka) or the HTTP request log (es, hec).
seqs() { python3 "$HERE/check.py" count "$1" "$2"; }
seqs_at_least() { [ "$(seqs "$1" "$2")" -ge "$3" ]; }

# etwlua reading events from the fifo $D/in (fd 3), in the background
start_etwlua() { # DIR ARGS...
    local d=$1
    shift
    mkfifo "$d/in"
    "$BIN" --no-rules -r - -e "$SCRIPT" "$@" <"$d/in" >"$d/out" 2>"$d/err" &
    EPID=$!
    PIDS="$PIDS $EPID"
    exec 3>"$d/in"
}
# closes the input and waits (bounded) for etwlua's exit status in $ERC
finish_etwlua() {
    exec 3>&-
    if wait_for 60 gone "$EPID"; then
        wait "$EPID"
        ERC=$?
    else
        kill -KILL "$EPID"
        ERC=timeout
    fi
}

# ---- file ------------------------------------------------------------------
D=$T/file
mkdir -p "$D"
events 20 >"$D/ev.jsonl"
"$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "file:$D/alerts.json" >"$D/out" 2>"$D/err"
rc=$?
if [ $rc = 0 ] && [ "$(seqs json "$D/alerts.json")" = 20 ] && [ ! -s "$D/out" ]; then
    ok "file: 20 alerts appended as JSON lines; -o replaces stdout"
else no "file: 20 alerts (rc=$rc)" "$D/err"; fi
"$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "file:$D/alerts.json" -o - >"$D/out" 2>"$D/err"
if [ "$(wc -l <"$D/alerts.json")" = 40 ] && [ "$(seqs json "$D/out")" = 20 ]; then
    ok "file: a second run appends; -o - keeps stdout too"
else no "file: append and -o -" "$D/err"; fi
"$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "file:$D/no/such/dir/a.json" >"$D/out" 2>"$D/err"
rc=$?
if [ $rc = 1 ] && has "$D/err" "cannot open for appending"; then
    ok "file: an unwritable path fails at start (exit 1)"
else no "file: unwritable path (rc=$rc)" "$D/err"; fi
# logrotate: rename, SIGUSR1, the next alerts land in a new file
start_etwlua "$D" -o "file:$D/rot.json"
events 5 >&3
wait_for 30 lines_at_least "$D/rot.json" 5
mv "$D/rot.json" "$D/rot.json.1"
kill -USR1 "$EPID"
# the writer reopens on its next wake (it polls the flag at least every 0.2 s)
wait_for 30 test -e "$D/rot.json"
events 5 >&3
wait_for 30 lines_at_least "$D/rot.json" 5
finish_etwlua
if [ "$ERC" = 0 ] && [ "$(seqs json "$D/rot.json.1")" = 5 ] && [ "$(seqs json "$D/rot.json")" = 5 ] &&
    grep -q '"seq 6"' "$D/rot.json"; then
    ok "file: SIGUSR1 after a rename reopens (5 alerts before, 5 after)"
else no "file: SIGUSR1 reopen (rc=$ERC)" "$D/err"; fi
# a full queue: drops counted, raised on the other output, exit 1
events 3000 >"$D/many.jsonl"
mkfifo "$D/slow"
# a reader that opens the fifo but reads only once $D/go exists
python3 - "$D/slow" "$D/go" "$D/slow.out" <<'PY' &
import os, sys, time
f = open(sys.argv[1], "rb")
end = time.time() + 120
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.05)
with open(sys.argv[3], "wb") as o:
    for chunk in iter(lambda: f.read(65536), b""):
        o.write(chunk)
PY
PIDS="$PIDS $!"
"$BIN" --no-rules -r "$D/many.jsonl" -e "$SCRIPT" -o "file:$D/slow" -o - --output-queue 10 \
    --output-flush 30 --stats >"$D/other.json" 2>"$D/err3" &
EPID=$!
PIDS="$PIDS $EPID"
# the pipe fills, the writer blocks, the queue fills
wait_for 30 has "$D/other.json" etwlua.output_dropped
touch "$D/go"
if wait_for 60 gone "$EPID"; then wait "$EPID"; rc=$?; else rc=timeout; fi
dropped=$(sed -n "s|.*output file:$D/slow: queued=.* dropped=\([0-9]*\).*|\1|p" "$D/err3")
got=$(seqs json "$D/slow.out")
if [ "$rc" = 1 ] && [ -n "$dropped" ] && [ "$dropped" -gt 0 ] && [ $((got + dropped)) = 3000 ] &&
    has "$D/other.json" '"rule":"etwlua.output_dropped"'; then
    ok "file: stalled reader: $got delivered + $dropped dropped = 3000, output_dropped on stdout, exit 1"
else no "file: stalled reader (rc=$rc got=$got dropped=$dropped)" "$D/err3"; fi

# ---- syslog (rsyslogd) -----------------------------------------------------
if ! command -v rsyslogd >/dev/null; then
    echo "output: syslog checks skipped: rsyslogd is not installed (apt-get install rsyslog)"
else
    RS=$T/rsyslog
    mkdir -p "$RS"
    UPORT=$(free_port)
    TPORT=$(free_port)
    cat >"$RS/rsyslog.conf" <<EOF
global(workDirectory="$RS" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="$UPORT" rcvbufSize="16m")
input(type="imtcp" address="127.0.0.1" port="$TPORT")
input(type="imuxsock" socket="$RS/log.sock" useSpecialParser="off" parseHostname="on")
template(name="probe" type="string" string="%msgid%|%syslogseverity%|%app-name%|%hostname%|%procid%|%timereported:::date-rfc3339%|%msg%\n")
*.* action(type="omfile" file="$RS/received.log" template="probe")
EOF
    start_rsyslog() {
        rsyslogd -n -f "$RS/rsyslog.conf" -i "$RS/pid" >>"$RS/rsyslogd.out" 2>&1 3>&- &
        RSPID=$!
        PIDS="$PIDS $RSPID"
        wait_for 30 udp_bound "$UPORT" && wait_for 30 tcp_open "$TPORT" && wait_for 30 test -S "$RS/log.sock"
    }
    stop_rsyslog() {
        kill -KILL "$RSPID"
        wait "$RSPID" 2>/dev/null
        rm -f "$RS/pid"
    }
    if ! start_rsyslog; then
        no "syslog: rsyslogd did not start" "$RS/rsyslogd.out"
    else
        # UDP: the RFC 5424 fields as rsyslog parsed them
        D=$T/udp
        mkdir -p "$D"
        events 100 >"$D/ev.jsonl"
        "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "syslog:udp://127.0.0.1:$UPORT" >"$D/out" 2>"$D/err"
        rc=$?
        wait_for 30 seqs_at_least syslog "$RS/received.log" 100
        if [ $rc = 0 ] && [ "$(seqs syslog "$RS/received.log")" = 100 ] &&
            python3 "$HERE/check.py" syslog-fields "$RS/received.log" "$(hostname)" 2>"$D/why"; then
            ok "syslog udp: 100 alerts, RFC 5424 as rsyslog parsed it (MSGID, PRI, APP-NAME, HOSTNAME, PROCID, time)"
        else no "syslog udp (rc=$rc)" "$D/err" "$D/why"; fi
        # TCP, octet-counted
        : >"$RS/received.log"
        D=$T/tcp
        mkdir -p "$D"
        events 1000 >"$D/ev.jsonl"
        "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "syslog:tcp://127.0.0.1:$TPORT" >"$D/out" 2>"$D/err"
        rc=$?
        wait_for 30 seqs_at_least syslog "$RS/received.log" 1000
        if [ $rc = 0 ] && [ "$(seqs syslog "$RS/received.log")" = 1000 ] &&
            [ "$(wc -l <"$RS/received.log")" = 1000 ]; then
            ok "syslog tcp: 1000 alerts framed by octet counting, each whole"
        else no "syslog tcp (rc=$rc)" "$D/err" "$RS/rsyslogd.out"; fi
        # the local datagram socket
        : >"$RS/received.log"
        "$BIN" --no-rules -r "$T/udp/ev.jsonl" -e "$SCRIPT" -o "syslog:$RS/log.sock" >"$D/out" 2>"$D/err"
        rc=$?
        wait_for 30 seqs_at_least syslog "$RS/received.log" 100
        if [ $rc = 0 ] && [ "$(seqs syslog "$RS/received.log")" = 100 ]; then
            ok "syslog local socket: 100 alerts"
        else no "syslog local socket (rc=$rc)" "$D/err"; fi

        # TCP: rsyslogd killed mid-run, restarted: every alert arrives
        : >"$RS/received.log"
        D=$T/tcp-kill
        mkdir -p "$D"
        start_etwlua "$D" -o "syslog:tcp://127.0.0.1:$TPORT"
        events 50 >&3
        wait_for 30 seqs_at_least syslog "$RS/received.log" 50
        stop_rsyslog
        events 50 >&3
        wait_for 30 has "$D/err" "retrying with backoff"
        start_rsyslog
        wait_for 60 seqs_at_least syslog "$RS/received.log" 100
        finish_etwlua
        if [ "$ERC" = 0 ] && [ "$(seqs syslog "$RS/received.log")" = 100 ] && has "$D/err" "delivering again"; then
            ok "syslog tcp: receiver killed and restarted mid-run: all 100 alerts arrive"
        else no "syslog tcp kill (rc=$ERC, got $(seqs syslog "$RS/received.log"))" "$D/err"; fi

        # UDP: the same; the one datagram sent as it died is lost unseen
        # (UDP learns of a dead receiver only from the next send's error)
        : >"$RS/received.log"
        D=$T/udp-kill
        mkdir -p "$D"
        start_etwlua "$D" -o "syslog:udp://127.0.0.1:$UPORT"
        events 50 >&3
        wait_for 30 seqs_at_least syslog "$RS/received.log" 50
        stop_rsyslog
        events 50 >&3
        wait_for 30 has "$D/err" "retrying with backoff"
        start_rsyslog
        wait_for 60 grep -q '"seq 100"' "$RS/received.log"
        finish_etwlua
        got=$(seqs syslog "$RS/received.log")
        if [ "$ERC" = 0 ] && [ "$got" -ge 99 ] && grep -q '"seq 100"' "$RS/received.log"; then
            ok "syslog udp: receiver killed and restarted mid-run: $got of 100 arrive (UDP may lose the one in flight)"
        else no "syslog udp kill (rc=$ERC, got $got)" "$D/err"; fi

        # TCP: rsyslogd stalled (SIGSTOP) with a small queue: what does not
        # fit is dropped and counted, the rest arrives after SIGCONT
        : >"$RS/received.log"
        D=$T/tcp-stall
        mkdir -p "$D"
        events 20000 >"$D/ev.jsonl"
        kill -STOP "$RSPID"
        "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "syslog:tcp://127.0.0.1:$TPORT" -o - \
            --output-queue 50 --output-flush 60 --stats >"$D/other.json" 2>"$D/err" &
        EPID=$!
        PIDS="$PIDS $EPID"
        wait_for 60 has "$D/other.json" etwlua.output_dropped
        kill -CONT "$RSPID"
        if wait_for 90 gone "$EPID"; then wait "$EPID"; rc=$?; else rc=timeout; fi
        dropped=$(sed -n "s|.*output syslog:tcp://127.0.0.1:$TPORT: queued=.* dropped=\([0-9]*\).*|\1|p" "$D/err")
        undelivered=$(sed -n "s|.*output syslog:tcp://127.0.0.1:$TPORT: queued=.* undelivered=\([0-9]*\).*|\1|p" "$D/err")
        wait_for 60 seqs_at_least syslog "$RS/received.log" $((20000 - ${dropped:-0}))
        got=$(seqs syslog "$RS/received.log")
        if [ "$rc" = 1 ] && [ -n "$dropped" ] && [ "$dropped" -gt 0 ] && [ "$undelivered" = 0 ] &&
            [ $((got + dropped)) = 20000 ]; then
            ok "syslog tcp: receiver stalled: $got arrived + $dropped dropped = 20000, output_dropped raised, exit 1"
        else no "syslog tcp stall (rc=$rc got=$got dropped=$dropped undelivered=$undelivered)" "$D/err"; fi
        stop_rsyslog
    fi
fi

# ---- HTTP ------------------------------------------------------------------
H=$T/http
mkdir -p "$H"
start_http() { # [PORT] [--tls CERT KEY]
    rm -f "$H/port"
    python3 "$HERE/http_receiver.py" "$H" "$@" >>"$H/server.out" 2>&1 3>&- &
    HPID=$!
    PIDS="$PIDS $HPID"
    wait_for 30 test -e "$H/port" && HPORT=$(cat "$H/port") && wait_for 30 tcp_open "$HPORT"
}
if ! start_http 0; then
    no "http: the test server did not start" "$H/server.out"
else
    D=$T/es
    mkdir -p "$D"
    events 2500 >"$D/ev.jsonl"
    ETWLUA_HTTP_AUTH="ApiKey c2VjcmV0" "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" \
        -o "http://127.0.0.1:$HPORT/etwlua-alerts/_bulk" >"$D/out" 2>"$D/err"
    rc=$?
    if [ $rc = 0 ] && python3 "$HERE/check.py" es "$H/requests.jsonl" 2500 "ApiKey c2VjcmV0" 2>"$D/why"; then
        ok "http es: 2500 alerts in _bulk batches (action lines, NDJSON, auth from ETWLUA_HTTP_AUTH)"
    else no "http es (rc=$rc)" "$D/err" "$D/why"; fi
    : >"$H/requests.jsonl"
    ETWLUA_HTTP_AUTH="Splunk 0000-1111" "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" \
        -o "http://127.0.0.1:$HPORT/services/collector/event" >"$D/out" 2>"$D/err"
    rc=$?
    if [ $rc = 0 ] && python3 "$HERE/check.py" hec "$H/requests.jsonl" 2500 "Splunk 0000-1111" 2>"$D/why"; then
        ok "http hec: 2500 alerts as {\"time\",\"host\",\"sourcetype\",\"event\"} objects"
    else no "http hec (rc=$rc)" "$D/err" "$D/why"; fi
    : >"$H/requests.jsonl"
    "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "http://127.0.0.1:$HPORT/ingest?x=1&format=hec" >"$D/out" \
        2>"$D/err"
    if python3 "$HERE/check.py" hec "$H/requests.jsonl" 2500 "" 2>"$D/why" &&
        python3 -c 'import json,sys; sys.exit(any(json.loads(l)["path"] != "/ingest?x=1" for l in open(sys.argv[1])))' \
            "$H/requests.jsonl"; then
        ok "http: ?format=hec chooses HEC and is stripped from the URL"
    else no "http: ?format=" "$D/err" "$D/why"; fi
    "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "http://127.0.0.1:$HPORT/ingest" >"$D/out" 2>"$D/err"
    rc=$?
    if [ $rc = 2 ] && has "$D/err" "cannot tell the form from the URL"; then
        ok "http: a URL of no known form is a usage error (exit 2)"
    else no "http: unknown form (rc=$rc)" "$D/err"; fi

    # the server fails (500s) and recovers: everything arrives after
    : >"$H/requests.jsonl"
    D=$T/http-fail
    mkdir -p "$D"
    touch "$H/fail"
    start_etwlua "$D" -o "http://127.0.0.1:$HPORT/a/_bulk"
    events 100 >&3
    wait_for 30 has "$D/err" "answered HTTP 500"
    wait_for 30 has "$H/requests.jsonl" '"status": 500'
    rm -f "$H/fail"
    events 100 >&3
    wait_for 60 seqs_at_least es "$H/requests.jsonl" 200
    finish_etwlua
    if [ "$ERC" = 0 ] && [ "$(seqs es "$H/requests.jsonl")" = 200 ] && has "$D/err" "delivering again"; then
        ok "http: 500s then recovery: all 200 alerts arrive after it"
    else no "http 500 (rc=$ERC got $(seqs es "$H/requests.jsonl"))" "$D/err"; fi

    # the server killed mid-run and restarted on its port
    : >"$H/requests.jsonl"
    D=$T/http-kill
    mkdir -p "$D"
    start_etwlua "$D" -o "http://127.0.0.1:$HPORT/services/collector"
    events 100 >&3
    wait_for 30 seqs_at_least hec "$H/requests.jsonl" 100
    kill -KILL "$HPID"
    wait "$HPID" 2>/dev/null
    events 100 >&3
    wait_for 30 has "$D/err" "retrying with backoff"
    start_http "$HPORT"
    wait_for 60 seqs_at_least hec "$H/requests.jsonl" 200
    finish_etwlua
    if [ "$ERC" = 0 ] && [ "$(seqs hec "$H/requests.jsonl")" = 200 ]; then
        ok "http: server killed and restarted mid-run: all 200 alerts arrive"
    else no "http kill (rc=$ERC got $(seqs hec "$H/requests.jsonl"))" "$D/err"; fi

    # a server that never recovers: the flush deadline ends the run and
    # says how many were not delivered
    touch "$H/fail"
    D=$T/http-dead
    mkdir -p "$D"
    events 30 >"$D/ev.jsonl"
    start=$SECONDS
    "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "http://127.0.0.1:$HPORT/a/_bulk" --output-flush 2 \
        >"$D/out" 2>"$D/err"
    rc=$?
    if [ $rc = 1 ] && has "$D/err" "30 alert(s) not delivered by the flush deadline" && [ $((SECONDS - start)) -lt 15 ]; then
        ok "http: a dead server: exit after the --output-flush deadline, 30 not delivered said, exit 1"
    else no "http dead (rc=$rc)" "$D/err"; fi
    rm -f "$H/fail"
    kill "$HPID"

    # TLS: verified by default (a self-signed certificate is refused);
    # --output-insecure turns it off, loudly
    if command -v openssl >/dev/null &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$H/key.pem" -out "$H/cert.pem" -days 1 \
            -subj /CN=127.0.0.1 >/dev/null 2>&1 && start_http 0 --tls "$H/cert.pem" "$H/key.pem"; then
        : >"$H/requests.jsonl"
        D=$T/tls
        mkdir -p "$D"
        "$BIN" --no-rules -r "$T/http-dead/ev.jsonl" -e "$SCRIPT" -o "https://127.0.0.1:$HPORT/a/_bulk" \
            --output-flush 2 >"$D/out" 2>"$D/err"
        rc=$?
        if [ $rc = 1 ] && grep -qi "certificate" "$D/err" && [ ! -s "$H/requests.jsonl" ]; then
            ok "https: a self-signed certificate is refused by default"
        else no "https verify (rc=$rc)" "$D/err"; fi
        "$BIN" --no-rules -r "$T/http-dead/ev.jsonl" -e "$SCRIPT" -o "https://127.0.0.1:$HPORT/a/_bulk" \
            --output-insecure >"$D/out" 2>"$D/err"
        rc=$?
        if [ $rc = 0 ] && has "$D/err" "WARNING: --output-insecure" && [ "$(seqs es "$H/requests.jsonl")" = 30 ]; then
            ok "https: --output-insecure delivers, with a warning"
        else no "https insecure (rc=$rc)" "$D/err"; fi
        kill "$HPID"
    else
        echo "output: https checks skipped: openssl could not make a certificate or the TLS server did not start"
    fi
fi

# ---- Kafka (librdkafka's mock cluster) ---------------------------------------
if [ ! -x "$KMOCK" ]; then
    echo "output: kafka checks skipped: $KMOCK is not built"
else
    start_kafka() { # DIR N
        "$KMOCK" "$1" alerts "$2" 120 >"$1/kmock.out" 2>&1 3>&- &
        KPID=$!
        PIDS="$PIDS $KPID"
        wait_for 30 test -e "$1/bootstrap" && BOOT=$(cat "$1/bootstrap")
    }
    D=$T/kafka
    mkdir -p "$D"
    events 1000 >"$D/ev.jsonl"
    if start_kafka "$D" 1000; then
        "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" -o "kafka://$BOOT/alerts" >"$D/out" 2>"$D/err"
        rc=$?
        wait_for 60 seqs_at_least kafka "$D/consumed" 1000
        if [ $rc = 0 ] && [ "$(seqs kafka "$D/consumed")" = 1000 ] &&
            python3 "$HERE/check.py" kafka-keys "$D/consumed" "$(hostname)" 2>"$D/why"; then
            ok "kafka: 1000 alerts consumed back from the mock cluster, keyed by host"
        else no "kafka (rc=$rc)" "$D/err" "$D/why" "$D/kmock.out"; fi
    else no "kafka: the mock cluster did not start" "$D/kmock.out"; fi

    # the broker goes down mid-run and comes back: all arrive
    D=$T/kafka-down
    mkdir -p "$D"
    if start_kafka "$D" 200; then
        start_etwlua "$D" -o "kafka://$BOOT/alerts?message.timeout.ms=120000"
        events 100 >&3
        wait_for 30 seqs_at_least kafka "$D/consumed" 100
        kill -USR1 "$KPID"
        wait_for 30 test -e "$D/down"
        events 100 >&3
        # librdkafka says it lost the broker (its log on etwlua's stderr)
        wait_for 30 grep -qiE "fail|disconnect|refused|down" "$D/err"
        kill -USR2 "$KPID"
        wait_for 90 seqs_at_least kafka "$D/consumed" 200
        finish_etwlua
        if [ "$ERC" = 0 ] && [ "$(seqs kafka "$D/consumed")" = 200 ]; then
            ok "kafka: broker down mid-run and back: all 200 alerts arrive"
        else no "kafka down (rc=$ERC got $(seqs kafka "$D/consumed"))" "$D/err" "$D/kmock.out"; fi
    else no "kafka: the mock cluster did not start" "$D/kmock.out"; fi

    # the broker down with small queues: the overflow is dropped and counted
    D=$T/kafka-drop
    mkdir -p "$D"
    events 3000 >"$D/ev.jsonl"
    if start_kafka "$D" 3000; then
        kill -USR1 "$KPID"
        wait_for 30 test -e "$D/down"
        "$BIN" --no-rules -r "$D/ev.jsonl" -e "$SCRIPT" \
            -o "kafka://$BOOT/alerts?queue.buffering.max.messages=100&message.timeout.ms=120000" \
            -o - --output-queue 100 --output-flush 60 --stats >"$D/other.json" 2>"$D/err" &
        EPID=$!
        PIDS="$PIDS $EPID"
        wait_for 60 has "$D/other.json" etwlua.output_dropped
        kill -USR2 "$KPID"
        if wait_for 90 gone "$EPID"; then wait "$EPID"; rc=$?; else rc=timeout; fi
        dropped=$(sed -n "s|.*output kafka://.*: queued=.* dropped=\([0-9]*\).*|\1|p" "$D/err")
        wait_for 60 seqs_at_least kafka "$D/consumed" $((3000 - ${dropped:-0}))
        got=$(seqs kafka "$D/consumed")
        if [ "$rc" = 1 ] && [ -n "$dropped" ] && [ "$dropped" -gt 0 ] && [ $((got + dropped)) = 3000 ]; then
            ok "kafka: broker down, queues full: $got arrived + $dropped dropped = 3000, output_dropped raised"
        else no "kafka drop (rc=$rc got=$got dropped=$dropped)" "$D/err"; fi
    else no "kafka: the mock cluster did not start" "$D/kmock.out"; fi
fi

# ---- usage -----------------------------------------------------------------
D=$T/usage
mkdir -p "$D"
"$BIN" --no-rules -r /dev/null -o "ftp://x" >"$D/out" 2>"$D/err"
rc=$?
if [ $rc = 2 ] && has "$D/err" "not an output"; then ok "usage: an unknown output is exit 2"
else no "usage: unknown output (rc=$rc)" "$D/err"; fi
"$BIN" --no-rules -r /dev/null -o "kafka://nobroker" >"$D/out" 2>"$D/err"
rc=$?
if [ $rc = 2 ] && has "$D/err" "expected kafka://"; then ok "usage: kafka:// without a topic is exit 2"
else no "usage: kafka spec (rc=$rc)" "$D/err"; fi

# the fleet snippets of docs/outputs.md (the tools are not Debian packages)
n=$(python3 "$HERE/check.py" doc-snippets docs/outputs.md 2>"$T/why")
if [ "${n:-0}" -ge 3 ]; then ok "docs: the $n Vector/Filebeat TOML and YAML snippets of docs/outputs.md parse"
else no "docs: outputs.md snippets" "$T/why"; fi

echo "output: $pass passed, $fail failed"
[ $fail = 0 ]
