#!/usr/bin/env python3
"""tests/sources/etl/synth.py OUT [cycles32] - writes a small ETL file laid out by
hand from the documented structures, for what the sample traces do not have.

Default: instance headers (EVENT_INSTANCE_GUID_HEADER: a full header, then
InstanceId, ParentInstanceId and the parent's class GUID) in 64 and 32 bits,
a classic full-header event, and two TraceMessage (WPP) events laid out as
the TraceMessage documentation orders them: Size, header type 15, flags,
MessageNumber, MessageFlags, then sequence number, class GUID (or component
id), time stamp, thread and process ids, and the arguments.

cycles32: a 32-bit kernel trace whose clock is the CPU cycle counter: a
TRACE_LOGFILE_HEADER (1000 MHz, ReservedFlags 3, start 2020-01-01) and a
Process DCStart v3 record 2.5e9 cycles later.

system32: the same on the system-time clock (ReservedFlags 2): timestamps
are FILETIMEs already; the record is stamped 2020-01-01T00:00:05Z."""
import struct, sys, uuid

CLS = uuid.UUID("3a1f0d8c-0d3b-4f5e-9c11-2b7e6a3c9d01").bytes_le
PARENT = uuid.UUID("b1c2d3e4-0001-0002-0003-000000000004").bytes_le


def full(kind, opcode, ts, payload, tail=b""):
    # Size, HeaderType, MarkerFlags (0x80: a trace header), Class (Type,
    # Level, Version), ThreadId, ProcessId, TimeStamp, Guid, Kernel/UserTime
    hdr = 48 + len(tail)
    size = hdr + len(payload)
    e = struct.pack("<HBBBBHIIq16sII", size, kind, 0x80, opcode, 4, 0, 100, 200, ts, CLS, 1, 2) + tail + payload
    return e + b"\0" * (-len(e) % 8)


WPPCLASS = uuid.UUID("c0ffee00-1111-2222-3333-444455556666").bytes_le


def message(number, flags, ts, args):
    opt = b""
    if flags & 1:
        opt += struct.pack("<I", 77)                 # sequence number
    if flags & 2:
        opt += WPPCLASS                               # class GUID
    elif flags & 4:
        opt += struct.pack("<I", 0x1234)              # component id
    if flags & 8:
        opt += struct.pack("<q", ts)
    if flags & 32:
        opt += struct.pack("<II", 300, 400)           # thread, process
    size = 8 + len(opt) + len(args)
    e = struct.pack("<HBBHH", size, 15, 0xC0, number, flags) + opt + args
    return e + b"\0" * (-len(e) % 8)


def system32(hook, ts, payload, version=0):
    # SYSTEM_TRACE_HEADER, 32-bit: Version, HeaderType 1, MarkerFlags, Size,
    # HookId, ThreadId, ProcessId, SystemTime, KernelTime, UserTime
    e = struct.pack("<HBBHHIIqII", version, 1, 0x80, 32 + len(payload), hook, 4, 4, ts, 0, 0) + payload
    return e + b"\0" * (-len(e) % 8)


def cycles32(clock=3):
    lfh = bytearray(240 + 32)
    struct.pack_into("<IIII", lfh, 0, 65536, 0x05020000, 7600, 2)  # BufferSize, Version, ProviderVersion, CPUs
    struct.pack_into("<I", lfh, 52, 1000)                          # CpuSpeedInMHz
    start = 132223104000000000                                      # 2020-01-01T00:00:00Z
    struct.pack_into("<qqqI", lfh, 240, 0, 10000000, start, clock)  # BootTime, PerfFreq, StartTime, ReservedFlags
    lfh += b"\0" * 4                                               # empty LoggerName and LogFileName
    sid = struct.pack("<II", 0, 0) + bytes([1, 1, 0, 0, 0, 0, 0, 5]) + struct.pack("<I", 18)  # TOKEN_USER, S-1-5-18
    proc = struct.pack("<IIIIiI", 0x81234560, 4242, 4, 1, 259, 0x1aa000) + sid + b"evil.exe\0" + \
        "evil.exe -c \"x\"".encode("utf-16-le") + b"\0\0"
    if clock == 2:  # system time: raw stamps are FILETIMEs
        return system32(0x0000, start, bytes(lfh), 2) + system32(0x0303, start + 50000000, proc, 3)
    return system32(0x0000, 1000000, bytes(lfh), 2) + system32(0x0303, 1000000 + 2500000000, proc, 3)


events = b""
if len(sys.argv) > 2 and sys.argv[2] == "cycles32":
    events = cycles32()
elif len(sys.argv) > 2 and sys.argv[2] == "system32":
    events = cycles32(2)
else:
    events += full(21, 1, 1000, b"payload!", struct.pack("<II16s", 7, 3, PARENT))   # instance, 64-bit
    events += full(11, 2, 1001, b"tail", struct.pack("<II16s", 8, 7, PARENT))   # instance, 32-bit
    events += full(20, 3, 1002, b"plain")                                         # full, 64-bit
    events += message(12, 1 | 2 | 8 | 32, 1003, b"\x05\0\0\0hi\0")           # WPP: every field
    events += message(13, 4, 0, b"x")                                             # WPP: a component id only
size = 4096
used = 0x48 + len(events)
hdr = bytearray(0x48)
struct.pack_into("<III", hdr, 0, size, used, used)
body = bytes(hdr) + events
body += b"\xff" * (size - len(body))
open(sys.argv[1], "wb").write(body)
