/* correlate.c - Sigma correlation rules: event_count, value_count,
 * temporal and temporal_ordered, with group-by and timespan.
 *
 * State is per group (the group-by fields' values of the event), kept in a
 * hash table of at most SG_CORR_MAX_GROUPS groups with at most
 * SG_CORR_MAX_ITEMS timestamps or values each.  Time is the events' own
 * (replays correlate as they happened); what is older than the timespan is
 * dropped as events arrive.  When the table is full, expired groups go
 * first, then the older half: a group-by field that is unique in every
 * event costs bounded memory, and the evictions are counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigma/sigma_int.h"

enum { C_EVENT_COUNT, C_VALUE_COUNT, C_TEMPORAL, C_TEMPORAL_ORDERED };
static const char *const type_names[] = {"event_count", "value_count", "temporal", "temporal_ordered"};

typedef struct cgroup {
    char *key;
    size_t klen;
    uint32_t h;
    int64_t last;
    int64_t *ts; /* event_count: times; value_count: each value's last time; temporal: per rule */
    char **vals; /* value_count */
    uint32_t n;
} cgroup;

struct sg_corr {
    int type, has_cond, cmp; /* cmp: 0 gt 1 gte 2 lt 3 lte 4 eq 5 neq */
    double thr;
    int64_t span; /* 100 ns ticks */
    char **refs;
    int nrefs;
    long *ref_idx;
    char **group;
    int ngroup;
    char *vfield;
    int generate;
    cgroup **g;
    size_t ng;
    uint32_t *tab; /* open addressing: index+1 into g, 0 free */
    size_t tabn;
    uint64_t evicted;
    etwl_buf key;
};

static char **strs(yaml_document_t *d, yaml_node_t *n, int *count)
{
    char **v;
    int k = 0;
    *count = 0;
    if (n && n->type == YAML_SCALAR_NODE) {
        if (!(v = calloc(1, sizeof *v)) || !(v[0] = strdup(sg_yaml_str(n)))) return free(v), NULL;
        *count = 1;
        return v;
    }
    if (!n || n->type != YAML_SEQUENCE_NODE) return NULL;
    v = calloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1, sizeof *v);
    if (!v) return NULL;
    for (yaml_node_item_t *p = n->data.sequence.items.start; p < n->data.sequence.items.top; p++) {
        const char *s = sg_yaml_str(yaml_document_get_node(d, *p));
        if (s && (v[k] = strdup(s))) k++;
    }
    *count = k;
    return v;
}

static int64_t parse_span(const char *s)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    int64_t unit;
    if (!s || end == s || v <= 0) return -1;
    switch (*end) {
    case 's': unit = 10000000LL; break;
    case 'm': unit = 600000000LL; break;
    case 'h': unit = 36000000000LL; break;
    case 'd': unit = 864000000000LL; break;
    default: return -1;
    }
    if (end[1] || v > 3650.0 * 86400 * 10000000 / (double)unit) return -1;
    return (int64_t)(v * (double)unit);
}

