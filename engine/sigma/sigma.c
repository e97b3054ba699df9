/* sigma.c - a set of Sigma rules: loading files and folders, the filters,
 * the index by log source, matching, and the alert.
 *
 * The index: one bucket per provider name or channel name (lower-cased),
 * holding (rule, source, bound fields) entries sorted by event id, with
 * the entries for every id apart.  An event looks up its provider and its
 * channel, then only the entries for its id. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "output/alert.h"
#include "output/output.h"
#include "sigma/sigma_int.h"

typedef struct entry {
    int32_t id; /* -1: every id */
    uint32_t rule;
    const sg_source *src;
    sg_bind *bind;
} entry;

/* the entries of one event id (or of every id), and their prefilter */
typedef struct run {
    int32_t id;
    size_t start, n;
    sg_pf *pf;
} run;

/* bucket kinds: events of a provider, of a channel, and of the provider
 * that writes a channel, for live events that carry no channel name */
#define BUCKET_WRITER 2

typedef struct bucket {
    char *name; /* lower-cased */
    uint32_t h;
    int channel; /* 0 provider, 1 channel, BUCKET_WRITER */
    entry *e;
    size_t n, cap;
    run *runs;
    size_t nruns;
} bucket;

struct etwl_sigma {
    sg_rule *rules;
    size_t n, cap, running;
    int min_level;       /* 0 informational .. 4 critical */
    unsigned status_set; /* bit per status; 0: all */
    bucket *b;
    size_t nb;
    int dirty;
    sg_matcher *m;
    sg_phs ph;    /* --sigma-config placeholders */
    int *closers; /* correlations decided when a window is over (sg_corr_tick) */
    int ncloser;
};

static const char *const levels[] = {"informational", "low", "medium", "high", "critical"};
static const char *const statuses[] = {"stable", "test", "experimental", "deprecated", "unsupported"};

const char *etwl_sigma_state_name(etwl_sigma_state st)
{
    static const char *const n[] = {"runs",       "filtered out", "invalid YAML or not a rule",
                                    "log source", "modifier",     "condition",
                                    "value",      "correlation"};
    return (unsigned)st < ETWL_SIGMA_NSTATES ? n[st] : "?";
}

etwl_status etwl_sigma_new(etwl_sigma **out)
{
    etwl_sigma *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->m = sg_matcher_new())) {
        free(s);
        return ETWL_ENOMEM;
    }
    *out = s;
    return ETWL_OK;
}

static void index_free(etwl_sigma *s)
{
    for (size_t i = 0; i < s->nb; i++) {
        for (size_t k = 0; k < s->b[i].n; k++) free(s->b[i].e[k].bind);
        for (size_t k = 0; k < s->b[i].nruns; k++) sg_pf_free(s->b[i].runs[k].pf);
        free(s->b[i].runs);
        free(s->b[i].e);
        free(s->b[i].name);
    }
    free(s->b);
    s->b = NULL;
    s->nb = 0;
}

void etwl_sigma_free(etwl_sigma *s)
{
    if (!s) return;
    index_free(s);
    for (size_t i = 0; i < s->n; i++) sg_rule_free(&s->rules[i]);
    free(s->rules);
    for (int i = 0; i < s->ph.n; i++) {
        for (int k = 0; k < s->ph.v[i].nvals; k++) free(s->ph.v[i].vals[k]);
        free(s->ph.v[i].vals);
        free(s->ph.v[i].name);
    }
    free(s->ph.v);
    free(s->closers);
    sg_matcher_free(s->m);
    free(s);
}

static int level_index(const char *l)
{
    for (int i = 0; l && i < 5; i++)
        if (strcmp(l, levels[i]) == 0) return i;
    return -1;
}

etwl_status etwl_sigma_set_min_level(etwl_sigma *s, const char *level, etwl_error *err)
{
    int i = level_index(level);
    if (i < 0)
        return etwl_error_set(err, ETWL_EINVAL,
                              "--sigma-level is informational, low, medium, high or critical, not '%s'", level);
    s->min_level = i;
    return ETWL_OK;
}

etwl_status etwl_sigma_set_statuses(etwl_sigma *s, const char *list, etwl_error *err)
{
    char buf[256], *tok, *save;
    unsigned set = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k;
        for (k = 0; k < 5 && strcmp(tok, statuses[k]) != 0; k++) {
        }
        if (k == 5)
            return etwl_error_set(err, ETWL_EINVAL,
                                  "--sigma-status takes stable, test, experimental, deprecated, unsupported; not '%s'",
                                  tok);
        set |= 1u << k;
    }
    if (!set) return etwl_error_set(err, ETWL_EINVAL, "--sigma-status needs at least one status");
    s->status_set = set;
    return ETWL_OK;
}

