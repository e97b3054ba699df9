#!/usr/bin/env python3
"""tests/fuzz/evtx_synth.py OUT_DIR [--chunks DIR] - small EVTX files made
here, byte by byte, for the tests and the fuzzer's seeds (the shared attack
samples may not be copied into the tree).

Writes OUT_DIR/synth-*.evtx: Sysmon- and Security-shaped records whose
System and EventData come from substitution values of every type (strings
with CR LF and non-ASCII text, ints of all sizes, hex, floats, bool,
binary, GUID, SID, FILETIME, SYSTEMTIME, size_t, ANSI, arrays), optional
values left out, names and templates defined once per chunk and then
referenced, UserData from BinXml inside a value (a template instance in a
value), classic <Data> arrays, CDATA, character and entity references, and
a file of three chunks.  Layout as evtxfile.c and binxml.c read it
(libyal's EVTX notes; [MS-EVEN6] BinXml).

With --chunks DIR it also writes each chunk, cut to its used bytes, as a
seed for fuzz_evtx (whose input is one chunk)."""
import os
import struct
import sys
import zlib

STRING, ANSI, INT8, UINT8, INT16, UINT16, INT32, UINT32 = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08
INT64, UINT64, REAL32, REAL64, BOOL, BINARY, GUID, SIZET = 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10
FILETIME, SYSTEMTIME, SID, HEX32, HEX64, BINXML, ARRAY = 0x11, 0x12, 0x13, 0x14, 0x15, 0x21, 0x80


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def utf16(s):
    return s.encode("utf-16-le")


class Chunk:
    """One 64 KB chunk being written: names and template definitions are
    written inline at first use and referenced by offset afterwards."""

    def __init__(self, first_id):
        self.b = bytearray(512)
        self.names = {}
        self.defs = {}
        self.first_id = first_id
        self.ids = []
        self.last_off = 0

    def pos(self):
        return len(self.b)

    def put(self, data):
        self.b += data

    def name(self, s):
        if s in self.names:
            self.put(u32(self.names[s]))
            return
        off = self.pos() + 4
        self.names[s] = off
        self.put(u32(off) + u32(0) + u16(sum(s.encode()) & 0xFFFF) + u16(len(s)) + utf16(s) + u16(0))

    # tokens of a template body (inside a template: with dependency ids)
    def open(self, name, attrs=(), dep=True):
        """An element's start; returns where its data size goes (patched by
        close(): libevtx checks it, the walk goes by tokens)."""
        self.put(bytes([0x41 if attrs else 0x01]))
        if dep:
            self.put(u16(0xFFFF))
        size_at = self.pos()
        self.put(u32(0))
        self.name(name)
        if attrs:
            list_at = self.pos()
            self.put(u32(0))  # attribute list size
            for i, (an, val) in enumerate(attrs):
                self.put(bytes([0x46 if i + 1 < len(attrs) else 0x06]))
                self.name(an)
                val(self)
            struct.pack_into("<I", self.b, list_at, self.pos() - list_at - 4)
        return size_at

    def close(self, size_at):
        struct.pack_into("<I", self.b, size_at, self.pos() - size_at - 4)

    def text(self, s):
        self.put(b"\x05\x01" + u16(len(s)) + utf16(s))

    def sub(self, idx, typ, optional=False):
        self.put(bytes([0x0E if optional else 0x0D]) + u16(idx) + bytes([typ]))

    def leaf(self, name, body, attrs=()):
        """<name attrs>body</name>"""
        at = self.open(name, attrs)
        self.put(b"\x02")
        body(self)
        self.put(b"\x04")
        self.close(at)

    def empty(self, name, attrs):
        at = self.open(name, attrs)
        self.put(b"\x03")
        self.close(at)

    def instance(self, key, guid, body, values):
        """A template instance: the definition inline the first time this
        chunk sees key, else a reference to it; then the values."""
        self.put(b"\x0c\x01" + u32(0x1234))
        if key in self.defs:
            self.put(u32(self.defs[key]))
        else:
            at = self.pos() + 4
            self.defs[key] = at
            self.put(u32(at) + u32(0) + guid)
            size_at = self.pos()
            self.put(u32(0) + b"\x0f\x01\x01\x00")
            body(self)
            self.put(b"\x00")
            struct.pack_into("<I", self.b, size_at, self.pos() - size_at - 4)
        self.put(u32(len(values)))
        for typ, data in values:
            self.put(u16(len(data)) + bytes([typ, 0]))
        for _, data in values:
            self.put(data)

    def record(self, written, fill):
        """A record: fragment header, fill(self) (a template instance),
        end of stream."""
        rid = self.first_id + len(self.ids)
        start = self.pos()
        self.put(b"**\x00\x00" + u32(0) + struct.pack("<QQ", rid, written) + b"\x0f\x01\x01\x00")
        fill(self)
        self.put(b"\x00")
        size = self.pos() - start + 4
        self.put(u32(size))
        struct.pack_into("<I", self.b, start + 4, size)
        self.ids.append(rid)
        self.last_off = start

    def finish(self):
        """The 64 KB chunk with its header and checksums, and its used size."""
        used = self.pos()
        assert used <= 65536, used
        b = self.b + bytes(65536 - used)
        b[0:8] = b"ElfChnk\x00"
        n = len(self.ids)
        struct.pack_into("<QQQQIII", b, 8, self.ids[0], self.ids[-1], self.ids[0], self.ids[-1], 128, self.last_off, used)
        struct.pack_into("<I", b, 52, zlib.crc32(bytes(b[512:used])))
        struct.pack_into("<I", b, 124, zlib.crc32(bytes(b[0:120]) + bytes(b[128:512])))
        assert n
        return bytes(b), used


