#!/usr/bin/env python3
"""tests/etl/synth.py OUT - writes a small ETL file laid out by hand from the
documented structures, for header kinds the sample traces do not have:
an instance header (EVENT_INSTANCE_GUID_HEADER: a full header, then
InstanceId, ParentInstanceId and the parent's class GUID) in 64 and 32 bits,
each followed by a classic full-header event."""
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


events = b""
events += full(21, 1, 1000, b"payload!", struct.pack("<II16s", 7, 3, PARENT))   # instance, 64-bit
events += full(11, 2, 1001, b"tail", struct.pack("<II16s", 8, 7, PARENT))       # instance, 32-bit
events += full(20, 3, 1002, b"plain")                                             # full, 64-bit
size = 4096
used = 0x48 + len(events)
hdr = bytearray(0x48)
struct.pack_into("<III", hdr, 0, size, used, used)
body = bytes(hdr) + events
body += b"\xff" * (size - len(body))
open(sys.argv[1], "wb").write(body)