etwl_status etwl_sigma_set_config(etwl_sigma *s, const char *path, etwl_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    sg_yaml y;
    yaml_node_t *root, *map;
    yaml_document_t *d;
    etwl_status st = ETWL_OK;
    if (!f) return etwl_error_set(err, ETWL_EIO, "--sigma-config %s: cannot open", path);
    buf = malloc(1 << 20);
    n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    if (n == 1 << 20) {
        free(buf);
        return etwl_error_set(err, ETWL_ELIMIT, "--sigma-config %s: larger than 1 MB", path);
    }
    st = sg_yaml_load(&y, buf, n, path, err);
    free(buf);
    if (st != ETWL_OK) return st;
    d = &y.docs[0];
    root = y.ndocs ? sg_yaml_root(&y, 0) : NULL;
    map = root ? sg_yaml_get(d, root, "placeholders") : NULL;
    if (root && !map) map = sg_yaml_get(d, root, "vars");
    if (!map || map->type != YAML_MAPPING_NODE) {
        sg_yaml_free(&y);
        return etwl_error_set(err, ETWL_EPARSE, "--sigma-config %s: expected a map 'placeholders:' (name: values)",
                              path);
    }
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top && !st; pr++) {
        const char *name = sg_yaml_str(yaml_document_get_node(d, pr->key));
        yaml_node_t *v = yaml_document_get_node(d, pr->value);
        sg_ph *ph, *nv = realloc(s->ph.v, (size_t)(s->ph.n + 1) * sizeof *nv);
        if (!nv) {
            st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
            break;
        }
        s->ph.v = nv;
        ph = &nv[s->ph.n];
        memset(ph, 0, sizeof *ph);
        if (!name || !(ph->name = strdup(name))) {
            st = etwl_error_set(err, ETWL_EPARSE, "--sigma-config %s: a placeholder name must be text", path);
            break;
        }
        s->ph.n++;
        if (v && v->type == YAML_SCALAR_NODE) {
            if ((ph->vals = malloc(sizeof *ph->vals)) && (ph->vals[0] = strdup(sg_yaml_str(v)))) ph->nvals = 1;
        } else if (v && v->type == YAML_SEQUENCE_NODE) {
            ph->vals =
                calloc((size_t)(v->data.sequence.items.top - v->data.sequence.items.start) + 1, sizeof *ph->vals);
            for (yaml_node_item_t *p = v->data.sequence.items.start; ph->vals && p < v->data.sequence.items.top; p++) {
                const char *x = sg_yaml_str(yaml_document_get_node(d, *p));
                if (x && (ph->vals[ph->nvals] = strdup(x))) ph->nvals++;
            }
        }
        if (!ph->nvals)
            st = etwl_error_set(err, ETWL_EPARSE, "--sigma-config %s: placeholder %s has no values", path, name);
    }
    sg_yaml_free(&y);
    return st;
}

static int filtered(const etwl_sigma *s, const sg_rule *r)
{
    int lv = level_index(r->info.level);
    if (lv >= 0 && lv < s->min_level) return 1;
    if (lv < 0 && s->min_level > 0) return 1;
    if (s->status_set) {
        for (int k = 0; k < 5; k++)
            if (r->info.status && strcmp(r->info.status, statuses[k]) == 0) return !(s->status_set & (1u << k));
        return 1;
    }
    return 0;
}

/* DRL 1.1 attribution: the rule's place in SigmaHQ's repository when it
 * comes from there, else the file it was loaded from */
static char *make_link(const char *path)
{
    static const char *const roots[] = {"/rules-emerging-threats/", "/rules-threat-hunting/",
                                        "/rules-compliance/",       "/rules-dfir/",
                                        "/rules-placeholder/",      "/rules/"};
    char *out;
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
        const char *p = strstr(path, roots[i]);
        if (p && (out = malloc(strlen(p) + 64))) {
            sprintf(out, "https://github.com/SigmaHQ/sigma/blob/master%s", p);
            return out;
        }
    }
    return strdup(path);
}

static sg_rule *new_rule(etwl_sigma *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        sg_rule *r = realloc(s->rules, cap * sizeof *r);
        if (!r) return NULL;
        s->rules = r;
        s->cap = cap;
    }
    memset(&s->rules[s->n], 0, sizeof s->rules[s->n]);
    return &s->rules[s->n++];
}

