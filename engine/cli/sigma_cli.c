/* sigma_cli.c - see sigma_cli.h.
 *
 * The matcher runs from the command's event callback, in C, before the Lua
 * handlers: a Sigma rule needs no Lua state, so --sigma works with
 * --no-rules and no scripts, and its cost is the plan's alone. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <unistd.h>

#include "output/alert.h"
#include "outputs.h"
#include "sigma_cli.h"

#ifndef ETWL_HAVE_SIGMA

etwl_status etwl_cli_sigma_setup(etwl_cli_opts *o, etwl_cli_sigma **out, etwl_error *err)
{
    *out = NULL;
    if (!o->nsigma && !o->sigma_level && !o->sigma_status && !o->sigma_config) return ETWL_OK;
    return etwl_error_set(err, ETWL_ENOTSUP,
                          "--sigma: Sigma rules are not built into this etwlua (they need "
                          "libyaml and PCRE2; use the Linux build)");
}
void etwl_cli_sigma_set_outputs(etwl_cli_sigma *cs, void *outs)
{
    (void)cs;
    (void)outs;
}
void etwl_cli_sigma_event(etwl_cli_sigma *cs, etwl_event *ev, FILE *fp)
{
    (void)cs;
    (void)ev;
    (void)fp;
}
void etwl_cli_sigma_finish(etwl_cli_sigma *cs, int stats)
{
    (void)cs;
    (void)stats;
}
struct etwl_sigma *etwl_cli_sigma_set(etwl_cli_sigma *cs)
{
    (void)cs;
    return NULL;
}
void etwl_cli_sigma_add_alerts(etwl_cli_sigma *cs, uint64_t alerts, uint64_t suppressed)
{
    (void)cs;
    (void)alerts;
    (void)suppressed;
}
size_t etwl_cli_sigma_running(const etwl_cli_sigma *cs)
{
    (void)cs;
    return 0;
}
etwl_status etwl_cli_sigma_setup_quiet(etwl_cli_opts *o, etwl_cli_sigma **out, etwl_error *err)
{
    return etwl_cli_sigma_setup(o, out, err);
}
void etwl_cli_sigma_set_writer(etwl_cli_sigma *cs, void (*write)(const struct etwl_alert *a, void *ctx), void *ctx)
{
    (void)cs;
    (void)write;
    (void)ctx;
}
void etwl_cli_sigma_absorb(etwl_cli_sigma *into, etwl_cli_sigma *from)
{
    (void)into;
    (void)from;
}
int etwl_sigma_cli_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "etwlua: sigma: Sigma rules are not built into this etwlua (they need libyaml and PCRE2)\n");
    return ETWL_EXIT_NOTSUP;
}

#else

#include "sigma/sigma.h"
#include "sigma/sigma_int.h"

struct etwl_cli_sigma {
    etwl_sigma *set;
    etwl_buf out;
    int form;
    FILE *fp;
    void *outs;                                    /* the -o outputs, or NULL: stdout */
    void (*write)(const etwl_alert *a, void *ctx); /* set: alerts go here */
    void *write_ctx;
    /* what absorbed workers counted (-j) */
    uint64_t more_alerts, more_lim, more_evictions;
    size_t more_groups;
    uint64_t alerts, suppressed;
};

struct etwl_sigma *etwl_cli_sigma_set(etwl_cli_sigma *cs) { return cs ? cs->set : NULL; }

void etwl_cli_sigma_add_alerts(etwl_cli_sigma *cs, uint64_t alerts, uint64_t suppressed)
{
    if (!cs) return;
    cs->alerts += alerts;
    cs->suppressed += suppressed;
}

