/* sniff.c - see sniff.h */
#include "session/sniff.h"

#include <stdio.h>
#include <string.h>

etwl_sniff_kind etwl_sniff(const unsigned char *m, size_t n)
{
    size_t i;
    if (n >= 8 && memcmp(m, "ElfFile", 8) == 0) return ETWL_SNIFF_EVTX;
    if (n >= 2 && m[0] == 'P' && m[1] == 'K') return ETWL_SNIFF_ZIP;
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return ETWL_SNIFF_GZIP;
    /* text: JSON, whitespace, or a UTF-8 byte order mark first */
    if (n < ETWL_SNIFF_BYTES || m[0] == '{' || m[0] == ' ' || m[0] == '\n' || m[0] == '\r' || m[0] == '\t' ||
        (m[0] == 0xEF && m[1] == 0xBB))
        return ETWL_SNIFF_TEXT;
    for (i = 0; i < ETWL_SNIFF_BYTES; i++)
        if (m[i] < 0x09 || (m[i] > 0x0d && m[i] < 0x20)) return ETWL_SNIFF_BINARY;
    return ETWL_SNIFF_TEXT;
}

etwl_sniff_kind etwl_sniff_file(const char *path)
{
    unsigned char m[ETWL_SNIFF_BYTES];
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f) return ETWL_SNIFF_TEXT;
    n = fread(m, 1, sizeof m, f);
    fclose(f);
    return etwl_sniff(m, n);
}
