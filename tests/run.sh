#!/bin/sh
# tests/run.sh - every test: the cmocka unit tests and the end-to-end tests,
# both on the release build and under AddressSanitizer+UBSan.  Expects
# scripts/build.sh to have built the release and sanitize configurations.
# Ends with one "N passed, N failed" line over all suites.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suites_pass=0
suites_fail=0
tests_pass=0
tests_fail=0

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
    e2e=$(bash tests/e2e/run.sh "build/bin/$cfg/etwlua" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$e2e" | sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(printf '%s\n' "$e2e" | sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    tests_pass=$((tests_pass + ${p:-0}))
    tests_fail=$((tests_fail + ${f:-1}))
    if [ $rc = 0 ]; then
        echo "ok   $cfg/e2e (${p:-0} checks)"
    else
        echo "FAIL $cfg/e2e"
        printf '%s\n' "$e2e" | tail -40
    fi
    # live tracefs sessions: root only; the script says why when it skips
    live=$(bash tests/linux/live.sh "build/bin/$cfg/etwlua" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$live" | sed -n 's/^live: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
    f=$(printf '%s\n' "$live" | sed -n 's/^live: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
    tests_pass=$((tests_pass + ${p:-0}))
    tests_fail=$((tests_fail + ${f:-1}))
    if [ $rc = 0 ]; then
        echo "ok   $cfg/live ($(printf '%s\n' "$live" | tail -1 | sed 's/^live: //'))"
    else
        echo "FAIL $cfg/live"
        printf '%s\n' "$live" | tail -20
    fi
done

# Lua-level suites: the rules over their own examples, the helpers, and the
# report over the real attack samples (skipped without ../shared)
suite() { # name command...
    local name=$1 out rc p f
    shift
    out=$("$@" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^[a-z-]*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^[a-z-]*: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
    tests_pass=$((tests_pass + ${p:-0}))
    tests_fail=$((tests_fail + ${f:-1}))
    if [ $rc = 0 ] && [ "${f:-1}" = 0 ]; then echo "ok   $name (${p:-0} checks)"; else
        echo "FAIL $name"
        printf '%s\n' "$out" | grep -v '^ok ' | tail -30
    fi
}
suite rules-examples build/bin/release/etwlua test
suite lua-helpers build/bin/release/etwlua --no-rules -r /dev/null tests/lua/helpers.lua
suite rules-report python3 tests/rules/report.py build/bin/release/etwlua --check tests/rules/evtx-attack-samples.md

echo "$tests_pass passed, $tests_fail failed"
[ $tests_fail = 0 ] && [ $suites_fail = 0 ]
