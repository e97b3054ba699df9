#!/bin/sh
# tests/bench/evtx.sh [CHUNKS] - EVTX decoding throughput.  A large file is
# made by looping the chunks of the shared attack samples (evtx_make.py,
# default 10,000 chunks, 655 MB: the samples loop 28 times) and replayed
# with one Lua handler that reads 3 fields of every event.  Prints
# records/s (on CPU time: the machine is shared), MB/s and peak RSS, and
# the rate after start-up (the CPU time of the same command on a file of
# no chunks taken off: the dynamic linker, Lua and the script cost a few
# ms whatever the file).
#
# Also, each replayed the same way:
#   native-131mb  the first 2,000 chunks of that loop (131 MB), the file of
#                 earlier rounds: the one-off costs (start-up, the first
#                 walk of each of the samples' 459 template shapes) weigh
#                 five times as much in it;
#   native-full   the samples' chunks that hold at least 60 records, looped
#                 as far: the shape of a log written for a while (about 100
#                 records a chunk; most sample chunks are excerpts of a few
#                 large records);
#   libevtx       the 131 MB file by the libevtx reader (--evtx-reader
#                 libevtx), and `evtxexport -f xml` renders it: the ratios
#                 are against native-131mb.
# Skips when ../shared is absent.
set -eu
cd "$(dirname "$0")/../.."
SRC=../shared/data/evtx-attack-samples
[ -d "$SRC" ] || { echo "bench evtx: skipped ($SRC is absent)"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
N=${1:-10000}
python3 tests/bench/evtx_make.py "$tmp/big.evtx" "$SRC" "$N"
python3 tests/bench/evtx_make.py "$tmp/small.evtx" "$SRC" 2000
python3 tests/bench/evtx_make.py "$tmp/full.evtx" "$SRC" "$N" 60
head -c 4096 "$tmp/big.evtx" >"$tmp/empty.evtx"
python3 - "$tmp" <<'PY'
import os, subprocess, sys, time
tmp = sys.argv[1]
script = 'local etw = require "etw"\netw.on(function(ev) local a, b, c = ev.pid, ev.id, ev.info.CommandLine end)'
etwlua = "build/bin/release/etwlua"
def replay(f, *extra):
    return [etwlua] + list(extra) + ["--no-rules", "-r", f, "--stats", "-e", script]
runs = [
    ("startup", "empty.evtx", replay(tmp + "/empty.evtx"), 5),
    ("native", "big.evtx", replay(tmp + "/big.evtx"), 5),
    ("native-131mb", "small.evtx", replay(tmp + "/small.evtx"), 5),
    ("native-full", "full.evtx", replay(tmp + "/full.evtx"), 5),
    ("libevtx", "small.evtx", replay(tmp + "/small.evtx", "--evtx-reader", "libevtx"), 1),
    ("evtxexport", "small.evtx", ["evtxexport", "-f", "xml", tmp + "/small.evtx"], 1),
]
res = {}
for name, fname, cmd, n in runs:
    best = None
    size = os.path.getsize(os.path.join(tmp, fname))
    records = 0
    for _ in range(n):
        # each run's own CPU time (wait4's rusage: microseconds, where
        # /usr/bin/time rounds to 10 ms; its own CPU is a few hundred
        # microseconds) and peak RSS from /usr/bin/time (wait4's counts
        # this Python, which the child was forked from)
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "TIME %M"] + cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, _, ru = os.wait4(p.pid, 0)
        lines = err.splitlines()
        rss = int([l for l in lines if l.startswith("TIME ")][-1].split()[1])
        wall, cpu = time.monotonic() - t0, ru.ru_utime + ru.ru_stime
        for l in lines:
            if "stats: read=" in l:
                records = int(l.split("read=")[1].split()[0])
        if best is None or cpu < best[0]:
            best = (cpu, wall, rss)
    if name == "evtxexport":
        records = res["native-131mb"][3]  # the same file; it prints no count
    res[name] = best + (records, size)
    cpu, wall, rss = best
    if name == "startup":
        print("bench evtx startup      cpu_s=%.4f (an EVTX file of no chunks, the same script)" % cpu)
        continue
    print("bench evtx %-12s records=%d bytes=%d cpu_s=%.4f wall_s=%.4f records_per_s=%.0f mb_per_s=%.1f peak_rss_kb=%d"
          % (name, records, size, cpu, wall, records / cpu, size / cpu / 1e6, rss))
for name in ("native", "native-131mb", "native-full"):
    n = res[name][0] - res["startup"][0]
    records, size = res[name][3], res[name][4]
    print("bench evtx %s after start-up: cpu_s=%.4f records_per_s=%.0f mb_per_s=%.1f" % (name, n, records / n, size / n / 1e6))
print("bench evtx ratio (131 MB file): native is %.1fx the libevtx path and %.1fx evtxexport (CPU time)"
      % (res["libevtx"][0] / res["native-131mb"][0], res["evtxexport"][0] / res["native-131mb"][0]))
PY
