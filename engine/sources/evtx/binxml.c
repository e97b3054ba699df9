/* binxml.c - BinXml tokens, names, template instances and substitution
 * values, walked as the element events of libevtx's XML rendering.
 *
 * The token layout follows [MS-EVEN6] 3.1.4.1 and libyal's "Windows XML
 * Event Log (EVTX)" notes; the text of each value type follows what
 * libevtx (20181227, Debian's) writes, so that events replayed natively are
 * the ones its XML gave.  Bounds are checked on every read: a chunk is
 * attacker-controlled. */
#include "sources/evtx/binxml.h"
#include "util/bytes.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- buffers ---------------------------------------------------------------- */

void bx_buf_free(bx_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int bx_reserve(bx_buf *b, size_t n)
{
    size_t cap;
    char *p;
    if (b->len + n + 1 <= b->cap) return 0;
    if (b->oom) return -1;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void bx_put(bx_buf *b, const void *s, size_t n)
{
    if (bx_reserve(b, n) != 0) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void bx_putc(bx_buf *b, char ch) { bx_put(b, &ch, 1); }

static void bx_printf(bx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bx_printf(bx_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) bx_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- values ----------------------------------------------------------------- */

/* UTF-8 of cp into o; its length */
static size_t utf8_at(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* units UTF-16LE code units into o (room for 3 bytes a unit), stopping at
 * the first NUL; its length. */
static size_t utf16_to(char *o, const uint8_t *s, size_t units)
{
    size_t i = 0, n = 0;
    while (i < units) {
        uint32_t cp;
#ifdef __SSE2__
        /* eight at a time where the CPU has SSE2 (every x86-64): command
         * lines and paths are long ASCII runs */
        while (i + 8 <= units) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i));
            __m128i ok = _mm_and_si128(_mm_cmpgt_epi16(v, _mm_setzero_si128()), /* 1..0x7FFF, signed */
                                       _mm_cmplt_epi16(v, _mm_set1_epi16(0x80)));
            if (_mm_movemask_epi8(ok) != 0xFFFF) break;
            _mm_storel_epi64((__m128i *)(void *)(o + n), _mm_packus_epi16(v, v));
            n += 8;
            i += 8;
        }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* ASCII runs are the common case: four units at a time while none
         * is NUL or above 0x7F */
        while (i + 4 <= units) {
            uint64_t w;
            memcpy(&w, s + 2 * i, 8);
            if ((w & 0xFF80FF80FF80FF80u) || ((w - 0x0001000100010001u) & ~w & 0x8000800080008000u)) break;
            o[n] = (char)w;
            o[n + 1] = (char)(w >> 16);
            o[n + 2] = (char)(w >> 32);
            o[n + 3] = (char)(w >> 48);
            n += 4;
            i += 4;
        }
        if (i >= units) break;
#endif
        cp = etwl_le16(s + 2 * i);
        if (cp == 0) break;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < units) {
            uint32_t lo = etwl_le16(s + 2 * i + 2);
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i++;
            } else cp = 0xFFFD;
        } else if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
        n += utf8_at(o + n, cp);
        i++;
    }
    return n;
}

void bx_utf16_put(bx_buf *out, const uint8_t *s, size_t units)
{
    if (bx_reserve(out, units * 3) != 0) return;
    out->len += utf16_to(out->p + out->len, s, units);
    out->p[out->len] = 0;
}

/* Numbers are written by hand: printf was the largest cost of a record. */
static void put_u64(bx_buf *out, uint64_t v)
{
    char t[24], *e = t + sizeof t, *q = e;
    do {
        *--q = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    bx_put(out, q, (size_t)(e - q));
}

static void put_i64(bx_buf *out, int64_t v)
{
    if (v < 0) {
        bx_putc(out, '-');
        put_u64(out, (uint64_t)0 - (uint64_t)v);
    } else put_u64(out, (uint64_t)v);
}

/* v as `digits` hex digits (upper or lower case) */
static void put_hexw(bx_buf *out, uint64_t v, int digits, int upper)
{
    const char *hx = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char t[16];
    int i;
    for (i = digits - 1; i >= 0; i--) {
        t[i] = hx[v & 15];
        v >>= 4;
    }
    bx_put(out, t, (size_t)digits);
}

/* v as exactly `digits` decimal digits */
static void put_decw(bx_buf *out, uint64_t v, int digits)
{
    char t[20];
    int i;
    for (i = digits - 1; i >= 0; i--) {
        t[i] = (char)('0' + v % 10);
        v /= 10;
    }
    bx_put(out, t, (size_t)digits);
}

/* FILETIME (100 ns since 1601) as libevtx writes it: nanoseconds, UTC. */
static void put_filetime(bx_buf *out, uint64_t ft)
{
    uint64_t secs = ft / 10000000u, frac = ft % 10000000u;
    int64_t days = (int64_t)(secs / 86400u), rem = (int64_t)(secs % 86400u);
    /* civil-from-days (Howard Hinnant), from 1601-01-01 */
    int64_t z = days - 134774 + 719468; /* days since 1970-01-01, then shifted to 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    if (y < 0 || y > 9999) { /* not a date FILETIME can reach; kept exact anyway */
        bx_printf(out, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%07" PRIu64 "00Z", y, m, d, (unsigned)(rem / 3600),
                  (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), frac);
        return;
    }
    put_decw(out, (uint64_t)y, 4);
    bx_putc(out, '-');
    put_decw(out, m, 2);
    bx_putc(out, '-');
    put_decw(out, d, 2);
    bx_putc(out, 'T');
    put_decw(out, (uint64_t)(rem / 3600), 2);
    bx_putc(out, ':');
    put_decw(out, (uint64_t)(rem / 60 % 60), 2);
    bx_putc(out, ':');
    put_decw(out, (uint64_t)(rem % 60), 2);
    bx_putc(out, '.');
    put_decw(out, frac, 7);
    bx_put(out, "00Z", 3);
}