etwl_status etwl_sigma_load_string(etwl_sigma *s, const char *text, size_t n, const char *name, etwl_error *err)
{
    sg_yaml y;
    etwl_error yerr;
    etwl_status st;
    sg_rule *r;
    (void)err;
    s->dirty = 1;
    st = sg_yaml_load(&y, text, n, name, &yerr);
    if (st == ETWL_ENOMEM) return etwl_error_set(err, st, "out of memory");
    if (st != ETWL_OK || y.ndocs == 0) {
        /* kept as a rule that cannot run, with the parser's place */
        if (!(r = new_rule(s))) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        r->info.path = strdup(name);
        r->info.state = ETWL_SIGMA_YAML;
        r->info.reason = strdup(st != ETWL_OK ? yerr.message : "empty file");
        if (!r->info.path || !r->info.reason) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        return ETWL_OK;
    }
    for (int d = 0; d < y.ndocs; d++) {
        if (!(r = new_rule(s)) || sg_compile(r, &y.docs[d], sg_yaml_root(&y, d), &s->ph) != ETWL_OK) {
            sg_yaml_free(&y);
            return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        }
        r->info.path = strdup(name);
        r->link = make_link(name);
        if (!r->info.id && !r->info.state) {
            r->info.state = ETWL_SIGMA_YAML;
            r->info.reason = strdup("the rule has no id");
        }
        if (!r->info.state && filtered(s, r)) {
            r->info.state = ETWL_SIGMA_FILTERED;
            r->info.reason = strdup("below --sigma-level or not in --sigma-status");
        }
        if (!r->info.state) s->running++;
    }
    sg_yaml_free(&y);
    return ETWL_OK;
}

static etwl_status load_file(etwl_sigma *s, const char *path, etwl_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, k;
    etwl_status st;
    if (!f) return etwl_error_set(err, ETWL_EIO, "%s: cannot open", path);
    for (;;) {
        if (n + 65536 > cap) {
            char *nb;
            if (cap > (64u << 20)) {
                fclose(f);
                free(buf);
                return etwl_error_set(err, ETWL_ELIMIT, "%s: larger than 64 MB", path);
            }
            nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb) {
                fclose(f);
                free(buf);
                return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
            }
            buf = nb;
        }
        k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return etwl_error_set(err, ETWL_EIO, "%s: read error", path);
    }
    fclose(f);
    st = etwl_sigma_load_string(s, buf, n, path, err);
    free(buf);
    return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_yaml(const char *name)
{
    size_t k = strlen(name);
    return (k > 4 && strcmp(name + k - 4, ".yml") == 0) || (k > 5 && strcmp(name + k - 5, ".yaml") == 0);
}

static etwl_status load_dir(etwl_sigma *s, const char *dir, int depth, etwl_error *err)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    etwl_status st = ETWL_OK;
    if (depth > 16) return ETWL_OK;
    if (!(d = opendir(dir))) return etwl_error_set(err, ETWL_EIO, "%s: cannot open the folder", dir);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        /* SigmaHQ keeps retired rules in these folders */
        if (strcmp(de->d_name, "deprecated") == 0 || strcmp(de->d_name, "unsupported") == 0) continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        if (!(names[n] = malloc(strlen(dir) + strlen(de->d_name) + 2))) break;
        sprintf(names[n++], "%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (st == ETWL_OK && stat(names[i], &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) st = load_dir(s, names[i], depth + 1, err);
            else if (is_yaml(names[i])) st = load_file(s, names[i], err);
        }
        free(names[i]);
    }
    free(names);
    return st;
}

etwl_status etwl_sigma_load(etwl_sigma *s, const char *path, etwl_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return etwl_error_set(err, ETWL_ENOTFOUND, "--sigma %s: no such file or folder", path);
    if (S_ISDIR(sb.st_mode)) return load_dir(s, path, 0, err);
    return load_file(s, path, err);
}

size_t etwl_sigma_count(const etwl_sigma *s) { return s->n; }
size_t etwl_sigma_running(const etwl_sigma *s) { return s->running; }
const etwl_sigma_rule_info *etwl_sigma_rule(const etwl_sigma *s, size_t i) { return &s->rules[i].info; }

long etwl_sigma_find(const etwl_sigma *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i].info.id && strcmp(s->rules[i].info.id, id) == 0) return (long)i;
    return -1;
}

void etwl_sigma_select(etwl_sigma *s, const char *const *only, int nonly, const char *const *skip, int nskip)
{
    for (size_t i = 0; i < s->n; i++) {
        sg_rule *r = &s->rules[i];
        int keep = nonly == 0, k;
        if (r->info.state != ETWL_SIGMA_OK || !r->info.id) continue;
        for (k = 0; k < nonly && !keep; k++) keep = strcmp(only[k], r->info.id) == 0;
        for (k = 0; k < nskip && keep; k++) keep = strcmp(skip[k], r->info.id) != 0;
        if (!keep) {
            r->info.state = ETWL_SIGMA_FILTERED;
            r->info.reason = strdup("left out by --rule / --skip-rule");
            s->running--;
            s->dirty = 1;
        }
    }
}

int etwl_sigma_rule_tags(const etwl_sigma *s, size_t i, const char *const **tags)
{
    *tags = (const char *const *)s->rules[i].tags;
    return s->rules[i].ntags;
}

