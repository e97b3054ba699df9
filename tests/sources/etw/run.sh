#!/bin/sh
# tests/sources/etw/run.sh - the Windows build under Wine: its cmocka tests (the ETW
# backend against the fake API, and the portable unit tests) and the
# end-to-end cases, whose output must match the Linux build's byte for byte.
# Expects scripts/build.sh to have cross-built build/mingw.  Ends with
# "windows: N passed, N failed".
#
# Wine's own ETW functions are stubs and its TdhGetEventInformation aborts:
# nothing here reaches them (the tests install the fake; the end-to-end
# cases never open a live session).
set -u
cd "$(dirname "$0")/../../.."
BIN=build/mingw/bin/release
if [ -x /usr/lib/wine/wine64 ]; then WINE=/usr/lib/wine/wine64; else WINE=$(command -v wine64 || command -v wine || true); fi
if [ -z "$WINE" ] || [ ! -f "$BIN/etwlua.exe" ]; then
    echo "windows: 0 passed, 1 failed (no Wine or no cross build: run scripts/build.sh test as root)"
    exit 1
fi
export WINE
export WINEPREFIX="$(pwd)/build/mingw/wineprefix"
export WINEDEBUG=-all
# no Mono/Gecko install prompts; a crash exits non-zero instead of opening winedbg
export WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"
[ -d "$WINEPREFIX" ] || "$WINE" cmd /c exit >/dev/null 2>&1 # the prefix is made once (several seconds)

pass=0
fail=0
for t in "$BIN"/test_*.exe; do
    out=$(timeout 300 "$WINE" "$t" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    pass=$((pass + ${p:-0}))
    if [ $rc = 0 ]; then
        echo "ok   $(basename "$t") (${p:-0} tests)"
    else
        fail=$((fail + ${f:-1}))
        echo "FAIL $(basename "$t") (exit $rc)"
        printf '%s\n' "$out" | grep -v '^\[ \(RUN\|      OK\) ' | tail -30
    fi
done

out=$(ETWLUA_E2E_WINDOWS=1 bash tests/cli/e2e/run.sh tests/sources/etw/etwlua-wine.sh 2>&1)
printf '%s\n' "$out" | grep -v '^e2e: [0-9]* passed'
p=$(printf '%s\n' "$out" | sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
f=$(printf '%s\n' "$out" | sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
pass=$((pass + ${p:-0}))
fail=$((fail + ${f:-1}))

# One static exe: it may import only what every Windows has.
dlls=$(x86_64-w64-mingw32-objdump -p "$BIN/etwlua.exe" 2>/dev/null | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | sort | tr '\n' ' ')
if [ "$dlls" = "advapi32.dll kernel32.dll msvcrt.dll tdh.dll " ]; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    echo "FAIL: etwlua.exe imports [$dlls], not only advapi32, kernel32, msvcrt and tdh"
fi

# The same replay, decoded by both builds, byte for byte.
for args in "--no-rules -r tests/data/events.jsonl --dump --json" "-r tests/data/events.jsonl" \
    "--no-rules -r tests/data/go-style.jsonl --dump"; do
    # shellcheck disable=SC2086
    build/bin/release/etwlua $args >build/mingw/linux.out 2>&1
    # shellcheck disable=SC2086
    tests/sources/etw/etwlua-wine.sh $args >build/mingw/windows.out 2>&1
    if cmp -s build/mingw/linux.out build/mingw/windows.out; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL: 'etwlua $args' differs between the Linux and Windows builds"
        diff build/mingw/linux.out build/mingw/windows.out | head -10
    fi
done

echo "windows: $pass passed, $fail failed"
[ $fail = 0 ]
