/* schema_cache.c - see schema_cache.h.  Open addressing, linear probing. */
#include "core/schema_cache.h"

#include "core/format.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    etwl_schema_key key;
    etwl_schema *schema;
    int used;
} slot;

struct etwl_schema_cache {
    slot *slots;
    uint32_t mask, count, max, resets;
};

uint64_t etwl_fnv64(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t key_hash(const etwl_schema_key *k)
{
    uint8_t b[16 + 4 + 8];
    uint64_t h;
    etwl_guid_to_bytes(&k->provider, b);
    b[16] = (uint8_t)k->id;
    b[17] = (uint8_t)(k->id >> 8);
    b[18] = k->version;
    b[19] = k->opcode;
    memcpy(b + 20, &k->meta_hash, 8);
    h = etwl_fnv64(b, sizeof b, ETWL_FNV64_INIT);
    return h ^ (h >> 29);
}

static int key_eq(const etwl_schema_key *a, const etwl_schema_key *b)
{
    return a->id == b->id && a->version == b->version && a->opcode == b->opcode && a->meta_hash == b->meta_hash &&
           etwl_guid_equal(&a->provider, &b->provider);
}

etwl_status etwl_schema_cache_new(uint32_t max_entries, etwl_schema_cache **out)
{
    etwl_schema_cache *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) return ETWL_ENOMEM;
    c->max = max_entries ? max_entries : 65536;
    c->slots = calloc(64, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return ETWL_ENOMEM;
    }
    c->mask = 63;
    *out = c;
    return ETWL_OK;
}

static void clear(etwl_schema_cache *c)
{
    uint32_t i;
    for (i = 0; i <= c->mask; i++)
        if (c->slots[i].used) etwl_schema_free(c->slots[i].schema);
    memset(c->slots, 0, ((size_t)c->mask + 1) * sizeof *c->slots);
    c->count = 0;
}

void etwl_schema_cache_free(etwl_schema_cache *c)
{
    if (!c) return;
    clear(c);
    free(c->slots);
    free(c);
}

static slot *find(const etwl_schema_cache *c, const etwl_schema_key *k)
{
    uint32_t i = (uint32_t)key_hash(k) & c->mask;
    while (c->slots[i].used && !key_eq(&c->slots[i].key, k)) i = (i + 1) & c->mask;
    return &c->slots[i];
}

int etwl_schema_cache_get(const etwl_schema_cache *c, const etwl_schema_key *k, const etwl_schema **out)
{
    slot *s = find(c, k);
    *out = s->used ? s->schema : NULL;
    return s->used;
}

static etwl_status grow(etwl_schema_cache *c)
{
    uint32_t n = (c->mask + 1) * 2, i;
    slot *old = c->slots, *ns = calloc(n, sizeof *ns);
    uint32_t oldn = c->mask + 1;
    if (!ns) return ETWL_ENOMEM;
    c->slots = ns;
    c->mask = n - 1;
    for (i = 0; i < oldn; i++)
        if (old[i].used) *find(c, &old[i].key) = old[i];
    free(old);
    return ETWL_OK;
}

etwl_status etwl_schema_cache_put(etwl_schema_cache *c, const etwl_schema_key *k, etwl_schema *schema)
{
    slot *s;
    if (c->count >= c->max) {
        clear(c);
        c->resets++;
    }
    if ((c->count + 1) * 2 > c->mask + 1 && grow(c) != ETWL_OK) {
        etwl_schema_free(schema);
        return ETWL_ENOMEM;
    }
    s = find(c, k);
    if (s->used) {
        etwl_schema_free(s->schema);
    } else {
        c->count++;
        s->used = 1;
        s->key = *k;
    }
    s->schema = schema;
    return ETWL_OK;
}

uint32_t etwl_schema_cache_count(const etwl_schema_cache *c) { return c->count; }
uint32_t etwl_schema_cache_resets(const etwl_schema_cache *c) { return c->resets; }
