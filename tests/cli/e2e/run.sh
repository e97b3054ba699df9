#!/usr/bin/env bash
# tests/cli/e2e/run.sh BIN [--update]
#
# Runs the etwlua binary on the files in tests/data and compares stdout,
# stderr and the exit code with tests/cli/e2e/cases/NAME.{out,err,code}.  Each
# NAME.args holds the arguments (run from tests/data, so file names in
# messages are stable).  --update rewrites the expected files; review the
# diff before committing it.  Ends with "N passed, N failed".
#
# With ETWLUA_E2E_WINDOWS=1, BIN runs the Windows build (under Wine); the
# checks of things that build does not have (tracefs, POSIX signals and
# terminals, libevtx, an installable binary) are skipped, saying so.
set -u
exec </dev/null # stdin may be closed in CI; script(1) needs one
BIN=$(realpath "$1")
UPDATE=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/../../data
TMP=$(mktemp -d)
# Only this shell cleans up: a background job killed between bash's fork
# and its exec is a copy of this shell and would run the trap (seen under
# load: it removed TMP in the middle of the run).  The pid comes from
# /proc/self read by a builtin, so it is the process running the trap.
trap 'read -r me _ </proc/self/stat; [ "$me" = "$$" ] && rm -rf "$TMP"' EXIT
pass=0
fail=0

WINDOWS=${ETWLUA_E2E_WINDOWS:-}
# case name -> why it does not apply to the Windows build
posix_only() {
    case $1 in
    kill_unknown | live_unprivileged) echo "live sessions would reach Wine's stub ETW API" ;;
    sigma_lua) echo "Sigma rules need libyaml and PCRE2, which are not cross-built" ;;
    script_readable_alerts | script_color_alerts) echo "needs script(1) and a POSIX terminal" ;;
    *) return 1 ;;
    esac
}
skipped=""
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

