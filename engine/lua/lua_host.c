/* lua_host.c - the Lua state, its sandbox and limits, loading, dispatch.
 *
 * Safety model (after Redis scripting):
 * - every script gets its own _ENV built from an allow-list, with private
 *   copies of the library tables, so one script cannot tamper with another;
 * - every call into Lua goes through etwl_lua_pcall(): a traceback handler
 *   and a count hook that stops a handler after its instruction budget;
 *   the budget belongs to the call, across pcall and coroutines (see
 *   budget_hook), and Lua patterns count their steps (lua_strmatch.c);
 * - a watchdog thread interrupts a handler that runs past
 *   --handler-timeout of wall-clock time, or any call once the process is
 *   asked to stop;
 * - scripts see read-only views of the shared tables (the etw module, the
 *   modules under lua/, the string metatable), and cannot set finalizers,
 *   which Lua runs with hooks off;
 * - the allocator enforces a memory cap, so a greedy handler fails with
 *   "not enough memory" instead of taking the process down. */
#include "lua/lua_int.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/event.h"
#include "platform/sys.h"

/* lpeg's one entry point (Debian declares it in lua-lpeg.h, which other
 * platforms lack) */
int luaopen_lpeg(lua_State *L);

#define DEFAULT_BUDGET 1000000L     /* instructions per handler call */
#define DEFAULT_MEMORY (256u << 20) /* bytes for the whole Lua state */
#define LOAD_BUDGET_FACTOR 100      /* top-level chunks may do setup work */
#define DEFAULT_TIMEOUT_MS 1000     /* wall-clock limit of one handler call */
#define HOOK_STEP 1000              /* the count hook's period (the budget's granularity) */
#define WD_TICK_MS 10               /* how often the watchdog looks */
#define STOP_GRACE_NS 500000000ull  /* after a stop request: a running call may finish this long */
#define STOP_SKIP_NS 1000000000ull  /* ... and handlers are called this long */
#define STOP_EXIT_NS 1500000000ull  /* a call that ignores the interrupt this long ends the process */

etwl_lua *etwl_lua_host(lua_State *L) { return *(etwl_lua **)lua_getextraspace(L); }

/* ---- allocator with a cap ---------------------------------------------- */

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    etwl_lua *x = ud;
    void *p;
    if (!ptr) osize = 0; /* osize is a type tag for new blocks */
    if (nsize == 0) {
        free(ptr);
        x->mem_used -= osize;
        return NULL;
    }
    if (x->mem_enforce && nsize > osize && x->mem_used - osize + nsize > x->mem_limit) return NULL;
    p = realloc(ptr, nsize);
    if (!p) return NULL;
    x->mem_used = x->mem_used - osize + nsize;
    if (x->mem_used > x->mem_peak) x->mem_peak = x->mem_used;
    return p;
}

/* ---- the protected call ------------------------------------------------ */

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void budget_hook(lua_State *L, lua_Debug *ar);

/* Ends the running call: sets the hook to fire at every instruction of this
 * thread, so that a pcall or a coroutine.resume that catches the error gets
 * it again at the next instruction, until the call returns to the host. */
static void raise_stop(lua_State *L, lua_Debug *ar)
{
    etwl_lua *x = etwl_lua_host(L);
    int why = etwl_lua_interrupted(x);
    x->budget_hit = 1;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    if (ar && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
    else luaL_where(L, 1);
    if (why == ETWL_INT_STOP) lua_pushliteral(L, "interrupted: etwlua is stopping");
    else if (why == ETWL_INT_TIMEOUT)
        lua_pushfstring(L, "interrupted after %d ms of wall-clock time (raise it with --handler-timeout)",
                        (int)x->o.handler_timeout_ms);
    else lua_pushfstring(L, "instruction budget exceeded (%d instructions; raise it with --budget)", x->budget_armed);
    lua_concat(L, 2);
    lua_error(L);
}

/* The count hook fires every budget_step instructions of whichever thread
 * runs (a coroutine inherits it from its creator), and charges the call's
 * one budget: N coroutines share it instead of getting N fresh counts. */
static void budget_hook(lua_State *L, lua_Debug *ar)
{
    etwl_lua *x = etwl_lua_host(L);
    if (x->depth == 0) return; /* no call of ours is running */
    if (!etwl_lua_interrupted(x) && !x->budget_hit) {
        x->budget_used += x->budget_step;
        if (x->budget_used <= x->budget_limit) return;
    }
    raise_stop(L, ar);
}

void etwl_lua_match_steps(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    if (x->depth == 0) return;
    x->match_chunks++;
    if (!etwl_lua_interrupted(x) && !x->budget_hit) {
        x->budget_used += ETWL_MATCH_STEP_CHUNK / ETWL_MATCH_STEP_COST;
        if (x->budget_used <= x->budget_limit) return;
    }
    raise_stop(L, NULL);
}

/* ---- the watchdog ------------------------------------------------------ */

/* One thread per host.  It only sets an atomic word naming the call it
 * interrupts (by generation: a call that ended meanwhile is never the one
 * running, so a late interrupt hits nothing).  It times the innermost
 * timed call from the first tick that saw it running (so it may interrupt
 * up to a tick late, never early), and a caller of a nested call (a shell
 * line stepping through events runs their handlers) from its own first
 * sighting, kept per depth, when it resumes.  The count hook, armed in every thread a call runs
 * (coroutines inherit it) at most HOOK_STEP instructions apart, sees the
 * word and raises.  lua_sethook(L, hook, LUA_MASKCOUNT, 1), which lua.c
 * makes from its SIGINT handler, is not needed for that, and from another
 * thread it would walk the state's call list while that thread changes it.
 * Inside one C call no hook runs: patterns check the same flag
 * (lua_strmatch.c), and finalizers, which run with hooks off, are refused
 * by the sandbox. */
static void *watchdog(void *arg)
{
    etwl_lua *x = arg;
    uint64_t limit = (uint64_t)x->o.handler_timeout_ms * 1000000u;
    struct {
        uint64_t gen, since;
    } seen[ETWL_WD_DEPTHS];
    memset(seen, 0, sizeof seen);
    pthread_mutex_lock(&x->wd_mu);
    while (!x->wd_quit) {
        struct timespec ts;
        uint64_t now, call, gen, start, v;
        unsigned d, k;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WD_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&x->wd_cv, &x->wd_mu, &ts);
        if (x->wd_quit) break;
        now = now_ns();
        if (atomic_load(&x->stop_request) && !x->stop_ns) x->stop_ns = now;
        call = atomic_load(&x->wd_call);
        if (!call) continue; /* no timed call */
        gen = call >> 8;
        d = (unsigned)(call & 0xFF) < ETWL_WD_DEPTHS ? (unsigned)(call & 0xFF) : ETWL_WD_DEPTHS - 1;
        /* its callers too: each one's clock goes on when it resumes */
        for (k = 1; k < d; k++) {
            uint64_t g = atomic_load_explicit(&x->wd_gens[k], memory_order_relaxed);
            if (seen[k].gen != g) seen[k].gen = g, seen[k].since = now;
        }
        if (seen[d].gen != gen) seen[d].gen = gen, seen[d].since = now;
        start = seen[d].since;
        v = atomic_load(&x->interrupt);
        if (!v || v >> 2 != gen) {
            int why = 0;
            if (x->stop_ns && now - (x->stop_ns > start ? x->stop_ns : start) > STOP_GRACE_NS) why = ETWL_INT_STOP;
            else if (limit && now - start > limit) why = ETWL_INT_TIMEOUT;
            /* unless the main thread changed the word meanwhile (then the
             * next tick looks again) */
            if (why) atomic_compare_exchange_strong(&x->interrupt, &v, gen << 2 | (uint64_t)why);
        } else if (x->stop_ns && now - x->stop_ns > STOP_EXIT_NS && now - start > STOP_EXIT_NS) {
            /* stuck in C code that never returns to Lua: a stop must still
             * end the process */
            static const char msg[] = "etwlua: a script is stuck in a C call and ignores the stop; exiting\n";
            if (write(2, msg, sizeof msg - 1) < 0) _exit(1);
            _exit(1);
        }
    }
    pthread_mutex_unlock(&x->wd_mu);
    return NULL;
}

