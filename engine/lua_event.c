/* lua_event.c - the event as a Lua userdata.
 *
 * One full userdata per delivered event; nothing else is created until a
 * script reads something.  Fields come through a getter table (name ->
 * integer) and a switch, not a chain of string compares.  Views (ev.info,
 * ev.header, ev.ext) are created on first use and kept in the event's user
 * values.  Every access checks that the event is still the one being
 * dispatched: after its handler returns, the event and any view of it raise
 * "expired event" (as Wireshark's Lua API does) - never a crash, never the
 * next event's data. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "event.h"
#include "lua_host.h"

#define EV_MT "etw.event"
#define INFO_MT "etw.info"
#define HDR_MT "etw.header"
#define EXT_MT "etw.ext"

typedef struct lev {
    etwl_lua *x;
    uint64_t seq;
} lev;

enum {
    F_ID = 1, F_VERSION, F_CHANNEL, F_LEVEL, F_OPCODE, F_TASK, F_KEYWORD, F_PID, F_TID, F_TS, F_FILETIME,
    F_PROVIDER, F_PROVIDER_GUID, F_ACTIVITY_GUID, F_FLAGS, F_CPU, F_KTIME, F_UTIME, F_PTIME,
    F_HEADER, F_INFO, F_EXT,
    X_SESSION, X_ACTIVITY, X_SID, X_INSTANCE, X_STACK
};

static const struct {
    const char *name;
    int id;
} getters[] = {
    {"id", F_ID}, {"version", F_VERSION}, {"channel", F_CHANNEL}, {"level", F_LEVEL}, {"opcode", F_OPCODE},
    {"task", F_TASK}, {"keyword", F_KEYWORD}, {"pid", F_PID}, {"tid", F_TID}, {"ts", F_TS},
    {"filetime", F_FILETIME}, {"provider", F_PROVIDER}, {"provider_guid", F_PROVIDER_GUID},
    {"activity_guid", F_ACTIVITY_GUID}, {"flags", F_FLAGS}, {"cpu", F_CPU}, {"kernel_time", F_KTIME},
    {"user_time", F_UTIME}, {"processor_time", F_PTIME}, {"header", F_HEADER}, {"info", F_INFO}, {"ext", F_EXT},
};

static const struct {
    const char *name;
    int id;
} ext_getters[] = {
    {"session_id", X_SESSION}, {"activity_id", X_ACTIVITY}, {"user_sid", X_SID},
    {"instance_info", X_INSTANCE}, {"stacktrace", X_STACK},
};

/* Returns the live event behind a userdata of the given kind, or raises. */
static etwl_event *live(lua_State *L, int idx, const char *mt)
{
    lev *u = luaL_checkudata(L, idx, mt);
    if (!u->x->cur || u->x->cur_seq != u->seq)
        luaL_error(L, "expired event: an event is valid only inside its handler (keep ev:totable() instead)");
    return u->x->cur;
}

etwl_event *etwl_lua_check_event(lua_State *L, int idx) { return live(L, idx, EV_MT); }

static void push_guid(lua_State *L, const etwl_guid *g)
{
    char s[ETWL_GUID_STRLEN + 1];
    etwl_guid_format(g, s);
    lua_pushlstring(L, s, ETWL_GUID_STRLEN);
}

static void push_time(lua_State *L, int64_t t)
{
    char s[ETWL_TIME_STRLEN + 1];
    if (etwl_time_format(t, s) == ETWL_OK)
        lua_pushlstring(L, s, ETWL_TIME_STRLEN);
    else
        lua_pushinteger(L, t);
}

