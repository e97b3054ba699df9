/* decode.c - the portable payload decoder.
 *
 * Decodes one top-level property at a time, on demand.  The start offset of
 * each top-level property is kept per event: asking for property 7 measures
 * properties 0..6 once (without converting their strings) and later requests
 * reuse those offsets.  A payload that is shorter than its schema says, or
 * whose counts lie, yields an ETWL_VT_ERROR value; no read ever goes past
 * payload + payload_len. */
#include <stdio.h>
#include <string.h>

#include "util/bytes.h"
#include "core/event.h"
#include "core/format.h"
#include "util/utf.h"

typedef struct dctx {
    const etwl_schema *s;
    const uint8_t *p;
    uint32_t n;
    unsigned ptrsize;
    etwl_arena *a;
    char err[160];
} dctx;

static int fail(dctx *c, const char *fmt, ...) ETWL_PRINTF(2, 3);

#include <stdarg.h>
static int fail(dctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return 0;
}

static int need(dctx *c, uint32_t pos, uint64_t len)
{
    if (pos > c->n || len > (uint64_t)(c->n - pos))
        return fail(c, "truncated: needs %llu bytes at offset %u, payload has %u", (unsigned long long)len, pos, c->n);
    return 1;
}

unsigned etwl_event_ptrsize(const etwl_event *ev)
{
    if (ev->hdr.flags & ETWL_HDR_FLAG_32_BIT_HEADER) return 4;
    return 8;
}

static int is_hex_out(uint16_t out)
{
    return (out >= ETWL_OUT_HEXINT8 && out <= ETWL_OUT_HEXINT64) || out == 31 /* NTSTATUS */ || out == ETWL_OUT_HRESULT;
}

static int set_string(dctx *c, etwl_value *out, const char *s, uint32_t n)
{
    out->type = ETWL_VT_STRING;
    out->n = n;
    out->v.s = s;
    return s != NULL || fail(c, "out of memory decoding string");
}

/* Integer value of a reference property, for counts and lengths. */
static int ref_value(dctx *c, const etwl_value *v, uint64_t *out)
{
    switch (v->type) {
    case ETWL_VT_INT:
        if (v->v.i < 0) return fail(c, "negative count or length (%lld)", (long long)v->v.i);
        *out = (uint64_t)v->v.i;
        return 1;
    case ETWL_VT_UINT:
    case ETWL_VT_HEX: *out = v->v.u; return 1;
    case ETWL_VT_ERROR: return fail(c, "its count or length property could not be decoded");
    default: return fail(c, "count or length property is not an integer");
    }
}

/* Decodes (out != NULL) or measures (out == NULL) one element. */
static int decode_elem(dctx *c, const etwl_schema_prop *pr, uint32_t *pos, int has_len, uint64_t len, etwl_value *out);

static int decode_struct(dctx *c, const etwl_schema_prop *pr, uint32_t *pos, etwl_value *out, int depth);

/* One property: an element or an array of them.  vals holds the values of
 * the earlier members of the same scope (for count/length references). */
static int decode_prop(dctx *c, const etwl_schema_prop *pr, uint32_t *pos, const etwl_value *vals, uint32_t scope_lo,
                       etwl_value *out, int depth)
{
    uint64_t count = 1, len = 0;
    int has_len = 0, is_array = (pr->flags & ETWL_PROP_ARRAY) != 0;
    etwl_value *items = NULL;
    uint64_t i;
    if (pr->flags & ETWL_PROP_COUNT_INLINE) { /* TraceLogging: a UINT16 count, then the elements */
        if (!need(c, *pos, 2)) return 0;
        count = etwl_rd_le(c->p + *pos, 2);
        *pos += 2;
    } else if (pr->flags & ETWL_PROP_COUNT_REF) {
        if (!ref_value(c, &vals[pr->count - scope_lo], &count)) return 0;
    } else if (is_array) {
        count = pr->count;
    }
    if (pr->flags & ETWL_PROP_LENGTH_REF) {
        if (!ref_value(c, &vals[pr->length - scope_lo], &len)) return 0;
        has_len = 1;
    } else if (pr->length) {
        len = pr->length;
        has_len = 1;
    }
    if (!is_array) {
        if (pr->flags & ETWL_PROP_STRUCT) return decode_struct(c, pr, pos, out, depth);
        return decode_elem(c, pr, pos, has_len, len, out);
    }
    if (count > c->s->max_array) return fail(c, "array count %llu over the limit", (unsigned long long)count);
    /* a count that cannot fit in what is left is a lie: every element takes at
     * least one byte, except empty structs which the schema check forbids */
    if (count > (uint64_t)(c->n - *pos) && !(pr->flags & ETWL_PROP_STRUCT && count == 0))
        return fail(c, "truncated: array of %llu at offset %u, payload has %u", (unsigned long long)count, *pos, c->n);
    if (out) {
        items = etwl_arena_alloc(c->a, (size_t)(count ? count : 1) * sizeof *items);
        if (!items) return fail(c, "out of memory decoding array");
    }
    for (i = 0; i < count; i++) {
        int ok = (pr->flags & ETWL_PROP_STRUCT) ? decode_struct(c, pr, pos, items ? &items[i] : NULL, depth)
                                                : decode_elem(c, pr, pos, has_len, len, items ? &items[i] : NULL);
        if (!ok) return 0;
    }
    if (out) {
        out->type = ETWL_VT_ARRAY;
        out->n = (uint32_t)count;
        out->v.a = items;
    }
    return 1;
}