void etwl_lua_request_stop(etwl_lua *x)
{
    if (x) atomic_store(&x->stop_request, 1);
}

void etwl_lua_rearm_clock(etwl_lua *x)
{
    uint64_t call = atomic_load(&x->wd_call);
    int why;
    if (!call) return;
    /* the call goes on as a new one, whose clock starts now: a timeout the
     * watchdog saw meanwhile was the C work's; a stop stays */
    why = etwl_lua_interrupted(x);
    x->call_gen = ++x->gen_next;
    if ((call & 0xFF) < ETWL_WD_DEPTHS) atomic_store(&x->wd_gens[call & 0xFF], x->call_gen);
    atomic_store(&x->wd_call, x->call_gen << 8 | (call & 0xFF));
    if (why == ETWL_INT_STOP) atomic_store(&x->interrupt, x->call_gen << 2 | ETWL_INT_STOP);
}

/* After a stop request and its grace, handlers are no longer called: the
 * events still in flight go by without Lua, so the process ends soon. */
static int stopping(etwl_lua *x)
{
    uint64_t s;
    if (!atomic_load(&x->stop_request)) return 0;
    pthread_mutex_lock(&x->wd_mu);
    s = x->stop_ns;
    pthread_mutex_unlock(&x->wd_mu);
    return s && now_ns() - s > STOP_SKIP_NS;
}

/* ---- the protected call ------------------------------------------------ */

int etwl_lua_pcall(etwl_lua *x, int nargs, int nresults, int *budget_hit)
{
    lua_State *L = x->L;
    int rc, msgh = 1, base = 0, hit;
    /* a nested call (etw._inject's handlers) has a budget and a clock of its
     * own; the caller's are restored when it returns */
    long saved_used = x->budget_used, saved_limit = x->budget_limit;
    int saved_hit = x->budget_hit, saved_why = etwl_lua_interrupted(x);
    uint64_t saved_gen = x->call_gen, saved_call = atomic_load_explicit(&x->wd_call, memory_order_relaxed),
             saved_int = atomic_load_explicit(&x->interrupt, memory_order_relaxed);
    /* load chunks have no wall-clock limit (the rule library takes a while
     * to compile on a slow machine); handlers, hooks and timers do */
    int timed = !(x->loading && x->depth == 0);
    /* the traceback handler lives at stack slot 1 for the state's lifetime,
     * so no call has to move it into place - except when called from inside
     * a C function (etw._inject), whose slot 1 is its own first argument */
    if (lua_tocfunction(L, 1) != traceback) {
        base = lua_gettop(L) - nargs;
        lua_pushcfunction(L, traceback);
        lua_insert(L, base);
        msgh = base;
    }
    x->budget_used = 0;
    x->budget_limit = x->budget_armed;
    x->budget_hit = 0;
    x->depth++;
    /* a new generation: no interrupt names it yet */
    x->call_gen = ++x->gen_next;
    if (timed && x->depth < ETWL_WD_DEPTHS)
        atomic_store_explicit(&x->wd_gens[x->depth], x->call_gen, memory_order_relaxed);
    atomic_store_explicit(&x->wd_call, timed ? x->call_gen << 8 | (uint64_t)(x->depth < 255 ? x->depth : 255) : 0,
                          memory_order_relaxed);
    /* arming resets the count; every thread a handler creates inherits it */
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, x->budget_step);
    rc = lua_pcall(L, nargs, nresults, msgh);
    /* the caller's call, clock and interrupt again */
    x->call_gen = saved_gen;
    atomic_store_explicit(&x->interrupt, saved_int, memory_order_relaxed);
    atomic_store_explicit(&x->wd_call, saved_call, memory_order_relaxed);
    /* a nested call's caller goes on with its own count; after the
     * outermost call the next one arms it afresh (budget_hook does nothing
     * at depth 0), so the hook is left as it is: one lua_sethook per event,
     * not two */
    if (x->depth > 1) lua_sethook(L, budget_hook, LUA_MASKCOUNT, saved_hit || saved_why ? 1 : x->budget_step);
    x->depth--;
    hit = x->budget_hit;
    x->budget_used = saved_used;
    x->budget_limit = saved_limit;
    x->budget_hit = saved_hit;
    if (budget_hit) *budget_hit = hit;
    if (rc != LUA_OK) {
        size_t n;
        const char *msg = lua_tolstring(L, -1, &n);
        etwl_buf_reset(&x->buf);
        if (msg) { /* a script's error(("x"):rep(1e8)) stays readable */
            etwl_buf_put(&x->buf, msg, n > ETWL_LUA_FIELD_CAP ? ETWL_LUA_FIELD_CAP : n);
            if (n > ETWL_LUA_FIELD_CAP)
                etwl_buf_printf(&x->buf, "\xe2\x80\xa6[truncated %zu bytes]", n - ETWL_LUA_FIELD_CAP);
        } else {
            etwl_buf_puts(&x->buf, rc == LUA_ERRMEM ? "not enough memory" : "(error object is not a string)");
        }
        if (rc == LUA_ERRMEM) etwl_buf_puts(&x->buf, " (the Lua memory cap; raise it with --memory-mb)");
        lua_pop(L, 1);
    }
    if (base) lua_remove(L, base);
    return rc;
}

const char *etwl_lua_push_capped(lua_State *L, const char *s, size_t n, size_t *out_n)
{
    size_t keep = ETWL_LUA_FIELD_CAP;
    if (n <= ETWL_LUA_FIELD_CAP) {
        lua_pushlstring(L, s, n);
    } else {
        /* cut before a UTF-8 continuation byte, never inside a character */
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
        lua_pushlstring(L, s, keep);
        lua_pushfstring(L, "\xe2\x80\xa6[truncated %I bytes]", (lua_Integer)(n - keep));
        lua_concat(L, 2);
    }
    return lua_tolstring(L, -1, out_n);
}

