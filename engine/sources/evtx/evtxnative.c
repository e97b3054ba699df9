/* evtxnative.c - EVTX replay without libevtx: the file and its chunks
 * (evtxfile.c), each record's BinXml walked as element events (binxml.c),
 * and those events mapped onto the event exactly as the libevtx source
 * (evtx.c) maps its XML: <System> fills the header, <EventData> (named
 * Data, unnamed ones as Data1, Data2...) or <UserData> (the children of its
 * first element) the properties, and the user SID goes to ext.  No XML is
 * written or parsed.  Damage is reported by file, chunk and offset, and
 * what still parses is read. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/event.h"
#include "session/source.h"
#include "sources/evtx/binxml.h"
#include "sources/evtx/evtxfile.h"

#define MAX_PROPS 256
#define MAX_TEXT (1u << 20)

typedef struct nfile {
    char *path;
    int64_t first; /* time of the first record, for ordering a folder */
} nfile;

typedef struct nprop {
    size_t name, name_len; /* in names */
    size_t text, len;      /* in texts */
    /* or a substitution value not decoded yet (lazy set) */
    const uint8_t *data;
    uint32_t size;
    uint8_t type, lazy;
} nprop;

typedef struct nsrc {
    etwl_source base;
    nfile *files;
    int nfiles;
    etwl_event ev;
    evtx_file *fx;
    bx_chunk chunk;
    /* the mapping state for one record (as evtx.c's XML callbacks) */
    int depth, in_system, in_eventdata, in_userdata;
    const char *elem; /* current System child */
    char text[512];
    size_t textlen;
    nprop props[MAX_PROPS];
    int nprops, cur_prop, unnamed;
    bx_buf pnames, ptexts;
    char provider[600], channel[600], computer[600], sid[200];
} nsrc;

/* ---- element events -> event ------------------------------------------------- */

static const char *attr(const bx_attr *a, int na, const char *name)
{
    int i;
    for (i = 0; i < na; i++)
        if (strcmp(a[i].name, name) == 0) return a[i].value;
    return NULL;
}

static int new_prop(nsrc *x, const char *name)
{
    nprop *p;
    size_t n = strlen(name);
    if (x->nprops == MAX_PROPS) return -1;
    p = &x->props[x->nprops];
    p->name = x->pnames.len;
    p->name_len = n;
    bx_put(&x->pnames, name, n + 1);              /* with its NUL */
    if (x->ptexts.len) bx_put(&x->ptexts, "", 1); /* ends the text before */
    p->text = x->ptexts.len;
    p->len = 0;
    p->lazy = 0;
    return x->nprops++;
}

static const char *const system_text[] = {"EventID",  "Version",       "Level",   "Task",     "Opcode",
                                          "Keywords", "EventRecordID", "Channel", "Computer", NULL};

