/* evtxnative.c - EVTX replay without libevtx: the file and its chunks
 * (evtxfile.c), each record's BinXml walked as element events (binxml.c),
 * and those events mapped onto the event exactly as the libevtx source
 * (evtx.c) maps its XML: <System> fills the header, <EventData> (named
 * Data, unnamed ones as Data1, Data2...) or <UserData> (the children of its
 * first element) the properties, and the user SID goes to ext.  No XML is
 * written or parsed.  Damage is reported by file, chunk and offset, and
 * what still parses is read. */
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/format.h"
#include "session/source.h"
#include "sources/evtx/evtxlist.h"
#include "sources/evtx/binxml.h"
#include "sources/evtx/evtxfile.h"
#include "sources/evtx/system.h"
#include "util/bytes.h"
#include "util/grow.h"

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
    /* an item of a string array: its text is all of that item (the
     * array's chunk offset and the item's ordinal, for a plan) */
    int is_item;
    uint32_t item_array, item_index;
} nprop;

/* ---- templates compiled to plans --------------------------------------------
 *
 * A template is a schema.  The first record of a template (and of the
 * templates inside its BinXml values) is walked, and the walk leaves a
 * plan: which header field each template text or substitution slot fills,
 * and each property's name and slot.  Later records of the same templates,
 * whose values have the same types and presence (all the walk's shape
 * depends on, unless arrays, BinXml or values inside mixed text are
 * involved: then no plan), run the plan on their substitution arrays
 * instead of walking.  String arrays (the <Data> of classic event log
 * templates: one element per item) are planned too: the key holds each
 * one's item count, and their items are values of their own.
 *
 * Plans are kept across chunks and files, keyed by each template's GUID,
 * size and a hash of its contents, and the values' shapes: a chunk holds
 * its template definitions at offsets of its own, so a file of many chunks
 * walks each template once rather than once per chunk.  The contents are
 * in the key because nothing but convention ties a GUID to one body: a
 * damaged or hand-made chunk that reuses a GUID gets a plan of its own. */

#define FROM_NONE (-3) /* no text yet (System text elements) */

typedef struct pop {
    uint8_t field, elem;   /* F_*; for EVTX_F_TEXT the evtx_sys_text index */
    uint8_t pre;           /* a literal whose value is below, parsed once */
    int slot;              /* >= 0: that value; else the literal */
    uint32_t lit, lit_len; /* the literal, in store */
    uint64_t num;
    int64_t ts;
    etwl_guid g;
} pop;

typedef struct vslot {
    uint32_t off, size;
    uint8_t type;
    uint32_t item0, nitem; /* a string array's items, in nsrc.items */
} vslot;

typedef struct plan {
    uint64_t hash;
    uint32_t key, keylen;   /* in store: the templates and value shapes it is for */
    uint32_t op0, nops;     /* in ops */
    uint32_t prop0, nprops; /* in mt / pt / ps: the members as delivered */
    uint32_t ix0, ixmask;   /* in ix: their name index */
    uint64_t layout;        /* its events' etwl_event layout */
    int usable;
} plan;

/* Bounds of the plan cache: when one is reached, the cache starts over
 * (the templates are walked again), so memory does not grow with the
 * number of templates a folder holds. */
#define MAX_PLANS 2048
#define PLAN_TABLE 4096 /* hash slots, a power of two above MAX_PLANS */
#define STORE_CAP (8u << 20)
#define MAX_PLAN_MEMBERS (1u << 17)
/* a record's key: per template instance 32 bytes (GUID, size, count,
 * contents hash), a byte per value, and 2 more per string array (its item
 * count) */
#define KEY_INST 32u
#define KEY_CAP (KEY_INST * (BX_MAX_SUBS + 1) + 3 * BX_MAX_SUBS)
/* the contents hashes of the current chunk's templates, by offset */
#define THASH_SLOTS 64

typedef struct nsrc {
    etwl_source base;
    etwl_evtx_list files; /* the .evtx files, in time order */
    etwl_event ev;
    evtx_file *fx;
    bx_chunk chunk;
    /* the mapping state for one record (as evtx.c's XML callbacks) */
    int depth, in_system, in_eventdata, in_userdata;
    int elem;                 /* current System text child (evtx_sys_text), or -1 */
    int elem_from;            /* where its text came from: FROM_NONE, a slot, BX_FROM_* */
    const bx_attr *cur_attrs; /* the attributes of the System child being opened */
    int cur_nattrs;
    char text[512];
    size_t textlen;
    nprop props[MAX_PROPS];
    int nprops, cur_prop, unnamed;
    bx_buf pnames, ptexts;
    evtx_sys_strings str; /* the header strings */
    /* those four as last rendered from a value, with the value: they repeat
     * from record to record, so a plan renders them only when they change */
    struct {
        uint8_t raw[256];
        uint32_t size, len;
        uint8_t type, valid, set;
    } hc[4];
    /* the plan cache */
    plan *plans;
    int nplans;
    int32_t *table; /* PLAN_TABLE slots: plan index + 1, 0 when empty */
    pop *ops;
    uint32_t nops, opcap;
    etwl_member *mt; /* member templates: names and literal values */
    uint8_t *pt;     /* pending templates */
    int32_t *ps;     /* each member's slot, or -1 */
    uint32_t nmt, mtcap, ptcap, pscap;
    uint16_t *ix;
    uint32_t nix, ixcap;
    char *store; /* names, literals and keys: never moved (members point in) */
    uint32_t used;
    const plan *cur;        /* the plan the delivered event came from, or NULL */
    int recording, rec_bad; /* a walk that leaves a plan; it cannot */
    uint32_t rec_op0;
    vslot *slots; /* the record's values: its instance's, then those of the
                     instances inside its BinXml values, depth first */
    uint32_t nslots;
    vslot *items; /* the items of its string arrays, array by array */
    uint32_t nitems, itemcap;
    uint8_t *key; /* the record's key: each instance's template and shape */
    uint32_t keylen;
    /* templates hashed in this chunk (gen changes with the chunk), so each
     * body is hashed once per chunk, not per record */
    struct {
        uint32_t off, gen;
        uint64_t hash;
    } th[THASH_SLOTS];
    uint32_t gen;
    int vbad;            /* flatten() found a value a walk would refuse */
    uint16_t vinfo[256]; /* per value type: what flatten() checks (info_init) */
} nsrc;