void etwl_lua_buf_trim(etwl_lua *x)
{
    if (x->buf.cap > ETWL_LUA_BUF_KEEP) {
        etwl_buf_free(&x->buf);
        etwl_buf_init(&x->buf);
    }
}

void etwl_lua_check_load_time(lua_State *L, const char *what)
{
    etwl_lua *x = etwl_lua_host(L);
    if (!x->loading || x->depth > 1 || x->cur)
        luaL_error(L, "%s: register while the script loads, not from a handler, hook or timer", what);
}

/* ---- module search ----------------------------------------------------- */

/* Modules under lua/ are found without LUA_PATH: next to the source tree
 * (build/bin/<cfg>/etwlua -> lua/), then the installed share directory. */
static void find_lua_dir(etwl_lua *x, char *out, size_t n)
{
    char exe[1024], *slash;
    int up;
    out[0] = 0;
    if (x->o.lua_dir) {
        snprintf(out, n, "%s", x->o.lua_dir);
        return;
    }
    if (getenv("ETWLUA_LUA_DIR")) {
        snprintf(out, n, "%s", getenv("ETWLUA_LUA_DIR"));
        return;
    }
    if (etwl_sys_exe_path(exe, sizeof exe) == 0) {
        for (up = 0; up < 5; up++) { /* build/mingw/bin/<cfg>/etwlua.exe: 5 */
            char probe[1200];
            slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
            snprintf(probe, sizeof probe, "%s/lua/meta/etw.lua", exe);
            if (access(probe, R_OK) == 0 && snprintf(out, n, "%s/lua", exe) < (int)n) return;
            snprintf(probe, sizeof probe, "%s/share/etwlua/lua/meta/etw.lua", exe);
            if (access(probe, R_OK) == 0 && snprintf(out, n, "%s/share/etwlua/lua", exe) < (int)n) return;
        }
    }
    snprintf(out, n, "%s", ETWL_LUA_INSTALL_DIR);
}

static void new_sandbox_env(lua_State *L, etwl_lua *x);

/* ---- read-only views ----------------------------------------------------
 *
 * The etw module, the modules under lua/ and the metatables of strings and
 * userdata are shared by every script and by the rule library: one script
 * that replaced etw.alert or string.lower would silence all the others.  A
 * script therefore sees them through proxies: empty tables whose metatable
 * (hidden by __metatable) reads the real table, wraps table values in
 * proxies too, and refuses writes with an error naming the writer's line.
 * Each script has its own proxies (cache below), so even rawset on one
 * changes only the script's own view.  Upvalues of the metamethods: 1 the
 * real table, 2 the script's proxy cache, 3 a name for messages. */

static void push_ro(lua_State *L, int real, int cache, const char *name);

static int ro_index(lua_State *L)
{
    lua_settop(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (lua_type(L, -1) == LUA_TTABLE) {
        /* etw.reload_state is the scripts' own, writable */
        lua_getfield(L, LUA_REGISTRYINDEX, ETWL_LUA_RELOAD_STATE);
        if (lua_rawequal(L, -1, -2)) return 1;
        lua_pop(L, 1);
        push_ro(L, lua_gettop(L), lua_upvalueindex(2), lua_tostring(L, lua_upvalueindex(3)));
    }
    return 1;
}

/* A write raises inside a handler, hook or timer (a handler error like any
 * other: reported with its origin, counted, the next event goes on).  While
 * a script loads, an error would make the whole run fail to start, which is
 * what the tampering wanted (no alerts from the rule library): there the
 * write is refused with an error message naming the line, counted, and the
 * script goes on loading. */
static int ro_newindex(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    luaL_where(L, 1);
    lua_pushfstring(L, "%s is read-only: it is shared by every script (copy what you need into a table of your own)",
                    lua_tostring(L, lua_upvalueindex(3)));
    lua_concat(L, 2);
    if (x->loading && x->depth == 1 && !x->cur) {
        size_t n;
        const char *msg = lua_tolstring(L, -1, &n);
        x->handler_errors++;
        if (++x->ro_reports <= (uint64_t)x->o.max_error_prints) {
            etwl_buf b;
            etwl_buf_init(&b);
            etwl_text_put_escaped(&b, msg, n);
            fprintf(x->o.err_out, "etwlua: %s failed: %s (the write is ignored)\n", x->loading, b.data ? b.data : "");
            if (x->ro_reports == (uint64_t)x->o.max_error_prints)
                fprintf(x->o.err_out, "etwlua: further writes to read-only tables are counted, not printed\n");
            etwl_buf_free(&b);
        }
        return 0;
    }
    return lua_error(L);
}

static int ro_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, lua_upvalueindex(1)));
    return 1;
}

static int ro_next(lua_State *L)
{
    lua_settop(L, 2);
    if (!lua_next(L, lua_upvalueindex(1))) return 0;
    if (lua_type(L, -1) == LUA_TTABLE) {
        /* the value's read-only view in its place (etw.reload_state, the
         * scripts' own, as it is) */
        lua_getfield(L, LUA_REGISTRYINDEX, ETWL_LUA_RELOAD_STATE);
        if (lua_rawequal(L, -1, -2)) {
            lua_pop(L, 1);
            return 2;
        }
        lua_pop(L, 1);
        push_ro(L, lua_gettop(L), lua_upvalueindex(2), lua_tostring(L, lua_upvalueindex(3)));
        lua_replace(L, -2);
    }
    return 2;
}

/* pairs(proxy): the iterator keeps the real table as an upvalue; passing it
 * as pairs' state would hand it to the script */
static int ro_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_pushcclosure(L, ro_next, 3);
    lua_pushnil(L);
    lua_pushnil(L);
    return 3;
}

static void push_ro(lua_State *L, int real, int cache, const char *name)
{
    static const struct {
        const char *k;
        lua_CFunction f;
    } mm[] = {{"__index", ro_index}, {"__newindex", ro_newindex}, {"__len", ro_len}, {"__pairs", ro_pairs}};
    size_t i;
    real = lua_absindex(L, real);
    cache = lua_absindex(L, cache);
    lua_pushvalue(L, real);
    if (lua_rawget(L, cache) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_newtable(L); /* the proxy */
    lua_createtable(L, 0, 5);
    for (i = 0; i < sizeof mm / sizeof mm[0]; i++) {
        lua_pushvalue(L, real);
        lua_pushvalue(L, cache);
        lua_pushstring(L, name);
        lua_pushcclosure(L, mm[i].f, 3);
        lua_setfield(L, -2, mm[i].k);
    }
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, real);
    lua_pushvalue(L, -2);
    lua_rawset(L, cache);
}

/* getmetatable for the sandbox: tables as usual (their __metatable field
 * is honoured); the metatables of strings and userdata are shared, so a
 * script gets a read-only view (upvalue 1: the script's proxy cache). */
static int sb_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushliteral(L, "__metatable");
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    if (lua_type(L, 1) == LUA_TTABLE) return 1;
    push_ro(L, -1, lua_upvalueindex(1), lua_type(L, 1) == LUA_TSTRING ? "the string metatable" : "a shared metatable");
    return 1;
}

