/* tei.h - TRACE_EVENT_INFO blobs as engine schemas (portable). */
#ifndef ETWL_TEI_H
#define ETWL_TEI_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/* Converts a TRACE_EVENT_INFO buffer of n bytes.  Offsets, counts, struct
 * ranges and count/length references are all checked; a hostile blob gives
 * ETWL_ESCHEMA with the reason, never a read outside it. */
etwl_status etwl_tei_to_schema(const uint8_t *tei, size_t n, etwl_schema **out, etwl_error *err);

#endif
