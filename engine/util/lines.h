/* lines.h - bounded line reader over a file descriptor.
 *
 * Memory stays at most max_line bytes whatever the input: an over-long line
 * is skipped up to its newline and reported, never buffered whole.  A wake
 * descriptor lets another thread or a signal handler interrupt a read that
 * blocks on a pipe or terminal. */
#ifndef ETWL_LINES_H
#define ETWL_LINES_H

#include <stddef.h>
#include <stdint.h>

enum {
    ETWL_LINE_OK = 1,
    ETWL_LINE_EOF = 0,
    ETWL_LINE_ERROR = -1,    /* read failed; errno is set */
    ETWL_LINE_TOO_LONG = -2, /* the line was skipped */
    ETWL_LINE_WOKEN = -3     /* the wake descriptor became readable */
};

typedef struct etwl_lines {
    int fd;
    int wake_fd; /* -1 for none */
    int pollable;
    char *buf;
    size_t cap, start, end, max;
    uint64_t lineno; /* number of the line last returned */
    int eof;
    int skipping; /* inside an over-long line */
} etwl_lines;

void etwl_lines_init(etwl_lines *r, int fd, size_t max_line, int wake_fd);
void etwl_lines_free(etwl_lines *r);
/* Returns one of ETWL_LINE_*.  On OK, the line and its length exclude the newline and
 * any trailing CR, and stay valid until the next call. */
int etwl_lines_next(etwl_lines *r, const char **line, size_t *len);

#endif
