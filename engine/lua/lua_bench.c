/* lua_bench.c - the eager baseline of `etwlua bench`: every header field
 * and property pushed into a table before the handler runs, as a binding
 * without lazy decoding would.  Kept beside the host because it drives the
 * Lua state directly. */
#include <lauxlib.h>
#include <lua.h>

#include "core/event.h"
#include "lua/lua_int.h"

etwl_status etwl_lua_bench_eager(etwl_lua *x, etwl_event *(*next)(void *ctx, uint64_t i), void *ctx, uint64_t n)
{
    lua_State *L = x->L;
    uint64_t i;
    int ref;
    /* the bench script registers its handler with etw.on (scripts cannot
     * write into the shared etw module); it is called here directly, with a
     * table instead of the event */
    if (x->nh < 1) return ETWL_ENOTFOUND;
    ref = x->h[0].fn_ref;
    for (i = 0; i < n; i++) {
        etwl_event *ev = next(ctx, i);
        uint32_t k, np = etwl_event_prop_count(ev);
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_createtable(L, 0, 16);
        lua_pushinteger(L, ev->hdr.pid);
        lua_setfield(L, -2, "pid");
        lua_pushinteger(L, ev->hdr.tid);
        lua_setfield(L, -2, "tid");
        lua_pushinteger(L, ev->hdr.desc.id);
        lua_setfield(L, -2, "id");
        lua_pushinteger(L, ev->hdr.desc.level);
        lua_setfield(L, -2, "level");
        lua_pushinteger(L, (lua_Integer)ev->hdr.desc.keyword);
        lua_setfield(L, -2, "keyword");
        lua_pushinteger(L, ev->hdr.ts);
        lua_setfield(L, -2, "ts");
        lua_pushlstring(L, ev->hdr.provider_name, ev->hdr.provider_name_len);
        lua_setfield(L, -2, "provider");
        lua_pushinteger(L, ev->hdr.desc.opcode);
        lua_setfield(L, -2, "opcode");
        for (k = 0; k < np; k++) {
            uint32_t len;
            const char *name = etwl_event_prop_name(ev, k, &len);
            lua_pushlstring(L, name, len);
            etwl_lua_push_value(L, etwl_event_prop(ev, k), 0);
            lua_rawset(L, -3);
        }
        etwl_lua_pcall(x, 1, 0, NULL);
    }
    return ETWL_OK;
}