static void put_guid(bx_buf *out, const uint8_t *g)
{
    int i;
    bx_putc(out, '{');
    put_hexw(out, etwl_le32(g), 8, 1);
    bx_putc(out, '-');
    put_hexw(out, etwl_le16(g + 4), 4, 1);
    bx_putc(out, '-');
    put_hexw(out, etwl_le16(g + 6), 4, 1);
    bx_putc(out, '-');
    put_hexw(out, (uint64_t)g[8] << 8 | g[9], 4, 1);
    bx_putc(out, '-');
    for (i = 10; i < 16; i++) put_hexw(out, g[i], 2, 1);
    bx_putc(out, '}');
}

static int put_sid(bx_buf *out, const uint8_t *s, size_t n)
{
    uint64_t auth = 0;
    unsigned i, count;
    if (n < 8) return -1;
    count = s[1];
    if (n < 8 + 4u * count) return -1;
    for (i = 2; i < 8; i++) auth = auth << 8 | s[i];
    bx_put(out, "S-", 2);
    put_u64(out, s[0]);
    bx_putc(out, '-');
    put_u64(out, auth);
    for (i = 0; i < count; i++) {
        bx_putc(out, '-');
        put_u64(out, etwl_le32(s + 8 + 4 * i));
    }
    return 0;
}

static size_t fixed_size(uint8_t type)
{
    switch (type) {
    case BX_INT8:
    case BX_UINT8: return 1;
    case BX_INT16:
    case BX_UINT16: return 2;
    case BX_INT32:
    case BX_UINT32:
    case BX_REAL32:
    case BX_BOOL:
    case BX_HEX32: return 4;
    case BX_INT64:
    case BX_UINT64:
    case BX_REAL64:
    case BX_FILETIME:
    case BX_HEX64: return 8;
    case BX_GUID:
    case BX_SYSTEMTIME: return 16;
    default: return 0;
    }
}

/* One value of a fixed-size type (n is its size). */
static void put_scalar(bx_buf *out, uint8_t type, const uint8_t *d, size_t n)
{
    switch (type) {
    case BX_INT8: put_i64(out, (int8_t)d[0]); break;
    case BX_UINT8: put_u64(out, d[0]); break;
    case BX_INT16: put_i64(out, (int16_t)etwl_le16(d)); break;
    case BX_UINT16: put_u64(out, etwl_le16(d)); break;
    case BX_INT32: put_i64(out, (int32_t)etwl_le32(d)); break;
    case BX_UINT32: put_u64(out, etwl_le32(d)); break;
    case BX_INT64: put_i64(out, (int64_t)etwl_le64(d)); break;
    case BX_UINT64: put_u64(out, etwl_le64(d)); break;
    case BX_HEX32:
        bx_put(out, "0x", 2);
        put_hexw(out, etwl_le32(d), 8, 0);
        break;
    case BX_HEX64:
        bx_put(out, "0x", 2);
        put_hexw(out, etwl_le64(d), 16, 0);
        break;
    case BX_BOOL: bx_put(out, etwl_le32(d) ? "true" : "false", etwl_le32(d) ? 4 : 5); break;
    case BX_REAL32: {
        float f;
        uint32_t u = etwl_le32(d);
        memcpy(&f, &u, 4);
        bx_printf(out, "%.8g", (double)f);
        break;
    }
    case BX_REAL64: {
        double f;
        uint64_t u = etwl_le64(d);
        memcpy(&f, &u, 8);
        bx_printf(out, "%.16g", f);
        break;
    }
    case BX_FILETIME: put_filetime(out, etwl_le64(d)); break;
    case BX_GUID: put_guid(out, d); break;
    case BX_SYSTEMTIME:
        bx_printf(out, "%04u-%02u-%02uT%02u:%02u:%02u.%03u000000Z", etwl_le16(d), etwl_le16(d + 2), etwl_le16(d + 6),
                  etwl_le16(d + 8), etwl_le16(d + 10), etwl_le16(d + 12), etwl_le16(d + 14));
        break;
    default: break;
    }
    (void)n;
}

