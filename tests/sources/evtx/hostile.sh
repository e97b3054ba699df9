#!/usr/bin/env bash
# tests/sources/evtx/hostile.sh BIN - EVTX replay against hostile files: libevtx
# runs in a child process per file, so a file that makes it allocate without
# bound, leak, crash or hang costs that file only, and a stop ends a replay
# stuck in it.  The reproducers come from ../shared/data/hostile (skipped,
# saying so, when absent); a crash and a hang inside libevtx are made with an
# LD_PRELOAD shim over two libevtx calls.  Every run has a time bound.
# Ends with "evtx-hostile: N passed, N failed".
set -u
exec </dev/null
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$HERE/../../../../shared/data
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# AddressSanitizer builds: no address-space limit on the child (its shadow
# is terabytes), and memory figures are not the release build's
asan=0
grep -q __asan_init "$BIN" && asan=1

# measure ERRFILE CMD...: runs CMD (at most 60 s) and prints "exit seconds
# max-RSS-KB", the RSS being the largest of etwlua and its reader children
measure() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
try:
    rc = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "w"), timeout=60).returncode
except subprocess.TimeoutExpired:
    rc = "timeout"
print(rc, "%.2f" % (time.monotonic() - t), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}

SAMPLE=
if [ -d "$SHARED/evtx-attack-samples" ]; then
    SAMPLE=$(find "$SHARED/evtx-attack-samples" -name '*.evtx' | sort | head -1)
    # every record of the attack samples still reads, through the children
    "$BIN" --no-rules -r "$SHARED/evtx-attack-samples" --stats >/dev/null 2>"$TMP/err"
    if grep -q "stats: read=8255 passed=8255 filtered=0 malformed=0" "$TMP/err"; then ok; else
        bad "attack samples: expected 8255 records, none malformed"; tail -3 "$TMP/err"
    fi
else
    echo "evtx-hostile: attack-sample checks skipped (../shared/data/evtx-attack-samples is absent)"
fi

# The libevtx reader is the cross-check since etwlua reads EVTX itself; the
# checks of its child process name it.  The native reader gets the same
# hostile files below.
LIBEVTX="--evtx-reader libevtx"
H=$SHARED/hostile
if [ -d "$H" ]; then
    # the native reader: both hostile files end fast and small
    for f in evtx_recovered_oom.evtx evtx_leak_1mb_per_file.evtx; do
        read -r code secs rss < <(measure "$TMP/err" "$BIN" --no-rules -r "$H/$f" --stats)
        if [ "$code" = 0 ] && grep -q "read=" "$TMP/err" &&
            { [ $asan = 1 ] || { python3 -c "import sys; sys.exit(not $secs < 5)" && [ "$rss" -lt 102400 ]; }; }; then ok; else
            bad "native reader, $f: exit $code after $secs s, max RSS $rss KB"; tail -3 "$TMP/err"
        fi
        echo "evtx-hostile: native reader, $f: $secs s, max RSS $rss KB"
    done
    # a damaged log that makes libevtx allocate without bound (3 GB in 25 s
    # before): the file is reported, and the run ends in under 5 s with
    # under 100 MB
    read -r code secs rss < <(measure "$TMP/err" "$BIN" $LIBEVTX --no-rules -r "$H/evtx_recovered_oom.evtx")
    if [ "$code" = 0 ] && grep -q "evtx_recovered_oom.evtx: file is damaged" "$TMP/err" &&
        { [ $asan = 1 ] || { python3 -c "import sys; sys.exit(not $secs < 5)" && [ "$rss" -lt 102400 ]; }; }; then ok; else
        bad "evtx_recovered_oom.evtx: exit $code after $secs s, max RSS $rss KB"; tail -3 "$TMP/err"
    fi
    echo "evtx-hostile: evtx_recovered_oom.evtx: $secs s, max RSS $rss KB"
    # 1 MB leaked by libevtx per damaged file: a folder of 400 stays under
    # 100 MB, and each file is read (127 malformed records each)
    mkdir "$TMP/leak"
    for i in $(seq 400); do ln -s "$H/evtx_leak_1mb_per_file.evtx" "$TMP/leak/c$i.evtx"; done
    read -r code secs rss < <(measure "$TMP/err" "$BIN" $LIBEVTX --no-rules -r "$TMP/leak" --stats)
    if [ "$code" = 0 ] && [ "$rss" -lt 102400 ] && grep -q "malformed=50800 " "$TMP/err"; then ok; else
        bad "400 leaking files: exit $code after $secs s, max RSS $rss KB"; tail -3 "$TMP/err"
    fi
    echo "evtx-hostile: 400 copies of evtx_leak_1mb_per_file.evtx: $secs s, max RSS $rss KB"
else
    echo "evtx-hostile: hostile-file checks skipped (../shared/data/hostile is absent)"
fi