static void on_start(void *ud, const char *el, const bx_attr *a, int na)
{
    nsrc *x = ud;
    etwl_header *h = &x->ev.hdr;
    const char *v;
    x->depth++;
    x->textlen = 0;
    x->cur_prop = -1;
    if (x->depth == 2) {
        x->in_system = strcmp(el, "System") == 0;
        x->in_eventdata = strcmp(el, "EventData") == 0;
        x->in_userdata = strcmp(el, "UserData") == 0;
        return;
    }
    if (x->in_system && x->depth == 3) {
        x->elem = NULL;
        if (strcmp(el, "Provider") == 0) {
            if ((v = attr(a, na, "Name")) || (v = attr(a, na, "EventSourceName"))) {
                snprintf(x->provider, sizeof x->provider, "%s", v);
                h->provider_name = x->provider;
                h->provider_name_len = (uint32_t)strlen(x->provider);
                h->has |= ETWL_HAS_PROVIDER_NAME;
            }
            if ((v = attr(a, na, "Guid"))) etwl_guid_parse(v, strlen(v), &h->provider_guid);
        } else if (strcmp(el, "TimeCreated") == 0) {
            if ((v = attr(a, na, "SystemTime"))) etwl_time_parse(v, strlen(v), &h->ts);
        } else if (strcmp(el, "Correlation") == 0) {
            if ((v = attr(a, na, "ActivityID"))) etwl_guid_parse(v, strlen(v), &h->activity_guid);
            if ((v = attr(a, na, "RelatedActivityID")) &&
                etwl_guid_parse(v, strlen(v), &x->ev.ext.related_activity) == ETWL_OK)
                x->ev.ext.has |= ETWL_EXT_RELATED_ACTIVITY;
        } else if (strcmp(el, "Execution") == 0) {
            if ((v = attr(a, na, "ProcessID"))) h->pid = (uint32_t)strtoul(v, NULL, 10);
            if ((v = attr(a, na, "ThreadID"))) h->tid = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(el, "Security") == 0) {
            if ((v = attr(a, na, "UserID")) && strlen(v) < sizeof x->sid) {
                snprintf(x->sid, sizeof x->sid, "%s", v);
                x->ev.ext.user_sid = x->sid;
                x->ev.ext.user_sid_len = (uint32_t)strlen(x->sid);
                x->ev.ext.has |= ETWL_EXT_USER_SID;
            }
        } else {
            int i;
            for (i = 0; system_text[i]; i++)
                if (strcmp(el, system_text[i]) == 0) break;
            x->elem = system_text[i];
        }
        return;
    }
    if (x->in_eventdata && x->depth == 3) {
        char name[300];
        v = attr(a, na, "Name");
        if (!v) {
            snprintf(name, sizeof name, "%s%d", el, ++x->unnamed);
            v = name;
        }
        x->cur_prop = new_prop(x, v);
        return;
    }
    if (x->in_userdata && x->depth == 4) x->cur_prop = new_prop(x, el);
}

static void on_text(void *ud, const char *s, size_t len);

/* A lazy property's text, decoded now (into ptexts, where its text goes). */
static void materialise(nsrc *x, nprop *p)
{
    size_t from = x->ptexts.len;
    p->lazy = 0;
    bx_render_text(&x->ptexts, p->type, p->data, p->size); /* checked while walking */
    p->len = x->ptexts.len - from;
}

static void on_value(void *ud, uint8_t type, const uint8_t *data, uint32_t n)
{
    nsrc *x = ud;
    if (x->cur_prop >= 0) {
        nprop *p = &x->props[x->cur_prop];
        if (!p->len && !p->lazy) { /* the whole value of a property: decoded when read */
            p->data = data;
            p->size = n;
            p->type = type;
            p->lazy = 1;
            return;
        }
    }
    x->chunk.scratch.len = 0;
    bx_render_text(&x->chunk.scratch, type, data, n);
    if (x->chunk.scratch.len) on_text(ud, x->chunk.scratch.p, x->chunk.scratch.len);
    x->chunk.scratch.len = 0;
}

static void on_text(void *ud, const char *s, size_t len)
{
    nsrc *x = ud;
    if (x->cur_prop >= 0 && len > 0) {
        nprop *p = &x->props[x->cur_prop];
        if (p->lazy) materialise(x, p);
        if (p->len + len + 1 > MAX_TEXT) return; /* a megabyte of text per value is plenty */
        /* a property's text is contiguous: only the newest takes text */
        bx_put(&x->ptexts, s, len);
        p->len += len;
    } else if (x->elem && x->textlen + len < sizeof x->text) {
        memcpy(x->text + x->textlen, s, len);
        x->textlen += len;
        x->text[x->textlen] = 0;
    }
}

static void on_end(void *ud)
{
    nsrc *x = ud;
    etwl_header *h = &x->ev.hdr;
    if (x->in_system && x->depth == 3 && x->elem) {
        const char *t = x->text;
        x->text[x->textlen] = 0;
        if (x->elem == system_text[0]) h->desc.id = (uint16_t)strtoul(t, NULL, 10);
        else if (x->elem == system_text[1]) h->desc.version = (uint8_t)strtoul(t, NULL, 10);
        else if (x->elem == system_text[2]) h->desc.level = (uint8_t)strtoul(t, NULL, 10);
        else if (x->elem == system_text[3]) h->desc.task = (uint16_t)strtoul(t, NULL, 10);
        else if (x->elem == system_text[4]) h->desc.opcode = (uint8_t)strtoul(t, NULL, 10);
        else if (x->elem == system_text[5]) h->desc.keyword = strtoull(t, NULL, 0);
        else if (x->elem == system_text[6]) {
            h->record_id = strtoull(t, NULL, 10);
            h->has |= ETWL_HAS_RECORD_ID;
        } else if (x->elem == system_text[7]) {
            snprintf(x->channel, sizeof x->channel, "%s", t);
            h->channel_name = x->channel;
            h->channel_name_len = (uint32_t)strlen(x->channel);
            h->has |= ETWL_HAS_CHANNEL_NAME;
        } else if (x->elem == system_text[8]) {
            snprintf(x->computer, sizeof x->computer, "%s", t);
            h->computer = x->computer;
            h->computer_len = (uint32_t)strlen(x->computer);
            h->has |= ETWL_HAS_COMPUTER;
        }
        x->elem = NULL;
    }
    x->cur_prop = -1;
    x->textlen = 0;
    x->depth--;
    if (x->depth == 1) x->in_system = x->in_eventdata = x->in_userdata = 0;
}