static int decode_struct(dctx *c, const etwl_schema_prop *pr, uint32_t *pos, etwl_value *out, int depth)
{
    etwl_value *vals;
    etwl_member *mem = NULL;
    uint32_t i, lo = pr->struct_start, n = pr->struct_count;
    if (depth > 8) return fail(c, "structs nested too deep");
    /* member values are needed even when measuring, for references */
    vals = etwl_arena_alloc(c->a, n * sizeof *vals);
    if (!vals) return fail(c, "out of memory decoding struct");
    if (out) {
        mem = etwl_arena_alloc(c->a, n * sizeof *mem);
        if (!mem) return fail(c, "out of memory decoding struct");
    }
    for (i = 0; i < n; i++) {
        const etwl_schema_prop *m = &c->s->props[lo + i];
        memset(&vals[i], 0, sizeof vals[i]);
        if (!decode_prop(c, m, pos, vals, lo, &vals[i], depth + 1)) return 0;
        if (mem) {
            mem[i].name = m->name;
            mem[i].name_len = m->name_len;
            mem[i].value = vals[i];
        }
    }
    if (out) {
        out->type = ETWL_VT_OBJECT;
        out->n = n;
        out->v.o = mem;
    }
    return 1;
}

static int wstr_nul(dctx *c, uint32_t pos, uint32_t *nchars)
{
    /* four UTF-16 units at a time: a lane is zero when the classic
     * has-zero test fires for 16-bit lanes (ASCII text has a zero byte in
     * every unit, so a byte search would stop at each one) */
    const uint8_t *p = c->p + pos;
    uint32_t avail = c->n > pos ? c->n - pos : 0, i = 0;
    while (i + 8 <= avail) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if ((v - 0x0001000100010001ull) & ~v & 0x8000800080008000ull) break;
        i += 8;
    }
    for (; i + 1 < avail; i += 2)
        if (p[i] == 0 && p[i + 1] == 0) {
            *nchars = i / 2;
            return 1;
        }
    return fail(c, "unterminated UTF-16 string at offset %u", pos);
}

static int astr_nul(dctx *c, uint32_t pos, uint32_t *nbytes)
{
    const uint8_t *z;
    if (pos >= c->n) return fail(c, "unterminated string at offset %u", pos);
    z = memchr(c->p + pos, 0, c->n - pos);
    if (!z) return fail(c, "unterminated string at offset %u", pos);
    *nbytes = (uint32_t)(z - (c->p + pos));
    return 1;
}

static int wstring(dctx *c, uint32_t pos, uint32_t nchars, etwl_value *out)
{
    uint32_t olen = 0;
    char *s;
    if (!out) return 1;
    s = etwl_utf16_to_utf8(c->a, c->p + pos, nchars, &olen);
    return set_string(c, out, s, olen);
}

static int astring(dctx *c, uint32_t pos, uint32_t n, etwl_value *out)
{
    uint32_t olen = 0;
    char *s;
    if (!out) return 1;
    s = etwl_ansi_to_utf8(c->a, c->p + pos, n, &olen);
    return set_string(c, out, s, olen);
}

