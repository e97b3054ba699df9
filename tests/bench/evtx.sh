#!/bin/sh
# tests/bench/evtx.sh [CHUNKS] - EVTX decoding throughput.  A large file is
# made by looping the chunks of the shared attack samples (evtx_make.py,
# default 2000 chunks, 131 MB); it is replayed with one Lua handler that
# reads 3 fields of every event, by the native reader and by the libevtx
# one (--evtx-reader libevtx), and `evtxexport -f xml` renders it, for the
# ratios.  Prints records/s (on CPU time: the machine is shared), MB/s and
# peak RSS of each.  Skips when ../shared is absent.
set -eu
cd "$(dirname "$0")/../.."
SRC=../shared/data/evtx-attack-samples
[ -d "$SRC" ] || { echo "bench evtx: skipped ($SRC is absent)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 tests/bench/evtx_make.py "$tmp/big.evtx" "$SRC" "${1:-2000}"
python3 - "$tmp/big.evtx" <<'PY'
import os, subprocess, sys
f = sys.argv[1]
size = os.path.getsize(f)
script = 'local etw = require "etw"\netw.on(function(ev) local a, b, c = ev.pid, ev.id, ev.info.CommandLine end)'
runs = [
    ("native", ["build/bin/release/etwlua", "--no-rules", "-r", f, "--stats", "-e", script]),
    ("libevtx", ["build/bin/release/etwlua", "--evtx-reader", "libevtx", "--no-rules", "-r", f, "--stats", "-e", script]),
    ("evtxexport", ["evtxexport", "-f", "xml", f]),
]
res = {}
records = 0
for name, cmd in runs:
    best = None
    for _ in range(3 if name == "native" else 1):
        # /usr/bin/time: each run's own CPU time and peak RSS
        p = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M"] + cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        lines = p.stderr.splitlines()
        t = [l for l in lines if l.startswith("TIME ")][-1].split()
        wall, cpu, rss = float(t[1]), float(t[2]) + float(t[3]), int(t[4])
        if name != "evtxexport":
            for l in lines:
                if "stats: read=" in l:
                    records = int(l.split("read=")[1].split()[0])
        if best is None or cpu < best[0]:
            best = (cpu, wall, rss)
    res[name] = best
    cpu, wall, rss = best
    print("bench evtx %-10s records=%d bytes=%d cpu_s=%.3f wall_s=%.3f records_per_s=%.0f mb_per_s=%.1f peak_rss_kb=%d"
          % (name, records, size, cpu, wall, records / cpu, size / cpu / 1e6, rss))
print("bench evtx ratio: native is %.1fx the libevtx path and %.1fx evtxexport (CPU time)"
      % (res["libevtx"][0] / res["native"][0], res["evtxexport"][0] / res["native"][0]))
PY
