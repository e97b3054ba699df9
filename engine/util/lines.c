/* lines.c - see lines.h */
#include "util/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef _WIN32
#include <io.h>
#else
#include <poll.h>
#include <unistd.h>
#endif

#define LINES_CHUNK 65536

void etwl_lines_init(etwl_lines *r, int fd, size_t max_line, int wake_fd)
{
    struct stat st;
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->wake_fd = wake_fd;
    r->max = max_line ? max_line : 1u << 20;
    /* regular files never block, so they need no poll */
    r->pollable = wake_fd >= 0 && !(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
}

void etwl_lines_free(etwl_lines *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Reads more input into buf[end..cap). Returns >0 bytes, 0 at EOF, or an
 * ETWL_LINE_* error. */
static int fill(etwl_lines *r)
{
    ssize_t n;
#ifndef _WIN32
    if (r->pollable) {
        struct pollfd pf[2];
        pf[0].fd = r->fd;
        pf[0].events = POLLIN;
        pf[1].fd = r->wake_fd;
        pf[1].events = POLLIN;
        for (;;) {
            int k = poll(pf, 2, -1);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) return ETWL_LINE_ERROR;
            if (pf[1].revents) return ETWL_LINE_WOKEN;
            if (pf[0].revents) break;
        }
    }
#endif
    do {
        n = read(r->fd, r->buf + r->end, (unsigned)(r->cap - r->end));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ETWL_LINE_ERROR;
    r->end += (size_t)n;
    return (int)(n > 0);
}

int etwl_lines_next(etwl_lines *r, const char **line, size_t *len)
{
    int k;
    if (!r->buf) {
        r->cap = r->max + 1 < LINES_CHUNK ? r->max + 1 : LINES_CHUNK;
        r->buf = malloc(r->cap);
        if (!r->buf) {
            errno = ENOMEM;
            return ETWL_LINE_ERROR;
        }
    }
    for (;;) {
        char *nl = r->start < r->end ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (nl) {
            size_t s = r->start, n = (size_t)(nl - (r->buf + s));
            r->start = s + n + 1;
            r->lineno++;
            if (r->skipping || n > r->max) {
                r->skipping = 0;
                return ETWL_LINE_TOO_LONG;
            }
            if (n && r->buf[s + n - 1] == '\r') n--;
            *line = r->buf + s;
            *len = n;
            return ETWL_LINE_OK;
        }
        if (r->eof) {
            if (r->start < r->end) { /* last line without a newline */
                size_t s = r->start, n = r->end - s;
                r->start = r->end;
                r->lineno++;
                if (r->skipping || n > r->max) {
                    r->skipping = 0;
                    return ETWL_LINE_TOO_LONG;
                }
                if (n && r->buf[s + n - 1] == '\r') n--;
                *line = r->buf + s;
                *len = n;
                return ETWL_LINE_OK;
            }
            if (r->skipping) {
                r->skipping = 0;
                r->lineno++;
                return ETWL_LINE_TOO_LONG;
            }
            return ETWL_LINE_EOF;
        }
        /* make room: compact, grow up to max, or start skipping */
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        if (r->end == r->cap) {
            if (r->cap < r->max + 1) {
                size_t cap = r->cap * 2 > r->max + 1 ? r->max + 1 : r->cap * 2;
                char *b = realloc(r->buf, cap);
                if (!b) {
                    errno = ENOMEM;
                    return ETWL_LINE_ERROR;
                }
                r->buf = b;
                r->cap = cap;
            } else {
                r->skipping = 1; /* drop what we have; keep looking for the newline */
                r->end = 0;
            }
        }
        k = fill(r);
        if (k < 0) return k;
        if (k == 0) r->eof = 1;
    }
}