/* ---- files --------------------------------------------------------------------- */

static int by_time(const void *a, const void *b)
{
    const nfile *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return strcmp(x->path, y->path);
}

static etwl_status add_file(nsrc *x, const char *path)
{
    nfile *f = realloc(x->files, (size_t)(x->nfiles + 1) * sizeof *f);
    if (!f) return ETWL_ENOMEM;
    x->files = f;
    f[x->nfiles].path = strdup(path);
    if (!f[x->nfiles].path) return ETWL_ENOMEM;
    f[x->nfiles].first = (int64_t)evtx_file_first_time(path);
    x->nfiles++;
    return ETWL_OK;
}

static etwl_status scan_dir(nsrc *x, const char *dir, int depth, etwl_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    etwl_status st = ETWL_OK;
    if (!d) return etwl_error_set(err, ETWL_EIO, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL && st == ETWL_OK) {
        char path[4096];
        struct stat sb;
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode) && depth < 8) st = scan_dir(x, path, depth + 1, err);
        else if (S_ISREG(sb.st_mode) && n > 5 && strcasecmp(de->d_name + n - 5, ".evtx") == 0) st = add_file(x, path);
    }
    closedir(d);
    return st;
}

static void native_destroy(etwl_source *s)
{
    nsrc *x = (nsrc *)s;
    int i;
    if (!x) return;
    for (i = 0; i < x->nfiles; i++) free(x->files[i].path);
    free(x->files);
    if (x->fx) evtx_file_close(x->fx);
    free(x->fx);
    bx_chunk_free(&x->chunk);
    bx_buf_free(&x->pnames);
    bx_buf_free(&x->ptexts);
    etwl_event_release(&x->ev);
    free(x);
}

static etwl_status native_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    nsrc *x = calloc(1, sizeof *x);
    struct stat sb;
    etwl_status st;
    if (!x) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    etwl_event_init(&x->ev);
    x->fx = malloc(sizeof *x->fx);
    if (!x->fx) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto fail;
    }
    x->fx->f = NULL;
    if (stat(cfg->read_path, &sb) != 0) {
        st =
            etwl_error_set(err, errno == ENOENT ? ETWL_ENOTFOUND : ETWL_EIO, "%s: %s", cfg->read_path, strerror(errno));
        goto fail;
    }
    st = S_ISDIR(sb.st_mode) ? scan_dir(x, cfg->read_path, 0, err) : add_file(x, cfg->read_path);
    if (st) goto fail;
    if (S_ISDIR(sb.st_mode) && x->nfiles == 0) {
        st = etwl_error_set(err, ETWL_ENOTFOUND, "%s: no .evtx files in this folder", cfg->read_path);
        goto fail;
    }
    qsort(x->files, (size_t)x->nfiles, sizeof *x->files, by_time);
    *out = &x->base;
    return ETWL_OK;
fail:
    native_destroy(&x->base);
    return st;
}

static etwl_status diag(nsrc *x, const char *file, int chunk, long long off, const char *msg, etwl_error *err)
{
    char where[4300];
    if (off >= 0) snprintf(where, sizeof where, "%s: chunk %d offset %lld", file, chunk, off);
    else if (chunk >= 0) snprintf(where, sizeof where, "%s: chunk %d", file, chunk);
    else snprintf(where, sizeof where, "%s", file);
    return etwl_source_malformed(&x->base, where, msg, err);
}

