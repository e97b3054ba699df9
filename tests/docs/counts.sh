#!/bin/bash
# tests/docs/counts.sh BIN - every count the documentation states, checked.
#
# README.md and docs/*.md write each count of rules, checks and alerts as
#     <!-- count:NAME -->N<!-- /count -->
# and this script recomputes every NAME and compares:
#
#   windows-rules           rules.define blocks in lua/rules/windows/*.lua
#   linux-rules             rules.define blocks in lua/rules/linux/*.lua
#   total-rules             their sum, cross-checked with `BIN test` (one
#                           ok/FAIL line per rule)
#   test-checks             the examples `BIN test` runs (N + M of its
#                           "rules: N passed, M failed" line)
#   attack-alerts-per-file  the alerts of tests/rules/evtx-attack-samples.md
#                           (report.py replays each file on its own)
#   attack-alerts-folder    alerts of one replay of the whole folder
#                           ../shared/data/evtx-attack-samples/ (skipped,
#                           saying so, when ../shared is missing)
#   sigma-win-pc-rules, sigma-win-pc-run
#                           SigmaHQ's Windows process_creation rules, and how
#                           many of them compile and run (`BIN sigma check`
#                           over ../shared/data/sigma; skipped without it)
#   sigma-lnx-pc-rules, sigma-lnx-pc-run   the same for Linux process_creation
#   sigma-win-rules, sigma-win-run         the same for all of rules/windows
#   sigma-regression-passed the regression cases `BIN sigma test` passes
#
# A marker with any other NAME, or a malformed one, fails.  Prints "ok count
# NAME in FILE" or "FAIL ..." per marker and ends with one line
# "docs-counts: N passed, M failed"; exits 0 only when M is 0.  Every run of
# BIN is bounded by timeout; nothing touches the network.
set -u

BIN=${1:-}
# the binary may be given relative to the caller's directory
if [ -n "$BIN" ]; then
    case $BIN in
    /*) ;;
    */*) BIN=$PWD/$BIN ;;
    *) BIN=$(command -v -- "$BIN" 2>/dev/null || printf '%s' "$BIN") ;;
    esac
fi
cd "$(dirname "$0")/../.." || { echo "docs-counts: 0 passed, 1 failed"; exit 1; }

TMP=$(mktemp -d) || { echo "docs-counts: 0 passed, 1 failed"; exit 1; }
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { echo "ok $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() {
    echo "docs-counts: $pass passed, $fail failed"
    [ "$fail" = 0 ] && exit 0
    exit 1
}

declare -A value  # NAME -> the true count, when it could be computed
declare -A why    # NAME -> why it could not be
declare -A skip   # NAME -> why its check is skipped (missing ../shared)
KNOWN="windows-rules linux-rules total-rules test-checks attack-alerts-per-file attack-alerts-folder
sigma-win-pc-rules sigma-win-pc-run sigma-lnx-pc-rules sigma-lnx-pc-run sigma-win-rules sigma-win-run
sigma-regression-passed"
KNOWN=$(echo $KNOWN)

