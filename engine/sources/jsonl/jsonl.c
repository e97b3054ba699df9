/* jsonl.c - the JSON-lines source (named "replay"): one event per line,
 * from a file, a pipe or standard input.
 *
 * It reads whatever no other source claims, so binary formats it does not
 * read get a clear message instead of a JSON error per line.  Malformed
 * records are reported with file and line, counted and skipped, or stop the
 * session in strict mode (deliver.c).  Nothing is dropped without a count. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/event.h"
#include "sources/jsonl/json_read.h"
#include "util/lines.h"
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
    const char *path; /* for messages */
    int fd, own_fd;
    int wake[2];
    etwl_lines lines;
    etwl_json_reader *jr;
    etwl_event ev;
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
    etwl_sniff_kind kind;
    struct stat sb;
    if (at < 0) return ETWL_OK; /* not seekable */
    n = (long)read(r->fd, m, sizeof m);
    if (lseek(r->fd, at, SEEK_SET) != at)
        return etwl_error_set(err, ETWL_EIO, "%s: cannot seek back after the first bytes", r->path);
    kind = etwl_sniff(m, n > 0 ? (size_t)n : 0);
    /* a device such as /dev/zero is no recording at all: say what it is,
     * not which recording it is not */
    if (kind != ETWL_SNIFF_TEXT && fstat(r->fd, &sb) == 0 && !S_ISREG(sb.st_mode))
        return etwl_error_set(err, ETWL_ENOTSUP,
                              "%s: not a regular file or recording (a %s whose first bytes are not text); etwlua "
                              "reads JSON lines (a file, a pipe or '-'), .evtx files and folders of them, and ETL "
                              "traces (.etl, .etl.zip, .etl.gz)",
                              r->path, S_ISCHR(sb.st_mode) ? "character device" : "special file");
    switch (kind) {
    case ETWL_SNIFF_ZIP:
        return etwl_error_set(err, ETWL_ENOTSUP, "%s: zip input (.etl.zip) is not supported yet", r->path);
    case ETWL_SNIFF_GZIP:
        return etwl_error_set(err, ETWL_ENOTSUP,
                              "%s: gzip input is not supported yet; pipe it: zcat FILE | etwlua -r -", r->path);
    case ETWL_SNIFF_BINARY: /* ETL files start with a WMI buffer header */
    case ETWL_SNIFF_EVTX:   /* only when EVTX reading is not built */
        return etwl_error_set(err, ETWL_ENOTSUP, "%s: binary input (ETL?) is not supported yet; expected JSON lines",
                              r->path);
    default: return ETWL_OK;
    }
}

static etwl_status replay_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    replay *r = calloc(1, sizeof *r);
    etwl_status st;
    if (!r) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    r->wake[0] = r->wake[1] = -1;
    r->path = cfg->read_path ? cfg->read_path : "-";
    etwl_event_init(&r->ev);
    if (strcmp(r->path, "-") == 0) {
        r->fd = 0;
        r->path = "<stdin>";
    } else {
        r->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_BINARY);
        if (r->fd < 0) {
            st = etwl_error_set(err,
                                errno == EACCES   ? ETWL_EACCES
                                : errno == ENOENT ? ETWL_ENOTFOUND
                                                  : ETWL_EIO,
                                "%s: %s", r->path, strerror(errno));
            goto fail;
        }
        r->own_fd = 1;
        st = sniff(r, err);
        if (st) goto fail;
        {
            struct stat sb;
            if (fstat(r->fd, &sb) == 0 && S_ISREG(sb.st_mode)) r->base.bytes_total = (uint64_t)sb.st_size;
        }
    }
    r->base.file = r->path;
    r->base.pos_kind = ETWL_SRC_LINE;
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
    /* a line longer than the event limit could only give an event too large */
    etwl_lines_init(&r->lines, r->fd,
                    cfg->max_line_bytes > ETWL_MAX_EVENT_BYTES ? ETWL_MAX_EVENT_BYTES : cfg->max_line_bytes,
                    r->wake[0]);
    *out = &r->base;
    return ETWL_OK;
fail:
    replay_destroy(&r->base);
    return st;
}

static etwl_status replay_process(etwl_source *s, etwl_error *err)
{
    replay *r = (replay *)s;
    char msg[400], where[512];
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
            etwl_event_begin(&r->ev);
            st = etwl_json_parse_event(r->jr, line, len, &r->ev, msg, sizeof msg);
        }
        etwl_source_read(&r->base);
        r->base.pos = r->lines.lineno;
        r->base.bytes_done += len + 1;
        if (st != ETWL_OK) {
            snprintf(where, sizeof where, "%s:%llu", r->path, (unsigned long long)r->lines.lineno);
            if ((st = etwl_source_malformed(&r->base, where, msg, err)) != ETWL_OK) return st;
            continue;
        }
        if ((st = etwl_source_deliver(&r->base, &r->ev)) != ETWL_OK) return st;
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

/* The reader of last resort: anything no other source claims, except what
 * only another (unbuilt) source could read: folders and EVTX files. */
static int replay_probe(etwl_sniff_kind kind, const char *path, int is_dir)
{
    (void)path;
    return is_dir || kind == ETWL_SNIFF_EVTX ? 0 : 1;
}

const etwl_source_ops etwl_jsonl_source = {
    .name = "replay",
    .probe = replay_probe,
    .open = replay_open,
    .process = replay_process,
    .close = replay_close,
    .destroy = replay_destroy,
};