void etwl_sigma_filter_out(etwl_sigma *s, size_t i, const char *why)
{
    sg_rule *r = &s->rules[i];
    if (r->info.state != ETWL_SIGMA_OK) return;
    free((char *)r->info.reason);
    r->info.state = ETWL_SIGMA_FILTERED;
    r->info.reason = strdup(why);
    s->running--;
    s->dirty = 1;
}

etwl_status etwl_sigma_exclude(etwl_sigma *s, size_t i, const char *const *keys, const char *const *const *vals,
                               const int *nv, int n, etwl_error *err)
{
    sg_rule *r = &s->rules[i];
    yaml_document_t d;
    int map, ok = 1, rc;
    char why[600];
    if (r->info.state != ETWL_SIGMA_OK)
        return etwl_error_set(err, ETWL_EINVAL, "rule %s does not run: %s", r->info.id ? r->info.id : "?",
                              r->info.reason ? r->info.reason : "?");
    if (n <= 0) return etwl_error_set(err, ETWL_EINVAL, "an exclusion needs at least one field");
    /* the map built as a YAML document, so the rule's own compiler reads
     * it: every modifier, wildcard and field mapping works as in a rule */
    if (!yaml_document_initialize(&d, NULL, NULL, NULL, 1, 1)) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    map = yaml_document_add_mapping(&d, NULL, YAML_BLOCK_MAPPING_STYLE);
    for (int k = 0; k < n && ok && map; k++) {
        int key = yaml_document_add_scalar(&d, NULL, (yaml_char_t *)keys[k], -1, YAML_PLAIN_SCALAR_STYLE), val;
        if (nv[k] == 1) {
            /* quoted: a value is text, never YAML's null */
            val = yaml_document_add_scalar(&d, NULL, (yaml_char_t *)vals[k][0], -1, YAML_SINGLE_QUOTED_SCALAR_STYLE);
        } else {
            val = yaml_document_add_sequence(&d, NULL, YAML_BLOCK_SEQUENCE_STYLE);
            for (int j = 0; j < nv[k] && val; j++) {
                int item =
                    yaml_document_add_scalar(&d, NULL, (yaml_char_t *)vals[k][j], -1, YAML_SINGLE_QUOTED_SCALAR_STYLE);
                if (!item || !yaml_document_append_sequence_item(&d, val, item)) val = 0;
            }
        }
        ok = key && val && yaml_document_append_mapping_pair(&d, map, key, val);
    }
    if (!ok || !map) {
        yaml_document_delete(&d);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    rc = sg_compile_exclusion(r, &d, yaml_document_get_node(&d, map), &s->ph, why, sizeof why);
    yaml_document_delete(&d);
    if (rc < 0) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    if (rc == 0) return etwl_error_set(err, ETWL_EINVAL, "%s", why);
    s->dirty = 1;
    return ETWL_OK;
}

static uint32_t hash_lower(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        h = (h ^ (uint8_t)c) * 16777619u;
    }
    return h;
}

static bucket *find_bucket(etwl_sigma *s, const char *name, size_t n, int channel)
{
    uint32_t h = hash_lower(name, n);
    for (size_t i = 0; i < s->nb; i++)
        if (s->b[i].h == h && s->b[i].channel == channel && strlen(s->b[i].name) == n &&
            strncasecmp(s->b[i].name, name, n) == 0)
            return &s->b[i];
    return NULL;
}

