/* prefilter.c - see sigma_int.h (the literal prefilter).
 *
 * What a rule needs: from its condition, a set of (field, literal) pairs
 * one of which must occur for the rule to match - a value's literal text
 * (a glob's longest literal run), an AND's most selective side, an OR's
 * both sides, never a NOT.  The literals go into one multi-pattern matcher
 * (literals.c, shared with the Lua rule library); an event's field text is
 * scanned once.  The per-event cost is the length of the fields the run's
 * rules read, not the number of rules. */
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_int.h"

#include "sigma/literals.h"

#define GRAM SG_LIT_MIN

/* what a literal answers, by its index in the matcher */
typedef struct lit {
    uint32_t entry;
    sg_val *val;   /* marked seen when found */
    sg_item *item; /* and its item */
    int need;      /* found: the entry is a candidate */
} lit;

typedef struct pfield {
    const char *prop;
    uint8_t hdr, conv;
} pfield;

struct sg_pf {
    pfield *f;
    size_t nf;
    sg_lits *lits; /* the literals, found in one pass per field (literals.c) */
    lit *l;
    size_t nl, capl;
    uint8_t *always;
    uint32_t *stamp, gen;
    size_t n, guarded;
    uint32_t *alist, *hits, *out; /* the always-evaluated entries; this event's hits; their merge */
    size_t nalist, nhits;
    uint32_t mg; /* the matcher's generation during a scan */
};

/* ---- what a rule needs ---------------------------------------------------- */
typedef struct nlit {
    int slot;
    const char *s;
    size_t n;
    sg_val *v;
} nlit;

typedef struct need {
    int known;
    nlit *v;
    size_t n, cap;
} need;

static void need_free(need *d)
{
    free(d->v);
    memset(d, 0, sizeof *d);
}

static int need_add(need *d, int slot, const char *s, size_t n, sg_val *v)
{
    if (d->n == d->cap) {
        nlit *nv = realloc(d->v, (d->cap = d->cap ? d->cap * 2 : 8) * sizeof *nv);
        if (!nv) return 0;
        d->v = nv;
    }
    d->v[d->n++] = (nlit){slot, s, n, v};
    return 1;
}

static int need_union(need *a, need *b)
{
    int ok = 1;
    for (size_t i = 0; i < b->n && ok; i++) ok = need_add(a, b->v[i].slot, b->v[i].s, b->v[i].n, b->v[i].v);
    need_free(b);
    if (!ok) need_free(a);
    return ok;
}

static long score(const need *d)
{
    size_t mn = (size_t)-1;
    if (!d->known) return -1;
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].n < mn) mn = d->v[i].n;
    /* longer literals are rarer; fewer of them mean fewer candidates */
    return (long)(mn > 16 ? 16 : mn) * 1000 - (long)(d->n > 999 ? 999 : d->n);
}

/* keeps the better of a and b in a */
static void need_best(need *a, need *b)
{
    if (score(b) > score(a)) {
        need t = *a;
        *a = *b;
        *b = t;
    }
    need_free(b);
}

/* the literal a value cannot match without */
static int val_lit(const sg_val *v, const char **s, size_t *n)
{
    size_t best = 0, bs = 0, i, run = 0;
    /* the scanned text is folded (fold.c): a |cased literal with letters
     * beyond ASCII may not occur in it as written, so it guards nothing */
    for (i = 0; v->cased && v->s && i < v->n; i++)
        if ((uint8_t)v->s[i] >= 0x80) return 0;
    switch (v->op) {
    case SG_EQ:
    case SG_PREFIX:
    case SG_SUFFIX:
    case SG_SUB:
        *s = v->s;
        *n = v->n;
        return v->n >= GRAM;
    case SG_GLOB:
        for (i = 0; i <= v->n; i++) {
            if (i == v->n || v->s[i] == SG_STAR || v->s[i] == SG_ONE) {
                if (run > best) best = run, bs = i - run;
                run = 0;
            } else {
                run++;
            }
        }
        *s = v->s + bs;
        *n = best;
        return best >= GRAM;
    default: return 0;
    }
}

static void need_item(sg_item *it, const sg_bind *bind, need *d)
{
    memset(d, 0, sizeof *d);
    if (it->field < 0 || !bind[it->field].prop || !it->nv) return;
    if (it->all) { /* every value must occur: the longest one will do */
        const char *s = NULL, *bs = NULL;
        size_t n, bn = 0;
        int bk = 0;
        for (int k = 0; k < it->nv; k++)
            if (val_lit(&it->v[k], &s, &n) && n > bn) bs = s, bn = n, bk = k;
        if (bs && need_add(d, it->field, bs, bn, &it->v[bk])) d->known = 1;
        return;
    }
    for (int k = 0; k < it->nv; k++) {
        const char *s;
        size_t n;
        if (!val_lit(&it->v[k], &s, &n) || !need_add(d, it->field, s, n, &it->v[k])) {
            need_free(d);
            return;
        }
    }
    d->known = 1;
}

