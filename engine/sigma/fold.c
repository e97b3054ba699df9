/* fold.c - case folding for Sigma values and field texts (sigma_int.h).
 *
 * Sigma values are case-insensitive, for every letter, not only ASCII: a
 * rule written for "ПРИВЕТ" must match "привет".  Both sides (the rule's
 * patterns at compile time, an event's field texts once per event) go
 * through the same function, so any mapping applied consistently is sound;
 * the one used is the C library's Unicode simple case mapping, through a
 * C.UTF-8 locale object (towupper_l then towlower_l, so that final sigma,
 * long s and the Kelvin sign meet their letters as Unicode case folding
 * has them).  A locale object rather than setlocale(): the process-wide
 * locale belongs to the program, and Lua's string functions read it.
 *
 * Bytes that are not valid UTF-8 (a stray continuation byte, an overlong
 * form, a surrogate, a truncated sequence) are copied as they are, one at
 * a time: hostile text cannot make the folder read past its end or drop
 * bytes.  A folded character may be longer or shorter than the original
 * (U+023A is 2 bytes, its lower case U+2C65 is 3), so callers use the
 * length folded, never the input's. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <wctype.h>

#include "sigma/sigma_int.h"
#include "util/utf.h"

/* the 2-byte range (U+0080..U+07FF: Latin, Greek, Cyrillic, Armenian,
 * Hebrew, Arabic) is looked up in a table built once; the rest asks the
 * library */
static uint32_t two[0x800];
static locale_t utf8_loc;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint32_t fold_lib(uint32_t c)
{
    wint_t u;
    if (!utf8_loc) return c;
    u = towupper_l((wint_t)c, utf8_loc);
    u = towlower_l(u, utf8_loc);
    /* a mapping that leaves the code space or lands on a surrogate is not kept */
    if (u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF)) return c;
    /* U+0130 (I with dot) folds to i and U+0131 (dotless i) stays itself:
     * upper-then-lower would make dotless i an i */
    if (c == 0x131) return c;
    return (uint32_t)u;
}

static void init(void)
{
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!utf8_loc) utf8_loc = newlocale(LC_CTYPE_MASK, "C.utf8", (locale_t)0);
    for (uint32_t c = 0; c < 0x800; c++) two[c] = c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : fold_lib(c);
}

int sg_fold_unicode(void)
{
    pthread_once(&once, init);
    return utf8_loc != (locale_t)0;
}

size_t sg_fold(const char *in, size_t n, char *out)
{
    const uint8_t *s = (const uint8_t *)in;
    size_t i = 0, o = 0;
    pthread_once(&once, init);
    while (i < n) {
        uint32_t c = s[i], f;
        size_t k;
        if (c < 0x80) {
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
            continue;
        }
        if (!(k = etwl_utf8_seq(s + i, n - i, &c))) { /* not UTF-8: the byte itself */
            out[o++] = (char)s[i++];
            continue;
        }
        f = c < 0x800 ? two[c] : fold_lib(c);
        o += etwl_utf8_put(out + o, f);
        i += k;
    }
    return o;
}