static int add_entry(etwl_sigma *s, const char *name, int channel, entry *e)
{
    bucket *b = find_bucket(s, name, strlen(name), channel);
    if (!b) {
        bucket *nb = realloc(s->b, (s->nb + 1) * sizeof *nb);
        if (!nb) return 0;
        s->b = nb;
        b = &s->b[s->nb];
        memset(b, 0, sizeof *b);
        if (!(b->name = strdup(name))) return 0;
        for (char *p = b->name; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        b->h = hash_lower(name, strlen(name));
        b->channel = channel;
        s->nb++;
    }
    if (b->n == b->cap) {
        entry *ne = realloc(b->e, (b->cap = b->cap ? b->cap * 2 : 16) * sizeof *ne);
        if (!ne) return 0;
        b->e = ne;
    }
    b->e[b->n++] = *e;
    return 1;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Correlations find their rules; each rule learns the correlations it
 * feeds, and whether it alerts itself (not when every one of them says
 * generate: false). */
static etwl_status link_correlations(etwl_sigma *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rules[i].corrs);
        s->rules[i].corrs = NULL;
        s->rules[i].ncorrs = 0;
        s->rules[i].quiet = 0;
    }
    for (size_t i = 0; i < s->n; i++) {
        sg_rule *r = &s->rules[i];
        char why[300];
        if (!r->corr || r->info.state != ETWL_SIGMA_OK) continue;
        if (!sg_corr_resolve(r->corr, s->rules, s->n, i, why, sizeof why)) {
            r->info.state = ETWL_SIGMA_CORRELATION;
            r->info.reason = strdup(why);
            s->running--;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        sg_rule *r = &s->rules[i];
        if (!r->corr || r->info.state != ETWL_SIGMA_OK) continue;
        for (size_t k = 0; k < s->n; k++) {
            sg_rule *b = &s->rules[k];
            int *nc;
            if (k == i || !sg_corr_feeds(r->corr, k)) continue;
            if (!(nc = realloc(b->corrs, (size_t)(b->ncorrs + 1) * sizeof *nc))) return ETWL_ENOMEM;
            b->corrs = nc;
            b->corrs[b->ncorrs++] = (int)i;
        }
    }
    free(s->closers);
    s->closers = NULL;
    s->ncloser = 0;
    for (size_t i = 0; i < s->n; i++) {
        sg_rule *r = &s->rules[i];
        int *nc;
        if (!r->corr || r->info.state != ETWL_SIGMA_OK || !sg_corr_at_close(r->corr)) continue;
        if (!(nc = realloc(s->closers, (size_t)(s->ncloser + 1) * sizeof *nc))) return ETWL_ENOMEM;
        s->closers = nc;
        s->closers[s->ncloser++] = (int)i;
    }
    for (size_t i = 0; i < s->n; i++) {
        sg_rule *b = &s->rules[i];
        int gen = 0;
        for (int k = 0; k < b->ncorrs; k++) gen |= sg_corr_generates(s->rules[b->corrs[k]].corr);
        b->quiet = b->ncorrs > 0 && !gen;
    }
    return ETWL_OK;
}

/* ---- event ids a rule needs ------------------------------------------------
 * A source of every id (a service: channel) would put its rules in front of
 * every event of the channel; most select EventID themselves.  When the
 * condition cannot hold without one of a set of ids, the rule is indexed
 * under those ids instead.  Sets are small: past ID_MAX, "any". */
#define ID_MAX 32

typedef struct idset {
    int known, n;
    int32_t v[ID_MAX];
} idset;

static void ids_union(idset *a, const idset *b)
{
    if (!a->known || !b->known) {
        a->known = 0;
        return;
    }
    for (int i = 0; i < b->n; i++) {
        int k;
        for (k = 0; k < a->n && a->v[k] != b->v[i]; k++) {
        }
        if (k < a->n) continue;
        if (a->n == ID_MAX) {
            a->known = 0;
            return;
        }
        a->v[a->n++] = b->v[i];
    }
}

/* the ids one map of a selection requires: its EventID item, plain numbers */
static idset map_ids(const sg_rule *r, const sg_item *items, int n)
{
    idset out = {0, 0, {0}};
    for (int k = 0; k < n; k++) {
        const sg_item *it = &items[k];
        idset one = {1, 0, {0}};
        if (it->field < 0 || strcmp(r->fields[it->field], "EventID") != 0 || it->all || !it->nv) continue;
        for (int j = 0; j < it->nv && one.known; j++) {
            const sg_val *v = &it->v[j];
            char *end;
            long id = v->op == SG_EQ && v->n > 0 && v->n < 6 ? strtol(v->s, &end, 10) : -1;
            if (id < 0 || id > 65535 || *end || v->s[0] < '0' || v->s[0] > '9') one.known = 0;
            else {
                idset x = {1, 1, {(int32_t)id}};
                ids_union(&one, &x);
            }
        }
        if (one.known) return one;
    }
    return out;
}

static idset sel_ids(const sg_rule *r, const sg_sel *sel)
{
    idset out = {1, 0, {0}};
    if (!sel->nmaps) out.known = 0;
    for (int j = 0; j < sel->nmaps && out.known; j++) {
        idset m = map_ids(r, sel->maps[j], sel->nitems[j]);
        ids_union(&out, &m);
    }
    return out;
}

static idset node_ids(const sg_rule *r, const sg_node *n)
{
    idset a, b;
    switch (n->kind) {
    case SG_AND:
        a = node_ids(r, n->a);
        if (a.known) return a;
        return node_ids(r, n->b);
    case SG_OR:
        a = node_ids(r, n->a);
        b = node_ids(r, n->b);
        ids_union(&a, &b);
        return a;
    case SG_REF: return sel_ids(r, &r->sels[n->sels[0]]);
    case SG_ONE_OF:
        a = (idset){1, 0, {0}};
        if (!n->nsels) a.known = 0;
        for (int i = 0; i < n->nsels && a.known; i++) {
            b = sel_ids(r, &r->sels[n->sels[i]]);
            ids_union(&a, &b);
        }
        return a;
    case SG_ALL_OF:
        for (int i = 0; i < n->nsels; i++) {
            a = sel_ids(r, &r->sels[n->sels[i]]);
            if (a.known) return a;
        }
        return (idset){0, 0, {0}};
    default: return (idset){0, 0, {0}};
    }
}

static etwl_status build_index(etwl_sigma *s)
{
    index_free(s);
    if (link_correlations(s) != ETWL_OK) return ETWL_ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        sg_rule *r = &s->rules[i];
        if (r->info.state != ETWL_SIGMA_OK) continue;
        for (int k = 0; k < r->nsrcs; k++) {
            const sg_source *src = r->srcs[k];
            entry e;
            e.rule = (uint32_t)i;
            e.src = src;
            e.bind = calloc((size_t)(r->nfields ? r->nfields : 1), sizeof *e.bind);
            if (!e.bind) return ETWL_ENOMEM;
            for (int f = 0; f < r->nfields; f++) {
                int hdr, conv;
                e.bind[f].prop = sg_source_field(src, r->fields[f], &hdr, &conv);
                e.bind[f].hdr = (uint8_t)hdr;
                e.bind[f].conv = (uint8_t)conv;
            }
            /* a source of every id: the ids the rule's condition needs, if any */
            idset need = {0, 0, {0}};
            if (!src->nids && r->cond) need = node_ids(r, r->cond);
            if (need.known && need.n == 0) need.known = 0;
            int nids = src->nids ? src->nids : need.known ? need.n : 1;
            for (int j = 0; j < nids; j++) {
                entry x = e;
                x.id = src->nids ? src->ids[j] : need.known ? need.v[j] : -1;
                if (j > 0 && !(x.bind = malloc((size_t)(r->nfields ? r->nfields : 1) * sizeof *x.bind))) {
                    free(e.bind);
                    return ETWL_ENOMEM;
                }
                if (j > 0) memcpy(x.bind, e.bind, (size_t)(r->nfields ? r->nfields : 1) * sizeof *x.bind);
                if (!add_entry(s, src->provider ? src->provider : src->channel, !src->provider, &x)) {
                    if (j > 0) free(x.bind);
                    if (j == 0) free(e.bind);
                    return ETWL_ENOMEM;
                }
            }
            /* a channel one provider writes: also under that provider, for
             * live events without a channel name (once per rule) */
            if (!src->provider && sg_channel_writer(src->channel)) {
                const char *w = sg_channel_writer(src->channel);
                int dup = 0;
                size_t nb = (size_t)(r->nfields ? r->nfields : 1) * sizeof *e.bind;
                for (int q = 0; q < k && !dup; q++)
                    dup = !r->srcs[q]->provider && sg_channel_writer(r->srcs[q]->channel) &&
                          strcmp(sg_channel_writer(r->srcs[q]->channel), w) == 0;
                for (int j = 0; !dup && j < nids; j++) {
                    entry x = e;
                    x.id = src->nids ? src->ids[j] : need.known ? need.v[j] : -1;
                    if (!(x.bind = malloc(nb))) return ETWL_ENOMEM;
                    memcpy(x.bind, e.bind, nb);
                    if (!add_entry(s, w, BUCKET_WRITER, &x)) {
                        free(x.bind);
                        return ETWL_ENOMEM;
                    }
                }
            }
        }
    }
    for (size_t i = 0; i < s->nb; i++) {
        bucket *b = &s->b[i];
        qsort(b->e, b->n, sizeof(entry), cmp_entry);
        for (size_t k = 0; k < b->n;) { /* one run per event id */
            size_t e = k;
            run *nr;
            sg_pf_rule *pr;
            while (e < b->n && b->e[e].id == b->e[k].id) e++;
            if (!(nr = realloc(b->runs, (b->nruns + 1) * sizeof *nr))) return ETWL_ENOMEM;
            b->runs = nr;
            nr[b->nruns] = (run){b->e[k].id, k, e - k, NULL};
            if ((pr = malloc((e - k) * sizeof *pr)) != NULL) {
                for (size_t j = k; j < e; j++) pr[j - k] = (sg_pf_rule){&s->rules[b->e[j].rule], b->e[j].bind};
                nr[b->nruns].pf = sg_pf_build(pr, e - k);
                free(pr);
            }
            /* values answer from the scan once registered: no run may lack it */
            if (!nr[b->nruns].pf) {
                b->nruns++;
                return ETWL_ENOMEM;
            }
            b->nruns++;
            k = e;
        }
    }
    s->dirty = 0;
    return ETWL_OK;
}

