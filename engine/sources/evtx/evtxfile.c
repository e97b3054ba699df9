/* evtxfile.c - see evtxfile.h.  Layout from libyal's "Windows XML Event Log
 * (EVTX)" format notes: a 4096-byte file header ("ElfFile"), then chunks of
 * 65536 bytes ("ElfChnk"): a 512-byte header (with the string and template
 * offset tables) and records ("**\0\0", size, id, written time, BinXml,
 * size again). */
#include "sources/evtx/evtxfile.h"
#include "util/bytes.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef ETWL_HAVE_DEFLATE
#include <libdeflate.h>
#elif defined ETWL_HAVE_ZIP
#include <zlib.h>
#endif
#ifndef _WIN32
#include <unistd.h>
#endif

/* 64-bit file offsets: mingw's off_t is 32 bits, and event logs grow past
 * 2 GB */
#ifdef _WIN32
#define seek64(f, o) _fseeki64((f), (long long)(o), SEEK_SET)
#define size64(f) (_fseeki64((f), 0, SEEK_END) == 0 ? _ftelli64(f) : -1)
#else
#define seek64(f, o) fseeko((f), (off_t)(o), SEEK_SET)
#define size64(f) (fseeko((f), 0, SEEK_END) == 0 ? (long long)ftello(f) : -1)
#endif

/* CRC-32 continued from c (0 to start) */
static uint32_t crc_more(uint32_t c, const uint8_t *p, size_t n);

uint32_t evtx_crc32(const uint8_t *p, size_t n) { return crc_more(0, p, n); }

