#!/bin/bash
# tests/layout/exports.sh [LIB] - the shared library exports exactly the
# functions engine/include/etwl.h declares (ETWL_API): nothing internal
# leaks, nothing public is missing.  LIB defaults to the release build's
# build/bin/release/libetwlua.so.  Ends with "exports: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
lib=${1:-build/bin/release/libetwlua.so}
if [ ! -f "$lib" ]; then
    echo "exports: 0 passed, 1 failed ($lib is not built)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n 's/^ETWL_API .*\b\(etwl_[a-z0-9_]*\)(.*/\1/p' engine/include/etwl.h | sort -u >"$tmp/public"
# defined, global symbols of the dynamic symbol table (functions and data)
nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ { print $3 }' | sort -u >"$tmp/exported"
pass=0 fail=0
n_public=$(wc -l <"$tmp/public")
if [ "$n_public" -lt 40 ]; then
    echo "FAIL only $n_public ETWL_API functions read from etwl.h: the parser is broken"
    fail=$((fail + 1))
fi
extra=$(comm -13 "$tmp/public" "$tmp/exported")
missing=$(comm -23 "$tmp/public" "$tmp/exported")
if [ -z "$extra" ]; then pass=$((pass + 1)); echo "ok   no symbol beyond the public header ($(wc -l <"$tmp/exported") exported)"
else fail=$((fail + 1)); echo "FAIL exported but not in etwl.h:"; echo "$extra" | sed 's/^/     /'; fi
if [ -z "$missing" ]; then pass=$((pass + 1)); echo "ok   every function of the public header is exported ($n_public)"
else fail=$((fail + 1)); echo "FAIL declared in etwl.h but not exported:"; echo "$missing" | sed 's/^/     /'; fi
# a consumer written against the public header alone, linked against the
# shared library alone, replays a test file
if cc -std=c11 -Wall -Werror -Iengine/include tests/layout/api_client.c -o "$tmp/client" \
    -L"$(dirname "$lib")" -l:"$(basename "$lib")" -Wl,-rpath,"$(cd "$(dirname "$lib")" && pwd)" 2>"$tmp/cc"; then
    out=$(timeout 60 "$tmp/client" tests/data/events.jsonl 2>&1)
    want=$(grep -c . tests/data/events.jsonl)
    if printf '%s\n' "$out" | grep -qx "read=$want passed=$want" &&
        printf '%s\n' "$out" | grep -qx '1 cmd.exe /c whoami /all'; then
        pass=$((pass + 1)); echo "ok   a consumer of etwl.h alone, linked to $(basename "$lib") alone, replays a file"
    else fail=$((fail + 1)); echo "FAIL the public-API consumer's output:"; printf '%s\n' "$out" | head -10 | sed 's/^/     /'; fi
else
    fail=$((fail + 1)); echo "FAIL the public-API consumer does not build:"; head -10 "$tmp/cc" | sed 's/^/     /'
fi
echo "exports: $pass passed, $fail failed"
[ $fail = 0 ]
