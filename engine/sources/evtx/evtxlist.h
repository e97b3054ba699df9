/* evtxlist.h - the .evtx files a path names, in time order.
 *
 * A file is itself; a folder is every .evtx under it (8 levels deep),
 * ordered by the time of each file's first record, so a folder replays as
 * one stream.  Both EVTX readers (the native one and the libevtx
 * cross-check) share it; each says how to find a file's first time. */
#ifndef ETWL_SOURCES_EVTX_EVTXLIST_H
#define ETWL_SOURCES_EVTX_EVTXLIST_H

#include <stdint.h>

#include "etwl.h"

typedef struct etwl_evtx_file {
    char *path;
    int64_t first; /* FILETIME of the first record; 0 when unreadable */
} etwl_evtx_file;

typedef struct etwl_evtx_list {
    etwl_evtx_file *files;
    int n;
} etwl_evtx_list;

typedef int64_t (*etwl_evtx_first_fn)(const char *path, void *ctx);

/* Fills l from path; a folder without .evtx files is ETWL_ENOTFOUND. */
etwl_status etwl_evtx_list_make(etwl_evtx_list *l, const char *path, etwl_evtx_first_fn first, void *ctx,
                                etwl_error *err);
void etwl_evtx_list_free(etwl_evtx_list *l);
/* The i-th file in replay order, or NULL past the end (both readers'
 * `file` operation). */
const char *etwl_evtx_list_path(const etwl_evtx_list *l, int i);
/* The files' sizes added up (for the progress line). */
uint64_t etwl_evtx_list_bytes(const etwl_evtx_list *l);

#endif
