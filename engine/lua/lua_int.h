/* lua_int.h - inside the scripting host: the state behind etwl_lua and what
 * the engine/lua/ files share.  Nothing outside engine/lua/ includes it; the
 * CLI sees only lua_host.h.
 *
 * Everything here runs on the thread that owns the lua_State, the one that
 * calls etwl_session_process().  Engine-facing functions return status codes;
 * only the functions registered into Lua raise. */
#ifndef ETWL_LUA_INT_H
#define ETWL_LUA_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <lua.h>

#include "etwl.h"
#include "core/event.h"
#include "core/filter.h"
#include "lua/lua_host.h"
#include "process/proctab.h"

typedef struct etwl_handler {
    etwl_filter filter;
    int fn_ref;         /* registry ref of the handler */
    int where_ref;      /* optional Lua predicate, LUA_NOREF if none */
    struct lgate *gate; /* the rule library's gate (lua_rules.c), NULL if none */
    int gate_kind;      /* which process-start event the gate reads */
    char origin[160];   /* "script.lua:12" where it was registered */
    uint64_t calls, errors, budget_stops;
    uint64_t ns_total, ns_max;
} etwl_handler;

typedef struct etwl_timer {
    int fn_ref;
    int64_t period; /* FILETIME ticks */
    int64_t next;
    char origin[160];
} etwl_timer;

/* nesting depths of timed calls the watchdog times apart (deeper ones
 * share the last) */
#define ETWL_WD_DEPTHS 32

struct etwl_lua {
    lua_State *L;
    etwl_lua_opts o;
    /* memory accounting for the allocator cap */
    size_t mem_used, mem_peak, mem_limit;
    int mem_enforce;
    /* handlers in registration (= load) order */
    etwl_handler *h;
    int nh, caph;
    int *start_refs, nstart, *stop_refs, nstop;
    etwl_timer *timers;
    int ntimers;
    /* the event being dispatched; NULL outside a callback */
    etwl_event *cur;
    uint64_t cur_seq;
    etwl_prop_cache props; /* ev.info.X by layout: scripts ask for the same names */
    /* the getters' names (ev.pid, ev.ext.user_sid) as this state interns
     * them: a key is found by its address (lua_event.c, key_id) */
    struct etwl_lua_key {
        const char *key;
        int id;
    } ev_keys[64], ext_keys[16];
    /* session access for etw.stats() */
    etwl_session *session;
    uint64_t alerts, handler_errors;
    etwl_buf buf;
    const char *loading; /* script being loaded, for origins */
    int rule_library;    /* loading a rule file: it may write the lua/ modules */
    uint64_t ro_reports; /* writes to read-only views refused while loading */
    int budget_armed;    /* instructions the next pcall may run */
    int budget_hit;      /* set by the count hook (or the watchdog) for the running call */
    long budget_used;    /* instructions the running call has used, counted in budget_step chunks */
    long budget_limit;   /* its budget */
    int budget_step;     /* the count hook's period */
    int depth;           /* etwl_lua_pcall nesting */
    /* ETWL_MATCH_STEP_CHUNKs of pattern steps ever charged (tests read it) */
    uint64_t match_chunks;
    /* the wall-clock watchdog (lua_host.c): a thread that interrupts a
     * handler running longer than handler_timeout_ms, or any Lua call once
     * the process is asked to stop */
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    pthread_t wd_thread;
    int wd_running, wd_quit;
    /* No lock and no clock per call: each call gets a generation number;
     * the watchdog reads which timed call runs (wd_call: its generation
     * << 8 | its nesting depth; 0: none) and times it from when it first
     * saw it, and an interrupt names the generation it is for
     * (etwl_lua_interrupted), so one meant for a call that has ended
     * meanwhile never hits the next. */
    uint64_t call_gen, gen_next; /* the running call's generation; the last given */
    _Atomic uint64_t wd_call;
    _Atomic uint64_t wd_gens[ETWL_WD_DEPTHS]; /* the timed call at each depth, for its callers' clocks */
    _Atomic uint64_t interrupt;               /* generation << 2 | ETWL_INT_*: why that call must end */
    atomic_int stop_request;                  /* set by etwl_lua_request_stop (signal context) */
    uint64_t stop_ns;                         /* when the watchdog saw the stop request */
    int timing;                               /* measure handler time (for --stats) */
    char lua_dir[1024];                       /* where require() finds lua/ modules */
    uint64_t dispatch_seq;                    /* numbers the events handed to Lua */
    int capture_ref;                          /* etwlua test: rule ids alerted during an injection, else LUA_NOREF */
    etwl_proctabs *hosts;                     /* a process table per host, emptied per file */
    int hosts_borrowed;                       /* hosts is the caller's (opts.procs): not freed here */
    etwl_proctab *procs;                      /* the current event's host's: fed by every event, read by ev.process */
    etwl_proc_event pe;                       /* what the current event says about processes */
    int need_process;                         /* some filter has a process key */
    /* `etwlua shell` (lua_shell.c), else NULL */
    struct etwl_lua_shell *shell;
    /* Sigma rules (lua_sigma.c): the set scripts see and the host matches;
     * owned when a script made it (sigma.load without --sigma) */
    struct etwl_sigma *sigma;
    int sigma_owned;
    int sigma_hooks;            /* exclusion functions and on_match handlers registered */
    uint64_t sigma_alerts;      /* Sigma alerts written */
    uint64_t sigma_dropped;     /* hits an exclusion function or an on_match handler suppressed */
    uint64_t sigma_errors;      /* on_match handler errors (printed: the first max_error_prints) */
    uint64_t sigma_excl_errors; /* exclusion function errors (likewise) */
};

