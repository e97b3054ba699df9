#!/bin/sh
# scripts/build.sh run|test|build [--no-install]
#
#   run    install what is missing, build, and run the main job: a live
#          session for 10 s (ETWLUA_SECONDS) with the rule library, printing
#          alerts (two harmless look-alike commands run meanwhile)
#   test   install what is missing, build (Linux and the Windows cross
#          build), and run every test, the Windows ones under Wine
#   build  install what is missing and build (release, debug and sanitize,
#          and etwlua.exe)
#   windows  install mingw-w64 and Wine, cross-build etwlua.exe and run its
#          tests under Wine
#   install [PREFIX]  build, then copy etwlua to PREFIX/bin and the Lua
#          modules and rules (lua/rules) to PREFIX/share/etwlua/lua
#          (default PREFIX /usr/local)
#
# Needs root only to install Debian packages that are missing.
set -eu
cd "$(dirname "$0")/.."

PKGS="gcc make pkg-config premake4 liblua5.4-dev lua-lpeg-dev libcmocka-dev libyajl-dev libyaml-dev libpcre2-dev libtracefs-dev libtraceevent-dev libevtx-dev libbfio-dev libexpat1-dev libzip-dev zlib1g-dev libdeflate-dev libevtx-utils python3 time bsdutils clang-format libcurl4-openssl-dev librdkafka-dev libedit-dev openssh-server rsyslog openssl"

# the Windows cross build: compilers, Wine for its tests, dpkg-dev for
# apt-get source (scripts/mingw-deps.sh)
WIN_PKGS="gcc-mingw-w64-x86-64 wine64 dpkg-dev"

install_deps() {
    missing=""
    for p in $PKGS ${WITH_WINDOWS:+$WIN_PKGS}; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "build.sh: missing packages:$missing" >&2
        echo "build.sh: run as root, or: sudo apt-get install$missing" >&2
        exit 1
    fi
    echo "build.sh: installing$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() {
    if command -v premake5 >/dev/null 2>&1; then premake5 gmake >/dev/null
    else premake4 --file=premake5.lua gmake >/dev/null; fi
    for c in "$@"; do make -C build config="$c" -j"$(nproc)" >/dev/null; done
}

# etwlua.exe and the Windows tests, with -Werror like the Linux build
build_windows() {
    sh scripts/mingw-deps.sh
    if command -v premake5 >/dev/null 2>&1; then premake5 --os=windows gmake >/dev/null
    else premake4 --file=premake5.lua --os=windows gmake >/dev/null; fi
    make -C build/mingw config=release CC=x86_64-w64-mingw32-gcc AR=x86_64-w64-mingw32-ar -j"$(nproc)" >/dev/null
}

action=${1:-run}
case "$action" in test | build | windows) WITH_WINDOWS=1 ;; *) WITH_WINDOWS= ;; esac
[ "${2:-}" = "--no-install" ] || install_deps
[ "$action" = install ] && [ -n "${2:-}" ] && [ "$2" != "--no-install" ] && set -- "$1" --no-install "$2"
case "$action" in
run)
    build release
    if [ "$(id -u)" = 0 ] && build/bin/release/etwlua --kill etwlua-quickstart-probe 2>&1 | grep -q "no session named"; then
        # the main job: a live session with the rule library, printing alerts;
        # two harmless commands that look like attacks run while it watches
        secs=${ETWLUA_SECONDS:-10}
        echo "build.sh: the main job: 'etwlua' live for ${secs}s (tracefs) with the rule library;"
        echo "build.sh: two harmless look-alikes run meanwhile: 'echo aWQ= | base64 -d | sh' and /bin/true run from /tmp"
        demo=$(mktemp -d)
        (sleep 2; sh -c 'echo aWQ= | base64 -d | sh' >/dev/null; cp /bin/true "$demo/true"; "$demo/true"; rm -rf "$demo") &
        exec build/bin/release/etwlua --duration "$secs"
    fi
    echo "build.sh: live tracing needs root and tracefs; replaying tests/data/events.jsonl instead"
    exec build/bin/release/etwlua -r tests/data/events.jsonl --dump --stats
    ;;
test)
    build release sanitize
    build_windows
    exec sh tests/run.sh
    ;;
build)
    build release debug sanitize
    build_windows
    ;;
windows)
    build release
    build_windows
    exec sh tests/sources/etw/run.sh
    ;;
install)
    build release
    prefix=${3:-${PREFIX:-/usr/local}}
    mkdir -p "$prefix/bin" "$prefix/share/etwlua"
    cp build/bin/release/etwlua "$prefix/bin/etwlua"
    rm -rf "$prefix/share/etwlua/lua"
    cp -R lua "$prefix/share/etwlua/lua"
    echo "build.sh: installed $prefix/bin/etwlua and $prefix/share/etwlua/lua (modules and the rule library in lua/rules)"
    ;;
*)
    echo "usage: scripts/build.sh run|test|build|windows|install [--no-install]" >&2
    exit 2
    ;;
esac
