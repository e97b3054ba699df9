/* sources.c - the built-in sources, one line each.
 *
 * The session core asks them in this order, by name or by how well they read
 * a recording (their probe), and names none itself.  A new source is a
 * folder under engine/sources/ and one line here. */
#include "session/source.h"

extern const etwl_source_ops etwl_jsonl_source;
extern const etwl_source_ops etwl_etl_source;
extern const etwl_source_ops etwl_evtx_native_source;
#ifdef ETWL_HAVE_EVTX
extern const etwl_source_ops etwl_evtx_source;
#endif
#if defined(ETWL_HAVE_LIVE) && !defined(_WIN32)
extern const etwl_source_ops etwl_tracefs_source;
#endif
#if defined(ETWL_HAVE_LIVE) && defined(_WIN32)
extern const etwl_source_ops etwl_etw_source, etwl_etw_file_source;
#endif

const etwl_source_ops *const etwl_builtin_sources[] = {
    &etwl_jsonl_source,       /* JSON lines: the replay of last resort */
    &etwl_etl_source,         /* .etl, .etl.zip, .etl.gz read natively */
    &etwl_evtx_native_source, /* .evtx files and folders, read natively */
#ifdef ETWL_HAVE_EVTX
    &etwl_evtx_source, /* the same through libevtx (--evtx-reader libevtx) */
#endif
#if defined(ETWL_HAVE_LIVE) && !defined(_WIN32)
    &etwl_tracefs_source, /* live on Linux */
#endif
#if defined(ETWL_HAVE_LIVE) && defined(_WIN32)
    &etwl_etw_source,      /* live on Windows */
    &etwl_etw_file_source, /* .etl through OpenTraceW */
#endif
    NULL,
};

const char *etwl_sources_unread(etwl_sniff_kind kind)
{
    (void)kind;
    return NULL;
}
