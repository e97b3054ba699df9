/* main.c - the etwlua command. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
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
#include "session/source.h"
#include "sigma_cli.h"
#include "summary.h"
#include "output/traceevent/traceevent.h"
#include "process/proctab.h"
#include "process/tree.h"
#include "reload.h"

#define MAX_DIAG_PRINTED 20
#define WORKER_FLUSH (64 * 1024) /* a worker's output goes out in pieces of about this size */

/* What the workers of a parallel replay (-j) share.  Everything written to
 * stdout, the -o outputs and the diagnostics on stderr goes out under mu,
 * so each alert and event stays whole and the outputs' queues see one
 * writer at a time; each worker writes its files' output in order. */
typedef struct shared {
    pthread_mutex_t mu;
    const char **files;
    int nfiles;
    atomic_int next;   /* the next file to hand out */
    atomic_int failed; /* a worker stopped on an error: the others stop too */
    uint64_t diags;    /* diagnostics printed, under mu */
    etwl_error err;    /* the first worker error, under mu */
    etwl_progress *progress;
    pthread_cond_t ended; /* a worker ended: signalled under mu */
    int nended;
} shared;

#define LIVE_TREE_MAX 200000 /* process instances the live tree keeps */

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
    int form;                /* stdout's alert form */
    etwl_buf abuf;           /* one alert being written */
    etwl_summary *sum;       /* NULL: no summary */
    etwl_progress *progress; /* single replay: drawn from on_event */
    /* a worker of a parallel replay (NULL sh: the one run) */
    shared *sh;
    pthread_t thread;
    int id;
    etwl_buf wbuf; /* output not yet written out */
    etwl_stats sum_stats;
    atomic_uint_least64_t bytes_done, events_done; /* for the progress line */
    uint64_t bytes_files;                          /* bytes of the files finished */
    int nfiles;                                    /* files this worker read */
    int borrowed;                                  /* the first worker runs the command's own Lua state and Sigma set */
    double cpu_s;                                  /* the worker thread's CPU time, for --stats */
    /* the process tables (one per host, emptied per file) outlive every
     * Lua state: a reload keeps them */
    etwl_proctabs *procs;
    etwl_ptree *ptree; /* live: the tree SIGUSR2 and --tree-every print */
    int64_t next_tree; /* FILETIME of the next --tree-every print; 0: none */
    int64_t latest;    /* the latest event time seen: "now" for the live tree */
    etwl_reloader *rl; /* SIGHUP and --watch; NULL when nothing can reload */
    uint64_t reloads, refused, refused_seen;
    uint64_t swap_ns_total, swap_ns_max;
    double build_ms_max;
    uint64_t retired_errors; /* handler errors of the states reloaded away */
    pthread_t event_thread;  /* the one that runs the session and writes alerts */
} run;

/* A worker's buffered output, written out whole under the lock. */
static etwl_status flush_worker(run *r)
{
    etwl_status st = ETWL_OK;
    if (!r->wbuf.len) return ETWL_OK;
    pthread_mutex_lock(&r->sh->mu);
    if (r->sh->progress) etwl_progress_clear(r->sh->progress);
    if (r->wbuf.oom) st = ETWL_ENOMEM;
    else if (fwrite(r->wbuf.data, 1, r->wbuf.len, stdout) != r->wbuf.len) st = ETWL_EIO;
    pthread_mutex_unlock(&r->sh->mu);
    etwl_buf_reset(&r->wbuf);
    return st;
}

/* Writes output: at once for the one run, through the worker's buffer
 * (written out under the lock, in pieces) for a worker. */
static etwl_status out_write(run *r, const char *p, size_t n)
{
    if (r->sh) {
        etwl_buf_put(&r->wbuf, p, n);
        if (r->wbuf.oom) return ETWL_ENOMEM;
        return r->wbuf.len >= WORKER_FLUSH ? flush_worker(r) : ETWL_OK;
    }
    if (r->progress) etwl_progress_clear(r->progress);
    return fwrite(p, 1, n, r->fp) == n ? ETWL_OK : ETWL_EIO;
}

/* Every alert (scripts, rules, Sigma, the engine's own) comes here: counted
 * for the summary, then written to the outputs or stdout. */
static void cli_alert(const etwl_alert *a, void *ctx)
{
    run *r = ctx;
    etwl_summary_alert(r->sum, a);
    if (r->outs) {
        if (r->sh) pthread_mutex_lock(&r->sh->mu);
        if (r->sh && r->sh->progress) etwl_progress_clear(r->sh->progress);
        else if (r->progress) etwl_progress_clear(r->progress);
        etwl_outputs_alert(a, r->outs);
        if (r->sh) pthread_mutex_unlock(&r->sh->mu);
        return;
    }
    etwl_buf_reset(&r->abuf);
    etwl_alert_write(&r->abuf, a, r->form);
    etwl_buf_putc(&r->abuf, '\n');
    if (!r->abuf.oom) out_write(r, r->abuf.data, r->abuf.len);
}

/* A set of scripts and rules: the Lua state and the Sigma rules, swapped as
 * one by a reload. */
typedef struct ruleset {
    etwl_lua *lua;
    etwl_cli_sigma *sigma;
    int nrule_files;
} ruleset;

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

/* Every Lua alert comes here: the live tree counts it on the process its
 * event was about, then it goes where engine alerts go (the same form and
 * place the host would have written it to). */
static void lua_alert(const etwl_alert *a, void *ctx)
{
    run *r = ctx;
    if (r->rl && !pthread_equal(pthread_self(), r->event_thread)) {
        /* a script's top level raised it while a reload loads on the
         * loader thread: the outputs and stdout belong to the event thread,
         * and the first load of the script sent it already */
        etwl_buf b;
        etwl_buf_init(&b);
        etwl_text_put_escaped(&b, a->rule, a->rule_len);
        fprintf(stderr, "etwlua: reload: alert %s raised while the new scripts load is not sent\n",
                b.data ? b.data : "");
        etwl_buf_free(&b);
        return;
    }
    if (r->ptree && a->event && r->lua) {
        etwl_proc_event *pe = etwl_lua_proc_event(r->lua);
        etwl_ptree_alert(r->ptree, etwl_proc_subject(pe), etwl_event_header(a->event)->ts, a->rule, a->rule_len);
    }
    cli_alert(a, r);
}

