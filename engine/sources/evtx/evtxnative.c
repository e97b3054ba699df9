/* evtxnative.c - EVTX replay without libevtx: the file and its chunks
 * (evtxfile.c), each record's BinXml walked as element events (binxml.c),
 * and those events mapped onto the event exactly as the libevtx source
 * (evtx.c) maps its XML: <System> fills the header, <EventData> (named
 * Data, unnamed ones as Data1, Data2...) or <UserData> (the children of its
 * first element) the properties, and the user SID goes to ext.  No XML is
 * written or parsed.  Damage is reported by file, chunk and offset, and
 * what still parses is read. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "session/source.h"
#include "sources/evtx/evtxlist.h"
#include "sources/evtx/binxml.h"
#include "sources/evtx/evtxfile.h"

#define MAX_PROPS 256
#define MAX_TEXT (1u << 20)

typedef struct nprop {
    size_t name, name_len; /* in names */
    size_t text, len;      /* in texts */
    /* or a substitution value not decoded yet (lazy set) */
    const uint8_t *data;
    uint32_t size;
    uint8_t type, lazy;
    int slot;      /* the lazy value's slot, when recording a plan */
    int from_data; /* its text came from values in a way a plan cannot say */
} nprop;

/* ---- templates compiled to plans --------------------------------------------
 *
 * A record's template, walked once per chunk, leaves a plan: which header
 * field each template text or substitution slot fills, and each property's
 * name and slot.  A later record of the same template, whose values have
 * the same types and presence (all the walk's shape depends on, unless
 * arrays, BinXml or values inside mixed text are involved: then no plan),
 * runs the plan on its substitution array instead of walking. */

enum { F_PROVIDER, F_GUID, F_TIME, F_ACTIVITY, F_RELATED, F_PID, F_TID, F_SID, F_TEXT };

#define FROM_NONE (-3) /* no text yet (System text elements) */

typedef struct pop {
    uint8_t field, elem; /* F_*; for F_TEXT the system_text index */
    int slot;            /* >= 0: that value; else the literal */
    uint32_t lit, lit_len;
} pop;

typedef struct pprop {
    uint32_t name, name_len;
    int slot; /* >= 0: that value, decoded when read; else the literal */
    uint32_t lit, lit_len;
} pprop;

typedef struct plan {
    uint32_t sig, siglen; /* in pstr: the templates and value shapes it is for */
    uint32_t op0, nops, prop0, nprops;
    int usable;
} plan;

#define MAX_PLANS 128

typedef struct nsrc {
    etwl_source base;
    etwl_evtx_list files; /* the .evtx files, in time order */
    etwl_event ev;
    evtx_file *fx;
    bx_chunk chunk;
    /* the mapping state for one record (as evtx.c's XML callbacks) */
    int depth, in_system, in_eventdata, in_userdata;
    const char *elem; /* current System child */
    int elem_from;    /* where its text came from: FROM_NONE, a slot, BX_FROM_* */
    char text[512];
    size_t textlen;
    nprop props[MAX_PROPS];
    int nprops, cur_prop, unnamed;
    bx_buf pnames, ptexts;
    char provider[600], channel[600], computer[600], sid[200];
    /* plans of the loaded chunk */
    plan plans[MAX_PLANS];
    int nplans;
    pop *ops;
    pprop *pprops;
    uint32_t nops, opcap, npprops, ppcap;
    bx_buf pstr;
    int recording, rec_bad; /* a walk that leaves a plan; it cannot */
    uint32_t rec_op0;
    struct {
        uint32_t off, size;
        uint8_t type;
    } * slots; /* the record's values: its instance's, then those of the
                  instances inside its BinXml values, depth first */
    uint32_t nslots;
    bx_buf sig; /* the record's signature: each instance's template and shape */
} nsrc;

static const char *const system_text[] = {"EventID",  "Version",       "Level",   "Task",     "Opcode",
                                          "Keywords", "EventRecordID", "Channel", "Computer", NULL};

/* ---- header fields: one place for walks and plans ------------------------------- */