sg_corr *sg_corr_parse(yaml_document_t *d, yaml_node_t *root, const char **why, char *buf, size_t bn)
{
    yaml_node_t *cm = sg_yaml_get(d, root, "correlation"), *cond;
    const char *type = sg_yaml_str(sg_yaml_get(d, cm, "type"));
    const char *gen = sg_yaml_str(sg_yaml_get(d, cm, "generate"));
    sg_corr *c;
    *why = NULL;
    if (!cm || cm->type != YAML_MAPPING_NODE) return (*why = "correlation is not a map"), NULL;
    if (!(c = calloc(1, sizeof *c))) return NULL;
    etwl_buf_init(&c->key);
    c->type = -1;
    for (int i = 0; i < 4; i++)
        if (type && strcmp(type, type_names[i]) == 0) c->type = i;
    if (c->type < 0) {
        snprintf(buf, bn, "type '%s' is not event_count, value_count, temporal or temporal_ordered",
                 type ? type : "(none)");
        *why = buf;
        goto bad;
    }
    if (sg_yaml_get(d, cm, "aliases")) {
        *why = "field aliases are not served yet";
        goto bad;
    }
    c->refs = strs(d, sg_yaml_get(d, cm, "rules"), &c->nrefs);
    if (!c->nrefs || c->nrefs > 64) {
        *why = "it must name 1 to 64 rules";
        goto bad;
    }
    c->group = strs(d, sg_yaml_get(d, cm, "group-by"), &c->ngroup);
    if (c->ngroup > 16) {
        *why = "more than 16 group-by fields";
        goto bad;
    }
    if ((c->span = parse_span(sg_yaml_str(sg_yaml_get(d, cm, "timespan")))) < 0) {
        *why = "timespan must be a number with s, m, h or d";
        goto bad;
    }
    c->generate = gen && (strcmp(gen, "true") == 0 || strcmp(gen, "yes") == 0);
    cond = sg_yaml_get(d, cm, "condition");
    if (cond && cond->type == YAML_MAPPING_NODE) {
        static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq", "neq"};
        for (int i = 0; i < 6; i++) {
            const char *v = sg_yaml_str(sg_yaml_get(d, cond, ops[i]));
            char *end;
            if (!v) continue;
            c->thr = strtod(v, &end);
            if (end == v || *end || c->thr < 0) {
                *why = "the condition's threshold is not a number";
                goto bad;
            }
            c->cmp = i;
            c->has_cond = 1;
        }
        if (sg_yaml_str(sg_yaml_get(d, cond, "field"))) c->vfield = strdup(sg_yaml_str(sg_yaml_get(d, cond, "field")));
    }
    if (c->has_cond && (c->cmp == 2 || c->cmp == 3 || c->cmp == 5)) {
        *why = "lt, lte and neq conditions hold only when a window closes; not served yet";
        goto bad;
    }
    if ((c->type == C_EVENT_COUNT || c->type == C_VALUE_COUNT) && !c->has_cond) {
        *why = "event_count and value_count need a condition (gt, gte, lt, lte, eq or neq)";
        goto bad;
    }
    if (c->type == C_VALUE_COUNT && !c->vfield) {
        *why = "value_count needs condition.field";
        goto bad;
    }
    if (c->has_cond && c->thr > SG_CORR_MAX_ITEMS - 1) {
        snprintf(buf, bn, "a threshold above %d (the state kept per group)", SG_CORR_MAX_ITEMS - 1);
        *why = buf;
        goto bad;
    }
    if (!(c->ref_idx = calloc((size_t)c->nrefs, sizeof *c->ref_idx))) goto bad;
    return c;
bad:
    sg_corr_free(c);
    return NULL;
}

static void group_free(const sg_corr *c, cgroup *g)
{
    if (!g) return;
    if (c->type == C_VALUE_COUNT)
        for (uint32_t i = 0; i < g->n; i++) free(g->vals[i]);
    free(g->vals);
    free(g->ts);
    free(g->key);
    free(g);
}

void sg_corr_free(sg_corr *c)
{
    if (!c) return;
    for (int i = 0; i < c->nrefs; i++) free(c->refs[i]);
    for (int i = 0; i < c->ngroup; i++) free(c->group[i]);
    for (size_t i = 0; i < c->ng; i++) group_free(c, c->g[i]);
    free(c->refs);
    free(c->group);
    free(c->ref_idx);
    free(c->vfield);
    free(c->g);
    free(c->tab);
    etwl_buf_free(&c->key);
    free(c);
}