/* The one protected call: runs the function below nargs arguments with a
 * traceback handler and the instruction budget armed.  On error the message
 * (with traceback) is left in x->buf and the stack is restored.  Stack slot
 * 1 of the state holds the handler; nothing may pop below it. */
int etwl_lua_pcall(etwl_lua *x, int nargs, int nresults, int *budget_hit);

/* why a call is interrupted (etwl_lua.interrupt) */
#define ETWL_INT_TIMEOUT 1
#define ETWL_INT_STOP 2

/* Why the running call must end (ETWL_INT_*), or 0. */
static inline int etwl_lua_interrupted(etwl_lua *x)
{
    uint64_t v = atomic_load_explicit(&x->interrupt, memory_order_relaxed);
    return v && v >> 2 == x->call_gen ? (int)(v & 3) : 0;
}

/* The longest string an alert field or a print line carries; longer ones
 * are cut at a UTF-8 boundary and marked "…[truncated N bytes]". */
#define ETWL_LUA_FIELD_CAP (64u << 10)
/* Past this many bytes of an alert line, its remaining strings are written
 * as the marker alone: the same capped string referenced from 10,000 fields
 * costs the Lua state nothing, but would make a 4 GB line. */
#define ETWL_LUA_ALERT_CAP (1u << 20)
/* etwl_lua.buf is given back after use once it grew past this. */
#define ETWL_LUA_BUF_KEEP (1u << 20)

/* The registry key of etw.reload_state: one plain table per state, shared
 * by its scripts, copied into the next state on a reload. */
#define ETWL_LUA_RELOAD_STATE "etwl.reload_state"

/* lua_strmatch.c: the step-counted pattern functions.  The matcher calls
 * etwl_lua_match_steps (lua_host.c) every ETWL_MATCH_STEP_CHUNK steps; it
 * raises when the call is over budget or interrupted. */
#define ETWL_MATCH_STEP_CHUNK 1024
#define ETWL_MATCH_STEP_COST 1 /* matcher steps per budget instruction */
void etwl_lua_bounded_patterns(lua_State *L);
void etwl_lua_match_steps(lua_State *L);

