/* etlstack.c - see etlstack.h. */
#include "sources/etl/etlstack.h"

#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "util/grow.h"

typedef struct pending { /* a stack, or a cache reference, waiting for its event */
    int64_t ts;
    uint32_t thread, seq;
    uint64_t key;    /* a reference: the cache key */
    uint32_t off, n; /* a stack: its frames in the pool */
    uint8_t is_ref, used;
} pending;

typedef struct def { /* a cached stack's frames, from the time they were written */
    uint64_t key;
    int64_t ts;
    uint32_t off, n;
} def;

struct etwl_stackidx {
    pending *p;
    uint32_t np, capp;
    def *d;
    uint32_t nd, capd;
    uint64_t *pool;
    uint32_t npool, cappool;
};

/* A bound on what the index keeps (frames and records): stacks beyond it
 * are dropped, never the events. */
#define MAX_ITEMS (1u << 26)

static int grow(void *p, uint32_t n, uint32_t want, uint32_t *cap, size_t sz)
{
    return etwl_grow(p, n, want, cap, sz, MAX_ITEMS);
}

etwl_stackidx *etwl_stackidx_new(void) { return calloc(1, sizeof(etwl_stackidx)); }

void etwl_stackidx_free(etwl_stackidx *x)
{
    if (!x) return;
    free(x->p);
    free(x->d);
    free(x->pool);
    free(x);
}

static int put_frames(etwl_stackidx *x, const uint8_t *frames, uint32_t n, unsigned ptr, uint32_t *off)
{
    uint32_t i;
    if (!grow(&x->pool, x->npool, n, &x->cappool, sizeof *x->pool)) return 0;
    *off = x->npool;
    for (i = 0; i < n; i++) x->pool[x->npool++] = ptr == 4 ? etwl_le32(frames + 4 * i) : etwl_le64(frames + 8 * i);
    return 1;
}

etwl_status etwl_stackidx_add_stack(etwl_stackidx *x, int64_t ts, uint32_t thread, const uint8_t *frames, uint32_t n,
                                    unsigned ptr)
{
    pending *e;
    uint32_t off;
    if (!grow(&x->p, x->np, 1, &x->capp, sizeof *x->p) || !put_frames(x, frames, n, ptr, &off)) return ETWL_ENOMEM;
    e = &x->p[x->np];
    memset(e, 0, sizeof *e);
    e->ts = ts;
    e->thread = thread;
    e->seq = x->np++;
    e->off = off;
    e->n = n;
    return ETWL_OK;
}

etwl_status etwl_stackidx_add_ref(etwl_stackidx *x, int64_t ts, uint32_t thread, uint64_t key)
{
    pending *e;
    if (!grow(&x->p, x->np, 1, &x->capp, sizeof *x->p)) return ETWL_ENOMEM;
    e = &x->p[x->np];
    memset(e, 0, sizeof *e);
    e->ts = ts;
    e->thread = thread;
    e->seq = x->np++;
    e->key = key;
    e->is_ref = 1;
    return ETWL_OK;
}

etwl_status etwl_stackidx_add_def(etwl_stackidx *x, uint64_t key, int64_t ts, const uint8_t *frames, uint32_t n,
                                  unsigned ptr)
{
    uint32_t off;
    if (!grow(&x->d, x->nd, 1, &x->capd, sizeof *x->d) || !put_frames(x, frames, n, ptr, &off)) return ETWL_ENOMEM;
    x->d[x->nd].key = key;
    x->d[x->nd].ts = ts;
    x->d[x->nd].off = off;
    x->d[x->nd++].n = n;
    return ETWL_OK;
}

static int by_time(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_key(const void *a, const void *b)
{
    const def *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

void etwl_stackidx_done(etwl_stackidx *x)
{
    if (x->np) qsort(x->p, x->np, sizeof *x->p, by_time);
    if (x->nd) qsort(x->d, x->nd, sizeof *x->d, by_key);
}

static uint32_t copy(const etwl_stackidx *x, uint32_t off, uint32_t n, uint64_t *out, uint32_t max)
{
    if (n > max) n = max;
    memcpy(out, x->pool + off, n * sizeof *out);
    return n;
}

uint32_t etwl_stackidx_key_frames(const etwl_stackidx *x, uint64_t key, int64_t ts, uint64_t *out, uint32_t max)
{
    uint32_t lo = 0, hi = x->nd;
    while (lo < hi) { /* the first definition of key at or after ts */
        uint32_t mid = lo + (hi - lo) / 2;
        if (x->d[mid].key < key || (x->d[mid].key == key && x->d[mid].ts < ts)) lo = mid + 1;
        else hi = mid;
    }
    if (lo == x->nd || x->d[lo].key != key) return 0;
    return copy(x, x->d[lo].off, x->d[lo].n, out, max);
}

uint32_t etwl_stackidx_frames(etwl_stackidx *x, int64_t ts, uint32_t thread, uint64_t *out, uint32_t max)
{
    uint32_t lo = 0, hi = x->np, n = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (x->p[mid].ts < ts) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < x->np && x->p[lo].ts == ts && n < max; lo++) {
        pending *e = &x->p[lo];
        if (thread != 0xFFFFFFFFu && e->thread != thread) continue;
        e->used = 1;
        n += e->is_ref ? etwl_stackidx_key_frames(x, e->key, ts, out + n, max - n)
                       : copy(x, e->off, e->n, out + n, max - n);
    }
    return n;
}

uint32_t etwl_stackidx_unjoined(const etwl_stackidx *x)
{
    uint32_t i, n = 0;
    for (i = 0; i < x->np; i++) n += !x->p[i].used;
    return n;
}
