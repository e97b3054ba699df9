#!/usr/bin/env python3
"""tests/fuzz/evtx_seeds.py SRC OUT - seeds for fuzz_evtx: the first chunk
that holds records of each .evtx under SRC, and a cut-short copy of it."""
import os, sys
src, out = sys.argv[1], sys.argv[2]
n = 0
for root, _, files in sorted(os.walk(src)):
    for f in sorted(files):
        if f.lower().endswith(".evtx") and n < 64:
            d = open(os.path.join(root, f), "rb").read()
            c = d[4096:4096 + 65536]
            if c[:8] == b"ElfChnk\0":
                open(os.path.join(out, "seed%03d" % n), "wb").write(c)
                open(os.path.join(out, "cut%03d" % n), "wb").write(c[:len(c) // 3])
                n += 1
