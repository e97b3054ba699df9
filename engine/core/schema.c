/* schema.c - schema validation, name index and builder. */
#include "core/schema.h"

#include <stdlib.h>
#include <string.h>

#define SCHEMA_MAX_PROPS 4096
#define SCHEMA_MAX_ARRAY 65535

uint32_t etwl_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void etwl_schema_free(etwl_schema *s)
{
    uint32_t i;
    if (!s) return;
    for (i = 0; i < s->nprops; i++) {
        free((char *)s->props[i].name);
        free((char *)s->props[i].map_name);
    }
    free(s->props);
    free(s->index);
    free((char *)s->provider_name);
    free((char *)s->event_name);
    free((char *)s->task_name);
    free((char *)s->opcode_name);
    free(s);
}

/* A reference must name an earlier integer property of the same scope, so the
 * decoder always has its value when it needs it. */
static int ref_ok(const etwl_schema_prop *props, uint32_t scope_lo, uint32_t self, uint16_t ref)
{
    uint16_t t;
    if (ref < scope_lo || ref >= self) return 0;
    if (props[ref].flags & (ETWL_PROP_STRUCT | ETWL_PROP_ARRAY | ETWL_PROP_COUNT_REF)) return 0;
    t = props[ref].intype;
    return t == ETWL_IN_UINT8 || t == ETWL_IN_UINT16 || t == ETWL_IN_UINT32 || t == ETWL_IN_UINT64 ||
           t == ETWL_IN_INT8 || t == ETWL_IN_INT16 || t == ETWL_IN_INT32 || t == ETWL_IN_INT64 ||
           t == ETWL_IN_HEXINT32 || t == ETWL_IN_HEXINT64;
}

static etwl_status check_scope(const etwl_schema_prop *props, uint32_t nprops, uint32_t lo, uint32_t n, int depth,
                               etwl_error *err)
{
    uint32_t i;
    if (depth > 8) return etwl_error_set(err, ETWL_ESCHEMA, "structs nested deeper than 8");
    for (i = lo; i < lo + n; i++) {
        const etwl_schema_prop *p = &props[i];
        if (!p->name) return etwl_error_set(err, ETWL_ESCHEMA, "property %u has no name", i);
        if ((p->flags & ETWL_PROP_COUNT_REF) && !ref_ok(props, lo, i, p->count))
            return etwl_error_set(err, ETWL_ESCHEMA,
                                  "property '%s': count refers to property %u, "
                                  "not an earlier integer of the same scope",
                                  p->name, p->count);
        if ((p->flags & ETWL_PROP_LENGTH_REF) && !ref_ok(props, lo, i, p->length))
            return etwl_error_set(err, ETWL_ESCHEMA,
                                  "property '%s': length refers to property %u, "
                                  "not an earlier integer of the same scope",
                                  p->name, p->length);
        if (p->flags & ETWL_PROP_STRUCT) {
            etwl_status st;
            /* members always sit after the top level, which also rules out cycles
             * through the depth bound */
            if (p->struct_count == 0 || p->struct_start < lo + n ||
                (uint32_t)p->struct_start + p->struct_count > nprops)
                return etwl_error_set(err, ETWL_ESCHEMA, "struct '%s': members %u..+%u out of range", p->name,
                                      p->struct_start, p->struct_count);
            st = check_scope(props, nprops, p->struct_start, p->struct_count, depth + 1, err);
            if (st) return st;
        }
    }
    return ETWL_OK;
}

