/* main.c - the etwlua command. */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "bench.h"
#include "etwl.h"
#include "library.h"
#include "lua/lua_host.h"
#include "output/alert.h"
#include "output/schema_map.h"
#include "opts.h"
#include "outputs.h"
#include "tree.h"
#include "platform/sys.h"
#include "shell.h"
#include "sigma_cli.h"
#include "output/traceevent/traceevent.h"

#define MAX_DIAG_PRINTED 20

typedef struct run {
    etwl_cli_opts *o;
    etwl_buf out;
    FILE *fp;
    uint64_t diags;
    etwl_lua *lua;
    etwl_cli_sigma *sigma; /* --sigma rules, matched in C before the Lua handlers */
    int main_job;          /* live, no script, no --dump: print process starts */
    int nrule_files;
    etwl_session *s;
    uint64_t events, lost_reported;
    etwl_te *te;        /* --format traceevent */
    etwl_outputs *outs; /* -o: NULL without */
    time_t last_check;
} run;

/* ETW's buffer counters, for --stats; empty for sources without them. */
static const char *etw_buffers(const etwl_stats *st, char *buf, size_t n)
{
    buf[0] = 0;
    if (st->buffers_lost || st->buffers_written)
        snprintf(buf, n, " buffers_lost=%llu buffers_written=%llu", (unsigned long long)st->buffers_lost,
                 (unsigned long long)st->buffers_written);
    return buf;
}

typedef struct loss {
    const etwl_stats *st;
    uint64_t fresh; /* lost since the last alert */
} loss;

static void loss_fields(etwl_buf *b, int json, void *ctx)
{
    const loss *l = ctx;
    etwl_buf_printf(
        b, json ? "{\"buffers_lost\":%llu,\"lost\":%llu,\"new\":%llu}" : " buffers_lost=%llu lost=%llu new=%llu",
        (unsigned long long)l->st->buffers_lost, (unsigned long long)l->st->lost, (unsigned long long)l->fresh);
}

/* The engine's own alert: the session lost events (full ring buffers,
 * ETW buffer loss), written as script alerts are (output/alert.c). */
static void check_losses(run *r, int final)
{
    etwl_stats st;
    etwl_buf b;
    char ts[ETWL_TIME_STRLEN + 1], bufs[96], msg[200];
    struct timespec now;
    uint64_t total;
    loss l;
    etwl_alert a;
    if (!r->s) return;
    etwl_session_stats(r->s, &st);
    /* a lost ETW buffer held an unknown number of events: it counts as one */
    total = st.lost + st.buffers_lost;
    if (total <= r->lost_reported) return;
    clock_gettime(CLOCK_REALTIME, &now);
    etwl_time_format(etwl_time_from_unix_ns((int64_t)now.tv_sec * 1000000000 + now.tv_nsec), ts);
    snprintf(msg, sizeof msg, "%llu events lost so far%s%s", (unsigned long long)st.lost,
             etw_buffers(&st, bufs, sizeof bufs), final ? " (at exit)" : "");
    l = (loss){&st, total - r->lost_reported};
    a = (etwl_alert){ts,   "etwlua.events_lost", 18, "The session lost events", 23, "high", msg, strlen(msg), NULL,
                     NULL, loss_fields,          &l};
    r->lost_reported = total;
    if (r->outs) {
        etwl_outputs_alert(&a, r->outs);
        return;
    }
    etwl_buf_init(&b);
    etwl_alert_write(&b, &a, etwl_cli_stdout_form(r->o, isatty(1)));
    etwl_buf_putc(&b, '\n');
    if (!b.oom) fwrite(b.data, 1, b.len, stdout);
    etwl_buf_free(&b);
    r->lost_reported = total;
}

static etwl_session *volatile g_session;
static etwl_lua *volatile g_lua;
/* A stop can arrive before the session exists (while scripts load or the
 * tracefs instance is made): it is remembered, and honoured once the
 * session is there, so start-up never leaves a session behind. */
static volatile sig_atomic_t g_stop;

static void on_stop(void)
{
    etwl_session *s = g_session;
    g_stop = 1;
    if (s) etwl_session_close(s); /* async-signal-safe */
    /* a handler stuck in Lua would never get back to the session loop: the
     * host's watchdog interrupts it (sets a flag only: async-signal-safe) */
    etwl_lua_request_stop(g_lua);
}

static void list_one(const etwl_session_info *si, void *user)
{
    int *n = user;
    if ((*n)++ == 0) printf("%-24s %8s  %-6s %s\n", "NAME", "OWNER", "STATE", "RECORDING");
    if (si->owner_pid)
        printf("%-24s %8ld  %-6s %s\n", si->name, si->owner_pid, si->owner_alive ? "alive" : "gone",
               si->recording ? "yes" : "no");
    else printf("%-24s %8s  %-6s %s\n", si->name, "-", "?", si->recording ? "yes" : "no");
}

