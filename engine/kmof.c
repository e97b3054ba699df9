/* kmof.c - see kmof.h.  Classes so far: Process (Process_V3/V4_TypeGroup1:
 * Start, End, DCStart, DCEnd, Defunct) and Image (Image_Load: Load, UnLoad,
 * DCStart, DCEnd).  The process table reads the Process fields by these
 * names, as it does from TDH on Windows. */
#include "kmof.h"

#include <string.h>

static const etwl_guid process_class = {0x3d6fa8d0, 0xfe05, 0x11d0, {0x9d, 0xda, 0x00, 0xc0, 0x4f, 0xd7, 0xba, 0x7c}};
static const etwl_guid image_class = {0x2cb15d1d, 0x5fc1, 0x11d2, {0xab, 0xe1, 0x00, 0xa0, 0xc9, 0x11, 0xf5, 0x18}};

static uint16_t ptr_type(unsigned ptr) { return ptr == 4 ? ETWL_IN_HEXINT32 : ETWL_IN_HEXINT64; }

static etwl_status process(uint8_t version, unsigned ptr, etwl_schema **out)
{
    etwl_schema_builder *b;
    etwl_status st;
    if (version < 3 || version > 4) return ETWL_ENOTFOUND;
    if (!(b = etwl_sb_new())) return ETWL_ENOMEM;
    etwl_sb_add(b, -1, "UniqueProcessKey", ptr_type(ptr), 0);
    etwl_sb_add(b, -1, "ProcessId", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "ParentId", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "SessionId", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "ExitStatus", ETWL_IN_INT32, 0);
    etwl_sb_add(b, -1, "DirectoryTableBase", ptr_type(ptr), 0);
    if (version >= 4) etwl_sb_add(b, -1, "Flags", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "UserSID", ETWL_IN_WBEMSID, 0);
    etwl_sb_add(b, -1, "ImageFileName", ETWL_IN_ANSISTRING, 0);
    etwl_sb_add(b, -1, "CommandLine", ETWL_IN_UNICODESTRING, 0);
    if (version >= 4) {
        etwl_sb_add(b, -1, "PackageFullName", ETWL_IN_UNICODESTRING, 0);
        etwl_sb_add(b, -1, "ApplicationId", ETWL_IN_UNICODESTRING, 0);
    }
    st = etwl_sb_build(b, out, NULL);
    etwl_sb_free(b);
    return st;
}

static etwl_status image(uint8_t version, unsigned ptr, etwl_schema **out)
{
    etwl_schema_builder *b;
    etwl_status st;
    if (version < 2 || version > 3) return ETWL_ENOTFOUND;
    if (!(b = etwl_sb_new())) return ETWL_ENOMEM;
    etwl_sb_add(b, -1, "ImageBase", ptr_type(ptr), 0);
    etwl_sb_add(b, -1, "ImageSize", ptr_type(ptr), 0);
    etwl_sb_add(b, -1, "ProcessId", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "ImageCheckSum", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "TimeDateStamp", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "Reserved0", ETWL_IN_UINT32, 0); /* v3: SignatureLevel, SignatureType, 16 bits reserved */
    etwl_sb_add(b, -1, "DefaultBase", ptr_type(ptr), 0);
    etwl_sb_add(b, -1, "Reserved1", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "Reserved2", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "Reserved3", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "Reserved4", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "FileName", ETWL_IN_UNICODESTRING, 0);
    st = etwl_sb_build(b, out, NULL);
    etwl_sb_free(b);
    return st;
}

etwl_status etwl_kmof_schema(const etwl_guid *cls, uint8_t opcode, uint8_t version, unsigned ptrsize,
                             etwl_schema **out)
{
    *out = NULL;
    if (etwl_guid_equal(cls, &process_class) && (opcode == 1 || opcode == 2 || opcode == 3 || opcode == 4 || opcode == 39))
        return process(version, ptrsize, out);
    if (etwl_guid_equal(cls, &image_class) && (opcode == 2 || opcode == 3 || opcode == 4 || opcode == 10))
        return image(version, ptrsize, out);
    return ETWL_ENOTFOUND;
}