static int decode_elem(dctx *c, const etwl_schema_prop *pr, uint32_t *pos, int has_len, uint64_t len, etwl_value *out)
{
    uint32_t p = *pos, size = 0;
    uint64_t u;
    etwl_value tmp;
    /* a start past the end (a fixed offset, or a lying length before it)
     * would make every "c->n - p" below wrap around: refuse it here, once */
    if (p > c->n) return fail(c, "truncated: property at offset %u, payload has %u", p, c->n);
    /* integers are decoded even when measuring: counts depend on them */
    if (!out) out = &tmp;
    switch (pr->intype) {
    case ETWL_IN_NULL: out->type = ETWL_VT_NULL; return 1;
    case ETWL_IN_INT8: size = 1; goto sint;
    case ETWL_IN_INT16: size = 2; goto sint;
    case ETWL_IN_INT32: size = 4; goto sint;
    case ETWL_IN_INT64:
        size = 8;
    sint:
        if (!need(c, p, size)) return 0;
        u = etwl_rd_le(c->p + p, size);
        if (is_hex_out(pr->outtype)) {
            out->type = ETWL_VT_HEX;
            out->v.u = u;
        } else {
            /* sign-extend from size bytes */
            unsigned shift = 64 - 8 * size;
            out->type = ETWL_VT_INT;
            out->v.i = (int64_t)(u << shift) >> shift;
        }
        break;
    case ETWL_IN_UINT8: size = 1; goto uint;
    case ETWL_IN_UINT16: size = 2; goto uint;
    case ETWL_IN_UINT32: size = 4; goto uint;
    case ETWL_IN_UINT64:
        size = 8;
    uint:
        if (!need(c, p, size)) return 0;
        u = etwl_rd_le(c->p + p, size);
        out->type = ETWL_VT_UINT;
        out->v.u = u;
        if (is_hex_out(pr->outtype)) {
            out->type = ETWL_VT_HEX;
        } else if (pr->outtype == ETWL_OUT_BOOLEAN) {
            out->type = ETWL_VT_BOOL;
            out->v.u = u != 0;
        } else if (pr->outtype == ETWL_OUT_PORT && size == 2) {
            out->v.u = ((u & 0xFF) << 8) | (u >> 8); /* network byte order */
        } else if (pr->outtype == ETWL_OUT_IPV4 && size == 4 && out != &tmp) {
            char b[16];
            int k = snprintf(b, sizeof b, "%u.%u.%u.%u", c->p[p], c->p[p + 1], c->p[p + 2], c->p[p + 3]);
            if (!set_string(c, out, etwl_arena_strdup(c->a, b, (size_t)k), (uint32_t)k)) return 0;
        } else if (pr->outtype == ETWL_OUT_STRING && size == 1 && out != &tmp) {
            /* a UINT8 shown as a character */
            if (!astring(c, p, 1, out)) return 0;
        }
        break;
    case ETWL_IN_HEXINT32: size = 4; goto hex;
    case ETWL_IN_HEXINT64:
        size = 8;
    hex:
        if (!need(c, p, size)) return 0;
        out->type = ETWL_VT_HEX;
        out->v.u = etwl_rd_le(c->p + p, size);
        break;
    case ETWL_IN_POINTER:
    case ETWL_IN_SIZET:
        size = c->ptrsize;
        if (!need(c, p, size)) return 0;
        out->type = ETWL_VT_HEX;
        out->v.u = etwl_rd_le(c->p + p, size);
        break;
    case ETWL_IN_FLOAT: {
        float f;
        uint32_t w;
        size = 4;
        if (!need(c, p, size)) return 0;
        w = (uint32_t)etwl_rd_le(c->p + p, 4);
        memcpy(&f, &w, 4);
        out->type = ETWL_VT_DOUBLE;
        out->v.d = f;
        break;
    }
    case ETWL_IN_DOUBLE: {
        uint64_t w;
        size = 8;
        if (!need(c, p, size)) return 0;
        w = etwl_rd_le(c->p + p, 8);
        memcpy(&out->v.d, &w, 8);
        out->type = ETWL_VT_DOUBLE;
        break;
    }
    case ETWL_IN_BOOLEAN: /* a 4-byte Win32 BOOL */
        size = 4;
        if (!need(c, p, size)) return 0;
        out->type = ETWL_VT_BOOL;
        out->v.u = etwl_rd_le(c->p + p, 4) != 0;
        break;
    case ETWL_IN_GUID:
        size = 16;
        if (!need(c, p, size)) return 0;
        out->type = ETWL_VT_GUID;
        etwl_guid_from_bytes(c->p + p, &out->v.g);
        break;
    case ETWL_IN_FILETIME:
        size = 8;
        if (!need(c, p, size)) return 0;
        out->type = ETWL_VT_TIME;
        out->v.i = (int64_t)etwl_rd_le(c->p + p, 8);
        if (out->v.i < 0) return fail(c, "FILETIME out of range at offset %u", p);
        break;
    case ETWL_IN_SYSTEMTIME: {
        unsigned f[8], k;
        size = 16;
        if (!need(c, p, size)) return 0;
        for (k = 0; k < 8; k++) f[k] = (unsigned)etwl_rd_le(c->p + p + 2 * k, 2);
        /* wYear wMonth wDayOfWeek wDay wHour wMinute wSecond wMilliseconds */
        if (f[0] < 1601 || f[0] > 30827 || f[1] < 1 || f[1] > 12 || f[3] < 1 || f[3] > 31 || f[4] > 23 || f[5] > 59 ||
            f[6] > 59 || f[7] > 999)
            return fail(c, "invalid SYSTEMTIME at offset %u", p);
        out->type = ETWL_VT_TIME;
        out->v.i = etwl_time_from_civil(f[0], f[1], f[3], f[4], f[5], f[6], (int64_t)f[7] * 10000);
        break;
    }
    case ETWL_IN_WBEMSID:
        /* TOKEN_USER: a SID_AND_ATTRIBUTES (pointer + DWORD, padded to two
         * pointers) followed by the SID itself */
        if (!need(c, p, 2u * c->ptrsize)) return 0;
        p += 2u * c->ptrsize;
        /* fall through */
    case ETWL_IN_SID: {
        size_t sz;
        char b[ETWL_SID_STRLEN];
        int k;
        if (!need(c, p, 8)) return 0;
        sz = etwl_sid_size(c->p + p, c->n - p);
        if (!sz) return fail(c, "invalid or truncated SID at offset %u", p);
        size = (uint32_t)sz + (p - *pos);
        if (out != &tmp) {
            k = etwl_sid_format(c->p + p, sz, b, sizeof b);
            if (!set_string(c, out, etwl_arena_strdup(c->a, b, (size_t)k), (uint32_t)k)) return 0;
        }
        p = *pos;
        break;
    }
    case ETWL_IN_UNICODESTRING:
    case ETWL_IN_NONNULLTERMINATEDSTRING: {
        uint32_t nch = 0;
        if (has_len) {
            if (len > (c->n - p) / 2) return need(c, p, len * 2);
            nch = (uint32_t)len;
            size = nch * 2;
        } else if (pr->intype == ETWL_IN_NONNULLTERMINATEDSTRING) {
            nch = (c->n - p) / 2; /* the rest of the payload */
            size = nch * 2;
        } else {
            if (!wstr_nul(c, p, &nch)) return 0;
            size = nch * 2 + 2;
        }
        /* a fixed-length string may be NUL-padded: stop at the first NUL */
        if (has_len) {
            uint32_t k;
            for (k = 0; k < nch; k++)
                if (c->p[p + 2 * k] == 0 && c->p[p + 2 * k + 1] == 0) break;
            nch = k;
        }
        if (out != &tmp && !wstring(c, p, nch, out)) return 0;
        break;
    }
    case ETWL_IN_ANSISTRING:
    case ETWL_IN_NONNULLTERMINATEDANSISTRING: {
        uint32_t nb = 0;
        if (has_len) {
            if (!need(c, p, len)) return 0;
            nb = (uint32_t)len;
            size = nb;
            if (memchr(c->p + p, 0, nb)) nb = (uint32_t)((const uint8_t *)memchr(c->p + p, 0, nb) - (c->p + p));
        } else if (pr->intype == ETWL_IN_NONNULLTERMINATEDANSISTRING) {
            nb = c->n - p;
            size = nb;
        } else {
            if (!astr_nul(c, p, &nb)) return 0;
            size = nb + 1;
        }
        if (out != &tmp && !astring(c, p, nb, out)) return 0;
        break;
    }
    case ETWL_IN_UNICODECHAR:
        size = 2;
        if (!need(c, p, size)) return 0;
        if (out != &tmp && !wstring(c, p, 1, out)) return 0;
        break;
    case ETWL_IN_ANSICHAR:
        size = 1;
        if (!need(c, p, size)) return 0;
        if (out != &tmp && !astring(c, p, 1, out)) return 0;
        break;
    case ETWL_IN_MANIFEST_COUNTEDSTRING:
    case ETWL_IN_COUNTEDSTRING:
    case ETWL_IN_REVERSEDCOUNTEDSTRING:
    case ETWL_IN_MANIFEST_COUNTEDANSISTRING:
    case ETWL_IN_COUNTEDANSISTRING:
    case ETWL_IN_REVERSEDCOUNTEDANSISTRING:
    case ETWL_IN_MANIFEST_COUNTEDBINARY: {
        /* a 16-bit byte count, then the bytes */
        uint32_t nb = 0;
        int wide = pr->intype == ETWL_IN_MANIFEST_COUNTEDSTRING || pr->intype == ETWL_IN_COUNTEDSTRING ||
                   pr->intype == ETWL_IN_REVERSEDCOUNTEDSTRING;
        if (!need(c, p, 2)) return 0;
        nb = (uint32_t)etwl_rd_le(c->p + p, 2);
        if (pr->intype == ETWL_IN_REVERSEDCOUNTEDSTRING || pr->intype == ETWL_IN_REVERSEDCOUNTEDANSISTRING)
            nb = ((nb & 0xFF) << 8) | (nb >> 8);
        if (!need(c, p + 2, nb)) return 0;
        size = 2 + nb;
        if (out != &tmp) {
            if (pr->intype == ETWL_IN_MANIFEST_COUNTEDBINARY) {
                out->type = ETWL_VT_BINARY;
                out->n = nb;
                out->v.p = c->p + p + 2;
            } else if (wide) {
                if (!wstring(c, p + 2, nb / 2, out)) return 0;
            } else if (!astring(c, p + 2, nb, out)) {
                return 0;
            }
        }
        break;
    }
    case ETWL_IN_COUNTEDCHARS16: { /* a 16-bit count of UTF-16 units, then the units */
        uint32_t nc;
        if (!need(c, p, 2)) return 0;
        nc = (uint32_t)etwl_rd_le(c->p + p, 2);
        if (!need(c, p + 2, (uint64_t)nc * 2)) return 0;
        size = 2 + nc * 2;
        if (out != &tmp && !wstring(c, p + 2, nc, out)) return 0;
        break;
    }
    case ETWL_IN_HEXDUMP: { /* a 32-bit byte count, then the bytes */
        uint32_t nb = 0;
        if (!need(c, p, 4)) return 0;
        nb = (uint32_t)etwl_rd_le(c->p + p, 4);
        if (!need(c, p + 4, nb)) return 0;
        size = 4 + nb;
        out->type = ETWL_VT_BINARY;
        out->n = nb;
        out->v.p = c->p + p + 4;
        break;
    }
    case ETWL_IN_DATALOC: {
        /* tracefs dynamic data: where it is, then what it is */
        uint32_t loc, off, nb;
        if (!need(c, p, 4)) return 0;
        loc = (uint32_t)etwl_rd_le(c->p + p, 4);
        off = loc & 0xFFFF;
        nb = loc >> 16;
        if (pr->flags & ETWL_PROP_DATALOC_REL) off += p + 4;
        if (!need(c, off, nb)) return 0;
        size = 4;
        if (out != &tmp) {
            if (pr->outtype == ETWL_OUT_STRING) {
                uint32_t k = nb;
                while (k > 0 && c->p[off + k - 1] == 0) k--; /* the stored NUL */
                if (!astring(c, off, k, out)) return 0;
            } else {
                out->type = ETWL_VT_BINARY;
                out->n = nb;
                out->v.p = c->p + off;
            }
        }
        break;
    }
    case ETWL_IN_BINARY: {
        uint64_t nb = has_len ? len : (uint64_t)(c->n - p); /* no length: the rest */
        if (!need(c, p, nb)) return 0;
        size = (uint32_t)nb;
        if (pr->outtype == ETWL_OUT_IPV6 && nb == 16 && out != &tmp) {
            char b[48];
            int k = etwl_ipv6_format(c->p + p, b, sizeof b);
            if (!set_string(c, out, etwl_arena_strdup(c->a, b, (size_t)k), (uint32_t)k)) return 0;
        } else {
            out->type = ETWL_VT_BINARY;
            out->n = size;
            out->v.p = c->p + p;
        }
        break;
    }
    default: return fail(c, "unsupported in-type %u", pr->intype);
    }
    *pos = p + size;
    return 1;
}

