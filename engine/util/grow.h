/* grow.h - the one growth rule for the engine's arrays. */
#ifndef ETWL_GROW_H
#define ETWL_GROW_H

#include <stddef.h>
#include <stdint.h>

/* Makes the array *p (of *cap elements of size sz, n in use) hold want more,
 * doubling; 0 when that would pass max elements or memory runs out, and the
 * array is then as it was. */
int etwl_grow(void *p, uint32_t n, uint32_t want, uint32_t *cap, size_t sz, uint32_t max);

#endif