static void note(nsrc *x, const char *file, int chunk, const char *msg)
{
    char where[4300];
    snprintf(where, sizeof where, "%s: chunk %d", file, chunk);
    etwl_source_note(&x->base, where, msg);
}

/* Decodes a property's substitution value on its first read. */
static void fill(etwl_event *ev, uint32_t i, etwl_member *m, void *user)
{
    nsrc *x = user;
    nprop *p = &x->props[i];
    bx_buf *b = &x->chunk.scratch;
    b->len = 0;
    if (bx_render_text(b, p->type, p->data, p->size) != 0 || b->oom) {
        m->value.type = ETWL_VT_ERROR;
        m->value.v.s = "cannot decode this value";
        m->value.n = (uint32_t)strlen(m->value.v.s);
        return;
    }
    m->value.v.s = etwl_arena_strdup(&ev->arena, b->p ? b->p : "", b->len);
    m->value.n = (uint32_t)b->len;
    if (!m->value.v.s) {
        m->value.type = ETWL_VT_ERROR;
        m->value.v.s = "out of memory";
        m->value.n = 13;
    }
}

/* Maps one record onto the event; 0 on a damaged record (chunk.err says
 * why). */
static int parse_record(nsrc *x, const evtx_record *r)
{
    static const bx_sink sink = {NULL, on_start, on_text, on_end, on_value};
    bx_sink s = sink;
    int i;
    s.ud = x;
    etwl_event_begin(&x->ev);
    x->depth = x->in_system = x->in_eventdata = x->in_userdata = 0;
    x->nprops = x->unnamed = 0;
    x->cur_prop = -1;
    x->elem = NULL;
    x->sid[0] = 0;
    x->pnames.len = x->ptexts.len = 0;
    if (bx_walk(&x->chunk, r->data, r->data_end, &s) != 0) return 0;
    bx_put(&x->ptexts, "", 1); /* ends the last text */
    if (x->pnames.oom || x->ptexts.oom) {
        snprintf(x->chunk.err, sizeof x->chunk.err, "out of memory");
        return 0;
    }
    {
        /* names point into pnames and texts into ptexts, which stay as
         * they are until the next record; lazy values are decoded on read */
        etwl_member *m = etwl_arena_alloc(&x->ev.arena, (size_t)(x->nprops ? x->nprops : 1) * sizeof *m);
        uint8_t *pending = etwl_arena_alloc(&x->ev.arena, (size_t)(x->nprops ? x->nprops : 1));
        if (!m || !pending) return 0;
        for (i = 0; i < x->nprops; i++) {
            nprop *p = &x->props[i];
            m[i].name = x->pnames.p ? x->pnames.p + p->name : "";
            m[i].name_len = (uint32_t)p->name_len;
            memset(&m[i].value, 0, sizeof m[i].value);
            m[i].value.type = ETWL_VT_STRING;
            m[i].value.v.s = p->len ? x->ptexts.p + p->text : "";
            m[i].value.n = (uint32_t)p->len;
            pending[i] = p->lazy;
        }
        etwl_event_set_lazy_members(&x->ev, m, (uint32_t)x->nprops, pending, fill, x);
    }
    return 1;
}

/* One record: delivered, or reported by file, chunk and offset and skipped. */
static etwl_status one_record(nsrc *x, const char *path, uint32_t ci, const evtx_record *r, etwl_error *err)
{
    char msg[300];
    etwl_source_read(&x->base);
    if (!parse_record(x, r)) {
        snprintf(msg, sizeof msg, "record %" PRIu64 " skipped: %s", r->id, x->chunk.err[0] ? x->chunk.err : "damaged");
        return diag(x, path, (int)ci, r->off, msg, err);
    }
    return etwl_source_deliver(&x->base, &x->ev);
}

/* Recovery: whatever parses as a record from the current offset to the
 * end of the chunk.  Candidates that do not parse are slack, not records
 * the file says it has: they are counted in one note, not reported one by
 * one. */
