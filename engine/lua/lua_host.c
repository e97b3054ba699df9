/* lua_host.c - the Lua state, its sandbox and limits, loading, dispatch.
 *
 * Safety model (after Redis scripting):
 * - every script gets its own _ENV built from an allow-list, with private
 *   copies of the library tables, so one script cannot tamper with another;
 * - every call into Lua goes through etwl_lua_pcall(): a traceback handler
 *   and a count hook that stops a handler after its instruction budget;
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

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    etwl_lua *x = etwl_lua_host(L);
    lua_getinfo(L, "Sl", ar);
    x->budget_hit = 1;
    lua_sethook(L, NULL, 0, 0); /* the error path must not trip it again */
    lua_pushfstring(L, "%s:%d: instruction budget exceeded (%d instructions; raise it with --budget)", ar->short_src,
                    ar->currentline, x->budget_armed);
    lua_error(L);
}

int etwl_lua_pcall(etwl_lua *x, int nargs, int nresults, int *budget_hit)
{
    lua_State *L = x->L;
    int rc, msgh = 1, base = 0;
    /* the traceback handler lives at stack slot 1 for the state's lifetime,
     * so no call has to move it into place - except when called from inside
     * a C function (etw._inject), whose slot 1 is its own first argument */
    if (lua_tocfunction(L, 1) != traceback) {
        base = lua_gettop(L) - nargs;
        lua_pushcfunction(L, traceback);
        lua_insert(L, base);
        msgh = base;
    }
    /* Arming the hook resets its count; it stays armed afterwards, which
     * costs nothing while C runs, since every entry into Lua comes through
     * here and re-arms it. */
    x->budget_hit = 0;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, x->budget_armed);
    rc = lua_pcall(L, nargs, nresults, msgh);
    if (budget_hit) *budget_hit = x->budget_hit;
    if (rc != LUA_OK) {
        size_t n;
        const char *msg = lua_tolstring(L, -1, &n);
        etwl_buf_reset(&x->buf);
        if (msg) etwl_buf_put(&x->buf, msg, n);
        else etwl_buf_puts(&x->buf, rc == LUA_ERRMEM ? "not enough memory" : "(error object is not a string)");
        if (rc == LUA_ERRMEM) etwl_buf_puts(&x->buf, " (the Lua memory cap; raise it with --memory-mb)");
        lua_pop(L, 1);
    }
    if (base) lua_remove(L, base);
    return rc;
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

/* require(name) inside the sandbox: the built-in modules, then text files
 * under the lua directory, each loaded once per state with its own env. */
static int sb_require(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    size_t n, i;
    const char *name = luaL_checklstring(L, 1, &n);
    char path[2048];
    lua_getfield(L, LUA_REGISTRYINDEX, "etwl.loaded"); /* loaded */
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
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
    etwl_buf_reset(&x->buf);
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1) etwl_buf_putc(&x->buf, '\t');
        etwl_text_put_escaped(&x->buf, s, len);
        lua_pop(L, 1);
    }
    fprintf(x->o.err_out, "%s\n", x->buf.data ? x->buf.data : "");
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

/* Pushes a fresh environment for one script. */
static void new_sandbox_env(lua_State *L, etwl_lua *x)
{
    static const char *const base[] = {"assert",       "error",        "ipairs",   "next",     "pairs",
                                       "pcall",        "select",       "tonumber", "tostring", "type",
                                       "xpcall",       "rawequal",     "rawget",   "rawset",   "rawlen",
                                       "setmetatable", "getmetatable", "_VERSION", NULL};
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
    lua_pushcfunction(L, sb_require);
    lua_setfield(L, -2, "require");
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

/* ---- lifecycle ------------------------------------------------------------- */

etwl_status etwl_lua_new(const etwl_lua_opts *o, etwl_lua **out, etwl_error *err)
{
    etwl_lua *x = calloc(1, sizeof *x);
    lua_State *L;
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
    {
        etwl_proctab_opts po;
        memset(&po, 0, sizeof po);
        po.grace = x->o.proc_grace;
        x->procs = etwl_proctab_new(&po);
        if (!x->procs) {
            free(x);
            return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        }
    }
    x->budget_armed = (int)(x->o.budget > 0x7fffffff ? 0x7fffffff : x->o.budget);
    etwl_buf_init(&x->buf);
    L = lua_newstate(l_alloc, x);
    if (!L) {
        free(x);
        return etwl_error_set(err, ETWL_ENOMEM, "cannot create the Lua state");
    }
    x->L = L;
    *(etwl_lua **)lua_getextraspace(L) = x;
    luaL_openlibs(L);
    /* lpeg is linked in; require "lpeg" finds it through package.preload
     * (unsafe mode) or the registry (sandbox) */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_lpeg);
    lua_setfield(L, -2, "lpeg");
    lua_pushcfunction(L, etwl_luaopen_etw);
    lua_setfield(L, -2, "etw");
    lua_pop(L, 1);
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
    if (x->L) lua_close(x->L);
    for (i = 0; i < x->caph; i++) etwl_filter_free(&x->h[i].filter);
    free(x->h);
    free(x->start_refs);
    free(x->stop_refs);
    free(x->timers);
    etwl_proctab_free(x->procs);
    etwl_buf_free(&x->buf);
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

etwl_status etwl_lua_stop(etwl_lua *x) { return run_hooks(x, x->stop_refs, x->nstop, "etw.on_stop"); }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

etwl_status etwl_lua_dispatch(etwl_lua *x, etwl_event *ev)
{
    lua_State *L = x->L;
    int i, evidx = 0, hit;
    const char *pname = NULL;
    /* every event feeds the process table, wanted by a handler or not */
    etwl_proctab_observe(x->procs, ev, &x->pe);
    if (x->need_process) {
        const etwl_proc *p = etwl_proctab_find(x->procs, x->pe.subject, ev->hdr.ts);
        pname = p ? p->name : NULL;
    }
    for (i = 0; i < x->nh; i++) {
        etwl_handler *h = &x->h[i];
        uint64_t t0 = 0;
        int rc;
        if (!etwl_filter_match(&h->filter, ev, pname)) continue;
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
    return ETWL_OK;
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
