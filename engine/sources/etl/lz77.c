/* lz77.c - see lz77.h.  Input: 32-bit flag words (most significant bit
 * first: 0 a literal byte, 1 a match), matches as 16 bits of
 * (offset - 1) << 3 | length, with longer lengths in a shared half byte, a
 * byte, 16 or 32 bits. */
#include "sources/etl/lz77.h"

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }

long etwl_lz77_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t ip = 0, op = 0, half = 0; /* half: where the pending length half byte is, 0 = none */
    int has_half = 0;
    uint32_t flags = 0;
    int nflags = 0;
    for (;;) {
        if (nflags == 0) {
            if (ip + 4 > n) return (long)op; /* the input may end on a flag boundary */
            flags = rd32(in + ip);
            ip += 4;
            nflags = 32;
        }
        nflags--;
        if (!(flags & (1u << nflags))) {
            if (ip >= n) return (long)op;
            if (op >= cap) return ETWL_LZ77_FULL;
            out[op++] = in[ip++];
            continue;
        }
        {
            uint32_t m, len, off;
            size_t i;
            if (ip == n) return (long)op; /* a set flag past the end marks the end */
            if (ip + 2 > n) return -1;
            m = rd16(in + ip);
            ip += 2;
            len = m & 7;
            off = (m >> 3) + 1;
            if (len == 7) {
                if (!has_half) {
                    if (ip >= n) return -1;
                    len = in[ip] & 15;
                    half = ip++;
                    has_half = 1;
                } else {
                    len = in[half] >> 4;
                    has_half = 0;
                }
                if (len == 15) {
                    if (ip >= n) return -1;
                    len = in[ip++];
                    if (len == 255) {
                        if (ip + 2 > n) return -1;
                        len = rd16(in + ip);
                        ip += 2;
                        if (len == 0) {
                            if (ip + 4 > n) return -1;
                            len = rd32(in + ip);
                            ip += 4;
                        }
                        if (len < 15 + 7) return -1;
                        len -= 15 + 7;
                    }
                    len += 15;
                }
                len += 7;
            }
            len += 3;
            if (off > op) return -1;
            if (len > cap - op) return ETWL_LZ77_FULL;
            for (i = 0; i < len; i++, op++) out[op] = out[op - off]; /* may overlap: byte by byte */
        }
    }
}
