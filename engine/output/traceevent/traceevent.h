/* traceevent.h - the text form of TraceEvent's test baselines (see
 * traceevent_write.c), for comparing decodings with that reference. */
#ifndef ETWL_TRACEEVENT_H
#define ETWL_TRACEEVENT_H

#include "etwl.h"

typedef struct etwl_te etwl_te;

etwl_te *etwl_te_new(void);
void etwl_te_free(etwl_te *t);
/* Appends the event's line (when it is among the first 5 of its name) and
 * counts it. */
etwl_status etwl_te_event(etwl_te *t, etwl_event *ev, etwl_buf *out);
/* A first pass over a file: learns what TraceEvent's TraceLog knows of the
 * whole trace when it prints an event (process names, file names, disk
 * completions, drive letters); etwl_te_learned ends it. */
etwl_status etwl_te_learn(etwl_te *t, etwl_event *ev);
etwl_status etwl_te_learned(etwl_te *t);
/* Appends the COUNT lines. */
etwl_status etwl_te_finish(etwl_te *t, etwl_buf *out);

#endif
