#!/usr/bin/env bash
# tests/output/schema.sh BIN - --schema ecs|ocsf and --hex-keywords.
#
# The ECS and OCSF alerts and dumped events, on stdout and through an -o file
# output, are checked field by field against the references written from
# ECS's and OCSF's published field documentation
# (tests/output/data/{ecs,ocsf}_fields.json, a source URL per fact):
# every field must be named there and have the JSON type given there.  The
# inputs are tests/data (every process source's shape, through a script that
# raises an alert on each event) and, when ../shared is there, the EVTX
# attack samples with the rule library.  A field of the wrong type and an
# unknown field must make the check fail, so the check is shown to bite.
# Ends with "N passed, N failed".
set -u
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../..
DATA=$ROOT/tests/data
SHARED=$ROOT/../shared/data/evtx-attack-samples
CHECK="python3 $HERE/schema_check.py"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# an alert on every event, with techniques and fields, so every source's
# process shape (Sysmon, Security 4688, the kernel logger, Kernel-Process,
# Linux) reaches the mapping
ALERT='local etw = require("etw")
etw.on({}, function(ev)
  etw.alert{rule = "t.every", title = "every event", severity = "high", technique = {"T1059.001", "T1105"},
            message = "seen", event = ev, fields = {n = 1, big = 9007199254740993}}
end)'

cd "$DATA" || exit 1
for schema in ecs ocsf; do
    ref=$HERE/data/${schema}_fields.json
    : >"$TMP/$schema.alerts"
    for f in schema.jsonl events.jsonl windows.jsonl go-style.jsonl; do
        "$BIN" --no-rules -r "$f" --schema "$schema" -e "$ALERT" >>"$TMP/$schema.alerts" 2>"$TMP/err" ||
            bad "$schema: script alerts over $f: exit $? ($(head -c 300 "$TMP/err"))"
        "$BIN" -r "$f" --schema "$schema" >>"$TMP/$schema.alerts" 2>"$TMP/err" ||
            bad "$schema: rule library over $f: exit $? ($(head -c 300 "$TMP/err"))"
    done
    if $CHECK "$ref" "$TMP/$schema.alerts" 10; then ok; else bad "$schema alerts do not match the reference"; fi
    # every alert of this form is a Detection Finding or an ECS alert
    if [ "$schema" = ocsf ]; then
        n=$(grep -c '"class_uid":2004' "$TMP/$schema.alerts")
        all=$(wc -l <"$TMP/$schema.alerts")
    else
        n=$(grep -c '"kind":"alert"' "$TMP/$schema.alerts")
        all=$(wc -l <"$TMP/$schema.alerts")
    fi
    [ "$n" = "$all" ] && [ "$n" -gt 10 ] && ok || bad "$schema: $n of $all lines are alerts"

    # dumped events
    "$BIN" --no-rules -r events.jsonl --dump --schema "$schema" >"$TMP/$schema.dump" 2>"$TMP/err" ||
        bad "$schema: --dump: exit $?"
    if $CHECK "$ref" "$TMP/$schema.dump" 5; then ok; else bad "$schema dumped events do not match the reference"; fi

    # the -o outputs get the schema too (stdout stays quiet without -o -)
    "$BIN" --no-rules -r events.jsonl --schema "$schema" -o "file:$TMP/$schema.file" -e "$ALERT" >"$TMP/stdout" 2>"$TMP/err"
    if [ -s "$TMP/stdout" ] || ! $CHECK "$ref" "$TMP/$schema.file" 5; then
        bad "$schema: -o file: not the schema ($(head -c 300 "$TMP/err"))"
    else ok; fi

    # the check bites: a pid as a string, and a field the schema lacks
    head -n 1 "$TMP/$schema.alerts" | sed 's/"pid":\([0-9]*\)/"pid":"\1"/' >"$TMP/tampered"
    if ! grep -q '"pid":"' "$TMP/tampered" || $CHECK "$ref" "$TMP/tampered" 2>/dev/null; then
        bad "$schema: a string pid passed the check"
    else ok; fi
    head -n 1 "$TMP/$schema.alerts" | sed 's/^{/{"not_a_field":1,/' >"$TMP/tampered"
    if $CHECK "$ref" "$TMP/tampered" 2>/dev/null; then bad "$schema: an unknown field passed the check"; else ok; fi
done

