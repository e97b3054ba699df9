#!/bin/sh
# tests/bench/parallel.sh [FILES] [CHUNKS] [ROUNDS] - parallel folder replay:
# -j 2 against -j 1 over a folder of FILES .evtx files (default 16) of
# CHUNKS chunks each (default 500, about 33 MB; 524 MB in all), made by
# looping the chunks of the shared attack samples (evtx_make.py), with the
# rule library running as a hunt would.
#
# The machine is a VM whose two vCPUs do not always run at the same speed
# (one is often 20-50% slower while the host's other tenants are busy), and
# that drifts within seconds.  So -j 1 and -j 2 are interleaved, ROUNDS
# (default 5) times, and each round's ratio is printed with the median and
# the best.  Also prints the CPU time of both, each worker's (--stats) and
# an estimate from CPU times that the drift changes less: -j 1's CPU time
# over -j 2's serial part plus its busiest worker.  Peak RSS from
# /usr/bin/time.  Checks that both give the same alerts and --stats.
# Skips when ../shared is absent.
set -eu
cd "$(dirname "$0")/../.."
SRC=../shared/data/evtx-attack-samples
[ -d "$SRC" ] || { echo "bench parallel: skipped ($SRC is absent)"; exit 0; }
files=${1:-16}
chunks=${2:-500}
rounds=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/dir"
i=1
while [ "$i" -le "$files" ]; do
    python3 tests/bench/evtx_make.py "$tmp/dir/f$i.evtx" "$SRC" "$chunks"
    i=$((i + 1))
done
python3 - "$tmp" "$rounds" <<'PY'
import os, subprocess, sys, time
tmp, rounds = sys.argv[1], int(sys.argv[2])
d = os.path.join(tmp, "dir")
exe = "build/bin/release/etwlua"
size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))

def replay(j):
    out = os.path.join(tmp, "alerts%s" % j)
    t0 = time.monotonic()
    with open(out, "w") as fo:
        # /usr/bin/time for the peak RSS: wait4's would count this Python,
        # which the child was forked from
        p = subprocess.Popen(["/usr/bin/time", "-f", "TIME %M", exe, "-j", j, "--stats", "--no-summary", "-r", d],
                             stdout=fo, stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit("bench parallel: -j %s failed:\n%s" % (j, err))
    lines = err.splitlines()
    rss = int([l for l in lines if l.startswith("TIME ")][-1].split()[1])
    stats = [l for l in lines if "stats: read=" in l][-1]
    workers = [float(l.split("cpu_ms=")[1]) / 1e3 for l in lines if "worker " in l and "cpu_ms=" in l]
    return dict(wall=wall, cpu=ru.ru_utime + ru.ru_stime, rss=rss, stats=stats,
                alerts=sorted(open(out).read().splitlines()), workers=workers,
                files=[l.split("files=")[1].split()[0] for l in lines if "worker " in l])

rows = []
for r in range(rounds):
    a, b = replay("1"), replay("2")
    if a["stats"] != b["stats"] or a["alerts"] != b["alerts"]:
        sys.exit("bench parallel: -j 1 and -j 2 differ (alerts or --stats)")
    rows.append((a, b))
load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
a0 = rows[0][0]
records = int(a0["stats"].split("read=")[1].split()[0])
print("bench parallel: %d files, %.0f MB, %d records, %d alerts, %d rounds; load average %s (2 cores)"
      % (len(os.listdir(d)), size / 1e6, records, len(a0["alerts"]), rounds, " ".join(load)))
ratios, ests = [], []
for i, (a, b) in enumerate(rows):
    ratio = a["wall"] / b["wall"]
    ratios.append(ratio)
    # two idle cores would take the serial part plus the busiest worker
    idle = b["cpu"] - sum(b["workers"]) + max(b["workers"])
    ests.append(a["cpu"] / idle)
    print("  round %d: -j 1 wall %.3f s cpu %.3f s | -j 2 wall %.3f s cpu %.3f s, workers %s s, files %s"
          " | ratio %.2fx (from CPU times %.2fx)"
          % (i + 1, a["wall"], a["cpu"], b["wall"], b["cpu"], "/".join("%.3f" % x for x in b["workers"]),
             "/".join(b["files"]), ratio, ests[-1]))
med = lambda v: sorted(v)[len(v) // 2]
print("  -j 1: %.0f records/s wall (median round), peak RSS %d MB; -j 2: peak RSS %d MB"
      % (records / med([a["wall"] for a, _ in rows]), max(a["rss"] for a, _ in rows) // 1024,
         max(b["rss"] for _, b in rows) // 1024))
print("  ratio -j 1 / -j 2 wall: median %.2fx, best %.2fx (target >= 1.8x); cpu -j 2 / -j 1: median %.2f"
      % (med(ratios), max(ratios), med([b["cpu"] / a["cpu"] for a, b in rows])))
print("  from CPU times (-j 1's CPU over -j 2's serial part plus its busiest worker, what two idle cores would"
      " take): median %.2fx" % med(ests))
print("  same alerts and --stats with -j 1 and -j 2: yes")
PY
