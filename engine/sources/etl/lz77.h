/* lz77.h - the "Plain LZ77" decompressor of [MS-XCA] 2.4 (Xpress without
 * Huffman), which Windows 8 and later use for compressed ETL buffers.
 * Written from the specification; every read and copy is bounds-checked. */
#ifndef ETWL_LZ77_H
#define ETWL_LZ77_H

#include <stddef.h>
#include <stdint.h>

/* Returned when the output does not fit in cap: the input may still be
 * sound, so a caller can retry with more room.  -1 means malformed input,
 * which more room cannot mend. */
#define ETWL_LZ77_FULL (-2)

/* Decompresses in[0..n) into out (cap bytes).  Returns the bytes written,
 * -1 when the input is malformed, or ETWL_LZ77_FULL. */
long etwl_lz77_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