# Security 4688 and Sysmon 1 in tests/data/schema.jsonl: the process, its
# parent and its user reach both schemas (4688 without a target account
# names its creator's)
grep -q '"process":{"pid":7100,"executable":"C:\\\\Windows\\\\System32\\\\net.exe","name":"net.exe"' "$TMP/ecs.alerts" &&
    grep -q '"parent":{"pid":6700,"executable":"C:\\\\Windows' "$TMP/ecs.alerts" &&
    grep -q '"user":{"domain":"CORP","name":"alice","id":"S-1-5-21-1-2-3-1001"}' "$TMP/ecs.alerts" &&
    grep -q '"user":{"domain":"CORP","name":"bob"}' "$TMP/ecs.alerts" &&
    grep -q '"parent_process":{"pid":6520,"name":"cmd.exe","cmd_line":"cmd.exe /c whoami /all"' "$TMP/ocsf.alerts" &&
    grep -q '"device":{"hostname":"dc1.corp.example","type_id":0}' "$TMP/ocsf.alerts" && ok ||
    bad "schema.jsonl: the process, parent, user or host did not reach the schemas"

# the EVTX attack samples through the rule library: real Sysmon and Security
# process starts with parents and users
if [ -d "$SHARED" ]; then
    for schema in ecs ocsf; do
        "$BIN" -r "$SHARED" --schema "$schema" >"$TMP/shared.$schema" 2>"$TMP/err"
        if $CHECK "$HERE/data/${schema}_fields.json" "$TMP/shared.$schema" 50; then ok; else
            bad "$schema: the EVTX samples' alerts do not match the reference"
        fi
        # every event of every provider in the samples, as an alert
        "$BIN" --no-rules -r "$SHARED" --schema "$schema" -e "$ALERT" >"$TMP/every.$schema" 2>"$TMP/err"
        if $CHECK "$HERE/data/${schema}_fields.json" "$TMP/every.$schema" 5000; then ok; else
            bad "$schema: alerts on every EVTX sample event do not match the reference"
        fi
    done
    # the process's parent and user reach the mapping on real data
    grep -q '"parent":{"pid":[0-9]*,"executable":"' "$TMP/shared.ecs" && grep -q '"user":{"domain":"' "$TMP/shared.ecs" &&
        grep -q '"parent_process":{"pid":[0-9]*,"name":"' "$TMP/shared.ocsf" && ok ||
        bad "the EVTX samples' alerts lack parent or user fields"
else
    echo "skip: $SHARED is absent (the shared EVTX samples); tests/data only"
fi

# --hex-keywords: keywords, addresses and keys as strings, other integers
# only beyond 2^53; without it the same values stay numbers
printf '%s\n' '{"header":{"descriptor":{"id":1,"version":0,"channel":0,"level":4,"op_code":0,"task":0,"keyword":9223372036854775824},"thread_id":1,"process_id":2,"ts":"2024-03-05T10:11:12.0000000Z","provider_guid":"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}","provider_name":"P","activity_guid":"{00000000-0000-0000-0000-000000000000}","flags":0,"kernel_time":0,"user_time":0,"processor_time":0},"info":{"small":5,"big":9007199254740993,"neg":-9007199254740993,"huge":123456789012345678901234567890,"frac":1.5},"ext":{"stacktrace":{"matched_id":0,"addresses":[18446735277616529408]}}}' >"$TMP/big.jsonl"
"$BIN" --no-rules -r "$TMP/big.jsonl" --dump --json --hex-keywords >"$TMP/hex" 2>"$TMP/err"
if python3 - "$TMP/hex" <<'EOF'; then ok; else bad "--hex-keywords: $(cat "$TMP/hex" "$TMP/err")"; fi
import json, sys
e = json.loads(open(sys.argv[1]).read())
assert e["header"]["descriptor"]["keyword"] == "0x8000000000000010", e["header"]["descriptor"]
assert e["header"]["descriptor"]["level"] == 4
assert e["info"]["small"] == 5 and e["info"]["frac"] == 1.5
assert e["info"]["big"] == "0x20000000000001", e["info"]
assert e["info"]["neg"] == "-9007199254740993", e["info"]
assert e["info"]["huge"] == "123456789012345678901234567890", e["info"]
assert e["ext"]["stacktrace"]["addresses"] == ["0xFFFFF80000000000"], e["ext"]
EOF
"$BIN" --no-rules -r "$TMP/big.jsonl" --dump --json >"$TMP/nohex" 2>&1
grep -q '"keyword":9223372036854775824' "$TMP/nohex" && grep -q '"big":9007199254740993' "$TMP/nohex" && ok ||
    bad "without --hex-keywords the numbers changed: $(cat "$TMP/nohex")"
# an alert's Lua fields beyond 2^53 too
"$BIN" --no-rules -r events.jsonl --hex-keywords --format json -e "$ALERT" 2>/dev/null | head -n 1 >"$TMP/hexalert"
grep -q '"big":"0x20000000000001"' "$TMP/hexalert" && grep -q '"n":1' "$TMP/hexalert" && ok ||
    bad "--hex-keywords: alert fields: $(head -c 400 "$TMP/hexalert")"

echo "schema: $pass passed, $fail failed"
[ "$fail" = 0 ]