void etwl_lua_push_value(lua_State *L, const etwl_value *v, int depth)
{
    uint32_t i;
    if (!v || depth > 64) {
        lua_pushnil(L);
        return;
    }
    luaL_checkstack(L, 4, "value too deep");
    switch ((etwl_vtype)v->type) {
    case ETWL_VT_NULL:
    case ETWL_VT_ERROR: lua_pushnil(L); break;
    case ETWL_VT_BOOL: lua_pushboolean(L, v->v.u != 0); break;
    case ETWL_VT_INT: lua_pushinteger(L, v->v.i); break;
    case ETWL_VT_UINT:
    case ETWL_VT_HEX: lua_pushinteger(L, (lua_Integer)v->v.u); break; /* wraps above 2^63, as Lua does */
    case ETWL_VT_DOUBLE: lua_pushnumber(L, v->v.d); break;
    case ETWL_VT_NUMBER:
        if (!lua_stringtonumber(L, v->v.s)) lua_pushnil(L);
        break;
    case ETWL_VT_STRING:
    case ETWL_VT_BINARY: lua_pushlstring(L, v->v.s, v->n); break;
    case ETWL_VT_GUID: push_guid(L, &v->v.g); break;
    case ETWL_VT_TIME: push_time(L, v->v.i); break;
    case ETWL_VT_ARRAY:
        lua_createtable(L, (int)v->n, 0);
        for (i = 0; i < v->n; i++) {
            etwl_lua_push_value(L, &v->v.a[i], depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case ETWL_VT_OBJECT:
        lua_createtable(L, 0, (int)v->n);
        for (i = 0; i < v->n; i++) {
            lua_pushlstring(L, v->v.o[i].name, v->v.o[i].name_len);
            etwl_lua_push_value(L, &v->v.o[i].value, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
}

static void push_provider(lua_State *L, const etwl_header *h)
{
    if (h->has & ETWL_HAS_PROVIDER_NAME)
        lua_pushlstring(L, h->provider_name, h->provider_name_len);
    else
        push_guid(L, &h->provider_guid);
}

static int push_view(lua_State *L, int evidx, int slot, const char *mt);

/* Pushes header field `id` of ev (the userdata at idx, for views). */
static int push_field(lua_State *L, etwl_event *ev, int id, int idx)
{
    const etwl_header *h = &ev->hdr;
    switch (id) {
    case F_ID: lua_pushinteger(L, h->desc.id); break;
    case F_VERSION: lua_pushinteger(L, h->desc.version); break;
    case F_CHANNEL: lua_pushinteger(L, h->desc.channel); break;
    case F_LEVEL: lua_pushinteger(L, h->desc.level); break;
    case F_OPCODE: lua_pushinteger(L, h->desc.opcode); break;
    case F_TASK: lua_pushinteger(L, h->desc.task); break;
    case F_KEYWORD: lua_pushinteger(L, (lua_Integer)h->desc.keyword); break;
    case F_PID: lua_pushinteger(L, h->pid); break;
    case F_TID: lua_pushinteger(L, h->tid); break;
    case F_TS: push_time(L, h->ts); break;
    case F_FILETIME: lua_pushinteger(L, h->ts); break;
    case F_PROVIDER: push_provider(L, h); break;
    case F_PROVIDER_GUID: push_guid(L, &h->provider_guid); break;
    case F_ACTIVITY_GUID: push_guid(L, &h->activity_guid); break;
    case F_FLAGS: lua_pushinteger(L, h->flags); break;
    case F_CPU:
        if (h->has & ETWL_HAS_PROCESSOR) lua_pushinteger(L, h->processor);
        else lua_pushnil(L);
        break;
    case F_KTIME: lua_pushinteger(L, h->kernel_time); break;
    case F_UTIME: lua_pushinteger(L, h->user_time); break;
    case F_PTIME: lua_pushinteger(L, (lua_Integer)h->processor_time); break;
    case F_HEADER: return push_view(L, idx, 1, HDR_MT);
    case F_INFO: return push_view(L, idx, 2, INFO_MT);
    case F_EXT: return push_view(L, idx, 3, EXT_MT);
    default: lua_pushnil(L);
    }
    return 1;
}

/* A view shares the event's lev (same seq), so it expires with it. */
static int push_view(lua_State *L, int evidx, int slot, const char *mt)
{
    lev *u, *v;
    if (lua_getiuservalue(L, evidx, slot) == LUA_TUSERDATA) return 1;
    lua_pop(L, 1);
    u = lua_touserdata(L, evidx);
    v = lua_newuserdatauv(L, sizeof *v, 0);
    *v = *u;
    luaL_setmetatable(L, mt);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, evidx, slot);
    return 1;
}

/* The getter table (name -> id) is the first upvalue of every __index. */
static int lookup_id(lua_State *L, int keyidx)
{
    int id;
    if (lua_type(L, keyidx) != LUA_TSTRING) return 0;
    lua_pushvalue(L, keyidx);
    lua_rawget(L, lua_upvalueindex(1));
    id = (int)lua_tointeger(L, -1); /* 0 when absent */
    lua_pop(L, 1);
    return id;
}

/* ev.<field> | ev:<method>() */
static int ev_index(lua_State *L)
{
    etwl_event *ev = live(L, 1, EV_MT);
    int id = lookup_id(L, 2);
    if (id) return push_field(L, ev, id, 1);
    /* methods live in the metatable's "methods" table */
    luaL_getmetafield(L, 1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int ev_newindex(lua_State *L)
{
    live(L, 1, EV_MT);
    return luaL_error(L, "events are read-only");
}

static int ev_json(lua_State *L)
{
    etwl_event *ev = live(L, 1, EV_MT);
    etwl_lua *x = ((lev *)lua_touserdata(L, 1))->x;
    etwl_buf_reset(&x->buf);
    if (etwl_event_write_json(ev, &x->buf) != ETWL_OK) return luaL_error(L, "out of memory");
    lua_pushlstring(L, x->buf.data, x->buf.len);
    return 1;
}

static int ev_tostring(lua_State *L)
{
    etwl_event *ev = live(L, 1, EV_MT);
    etwl_lua *x = ((lev *)lua_touserdata(L, 1))->x;
    etwl_buf_reset(&x->buf);
    if (etwl_event_write_text(ev, &x->buf) != ETWL_OK) return luaL_error(L, "out of memory");
    lua_pushlstring(L, x->buf.data, x->buf.len);
    return 1;
}

static void push_info_table(lua_State *L, etwl_event *ev)
{
    uint32_t i, n = etwl_event_prop_count(ev);
    lua_createtable(L, 0, (int)n);
    for (i = 0; i < n; i++) {
        uint32_t len;
        const char *name = etwl_event_prop_name(ev, i, &len);
        lua_pushlstring(L, name, len);
        lua_rawget(L, -2);
        if (!lua_isnil(L, -1)) { /* duplicate name: the first wins, as lookups do */
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        lua_pushlstring(L, name, len);
        etwl_lua_push_value(L, etwl_event_prop(ev, i), 0);
        lua_rawset(L, -3);
    }
}

static void push_ext_field(lua_State *L, etwl_event *ev, int id)
{
    const etwl_ext *x = &ev->ext;
    uint32_t i;
    switch (id) {
    case X_SESSION:
        if (x->has & ETWL_EXT_SESSION_ID) lua_pushinteger(L, x->session_id);
        else lua_pushnil(L);
        break;
    case X_ACTIVITY:
        if (x->has & ETWL_EXT_RELATED_ACTIVITY) push_guid(L, &x->related_activity);
        else lua_pushnil(L);
        break;
    case X_SID:
        if (x->has & ETWL_EXT_USER_SID) lua_pushlstring(L, x->user_sid, x->user_sid_len);
        else lua_pushnil(L);
        break;
    case X_INSTANCE:
        if (!(x->has & ETWL_EXT_INSTANCE_INFO)) {
            lua_pushnil(L);
            break;
        }
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, x->instance.id);
        lua_setfield(L, -2, "id");
        lua_pushinteger(L, x->instance.parent_id);
        lua_setfield(L, -2, "parent_id");
        push_guid(L, &x->instance.parent_guid);
        lua_setfield(L, -2, "parent_guid");
        break;
    case X_STACK:
        if (!(x->has & ETWL_EXT_STACKTRACE)) {
            lua_pushnil(L);
            break;
        }
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)x->stack.matched_id);
        lua_setfield(L, -2, "matched_id");
        lua_createtable(L, (int)x->stack.count, 0);
        for (i = 0; i < x->stack.count; i++) {
            lua_pushinteger(L, (lua_Integer)x->stack.addresses[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "addresses");
        break;
    default: lua_pushnil(L);
    }
}

static int ev_totable(lua_State *L)
{
    etwl_event *ev = live(L, 1, EV_MT);
    size_t i;
    lua_createtable(L, 0, 3);
    lua_createtable(L, 0, 20);
    for (i = 0; i < sizeof getters / sizeof getters[0]; i++) {
        if (getters[i].id >= F_HEADER) continue;
        push_field(L, ev, getters[i].id, 1);
        lua_setfield(L, -2, getters[i].name);
    }
    lua_setfield(L, -2, "header");
    push_info_table(L, ev);
    lua_setfield(L, -2, "info");
    lua_createtable(L, 0, 5);
    for (i = 0; i < sizeof ext_getters / sizeof ext_getters[0]; i++) {
        push_ext_field(L, ev, ext_getters[i].id);
        lua_setfield(L, -2, ext_getters[i].name);
    }
    lua_setfield(L, -2, "ext");
    return 1;
}

/* ---- views ----------------------------------------------------------------- */

static int info_index(lua_State *L)
{
    etwl_event *ev = live(L, 1, INFO_MT);
    size_t n;
    const char *k = lua_tolstring(L, 2, &n);
    int32_t i;
    if (!k || lua_type(L, 2) != LUA_TSTRING) return 0;
    i = etwl_event_prop_find(ev, k, n);
    if (i < 0) return 0; /* missing: nil */
    etwl_lua_push_value(L, etwl_event_prop(ev, (uint32_t)i), 0);
    return 1;
}

static int info_next(lua_State *L)
{
    etwl_event *ev = live(L, 1, INFO_MT);
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(1));
    uint32_t len;
    const char *name;
    if (i >= (lua_Integer)etwl_event_prop_count(ev)) return 0;
    lua_pushinteger(L, i + 1);
    lua_replace(L, lua_upvalueindex(1));
    name = etwl_event_prop_name(ev, (uint32_t)i, &len);
    lua_pushlstring(L, name, len);
    etwl_lua_push_value(L, etwl_event_prop(ev, (uint32_t)i), 0);
    return 2;
}

static int info_pairs(lua_State *L)
{
    live(L, 1, INFO_MT);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, info_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int info_len(lua_State *L)
{
    lua_pushinteger(L, etwl_event_prop_count(live(L, 1, INFO_MT)));
    return 1;
}

static int hdr_index(lua_State *L)
{
    etwl_event *ev = live(L, 1, HDR_MT);
    int id = lookup_id(L, 2);
    if (id && id < F_HEADER) return push_field(L, ev, id, 1);
    return 0;
}

static int ext_index(lua_State *L)
{
    etwl_event *ev = live(L, 1, EXT_MT);
    int id = lookup_id(L, 2);
    if (!id) return 0;
    push_ext_field(L, ev, id);
    return 1;
}

static int view_newindex(lua_State *L) { return luaL_error(L, "events are read-only"); }

static int view_tostring(lua_State *L)
{
    lua_pushfstring(L, "%s: %p", luaL_typename(L, 1), lua_topointer(L, 1));
    return 1;
}

static const luaL_Reg ev_methods[] = {{"json", ev_json}, {"totable", ev_totable}, {NULL, NULL}};
static const luaL_Reg ev_meta[] = {{"__index", ev_index}, {"__newindex", ev_newindex},
                                   {"__tostring", ev_tostring}, {NULL, NULL}};
static const luaL_Reg info_meta[] = {{"__index", info_index}, {"__pairs", info_pairs}, {"__len", info_len},
                                     {"__newindex", view_newindex}, {"__tostring", view_tostring}, {NULL, NULL}};
static const luaL_Reg hdr_meta[] = {{"__index", hdr_index}, {"__newindex", view_newindex},
                                    {"__tostring", view_tostring}, {NULL, NULL}};
static const luaL_Reg ext_meta[] = {{"__index", ext_index}, {"__newindex", view_newindex},
                                    {"__tostring", view_tostring}, {NULL, NULL}};

/* Creates metatable `name`; the value on top of the stack becomes the
 * functions' shared upvalue (and is popped). */
static void new_meta(lua_State *L, const char *name, const luaL_Reg *fns)
{
    luaL_newmetatable(L, name); /* up mt */
    lua_insert(L, -2);          /* mt up */
    luaL_setfuncs(L, fns, 1);   /* mt */
    lua_pushliteral(L, "etw event");
    lua_setfield(L, -2, "__metatable"); /* scripts cannot swap it */
    lua_pop(L, 1);
}

static void push_getters(lua_State *L, int ext)
{
    size_t i, n = ext ? sizeof ext_getters / sizeof ext_getters[0] : sizeof getters / sizeof getters[0];
    lua_createtable(L, 0, (int)n);
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, ext ? ext_getters[i].id : getters[i].id);
        lua_setfield(L, -2, ext ? ext_getters[i].name : getters[i].name);
    }
}

void etwl_lua_event_open(lua_State *L)
{
    push_getters(L, 0);
    lua_pushvalue(L, -1);
    new_meta(L, EV_MT, ev_meta);
    new_meta(L, HDR_MT, hdr_meta);
    luaL_getmetatable(L, EV_MT);
    luaL_newlib(L, ev_methods);
    lua_setfield(L, -2, "methods");
    lua_pop(L, 1);
    lua_pushnil(L);
    new_meta(L, INFO_MT, info_meta);
    push_getters(L, 1);
    new_meta(L, EXT_MT, ext_meta);
}

void etwl_lua_push_event(lua_State *L, etwl_lua *x, etwl_event *ev)
{
    lev *u = lua_newuserdatauv(L, sizeof *u, 3); /* user values: header, info, ext views */
    u->x = x;
    u->seq = ev->seq;
    luaL_setmetatable(L, EV_MT);
}
