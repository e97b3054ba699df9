#!/usr/bin/env python3
"""tests/cli/evtx_small.py DIR [FILES] - a hand-made folder of small .evtx
files for the folder tests when ../shared is absent: FILES files (default
4), one chunk each, whose records are plain BinXml (inline names, text
values, no templates) with correct checksums.  Each file is one host's
capture: Sysmon process starts (event 1) whose parents are started in the
same file, and, in every file but the first, one start whose parent pid was
started only in the file before: a folder replay that kept one process
table would explain it with the other capture's process."""
import os, struct, sys, zlib

out = sys.argv[1]
nfiles = int(sys.argv[2]) if len(sys.argv) > 2 else 4
os.makedirs(out, exist_ok=True)


class Chunk:
    def __init__(self):
        self.b = bytearray(65536)
        self.pos = 512

    def put(self, data):
        self.b[self.pos:self.pos + len(data)] = data
        self.pos += len(data)

    def u8(self, v): self.put(struct.pack("<B", v))
    def u16(self, v): self.put(struct.pack("<H", v))
    def u32(self, v): self.put(struct.pack("<I", v))

    def name(self, s):  # a name reference with the name defined right here
        self.u32(self.pos + 4)
        self.u32(0)
        self.u16(0)
        self.u16(len(s))
        self.put(s.encode("utf-16-le"))
        self.u16(0)

    def text(self, s):
        self.u8(0x05)
        self.u8(0x01)
        self.u16(len(s))
        self.put(s.encode("utf-16-le"))

    def element(self, el, attrs=(), text=None, children=()):
        self.u8(0x41 if attrs else 0x01)
        self.u16(0xFFFF)
        self.u32(0)
        self.name(el)
        if attrs:
            self.u32(0)
            for i, (k, v) in enumerate(attrs):
                self.u8(0x46 if i + 1 < len(attrs) else 0x06)
                self.name(k)
                self.text(v)
        if text is None and not children:
            self.u8(0x03)  # empty element
            return
        self.u8(0x02)
        if text is not None:
            self.text(text)
        for c in children:
            self.element(*c)
        self.u8(0x04)


FT0 = 133541070720000000  # 2024-03-05T10:00:00Z as FILETIME


def record(ch, rid, ts, host, pid, ppid, image, parent_image):
    start = ch.pos
    ch.u32(0x2A2A)
    ch.u32(0)  # size, below
    ch.put(struct.pack("<QQ", rid, ts))
    ch.put(b"\x0f\x01\x01\x00")  # fragment header
    t = "2024-03-05T10:%02d:%02d.0000000Z" % (rid // 60 % 60, rid % 60)
    data = [("Data", [("Name", "UtcTime")], t), ("Data", [("Name", "ProcessId")], str(pid)),
            ("Data", [("Name", "Image")], image), ("Data", [("Name", "CommandLine")], image + " /run"),
            ("Data", [("Name", "User")], "LAB\\alice"), ("Data", [("Name", "ParentProcessId")], str(ppid))]
    if parent_image:
        data.append(("Data", [("Name", "ParentImage")], parent_image))
    ch.element("Event", (), None, [
        ("System", (), None, [
            ("Provider", [("Name", "Microsoft-Windows-Sysmon"), ("Guid", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}")]),
            ("EventID", (), "1"),
            ("TimeCreated", [("SystemTime", t)]),
            ("EventRecordID", (), str(rid)),
            ("Execution", [("ProcessID", "2000"), ("ThreadID", "2001")]),
            ("Channel", (), "Microsoft-Windows-Sysmon/Operational"),
            ("Computer", (), host),
        ]),
        ("EventData", (), None, data),
    ])
    ch.u8(0x00)  # end of the fragment stream
    while (ch.pos - start + 4) % 8:
        ch.u8(0)
    ch.u32(0)
    size = ch.pos - start
    struct.pack_into("<I", ch.b, start + 4, size)
    struct.pack_into("<I", ch.b, ch.pos - 4, size)


for f in range(nfiles):
    host = "HOST%d" % (f // 2)  # two files per host: the per-file reset is what keeps them apart
    ch = Chunk()
    recs = []
    base = 1000 * (f + 1)
    # a chain started in this file: explorer -> cmd -> whoami
    recs.append((base + 1, 4, "C:\\Windows\\explorer.exe", None))
    recs.append((base + 2, base + 1, "C:\\Windows\\System32\\cmd.exe", None))
    recs.append((base + 3, base + 2, "C:\\Windows\\System32\\whoami.exe", None))
    if f > 0:
        # its parent was started in the file before, on the same pid: only
        # a table kept across files would name it
        recs.append((base + 4, 1000 * f + 2, "C:\\Windows\\System32\\net.exe", None))
    rid = 1
    for pid, ppid, image, pimg in recs:
        record(ch, rid, FT0 + (f * 100 + rid) * 10000000, host, pid, ppid, image, pimg)
        rid += 1
    b = ch.b
    b[0:8] = b"ElfChnk\0"
    struct.pack_into("<QQQQ", b, 8, 1, rid - 1, 1, rid - 1)
    struct.pack_into("<III", b, 40, 128, 512, ch.pos)
    struct.pack_into("<I", b, 52, zlib.crc32(bytes(b[512:ch.pos])))
    struct.pack_into("<I", b, 124, zlib.crc32(bytes(b[0:120]) + bytes(b[128:512])))
    hdr = bytearray(4096)
    hdr[0:8] = b"ElfFile\0"
    struct.pack_into("<QQQIHHHH", hdr, 8, 0, 0, rid, 128, 2, 3, 4096, 1)
    struct.pack_into("<I", hdr, 124, zlib.crc32(bytes(hdr[:120])))
    with open(os.path.join(out, "capture%d.evtx" % f), "wb") as o:
        o.write(hdr)
        o.write(bytes(b))
