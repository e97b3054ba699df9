/* lua_int.h - inside the scripting host: the state behind etwl_lua and what
 * the engine/lua/ files share.  Nothing outside engine/lua/ includes it; the
 * CLI sees only lua_host.h.
 *
 * Everything here runs on the thread that owns the lua_State, the one that
 * calls etwl_session_process().  Engine-facing functions return status codes;
 * only the functions registered into Lua raise. */
#ifndef ETWL_LUA_INT_H
#define ETWL_LUA_INT_H

#include <stdio.h>

#include <lua.h>

#include "etwl.h"
#include "core/filter.h"
#include "lua/lua_host.h"
#include "process/proctab.h"

typedef struct etwl_handler {
    etwl_filter filter;
    int fn_ref;       /* registry ref of the handler */
    int where_ref;    /* optional Lua predicate, LUA_NOREF if none */
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
    const char *loading;   /* script being loaded, for origins */
    int budget_armed;      /* instructions the next pcall may run */
    int budget_hit;        /* set by the count hook */
    int timing;            /* measure handler time (for --stats) */
    char lua_dir[1024];    /* where require() finds lua/ modules */
    uint64_t dispatch_seq; /* numbers the events handed to Lua */
    int capture_ref;       /* etwlua test: rule ids alerted during an injection, else LUA_NOREF */
    etwl_proctab *procs;   /* fed by every event, read by ev.process */
    etwl_proc_event pe;    /* what the current event says about processes */
    int need_process;      /* some filter has a process key */
};

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