int bx_render_value(bx_buf *out, uint8_t type, const uint8_t *d, size_t n)
{
    size_t i, fs;
    static const char hex[] = "0123456789ABCDEF";
    switch (type) {
    case BX_NULL: return 0;
    case BX_STRING: bx_utf16_put(out, d, n / 2); return 0;
    case BX_ANSI:
        for (i = 0; i < n && d[i]; i++) {
        }
        bx_put(out, d, i);
        return 0;
    case BX_BINARY:
        if (bx_reserve(out, 2 * n) != 0) return 0;
        for (i = 0; i < n; i++) {
            out->p[out->len++] = hex[d[i] >> 4];
            out->p[out->len++] = hex[d[i] & 15];
        }
        out->p[out->len] = 0;
        return 0;
    case BX_SID:
        if (put_sid(out, d, n) != 0) return -1;
        return 0;
    case BX_SIZET:
        if (n == 8) bx_printf(out, "0x%016" PRIx64, etwl_le64(d));
        else if (n == 4) bx_printf(out, "0x%08" PRIx32, etwl_le32(d));
        else return -1;
        return 0;
    case BX_ARRAY | BX_STRING: {
        /* NUL-separated strings */
        size_t units = n / 2, s = 0;
        int first = 1;
        for (i = 0; i <= units; i++) {
            if (i == units || etwl_le16(d + 2 * i) == 0) {
                if (i > s || i < units) {
                    if (!first) bx_putc(out, ' ');
                    bx_utf16_put(out, d + 2 * s, i - s);
                    first = 0;
                }
                s = i + 1;
            }
        }
        return 0;
    }
    default: break;
    }
    fs = fixed_size(type & 0x7f);
    if (!fs) return -1;
    if (!(type & BX_ARRAY)) {
        if (n < fs) return -1;
        put_scalar(out, type, d, fs);
        return 0;
    }
    for (i = 0; i + fs <= n; i += fs) {
        if (i) bx_putc(out, ' ');
        put_scalar(out, type & 0x7f, d + i, fs);
    }
    return 0;
}

int bx_value_ok(uint8_t type, const uint8_t *d, size_t n)
{
    size_t fs;
    switch (type) {
    case BX_NULL:
    case BX_STRING:
    case BX_ANSI:
    case BX_BINARY:
    case BX_ARRAY | BX_STRING: return 0;
    case BX_SID: return n >= 8 && n >= 8 + 4u * d[1] ? 0 : -1;
    case BX_SIZET: return n == 8 || n == 4 ? 0 : -1;
    default: break;
    }
    fs = fixed_size(type & 0x7f);
    if (!fs) return -1;
    return (type & BX_ARRAY) || n >= fs ? 0 : -1;
}

static size_t normalise_eol(char *p, size_t len)
{
    size_t i, o = 0;
    char *cr = memchr(p, '\r', len);
    if (!cr) return len; /* the common case, found fast */
    o = i = (size_t)(cr - p);
    for (; i < len; i++) {
        if (p[i] == '\r') {
            p[o++] = '\n';
            if (i + 1 < len && p[i + 1] == '\n') i++;
        } else p[o++] = p[i];
    }
    return o;
}

size_t bx_string_text(char *out, const uint8_t *s, size_t n)
{
    size_t len = normalise_eol(out, utf16_to(out, s, n / 2));
    out[len] = 0;
    return len;
}

int bx_render_text(bx_buf *out, uint8_t type, const uint8_t *d, size_t n)
{
    size_t from = out->len;
    if (bx_render_value(out, type, d, n) != 0) return -1;
    if (out->p) {
        out->len = from + normalise_eol(out->p + from, out->len - from);
        out->p[out->len] = 0;
    }
    return 0;
}

/* ---- chunks and names ----------------------------------------------------------- */

#define NAMES_CAP (256u << 10)

void bx_chunk_reset(bx_chunk *c, const uint8_t *data, uint32_t len)
{
    c->data = data;
    c->len = len;
    memset(c->cache, 0, sizeof c->cache);
    c->names.len = 0;
    c->err[0] = 0;
}

void bx_chunk_free(bx_chunk *c)
{
    bx_buf_free(&c->names);
    bx_buf_free(&c->scratch);
    bx_buf_free(&c->attrbuf);
    bx_buf_free(&c->nameconv);
}