/* setmetatable for the sandbox: no finalizers.  Lua runs __gc with hooks
 * off, so no budget or watchdog could stop a looping one; Lua marks an
 * object for finalization only when its metatable has __gc at this call, so
 * refusing it here is enough (adding __gc later has no effect). */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc finalizers are not allowed in the sandbox (they run where no "
                                 "budget or watchdog can stop them)");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* coroutine.resume for the sandbox: a coroutine that ran out of the call's
 * budget (or was interrupted) ends the handler, not just the coroutine. */
static int sb_co_resume(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    if (x->depth && (x->budget_hit || etwl_lua_interrupted(x))) {
        /* the coroutine's own message says where and why */
        if (lua_type(L, 2) == LUA_TSTRING) {
            lua_pushvalue(L, 2);
            return lua_error(L);
        }
        return luaL_error(L, "instruction budget exceeded in a coroutine");
    }
    return lua_gettop(L);
}

/* require(name) inside the sandbox: the built-in modules, then text files
 * under the lua directory, each loaded once per state with its own env.
 * Tables come back as read-only views (upvalue 1: the script's cache),
 * except to the rule library (upvalue 2 true), whose files extend the
 * modules under lua/ (etwlua.rules' registry); etw stays read-only to it. */
static int sb_require(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    size_t n, i;
    const char *name = luaL_checklstring(L, 1, &n);
    char path[2048];
    lua_getfield(L, LUA_REGISTRYINDEX, "etwl.loaded"); /* loaded */
    if (lua_getfield(L, -1, name) != LUA_TNIL) {
        if (lua_type(L, -1) == LUA_TTABLE && !(lua_toboolean(L, lua_upvalueindex(2)) && strcmp(name, "etw") != 0)) {
            lua_pushfstring(L, "module '%s'", name);
            push_ro(L, -2, lua_upvalueindex(1), lua_tostring(L, -1));
        }
        return 1;
    }
    lua_pop(L, 1);
    for (i = 0; i < n; i++)
        if (!(name[i] == '.' || name[i] == '_' || name[i] == '-' || (name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9')) ||
            (name[i] == '.' && i + 1 < n && name[i + 1] == '.'))
            return luaL_argerror(L, 1, "module names are letters, digits, '_', '-' and '.'");
    snprintf(path, sizeof path, "%s/", x->lua_dir);
    for (i = 0; i < n && strlen(path) + 16 < sizeof path; i++) {
        size_t l = strlen(path);
        path[l] = name[i] == '.' ? '/' : name[i];
        path[l + 1] = 0;
    }
    strcat(path, ".lua");
    if (access(path, R_OK) != 0) {
        char alt[2100];
        snprintf(alt, sizeof alt, "%.*s/init.lua", (int)(strlen(path) - 4), path);
        if (access(alt, R_OK) != 0 || snprintf(path, sizeof path, "%s", alt) >= (int)sizeof path)
            return luaL_error(L, "module '%s' not found (looked for %s and %s)", name, path, alt);
    }
    if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
    new_sandbox_env(L, x);
    lua_setupvalue(L, -2, 1); /* _ENV */
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name); /* loaded[name] = module */
    if (lua_type(L, -1) == LUA_TTABLE && !lua_toboolean(L, lua_upvalueindex(2))) {
        lua_pushfstring(L, "module '%s'", name);
        push_ro(L, -2, lua_upvalueindex(1), lua_tostring(L, -1));
    }
    return 1;
}

/* load() for sandboxed code: text only, and the caller's env by default. */
static int sb_load(lua_State *L)
{
    size_t n;
    const char *chunk;
    const char *name;
    int rc;
    if (lua_type(L, 1) != LUA_TSTRING) return luaL_argerror(L, 1, "only strings can be loaded in the sandbox");
    chunk = lua_tolstring(L, 1, &n);
    name = luaL_optstring(L, 2, "=(load)");
    if (lua_type(L, 3) == LUA_TSTRING && strcmp(lua_tostring(L, 3), "t") != 0)
        return luaL_argerror(L, 3, "binary chunks are not allowed in the sandbox");
    rc = luaL_loadbufferx(L, chunk, n, name, "t");
    if (rc != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (!lua_isnoneornil(L, 4)) {
        lua_pushvalue(L, 4);
    } else {
        lua_pushvalue(L, lua_upvalueindex(1)); /* the script's env */
    }
    lua_setupvalue(L, -2, 1);
    return 1;
}

static int sb_print(lua_State *L)
{
    /* scripts' prints go to stderr so they never mix with alert lines */
    etwl_lua *x = etwl_lua_host(L);
    int i, n = lua_gettop(L);
    size_t total = 0;
    etwl_buf_reset(&x->buf);
    /* a line carries at most ETWL_LUA_FIELD_CAP bytes of the script's text:
     * print(("x"):rep(4e7)) must not build a line outside --memory-mb */
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1) etwl_buf_putc(&x->buf, '\t');
        if (total + len > ETWL_LUA_FIELD_CAP) {
            size_t keep = ETWL_LUA_FIELD_CAP - total;
            while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--; /* whole characters */
            etwl_text_put_escaped(&x->buf, s, keep);
            etwl_buf_printf(&x->buf, "\xe2\x80\xa6[truncated %zu bytes%s]", len - keep,
                            i < n ? " and the values after it" : "");
            lua_pop(L, 1);
            break;
        }
        total += len;
        etwl_text_put_escaped(&x->buf, s, len);
        lua_pop(L, 1);
    }
    fprintf(x->o.err_out, "%s\n", x->buf.data ? x->buf.data : "");
    etwl_lua_buf_trim(x);
    return 0;
}

/* collectgarbage for the sandbox: a script may collect and measure, but not
 * stop the collector or retune it for every other script. */
static int sb_collectgarbage(lua_State *L)
{
    static const char *const ok[] = {"collect", "count", "step", NULL};
    int opt = luaL_checkoption(L, 1, "collect", ok);
    switch (opt) {
    case 1:
        lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) + (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024.0);
        return 1;
    case 2: lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, (int)luaL_optinteger(L, 2, 0))); return 1;
    default:
        lua_gc(L, LUA_GCCOLLECT);
        lua_pushinteger(L, 0);
        return 1;
    }
}

static void copy_fields(lua_State *L, const char *lib, const char *const *names)
{
    /* env at -1; copies _G[lib][names...] into a fresh table env[lib] */
    int i;
    lua_getglobal(L, lib);
    lua_newtable(L);
    for (i = 0; names[i]; i++) {
        lua_getfield(L, -2, names[i]);
        lua_setfield(L, -2, names[i]);
    }
    lua_setfield(L, -3, lib);
    lua_pop(L, 1);
}

static void copy_lib(lua_State *L, const char *lib)
{
    lua_getglobal(L, lib); /* env lib */
    lua_newtable(L);       /* env lib copy */
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_setfield(L, -3, lib);
    lua_pop(L, 1);
}

/* __index of a script's _ENV and of its os table: the libraries the sandbox
 * leaves out raise an error that says --unsafe gives them, rather than the
 * bare "attempt to index a nil value" a script author cannot act on.  Other
 * missing names are nil, as in plain Lua. */
