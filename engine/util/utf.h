/* utf.h - text conversions.  Everything the engine hands out is UTF-8. */
#ifndef ETWL_UTF_H
#define ETWL_UTF_H

#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

/* Length in bytes of a valid UTF-8 sequence at s, or 0 if it is not valid
 * (overlong forms, surrogates and values above U+10FFFF are invalid). */
size_t etwl_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);
int etwl_utf8_valid(const char *s, size_t n);

/* UTF-16LE (nchars code units) to UTF-8 in the arena.  Unpaired surrogates
 * become U+FFFD, so the result is always valid UTF-8. */
char *etwl_utf16_to_utf8(etwl_arena *a, const uint8_t *p, size_t nchars, uint32_t *outlen);
/* ANSI bytes: kept when they are valid UTF-8, else read as Windows-1252. */
char *etwl_ansi_to_utf8(etwl_arena *a, const uint8_t *p, size_t n, uint32_t *outlen);

#endif
