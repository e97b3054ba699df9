#!/bin/bash
# tests/bench/outputs.sh [ETWLUA] [N] - alerts/s per output: file, syslog
# over UDP and TCP to an rsyslogd started here, Kafka to librdkafka's mock
# cluster (kafka_mock, built beside etwlua).  Runs `etwlua bench-outputs`,
# which pushes N typical alerts (about 830 bytes each, with the event) through each output's
# queue and writer thread twice: as fast as it delivers (max), and paced at
# 100,000/s through the ordinary non-blocking push (drops then say whether
# it keeps up).  Then counts what rsyslogd got.  Figures are in
# docs/performance.md#outputs.
set -u
cd "$(dirname "$0")/../.."
BIN=${1:-build/bin/release/etwlua}
N=${2:-200000}
KMOCK=$(dirname "$BIN")/kafka_mock
T=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill -KILL $p 2>/dev/null; done; rm -rf "$T"' EXIT
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
udp_bound() { ! python3 -c "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',$1))" 2>/dev/null; }
tcp_open() { python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1).close()" 2>/dev/null; }

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
specs=(-o "file:$T/alerts.json")
if command -v rsyslogd >/dev/null; then
    UPORT=$(free_port)
    TPORT=$(free_port)
    cat >"$T/rsyslog.conf" <<CONF
global(workDirectory="$T" maxMessageSize="64k")
module(load="imudp" threads="1")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="$UPORT" rcvbufSize="64m")
input(type="imtcp" address="127.0.0.1" port="$TPORT")
template(name="m" type="string" string="%inputname%\n")
*.* action(type="omfile" file="$T/received.log" template="m" asyncWriting="on" ioBufferSize="1m" flushOnTXEnd="off")
CONF
    rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" >"$T/rsyslogd.out" 2>&1 &
    PIDS="$PIDS $!"
    if wait_for 30 udp_bound "$UPORT" && wait_for 30 tcp_open "$TPORT"; then
        specs+=(-o "syslog:udp://127.0.0.1:$UPORT" -o "syslog:tcp://127.0.0.1:$TPORT")
    else echo "rsyslogd did not start: syslog skipped"; fi
else echo "rsyslogd not installed: syslog skipped"; fi
if [ -x "$KMOCK" ]; then
    "$KMOCK" "$T" bench 0 600 >"$T/kmock.out" 2>&1 &
    KPID=$!
    PIDS="$PIDS $KPID"
    if wait_for 30 test -e "$T/bootstrap"; then specs+=(-o "kafka://$(cat "$T/bootstrap")/bench")
    else echo "the Kafka mock cluster did not start: kafka skipped"; fi
else echo "$KMOCK not built: kafka skipped"; fi

"$BIN" bench-outputs -n "$N" "${specs[@]}"
# what the receivers got (UDP loss at a receiver is invisible to the sender)
received() { [ "$(grep -c imtcp "$T/received.log")" -ge $((2 * N)) ]; }
if [ -n "${UPORT:-}" ]; then
    wait_for 60 received
    echo "rsyslogd received over UDP $(grep -c imudp "$T/received.log") of $((2 * N)), over TCP $(grep -c imtcp "$T/received.log") of $((2 * N)) (both runs each)"
fi
# Kafka: "undelivered 0, dropped 0" above means the mock broker acknowledged
# every message (a delivery report that fails counts as dropped)
