#!/bin/sh
# Runs the cross-built etwlua.exe under Wine, as if it were etwlua.
exec "${WINE:-wine64}" "$(dirname "$0")/../../../build/mingw/bin/${ETWLUA_WIN_CONFIG:-release}/etwlua.exe" "$@"