def evtx_file(chunks):
    hdr = bytearray(4096)
    hdr[0:8] = b"ElfFile\x00"
    last_id = max(c.ids[-1] for c in chunks)
    struct.pack_into("<QQQIHHHH", hdr, 8, 0, len(chunks) - 1, last_id + 1, 128, 2, 3, 4096, len(chunks))
    struct.pack_into("<I", hdr, 124, zlib.crc32(bytes(hdr[:120])))
    return bytes(hdr) + b"".join(c.finish()[0] for c in chunks)


# ---- values -------------------------------------------------------------------------


def s16(s):
    return utf16(s) + u16(0)


def ft(n):
    return struct.pack("<Q", 132500000000000000 + n * 10000123)


def sid(*subs):
    return bytes([1, len(subs), 0, 0, 0, 0, 0, 5]) + b"".join(u32(s) for s in subs)


G_PROV = bytes.fromhex("5770385fc22a4f49b0b3a8ac3f1a2b3c")
G_ACT = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")


def system(c, channel_literal):
    """<System> of a manifest event: values 0-13."""

    def body(c):
        c.empty("Provider", [("Name", lambda c: c.sub(0, STRING)), ("Guid", lambda c: c.sub(1, GUID))])
        c.leaf("EventID", lambda c: c.sub(2, UINT16))
        c.leaf("Version", lambda c: c.sub(3, UINT8))
        c.leaf("Level", lambda c: c.sub(4, UINT8))
        c.leaf("Task", lambda c: c.sub(5, UINT16))
        c.leaf("Opcode", lambda c: c.sub(6, UINT8))
        c.leaf("Keywords", lambda c: c.sub(7, HEX64))
        c.empty("TimeCreated", [("SystemTime", lambda c: c.sub(8, FILETIME))])
        c.leaf("EventRecordID", lambda c: c.sub(9, UINT64))
        c.empty("Correlation", [("ActivityID", lambda c: c.sub(10, GUID, True))])
        c.empty("Execution", [("ProcessID", lambda c: c.sub(11, UINT32)), ("ThreadID", lambda c: c.sub(12, UINT32))])
        if channel_literal:
            c.leaf("Channel", lambda c: c.text("Microsoft-Windows-Sysmon/Operational"))
        else:
            c.leaf("Channel", lambda c: c.sub(14, STRING))
        c.leaf("Computer", lambda c: c.sub(15, STRING))
        c.empty("Security", [("UserID", lambda c: c.sub(13, SID, True))])

    c.leaf("System", body)


def system_values(provider, eid, rid, n, activity=True, user=True, channel="Security"):
    return [
        (STRING, s16(provider)),
        (GUID, G_PROV),
        (UINT16, u16(eid)),
        (UINT8, b"\x05"),
        (UINT8, b"\x04"),
        (UINT16, u16(eid % 7)),
        (UINT8, b"\x00"),
        (HEX64, struct.pack("<Q", 0x8000000000000000)),
        (FILETIME, ft(n)),
        (UINT64, struct.pack("<Q", rid)),
        (GUID, G_ACT if activity else b""),
        (UINT32, u32(1000 + 4 * n)),
        (UINT32, u32(2000 + n)),
        (SID, sid(21, 1004, 1234, 500) if user else b""),
        (STRING, s16(channel)),
        (STRING, s16("WS-%02d.example.test" % (n % 3))),
    ]