static void apply(nsrc *x, int field, int elem, const char *v)
{
    etwl_header *h = &x->ev.hdr;
    switch (field) {
    case F_PROVIDER:
        snprintf(x->provider, sizeof x->provider, "%s", v);
        h->provider_name = x->provider;
        h->provider_name_len = (uint32_t)strlen(x->provider);
        h->has |= ETWL_HAS_PROVIDER_NAME;
        break;
    case F_GUID: etwl_guid_parse(v, strlen(v), &h->provider_guid); break;
    case F_TIME: etwl_time_parse(v, strlen(v), &h->ts); break;
    case F_ACTIVITY: etwl_guid_parse(v, strlen(v), &h->activity_guid); break;
    case F_RELATED:
        if (etwl_guid_parse(v, strlen(v), &x->ev.ext.related_activity) == ETWL_OK)
            x->ev.ext.has |= ETWL_EXT_RELATED_ACTIVITY;
        break;
    case F_PID: h->pid = (uint32_t)strtoul(v, NULL, 10); break;
    case F_TID: h->tid = (uint32_t)strtoul(v, NULL, 10); break;
    case F_SID:
        if (strlen(v) < sizeof x->sid) {
            snprintf(x->sid, sizeof x->sid, "%s", v);
            x->ev.ext.user_sid = x->sid;
            x->ev.ext.user_sid_len = (uint32_t)strlen(x->sid);
            x->ev.ext.has |= ETWL_EXT_USER_SID;
        }
        break;
    case F_TEXT:
        switch (elem) {
        case 0: h->desc.id = (uint16_t)strtoul(v, NULL, 10); break;
        case 1: h->desc.version = (uint8_t)strtoul(v, NULL, 10); break;
        case 2: h->desc.level = (uint8_t)strtoul(v, NULL, 10); break;
        case 3: h->desc.task = (uint16_t)strtoul(v, NULL, 10); break;
        case 4: h->desc.opcode = (uint8_t)strtoul(v, NULL, 10); break;
        case 5: h->desc.keyword = strtoull(v, NULL, 0); break;
        case 6:
            h->record_id = strtoull(v, NULL, 10);
            h->has |= ETWL_HAS_RECORD_ID;
            break;
        case 7:
            snprintf(x->channel, sizeof x->channel, "%s", v);
            h->channel_name = x->channel;
            h->channel_name_len = (uint32_t)strlen(x->channel);
            h->has |= ETWL_HAS_CHANNEL_NAME;
            break;
        case 8:
            snprintf(x->computer, sizeof x->computer, "%s", v);
            h->computer = x->computer;
            h->computer_len = (uint32_t)strlen(x->computer);
            h->has |= ETWL_HAS_COMPUTER;
            break;
        default: break;
        }
        break;
    default: break;
    }
}

/* Records, while a plan is being made, where a field's text came from. */
static void rec_op(nsrc *x, int field, int elem, int from, const char *v)
{
    pop *o;
    if (!x->recording || x->rec_bad) return;
    if (from == BX_FROM_MIXED) {
        x->rec_bad = 1;
        return;
    }
    if (x->nops == x->opcap) {
        uint32_t cap = x->opcap ? 2 * x->opcap : 64;
        pop *n = realloc(x->ops, cap * sizeof *n);
        if (!n) {
            x->rec_bad = 1;
            return;
        }
        x->ops = n;
        x->opcap = cap;
    }
    o = &x->ops[x->nops++];
    o->field = (uint8_t)field;
    o->elem = (uint8_t)elem;
    o->slot = from >= 0 ? from : -1;
    o->lit = (uint32_t)x->pstr.len;
    o->lit_len = from >= 0 ? 0 : (uint32_t)strlen(v);
    if (from < 0) bx_put(&x->pstr, v, o->lit_len + 1);
}

/* ---- element events -> event ------------------------------------------------- */

static const bx_attr *attr(const bx_attr *a, int na, const char *name)
{
    int i;
    for (i = 0; i < na; i++)
        if (strcmp(a[i].name, name) == 0) return &a[i];
    return NULL;
}

static void set_attr(nsrc *x, int field, const bx_attr *a)
{
    rec_op(x, field, 0, a->from, a->value);
    apply(x, field, 0, a->value);
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
    p->slot = -1;
    p->from_data = 0;
    return x->nprops++;
}