int sg_corr_resolve(sg_corr *c, sg_rule *rules, size_t n, size_t self, char *why, size_t wn)
{
    for (int i = 0; i < c->nrefs; i++) {
        long found = -1;
        for (size_t k = 0; k < n && found < 0; k++)
            if (k != self && ((rules[k].info.id && strcmp(rules[k].info.id, c->refs[i]) == 0) ||
                              (rules[k].name && strcmp(rules[k].name, c->refs[i]) == 0)))
                found = (long)k;
        if (found < 0) {
            snprintf(why, wn, "correlation: no rule named '%s' is loaded", c->refs[i]);
            return 0;
        }
        if (rules[found].corr || rules[found].info.state != ETWL_SIGMA_OK) {
            snprintf(why, wn, "correlation: rule '%s' %s", c->refs[i],
                     rules[found].corr ? "is itself a correlation" : "does not run");
            return 0;
        }
        c->ref_idx[i] = found;
    }
    return 1;
}

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static void rehash(sg_corr *c)
{
    memset(c->tab, 0, c->tabn * sizeof *c->tab);
    for (size_t i = 0; i < c->ng; i++) {
        size_t k = c->g[i]->h & (c->tabn - 1);
        while (c->tab[k]) k = (k + 1) & (c->tabn - 1);
        c->tab[k] = (uint32_t)i + 1;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Makes room: expired groups go, then (if still over 90% full) the older
 * half by last activity. */
static void evict(sg_corr *c, int64_t now)
{
    size_t k = 0;
    int64_t cut = now - c->span;
    if (c->ng * 10 >= SG_CORR_MAX_GROUPS * 9) {
        int64_t *t = malloc(c->ng * sizeof *t);
        if (t) {
            for (size_t i = 0; i < c->ng; i++) t[i] = c->g[i]->last;
            qsort(t, c->ng, sizeof *t, cmp_i64);
            if (t[c->ng / 2] > cut) cut = t[c->ng / 2];
            free(t);
        }
    }
    for (size_t i = 0; i < c->ng; i++) {
        if (c->g[i]->last < cut) {
            group_free(c, c->g[i]);
            c->evicted++;
        } else {
            c->g[k++] = c->g[i];
        }
    }
    c->ng = k;
    rehash(c);
}

static cgroup *group_get(sg_corr *c, const char *key, size_t kn, int64_t now)
{
    uint32_t h = hash(key, kn);
    size_t k;
    cgroup *g;
    if (!c->tab) {
        c->tabn = 32768; /* > 2 x SG_CORR_MAX_GROUPS, a power of two */
        if (!(c->tab = calloc(c->tabn, sizeof *c->tab))) return NULL;
        if (!(c->g = calloc(SG_CORR_MAX_GROUPS, sizeof *c->g))) return NULL;
    }
    for (k = h & (c->tabn - 1); c->tab[k]; k = (k + 1) & (c->tabn - 1)) {
        g = c->g[c->tab[k] - 1];
        if (g->h == h && g->klen == kn && memcmp(g->key, key, kn) == 0) return g;
    }
    if (c->ng == SG_CORR_MAX_GROUPS) {
        evict(c, now);
        for (k = h & (c->tabn - 1); c->tab[k]; k = (k + 1) & (c->tabn - 1)) {
        }
    }
    if (!(g = calloc(1, sizeof *g)) || !(g->key = malloc(kn ? kn : 1))) {
        free(g);
        return NULL;
    }
    memcpy(g->key, key, kn);
    g->klen = kn;
    g->h = h;
    g->last = now;
    if (c->type == C_TEMPORAL || c->type == C_TEMPORAL_ORDERED) {
        if (!(g->ts = calloc((size_t)c->nrefs, sizeof *g->ts))) {
            group_free(c, g);
            return NULL;
        }
        for (int i = 0; i < c->nrefs; i++) g->ts[i] = INT64_MIN;
    }
    c->g[c->ng] = g;
    c->tab[k] = (uint32_t)++c->ng;
    return g;
}

static int cond_holds(const sg_corr *c, double v)
{
    switch (c->cmp) {
    case 0: return v > c->thr;
    case 1: return v >= c->thr;
    case 2: return v < c->thr;
    case 3: return v <= c->thr;
    case 4: return v == c->thr;
    default: return v != c->thr;
    }
}

/* drops what is older than the span from an event_count or value_count group */
static void expire(const sg_corr *c, cgroup *g, int64_t now)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->ts[i] >= now - c->span) {
            g->ts[k] = g->ts[i];
            if (g->vals) g->vals[k] = g->vals[i];
            k++;
        } else if (g->vals) {
            free(g->vals[i]);
        }
    }
    g->n = k;
}

