#!/bin/sh
# tests/run.sh - every test.  On the release build and under
# AddressSanitizer+UBSan: the cmocka unit tests, the end-to-end tests and the
# live tracefs tests (root).  Then the rules over their examples, the Lua
# helpers, the report over the attack samples, and the Windows build under
# Wine.  Expects scripts/build.sh
# to have built the release and sanitize configurations.
# Ends with one "N passed, N failed" line over all suites.
set -u
cd "$(dirname "$0")/.."
# CI may run us with stdin closed; tests that need a terminal (script) need one
exec </dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lib/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suites_pass=0
suites_fail=0
tests_pass=0
tests_fail=0

# Runs a suite that ends with "NAME: N passed, N failed" and adds its counts.
suite() { # name command...
    local name=$1 out rc p f
    shift
    out=$("$@" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^[a-z0-9-]*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^[a-z0-9-]*: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
    tests_pass=$((tests_pass + ${p:-0}))
    tests_fail=$((tests_fail + ${f:-1}))
    if [ $rc = 0 ] && [ "${f:-1}" = 0 ]; then
        echo "ok   $name (${p:-0} checks)"
        # a passing suite may still have skipped checks (no ../shared, no
        # root): say so, or a quiet skip reads as coverage
        printf '%s\n' "$out" | grep 'skipped' | sed 's/^/     /'
    else
        echo "FAIL $name"
        printf '%s\n' "$out" | grep -v '^ok ' | tail -30
    fi
}
for cfg in release sanitize; do
    for t in build/bin/$cfg/test_*; do
        [ -x "$t" ] || continue
        out=$("$t" 2>&1)
        rc=$?
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        tests_pass=$((tests_pass + ${p:-0}))
        tests_fail=$((tests_fail + ${f:-0}))
        if [ $rc = 0 ]; then
            suites_pass=$((suites_pass + 1))
            echo "ok   $cfg/$(basename "$t") (${p:-0} tests)"
        else
            suites_fail=$((suites_fail + 1))
            [ -z "$f" ] && tests_fail=$((tests_fail + 1)) # crashed before its summary
            echo "FAIL $cfg/$(basename "$t") (exit $rc)"
            printf '%s\n' "$out" | grep -v '^\[ \(RUN\|      OK\) ' | tail -40
        fi
    done
    suite "$cfg/e2e" bash tests/cli/e2e/run.sh "build/bin/$cfg/etwlua"
    # folder replays: -j, ev.source, per-file process tables, summary, progress
    suite "$cfg/replay" bash tests/cli/replay.sh "build/bin/$cfg/etwlua"
    # hot reload through a replay on a pipe: SIGHUP, --watch, refusals, etw.reload_state
    suite "$cfg/reload" python3 tests/cli/reload.py "build/bin/$cfg/etwlua"
    # the ETL reader over the real traces in ../shared (skipped without it)
    suite "$cfg/etl" bash tests/sources/etl/run.sh "build/bin/$cfg/etwlua"
    # EVTX replay against hostile files: libevtx's child process per file
    suite "$cfg/evtx-hostile" bash tests/sources/evtx/hostile.sh "build/bin/$cfg/etwlua"
    # the native EVTX reader against libevtx, and damaged files (skipped without ../shared)
    suite "$cfg/evtx" bash tests/sources/evtx/run.sh "build/bin/$cfg/etwlua"
    # live tracefs sessions: root only; the script says why when it skips
    suite "$cfg/live" bash tests/sources/tracefs/live.sh "build/bin/$cfg/etwlua"
    # the file and ptrace providers and the Linux rules over them, live (root; /etc overlaid)
    suite "$cfg/live-files" bash tests/sources/tracefs/files.sh "build/bin/$cfg/etwlua"
    # the -o outputs against rsyslogd, an HTTP server and Kafka's mock cluster
    suite "$cfg/output" bash tests/output/run.sh "build/bin/$cfg/etwlua"
    # --schema ecs|ocsf against the published field references, --hex-keywords
    suite "$cfg/schema" bash tests/output/schema.sh "build/bin/$cfg/etwlua"
    # Sigma rules through the command (SigmaHQ's corpus from ../shared; live as root)
    suite "$cfg/sigma" bash tests/sigma/run.sh "build/bin/$cfg/etwlua"
    # `etwlua shell` through a pseudo-terminal and pipes (live buffer as root)
    suite "$cfg/shell" python3 tests/cli/shell_pty.py "build/bin/$cfg/etwlua"
done

# The live tests again with both cores busy (two shell busy loops, killed by
# pid afterwards): start-up, stops and waits must hold on a loaded machine.
# Bounded, like every wait in the suites.
live_under_load() {
    local b1 b2 rc
    sh -c 'while :; do :; done' &
    b1=$!
    sh -c 'while :; do :; done' &
    b2=$!
    timeout -k 30 900 bash tests/sources/tracefs/live.sh build/bin/release/etwlua
    rc=$?
    kill "$b1" "$b2"
    wait "$b1" "$b2" 2>/dev/null
    return $rc
}
suite live-under-load live_under_load

# Lua-level suites: the rules over their own examples, the helpers, and the
# report over the real attack samples (skipped without ../shared)
suite rules-examples build/bin/release/etwlua test
suite lua-helpers build/bin/release/etwlua --no-rules -r /dev/null tests/lua/helpers.lua
# SigmaHQ's own regression cases (skipped without ../shared)
suite sigma-regression bash tests/sigma/regression.sh build/bin/release/etwlua
suite rules-report python3 tests/rules/report.py build/bin/release/etwlua --check tests/rules/evtx-attack-samples.md
# the OTRF captures: converted once into a cache outside the tree (slow the
# first time), skipped without ../shared
suite otrf-report python3 tests/rules/otrf.py build/bin/release/etwlua --check tests/rules/otrf.md

# the layout: the library exports only the public header's functions; the
# counts the README and docs/ state are the tree's
suite exports bash tests/layout/exports.sh build/bin/release/libetwlua.so
suite docs-counts bash tests/docs/counts.sh build/bin/release/etwlua
suite format bash tests/layout/format.sh

# the Windows build under Wine: the ETW backend against the fake API, the
# portable unit tests, and the end-to-end cases
suite windows sh tests/sources/etw/run.sh

echo "$tests_pass passed, $tests_fail failed"
[ $tests_fail = 0 ] && [ $suites_fail = 0 ]
