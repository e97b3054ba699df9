/* system.h - <System>, the part of an event record that becomes the event's
 * header, mapped the same way by both EVTX readers (evtxnative.c and the
 * libevtx one, evtx.c): which child element and attribute fills which
 * field, and how a field's text is stored.  One table, so the two cannot
 * drift apart: their output is compared byte for byte. */
#ifndef ETWL_EVTX_SYSTEM_H
#define ETWL_EVTX_SYSTEM_H

#include <stdint.h>

#include "core/event.h"

/* The header fields, as a plan of the native reader records them */
enum {
    EVTX_F_PROVIDER,
    EVTX_F_GUID,
    EVTX_F_TIME,
    EVTX_F_ACTIVITY,
    EVTX_F_RELATED,
    EVTX_F_PID,
    EVTX_F_TID,
    EVTX_F_SID,
    EVTX_F_TEXT /* a text child: its index in evtx_sys_text */
};

/* <System>'s children whose text is a field, NULL-terminated */
extern const char *const evtx_sys_text[];
enum { EVTX_T_CHANNEL = 7, EVTX_T_COMPUTER = 8 };

/* <System>'s child el has started: for each of its attributes that fills a
 * field, in the order to try them, get(ctx, name) gives the attribute's
 * value (NULL: absent), and set(ctx, field, value) stores one; a field one
 * attribute set is not set again by the next (Provider's Name, else its
 * EventSourceName).  Returns the index in evtx_sys_text when el is a text
 * child, else -1. */
int evtx_sys_child(const char *el, const void *(*get)(void *ctx, const char *name),
                   void (*set)(void *ctx, int field, const void *value), void *ctx);

/* Where the header's strings are kept */
typedef struct evtx_sys_strings {
    char provider[600], channel[600], computer[600], sid[200];
} evtx_sys_strings;

/* Stores field (elem: the text child, for EVTX_F_TEXT) from its text v in
 * ev's header; strings are copied to s, cut to fit. */
void evtx_sys_apply(etwl_event *ev, evtx_sys_strings *s, int field, int elem, const char *v);

#endif
