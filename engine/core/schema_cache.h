/* schema_cache.h - schemas by event type, fetched once per type.
 *
 * Sources whose schemas are costly to get (TdhGetEventInformation, ETL
 * metadata) keep them here.  A type whose schema could not be had is
 * remembered too, so it is not asked for again on every event. */
#ifndef ETWL_SCHEMA_CACHE_H
#define ETWL_SCHEMA_CACHE_H

#include <stdint.h>

#include "core/schema.h"

typedef struct etwl_schema_key {
    etwl_guid provider; /* provider GUID, or for MOF events the event class GUID */
    uint16_t id;
    uint8_t version, opcode;
    /* TraceLogging events all share id 0: their own metadata tells them
     * apart, so its hash is part of the key (0 for other events) */
    uint64_t meta_hash;
} etwl_schema_key;

typedef struct etwl_schema_cache etwl_schema_cache;

/* max_entries bounds memory: when it is reached the cache starts over. */
etwl_status etwl_schema_cache_new(uint32_t max_entries, etwl_schema_cache **out);
void etwl_schema_cache_free(etwl_schema_cache *c);
/* 1 when the type is known (*out may be NULL: no schema to be had), 0 when
 * it is not cached. */
int etwl_schema_cache_get(const etwl_schema_cache *c, const etwl_schema_key *k, const etwl_schema **out);
/* Takes ownership of s (which may be NULL).  Schemas handed out before may
 * be freed when the cache starts over, so call this between events. */
etwl_status etwl_schema_cache_put(etwl_schema_cache *c, const etwl_schema_key *k, etwl_schema *s);
uint32_t etwl_schema_cache_count(const etwl_schema_cache *c);
/* How many times the cache was full and started over. */
uint32_t etwl_schema_cache_resets(const etwl_schema_cache *c);

uint64_t etwl_fnv64(const void *p, size_t n, uint64_t h);
#define ETWL_FNV64_INIT 0xcbf29ce484222325ull

#endif