static int safe_id(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static void put_escaped(FILE *fp, const char *s)
{
    etwl_buf b;
    etwl_buf_init(&b);
    etwl_text_put_escaped(&b, s ? s : "", s ? strlen(s) : 0);
    if (b.data) fputs(b.data, fp);
    etwl_buf_free(&b);
}

/* Per reason: how many rules, and the first `list` of them. */
static void report_states(const etwl_sigma *s, FILE *fp, size_t list, const char *prefix)
{
    for (int st = ETWL_SIGMA_FILTERED; st < ETWL_SIGMA_NSTATES; st++) {
        size_t n = 0, shown = 0;
        for (size_t i = 0; i < etwl_sigma_count(s); i++) n += etwl_sigma_rule(s, i)->state == (etwl_sigma_state)st;
        if (!n) continue;
        fprintf(fp, "%s%s: %zu rule(s)\n", prefix, etwl_sigma_state_name((etwl_sigma_state)st), n);
        for (size_t i = 0; i < etwl_sigma_count(s) && shown < list; i++) {
            const etwl_sigma_rule_info *r = etwl_sigma_rule(s, i);
            if (r->state != (etwl_sigma_state)st) continue;
            fprintf(fp, "%s  ", prefix);
            put_escaped(fp, r->path);
            fputs(": ", fp);
            put_escaped(fp, r->reason);
            fputc('\n', fp);
            shown++;
        }
        if (shown < n) fprintf(fp, "%s  ... and %zu more (etwlua sigma check lists them all)\n", prefix, n - shown);
    }
}

static etwl_status setup(etwl_cli_opts *o, etwl_cli_sigma **out, int quiet, etwl_error *err)
{
    etwl_cli_sigma *cs;
    etwl_status st;
    size_t bad = 0;
    *out = NULL;
    if (!o->nsigma) {
        if (o->sigma_level || o->sigma_status || o->sigma_config)
            return etwl_error_set(err, ETWL_EINVAL,
                                  "--sigma-level, --sigma-status and --sigma-config need --sigma PATH");
        return ETWL_OK;
    }
    if (!(cs = calloc(1, sizeof *cs)) || etwl_sigma_new(&cs->set) != ETWL_OK) {
        free(cs);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    etwl_buf_init(&cs->out);
    cs->form = etwl_cli_stdout_form(o, isatty(1));
    if ((o->sigma_config && (st = etwl_sigma_set_config(cs->set, o->sigma_config, err)) != ETWL_OK) ||
        (o->sigma_level && (st = etwl_sigma_set_min_level(cs->set, o->sigma_level, err)) != ETWL_OK) ||
        (o->sigma_status && (st = etwl_sigma_set_statuses(cs->set, o->sigma_status, err)) != ETWL_OK)) {
        etwl_cli_sigma_finish(cs, 0);
        return st;
    }
    for (int i = 0; i < o->nsigma; i++)
        if ((st = etwl_sigma_load(cs->set, o->sigma_paths[i], err)) != ETWL_OK) {
            etwl_cli_sigma_finish(cs, 0);
            return st;
        }
    etwl_sigma_select(cs->set, o->rule_only, o->nrule_only, o->rule_skip, o->nrule_skip);
    for (int pass = 0; pass < 2; pass++) {
        const char *const *l = pass ? o->rule_skip : o->rule_only;
        int n = pass ? o->nrule_skip : o->nrule_only;
        for (int i = 0; i < n; i++)
            if (etwl_sigma_find(cs->set, l[i]) >= 0 && safe_id(l[i]) && o->nsigma_known < 128)
                o->sigma_known[o->nsigma_known++] = l[i];
    }
    if ((st = etwl_sigma_prepare(cs->set, err)) != ETWL_OK) {
        etwl_cli_sigma_finish(cs, 0);
        return st;
    }
    for (size_t i = 0; i < etwl_sigma_count(cs->set); i++) {
        etwl_sigma_state s = etwl_sigma_rule(cs->set, i)->state;
        bad += s != ETWL_SIGMA_OK && s != ETWL_SIGMA_FILTERED;
    }
    if (!quiet && (!o->alerts_only || bad)) {
        fprintf(stderr, "etwlua: sigma: %zu of %zu rule(s) run", etwl_sigma_running(cs->set),
                etwl_sigma_count(cs->set));
        if (bad) fprintf(stderr, "; %zu cannot run here:\n", bad);
        else fputc('\n', stderr);
        if (bad) report_states(cs->set, stderr, 5, "etwlua:   ");
    }
    *out = cs;
    return ETWL_OK;
}

etwl_status etwl_cli_sigma_setup(etwl_cli_opts *o, etwl_cli_sigma **out, etwl_error *err)
{
    return setup(o, out, 0, err);
}

etwl_status etwl_cli_sigma_setup_quiet(etwl_cli_opts *o, etwl_cli_sigma **out, etwl_error *err)
{
    return setup(o, out, 1, err);
}

void etwl_cli_sigma_set_writer(etwl_cli_sigma *cs, void (*write)(const etwl_alert *a, void *ctx), void *ctx)
{
    if (!cs) return;
    cs->write = write;
    cs->write_ctx = ctx;
}

void etwl_cli_sigma_absorb(etwl_cli_sigma *into, etwl_cli_sigma *from)
{
    if (!from) return;
    if (into) {
        into->more_alerts += from->alerts + from->more_alerts;
        into->suppressed += from->suppressed;
        into->more_lim += etwl_sigma_regex_limit_hits(from->set) + from->more_lim;
        into->more_evictions += etwl_sigma_corr_evictions(from->set) + from->more_evictions;
        into->more_groups += etwl_sigma_corr_groups(from->set) + from->more_groups;
    }
    etwl_sigma_free(from->set);
    etwl_buf_free(&from->out);
    free(from);
}

static void on_hit(void *ctx, etwl_event *ev, size_t rule)
{
    etwl_cli_sigma *cs = ctx;
    if (cs->write) { /* the command's writer: counted for the summary, and merged under -j */
        char ts[ETWL_TIME_STRLEN + 1];
        etwl_alert a;
        etwl_sigma_alert_of(cs->set, rule, ev, &a, ts);
        cs->write(&a, cs->write_ctx);
        cs->alerts++;
        return;
    }
    if (cs->outs) { /* -o: the outputs' queues, like script alerts */
        char ts[ETWL_TIME_STRLEN + 1];
        etwl_alert a;
        etwl_sigma_alert_of(cs->set, rule, ev, &a, ts);
        etwl_outputs_alert(&a, cs->outs);
        cs->alerts++;
        return;
    }
    etwl_buf_reset(&cs->out);
    etwl_sigma_alert(cs->set, rule, ev, &cs->out, cs->form);
    etwl_buf_putc(&cs->out, '\n');
    if (!cs->out.oom) fwrite(cs->out.data, 1, cs->out.len, cs->fp);
    cs->alerts++;
}

void etwl_cli_sigma_set_outputs(etwl_cli_sigma *cs, void *outs)
{
    if (cs) cs->outs = outs;
}

void etwl_cli_sigma_event(etwl_cli_sigma *cs, etwl_event *ev, FILE *fp)
{
    cs->fp = fp;
    etwl_sigma_match(cs->set, ev, on_hit, cs);
}

size_t etwl_cli_sigma_running(const etwl_cli_sigma *cs) { return cs ? etwl_sigma_running(cs->set) : 0; }

void etwl_cli_sigma_finish(etwl_cli_sigma *cs, int stats)
{
    uint64_t lim, ev;
    if (!cs) return;
    lim = (cs->set ? etwl_sigma_regex_limit_hits(cs->set) : 0) + cs->more_lim;
    ev = (cs->set ? etwl_sigma_corr_evictions(cs->set) : 0) + cs->more_evictions;
    cs->alerts += cs->more_alerts;
    if (lim)
        fprintf(stderr,
                "etwlua: sigma: %llu regular-expression match(es) hit the PCRE2 match limit (counted as no "
                "match)\n",
                (unsigned long long)lim);
    if (ev)
        fprintf(stderr, "etwlua: sigma: %llu correlation group(s) dropped to keep the state bounded\n",
                (unsigned long long)ev);
    if (stats && cs->set)
        fprintf(stderr,
                "etwlua: sigma stats: rules=%zu running=%zu alerts=%llu suppressed_by_scripts=%llu "
                "regex_limit_hits=%llu correlation_groups=%zu correlation_evictions=%llu\n",
                etwl_sigma_count(cs->set), etwl_sigma_running(cs->set), (unsigned long long)cs->alerts,
                (unsigned long long)cs->suppressed, (unsigned long long)lim,
                etwl_sigma_corr_groups(cs->set) + cs->more_groups, (unsigned long long)ev);
    etwl_sigma_free(cs->set);
    etwl_buf_free(&cs->out);
    free(cs);
}

/* ---- etwlua sigma check | convert | test --------------------------------- */
static int load_all(etwl_sigma *s, char **argv, int from, int to)
{
    etwl_error err;
    for (int i = from; i < to; i++) {
        /* --config FILE: placeholders for |expand, for the paths after it */
        if (strcmp(argv[i], "--config") == 0 && i + 1 < to) {
            if (etwl_sigma_set_config(s, argv[++i], &err) == ETWL_OK) continue;
        } else if (etwl_sigma_load(s, argv[i], &err) == ETWL_OK) {
            continue;
        }
        fprintf(stderr, "etwlua: sigma: %s\n", err.message);
        return 0;
    }
    return 1;
}

static int cmd_check(int argc, char **argv)
{
    etwl_sigma *s;
    size_t n, run, notes = 0;
    int quiet = 0, from = 3;
    if (argc > 3 && strcmp(argv[3], "--quiet") == 0) quiet = 1, from = 4;
    if (argc <= from) {
        fprintf(stderr, "usage: etwlua sigma check [--quiet] [--config FILE] PATH...\n");
        return ETWL_EXIT_USAGE;
    }
    if (etwl_sigma_new(&s) != ETWL_OK) return ETWL_EXIT_FAILURE;
    if (!load_all(s, argv, from, argc)) {
        etwl_sigma_free(s);
        return ETWL_EXIT_FAILURE;
    }
    n = etwl_sigma_count(s);
    run = etwl_sigma_running(s);
    if (!quiet) report_states(s, stdout, (size_t)-1, "");
    for (size_t i = 0; i < n; i++) {
        const etwl_sigma_rule_info *r = etwl_sigma_rule(s, i);
        if (r->state != ETWL_SIGMA_OK || !r->note) continue;
        if (!quiet) {
            fputs("note: ", stdout);
            put_escaped(stdout, r->path);
            fputs(": ", stdout);
            put_escaped(stdout, r->note);
            fputc('\n', stdout);
        }
        notes++;
    }
    printf("sigma-check: %zu rules: %zu compile and run (%.1f%%), %zu do not; %zu run with a field their source "
           "lacks\n",
           n, run, n ? 100.0 * (double)run / (double)n : 0.0, n - run, notes);
    etwl_sigma_free(s);
    return ETWL_EXIT_OK;
}

static int cmd_convert(int argc, char **argv)
{
    etwl_sigma *s;
    etwl_buf b;
    if (argc < 4) {
        fprintf(stderr, "usage: etwlua sigma convert RULE.yml...\n");
        return ETWL_EXIT_USAGE;
    }
    if (etwl_sigma_new(&s) != ETWL_OK) return ETWL_EXIT_FAILURE;
    if (!load_all(s, argv, 3, argc)) {
        etwl_sigma_free(s);
        return ETWL_EXIT_FAILURE;
    }
    etwl_buf_init(&b);
    for (size_t i = 0; i < etwl_sigma_count(s); i++) {
        etwl_buf_reset(&b);
        etwl_sigma_plan(s, i, &b);
        if (b.data) fputs(b.data, stdout);
    }
    etwl_buf_free(&b);
    etwl_sigma_free(s);
    return ETWL_EXIT_OK;
}

typedef struct rcount {
    etwl_sigma *s;
    size_t rule;
    long hits;
} rcount;

static void count_hit(void *ctx, etwl_event *ev, size_t rule)
{
    rcount *c = ctx;
    (void)ev;
    c->hits += rule == c->rule;
}

static etwl_status count_event(etwl_event *ev, void *ctx)
{
    rcount *c = ctx;
    etwl_sigma_match(c->s, ev, count_hit, c);
    return ETWL_OK;
}

static void find_info(const char *dir, char ***v, size_t *n, int depth)
{
    DIR *d = depth < 16 ? opendir(dir) : NULL;
    struct dirent *de;
    if (!d) return;
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat sb;
        if (de->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path || stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            find_info(path, v, n, depth + 1);
        } else if (strcmp(de->d_name, "info.yml") == 0) {
            char **nv = realloc(*v, (*n + 1) * sizeof *nv);
            if (!nv) break;
            *v = nv;
            if (((*v)[*n] = strdup(path)) != NULL) ++*n;
        }
    }
    closedir(d);
}

static int cmp_s(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long k;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (k = ftell(f)) < 0 || k > (1 << 20) || fseek(f, 0, SEEK_SET) != 0 ||
        !(b = malloc((size_t)k + 1))) {
        fclose(f);
        return NULL;
    }
    *n = fread(b, 1, (size_t)k, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* --counts FILE: match_count corrections, one "RULE-ID COUNT  # why" a
 * line, for cases whose info.yml count the events themselves contradict
 * (each line says how).  A correction replaces the info.yml count. */
typedef struct correction {
    char id[64];
    long count;
    int used;
} correction;

typedef struct corrections {
    correction *v;
    size_t n;
} corrections;

static int load_corrections(const char *path, corrections *c)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int ln = 0;
    if (!f) {
        fprintf(stderr, "etwlua: sigma test: --counts %s: cannot open\n", path);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        char id[64], *hash = strchr(line, '#'), tail[8];
        long count;
        int k;
        ln++;
        if (hash) *hash = 0;
        k = sscanf(line, "%63s %ld %7s", id, &count, tail);
        if (k <= 0) continue;
        if (k != 2 || count < 0) {
            fprintf(stderr, "etwlua: sigma test: --counts %s:%d: expected 'RULE-ID COUNT  # why'\n", path, ln);
            fclose(f);
            return 0;
        }
        correction *nv = realloc(c->v, (c->n + 1) * sizeof *nv);
        if (!nv) {
            fclose(f);
            return 0;
        }
        c->v = nv;
        snprintf(nv[c->n].id, sizeof nv[c->n].id, "%s", id);
        nv[c->n].count = count;
        nv[c->n++].used = 0;
    }
    fclose(f);
    return 1;
}

/* One info.yml: every evtx case of its rule.  Returns 1 when it passes. */
static int run_case(etwl_sigma *s, const char *info, const char *root, corrections *fix)
{
    size_t n;
    char *text = slurp(info, &n), dir[4096], why[600] = "", warn[128] = "";
    sg_yaml y;
    etwl_error err;
    yaml_document_t *d;
    yaml_node_t *top, *meta, *tests;
    const char *id = NULL, *title = "";
    long idx;
    int ok = 1, cases = 0;
    long total = 0;
    snprintf(dir, sizeof dir, "%s", info);
    if (strrchr(dir, '/')) *strrchr(dir, '/') = 0;
    if (!text || sg_yaml_load(&y, text, n, info, &err) != ETWL_OK || y.ndocs < 1) {
        printf("FAIL %s: %s\n", info, text ? err.message : "cannot read");
        free(text);
        return 0;
    }
    d = &y.docs[0];
    top = sg_yaml_root(&y, 0);
    meta = sg_yaml_get(d, top, "rule_metadata");
    if (meta && meta->type == YAML_SEQUENCE_NODE && meta->data.sequence.items.top > meta->data.sequence.items.start) {
        yaml_node_t *m0 = yaml_document_get_node(d, *meta->data.sequence.items.start);
        id = sg_yaml_str(sg_yaml_get(d, m0, "id"));
        if (sg_yaml_str(sg_yaml_get(d, m0, "title"))) title = sg_yaml_str(sg_yaml_get(d, m0, "title"));
    }
    tests = sg_yaml_get(d, top, "regression_tests_info");
    idx = id ? etwl_sigma_find(s, id) : -1;
    if (!id) {
        snprintf(why, sizeof why, "no rule_metadata id");
        ok = 0;
    } else if (idx < 0) {
        snprintf(why, sizeof why, "rule not among the rules loaded");
        ok = 0;
    } else if (etwl_sigma_rule(s, (size_t)idx)->state != ETWL_SIGMA_OK) {
        snprintf(why, sizeof why, "rule does not run: %s", etwl_sigma_rule(s, (size_t)idx)->reason);
        ok = 0;
    } else if (!tests || tests->type != YAML_SEQUENCE_NODE) {
        snprintf(why, sizeof why, "no regression_tests_info list");
        ok = 0;
    }
    for (yaml_node_item_t *p = ok ? tests->data.sequence.items.start : NULL; p && p < tests->data.sequence.items.top;
         p++) {
        yaml_node_t *t = yaml_document_get_node(d, *p);
        const char *type = sg_yaml_str(sg_yaml_get(d, t, "type"));
        const char *path = sg_yaml_str(sg_yaml_get(d, t, "path"));
        const char *mc = sg_yaml_str(sg_yaml_get(d, t, "match_count"));
        char file[8192], fixed[32];
        long want;
        char *end = NULL;
        etwl_config cfg;
        etwl_session *ses;
        rcount c = {s, (size_t)idx, 0};
        if (!type || strcmp(type, "evtx") != 0 || !path) continue;
        cases++;
        /* the path is relative to the repository root (the folder above
         * regression_data); else the file beside info.yml */
        snprintf(file, sizeof file, "%s/%s", root, path);
        if (access(file, R_OK) != 0) {
            const char *base = strrchr(path, '/');
            snprintf(file, sizeof file, "%s/%s", dir, base ? base + 1 : path);
        }
        etwl_config_init(&cfg);
        cfg.read_path = file;
        if (etwl_session_open(&cfg, &ses, &err) != ETWL_OK) {
            snprintf(why, sizeof why, "%s", err.message);
            ok = 0;
            break;
        }
        if (etwl_session_process(ses, count_event, &c, &err) != ETWL_OK) {
            snprintf(why, sizeof why, "%s", err.message);
            ok = 0;
        }
        etwl_session_free(ses);
        total += c.hits;
        /* match_count, when given, is exact: more matches than the case
         * holds is as much a defect (a modifier too permissive, a field
         * mapped wrong) as fewer.  Without it, at least one. */
        for (size_t k = 0; mc && fix && k < fix->n; k++)
            if (strcmp(fix->v[k].id, id) == 0) {
                snprintf(fixed, sizeof fixed, "%ld", fix->v[k].count);
                snprintf(warn, sizeof warn, "; match_count %s corrected by --counts", mc);
                fix->v[k].used = 1;
                mc = fixed;
            }
        want = mc ? strtol(mc, &end, 10) : 1;
        if (ok && mc && (end == mc || *end || want < 0)) {
            snprintf(why, sizeof why, "match_count '%s' is not a count", mc);
            ok = 0;
        } else if (ok && (mc ? c.hits != want : c.hits < 1)) {
            snprintf(why, sizeof why, "%ld match(es), expected %s%s", c.hits, mc ? "" : "at least ", mc ? mc : "1");
            ok = 0;
        }
    }
    if (ok && !cases) {
        snprintf(why, sizeof why, "no evtx case");
        ok = 0;
    }
    printf("%s %s ", ok ? "PASS" : "FAIL", id ? id : info);
    put_escaped(stdout, title);
    if (ok) printf(" (%ld match(es)%s)\n", total, warn);
    else {
        fputs(": ", stdout);
        put_escaped(stdout, why);
        fputc('\n', stdout);
    }
    sg_yaml_free(&y);
    free(text);
    return ok;
}

static int cmd_test(int argc, char **argv)
{
    etwl_sigma *s;
    const char *reg = NULL;
    int last = argc, pass = 0, fail = 0;
    char root[4096];
    char **infos = NULL;
    size_t ninfos = 0;
    corrections fix = {NULL, 0};
    const char *counts = NULL;
    for (int i = 3; i < argc; i++)
        if ((strcmp(argv[i], "--regression") == 0 || strcmp(argv[i], "--counts") == 0) && i + 1 < argc) {
            if (argv[i][2] == 'r') reg = argv[i + 1];
            else counts = argv[i + 1];
            if (last == argc) last = i;
            i++;
        } else if (last != argc) {
            fprintf(stderr, "etwlua: sigma test: '%s' after the options (rules come first)\n", argv[i]);
            return ETWL_EXIT_USAGE;
        }
    if (!reg || last <= 3) {
        fprintf(stderr, "usage: etwlua sigma test RULES... --regression DIR [--counts FILE]\n");
        return ETWL_EXIT_USAGE;
    }
    if (counts && !load_corrections(counts, &fix)) {
        free(fix.v);
        return ETWL_EXIT_USAGE;
    }
    if (etwl_sigma_new(&s) != ETWL_OK) return ETWL_EXIT_FAILURE;
    if (!load_all(s, argv, 3, last)) {
        etwl_sigma_free(s);
        return ETWL_EXIT_FAILURE;
    }
    snprintf(root, sizeof root, "%s/..", reg);
    find_info(reg, &infos, &ninfos, 0);
    if (ninfos) qsort(infos, ninfos, sizeof *infos, cmp_s);
    for (size_t i = 0; i < ninfos; i++) {
        if (run_case(s, infos[i], root, &fix)) pass++;
        else fail++;
        free(infos[i]);
    }
    free(infos);
    fflush(stdout);
    if (etwl_sigma_regex_limit_hits(s))
        fprintf(stderr, "etwlua: sigma: %llu regex match(es) hit the PCRE2 limit\n",
                (unsigned long long)etwl_sigma_regex_limit_hits(s));
    /* a correction that no case used is stale: the data changed under it */
    for (size_t k = 0; k < fix.n; k++)
        if (!fix.v[k].used) {
            printf("FAIL %s: --counts corrects a case that is not there or has no match_count\n", fix.v[k].id);
            fail++;
        }
    free(fix.v);
    printf("sigma-regression: %d passed, %d failed\n", pass, fail);
    etwl_sigma_free(s);
    return fail || !ninfos ? ETWL_EXIT_FAILURE : ETWL_EXIT_OK;
}

int etwl_sigma_cli_main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[2], "check") == 0) return cmd_check(argc, argv);
    if (argc > 2 && strcmp(argv[2], "convert") == 0) return cmd_convert(argc, argv);
    if (argc > 2 && strcmp(argv[2], "test") == 0) return cmd_test(argc, argv);
    fprintf(stderr, "usage: etwlua sigma check [--quiet] [--config FILE] PATH...\n"
                    "       etwlua sigma convert [--config FILE] RULE.yml...\n"
                    "       etwlua sigma test RULES... --regression DIR [--counts FILE]\n");
    return ETWL_EXIT_USAGE;
}

#endif