etwl_status etwl_schema_new(const etwl_schema_prop *props, uint32_t nprops, uint32_t ntop, etwl_schema **out,
                            etwl_error *err)
{
    etwl_schema *s;
    etwl_status st;
    uint32_t i, size;
    *out = NULL;
    if (nprops > SCHEMA_MAX_PROPS || ntop > nprops)
        return etwl_error_set(err, ETWL_ESCHEMA, "bad property counts (%u total, %u top-level)", nprops, ntop);
    st = check_scope(props, nprops, 0, ntop, 0, err);
    if (st) return st;
    s = calloc(1, sizeof *s);
    if (!s) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    s->max_array = SCHEMA_MAX_ARRAY;
    s->nprops = nprops;
    s->ntop = ntop;
    s->props = calloc(nprops ? nprops : 1, sizeof *s->props);
    if (!s->props) goto oom;
    for (i = 0; i < nprops; i++) {
        size_t len = strlen(props[i].name);
        s->props[i] = props[i];
        s->props[i].name_len = (uint32_t)len;
        s->props[i].name = malloc(len + 1);
        s->props[i].map_name = NULL;
        if (!s->props[i].name) goto oom;
        memcpy((char *)s->props[i].name, props[i].name, len + 1);
        if (props[i].map_name) {
            size_t ml = strlen(props[i].map_name);
            char *mn = malloc(ml + 1);
            if (!mn) goto oom;
            memcpy(mn, props[i].map_name, ml + 1);
            s->props[i].map_name = mn;
        }
    }
    s->fixed_offsets = ntop > 0;
    for (i = 0; i < ntop; i++)
        if (!(s->props[i].flags & ETWL_PROP_AT_OFFSET)) s->fixed_offsets = 0;
    for (size = 8; size < ntop * 2; size <<= 1) {
    }
    s->index = calloc(size, sizeof *s->index);
    if (!s->index) goto oom;
    s->index_mask = size - 1;
    for (i = 0; i < ntop; i++) {
        uint32_t h = etwl_hash(s->props[i].name, s->props[i].name_len) & s->index_mask;
        /* a duplicate name keeps its first index, as TDH lookups do */
        if (etwl_schema_find(s, s->props[i].name, s->props[i].name_len) >= 0) continue;
        while (s->index[h]) h = (h + 1) & s->index_mask;
        s->index[h] = (uint16_t)(i + 1);
    }
    *out = s;
    return ETWL_OK;
oom:
    etwl_schema_free(s);
    return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
}

int32_t etwl_schema_find(const etwl_schema *s, const char *name, size_t len)
{
    uint32_t h = etwl_hash(name, len) & s->index_mask;
    uint16_t slot;
    while ((slot = s->index[h]) != 0) {
        const etwl_schema_prop *p = &s->props[slot - 1];
        if (p->name_len == len && memcmp(p->name, name, len) == 0) return slot - 1;
        h = (h + 1) & s->index_mask;
    }
    return -1;
}

int32_t etwl_schema_find_member(const etwl_schema *s, const etwl_schema_prop *st, const char *name, size_t len)
{
    uint32_t i;
    for (i = st->struct_start; i < (uint32_t)st->struct_start + st->struct_count; i++)
        if (s->props[i].name_len == len && memcmp(s->props[i].name, name, len) == 0) return (int32_t)i;
    return -1;
}

/* ---- builder ------------------------------------------------------------- */

typedef struct sb_node {
    char *name;
    int parent;
    uint16_t intype, outtype, flags;
    uint16_t count, length;
    char *count_ref, *length_ref;
    int is_struct;
} sb_node;

struct etwl_schema_builder {
    sb_node *n;
    int len, cap;
    int failed;
};

etwl_schema_builder *etwl_sb_new(void) { return calloc(1, sizeof(etwl_schema_builder)); }

void etwl_sb_free(etwl_schema_builder *b)
{
    int i;
    if (!b) return;
    for (i = 0; i < b->len; i++) {
        free(b->n[i].name);
        free(b->n[i].count_ref);
        free(b->n[i].length_ref);
    }
    free(b->n);
    free(b);
}

static char *sb_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int etwl_sb_add(etwl_schema_builder *b, int parent, const char *name, uint16_t intype, uint16_t outtype)
{
    sb_node *nd;
    if (!b || b->failed || parent >= b->len || (parent >= 0 && !b->n[parent].is_struct)) goto fail;
    if (b->len == b->cap) {
        int cap = b->cap ? b->cap * 2 : 16;
        sb_node *n = realloc(b->n, (size_t)cap * sizeof *n);
        if (!n) goto fail;
        b->n = n;
        b->cap = cap;
    }
    nd = &b->n[b->len];
    memset(nd, 0, sizeof *nd);
    nd->name = sb_strdup(name);
    if (!nd->name) goto fail;
    nd->parent = parent;
    nd->intype = intype;
    nd->outtype = outtype;
    nd->count = 1;
    return b->len++;
fail:
    if (b) b->failed = 1;
    return -1;
}

int etwl_sb_struct(etwl_schema_builder *b, int parent, const char *name)
{
    int h = etwl_sb_add(b, parent, name, ETWL_IN_NULL, ETWL_OUT_NULL);
    if (h >= 0) b->n[h].is_struct = 1;
    return h;
}