for f in "$HERE"/cases/*.args; do
    name=$(basename "$f" .args)
    if [ -n "$WINDOWS" ] && why=$(posix_only "$name"); then
        skipped="$skipped $name"
        echo "e2e: $name skipped on Windows: $why"
        continue
    fi
    (cd "$DATA" && ETWLUA="$BIN" eval "\"$BIN\" $(cat "$f")" >"$TMP/out" 2>"$TMP/err")
    echo $? >"$TMP/code"
    if [ "$UPDATE" = "--update" ]; then
        for k in out err code; do cp "$TMP/$k" "$HERE/cases/$name.$k"; done
    fi
    okcase=1
    for k in out err code; do
        if ! cmp -s "$TMP/$k" "$HERE/cases/$name.$k"; then
            okcase=0
            echo "--- $name.$k differs:"
            diff "$HERE/cases/$name.$k" "$TMP/$k" | head -20
        fi
    done
    if [ $okcase = 1 ]; then ok; else bad "$name"; fi
done

# Output replayed and printed again is identical, byte for byte.
for input in events.jsonl go-style.jsonl; do
    "$BIN" --no-rules -r "$DATA/$input" --dump --json >"$TMP/a" 2>&1 &&
        "$BIN" --no-rules -r "$TMP/a" --dump --json >"$TMP/b" 2>&1 &&
        "$BIN" --no-rules -r - --dump --json <"$TMP/b" >"$TMP/c" 2>&1
    if [ -s "$TMP/a" ] && cmp -s "$TMP/a" "$TMP/b" && cmp -s "$TMP/b" "$TMP/c"; then ok; else bad "round trip of $input"; fi
done

# A 10 MB line is reported and skipped; the lines around it still pass.
python3 - "$TMP/huge.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('{"header":{"descriptor":{"id":1}}}\n')
    f.write('{"header":{},"info":{"x":"' + "A" * (10 << 20) + '"}}\n')
    f.write('{"header":{"descriptor":{"id":2}}}\n')
PY
"$BIN" -r "$TMP/huge.jsonl" --dump --json --stats >"$TMP/out" 2>"$TMP/err"
code=$?
if [ $code = 0 ] && [ "$(wc -l <"$TMP/out")" = 2 ] && grep -q "huge.jsonl:2: line longer than 1048576 bytes" "$TMP/err" &&
    grep -q "read=3 passed=2 filtered=0 malformed=1" "$TMP/err"; then ok; else bad "10 MB line (exit $code)"; cat "$TMP/err"; fi
# ...and accepted when the limit allows it
"$BIN" -r "$TMP/huge.jsonl" --max-line-bytes 16777216 --stats >"$TMP/out" 2>"$TMP/err"
if grep -q "read=3 passed=3" "$TMP/err"; then ok; else bad "10 MB line with --max-line-bytes"; fi

# SIGINT ends a replay blocked on a pipe that never closes, and it exits 0.
if [ -n "$WINDOWS" ]; then
    echo "e2e: SIGINT check skipped on Windows (console control events instead of signals)"
else
mkfifo "$TMP/fifo"
sh -c 'exec sleep 30 >"$1"' sh "$TMP/fifo" &
holder=$!
# bounded by timeout(1): a lost signal fails the check instead of hanging
# the suite.  (No watchdog job to kill: a bash child signalled before its
# exec is a copy of this shell and disturbs it.)
timeout -s KILL 20 "$BIN" -r - --stats <"$TMP/fifo" 2>"$TMP/err" &
tpid=$!
pid=
for _ in $(seq 400); do pid=$(pgrep -P $tpid) && break; sleep 0.05; done
# a background job of a non-interactive shell starts with SIGINT ignored:
# send it only once etwlua catches it (bit 2 of SigCgt), bounded
for _ in $(seq 400); do
    [ $((0x$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/${pid:-0}/status 2>/dev/null || echo 0) & 2)) != 0 ] && break
    sleep 0.05
done
kill -INT ${pid:-$tpid}
start=$(date +%s)
wait $tpid
code=$?
kill $holder 2>/dev/null
wait $holder 2>/dev/null
if [ $code = 0 ] && [ $(($(date +%s) - start)) -lt 5 ] && grep -q "read=0" "$TMP/err"; then ok; else bad "SIGINT on a blocked replay (exit $code)"; fi
fi

# SIGTERM ends a process whose handler is stuck in Lua, with a budget and a
# handler timeout too large to matter, within 2 s: the stop interrupts the
# handler through the watchdog, then the normal shutdown runs.  The handler
# prints a marker before it loops; every wait below is bounded.
if [ -n "$WINDOWS" ]; then
    echo "e2e: SIGTERM-with-a-stuck-handler check skipped on Windows (console control events instead of signals)"
else
"$BIN" --no-rules --budget 2000000000 --handler-timeout 3600000 -r "$DATA/events.jsonl" --stats -e 'local etw = require "etw"
etw.on({id=1}, function(ev) print("handler-running"); while true do end end)' >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 1200); do grep -q handler-running "$TMP/err" && break; sleep 0.05; done
start=$(date +%s%N)
kill -TERM $pid
for _ in $(seq 1 400); do kill -0 $pid 2>/dev/null || break; sleep 0.01; done
ms=$((($(date +%s%N) - start) / 1000000))
kill -KILL $pid 2>/dev/null
wait $pid
code=$?
if [ $code = 0 ] && [ $ms -lt 2000 ] && grep -q "interrupted: etwlua is stopping" "$TMP/err" &&
    grep -q "budget_stops=1" "$TMP/err"; then ok; else
    bad "SIGTERM with a stuck handler: exit $code after $ms ms"; tail -3 "$TMP/err"; fi
fi

# The sandbox's known escapes (../shared/data/hostile, when present): each
# ends within the budget, is counted as a budget stop or an error, and the
# next event is still handled.
HOSTILE="$HERE/../../../../shared/data/hostile"
if [ -d "$HOSTILE" ]; then
    for f in sb_pcall_budget sb_coroutine_budget sb_redos sb_gc_loop; do
        start=$(date +%s%N)
        timeout 60 "$BIN" --budget 100000 --no-rules -r "$DATA/events.jsonl" --stats "$HOSTILE/$f.lua" >"$TMP/out" 2>"$TMP/err"
        code=$?
        ms=$((($(date +%s%N) - start) / 1000000))
        n=$(sed -n 's/.*calls=\([0-9]*\) errors=\([0-9]*\).*/\1 \2/p' "$TMP/err")
        if [ $code = 0 ] && [ $ms -lt 10000 ] && [ -n "$n" ] && [ "${n% *}" = "${n#* }" ] && [ "${n% *}" -gt 1 ]; then ok; else
            bad "hostile $f: exit $code after $ms ms, calls/errors ${n:-?}"; tail -3 "$TMP/err"; fi
    done
    # registration from a handler is refused (timers used to grow per event)
    "$BIN" --no-rules -r "$DATA/events.jsonl" --stats -e 'local etw = require "etw"
