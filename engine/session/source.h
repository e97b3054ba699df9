/* source.h - what an event source implements, and the one delivery path it
 * hands its events to.
 *
 * Like SQLite's VFS: every source (JSON lines, EVTX, ETL, tracefs, ETW, and
 * the fakes tests inject) is reached only through its etwl_source_ops, found
 * in the registry by name or by what it recognises; the session core names
 * none of them.  A source only produces events: selection, counters, the
 * stop request and the callback are done once, by etwl_source_deliver()
 * (deliver.c). */
#ifndef ETWL_SESSION_SOURCE_H
#define ETWL_SESSION_SOURCE_H

#include <signal.h>

#include "etwl.h"
#include "session/sniff.h"

typedef struct etwl_source etwl_source;

typedef struct etwl_source_ops {
    const char *name;
    /* How well this source reads a recording whose first bytes the
     * recogniser (sniff.c) classed as `kind`: 0 not at all, higher is better;
     * path is "-" for standard input, and is_dir is set for a folder.  NULL
     * for sources that only run live. */
    int (*probe)(etwl_sniff_kind kind, const char *path, int is_dir);
    /* Creates the session (live) or opens the input (replay). */
    etwl_status (*open)(const etwl_config *cfg, etwl_source **out, etwl_error *err);
    /* Blocks, handing each event to etwl_source_deliver() on the calling
     * thread, until the input ends, close() is called, or delivery asks to
     * stop (then it returns what etwl_source_deliver() returned). */
    etwl_status (*process)(etwl_source *src, etwl_error *err);
    /* Async-signal-safe: may run in a signal or console handler or another
     * thread while process() runs.  `closing` is already set. */
    void (*close)(etwl_source *src);
    /* Stops a named session that may belong to another process. */
    etwl_status (*kill)(const char *name, etwl_error *err);
    /* Calls fn for each session of this backend on the OS; NULL when the
     * backend cannot list them. */
    etwl_status (*list)(etwl_session_list_fn fn, void *user, etwl_error *err);
    /* Fills what only the source knows (lost, buffers_lost,
     * buffers_written); the delivery counters are added by the session. */
    void (*stats)(etwl_source *src, etwl_stats *out);
    /* A replay of several files (a folder): the i-th file it reads, in its
     * order, NULL past the last.  NULL op: the recording is one file. */
    const char *(*file)(etwl_source *src, int i);
    /* Releases everything; the OS session, if any, is gone afterwards. */
    void (*destroy)(etwl_source *src);
    unsigned flags; /* ETWL_SOURCE_* */
} etwl_source_ops;

/* The live source of its platform (answers to the name "live"). */
#define ETWL_SOURCE_LIVE 0x1
/* Its events were selected by the OS: delivery does not select again. */
#define ETWL_SOURCE_SELECTS 0x2

/* Every source's state starts with this.  The session fills it before
 * process(); the source reads cfg and closing, and leaves the rest to
 * deliver.c. */
struct etwl_source {
    const etwl_source_ops *ops;
    const etwl_config *cfg;
    etwl_event_cb cb;
    void *user;
    etwl_status cb_status; /* what the callback returned when it asked to stop */
    int selects;           /* selection by cfg is done here, not by the OS */
    etwl_diag_cb diag;
    void *diag_user;
    etwl_stats st; /* read, passed, filtered, malformed */
    /* A replay's place, copied onto each event it delivers (ev.source):
     * the file being read (NULL live) and the record's position in it. */
    const char *file;
    uint64_t pos;
    uint8_t pos_kind; /* ETWL_SRC_* (core/event.h) */
    /* Bytes of the input read so far and in all (0: unknown), for the
     * progress line; a source that knows sizes keeps them. */
    uint64_t bytes_done, bytes_total;
    volatile sig_atomic_t closing;
};

/* ---- the one delivery path (deliver.c) ------------------------------ */

/* A record was read.  Every record counts once, whatever becomes of it. */
#define etwl_source_read(src) ((src)->st.read++)

/* Hands one decoded event on: the session's selection (unless the OS did
 * it), the counters, and the callback.  Returns ETWL_OK to go on; anything
 * else means stop, and process() should return it as it is.  After a stop
 * request it returns ETWL_ESTOPPED without calling the callback. */
etwl_status etwl_source_deliver(etwl_source *src, etwl_event *ev);

/* A record that cannot be read: counted, and reported to the diagnostic
 * callback with where ("file:line", "file: record 12"...).  Returns
 * ETWL_EPARSE (with err set to "where: msg") in strict mode, else ETWL_OK,
 * and the record is skipped. */
etwl_status etwl_source_malformed(etwl_source *src, const char *where, const char *msg, etwl_error *err);

/* A note about the input that loses no record (a damaged file summary, a
 * fallback taken): reported, not counted. */
void etwl_source_note(etwl_source *src, const char *where, const char *msg);

/* ---- for the command (session.c) ------------------------------------ */

/* The i-th file a replay reads (its -r path when it is one file), NULL past
 * the last or live: what `etwlua -j` hands out to its workers. */
const char *etwl_session_file(etwl_session *s, int i);
/* Bytes of the input read so far and in all (0 when unknown). */
void etwl_session_progress(const etwl_session *s, uint64_t *done, uint64_t *total);

/* ---- the registry (session.c) --------------------------------------- */

/* Makes a source available by name (tests register fakes).  At most 16
 * besides the built-in ones. */
etwl_status etwl_source_register(const etwl_source_ops *ops);
const etwl_source_ops *etwl_source_find(const char *name);

/* The built-in sources, NULL-terminated, in the order they are asked
 * (engine/sources/sources.c: one line per source). */
extern const etwl_source_ops *const etwl_builtin_sources[];
/* Why a recording of this kind finds no reader in this build (its source
 * was not built in), or NULL (sources.c). */
const char *etwl_sources_unread(etwl_sniff_kind kind);

#endif
