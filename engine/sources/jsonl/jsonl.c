/* replay.c - the replay backend: recorded traces through the session path.
 *
 * The format is chosen by content: EVTX and ETL files announce themselves
 * in their first bytes; anything else is read as JSON lines.  Malformed
 * records are reported with file and line, counted and skipped, or stop the
 * session in strict mode.  Nothing is dropped without a count. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "sources/jsonl/json_read.h"
#include "util/lines.h"
#include "session/sniff.h"
#include "session/source.h"

#ifdef _WIN32
#include <io.h> /* open, read, close: mingw keeps the POSIX names */
#else
#include <unistd.h>
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_BINARY
#define O_BINARY 0 /* Windows: no CRLF translation, no Ctrl-Z end of file */
#endif

typedef struct replay {
    etwl_source base;
    const etwl_config *cfg;
    const char *path; /* for messages */
    int fd, own_fd;
    int wake[2];
    etwl_lines lines;
    etwl_json_reader *jr;
    etwl_event ev;
    etwl_stats st;
} replay;

static void replay_destroy(etwl_source *s)
{
    replay *r = (replay *)s;
    if (!r) return;
    etwl_lines_free(&r->lines);
    etwl_json_reader_free(r->jr);
    etwl_event_release(&r->ev);
    if (r->own_fd && r->fd >= 0) close(r->fd);
#ifndef _WIN32
    if (r->wake[0] >= 0) close(r->wake[0]);
    if (r->wake[1] >= 0) close(r->wake[1]);
#endif
    free(r);
}

/* Peeks at the first bytes of a seekable input to recognise binary formats
 * we do not read here, so they get a clear message instead of a JSON error
 * per line.  Pipes cannot be peeked: they are JSON lines. */
static etwl_status sniff(replay *r, etwl_error *err)
{
    unsigned char m[ETWL_SNIFF_BYTES];
    long at = (long)lseek(r->fd, 0, SEEK_CUR), n;
    if (at < 0) return ETWL_OK; /* not seekable */
    n = (long)read(r->fd, m, sizeof m);
    if (lseek(r->fd, at, SEEK_SET) != at)
        return etwl_error_set(err, ETWL_EIO, "%s: cannot seek back after the first bytes", r->path);
    switch (etwl_sniff(m, n > 0 ? (size_t)n : 0)) {
    case ETWL_SNIFF_ZIP:
        return etwl_error_set(err, ETWL_ENOTSUP, "%s: zip input (.etl.zip) is not supported yet", r->path);
    case ETWL_SNIFF_GZIP:
        return etwl_error_set(err, ETWL_ENOTSUP, "%s: gzip input is not supported yet; pipe it: zcat FILE | etwlua -r -",
                              r->path);
    case ETWL_SNIFF_BINARY: /* ETL files start with a WMI buffer header */
    case ETWL_SNIFF_EVTX:   /* only when EVTX reading is not built */
        return etwl_error_set(err, ETWL_ENOTSUP, "%s: binary input (ETL?) is not supported yet; expected JSON lines",
                              r->path);
    default:
        return ETWL_OK;
    }
}

static etwl_status replay_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    replay *r = calloc(1, sizeof *r);
    etwl_status st;
    if (!r) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    r->cfg = cfg;
    r->wake[0] = r->wake[1] = -1;
    r->path = cfg->read_path ? cfg->read_path : "-";
    etwl_event_init(&r->ev);
    if (strcmp(r->path, "-") == 0) {
        r->fd = 0;
        r->path = "<stdin>";
    } else {
        r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_BINARY);
        if (r->fd < 0) {
            st = etwl_error_set(err, errno == EACCES ? ETWL_EACCES : errno == ENOENT ? ETWL_ENOTFOUND : ETWL_EIO,
                                "%s: %s", r->path, strerror(errno));
            goto fail;
        }
        r->own_fd = 1;
        st = sniff(r, err);
        if (st) goto fail;
    }
#ifndef _WIN32
    /* the self-pipe lets close() wake a read blocked on a pipe or terminal */
    if (pipe(r->wake) != 0) {
        st = etwl_error_set(err, ETWL_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    fcntl(r->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(r->wake[1], F_SETFD, FD_CLOEXEC);
    fcntl(r->wake[1], F_SETFL, O_NONBLOCK);
#endif
    r->jr = etwl_json_reader_new();
    if (!r->jr) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto fail;
    }
    etwl_lines_init(&r->lines, r->fd, cfg->max_line_bytes, r->wake[0]);
    *out = &r->base;
    return ETWL_OK;
fail:
    replay_destroy(&r->base);
    return st;
}

static void diag(replay *r, const char *msg)
{
    char where[512];
    snprintf(where, sizeof where, "%s:%llu", r->path, (unsigned long long)r->lines.lineno);
    if (r->base.diag) r->base.diag(where, msg, r->base.diag_user);
}

static etwl_status replay_process(etwl_source *s, etwl_event_cb cb, void *user, etwl_error *err)
{
    replay *r = (replay *)s;
    char msg[400];
    for (;;) {
        const char *line;
        size_t len, i;
        int k;
        etwl_status st;
        if (r->base.closing) return ETWL_OK;
        k = etwl_lines_next(&r->lines, &line, &len);
        if (k == ETWL_LINE_EOF || k == ETWL_LINE_WOKEN) return ETWL_OK;
        if (k == ETWL_LINE_ERROR)
            return etwl_error_set(err, ETWL_EIO, "%s:%llu: read error: %s", r->path,
                                  (unsigned long long)r->lines.lineno + 1, strerror(errno));
        if (k == ETWL_LINE_TOO_LONG) {
            snprintf(msg, sizeof msg, "line longer than %zu bytes (raise --max-line-bytes)", r->lines.max);
            st = ETWL_ELIMIT;
        } else {
            for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++) {
            }
            if (i == len) continue; /* blank lines separate nothing; skip quietly */
            r->st.read++;
            etwl_event_begin(&r->ev);
            st = etwl_json_parse_event(r->jr, line, len, &r->ev, msg, sizeof msg);
        }
        if (k == ETWL_LINE_TOO_LONG) r->st.read++;
        if (st != ETWL_OK) {
            r->st.malformed++;
            if (r->cfg->strict)
                return etwl_error_set(err, ETWL_EPARSE, "%s:%llu: %s", r->path, (unsigned long long)r->lines.lineno,
                                      msg);
            diag(r, msg);
            continue;
        }
        if (!etwl_config_matches(r->cfg, &r->ev)) {
            r->st.filtered++;
            continue;
        }
        r->st.passed++;
        st = cb(&r->ev, user);
        if (st != ETWL_OK) return etwl_error_set(err, st, "stopped by the event callback (%s)", etwl_status_name(st));
    }
}

static void replay_close(etwl_source *s)
{
#ifndef _WIN32
    replay *r = (replay *)s;
    if (r->wake[1] >= 0) {
        ssize_t n = write(r->wake[1], "x", 1); /* async-signal-safe */
        (void)n;
    }
#else
    (void)s;
#endif
}

static void replay_stats(etwl_source *s, etwl_stats *out) { *out = ((replay *)s)->st; }

const etwl_source_ops etwl_replay_ops = {"replay", replay_open, replay_process, replay_close, NULL,
                                         replay_stats, replay_destroy};