static void info_init(uint16_t *info);
enum { MORE_BINXML = 1, MORE_ARRAY = 2 }; /* template instances inside; string array items */
#define INFO_MORE(i) ((i) >> 8 & 3)       /* MORE_* */
#define INFO_ASK 0x8000u                  /* bx_value_ok() decides */

/* ---- header fields: one place for walks and plans ------------------------------- */

enum { HC_PROVIDER, HC_SID, HC_CHANNEL, HC_COMPUTER };

/* The header string a field fills (an HC_*), or -1. */
static int hc_kind(int field, int elem)
{
    if (field == EVTX_F_PROVIDER) return HC_PROVIDER;
    if (field == EVTX_F_SID) return HC_SID;
    if (field == EVTX_F_TEXT && elem == EVTX_T_CHANNEL) return HC_CHANNEL;
    if (field == EVTX_F_TEXT && elem == EVTX_T_COMPUTER) return HC_COMPUTER;
    return -1;
}

static void apply(nsrc *x, int field, int elem, const char *v)
{
    int k = hc_kind(field, elem);
    if (k >= 0) x->hc[k].valid = 0; /* its buffer changes */
    evtx_sys_apply(&x->ev, &x->str, field, elem, v);
}

/* n bytes into the plan store: their offset, or UINT32_MAX when it is full
 * (then the plan being made is not kept). */
static uint32_t store_put(nsrc *x, const void *s, size_t n)
{
    uint32_t at = x->used;
    if (n > STORE_CAP - x->used) return UINT32_MAX;
    if (n) memcpy(x->store + at, s, n);
    x->used += (uint32_t)n;
    return at;
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
    if (!etwl_grow(&x->ops, x->nops, 1, &x->opcap, sizeof *x->ops, UINT32_MAX)) {
        x->rec_bad = 1;
        return;
    }
    o = &x->ops[x->nops++];
    memset(o, 0, sizeof *o);
    o->field = (uint8_t)field;
    o->elem = (uint8_t)elem;
    o->slot = from >= 0 ? from : -1;
    o->lit_len = from >= 0 ? 0 : (uint32_t)strlen(v);
    o->lit = from >= 0 ? 0 : store_put(x, v, o->lit_len + 1);
    if (o->lit == UINT32_MAX) x->rec_bad = 1;
}

/* ---- element events -> event ------------------------------------------------- */

static const bx_attr *attr(const bx_attr *a, int na, const char *name)
{
    int i;
    for (i = 0; i < na; i++)
        if (strcmp(a[i].name, name) == 0) return &a[i];
    return NULL;
}

/* evtx_sys_child's view of the element being opened */
static const void *sys_get(void *ctx, const char *name)
{
    nsrc *x = ctx;
    return attr(x->cur_attrs, x->cur_nattrs, name);
}

static void sys_set(void *ctx, int field, const void *value)
{
    nsrc *x = ctx;
    const bx_attr *a = value;
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
    p->is_item = x->chunk.in_item;
    p->item_array = x->chunk.item_array;
    p->item_index = x->chunk.item_index;
    return x->nprops++;
}

static void on_start(void *ud, const char *el, const bx_attr *a, int na)
{
    nsrc *x = ud;
    const bx_attr *v;
    x->depth++;
    x->textlen = 0;
    x->cur_prop = -1;
    /* a string array's item is planned only as a property of its own */
    if (x->chunk.in_item && !((x->in_eventdata && x->depth == 3) || (x->in_userdata && x->depth == 4))) x->rec_bad = 1;
    if (x->depth == 2) {
        x->in_system = strcmp(el, "System") == 0;
        x->in_eventdata = strcmp(el, "EventData") == 0;
        x->in_userdata = strcmp(el, "UserData") == 0;
        return;
    }
    if (x->in_system && x->depth == 3) {
        x->cur_attrs = a;
        x->cur_nattrs = na;
        x->elem = evtx_sys_child(el, sys_get, sys_set, x);
        x->elem_from = FROM_NONE;
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
    } else if (x->elem >= 0) {
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
        nprop *p = &x->props[x->cur_prop];
        if (len && x->chunk.text_from_values && !(p->is_item && x->chunk.in_item)) p->from_data = 1;
    } else if (x->elem >= 0) {
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
    } else if (x->elem >= 0 && x->textlen + len < sizeof x->text) {
        memcpy(x->text + x->textlen, s, len);
        x->textlen += len;
        x->text[x->textlen] = 0;
    }
}

