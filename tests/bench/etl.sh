#!/bin/sh
# tests/bench/etl.sh [COPIES] - ETL decoding throughput: ShutdownPerfDiagLogger.etl
# (kernel MOF events) concatenated COPIES times (default 30; buffers are
# independent, so the copies read as one longer trace), replayed with one
# handler that reads 3 fields of every event.  Prints events/s and MB/s.
set -eu
cd "$(dirname "$0")/../.."
SRC=../shared/data/etl/ShutdownPerfDiagLogger.etl
[ -f "$SRC" ] || { echo "bench etl: skipped ($SRC is absent)"; exit 0; }
n=${1:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ $i -lt "$n" ]; do cat "$SRC"; i=$((i + 1)); done >"$tmp/big.etl"
bytes=$(wc -c <"$tmp/big.etl")
script='local etw = require "etw"
etw.on(function(ev) local a, b, c = ev.pid, ev.opcode, ev.info.ProcessId end)'
start=$(date +%s.%N)
# bounded: a hang fails the bench instead of blocking whoever runs it
timeout -s KILL 600 build/bin/release/etwlua --no-rules -r "$tmp/big.etl" -e "$script" --stats 2>"$tmp/err" >/dev/null
end=$(date +%s.%N)
events=$(sed -n 's/.*stats: read=\([0-9]*\).*/\1/p' "$tmp/err")
python3 -c "
import sys
e, b, t = int('$events'), int('$bytes'), float('$end') - float('$start')
print('bench etl events=%d bytes=%d seconds=%.3f events_per_s=%.0f mb_per_s=%.1f' % (e, b, t, e / t, b / t / 1e6))
"
