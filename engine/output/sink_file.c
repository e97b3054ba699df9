/* sink_file.c - file:PATH: alerts appended as JSON lines.
 *
 * Opened for appending, so several runs (or a restart) add to one file;
 * reopened on SIGUSR1, so logrotate can rename the file and signal
 * (logrotate's postrotate "kill -USR1"), and the next alert goes to a fresh
 * file under the old name.  Each batch ends with a flush, so a reader
 * following the file (tail -F, Vector, Fluent Bit) sees whole lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/sink.h"

typedef struct file_sink {
    char *path;
    FILE *f;
} file_sink;

static int file_claims(const char *s) { return strncmp(s, "file:", 5) == 0; }

static FILE *open_append(const char *path) { return fopen(path, "ab"); }

static etwl_status file_open(etwl_sink *self, const char *spec, const etwl_sink_opts *o, void **state, etwl_error *err)
{
    file_sink *f;
    const char *path = spec + 5;
    (void)self;
    (void)o;
    if (!*path) return etwl_error_set(err, ETWL_EINVAL, "-o %s: file: needs a path (file:/var/log/etwlua.json)", spec);
    if (!(f = calloc(1, sizeof *f)) || !(f->path = strdup(path))) {
        free(f);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    /* a path that cannot be written is the user's mistake: say so now,
     * not on the first alert */
    if (!(f->f = open_append(path))) {
        etwl_error_set(err, ETWL_EIO, "-o %s: cannot open for appending: %s", spec, strerror(errno));
        free(f->path);
        free(f);
        return ETWL_EIO;
    }
    setvbuf(f->f, NULL, _IOFBF, 1 << 16);
    *state = f;
    return ETWL_OK;
}

static etwl_status file_send(void *state, etwl_sink_rec *const *recs, size_t n, size_t *done, etwl_error *err)
{
    file_sink *f = state;
    size_t i;
    *done = 0;
    if (!f->f && !(f->f = open_append(f->path)))
        return etwl_error_set(err, ETWL_EIO, "cannot open for appending: %s", strerror(errno));
    for (i = 0; i < n; i++) {
        if (fwrite(recs[i]->line, 1, recs[i]->len, f->f) != recs[i]->len || putc('\n', f->f) == EOF) break;
    }
    if (fflush(f->f) != 0 || i < n) {
        etwl_error_set(err, ETWL_EIO, "writing failed: %s", strerror(errno));
        /* a failed stream stays failed: reopen on the retry */
        fclose(f->f);
        f->f = NULL;
        return ETWL_EIO;
    }
    *done = n;
    return ETWL_OK;
}

static void file_reopen(void *state)
{
    file_sink *f = state;
    if (f->f) fclose(f->f);
    f->f = open_append(f->path); /* on failure, send retries the open */
    if (f->f) setvbuf(f->f, NULL, _IOFBF, 1 << 16);
}

static void file_close(void *state)
{
    file_sink *f = state;
    if (f->f) fclose(f->f);
    free(f->path);
    free(f);
}

const etwl_sink_kind etwl_sink_file = {
    .name = "file",
    .claims = file_claims,
    .batch = 1024,
    .open = file_open,
    .send = file_send,
    .reopen = file_reopen,
    .close = file_close,
};
