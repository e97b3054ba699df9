#!/usr/bin/env bash
# tests/bench/reload.sh BIN [RATE] [RELOADS] - hot reload under live load (root).
# SIGMA=PATH adds --sigma PATH (reloaded too: watched, and on SIGHUP).
#
# A live tracefs session runs the whole rule library (a copy of lua/ under
# --lua-dir, watched with --watch) and a counting script, while a paced
# load generator makes RATE getppid() calls a second (traced as
# syscalls:sys_enter_getppid).  The rules are reloaded RELOADS times,
# alternately by touching a rule file and by SIGHUP.  Checks, and prints:
# - every reload is swapped in (--stats reloads=RELOADS, refused=0);
# - none lost: stats read = passed + filtered, lost = 0, and the events the
#   counting script saw, carried across the swaps in etw.reload_state,
#   equal the events passed to the handlers;
# - process-table lookups work across the swaps: the generator's events
#   find its process (ev.process) before and after every swap;
# - each swap's time (max and average, in --stats; wall clock on a loaded
#   machine, so the max is an upper bound) is at most 100 ms.
#   bench reload rate=<target> events_per_s=<x> reloads=<n> swap_ms_max=<y> swap_ms_avg=<z> load_ms_max=<w> ...
set -u
BIN=$(realpath "$1")
RATE=${2:-100000}
RELOADS=${3:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TMP=$(mktemp -d)
NAME=etwl-rl-$$
[ -n "${KEEP:-}" ] && echo "bench reload: keeping $TMP"
LIMIT=${ETWLUA_LIVE_LIMIT:-60}
trap 'read -r me _ </proc/self/stat; [ "$me" = "$$" ] && { touch "$TMP/stop"; [ -n "${KEEP:-}" ] || rm -rf "$TMP"; "$BIN" --kill $NAME >/dev/null 2>&1; }' EXIT
[ "$(id -u)" = 0 ] || { echo "bench reload: skipped (needs root)"; exit 0; }
fail() { echo "bench reload: FAIL: $*"; exit 1; }

cp -r "$ROOT/lua" "$TMP/lua"
cat >"$TMP/count.lua" <<'EOF'
-- counts every event delivered to Lua, across reloads, and looks up the
-- process of every 100th getppid event
local etw = require "etw"
local s = etw.reload_state
local n, found, missed, gen = 0, 0, 0, nil
etw.on_start(function()
  n, found, missed, gen = s.n or 0, s.found or 0, s.missed or 0, s.gen
  s.starts = (s.starts or 0) + 1
  print("RELOAD-START " .. s.starts)
end)
etw.on(function(ev) n = n + 1 end)
etw.on({provider = "syscalls"}, function(ev)
  if n % 100 ~= 0 then return end
  local p = ev.process
  if p and p.image and p.image:find("python") then
    found = found + 1
    gen = ev.pid
  elseif gen == ev.pid then
    missed = missed + 1 -- the generator was known, and is no more
  end
end)
etw.on_stop(function()
  s.n, s.found, s.missed, s.gen = n, found, missed, gen
  print(string.format("COUNT n=%d found=%d missed=%d", n, found, missed))
end)
EOF

"$BIN" -n $NAME --lua-dir "$TMP/lua" --buffer-kb 8192 -p process -p syscalls:sys_enter_getppid --stats --watch \
    ${SIGMA:+--sigma "$SIGMA"} "$TMP/count.lua" >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq $((LIMIT * 20))); do grep -q started "$TMP/err" 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
grep -q started "$TMP/err" || fail "the session did not start: $(cat "$TMP/err")"

