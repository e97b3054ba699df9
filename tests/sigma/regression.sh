#!/usr/bin/env bash
# tests/sigma/regression.sh BIN - SigmaHQ's regression cases
# (../shared/data/sigma/regression_data) through `etwlua sigma test`, with
# every SigmaHQ rule loaded.  Ends with "sigma-regression: N passed, M
# failed"; skips, saying so, when ../shared is absent.
set -u
BIN=$(realpath "$1")
cd "$(dirname "$0")/../.." || exit 1
S=../shared/data/sigma
if [ ! -d "$S/regression_data" ]; then
    echo "sigma-regression: 0 passed, 0 failed (skipped: $S/regression_data absent)"
    exit 0
fi
exec timeout 600 "$BIN" sigma test "$S/rules" "$S/rules-emerging-threats" "$S/rules-threat-hunting" \
    --regression "$S/regression_data" --counts tests/sigma/data/regression-counts.txt