static int fail(bx_chunk *c, uint32_t at, const char *what)
{
    if (!c->err[0]) snprintf(c->err, sizeof c->err, "%s at chunk offset %" PRIu32, what, at);
    return -1;
}

/* The name at chunk offset off: UTF-8, valid until the next name lookup
 * that misses the cache and fills it (callers copy it at once). */
static const char *name_at(bx_chunk *c, uint32_t off, size_t *len)
{
    unsigned slot = (off >> 1) & 511;
    uint16_t nch;
    bx_buf *dst;
    size_t at;
    if (c->cache[slot].off == off && off) {
        *len = c->cache[slot].len;
        return c->names.p + c->cache[slot].at;
    }
    if (off < 512 || (uint64_t)off + 8 > c->len) return NULL;
    nch = etwl_le16(c->data + off + 6);
    if ((uint64_t)off + 8 + 2u * nch > c->len) return NULL;
    dst = &c->names;
    if (dst->len + 3u * nch + 1 > NAMES_CAP) { /* a hostile chunk: stop caching */
        dst = &c->nameconv;
        dst->len = 0;
    }
    at = dst->len;
    bx_utf16_put(dst, c->data + off + 8, nch);
    bx_putc(dst, 0);
    if (dst->oom) return NULL;
    *len = dst->len - at - 1;
    if (dst == &c->names) {
        c->cache[slot].off = off;
        c->cache[slot].at = (uint32_t)at;
        c->cache[slot].len = (uint32_t)*len;
    }
    return dst->p + at;
}

/* A template's literal text (a value token's UTF-16 at off, nch units),
 * converted once per chunk like the names: "Name" attribute values are in
 * every record of their template. */
static void literal_put(bx_chunk *c, bx_buf *t, uint32_t off, uint16_t nch)
{
    unsigned slot = (off >> 1) & 511;
    size_t at;
    if (c->cache[slot].off == off) {
        bx_put(t, c->names.p + c->cache[slot].at, c->cache[slot].len);
        return;
    }
    if (c->names.len + 3u * nch + 1 > NAMES_CAP) {
        bx_utf16_put(t, c->data + off, nch);
        return;
    }
    at = c->names.len;
    bx_utf16_put(&c->names, c->data + off, nch);
    bx_putc(&c->names, 0);
    if (c->names.oom) return;
    c->cache[slot].off = off;
    c->cache[slot].at = (uint32_t)at;
    c->cache[slot].len = (uint32_t)(c->names.len - at - 1);
    bx_put(t, c->names.p + at, c->cache[slot].len);
}

/* ---- the walk --------------------------------------------------------------------- */

typedef struct sub {
    uint32_t off, size;
    uint8_t type;
} sub;

typedef struct walk {
    bx_chunk *c;
    const bx_sink *sink;
    const sub *subs; /* the current template instance's values */
    uint32_t nsubs;
    int depth;       /* recursion, for the limit */
    uint32_t tokens; /* elements and values walked, for the limit */
    size_t output;   /* text reported, for the limit */
    int inst_depth;  /* template instances entered: 1 is the record's own */
    int text_values; /* the text being assembled holds substitution values */
    /* the value tokens of the attribute being read: template text seen,
     * substitution values seen, and the last one's slot (or -1) */
    int tok_lit, tok_sub, tok_slot;
    char indent[2 * BX_MAX_DEPTH + 2];
} walk;

static int walk_fragment(walk *w, uint32_t *pos, uint32_t end, int level, int has_dep);

/* Reads a name reference at *pos (u32 offset, and the name itself when it
 * is defined right here); copies the name into ab. */
static int read_name(walk *w, uint32_t *pos, uint32_t end, bx_buf *ab, size_t *at)
{
    bx_chunk *c = w->c;
    uint32_t off;
    const char *nm;
    size_t len;
    if (*pos + 4 > end) return fail(c, *pos, "truncated name reference");
    off = etwl_le32(c->data + *pos);
    *pos += 4;
    if (off == *pos) { /* defined inline: skip it */
        uint16_t nch;
        if (*pos + 8 > end) return fail(c, *pos, "truncated name");
        nch = etwl_le16(c->data + *pos + 6);
        if ((uint64_t)*pos + 10 + 2u * nch > end) return fail(c, *pos, "truncated name");
        *pos += 10 + 2u * nch;
    }
    nm = name_at(c, off, &len);
    if (!nm) return fail(c, *pos - 4, "bad name offset");
    *at = ab->len;
    bx_put(ab, nm, len);
    bx_putc(ab, 0);
    return 0;
}

/* Text as expat reports it: line ends normalised to \n. */
static void emit_text(walk *w, bx_buf *t, size_t from)
{
    size_t o;
    if (t->len == from || !w->sink->text) return;
    o = normalise_eol(t->p + from, t->len - from);
    w->output += o;
    w->c->text_from_values = w->text_values;
    w->text_values = 0;
    w->sink->text(w->sink->ud, t->p + from, o);
    t->len = from;
}