etw.on(function(ev) etw.every(3600, function() end) end)' >"$TMP/out" 2>"$TMP/err"
    if grep -q "etw.every: register while the script loads" "$TMP/err"; then ok; else bad "etw.every from a handler"; fi
    # alert_uaf_index.lua: no use-after-free (the sanitize build aborts on one)
    "$BIN" --no-rules -r "$DATA/events.jsonl" "$HOSTILE/alert_uaf_index.lua" >"$TMP/out" 2>"$TMP/err"
    code=$?
    if [ $code = 6 ] && grep -q "'rule' is required" "$TMP/err"; then ok; else bad "alert_uaf_index.lua: exit $code"; tail -3 "$TMP/err"; fi
    # sb_string_metatable.lua: an error naming the script, and the rule
    # library still raises every alert it raises without it
    SAMPLES="$HERE/../../../../shared/data/evtx-attack-samples"
    if [ -d "$SAMPLES" ] && [ -z "$WINDOWS" ]; then
        base=$("$BIN" -r "$SAMPLES" --alerts-only 2>/dev/null | grep -c '"rule"')
        for script in "$HOSTILE/sb_string_metatable.lua" "-e require('etw').alert=function()end"; do
            if [ "${script#-e }" != "$script" ]; then set -- -e "${script#-e }"; else set -- "$script"; fi
            n=$("$BIN" -r "$SAMPLES" --alerts-only "$@" 2>"$TMP/err" | grep -c '"rule"')
            if [ "$base" -gt 0 ] && [ "$n" = "$base" ] && grep -q "is read-only" "$TMP/err"; then ok; else
                bad "tampering ($*): $n alerts, $base without it"; tail -3 "$TMP/err"; fi
        done
    fi
else
    echo "e2e: hostile sandbox checks skipped (../shared/data/hostile is absent)"
fi

