/* bytes.h - little-endian reads of unaligned bytes.
 *
 * ETW payloads, TRACE_EVENT_INFO blobs and extended-data items are all
 * little-endian and may sit at any offset, so every reader of them goes
 * through these rather than casting pointers. */
#ifndef ETWL_BYTES_H
#define ETWL_BYTES_H

#include <stdint.h>
#include <string.h>

/* n is 1..8 */
static inline uint64_t etwl_rd_le(const uint8_t *p, unsigned n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    switch (n) {
    case 1: return p[0];
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    default: break;
    }
#endif
    {
        uint64_t v = 0;
        while (n--) v = (v << 8) | p[n];
        return v;
    }
}

static inline uint16_t etwl_le16(const uint8_t *p) { return (uint16_t)etwl_rd_le(p, 2); }
static inline uint32_t etwl_le32(const uint8_t *p) { return (uint32_t)etwl_rd_le(p, 4); }
static inline uint64_t etwl_le64(const uint8_t *p) { return etwl_rd_le(p, 8); }

#endif
