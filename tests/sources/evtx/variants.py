#!/usr/bin/env python3
"""tests/sources/evtx/variants.py SRC_DIR OUT_DIR [CHUNK_DIR...] - hostile
variants of the EVTX files in SRC_DIR (evtx_synth.py's), for the reader to
read or reject cleanly:

  OUT_DIR/cut/     each file cut short at many points
  OUT_DIR/flip/    one byte changed at many points (checksums left stale:
                   damaged chunks, read by recovery)
  OUT_DIR/fixed/   the same with the chunk checksums made right again, so
                   the reader trusts the structure and parses the damage
  OUT_DIR/chunks/  each file of CHUNK_DIRs (fuzz_evtx's inputs: one chunk,
                   as tests/fuzz/corpus/evtx and regressions/evtx keep them)
                   behind a file header, padded to a whole chunk

Deterministic: the same variants on every run.  Prints the counts."""
import os
import random
import struct
import sys
import zlib


def fix_crcs(b):
    """Recomputes the checksums of every chunk (and the file header)."""
    b = bytearray(b)
    struct.pack_into("<I", b, 124, zlib.crc32(bytes(b[:120])))
    for at in range(4096, len(b) - 511, 65536):
        if b[at:at + 8] != b"ElfChnk\x00":
            continue
        c = b[at:at + 65536]
        fso = struct.unpack_from("<I", c, 48)[0]
        if 512 <= fso <= len(c):
            struct.pack_into("<I", b, at + 52, zlib.crc32(bytes(c[512:fso])))
        c = b[at:at + 512]  # the header holds the records' checksum
        struct.pack_into("<I", b, at + 124, zlib.crc32(bytes(c[:120]) + bytes(c[128:512])))
    return bytes(b)


def used_ranges(b):
    """(start, end) of the bytes each chunk uses, header included."""
    out = []
    for at in range(4096, len(b) - 511, 65536):
        fso = struct.unpack_from("<I", b, at + 48)[0]
        out.append((at, at + min(max(fso, 512), 65536)))
    return out


def header(nchunks):
    h = bytearray(4096)
    h[0:8] = b"ElfFile\x00"
    struct.pack_into("<QQQIHHHH", h, 8, 0, max(nchunks - 1, 0), 1, 128, 2, 3, 4096, nchunks)
    struct.pack_into("<I", h, 124, zlib.crc32(bytes(h[:120])))
    return bytes(h)


def main():
    src, out = sys.argv[1], sys.argv[2]
    rnd = random.Random(14)
    counts = {}
    for d in ("cut", "flip", "fixed", "chunks"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
        counts[d] = 0

    def write(kind, name, data):
        with open(os.path.join(out, kind, name + ".evtx"), "wb") as f:
            f.write(data)
        counts[kind] += 1

    for f in sorted(os.listdir(src)):
        if not f.endswith(".evtx"):
            continue
        b = open(os.path.join(src, f), "rb").read()
        base = f[:-5]
        ranges = used_ranges(b)
        # cut: inside the file header, at each chunk's start and header, and
        # every 97 bytes through the records (records, values, names and
        # templates cut mid-way)
        cuts = {0, 8, 127, 4095, 4096, 4096 + 300}
        for s, e in ranges:
            cuts.update({s, s + 511, s + 512})
            cuts.update(range(s + 520, e, 97))
        for n in sorted(cuts):
            write("cut", "%s-cut%d" % (base, n), b[:n])
        # flip: bytes through the used part of each chunk, changed to 0x00,
        # 0xFF or a bit flipped
        for s, e in ranges:
            for at in sorted(rnd.sample(range(s, e), min(120, e - s))):
                v = bytearray(b)
                choices = [x for x in (0x00, 0xFF, v[at] ^ (1 << rnd.randrange(8))) if x != v[at]]
                v[at] = rnd.choice(choices)
                write("flip", "%s-flip%d" % (base, at), bytes(v))
                write("fixed", "%s-fixed%d" % (base, at), fix_crcs(v))
    for d in sys.argv[3:]:
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            c = open(os.path.join(d, f), "rb").read()[:65536]
            write("chunks", "%s-%s" % (os.path.basename(os.path.normpath(d)), f), header(1) + c + bytes(65536 - len(c)))
    print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))


if __name__ == "__main__":
    main()