static int sb_missing(lua_State *L)
{
    static const char *const libs[] = {"io", "debug", "package", "dofile", "loadfile", NULL};
    int is_os = lua_toboolean(L, lua_upvalueindex(1));
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    int i;
    if (!k) return 0;
    if (is_os) {
        luaL_where(L, 1);
        lua_pushfstring(L,
                        "os.%s is not available in the sandbox (it has os.clock, os.time, os.date and "
                        "os.difftime); run etwlua with --unsafe to give scripts all of os, io, debug and package",
                        k);
        lua_concat(L, 2);
        return lua_error(L);
    }
    for (i = 0; libs[i]; i++)
        if (strcmp(k, libs[i]) == 0) {
            luaL_where(L, 1);
            lua_pushfstring(L,
                            "'%s' is not available in the sandbox; run etwlua with --unsafe to give scripts io, "
                            "os, debug and package",
                            k);
            lua_concat(L, 2);
            return lua_error(L);
        }
    return 0;
}

static void set_missing_meta(lua_State *L, int is_os)
{
    /* the table at -1 */
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, is_os);
    lua_pushcclosure(L, sb_missing, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

/* Pushes a fresh environment for one script. */
static void new_sandbox_env(lua_State *L, etwl_lua *x)
{
    static const char *const base[] = {"assert", "error",    "ipairs",   "next",     "pairs",  "pcall",
                                       "select", "tonumber", "tostring", "type",     "xpcall", "rawequal",
                                       "rawget", "rawset",   "rawlen",   "_VERSION", NULL};
    static const char *const os_ok[] = {"clock", "time", "date", "difftime", NULL};
    int i;
    if (x->o.unsafe) {
        lua_pushglobaltable(L);
        return;
    }
    lua_createtable(L, 0, 40);
    for (i = 0; base[i]; i++) {
        lua_getglobal(L, base[i]);
        lua_setfield(L, -2, base[i]);
    }
    copy_lib(L, "string");
    copy_lib(L, "table");
    copy_lib(L, "math");
    copy_lib(L, "utf8");
    copy_lib(L, "coroutine");
    copy_fields(L, "os", os_ok);
    lua_getfield(L, -1, "os");
    set_missing_meta(L, 1);
    lua_pop(L, 1);
    set_missing_meta(L, 0);
    lua_newtable(L); /* this script's read-only views, see push_ro */
    lua_pushvalue(L, -1);
    lua_pushboolean(L, x->rule_library);
    lua_pushcclosure(L, sb_require, 2);
    lua_setfield(L, -3, "require");
    lua_pushcclosure(L, sb_getmetatable, 1);
    lua_setfield(L, -2, "getmetatable");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 1);
    lua_setfield(L, -2, "setmetatable");
    lua_getfield(L, -1, "coroutine"); /* the script's copy */
    lua_getglobal(L, "coroutine");
    lua_getfield(L, -1, "resume");
    lua_pushcclosure(L, sb_co_resume, 1);
    lua_setfield(L, -3, "resume");
    lua_pop(L, 2);
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, sb_collectgarbage);
    lua_setfield(L, -2, "collectgarbage");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, sb_load, 1);
    lua_setfield(L, -2, "load");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
}

void etwl_lua_push_sandbox_env(lua_State *L, etwl_lua *x) { new_sandbox_env(L, x); }

/* ---- lifecycle ------------------------------------------------------------- */

etwl_status etwl_lua_new(const etwl_lua_opts *o, etwl_lua **out, etwl_error *err)
{
    etwl_lua *x = calloc(1, sizeof *x);
    lua_State *L;
    int i;
    *out = NULL;
    if (!x) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    if (o) x->o = *o;
    if (x->o.budget <= 0) x->o.budget = DEFAULT_BUDGET;
    if (!x->o.memory_limit) x->o.memory_limit = DEFAULT_MEMORY;
    if (!x->o.alert_out) x->o.alert_out = stdout;
    if (!x->o.err_out) x->o.err_out = stderr;
    if (!x->o.max_error_prints) x->o.max_error_prints = 3;
    x->mem_limit = x->o.memory_limit;
    x->capture_ref = LUA_NOREF;
    if (x->o.procs) {
        x->hosts = x->o.procs;
        x->hosts_borrowed = 1;
        x->procs = etwl_proctabs_current(x->hosts);
    } else {
        etwl_proctab_opts po;
        memset(&po, 0, sizeof po);
        po.grace = x->o.proc_grace;
        x->hosts = etwl_proctabs_new(&po);
        if (!x->hosts) {
            free(x);
            return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        }
        x->procs = etwl_proctabs_current(x->hosts);
    }
    x->budget_armed = (int)(x->o.budget > 0x7fffffff ? 0x7fffffff : x->o.budget);
    x->budget_step = x->budget_armed < HOOK_STEP ? x->budget_armed : HOOK_STEP;
    if (x->o.handler_timeout_ms <= 0) x->o.handler_timeout_ms = DEFAULT_TIMEOUT_MS;
    etwl_buf_init(&x->buf);
    pthread_mutex_init(&x->wd_mu, NULL);
    pthread_cond_init(&x->wd_cv, NULL);
    atomic_init(&x->interrupt, 0);
    atomic_init(&x->wd_call, 0);
    for (i = 0; i < ETWL_WD_DEPTHS; i++) atomic_init(&x->wd_gens[i], 0);
    atomic_init(&x->stop_request, 0);
    L = lua_newstate(l_alloc, x);
    if (!L) {
        etwl_lua_free(x);
        return etwl_error_set(err, ETWL_ENOMEM, "cannot create the Lua state");
    }
    x->L = L;
    *(etwl_lua **)lua_getextraspace(L) = x;
    luaL_openlibs(L);
    etwl_lua_bounded_patterns(L);
    /* signals stay with the thread that runs the session: a handler that
     * asks the host to stop (etwl_lua_request_stop) must never run on a
     * watchdog that is being joined */
    if (etwl_sys_thread_start(&x->wd_thread, watchdog, x) != 0) {
        etwl_lua_free(x);
        return etwl_error_set(err, ETWL_ENOMEM, "cannot start the handler watchdog thread");
    }
    x->wd_running = 1;
    /* lpeg is linked in; require "lpeg" finds it through package.preload
     * (unsafe mode) or the registry (sandbox) */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_lpeg);
    lua_setfield(L, -2, "lpeg");
    lua_pushcfunction(L, etwl_luaopen_etw);
    lua_setfield(L, -2, "etw");
    lua_pushcfunction(L, etwl_luaopen_sigma);
    lua_setfield(L, -2, "etwlua.sigma");
    lua_pushcfunction(L, etwl_luaopen_rulecore);
    lua_setfield(L, -2, "etwlua.rulecore");
    lua_pop(L, 1);
    x->sigma = x->o.sigma;
    etwl_lua_event_open(L);
    etwl_lua_process_open(L);
    lua_settop(L, 0);
    lua_pushcfunction(L, traceback); /* slot 1, see etwl_lua_pcall */
    find_lua_dir(x, x->lua_dir, sizeof x->lua_dir);
    /* the sandbox's module cache, seeded with the built-in modules */
    lua_newtable(L);
    luaL_requiref(L, "lpeg", luaopen_lpeg, 0);
    lua_setfield(L, -2, "lpeg");
    luaL_requiref(L, "etw", etwl_luaopen_etw, 0);
    lua_setfield(L, -2, "etw");
    luaL_requiref(L, "etwlua.sigma", etwl_luaopen_sigma, 0);
    lua_setfield(L, -2, "etwlua.sigma");
    /* the rule library's C side (lua_rules.c): log sources and prefilter */
    luaL_requiref(L, "etwlua.rulecore", etwl_luaopen_rulecore, 0);
    lua_setfield(L, -2, "etwlua.rulecore");
    lua_setfield(L, LUA_REGISTRYINDEX, "etwl.loaded");
    if (x->o.unsafe) { /* make package.path see lua/ too */
        lua_getglobal(L, "package");
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", x->lua_dir, x->lua_dir);
        lua_getfield(L, -2, "path");
        lua_concat(L, 2);
        lua_setfield(L, -2, "path");
        lua_pop(L, 1);
    }
    /* handlers create short-lived strings per event and keep little: the
     * generational collector fits that better than the incremental one */
    lua_gc(L, LUA_GCGEN, 0, 0);
    x->mem_enforce = 1; /* the cap applies to scripts, not to our setup */
    *out = x;
    return ETWL_OK;
}