static void now_rfc3339(char *ts)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    etwl_time_format(etwl_time_from_unix_ns((int64_t)now.tv_sec * 1000000000 + now.tv_nsec), ts);
}

/* The engine's own alert: the session lost events (full ring buffers,
 * ETW buffer loss), written as script alerts are (output/alert.c). */
static void check_losses(run *r, int final)
{
    etwl_stats st;
    char ts[ETWL_TIME_STRLEN + 1], bufs[96], msg[200];
    uint64_t total;
    loss l;
    etwl_alert a;
    if (!r->s) return;
    etwl_session_stats(r->s, &st);
    /* a lost ETW buffer held an unknown number of events: it counts as one */
    total = st.lost + st.buffers_lost;
    if (total <= r->lost_reported) return;
    now_rfc3339(ts);
    snprintf(msg, sizeof msg, "%llu events lost so far%s%s", (unsigned long long)st.lost,
             etw_buffers(&st, bufs, sizeof bufs), final ? " (at exit)" : "");
    l = (loss){&st, total - r->lost_reported};
    a = (etwl_alert){ts,   "etwlua.events_lost", 18, "The session lost events", 23, "high", msg, strlen(msg), NULL,
                     NULL, loss_fields,          &l};
    r->lost_reported = total;
    cli_alert(&a, r);
}

static etwl_session *volatile g_session;
static etwl_lua *volatile g_lua;
/* the workers' sessions and Lua states (-j), stopped as the one run's are */
static etwl_session *volatile g_sessions[ETWL_CLI_MAX_JOBS];
static etwl_lua *volatile g_luas[ETWL_CLI_MAX_JOBS];
/* A stop can arrive before the session exists (while scripts load or the
 * tracefs instance is made): it is remembered, and honoured once the
 * session is there, so start-up never leaves a session behind. */
static volatile sig_atomic_t g_stop;

static etwl_lua *volatile g_lua;
static etwl_reloader *volatile g_rl;
/* SIGHUP before the loader thread runs: asked for once it does */
static volatile sig_atomic_t g_reload_early;
static volatile sig_atomic_t g_tree; /* SIGUSR2: print the process tree */

static void on_reload_signal(void)
{
    etwl_reloader *rl = g_rl;
    if (rl) etwl_reloader_request(rl); /* a write to a pipe: async-signal-safe */
    else g_reload_early = 1;
}

static void on_tree_signal(void) { g_tree = 1; }

static void on_stop(void)
{
    etwl_session *s = g_session;
    int i;
    g_stop = 1;
    if (s) etwl_session_close(s); /* async-signal-safe */
    /* a handler stuck in Lua would never get back to the session loop: the
     * host's watchdog interrupts it (sets a flag only: async-signal-safe) */
    etwl_lua_request_stop(g_lua);
    for (i = 0; i < ETWL_CLI_MAX_JOBS; i++) {
        if ((s = g_sessions[i])) etwl_session_close(s);
        etwl_lua_request_stop(g_luas[i]);
    }
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
    uint64_t *diags = r->sh ? &r->sh->diags : &r->diags;
    if (r->sh) pthread_mutex_lock(&r->sh->mu);
    if (r->sh && r->sh->progress) etwl_progress_clear(r->sh->progress);
    else if (r->progress) etwl_progress_clear(r->progress);
    if ((*diags)++ < MAX_DIAG_PRINTED) {
        etwl_buf b;
        etwl_buf_init(&b);
        /* messages quote input, which may be hostile: escape it */
        etwl_text_put_escaped(&b, where, strlen(where));
        etwl_buf_puts(&b, ": ");
        etwl_text_put_escaped(&b, msg, strlen(msg));
        fprintf(stderr, "etwlua: %s (skipped)\n", b.data ? b.data : "");
        etwl_buf_free(&b);
    } else if (*diags == MAX_DIAG_PRINTED + 1) {
        fprintf(stderr, "etwlua: more malformed lines; further messages suppressed (counted in --stats)\n");
    }
    if (r->sh) pthread_mutex_unlock(&r->sh->mu);
}

static void reload_tick(run *r);
static void print_tree(run *r, int64_t at);