# Hostile strings (C0/C1 controls, ANSI/OSC, bidi and invisible controls)
# never reach any output raw: the events dumped (JSON and text), the alerts
# and print() of a script echoing them, piped (JSON alerts) and on a
# terminal (readable alerts, under script(1)).  A byte scan, so it does not
# depend on how each writer spells its escapes.
HOSTILE="$HERE/../../../../shared/data/hostile"
scan_raw() { # files...: fails naming the first raw control sequence
    python3 - "$@" <<'PY'
import re, sys
# C1 (U+0080-009F), U+061C, U+200B-200F, U+2028-202E, U+2060-2064, U+2066-2069,
# U+FEFF, and the C0 controls other than tab (print's separator) and line ends
bad = re.compile(rb"\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8b-\x8f\xa8-\xae]|\xe2\x81[\xa0-\xa4\xa6-\xa9]|\xef\xbb\xbf|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# the engine's own colour codes on readable alerts (output/alert.c) are the
# only escape sequences allowed: no input can produce or end one
ours = re.compile(rb"\x1b\[(?:0|1|2|31|33|36|1;31)m")
for f in sys.argv[1:]:
    d = ours.sub(b"", open(f, "rb").read())
    m = bad.search(d)
    if m:
        sys.exit("%s: raw %r at byte %d" % (f, m.group(), m.start()))
PY
}
if [ -n "$WINDOWS" ]; then
    echo "e2e: hostile-output check skipped on Windows (needs script(1))"
elif [ -f "$HOSTILE/hostile_fields.jsonl" ]; then
    H=$HOSTILE/hostile_fields.jsonl
    "$BIN" --no-rules -r "$H" "$HOSTILE/alert_echo_fields.lua" >"$TMP/h1.out" 2>"$TMP/h1.err"
    "$BIN" --no-rules -r "$H" --dump --json >"$TMP/h2.out" 2>"$TMP/h2.err"
    "$BIN" --no-rules -r "$H" --dump >"$TMP/h3.out" 2>"$TMP/h3.err"
    script -qc "\"$BIN\" --no-rules -r \"$H\" \"$HOSTILE/alert_echo_fields.lua\"" /dev/null >"$TMP/h4.tty"
    script -qc "\"$BIN\" --no-rules -r \"$H\" --dump" /dev/null >"$TMP/h5.tty"
    for f in h1.out h1.err h2.out h3.out h4.tty h5.tty; do
        if [ -s "$TMP/$f" ] && scan_raw "$TMP/$f"; then ok; else bad "hostile strings raw in $f"; fi
    done
    # the escapes are the same values: JSON output read back gives the input's strings
    python3 - "$H" "$TMP/h2.out" <<'PY' && ok || bad "hostile JSON output does not read back to the input"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert [x["info"] for x in a] == [y["info"] for y in b], "info differs"
PY
else
    echo "e2e: hostile-output check skipped (../shared/data/hostile is absent)"
fi

# Binary inputs that are not what they seem are named, not parsed line by
# line as JSON.
printf 'PK\003\004rest' >"$TMP/t.etl.zip"
printf '\037\213\010\000rest' >"$TMP/t.gz"
printf '\000\000\001\000\002\000\000\000rest' >"$TMP/t.etl"
# (The Linux build reads ETL, zipped or not, so these fakes get its ETL
# reader's errors; the Windows build, without libzip, refuses zip.)
if [ -n "$WINDOWS" ]; then zipmsg="zip input (.etl.zip) is not supported yet"; else zipmsg="not a readable zip archive"; fi
for c in "t.etl.zip:$zipmsg" "t.gz:gzip input is not supported yet; pipe it" \
    "t.etl:not an ETL file (no plausible buffer header at offset 0)"; do
    f=${c%%:*}
    if [ -n "$WINDOWS" ] && [ "$f" = t.etl ]; then
        echo "e2e: binary input $f skipped on Windows (read through OpenTraceW, a stub under Wine)"
        continue
    fi
    "$BIN" -r "$TMP/$f" >"$TMP/out" 2>"$TMP/err"
    code=$?
    if [ $code != 0 ] && grep -qF "$TMP/$f: ${c#*:}" "$TMP/err" && [ ! -s "$TMP/out" ]; then ok; else
        bad "binary input $f (exit $code)"
        cat "$TMP/err"
    fi
done

# Streaming: 300k events go through; memory stays bounded (max RSS < 64 MB).
python3 - "$TMP/many.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(300000):
        f.write('{"header":{"descriptor":{"id":%d},"process_id":%d,"ts":"2024-01-01T00:00:00.%07dZ"},'
                '"info":{"CommandLine":"cmd.exe /c echo %d","Image":"C:\\\\Windows\\\\cmd.exe"}}\n' % (i % 65536, i, i % 10000000, i))
PY
if command -v /usr/bin/time >/dev/null 2>&1; then
    /usr/bin/time -f "%M" -o "$TMP/rss" "$BIN" -r "$TMP/many.jsonl" --stats 2>"$TMP/err"
    rss=$(tail -1 "$TMP/rss")
else
    "$BIN" -r "$TMP/many.jsonl" --stats 2>"$TMP/err"
    rss=0
fi
# ASan's quarantine holds freed memory on purpose, so the bound is for
# normal builds; the sanitizer build still checks every event goes through.
case "$BIN" in */sanitize/*) rss=0 ;; esac
if grep -q "read=300000 passed=300000" "$TMP/err" && [ "$rss" -lt 65536 ]; then ok; else bad "streaming 300k events (rss ${rss} KB)"; fi

# Installed layout: PREFIX/bin/etwlua finds PREFIX/share/etwlua/lua without
# LUA_PATH or the source tree.
if [ -n "$WINDOWS" ]; then
    echo "e2e: installed-layout check skipped on Windows (BIN is a Wine wrapper, not the binary)"
else
mkdir -p "$TMP/prefix/bin" "$TMP/prefix/share/etwlua" "$TMP/elsewhere"
cp "$BIN" "$TMP/prefix/bin/etwlua"
cp -R "$HERE/../../../lua" "$TMP/prefix/share/etwlua/lua"
(cd "$TMP/elsewhere" && env -u ETWLUA_LUA_DIR "$TMP/prefix/bin/etwlua" -r /dev/null \
    -e 'print(require("etwlua.path").name("C:\\x\\Y.EXE"), #require("etwlua.rules").all > 50)' 2>"$TMP/err")
if grep -qx "y.exe.true" "$TMP/err"; then ok; else bad "installed layout finds lua/ and rules/"; cat "$TMP/err"; fi
fi

# Damaged EVTX input (from the shared samples, when present): a truncated
# file and one with a corrupted chunk are reported by file and chunk or
# record, never crash, and the records that can be read still arrive.  The
# native reader needs no libevtx, so this runs on the Windows build too.
SAMPLE="$HERE/../../../../shared/data/evtx-attack-samples/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx"
if [ -f "$SAMPLE" ]; then
    full=$("$BIN" --no-rules -r "$SAMPLE" --stats 2>&1 | sed -n 's/.*read=\([0-9]*\).*/\1/p')
    head -c $(($(wc -c <"$SAMPLE") / 2)) "$SAMPLE" >"$TMP/trunc.evtx"
    python3 - "$SAMPLE" "$TMP/corrupt.evtx" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for i in range(0x1000 + 600, 0x1000 + 4000):  # inside the first chunk's records
    d[i] = (d[i] * 7 + 13) & 0xFF
open(sys.argv[2], "wb").write(d)
PY
    for f in trunc corrupt; do
        "$BIN" --no-rules -r "$TMP/$f.evtx" --dump --json --stats >"$TMP/out" 2>"$TMP/err"
        code=$?
        n=$(wc -l <"$TMP/out")
        if [ $code = 0 ] && [ "$n" -gt 0 ] && [ "$n" -lt "${full:-0}" ] &&
            grep -q "$f.evtx: \(record\|chunk\|file is damaged\)" "$TMP/err"; then ok; else
            bad "damaged EVTX ($f): exit $code, $n of ${full:-?} events"; tail -3 "$TMP/err"; fi
    done
else
    echo "e2e: damaged-EVTX checks skipped (../shared/data/evtx-attack-samples is absent)"
fi

echo "e2e: $pass passed, $fail failed"
[ $fail = 0 ]
