/* deliver.c - the one delivery path: every source hands its events here.
 *
 * What used to be redone in each source is done once: the session's
 * provider and kernel-flag selection (for sources the OS does not select
 * for), the counters behind --stats, the stop request, and the callback. */
#include <stdio.h>

#include "core/event.h"
#include "session/source.h"

etwl_status etwl_source_deliver(etwl_source *src, etwl_event *ev)
{
    etwl_status st;
    if (src->closing) return ETWL_ESTOPPED;
    if (src->selects && !etwl_config_matches(src->cfg, ev)) {
        src->st.filtered++;
        return ETWL_OK;
    }
    src->st.passed++;
    ev->src_file = src->file;
    ev->src_pos = src->pos;
    ev->src_kind = src->file ? src->pos_kind : ETWL_SRC_NONE;
    st = src->cb(ev, src->user);
    if (st != ETWL_OK) src->cb_status = st; /* the session reports it as the callback's stop */
    return st;
}

etwl_status etwl_source_malformed(etwl_source *src, const char *where, const char *msg, etwl_error *err)
{
    src->st.malformed++;
    if (src->cfg && src->cfg->strict) return etwl_error_set(err, ETWL_EPARSE, "%s: %s", where, msg);
    etwl_source_note(src, where, msg);
    return ETWL_OK;
}

void etwl_source_note(etwl_source *src, const char *where, const char *msg)
{
    if (src->diag) src->diag(where, msg, src->diag_user);
}
