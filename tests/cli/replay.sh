#!/bin/bash
# tests/cli/replay.sh [BIN] - replaying folders: -j N (parallel workers),
# ev.source, the per-host per-file process table, the end-of-run summary and
# the progress line.  A hand-made folder (tests/cli/evtx_small.py) always
# runs; the checks over the shared attack samples skip, saying so, when
# ../shared is absent.  Every wait is bounded.
# Ends with "replay: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
BIN=${1:-build/bin/release/etwlua}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SAMPLES=../shared/data/evtx-attack-samples
DATA=tests/data
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # name condition...
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# ---- bad values of -j are usage errors (exit 2), named ----------------------
for v in 0 -1 x 2x 65 ""; do
    "$BIN" -j "$v" --no-rules -r "$DATA/events.jsonl" >/dev/null 2>"$tmp/err"
    rc=$?
    check "-j '$v' exits 2 naming --jobs" test $rc = 2 -a -n "$(grep -- '--jobs: expected a number from 1 to 64' "$tmp/err")"
done
"$BIN" --no-rules -j >/dev/null 2>"$tmp/err"
check "-j without a value exits 2" test $? = 2 -a -n "$(grep 'needs a value' "$tmp/err")"
"$BIN" --no-rules -j 2 >/dev/null 2>"$tmp/err"
check "-j without -r exits 2" test $? = 2 -a -n "$(grep 'needs -r FILE or -r DIR' "$tmp/err")"
"$BIN" --no-rules -j 2 -r - </dev/null >/dev/null 2>"$tmp/err"
check "-j with -r - exits 2" test $? = 2 -a -n "$(grep 'not stdin' "$tmp/err")"
"$BIN" --no-rules -j 2 --dump --format traceevent -r "$DATA/events.jsonl" >/dev/null 2>"$tmp/err"
check "-j with --format traceevent exits 2" test $? = 2

# ---- -j on one file: the same as without ------------------------------------
(cd "$DATA" && "$BIN" -r windows.jsonl --stats >"$tmp/one.out" 2>"$tmp/one.err")
(cd "$DATA" && "$BIN" -j 2 -r windows.jsonl --stats >"$tmp/onej.out" 2>"$tmp/onej.err")
check "-j 2 on one file: same alerts" cmp -s "$tmp/one.out" "$tmp/onej.out"
check "-j 2 on one file: same stats" test "$(grep 'stats:' "$tmp/one.err")" = "$(grep 'stats:' "$tmp/onej.err")"
check "-j 2 on one file: alerts carry the source" grep -q '"source":{"file":"windows.jsonl","line":' "$tmp/onej.out"

# ---- the summary ---------------------------------------------------------------
(cd "$DATA" && "$BIN" -r windows.jsonl --summary >/dev/null 2>"$tmp/sum.err")
check "--summary: totals" grep -q '^etwlua: summary: [1-9][0-9]* alert(s), [1-9][0-9]* event(s), 0 handler error(s)$' "$tmp/sum.err"
check "--summary: by rule" grep -q '^etwlua: summary: alerts by rule:$' "$tmp/sum.err"
check "--summary: by severity" grep -qE '^etwlua: +[0-9]+  (high|medium|low)$' "$tmp/sum.err"
check "--summary: events by provider" grep -qE '^etwlua: +[0-9]+  Microsoft-Windows-PowerShell$' "$tmp/sum.err"
n_alerts=$(cd "$DATA" && "$BIN" -r windows.jsonl 2>/dev/null | wc -l)
check "--summary: counts every alert ($n_alerts)" grep -q "^etwlua: summary: $n_alerts alert(s)" "$tmp/sum.err"
(cd "$DATA" && "$BIN" --no-rules -r events.jsonl --summary -e 'require("etw").on({id=1}, function() error("x") end)' \
    >/dev/null 2>"$tmp/sumerr.err")
check "--summary: handler errors" grep -q '^etwlua: summary: 0 alert(s), 7 event(s), 3 handler error(s)$' "$tmp/sumerr.err"
(cd "$DATA" && "$BIN" -r windows.jsonl >/dev/null 2>"$tmp/nosum.err")
check "no summary when stderr is not a terminal" test -z "$(grep 'summary' "$tmp/nosum.err")"

