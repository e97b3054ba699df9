/* correlate.c - Sigma correlation rules: event_count, value_count,
 * temporal and temporal_ordered, with group-by and timespan.
 *
 * State is per group (the group-by fields' values of the event), kept in a
 * hash table of at most SG_CORR_MAX_GROUPS groups with at most
 * SG_CORR_MAX_ITEMS timestamps or values each.  Time is the events' own
 * (replays correlate as they happened); what is older than the timespan is
 * dropped as events arrive.  When the table is full, expired groups go
 * first, then the older half: a group-by field that is unique in every
 * event costs bounded memory, and the evictions are counted.
 *
 * The condition is one criterion or several (ANDed: gt 100 and lte 200 is a
 * range).  gt and gte only grow true as events come, so they fire as soon
 * as they hold, over a window sliding with the events.  lt, lte, eq and neq
 * can only be decided once the window is over (a fourth event would undo
 * "eq 3"), so with one of them a group's window starts at its first event
 * and is evaluated when the timespan has passed: when a later event of the
 * group arrives, or when a sweep driven by any event's time finds it over
 * (sg_corr_tick).  A window still open when the input ends does not fire:
 * its count is not final.  The same applies to temporal with a condition
 * (the number of distinct rules that matched). */
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
    int64_t first; /* windows evaluated at their end: when this one began */
    int64_t *ts;   /* event_count: times; value_count: each value's last time; temporal: per rule */
    char **vals;   /* value_count */
    uint32_t n;
} cgroup;

typedef struct calias {
    char *name;
    char **rule, **field; /* rule name (or id) -> the field in its events */
    int n;
} calias;