# A crash and a hang inside libevtx, made by a shim: for a file whose name
# says "crash" or "hang", libevtx_file_get_number_of_records (called by the
# reader child only, after the open) crashes or never returns; the hang
# first writes "CHILD-PID PARENT-PID" to $EVTX_SHIM_READY.
if [ -z "$SAMPLE" ]; then
    echo "evtx-hostile: crash and hang checks skipped (no sample .evtx in ../shared)"
elif ! command -v cc >/dev/null; then
    echo "evtx-hostile: crash and hang checks skipped (no C compiler for the shim)"
else
    cat >"$TMP/shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int mode;
int libevtx_file_open(void *f, const char *path, int flags, void **e)
{
    int (*real)(void *, const char *, int, void **);
    *(void **)&real = dlsym(RTLD_NEXT, "libevtx_file_open");
    mode = strstr(path, "crash") ? 1 : strstr(path, "hang") ? 2 : 0;
    return real(f, path, flags, e);
}
int libevtx_file_get_number_of_records(void *f, int *n, void **e)
{
    int (*real)(void *, int *, void **);
    *(void **)&real = dlsym(RTLD_NEXT, "libevtx_file_get_number_of_records");
    if (mode == 1) *(volatile int *)(size_t)16 = 0;
    if (mode == 2) {
        const char *m = getenv("EVTX_SHIM_READY");
        if (m) {
            char tmp[4096];
            FILE *o;
            snprintf(tmp, sizeof tmp, "%s.tmp", m);
            if ((o = fopen(tmp, "w"))) {
                fprintf(o, "%d %d\n", (int)getpid(), (int)getppid());
                fclose(o);
                rename(tmp, m);
            }
        }
        for (;;) pause();
    }
    return real(f, n, e);
}
C
    cc -shared -fPIC -o "$TMP/shim.so" "$TMP/shim.c" -ldl || bad "cannot build the shim"
    # an ASan build wants its runtime first; the shim only goes after it
    export ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0
    n=$("$BIN" $LIBEVTX --no-rules -r "$SAMPLE" --stats 2>&1 >/dev/null | sed -n 's/.*passed=\([0-9]*\).*/\1/p')

    # a crash costs its file only: reported by name, the next file is read
    mkdir "$TMP/c"
    cp "$SAMPLE" "$TMP/c/a_crash.evtx"
    cp "$SAMPLE" "$TMP/c/b_good.evtx"
    LD_PRELOAD=$TMP/shim.so timeout -k 5 60 "$BIN" $LIBEVTX --no-rules -r "$TMP/c" --stats >/dev/null 2>"$TMP/err"
    code=$?
    if [ $code = 0 ] && grep -q "a_crash.evtx: the EVTX reader (libevtx) crashed (signal" "$TMP/err" &&
        grep -q "passed=$n " "$TMP/err"; then ok; else
        bad "crash in libevtx: exit $code, expected the file named and $n events from the other"; tail -3 "$TMP/err"
    fi

    # a hang costs its file only: after 10 s without progress the child is
    # killed, the file is reported, and the next one is read
    mkdir "$TMP/h"
    cp "$SAMPLE" "$TMP/h/a_hang.evtx"
    cp "$SAMPLE" "$TMP/h/b_good.evtx"
    LD_PRELOAD=$TMP/shim.so timeout -k 5 60 "$BIN" $LIBEVTX --no-rules -r "$TMP/h" --stats >/dev/null 2>"$TMP/err"
    code=$?
    if [ $code = 0 ] && grep -q "a_hang.evtx: the EVTX reader (libevtx) made no progress for 10 s" "$TMP/err" &&
        grep -q "passed=$n " "$TMP/err"; then ok; else
        bad "hang in libevtx: exit $code, expected the file named and $n events from the other"; tail -3 "$TMP/err"
    fi

    # SIGTERM ends a replay stuck in libevtx within 2 s, and its child
    # with it; the signal is sent once the child is stuck (it says so)
    rm -f "$TMP/ready"
    EVTX_SHIM_READY=$TMP/ready LD_PRELOAD=$TMP/shim.so timeout -k 5 60 "$BIN" $LIBEVTX --no-rules -r "$TMP/h/a_hang.evtx" \
        >/dev/null 2>"$TMP/err" &
    job=$!
    for _ in $(seq 300); do [ -s "$TMP/ready" ] && break; sleep 0.1; done
    if [ -s "$TMP/ready" ]; then
        read -r child parent <"$TMP/ready"
        t0=$(date +%s%N)
        kill -TERM "$parent"
        wait $job
        code=$?
        ms=$((($(date +%s%N) - t0) / 1000000))
        if [ $code != 124 ] && [ $code != 137 ] && [ $ms -lt 2000 ] && ! kill -0 "$child" 2>/dev/null; then ok; else
            bad "SIGTERM on a replay stuck in libevtx: exit $code after $ms ms (child $child still there?)"
            tail -3 "$TMP/err"
        fi
    else
        bad "the stuck reader child never said it was ready"
        kill "$job" 2>/dev/null
        wait $job
    fi
fi

echo "evtx-hostile: $pass passed, $fail failed"
[ $fail = 0 ]
