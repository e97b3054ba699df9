/* filter.h - declarative handler filters compiled to a C predicate.
 *
 * etw.on({provider=..., id={1,2}, ...}, fn) compiles its table into one of
 * these; the dispatcher runs it before anything enters Lua, so events no
 * handler wants cost a few compares and never touch the Lua state. */
#ifndef ETWL_FILTER_H
#define ETWL_FILTER_H

#include <stdint.h>

#include "etwl.h"

#define ETWL_F_PROVIDER 0x001
#define ETWL_F_GUID 0x002
#define ETWL_F_ID 0x004
#define ETWL_F_OPCODE 0x008
#define ETWL_F_TASK 0x010
#define ETWL_F_LEVEL 0x020
#define ETWL_F_ANY 0x040
#define ETWL_F_ALL 0x080
#define ETWL_F_PID 0x100
#define ETWL_F_VERSION 0x200
#define ETWL_F_PROCESS 0x400
#define ETWL_F_EVENT_NAME 0x800

typedef struct etwl_filter {
    uint32_t mask;
    char provider[256]; /* compared case-insensitively */
    uint32_t provider_len;
    etwl_guid guid;
    uint8_t *ids; /* 65536-bit set, or NULL */
    uint8_t opcode, level_max, version;
    uint16_t task;
    uint64_t kw_any, kw_all;
    uint32_t pid;
    char event_name[128]; /* from "system:event" providers (tracefs) */
    uint32_t event_name_len;
    char process[256]; /* image file name, lower case */
    uint32_t process_len;
} etwl_filter;

void etwl_filter_init(etwl_filter *f);
void etwl_filter_free(etwl_filter *f);
etwl_status etwl_filter_set_provider(etwl_filter *f, const char *s, size_t n);
etwl_status etwl_filter_add_id(etwl_filter *f, uint32_t id);
etwl_status etwl_filter_set_process(etwl_filter *f, const char *s, size_t n);
/* proc_name is the file name of the event's process, or NULL when unknown;
 * it is only looked at by filters with a process key. */
int etwl_filter_match(const etwl_filter *f, const etwl_event *ev, const char *proc_name);

/* Could f pass events of this provider?  name may be "" and guid NULL when
 * unknown; then the answer errs on "yes". */
int etwl_filter_may_match_provider(const etwl_filter *f, const char *name, const etwl_guid *guid);

#endif
