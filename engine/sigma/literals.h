/* literals.h - a multi-pattern literal matcher: many short strings, each
 * filed under one field, found in a field's text in one pass.
 *
 * This is the matcher behind the Sigma prefilter (prefilter.c), kept free
 * of libyaml and PCRE2 so that the Lua rule library can use it on every
 * platform (engine/lua/lua_rules.c).  Each literal is filed under its
 * rarest 4-byte gram in a hash per field; a text is scanned gram by gram
 * and each hit is verified in place, so the cost is the text's length, not
 * the number of literals. */
#ifndef ETWL_SIGMA_LITERALS_H
#define ETWL_SIGMA_LITERALS_H

#include <stddef.h>
#include <stdint.h>

#define SG_LIT_MIN 4        /* shortest literal: the gram */
#define SG_LIT_FIELDS 65536 /* fields are 0..SG_LIT_FIELDS-1 */

typedef struct sg_lits sg_lits;

sg_lits *sg_lits_new(void);
void sg_lits_free(sg_lits *s);
/* Adds a literal (lower-cased here, ASCII) for a field (a small index) with the
 * caller's tag; 0 when out of memory or shorter than SG_LIT_MIN. */
int sg_lits_add(sg_lits *s, unsigned field, const char *lit, size_t n, uint32_t tag);
/* Builds the hashes; add nothing after.  0 when out of memory. */
int sg_lits_build(sg_lits *s);
size_t sg_lits_count(const sg_lits *s);
uint32_t sg_lits_tag(const sg_lits *s, uint32_t lit);
/* Calls hit(ctx, lit) for each occurrence of a literal of field in text
 * (which must be lower-cased as the literals are). */
typedef void (*sg_lits_hit_fn)(void *ctx, uint32_t lit);
void sg_lits_scan(const sg_lits *s, unsigned field, const char *text, size_t n, sg_lits_hit_fn hit, void *ctx);

#endif
