/* fuzz_etl.c - libFuzzer target: the native ETL reader ("etl-native") over
 * the fuzzer's bytes, through the session API as the CLI opens a file, then
 * every property lookup, the JSON writer and the text writer per event.
 *
 * The reader opens a path (util/instream.c); rather than give it a second,
 * memory-only way in just for the fuzzer, each input is written to one
 * memfd and opened as /proc/self/fd/N - the same code path a real file
 * takes, without touching the disk.  Build and run with tests/fuzz/run.sh. */
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
    uint32_t i, n, len;
    const uint8_t *p;
    for (i = 0; i < etwl_event_prop_count(ev); i++) {
        const char *name = etwl_event_prop_name(ev, i, &n);
        etwl_event_prop_find(ev, name, n);
        etwl_event_prop(ev, i);
        etwl_event_prop_map_name(ev, i, &len);
    }
    p = etwl_event_payload(ev, &len);
    if (p && len) etwl_buf_put(out, p, 1); /* the payload is really there */
    etwl_buf_reset(out);
    etwl_event_write_json(ev, out);
    etwl_buf_reset(out);
    etwl_event_write_text(ev, out);
    etwl_buf_reset(out);
    return ETWL_OK;
}

/* the reader reports damage by its offset: expected here, not a finding */
static void on_diag(const char *where, const char *message, void *user) { (void)where, (void)message, (void)user; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    static etwl_buf out;
    static int verbose;
    etwl_config cfg;
    etwl_session *s;
    etwl_error err;
    if (fd < 0) {
        fd = memfd_create("fuzz_etl", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        etwl_buf_init(&out);
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    etwl_config_init(&cfg);
    cfg.backend = "etl-native";
    cfg.read_path = path;
    memset(&err, 0, sizeof err);
    if (etwl_session_open(&cfg, &s, &err) != ETWL_OK) return 0;
    etwl_session_set_diag(s, on_diag, NULL);
    etwl_session_process(s, on_event, &out, &err);
    if (verbose) { /* FUZZ_VERBOSE=1: how far each seed gets into the reader */
        etwl_stats stats;
        etwl_session_stats(s, &stats);
        fprintf(stderr, "fuzz_etl: %zu bytes, %llu events\n", size, (unsigned long long)stats.passed);
    }
    etwl_session_close(s);
    etwl_session_free(s);
    return 0;
}
