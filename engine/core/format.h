/* format.h - internal helpers of format.c */
#ifndef ETWL_FORMAT_H
#define ETWL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "etwl.h"

#define ETWL_SID_STRLEN 200

void etwl_guid_from_bytes(const uint8_t *p, etwl_guid *g);
/* The GUID's 16 bytes in memory order (little-endian fields), as ETW writes them. */
void etwl_guid_to_bytes(const etwl_guid *g, uint8_t *p);
int64_t etwl_time_from_civil(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, int64_t ticks);
/* Size of the binary SID at p, or 0 if it is not a valid SID within avail. */
size_t etwl_sid_size(const uint8_t *p, size_t avail);
/* "S-1-5-18"; returns its length, or 0 when the SID is invalid. */
int etwl_sid_format(const uint8_t *p, size_t n, char *buf, size_t bufsz);
/* The 16 bytes of an IPv6 address (network order) per RFC 5952, the longest
 * zero run compressed; returns the length written. */
int etwl_ipv6_format(const uint8_t *b, char *o, size_t osz);

#endif
