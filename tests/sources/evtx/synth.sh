#!/usr/bin/env bash
# tests/sources/evtx/synth.sh BIN - the native EVTX reader on files made in
# the tree (tests/fuzz/evtx_synth.py), so it is tested without ../shared:
# the intact files decode to synth.expected (every value type, UserData
# from nested BinXml, classic arrays, text references), and their hostile
# variants (variants.py: cut short, bytes changed with stale or recomputed
# checksums) and the fuzzer's committed corpus and regressions
# (tests/fuzz/corpus/evtx, tests/fuzz/regressions/evtx, each chunk behind a
# file header) are read or rejected cleanly: exit 0, every file accounted
# for, no sanitizer report, within a time bound.
# Ends with "evtx-synth: N passed, N failed".
set -u
exec </dev/null
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../../..
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

python3 "$ROOT/tests/fuzz/evtx_synth.py" "$TMP/syn" || bad "evtx_synth.py failed"

# 1. the intact files: every field as expected, nothing reported
for f in "$TMP"/syn/synth-*.evtx; do
    n=$(basename "$f")
    echo "== $n"
    timeout 60 "$BIN" --no-rules -r "$f" --dump --json 2>&1
    echo "exit $?"
done >"$TMP/got"
if [ "${UPDATE:-}" = 1 ]; then cp "$TMP/got" "$HERE/synth.expected"; fi
if diff -u "$HERE/synth.expected" "$TMP/got" >"$TMP/diff"; then ok; else
    bad "the synthetic files do not decode as synth.expected"
    head -40 "$TMP/diff"
fi

# 2. hostile variants and the fuzz corpus, a folder per kind
python3 "$HERE/variants.py" "$TMP/syn" "$TMP/var" "$ROOT/tests/fuzz/corpus/evtx" "$ROOT/tests/fuzz/regressions/evtx" \
    >"$TMP/counts" || bad "variants.py failed"
echo "evtx-synth: variants: $(cat "$TMP/counts")"
for kind in cut flip fixed chunks; do
    files=$(find "$TMP/var/$kind" -name '*.evtx' | wc -l)
    [ "$files" -gt 0 ] || { bad "$kind: no variants"; continue; }
    timeout 600 "$BIN" --no-rules -r "$TMP/var/$kind" --stats >/dev/null 2>"$TMP/err"
    code=$?
    stats=$(grep 'stats: read=' "$TMP/err")
    if [ $code = 0 ] && [ -n "$stats" ] && ! grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$TMP/err"; then
        ok
        echo "ok   $kind: $files files, $(printf '%s' "$stats" | sed 's/^etwlua: stats: //')"
    else
        bad "$kind: exit $code over $files files"
        grep -E 'AddressSanitizer|runtime error|ERROR|SUMMARY' "$TMP/err" | head -20
        tail -5 "$TMP/err"
    fi
done
echo "evtx-synth: $pass passed, $fail failed"
[ $fail = 0 ]