void etwl_lua_free(etwl_lua *x)
{
    int i;
    if (!x) return;
    if (x->wd_running) {
        pthread_mutex_lock(&x->wd_mu);
        x->wd_quit = 1;
        pthread_cond_signal(&x->wd_cv);
        pthread_mutex_unlock(&x->wd_mu);
        pthread_join(x->wd_thread, NULL);
    }
    pthread_cond_destroy(&x->wd_cv);
    pthread_mutex_destroy(&x->wd_mu);
    if (x->L) lua_close(x->L);
    etwl_lua_sigma_free(x);
    for (i = 0; i < x->caph; i++) etwl_filter_free(&x->h[i].filter);
    free(x->h);
    free(x->start_refs);
    free(x->stop_refs);
    free(x->timers);
    if (!x->hosts_borrowed) etwl_proctabs_free(x->hosts);
    etwl_buf_free(&x->buf);
    etwl_lua_shell_free(x);
    free(x);
}

static etwl_status run_chunk(etwl_lua *x, const char *name, etwl_error *err)
{
    int rc, hit = 0, saved = x->budget_armed;
    new_sandbox_env(x->L, x);
    lua_setupvalue(x->L, -2, 1); /* _ENV of the main chunk */
    x->loading = name;
    x->budget_armed = saved > 0x7fffffff / LOAD_BUDGET_FACTOR ? 0x7fffffff : saved * LOAD_BUDGET_FACTOR;
    rc = etwl_lua_pcall(x, 0, 0, &hit);
    x->budget_armed = saved;
    x->loading = NULL;
    if (rc != LUA_OK)
        return etwl_error_set(err, ETWL_EINVAL, "%s failed to load: %s", name, x->buf.data ? x->buf.data : "?");
    return ETWL_OK;
}

etwl_status etwl_lua_load_file(etwl_lua *x, const char *path, etwl_error *err)
{
    if (luaL_loadfilex(x->L, path, "t") != LUA_OK) {
        etwl_status st = etwl_error_set(err, ETWL_EINVAL, "%s", lua_tostring(x->L, -1));
        lua_pop(x->L, 1);
        return st;
    }
    return run_chunk(x, path, err);
}

etwl_status etwl_lua_load_rule_file(etwl_lua *x, const char *path, etwl_error *err)
{
    etwl_status st;
    x->rule_library = 1;
    st = etwl_lua_load_file(x, path, err);
    x->rule_library = 0;
    return st;
}

etwl_status etwl_lua_load_string(etwl_lua *x, const char *code, const char *name, etwl_error *err)
{
    char chunk[256];
    snprintf(chunk, sizeof chunk, "=%s", name);
    if (luaL_loadbufferx(x->L, code, strlen(code), chunk, "t") != LUA_OK) {
        etwl_status st = etwl_error_set(err, ETWL_EINVAL, "%s", lua_tostring(x->L, -1));
        lua_pop(x->L, 1);
        return st;
    }
    return run_chunk(x, name, err);
}

void etwl_lua_set_session(etwl_lua *x, etwl_session *s) { x->session = s; }

void etwl_lua_set_timing(etwl_lua *x, int on) { x->timing = on; }

const char *etwl_lua_dir(const etwl_lua *x) { return x->lua_dir; }

uint64_t etwl_lua_alerts(const etwl_lua *x) { return x->alerts; }

uint64_t etwl_lua_errors(const etwl_lua *x) { return x->handler_errors; }

uint64_t etwl_lua_sigma_alerts(const etwl_lua *x, uint64_t *suppressed)
{
    if (suppressed) *suppressed = x ? x->sigma_dropped : 0;
    return x ? x->sigma_alerts : 0;
}

void etwl_lua_set_option_list(etwl_lua *x, const char *name, const char *const *items, int n)
{
    lua_State *L = x->L;
    int i;
    lua_getfield(L, LUA_REGISTRYINDEX, "etwl.loaded");
    lua_getfield(L, -1, "etw");
    if (lua_getfield(L, -1, "options") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "options");
    }
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, items[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, name);
    lua_pop(L, 3);
}
/* Microsoft-Windows-Kernel-Process feeds the process table with ids 1 and 2
 * (start, stop) whatever the handlers want. */
static const etwl_guid kernel_process = {0x22fb2cd6, 0x0e7b, 0x422b, {0xa0, 0xc7, 0x2f, 0xad, 0x1f, 0xd0, 0xe7, 0x16}};

void etwl_lua_wanted_ids(const etwl_lua *x, etwl_provider_spec *p)
{
    uint8_t want[65536 / 8];
    const etwl_guid *g = p->has_guid ? &p->guid : NULL;
    uint32_t id;
    int i, n = 0;
    p->nevent_ids = 0;
    if (!x || x->nh == 0) return;
    if (x->sigma) return; /* Sigma rules read any id of any provider */
    memset(want, 0, sizeof want);
    for (i = 0; i < x->nh; i++) {
        const etwl_filter *f = &x->h[i].filter;
        if (!etwl_filter_may_match_provider(f, p->name, g)) continue;
        if (!(f->mask & ETWL_F_ID) || !f->ids) return; /* wants every id */
        for (id = 0; id < 65536 / 8; id++) want[id] |= f->ids[id];
    }
    if ((g && etwl_guid_equal(g, &kernel_process)) ||
        (!g && strcasecmp(p->name, "Microsoft-Windows-Kernel-Process") == 0))
        want[0] |= 0x06;
    for (id = 0; id < 65536; id++) {
        if (!(want[id >> 3] & (1u << (id & 7)))) continue;
        if (n == ETWL_MAX_EVENT_IDS) {
            p->nevent_ids = 0; /* more than one filter takes: no filter */
            return;
        }
        p->event_ids[n++] = (uint16_t)id;
    }
    p->nevent_ids = (uint16_t)n;
}

