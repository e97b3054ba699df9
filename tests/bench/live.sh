#!/usr/bin/env bash
# tests/bench/live.sh BIN [RATE] [SECONDS] - live throughput on tracefs (root).
#
# A paced load generator makes RATE syscalls per second (getppid, traced as
# syscalls:sys_enter_getppid) while etwlua runs the live session with the
# process provider and scripts loaded.  Prints events handled per second,
# the CPU etwlua used, and the events lost:
#   bench live rate=<target> seconds=<s> events=<n> events_per_s=<x> cpu_pct=<y> lost=<z>
set -u
BIN=$(realpath "$1")
RATE=${2:-250000}
SECS=${3:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'read -r me _ </proc/self/stat; [ "$me" = "$$" ] && { rm -rf "$TMP"; "$BIN" --kill etwl-bench >/dev/null 2>&1; }' EXIT
[ "$(id -u)" = 0 ] || { echo "bench live: skipped (needs root)"; exit 0; }
rules="$HERE/../../scripts/examples/process_starts.lua $HERE/../../scripts/examples/dns_idn.lua"
/usr/bin/time -f "%U %S %e" -o "$TMP/time" "$BIN" -n etwl-bench -p process -p syscalls:sys_enter_getppid \
    --stats --duration "$((SECS + 2))" $rules >"$TMP/out" 2>"$TMP/err" &
pid=$!
# wait for the session to start (bounded: 60 s on a loaded machine)
for _ in $(seq 1200); do grep -q started "$TMP/err" 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
grep -q started "$TMP/err" || { echo "bench live: the session did not start: $(cat "$TMP/err")"; kill $pid 2>/dev/null; exit 1; }
python3 - "$RATE" "$SECS" <<'PY'
import os, sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
batch = max(1, rate // 1000)          # a burst every millisecond
start = time.monotonic()
done = 0
while True:
    now = time.monotonic() - start
    if now >= secs:
        break
    due = int(now * rate)
    while done < due:
        for _ in range(batch):
            os.getppid()
        done += batch
    time.sleep(0.0005)
print("generated", done, "in", round(time.monotonic() - start, 2), "s", file=sys.stderr)
PY
# --duration ends it; bounded all the same
for _ in $(seq $((60 * 20))); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -0 $pid 2>/dev/null && { echo "bench live: etwlua did not stop; killed"; kill -KILL $pid; }
wait $pid
read -r user sys wall <"$TMP/time"
read_n=$(sed -n 's/.*stats: read=\([0-9]*\).*/\1/p' "$TMP/err" | tail -1)
lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' "$TMP/err" | tail -1)
python3 - "$RATE" "$SECS" "${read_n:-0}" "$user" "$sys" "$wall" "${lost:-?}" <<'PY'
import sys
rate, secs, n, u, s, wall, lost = sys.argv[1:]
n = int(n)
print("bench live rate=%s seconds=%s events=%d events_per_s=%.0f cpu_pct=%.1f lost=%s" %
      (rate, secs, n, n / float(secs), 100.0 * (float(u) + float(s)) / float(wall), lost))
PY
