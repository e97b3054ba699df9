/* arena.c - see arena.h */
#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 16384

struct etwl_arena_chunk {
    etwl_arena_chunk *next;
    size_t size;
    /* data follows, 16-aligned by the allocator and this header size */
    max_align_t data[];
};

void etwl_arena_init(etwl_arena *a, size_t limit)
{
    memset(a, 0, sizeof *a);
    a->limit = limit;
}

void etwl_arena_free(etwl_arena *a)
{
    etwl_arena_chunk *c = a->head, *n;
    while (c) {
        n = c->next;
        free(c);
        c = n;
    }
    a->head = a->cur = NULL;
    a->used = a->held = 0;
}

void etwl_arena_rewind(etwl_arena *a)
{
    a->cur = a->head;
    a->used = 0;
}

void *etwl_arena_alloc(etwl_arena *a, size_t n)
{
    etwl_arena_chunk *c, *prev;
    size_t size;
    n = (n + 7u) & ~(size_t)7u;
    if (n == 0) n = 8;
    if (a->cur && a->cur->size - a->used >= n) {
        void *p = (char *)a->cur->data + a->used;
        a->used += n;
        return p;
    }
    /* Reuse a later retained chunk that is big enough before growing. */
    prev = a->cur;
    for (c = a->cur ? a->cur->next : a->head; c; prev = c, c = c->next) {
        if (c->size >= n) {
            /* move c right after cur so rewinds keep reusing it in order */
            if (prev != a->cur) {
                prev->next = c->next;
                if (a->cur) {
                    c->next = a->cur->next;
                    a->cur->next = c;
                } else {
                    c->next = a->head;
                    a->head = c;
                }
            }
            a->cur = c;
            a->used = n;
            return c->data;
        }
    }
    size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    if (a->limit && (size > a->limit || a->held > a->limit - size)) return NULL;
    c = malloc(sizeof *c + size);
    if (!c) return NULL;
    c->size = size;
    a->held += size;
    if (a->cur) {
        c->next = a->cur->next;
        a->cur->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    a->cur = c;
    a->used = n;
    return c->data;
}

void *etwl_arena_dup(etwl_arena *a, const void *p, size_t n)
{
    void *d = etwl_arena_alloc(a, n);
    if (d && n) memcpy(d, p, n);
    return d;
}

char *etwl_arena_strdup(etwl_arena *a, const char *s, size_t n)
{
    char *d = etwl_arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}