int etwl_lua_nhandlers(const etwl_lua *x) { return x->nh; }

static void report(etwl_lua *x, const char *what, const char *origin, uint64_t nth);
void etwl_lua_report(etwl_lua *x, const char *what, const char *origin, uint64_t nth) { report(x, what, origin, nth); }

static void report(etwl_lua *x, const char *what, const char *origin, uint64_t nth)
{
    etwl_buf msg;
    if (nth > (uint64_t)x->o.max_error_prints) return;
    etwl_buf_init(&msg);
    etwl_text_put_lines(&msg, x->buf.data ? x->buf.data : "", x->buf.len, "etwlua:   ");
    fprintf(x->o.err_out, "etwlua: %s %s failed: %s\n", what, origin, msg.data ? msg.data : "");
    if (nth == (uint64_t)x->o.max_error_prints)
        fprintf(x->o.err_out, "etwlua: further errors from %s %s are counted, not printed\n", what, origin);
    etwl_buf_free(&msg);
}

static etwl_status run_hooks(etwl_lua *x, const int *refs, int n, const char *what)
{
    int i;
    for (i = 0; i < n; i++) {
        lua_rawgeti(x->L, LUA_REGISTRYINDEX, refs[i]);
        if (etwl_lua_pcall(x, 0, 0, NULL) != LUA_OK) {
            x->handler_errors++;
            report(x, what, "hook", 1);
        }
    }
    return ETWL_OK;
}

etwl_status etwl_lua_start(etwl_lua *x) { return run_hooks(x, x->start_refs, x->nstart, "etw.on_start"); }

etwl_status etwl_lua_start_checked(etwl_lua *x, etwl_error *err)
{
    int i;
    for (i = 0; i < x->nstart; i++) {
        lua_rawgeti(x->L, LUA_REGISTRYINDEX, x->start_refs[i]);
        if (etwl_lua_pcall(x, 0, 0, NULL) != LUA_OK) {
            x->handler_errors++;
            return etwl_error_set(err, ETWL_EINVAL, "etw.on_start hook failed: %s", x->buf.data ? x->buf.data : "?");
        }
    }
    return ETWL_OK;
}

etwl_proc_event *etwl_lua_proc_event(etwl_lua *x) { return &x->pe; }

int etwl_lua_nhooks(const etwl_lua *x, int *nstop)
{
    if (nstop) *nstop = x->nstop;
    return x->nstart;
}

/* ---- etw.reload_state across a reload ------------------------------------ */

typedef struct carry {
    lua_State *from, *to;
    size_t items, bytes;
    etwl_error *err;
    char path[256]; /* the key path being copied, for messages */
} carry;

static int carry_fail(carry *c, const char *why)
{
    etwl_error_set(c->err, ETWL_EINVAL, "etw.reload_state%s: %s; nothing was carried over to the new scripts", c->path,
                   why);
    return 0;
}

/* Appends the key at the top of c->from to c->path (the caller cuts it
 * back); numbers as [n], strings as .name */
static void carry_path(carry *c)
{
    size_t n = strlen(c->path);
    if (n >= sizeof c->path - 70) return;
    switch (lua_type(c->from, -1)) {
    case LUA_TSTRING: snprintf(c->path + n, sizeof c->path - n, ".%.60s", lua_tostring(c->from, -1)); break;
    case LUA_TNUMBER:
        if (lua_isinteger(c->from, -1))
            snprintf(c->path + n, sizeof c->path - n, "[%lld]", (long long)lua_tointeger(c->from, -1));
        else snprintf(c->path + n, sizeof c->path - n, "[%g]", (double)lua_tonumber(c->from, -1));
        break;
    case LUA_TBOOLEAN:
        snprintf(c->path + n, sizeof c->path - n, "[%s]", lua_toboolean(c->from, -1) ? "true" : "false");
        break;
    default: snprintf(c->path + n, sizeof c->path - n, "[%s]", luaL_typename(c->from, -1)); break;
    }
}

/* Copies one string, number or boolean from the top of `from` onto `to`. */
static int carry_scalar(carry *c)
{
    switch (lua_type(c->from, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(c->from, -1, &n);
        if ((c->bytes += n) > ETWL_LUA_CARRY_MAX_BYTES) return carry_fail(c, "more than 16 MiB of strings");
        lua_pushlstring(c->to, s, n);
        return 1;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(c->from, -1)) lua_pushinteger(c->to, lua_tointeger(c->from, -1));
        else lua_pushnumber(c->to, lua_tonumber(c->from, -1));
        return 1;
    case LUA_TBOOLEAN: lua_pushboolean(c->to, lua_toboolean(c->from, -1)); return 1;
    default: return 0;
    }
}

/* Copies the table at the top of `from` into a new table on `to`. */
static int carry_table(carry *c, int depth)
{
    /* on failure the stacks are left as they are: the caller resets both */
    int t = lua_gettop(c->from);
    if (depth > ETWL_LUA_CARRY_DEPTH) return carry_fail(c, "nested more than 32 deep (a cycle?)");
    if (lua_getmetatable(c->from, t)) return carry_fail(c, "a table with a metatable is not a plain table");
    if (!lua_checkstack(c->from, 4) || !lua_checkstack(c->to, 4)) return carry_fail(c, "out of stack");
    lua_newtable(c->to);
    lua_pushnil(c->from);
    while (lua_next(c->from, t)) {
        size_t plen = strlen(c->path);
        int vt = lua_type(c->from, -1), kt = lua_type(c->from, -2);
        lua_pushvalue(c->from, -2); /* the key, for the path and the copy */
        carry_path(c);
        if (++c->items > ETWL_LUA_CARRY_MAX_ITEMS) return carry_fail(c, "more than 100000 entries");
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER && kt != LUA_TBOOLEAN)
            return carry_fail(c, "keys must be strings, numbers or booleans");
        if (!carry_scalar(c)) return 0; /* the key onto `to` */
        lua_pop(c->from, 1);
        if (vt == LUA_TTABLE) {
            if (!carry_table(c, depth + 1)) return 0;
        } else if (!carry_scalar(c)) {
            char why[128];
            if (vt == LUA_TSTRING) return 0; /* over the byte bound: said */
            snprintf(why, sizeof why, "a %s cannot be carried over (only strings, numbers, booleans and plain tables)",
                     lua_typename(c->from, vt));
            return carry_fail(c, why);
        }
        lua_rawset(c->to, -3);
        lua_pop(c->from, 1); /* the value; the key stays for lua_next */
        c->path[plen] = 0;
    }
    return 1;
}

