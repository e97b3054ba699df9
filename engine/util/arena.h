/* arena.h - per-event bump allocator.
 *
 * Everything an event owns (decoded values, copied strings, indexes) lives
 * in its arena, which is rewound when the source reuses the event for the
 * next record.  Chunks are kept across rewinds, so a steady stream of events
 * allocates nothing from malloc. */
#ifndef ETWL_ARENA_H
#define ETWL_ARENA_H

#include <stddef.h>

typedef struct etwl_arena_chunk etwl_arena_chunk;

typedef struct etwl_arena {
    etwl_arena_chunk *head; /* first chunk */
    etwl_arena_chunk *cur;  /* chunk being filled */
    size_t used;            /* bytes used in cur */
    size_t limit;           /* 0 = unlimited; else max bytes held in chunks */
    size_t held;            /* bytes held in chunks */
} etwl_arena;

void etwl_arena_init(etwl_arena *a, size_t limit);
void etwl_arena_free(etwl_arena *a);
void etwl_arena_rewind(etwl_arena *a);
/* 8-byte aligned; NULL when out of memory or over the limit. */
void *etwl_arena_alloc(etwl_arena *a, size_t n);
void *etwl_arena_dup(etwl_arena *a, const void *p, size_t n);
/* Copies n bytes and adds a NUL. */
char *etwl_arena_strdup(etwl_arena *a, const char *s, size_t n);

#endif