static sb_node *sb_node_at(etwl_schema_builder *b, int h)
{
    if (!b || h < 0 || h >= b->len) {
        if (b) b->failed = 1;
        return NULL;
    }
    return &b->n[h];
}

void etwl_sb_count(etwl_schema_builder *b, int h, uint16_t fixed)
{
    sb_node *n = sb_node_at(b, h);
    if (!n) return;
    n->count = fixed;
    n->flags |= ETWL_PROP_ARRAY;
}

void etwl_sb_count_ref(etwl_schema_builder *b, int h, const char *sibling)
{
    sb_node *n = sb_node_at(b, h);
    if (!n) return;
    free(n->count_ref);
    n->count_ref = sb_strdup(sibling);
    if (!n->count_ref) b->failed = 1;
    n->flags |= ETWL_PROP_ARRAY | ETWL_PROP_COUNT_REF;
}

void etwl_sb_length(etwl_schema_builder *b, int h, uint16_t fixed)
{
    sb_node *n = sb_node_at(b, h);
    if (n) n->length = fixed;
}

void etwl_sb_length_ref(etwl_schema_builder *b, int h, const char *sibling)
{
    sb_node *n = sb_node_at(b, h);
    if (!n) return;
    free(n->length_ref);
    n->length_ref = sb_strdup(sibling);
    if (!n->length_ref) b->failed = 1;
    n->flags |= ETWL_PROP_LENGTH_REF;
}

/* Lays nodes out TRACE_EVENT_INFO style: top level first, then each struct's
 * members contiguously, breadth first. */
etwl_status etwl_sb_build(etwl_schema_builder *b, etwl_schema **out, etwl_error *err)
{
    etwl_schema_prop *props = NULL;
    int *order = NULL, *pos = NULL;
    int i, k = 0, head = 0, ntop = 0;
    etwl_status st = ETWL_OK;
    *out = NULL;
    if (!b || b->failed) return etwl_error_set(err, ETWL_EINVAL, "schema builder misuse or out of memory");
    order = malloc(sizeof(int) * (size_t)(b->len + 1));
    pos = malloc(sizeof(int) * (size_t)(b->len + 1));
    props = calloc((size_t)b->len + 1, sizeof *props);
    if (!order || !pos || !props) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < b->len; i++)
        if (b->n[i].parent < 0) order[k++] = i;
    ntop = k;
    /* breadth first: for each placed struct, place its members */
    for (head = 0; head < k; head++) {
        int p = order[head];
        if (!b->n[p].is_struct) continue;
        for (i = 0; i < b->len; i++)
            if (b->n[i].parent == p) order[k++] = i;
    }
    for (i = 0; i < k; i++) pos[order[i]] = i;
    for (i = 0; i < k; i++) {
        sb_node *n = &b->n[order[i]];
        etwl_schema_prop *p = &props[i];
        p->name = n->name;
        p->intype = n->intype;
        p->outtype = n->outtype;
        p->flags = n->flags;
        p->count = n->count;
        p->length = n->length;
        if (n->is_struct) {
            int j, first = -1, cnt = 0;
            for (j = 0; j < b->len; j++)
                if (b->n[j].parent == order[i]) {
                    if (first < 0 || pos[j] < first) first = pos[j];
                    cnt++;
                }
            p->flags |= ETWL_PROP_STRUCT;
            p->struct_start = (uint16_t)(first < 0 ? 0 : first);
            p->struct_count = (uint16_t)cnt;
        }
        if (n->count_ref || n->length_ref) {
            int j, found_c = -1, found_l = -1;
            for (j = 0; j < b->len; j++) {
                if (b->n[j].parent != n->parent) continue;
                if (n->count_ref && strcmp(b->n[j].name, n->count_ref) == 0 && found_c < 0) found_c = pos[j];
                if (n->length_ref && strcmp(b->n[j].name, n->length_ref) == 0 && found_l < 0) found_l = pos[j];
            }
            if ((n->count_ref && found_c < 0) || (n->length_ref && found_l < 0)) {
                st = etwl_error_set(err, ETWL_ESCHEMA, "property '%s' refers to an unknown sibling", n->name);
                goto done;
            }
            if (n->count_ref) p->count = (uint16_t)found_c;
            if (n->length_ref) p->length = (uint16_t)found_l;
        }
    }
    st = etwl_schema_new(props, (uint32_t)k, (uint32_t)ntop, out, err);
done:
    free(order);
    free(pos);
    free(props);
    return st;
}
