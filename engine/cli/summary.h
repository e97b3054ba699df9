/* summary.h - the end-of-run summary and the progress line of a replay.
 *
 * The summary counts what a hunt over a folder wants to see first: alerts
 * by rule, severity and host, events by provider, and handler errors.  It
 * is written to stderr at exit (docs/cli.md says when).  Every name in it
 * comes from the input and is escaped.  A parallel replay (-j) keeps one
 * per worker and adds them up.
 *
 * The progress line shows bytes read, events/s and the time left while a
 * replay runs; the command draws it only when stderr is a terminal. */
#ifndef ETWL_CLI_SUMMARY_H
#define ETWL_CLI_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "etwl.h"
#include "output/alert.h"

typedef struct etwl_summary etwl_summary;

/* NULL when out of memory (callers then count nothing). */
etwl_summary *etwl_summary_new(void);
void etwl_summary_free(etwl_summary *s);
void etwl_summary_alert(etwl_summary *s, const etwl_alert *a);
void etwl_summary_event(etwl_summary *s, etwl_event *ev);
void etwl_summary_add(etwl_summary *into, const etwl_summary *from);
uint64_t etwl_summary_alerts(const etwl_summary *s);
/* Writes the summary, "etwlua: summary: ..." lines; handler_errors and
 * files come from the caller (the Lua host counts the errors). */
void etwl_summary_print(const etwl_summary *s, uint64_t handler_errors, uint64_t files, FILE *f);

typedef struct etwl_progress {
    int on;      /* drawing at all */
    int visible; /* a line is on the screen: clear it before other output */
    double t0, last;
} etwl_progress;

void etwl_progress_start(etwl_progress *p, int on);
/* Redraws at most four times a second (always when force is set). */
void etwl_progress_update(etwl_progress *p, uint64_t done, uint64_t total, uint64_t events, int force);
/* Clears the line, so that what is written next starts a clean line. */
void etwl_progress_clear(etwl_progress *p);

#endif