static void set_error(etwl_event *ev, etwl_value *v, const char *msg)
{
    size_t n = strlen(msg);
    v->type = ETWL_VT_ERROR;
    v->v.s = etwl_arena_strdup(&ev->arena, msg, n);
    v->n = v->v.s ? (uint32_t)n : 0;
    if (!v->v.s) v->v.s = "out of memory";
}

static void ctx_init(dctx *c, etwl_event *ev)
{
    c->s = ev->schema;
    c->p = ev->payload;
    c->n = ev->payload ? ev->payload_len : 0;
    c->ptrsize = etwl_event_ptrsize(ev);
    c->a = &ev->arena;
    c->err[0] = 0;
}

/* Size of a plain scalar of this in-type, or 0 when it must be measured. */
static uint32_t fixed_size(const etwl_schema_prop *pr, unsigned ptrsize)
{
    if (pr->flags & (ETWL_PROP_ARRAY | ETWL_PROP_STRUCT | ETWL_PROP_LENGTH_REF)) return 0;
    switch (pr->intype) {
    case ETWL_IN_INT8:
    case ETWL_IN_UINT8:
    case ETWL_IN_ANSICHAR: return 1;
    case ETWL_IN_INT16:
    case ETWL_IN_UINT16:
    case ETWL_IN_UNICODECHAR: return 2;
    case ETWL_IN_INT32:
    case ETWL_IN_UINT32:
    case ETWL_IN_HEXINT32:
    case ETWL_IN_FLOAT:
    case ETWL_IN_BOOLEAN: return 4;
    case ETWL_IN_INT64:
    case ETWL_IN_UINT64:
    case ETWL_IN_HEXINT64:
    case ETWL_IN_DOUBLE:
    case ETWL_IN_FILETIME: return 8;
    case ETWL_IN_GUID:
    case ETWL_IN_SYSTEMTIME: return 16;
    case ETWL_IN_POINTER:
    case ETWL_IN_SIZET: return ptrsize;
    default: return 0;
    }
}