# the load: paced bursts, until $TMP/stop exists (at most 10 minutes)
python3 - "$RATE" "$TMP/stop" "$TMP/gen" <<'PY' &
import os, sys, time
rate, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
batch = max(1, rate // 1000)
start = time.monotonic()
done = 0
while not os.path.exists(stop) and time.monotonic() - start < 600:
    due = int((time.monotonic() - start) * rate)
    while done < due:
        for _ in range(batch):
            os.getppid()
        done += batch
    time.sleep(0.0005)
open(out, "w").write("%d %.3f\n" % (done, time.monotonic() - start))
PY
gen=$!

starts() { grep -c '^RELOAD-START' "$TMP/err"; }
# every reload ends with the new state's on_start: its RELOAD-START line
until_starts() { # count
    for _ in $(seq $((LIMIT * 20))); do
        [ "$(starts)" -ge "$1" ] && return 0
        kill -0 $pid 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
until_starts 1 || fail "the first on_start never ran"
sleep 1 # (the load gets going: the first swap is then under it too)
rule=$(ls "$TMP"/lua/rules/linux/*.lua | head -1)
for i in $(seq "$RELOADS"); do
    if [ $((i % 2)) = 1 ]; then touch "$rule"; else kill -HUP $pid; fi
    until_starts $((i + 1)) || fail "reload $i was not swapped in: $(tail -5 "$TMP/err")"
done
touch "$TMP/stop"
# etwlua's CPU time so far (user + system, from /proc: clock ticks)
read -r -a stat <"/proc/$pid/stat"
cpu=$(awk -v u="${stat[13]}" -v s="${stat[14]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (u + s) / hz }')
for _ in $(seq $((LIMIT * 20))); do kill -0 $gen 2>/dev/null || break; sleep 0.05; done
wait $gen
kill -TERM $pid
for _ in $(seq $((LIMIT * 20))); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; fail "etwlua did not stop"; }
wait $pid || fail "etwlua exit $?: $(tail -5 "$TMP/err")"

python3 - "$TMP/err" "$TMP/gen" "$RATE" "$RELOADS" "$cpu" <<'PY'
import re, sys
err = open(sys.argv[1]).read()
gen_n, gen_s = open(sys.argv[2]).read().split()
rate, reloads, cpu = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
st = dict(re.findall(r"(\w+)=([0-9.]+)", re.findall(r"etwlua: stats: .*", err)[-1]))
rl = dict(re.findall(r"(\w+)=([0-9.]+)", re.findall(r"etwlua: reload: .*", err)[-1]))
cnt = dict(re.findall(r"(\w+)=([0-9]+)", re.findall(r"COUNT .*", err)[-1]))
read, passed, filtered, lost = (int(st[k]) for k in ("read", "passed", "filtered", "lost"))
gps = int(gen_n) / float(gen_s)
print("bench reload rate=%d generated_per_s=%.0f events=%d reloads=%s refused=%s swap_ms_max=%s swap_ms_avg=%s "
      "load_ms_max=%s lost=%d read=%d passed=%d filtered=%d lua_counted=%s lookups_found=%s lookups_missed=%s "
      "seconds=%s etwlua_cpu_s=%.2f" %
      (rate, gps, read, rl["reloads"], rl["refused"], rl["swap_ms_max"], rl["swap_ms_avg"], rl["load_ms_max"],
       lost, read, passed, filtered, cnt["n"], cnt["found"], cnt["missed"], gen_s, cpu))
bad = []
if int(rl["reloads"]) != reloads or int(rl["refused"]) != 0: bad.append("reloads %s refused %s" % (rl["reloads"], rl["refused"]))
if read != passed + filtered: bad.append("read %d != passed %d + filtered %d" % (read, passed, filtered))
if lost: bad.append("lost %d" % lost)
if int(cnt["n"]) != passed: bad.append("Lua counted %s of %d passed" % (cnt["n"], passed))
if int(rl["delivered"]) != passed: bad.append("delivered %s != passed %d" % (rl["delivered"], passed))
if int(cnt["missed"]) or int(cnt["found"]) < 10: bad.append("process lookups: found %s missed %s" % (cnt["found"], cnt["missed"]))
if float(rl["swap_ms_max"]) > 100: bad.append("a swap took %s ms" % rl["swap_ms_max"])
if gps < 0.9 * rate: bad.append("the generator made only %.0f/s" % gps)
if bad:
    print("bench reload: FAIL: " + "; ".join(bad))
    sys.exit(1)
PY