# ---- the progress line and the summary on a terminal (a pty) -------------------
python3 - "$tmp/big.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(6000):
        f.write('{"header":{"descriptor":{"id":1},"process_id":%d,"provider_name":"P"},"info":{"N":"%d"}}\n' % (i, i))
PY
pty_run() { # out args... : stderr on a pty, stdout to a file; bounded
    python3 - "$@" <<'PY'
import os, pty, select, subprocess, sys, time
out, args = sys.argv[1], sys.argv[2:]
m, s = pty.openpty()
with open(out + ".stdout", "w") as so:
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=so, stderr=s)
os.close(s)
buf, end = b"", time.time() + 120
while time.time() < end:
    r, _, _ = select.select([m], [], [], 1)
    if r:
        try:
            d = os.read(m, 65536)
        except OSError:
            d = b""
        if not d:
            break
        buf += d
    elif p.poll() is not None:
        break
try:
    p.wait(timeout=max(1, end - time.time()))
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("timed out")
open(out, "wb").write(buf)
PY
}
pty_run "$tmp/pty1" "$BIN" --no-rules -r "$tmp/big.jsonl" -e 'require("etw").on(function() end)'
check "progress line on a terminal (events/s, MB, ETA or %)" grep -qa 'events/s' "$tmp/pty1"
check "progress line: bytes of the file" grep -qaE 'of [0-9.]+ MB \([0-9]+%\)' "$tmp/pty1"
check "progress line is cleared" grep -qa $'\r\033\\[K' "$tmp/pty1"
check "summary on a terminal by default" grep -qa 'etwlua: summary: 0 alert(s), 6000 event(s)' "$tmp/pty1"
pty_run "$tmp/pty2" "$BIN" --no-rules --no-progress --no-summary -r "$tmp/big.jsonl" -e 'require("etw").on(function() end)'
check "--no-progress --no-summary on a terminal: neither" test -z "$(grep -a 'events/s\|summary' "$tmp/pty2")"
"$BIN" --no-rules -r "$tmp/big.jsonl" -e 'require("etw").on(function() end)' >/dev/null 2>"$tmp/noprog.err"
check "no progress line when stderr is not a terminal" test ! -s "$tmp/noprog.err"

# ---- a hand-made folder (tests/cli/evtx_small.py): 4 captures of 2 hosts ----
python3 tests/cli/evtx_small.py "$tmp/small" 4
cat >"$tmp/small.lua" <<'LUA'
local etw = require "etw"
etw.on({id = 1}, function(ev)
  local p = ev.process
  print(ev.computer, p and p.pid, p and p.parent and p.parent.image or "-")
  etw.alert{rule = "t.start", event = ev, fields = {parent = p and p.parent and p.parent.image or "-"}}
end)
LUA
"$BIN" --no-rules "$tmp/small.lua" -r "$tmp/small" 2>"$tmp/s_folder.err" >/dev/null
for f in "$tmp"/small/*.evtx; do "$BIN" --no-rules "$tmp/small.lua" -r "$f" 2>&1 >/dev/null; done >"$tmp/s_files.err"
check "hand-made folder: parents as per-file runs resolve them" \
    test "$(grep -c HOST "$tmp/s_files.err")" = 15 -a -z "$(diff <(sort "$tmp/s_folder.err") <(sort "$tmp/s_files.err"))"
check "hand-made folder: no parent from the capture before (net.exe, 3 files)" \
    test "$(grep -cE $'^HOST[01]\t[234]004\t-$' "$tmp/s_folder.err")" = 3
check "hand-made folder: parents within a file still resolve" \
    test "$(grep -cE $'^HOST[01]\t[1-4]003\t.*cmd.exe$' "$tmp/s_folder.err")" = 4
for j in 1 2; do
    "$BIN" -j $j --stats "$tmp/small.lua" -r "$tmp/small" 2>"$tmp/sj$j.err" | sort >"$tmp/sj$j.out"
done
check "hand-made folder: -j 2 and -j 1 give the same $(wc -l <"$tmp/sj1.out") alerts" \
    test "$(wc -l <"$tmp/sj1.out")" -ge 15 -a -z "$(diff "$tmp/sj1.out" "$tmp/sj2.out")"
check "hand-made folder: -j 2 and -j 1 give the same --stats" \
    test -n "$(grep 'stats: read=15 passed=15 ' "$tmp/sj1.err")" -a "$(grep 'stats: read=' "$tmp/sj1.err")" = "$(grep 'stats: read=' "$tmp/sj2.err")"
check "hand-made folder: -j 2 used 2 workers" test "$(grep -c 'etwlua: worker [12]: files=' "$tmp/sj2.err")" = 2
# a damaged record in two of the files: every worker's malformed count adds up
cp -r "$tmp/small" "$tmp/damaged"
python3 - "$tmp/damaged/capture1.evtx" "$tmp/damaged/capture2.evtx" <<'PY'
import sys
for path in sys.argv[1:]:
    b = bytearray(open(path, "rb").read())
    at = b.index(b"E\x00v\x00e\x00n\x00t\x00", 4096 + 512)  # the first record's first name
    b[at - 12] = 0x7F  # its element token: no longer BinXml
    open(path, "wb").write(bytes(b))
PY
"$BIN" --no-rules --stats -r "$tmp/damaged" -e 'require("etw").on(function() end)' >/dev/null 2>"$tmp/dm0.err"
"$BIN" --no-rules --stats -j 2 -r "$tmp/damaged" -e 'require("etw").on(function() end)' >/dev/null 2>"$tmp/dm2.err"
check "damaged records: counted by every worker ($(sed -n 's/.*malformed=\([0-9]*\).*/\1/p' "$tmp/dm0.err"))" \
    test -n "$(grep 'stats: read=15 passed=13 filtered=0 malformed=2 ' "$tmp/dm0.err")" -a \
    "$(grep 'stats: read=' "$tmp/dm0.err")" = "$(grep 'stats: read=' "$tmp/dm2.err")"
