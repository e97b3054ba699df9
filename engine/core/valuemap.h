/* valuemap.h - ETW value maps and bitmaps (EVENT_MAP_INFO), read portably.
 *
 * A property whose schema names a map is delivered as its number; the name
 * is looked up only when asked for (etwl_event_prop_map_name), through the
 * resolver its source installed on the event: TdhGetEventMapInformation on
 * Windows, once per (provider, map) and cached. */
#ifndef ETWL_VALUEMAP_H
#define ETWL_VALUEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "etwl.h"

typedef struct etwl_map_entry {
    uint32_t value;
    char *name; /* UTF-8, trailing blanks trimmed */
} etwl_map_entry;

typedef struct etwl_valuemap {
    int bitmap; /* a value is an OR of entries: their names joined by '|' */
    uint32_t n;
    etwl_map_entry *e;
} etwl_valuemap;

/* Converts an EVENT_MAP_INFO buffer of n bytes (untrusted: every offset is
 * checked).  Pattern maps and string-keyed maps give ETWL_ENOTSUP. */
etwl_status etwl_valuemap_from_emi(const uint8_t *b, size_t n, etwl_valuemap **out, etwl_error *err);
void etwl_valuemap_free(etwl_valuemap *m);
/* The name of v, written into buf (NUL-terminated); its length, or 0 when
 * the map has no name for v.  Bitmap bits no entry names show as 0x... */
size_t etwl_valuemap_name(const etwl_valuemap *m, uint64_t v, char *buf, size_t n);

#endif
