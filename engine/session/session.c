/* session.c - the session API over the source registry.
 *
 * The core names no source: it asks the registry by name, or asks every
 * source's probe how well it reads a recording the recogniser (sniff.c) has
 * looked at, and runs the winner through the one delivery path
 * (deliver.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "session/source.h"

struct etwl_session {
    etwl_config cfg;
    etwl_source *src;
};

/* sources registered at run time (tests inject fakes), asked before the
 * built-in ones */
#define MAX_SOURCES 16
static const etwl_source_ops *registry[MAX_SOURCES];

etwl_status etwl_source_register(const etwl_source_ops *ops)
{
    int i;
    for (i = 0; i < MAX_SOURCES; i++) {
        if (registry[i] == ops) return ETWL_OK;
        if (!registry[i]) {
            registry[i] = ops;
            return ETWL_OK;
        }
    }
    return ETWL_ELIMIT;
}

/* Calls fn on every source, registered ones first, until it returns
 * non-NULL. */
static const etwl_source_ops *each_source(const etwl_source_ops *(*fn)(const etwl_source_ops *, const void *),
                                          const void *arg)
{
    const etwl_source_ops *r;
    int i;
    for (i = 0; i < MAX_SOURCES && registry[i]; i++)
        if ((r = fn(registry[i], arg))) return r;
    for (i = 0; etwl_builtin_sources[i]; i++)
        if ((r = fn(etwl_builtin_sources[i], arg))) return r;
    return NULL;
}

static const etwl_source_ops *by_name(const etwl_source_ops *ops, const void *name)
{
    if (strcmp(ops->name, name) == 0) return ops;
    if ((ops->flags & ETWL_SOURCE_LIVE) && strcmp(name, "live") == 0) return ops;
    return NULL;
}

const etwl_source_ops *etwl_source_find(const char *name) { return each_source(by_name, name); }

/* no registered source has ETWL_SOURCE_LIVE */
#define NO_LIVE "live sessions on this platform are"

/* A recording as the probes see it. */
typedef struct recording {
    etwl_sniff_kind kind;
    const char *path;
    int is_dir;
    int best;
    const etwl_source_ops *winner;
} recording;

static const etwl_source_ops *ask_probe(const etwl_source_ops *ops, const void *arg)
{
    recording *r = (recording *)arg;
    int score = ops->probe ? ops->probe(r->kind, r->path, r->is_dir) : 0;
    if (score > r->best) {
        r->best = score;
        r->winner = ops;
    }
    return NULL; /* ask every source */
}

/* Standard input, pipes, devices and missing paths are not looked at here
 * (a pipe cannot be peeked, a missing file is reported by the source that
 * opens it): they go to whichever source reads unknown text. */
static const etwl_source_ops *for_recording(const char *path, etwl_error *err)
{
    recording r = {ETWL_SNIFF_TEXT, path, 0, 0, NULL};
    struct stat sb;
    if (strcmp(path, "-") != 0 && stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            r.is_dir = 1;
            r.kind = ETWL_SNIFF_EVTX; /* a folder is a set of event logs */
        } else if (S_ISREG(sb.st_mode)) {
            r.kind = etwl_sniff_file(path);
        }
    }
    each_source(ask_probe, &r);
    if (!r.winner) {
        const char *why = etwl_sources_unread(r.kind);
        etwl_error_set(err, ETWL_ENOTSUP, "%s: %s", path, why ? why : "no source of this etwlua reads it");
    }
    return r.winner;
}

static const etwl_source_ops *pick(const etwl_config *cfg, etwl_error *err)
{
    const etwl_source_ops *ops;
    if (!cfg->backend && cfg->read_path) return for_recording(cfg->read_path, err);
    ops = etwl_source_find(cfg->backend ? cfg->backend : "live");
    if (!ops) {
        if (!cfg->backend)
            etwl_error_set(err, ETWL_ENOTSUP,
                           NO_LIVE " not built into this etwlua yet; replay a recording with -r FILE");
        else etwl_error_set(err, ETWL_ENOTFOUND, "no session backend named '%s'", cfg->backend);
    }
    return ops;
}

