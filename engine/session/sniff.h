/* sniff.h - what a recording is, from its first bytes.
 *
 * The one recogniser: the session layer hands its verdict to every source's
 * probe to pick the reader (EVTX files announce themselves), and the
 * JSON-lines reader uses it to refuse, by name, formats it does not read
 * instead of reporting every line as bad JSON. */
#ifndef ETWL_SNIFF_H
#define ETWL_SNIFF_H

#include <stddef.h>

typedef enum etwl_sniff_kind {
    ETWL_SNIFF_TEXT = 0, /* JSON lines, or too short to tell */
    ETWL_SNIFF_EVTX,     /* "ElfFile\0" */
    ETWL_SNIFF_ZIP,      /* "PK" */
    ETWL_SNIFF_GZIP,     /* 1f 8b */
    ETWL_SNIFF_BINARY    /* control bytes no JSON text starts with (ETL buffers) */
} etwl_sniff_kind;

#define ETWL_SNIFF_BYTES 8

/* m holds the first n bytes of the input (n may be less than 8). */
etwl_sniff_kind etwl_sniff(const unsigned char *m, size_t n);
/* The same for a regular file; ETWL_SNIFF_TEXT when it cannot be read
 * (the source that opens it says why). */
etwl_sniff_kind etwl_sniff_file(const char *path);

#endif