static etwl_status recover(nsrc *x, const char *path, uint32_t ci, const char *what)
{
    evtx_file *f = x->fx;
    evtx_record r;
    unsigned found = 0, unreadable = 0;
    etwl_status st = ETWL_OK;
    char msg[200];
    while (st == ETWL_OK && !x->base.closing && evtx_file_scan(f, &r) == 1) {
        if (!parse_record(x, &r)) {
            unreadable++;
            continue;
        }
        found++;
        etwl_source_read(&x->base);
        st = etwl_source_deliver(&x->base, &x->ev);
    }
    if ((found || unreadable) && st == ETWL_OK) {
        snprintf(msg, sizeof msg, "%u records recovered from %s (%u more could not be read)", found, what, unreadable);
        note(x, path, (int)ci, msg);
    }
    return st;
}

static etwl_status read_file(nsrc *x, const char *path, etwl_error *err)
{
    evtx_file *f = x->fx;
    char msg[200];
    uint32_t ci;
    int damaged, file_damaged = 0;
    etwl_status st = ETWL_OK;
    if (evtx_file_open(f, path, msg, sizeof msg) != 0) return diag(x, path, -1, -1, msg, err);
    for (ci = 0; ci < f->nchunks && st == ETWL_OK && !x->base.closing; ci++) {
        evtx_record r;
        int got = evtx_file_chunk(f, ci);
        if (got < 0) {
            st = diag(x, path, (int)ci, -1, "cannot read the chunk", err);
            break;
        }
        if (got == 0) continue;
        damaged = !f->header_crc_ok || !f->data_crc_ok || f->avail < EVTX_CHUNK_SIZE;
        if (f->avail < EVTX_CHUNK_SIZE) {
            snprintf(msg, sizeof msg, "chunk cut short (%" PRIu32 " of 65536 bytes): read as far as it parses",
                     f->avail);
            note(x, path, (int)ci, msg);
        }
        if (!f->header_crc_ok) note(x, path, (int)ci, "chunk header checksum mismatch: read as far as it parses");
        if (!f->data_crc_ok) note(x, path, (int)ci, "chunk records checksum mismatch: read as far as they parse");
        bx_chunk_reset(&x->chunk, f->chunk, EVTX_CHUNK_SIZE);
        while (st == ETWL_OK && !x->base.closing && evtx_file_record(f, &r) == 1) st = one_record(x, path, ci, &r, err);
        if (st == ETWL_OK && f->stopped) {
            st = diag(x, path, (int)ci, f->next, f->why, err);
            f->next += 8;
            damaged = 1;
        }
        /* the chunk cannot be trusted to say where its records end */
        if (damaged && st == ETWL_OK) st = recover(x, path, ci, "damaged or slack space");
        file_damaged |= damaged;
    }
    /* A damaged file may have lost records that survive in the slack of
     * its healthy chunks (as libevtx recovers them); a healthy file's slack
     * holds old records it no longer has, and is left alone. */
    for (ci = 0; file_damaged && ci < f->nchunks && st == ETWL_OK && !x->base.closing; ci++) {
        if (evtx_file_chunk(f, ci) != 1 || !f->header_crc_ok || !f->data_crc_ok || f->avail < EVTX_CHUNK_SIZE) continue;
        bx_chunk_reset(&x->chunk, f->chunk, EVTX_CHUNK_SIZE);
        f->next = f->limit;
        st = recover(x, path, ci, "slack space in a damaged file");
    }
    evtx_file_close(f);
    return st;
}

static etwl_status native_process(etwl_source *s, etwl_error *err)
{
    nsrc *x = (nsrc *)s;
    int fi;
    for (fi = 0; fi < x->nfiles && !x->base.closing; fi++) {
        etwl_status st = read_file(x, x->files[fi].path, err);
        if (st != ETWL_OK) return st;
    }
    return ETWL_OK;
}

static void native_close(etwl_source *s) { (void)s; /* the loop checks closing */ }

/* Event logs announce themselves ("ElfFile"); a folder is a set of them.
 * The libevtx source answers lower, so this one reads them unless that one
 * is asked for by name. */
static int native_probe(etwl_sniff_kind kind, const char *path, int is_dir)
{
    (void)path;
    return is_dir || kind == ETWL_SNIFF_EVTX ? 10 : 0;
}

const etwl_source_ops etwl_evtx_native_source = {
    .name = "evtx",
    .probe = native_probe,
    .open = native_open,
    .process = native_process,
    .close = native_close,
    .destroy = native_destroy,
};