static void on_diag(const char *where, const char *msg, void *user)
{
    run *r = user;
    if (r->diags++ < MAX_DIAG_PRINTED) {
        etwl_buf b;
        etwl_buf_init(&b);
        /* messages quote input, which may be hostile: escape it */
        etwl_text_put_escaped(&b, where, strlen(where));
        etwl_buf_puts(&b, ": ");
        etwl_text_put_escaped(&b, msg, strlen(msg));
        fprintf(stderr, "etwlua: %s (skipped)\n", b.data ? b.data : "");
        etwl_buf_free(&b);
    } else if (r->diags == MAX_DIAG_PRINTED + 1) {
        fprintf(stderr, "etwlua: more malformed lines; further messages suppressed (counted in --stats)\n");
    }
}

static etwl_status on_event(etwl_event *ev, void *user)
{
    run *r = user;
    etwl_status st;
    if ((++r->events & 4095) == 0 || time(NULL) != r->last_check) {
        r->last_check = time(NULL);
        check_losses(r, 0);
        etwl_outputs_check(r->outs);
    }
    /* with a Lua host, it matches the --sigma rules (scripts may extend them) */
    if (r->sigma && !r->lua) etwl_cli_sigma_event(r->sigma, ev, r->fp);
    if (r->lua) etwl_lua_dispatch(r->lua, ev); /* handler errors are counted, never fatal */
    if (r->main_job && r->nrule_files == 0 && !r->sigma) {
        const etwl_header *h = etwl_event_header(ev);
        if (!(h->has & ETWL_HAS_PROVIDER_NAME) || h->provider_name_len != 7 ||
            memcmp(h->provider_name, "process", 7) != 0 || h->desc.id != 1)
            return ETWL_OK;
    } else if (!r->o->dump || r->o->alerts_only) {
        return ETWL_OK;
    }
    etwl_buf_reset(&r->out);
    if (r->te) {
        if ((st = etwl_te_event(r->te, ev, &r->out)) != ETWL_OK) return st;
        if (r->out.len && fwrite(r->out.data, 1, r->out.len, r->fp) != r->out.len) return ETWL_EIO;
        return ETWL_OK;
    }
    st = r->o->json ? etwl_schema_event(ev, &r->out, etwl_cli_output_form(r->o)) : etwl_event_write_text(ev, &r->out);
    if (st) return st;
    etwl_buf_putc(&r->out, '\n');
    if (r->out.oom) return ETWL_ENOMEM;
    if (fwrite(r->out.data, 1, r->out.len, r->fp) != r->out.len) return ETWL_EIO;
    return ETWL_OK;
}

static int report(const etwl_error *err);

static etwl_status te_learn(etwl_event *ev, void *te) { return etwl_te_learn(te, ev); }

/* Scripts load in command-line order; their handlers run in that order. */
static int load_scripts(etwl_cli_opts *o, run *r)
{
    etwl_lua_opts lo;
    etwl_error err;
    int i;
    memset(&lo, 0, sizeof lo);
    lo.budget = o->budget;
    lo.memory_limit = (size_t)o->memory_mb << 20;
    lo.unsafe = o->unsafe;
    lo.alerts_only = o->alerts_only;
    /* --format decides; by default JSON lines for machines, one readable
     * line on a terminal */
    lo.alerts_json = etwl_cli_stdout_form(o, isatty(1));
    lo.lua_dir = o->lua_dir;
    lo.proc_grace = o->proc_grace * 10000000LL;
    if (r->outs) {
        lo.alert_write = etwl_outputs_alert;
        lo.alert_ctx = r->outs;
    }
    lo.handler_timeout_ms = o->handler_timeout_ms;
    lo.sigma = etwl_cli_sigma_set(r->sigma);
    if (etwl_lua_new(&lo, &r->lua, &err) != ETWL_OK) return report(&err);
    etwl_lua_set_timing(r->lua, o->stats && !o->alerts_only);
    {
        int n = 0;
        if (etwl_load_rules(r->lua, o, &n, &err) != ETWL_OK) {
            report(&err);
            etwl_lua_free(r->lua);
            r->lua = NULL;
            /* a misspelt --rule id is the user's mistake, not a script's */
            return err.status == ETWL_EINVAL ? ETWL_EXIT_USAGE : ETWL_EXIT_SCRIPT;
        }
        r->nrule_files = n;
    }
    for (i = 0; i < o->nscripts; i++) {
        char name[32];
        etwl_status st;
        if (o->scripts[i].path) {
            st = etwl_lua_load_file(r->lua, o->scripts[i].path, &err);
        } else {
            snprintf(name, sizeof name, "(-e #%d)", i + 1);
            st = etwl_lua_load_string(r->lua, o->scripts[i].code, name, &err);
        }
        if (st != ETWL_OK) {
            report(&err);
            etwl_lua_free(r->lua);
            r->lua = NULL;
            return ETWL_EXIT_SCRIPT;
        }
    }
    return ETWL_EXIT_OK;
}