static size_t run_entries(etwl_sigma *s, bucket *b, run *r, etwl_event *ev, etwl_sigma_hit_fn hit, void *ctx)
{
    size_t hits = 0, nc;
    const uint32_t *cand;
    sg_pf_scan(r->pf, s->m);
    nc = sg_pf_candidates(r->pf, &cand);
    for (size_t i = 0; i < nc; i++) {
        const entry *e = &b->e[r->start + cand[i]];
        const sg_rule *rule = &s->rules[e->rule];
        if (!sg_eval(s->m, rule, e->bind)) continue;
        if (!rule->quiet) {
            hits++;
            if (hit) hit(ctx, ev, e->rule);
        }
        for (int k = 0; k < rule->ncorrs; k++)
            if (sg_corr_feed(s->rules[rule->corrs[k]].corr, s->m, rule, e->src, e->rule, ev)) {
                hits++;
                if (hit) hit(ctx, ev, (size_t)rule->corrs[k]);
            }
    }
    return hits;
}

static size_t run_bucket(etwl_sigma *s, bucket *b, etwl_event *ev, int32_t id, etwl_sigma_hit_fn hit, void *ctx)
{
    size_t lo = 0, hi = b->nruns, hits = 0;
    /* the every-id run sorts first (-1) */
    if (b->nruns && b->runs[0].id == -1) hits += run_entries(s, b, &b->runs[0], ev, hit, ctx);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->runs[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    if (lo < b->nruns && b->runs[lo].id == id && id != -1) hits += run_entries(s, b, &b->runs[lo], ev, hit, ctx);
    return hits;
}

etwl_status etwl_sigma_prepare(etwl_sigma *s, etwl_error *err)
{
    if (s->dirty && build_index(s) != ETWL_OK) {
        index_free(s);
        return etwl_error_set(err, ETWL_ENOMEM, "sigma: out of memory building the rule index");
    }
    return ETWL_OK;
}

typedef struct closing {
    etwl_event *ev;
    etwl_sigma_hit_fn hit;
    void *ctx;
    size_t rule, hits;
} closing;

static void on_close(void *p)
{
    closing *c = p;
    c->hits++;
    if (c->hit) c->hit(c->ctx, c->ev, c->rule);
}

size_t etwl_sigma_match(etwl_sigma *s, etwl_event *ev, etwl_sigma_hit_fn hit, void *ctx)
{
    const etwl_header *h = etwl_event_header(ev);
    bucket *b;
    size_t hits = 0;
    /* etwl_sigma_prepare reports a failure; here it only leaves the index
     * empty (dirty stays cleared so it is not rebuilt per event) */
    if (s->dirty && build_index(s) != ETWL_OK) {
        index_free(s);
        s->dirty = 0;
        return 0;
    }
    if (!s->nb) return 0;
    /* windows this event's time has closed are decided first; the alert
     * carries the event that closed them, its fields the window's group */
    for (int i = 0; i < s->ncloser; i++) {
        closing c = {ev, hit, ctx, (size_t)s->closers[i], 0};
        sg_corr_tick(s->rules[s->closers[i]].corr, h->ts, on_close, &c);
        hits += c.hits;
    }
    sg_matcher_begin(s->m, ev);
    if ((h->has & ETWL_HAS_PROVIDER_NAME) && (b = find_bucket(s, h->provider_name, h->provider_name_len, 0)))
        hits += run_bucket(s, b, ev, h->desc.id, hit, ctx);
    if ((h->has & ETWL_HAS_CHANNEL_NAME) && (b = find_bucket(s, h->channel_name, h->channel_name_len, 1)))
        hits += run_bucket(s, b, ev, h->desc.id, hit, ctx);
    if (!(h->has & ETWL_HAS_CHANNEL_NAME)) {
        /* live ETW: no channel name.  A provider that alone writes a
         * channel stands for it; the global channels are known by the
         * descriptor's number (winmeta.xml: System 8, Application 9,
         * Security 10), whoever wrote the event */
        static const char *const global[] = {"system", "application", "security"};
        if ((h->has & ETWL_HAS_PROVIDER_NAME) &&
            (b = find_bucket(s, h->provider_name, h->provider_name_len, BUCKET_WRITER)))
            hits += run_bucket(s, b, ev, h->desc.id, hit, ctx);
        if (h->desc.channel >= 8 && h->desc.channel <= 10 &&
            (b = find_bucket(s, global[h->desc.channel - 8], strlen(global[h->desc.channel - 8]), 1)))
            hits += run_bucket(s, b, ev, h->desc.id, hit, ctx);
    }
    return hits;
}

uint64_t etwl_sigma_regex_limit_hits(const etwl_sigma *s) { return sg_matcher_limit_hits(s->m); }

uint64_t etwl_sigma_corr_evictions(const etwl_sigma *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i].corr) n += sg_corr_evicted(s->rules[i].corr);
    return n;
}

