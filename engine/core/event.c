/* event.c - event lifecycle and property access. */
#include "core/event.h"
#include "core/valuemap.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_ARENA_LIMIT ETWL_MAX_EVENT_BYTES /* one event may hold at most 64 MiB decoded */

const char *etwl_event_source_kind(const etwl_event *ev)
{
    switch (ev->src_kind) {
    case ETWL_SRC_RECORD: return "record";
    case ETWL_SRC_LINE: return "line";
    case ETWL_SRC_OFFSET: return "offset";
    default: return NULL;
    }
}

etwl_status etwl_event_init(etwl_event *ev)
{
    memset(ev, 0, sizeof *ev);
    etwl_arena_init(&ev->arena, EVENT_ARENA_LIMIT);
    return ETWL_OK;
}

void etwl_event_release(etwl_event *ev)
{
    etwl_arena_free(&ev->arena);
    free(ev->off);
    free(ev->cache);
    free(ev->cache_gen);
    memset(ev, 0, sizeof *ev);
}

void etwl_event_begin(etwl_event *ev)
{
    etwl_arena_rewind(&ev->arena);
    /* Only the always-present header fields are cleared: the optional ones
     * (names, record id...) and every ext item are read only when their
     * `has` bit is set, and sources fill a whole item when they set its bit.
     * This runs for every event, so it clears as little as it can. */
    memset(&ev->hdr, 0, offsetof(etwl_header, provider_name));
    ev->hdr.has = 0;
    ev->ext.has = 0;
    ev->seq++;
    ev->members = NULL;
    ev->nmembers = 0;
    ev->pending = NULL;
    ev->mindex = NULL;
    ev->layout = 0;
    ev->schema = NULL;
    ev->payload = NULL;
    ev->payload_len = 0;
    ev->off_known = 0;
    ev->off_err = NULL;
}

etwl_status etwl_event_set_payload(etwl_event *ev, const etwl_schema *schema, const uint8_t *payload, uint32_t len)
{
    ev->payload = payload;
    ev->payload_len = len;
    ev->schema = schema;
    ev->off_known = 0;
    ev->off_err = NULL;
    if (!schema) return ETWL_OK;
    if (schema->ntop + 1 > ev->cap) {
        uint32_t cap = schema->ntop + 1;
        uint32_t *off = malloc(cap * sizeof *off);
        etwl_value *cache = malloc(cap * sizeof *cache);
        uint32_t *gen = calloc(cap, sizeof *gen);
        if (!off || !cache || !gen) {
            free(off);
            free(cache);
            free(gen);
            ev->schema = NULL;
            return ETWL_ENOMEM;
        }
        free(ev->off);
        free(ev->cache);
        free(ev->cache_gen);
        ev->off = off;
        ev->cache = cache;
        ev->cache_gen = gen;
        ev->cap = cap;
    }
    ev->off[0] = 0;
    return ETWL_OK;
}

void etwl_event_set_members(etwl_event *ev, const etwl_member *m, uint32_t n)
{
    ev->members = m;
    ev->nmembers = n;
    ev->pending = NULL;
    ev->mindex = NULL;
}

void etwl_event_set_lazy_members(etwl_event *ev, etwl_member *m, uint32_t n, uint8_t *pending,
                                 void (*fill)(etwl_event *ev, uint32_t i, etwl_member *m, void *user), void *user)
{
    etwl_event_set_members(ev, m, n);
    ev->pending = pending;
    ev->fill = fill;
    ev->fill_user = user;
    ev->fill_num = NULL;
}

void etwl_event_set_member_numbers(etwl_event *ev,
                                   int (*fill_num)(etwl_event *ev, uint32_t i, uint64_t *out, void *user))
{
    ev->fill_num = fill_num;
}

int etwl_event_prop_uint(etwl_event *ev, uint32_t i, uint64_t *out)
{
    if (ev->schema || i >= ev->nmembers || !ev->pending || !ev->pending[i] || !ev->fill_num) return 0;
    return ev->fill_num(ev, i, out, ev->fill_user);
}

const etwl_header *etwl_event_header(const etwl_event *ev) { return &ev->hdr; }
const etwl_ext *etwl_event_ext(const etwl_event *ev) { return &ev->ext; }
uint64_t etwl_event_seq(const etwl_event *ev) { return ev->seq; }

const uint8_t *etwl_event_payload(const etwl_event *ev, uint32_t *len)
{
    if (len) *len = ev->payload_len;
    return ev->payload;
}

uint32_t etwl_event_prop_count(etwl_event *ev)
{
    if (ev->schema) return ev->schema->ntop;
    return ev->nmembers;
}

const char *etwl_event_prop_name(etwl_event *ev, uint32_t i, uint32_t *len)
{
    if (ev->schema) {
        if (i >= ev->schema->ntop) return NULL;
        if (len) *len = ev->schema->props[i].name_len;
        return ev->schema->props[i].name;
    }
    if (i >= ev->nmembers) return NULL;
    if (len) *len = ev->members[i].name_len;
    return ev->members[i].name;
}

/* Text events have no schema to index once, so the first lookup on an event
 * indexes its members in the arena; later lookups are O(1).  Events that are
 * never asked for a property never pay for it. */