static void emit_ws(walk *w, int level)
{
    int n = 2 * level;
    if (n > 2 * BX_MAX_DEPTH) n = 2 * BX_MAX_DEPTH;
    w->c->text_from_values = 0;
    w->indent[0] = '\n';
    memset(w->indent + 1, ' ', (size_t)n);
    if (w->sink->text) w->sink->text(w->sink->ud, w->indent, (size_t)n + 1);
}

static const sub *get_sub(walk *w, uint32_t id) { return id < w->nsubs ? &w->subs[id] : NULL; }

/* A value token, character or entity reference, CDATA or substitution at
 * *pos, appended to t as text; in element content (kids given) a BinXml
 * substitution is walked instead, as children at `level`.  Returns 1 when a token was consumed, 0
 * when the token is not one of these, -1 on damage. */
static int value_token(walk *w, uint32_t *pos, uint32_t end, bx_buf *t, int level, int *nonempty, int *kids)
{
    bx_chunk *c = w->c;
    const uint8_t *d = c->data;
    uint8_t tok = d[*pos];
    if (++w->tokens > BX_MAX_TOKENS || t->len + w->output > BX_MAX_OUTPUT)
        return fail(c, *pos, "record expands past the limit of its walk");
    switch (tok & 0xBF) {
    case 0x05: { /* value text */
        uint16_t n;
        if (*pos + 4 > end) return fail(c, *pos, "truncated value");
        if (d[*pos + 1] != BX_STRING) return fail(c, *pos, "value token of a type other than string");
        n = etwl_le16(d + *pos + 2);
        if ((uint64_t)*pos + 4 + 2u * n > end) return fail(c, *pos, "truncated value");
        /* the text itself starts 4 bytes in: never a name's offset */
        literal_put(c, t, *pos + 4, n);
        w->tok_lit++;
        *pos += 4 + 2u * n;
        *nonempty = 1;
        return 1;
    }
    case 0x07: { /* CDATA: its text */
        uint16_t n;
        if (*pos + 3 > end) return fail(c, *pos, "truncated CDATA");
        n = etwl_le16(d + *pos + 1);
        if ((uint64_t)*pos + 3 + 2u * n > end) return fail(c, *pos, "truncated CDATA");
        bx_utf16_put(t, d + *pos + 3, n);
        *pos += 3 + 2u * n;
        *nonempty = 1;
        w->tok_lit++;
        return 1;
    }
    case 0x08: /* character reference */
        if (*pos + 3 > end) return fail(c, *pos, "truncated character reference");
        {
            char u[4];
            bx_put(t, u, utf8_at(u, etwl_le16(d + *pos + 1)));
        }
        *pos += 3;
        *nonempty = 1;
        w->tok_lit++;
        return 1;
    case 0x09: { /* entity reference: the five XML ones */
        size_t at, save = c->attrbuf.len;
        const char *nm;
        *pos += 1;
        if (read_name(w, pos, end, &c->attrbuf, &at) != 0) return -1;
        nm = c->attrbuf.p + at;
        if (!strcmp(nm, "amp")) bx_putc(t, '&');
        else if (!strcmp(nm, "lt")) bx_putc(t, '<');
        else if (!strcmp(nm, "gt")) bx_putc(t, '>');
        else if (!strcmp(nm, "quot")) bx_putc(t, '"');
        else if (!strcmp(nm, "apos")) bx_putc(t, '\'');
        c->attrbuf.len = save;
        *nonempty = 1;
        w->tok_lit++;
        return 1;
    }
    case 0x0d:   /* normal substitution */
    case 0x0e: { /* optional substitution */
        const sub *s;
        uint16_t id;
        if (*pos + 4 > end) return fail(c, *pos, "truncated substitution");
        id = etwl_le16(d + *pos + 1);
        s = get_sub(w, id);
        *pos += 4;
        if (!s || s->type == BX_NULL || s->size == 0) return 1;
        w->tok_sub++;
        w->tok_slot = s->type != BX_BINXML && !(s->type & BX_ARRAY) ? (int)s->off : -1;
        (void)id;
        if (kids && s->type != BX_BINXML) {
            /* text made of values and more: a compiled template could not
             * say where each value's text goes */
            c->data_shaped = 1;
            w->text_values = 1;
        }
        if (s->type == BX_BINXML) {
            uint32_t p = s->off;
            if (!kids) return 1; /* BinXml in an attribute: nothing to say */
            emit_text(w, t, 0);
            *nonempty = 1;
            *kids = 1;
            if (walk_fragment(w, &p, s->off + s->size, level, 0) != 0) return -1;
            return 1;
        }
        if (bx_render_value(t, s->type, d + s->off, s->size) != 0) return fail(c, *pos - 4, "bad substitution value");
        *nonempty = 1;
        return 1;
    }
    default: return 0;
    }
}

