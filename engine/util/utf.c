/* utf.c - see utf.h */
#include "util/utf.h"

#include <string.h>

size_t etwl_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len, i;
    if (n == 0) return 0;
    c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

int etwl_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t k;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        k = etwl_utf8_seq(p + i, n - i, &cp);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

int etwl_cp_needs_escape(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 ||
           cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

size_t etwl_utf8_put(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

char *etwl_utf16_to_utf8(etwl_arena *a, const uint8_t *p, size_t nchars, uint32_t *outlen)
{
    /* each UTF-16 unit yields at most 3 UTF-8 bytes (a pair yields 4 for 2) */
    char *o, *w;
    size_t i;
    if (nchars > (UINT32_MAX - 1) / 3) return NULL;
    o = etwl_arena_alloc(a, nchars * 3 + 1);
    if (!o) return NULL;
    w = o;
    /* paths and command lines are mostly ASCII: copy those runs directly */
    for (i = 0; i < nchars && p[2 * i + 1] == 0 && p[2 * i] < 0x80; i++) w[i] = (char)p[2 * i];
    w += i;
    for (; i < nchars; i++) {
        uint32_t c = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < nchars) {
            uint32_t c2 = (uint32_t)p[2 * i + 2] | (uint32_t)p[2 * i + 3] << 8;
            if (c2 >= 0xDC00 && c2 <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (c2 - 0xDC00);
                i++;
            } else {
                c = 0xFFFD;
            }
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        w += etwl_utf8_put(w, c);
    }
    *w = 0;
    *outlen = (uint32_t)(w - o);
    return o;
}

/* Windows-1252 0x80..0x9F; undefined slots map to themselves as C1 controls. */
static const uint16_t cp1252_hi[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                       0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
                                       0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                       0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

char *etwl_ansi_to_utf8(etwl_arena *a, const uint8_t *p, size_t n, uint32_t *outlen)
{
    char *o, *w;
    size_t i;
    if (etwl_utf8_valid((const char *)p, n)) {
        o = etwl_arena_strdup(a, (const char *)p, n);
        if (o) *outlen = (uint32_t)n;
        return o;
    }
    if (n > (UINT32_MAX - 1) / 3) return NULL;
    o = etwl_arena_alloc(a, n * 3 + 1);
    if (!o) return NULL;
    w = o;
    for (i = 0; i < n; i++) {
        uint32_t c = p[i];
        if (c >= 0x80 && c < 0xA0) c = cp1252_hi[c - 0x80];
        w += etwl_utf8_put(w, c);
    }
    *w = 0;
    *outlen = (uint32_t)(w - o);
    return o;
}
