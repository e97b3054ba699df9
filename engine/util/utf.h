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
/* Writes code point c (at most U+10FFFF, not a surrogate) as UTF-8 at o
 * (room for 4 bytes); returns the bytes written. */
size_t etwl_utf8_put(char *o, uint32_t c);

/* The one list of code points no output writes raw, because they control
 * the terminal or hide, reorder or split text: C0 controls, DEL, C1
 * controls (U+0080-U+009F, e.g. U+009B, an 8-bit CSI), U+061C (Arabic
 * letter mark), U+200B-U+200F (zero-width, LRM, RLM), U+2028/U+2029 (line
 * and paragraph separators, line ends in JavaScript), U+202A-U+202E (bidi
 * embeddings and overrides), U+2060-U+2064 (word joiner, invisible
 * operators), U+2066-U+2069 (bidi isolates) and U+FEFF (BOM).  JSON writes
 * them as \uXXXX, the readable form as \xXX / \u{X}. */
int etwl_cp_needs_escape(uint32_t cp);

/* UTF-16LE (nchars code units) to UTF-8 in the arena.  Unpaired surrogates
 * become U+FFFD, so the result is always valid UTF-8. */
char *etwl_utf16_to_utf8(etwl_arena *a, const uint8_t *p, size_t nchars, uint32_t *outlen);
/* ANSI bytes: kept when they are valid UTF-8, else read as Windows-1252. */
char *etwl_ansi_to_utf8(etwl_arena *a, const uint8_t *p, size_t n, uint32_t *outlen);

#endif
