/* traceevent_int.h - between the two halves of the TraceEvent baseline
 * writer: traceevent_write.c (lines, names, counts, value text) and
 * traceevent_kernel.c (how TraceEvent's kernel parser presents NT kernel
 * logger events, and the trace-wide state it keeps to do so). */
#ifndef ETWL_TRACEEVENT_INT_H
#define ETWL_TRACEEVENT_INT_H

#include "etwl.h"

/* 1234567 -> "1,234,567", with a minus sign when neg. */
void etwl_te_put_grouped(etwl_buf *b, uint64_t v, int neg);
/* "Name=value; " with TraceEvent's number grouping and 20-character cut. */
void etwl_te_put_prop(etwl_buf *b, const char *name, const etwl_value *v);

typedef struct etwl_tek etwl_tek;

etwl_tek *etwl_tek_new(void);
void etwl_tek_free(etwl_tek *k);

/* The first pass over the whole trace: process names, file names by object
 * and time, disk completions, the drive mapping, the clock.  TraceEvent's
 * TraceLog has all of these when it prints an event. */
etwl_status etwl_tek_learn(etwl_tek *k, etwl_event *ev);
/* Ends the first pass (orders what it learned). */
etwl_status etwl_tek_learned(etwl_tek *k);

/* The second pass, for every event in order.  Returns 1 for a kernel event
 * TraceEvent shows, with its name ("Windows Kernel/Task/Opcode") and the
 * process and thread TraceEvent reports for it (2 for the logfile header,
 * whose properties the writer lists itself); -1 for a kernel event
 * TraceEvent's TraceLog absorbs and never shows (thread and file rundown,
 * idle samples); 0 for any other event. */
int etwl_tek_event(etwl_tek *k, etwl_event *ev, etwl_buf *name, int32_t *pid, int32_t *tid);
/* The event's properties as TraceEvent lists them (after etwl_tek_event
 * returned 1 for it). */
void etwl_tek_props(etwl_tek *k, etwl_event *ev, etwl_buf *out);
/* PName: the process's image name without extension, "" for -1, else
 * "Process(N)". */
void etwl_tek_put_pname(const etwl_tek *k, etwl_buf *b, int32_t pid);

#endif
