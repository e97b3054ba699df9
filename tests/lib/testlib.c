/* testlib.c - see testlib.h */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"

void tl_u8(tl_payload *p, uint8_t v) { p->b[p->n++] = v; }
void tl_u16(tl_payload *p, uint16_t v)
{
    tl_u8(p, (uint8_t)v);
    tl_u8(p, (uint8_t)(v >> 8));
}
void tl_u32(tl_payload *p, uint32_t v)
{
    tl_u16(p, (uint16_t)v);
    tl_u16(p, (uint16_t)(v >> 16));
}
void tl_u64(tl_payload *p, uint64_t v)
{
    tl_u32(p, (uint32_t)v);
    tl_u32(p, (uint32_t)(v >> 32));
}
void tl_bytes(tl_payload *p, const void *d, size_t n)
{
    memcpy(p->b + p->n, d, n);
    p->n += (uint32_t)n;
}
void tl_wstr(tl_payload *p, const char *s, int nul)
{
    while (*s) tl_u16(p, (uint8_t)*s++);
    if (nul) tl_u16(p, 0);
}

const char *tl_json(const etwl_value *v)
{
    static etwl_buf b;
    etwl_buf_reset(&b);
    if (!v) return "(absent)";
    etwl_json_put_value(&b, v);
    return b.data ? b.data : "";
}

const char *tl_tmp_path(const char *name)
{
    static char path[1024];
    const char *d = getenv("TMPDIR");
    if (!d || !*d) d = getenv("TEMP");
    if (!d || !*d) d = "/tmp";
    snprintf(path, sizeof path, "%s/%s", d, name);
    return path;
}

int tl_replay_shared(const char *path, const char *backend, etwl_status (*cb)(etwl_event *ev, void *user), void *user)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    etwl_status st;
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        print_message("skipped: %s is absent\n", path);
        return 0;
    }
    fclose(probe);
    etwl_config_init(&c);
    c.read_path = path;
    c.backend = backend;
    st = etwl_session_open(&c, &s, &e);
    if (st == ETWL_ENOTSUP) { /* a .zip, in a build without libzip */
        print_message("skipped: %s\n", e.message);
        return 0;
    }
    if (st != ETWL_OK) fail_msg("%s: %s", path, e.message);
    st = etwl_session_process(s, cb, user, &e);
    etwl_session_free(s);
    if (st != ETWL_OK) fail_msg("%s: %s", path, e.message);
    return 1;
}