static void need_sel(const sg_sel *sel, const sg_bind *bind, need *d)
{
    memset(d, 0, sizeof *d);
    d->known = 1;
    for (int j = 0; j < sel->nmaps; j++) {
        need best = {0, NULL, 0, 0};
        for (int k = 0; k < sel->nitems[j]; k++) { /* an AND: any one item's need will do */
            need x;
            need_item(&sel->maps[j][k], bind, &x);
            need_best(&best, &x);
        }
        if (!best.known || !need_union(d, &best)) {
            need_free(&best);
            need_free(d);
            return;
        }
    }
}

static void need_node(const sg_rule *r, const sg_node *nd, const sg_bind *bind, need *d)
{
    need a, b;
    memset(d, 0, sizeof *d);
    switch (nd->kind) {
    case SG_AND:
        need_node(r, nd->a, bind, d);
        need_node(r, nd->b, bind, &b);
        need_best(d, &b);
        return;
    case SG_OR:
        need_node(r, nd->a, bind, d);
        need_node(r, nd->b, bind, &b);
        if (!d->known || !b.known) {
            need_free(d);
            need_free(&b);
            return;
        }
        need_union(d, &b);
        return;
    case SG_NOT: return;
    case SG_REF: need_sel(&r->sels[nd->sels[0]], bind, d); return;
    case SG_ONE_OF:
        need_sel(&r->sels[nd->sels[0]], bind, d);
        for (int i = 1; i < nd->nsels && d->known; i++) {
            need_sel(&r->sels[nd->sels[i]], bind, &a);
            if (!a.known) {
                need_free(d);
                need_free(&a);
                return;
            }
            need_union(d, &a);
        }
        return;
    default: /* all of: any one selection's need will do */
        for (int i = 0; i < nd->nsels; i++) {
            need_sel(&r->sels[nd->sels[i]], bind, &a);
            need_best(d, &a);
        }
        return;
    }
}

/* ---- the literals ------------------------------------------------------- */
static pfield *field_for(sg_pf *pf, const sg_bind *b)
{
    pfield *nf;
    for (size_t i = 0; i < pf->nf; i++)
        if (pf->f[i].hdr == b->hdr && pf->f[i].conv == b->conv && strcmp(pf->f[i].prop, b->prop) == 0) return &pf->f[i];
    if (pf->nf >= SG_LIT_FIELDS || !(nf = realloc(pf->f, (pf->nf + 1) * sizeof *nf))) return NULL;
    pf->f = nf;
    memset(&nf[pf->nf], 0, sizeof *nf);
    nf[pf->nf].prop = b->prop;
    nf[pf->nf].hdr = b->hdr;
    nf[pf->nf].conv = b->conv;
    return &nf[pf->nf++];
}

static int add_lit(sg_pf *pf, const sg_bind *b, const char *str, size_t len, sg_item *it, sg_val *v, int needed,
                   size_t entry)
{
    pfield *f = field_for(pf, b);
    lit *l;
    if (!f) return 0;
    if (pf->nl == pf->capl) {
        size_t cap = pf->capl ? pf->capl * 2 : 64;
        lit *nl = realloc(pf->l, cap * sizeof *nl);
        if (!nl) return 0;
        pf->l = nl;
        pf->capl = cap;
    }
    /* |cased values too: the scanned text is lowered, and so is the literal */
    if (!sg_lits_add(pf->lits, (unsigned)(f - pf->f), str, len, (uint32_t)pf->nl)) return 0;
    l = &pf->l[pf->nl++];
    l->entry = (uint32_t)entry;
    l->val = v;
    l->item = it;
    l->need = needed;
    return 1;
}

