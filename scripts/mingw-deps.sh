#!/bin/sh
# scripts/mingw-deps.sh [DIR] - Lua 5.4, lpeg, yajl and cmocka as static
# libraries for x86_64-w64-mingw32, built from Debian's own source packages.
#
# Debian ships these libraries for Linux only, so the Windows build compiles
# them from `apt-get source` (the same versions and patches as the Linux
# build).  apt-get source needs deb-src entries: when they are missing and we
# are root, this adds a deb-src twin of debian.sources and updates once.
#
# Result: DIR/include (headers, yajl's also under yajl/) and DIR/lib/*.a.
# DIR defaults to build/mingw/deps.  Rebuilds nothing that is already there.
set -eu
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build/mingw/deps}")
CC=${MINGW_CC:-x86_64-w64-mingw32-gcc}
AR=${MINGW_AR:-x86_64-w64-mingw32-ar}
stamp="$out/.built-v1"
[ -f "$stamp" ] && exit 0

command -v "$CC" >/dev/null || { echo "mingw-deps.sh: $CC not found (apt-get install gcc-mingw-w64-x86-64)" >&2; exit 1; }

src="$out/src"
mkdir -p "$src" "$out/include/yajl" "$out/lib"

fetch() {
    # fetch PKG DIRGLOB: unpacked source dir of a Debian source package
    d=$(ls -d "$src"/$2 2>/dev/null | head -n1 || true)
    if [ -z "$d" ]; then
        (cd "$src" && apt-get source -qq "$1" >/dev/null 2>"$src/$1.log") || {
            cat "$src/$1.log" >&2
            echo "mingw-deps.sh: 'apt-get source $1' failed; deb-src entries and dpkg-dev are needed" >&2
            exit 1
        }
        d=$(ls -d "$src"/$2 | head -n1)
    fi
    echo "$d"
}

if ! apt-get source --print-uris -qq lua5.4 >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "mingw-deps.sh: apt has no deb-src entries; run as root once, or add them" >&2
        exit 1
    fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case "$f" in *etwlua-src.sources) continue ;; esac
        grep -q '^Types: deb$' "$f" || continue
        sed 's/^Types: deb$/Types: deb-src/' "$f"
        echo
    done > /etc/apt/sources.list.d/etwlua-src.sources
    if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/etwlua-src.list
    fi
    apt-get update -qq
fi

# compile OUTLIB CFLAGS -- FILES...: one static library
compile() {
    lib=$1; shift
    flags=""
    while [ "$1" != "--" ]; do flags="$flags $1"; shift; done
    shift
    obj="$out/obj/$lib"
    rm -rf "$obj"; mkdir -p "$obj"
    for f in "$@"; do
        # third-party code: its warnings are not ours to fix (-w)
        # shellcheck disable=SC2086
        "$CC" -O2 -w $flags -c "$f" -o "$obj/$(basename "$f" .c).o"
    done
    rm -f "$out/lib/lib$lib.a"
    "$AR" rcs "$out/lib/lib$lib.a" "$obj"/*.o
}

lua=$(fetch lua5.4 'lua5.4-*')
cp "$lua"/src/lua.h "$lua"/src/luaconf.h "$lua"/src/lualib.h "$lua"/src/lauxlib.h "$out/include/"
set --
for f in "$lua"/src/*.c; do
    case "$f" in */lua.c|*/luac.c) ;; *) set -- "$@" "$f" ;; esac
done
compile lua -DLUA_COMPAT_5_3 -- "$@"

lpeg=$(fetch lua-lpeg 'lua-lpeg-*')
compile lpeg "-I$out/include" -- "$lpeg"/lpcap.c "$lpeg"/lpcode.c "$lpeg"/lpprint.c "$lpeg"/lptree.c "$lpeg"/lpvm.c

yajl=$(fetch yajl 'yajl-*')
cp "$yajl"/src/api/yajl_common.h "$yajl"/src/api/yajl_gen.h "$yajl"/src/api/yajl_parse.h \
   "$yajl"/src/api/yajl_tree.h "$out/include/yajl/"
v=$(sed -n 's/^SET (YAJL_\(MAJOR\|MINOR\|MICRO\) \([0-9]*\))/\1=\2/p' "$yajl"/CMakeLists.txt)
maj=$(echo "$v" | sed -n 's/MAJOR=//p'); min=$(echo "$v" | sed -n 's/MINOR=//p'); mic=$(echo "$v" | sed -n 's/MICRO=//p')
sed -e "s/\${YAJL_MAJOR}/$maj/" -e "s/\${YAJL_MINOR}/$min/" -e "s/\${YAJL_MICRO}/$mic/" \
    "$yajl"/src/api/yajl_version.h.cmake > "$out/include/yajl/yajl_version.h"
# YAJL_BUILD: export the symbols from the static archive without dllimport
compile yajl "-I$out/include" -DYAJL_BUILD -- "$yajl"/src/yajl.c "$yajl"/src/yajl_alloc.c "$yajl"/src/yajl_buf.c \
    "$yajl"/src/yajl_encode.c "$yajl"/src/yajl_gen.c "$yajl"/src/yajl_lex.c "$yajl"/src/yajl_parser.c \
    "$yajl"/src/yajl_tree.c "$yajl"/src/yajl_version.c

cm=$(fetch cmocka 'cmocka-*')
cp "$cm"/include/cmocka.h "$out/include/"
compile cmocka "-I$cm/include" -DHAVE_SIGNAL_H -DHAVE_SETJMP_H -DHAVE_STDINT_H -DHAVE_INTTYPES_H -DHAVE_MALLOC_H \
    -DHAVE_STRUCT_TIMESPEC -DHAVE_GCC_THREAD_LOCAL_STORAGE -DHAVE_SNPRINTF -DHAVE_VSNPRINTF -DHAVE_CALLOC -DHAVE_FREE \
    -DHAVE_EXIT -DHAVE_FPRINTF -DHAVE_LONGJMP -DHAVE_MALLOC -DHAVE_MEMSET -DHAVE_PRINTF -DHAVE_SETJMP \
    -DHAVE_SIGNAL -DHAVE_STRCMP -DHAVE_VSNPRINTF -DHAVE_STRSIGNAL -- "$cm"/src/cmocka.c

touch "$stamp"
echo "mingw-deps.sh: built Lua, lpeg, yajl and cmocka for mingw in $out"