/* Pushes s (n bytes) cut to ETWL_LUA_FIELD_CAP with the truncation marker
 * when longer; returns the pushed text and sets *out_n. */
const char *etwl_lua_push_capped(lua_State *L, const char *s, size_t n, size_t *out_n);
/* Frees x->buf's memory once it grew past ETWL_LUA_BUF_KEEP. */
void etwl_lua_buf_trim(etwl_lua *x);
/* Prints a failed call's message (in x->buf) as the handlers' errors are:
 * the first max_error_prints of each origin. */
void etwl_lua_report(etwl_lua *x, const char *what, const char *origin, uint64_t nth);
/* Raises unless scripts are being loaded (etw.on, every, on_start, on_stop). */
void etwl_lua_check_load_time(lua_State *L, const char *what);

/* lua_event.c */
void etwl_lua_event_open(lua_State *L);
/* Pushes a userdata for the event being dispatched (expires with it). */
void etwl_lua_push_event(lua_State *L, etwl_lua *x, etwl_event *ev);
etwl_event *etwl_lua_check_event(lua_State *L, int idx);
/* pushes ev.info of the event being handled */
void etwl_lua_push_info(lua_State *L, etwl_lua *x);
void etwl_lua_push_value(lua_State *L, const etwl_value *v, int depth);

/* lua_process.c */
void etwl_lua_process_open(lua_State *L);
/* Pushes ev.process for the current event (a snapshot table), or nil. */
void etwl_lua_push_event_process(lua_State *L, etwl_lua *x);

/* lua_etw.c */
int etwl_luaopen_etw(lua_State *L);
/* Compiles the etw.on filter table at idx into h (raises on a bad key);
 * the shell's find{} takes the same tables. */
void etwl_lua_compile_filter(lua_State *L, int idx, etwl_handler *h);

/* lua_event.c: for the shell's completion.  Calls add for each field name
 * of the event view at idx (of the view `sub` of it - "info", "ext",
 * "header" - when sub is set); returns 0 when idx holds no live view. */
int etwl_lua_event_names(lua_State *L, int idx, const char *sub, void (*add)(const char *name, void *u), void *u);

/* Pushes a fresh environment as a script gets (the global table with
 * --unsafe); the shell's typed lines share one (lua_host.c). */
void etwl_lua_push_sandbox_env(lua_State *L, etwl_lua *x);

/* lua_shell.c */
void etwl_lua_shell_free(etwl_lua *x);
/* Starts the running call's wall-clock limit again: the shell's builtins
 * spend their time reading the trace in C, which is not the typed line's
 * own work (lua_host.c). */
void etwl_lua_rearm_clock(etwl_lua *x);
/* The table at idx as an alert's fields: a JSON object, or " k=v" pairs
 * (sorted keys, strings capped and escaped as etw.alert writes them). */
void etwl_lua_write_fields(lua_State *L, int idx, etwl_buf *b, int json);

/* lua_sigma.c: the etwlua.sigma module, and the Sigma rules the host
 * matches (its own, or the CLI's --sigma set handed over in the options) */
int etwl_luaopen_sigma(lua_State *L);
/* Matches the event against the set; runs exclusions and on_match
 * handlers for each hit, and writes the alerts. */
void etwl_lua_sigma_event(etwl_lua *x, etwl_event *ev);
void etwl_lua_sigma_free(etwl_lua *x);
/* "etwlua.rulecore": log sources and the literal prefilter (lua_rules.c) */
int etwl_luaopen_rulecore(lua_State *L);
etwl_lua *etwl_lua_host(lua_State *L);
/* 0 when the handler's gate proves that no rule of the library would run
 * on this process start (so no Lua runs for it); 1 when Lua must decide */
int etwl_lua_gate_pass(etwl_lua *x, const etwl_handler *h, etwl_event *ev);

#endif
