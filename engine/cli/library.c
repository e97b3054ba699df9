/* library.c - the rule library: finding it, loading it, and `etwlua test`.
 *
 * Rules are Lua files under lua/rules/ (source tree) or
 * PREFIX/share/etwlua/lua/rules (installed): the same place beside the
 * modules either way, found from the lua/ directory the
 * host already located.  They load before user scripts, in path order. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

#include "library.h"
#include "lua/lua_host.h"

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int etwl_default_rules_dir(etwl_lua *x, char *out, size_t n)
{
    /* lua/rules in the source tree and in an install alike */
    if (snprintf(out, n, "%s/rules", etwl_lua_dir(x)) < (int)n && is_dir(out)) return 1;
    return 0;
}

typedef struct flist {
    char **v;
    int n, cap;
} flist;

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void collect(const char *dir, flist *l, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (!d || depth > 8) {
        if (d) closedir(d);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        size_t k = strlen(de->d_name);
        if (de->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        if (is_dir(path)) {
            collect(path, l, depth + 1);
        } else if (k > 4 && strcmp(de->d_name + k - 4, ".lua") == 0) {
            if (l->n == l->cap) {
                char **v = realloc(l->v, (size_t)(l->cap = l->cap ? l->cap * 2 : 64) * sizeof *v);
                if (!v) break;
                l->v = v;
            }
            l->v[l->n] = strdup(path);
            if (l->v[l->n]) l->n++;
        }
    }
    closedir(d);
}

/* Loads every .lua under path (or path itself), sorted. */
static etwl_status load_path(etwl_lua *x, const char *path, int *count, etwl_error *err)
{
    flist l = {NULL, 0, 0};
    etwl_status st = ETWL_OK;
    int i;
    if (is_dir(path)) collect(path, &l, 0);
    else return (++*count, etwl_lua_load_rule_file(x, path, err));
    qsort(l.v, (size_t)l.n, sizeof *l.v, cmp);
    for (i = 0; i < l.n && st == ETWL_OK; i++) {
        st = etwl_lua_load_rule_file(x, l.v[i], err);
        ++*count;
    }
    for (i = 0; i < l.n; i++) free(l.v[i]);
    free(l.v);
    return st;
}

/* Every --rule and --skip-rule id must name a loaded rule: a misspelt id
 * would otherwise run zero rules, or skip none, and exit 0. */
static etwl_status check_selection(etwl_lua *x, const etwl_cli_opts *o, etwl_error *err)
{
    /* ids that name Sigma rules are known too (engine/cli/sigma_cli.c puts
     * only ids of [A-Za-z0-9._-] in sigma_known, so they quote safely) */
    etwl_buf code;
    etwl_status st;
    etwl_buf_init(&code);
    etwl_buf_puts(&code, "local sigma = {");
    for (int i = 0; i < o->nsigma_known; i++) etwl_buf_printf(&code, "['%s']=true,", o->sigma_known[i]);
    etwl_buf_puts(&code, "}\nlocal bad = {}\n"
                         "for _, b in ipairs(require('etwlua.rules').unknown_selection()) do\n"
                         "  if not sigma[b:match('^%S+')] then bad[#bad + 1] = b end\n"
                         "end\n"
                         "if #bad > 0 then error('no such rule: ' .. table.concat(bad, ', '), 0) end\n");
    if (code.oom) {
        etwl_buf_free(&code);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    st = etwl_lua_load_string(x, code.data, "--rule", err);
    etwl_buf_free(&code);
    const char *m;
    char msg[sizeof err->message];
    if (st == ETWL_OK) return ETWL_OK;
    if (!err) return ETWL_EINVAL;
    /* the message without the loader's wording and traceback */
    m = strstr(err->message, "no such rule: ");
    snprintf(msg, sizeof msg, "%.*s", m ? (int)strcspn(m, "\n") : 0, m ? m : "");
    return m ? etwl_error_set(err, ETWL_EINVAL, "--rule/--skip-rule: %s", msg) : ETWL_EINVAL;
}

etwl_status etwl_load_rules(etwl_lua *x, const etwl_cli_opts *o, int *count, etwl_error *err)
{
    char dir[2048];
    int i;
    etwl_status st;
    *count = 0;
    etwl_lua_set_option_list(x, "rules_only", o->rule_only, o->nrule_only);
    etwl_lua_set_option_list(x, "rules_skip", o->rule_skip, o->nrule_skip);
    if (!o->no_rules) {
        if (!etwl_default_rules_dir(x, dir, sizeof dir))
            return etwl_error_set(err, ETWL_ENOTFOUND,
                                  "the rule library was not found next to %s (use --no-rules, or --rules DIR)",
                                  etwl_lua_dir(x));
        if ((st = load_path(x, dir, count, err)) != ETWL_OK) return st;
    }
    for (i = 0; i < o->nrules_dirs; i++)
        if ((st = load_path(x, o->rules_dirs[i], count, err)) != ETWL_OK) return st;
    if (o->nrule_only || o->nrule_skip) return check_selection(x, o, err);
    return ETWL_OK;
}

/* `etwlua test [RULES...]`: every rule over its own examples. */
int etwl_rule_test_main(int argc, char **argv)
{
    etwl_lua_opts lo;
    etwl_lua *x;
    etwl_error err;
    etwl_cli_opts o;
    int i, count = 0, failures;
    memset(&lo, 0, sizeof lo);
    memset(&o, 0, sizeof o);
    if (etwl_lua_new(&lo, &x, &err) != ETWL_OK) {
        fprintf(stderr, "etwlua: %s\n", err.message);
        return 1;
    }
    o.no_rules = argc > 2; /* named rule files or folders replace the library */
    for (i = 2; i < argc && o.nrules_dirs < (int)(sizeof o.rules_dirs / sizeof o.rules_dirs[0]); i++)
        o.rules_dirs[o.nrules_dirs++] = argv[i];
    if (etwl_load_rules(x, &o, &count, &err) != ETWL_OK) {
        fprintf(stderr, "etwlua: %s\n", err.message);
        etwl_lua_free(x);
        return 6;
    }
    if (etwl_lua_selftest(x, &failures, &err) != ETWL_OK) {
        fprintf(stderr, "etwlua: %s\n", err.message);
        etwl_lua_free(x);
        return 1;
    }
    etwl_lua_free(x);
    return failures ? 1 : 0;
}