static etwl_status on_event(etwl_event *ev, void *user)
{
    run *r = user;
    etwl_status st;
    if (r->sh) { /* a worker: the main thread checks the outputs and draws the progress */
        if ((++r->events & 1023) == 0) {
            uint64_t done, total;
            etwl_session_progress(r->s, &done, &total);
            atomic_store(&r->bytes_done, r->bytes_files + done);
            atomic_store(&r->events_done, r->events);
        }
    } else if ((++r->events & 4095) == 0 || time(NULL) != r->last_check) {
        r->last_check = time(NULL);
        check_losses(r, 0);
        etwl_outputs_check(r->outs);
    }
    if (r->progress && (r->events & 1023) == 0) {
        uint64_t done, total;
        etwl_session_progress(r->s, &done, &total);
        etwl_progress_update(r->progress, done, total, r->events, 0);
    }
    etwl_summary_event(r->sum, ev);
    if (r->rl) {
        reload_tick(r); /* a prepared set is swapped in here, between two events */
    } else if (g_reload_early) {
        g_reload_early = 0; /* a SIGHUP is never ignored without a word */
        fprintf(stderr, "etwlua: SIGHUP: nothing to reload (no scripts and no rules)\n");
    }
    if (r->ptree) {
        /* live: the tree learns of a process before its start event's
         * alerts are counted on it, so the run feeds the table itself */
        etwl_proc_event pe;
        etwl_proctab *t = etwl_proctabs_for(r->procs, ev);
        etwl_proctab_observe(t, ev, &pe);
        etwl_ptree_observe(r->ptree, t, ev, &pe);
        if (r->sigma && !r->lua) etwl_cli_sigma_event(r->sigma, ev, r->fp);
        if (r->lua) etwl_lua_dispatch_observed(r->lua, ev, &pe);
    } else {
        /* with a Lua host, it matches the --sigma rules (scripts may extend them) */
        if (r->sigma && !r->lua) etwl_cli_sigma_event(r->sigma, ev, r->fp);
        if (r->lua) etwl_lua_dispatch(r->lua, ev); /* handler errors are counted, never fatal */
    }
    if (r->ptree) {
        /* events of different CPUs may arrive a little out of time order
         * across read rounds: the tree is drawn at the latest time seen,
         * so no process whose start was handled is left out */
        if (etwl_event_header(ev)->ts > r->latest) r->latest = etwl_event_header(ev)->ts;
        if (r->next_tree < 0) r->next_tree = etwl_event_header(ev)->ts + (int64_t)(r->o->tree_every * 1e7);
        if (g_tree || (r->next_tree > 0 && etwl_event_header(ev)->ts >= r->next_tree)) {
            g_tree = 0;
            if (r->next_tree > 0)
                while (r->next_tree <= etwl_event_header(ev)->ts) r->next_tree += (int64_t)(r->o->tree_every * 1e7);
            print_tree(r, r->latest);
        }
    }
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
        return r->out.len ? out_write(r, r->out.data, r->out.len) : ETWL_OK;
    }
    st = r->o->json ? etwl_schema_event(ev, &r->out, etwl_cli_output_form(r->o)) : etwl_event_write_text(ev, &r->out);
    if (st) return st;
    etwl_buf_putc(&r->out, '\n');
    if (r->out.oom) return ETWL_ENOMEM;
    return out_write(r, r->out.data, r->out.len);
}

static etwl_status te_learn(etwl_event *ev, void *te) { return etwl_te_learn(te, ev); }

/* A Lua state with the rule library and the scripts, in command-line order
 * (their handlers run in that order); not started.  *usage is set when the
 * failure is the user's (a misspelt --rule id), not a script's. */
static etwl_status make_lua(run *r, etwl_cli_sigma *sigma, etwl_lua **out, int *nrule_files, int *usage,
                            etwl_error *err)
{
    etwl_cli_opts *o = r->o;
    etwl_lua_opts lo;
    etwl_lua *lua;
    etwl_status st;
    int i, n = 0;
    *out = NULL;
    *usage = 0;
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
    lo.procs = r->procs;
    lo.alert_write = lua_alert;
    lo.alert_ctx = r;
    lo.sigma = etwl_cli_sigma_set(sigma); /* the host matches it (scripts may extend it) */
    lo.handler_timeout_ms = o->handler_timeout_ms;
    if ((st = etwl_lua_new(&lo, &lua, err)) != ETWL_OK) return st;
    etwl_lua_set_timing(lua, o->stats && !o->alerts_only);
    if ((st = etwl_load_rules(lua, o, &n, err)) != ETWL_OK) {
        etwl_lua_free(lua);
        *usage = err->status == ETWL_EINVAL;
        return st;
    }
    *nrule_files = n;
    for (i = 0; i < o->nscripts; i++) {
        char name[32];
        if (o->scripts[i].path) {
            st = etwl_lua_load_file(lua, o->scripts[i].path, err);
        } else {
            snprintf(name, sizeof name, "(-e #%d)", i + 1);
            st = etwl_lua_load_string(lua, o->scripts[i].code, name, err);
        }
        if (st != ETWL_OK) {
            etwl_lua_free(lua);
            return st;
        }
    }
    *out = lua;
    return ETWL_OK;
}

static int report(const etwl_error *err);

/* A run's process tables (one per host, emptied per file), with the
 * --proc-grace the options give. */
static etwl_proctabs *new_tables(const etwl_cli_opts *o)
{
    etwl_proctab_opts po;
    memset(&po, 0, sizeof po);
    po.grace = o->proc_grace * 10000000LL;
    return etwl_proctabs_new(&po);
}

/* Scripts load in command-line order; their handlers run in that order. */
static int load_scripts(etwl_cli_opts *o, run *r)
{
    etwl_error err;
    int usage;
    (void)o;
    if (make_lua(r, r->sigma, &r->lua, &r->nrule_files, &usage, &err) != ETWL_OK) {
        report(&err);
        /* a misspelt --rule id is the user's mistake, not a script's */
        return usage ? ETWL_EXIT_USAGE : ETWL_EXIT_SCRIPT;
    }
    return ETWL_EXIT_OK;
}

/* ---- hot reload (reload.h) -----------------------------------------------
 *
 * The loader thread builds a whole new set (Sigma rules, then the Lua state
 * with the library and the scripts) with the options the run started with.
 * The event thread swaps it in before the next event: the old state's
 * on_stop hooks, etw.reload_state copied over, the new state's on_start
 * hooks; a new state whose on_start fails is refused and the old one goes
 * on.  The process table is the run's (r->procs), so it is never rebuilt. */

static etwl_status build_set(void *ctx, void **out, etwl_error *err)
{
    run *r = ctx;
    ruleset *rs = calloc(1, sizeof *rs);
    etwl_status st;
    int usage;
    if (!rs) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    r->o->nsigma_known = 0; /* found again in the new rules */
    if ((st = etwl_cli_sigma_setup(r->o, &rs->sigma, err)) != ETWL_OK) {
        free(rs);
        return st;
    }
    if (r->outs) etwl_cli_sigma_set_outputs(rs->sigma, r->outs);
    /* (decided by the options, never by r->lua, which the event thread
     * changes) */
    if ((r->o->nscripts || !r->o->no_rules || r->o->nrules_dirs) &&
        (st = make_lua(r, rs->sigma, &rs->lua, &rs->nrule_files, &usage, err)) != ETWL_OK) {
        etwl_cli_sigma_finish(rs->sigma, 0);
        free(rs);
        return st;
    }
    *out = rs;
    return ETWL_OK;
}

