/* session.c - the neutral session API over the backend table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "session/sniff.h"
#include "session/source.h"

struct etwl_session {
    etwl_config cfg;
    etwl_source *src;
};

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

const etwl_source_ops *etwl_source_find(const char *name)
{
    int i;
    const etwl_source_ops *live = etwl_source_live();
    for (i = 0; i < MAX_SOURCES && registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    if (strcmp(name, etwl_replay_ops.name) == 0) return &etwl_replay_ops;
#ifdef ETWL_HAVE_EVTX
    if (strcmp(name, etwl_evtx_ops.name) == 0) return &etwl_evtx_ops;
#endif
    if (live && (strcmp(name, live->name) == 0 || strcmp(name, "live") == 0)) return live;
    if (etwl_source_etl() && strcmp(name, etwl_source_etl()->name) == 0) return etwl_source_etl();
    if (strcmp(name, "etl-native") == 0) return &etwl_etl_ops;
    return NULL;
}

#if defined(_WIN32)
#define LIVE_NAME "live ETW sessions are"
#else
#define LIVE_NAME "live sessions on this platform (tracefs) are"
#endif

static etwl_status no_live(etwl_error *err)
{
    return etwl_error_set(err, ETWL_ENOTSUP, LIVE_NAME " not built into this etwlua yet; replay a recording with -r FILE");
}

/* Recordings are recognised by content (sniff.c); a folder is a set of
 * .evtx files.  The replay backend takes the rest, and names the binary
 * formats it does not read. */
static const char *replay_kind(const char *path)
{
    struct stat sb;
    unsigned char magic[ETWL_SNIFF_BYTES];
    size_t n;
    FILE *f;
    if (strcmp(path, "-") == 0 || stat(path, &sb) != 0) return "replay";
    if (S_ISDIR(sb.st_mode)) return "evtx";
    if (!S_ISREG(sb.st_mode) || !(f = fopen(path, "rb"))) return "replay";
    n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    switch (etwl_sniff(magic, n)) {
    case ETWL_SNIFF_EVTX: return "evtx";
    case ETWL_SNIFF_BINARY: return etwl_source_etl() ? etwl_source_etl()->name : "replay";
#ifdef ETWL_HAVE_ZIP
    /* compressed traces (.etl.zip from PerfView, .etl.gz), read in a stream */
    case ETWL_SNIFF_ZIP: return "etl-native";
    case ETWL_SNIFF_GZIP: return n && strlen(path) > 7 && strcmp(path + strlen(path) - 7, ".etl.gz") == 0 ? "etl-native" : "replay";
#endif
    default: return "replay";
    }
}

static const etwl_source_ops *pick(const etwl_config *cfg, etwl_error *err)
{
    const etwl_source_ops *ops;
    const char *name = cfg->backend ? cfg->backend : cfg->read_path ? replay_kind(cfg->read_path) : "live";
    ops = etwl_source_find(name);
    if (!ops) {
        if (strcmp(name, "live") == 0) no_live(err);
        else if (strcmp(name, "evtx") == 0)
            etwl_error_set(err, ETWL_ENOTSUP, "%s: EVTX reading is not built into this etwlua (it needs libevtx)",
                           cfg->read_path ? cfg->read_path : "evtx");
        else etwl_error_set(err, ETWL_ENOTFOUND, "no session backend named '%s'", name);
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
    if (!cb) return etwl_error_set(err, ETWL_EINVAL, "no event callback");
    return s->src->ops->process(s->src, cb, user, err);
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
    s->src->ops->stats(s->src, out);
}

const char *etwl_session_name(const etwl_session *s) { return s->cfg.name; }

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
    if (!ops) return backend ? etwl_error_set(err, ETWL_ENOTFOUND, "no session backend named '%s'", backend)
                             : etwl_error_set(err, ETWL_ENOTSUP, LIVE_NAME " not built into this etwlua yet, "
                                              "so there is no named session to kill");
    if (!ops->kill) return etwl_error_set(err, ETWL_ENOTSUP, "backend '%s' has no named sessions", ops->name);
    return ops->kill(name, err);
}

#if !defined(ETWL_HAVE_LIVE)
const etwl_source_ops *etwl_source_live(void) { return NULL; }
#endif