static void on_start(void *ud, const char *el, const bx_attr *a, int na)
{
    nsrc *x = ud;
    const bx_attr *v;
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
            if ((v = attr(a, na, "Name")) || (v = attr(a, na, "EventSourceName"))) set_attr(x, F_PROVIDER, v);
            if ((v = attr(a, na, "Guid"))) set_attr(x, F_GUID, v);
        } else if (strcmp(el, "TimeCreated") == 0) {
            if ((v = attr(a, na, "SystemTime"))) set_attr(x, F_TIME, v);
        } else if (strcmp(el, "Correlation") == 0) {
            if ((v = attr(a, na, "ActivityID"))) set_attr(x, F_ACTIVITY, v);
            if ((v = attr(a, na, "RelatedActivityID"))) set_attr(x, F_RELATED, v);
        } else if (strcmp(el, "Execution") == 0) {
            if ((v = attr(a, na, "ProcessID"))) set_attr(x, F_PID, v);
            if ((v = attr(a, na, "ThreadID"))) set_attr(x, F_TID, v);
        } else if (strcmp(el, "Security") == 0) {
            if ((v = attr(a, na, "UserID"))) set_attr(x, F_SID, v);
        } else {
            int i;
            for (i = 0; system_text[i]; i++)
                if (strcmp(el, system_text[i]) == 0) break;
            x->elem = system_text[i];
            x->elem_from = FROM_NONE;
        }
        return;
    }
    if (x->in_eventdata && x->depth == 3) {
        char name[300];
        const char *n;
        v = attr(a, na, "Name");
        if (!v) {
            snprintf(name, sizeof name, "%s%d", el, ++x->unnamed);
            n = name;
        } else {
            if (v->from != BX_FROM_TEMPLATE) x->rec_bad = 1; /* a name from the values */
            n = v->value;
        }
        x->cur_prop = new_prop(x, n);
        return;
    }
    if (x->in_userdata && x->depth == 4) x->cur_prop = new_prop(x, el);
}

static void text_append(nsrc *x, const char *s, size_t len);

/* A lazy property's text, decoded now (into ptexts, where its text goes). */
static void materialise(nsrc *x, nprop *p)
{
    size_t from = x->ptexts.len;
    p->lazy = 0;
    p->from_data = 1;
    bx_render_text(&x->ptexts, p->type, p->data, p->size); /* checked while walking */
    p->len = x->ptexts.len - from;
}

static void on_value(void *ud, uint8_t type, const uint8_t *data, uint32_t n)
{
    nsrc *x = ud;
    int slot = (int)(data - x->chunk.data); /* its offset: a slot once the plan is kept */
    if (x->cur_prop >= 0) {
        nprop *p = &x->props[x->cur_prop];
        if (!p->len && !p->lazy) { /* the whole value of a property: decoded when read */
            p->data = data;
            p->size = n;
            p->type = type;
            p->lazy = 1;
            p->slot = slot;
            return;
        }
        p->from_data = 1;
    } else if (x->elem) {
        x->elem_from = x->elem_from == FROM_NONE && slot >= 0 ? slot : BX_FROM_MIXED;
    }
    x->chunk.scratch.len = 0;
    bx_render_text(&x->chunk.scratch, type, data, n);
    if (x->chunk.scratch.len) text_append(x, x->chunk.scratch.p, x->chunk.scratch.len);
    x->chunk.scratch.len = 0;
}

static void on_text(void *ud, const char *s, size_t len)
{
    nsrc *x = ud;
    if (x->cur_prop >= 0) {
        if (len && x->chunk.text_from_values) x->props[x->cur_prop].from_data = 1;
    } else if (x->elem) {
        if (x->chunk.text_from_values) x->elem_from = BX_FROM_MIXED;
        else if (x->elem_from == FROM_NONE) x->elem_from = BX_FROM_TEMPLATE;
        else if (x->elem_from >= 0) x->elem_from = BX_FROM_MIXED;
    }
    text_append(x, s, len);
}

static void text_append(nsrc *x, const char *s, size_t len)
{
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
    if (x->in_system && x->depth == 3 && x->elem) {
        int k = 0;
        x->text[x->textlen] = 0;
        while (system_text[k] != x->elem) k++;
        if (x->elem_from == FROM_NONE) x->elem_from = BX_FROM_TEMPLATE; /* empty */
        rec_op(x, F_TEXT, k, x->elem_from, x->text);
        apply(x, F_TEXT, k, x->text);
        x->elem = NULL;
    }
    x->cur_prop = -1;
    x->textlen = 0;
    x->depth--;
    if (x->depth == 1) x->in_system = x->in_eventdata = x->in_userdata = 0;
}

/* ---- files --------------------------------------------------------------------- */

static int64_t first_time(const char *path, void *x)
{
    (void)x;
    return (int64_t)evtx_file_first_time(path);
}