# property names renamed while a chunk is built: synth-reguid gives one
# template GUID two bodies of the same size in two chunks
RENAME = {}


def sysmon_process(c, rid, n):
    """Sysmon 1: named Data from values of many types."""
    fields = [
        ("RuleName", STRING), ("UtcTime", STRING), ("ProcessGuid", GUID), ("ProcessId", UINT32),
        ("Image", STRING), ("CommandLine", STRING), ("LogonId", HEX64), ("TerminalSessionId", UINT32),
        ("IntegrityLevel", STRING), ("ParentProcessId", UINT32), ("ParentImage", STRING),
        ("Elevated", BOOL), ("Score", REAL64), ("Delta", INT32), ("Small", INT8), ("Mid", INT16),
        ("Big", INT64), ("Count16", UINT16), ("Hash", BINARY), ("Flags", HEX32), ("When", SYSTEMTIME),
        ("Ptr", SIZET), ("Ansi", ANSI), ("Ratio", REAL32), ("Ids", ARRAY | UINT32), ("Cmd2", STRING),
    ]

    def inner(c):
        system(c, True)

        def ed(c):
            for i, (name, typ) in enumerate(fields):
                c.leaf("Data", lambda c, i=i, t=typ: c.sub(16 + i, t, True), [("Name", lambda c, nm=name: c.text(nm))])

        c.leaf("EventData", ed)

    def body(c):
        c.leaf("Event", inner, [("xmlns", lambda c: c.text("http://schemas.microsoft.com/win/2004/08/events/event"))])

    cmd = ['"C:\\Windows\\system32\\cmd.exe" /c whoami', "powershell -enc SQBFAFgA\r\nline two \u00e9\u4e2d",
           "C:\\x.exe \U0001F600 tab\there"][n % 3]
    vals = system_values("Microsoft-Windows-Sysmon", 1, rid, n, activity=n % 2 == 0, user=n % 3 != 2,
                         channel="ignored")
    vals += [
        (STRING, s16("-") if n % 2 else b""),  # an empty optional value
        (STRING, s16("2024-03-05 10:11:%02d.010" % n)),
        (GUID, G_ACT),
        (UINT32, u32(1000 + 4 * n)),
        (STRING, s16("C:\\Windows\\System32\\cmd.exe")),
        (STRING, s16(cmd)),
        (HEX64, struct.pack("<Q", 0x3e7 + n)),
        (UINT32, u32(1)),
        (STRING, s16("High")),
        (UINT32, u32(4)),
        (STRING, s16("C:\\Windows\\explorer.exe")),
        (BOOL, u32(n % 2)),
        (REAL64, struct.pack("<d", 3.25 + n)),
        (INT32, struct.pack("<i", -n - 1)),
        (INT8, struct.pack("<b", -7)),
        (INT16, struct.pack("<h", -300)),
        (INT64, struct.pack("<q", -(1 << 40))),
        (UINT16, u16(65535)),
        (BINARY, bytes(range(n, n + 6))),
        (HEX32, u32(0x1fffff)),
        (SYSTEMTIME, struct.pack("<8H", 2024, 3, 2, 5, 10, 11, 12, 345)),
        (SIZET, struct.pack("<Q", 0x7ff6a000 + n)),
        (ANSI, b"ansi text\x00"),
        (REAL32, struct.pack("<f", 0.5)),
        (ARRAY | UINT32, u32(1) + u32(2) + u32(3)),
        (STRING, s16("a &amp; b <x>")),
    ]
    c.instance("sysmon1", bytes(range(16)), body, vals)


def plain_start(c, rid, n):
    """A process start of plain values only (no arrays, no mixed text), so
    its records run a kept plan rather than a walk; its Data names can be
    renamed through RENAME."""
    fields = [("ProcessId", UINT32), ("Image", STRING), ("CommandLine", STRING), ("ParentProcessId", UINT32)]

    def inner(c):
        system(c, True)

        def ed(c):
            for i, (name, typ) in enumerate(fields):
                c.leaf("Data", lambda c, i=i, t=typ: c.sub(16 + i, t),
                       [("Name", lambda c, nm=RENAME.get(name, name): c.text(nm))])

        c.leaf("EventData", ed)

    def body(c):
        c.leaf("Event", inner)

    vals = system_values("Microsoft-Windows-Sysmon", 1, rid, n, activity=True, user=True, channel="ignored")
    vals += [(UINT32, u32(2000 + n)), (STRING, s16("C:\\Windows\\notepad.exe")),
             (STRING, s16("notepad.exe file%d.txt" % n)), (UINT32, u32(1000 + n))]
    c.instance("plain", bytes(range(80, 96)), body, vals)