sg_pf *sg_pf_build(const sg_pf_rule *rules, size_t n)
{
    static uint32_t token;
    sg_pf *pf = calloc(1, sizeof *pf);
    int ok = 1;
    if (!pf) return NULL;
    if (!(pf->lits = sg_lits_new())) {
        free(pf);
        return NULL;
    }
    pf->n = n;
    pf->always = calloc(n ? n : 1, 1);
    pf->stamp = calloc(n ? n : 1, sizeof *pf->stamp);
    pf->alist = calloc(n ? n : 1, sizeof *pf->alist);
    pf->hits = calloc(n ? n : 1, sizeof *pf->hits);
    pf->out = calloc(n ? n : 1, sizeof *pf->out);
    if (!pf->always || !pf->stamp || !pf->alist || !pf->hits || !pf->out) ok = 0;
    for (size_t i = 0; i < n && ok; i++) {
        need d;
        const sg_rule *r = rules[i].rule;
        const sg_bind *bind = rules[i].bind;
        if (r->cond) need_node(r, r->cond, bind, &d);
        else memset(&d, 0, sizeof d);
        if (++token == 0) token = 1;
        if (d.known) {
            pf->guarded++;
            for (size_t k = 0; k < d.n; k++) d.v[k].v->mark = token;
        } else {
            pf->always[i] = 1;
        }
        /* every literal of the rule: found or not, it answers its value's
         * test; the needed ones also make the rule a candidate */
        for (int si = 0; si < r->nsels && ok; si++) {
            const sg_sel *sel = &r->sels[si];
            for (int j = 0; j < sel->nmaps && ok; j++)
                for (int k = 0; k < sel->nitems[j] && ok; k++) {
                    sg_item *it = &sel->maps[j][k];
                    if (it->field < 0 || !bind[it->field].prop) continue;
                    for (int x = 0; x < it->nv && ok; x++) {
                        const char *ls;
                        size_t ln;
                        if (!val_lit(&it->v[x], &ls, &ln)) continue;
                        ok = add_lit(pf, &bind[it->field], ls, ln, it, &it->v[x], d.known && it->v[x].mark == token, i);
                        it->v[x].reg = 1;
                    }
                    if (it->field >= 0 && bind[it->field].prop && !it->all) {
                        int any = 1, reg = 1;
                        for (int x = 0; x < it->nv; x++) {
                            any = any && it->v[x].reg && it->v[x].op == SG_SUB && !it->v[x].cased;
                            reg = reg && it->v[x].reg;
                        }
                        it->anysub = (uint8_t)any;
                        it->allreg = (uint8_t)reg;
                    }
                }
        }
        need_free(&d);
    }
    if (ok) ok = sg_lits_build(pf->lits);
    for (size_t i = 0; i < n && ok; i++)
        if (pf->always[i]) pf->alist[pf->nalist++] = (uint32_t)i;
    if (!ok) {
        sg_pf_free(pf);
        return NULL;
    }
    return pf;
}

void sg_pf_free(sg_pf *pf)
{
    if (!pf) return;
    sg_lits_free(pf->lits);
    free(pf->l);
    free(pf->f);
    free(pf->always);
    free(pf->stamp);
    free(pf->alist);
    free(pf->hits);
    free(pf->out);
    free(pf);
}

/* a literal found: it answers its value's test, and a needed one makes its
 * entry a candidate */
static void found(void *ctx, uint32_t li)
{
    sg_pf *pf = ctx;
    const lit *l = &pf->l[li];
    if (l->val->seen == pf->mg && (!l->need || pf->stamp[l->entry] == pf->gen)) return;
    l->val->seen = pf->mg;
    l->item->seen = pf->mg;
    if (l->need && pf->stamp[l->entry] != pf->gen) {
        pf->stamp[l->entry] = pf->gen;
        pf->hits[pf->nhits++] = l->entry;
    }
}

void sg_pf_scan(sg_pf *pf, sg_matcher *m)
{
    pf->mg = sg_matcher_gen(m);
    if (++pf->gen == 0) {
        memset(pf->stamp, 0, pf->n * sizeof *pf->stamp);
        pf->gen = 1;
    }
    pf->nhits = 0;
    for (size_t fi = 0; fi < pf->nf; fi++) {
        const pfield *f = &pf->f[fi];
        const char *t;
        size_t n;
        if (!sg_field_lower(m, f->prop, f->hdr, f->conv, &t, &n) || n < GRAM) continue;
        sg_lits_scan(pf->lits, (unsigned)fi, t, n, found, pf);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

size_t sg_pf_candidates(sg_pf *pf, const uint32_t **list)
{
    size_t i = 0, j = 0, k = 0;
    if (pf->nhits > 1) qsort(pf->hits, pf->nhits, sizeof *pf->hits, cmp_u32);
    while (i < pf->nalist || j < pf->nhits) /* the two are disjoint */
        pf->out[k++] =
            j >= pf->nhits || (i < pf->nalist && pf->alist[i] < pf->hits[j]) ? pf->alist[i++] : pf->hits[j++];
    *list = pf->out;
    return k;
}

size_t sg_pf_guarded(const sg_pf *pf) { return pf->guarded; }
