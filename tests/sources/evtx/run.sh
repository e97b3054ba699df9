#!/usr/bin/env bash
# tests/sources/evtx/run.sh BIN - the native EVTX reader: on files made in
# the tree and their hostile variants (synth.sh, always), byte-identical to
# the libevtx path over the shared attack samples (same.sh), every field
# equal to the Rust evtx crate's rendering of the Sigma regression cases
# (crate_check.py), the damaged files damage.py makes from one sample, and
# the --evtx-reader option.
# Skips the shared-data checks, saying so, when ../shared is absent.  Ends
# with "evtx: N passed, N failed".
set -u
exec </dev/null
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/../../../../shared/data/evtx-attack-samples
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# the option: a misspelt reader is a usage error that names the choices
"$BIN" --no-rules --evtx-reader libevt -r /dev/null >/dev/null 2>"$TMP/err"
code=$?
if [ $code = 2 ] && grep -q "expected native or libevtx, not 'libevt'" "$TMP/err"; then ok; else
    bad "--evtx-reader libevt: exit $code, $(cat "$TMP/err")"
fi
"$BIN" --no-rules --evtx-reader native >/dev/null 2>"$TMP/err"
code=$?
if [ $code = 2 ] && grep -q "is for replaying EVTX with -r" "$TMP/err"; then ok; else
    bad "--evtx-reader without -r: exit $code, $(cat "$TMP/err")"
fi

# files made in the tree (no ../shared needed): what they decode to, and
# their cut and changed variants and the fuzz corpus read cleanly
out=$(bash "$HERE/synth.sh" "$BIN")
p=$(printf '%s\n' "$out" | sed -n 's/^evtx-synth: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
f=$(printf '%s\n' "$out" | sed -n 's/^evtx-synth: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
pass=$((pass + ${p:-0}))
fail=$((fail + ${f:-1}))
[ "${f:-1}" = 0 ] || printf '%s\n' "$out" | grep -v '^evtx-synth:' | head -30

if [ ! -d "$DATA" ]; then
    echo "evtx: shared-sample checks skipped (../shared/data/evtx-attack-samples is absent)"
    echo "evtx: $pass passed, $fail failed"
    [ $fail = 0 ]
    exit
fi

# 1. identical events: the folder and every file, JSON, text and --stats
out=$(bash "$HERE/same.sh" "$BIN")
p=$(printf '%s\n' "$out" | sed -n 's/^evtx-same: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
f=$(printf '%s\n' "$out" | sed -n 's/^evtx-same: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
pass=$((pass + ${p:-0}))
fail=$((fail + ${f:-1}))
[ "${f:-1}" = 0 ] || printf '%s\n' "$out" | grep -v '^evtx-same:' | head -20

# 2. a second, independent parser: the Rust evtx crate's JSON of the Sigma
# regression cases, field by field (crate_check.py says how values are
# normalised); it skips, saying so, without ../shared/data/sigma
out=$(python3 "$HERE/crate_check.py" "$BIN")
p=$(printf '%s\n' "$out" | sed -n 's/^evtx-crate: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
f=$(printf '%s\n' "$out" | sed -n 's/^evtx-crate: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
pass=$((pass + ${p:-0}))
fail=$((fail + ${f:-1}))
[ "${f:-1}" = 0 ] || printf '%s\n' "$out" | grep -v '^evtx-crate:' | head -20
printf '%s\n' "$out" | grep 'skipped' || true

# 3. damaged files: the records the native reader must still deliver, the
# records it must report, and what it must say; libevtx's count beside it
python3 "$HERE/damage.py" "$DATA/Privilege Escalation/Sysmon_UACME_64.evtx" "$TMP" >"$TMP/cases" ||
    bad "damage.py failed"
while read -r name nrec nbad what; do
    f=$TMP/$name.evtx
    "$BIN" --no-rules -r "$f" --stats >/dev/null 2>"$TMP/err"
    code=$?
    stats=$(grep 'stats: read=' "$TMP/err")
    delivered=$(printf '%s' "$stats" | sed -n 's/.*passed=\([0-9]*\).*/\1/p')
    malformed=$(printf '%s' "$stats" | sed -n 's/.*malformed=\([0-9]*\).*/\1/p')
    said=ok
    if [ "$what" = - ]; then
        [ "$(grep -vc 'stats: read=' "$TMP/err")" = 0 ] || said="unexpected diagnostics"
    else
        grep -q "$what" "$TMP/err" || said="no diagnostic with '$what'"
    fi
    "$BIN" --no-rules --evtx-reader libevtx -r "$f" --stats >/dev/null 2>"$TMP/lerr"
    lib=$(sed -n 's/.*stats: read=.* passed=\([0-9]*\).*/\1/p' "$TMP/lerr")
    case $nrec in
    *+) enough=$([ "${delivered:-0}" -ge "${nrec%+}" ] && echo 1) ;;
    *) enough=$([ "${delivered:-0}" = "$nrec" ] && echo 1) ;;
    esac
    # where libevtx reads a damaged file at all, the native reader yields
    # at least as many of its records
    [ "${delivered:-0}" -ge "${lib:-0}" ] || said="fewer events than libevtx (${lib:-?})"
    if [ $code = 0 ] && [ "$enough" = 1 ] && [ "$malformed" = "$nbad" ] && [ "$said" = ok ]; then
        ok
        echo "ok   $name: $delivered events, $malformed unreadable (libevtx: ${lib:-?} events)"
    else
        bad "$name: exit $code, $delivered events (want $nrec), $malformed malformed (want $nbad), $said"
        cat "$TMP/err"
    fi
done <"$TMP/cases"

# strict mode stops at the unreadable record, naming file, chunk and offset
"$BIN" --no-rules --strict -r "$TMP/bad-record.evtx" >/dev/null 2>"$TMP/err"
code=$?
if [ $code = 1 ] && grep -q "bad-record.evtx: chunk 0 offset [0-9]*: record [0-9]* skipped" "$TMP/err"; then ok; else
    bad "--strict on a damaged record: exit $code, $(cat "$TMP/err")"
fi

echo "evtx: $pass passed, $fail failed"
[ $fail = 0 ]
