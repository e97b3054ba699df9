#!/bin/bash
# tests/layout/format.sh [--fix] - every C file under engine/ and tests/ is
# as clang-format (with .clang-format) writes it.  --fix rewrites them.
# Ends with "format: N passed, N failed"; skips, saying so, without
# clang-format.
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "format: skipped (no clang-format; apt-get install clang-format)"
    echo "format: 0 passed, 0 failed"
    exit 0
fi
pass=0 fail=0
while IFS= read -r f; do
    if [ "${1:-}" = --fix ]; then clang-format -i "$f"; fi
    if clang-format "$f" | cmp -s "$f" -; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL $f is not formatted (tests/layout/format.sh --fix):"
        clang-format "$f" | diff "$f" - | head -6 | sed 's/^/     /'
    fi
done < <(git ls-files -co --exclude-standard 'engine/*.[ch]' 'tests/*.[ch]')
echo "format: $pass passed, $fail failed"
[ $fail = 0 ]
