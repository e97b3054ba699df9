/* testlib.h - helpers shared by the unit tests. */
#ifndef ETWL_TESTLIB_H
#define ETWL_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "etwl.h"
#include "core/event.h"
#include "core/schema.h"

/* Little-endian payload writer. */
typedef struct tl_payload {
    uint8_t b[4096];
    uint32_t n;
} tl_payload;

void tl_u8(tl_payload *p, uint8_t v);
void tl_u16(tl_payload *p, uint16_t v);
void tl_u32(tl_payload *p, uint32_t v);
void tl_u64(tl_payload *p, uint64_t v);
void tl_bytes(tl_payload *p, const void *d, size_t n);
/* ASCII text as UTF-16LE, with a NUL unless nul == 0. */
void tl_wstr(tl_payload *p, const char *s, int nul);

/* The text form of a decoded value (JSON), for compact assertions. */
const char *tl_json(const etwl_value *v);

/* A path for a scratch file named name in the temporary directory
 * (TMPDIR, TEMP or /tmp); static storage, overwritten by the next call. */
const char *tl_tmp_path(const char *name);

/* Replays a file of ../shared through the session API (backend NULL: the
 * default for the file), calling cb for every event: 1, or 0 when the file
 * is absent or the build cannot read it (the test says so and skips it).
 * A failure to replay fails the test. */
int tl_replay_shared(const char *path, const char *backend, etwl_status (*cb)(etwl_event *ev, void *user), void *user);

#endif