check "damaged records: each reported with its file" \
    test "$(grep -c 'capture[12].evtx: chunk 0 offset 512: record 1 skipped' "$tmp/dm2.err")" = 2
check "hand-made folder: alerts name file and record" \
    test "$(grep -c '"source":{"file":"[^"]*capture[0-3].evtx","record":[1-4]}}$' "$tmp/sj2.out")" = "$(wc -l <"$tmp/sj2.out")"

# ---- the shared samples: folder replays --------------------------------------
if [ ! -d "$SAMPLES" ]; then
    echo "ok   folder checks skipped ($SAMPLES is absent)"
    echo "replay: $pass passed, $fail failed"
    [ $fail = 0 ]
    exit
fi
# parents resolved through the process table: a folder replay must see what
# per-file runs see (one table per host, emptied per file)
cat >"$tmp/parents.lua" <<'EOF'
local etw = require "etw"
etw.on(function(ev)
  local p = ev.process
  if p and p.parent then
    print(ev.source.file, ev.source.record, p.pid, p.parent.pid, p.parent.image)
  end
end)
EOF
"$BIN" --no-rules "$tmp/parents.lua" -r "$SAMPLES" 2>&1 >/dev/null | grep -v '^etwlua:' | sort >"$tmp/p_folder"
find "$SAMPLES" -iname '*.evtx' | sort | while IFS= read -r f; do
    "$BIN" --no-rules "$tmp/parents.lua" -r "$f" 2>&1 >/dev/null | grep -v '^etwlua:'
done | sort >"$tmp/p_files"
np=$(wc -l <"$tmp/p_files")
check "folder replay resolves the same $np parents as per-file runs" \
    test "$np" -gt 1000 -a -z "$(diff "$tmp/p_folder" "$tmp/p_files" | head -1)"
# the alerts of the rule library, folder against per-file
"$BIN" -r "$SAMPLES" 2>/dev/null | sort >"$tmp/a_folder"
find "$SAMPLES" -iname '*.evtx' | sort | while IFS= read -r f; do "$BIN" -r "$f" 2>/dev/null; done | sort >"$tmp/a_files"
na=$(wc -l <"$tmp/a_folder")
check "folder replay and per-file runs give the same $na alerts" \
    test "$na" -gt 100 -a -z "$(diff "$tmp/a_folder" "$tmp/a_files" | head -1)"