static void drop_set(void *ctx, void *set)
{
    ruleset *rs = set;
    (void)ctx;
    etwl_lua_free(rs->lua); /* first: the host matches (borrows) the set */
    etwl_cli_sigma_finish(rs->sigma, 0);
    free(rs);
}

typedef struct reload_info {
    const char *what; /* the files that changed, or SIGHUP */
    const ruleset *rs;
    double build_ms, swap_ms;
    const char *error; /* a refused reload: why */
} reload_info;

static void reload_fields(etwl_buf *b, int json, void *ctx)
{
    const reload_info *ri = ctx;
    int handlers = ri->rs && ri->rs->lua ? etwl_lua_nhandlers(ri->rs->lua) : 0;
    int files = ri->rs ? ri->rs->nrule_files : 0;
    size_t sigma = ri->rs ? etwl_cli_sigma_running(ri->rs->sigma) : 0;
    if (json) {
        etwl_buf_puts(b, "{\"changed\":");
        etwl_json_put_string(b, ri->what, strlen(ri->what));
        if (ri->error) {
            etwl_buf_puts(b, ",\"error\":");
            etwl_json_put_string(b, ri->error, strlen(ri->error));
        } else {
            etwl_buf_printf(b, ",\"rule_files\":%d,\"handlers\":%d,\"sigma_rules\":%zu", files, handlers, sigma);
        }
        etwl_buf_printf(b, ",\"load_ms\":%.1f,\"swap_ms\":%.3f}", ri->build_ms, ri->swap_ms);
        return;
    }
    etwl_buf_puts(b, " changed=");
    etwl_text_put_escaped(b, ri->what, strlen(ri->what));
    if (!ri->error) etwl_buf_printf(b, " rule_files=%d handlers=%d sigma_rules=%zu", files, handlers, sigma);
    etwl_buf_printf(b, " load_ms=%.1f swap_ms=%.3f", ri->build_ms, ri->swap_ms);
}

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static etwl_lua *volatile g_lua;

/* Event thread, between two events. */
static void swap_in(run *r, ruleset *rs, const char *what, double build_ms)
{
    char ts[ETWL_TIME_STRLEN + 1], msg[160];
    uint64_t t0 = mono_ns(), dt;
    etwl_error err;
    etwl_alert a;
    reload_info ri;
    ruleset old = {r->lua, r->sigma, r->nrule_files};
    memset(&err, 0, sizeof err);
    if (rs->lua) {
        if (r->lua) etwl_lua_stop(r->lua);
        etwl_lua_set_session(rs->lua, r->s);
        if (r->lua && etwl_lua_carry_state(rs->lua, r->lua, &err) != ETWL_OK) {
            etwl_buf b;
            etwl_buf_init(&b);
            etwl_text_put_escaped(&b, err.message, strlen(err.message));
            fprintf(stderr, "etwlua: reload: %s\n", b.data ? b.data : "");
            etwl_buf_free(&b);
        }
        if (etwl_lua_start_checked(rs->lua, &err) != ETWL_OK) {
            etwl_buf b, w;
            dt = mono_ns() - t0;
            etwl_buf_init(&b);
            etwl_buf_init(&w);
            etwl_text_put_lines(&b, err.message, strlen(err.message), "etwlua:   ");
            etwl_text_put_escaped(&w, what, strlen(what));
            fprintf(stderr,
                    "etwlua: reload refused (%s): %s\netwlua: the running scripts and rules go on (their on_stop "
                    "hooks have run)\n",
                    w.data ? w.data : "", b.data ? b.data : "");
            etwl_buf_free(&b);
            etwl_buf_free(&w);
            r->refused++;
            now_rfc3339(ts);
            ri = (reload_info){what, NULL, build_ms, dt / 1e6, err.message};
            snprintf(msg, sizeof msg, "the new scripts failed in on_start; the old ones go on");
            a = (etwl_alert){
                ts,   "etwlua.reload_refused", 21, "A reload was refused", 20, "medium", msg, strlen(msg), NULL,
                NULL, reload_fields,           &ri};
            cli_alert(&a, r);
            etwl_reloader_retire(r->rl, rs);
            return;
        }
    }
    r->lua = rs->lua;
    r->sigma = rs->sigma;
    r->nrule_files = rs->nrule_files;
    g_lua = r->lua;
    dt = mono_ns() - t0;
    r->reloads++;
    r->swap_ns_total += dt;
    if (dt > r->swap_ns_max) r->swap_ns_max = dt;
    if (build_ms > r->build_ms_max) r->build_ms_max = build_ms;
    now_rfc3339(ts);
    ri = (reload_info){what, rs, build_ms, dt / 1e6, NULL};
    snprintf(msg, sizeof msg, "scripts and rules reloaded, swapped in %.3f ms", dt / 1e6);
    a = (etwl_alert){ts,   "etwlua.reloaded", 15, "Scripts and rules reloaded", 26, "info", msg, strlen(msg), NULL,
                     NULL, reload_fields,     &ri};
    cli_alert(&a, r);
    if (old.lua) r->retired_errors += etwl_lua_errors(old.lua);
    /* the old set is freed on the loader thread: closing a Lua state with
     * the whole library takes milliseconds the events should not wait */
    *rs = old;
    etwl_reloader_retire(r->rl, rs);
}

static void loader_refusals(run *r);

static void reload_tick(run *r)
{
    char what[512];
    double build_ms;
    ruleset *rs;
    if (etwl_reloader_failed(r->rl) != r->refused_seen) loader_refusals(r);
    if ((rs = etwl_reloader_take(r->rl, what, sizeof what, &build_ms)) != NULL) swap_in(r, rs, what, build_ms);
}

/* The live process tree (SIGUSR2, --tree-every) on stderr, as `etwlua
 * tree` draws it: the processes alive at the latest event time, between
 * a header and a footer line so a reader can cut one snapshot out. */
