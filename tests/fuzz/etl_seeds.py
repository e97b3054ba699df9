#!/usr/bin/env python3
"""tests/fuzz/etl_seeds.py OUT [ETL...] - seeds for fuzz_etl: the small
hand-made files of tests/sources/etl/synth.py, and the first buffers (up to
128 KiB) of each given .etl, so that the fuzzer starts from real headers
and events without taking whole traces."""
import os, struct, subprocess, sys
out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
synth = os.path.join(here, "..", "sources", "etl", "synth.py")
for mode in ("", "cycles32", "system32"):
    subprocess.run([sys.executable, synth, os.path.join(out, "synth-" + (mode or "default"))] + ([mode] if mode else []),
                   check=True)
for path in sys.argv[2:]:
    d = open(path, "rb").read()
    off = n = 0
    while off + 8 <= len(d) and n < 2:  # BufferSize at offset 0 of each buffer
        size = struct.unpack_from("<I", d, off)[0]
        if size < 128 or off + size > 131072:
            break
        off += size
        n += 1
    if n:
        name = os.path.basename(path)
        open(os.path.join(out, name + ".first"), "wb").write(d[:off])
        open(os.path.join(out, name + ".cut"), "wb").write(d[:off // 2 + 13])
