/* lua_process.c - ev.process: entries of the process table as Lua tables.
 *
 * A process is a snapshot table, built only when a script reads
 * ev.process (so events nobody asks about cost nothing).  `parent` is
 * resolved on first access through the metatable and then kept in the
 * table; `ancestors()` walks parents with a depth bound and a cycle check,
 * since pid reuse can make a parent chain loop. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "core/event.h"
#include "lua/lua_int.h"

#define PROC_MT "etw.process"
#define MAX_ANCESTORS 64

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_time(lua_State *L, const char *k, int64_t t)
{
    char s[ETWL_TIME_STRLEN + 1];
    if (t <= 1 || etwl_time_format(t, s) != ETWL_OK) return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, k);
}

static void push_proc(lua_State *L, const etwl_proc *p)
{
    lua_createtable(L, 0, 14);
    set_int(L, "pid", p->pid);
    set_int(L, "ppid", p->ppid);
    set_str(L, "image", p->image);
    set_str(L, "name", p->name);
    set_str(L, "command_line", p->cmdline);
    set_str(L, "user", p->user);
    set_str(L, "integrity", p->integrity);
    set_time(L, "start_time", p->start);
    if (p->start) set_int(L, "start_filetime", p->start);
    set_time(L, "exit_time", p->exit);
    if (p->has_exit_code) set_int(L, "exit_code", p->exit_code);
    if (p->has_session) set_int(L, "session_id", p->session);
    luaL_setmetatable(L, PROC_MT);
}

/* Pushes the parent of the process table at idx, or nil. */
static int push_parent(lua_State *L, int idx)
{
    etwl_lua *x = etwl_lua_host(L);
    const etwl_proc *q;
    lua_Integer ppid, start, pid;
    lua_getfield(L, idx, "ppid");
    lua_getfield(L, idx, "start_filetime");
    lua_getfield(L, idx, "pid");
    ppid = lua_tointeger(L, -3);
    start = lua_tointeger(L, -2);
    pid = lua_tointeger(L, -1);
    lua_pop(L, 3);
    if (ppid <= 0 || ppid == pid) return 0;
    q = etwl_proctab_find(x->procs, (uint32_t)ppid, start);
    if (!q) return 0;
    push_proc(L, q);
    return 1;
}

static int ancestors_next(lua_State *L)
{
    lua_Integer depth = lua_tointeger(L, lua_upvalueindex(2));
    if (depth >= MAX_ANCESTORS || lua_isnil(L, lua_upvalueindex(1))) return 0;
    lua_getfield(L, lua_upvalueindex(1), "parent"); /* through __index */
    if (lua_isnil(L, -1)) {
        lua_pushnil(L);
        lua_replace(L, lua_upvalueindex(1));
        return 0;
    }
    /* a pid seen before means the chain loops (pid reuse): stop there */
    lua_getfield(L, -1, "pid");
    if (lua_rawget(L, lua_upvalueindex(3)) != LUA_TNIL) {
        lua_pushnil(L);
        lua_replace(L, lua_upvalueindex(1));
        return 0;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "pid");
    lua_pushboolean(L, 1);
    lua_rawset(L, lua_upvalueindex(3));
    lua_pushvalue(L, -1);
    lua_replace(L, lua_upvalueindex(1));
    lua_pushinteger(L, depth + 1);
    lua_replace(L, lua_upvalueindex(2));
    return 1;
}

/* for p in proc:ancestors() do ... end  -- parent first */
static int l_ancestors(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    lua_newtable(L); /* pids seen */
    lua_getfield(L, 1, "pid");
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pushcclosure(L, ancestors_next, 3);
    return 1;
}

static int proc_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (!k) return 0;
    if (strcmp(k, "parent") == 0) {
        if (!push_parent(L, 1)) return 0;
        lua_pushvalue(L, -1);
        lua_setfield(L, 1, "parent"); /* keep it: resolved once */
        return 1;
    }
    if (strcmp(k, "ancestors") == 0) {
        lua_pushcfunction(L, l_ancestors);
        return 1;
    }
    return 0;
}

void etwl_lua_process_open(lua_State *L)
{
    luaL_newmetatable(L, PROC_MT);
    lua_pushcfunction(L, proc_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

/* Copies a string property of the current event into the table on top. */
static int overlay(lua_State *L, etwl_event *ev, const char *prop, const char *field)
{
    const etwl_value *v = etwl_event_get(ev, prop);
    if (!v || v->type != ETWL_VT_STRING || v->n == 0 || (v->n == 1 && v->v.s[0] == '-')) return 0;
    lua_pushlstring(L, v->v.s, v->n);
    lua_setfield(L, -2, field);
    return 1;
}

void etwl_lua_push_event_process(lua_State *L, etwl_lua *x)
{
    etwl_event *ev = x->cur;
    const etwl_proc *p = etwl_proctab_find(x->procs, etwl_proc_subject(&x->pe), ev->hdr.ts);
    const etwl_value *pi;
    if (!p) {
        lua_pushnil(L);
        return;
    }
    push_proc(L, p);
    /* the event's own view of the parent (Sysmon's ParentImage, the
     * Security log's ParentProcessName) wins over the table's */
    pi = etwl_event_get(ev, "ParentImage");
    if (!pi) pi = etwl_event_get(ev, "ParentProcessName");
    if (pi && pi->type == ETWL_VT_STRING && x->pe.kind == ETWL_PE_START) {
        if (!push_parent(L, lua_gettop(L))) {
            lua_createtable(L, 0, 6);
            set_int(L, "pid", (lua_Integer)p->ppid);
            luaL_setmetatable(L, PROC_MT);
        }
        if (overlay(L, ev, "ParentImage", "image") || overlay(L, ev, "ParentProcessName", "image")) {
            const char *img, *b, *c;
            lua_getfield(L, -1, "image");
            img = lua_tostring(L, -1);
            for (b = img, c = img; c && *c; c++)
                if (*c == '\\' || *c == '/') b = c + 1;
            lua_pushstring(L, b);
            lua_setfield(L, -3, "name");
            lua_pop(L, 1);
        }
        overlay(L, ev, "ParentCommandLine", "command_line");
        overlay(L, ev, "ParentUser", "user");
        lua_setfield(L, -2, "parent");
    }
}
