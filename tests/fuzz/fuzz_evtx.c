/* fuzz_evtx.c - libFuzzer target for the native EVTX reader: the input is
 * one chunk (padded to 64 KB); its checksums are computed, its records
 * walked as the reader walks them (and the slack scanned as in a damaged
 * file), each record's BinXml walked with a sink that touches every
 * reported byte and decodes every lazy value. */
#include <stdint.h>
#include <string.h>

#include "sources/evtx/binxml.h"
#include "sources/evtx/evtxfile.h"

static evtx_file fx;
static bx_chunk chunk;
static volatile size_t sink_total;

static void s_start(void *ud, const char *n, const bx_attr *a, int na)
{
    int i;
    (void)ud;
    sink_total += strlen(n);
    for (i = 0; i < na; i++) sink_total += strlen(a[i].name) + a[i].value_len;
}
static void s_text(void *ud, const char *s, size_t n)
{
    (void)ud;
    if (n) sink_total += (unsigned char)s[n - 1];
}
static void s_end(void *ud) { (void)ud; }
static void s_value(void *ud, uint8_t type, const uint8_t *d, uint32_t n)
{
    bx_buf b = {0};
    (void)ud;
    if (bx_value_ok(type, d, n) == 0 && bx_render_text(&b, type, d, n) != 0) __builtin_trap(); /* ok promised it */
    sink_total += b.len;
    bx_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const bx_sink sink = {NULL, s_start, s_text, s_end, s_value};
    evtx_record r;
    uint32_t fso;
    if (size > EVTX_CHUNK_SIZE) size = EVTX_CHUNK_SIZE;
    memset(fx.chunk, 0, sizeof fx.chunk);
    memcpy(fx.chunk, data, size);
    fx.avail = (uint32_t)size;
    fx.loaded = EVTX_CHUNK_SIZE;
    fx.stopped = 0;
    fso = (uint32_t)fx.chunk[48] | (uint32_t)fx.chunk[49] << 8 | (uint32_t)fx.chunk[50] << 16 |
          (uint32_t)fx.chunk[51] << 24;
    fx.limit = fso < EVTX_RECORDS_START || fso > fx.avail ? fx.avail : fso;
    fx.next = EVTX_RECORDS_START;
    sink_total += evtx_crc32(fx.chunk, size);
    bx_chunk_reset(&chunk, fx.chunk, EVTX_CHUNK_SIZE);
    while (evtx_file_record(&fx, &r) == 1) bx_walk(&chunk, r.data, r.data_end, &sink);
    if (fx.stopped) fx.next += 8;
    while (evtx_file_scan(&fx, &r) == 1) bx_walk(&chunk, r.data, r.data_end, &sink);
    return 0;
}
