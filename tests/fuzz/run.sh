#!/bin/sh
# tests/fuzz/run.sh [SECONDS [TARGET...]] - builds the libFuzzer targets with
# clang (ASan+UBSan) and runs each for SECONDS (default 60), one after the
# other.  Targets: evtx json decode etl lua (default: all).  Not part of CI's
# time budget; run it after changing a reader, the decoder or the Lua API.
# Each run's log is build/fuzz/logs/TARGET.log; a finding is written as
# build/fuzz/crash-*, and the script exits non-zero.
#
# The EVTX corpus kept in the tree is the fuzzer's corpus minimised, with
# no input from ../shared (the samples may not be copied into the tree):
#   FUZZ_EVTX_SYNTH_ONLY=1 sh tests/fuzz/run.sh 300 evtx
#   build/fuzz/fuzz_evtx -merge=1 -max_len=131072 tests/fuzz/corpus/evtx build/fuzz/corpus_evtx_synth
# (tests/sources/evtx/synth.sh replays it, and the regressions, in CI).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-evtx json decode etl lua}
root=$(pwd)
out=build/fuzz
mkdir -p "$out/logs"
srcs="engine/util/arena.c engine/util/buf.c engine/session/config.c engine/core/decode.c engine/core/event.c
      engine/core/format.c engine/sources/jsonl/json_read.c engine/output/json_write.c engine/core/schema.c
      engine/core/status.c engine/output/text_write.c engine/util/utf.c engine/core/valuemap.c"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iengine -Iengine/include $(pkg-config --cflags yajl)"
# the whole engine (as premake5.lua's etwl project on Linux: no CLI, no
# libtraceevent printer) for the targets that go through the session API or
# the Lua host; an archive, so each target links only what it uses
deps="lua5.4 lua5.4-lpeg yajl libevtx expat libzip zlib libcurl rdkafka yaml-0.1 libpcre2-8 libtracefs libtraceevent libdeflate"
engine_lib() {
    eflags="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -Iengine -Iengine/include
            -D_GNU_SOURCE -DETWL_HAVE_EVTX -DETWL_HAVE_ZIP -DETWL_HAVE_EXPAT -DETWL_HAVE_SIGMA -DETWL_HAVE_LIVE -DETWL_HAVE_DEFLATE
            $(pkg-config --cflags $deps)"
    newest=$(ls -t $(find engine -name '*.h') | head -1)
    objs=""
    for c in $(find engine -name '*.c' ! -path 'engine/cli/*' ! -path 'engine/output/traceevent/*' \
        ! -path 'engine/platform/win/*' ! -path 'engine/sources/etw/*' | sort); do
        o="$out/obj/$(echo "$c" | tr / _ | sed 's/\.c$/.o/')"
        mkdir -p "$out/obj"
        # a hostile compressed ETL buffer may expand to the reader's bound
        # (64 MiB): tracing every comparison of the LZ77 loop took 60% of
        # fuzz_etl's time, and its few branches need no comparison hints
        extra=""
        [ "$c" = engine/sources/etl/lz77.c ] && extra="-fno-sanitize-coverage=trace-cmp"
        if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ "$newest" -nt "$o" ] || [ -n "$extra" ]; then
            clang $eflags $extra -c -o "$o" "$c"
        fi
        objs="$objs $o"
    done
    rm -f "$out/libetwl_fuzz.a"
    ar rcs "$out/libetwl_fuzz.a" $objs
}
# one target: builds it, runs it for $secs with its corpus and kept
# regressions; the figures are libFuzzer's final stats in its log
run() {
    t=$1
    shift
    corpus=${CORPUS:-$out/corpus_$t}
    mkdir -p "$corpus" "tests/fuzz/regressions/$t"
    log="$out/logs/$t.log"
    if ! "$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/" "$@" \
        "$corpus" "tests/fuzz/regressions/$t" >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz_$t: FINDING (see $log)"
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | tr '\n' ' '
    echo "corpus: $(ls "$corpus" | wc -l) files; fuzz_$t: no finding in ${secs}s"
}
for t in $targets; do
    case $t in
    evtx)
        # the native EVTX reader through the session API (a chunk behind a
        # file header); seeds: the committed corpus (tests/fuzz/corpus/evtx,
        # built from evtx_synth.py's files: the shared samples may not be
        # copied into the tree), evtx_synth.py's chunks, and the first
        # chunks of the shared attack samples when present (in build/ only)
        engine_lib
        clang $flags -o "$out/fuzz_evtx" tests/fuzz/fuzz_evtx.c "$out/libetwl_fuzz.a" $(pkg-config --libs $deps) -lm -lpthread
        CORPUS=$out/corpus_evtx
        [ -n "${FUZZ_EVTX_SYNTH_ONLY:-}" ] && CORPUS=$out/corpus_evtx_synth
        mkdir -p "$CORPUS"
        python3 tests/fuzz/evtx_synth.py "$out/synth_evtx" --chunks "$CORPUS"
        cp tests/fuzz/corpus/evtx/* "$CORPUS/" 2>/dev/null || true
        if [ -z "${FUZZ_EVTX_SYNTH_ONLY:-}" ] && [ -d ../shared/data/evtx-attack-samples ] &&
            [ -z "$(ls "$CORPUS" | grep '^seed')" ]; then
            python3 tests/fuzz/evtx_seeds.py ../shared/data/evtx-attack-samples "$CORPUS"
        fi
        run evtx -max_len=131072 -timeout=10
        CORPUS=
        ;;
    json | decode)
        clang $flags -o "$out/fuzz_$t" tests/fuzz/fuzz_$t.c $srcs $(pkg-config --libs yajl)
        mkdir -p "$out/corpus_$t"
        [ $t = json ] && cp tests/data/*.jsonl "$out/corpus_$t/" 2>/dev/null || true
        run $t -max_len=4096
        ;;
    etl)
        # the native ETL reader through the session API, seeded with the
        # hand-made files of synth.py and the first buffers of the shared
        # traces (when present)
        engine_lib
        clang $flags -o "$out/fuzz_etl" tests/fuzz/fuzz_etl.c "$out/libetwl_fuzz.a" $(pkg-config --libs $deps) -lm -lpthread
        mkdir -p "$out/corpus_etl"
        if [ -z "$(ls "$out/corpus_etl")" ]; then
            python3 tests/fuzz/etl_seeds.py "$out/corpus_etl" $(ls ../shared/data/etl/*.etl 2>/dev/null || true)
        fi
        run etl -max_len=131072 -timeout=10
        ;;
    lua)
        # random scripts over random events with the sandbox on, seeded
        # with the hand-written scripts of tests/fuzz/seeds/lua
        engine_lib
        clang $flags -DFUZZ_LUA_DIR="\"$root/lua\"" -o "$out/fuzz_lua" tests/fuzz/fuzz_lua.c "$out/libetwl_fuzz.a" \
            $(pkg-config --libs $deps) -lm -lpthread
        mkdir -p "$out/corpus_lua"
        cp tests/fuzz/seeds/lua/* "$out/corpus_lua/"
        run lua -max_len=8192 -timeout=10 -dict=tests/fuzz/lua.dict
        ;;
    *)
        echo "run.sh: unknown target '$t' (known: evtx json decode etl lua)" >&2
        exit 2
        ;;
    esac
done