static int report(const etwl_error *err)
{
    etwl_buf b;
    etwl_buf_init(&b);
    etwl_text_put_lines(&b, err->message, strlen(err->message), "etwlua:   ");
    fprintf(stderr, "etwlua: %s\n", b.data ? b.data : etwl_status_name(err->status));
    etwl_buf_free(&b);
    return etwl_exit_code(err->status);
}

int main(int argc, char **argv)
{
    etwl_cli_opts o;
    etwl_error err;
    etwl_session *s = NULL;
    etwl_status st;
    etwl_stats stats;
    run r;
    int code;
    char bufs[96];
    memset(&err, 0, sizeof err);
    etwl_sys_binary_stdio();
    if (argc > 1 && strcmp(argv[1], "bench") == 0) return etwl_bench_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "test") == 0) return etwl_rule_test_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "tree") == 0) return etwl_tree_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "shell") == 0) return etwl_shell_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "bench-outputs") == 0) return etwl_bench_outputs_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "sigma") == 0) return etwl_sigma_cli_main(argc, argv);
    if (etwl_cli_parse(argc, argv, &o, &err) != ETWL_EXIT_OK) {
        report(&err);
        fprintf(stderr, "etwlua: see 'etwlua --help'\n");
        return ETWL_EXIT_USAGE;
    }
    if (o.help) {
        fputs(etwl_cli_usage, stdout);
        return ETWL_EXIT_OK;
    }
    if (o.version) {
        printf("etwlua %s\n", ETWL_VERSION);
        return ETWL_EXIT_OK;
    }
    if (o.list) {
        int n = 0;
        st = etwl_session_list(NULL, list_one, &n, &err);
        if (st) return report(&err);
        if (!n) fprintf(stderr, "etwlua: no etwlua sessions\n");
        return fflush(stdout) == 0 ? ETWL_EXIT_OK : ETWL_EXIT_FAILURE;
    }
    if (o.kill) {
        st = etwl_session_kill(NULL, o.kill, &err);
        if (st) return report(&err);
        fprintf(stderr, "etwlua: stopped session '%s'\n", o.kill);
        return ETWL_EXIT_OK;
    }
    /* before anything that needs cleaning up: a stop from here on is
     * remembered (g_stop) rather than killing the process mid-start */
    etwl_sys_on_stop(on_stop);
    memset(&r, 0, sizeof r);
    r.o = &o;
    r.fp = stdout;
    etwl_buf_init(&r.out);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (etwl_outputs_open(&o, etwl_cli_stdout_form(&o, isatty(1)), &r.outs, &err) != ETWL_OK) {
        etwl_buf_free(&r.out);
        return report(&err);
    }
    /* Sigma rules first: their ids are known to the --rule check */
    if (etwl_cli_sigma_setup(&o, &r.sigma, &err) != ETWL_OK) {
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        return report(&err);
    }
    if (r.outs) etwl_cli_sigma_set_outputs(r.sigma, r.outs);
    if (r.sigma && o.no_rules && !o.nscripts && !o.nrules_dirs && o.nsigma_known < o.nrule_only + o.nrule_skip) {
        /* no Lua rules to name: every --rule id must be a Sigma id */
        etwl_cli_sigma_finish(r.sigma, 0);
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        return report(&(etwl_error){.status = ETWL_EINVAL, .message = "--rule/--skip-rule: an id names no rule"});
    }
    if (o.nscripts || !o.no_rules || o.nrules_dirs) {
        code = load_scripts(&o, &r);
        if (code != ETWL_EXIT_OK) {
            etwl_cli_sigma_finish(r.sigma, 0);
            etwl_outputs_close(r.outs, 0);
            etwl_buf_free(&r.out);
            return code;
        }
    }

    /* live ETW drops the event ids no handler names in the kernel (not when
     * --dump shows, or record keeps, every event) */
    if (!o.cfg.read_path && !o.dump && !o.record)
        for (int i = 0; i < o.cfg.nproviders; i++) etwl_lua_wanted_ids(r.lua, &o.cfg.providers[i]);
    st = etwl_session_open(&o.cfg, &s, &err);
    if (st) {
        if (st == ETWL_EEXIST)
            fprintf(stderr,
                    "etwlua: a session named '%s' already exists; stop it with 'etwlua --kill %s' or pick "
                    "another --name\n",
                    err.session, err.session);
        else report(&err);
        etwl_cli_sigma_finish(r.sigma, 0);
        etwl_lua_free(r.lua);
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        return etwl_exit_code(st);
    }
    etwl_session_set_diag(s, on_diag, &r);
    r.s = s;
    g_session = s;
    g_lua = r.lua;
    /* asked to stop while starting: the session ends at once and is
     * cleaned up on the usual path (stats included) */
    if (g_stop) etwl_session_close(s);
    if (!o.cfg.read_path) {
        r.main_job = !o.nscripts && !o.dump && !o.record;
        if (!o.alerts_only && !g_stop)
            fprintf(stderr, "etwlua: live session '%s' started%s; stop it with Ctrl-C%s or 'etwlua --kill %s'\n",
                    etwl_session_name(s),
                    o.record     ? ", recording"
                    : r.main_job ? (r.nrule_files || r.sigma ? ", watching with the rule library, printing alerts"
                                                             : ", printing process starts")
                                 : "",
                    o.duration > 0 ? ", --duration," : "", etwl_session_name(s));
    }
    if (o.duration > 0) etwl_sys_stop_after(o.duration);
    if (r.lua) {
        etwl_lua_set_session(r.lua, s);
        etwl_lua_start(r.lua);
    }
    if (o.traceevent && o.dump && !(r.te = etwl_te_new())) {
        etwl_session_free(s);
        etwl_lua_free(r.lua);
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        return report(&(etwl_error){.status = ETWL_ENOMEM, .message = "out of memory"});
    }
    if (r.te && o.cfg.read_path && strcmp(o.cfg.read_path, "-") != 0) {
        /* TraceEvent names processes from the whole trace: a first pass */
        etwl_session *pre;
        etwl_error perr;
        if (etwl_session_open(&o.cfg, &pre, &perr) == ETWL_OK) {
            etwl_session_process(pre, te_learn, r.te, &perr);
            etwl_session_free(pre);
            etwl_te_learned(r.te);
        }
    }
    st = etwl_session_process(s, on_event, &r, &err);
    if (r.te) {
        etwl_buf_reset(&r.out);
        /* out.data is NULL when the trace gave nothing to count */
        if (etwl_te_finish(r.te, &r.out) == ETWL_OK && r.out.len) fwrite(r.out.data, 1, r.out.len, stdout);
        etwl_te_free(r.te);
    }
    check_losses(&r, 1);
    if (r.lua) etwl_lua_stop(r.lua);
    g_session = NULL;
    etwl_outputs_check(r.outs); /* drops up to here, told before the flush */
    g_lua = NULL;
    if (fflush(stdout) != 0 && st == ETWL_OK) etwl_error_set(&err, st = ETWL_EIO, "writing output failed");
    etwl_session_stats(s, &stats);
    code = st ? report(&err) : ETWL_EXIT_OK;
    if (code == ETWL_EXIT_OK && o.fail_on_error && r.lua && etwl_lua_errors(r.lua)) {
        fprintf(stderr, "etwlua: %llu handler error(s) (--fail-on-error)\n",
                (unsigned long long)etwl_lua_errors(r.lua));
        code = ETWL_EXIT_FAILURE;
    }
    if (o.stats && r.lua) etwl_lua_print_stats(r.lua, stderr);
    if (r.lua) {
        uint64_t dropped, n = etwl_lua_sigma_alerts(r.lua, &dropped);
        etwl_cli_sigma_add_alerts(r.sigma, n, dropped);
        etwl_lua_sigma_report(r.lua, o.stats);
    }
    etwl_cli_sigma_finish(r.sigma, o.stats);
    r.sigma = NULL;
    if (o.stats)
        fprintf(stderr, "etwlua: stats: read=%llu passed=%llu filtered=%llu malformed=%llu lost=%llu%s\n",
                (unsigned long long)stats.read, (unsigned long long)stats.passed, (unsigned long long)stats.filtered,
                (unsigned long long)stats.malformed, (unsigned long long)stats.lost,
                etw_buffers(&stats, bufs, sizeof bufs));
    else if (stats.malformed)
        fprintf(stderr, "etwlua: skipped %llu malformed record(s)\n", (unsigned long long)stats.malformed);
    /* flushed last, so alerts from on_stop hooks and the checks above go
     * too; an alert dropped or not delivered is a runtime failure */
    if (etwl_outputs_close(r.outs, o.stats) && code == ETWL_EXIT_OK) code = ETWL_EXIT_FAILURE;
    if (o.record && st == ETWL_OK)
        fprintf(stderr, "etwlua: recorded %llu events to %s, and the schemas of their types to %s.schemas\n",
                (unsigned long long)stats.passed, o.cfg.record_path, o.cfg.record_path);
    etwl_session_free(s);
    etwl_lua_free(r.lua);
    etwl_buf_free(&r.out);
    return code;
}