check "every sample alert names its file and record" \
    test "$(grep -c '"source":{"file":"[^"]*\.evtx","record":[0-9]*}}$' "$tmp/a_folder")" = "$na"
# -j 2 against -j 1: the same multiset of alerts, the same summed stats
for j in 1 2; do
    "$BIN" -j $j --stats --summary -r "$SAMPLES" 2>"$tmp/j$j.err" | sort >"$tmp/j$j.out"
done
check "-j 1 gives the folder replay's alerts" cmp -s "$tmp/j1.out" "$tmp/a_folder"
check "-j 2 and -j 1: same alerts ($(wc -l <"$tmp/j2.out"))" cmp -s "$tmp/j1.out" "$tmp/j2.out"
check "-j 2 and -j 1: same --stats" \
    test -n "$(grep 'stats: read=' "$tmp/j1.err")" -a "$(grep 'stats: read=' "$tmp/j1.err")" = "$(grep 'stats: read=' "$tmp/j2.err")"
check "-j 2 and -j 1: same Lua counters" \
    test "$(grep 'lua: handlers=' "$tmp/j1.err" | sed 's/ memory_peak.*//')" = "$(grep 'lua: handlers=' "$tmp/j2.err" | sed 's/ memory_peak.*//')"
check "-j 2 and -j 1: same summary" \
    test "$(grep 'summary\|^etwlua:  ' "$tmp/j1.err" | grep -v handler)" = "$(grep 'summary\|^etwlua:  ' "$tmp/j2.err" | grep -v handler)"
check "-j 2 summary: files and alerts" grep -q "^etwlua: summary: $na alert(s), [0-9]* event(s) from [0-9]* file(s), 0 handler error(s)" "$tmp/j2.err"
# Sigma rules in every worker, their alerts and counters added up
SIGMA=../shared/data/sigma/rules/windows/process_creation
if [ -d "$SIGMA" ] && "$BIN" sigma check "$SIGMA" >/dev/null 2>&1; then
    "$BIN" --no-rules --stats --sigma "$SIGMA" -r "$SAMPLES" 2>"$tmp/sg1.err" | sort >"$tmp/sg1.out"
    "$BIN" --no-rules -j 2 --stats --sigma "$SIGMA" -r "$SAMPLES" 2>"$tmp/sg2.err" | sort >"$tmp/sg2.out"
    check "-j 2 --sigma: the folder replay's $(wc -l <"$tmp/sg1.out") Sigma alerts" \
        test "$(wc -l <"$tmp/sg1.out")" -gt 100 -a -z "$(diff "$tmp/sg1.out" "$tmp/sg2.out")"
    check "-j 2 --sigma: the same sigma stats" \
        test -n "$(grep 'sigma stats:' "$tmp/sg1.err")" -a "$(grep 'sigma stats:' "$tmp/sg1.err")" = "$(grep 'sigma stats:' "$tmp/sg2.err")"
else
    echo "ok   -j --sigma checks skipped (no Sigma in this build, or $SIGMA absent)"
fi
# dumped events: whole lines, the same multiset
"$BIN" --no-rules --dump --json -r "$SAMPLES" 2>/dev/null | sort | md5sum >"$tmp/d_seq"
"$BIN" --no-rules --dump --json -j 2 -r "$SAMPLES" 2>/dev/null | sort | md5sum >"$tmp/d_j2"
check "-j 2 --dump --json: the same events as a folder replay" cmp -s "$tmp/d_seq" "$tmp/d_j2"
# handler errors from every worker are counted, and --fail-on-error sees them
"$BIN" --no-rules -j 2 --stats --fail-on-error -r "$SAMPLES" -e 'require("etw").on({id=1}, function() error("boom") end)' \
    >/dev/null 2>"$tmp/herr.err"
rc=$?
nid=$("$BIN" --no-rules --stats -r "$SAMPLES" -e 'require("etw").on({id=1}, function() end)' 2>&1 >/dev/null |
    sed -n 's/.*handler .*calls=\([0-9]*\).*/\1/p')
check "-j 2: every worker's handler errors counted ($nid) and exit 1" \
    test $rc = 1 -a -n "$(grep "lua: handlers=1 alerts=0 errors=$nid " "$tmp/herr.err")"
echo "replay: $pass passed, $fail failed"
[ $fail = 0 ]