size_t bx_str_item_end(const uint8_t *d, size_t n, size_t i)
{
    while (i + 1 < n && (d[i] | d[i + 1])) i += 2;
    return i;
}

/* An element whose content is an array value: one element per item (a
 * string array's items end with NUL). */
static int walk_array(walk *w, const sub *sb, const char *name, const bx_attr *attrs, int na, int level)
{
    bx_chunk *c = w->c;
    const uint8_t *d = c->data + sb->off;
    uint8_t type = sb->type & 0x7f;
    size_t i = 0, n = sb->size, fs = fixed_size(type), item = 0;
    while (i < n) {
        size_t next;
        c->scratch.len = 0;
        if (type == BX_STRING) {
            size_t k = bx_str_item_end(d, n, i);
            bx_utf16_put(&c->scratch, d + i, (k - i) / 2);
            next = k + 2;
        } else if (fs) {
            if (i + fs > n) break;
            if (bx_render_value(&c->scratch, type, d + i, fs) != 0) return fail(c, sb->off, "bad array value");
            next = i + fs;
        } else return fail(c, sb->off, "array of a type that has no fixed size");
        if (++w->tokens > BX_MAX_TOKENS || w->output > BX_MAX_OUTPUT)
            return fail(c, sb->off, "record expands past the limit of its walk");
        /* how many elements depends on the value: a plan's key says how
         * many items a string array has, other arrays are only walked */
        if (type != BX_STRING) c->data_shaped = 1;
        if (item) emit_ws(w, level);
        c->in_item = type == BX_STRING;
        c->item_array = sb->off;
        c->item_index = (uint32_t)item++;
        if (w->sink->start) w->sink->start(w->sink->ud, name, attrs, na);
        w->text_values = 1;
        emit_text(w, &c->scratch, 0);
        if (w->sink->end) w->sink->end(w->sink->ud);
        c->in_item = 0;
        i = next;
    }
    c->scratch.len = 0;
    return 0;
}