etwl_status etwl_session_open(const etwl_config *cfg, etwl_session **out, etwl_error *err)
{
    etwl_session *s;
    const etwl_source_ops *ops;
    etwl_status st;
    *out = NULL;
    if (!cfg->name[0]) return etwl_error_set(err, ETWL_EINVAL, "session name is empty");
    ops = pick(cfg, err);
    if (!ops) return err ? err->status : ETWL_ENOTSUP;
    s = calloc(1, sizeof *s);
    if (!s) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    s->cfg = *cfg;
    st = ops->open(&s->cfg, &s->src, err);
    if (st != ETWL_OK) {
        if (st == ETWL_EEXIST && err) {
            /* callers report the name; make sure it is there whatever the backend said */
            strncpy(err->session, cfg->name, sizeof err->session - 1);
            err->session[sizeof err->session - 1] = 0;
        }
        free(s);
        return st;
    }
    s->src->ops = ops;
    s->src->cfg = &s->cfg;
    s->src->selects = !(ops->flags & ETWL_SOURCE_SELECTS);
    *out = s;
    return ETWL_OK;
}

void etwl_session_set_diag(etwl_session *s, etwl_diag_cb cb, void *user)
{
    s->src->diag = cb;
    s->src->diag_user = user;
}

etwl_status etwl_session_process(etwl_session *s, etwl_event_cb cb, void *user, etwl_error *err)
{
    etwl_status st;
    if (!cb) return etwl_error_set(err, ETWL_EINVAL, "no event callback");
    s->src->cb = cb;
    s->src->user = user;
    s->src->cb_status = ETWL_OK;
    st = s->src->ops->process(s->src, err);
    if (s->src->cb_status != ETWL_OK)
        return etwl_error_set(err, s->src->cb_status, "stopped by the event callback (%s)",
                              etwl_status_name(s->src->cb_status));
    if (st == ETWL_ESTOPPED && s->src->closing) return ETWL_OK; /* a stop request is a normal end */
    return st;
}

void etwl_session_close(etwl_session *s)
{
    if (!s || !s->src) return;
    s->src->closing = 1;
    s->src->ops->close(s->src);
}

void etwl_session_stats(etwl_session *s, etwl_stats *out)
{
    memset(out, 0, sizeof *out);
    if (s->src->ops->stats) s->src->ops->stats(s->src, out);
    out->read = s->src->st.read;
    out->passed = s->src->st.passed;
    out->filtered = s->src->st.filtered;
    out->malformed = s->src->st.malformed;
}

const char *etwl_session_name(const etwl_session *s) { return s->cfg.name; }

const char *etwl_session_file(etwl_session *s, int i)
{
    if (s->src->ops->file) return s->src->ops->file(s->src, i);
    return i == 0 ? s->cfg.read_path : NULL;
}

void etwl_session_progress(const etwl_session *s, uint64_t *done, uint64_t *total)
{
    *done = s->src->bytes_done;
    *total = s->src->bytes_total;
}

void etwl_session_free(etwl_session *s)
{
    if (!s) return;
    s->src->ops->destroy(s->src);
    free(s);
}

etwl_status etwl_session_kill(const char *backend, const char *name, etwl_error *err)
{
    const etwl_source_ops *ops = etwl_source_find(backend ? backend : "live");
    if (!name || !name[0]) return etwl_error_set(err, ETWL_EINVAL, "session name is empty");
    if (!ops)
        return backend ? etwl_error_set(err, ETWL_ENOTFOUND, "no session backend named '%s'", backend)
                       : etwl_error_set(err, ETWL_ENOTSUP,
                                        NO_LIVE " not built into this etwlua yet, "
                                                "so there is no named session to kill");
    if (!ops->kill) return etwl_error_set(err, ETWL_ENOTSUP, "backend '%s' has no named sessions", ops->name);
    return ops->kill(name, err);
}

etwl_status etwl_session_list(const char *backend, etwl_session_list_fn fn, void *user, etwl_error *err)
{
    const etwl_source_ops *ops = etwl_source_find(backend ? backend : "live");
    if (!ops)
        return backend ? etwl_error_set(err, ETWL_ENOTFOUND, "no session backend named '%s'", backend)
                       : etwl_error_set(err, ETWL_ENOTSUP,
                                        NO_LIVE " not built into this etwlua yet, "
                                                "so there are no sessions to list");
    if (!ops->list)
        return etwl_error_set(err, ETWL_ENOTSUP,
                              "listing sessions is not supported by the %s backend yet; on Windows, "
                              "'logman query -ets' lists them",
                              ops->name);
    return ops->list(fn, user, err);
}
