/* lua_host.h - the scripting host as the CLI sees it: one Lua state, its
 * scripts, handlers and limits, behind an opaque handle.
 *
 * Everything here runs on the thread that owns the Lua state, the one that
 * calls etwl_session_process().  These functions return status codes; only
 * the functions registered into Lua raise (engine/lua/lua_int.h). */
#ifndef ETWL_LUA_HOST_H
#define ETWL_LUA_HOST_H

#include <stdint.h>
#include <stdio.h>

#include "etwl.h"

struct etwl_alert;      /* output/alert.h */
struct etwl_proc_event; /* process/proctab.h */

typedef struct etwl_lua_opts {
    long budget;         /* instructions per handler call; 0 = default */
    size_t memory_limit; /* bytes; 0 = default */
    int unsafe;          /* give scripts io, os, debug, package */
    int alerts_only;
    int alerts_json;      /* the alert form: ETWL_ALERT_* (output/alert.h) with output/schema_map.h's bits */
    FILE *alert_out;      /* default stdout */
    FILE *err_out;        /* default stderr */
    const char *lua_dir;  /* where lua/ modules live; NULL = search */
    int max_error_prints; /* per handler; default 3 */
    int64_t proc_grace;   /* FILETIME ticks exited processes are kept; 0 = default */
    /* set: alerts go here instead of alert_out (the -o outputs) */
    void (*alert_write)(const struct etwl_alert *a, void *ctx);
    void *alert_ctx;
    long handler_timeout_ms; /* wall-clock limit of one handler call; 0 = default (1000) */
    /* the --sigma rules (sigma/sigma.h): scripts list, select and extend
     * them through require "etwlua.sigma", and the host matches them in
     * etwl_lua_dispatch, before the handlers.  NULL: none (a script may
     * still load rules; the host then owns the set). */
    struct etwl_sigma *sigma;
    /* set: the process tables to feed and read (one per host), the
     * caller's: they outlive the host, so a reloaded state sees the
     * processes the old one saw; NULL: the host makes its own */
    struct etwl_proctabs *procs;
} etwl_lua_opts;

typedef struct etwl_lua etwl_lua;

#ifndef ETWL_LUA_INSTALL_DIR
#define ETWL_LUA_INSTALL_DIR "/usr/local/share/etwlua/lua"
#endif

etwl_status etwl_lua_new(const etwl_lua_opts *o, etwl_lua **out, etwl_error *err);
void etwl_lua_free(etwl_lua *x);
etwl_status etwl_lua_load_file(etwl_lua *x, const char *path, etwl_error *err);
/* A file of the rule library (or of --rules DIR): unlike a script, it may
 * write into the modules under lua/ (rules.by_id[...]); the etw module and
 * the string metatable are read-only to it too. */
etwl_status etwl_lua_load_rule_file(etwl_lua *x, const char *path, etwl_error *err);
etwl_status etwl_lua_load_string(etwl_lua *x, const char *code, const char *name, etwl_error *err);
void etwl_lua_set_session(etwl_lua *x, etwl_session *s);
/* etw.options[name] = {items...}, read by Lua modules such as etwlua.rules. */
void etwl_lua_set_option_list(etwl_lua *x, const char *name, const char *const *items, int n);
/* Measure handler time (for --stats). */
void etwl_lua_set_timing(etwl_lua *x, int on);
/* Where require() finds the lua/ modules (and lua/rules). */
const char *etwl_lua_dir(const etwl_lua *x);
/* Alerts raised so far. */
uint64_t etwl_lua_alerts(const etwl_lua *x);
/* Sigma alerts the host wrote, and hits its scripts suppressed. */
uint64_t etwl_lua_sigma_alerts(const etwl_lua *x, uint64_t *suppressed);
/* For Sigma rules a script loaded itself (no --sigma): regex limit hits
 * and correlation evictions on stderr, and with stats the counters. */
void etwl_lua_sigma_report(etwl_lua *x, int stats);
/* Handler and hook errors so far (each is reported when it happens). */
uint64_t etwl_lua_errors(const etwl_lua *x);
/* Runs on_start hooks; then dispatch per event; then on_stop hooks. */
etwl_status etwl_lua_start(etwl_lua *x);
/* The C filters run first: an event no handler wants never touches Lua. */
etwl_status etwl_lua_dispatch(etwl_lua *x, etwl_event *ev);
/* The same, for a caller that fed the (borrowed, opts.procs) process table
 * with this event itself: pe is what etwl_proctab_observe made of it. */
etwl_status etwl_lua_dispatch_observed(etwl_lua *x, etwl_event *ev, const struct etwl_proc_event *pe);
etwl_status etwl_lua_stop(etwl_lua *x);
/* Like etwl_lua_start, for a reloaded state: stops at the first on_start
 * hook that fails and returns its error (file:line and message) in err, so
 * the caller can refuse the new state. */
etwl_status etwl_lua_start_checked(etwl_lua *x, etwl_error *err);
/* Copies etw.reload_state of `from` into that of `to` (docs/scripting.md):
 * string, number and boolean keys; string, number, boolean and plain-table
 * values, nested at most ETWL_LUA_CARRY_DEPTH deep, ETWL_LUA_CARRY_MAX_ITEMS
 * entries and ETWL_LUA_CARRY_MAX_BYTES of strings in all.  Anything else (a
 * function, userdata, a table with a metatable, a cycle, too much) copies
 * nothing and returns ETWL_EINVAL with the offending key path in err: `to`
 * starts with an empty table.  Both states must be idle (no call running). */