/* An element at *pos (its open token), at indentation level `level`. */
static int walk_element(walk *w, uint32_t *pos, uint32_t end, int level, int has_dep, int ws)
{
    bx_chunk *c = w->c;
    const uint8_t *d = c->data;
    uint8_t tok = d[*pos];
    size_t name_at_, mark = c->attrbuf.len;
    size_t aname[BX_MAX_ATTRS], aval[BX_MAX_ATTRS], alen[BX_MAX_ATTRS];
    int afrom[BX_MAX_ATTRS];
    bx_attr attrs[BX_MAX_ATTRS];
    int na = 0, i, children = 0;
    uint32_t p = *pos + 1;
    if (++w->depth > BX_MAX_DEPTH) return fail(c, *pos, "elements nested too deep");
    if (++w->tokens > BX_MAX_TOKENS || w->output > BX_MAX_OUTPUT)
        return fail(c, *pos, "record expands past the limit of its walk");
    if (has_dep) p += 2;
    p += 4; /* data size: the tokens say where the element ends */
    if (p > end) return fail(c, *pos, "truncated element");
    if (read_name(w, &p, end, &c->attrbuf, &name_at_) != 0) return -1;
    if (tok & 0x40) p += 4; /* attribute list size */
    while (p < end && (d[p] & 0xBF) == 0x06) {
        size_t an, from;
        int nonempty = 0, r;
        p++;
        if (read_name(w, &p, end, &c->attrbuf, &an) != 0) return -1;
        from = c->attrbuf.len;
        /* attribute values go in scratch, then behind the names in attrbuf */
        c->scratch.len = 0;
        w->tok_lit = w->tok_sub = 0;
        w->tok_slot = -1;
        while (p < end && (r = value_token(w, &p, end, &c->scratch, -1, &nonempty, NULL)) == 1) {
        }
        if (p >= end) return fail(c, p, "truncated attribute");
        if (r < 0) return -1;
        if (!nonempty || na == BX_MAX_ATTRS) { /* an empty optional value drops the attribute */
            c->attrbuf.len = an;
            continue;
        }
        /* attribute-value normalisation, as an XML parser does */
        {
            size_t k, o = 0;
            char *s = c->scratch.p;
            for (k = 0; k < c->scratch.len; k++) {
                if (s[k] == '\r' && k + 1 < c->scratch.len && s[k + 1] == '\n') k++;
                s[o++] = (s[k] == '\r' || s[k] == '\n' || s[k] == '\t') ? ' ' : s[k];
            }
            c->scratch.len = o;
        }
        bx_put(&c->attrbuf, c->scratch.p ? c->scratch.p : "", c->scratch.len);
        bx_putc(&c->attrbuf, 0);
        aname[na] = an;
        aval[na] = from;
        alen[na] = c->scratch.len;
        afrom[na] = !w->tok_sub                                          ? BX_FROM_TEMPLATE
                    : w->tok_sub == 1 && !w->tok_lit && w->tok_slot >= 0 ? w->tok_slot
                                                                         : BX_FROM_MIXED;
        na++;
        c->scratch.len = 0;
    }
    if (p >= end) return fail(c, p, "truncated element");
    if (c->attrbuf.oom) return fail(c, p, "out of memory");
    for (i = 0; i < na; i++) {
        attrs[i].name = c->attrbuf.p + aname[i];
        attrs[i].value = c->attrbuf.p + aval[i];
        attrs[i].value_len = alen[i];
        attrs[i].from = afrom[i];
    }
    tok = d[p++];
    if (tok != 0x02 && tok != 0x03) return fail(c, p - 1, "expected the end of a start tag");
    if (tok == 0x02 && p + 5 <= end && (d[p] == 0x0d || d[p] == 0x0e) && d[p + 4] == 0x04) {
        const sub *sb = get_sub(w, etwl_le16(d + p + 1));
        if (d[p] == 0x0e && (!sb || sb->type == BX_NULL)) {
            /* content that is an optional value left out: so is the element */
            c->attrbuf.len = mark;
            w->depth--;
            *pos = p + 5;
            return 0;
        }
        /* content that is one array value: libevtx writes the element once
         * per item, and so it is reported */
        if (sb && (sb->type & BX_ARRAY) && sb->size) {
            if (ws) emit_ws(w, level);
            if (walk_array(w, sb, c->attrbuf.p + name_at_, attrs, na, level) != 0) return -1;
            c->attrbuf.len = mark;
            w->depth--;
            *pos = p + 5;
            return 0;
        }
    }
    if (ws) emit_ws(w, level);
    if (w->sink->start) w->sink->start(w->sink->ud, c->attrbuf.p + name_at_, attrs, na);
    c->attrbuf.len = mark;
    if (tok == 0x02 && w->sink->value && p + 5 <= end && (d[p] == 0x0d || d[p] == 0x0e) && d[p + 4] == 0x04) {
        /* the common content: one value, handed on undecoded */
        const sub *sb = get_sub(w, etwl_le16(d + p + 1));
        if (sb && sb->type != BX_BINXML && !(sb->type & BX_ARRAY)) {
            if (bx_value_ok(sb->type, d + sb->off, sb->size) != 0) return fail(c, p, "bad substitution value");
            w->output += sb->size;
            if (sb->size && sb->type != BX_NULL) w->sink->value(w->sink->ud, sb->type, d + sb->off, sb->size);
            if (w->sink->end) w->sink->end(w->sink->ud);
            w->depth--;
            *pos = p + 5;
            return 0;
        }
    }
    if (tok == 0x02) {
        size_t from = c->scratch.len;
        for (;;) {
            int nonempty = 0, r;
            if (p >= end) return fail(c, p, "element not closed");
            tok = d[p];
            if (tok == 0x04) {
                p++;
                break;
            }
            if ((tok & 0xBF) == 0x01) {
                emit_text(w, &c->scratch, from);
                children = 1;
                if (walk_element(w, &p, end, level + 1, has_dep, 1) != 0) return -1;
                continue;
            }
            if (tok == 0x0a || tok == 0x0b) { /* processing instructions: not reported */
                if (tok == 0x0a) {
                    size_t at;
                    p++;
                    if (read_name(w, &p, end, &c->attrbuf, &at) != 0) return -1;
                    c->attrbuf.len = mark;
                } else {
                    if (p + 3 > end) return fail(c, p, "truncated PI");
                    p += 3 + 2u * etwl_le16(d + p + 1);
                }
                continue;
            }
            r = value_token(w, &p, end, &c->scratch, level + 1, &nonempty, &children);
            if (r < 0) return -1;
            if (r == 0) return fail(c, p, "unexpected token in element content");
        }
        emit_text(w, &c->scratch, from);
        if (children) emit_ws(w, level);
    }
    if (w->sink->end) w->sink->end(w->sink->ud);
    w->depth--;
    *pos = p;
    return 0;
}

/* A template instance at *pos: its definition (here or earlier in the
 * chunk) walked with the values that follow it. */
