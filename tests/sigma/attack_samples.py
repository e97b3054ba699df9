#!/usr/bin/env python3
"""Measures SigmaHQ's corpus (../shared/data/sigma) against the built-in rule
library over ../shared/data/evtx-attack-samples: the share of files each
flags, alerts, and alerts per 1,000 events.  `attack_samples.py BIN` prints
a Markdown table for docs/sigma.md; skips, saying so, when ../shared lacks
either folder."""
import json, os, subprocess, sys

def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    events = 0
    for line in p.stderr.splitlines():
        if "stats: read=" in line:
            events = int(line.split("read=")[1].split()[0])
    alerts = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return events, alerts

def main():
    binary = os.path.abspath(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data"))
    samples, sigma = os.path.join(shared, "evtx-attack-samples"), os.path.join(shared, "sigma")
    if not os.path.isdir(samples) or not os.path.isdir(sigma):
        print("attack samples: skipped (../shared/data/evtx-attack-samples or ../shared/data/sigma absent)")
        return 0
    files = sorted(os.path.join(d, n) for d, _, ns in os.walk(samples) for n in ns if n.lower().endswith(".evtx"))
    rules = [os.path.join(sigma, r) for r in ("rules", "rules-emerging-threats", "rules-threat-hunting")]
    sig = sum((["--sigma", r] for r in rules), [])
    kinds = {
        "built-in library": [binary, "--stats"],
        "SigmaHQ, all levels": [binary, "--no-rules", "--stats"] + sig,
        "SigmaHQ, high and critical": [binary, "--no-rules", "--stats", "--sigma-level", "high"] + sig,
    }
    print("| rules | files flagged (of %d) | share | alerts | events | alerts per 1,000 events |" % len(files))
    print("|---|---|---|---|---|---|")
    for name, cmd in kinds.items():
        flagged = alerts = events = 0
        for f in files:
            n, a = run(cmd + ["-r", f])
            events += n
            alerts += len(a)
            flagged += bool(a)
        print("| %s | %d | %.1f%% | %d | %d | %.1f |" % (name, flagged, 100.0 * flagged / len(files), alerts, events,
                                                        1000.0 * alerts / max(events, 1)))
    return 0

sys.exit(main())