static uint32_t crc_more(uint32_t c0, const uint8_t *p, size_t n)
{
#ifdef ETWL_HAVE_DEFLATE
    /* PCLMUL where the CPU has it: the checksums of every chunk were 22%
     * of a replay's instructions with zlib's */
    return libdeflate_crc32(c0, p, n);
#elif defined ETWL_HAVE_ZIP
    uLong c = c0;
    while (n > 0) { /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
#else
    /* zlib is not cross-built for Windows: the same CRC-32 (IEEE, reflected).
     * The table is made per call, not cached in a static, so that workers
     * replaying files in parallel (-j) share nothing; it costs little next
     * to a 64 KB chunk. */
    uint32_t table[256];
    uint32_t c = ~c0, k, j, v;
    size_t i;
    for (k = 0; k < 256; k++) {
        for (v = k, j = 0; j < 8; j++) v = (v & 1) ? 0xEDB88320u ^ (v >> 1) : v >> 1;
        table[k] = v;
    }
    for (i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
#endif
}

int evtx_file_open(evtx_file *x, const char *path, char *msg, size_t msgsz)
{
    memset(x, 0, offsetof(evtx_file, header));
    x->f = fopen(path, "rb");
    if (!x->f) {
        snprintf(msg, msgsz, "cannot open: %s", strerror(errno));
        return -1;
    }
    {
        long long n = size64(x->f);
        x->size = n > 0 ? (uint64_t)n : 0;
    }
    rewind(x->f);
    /* reads go straight to the file: a chunk is read in one or two
     * pieces of known size, which stdio's buffer would only copy again */
    setvbuf(x->f, NULL, _IONBF, 0);
    if (x->size < EVTX_HEADER_SIZE || fread(x->header, 1, EVTX_HEADER_SIZE, x->f) != EVTX_HEADER_SIZE ||
        memcmp(x->header, "ElfFile", 8) != 0) {
        snprintf(msg, msgsz, "not an EVTX file (no ElfFile header)");
        fclose(x->f);
        x->f = NULL;
        return -1;
    }
    {
        /* a last chunk cut short still holds records where it has them */
        uint64_t n = (x->size - EVTX_HEADER_SIZE) / EVTX_CHUNK_SIZE;
        if ((x->size - EVTX_HEADER_SIZE) % EVTX_CHUNK_SIZE >= EVTX_RECORDS_START) n++;
        x->nchunks = n > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)n;
    }
    return 0;
}

void evtx_file_close(evtx_file *x)
{
    if (x->f) fclose(x->f);
    x->f = NULL;
}

/* n bytes at file offset at into buf: 0, or -1 on a short read. */
static int read_at(evtx_file *x, uint64_t at, uint8_t *buf, uint32_t n)
{
#ifdef _WIN32
    return seek64(x->f, at) == 0 && fread(buf, 1, n, x->f) == n ? 0 : -1;
#else
    int fd = fileno(x->f);
    while (n > 0) {
        ssize_t k = pread(fd, buf, n, (off_t)at);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        buf += k;
        at += (uint64_t)k;
        n -= (uint32_t)k;
    }
    return 0;
#endif
}

int evtx_file_load_all(evtx_file *x)
{
    uint64_t at = EVTX_HEADER_SIZE + (uint64_t)x->ci * EVTX_CHUNK_SIZE;
    if (x->loaded >= EVTX_CHUNK_SIZE) return 0;
    if (x->loaded < x->avail && read_at(x, at + x->loaded, x->chunk + x->loaded, x->avail - x->loaded) != 0) return -1;
    memset(x->chunk + x->avail, 0, EVTX_CHUNK_SIZE - x->avail);
    x->loaded = EVTX_CHUNK_SIZE;
    return 0;
}

int evtx_file_chunk(evtx_file *x, uint32_t i)
{
    uint32_t fso;
    uint64_t at = EVTX_HEADER_SIZE + (uint64_t)i * EVTX_CHUNK_SIZE;
    x->ci = i;
    x->next = x->limit = 0;
    x->loaded = 0;
    x->stopped = 0;
    x->why[0] = 0;
    if (i >= x->nchunks) return 0;
    {
        uint64_t left = x->size - at;
        x->avail = left < EVTX_CHUNK_SIZE ? (uint32_t)left : EVTX_CHUNK_SIZE;
    }
    /* the header first: it says how much of the chunk its records use */
    if (read_at(x, at, x->chunk, EVTX_RECORDS_START) != 0) return -1;
    x->loaded = EVTX_RECORDS_START;
    if (memcmp(x->chunk, "ElfChnk", 8) != 0) return 0;
    x->header_crc_ok =
        crc_more(evtx_crc32(x->chunk, 120), x->chunk + 128, EVTX_RECORDS_START - 128) == etwl_le32(x->chunk + 124);
    fso = etwl_le32(x->chunk + 48);
    if (fso >= EVTX_RECORDS_START && fso <= x->avail) {
        /* usually all a chunk needs: the rest is unused space, read only
         * when the chunk turns out damaged (the walk never looks past
         * loaded) */
        if (read_at(x, at + EVTX_RECORDS_START, x->chunk + EVTX_RECORDS_START, fso - EVTX_RECORDS_START) != 0)
            return -1;
        x->loaded = fso;
        x->data_crc_ok =
            evtx_crc32(x->chunk + EVTX_RECORDS_START, fso - EVTX_RECORDS_START) == etwl_le32(x->chunk + 52);
        x->limit = fso;
        if (x->header_crc_ok && x->data_crc_ok && x->avail == EVTX_CHUNK_SIZE) {
            x->next = EVTX_RECORDS_START;
            return 1;
        }
    }
    /* damaged or cut short: all of it, as recovery scans all of it */
    if (evtx_file_load_all(x) != 0) return -1;
    if (fso < EVTX_RECORDS_START || fso > EVTX_CHUNK_SIZE) {
        /* a free space offset past the chunk: read what parses */
        x->data_crc_ok = 0;
        x->limit = EVTX_CHUNK_SIZE;
    } else {
        x->data_crc_ok =
            evtx_crc32(x->chunk + EVTX_RECORDS_START, fso - EVTX_RECORDS_START) == etwl_le32(x->chunk + 52);
        x->limit = fso;
    }
    if (x->limit > x->avail) x->limit = x->avail;
    x->next = EVTX_RECORDS_START;
    return 1;
}

/* A record header at off that holds together within end. */
static int record_at(const evtx_file *x, uint32_t off, uint32_t end, evtx_record *r)
{
    const uint8_t *c = x->chunk;
    uint32_t size;
    if (off + 28 > end || etwl_le32(c + off) != 0x00002a2a) return 0;
    size = etwl_le32(c + off + 4);
    if (size < 28 || size > end - off || etwl_le32(c + off + size - 4) != size) return 0;
    r->off = off;
    r->size = size;
    r->id = etwl_le64(c + off + 8);
    r->written = etwl_le64(c + off + 16);
    r->data = off + 24;
    r->data_end = off + size - 4;
    return 1;
}

int evtx_file_scan(evtx_file *x, evtx_record *r)
{
    uint32_t off = (x->next + 7) & ~7u;
    if (evtx_file_load_all(x) != 0) {
        x->next = x->avail;
        return 0;
    }
    for (; off + 28 <= x->avail; off += 8)
        if (record_at(x, off, x->avail, r)) {
            x->next = off + r->size;
            return 1;
        }
    x->next = x->avail;
    return 0;
}

int evtx_file_record(evtx_file *x, evtx_record *r)
{
    const uint8_t *c = x->chunk;
    uint32_t off = x->next;
    if (off + 28 > x->limit) return 0;
    if (!record_at(x, off, x->limit, r)) {
        x->stopped = 1;
        if (etwl_le32(c + off) != 0x00002a2a)
            snprintf(x->why, sizeof x->why, "no record signature where the next record should be");
        else snprintf(x->why, sizeof x->why, "record with a bad size (%" PRIu32 ")", etwl_le32(c + off + 4));
        return 0;
    }
    x->next = off + r->size;
    return 1;
}

uint64_t evtx_file_first_time(const char *path)
{
    evtx_file *x = malloc(sizeof *x); /* 68 KB: not on the stack */
    char msg[160];
    uint64_t t = 0;
    uint32_t i;
    evtx_record r;
    if (!x) return 0;
    if (evtx_file_open(x, path, msg, sizeof msg) == 0) {
        for (i = 0; i < x->nchunks && !t; i++)
            if (evtx_file_chunk(x, i) == 1 && evtx_file_record(x, &r) == 1) t = r.written;
        evtx_file_close(x);
    }
    free(x);
    return t;
}