size_t etwl_sigma_corr_groups(const etwl_sigma *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->rules[i].corr) n += sg_corr_groups(s->rules[i].corr);
    return n;
}

/* Rule files come from anywhere: every line of the plan goes through the
 * terminal escaper (controls, bidi overrides), the newlines kept. */
void etwl_sigma_plan(const etwl_sigma *s, size_t rule, etwl_buf *b)
{
    etwl_buf t;
    size_t i = 0;
    etwl_buf_init(&t);
    sg_plan_write(&s->rules[rule], &t);
    while (t.data && i < t.len) {
        const char *nl = memchr(t.data + i, '\n', t.len - i);
        size_t end = nl ? (size_t)(nl - t.data) : t.len;
        etwl_text_put_controls_escaped(b, t.data + i, end - i);
        if (nl) etwl_buf_putc(b, '\n');
        i = end + 1;
    }
    etwl_buf_free(&t);
}

/* ---- the alert ------------------------------------------------------------ */
static void techniques(etwl_buf *b, int json, void *ctx)
{
    const sg_rule *r = ctx;
    int n = 0;
    if (json) etwl_buf_putc(b, '[');
    for (int i = 0; i < r->ntags; i++) {
        const char *t = r->tags[i];
        char up[64];
        size_t k;
        /* attack.t1059.001 -> T1059.001 */
        if (strncmp(t, "attack.t", 8) != 0 || t[8] < '0' || t[8] > '9' || strlen(t + 7) >= sizeof up) continue;
        for (k = 0; t[7 + k]; k++) up[k] = t[7 + k] == 't' ? 'T' : t[7 + k];
        up[k] = 0;
        if (json) {
            if (n) etwl_buf_putc(b, ',');
            etwl_json_put_string(b, up, k);
        } else {
            if (n) etwl_buf_putc(b, ',');
            etwl_text_put_escaped(b, up, k);
        }
        n++;
    }
    if (json) etwl_buf_putc(b, ']');
}