int sg_corr_feed(sg_corr *c, sg_matcher *m, const sg_rule *base, const sg_source *src, size_t base_idx, etwl_event *ev)
{
    int64_t now = etwl_event_header(ev)->ts;
    cgroup *g;
    int ref = -1, hdr, conv;
    (void)base;
    for (int i = 0; i < c->nrefs; i++)
        if (c->ref_idx[i] == (long)base_idx) ref = i;
    if (ref < 0) return 0;
    /* the group: the group-by fields' values, as the base rule's source names them */
    etwl_buf_reset(&c->key);
    for (int i = 0; i < c->ngroup; i++) {
        const char *prop = sg_source_field(src, c->group[i], &hdr, &conv), *t = "";
        size_t n = 0;
        if (prop && !sg_field_text(m, prop, hdr, conv, 0, &t, &n)) t = "", n = 0;
        etwl_buf_put(&c->key, t, n);
        etwl_buf_putc(&c->key, '\x1f');
    }
    if (c->key.oom || !(g = group_get(c, c->key.data ? c->key.data : "", c->key.len, now))) return 0;
    g->last = now > g->last ? now : g->last;
    switch (c->type) {
    case C_EVENT_COUNT:
        expire(c, g, now);
        if (!g->ts && !(g->ts = malloc(SG_CORR_MAX_ITEMS * sizeof *g->ts))) return 0;
        if (g->n == SG_CORR_MAX_ITEMS) { /* the oldest goes: thresholds are below the cap */
            memmove(g->ts, g->ts + 1, (g->n - 1) * sizeof *g->ts);
            g->n--;
        }
        g->ts[g->n++] = now;
        if (cond_holds(c, g->n)) {
            g->n = 0; /* fired: count afresh */
            return 1;
        }
        return 0;
    case C_VALUE_COUNT: {
        const char *prop = sg_source_field(src, c->vfield, &hdr, &conv), *t;
        size_t n;
        uint32_t i;
        expire(c, g, now);
        if (!prop || !sg_field_text(m, prop, hdr, conv, 0, &t, &n)) return 0;
        if (!g->ts && (!(g->ts = malloc(SG_CORR_MAX_ITEMS * sizeof *g->ts)) ||
                       !(g->vals = malloc(SG_CORR_MAX_ITEMS * sizeof *g->vals))))
            return 0;
        for (i = 0; i < g->n; i++)
            if (strlen(g->vals[i]) == n && memcmp(g->vals[i], t, n) == 0) break;
        if (i < g->n) {
            g->ts[i] = now;
        } else {
            if (g->n == SG_CORR_MAX_ITEMS) {
                free(g->vals[0]);
                memmove(g->vals, g->vals + 1, (g->n - 1) * sizeof *g->vals);
                memmove(g->ts, g->ts + 1, (g->n - 1) * sizeof *g->ts);
                g->n--;
            }
            if (!(g->vals[g->n] = strndup(t, n))) return 0;
            g->ts[g->n++] = now;
        }
        if (cond_holds(c, g->n)) {
            for (i = 0; i < g->n; i++) free(g->vals[i]);
            g->n = 0;
            return 1;
        }
        return 0;
    }
    case C_TEMPORAL: {
        int all = 1;
        g->ts[ref] = now;
        for (int i = 0; i < c->nrefs; i++) all = all && g->ts[i] != INT64_MIN && g->ts[i] >= now - c->span;
        if (all)
            for (int i = 0; i < c->nrefs; i++) g->ts[i] = INT64_MIN;
        return all;
    }
    default: /* temporal_ordered: ts[i] is when the chain that reached step i began */
        if (ref == 0) {
            g->ts[0] = now;
            if (c->nrefs > 1) return 0;
        } else if (g->ts[ref - 1] == INT64_MIN || g->ts[ref - 1] < now - c->span) {
            return 0;
        } else {
            g->ts[ref] = g->ts[ref - 1];
        }
        if (ref == c->nrefs - 1) {
            for (int i = 0; i < c->nrefs; i++) g->ts[i] = INT64_MIN;
            return 1;
        }
        return 0;
    }
}

void sg_corr_describe(const sg_corr *c, etwl_buf *b)
{
    static const char *const ops[] = {">", ">=", "<", "<=", "==", "!="};
    etwl_buf_printf(b, "  correlation: %s over %.0f s of", type_names[c->type], (double)c->span / 1e7);
    for (int i = 0; i < c->nrefs; i++) etwl_buf_printf(b, " %s", c->refs[i]);
    if (c->ngroup) etwl_buf_puts(b, ", by");
    for (int i = 0; i < c->ngroup; i++) etwl_buf_printf(b, " %s", c->group[i]);
    if (c->has_cond)
        etwl_buf_printf(b, ", when %s%s %s %g", c->vfield ? "distinct " : "count", c->vfield ? c->vfield : "",
                        ops[c->cmp], c->thr);
    etwl_buf_printf(b, "%s\n", c->generate ? ", the rules alert too" : "");
}

uint64_t sg_corr_evicted(const sg_corr *c) { return c->evicted; }
int sg_corr_generates(const sg_corr *c) { return c->generate; }

int sg_corr_feeds(const sg_corr *c, size_t rule)
{
    for (int i = 0; i < c->nrefs; i++)
        if (c->ref_idx[i] == (long)rule) return 1;
    return 0;
}
size_t sg_corr_groups(const sg_corr *c) { return c->ng; }
