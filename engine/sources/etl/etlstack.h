/* etlstack.h - kernel stack records of an ETL file that do not sit right
 * after their event, found by a first pass (etl.c) and joined to their
 * event when it is delivered.
 *
 * The kernel logger writes an event's stack as StackWalk records stamped
 * with the event's time and thread (EventTimeStamp, StackThread):
 *   - a full stack (StackWalk Stack, 0x1820), usually right after the event;
 *     a user-mode part may come later, when the thread returns to user mode;
 *   - with stack caching (Windows 8+), a reference to a cached stack
 *     (StackKeyKernel 0x1825, StackKeyUser 0x1826), whose frames are written
 *     when the cache entry is deleted or at rundown (KeyDelete 0x1823,
 *     KeyRundown 0x1824), so after the events that use it.
 * Frames come out kernel first, then user, as the records were written. */
#ifndef ETWL_ETLSTACK_H
#define ETWL_ETLSTACK_H

#include <stdint.h>

#include "etwl.h"

typedef struct etwl_stackidx etwl_stackidx;

etwl_stackidx *etwl_stackidx_new(void);
void etwl_stackidx_free(etwl_stackidx *x);

/* The first pass.  frames: n pointers of ptr (4 or 8) bytes, little
 * endian.  Return ETWL_ENOMEM when the index cannot grow. */
etwl_status etwl_stackidx_add_stack(etwl_stackidx *x, int64_t ts, uint32_t thread, const uint8_t *frames, uint32_t n,
                                    unsigned ptr);
etwl_status etwl_stackidx_add_ref(etwl_stackidx *x, int64_t ts, uint32_t thread, uint64_t key);
etwl_status etwl_stackidx_add_def(etwl_stackidx *x, uint64_t key, int64_t ts, const uint8_t *frames, uint32_t n,
                                  unsigned ptr);
/* Ends the first pass. */
void etwl_stackidx_done(etwl_stackidx *x);

/* Appends to out (room for max) the frames of a cached stack: the first
 * definition of key at or after ts.  Returns how many. */
uint32_t etwl_stackidx_key_frames(const etwl_stackidx *x, uint64_t key, int64_t ts, uint64_t *out, uint32_t max);
/* Appends the frames of the records indexed for an event at ts (of thread,
 * or any thread when thread is 0xFFFFFFFF).  Returns how many. */
uint32_t etwl_stackidx_frames(etwl_stackidx *x, int64_t ts, uint32_t thread, uint64_t *out, uint32_t max);
/* How many indexed stacks and references no event claimed. */
uint32_t etwl_stackidx_unjoined(const etwl_stackidx *x);

#endif
