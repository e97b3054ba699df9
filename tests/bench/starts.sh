#!/bin/sh
# tests/bench/starts.sh [BIN] [N] - `etwlua bench N h`: the rule library
# over real process starts.  Writes build/bench-starts.jsonl (never
# committed) from ../shared: the Sysmon 1 and Security 4688 events of the
# EVTX attack samples (read by etwlua itself) and of the OTRF captures
# (converted by ../shared/tools/otrf2jsonl.py, or taken from OTRF_CACHE,
# the cache tests/rules/otrf.py fills), then runs the case.  Skips, saying
# so, without ../shared.
set -eu
cd "$(dirname "$0")/../.."
BIN=${1:-build/bin/release/etwlua}
N=${2:-200000}
SHARED=../shared
OUT=build/bench-starts.jsonl
if [ ! -d "$SHARED/data/evtx-attack-samples" ]; then
    echo "bench h skipped: ../shared is absent"
    exit 0
fi
CACHE=${OTRF_CACHE:-}
if [ -z "$CACHE" ]; then
    CACHE=$(ls -d "${TMPDIR:-/tmp}"/etwlua-otrf-* 2>/dev/null | head -1 || true)
fi
if [ -z "$CACHE" ] || [ ! -d "$CACHE" ]; then
    CACHE=build/otrf-jsonl
    mkdir -p "$CACHE"
    timeout "${OTRF_CONVERT_TIMEOUT:-1800}" python3 "$SHARED/tools/otrf2jsonl.py" --dir "$SHARED/data/otrf" --outdir "$CACHE"
fi
{
    "$BIN" --no-rules --dump --format json -r "$SHARED/data/evtx-attack-samples" 2>/dev/null || true
    cat "$CACHE"/*.jsonl
} | python3 -c '
import json, sys
keep = {("Microsoft-Windows-Sysmon", 1), ("Microsoft-Windows-Security-Auditing", 4688)}
n = 0
for line in sys.stdin:
    try:
        h = json.loads(line)["header"]
    except Exception:
        continue
    if (h.get("provider_name"), h.get("descriptor", {}).get("id")) in keep:
        sys.stdout.write(line if line.endswith("\n") else line + "\n")
        n += 1
print("bench starts: %d process starts in build/bench-starts.jsonl" % n, file=sys.stderr)
' >"$OUT"
ETWL_BENCH_STARTS=$OUT "$BIN" bench "$N" h
