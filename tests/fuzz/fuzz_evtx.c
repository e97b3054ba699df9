/* fuzz_evtx.c - libFuzzer target: the native EVTX reader ("evtx") through
 * the session API as the CLI opens a file, then every property read (each
 * lazy value decoded), the JSON writer and the text writer per event.
 *
 * The input is what follows the file header: one chunk, or more (with
 * -max_len above 65536), padded with zeros to whole chunks (so a chunk cut
 * to its used bytes, as the seeds are, reads as healthy).  A file header with a right checksum is put before it and the
 * lot written to one memfd, opened as /proc/self/fd/N - the path a real file takes.  So the chunk checksums, the
 * recovery of damaged chunks, the BinXml walk and the template plans kept across chunks (by GUID and shape: a second
 * chunk may give a GUID other contents) are all fuzzed. The committed corpus (tests/fuzz/corpus/evtx) holds such
 * inputs.  Build and run with tests/fuzz/run.sh. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "etwl.h"

static etwl_status on_event(etwl_event *ev, void *user)
{
    etwl_buf *out = user;
    uint32_t i, n;
    const etwl_ext *x = etwl_event_ext(ev);
    const etwl_header *h = etwl_event_header(ev);
    for (i = 0; i < etwl_event_prop_count(ev); i++) {
        const char *name = etwl_event_prop_name(ev, i, &n);
        const etwl_value *v;
        etwl_event_prop_find(ev, name, n);
        v = etwl_event_prop(ev, i);
        if (v && v->type == ETWL_VT_STRING && v->n) etwl_buf_put(out, v->v.s + v->n - 1, 1); /* all of it is there */
    }
    if ((h->has & ETWL_HAS_PROVIDER_NAME) && h->provider_name_len) etwl_buf_put(out, h->provider_name, 1);
    if ((x->has & ETWL_EXT_USER_SID) && x->user_sid_len) etwl_buf_put(out, x->user_sid + x->user_sid_len - 1, 1);
    etwl_buf_reset(out);
    etwl_event_write_json(ev, out);
    etwl_buf_reset(out);
    etwl_event_write_text(ev, out);
    etwl_buf_reset(out);
    return ETWL_OK;
}

/* the reader reports damage by file, chunk and offset: expected here */
static void on_diag(const char *where, const char *message, void *user) { (void)where, (void)message, (void)user; }

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    static etwl_buf out;
    static uint8_t hdr[4096];
    etwl_config cfg;
    etwl_session *s;
    etwl_error err;
    uint32_t crc;
    if (fd < 0) {
        fd = memfd_create("fuzz_evtx", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        etwl_buf_init(&out);
        memcpy(hdr, "ElfFile", 8);
        hdr[32] = 128;  /* header size */
        hdr[36] = 2;    /* minor version */
        hdr[38] = 3;    /* major version */
        hdr[41] = 0x10; /* 4096: where the chunks start */
    }
    hdr[42] = (uint8_t)((size + 65535) / 65536); /* chunks */
    crc = crc32_ieee(hdr, 120);
    memcpy(hdr + 124, &crc, 4);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
        pwrite(fd, data, size, sizeof hdr) != (ssize_t)size ||
        ftruncate(fd, (off_t)(sizeof hdr + (size + 65535) / 65536 * 65536)) != 0)
        abort();
    etwl_config_init(&cfg);
    cfg.backend = "evtx";
    cfg.read_path = path;
    memset(&err, 0, sizeof err);
    if (etwl_session_open(&cfg, &s, &err) != ETWL_OK) return 0;
    etwl_session_set_diag(s, on_diag, NULL);
    etwl_session_process(s, on_event, &out, &err);
    etwl_session_close(s);
    etwl_session_free(s);
    return 0;
}
