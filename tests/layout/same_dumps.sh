#!/bin/bash
# tests/layout/same_dumps.sh [--base REV | --base-bin BIN] [NEW_BIN]
#
# A restructuring must not change what etwlua reads: `--dump --json` over
# the JSON-lines test files, the shared EVTX samples and the shared ETL
# traces is compared byte for byte between this tree's etwlua (NEW_BIN,
# default build/bin/release/etwlua) and the one built from REV (default:
# the previous commit, HEAD~1) in a temporary worktree, with the diagnostics
# and the --stats counters on stderr.  The shared data is
# skipped, with a message, when ../shared is absent.
set -u
cd "$(dirname "$0")/../.."
base_rev=HEAD~1
base_bin=
while [ $# -gt 0 ]; do
    case "$1" in
    --base) base_rev=$2; shift 2 ;;
    --base-bin) base_bin=$2; shift 2 ;;
    *) break ;;
    esac
done
new_bin=${1:-build/bin/release/etwlua}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
if [ -z "$base_bin" ]; then
    echo "same-dumps: building $base_rev in a worktree"
    git worktree add --detach "$tmp/base" "$base_rev" >/dev/null 2>&1 || { echo "same-dumps: 0 passed, 1 failed (no worktree for $base_rev)"; exit 1; }
    (cd "$tmp/base" && premake4 --file=premake5.lua gmake >/dev/null && make -C build config=release etwlua -j"$(nproc)" >/dev/null 2>&1) ||
        { echo "same-dumps: 0 passed, 1 failed (cannot build $base_rev)"; exit 1; }
    base_bin=$tmp/base/build/bin/release/etwlua
fi
pass=0 fail=0
inputs=(tests/data/*.jsonl)
shared=../shared/data
if [ -d "$shared/evtx-attack-samples" ]; then inputs+=("$shared/evtx-attack-samples"); else
    echo "same-dumps: ../shared/data/evtx-attack-samples absent: EVTX skipped"; fi
if [ -d "$shared/etl" ]; then
    for f in "$shared"/etl/*.etl "$shared"/etl/*.etl.zip; do [ -e "$f" ] && inputs+=("$f"); done
else echo "same-dumps: ../shared/data/etl absent: ETL skipped"; fi
for in in "${inputs[@]}"; do
    for fmt in json text; do
        args=(--no-rules -r "$in" --dump --stats)
        [ $fmt = json ] && args+=(--json)
        timeout 300 "$base_bin" "${args[@]}" >"$tmp/a" 2>"$tmp/ae"; ra=$?
        timeout 300 "$new_bin" "${args[@]}" >"$tmp/b" 2>"$tmp/be"; rb=$?
        if [ $ra = $rb ] && cmp -s "$tmp/a" "$tmp/b" && cmp -s "$tmp/ae" "$tmp/be"; then
            pass=$((pass + 1))
            echo "ok   $in ($fmt, $(wc -l <"$tmp/b") lines)"
        else
            fail=$((fail + 1))
            echo "FAIL $in ($fmt): exit $ra vs $rb"
            diff "$tmp/a" "$tmp/b" | head -5
            diff "$tmp/ae" "$tmp/be" | head -5
        fi
    done
done
echo "same-dumps: $pass passed, $fail failed"
[ $fail = 0 ]