static void print_tree(run *r, int64_t at)
{
    etwl_ptree_view v;
    etwl_buf b;
    char ts[ETWL_TIME_STRLEN + 1];
    uint32_t n;
    memset(&v, 0, sizeof v);
    v.json = r->o->json;
    v.at = at;
    v.width = v.json ? 0 : (unsigned)etwl_sys_term_columns(2);
    etwl_buf_init(&b);
    n = etwl_ptree_write(r->ptree, &v, &b);
    etwl_time_format(at, ts);
    fprintf(stderr, "etwlua: process tree at %s (%u processes)\n", ts, (unsigned)n);
    if (b.data && !b.oom) fwrite(b.data, 1, b.len, stderr);
    else if (b.oom) fprintf(stderr, "etwlua: process tree: out of memory\n");
    fprintf(stderr, "etwlua: end of process tree\n");
    fflush(stderr);
    etwl_buf_free(&b);
}

/* The loader thread, for SIGHUP and --watch: it watches the script files,
 * the --rules paths, the library (unless --no-rules) and the --sigma
 * paths. */
static int start_reloader(etwl_cli_opts *o, run *r)
{
    const char *watch[ETWL_CLI_MAX_SCRIPTS + 16 + 16 + 1];
    char libdir[1024];
    int n = 0, i;
    etwl_error err;
    if (o->watch) {
        for (i = 0; i < o->nscripts; i++)
            if (o->scripts[i].path) watch[n++] = o->scripts[i].path;
        for (i = 0; i < o->nrules_dirs; i++) watch[n++] = o->rules_dirs[i];
        for (i = 0; i < o->nsigma; i++) watch[n++] = o->sigma_paths[i];
        if (!o->no_rules && r->lua && etwl_default_rules_dir(r->lua, libdir, sizeof libdir)) watch[n++] = libdir;
        if (!n) {
            report(&(etwl_error){.status = ETWL_EINVAL,
                                 .message = "--watch: no files to watch (scripts given with -e only)"});
            return ETWL_EXIT_USAGE;
        }
    }
    if (etwl_reloader_new(watch, n, build_set, drop_set, r, &r->rl, &err) != ETWL_OK) {
        /* without --watch only SIGHUP needs it: where there is none
         * (Windows) nothing is missed; elsewhere say so, and go on */
        if (!o->watch) {
            if (err.status != ETWL_ENOTSUP) fprintf(stderr, "etwlua: SIGHUP will not reload: %s\n", err.message);
            return ETWL_EXIT_OK;
        }
        return report(&err);
    }
    g_rl = r->rl;
    if (g_reload_early) etwl_reloader_request(r->rl);
    /* from here a change is seen (and tests know they may make one) */
    if (o->watch && !o->alerts_only)
        fprintf(stderr, "etwlua: --watch: watching %d path(s); a change reloads the scripts and rules\n", n);
    return ETWL_EXIT_OK;
}