static int build_member_index(etwl_event *ev)
{
    uint32_t size, i;
    uint16_t *ix;
    for (size = 8; size < ev->nmembers * 2; size <<= 1) {
    }
    ix = etwl_arena_alloc(&ev->arena, size * sizeof *ix);
    if (!ix) return 0;
    memset(ix, 0, size * sizeof *ix);
    ev->mindex_mask = size - 1;
    for (i = 0; i < ev->nmembers && i < 65535; i++) {
        uint32_t h = etwl_hash(ev->members[i].name, ev->members[i].name_len) & ev->mindex_mask;
        while (ix[h]) h = (h + 1) & ev->mindex_mask;
        ix[h] = (uint16_t)(i + 1);
    }
    ev->mindex = ix;
    return 1;
}

void etwl_event_set_member_index(etwl_event *ev, const uint16_t *index, uint32_t mask)
{
    ev->mindex = index;
    ev->mindex_mask = mask;
}

int32_t etwl_event_prop_find(etwl_event *ev, const char *name, size_t len)
{
    uint32_t h;
    uint16_t slot;
    if (ev->schema) return etwl_schema_find(ev->schema, name, len);
    if (ev->nmembers == 0) return -1;
    if (!ev->mindex && !build_member_index(ev)) {
        uint32_t i; /* out of arena: fall back to a scan rather than fail */
        for (i = 0; i < ev->nmembers; i++)
            if (ev->members[i].name_len == len && memcmp(ev->members[i].name, name, len) == 0) return (int32_t)i;
        return -1;
    }
    h = etwl_hash(name, len) & ev->mindex_mask;
    while ((slot = ev->mindex[h]) != 0) {
        const etwl_member *m = &ev->members[slot - 1];
        if (m->name_len == len && memcmp(m->name, name, len) == 0) return slot - 1;
        h = (h + 1) & ev->mindex_mask;
    }
    return -1;
}

uint64_t etwl_layout_new(void)
{
    static atomic_uint_least64_t next = 1;
    return atomic_fetch_add(&next, 1);
}

void etwl_event_set_layout(etwl_event *ev, uint64_t layout) { ev->layout = layout; }

int32_t etwl_event_prop_find_cached(etwl_event *ev, const char *name, size_t len, etwl_prop_cache *c)
{
    uint64_t k = ((uint64_t)(uintptr_t)name ^ ev->layout) * 0x9E3779B97F4A7C15u;
    unsigned slot = (unsigned)(k >> (64 - ETWL_PROP_CACHE_BITS));
    int32_t i;
    if (!ev->layout || len >= ETWL_PROP_CACHE_NAME) return etwl_event_prop_find(ev, name, len);
    if (c->e[slot].layout == ev->layout && c->e[slot].len == len && memcmp(c->e[slot].name, name, len) == 0)
        return c->e[slot].index;
    i = etwl_event_prop_find(ev, name, len);
    c->e[slot].layout = ev->layout;
    c->e[slot].index = i;
    c->e[slot].len = (uint8_t)len;
    memcpy(c->e[slot].name, name, len);
    return i;
}

const etwl_value *etwl_event_prop(etwl_event *ev, uint32_t i)
{
    if (ev->schema) return i < ev->schema->ntop ? etwl_decode_top(ev, i) : NULL;
    if (i >= ev->nmembers) return NULL;
    if (ev->pending && ev->pending[i]) {
        ev->pending[i] = 0;
        ev->fill(ev, i, (etwl_member *)&ev->members[i], ev->fill_user);
    }
    return &ev->members[i].value;
}

const etwl_value *etwl_event_get(etwl_event *ev, const char *name)
{
    int32_t i = etwl_event_prop_find(ev, name, strlen(name));
    return i < 0 ? NULL : etwl_event_prop(ev, (uint32_t)i);
}

const char *etwl_vtype_name(etwl_vtype t)
{
    static const char *names[] = {"null",   "bool",   "int",  "uint", "hex",   "double", "number",
                                  "string", "binary", "guid", "time", "array", "object", "error"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const char *etwl_event_prop_map_name(etwl_event *ev, uint32_t i, uint32_t *len)
{
    const etwl_schema_prop *p;
    const etwl_value *v;
    const etwl_valuemap *m;
    char buf[1024];
    size_t k;
    uint64_t u;
    if (!ev->schema || i >= ev->schema->ntop || !ev->map_resolver) return NULL;
    p = &ev->schema->props[i];
    if (!p->map_name || (p->flags & (ETWL_PROP_STRUCT | ETWL_PROP_ARRAY))) return NULL;
    v = etwl_event_prop(ev, i);
    switch (v->type) {
    case ETWL_VT_INT: u = (uint64_t)v->v.i; break;
    case ETWL_VT_UINT:
    case ETWL_VT_HEX: u = v->v.u; break;
    case ETWL_VT_BOOL: u = v->v.u != 0; break;
    default: return NULL;
    }
    if (!(m = ev->map_resolver(p->map_name, ev->map_user))) return NULL;
    if (!(k = etwl_valuemap_name(m, u, buf, sizeof buf))) return NULL;
    if (len) *len = (uint32_t)k;
    return etwl_arena_strdup(&ev->arena, buf, k);
}