static void on_end(void *ud)
{
    nsrc *x = ud;
    if (x->in_system && x->depth == 3 && x->elem >= 0) {
        x->text[x->textlen] = 0;
        if (x->elem_from == FROM_NONE) x->elem_from = BX_FROM_TEMPLATE; /* empty */
        rec_op(x, EVTX_F_TEXT, x->elem, x->elem_from, x->text);
        apply(x, EVTX_F_TEXT, x->elem, x->text);
        x->elem = -1;
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
    free(x->items);
    free(x->ops);
    free(x->plans);
    free(x->table);
    free(x->mt);
    free(x->pt);
    free(x->ps);
    free(x->ix);
    free(x->store);
    free(x->key);
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
    /* the store and the key buffer are allocated at their bound, and only
     * the pages used are touched */
    x->store = malloc(STORE_CAP);
    x->key = malloc(KEY_CAP);
    x->plans = malloc(MAX_PLANS * sizeof *x->plans);
    x->table = calloc(PLAN_TABLE, sizeof *x->table);

    info_init(x->vinfo);
    if (!x->slots || !x->store || !x->key || !x->plans || !x->table) {
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

/* The substitution value behind lazy property i. */
static void member_value(const nsrc *x, uint32_t i, const uint8_t **data, uint32_t *size, uint8_t *type)
{
    if (x->cur) { /* a plan's member: its value is the record's slot, or an item */
        int32_t k = x->ps[x->cur->prop0 + i];
        const vslot *v = k >= 0 ? &x->slots[k] : &x->items[-2 - k];
        *data = x->chunk.data + v->off;
        *size = v->size;
        *type = v->type;
    } else {
        *data = x->props[i].data;
        *size = x->props[i].size;
        *type = x->props[i].type;
    }
}

/* A property's unsigned value as a number (bx_render_value writes these
 * as decimal or 0x-hex text), for etwl_event_prop_uint. */
static int fill_num(etwl_event *ev, uint32_t i, uint64_t *out, void *user)
{
    const uint8_t *d;
    uint32_t size;
    uint8_t type;
    (void)ev;
    member_value(user, i, &d, &size, &type);
    switch (type) {
    case BX_UINT8: return size >= 1 ? (*out = d[0], 1) : 0;
    case BX_UINT16: return size >= 2 ? (*out = etwl_le16(d), 1) : 0;
    case BX_UINT32:
    case BX_HEX32: return size >= 4 ? (*out = etwl_le32(d), 1) : 0;
    case BX_UINT64:
    case BX_HEX64: return size >= 8 ? (*out = etwl_le64(d), 1) : 0;
    default: return 0;
    }
}

/* Decodes a property's substitution value on its first read. */
static void fill(etwl_event *ev, uint32_t i, etwl_member *m, void *user)
{
    nsrc *x = user;
    bx_buf *b = &x->chunk.scratch;
    const uint8_t *data;
    uint32_t size;
    uint8_t type;
    member_value(x, i, &data, &size, &type);
    if (type == BX_STRING) { /* the usual: converted straight into the arena */
        char *o = etwl_arena_alloc(&ev->arena, 3 * (size / 2) + 1);
        if (o) {
            m->value.n = (uint32_t)bx_string_text(o, data, size);
            m->value.v.s = o;
            return;
        }
    }
    b->len = 0;
    if (bx_render_text(b, type, data, size) != 0 || b->oom) {
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

/* The sizes bx_value_ok() wants of fixed-size values, by type (0: not
 * one); checked here for the common types, as it is once per value. */
static const uint8_t fixed[0x16] = {
    [BX_INT8] = 1,     [BX_UINT8] = 1, [BX_INT16] = 2, [BX_UINT16] = 2,      [BX_INT32] = 4,  [BX_UINT32] = 4,
    [BX_REAL32] = 4,   [BX_BOOL] = 4,  [BX_HEX32] = 4, [BX_INT64] = 8,       [BX_UINT64] = 8, [BX_REAL64] = 8,
    [BX_FILETIME] = 8, [BX_HEX64] = 8, [BX_GUID] = 16, [BX_SYSTEMTIME] = 16,
};

/* Per value type, one table (flatten() reads it for every value of every
 * record): the low byte is the size bx_value_ok() needs of a value of a
 * fixed-size type to pass (0: nothing, as BinXml values are walked
 * instead), INFO_ASK marks the types it must look at, and INFO_MORE the
 * work a non-empty value asks more of flatten().  In the source, not
 * shared: sources may run on several threads. */
static void info_init(uint16_t *info)
{
    int t;
    for (t = 0; t < 256; t++) {
        int base = t & 0x7f;
        if (t == BX_NULL || t == BX_STRING || t == BX_ANSI || t == BX_BINARY || t == (BX_ARRAY | BX_STRING) ||
            t == BX_BINXML)
            info[t] = 0;
        else if (t < (int)sizeof fixed && fixed[t]) info[t] = fixed[t];
        else if ((t & BX_ARRAY) && base < (int)sizeof fixed && fixed[base]) info[t] = 0;
        else info[t] = INFO_ASK;
    }
    info[BX_BINXML] |= MORE_BINXML << 8;
    info[BX_ARRAY | BX_STRING] |= MORE_ARRAY << 8;
}

static uint64_t key_hash(const uint8_t *p, uint32_t n);

/* The hash of the contents of the template defined at def in this chunk */
static uint64_t tmpl_hash(nsrc *x, uint32_t def)
{
    unsigned i = (def >> 3) & (THASH_SLOTS - 1);
    if (x->th[i].gen != x->gen || x->th[i].off != def) {
        /* bx_instance_head checked def + 24 against the chunk; the body is
         * cut at the chunk's end, where a walk would refuse it anyway */
        uint32_t at = def + 24, size = etwl_le32(x->chunk.data + def + 20);
        uint32_t n = (uint64_t)at + size > x->chunk.len ? x->chunk.len - at : size;
        x->th[i].hash = key_hash(x->chunk.data + at, n);
        x->th[i].off = def;
        x->th[i].gen = x->gen;
    }
    return x->th[i].hash;
}

/* The record's values, depth first through BinXml values holding template
 * instances, and its key: for each instance its template's GUID and size,
 * its value count and the values' shapes.  0, or -1 when a BinXml value is
 * not a plain template instance (such a record is only walked). */
static int flatten(nsrc *x, const bx_instance *in, int depth)
{
    const uint8_t *d = x->chunk.data + in->descs, *def = x->chunk.data + in->def;
    const uint16_t *info = x->vinfo;
    uint8_t *key;
    vslot *sl;
    uint32_t k, off = in->values, n = in->n, any = 0, lo, hi = 0;
    uint64_t th;
    int bad = 0;
    if (depth > 8 || x->nslots + n > BX_MAX_SUBS || x->keylen + KEY_INST + 3 * n > KEY_CAP) return -1;
    th = tmpl_hash(x, in->def);
    /* locals, not x->...: the key's byte stores may alias any field of x,
     * which kept the compiler reloading them in this, the loop run for
     * every value of every record */
    sl = x->slots + x->nslots;
    key = x->key + x->keylen;
    memcpy(key, def + 4, 20); /* GUID and data size: bx_instance_head checked them in the chunk */
    memcpy(key + 20, &n, 4);
    memcpy(key + 24, &th, 8);
    key += KEY_INST;
    lo = n;
    /* run for every value of every record: one descriptor word, one table
     * read, and branches only for the rare types */
    for (k = 0; k < n; k++) {
        uint32_t w = etwl_le32(d + 4 * k), size = w & 0xFFFF, type = w >> 16 & 0xFF, ti = info[type];
        sl[k].off = off;
        sl[k].size = size;
        sl[k].type = (uint8_t)type;
        /* what of a value the walk's shape depends on: its type, and
         * whether it is empty (an absent optional value removes its
         * element) */
        key[k] = (uint8_t)(type | (size == 0) << 6);
        bad |= size < (ti & 0xFF);
        if (ti >> 8) {
            if (INFO_MORE(ti) && size) { /* the loops below look only from the first such value to the last */
                any |= INFO_MORE(ti);
                if (lo == n) lo = k;
                hi = k + 1;
            }
            /* a value past the instance's end is not read: bx_instance_fits
             * refuses the instance below */
            if (ti & INFO_ASK)
                bad |= off + size > in->end || bx_value_ok((uint8_t)type, x->chunk.data + off, size) != 0;
        }
        off += size;
    }
    if (bx_instance_fits(&x->chunk, in, off) != 0) return -1;
    x->nslots += n;
    x->keylen += KEY_INST + n;
    if (bad) x->vbad = 1;
    for (k = lo; (any & MORE_ARRAY) && k < hi; k++) { /* the string arrays' items */
        const uint8_t *a = x->chunk.data + sl[k].off;
        uint32_t i = 0, size = sl[k].size, first = x->nitems, count;
        if (sl[k].type != (BX_ARRAY | BX_STRING) || !size) continue;
        sl[k].item0 = first;
        while (i < size) { /* as the walk reads them (binxml.c, walk_array) */
            uint32_t e = (uint32_t)bx_str_item_end(a, size, i);
            if (!etwl_grow(&x->items, x->nitems, 1, &x->itemcap, sizeof *x->items, UINT32_MAX)) return -1;
            x->items[x->nitems].off = sl[k].off + i;
            x->items[x->nitems].size = e - i;
            x->items[x->nitems].type = BX_STRING;
            x->nitems++;
            i = e + 2;
        }
        count = sl[k].nitem = x->nitems - first; /* at most 32768: a value has at most 65535 bytes */
        x->key[x->keylen++] = (uint8_t)count;
        x->key[x->keylen++] = (uint8_t)(count >> 8);
    }
    for (k = lo; (any & MORE_BINXML) && k < hi; k++) {
        bx_instance sub;
        uint32_t o = sl[k].off, sz = sl[k].size;
        if (sl[k].type != BX_BINXML || !sz) continue;
        if (bx_instance_head(&x->chunk, o, o + sz, &sub) != 0 || flatten(x, &sub, depth + 1) != 0) return -1;
    }
    return 0;
}

static uint64_t key_hash(const uint8_t *p, uint32_t n)
{
    /* four lanes of 8 bytes: a template body runs to kilobytes, and one
     * lane waited on each multiply before the next (2.8% of a replay) */
    uint64_t h0 = 0x9E3779B97F4A7C15u ^ n, h1 = 0xC2B2AE3D27D4EB4Fu, h2 = 0x165667B19E3779F9u, h3 = 0x27D4EB2F165667C5u,
             w[4];
    for (; n >= 32; p += 32, n -= 32) {
        memcpy(w, p, 32);
        h0 = (h0 ^ w[0]) * 0xFF51AFD7ED558CCDu;
        h1 = (h1 ^ w[1]) * 0xFF51AFD7ED558CCDu;
        h2 = (h2 ^ w[2]) * 0xFF51AFD7ED558CCDu;
        h3 = (h3 ^ w[3]) * 0xFF51AFD7ED558CCDu;
        h0 ^= h0 >> 32;
        h1 ^= h1 >> 32;
        h2 ^= h2 >> 32;
        h3 ^= h3 >> 32;
    }
    h0 ^= (h1 << 17 | h1 >> 47) ^ (h2 << 31 | h2 >> 33) ^ (h3 << 47 | h3 >> 17);
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(w, p, 8);
        h0 = (h0 ^ w[0]) * 0xFF51AFD7ED558CCDu;
        h0 ^= h0 >> 32;
    }
    w[0] = 0;
    memcpy(w, p, n);
    h0 = (h0 ^ w[0]) * 0xC4CEB9FE1A85EC53u;
    return h0 ^ (h0 >> 29);
}

static plan *find_plan(nsrc *x, uint64_t hash)
{
    uint32_t i = (uint32_t)hash & (PLAN_TABLE - 1);
    int32_t k;
    while ((k = x->table[i]) != 0) {
        plan *pl = &x->plans[k - 1];
        if (pl->hash == hash && pl->keylen == x->keylen && memcmp(x->store + pl->key, x->key, x->keylen) == 0)
            return pl;
        i = (i + 1) & (PLAN_TABLE - 1);
    }
    return NULL;
}

/* The cache starts over: reached one of its bounds. */
static void flush_plans(nsrc *x)
{
    x->nplans = 0;
    memset(x->table, 0, PLAN_TABLE * sizeof *x->table);
    x->nops = x->nmt = x->nix = 0;
    x->used = 0;
}

/* The slot of the value at chunk offset off, or -1. */
static int slot_at(const nsrc *x, int off)
{
    uint32_t k;
    for (k = 0; k < x->nslots; k++)
        if (x->slots[k].off == (uint32_t)off && x->slots[k].size) return (int)k;
    return -1;
}

/* The item a property holds, as a member's slot (-2 - its index in
 * items), or -1. */
static int item_at(const nsrc *x, const nprop *p)
{
    uint32_t k;
    for (k = 0; k < x->nslots; k++)
        if (x->slots[k].off == p->item_array && x->slots[k].type == (BX_ARRAY | BX_STRING) && x->slots[k].size) {
            uint32_t i = x->slots[k].item0 + p->item_index;
            return p->item_index < x->slots[k].nitem && i < INT_MAX - 2 ? -2 - (int)i : -1;
        }
    return -1;
}

/* A literal header value, parsed once when its plan is kept, as apply()
 * parses it; pre stays 0 (apply() runs on each record) when the parse
 * fails, whose effect depends on what the field held. */
static void preparse(nsrc *x, pop *o)
{
    const char *v = x->store + o->lit;
    switch (o->field) {
    case EVTX_F_PROVIDER: o->pre = o->lit_len < sizeof x->str.provider; break;
    case EVTX_F_SID: o->pre = o->lit_len < sizeof x->str.sid; break;
    case EVTX_F_GUID:
    case EVTX_F_ACTIVITY:
    case EVTX_F_RELATED: o->pre = etwl_guid_parse(v, o->lit_len, &o->g) == ETWL_OK; break;
    case EVTX_F_TIME: o->pre = etwl_time_parse(v, o->lit_len, &o->ts) == ETWL_OK; break;
    case EVTX_F_PID:
    case EVTX_F_TID: o->num = strtoul(v, NULL, 10), o->pre = 1; break;
    case EVTX_F_TEXT:
        if (o->elem == EVTX_T_CHANNEL || o->elem == EVTX_T_COMPUTER) o->pre = o->lit_len < sizeof x->str.channel;
        else if (o->elem <= 4) o->num = strtoul(v, NULL, 10), o->pre = 1;
        else if (o->elem == 5) o->num = strtoull(v, NULL, 0), o->pre = 1;
        else if (o->elem == 6) o->num = strtoull(v, NULL, 10), o->pre = 1;
        break;
    default: break;
    }
}

/* Keeps what the walk of this record recorded as the plan for its key
 * (unusable when the walk depended on more). */
static void keep_plan(nsrc *x, uint64_t hash)
{
    plan *pl = &x->plans[x->nplans];
    uint32_t k, n = (uint32_t)x->nprops, size;
    int i;
    memset(pl, 0, sizeof *pl);
    pl->hash = hash;
    pl->keylen = x->keylen;
    pl->key = store_put(x, x->key, x->keylen);
    if (pl->key == UINT32_MAX) return; /* the store is full: not kept, the cache starts over soon */
    x->nplans++;
    i = (int)((uint32_t)hash & (PLAN_TABLE - 1));
    while (x->table[i]) i = (i + 1) & (PLAN_TABLE - 1);
    x->table[i] = x->nplans;
    pl->op0 = x->rec_op0;
    pl->nops = x->nops - x->rec_op0;
    pl->usable = !x->rec_bad && !x->chunk.data_shaped;
    for (k = 0; k < pl->nops && pl->usable; k++) { /* offsets become slots */
        pop *o = &x->ops[pl->op0 + k];
        if (o->slot >= 0 && (o->slot = slot_at(x, o->slot)) < 0) pl->usable = 0;
        if (o->slot < 0) preparse(x, o);
    }
    for (size = 8; size < n * 2; size <<= 1) {
    }
    if (!pl->usable || !etwl_grow(&x->mt, x->nmt, n, &x->mtcap, sizeof *x->mt, UINT32_MAX) ||
        !etwl_grow(&x->pt, x->nmt, n, &x->ptcap, sizeof *x->pt, UINT32_MAX) ||
        !etwl_grow(&x->ps, x->nmt, n, &x->pscap, sizeof *x->ps, UINT32_MAX) ||
        !etwl_grow(&x->ix, x->nix, size, &x->ixcap, sizeof *x->ix, UINT32_MAX)) {
        pl->usable = 0;
        return;
    }
    pl->prop0 = x->nmt;
    for (i = 0; i < x->nprops && pl->usable; i++) {
        nprop *p = &x->props[i];
        etwl_member *m = &x->mt[x->nmt + i];
        uint32_t name = store_put(x, x->pnames.p + p->name, p->name_len + 1), lit;
        int slot = p->lazy ? slot_at(x, p->slot) : p->is_item ? item_at(x, p) : -1;
        size_t lit_len = p->lazy || p->is_item ? 0 : p->len;
        if (p->from_data || ((p->lazy || p->is_item) && slot == -1)) pl->usable = 0;
        lit = store_put(x, lit_len ? x->ptexts.p + p->text : "", lit_len);
        if (store_put(x, "", 1) == UINT32_MAX || name == UINT32_MAX || lit == UINT32_MAX) {
            pl->usable = 0;
            break;
        }
        memset(m, 0, sizeof *m);
        m->name = x->store + name;
        m->name_len = (uint32_t)p->name_len;
        m->value.type = ETWL_VT_STRING;
        m->value.v.s = x->store + lit;
        m->value.n = (uint32_t)lit_len;
        x->pt[x->nmt + i] = slot != -1;
        x->ps[x->nmt + i] = slot;
    }
    if (!pl->usable) return;
    pl->nprops = n;
    pl->layout = etwl_layout_new();
    x->nmt += n;
    /* the name index, as core/event.c builds it */
    pl->ix0 = x->nix;
    pl->ixmask = size - 1;
    memset(x->ix + x->nix, 0, size * sizeof *x->ix);
    for (k = 0; k < n && k < 65535; k++) {
        uint32_t h = etwl_hash(x->mt[pl->prop0 + k].name, x->mt[pl->prop0 + k].name_len) & pl->ixmask;
        while (x->ix[x->nix + h]) h = (h + 1) & pl->ixmask;
        x->ix[x->nix + h] = (uint16_t)(k + 1);
    }
    x->nix += size;
}

/* A header field from a value, without writing it as text and parsing it
 * back: 1 when done here, giving what apply() would from the value's text
 * (an unsigned integer is its decimal text; a FILETIME within the years
 * the text can say is itself; a GUID its bytes), else 0. */
static int fast_op(nsrc *x, const pop *o, uint8_t type, const uint8_t *d, uint32_t n)
{
    etwl_header *h = &x->ev.hdr;
    uint64_t v;
    switch (type) {
    case BX_UINT8: v = d[0]; break;
    case BX_UINT16: v = etwl_le16(d); break;
    case BX_UINT32: v = etwl_le32(d); break;
    case BX_UINT64: v = etwl_le64(d); break;
    case BX_HEX32:
    case BX_HEX64: /* "0x..." text: only Keywords reads it as hex */
        if (o->field != EVTX_F_TEXT || o->elem != 5) return 0;
        v = type == BX_HEX32 ? etwl_le32(d) : etwl_le64(d);
        break;
    case BX_FILETIME: /* the text holds years up to 9999 */
        if (o->field != EVTX_F_TIME || etwl_le64(d) >= 2650467744000000000u) return 0;
        h->ts = (int64_t)etwl_le64(d);
        return 1;
    case BX_GUID:
        if (o->field == EVTX_F_GUID) etwl_guid_from_bytes(d, &h->provider_guid);
        else if (o->field == EVTX_F_ACTIVITY) etwl_guid_from_bytes(d, &h->activity_guid);
        else if (o->field == EVTX_F_RELATED) {
            etwl_guid_from_bytes(d, &x->ev.ext.related_activity);
            x->ev.ext.has |= ETWL_EXT_RELATED_ACTIVITY;
        } else return 0;
        return 1;
    default: return 0;
    }
    (void)n; /* at least the type's size: checked by value_ok */
    switch (o->field) {
    case EVTX_F_PID:
        if (v > ULONG_MAX) return 0; /* strtoul would clamp (32-bit long) */
        h->pid = (uint32_t)v;
        return 1;
    case EVTX_F_TID:
        if (v > ULONG_MAX) return 0;
        h->tid = (uint32_t)v;
        return 1;
    case EVTX_F_TEXT: break;
    default: return 0;
    }
    if (o->elem <= 4 && v > ULONG_MAX) return 0;
    switch (o->elem) {
    case 0: h->desc.id = (uint16_t)v; return 1;
    case 1: h->desc.version = (uint8_t)v; return 1;
    case 2: h->desc.level = (uint8_t)v; return 1;
    case 3: h->desc.task = (uint16_t)v; return 1;
    case 4: h->desc.opcode = (uint8_t)v; return 1;
    case 5: h->desc.keyword = v; return 1;
    case 6:
        h->record_id = v;
        h->has |= ETWL_HAS_RECORD_ID;
        return 1;
    default: return 0;
    }
}

/* A literal header value parsed when its plan was kept. */
static void lit_op(nsrc *x, const pop *o)
{
    etwl_header *h = &x->ev.hdr;
    const char *v = x->store + o->lit;
    switch (o->field) {
    case EVTX_F_PROVIDER:
        h->provider_name = v;
        h->provider_name_len = o->lit_len;
        h->has |= ETWL_HAS_PROVIDER_NAME;
        return;
    case EVTX_F_SID:
        x->ev.ext.user_sid = v;
        x->ev.ext.user_sid_len = o->lit_len;
        x->ev.ext.has |= ETWL_EXT_USER_SID;
        return;
    case EVTX_F_GUID: h->provider_guid = o->g; return;
    case EVTX_F_ACTIVITY: h->activity_guid = o->g; return;
    case EVTX_F_RELATED:
        x->ev.ext.related_activity = o->g;
        x->ev.ext.has |= ETWL_EXT_RELATED_ACTIVITY;
        return;
    case EVTX_F_TIME: h->ts = o->ts; return;
    case EVTX_F_PID: h->pid = (uint32_t)o->num; return;
    case EVTX_F_TID: h->tid = (uint32_t)o->num; return;
    default: break;
    }
    switch (o->elem) {
    case 0: h->desc.id = (uint16_t)o->num; break;
    case 1: h->desc.version = (uint8_t)o->num; break;
    case 2: h->desc.level = (uint8_t)o->num; break;
    case 3: h->desc.task = (uint16_t)o->num; break;
    case 4: h->desc.opcode = (uint8_t)o->num; break;
    case 5: h->desc.keyword = o->num; break;
    case 6:
        h->record_id = o->num;
        h->has |= ETWL_HAS_RECORD_ID;
        break;
    case 7:
        h->channel_name = v;
        h->channel_name_len = o->lit_len;
        h->has |= ETWL_HAS_CHANNEL_NAME;
        break;
    case 8:
        h->computer = v;
        h->computer_len = o->lit_len;
        h->has |= ETWL_HAS_COMPUTER;
        break;
    default: break;
    }
}

/* A header string from a value the field had before: its buffer holds
 * what apply() made of it. */
static void hc_use(nsrc *x, int k)
{
    etwl_header *h = &x->ev.hdr;
    if (!x->hc[k].set) return;
    switch (k) {
    case HC_PROVIDER:
        h->provider_name = x->str.provider;
        h->provider_name_len = x->hc[k].len;
        h->has |= ETWL_HAS_PROVIDER_NAME;
        break;
    case HC_SID:
        x->ev.ext.user_sid = x->str.sid;
        x->ev.ext.user_sid_len = x->hc[k].len;
        x->ev.ext.has |= ETWL_EXT_USER_SID;
        break;
    case HC_CHANNEL:
        h->channel_name = x->str.channel;
        h->channel_name_len = x->hc[k].len;
        h->has |= ETWL_HAS_CHANNEL_NAME;
        break;
    default:
        h->computer = x->str.computer;
        h->computer_len = x->hc[k].len;
        h->has |= ETWL_HAS_COMPUTER;
        break;
    }
}

/* After apply(x, field, v) from a value: remembers the value. */
static void hc_keep(nsrc *x, int k, uint8_t type, const uint8_t *raw, uint32_t size, const char *v)
{
    x->hc[k].type = type;
    x->hc[k].size = size;
    memcpy(x->hc[k].raw, raw, size);
    x->hc[k].valid = 1;
    x->hc[k].set = k != HC_SID || strlen(v) < sizeof x->str.sid; /* as apply() decides */
    x->hc[k].len = k == HC_PROVIDER  ? x->ev.hdr.provider_name_len
                   : k == HC_SID     ? x->ev.ext.user_sid_len
                   : k == HC_CHANNEL ? x->ev.hdr.channel_name_len
                                     : x->ev.hdr.computer_len;
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
    if (x->vbad) return 0;
    etwl_event_begin(&x->ev);
    for (k = 0; k < pl->nops; k++) {
        const pop *o = &x->ops[pl->op0 + k];
        const char *v = x->store + o->lit;
        if (o->slot >= 0) {
            bx_buf *b = &x->chunk.scratch;
            const uint8_t *vd = d + x->slots[o->slot].off;
            uint32_t size = x->slots[o->slot].size;
            uint8_t type = x->slots[o->slot].type;
            int ck = hc_kind(o->field, o->elem);
            if (fast_op(x, o, type, vd, size)) continue;
            if (ck >= 0 && x->hc[ck].valid && x->hc[ck].type == type && x->hc[ck].size == size &&
                memcmp(x->hc[ck].raw, vd, size) == 0) {
                hc_use(x, ck);
                continue;
            }
            b->len = 0;
            bx_render_text(b, x->slots[o->slot].type, vd, x->slots[o->slot].size);
            bx_put(b, "", 0);
            if (b->oom) return 0;
            if (o->field != EVTX_F_TEXT) { /* an attribute value, as an XML parser normalises it */
                size_t i;
                for (i = 0; i < b->len; i++)
                    if (b->p[i] == '\n' || b->p[i] == '\t') b->p[i] = ' ';
            } else if (b->len >= sizeof x->text) b->len = 0; /* as too long a System text is dropped */
            b->p[b->len] = 0;
            apply(x, o->field, o->elem, b->p);
            if (ck >= 0 && size <= sizeof x->hc[ck].raw) hc_keep(x, ck, type, vd, size, b->p);
            continue;
        } else if (o->pre) {
            lit_op(x, o);
            continue;
        }
        apply(x, o->field, o->elem, v);
    }
    m = etwl_arena_alloc(&x->ev.arena, (size_t)(pl->nprops ? pl->nprops : 1) * sizeof *m);
    pending = etwl_arena_alloc(&x->ev.arena, (size_t)(pl->nprops ? pl->nprops : 1));
    if (!m || !pending) return 0;
    if (pl->nprops) { /* else the member arrays may not exist yet */
        memcpy(m, x->mt + pl->prop0, pl->nprops * sizeof *m);
        memcpy(pending, x->pt + pl->prop0, pl->nprops);
    }
    x->nprops = (int)pl->nprops;
    x->cur = pl;
    etwl_event_set_lazy_members(&x->ev, m, pl->nprops, pending, fill, x);
    etwl_event_set_member_numbers(&x->ev, fill_num);
    etwl_event_set_member_index(&x->ev, x->ix + pl->ix0, pl->ixmask);
    etwl_event_set_layout(&x->ev, pl->layout);
    return 1;
}

static void chunk_loaded(nsrc *x, const uint8_t *data, uint32_t len)
{
    bx_chunk_reset(&x->chunk, data, len);
    /* 0 is never a current generation, so fresh slots miss */
    if (++x->gen == 0) x->gen = 1;
}

/* Maps one record onto the event; 0 on a damaged record (chunk.err says
 * why). */
static int parse_record(nsrc *x, const evtx_record *r)
{
    static const bx_sink sink = {NULL, on_start, on_text, on_end, on_value};
    bx_sink s = sink;
    bx_instance in;
    uint64_t hash = 0;
    int i, have_in;
    s.ud = x;
    x->recording = 0;
    x->cur = NULL;
    x->nslots = 0;
    x->nitems = 0;
    x->keylen = 0;
    x->vbad = 0;
    have_in = bx_instance_head(&x->chunk, r->data, r->data_end, &in) == 0 && flatten(x, &in, 0) == 0;
    if (have_in) {
        plan *pl = find_plan(x, hash = key_hash(x->key, x->keylen));
        if (pl && pl->usable && run_plan(x, pl)) return 1;
        x->cur = NULL;
        if (!pl) {
            if (x->nplans == MAX_PLANS || x->used > STORE_CAP / 2 || x->nmt > MAX_PLAN_MEMBERS ||
                x->nops > MAX_PLAN_MEMBERS)
                flush_plans(x);
            x->recording = 1;
            x->rec_bad = 0;
            x->rec_op0 = x->nops;
        }
    }
    etwl_event_begin(&x->ev);
    x->depth = x->in_system = x->in_eventdata = x->in_userdata = 0;
    x->nprops = x->unnamed = 0;
    x->cur_prop = -1;
    x->elem = -1;
    x->str.sid[0] = 0;
    x->hc[HC_SID].valid = 0;
    x->pnames.len = x->ptexts.len = 0;
    if (bx_walk(&x->chunk, r->data, r->data_end, &s) != 0) {
        if (x->recording) x->nops = x->rec_op0; /* no plan from a record that does not parse */
        return 0;
    }
    bx_put(&x->ptexts, "", 1); /* ends the last text */
    if (x->pnames.oom || x->ptexts.oom) {
        snprintf(x->chunk.err, sizeof x->chunk.err, "out of memory");
        return 0;
    }
    if (x->recording) keep_plan(x, hash);
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
        etwl_event_set_member_numbers(&x->ev, fill_num);
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
static etwl_status recover(nsrc *x, const char *path, uint32_t ci, const char *what, etwl_error *err)
{
    evtx_file *f = x->fx;
    evtx_record r;
    unsigned found = 0, unreadable = 0;
    etwl_status st = ETWL_OK;
    char msg[200];
    /* all of the chunk, where a healthy one was read as far as its records */
    if (evtx_file_load_all(f) != 0) return diag(x, path, (int)ci, -1, "cannot read the chunk", err);
    x->chunk.len = EVTX_CHUNK_SIZE;
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
        chunk_loaded(x, f->chunk, f->loaded);
        while (st == ETWL_OK && !x->base.closing && evtx_file_record(f, &r) == 1) st = one_record(x, path, ci, &r, err);
        if (st == ETWL_OK && f->stopped) {
            st = diag(x, path, (int)ci, f->next, f->why, err);
            f->next += 8;
            damaged = 1;
        }
        /* the chunk cannot be trusted to say where its records end */
        if (damaged && st == ETWL_OK) st = recover(x, path, ci, "damaged or slack space", err);
        file_damaged |= damaged;
    }
    /* A damaged file may have lost records that survive in the slack of
     * its healthy chunks (as libevtx recovers them); a healthy file's slack
     * holds old records it no longer has, and is left alone. */
    for (ci = 0; file_damaged && ci < f->nchunks && st == ETWL_OK && !x->base.closing; ci++) {
        if (evtx_file_chunk(f, ci) != 1 || !f->header_crc_ok || !f->data_crc_ok || f->avail < EVTX_CHUNK_SIZE) continue;
        chunk_loaded(x, f->chunk, f->loaded);
        f->next = f->limit;
        st = recover(x, path, ci, "slack space in a damaged file", err);
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
static const char *native_file(etwl_source *s, int i) { return etwl_evtx_list_path(&((nsrc *)s)->files, i); }

const etwl_source_ops etwl_evtx_native_source = {
    .name = "evtx",
    .probe = native_probe,
    .open = native_open,
    .process = native_process,
    .close = native_close,
    .file = native_file,
    .destroy = native_destroy,
};