static void native_destroy(etwl_source *s)
{
    nsrc *x = (nsrc *)s;
    if (!x) return;
    etwl_evtx_list_free(&x->files);
    if (x->fx) evtx_file_close(x->fx);
    free(x->fx);
    bx_chunk_free(&x->chunk);
    free(x->slots);
    free(x->ops);
    free(x->pprops);
    bx_buf_free(&x->pstr);
    bx_buf_free(&x->sig);
    bx_buf_free(&x->pnames);
    bx_buf_free(&x->ptexts);
    etwl_event_release(&x->ev);
    free(x);
}

static etwl_status native_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    nsrc *x = calloc(1, sizeof *x);
    etwl_status st;
    if (!x) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    etwl_event_init(&x->ev);
    x->fx = malloc(sizeof *x->fx);
    if (!x->fx) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto fail;
    }
    x->fx->f = NULL;
    x->slots = malloc(BX_MAX_SUBS * sizeof *x->slots);
    if (!x->slots) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = etwl_evtx_list_make(&x->files, cfg->read_path, first_time, x, err)) != ETWL_OK) goto fail;
    x->base.bytes_total = etwl_evtx_list_bytes(&x->files);
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
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* What of a value the walk's shape depends on: its type, and whether it
 * is empty (an absent optional value removes its element). */
static uint8_t shape_of(const uint8_t *desc) { return (uint8_t)(desc[2] | (rd16(desc) == 0 ? 0x40 : 0)); }

/* The record's values, depth first through BinXml values holding template
 * instances, and its signature (each instance's template offset, value
 * count and value shapes).  0, or -1 when a BinXml value is not a plain
 * template instance (such a record is only walked). */
static int flatten(nsrc *x, const bx_instance *in, int depth)
{
    const uint8_t *d = x->chunk.data + in->descs;
    uint32_t k, off = in->values, base = x->nslots;
    if (depth > 8 || x->nslots + in->n > BX_MAX_SUBS) return -1;
    bx_put(&x->sig, &in->def, 4);
    bx_put(&x->sig, &in->n, 4);
    for (k = 0; k < in->n; k++) {
        uint8_t b = shape_of(d + 4 * k);
        x->slots[x->nslots].off = off;
        x->slots[x->nslots].size = rd16(d + 4 * k);
        x->slots[x->nslots].type = d[4 * k + 2];
        off += x->slots[x->nslots].size;
        x->nslots++;
        bx_put(&x->sig, &b, 1);
    }
    for (k = 0; k < in->n; k++) {
        bx_instance sub;
        uint32_t o = x->slots[base + k].off, n = x->slots[base + k].size;
        if (x->slots[base + k].type != BX_BINXML || !n) continue;
        if (bx_instance_at(&x->chunk, o, o + n, &sub) != 0 || flatten(x, &sub, depth + 1) != 0) return -1;
    }
    return x->sig.oom ? -1 : 0;
}

static plan *find_plan(nsrc *x)
{
    int i;
    for (i = 0; i < x->nplans; i++) {
        plan *pl = &x->plans[i];
        if (pl->siglen == x->sig.len && memcmp(x->pstr.p + pl->sig, x->sig.p, x->sig.len) == 0) return pl;
    }
    return NULL;
}

/* The slot of the value at chunk offset off, or -1. */
static int slot_at(const nsrc *x, int off)
{
    uint32_t k;
    for (k = 0; k < x->nslots; k++)
        if (x->slots[k].off == (uint32_t)off && x->slots[k].size) return (int)k;
    return -1;
}

/* Keeps what the walk of this record recorded as the plan for its
 * signature (unusable when the walk depended on more). */