def security_logon(c, rid, n):
    """Security 4624-shaped, with the Channel from a value, text mixing a
    literal with a value, CDATA, character and entity references."""
    fields = [("SubjectUserSid", SID), ("SubjectUserName", STRING), ("LogonType", UINT32),
              ("TargetLogonId", HEX64), ("IpAddress", STRING), ("ProcessId", HEX64)]

    def inner(c):
        system(c, False)

        def ed(c):
            for i, (name, typ) in enumerate(fields):
                c.leaf("Data", lambda c, i=i, t=typ: c.sub(16 + i, t), [("Name", lambda c, nm=name: c.text(nm))])
            # text made of a literal and a value, and the other text tokens
            c.leaf("Data", lambda c: (c.text("user="), c.sub(17, STRING)), [("Name", lambda c: c.text("Mixed"))])

            def refs(c):
                c.put(b"\x07" + u16(5) + utf16("a<b>c"))  # CDATA
                c.put(b"\x08" + u16(0xE9))  # character reference
                c.put(b"\x09")  # entity reference
                c.name("amp")
                c.text("end")

            c.leaf("Data", refs, [("Name", lambda c: c.text("Refs"))])
            c.leaf("Data", lambda c: c.sub(22, STRING, True))  # unnamed: Data1

        c.leaf("EventData", ed)

    def body(c):
        c.leaf("Event", inner)

    vals = system_values("Microsoft-Windows-Security-Auditing", 4624, rid, n)
    vals += [
        (SID, sid(18)),
        (STRING, s16("alice%d" % n)),
        (UINT32, u32(3 + n % 8)),
        (HEX64, struct.pack("<Q", 0x1a2b3c + n)),
        (STRING, s16("10.0.0.%d" % n)),
        (HEX64, struct.pack("<Q", 0x1a2c)),
        (STRING, s16("unnamed") if n % 2 else b""),
    ]
    c.instance("4624", bytes(range(16, 32)), body, vals)


def userdata(c, rid, n):
    """UserData from a BinXml value holding an instance of a second
    template (nested BinXml), as Windows writes e.g. 1102."""

    def outer_inner(c):
        system(c, False)
        c.leaf("UserData", lambda c: c.sub(16, BINXML))

    def outer(c):
        c.leaf("Event", outer_inner)

    def inner(c):
        def log(c):
            c.leaf("SubjectUserName", lambda c: c.sub(0, STRING))
            c.leaf("SubjectDomainName", lambda c: c.sub(1, STRING))
            c.leaf("ClientProcessId", lambda c: c.sub(2, UINT32))

        c.leaf("LogFileCleared", log, [("xmlns", lambda c: c.text("http://manifests.microsoft.com/win/2004/08"))])

    # the nested instance is written into the chunk where its value goes,
    # so its inline names and definition get offsets in this chunk
    vals = system_values("Microsoft-Windows-Eventlog", 1102, rid, n)
    c.put(b"\x0c\x01" + u32(0x1234))
    # the outer instance by hand: definition, values with the last (BinXml)
    # value's bytes written in place
    key = "1102"
    if key in c.defs:
        c.put(u32(c.defs[key]))
    else:
        at = c.pos() + 4
        c.defs[key] = at
        c.put(u32(at) + u32(0) + bytes(range(32, 48)))
        size_at = c.pos()
        c.put(u32(0) + b"\x0f\x01\x01\x00")
        outer(c)
        c.put(b"\x00")
        struct.pack_into("<I", c.b, size_at, c.pos() - size_at - 4)
    c.put(u32(len(vals) + 1))
    for typ, data in vals:
        c.put(u16(len(data)) + bytes([typ, 0]))
    desc_at = c.pos()
    c.put(u16(0) + bytes([BINXML, 0]))
    for _, data in vals:
        c.put(data)
    start = c.pos()
    c.put(b"\x0f\x01\x01\x00")
    c.instance("1102-inner", bytes(range(48, 64)), inner,
               [(STRING, s16("admin%d" % n)), (STRING, s16("CORP")), (UINT32, u32(512 + n))])
    c.put(b"\x00")
    struct.pack_into("<H", c.b, desc_at, c.pos() - start)


