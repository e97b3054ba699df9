/* instream.h - a recording read as one byte stream, whether it is a plain
 * file, the first .etl entry of a zip archive (libzip), or gzip (zlib):
 * compressed input is inflated as it is read, never unpacked to disk. */
#ifndef ETWL_INSTREAM_H
#define ETWL_INSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "etwl.h"

typedef struct etwl_instream etwl_instream;

etwl_status etwl_instream_open(const char *path, etwl_instream **out, etwl_error *err);
/* Reads up to n bytes: the count, 0 at the end, or -1 with err set. */
long etwl_instream_read(etwl_instream *s, void *buf, size_t n, etwl_error *err);
/* What messages call it: the path, or "archive.zip:entry.etl". */
const char *etwl_instream_name(const etwl_instream *s);
void etwl_instream_close(etwl_instream *s);

#endif