static void keep_plan(nsrc *x)
{
    plan *pl = &x->plans[x->nplans++];
    uint32_t k;
    int i;
    pl->sig = (uint32_t)x->pstr.len;
    pl->siglen = (uint32_t)x->sig.len;
    bx_put(&x->pstr, x->sig.p, x->sig.len);
    pl->op0 = x->rec_op0;
    pl->nops = x->nops - x->rec_op0;
    pl->usable = !x->rec_bad && !x->chunk.data_shaped;
    for (k = 0; k < pl->nops && pl->usable; k++) { /* offsets become slots */
        pop *o = &x->ops[pl->op0 + k];
        if (o->slot >= 0 && (o->slot = slot_at(x, o->slot)) < 0) pl->usable = 0;
    }
    pl->prop0 = x->npprops;
    pl->nprops = 0;
    if (x->npprops + (uint32_t)x->nprops > x->ppcap) {
        uint32_t cap = x->ppcap ? x->ppcap : 256;
        pprop *n;
        while (cap < x->npprops + (uint32_t)x->nprops) cap *= 2;
        if (!(n = realloc(x->pprops, cap * sizeof *n))) {
            pl->usable = 0;
            return;
        }
        x->pprops = n;
        x->ppcap = cap;
    }
    for (i = 0; i < x->nprops && pl->usable; i++) {
        nprop *p = &x->props[i];
        pprop *q = &x->pprops[x->npprops + i];
        q->slot = p->lazy ? slot_at(x, p->slot) : -1;
        if (p->from_data || (p->lazy && q->slot < 0)) pl->usable = 0;
        q->name = (uint32_t)x->pstr.len;
        q->name_len = (uint32_t)p->name_len;
        bx_put(&x->pstr, x->pnames.p + p->name, p->name_len + 1);
        q->lit = (uint32_t)x->pstr.len;
        q->lit_len = p->lazy ? 0 : (uint32_t)p->len;
        bx_put(&x->pstr, p->lazy || !p->len ? "" : x->ptexts.p + p->text, q->lit_len);
        bx_put(&x->pstr, "", 1);
    }
    if (pl->usable) {
        pl->nprops = (uint32_t)x->nprops;
        x->npprops += (uint32_t)x->nprops;
    }
    if (x->pstr.oom) pl->usable = 0;
}

/* Runs a plan on this record's values (flatten() has found them): 1, or 0
 * when a value is one the walk would refuse (then the record is walked,
 * and says why). */
static int run_plan(nsrc *x, const plan *pl)
{
    const uint8_t *d = x->chunk.data;
    uint32_t k;
    etwl_member *m;
    uint8_t *pending;
    for (k = 0; k < x->nslots; k++)
        if (x->slots[k].type != BX_BINXML && bx_value_ok(x->slots[k].type, d + x->slots[k].off, x->slots[k].size) != 0)
            return 0;
    etwl_event_begin(&x->ev);
    x->sid[0] = 0;
    for (k = 0; k < pl->nops; k++) {
        const pop *o = &x->ops[pl->op0 + k];
        const char *v = x->pstr.p + o->lit;
        if (o->slot >= 0) {
            bx_buf *b = &x->chunk.scratch;
            b->len = 0;
            bx_render_text(b, x->slots[o->slot].type, d + x->slots[o->slot].off, x->slots[o->slot].size);
            bx_put(b, "", 0);
            if (b->oom) return 0;
            if (o->field != F_TEXT) { /* an attribute value, as an XML parser normalises it */
                size_t i;
                for (i = 0; i < b->len; i++)
                    if (b->p[i] == '\n' || b->p[i] == '\t') b->p[i] = ' ';
            } else if (b->len >= sizeof x->text) b->len = 0; /* as too long a System text is dropped */
            b->p[b->len] = 0;
            v = b->p;
        }
        apply(x, o->field, o->elem, v);
    }
    m = etwl_arena_alloc(&x->ev.arena, (size_t)(pl->nprops ? pl->nprops : 1) * sizeof *m);
    pending = etwl_arena_alloc(&x->ev.arena, (size_t)(pl->nprops ? pl->nprops : 1));
    if (!m || !pending) return 0;
    for (k = 0; k < pl->nprops; k++) {
        const pprop *q = &x->pprops[pl->prop0 + k];
        m[k].name = x->pstr.p + q->name;
        m[k].name_len = q->name_len;
        memset(&m[k].value, 0, sizeof m[k].value);
        m[k].value.type = ETWL_VT_STRING;
        m[k].value.v.s = x->pstr.p + q->lit;
        m[k].value.n = q->lit_len;
        pending[k] = q->slot >= 0;
        if (q->slot >= 0) {
            nprop *p = &x->props[k];
            p->data = d + x->slots[q->slot].off;
            p->size = x->slots[q->slot].size;
            p->type = x->slots[q->slot].type;
        }
    }
    x->nprops = (int)pl->nprops;
    etwl_event_set_lazy_members(&x->ev, m, pl->nprops, pending, fill, x);
    return 1;
}

static void chunk_loaded(nsrc *x, const uint8_t *data)
{
    bx_chunk_reset(&x->chunk, data, EVTX_CHUNK_SIZE);
    x->nplans = 0;
    x->nops = x->npprops = 0;
    x->pstr.len = 0;
}

