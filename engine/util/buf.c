/* buf.c - growable output buffer.  An allocation failure latches `oom`
 * instead of failing every append site; writers check it once at the end. */
#include "etwl.h"
#include "util/grow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void etwl_buf_init(etwl_buf *b) { memset(b, 0, sizeof *b); }

void etwl_buf_free(etwl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void etwl_buf_reset(etwl_buf *b)
{
    b->len = 0;
    b->oom = 0;
}

static int buf_reserve(etwl_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (b->oom) return 0;
    if (extra > SIZE_MAX - b->len - 1) goto fail;
    need = b->len + extra + 1; /* keep room for a terminating NUL */
    if (need <= b->cap) return 1;
    cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p) goto fail;
    b->data = p;
    b->cap = cap;
    return 1;
fail:
    b->oom = 1;
    return 0;
}

void etwl_buf_put(etwl_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void etwl_buf_puts(etwl_buf *b, const char *s) { etwl_buf_put(b, s, strlen(s)); }

void etwl_buf_putc(etwl_buf *b, char c)
{
    if (b->len + 1 < b->cap && !b->oom) {
        b->data[b->len++] = c;
        b->data[b->len] = 0;
        return;
    }
    etwl_buf_put(b, &c, 1);
}

void etwl_buf_printf(etwl_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[128];
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        etwl_buf_put(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int etwl_grow(void *p, uint32_t n, uint32_t want, uint32_t *cap, size_t sz, uint32_t max)
{
    void **pp = p;
    void *g;
    uint64_t c = *cap ? *cap : 16;
    if ((uint64_t)n + want <= *cap) return 1;
    if ((uint64_t)n + want > max) return 0;
    while (c < (uint64_t)n + want) c *= 2;
    if (c > max) c = max;
    if (!(g = realloc(*pp, (size_t)c * sz))) return 0;
    *pp = g;
    *cap = (uint32_t)c;
    return 1;
}
