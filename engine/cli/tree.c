/* tree.c - `etwlua tree -r FILE [--pid N] [--at TIME] [--json|--text]`:
 * the process tree of a recording.
 *
 * The recording goes through the session like any replay; every event
 * feeds a process table (what each event says about processes, from every
 * process source) and the tree keeps each process instance it reveals.
 * The rule library runs over the same events (unless --no-rules), and each
 * alert is counted on the process the event was about.  The tree is drawn
 * when the input ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "library.h"
#include "lua/lua_host.h"
#include "opts.h"
#include "output/alert.h"
#include "platform/sys.h"
#include "process/proctab.h"
#include "process/tree.h"
#include "tree.h"

typedef struct tree_run {
    etwl_proctabs *tabs; /* per host, emptied per file; the rule library reads them too */
    etwl_ptree *tree;
    etwl_lua *lua;    /* the rule library, or NULL with --no-rules */
    uint32_t subject; /* the process the current event is about */
    int64_t ts;
} tree_run;

/* Alerts are raised while the current event is dispatched: they belong to
 * its subject process. */
static void on_alert(const etwl_alert *a, void *ctx)
{
    tree_run *r = ctx;
    etwl_ptree_alert(r->tree, r->subject, r->ts, a->rule, a->rule_len);
}

static etwl_status on_event(etwl_event *ev, void *user)
{
    tree_run *r = user;
    etwl_proc_event pe;
    etwl_proctab *t = etwl_proctabs_for(r->tabs, ev);
    /* one table, fed once: the tree and the rule library both read it */
    etwl_proctab_observe(t, ev, &pe);
    etwl_ptree_observe(r->tree, t, ev, &pe);
    r->subject = etwl_proc_subject(&pe);
    r->ts = etwl_event_header(ev)->ts;
    if (r->lua) etwl_lua_dispatch_observed(r->lua, ev, &pe); /* handler errors are counted, never fatal */
    return ETWL_OK;
}

static etwl_status load_library(tree_run *r, int no_rules, etwl_error *err)
{
    etwl_lua_opts lo;
    etwl_cli_opts co;
    int n = 0;
    etwl_status st;
    if (no_rules) return ETWL_OK;
    memset(&lo, 0, sizeof lo);
    memset(&co, 0, sizeof co);
    lo.alert_write = on_alert;
    lo.alert_ctx = r;
    lo.procs = r->tabs;
    if ((st = etwl_lua_new(&lo, &r->lua, err)) != ETWL_OK) return st;
    if ((st = etwl_load_rules(r->lua, &co, &n, err)) != ETWL_OK) return st;
    return etwl_lua_start(r->lua);
}

static const char usage[] = "usage: etwlua tree -r FILE|DIR [--pid N] [--at TIME] [--json|--text] [--no-rules]\n"
                            "  --pid N     only the processes with pid N, their descendants and ancestors\n"
                            "  --at TIME   only the processes alive at TIME (RFC 3339, UTC)\n"
                            "  --json      JSON lines, one per process in tree order (the default when\n"
                            "              stdout is not a terminal); --text the readable tree\n"
                            "  --no-rules  do not run the rule library (each process shows its alerts)\n";

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "etwlua tree: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return ETWL_EXIT_USAGE;
}

int etwl_tree_main(int argc, char **argv)
{
    etwl_config cfg;
    etwl_ptree_view v;
    etwl_session *s = NULL;
    etwl_error err;
    etwl_status st;
    etwl_buf out;
    tree_run r;
    int i, code = ETWL_EXIT_OK, no_rules = 0;
    memset(&v, 0, sizeof v);
    etwl_config_init(&cfg);
    v.json = !isatty(1);
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-r") == 0 || strcmp(a, "--read") == 0) && i + 1 < argc) {
            cfg.read_path = argv[++i];
        } else if (strcmp(a, "--pid") == 0 && i + 1 < argc) {
            char *end;
            unsigned long pid = strtoul(argv[++i], &end, 10);
            if (*end || !argv[i][0] || pid > 0xffffffffUL)
                return bad_usage("--pid takes a process id, not '%s'", argv[i]);
            v.has_pid = 1;
            v.pid = (uint32_t)pid;
        } else if (strcmp(a, "--at") == 0 && i + 1 < argc) {
            i++;
            if (etwl_time_parse(argv[i], strlen(argv[i]), &v.at) != ETWL_OK || !v.at)
                return bad_usage("--at takes an RFC 3339 time such as 2024-03-05T10:11:12Z, not '%s'", argv[i]);
        } else if (strcmp(a, "--json") == 0) {
            v.json = 1;
        } else if (strcmp(a, "--text") == 0) {
            v.json = 0;
        } else if (strcmp(a, "--no-rules") == 0) {
            no_rules = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return ETWL_EXIT_OK;
        } else {
            return bad_usage("unknown or incomplete option '%s'", a);
        }
    }
    if (!cfg.read_path)
        return bad_usage(
            "%s",
            "a recording is needed (-r FILE); a live session prints its tree on SIGUSR2 or with --tree-every SECONDS");
    v.width = v.json ? 0 : (unsigned)etwl_sys_term_columns(1);
    memset(&r, 0, sizeof r);
    r.tabs = etwl_proctabs_new(NULL);
    r.tree = etwl_ptree_new(0);
    etwl_buf_init(&out);
    if (!r.tabs || !r.tree) {
        fprintf(stderr, "etwlua tree: out of memory\n");
        code = ETWL_EXIT_FAILURE;
        goto done;
    }
    if ((st = load_library(&r, no_rules, &err)) != ETWL_OK) {
        fprintf(stderr, "etwlua tree: %s\n", err.message);
        code = ETWL_EXIT_SCRIPT;
        goto done;
    }
    if ((st = etwl_session_open(&cfg, &s, &err)) != ETWL_OK ||
        (st = etwl_session_process(s, on_event, &r, &err)) != ETWL_OK) {
        etwl_buf_reset(&out);
        etwl_text_put_escaped(&out, err.message, strlen(err.message)); /* it quotes the path */
        fprintf(stderr, "etwlua tree: %s\n", out.data ? out.data : "");
        code = etwl_exit_code(st);
        goto done;
    }
    if (r.lua) etwl_lua_stop(r.lua);
    etwl_buf_reset(&out);
    if (!etwl_ptree_write(r.tree, &v, &out) && !v.json) etwl_buf_puts(&out, "(no process in this view)\n");
    if (out.oom || fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fprintf(stderr, "etwlua tree: writing the tree failed\n");
        code = ETWL_EXIT_FAILURE;
    }
done:
    etwl_session_free(s);
    etwl_lua_free(r.lua);
    etwl_ptree_free(r.tree);
    etwl_proctabs_free(r.tabs);
    etwl_buf_free(&out);
    return code;
}