static int walk_template(walk *w, uint32_t *pos, uint32_t end, int level)
{
    bx_chunk *c = w->c;
    const uint8_t *d = c->data;
    uint32_t p = *pos + 1, def, tsize, n, i, voff, tp;
    sub *subs;
    const sub *osubs = w->subs;
    uint32_t onsubs = w->nsubs;
    int r;
    if (p + 9 > end) return fail(c, *pos, "truncated template instance");
    p += 5; /* unknown byte, template id */
    def = etwl_le32(d + p);
    p += 4;
    if (def == p) { /* the definition is here: skip it */
        if (p + 24 > end) return fail(c, p, "truncated template definition");
        tsize = etwl_le32(d + p + 20);
        if ((uint64_t)p + 24 + tsize > end) return fail(c, p, "truncated template definition");
        p += 24 + tsize;
    }
    if (def < 512 || (uint64_t)def + 24 > c->len) return fail(c, p, "bad template offset");
    tsize = etwl_le32(d + def + 20);
    if ((uint64_t)def + 24 + tsize > c->len) return fail(c, def, "template definition runs past its chunk");
    if (p + 4 > end) return fail(c, p, "truncated substitution array");
    n = etwl_le32(d + p);
    p += 4;
    if (n > BX_MAX_SUBS) return fail(c, p - 4, "too many substitution values");
    if ((uint64_t)p + 4u * n > end) return fail(c, p, "truncated substitution array");
    subs = malloc((n ? n : 1) * sizeof *subs);
    if (!subs) return fail(c, p, "out of memory");
    voff = p + 4 * n;
    for (i = 0; i < n; i++) {
        subs[i].size = etwl_le16(d + p + 4 * i);
        subs[i].type = d[p + 4 * i + 2];
        subs[i].off = voff;
        voff += subs[i].size;
    }
    if (voff > end) {
        free(subs);
        return fail(c, p, "substitution values run past their record");
    }
    w->subs = subs;
    w->nsubs = n;
    tp = def + 24;
    w->inst_depth++;
    r = walk_fragment(w, &tp, def + 24 + tsize, level, 1);
    w->inst_depth--;
    w->subs = osubs;
    w->nsubs = onsubs;
    free(subs);
    *pos = voff;
    return r;
}

/* Tokens until the end of the fragment (an end-of-stream token or end). */
static int walk_fragment(walk *w, uint32_t *pos, uint32_t end, int level, int has_dep)
{
    bx_chunk *c = w->c;
    int r = 0;
    if (++w->depth > BX_MAX_DEPTH) return fail(c, *pos, "BinXml nested too deep");
    while (*pos < end && r == 0) {
        uint8_t tok = c->data[*pos];
        if (tok == 0x00) {
            (*pos)++;
            break;
        } else if (tok == 0x0f) *pos += 4;
        else if (tok == 0x0c) r = walk_template(w, pos, end, level);
        else if ((tok & 0xBF) == 0x01) {
            int dep = has_dep;
            if (!has_dep && *pos + 11 <= end) {
                /* BinXml inside a value may leave out the dependency id: the
                 * layout whose name offset points back (or right here) wins */
                uint32_t with = etwl_le32(c->data + *pos + 7), without = etwl_le32(c->data + *pos + 5);
                dep = (with <= *pos + 11 && with >= 512) || !(without <= *pos + 9 && without >= 512);
            }
            r = walk_element(w, pos, end, level, dep, level > 0);
        } else r = fail(c, *pos, "unexpected token");
    }
    w->depth--;
    return r;
}

int bx_walk(bx_chunk *c, uint32_t off, uint32_t end, const bx_sink *sink)
{
    walk w;
    memset(&w, 0, sizeof w);
    w.c = c;
    w.sink = sink;
    c->err[0] = 0;
    c->scratch.len = 0;
    c->attrbuf.len = 0;
    c->data_shaped = 0;
    c->in_item = 0;
    if (end > c->len) return fail(c, off, "record runs past its chunk");
    return walk_fragment(&w, &off, end, 0, 1);
}

int bx_instance_head(const bx_chunk *c, uint32_t off, uint32_t end, bx_instance *in)
{
    const uint8_t *d = c->data;
    uint32_t p = off, tsize;
    if (end > c->len || p + 4 + 14 > end || d[p] != 0x0f || d[p + 4] != 0x0c) return -1;
    p += 4 + 6;
    in->def = etwl_le32(d + p);
    p += 4;
    if (in->def == p) { /* the definition is here */
        if (p + 24 > end) return -1;
        tsize = etwl_le32(d + p + 20);
        if ((uint64_t)p + 24 + tsize > end) return -1;
        p += 24 + tsize;
    }
    if (in->def < 512 || (uint64_t)in->def + 24 > c->len || p + 4 > end) return -1;
    in->n = etwl_le32(d + p);
    p += 4;
    if (in->n > BX_MAX_SUBS || (uint64_t)p + 4u * in->n > end) return -1;
    in->descs = p;
    in->values = p + 4 * in->n;
    in->end = end;
    return 0;
}

int bx_instance_fits(const bx_chunk *c, const bx_instance *in, uint32_t values_end)
{
    /* the values, then the end of the stream or nothing */
    return values_end > in->end || (values_end < in->end && c->data[values_end] != 0x00) ? -1 : 0;
}