# ---- the rule library ---------------------------------------------------
count_defines() { # dir
    local files=("$1"/*.lua)
    if [ ! -e "${files[0]}" ]; then
        echo "no rule files in $1/"
        return 1
    fi
    cat -- "${files[@]}" | grep -c '^[[:space:]]*rules\.define[[:space:]]*[{(]'
    return 0
}
for plat in windows linux; do
    if n=$(count_defines "lua/rules/$plat"); then
        value[$plat-rules]=$n
    else
        why[$plat-rules]=$n
    fi
done
if [ -n "${value[windows-rules]:-}" ] && [ -n "${value[linux-rules]:-}" ]; then
    value[total-rules]=$((value[windows-rules] + value[linux-rules]))
else
    why[total-rules]="the per-platform counts are missing"
fi

# ---- etwlua test ---------------------------------------------------------
have_bin=0
if [ -z "$BIN" ]; then
    bad "no etwlua binary given (usage: tests/docs/counts.sh BIN)"
elif [ ! -x "$BIN" ]; then
    bad "etwlua binary '$BIN' is not executable"
else
    have_bin=1
fi
if [ $have_bin = 1 ]; then
    out=$(timeout 120 "$BIN" test 2>/dev/null </dev/null)
    summary=$(printf '%s\n' "$out" | sed -n 's/^rules: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1 \2/p' | tail -1)
    if [ -n "$summary" ]; then
        set -- $summary
        value[test-checks]=$(($1 + $2))
        per_rule=$(printf '%s\n' "$out" | grep -c -E '^(ok|FAIL) ')
        if [ -z "${value[total-rules]:-}" ]; then
            echo "skipped: cross-check of total-rules with 'etwlua test' (no total from lua/rules)"
        elif [ "$per_rule" = "${value[total-rules]}" ]; then
            ok "count total-rules in 'etwlua test' ($per_rule rules)"
        else
            bad "count total-rules in 'etwlua test': it runs $per_rule rules, lua/rules defines ${value[total-rules]}"
        fi
    else
        echo "skipped: cross-check of total-rules with 'etwlua test' (it printed no count)"
        why[test-checks]="'$BIN test' printed no 'rules: N passed, M failed' line"
    fi
else
    why[test-checks]="no etwlua binary"
fi

# ---- the report over the attack samples ---------------------------------
REPORT=tests/rules/evtx-attack-samples.md
if [ -f "$REPORT" ]; then
    n=$(sed -n 's/^- files: [0-9]*, events: [0-9]*, alerts: \([0-9][0-9]*\),.*/\1/p' "$REPORT" | head -1)
    if [ -n "$n" ]; then value[attack-alerts-per-file]=$n; else why[attack-alerts-per-file]="$REPORT states no alert count"; fi
else
    why[attack-alerts-per-file]="$REPORT is missing"
fi

# one replay of the whole folder: run only when a marker asks for it
SAMPLES=../shared/data/evtx-attack-samples
folder_done=0
folder_count() {
    [ $folder_done = 1 ] && return
    folder_done=1
    if [ ! -d "$SAMPLES" ]; then
        skip[attack-alerts-folder]="$SAMPLES is missing"
        return
    fi
    if [ $have_bin = 0 ]; then
        why[attack-alerts-folder]="no etwlua binary"
        return
    fi
    local rc
    timeout 300 "$BIN" -r "$SAMPLES/" --alerts-only >"$TMP/folder" 2>/dev/null </dev/null
    rc=$?
    if [ "$rc" = 4 ]; then
        skip[attack-alerts-folder]="this build reads no EVTX"
    elif [ "$rc" != 0 ]; then
        why[attack-alerts-folder]="the folder replay exited $rc"
    else
        value[attack-alerts-folder]=$(grep -c '^{' "$TMP/folder")
    fi
}

# ---- SigmaHQ's corpus: run only when a marker asks for it ----------------
SIGMA=../shared/data/sigma
sigma_done=0
sigma_counts() {
    [ $sigma_done = 1 ] && return
    sigma_done=1
    local names="sigma-win-pc-rules sigma-win-pc-run sigma-lnx-pc-rules sigma-lnx-pc-run sigma-win-rules sigma-win-run
        sigma-regression-passed" n dir pre line
    if [ ! -d "$SIGMA/rules" ]; then
        for n in $names; do skip[$n]="$SIGMA is missing"; done
        return
    fi
    if [ $have_bin = 0 ]; then
        for n in $names; do why[$n]="no etwlua binary"; done
        return
    fi
    for pre in win-pc:windows/process_creation lnx-pc:linux/process_creation win:windows; do
        dir=${pre#*:}
        pre=${pre%%:*}
        line=$(timeout 120 "$BIN" sigma check --quiet "$SIGMA/rules/$dir" 2>/dev/null </dev/null | tail -1)
        if [[ $line =~ ^sigma-check:\ ([0-9]+)\ rules:\ ([0-9]+)\ compile ]]; then
            value[sigma-$pre-rules]=${BASH_REMATCH[1]}
            value[sigma-$pre-run]=${BASH_REMATCH[2]}
        else
            why[sigma-$pre-rules]="'$BIN sigma check' printed no figures"
            why[sigma-$pre-run]=${why[sigma-$pre-rules]}
        fi
    done
    line=$(timeout 600 "$BIN" sigma test "$SIGMA/rules" "$SIGMA/rules-emerging-threats" "$SIGMA/rules-threat-hunting" \
        --regression "$SIGMA/regression_data" --counts tests/sigma/data/regression-counts.txt 2>/dev/null </dev/null | tail -1)
    if [[ $line =~ ^sigma-regression:\ ([0-9]+)\ passed ]]; then
        value[sigma-regression-passed]=${BASH_REMATCH[1]}
    else
        why[sigma-regression-passed]="'$BIN sigma test' printed no total"
    fi
}

# ---- every marker --------------------------------------------------------
markers=0
for f in README.md docs/*.md; do
    [ -f "$f" ] || continue
    opens=$(grep -o '<!-- count:' "$f" | wc -l)
    good=$(grep -o -E '<!-- count:[a-z0-9-]+ -->[0-9]+<!-- /count -->' "$f" | wc -l)
    if [ "$opens" != "$good" ]; then
        bad "malformed count marker in $f ($opens opened, $good of the form <!-- count:NAME -->N<!-- /count -->)"
    fi
    while IFS=' ' read -r name said; do
        [ -n "$name" ] || continue
        markers=$((markers + 1))
        case " $KNOWN " in
        *" $name "*) ;;
        *) bad "unknown count $name in $f (known: $KNOWN)"; continue ;;
        esac
        [ "$name" = attack-alerts-folder ] && folder_count
        case $name in sigma-*) sigma_counts ;; esac
        if [ -n "${value[$name]:-}" ]; then
            if [ "${value[$name]}" = "$said" ]; then
                ok "count $name in $f"
            else
                bad "count $name in $f: says $said, the tree gives ${value[$name]}"
            fi
        elif [ -n "${skip[$name]:-}" ]; then
            echo "skipped: count $name in $f (${skip[$name]})"
        else
            bad "count $name in $f: cannot be computed (${why[$name]:-unknown})"
        fi
    done < <(grep -o -E '<!-- count:[a-z0-9-]+ -->[0-9]+<!-- /count -->' "$f" |
        sed 's/^<!-- count:\([a-z0-9-]*\) -->\([0-9]*\)<!-- \/count -->$/\1 \2/')
done
[ $markers -gt 0 ] || bad "no count markers found in README.md or docs/*.md"

finish