static int parse_record(nsrc *x, const evtx_record *r)
{
    static const bx_sink sink = {NULL, on_start, on_text, on_end, on_value};
    bx_sink s = sink;
    bx_instance in;
    int i, have_in;
    s.ud = x;
    x->recording = 0;
    x->nslots = 0;
    x->sig.len = 0;
    have_in = x->slots && bx_instance_at(&x->chunk, r->data, r->data_end, &in) == 0 && flatten(x, &in, 0) == 0;
    if (have_in) {
        plan *pl = find_plan(x);
        if (pl && pl->usable && run_plan(x, pl)) return 1;
        if (!pl && x->nplans < MAX_PLANS) {
            x->recording = 1;
            x->rec_bad = 0;
            x->rec_op0 = x->nops;
        }
    }
    etwl_event_begin(&x->ev);
    x->depth = x->in_system = x->in_eventdata = x->in_userdata = 0;
    x->nprops = x->unnamed = 0;
    x->cur_prop = -1;
    x->elem = NULL;
    x->sid[0] = 0;
    x->pnames.len = x->ptexts.len = 0;
    if (bx_walk(&x->chunk, r->data, r->data_end, &s) != 0) {
        x->nops = x->rec_op0; /* no plan from a record that does not parse */
        return 0;
    }
    bx_put(&x->ptexts, "", 1); /* ends the last text */
    if (x->pnames.oom || x->ptexts.oom) {
        snprintf(x->chunk.err, sizeof x->chunk.err, "out of memory");
        return 0;
    }
    if (x->recording) keep_plan(x);
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
    x->base.pos = r->id;
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
        x->base.pos = r.id;
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
    uint64_t before = x->base.bytes_done;
    x->base.file = path;
    x->base.pos_kind = ETWL_SRC_RECORD;
    if (evtx_file_open(f, path, msg, sizeof msg) != 0) return diag(x, path, -1, -1, msg, err);
    if (evtx_crc32(f->header, 120) != ((uint32_t)f->header[124] | (uint32_t)f->header[125] << 8 |
                                       (uint32_t)f->header[126] << 16 | (uint32_t)f->header[127] << 24)) {
        /* the chunks are read from the file's size, not the header's
         * counts; like libevtx, the file counts as damaged */
        etwl_source_note(&x->base, path, "file header checksum mismatch: its chunks are read all the same");
        file_damaged = 1;
    }
    for (ci = 0; ci < f->nchunks && st == ETWL_OK && !x->base.closing; ci++) {
        evtx_record r;
        int got = evtx_file_chunk(f, ci);
        if (got < 0) {
            st = diag(x, path, (int)ci, -1, "cannot read the chunk", err);
            break;
        }
        x->base.bytes_done = before + EVTX_HEADER_SIZE + (uint64_t)ci * EVTX_CHUNK_SIZE;
        if (got == 0) continue;
        damaged = !f->header_crc_ok || !f->data_crc_ok || f->avail < EVTX_CHUNK_SIZE;
        if (f->avail < EVTX_CHUNK_SIZE) {
            snprintf(msg, sizeof msg, "chunk cut short (%" PRIu32 " of 65536 bytes): read as far as it parses",
                     f->avail);
            note(x, path, (int)ci, msg);
        }
        if (!f->header_crc_ok) note(x, path, (int)ci, "chunk header checksum mismatch: read as far as it parses");
        if (!f->data_crc_ok) note(x, path, (int)ci, "chunk records checksum mismatch: read as far as they parse");
        chunk_loaded(x, f->chunk);
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
        chunk_loaded(x, f->chunk);
        f->next = f->limit;
        st = recover(x, path, ci, "slack space in a damaged file");
    }
    x->base.bytes_done = before + f->size;
    evtx_file_close(f);
    return st;
}

static etwl_status native_process(etwl_source *s, etwl_error *err)
{
    nsrc *x = (nsrc *)s;
    int fi;
    for (fi = 0; fi < x->files.n && !x->base.closing; fi++) {
        etwl_status st = read_file(x, x->files.files[fi].path, err);
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

/* The folder's files, in the order they replay. */
static const char *native_file(etwl_source *s, int i)
{
    nsrc *x = (nsrc *)s;
    return i >= 0 && i < x->files.n ? x->files.files[i].path : NULL;
}

const etwl_source_ops etwl_evtx_native_source = {
    .name = "evtx",
    .probe = native_probe,
    .open = native_open,
    .process = native_process,
    .close = native_close,
    .file = native_file,
    .destroy = native_destroy,
};