#define ETWL_LUA_CARRY_DEPTH 32
#define ETWL_LUA_CARRY_MAX_ITEMS 100000
#define ETWL_LUA_CARRY_MAX_BYTES (16u << 20)
etwl_status etwl_lua_carry_state(etwl_lua *to, etwl_lua *from, etwl_error *err);
/* What the process table made of the event last dispatched. */
struct etwl_proc_event *etwl_lua_proc_event(etwl_lua *x);
/* The on_start and on_stop hooks loaded. */
int etwl_lua_nhooks(const etwl_lua *x, int *nstop);
/* Asks the host to end whatever Lua is running: the watchdog interrupts the
 * running call within a few milliseconds, and handlers stop being called
 * once a short grace period has passed.  Async-signal-safe (only sets an
 * atomic flag), for the CLI's SIGINT/SIGTERM handler; x may be NULL. */
void etwl_lua_request_stop(etwl_lua *x);
int etwl_lua_nhandlers(const etwl_lua *x);
/* The event ids of provider p that the loaded handlers (and the process
 * table) can use, for a kernel-side event-id filter: sets p->nevent_ids to 0
 * when some handler may want any id of p, or when there are more ids than
 * one filter takes. */
void etwl_lua_wanted_ids(const etwl_lua *x, etwl_provider_spec *p);
/* Where alerts go from now on (etwl_lua_opts.alert_write and alert_ctx):
 * the parallel replay hands the command's own state to its first worker. */
void etwl_lua_set_alert_writer(etwl_lua *x, void (*write)(const struct etwl_alert *a, void *ctx), void *ctx);
/* Adds what `from` counted (alerts, errors, per-handler calls and times,
 * memory peak as a maximum) to `into`: the parallel replay (-j) sums its
 * workers, whose states loaded the same scripts, into one for --stats and
 * --fail-on-error.  Handlers are matched by position. */
void etwl_lua_add_stats(etwl_lua *into, const etwl_lua *from);
/* Per-handler statistics, one line each. */
void etwl_lua_print_stats(etwl_lua *x, FILE *f);

/* `etwlua shell` (lua_shell.c): the prompt's Lua side.  The CLI owns the
 * trace and hands events over through these callbacks; the host keeps the
 * typed lines' environment, `ev` and the builtins (next, skip, find, show,
 * tree, stats, run, sigma, help). */
typedef struct etwl_shell_ops {
    /* The next event (valid until the following call), or *out = NULL at
     * the end; ETWL_ESTOPPED when Ctrl-C interrupted the wait. */
    etwl_status (*next)(void *ctx, etwl_event **out, etwl_error *err);
    /* run(what) and sigma(path): over the current event and the rest;
     * *moved is set once they have read on (a load error leaves it 0). */
    etwl_status (*run)(void *ctx, const char *what, int *moved, etwl_error *err);
    etwl_status (*sigma)(void *ctx, const char *path, int *moved, etwl_error *err);
    /* tree(pid): the process tree so far, drawn into out. */
    void (*tree)(void *ctx, int has_pid, uint32_t pid, etwl_buf *out);
    /* stats(): calls put once per counter. */
    void (*stats)(void *ctx, void (*put)(void *u, const char *name, uint64_t v), void *u);
    void *ctx;
    FILE *out; /* results and show(); errors go to the host's err_out */
} etwl_shell_ops;

/* Installs the builtins and the typed lines' environment (the scripts'
 * sandbox unless --unsafe). */
etwl_status etwl_lua_shell_open(etwl_lua *x, const etwl_shell_ops *ops, etwl_error *err);
/* Moves to the first event, as next() does. */
void etwl_lua_shell_first(etwl_lua *x);
#define ETWL_SHELL_OK 0
#define ETWL_SHELL_ERROR 1      /* printed to err_out; the shell goes on */
#define ETWL_SHELL_INCOMPLETE 2 /* the chunk needs more lines */
/* Runs one typed chunk (an expression's values are printed). */
int etwl_lua_shell_eval(etwl_lua *x, const char *code);
/* Completion: calls add with each name that can follow `expr.` (or each
 * global when expr is ""), for the word being typed. */
void etwl_lua_shell_complete(etwl_lua *x, const char *expr, void (*add)(const char *name, void *u), void *u);

/* `etwlua test` (lua_selftest.c): every loaded rule over its own examples,
 * one line per rule on stdout.  *failures counts the rules that missed. */
etwl_status etwl_lua_selftest(etwl_lua *x, int *failures, etwl_error *err);

/* `etwlua bench` (lua_bench.c): the eager baseline.  Calls the first
 * handler the bench script registered with etw.on n times, each with a
 * table of every header field and property of next(ctx, i): what decoding
 * everything up front would cost. */
etwl_status etwl_lua_bench_eager(etwl_lua *x, etwl_event *(*next)(void *ctx, uint64_t i), void *ctx, uint64_t n);

#endif
