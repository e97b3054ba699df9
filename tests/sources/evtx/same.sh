#!/usr/bin/env bash
# tests/sources/evtx/same.sh BIN [PATH...] - the native EVTX reader against
# the libevtx one (--evtx-reader libevtx) in the same binary: --dump --json,
# --dump text and --stats, stdout and stderr byte for byte, over the shared
# attack samples as one folder and file by file (or over the PATHs given).
# Ends with "evtx-same: N passed, N failed"; skips when ../shared is absent.
set -u
exec </dev/null
BIN=$(realpath "$1")
shift
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/../../../../shared/data/evtx-attack-samples
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
if [ $# -eq 0 ]; then
    if [ ! -d "$DATA" ]; then
        echo "evtx-same: checks skipped (../shared/data/evtx-attack-samples is absent)"
        echo "evtx-same: 0 passed, 0 failed"
        exit 0
    fi
    set -- "$DATA"
    while IFS= read -r -d '' f; do set -- "$@" "$f"; done < <(find "$DATA" -name '*.evtx' -print0 | sort -z)
fi
for in in "$@"; do
    for fmt in json text; do
        args=(--no-rules -r "$in" --dump --stats)
        [ $fmt = json ] && args+=(--json)
        timeout 300 "$BIN" --evtx-reader libevtx "${args[@]}" >"$TMP/a" 2>"$TMP/ae"
        ra=$?
        timeout 300 "$BIN" "${args[@]}" >"$TMP/b" 2>"$TMP/be"
        rb=$?
        if [ $ra = $rb ] && cmp -s "$TMP/a" "$TMP/b" && cmp -s "$TMP/ae" "$TMP/be"; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "FAIL $in ($fmt): exit $ra (libevtx) vs $rb (native)"
            diff "$TMP/a" "$TMP/b" | head -4 | cut -c1-300
            diff "$TMP/ae" "$TMP/be" | head -4 | cut -c1-300
        fi
    done
done
echo "evtx-same: $pass passed, $fail failed"
[ $fail = 0 ]