/* A load the loader thread refused: told on stderr there, an alert here. */
static void loader_refusals(run *r)
{
    char ts[ETWL_TIME_STRLEN + 1];
    static const char msg[] = "the new scripts or rules failed to load (see stderr); the old ones go on";
    unsigned long n = etwl_reloader_failed(r->rl);
    reload_info ri = {"", NULL, 0, 0, "failed to load"};
    etwl_alert a;
    if (n <= r->refused_seen) return;
    r->refused += n - r->refused_seen;
    r->refused_seen = n;
    now_rfc3339(ts);
    a = (etwl_alert){ts,   "etwlua.reload_refused", 21, "A reload was refused", 20, "medium", msg, sizeof msg - 1, NULL,
                     NULL, reload_fields,           &ri};
    cli_alert(&a, r);
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

static void add_stats(etwl_stats *into, const etwl_stats *st)
{
    into->read += st->read;
    into->passed += st->passed;
    into->filtered += st->filtered;
    into->malformed += st->malformed;
    into->lost += st->lost;
}

/* A worker of a parallel replay: takes the next file until none is left,
 * each in a session of its own; its Lua state and Sigma set live as long as
 * the worker, its process tables are emptied per file (ev.source). */
static void *worker_main(void *arg)
{
    run *r = arg;
    shared *sh = r->sh;
    etwl_session *prev = NULL;
    etwl_error err;
    int started = 0;
    memset(&err, 0, sizeof err);
    for (;;) {
        etwl_config cfg;
        etwl_session *s;
        etwl_stats st;
        etwl_status rc;
        uint64_t done, total;
        int i;
        if (g_stop || atomic_load(&sh->failed)) break;
        i = atomic_fetch_add(&sh->next, 1);
        if (i >= sh->nfiles) break;
        cfg = r->o->cfg;
        cfg.read_path = sh->files[i];
        rc = etwl_session_open(&cfg, &s, &err);
        if (rc == ETWL_OK) {
            etwl_session_set_diag(s, on_diag, r);
            r->s = s;
            pthread_mutex_lock(&sh->mu); /* a failing worker closes the others' under mu */
            g_sessions[r->id] = s;
            pthread_mutex_unlock(&sh->mu);
            if (g_stop || atomic_load(&sh->failed)) etwl_session_close(s);
            if (r->lua) {
                etwl_lua_set_session(r->lua, s);
                if (!started) etwl_lua_start(r->lua);
                started = 1;
            }
            rc = etwl_session_process(s, on_event, r, &err);
            pthread_mutex_lock(&sh->mu);
            g_sessions[r->id] = NULL;
            pthread_mutex_unlock(&sh->mu);
            etwl_session_stats(s, &st);
            add_stats(&r->sum_stats, &st);
            r->nfiles++;
            etwl_session_progress(s, &done, &total);
            r->bytes_files += done > total ? done : total;
            atomic_store(&r->bytes_done, r->bytes_files);
            atomic_store(&r->events_done, r->events);
            /* the previous file's session goes once the Lua state points
             * at this one (etw.stats reads it) */
            etwl_session_free(prev);
            prev = s;
            /* a file's output goes out when the file is done */
            if (rc == ETWL_OK && flush_worker(r) != ETWL_OK)
                rc = etwl_error_set(&err, ETWL_EIO, "writing output failed");
        }
        if (rc != ETWL_OK) { /* as a replay without -j, the first error ends the run */
            int k;
            pthread_mutex_lock(&sh->mu);
            if (sh->err.status == ETWL_OK) sh->err = err;
            atomic_store(&sh->failed, 1);
            for (k = 0; k < ETWL_CLI_MAX_JOBS; k++)
                if (g_sessions[k]) etwl_session_close(g_sessions[k]);
            pthread_mutex_unlock(&sh->mu);
            break;
        }
    }
    if (started) etwl_lua_stop(r->lua);
    if (flush_worker(r) != ETWL_OK) { /* what on_stop hooks wrote last */
        pthread_mutex_lock(&sh->mu);
        if (sh->err.status == ETWL_OK) etwl_error_set(&sh->err, ETWL_EIO, "writing output failed");
        pthread_mutex_unlock(&sh->mu);
    }
    {
        struct timespec cpu;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) r->cpu_s = (double)cpu.tv_sec + cpu.tv_nsec / 1e9;
    }
    if (r->lua) etwl_lua_set_session(r->lua, NULL);
    etwl_session_free(prev);
    r->s = NULL;
    pthread_mutex_lock(&sh->mu);
    sh->nended++;
    pthread_cond_signal(&sh->ended);
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

static void free_worker(run *w)
{
    g_luas[w->id] = NULL;
    if (!w->borrowed) {
        etwl_lua_free(w->lua);
        etwl_cli_sigma_absorb(NULL, w->sigma);
        etwl_proctabs_free(w->procs);
    }
    etwl_summary_free(w->sum);
    etwl_buf_free(&w->wbuf);
    etwl_buf_free(&w->abuf);
    etwl_buf_free(&w->out);
}

/* -j N: the files of -r, replayed by N workers (threads), each with its own
 * Lua state, Sigma set and process tables, made here one after the other,
 * each worker started once its own are made.
 * m is the command's own run: the first worker runs its Lua state and Sigma
 * set, the others' counters are added to them at the end, as their
 * summaries are to m's.  Returns the status, with *stats summed. */
static etwl_status run_parallel(etwl_cli_opts *o, run *m, etwl_stats *stats, int *files_out, etwl_error *err)
{
    shared sh;
    run *w;
    etwl_session *ls;
    etwl_status st;
    uint64_t total = 0;
    int n, k, njobs, started = 0;
    memset(&sh, 0, sizeof sh);
    memset(stats, 0, sizeof *stats);
    *files_out = 0;
    /* the source lists the files, in the order it would replay them */
    if ((st = etwl_session_open(&o->cfg, &ls, err)) != ETWL_OK) return st;
    for (n = 0; etwl_session_file(ls, n); n++) {
    }
    sh.files = calloc((size_t)(n ? n : 1), sizeof *sh.files);
    if (!sh.files) {
        etwl_session_free(ls);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    for (k = 0; k < n; k++) {
        struct stat sb;
        if (!(sh.files[k] = strdup(etwl_session_file(ls, k)))) break;
        if (stat(sh.files[k], &sb) == 0) total += (uint64_t)sb.st_size;
        sh.nfiles++;
    }
    etwl_session_free(ls);
    if (sh.nfiles < n) st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    *files_out = sh.nfiles;
    njobs = (int)o->jobs < sh.nfiles ? (int)o->jobs : sh.nfiles;
    w = calloc((size_t)(njobs ? njobs : 1), sizeof *w);
    if (!w && st == ETWL_OK) st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.ended, NULL);
    sh.progress = m->progress;
    for (k = 0; k < njobs && st == ETWL_OK; k++) {
        run *r = &w[k];
        etwl_cli_opts oc = *o; /* setup notes the Sigma ids it knows in it */
        r->o = o;
        r->fp = stdout;
        r->sh = &sh;
        r->id = k;
        r->form = m->form;
        r->outs = m->outs;
        etwl_buf_init(&r->out);
        etwl_buf_init(&r->abuf);
        etwl_buf_init(&r->wbuf);
        if (m->sum && !(r->sum = etwl_summary_new())) st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        if (k == 0) {
            /* the command's state and set, loaded and checked already, are
             * the first worker's: one load less, and they count for it */
            r->borrowed = 1;
            r->procs = m->procs;
            r->lua = m->lua;
            r->sigma = m->sigma;
            if (r->lua) etwl_lua_set_alert_writer(r->lua, cli_alert, r);
            etwl_cli_sigma_set_writer(r->sigma, cli_alert, r);
        } else if (st == ETWL_OK) {
            /* the worker's own process tables: its Lua state feeds them */
            if (!(r->procs = new_tables(o))) st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
            /* the Sigma set first: a Lua host matches it (scripts may
             * extend it), so the host is given the worker's own */
            if (st == ETWL_OK && m->sigma && (st = etwl_cli_sigma_setup_quiet(&oc, &r->sigma, err)) == ETWL_OK)
                etwl_cli_sigma_set_writer(r->sigma, cli_alert, r);
            /* they loaded once already: only memory can fail here (said on stderr) */
            if (st == ETWL_OK && m->lua && load_scripts(o, r) != ETWL_EXIT_OK)
                st = etwl_error_set(err, ETWL_ENOMEM, "worker %d: the scripts did not load again", k + 1);
        }
        g_luas[k] = r->lua;
        /* each worker starts as soon as its state is ready: the first
         * replays while the next loads (the rule library takes about 15 ms
         * a worker, a tenth of a short -j 2 run if done before any starts) */
        if (st != ETWL_OK || g_stop) break;
        if (pthread_create(&r->thread, NULL, worker_main, r) != 0) {
            st = etwl_error_set(err, ETWL_EIO, "cannot start a worker thread");
            break;
        }
        started++;
    }
    if (st != ETWL_OK) { /* the workers running stop at their next file */
        pthread_mutex_lock(&sh.mu);
        atomic_store(&sh.failed, 1);
        for (k = 0; k < ETWL_CLI_MAX_JOBS; k++)
            if (g_sessions[k]) etwl_session_close(g_sessions[k]);
        pthread_mutex_unlock(&sh.mu);
    }
    if (g_stop) st = ETWL_OK; /* stopped while loading: nothing more to replay */
    /* the main thread draws the progress and raises output drops while
     * the workers run; it wakes when one ends, or four times a second */
    pthread_mutex_lock(&sh.mu);
    while (sh.nended < started) {
        uint64_t done = 0, events = 0;
        struct timespec until;
        for (k = 0; k < started; k++) {
            done += atomic_load(&w[k].bytes_done);
            events += atomic_load(&w[k].events_done);
        }
        if (m->progress) etwl_progress_update(m->progress, done, total, events, 0);
        etwl_outputs_check(m->outs);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sh.ended, &sh.mu, &until);
    }
    pthread_mutex_unlock(&sh.mu);
    for (k = 0; k < started; k++) pthread_join(w[k].thread, NULL);
    for (k = 0; k < njobs; k++) {
        /* how the work spread: the busiest worker's CPU time bounds the
         * wall time on idle cores (tests/bench/parallel.sh) */
        if (o->stats)
            fprintf(stderr, "etwlua: worker %d: files=%d events=%llu cpu_ms=%.0f\n", k + 1, w[k].nfiles,
                    (unsigned long long)w[k].events, w[k].cpu_s * 1e3);
        add_stats(stats, &w[k].sum_stats);
        if (m->lua && w[k].lua && !w[k].borrowed) {
            uint64_t dropped, hits = etwl_lua_sigma_alerts(w[k].lua, &dropped);
            etwl_cli_sigma_add_alerts(w[k].sigma, hits, dropped); /* the host matched the worker's set */
            etwl_lua_add_stats(m->lua, w[k].lua);
        }
        if (m->sigma && !w[k].borrowed) {
            etwl_cli_sigma_absorb(m->sigma, w[k].sigma);
            w[k].sigma = NULL;
        }
        etwl_summary_add(m->sum, w[k].sum);
        free_worker(&w[k]);
    }
    if (m->lua) etwl_lua_set_alert_writer(m->lua, cli_alert, m);
    etwl_cli_sigma_set_writer(m->sigma, cli_alert, m);
    if (st == ETWL_OK && sh.err.status != ETWL_OK) {
        *err = sh.err;
        st = sh.err.status;
    }
    pthread_cond_destroy(&sh.ended);
    pthread_mutex_destroy(&sh.mu);
    for (k = 0; k < sh.nfiles; k++) free((char *)sh.files[k]);
    free(sh.files);
    free(w);
    return st;
}

