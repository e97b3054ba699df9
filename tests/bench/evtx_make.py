#!/usr/bin/env python3
"""tests/bench/evtx_make.py OUT SRC_DIR [CHUNKS] [MIN_RECORDS] - a large EVTX
file for the benchmark: the chunks of every .evtx under SRC_DIR that hold
records (at least MIN_RECORDS, by the chunk header's record numbers),
looped until CHUNKS chunks (default 4000, 262 MB), behind a file header
whose counts and checksum say so (libevtx and evtxexport read it too)."""
import os, struct, sys, zlib

out, src = sys.argv[1], sys.argv[2]
want = int(sys.argv[3]) if len(sys.argv) > 3 else 4000
least = int(sys.argv[4]) if len(sys.argv) > 4 else 1
chunks = []
for root, _, files in sorted(os.walk(src)):
    for f in sorted(files):
        if not f.lower().endswith(".evtx"):
            continue
        data = open(os.path.join(root, f), "rb").read()
        for off in range(4096, len(data) - 65535, 65536):
            c = data[off:off + 65536]
            first, last = struct.unpack_from("<QQ", c, 8)
            if c[:8] == b"ElfChnk\0" and c[512:516] == b"**\0\0" and last - first + 1 >= least:
                chunks.append(c)
if not chunks:
    sys.exit("no chunks with records under " + src)
want = min(want, 65535)  # the header counts chunks in 16 bits
hdr = bytearray(4096)
hdr[0:8] = b"ElfFile\0"
struct.pack_into("<QQQIHHHH", hdr, 8, 0, want - 1, 1, 128, 2, 3, 4096, want)
struct.pack_into("<I", hdr, 120, 0)
struct.pack_into("<I", hdr, 124, zlib.crc32(bytes(hdr[:120])))
with open(out, "wb") as o:
    o.write(hdr)
    for i in range(want):
        o.write(chunks[i % len(chunks)])
