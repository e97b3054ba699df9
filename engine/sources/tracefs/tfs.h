/* tfs.h - the Linux tracefs backend, internal interfaces.
 *
 * tracefs maps onto ETW closely: an instance is a session, tracepoint
 * systems and events are providers and event ids, format files are
 * schemas, per-CPU ring buffers are ETW buffers. */
#ifndef ETWL_TFS_H
#define ETWL_TFS_H

#include <event-parse.h>
#include <kbuffer.h>
#include <tracefs.h>

#include "core/event.h"
#include "core/schema.h"
#include "session/source.h"

/* tfschema.c: a tracefs format as an engine schema (fixed offsets). */
etwl_status etwl_tfs_schema(struct tep_event *e, etwl_schema **out, etwl_error *err);

/* procprov.c: the `process` provider, built from sched events, an argv
 * uprobe at the dynamic loader's entry, and /proc. */
typedef struct etwl_procprov etwl_procprov;
typedef etwl_status (*etwl_emit_fn)(etwl_event *ev, void *ctx);

etwl_procprov *etwl_procprov_new(etwl_emit_fn emit, void *ctx);
void etwl_procprov_free(etwl_procprov *pp);
/* Emits one rundown event per running process, parents first. */
etwl_status etwl_procprov_rundown(etwl_procprov *pp, int64_t now);
/* Feeds one raw tracefs event; may emit process events. */
etwl_status etwl_procprov_feed(etwl_procprov *pp, etwl_event *raw, int64_t now);
/* Emits starts whose arguments never arrived (static binaries), using /proc. */
etwl_status etwl_procprov_flush(etwl_procprov *pp, int64_t now, int all);
/* tid -> tgid, learned from /proc and task_newtask. */
uint32_t etwl_procprov_tgid(etwl_procprov *pp, uint32_t tid);
/* Statistics for --stats: starts emitted, argv from the probe / from /proc. */
void etwl_procprov_counts(etwl_procprov *pp, uint64_t *starts, uint64_t *argv_probe, uint64_t *argv_proc);

/* The file and ptrace providers (docs/linux.md): syscall tracepoints the
 * kernel filters by path or request, turned into events that name the
 * path and the process.  Their events are fed through etwl_procprov_feed. */
#define ETWL_SEC_FILE 1
#define ETWL_SEC_PTRACE 2
void etwl_procprov_set_sec(etwl_procprov *pp, int which);
/* The file family (1..) of the instance the next fed record came from; 0 the main instance. */
void etwl_procprov_set_watch(etwl_procprov *pp, int fam);
/* tracefs.c: family k's name, and whether a path is one of its globs. */
const char *etwl_tfs_family(int k);
int etwl_tfs_family_match(int k, const char *path);

/* The uprobe that fetches argv: the loader's entry, argc and this many
 * argument strings.  Documented in the README. */
#define ETWL_ARGV_MAX 32

#endif