int main(int argc, char **argv)
{
    etwl_cli_opts o;
    etwl_error err;
    etwl_session *s = NULL;
    etwl_status st;
    etwl_stats stats;
    etwl_progress progress;
    run r;
    int code, files = 0, summary;
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
    etwl_sys_on_signal(ETWL_SYS_SIG_RELOAD, on_reload_signal);
    if (!o.cfg.read_path) etwl_sys_on_signal(ETWL_SYS_SIG_TREE, on_tree_signal);
    memset(&r, 0, sizeof r);
    r.event_thread = pthread_self();
    r.o = &o;
    r.fp = stdout;
    r.form = etwl_cli_stdout_form(&o, isatty(1));
    etwl_buf_init(&r.out);
    etwl_buf_init(&r.abuf);
    /* whole lines on a terminal: scripts' print() goes to stderr, unbuffered,
     * and a block flushed mid-line would split an alert (and its colour
     * codes) around it; and a person watching wants each alert when raised */
    setvbuf(stdout, NULL, isatty(1) ? _IOLBF : _IOFBF, 1 << 16);
    /* the summary: asked for, or a replay on a terminal (docs/cli.md) */
    summary = o.summary > 0 || (o.summary == 0 && o.cfg.read_path && isatty(2));
    if (summary) r.sum = etwl_summary_new();
    /* the progress line: replays of files, on a terminal */
    etwl_progress_start(&progress, o.cfg.read_path && strcmp(o.cfg.read_path, "-") != 0 && !o.no_progress && isatty(2));
    if (progress.on) r.progress = &progress;
    if (etwl_outputs_open(&o, etwl_cli_stdout_form(&o, isatty(1)), &r.outs, &err) != ETWL_OK) {
        etwl_buf_free(&r.out);
        etwl_buf_free(&r.abuf);
        etwl_summary_free(r.sum);
        return report(&err);
    }
    /* Sigma rules first: their ids are known to the --rule check */
    if (etwl_cli_sigma_setup(&o, &r.sigma, &err) != ETWL_OK) {
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        etwl_buf_free(&r.abuf);
        etwl_summary_free(r.sum);
        return report(&err);
    }
    etwl_cli_sigma_set_writer(r.sigma, cli_alert, &r);
    if (r.sigma && o.no_rules && !o.nscripts && !o.nrules_dirs && o.nsigma_known < o.nrule_only + o.nrule_skip) {
        /* no Lua rules to name: every --rule id must be a Sigma id */
        etwl_cli_sigma_finish(r.sigma, 0);
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        etwl_buf_free(&r.abuf);
        etwl_summary_free(r.sum);
        return report(&(etwl_error){.status = ETWL_EINVAL, .message = "--rule/--skip-rule: an id names no rule"});
    }
    if (!(r.procs = new_tables(&o))) {
        etwl_cli_sigma_finish(r.sigma, 0);
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        etwl_buf_free(&r.abuf);
        etwl_summary_free(r.sum);
        return report(&(etwl_error){.status = ETWL_ENOMEM, .message = "out of memory"});
    }
    if (o.nscripts || !o.no_rules || o.nrules_dirs) {
        code = load_scripts(&o, &r);
        if (code != ETWL_EXIT_OK) {
            etwl_cli_sigma_finish(r.sigma, 0);
            etwl_outputs_close(r.outs, 0);
            etwl_proctabs_free(r.procs);
            etwl_buf_free(&r.out);
            etwl_buf_free(&r.abuf);
            etwl_summary_free(r.sum);
            return code;
        }
    }
    if (o.jobs) {
        /* -j: the workers replay the files; this run adds their counters up */
        if (o.duration > 0) etwl_sys_stop_after(o.duration);
        st = run_parallel(&o, &r, &stats, &files, &err);
        etwl_progress_clear(&progress);
        goto finish;
    }
    if ((r.lua || r.sigma) && (code = start_reloader(&o, &r)) != ETWL_EXIT_OK) {
        etwl_cli_sigma_finish(r.sigma, 0);
        etwl_lua_free(r.lua);
        etwl_outputs_close(r.outs, 0);
        etwl_proctabs_free(r.procs);
        etwl_buf_free(&r.out);
        return code;
    }
    if (o.watch && !r.rl) {
        etwl_outputs_close(r.outs, 0);
        etwl_proctabs_free(r.procs);
        etwl_buf_free(&r.out);
        return report(&(etwl_error){.status = ETWL_EINVAL,
                                    .message = "--watch: there are no scripts or rules to "
                                               "reload (--no-rules and no script)"});
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
        g_rl = NULL;
        etwl_reloader_free(r.rl);
        etwl_cli_sigma_finish(r.sigma, 0);
        etwl_lua_free(r.lua);
        etwl_proctabs_free(r.procs);
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        etwl_buf_free(&r.abuf);
        etwl_summary_free(r.sum);
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
    if (!o.cfg.read_path) {
        /* bounded: a long-running daemon keeps the newest processes' tree
         * up to this many instances (the output says how many it dropped) */
        r.ptree = etwl_ptree_new(LIVE_TREE_MAX);
        if (o.tree_every > 0) r.next_tree = -1; /* from the first event's time */
    }
    if (r.lua) {
        etwl_lua_set_session(r.lua, s);
        etwl_lua_start(r.lua);
    }
    if (o.traceevent && o.dump && !(r.te = etwl_te_new())) {
        etwl_session_free(s);
        etwl_lua_free(r.lua);
        etwl_outputs_close(r.outs, 0);
        etwl_buf_free(&r.out);
        etwl_buf_free(&r.abuf);
        etwl_summary_free(r.sum);
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
    etwl_progress_clear(&progress);
    /* no set is swapped in from here on; a load in progress ends first */
    g_rl = NULL;
    etwl_reloader_free(r.rl);
    r.rl = NULL;
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
    etwl_session_stats(s, &stats);
finish:
    if (fflush(stdout) != 0 && st == ETWL_OK) etwl_error_set(&err, st = ETWL_EIO, "writing output failed");
    code = st ? report(&err) : ETWL_EXIT_OK;
    if (code == ETWL_EXIT_OK && o.fail_on_error && r.lua && etwl_lua_errors(r.lua) + r.retired_errors) {
        fprintf(stderr, "etwlua: %llu handler error(s) (--fail-on-error)\n",
                (unsigned long long)(etwl_lua_errors(r.lua) + r.retired_errors));
        code = ETWL_EXIT_FAILURE;
    }
    if (o.stats && r.lua) etwl_lua_print_stats(r.lua, stderr);
    if (r.lua) {
        uint64_t dropped, n = etwl_lua_sigma_alerts(r.lua, &dropped);
        etwl_cli_sigma_add_alerts(r.sigma, n, dropped);
        etwl_lua_sigma_report(r.lua, o.stats);
    }
    if (o.stats && (o.watch || r.reloads || r.refused))
        fprintf(stderr,
                "etwlua: reload: reloads=%llu refused=%llu swap_ms_max=%.3f swap_ms_avg=%.3f load_ms_max=%.1f "
                "delivered=%llu\n",
                (unsigned long long)r.reloads, (unsigned long long)r.refused, r.swap_ns_max / 1e6,
                r.reloads ? (double)r.swap_ns_total / (double)r.reloads / 1e6 : 0.0, r.build_ms_max,
                (unsigned long long)r.events);
    etwl_cli_sigma_finish(r.sigma, o.stats);
    r.sigma = NULL;
    if (o.stats)
        fprintf(stderr, "etwlua: stats: read=%llu passed=%llu filtered=%llu malformed=%llu lost=%llu%s\n",
                (unsigned long long)stats.read, (unsigned long long)stats.passed, (unsigned long long)stats.filtered,
                (unsigned long long)stats.malformed, (unsigned long long)stats.lost,
                etw_buffers(&stats, bufs, sizeof bufs));
    else if (stats.malformed)
        fprintf(stderr, "etwlua: skipped %llu malformed record(s)\n", (unsigned long long)stats.malformed);
    if (r.sum) etwl_summary_print(r.sum, r.lua ? etwl_lua_errors(r.lua) : 0, (uint64_t)files, stderr);
    /* flushed last, so alerts from on_stop hooks and the checks above go
     * too; an alert dropped or not delivered is a runtime failure */
    if (etwl_outputs_close(r.outs, o.stats) && code == ETWL_EXIT_OK) code = ETWL_EXIT_FAILURE;
    if (o.record && st == ETWL_OK)
        fprintf(stderr, "etwlua: recorded %llu events to %s, and the schemas of their types to %s.schemas\n",
                (unsigned long long)stats.passed, o.cfg.record_path, o.cfg.record_path);
    etwl_session_free(s);
    etwl_lua_free(r.lua);
    etwl_ptree_free(r.ptree);
    etwl_proctabs_free(r.procs);
    etwl_buf_free(&r.out);
    etwl_buf_free(&r.abuf);
    etwl_summary_free(r.sum);
    return code;
}