static void put_list(etwl_buf *b, char *const *v, int n)
{
    etwl_buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        if (i) etwl_buf_putc(b, ',');
        etwl_json_put_string(b, v[i], strlen(v[i]));
    }
    etwl_buf_putc(b, ']');
}

static void jkey(etwl_buf *b, const char *k, const char *v)
{
    etwl_buf_printf(b, ",\"%s\":", k);
    if (v) etwl_json_put_string(b, v, strlen(v));
    else etwl_buf_puts(b, "null");
}

static void tkey(etwl_buf *b, const char *k, const char *v)
{
    if (!v) return;
    etwl_buf_printf(b, " %s=", k);
    etwl_text_put_escaped(b, v, strlen(v));
}

static void fields(etwl_buf *b, int json, void *ctx)
{
    const sg_rule *r = ctx;
    if (json) {
        etwl_buf_puts(b, "{\"sigma_id\":");
        etwl_json_put_string(b, r->info.id, strlen(r->info.id));
        jkey(b, "status", r->info.status);
        jkey(b, "level", r->info.level);
        jkey(b, "author", r->info.author);
        etwl_buf_puts(b, ",\"references\":");
        put_list(b, r->refs, r->nrefs);
        etwl_buf_puts(b, ",\"falsepositives\":");
        put_list(b, r->fps, r->nfps);
        jkey(b, "link", r->link);
        jkey(b, "license", "DRL 1.1");
        if (r->corr) {
            etwl_buf_puts(b, ",\"correlation\":");
            sg_corr_fired_write(r->corr, b, 1);
        }
        etwl_buf_putc(b, '}');
        return;
    }
    tkey(b, "sigma_id", r->info.id);
    tkey(b, "status", r->info.status);
    tkey(b, "author", r->info.author);
    tkey(b, "link", r->link);
    if (r->corr) sg_corr_fired_write(r->corr, b, 0);
}

void etwl_sigma_alert_of(const etwl_sigma *s, size_t rule, etwl_event *ev, etwl_alert *a, char ts[ETWL_TIME_STRLEN + 1])
{
    const sg_rule *r = &s->rules[rule];
    const char *sev = r->info.level ? r->info.level : "medium";
    if (strcmp(sev, "informational") == 0) sev = "info";
    else if (level_index(sev) < 0) sev = "medium";
    if (etwl_time_format(etwl_event_header(ev)->ts, ts) != ETWL_OK) strcpy(ts, "1601-01-01T00:00:00.0000000Z");
    memset(a, 0, sizeof *a);
    a->time = ts;
    a->rule = r->info.id;
    a->rule_len = strlen(r->info.id);
    a->title = r->info.title;
    a->title_len = r->info.title ? strlen(r->info.title) : 0;
    a->severity = sev;
    a->message = r->desc;
    a->message_len = r->desc ? strlen(r->desc) : 0;
    a->event = ev;
    a->techniques = techniques;
    a->fields = fields;
    a->ctx = (void *)r;
}

void etwl_sigma_alert(const etwl_sigma *s, size_t rule, etwl_event *ev, etwl_buf *b, int form)
{
    char ts[ETWL_TIME_STRLEN + 1];
    etwl_alert a;
    etwl_sigma_alert_of(s, rule, ev, &a, ts);
    etwl_alert_write(b, &a, form);
}
