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
# One wineserver for the whole suite.  Debian's wrapper starts it with -p0,
# so it exits as soon as its last client does, and a client that connects
# just then fails with "wine client error:0: recvmsg: Connection reset by
# peer" (seen once in CI).  Kept up here instead (-p), with Wine's own
# background processes (services.exe, winedevice.exe) started at once on
# /dev/null: started by a test, they would hold its output pipe open.
WINESERVER=$(dirname "$WINE")/wineserver
[ -x "$WINESERVER" ] || WINESERVER=$(command -v wineserver || true)
if [ -n "$WINESERVER" ]; then
    "$WINESERVER" -p </dev/null >/dev/null 2>&1
    trap '"$WINESERVER" -k 2>/dev/null' EXIT
    timeout 120 "$WINE" cmd /c exit </dev/null >/dev/null 2>&1
fi

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
if [ "$dlls" = "advapi32.dll kernel32.dll msvcrt.dll tdh.dll ws2_32.dll " ]; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    echo "FAIL: etwlua.exe imports [$dlls], not only advapi32, kernel32, msvcrt, tdh and ws2_32"
fi

# syslog over UDP and TCP through winsock: a receiver started here (it
# writes its port once listening; every wait is bounded) gets one RFC 5424
# message per alert, framed by octet counts over TCP
for proto in udp tcp; do
    rm -f build/mingw/syslog.port build/mingw/syslog.got
    timeout 120 python3 - "$proto" build/mingw/syslog.port build/mingw/syslog.got <<'PY' &
import socket, sys, time
proto, portfile, out = sys.argv[1:4]
kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", 0))
if proto == "tcp":
    s.listen(1)
open(portfile + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
s.settimeout(90)
data = b""
if proto == "udp":
    while data.count(b"<12>1 ") < 2:
        data += s.recv(70000) + b"\n"
else:
    c, _ = s.accept()
    c.settimeout(90)
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
open(out, "wb").write(data)
PY
    rpid=$!
    for _ in $(seq 1 100); do [ -s build/mingw/syslog.port ] && break; sleep 0.1; done
    port=$(cat build/mingw/syslog.port 2>/dev/null)
    tests/sources/etw/etwlua-wine.sh --no-rules -r tests/data/schema.jsonl -o "syslog:$proto://127.0.0.1:${port:-1}" \
        -e 'local etw = require("etw"); etw.on({}, function(ev) etw.alert{rule = "t.syslog", event = ev} end)' \
        >build/mingw/syslog.out 2>&1
    code=$?
    wait $rpid
    got=$(cat build/mingw/syslog.got 2>/dev/null)
    if [ $code = 0 ] && [ "$(printf '%s' "$got" | grep -o '<12>1 2024-03-05T10:11:1[89]\.[0-9]*Z [^ ]* etwlua [0-9]* t.syslog - {' | wc -l)" -ge 2 ] &&
        { [ $proto = udp ] || printf '%s' "$got" | grep -q '^[0-9][0-9]* <12>1 '; }; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: syslog over $proto from the Windows build (exit $code): $(head -c 300 build/mingw/syslog.out) / $(printf '%s' "$got" | head -c 300)"
    fi
done
if tests/sources/etw/etwlua-wine.sh --no-rules -r tests/data/schema.jsonl -o syslog: >build/mingw/syslog.out 2>&1; then
    fail=$((fail + 1))
    echo "FAIL: syslog: (a local socket) was accepted on Windows"
elif grep -q "Windows has no local syslog socket" build/mingw/syslog.out; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    echo "FAIL: syslog: on Windows: $(cat build/mingw/syslog.out)"
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