/* Count/length references point to earlier integer properties; make sure
 * their cached values exist before a dependent property is measured. */
static const etwl_value *ref_vals(etwl_event *ev, const etwl_schema_prop *pr)
{
    if (!(pr->flags & (ETWL_PROP_COUNT_REF | ETWL_PROP_LENGTH_REF))) return NULL;
    if (pr->flags & ETWL_PROP_COUNT_REF) etwl_decode_top(ev, pr->count);
    if (pr->flags & ETWL_PROP_LENGTH_REF) etwl_decode_top(ev, pr->length);
    return ev->cache;
}

const etwl_value *etwl_decode_top(etwl_event *ev, uint32_t i)
{
    const etwl_schema *s = ev->schema;
    uint32_t gen = (uint32_t)ev->seq;
    etwl_value *v;
    dctx c;
    uint32_t pos;
    if (!s || i >= s->ntop) return NULL;
    v = &ev->cache[i];
    if (ev->cache_gen[i] == gen) return v;
    ctx_init(&c, ev);
    if (s->fixed_offsets) { /* tracefs: every field sits at a known offset */
        pos = s->props[i].offset;
        memset(v, 0, sizeof *v);
        if (!decode_prop(&c, &s->props[i], &pos, ref_vals(ev, &s->props[i]), 0, v, 0)) set_error(ev, v, c.err);
        ev->cache_gen[i] = gen;
        return v;
    }
    /* measure forward until property i's start is known */
    while (ev->off_known < i && !ev->off_err) {
        uint32_t j = ev->off_known;
        const etwl_schema_prop *pr = &s->props[j];
        uint32_t fs = fixed_size(pr, c.ptrsize);
        pos = ev->off[j];
        if (fs) { /* the common case: skip a scalar without decoding it */
            if (!need(&c, pos, fs)) break;
            pos += fs;
        } else if (!decode_prop(&c, pr, &pos, ref_vals(ev, pr), 0, NULL, 0)) {
            break;
        }
        ev->off[j + 1] = pos;
        ev->off_known = j + 1;
    }
    if (ev->off_known < i) {
        if (!ev->off_err) {
            char msg[256];
            snprintf(msg, sizeof msg, "after '%s': %s", s->props[ev->off_known].name, c.err);
            ev->off_err = etwl_arena_strdup(&ev->arena, msg, strlen(msg));
            if (!ev->off_err) ev->off_err = "out of memory";
        }
        set_error(ev, v, ev->off_err);
        ev->cache_gen[i] = gen;
        return v;
    }
    pos = ev->off[i];
    memset(v, 0, sizeof *v);
    if (!decode_prop(&c, &s->props[i], &pos, ref_vals(ev, &s->props[i]), 0, v, 0)) {
        set_error(ev, v, c.err);
    } else if (ev->off_known == i) {
        ev->off[i + 1] = pos;
        ev->off_known = i + 1;
    }
    ev->cache_gen[i] = gen;
    return v;
}
