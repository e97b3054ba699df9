/* source.h - the backend function table.
 *
 * Like SQLite's VFS: every event source (replay, ETW, tracefs, and the fakes
 * tests inject) is reached only through these entry points, so the session
 * layer never knows which one it drives. */
#ifndef ETWL_SOURCE_H
#define ETWL_SOURCE_H

#include <signal.h>

#include "etwl.h"

typedef struct etwl_source etwl_source;

typedef struct etwl_source_ops {
    const char *name;
    /* Creates the session (live) or opens the input (replay). */
    etwl_status (*open)(const etwl_config *cfg, etwl_source **out, etwl_error *err);
    /* Blocks, delivering events to cb on the calling thread, until the input
     * ends or close() is called. */
    etwl_status (*process)(etwl_source *src, etwl_event_cb cb, void *user, etwl_error *err);
    /* Async-signal-safe: may run in a signal or console handler or another
     * thread while process() runs. */
    void (*close)(etwl_source *src);
    /* Stops a named session that may belong to another process. */
    etwl_status (*kill)(const char *name, etwl_error *err);
    void (*stats)(etwl_source *src, etwl_stats *out);
    /* Releases everything; the OS session, if any, is gone afterwards. */
    void (*destroy)(etwl_source *src);
} etwl_source_ops;

/* Every backend's state starts with this. */
struct etwl_source {
    const etwl_source_ops *ops;
    etwl_diag_cb diag;
    void *diag_user;
    volatile sig_atomic_t closing;
};

/* Makes a backend available by name (tests register fakes).  At most 16. */
etwl_status etwl_source_register(const etwl_source_ops *ops);
const etwl_source_ops *etwl_source_find(const char *name);
/* The live backend of this platform, or NULL when none is built. */
const etwl_source_ops *etwl_source_live(void);
/* The .etl reader of this build, or NULL when none is built. */
const etwl_source_ops *etwl_source_etl(void);

extern const etwl_source_ops etwl_replay_ops; /* JSON lines */
extern const etwl_source_ops etwl_etl_ops; /* .etl files read natively (etl.c) */
#ifdef ETWL_HAVE_EVTX
extern const etwl_source_ops etwl_evtx_ops; /* .evtx files and folders (libevtx) */
#endif

#endif