etwl_status etwl_lua_carry_state(etwl_lua *to, etwl_lua *from, etwl_error *err)
{
    carry c;
    int ok, ttop = lua_gettop(to->L), ftop = lua_gettop(from->L);
    memset(&c, 0, sizeof c);
    c.from = from->L;
    c.to = to->L;
    c.err = err;
    lua_getfield(from->L, LUA_REGISTRYINDEX, ETWL_LUA_RELOAD_STATE);
    lua_getfield(to->L, LUA_REGISTRYINDEX, ETWL_LUA_RELOAD_STATE);
    if (lua_type(from->L, -1) != LUA_TTABLE || lua_type(to->L, -1) != LUA_TTABLE) {
        lua_settop(from->L, ftop);
        lua_settop(to->L, ttop);
        return ETWL_OK;
    }
    /* the copy goes into a new table first: a failure half-way must leave
     * the new scripts an empty etw.reload_state, not part of one */
    to->mem_enforce = 0; /* bounded above; the new state's cap is for its scripts */
    ok = carry_table(&c, 1);
    to->mem_enforce = 1;
    if (ok) { /* move the copy's entries into the table etw hands out */
        lua_pushnil(to->L);
        while (lua_next(to->L, -2)) {
            lua_pushvalue(to->L, -2);
            lua_insert(to->L, -2);
            lua_rawset(to->L, -5);
        }
    }
    lua_settop(from->L, ftop);
    lua_settop(to->L, ttop);
    return ok ? ETWL_OK : ETWL_EINVAL;
}

etwl_status etwl_lua_stop(etwl_lua *x)
{
    /* after a stop request the on_stop hooks get a grace period of their
     * own, then the watchdog interrupts them as it did the handlers */
    pthread_mutex_lock(&x->wd_mu);
    if (x->stop_ns) x->stop_ns = now_ns();
    pthread_mutex_unlock(&x->wd_mu);
    return run_hooks(x, x->stop_refs, x->nstop, "etw.on_stop");
}

static void run_timers(etwl_lua *x, int64_t ts)
{
    int i;
    for (i = 0; i < x->ntimers; i++) {
        etwl_timer *t = &x->timers[i];
        if (t->next == 0) t->next = ts + t->period; /* starts at the first event */
        if (ts < t->next) continue;
        while (t->next <= ts) t->next += t->period; /* a gap fires once, not per period */
        lua_rawgeti(x->L, LUA_REGISTRYINDEX, t->fn_ref);
        if (etwl_lua_pcall(x, 0, 0, NULL) != LUA_OK) {
            x->handler_errors++;
            report(x, "etw.every", t->origin, 1);
        }
    }
}

static etwl_status dispatch(etwl_lua *x, etwl_event *ev);

etwl_status etwl_lua_dispatch(etwl_lua *x, etwl_event *ev)
{
    /* every event feeds its host's process table, wanted by a handler or not */
    x->procs = etwl_proctabs_for(x->hosts, ev);
    etwl_proctab_observe(x->procs, ev, &x->pe);
    return dispatch(x, ev);
}

etwl_status etwl_lua_dispatch_observed(etwl_lua *x, etwl_event *ev, const etwl_proc_event *pe)
{
    x->procs = etwl_proctabs_for(x->hosts, ev); /* the caller fed it */
    x->pe = *pe;
    return dispatch(x, ev);
}

static etwl_status dispatch(etwl_lua *x, etwl_event *ev)
{
    lua_State *L = x->L;
    int i, evidx = 0, hit;
    const char *pname = NULL;
    if (stopping(x)) return ETWL_OK;
    if (x->sigma) etwl_lua_sigma_event(x, ev); /* in C; Lua runs only for the hits scripts hooked */
    if (x->need_process) {
        const etwl_proc *p = etwl_proctab_find(x->procs, etwl_proc_subject(&x->pe), ev->hdr.ts);
        pname = p ? p->name : NULL;
    }
    for (i = 0; i < x->nh; i++) {
        etwl_handler *h = &x->h[i];
        uint64_t t0 = 0;
        int rc;
        if (!etwl_filter_match(&h->filter, ev, pname)) continue;
        if (h->gate && !etwl_lua_gate_pass(x, h, ev)) continue; /* no rule would run: no Lua */
        if (!evidx) {
            x->cur = ev;
            x->cur_seq = ++x->dispatch_seq; /* unique per host: expires what scripts kept */
            etwl_lua_push_event(L, x, ev);
            evidx = lua_gettop(L);
        }
        if (h->where_ref != LUA_NOREF) {
            int keep;
            lua_rawgeti(L, LUA_REGISTRYINDEX, h->where_ref);
            lua_pushvalue(L, evidx);
            if (etwl_lua_pcall(x, 1, 1, &hit) != LUA_OK) {
                h->errors++;
                h->budget_stops += hit;
                x->handler_errors++;
                report(x, "filter of handler", h->origin, h->errors);
                continue;
            }
            keep = lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (!keep) continue;
        }
        if (x->timing) t0 = now_ns();
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn_ref);
        lua_pushvalue(L, evidx);
        rc = etwl_lua_pcall(x, 1, 0, &hit);
        h->calls++;
        if (x->timing) {
            uint64_t dt = now_ns() - t0;
            h->ns_total += dt;
            if (dt > h->ns_max) h->ns_max = dt;
        }
        if (rc != LUA_OK) {
            h->errors++;
            h->budget_stops += hit;
            x->handler_errors++;
            report(x, "handler", h->origin, h->errors);
        }
    }
    if (evidx) {
        lua_settop(L, evidx - 1);
        x->cur = NULL; /* expires the userdata and its views */
    }
    if (x->ntimers) run_timers(x, ev->hdr.ts);
    etwl_lua_buf_trim(x);
    return ETWL_OK;
}

void etwl_lua_set_alert_writer(etwl_lua *x, void (*write)(const struct etwl_alert *a, void *ctx), void *ctx)
{
    x->o.alert_write = write;
    x->o.alert_ctx = ctx;
}

void etwl_lua_add_stats(etwl_lua *into, const etwl_lua *from)
{
    int i;
    into->alerts += from->alerts;
    into->handler_errors += from->handler_errors;
    if (from->mem_peak > into->mem_peak) into->mem_peak = from->mem_peak;
    for (i = 0; i < into->nh && i < from->nh; i++) {
        etwl_handler *a = &into->h[i];
        const etwl_handler *b = &from->h[i];
        a->calls += b->calls;
        a->errors += b->errors;
        a->budget_stops += b->budget_stops;
        a->ns_total += b->ns_total;
        if (b->ns_max > a->ns_max) a->ns_max = b->ns_max;
    }
}

void etwl_lua_print_stats(etwl_lua *x, FILE *f)
{
    int i;
    fprintf(f, "etwlua: lua: handlers=%d alerts=%llu errors=%llu memory_peak_kb=%zu\n", x->nh,
            (unsigned long long)x->alerts, (unsigned long long)x->handler_errors, x->mem_peak / 1024);
    for (i = 0; i < x->nh; i++) {
        etwl_handler *h = &x->h[i];
        fprintf(f, "etwlua: handler %s: calls=%llu errors=%llu budget_stops=%llu total_ms=%.3f max_us=%.1f\n",
                h->origin, (unsigned long long)h->calls, (unsigned long long)h->errors,
                (unsigned long long)h->budget_stops, h->ns_total / 1e6, h->ns_max / 1e3);
    }
}
