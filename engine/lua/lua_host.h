/* lua_host.h - the scripting host: one lua_State, its scripts, handlers and
 * limits.
 *
 * Everything here runs on the thread that owns the lua_State, the one that
 * calls etwl_session_process().  Engine-facing functions return status codes;
 * only the functions registered into Lua raise. */
#ifndef ETWL_LUA_HOST_H
#define ETWL_LUA_HOST_H

#include <stdio.h>

#include <lua.h>

#include "etwl.h"
#include "core/filter.h"
#include "process/proctab.h"

typedef struct etwl_lua_opts {
    long budget;           /* instructions per handler call; 0 = default */
    size_t memory_limit;   /* bytes; 0 = default */
    int unsafe;            /* give scripts io, os, debug, package */
    int alerts_only;
    int alerts_json;       /* 1 = JSON lines, 0 = readable line */
    FILE *alert_out;       /* default stdout */
    FILE *err_out;         /* default stderr */
    const char *lua_dir;   /* where lua/ modules live; NULL = search */
    int max_error_prints;  /* per handler; default 3 */
    int64_t proc_grace;    /* FILETIME ticks exited processes are kept; 0 = default */
} etwl_lua_opts;

typedef struct etwl_handler {
    etwl_filter filter;
    int fn_ref;     /* registry ref of the handler */
    int where_ref;  /* optional Lua predicate, LUA_NOREF if none */
    char origin[160]; /* "script.lua:12" where it was registered */
    uint64_t calls, errors, budget_stops;
    uint64_t ns_total, ns_max;
} etwl_handler;

typedef struct etwl_timer {
    int fn_ref;
    int64_t period; /* FILETIME ticks */
    int64_t next;
    char origin[160];
} etwl_timer;

typedef struct etwl_lua etwl_lua;

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
    /* session access for etw.stats() */
    etwl_session *session;
    uint64_t alerts, handler_errors;
    etwl_buf buf;
    const char *loading; /* script being loaded, for origins */
    int budget_armed;    /* instructions the next pcall may run */
    int budget_hit;      /* set by the count hook */
    int timing;          /* measure handler time (for --stats) */
    char lua_dir[1024];  /* where require() finds lua/ modules */
    uint64_t dispatch_seq; /* numbers the events handed to Lua */
    int test_mode;         /* etwlua test: etw._inject exists, alerts are collected */
    int capture_ref;       /* table of rule ids alerted during an injection */
    etwl_proctab *procs;   /* fed by every event, read by ev.process */
    etwl_proc_event pe;    /* what the current event says about processes */
    int need_process;      /* some filter has a process key */
};

#ifndef ETWL_LUA_INSTALL_DIR
#define ETWL_LUA_INSTALL_DIR "/usr/local/share/etwlua/lua"
#endif

etwl_status etwl_lua_new(const etwl_lua_opts *o, etwl_lua **out, etwl_error *err);
void etwl_lua_free(etwl_lua *x);
etwl_status etwl_lua_load_file(etwl_lua *x, const char *path, etwl_error *err);
etwl_status etwl_lua_load_string(etwl_lua *x, const char *code, const char *name, etwl_error *err);
void etwl_lua_set_session(etwl_lua *x, etwl_session *s);
/* etw.options[name] = {items...}, read by Lua modules such as etwlua.rules. */
void etwl_lua_set_option_list(etwl_lua *x, const char *name, const char *const *items, int n);
/* Test mode: alerts are collected for etw._inject instead of written. */
void etwl_lua_set_test_mode(etwl_lua *x, int on);
/* Runs on_start hooks; then dispatch per event; then on_stop hooks. */
etwl_status etwl_lua_start(etwl_lua *x);
/* The C filters run first: an event no handler wants never touches Lua. */
etwl_status etwl_lua_dispatch(etwl_lua *x, etwl_event *ev);
etwl_status etwl_lua_stop(etwl_lua *x);
int etwl_lua_nhandlers(const etwl_lua *x);
/* The event ids of provider p that the loaded handlers (and the process
 * table) can use, for a kernel-side event-id filter: sets p->nevent_ids to 0
 * when some handler may want any id of p, or when there are more ids than
 * one filter takes. */
void etwl_lua_wanted_ids(const etwl_lua *x, etwl_provider_spec *p);
/* Per-handler statistics, one line each. */
void etwl_lua_print_stats(etwl_lua *x, FILE *f);

/* ---- internal, shared by the lua_*.c files ---------------------------- */

/* The one protected call: runs the function below nargs arguments with a
 * traceback handler and the instruction budget armed.  On error the message
 * (with traceback) is left in x->buf and the stack is restored.  Stack slot
 * 1 of the state holds the handler; nothing may pop below it. */
int etwl_lua_pcall(etwl_lua *x, int nargs, int nresults, int *budget_hit);

/* lua_event.c */
void etwl_lua_event_open(lua_State *L);
/* Pushes a userdata for the event being dispatched (expires with it). */
void etwl_lua_push_event(lua_State *L, etwl_lua *x, etwl_event *ev);
etwl_event *etwl_lua_check_event(lua_State *L, int idx);
void etwl_lua_push_value(lua_State *L, const etwl_value *v, int depth);

/* lua_process.c */
void etwl_lua_process_open(lua_State *L);
/* Pushes ev.process for the current event (a snapshot table), or nil. */
void etwl_lua_push_event_process(lua_State *L, etwl_lua *x);

/* lua_etw.c */
int etwl_luaopen_etw(lua_State *L);
etwl_lua *etwl_lua_host(lua_State *L);

#endif