struct sg_corr {
    int type, has_cond, at_close;
    int ncond;
    uint8_t cop[6]; /* 0 gt 1 gte 2 lt 3 lte 4 eq 5 neq, ANDed */
    double cthr[6];
    calias *alias;
    int nalias;
    const char **gfield; /* [group field][ref]: the field read, aliases resolved */
    int64_t next_sweep, last_sweep;
    uint32_t since_sweep;
    /* the firing being reported (sg_corr_fired_write) */
    etwl_buf fkey;
    double fcount;
    int64_t fstart, fend;
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

static double max_thr(const sg_corr *c)
{
    double m = 0;
    for (int i = 0; i < c->ncond; i++)
        if (c->cthr[i] > m) m = c->cthr[i];
    return m;
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
    {
        yaml_node_t *al = sg_yaml_get(d, cm, "aliases");
        if (al && al->type != YAML_MAPPING_NODE) {
            *why = "aliases must be a map (alias: {rule name: field})";
            goto bad;
        }
        for (yaml_node_pair_t *pr = al ? al->data.mapping.pairs.start : NULL; al && pr < al->data.mapping.pairs.top;
             pr++) {
            const char *an = sg_yaml_str(yaml_document_get_node(d, pr->key));
            yaml_node_t *m = yaml_document_get_node(d, pr->value);
            calias *na, *a;
            if (!an || !m || m->type != YAML_MAPPING_NODE || c->nalias >= 16) {
                *why = "each alias maps rule names to fields (at most 16 aliases)";
                goto bad;
            }
            if (!(na = realloc(c->alias, (size_t)(c->nalias + 1) * sizeof *na))) goto bad;
            c->alias = na;
            a = &na[c->nalias++];
            memset(a, 0, sizeof *a);
            if (!(a->name = strdup(an))) goto bad;
            for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
                const char *rn = sg_yaml_str(yaml_document_get_node(d, q->key));
                const char *fn = sg_yaml_str(yaml_document_get_node(d, q->value));
                char **nr, **nf;
                if (!rn || !fn || a->n >= 64) {
                    *why = "each alias maps rule names to fields (at most 64)";
                    goto bad;
                }
                nr = realloc(a->rule, (size_t)(a->n + 1) * sizeof *nr);
                if (nr) a->rule = nr;
                nf = realloc(a->field, (size_t)(a->n + 1) * sizeof *nf);
                if (nf) a->field = nf;
                if (!nr || !nf || !(a->rule[a->n] = strdup(rn))) goto bad;
                if (!(a->field[a->n] = strdup(fn))) {
                    free(a->rule[a->n]);
                    goto bad;
                }
                a->n++;
            }
        }
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
    if (cond && cond->type != YAML_MAPPING_NODE) {
        *why = "the condition must be a map (gt, gte, lt, lte, eq, neq, field)";
        goto bad;
    }
    for (yaml_node_pair_t *pr = cond ? cond->data.mapping.pairs.start : NULL; cond && pr < cond->data.mapping.pairs.top;
         pr++) {
        static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq", "neq"};
        const char *k = sg_yaml_str(yaml_document_get_node(d, pr->key));
        const char *v = sg_yaml_str(yaml_document_get_node(d, pr->value));
        char *end;
        int op;
        if (k && strcmp(k, "field") == 0) {
            if (!v || c->vfield || !(c->vfield = strdup(v))) {
                *why = "condition.field must be one field name";
                goto bad;
            }
            continue;
        }
        for (op = 0; op < 6 && (!k || strcmp(k, ops[op]) != 0); op++) {
        }
        if (op == 6) {
            snprintf(buf, bn, "condition: '%s' is not gt, gte, lt, lte, eq, neq or field", k ? k : "?");
            *why = buf;
            goto bad;
        }
        c->cthr[c->ncond] = v ? strtod(v, &end) : 0;
        if (!v || end == v || *end || c->cthr[c->ncond] < 0) {
            *why = "the condition's threshold is not a number";
            goto bad;
        }
        if (c->ncond == 6) {
            *why = "more than 6 condition criteria";
            goto bad;
        }
        c->cop[c->ncond++] = (uint8_t)op;
        c->has_cond = 1;
        /* an upper bound (or an exact value) is known only when the window is over */
        if (op >= 2) c->at_close = 1;
    }
    if (c->has_cond && c->type == C_TEMPORAL_ORDERED) {
        *why = "temporal_ordered takes no condition (every rule, in order)";
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
    if (c->has_cond && max_thr(c) > SG_CORR_MAX_ITEMS - 1) {
        snprintf(buf, bn, "a threshold above %d (the state kept per group)", SG_CORR_MAX_ITEMS - 1);
        *why = buf;
        goto bad;
    }
    if (!(c->ref_idx = calloc((size_t)c->nrefs, sizeof *c->ref_idx))) goto bad;
    if (!(c->gfield = calloc((size_t)(c->ngroup ? c->ngroup : 1) * (size_t)c->nrefs, sizeof *c->gfield))) goto bad;
    etwl_buf_init(&c->fkey);
    c->next_sweep = INT64_MAX;
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
    for (int i = 0; i < c->nalias; i++) {
        for (int k = 0; k < c->alias[i].n; k++) {
            free(c->alias[i].rule[k]);
            free(c->alias[i].field[k]);
        }
        free(c->alias[i].rule);
        free(c->alias[i].field);
        free(c->alias[i].name);
    }
    free(c->alias);
    free(c->gfield);
    free(c->refs);
    free(c->group);
    free(c->ref_idx);
    free(c->vfield);
    free(c->g);
    free(c->tab);
    etwl_buf_free(&c->key);
    etwl_buf_free(&c->fkey);
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
    /* group-by names that are aliases become, per rule, the field its events
     * carry (the rule found by name, id, or as the correlation names it) */
    for (int gi = 0; gi < c->ngroup; gi++) {
        const calias *a = NULL;
        for (int k = 0; k < c->nalias && !a; k++)
            if (strcmp(c->alias[k].name, c->group[gi]) == 0) a = &c->alias[k];
        for (int i = 0; i < c->nrefs; i++) {
            const sg_rule *r = &rules[c->ref_idx[i]];
            const char *f = a ? NULL : c->group[gi];
            for (int k = 0; a && k < a->n && !f; k++)
                if (strcmp(a->rule[k], c->refs[i]) == 0 || (r->name && strcmp(a->rule[k], r->name) == 0) ||
                    (r->info.id && strcmp(a->rule[k], r->info.id) == 0))
                    f = a->field[k];
            if (!f) {
                snprintf(why, wn, "correlation: alias '%s' names no field for rule '%s'", c->group[gi], c->refs[i]);
                return 0;
            }
            c->gfield[gi * c->nrefs + i] = f;
        }
    }
    for (int k = 0; k < c->nalias; k++) { /* an alias no group-by uses is a mistake, said */
        int used = 0;
        for (int gi = 0; gi < c->ngroup; gi++) used |= strcmp(c->group[gi], c->alias[k].name) == 0;
        if (!used) {
            snprintf(why, wn, "correlation: alias '%s' is not in group-by", c->alias[k].name);
            return 0;
        }
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
    g->first = INT64_MIN;
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

/* every criterion holds (they are ANDed) */
static int cond_holds(const sg_corr *c, double v)
{
    for (int i = 0; i < c->ncond; i++) {
        double t = c->cthr[i];
        int ok;
        switch (c->cop[i]) {
        case 0: ok = v > t; break;
        case 1: ok = v >= t; break;
        case 2: ok = v < t; break;
        case 3: ok = v <= t; break;
        case 4: ok = v == t; break;
        default: ok = v != t; break;
        }
        if (!ok) return 0;
    }
    return 1;
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

/* the count the condition reads: events, distinct values, or (temporal)
 * distinct rules seen (within the span of now, for the sliding window) */
static double group_count(const sg_corr *c, const cgroup *g, int64_t now)
{
    int k = 0;
    if (c->type != C_TEMPORAL) return g->n;
    for (int i = 0; i < c->nrefs; i++) k += g->ts[i] != INT64_MIN && (c->at_close || g->ts[i] >= now - c->span);
    return k;
}

static void reset(const sg_corr *c, cgroup *g)
{
    if (c->type == C_VALUE_COUNT)
        for (uint32_t i = 0; i < g->n; i++) free(g->vals[i]);
    if (c->type == C_TEMPORAL || c->type == C_TEMPORAL_ORDERED)
        for (int i = 0; i < c->nrefs; i++) g->ts[i] = INT64_MIN;
    g->n = 0;
    g->first = INT64_MIN;
}

/* what the alert says about this firing */
static void fired(sg_corr *c, const cgroup *g, double count, int64_t start, int64_t end)
{
    etwl_buf_reset(&c->fkey);
    etwl_buf_put(&c->fkey, g->key, g->klen);
    c->fcount = count;
    c->fstart = start;
    c->fend = end;
}

/* a window evaluated at its end: fires when its count meets the condition */
static int close_window(sg_corr *c, cgroup *g)
{
    double n = group_count(c, g, 0);
    int fire = g->first != INT64_MIN && cond_holds(c, n);
    if (fire) fired(c, g, n, g->first, g->first + c->span);
    reset(c, g);
    return fire;
}

int sg_corr_feed(sg_corr *c, sg_matcher *m, const sg_rule *base, const sg_source *src, size_t base_idx, etwl_event *ev)
{
    int64_t now = etwl_event_header(ev)->ts;
    cgroup *g;
    int ref = -1, hdr, conv, fire = 0;
    (void)base;
    for (int i = 0; i < c->nrefs; i++)
        if (c->ref_idx[i] == (long)base_idx) ref = i;
    if (ref < 0) return 0;
    /* the group: the group-by fields' values, as the base rule's source
     * names them (an alias: the field given for this rule) */
    etwl_buf_reset(&c->key);
    for (int i = 0; i < c->ngroup; i++) {
        const char *f = c->gfield[i * c->nrefs + ref] ? c->gfield[i * c->nrefs + ref] : c->group[i];
        const char *prop = sg_source_field(src, f, &hdr, &conv), *t = "";
        size_t n = 0;
        if (prop && !sg_field_text(m, prop, hdr, conv, 0, &t, &n)) t = "", n = 0;
        etwl_buf_put(&c->key, t, n);
        etwl_buf_putc(&c->key, '\x1f');
    }
    if (c->key.oom || !(g = group_get(c, c->key.data ? c->key.data : "", c->key.len, now))) return 0;
    g->last = now > g->last ? now : g->last;
    if (c->at_close) {
        /* this event is past the group's window: that window is over */
        if (g->first != INT64_MIN && now >= g->first + c->span) fire = close_window(c, g);
        if (g->first == INT64_MIN) {
            g->first = now;
            if (g->first + c->span < c->next_sweep) c->next_sweep = g->first + c->span;
        }
    }
    switch (c->type) {
    case C_EVENT_COUNT:
        if (c->at_close) { /* a count, no times: the window is fixed */
            if (g->n < UINT32_MAX) g->n++;
            return fire;
        }
        expire(c, g, now);
        if (!g->ts && !(g->ts = malloc(SG_CORR_MAX_ITEMS * sizeof *g->ts))) return 0;
        if (g->n == SG_CORR_MAX_ITEMS) { /* the oldest goes: thresholds are below the cap */
            memmove(g->ts, g->ts + 1, (g->n - 1) * sizeof *g->ts);
            g->n--;
        }
        g->ts[g->n++] = now;
        if (cond_holds(c, g->n)) {
            fired(c, g, g->n, g->ts[0], now);
            g->n = 0; /* fired: count afresh */
            return 1;
        }
        return 0;
    case C_VALUE_COUNT: {
        const char *prop = sg_source_field(src, c->vfield, &hdr, &conv), *t;
        size_t n;
        uint32_t i;
        if (!c->at_close) expire(c, g, now);
        if (!prop || !sg_field_text(m, prop, hdr, conv, 0, &t, &n)) return fire;
        if (!g->ts && (!(g->ts = malloc(SG_CORR_MAX_ITEMS * sizeof *g->ts)) ||
                       !(g->vals = malloc(SG_CORR_MAX_ITEMS * sizeof *g->vals))))
            return fire;
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
            if (!(g->vals[g->n] = strndup(t, n))) return fire;
            g->ts[g->n++] = now;
        }
        if (!c->at_close && cond_holds(c, g->n)) {
            fired(c, g, g->n, g->ts[0], now);
            for (i = 0; i < g->n; i++) free(g->vals[i]);
            g->n = 0;
            return 1;
        }
        return fire;
    }
    case C_TEMPORAL: {
        int holds;
        g->ts[ref] = now;
        if (c->at_close) return fire;
        holds = c->has_cond ? cond_holds(c, group_count(c, g, now)) : group_count(c, g, now) == c->nrefs;
        if (holds) {
            int64_t start = now;
            for (int i = 0; i < c->nrefs; i++)
                if (g->ts[i] != INT64_MIN && g->ts[i] >= now - c->span && g->ts[i] < start) start = g->ts[i];
            fired(c, g, group_count(c, g, now), start, now);
            for (int i = 0; i < c->nrefs; i++) g->ts[i] = INT64_MIN;
        }
        return holds;
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
            fired(c, g, c->nrefs, g->ts[ref], now);
            for (int i = 0; i < c->nrefs; i++) g->ts[i] = INT64_MIN;
            return 1;
        }
        return 0;
    }
}

int sg_corr_at_close(const sg_corr *c) { return c->at_close; }

size_t sg_corr_tick(sg_corr *c, int64_t now, void (*fire)(void *ctx), void *ctx)
{
    size_t fires = 0, k = 0;
    int64_t next = INT64_MAX;
    c->since_sweep++;
    if (!c->at_close || now < c->next_sweep) return 0;
    /* a sweep costs the table: at most once per 256 events unless a
     * sixteenth of the timespan has passed since the last one (a window
     * that is over is evaluated by its group's next event anyway) */
    if (c->since_sweep < 256 && now < c->last_sweep + c->span / 16) return 0;
    c->since_sweep = 0;
    c->last_sweep = now;
    for (size_t i = 0; i < c->ng; i++) {
        cgroup *g = c->g[i];
        if (g->first != INT64_MIN && now >= g->first + c->span) {
            if (close_window(c, g)) {
                fires++;
                fire(ctx);
            }
            group_free(c, g); /* its window is over and nothing is open: the group goes */
            continue;
        }
        if (g->first != INT64_MIN && g->first + c->span < next) next = g->first + c->span;
        c->g[k++] = g;
    }
    if (k != c->ng) {
        c->ng = k;
        rehash(c);
    }
    c->next_sweep = next;
    return fires;
}

void sg_corr_fired_write(const sg_corr *c, etwl_buf *b, int json)
{
    char t0[ETWL_TIME_STRLEN + 1], t1[ETWL_TIME_STRLEN + 1];
    size_t i = 0;
    if (etwl_time_format(c->fstart, t0) != ETWL_OK) strcpy(t0, "?");
    if (etwl_time_format(c->fend, t1) != ETWL_OK) strcpy(t1, "?");
    if (json) {
        etwl_buf_printf(b, "{\"type\":\"%s\",\"count\":%.0f,\"window_start\":\"%s\",\"window_end\":\"%s\",\"group\":{",
                        type_names[c->type], c->fcount, t0, t1);
    } else {
        etwl_buf_printf(b, " correlation_count=%.0f correlation_window=%s/%s", c->fcount, t0, t1);
    }
    for (int g = 0; g < c->ngroup; g++) {
        const char *v = c->fkey.data ? c->fkey.data + i : "";
        const char *e = c->fkey.data ? memchr(v, '\x1f', c->fkey.len - i) : NULL;
        size_t n = e ? (size_t)(e - v) : 0;
        if (json) {
            if (g) etwl_buf_putc(b, ',');
            etwl_json_put_string(b, c->group[g], strlen(c->group[g]));
            etwl_buf_putc(b, ':');
            etwl_json_put_string(b, v, n);
        } else {
            etwl_buf_puts(b, " group.");
            etwl_text_put_escaped(b, c->group[g], strlen(c->group[g]));
            etwl_buf_putc(b, '=');
            etwl_text_put_escaped(b, v, n);
        }
        i += n + 1;
        if (i > c->fkey.len) break;
    }
    if (json) etwl_buf_puts(b, "}}");
}

void sg_corr_describe(const sg_corr *c, etwl_buf *b)
{
    static const char *const ops[] = {">", ">=", "<", "<=", "==", "!="};
    etwl_buf_printf(b, "  correlation: %s over %.0f s of", type_names[c->type], (double)c->span / 1e7);
    for (int i = 0; i < c->nrefs; i++) etwl_buf_printf(b, " %s", c->refs[i]);
    if (c->ngroup) etwl_buf_puts(b, ", by");
    for (int i = 0; i < c->ngroup; i++) etwl_buf_printf(b, " %s", c->group[i]);
    for (int i = 0; i < c->ncond; i++)
        etwl_buf_printf(b, "%s %s%s %s %g", i ? " and" : ", when",
                        c->vfield               ? "distinct "
                        : c->type == C_TEMPORAL ? "rules"
                                                : "count",
                        c->vfield ? c->vfield : "", ops[c->cop[i]], c->cthr[i]);
    if (c->at_close) etwl_buf_puts(b, ", decided when a window (from a group's first event) is over");
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
