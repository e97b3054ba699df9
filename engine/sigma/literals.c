/* literals.c - see literals.h. */
#include <stdlib.h>
#include <string.h>

#include "sigma/literals.h"

#define GRAM SG_LIT_MIN
#define EMPTY UINT32_MAX

typedef struct lit {
    char *s;
    uint32_t len, off, next, tag;
    uint32_t field;
} lit;

typedef struct lfield {
    uint32_t *keys, *heads, mask;
    int used;
} lfield;

struct sg_lits {
    lfield *f;
    size_t nf;
    lit *l;
    size_t nl, capl;
    int built;
};

static uint32_t gram_at(const char *s)
{
    uint32_t g;
    memcpy(&g, s, GRAM);
    return g;
}

static uint32_t slot_of(uint32_t g, uint32_t mask) { return (g * 0x9E3779B1u >> 7) & mask; }

/* open addressing: keys[i] with heads[i] (EMPTY: free) */
static uint32_t *table_find(uint32_t *keys, uint32_t *heads, uint32_t mask, uint32_t g, int insert)
{
    for (uint32_t i = slot_of(g, mask);; i = (i + 1) & mask) {
        if (heads[i] == EMPTY) {
            if (!insert) return NULL;
            keys[i] = g;
            return &heads[i];
        }
        if (keys[i] == g) return &heads[i];
    }
}

sg_lits *sg_lits_new(void) { return calloc(1, sizeof(sg_lits)); }

void sg_lits_free(sg_lits *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nl; i++) free(s->l[i].s);
    for (size_t f = 0; f < s->nf; f++) {
        free(s->f[f].keys);
        free(s->f[f].heads);
    }
    free(s->f);
    free(s->l);
    free(s);
}

int sg_lits_add(sg_lits *s, unsigned field, const char *str, size_t len, uint32_t tag)
{
    lit *l;
    if (s->built || field >= SG_LIT_FIELDS || len < GRAM || len > UINT32_MAX) return 0;
    if (field >= s->nf) {
        lfield *nf = realloc(s->f, (field + 1) * sizeof *nf);
        if (!nf) return 0;
        memset(nf + s->nf, 0, (field + 1 - s->nf) * sizeof *nf);
        s->f = nf;
        s->nf = field + 1;
    }
    if (s->nl == s->capl) {
        size_t cap = s->capl ? s->capl * 2 : 64;
        lit *nl = realloc(s->l, cap * sizeof *nl);
        if (!nl) return 0;
        s->l = nl;
        s->capl = cap;
    }
    l = &s->l[s->nl];
    memset(l, 0, sizeof *l);
    if (!(l->s = malloc(len))) return 0;
    for (size_t c = 0; c < len; c++) {
        char ch = str[c];
        l->s[c] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    l->len = (uint32_t)len;
    l->tag = tag;
    l->field = field;
    s->f[field].used = 1;
    s->nl++;
    return 1;
}

static int build_field(sg_lits *s, unsigned fi)
{
    lfield *f = &s->f[fi];
    size_t total = 0, cap = 16;
    uint32_t *ckeys, *counts, cmask;
    for (size_t i = 0; i < s->nl; i++)
        if (s->l[i].field == fi) total += s->l[i].len - GRAM + 1;
    while (cap < total * 2 + 16) cap *= 2;
    /* how often each gram occurs among this field's literals */
    ckeys = malloc(cap * sizeof *ckeys);
    counts = malloc(cap * sizeof *counts);
    f->keys = malloc(cap * sizeof *f->keys);
    f->heads = malloc(cap * sizeof *f->heads);
    if (!ckeys || !counts || !f->keys || !f->heads) {
        free(ckeys);
        free(counts);
        return 0;
    }
    cmask = f->mask = (uint32_t)cap - 1;
    memset(counts, 0xff, cap * sizeof *counts);
    memset(f->heads, 0xff, cap * sizeof *f->heads);
    for (size_t i = 0; i < s->nl; i++) {
        if (s->l[i].field != fi) continue;
        for (uint32_t o = 0; o + GRAM <= s->l[i].len; o++) {
            uint32_t *c = table_find(ckeys, counts, cmask, gram_at(s->l[i].s + o), 1);
            *c = *c == EMPTY ? 1 : *c + 1;
        }
    }
    /* each literal under its rarest gram */
    for (size_t i = 0; i < s->nl; i++) {
        lit *l = &s->l[i];
        uint32_t best = EMPTY, *h;
        if (l->field != fi) continue;
        for (uint32_t o = 0; o + GRAM <= l->len; o++) {
            uint32_t c = *table_find(ckeys, counts, cmask, gram_at(l->s + o), 0);
            if (c < best) best = c, l->off = o;
        }
        h = table_find(f->keys, f->heads, f->mask, gram_at(l->s + l->off), 1);
        l->next = *h;
        *h = (uint32_t)i;
    }
    free(ckeys);
    free(counts);
    return 1;
}

int sg_lits_build(sg_lits *s)
{
    if (s->built) return 1;
    for (unsigned fi = 0; fi < s->nf; fi++)
        if (s->f[fi].used && !build_field(s, fi)) return 0;
    s->built = 1;
    return 1;
}

size_t sg_lits_count(const sg_lits *s) { return s->nl; }

uint32_t sg_lits_tag(const sg_lits *s, uint32_t li) { return s->l[li].tag; }

void sg_lits_scan(const sg_lits *s, unsigned field, const char *t, size_t n, sg_lits_hit_fn hit, void *ctx)
{
    const lfield *f;
    if (!s->built || field >= s->nf || n < GRAM) return;
    f = &s->f[field];
    if (!f->used) return;
    for (size_t p = 0; p + GRAM <= n; p++) {
        const uint32_t *h = table_find(f->keys, f->heads, f->mask, gram_at(t + p), 0);
        for (uint32_t li = h ? *h : EMPTY; li != EMPTY; li = s->l[li].next) {
            const lit *l = &s->l[li];
            if (p < l->off || p - l->off + l->len > n || memcmp(t + p - l->off, l->s, l->len) != 0) continue;
            hit(ctx, li);
        }
    }
}
