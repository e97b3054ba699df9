/* proctab.h - the process table.
 *
 * Every process source feeds it: the kernel logger's Process class (Start,
 * End, DCStart, DCEnd), Microsoft-Windows-Kernel-Process 1/2, Sysmon 1/5,
 * Security 4688/4689 and the Linux process provider.  Lookups are by pid
 * *at a time*, so pid reuse and late events resolve to the right process.
 * Exited processes stay for a grace period of event time, then go; the
 * table also has a hard cap, so memory stays bounded. */
#ifndef ETWL_PROCTAB_H
#define ETWL_PROCTAB_H

#include <stdint.h>

#include "etwl.h"

typedef struct etwl_proc {
    /* first: what a walk of a pid's chain reads, so that each entry it
     * passes costs one cache line, not two */
    uint32_t pid, ppid;
    struct etwl_proc *next; /* older entries with the same pid */
    int64_t start;          /* FILETIME; 0 when unknown (seen only by rundown or late) */
    int64_t exit;           /* FILETIME; 0 while alive */
    int64_t seen;           /* last event time that touched it */
    int32_t exit_code;
    int has_exit_code;
    uint32_t session;
    int has_session;
    char *image, *cmdline, *user, *integrity;
    const char *name; /* points into image: the file name */
    struct etwl_proc *lru_prev, *lru_next;
} etwl_proc;

typedef struct etwl_proctab etwl_proctab;

typedef struct etwl_proctab_opts {
    int64_t grace;      /* FILETIME ticks an exited process is kept; default 60 s */
    uint32_t max_procs; /* hard cap; default 200000 */
} etwl_proctab_opts;

etwl_proctab *etwl_proctab_new(const etwl_proctab_opts *o);
void etwl_proctab_free(etwl_proctab *t);

/* What an event says about processes, found by etwl_proctab_observe(). */
typedef struct etwl_proc_event {
    int kind;         /* ETWL_PE_* */
    uint32_t subject; /* the process the event is about: read it with etwl_proc_subject() */
    int has_subject;
    /* an event that names its process in a property (Sysmon's ProcessId,
     * the Security log's): that property is decoded only when the subject
     * is asked for (most events are delivered without anyone asking); the
     * event, valid while it is the current one */
    etwl_event *pending;
    int pending_src;
    etwl_proctab *pending_tab; /* the table that observed it */
} etwl_proc_event;

enum { ETWL_PE_NONE, ETWL_PE_START, ETWL_PE_STOP, ETWL_PE_RUNDOWN };

/* Updates the table from a process event; for any event, reports its
 * subject process (the started/stopped process for process events, the
 * process a Sysmon or Security event names, the header pid otherwise). */
void etwl_proctab_observe(etwl_proctab *t, etwl_event *ev, etwl_proc_event *out);
/* The subject of an observed event, while that event is the current one. */
uint32_t etwl_proc_subject(etwl_proc_event *pe);
/* The process with this pid at time ts (FILETIME), or NULL. */
const etwl_proc *etwl_proctab_find(etwl_proctab *t, uint32_t pid, int64_t ts);
/* The parent of p as it was when p started. */
const etwl_proc *etwl_proctab_parent(etwl_proctab *t, const etwl_proc *p);
uint32_t etwl_proctab_count(const etwl_proctab *t);

/* Direct updates, for sources and tests. */
etwl_proc *etwl_proctab_start(etwl_proctab *t, uint32_t pid, uint32_t ppid, int64_t ts, const char *image,
                              const char *cmdline, const char *user);
void etwl_proctab_stop(etwl_proctab *t, uint32_t pid, int64_t ts, int32_t exit_code, int has_code);
/* Drops what exited more than `grace` before now. */
void etwl_proctab_expire(etwl_proctab *t, int64_t now);

/* ---- one table per host, per file ---------------------------------------
 *
 * Pids mean nothing across machines or captures: a parent left over from
 * another host or another file of a folder must not explain a process.  A
 * set keeps one table per computer name (events without one share a table)
 * and empties them all when the events start coming from another file
 * (ev.source). */
typedef struct etwl_proctabs etwl_proctabs;

/* Hosts with a table of their own; beyond, the least recently used host's
 * table is emptied for the new one (each table is half a megabyte of
 * buckets before any process). */
#define ETWL_PROCTABS_MAX_HOSTS 16

etwl_proctabs *etwl_proctabs_new(const etwl_proctab_opts *o);
void etwl_proctabs_free(etwl_proctabs *s);
/* The table of ev's host; never NULL (out of memory, the hosts share the
 * first table). */
etwl_proctab *etwl_proctabs_for(etwl_proctabs *s, const etwl_event *ev);
/* The table of the last event's host (the first table before any). */
etwl_proctab *etwl_proctabs_current(etwl_proctabs *s);
/* Tables in use (for tests). */
int etwl_proctabs_hosts(const etwl_proctabs *s);

#endif
