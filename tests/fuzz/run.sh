#!/bin/sh
# tests/fuzz/run.sh [SECONDS] - builds the libFuzzer targets with clang
# (ASan+UBSan) and runs each for SECONDS (default 60).  Not part of CI's
# time budget; run it after changing the reader or the decoder.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
out=build/fuzz
mkdir -p "$out"
srcs="engine/util/arena.c engine/util/buf.c engine/session/config.c engine/core/decode.c engine/core/event.c
      engine/core/format.c engine/sources/jsonl/json_read.c engine/output/json_write.c engine/core/schema.c
      engine/core/status.c engine/output/text_write.c engine/util/utf.c"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iengine -Iengine/include $(pkg-config --cflags yajl)"
# the native EVTX reader's chunks and BinXml, seeded with chunks of the
# shared attack samples (when present) and the kept regressions
clang $flags -o "$out/fuzz_evtx" tests/fuzz/fuzz_evtx.c engine/sources/evtx/binxml.c engine/sources/evtx/evtxfile.c
mkdir -p "$out/corpus_evtx"
if [ -d ../shared/data/evtx-attack-samples ] && [ -z "$(ls "$out/corpus_evtx")" ]; then
    python3 tests/fuzz/evtx_seeds.py ../shared/data/evtx-attack-samples "$out/corpus_evtx"
fi
"$out/fuzz_evtx" -max_total_time="$secs" -max_len=65536 -timeout=10 "$out/corpus_evtx" tests/fuzz/regressions/evtx 2>&1 | tail -3
for t in json decode; do
    clang $flags -o "$out/fuzz_$t" tests/fuzz/fuzz_$t.c $srcs $(pkg-config --libs yajl)
    mkdir -p "$out/corpus_$t"
    [ $t = json ] && cp tests/data/*.jsonl "$out/corpus_$t/" 2>/dev/null || true
    "$out/fuzz_$t" -max_total_time="$secs" -max_len=4096 "$out/corpus_$t" 2>&1 | tail -3
done
