#!/usr/bin/env python3
"""tests/sources/evtx/damage.py SRC OUTDIR - hand-made damaged EVTX files
from one healthy sample, for tests/sources/evtx/run.sh.  Writes each file
to OUTDIR and prints one line per file:

    NAME RECORDS MALFORMED WHAT

RECORDS is how many events the native reader must deliver ("N+": at
least N, where a damaged file's slack may hold more), MALFORMED how many
records it must report as unreadable, WHAT a phrase its diagnostics must
contain ("-" for none: the file must read without a word)."""
import os, struct, sys, zlib

src, out = sys.argv[1], sys.argv[2]
data = bytearray(open(src, "rb").read())
CH, HDR = 65536, 4096


def chunks(d):
    return [o for o in range(HDR, len(d) - CH + 1, CH) if d[o:o + 8] == b"ElfChnk\0"]


def records(d, o):
    """(offset in chunk, size) of each record of the chunk at o."""
    fso = struct.unpack_from("<I", d, o + 48)[0]
    r, off = [], 512
    while off + 28 <= fso and d[o + off:o + off + 4] == b"**\0\0":
        size = struct.unpack_from("<I", d, o + off + 4)[0]
        r.append((off, size))
        off += size
    return r


def fix_crcs(d, o):
    fso = struct.unpack_from("<I", d, o + 48)[0]
    struct.pack_into("<I", d, o + 52, zlib.crc32(bytes(d[o + 512:o + fso])))
    struct.pack_into("<I", d, o + 124, zlib.crc32(bytes(d[o:o + 120]) + bytes(d[o + 128:o + 512])))


cs = chunks(data)
total = sum(len(records(data, o)) for o in cs)
c0 = cs[0]
r0 = records(data, c0)


def emit(name, d, nrec, nbad, what):
    open(os.path.join(out, name + ".evtx"), "wb").write(d)
    print(name, nrec, nbad, what)


# a flipped bit in the file header's unused bytes: noted, nothing lost; the
# file counts as damaged (as libevtx has it), so slack records come too
d = bytearray(data)
d[100] ^= 0x01
emit("bad-file-header-checksum", d, "%d+" % total, 0, "file header checksum mismatch")

# a flipped bit in the chunk header's unused bytes: the header checksum
# fails, every record still reads
d = bytearray(data)
d[c0 + 60] ^= 0x01
emit("bad-header-checksum", d, "%d+" % total, 0, "chunk header checksum mismatch")

# a flipped byte inside the last record's string data: the records
# checksum fails; the record still parses (with one changed character)
d = bytearray(data)
off, size = r0[-1]
d[c0 + off + size - 16] ^= 0x01
emit("bad-data-checksum", d, "%d+" % total, 0, "chunk records checksum mismatch")

# the file cut in the middle of its last chunk's records: those before
# the cut are read
last = cs[-1]
rl = records(data, last)
cut = rl[len(rl) // 2][0] + 4  # inside the middle record
keep = sum(1 for o, s in rl if o + s <= cut)
emit("truncated-chunk", bytes(data[:last + cut]), "%d+" % (total - len(rl) + keep), 0, "chunk cut short")

# garbage in the slack after the first chunk's last record, checksums
# intact: slack is not read in a healthy chunk, so nothing changes
d = bytearray(data)
fso = struct.unpack_from("<I", d, c0 + 48)[0]
for i in range(fso, min(fso + 4096, CH)):
    d[c0 + i] = (i * 7 + 3) & 0xFF
emit("dirty-slack", d, total, 0, "-")

# the first chunk's free space offset moved back over its last two
# records (as a crash mid-write leaves it): they are in slack, the
# checksum disagrees, and they are recovered
d = bytearray(data)
struct.pack_into("<I", d, c0 + 48, r0[-2][0])
emit("records-in-slack", d, "%d+" % total, 0, "recovered from damaged or slack space")

# one record's BinXml broken (its template instance token made invalid),
# checksums fixed up: that record is reported and skipped, the rest read
d = bytearray(data)
off, size = r0[1]
assert d[c0 + off + 24] == 0x0F  # fragment header
d[c0 + off + 24 + 4] = 0xEE
fix_crcs(d, c0)
emit("bad-record", d, total - 1, 1, "offset %d" % off)
