/* lua_selftest.c - `etwlua test`: every rule over its own examples.
 *
 * The injection hook lives here, in a module ("etwlua.selftest") that only
 * a self-test state has, never in the production etw module: a script in a
 * live session cannot forge events into the handlers. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

#include "core/event.h"
#include "lua/lua_int.h"
#include "sources/jsonl/json_read.h"

/* inject(json) -> {rule_id = true, ...}: dispatches one event given as a
 * JSON line through the C filters and every handler, collecting the rules
 * that alerted instead of writing their alerts. */
static int l_inject(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    size_t n;
    const char *json = luaL_checklstring(L, 1, &n);
    char err[300];
    etwl_json_reader *jr;
    etwl_event ev;
    etwl_status st;
    if (x->cur) return luaL_error(L, "inject cannot run inside a handler");
    jr = etwl_json_reader_new();
    if (!jr) return luaL_error(L, "out of memory");
    etwl_event_init(&ev);
    ev.seq = x->dispatch_seq + 1000000; /* unrelated to any real event */
    etwl_event_begin(&ev);
    st = etwl_json_parse_event(jr, json, n, &ev, err, sizeof err);
    etwl_json_reader_free(jr);
    if (st != ETWL_OK) {
        etwl_event_release(&ev);
        return luaL_error(L, "inject: %s", err);
    }
    lua_newtable(L);
    lua_pushvalue(L, -1);
    x->capture_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    etwl_lua_dispatch(x, &ev);
    luaL_unref(L, LUA_REGISTRYINDEX, x->capture_ref);
    x->capture_ref = LUA_NOREF;
    etwl_event_release(&ev);
    return 1;
}

/* done(failures): the result (the module is read-only to scripts) */
static int l_done(lua_State *L)
{
    lua_pushinteger(L, luaL_checkinteger(L, 1));
    lua_setfield(L, LUA_REGISTRYINDEX, "etwl.selftest.failures");
    return 0;
}

/* write(line): the report goes to stdout, which scripts cannot reach */
static int l_write(lua_State *L)
{
    fprintf(stdout, "%s\n", luaL_checkstring(L, 1));
    return 0;
}

static const luaL_Reg selftest_funcs[] = {{"inject", l_inject}, {"write", l_write}, {"done", l_done}, {NULL, NULL}};

etwl_status etwl_lua_selftest(etwl_lua *x, int *failures, etwl_error *err)
{
    lua_State *L = x->L;
    etwl_status st;
    *failures = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, "etwl.loaded");
    luaL_newlib(L, selftest_funcs);
    lua_setfield(L, -2, "etwlua.selftest");
    lua_pop(L, 1);
    st = etwl_lua_load_string(x,
                              "local t = require 'etwlua.selftest'\n"
                              "t.done(require('etwlua.rules').selftest(t.inject, t.write))\n",
                              "etwlua test", err);
    if (st != ETWL_OK) return st;
    lua_getfield(L, LUA_REGISTRYINDEX, "etwl.selftest.failures");
    *failures = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return ETWL_OK;
}