# classic(): the items of its <Data> array, by n (None: the usual ones)
ITEMS = None


def varied_items(n):
    """Items of two counts, their text changing from record to record (an
    empty one, line ends, non-ASCII): records after the first of a
    count take their items from a plan, not a walk."""
    return ["item %d" % n, "", "line\r\nend %d \u00e9\u20ac" % n, "x" * n][: 2 + n % 2]


def classic(c, rid, n):
    """A classic (pre-Vista) event: Provider by EventSourceName, EventID
    with a Qualifiers attribute, <Data> from a string array (one element a
    string), and Binary."""

    def inner(c):
        def sysb(c):
            c.empty("Provider", [("Name", lambda c: c.sub(0, STRING)), ("EventSourceName", lambda c: c.sub(0, STRING))])
            c.leaf("EventID", lambda c: c.sub(2, UINT16), [("Qualifiers", lambda c: c.sub(1, UINT16))])
            c.leaf("Level", lambda c: c.sub(3, UINT8))
            c.leaf("Task", lambda c: c.sub(4, UINT16))
            c.leaf("Keywords", lambda c: c.sub(5, HEX64))
            c.empty("TimeCreated", [("SystemTime", lambda c: c.sub(6, FILETIME))])
            c.leaf("EventRecordID", lambda c: c.sub(7, UINT64))
            c.leaf("Channel", lambda c: c.text("Application"))
            c.leaf("Computer", lambda c: c.sub(8, STRING))
            c.empty("Security", [])

        c.leaf("System", sysb)

        def ed(c):
            c.leaf("Data", lambda c: c.sub(9, ARRAY | STRING))
            c.leaf("Binary", lambda c: c.sub(10, BINARY, True))

        c.leaf("EventData", ed)

    def body(c):
        c.leaf("Event", inner)

    items = ITEMS(n) if ITEMS else ["first item", "", "third \u00fc item"][: 1 + n % 3]
    vals = [
        (STRING, s16("MsiInstaller")),
        (UINT16, u16(0)),
        (UINT16, u16(1040)),
        (UINT8, b"\x04"),
        (UINT16, u16(0)),
        (HEX64, struct.pack("<Q", 0x80000000000000)),
        (FILETIME, ft(n)),
        (UINT64, struct.pack("<Q", rid)),
        (STRING, s16("legacy-host")),
        (ARRAY | STRING, b"".join(s16(i) for i in items)),
        (BINARY, b"\x01\x02\xfe" if n % 2 else b""),
    ]
    c.instance("classic", bytes(range(64, 80)), body, vals)


def build(kinds, first_id, n0):
    c = Chunk(first_id)
    for i, k in enumerate(kinds):
        rid = first_id + i
        c.record(132500000000000000 + (n0 + i) * 10000000, lambda c, k=k, rid=rid, n=n0 + i: k(c, rid, n))
    return c


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    seeds = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--chunks" else None
    os.makedirs(out, exist_ok=True)
    files = {
        "synth-sysmon": [build([sysmon_process] * 4, 1, 0)],
        "synth-security": [build([security_logon, security_logon, userdata, security_logon, userdata], 100, 0)],
        "synth-classic": [build([classic] * 3, 200, 0)],
        "synth-mixed": [build([sysmon_process, security_logon, classic, userdata], 300, 5),
                        build([security_logon, sysmon_process, sysmon_process, classic], 304, 9),
                        build([userdata, classic, security_logon], 308, 13)],
    }
    # the same GUID and size, other contents: each chunk must be read with
    # its own template, not with a plan kept from the other
    first = build([plain_start] * 2, 400, 0)
    RENAME["CommandLine"] = "CommandLinX"
    files["synth-reguid"] = [first, build([plain_start] * 2, 402, 2)]
    RENAME.clear()
    global ITEMS
    ITEMS = varied_items
    files["synth-classic-plan"] = [build([classic] * 6, 500, 0), build([classic] * 3, 506, 7)]
    ITEMS = None
    for name, chunks in files.items():
        with open(os.path.join(out, name + ".evtx"), "wb") as f:
            f.write(evtx_file(chunks))
        if seeds:
            os.makedirs(seeds, exist_ok=True)
            for i, c in enumerate(chunks):
                data, used = c.finish()
                with open(os.path.join(seeds, "%s-%d" % (name, i)), "wb") as f:
                    f.write(data[:used])


if __name__ == "__main__":
    main()
