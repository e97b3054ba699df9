/* reload.h - hot reload: a loader thread that prepares a new set of scripts
 * and rules when asked (SIGHUP, or a change under --watch), off the event
 * path, and hands it to the thread that runs the session, which swaps it in
 * between two events (engine/cli/main.c, docs/cli.md).
 *
 * The loader only builds and frees: what it builds is not touched by any
 * other thread until the event thread takes it (etwl_reloader_take), and a
 * retired set is touched by no other thread once handed back
 * (etwl_reloader_retire).  Every Lua call into a set therefore happens on
 * one thread at a time: the loader's while it loads, the event thread's
 * from the swap on. */
#ifndef ETWL_CLI_RELOAD_H
#define ETWL_CLI_RELOAD_H

#include <stddef.h>

#include "etwl.h"

typedef struct etwl_reloader etwl_reloader;

/* Builds a new set on the loader thread; *out is the caller's opaque set.
 * On failure returns an error (the file and line in err->message). */
typedef etwl_status (*etwl_reload_build_fn)(void *ctx, void **out, etwl_error *err);
/* Frees a set (a retired one, or one built and never taken). */
typedef void (*etwl_reload_free_fn)(void *ctx, void *set);

/* Starts the loader thread; with nwatch > 0 it watches those files and
 * folders (folders recursively: their .lua, .yml and .yaml files) with
 * inotify.  ETWL_ENOTSUP where there is no inotify (Windows). */
etwl_status etwl_reloader_new(const char *const *watch, int nwatch, etwl_reload_build_fn build,
                              etwl_reload_free_fn drop, void *ctx, etwl_reloader **out, etwl_error *err);
/* Asks for a reload (SIGHUP).  Async-signal-safe. */
void etwl_reloader_request(etwl_reloader *r);
/* Event thread: the set the loader prepared, or NULL (never blocks).  what
 * says why (the files that changed, or "SIGHUP"); build_ms how long the
 * load took on the loader thread. */
void *etwl_reloader_take(etwl_reloader *r, char *what, size_t n, double *build_ms);
/* Event thread: hands a set back; the loader frees it. */
void etwl_reloader_retire(etwl_reloader *r, void *set);
/* Loads that failed on the loader thread (each reported on stderr). */
unsigned long etwl_reloader_failed(etwl_reloader *r);
/* Stops the thread (waiting for a load in progress) and frees what it
 * holds. */
void etwl_reloader_free(etwl_reloader *r);

#endif
