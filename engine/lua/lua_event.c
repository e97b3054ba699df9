/* lua_event.c - the event as a Lua userdata.
 *
 * The event and its views (ev.info, ev.header, ev.ext) are light userdata
 * whose value is (dispatch sequence << 2 | kind): handing an event to Lua
 * allocates nothing and leaves nothing for the collector.  The sequence is
 * per host and never repeats, so a value kept past its handler names an
 * event that is no longer current: every access checks it and raises
 * "expired event" (as Wireshark's Lua API does) - never a crash, never the
 * next event's data.  A field's name is found by the address of its
 * interned key (key_id), then read through a switch; ev.info.X through the
 * member index, remembered per layout (etwl_event_prop_find_cached).
 *
 * Light userdata share one metatable per state, so this file owns it; no
 * other light userdata are handed to scripts. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "core/event.h"
#include "lua/lua_int.h"

#define EV_MT "etw.event"
#define INFO_MT "etw.info"
#define HDR_MT "etw.header"
#define EXT_MT "etw.ext"

enum {
    F_ID = 1,
    F_VERSION,
    F_CHANNEL,
    F_LEVEL,
    F_OPCODE,
    F_TASK,
    F_KEYWORD,
    F_PID,
    F_TID,
    F_TS,
    F_FILETIME,
    F_PROVIDER,
    F_EVENT_NAME,
    F_RECORD_ID,
    F_CHANNEL_NAME,
    F_COMPUTER,
    F_PROVIDER_GUID,
    F_ACTIVITY_GUID,
    F_FLAGS,
    F_CPU,
    F_KTIME,
    F_UTIME,
    F_PTIME,
    F_HEADER,
    F_INFO,
    F_EXT,
    F_PROCESS,
    F_PAYLOAD,
    F_SOURCE,
    X_SESSION,
    X_ACTIVITY,
    X_SID,
    X_INSTANCE,
    X_STACK,
    X_PSKEY,
    X_EVKEY
};

static const struct {
    const char *name;
    int id;
} getters[] = {
    {"id", F_ID},
    {"version", F_VERSION},
    {"channel", F_CHANNEL},
    {"level", F_LEVEL},
    {"opcode", F_OPCODE},
    {"task", F_TASK},
    {"keyword", F_KEYWORD},
    {"pid", F_PID},
    {"tid", F_TID},
    {"ts", F_TS},
    {"filetime", F_FILETIME},
    {"provider", F_PROVIDER},
    {"event_name", F_EVENT_NAME},
    {"record_id", F_RECORD_ID},
    {"channel_name", F_CHANNEL_NAME},
    {"computer", F_COMPUTER},
    {"provider_guid", F_PROVIDER_GUID},
    {"activity_guid", F_ACTIVITY_GUID},
    {"flags", F_FLAGS},
    {"cpu", F_CPU},
    {"kernel_time", F_KTIME},
    {"user_time", F_UTIME},
    {"processor_time", F_PTIME},
    {"header", F_HEADER},
    {"info", F_INFO},
    {"ext", F_EXT},
    {"process", F_PROCESS},
    {"payload", F_PAYLOAD},
    {"source", F_SOURCE},
};

static const struct {
    const char *name;
    int id;
} ext_getters[] = {
    {"session_id", X_SESSION}, {"activity_id", X_ACTIVITY},    {"user_sid", X_SID},    {"instance_info", X_INSTANCE},
    {"stacktrace", X_STACK},   {"process_start_key", X_PSKEY}, {"event_key", X_EVKEY},
};

enum { K_EVENT, K_HEADER, K_INFO, K_EXT };

static const char *const kind_names[4] = {EV_MT, HDR_MT, INFO_MT, EXT_MT};

static uint64_t lev_seq(uintptr_t v) { return (uint64_t)v >> 2; }
static uint32_t lev_kind(uintptr_t v) { return (uint32_t)(v & 3u); }

/* Returns the live event behind a value of the given kind, or raises. */
static etwl_event *live(lua_State *L, int idx, uint32_t kind)
{
    etwl_lua *x = etwl_lua_host(L);
    uintptr_t v = (uintptr_t)lua_touserdata(L, idx);
    if (lua_type(L, idx) != LUA_TLIGHTUSERDATA || lev_kind(v) != kind) luaL_typeerror(L, idx, kind_names[kind]);
    if (!x->cur || x->cur_seq != lev_seq(v)) {
        if (x->shell) /* the shell's ev lives until the next move, not a handler */
            luaL_error(L, "expired event: the shell has moved on since (keep ev:totable() instead)");
        luaL_error(L, "expired event: an event is valid only inside its handler (keep ev:totable() instead)");
    }
    return x->cur;
}

static void push_lev(lua_State *L, uint64_t seq, uint32_t kind)
{
    lua_pushlightuserdata(L, (void *)(uintptr_t)((seq << 2) | kind));
}

etwl_event *etwl_lua_check_event(lua_State *L, int idx) { return live(L, idx, K_EVENT); }

void etwl_lua_push_info(lua_State *L, etwl_lua *x) { push_lev(L, x->cur_seq, K_INFO); }

static void push_guid(lua_State *L, const etwl_guid *g)
{
    char s[ETWL_GUID_STRLEN + 1];
    etwl_guid_format(g, s);
    lua_pushlstring(L, s, ETWL_GUID_STRLEN);
}

static void push_time(lua_State *L, int64_t t)
{
    char s[ETWL_TIME_STRLEN + 1];
    if (etwl_time_format(t, s) == ETWL_OK) lua_pushlstring(L, s, ETWL_TIME_STRLEN);
    else lua_pushinteger(L, t);
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

/* Optional fields are nil unless their has-bit is set. */
static void push_opt_str(lua_State *L, int has, const char *s, uint32_t n)
{
    if (has) lua_pushlstring(L, s, n);
    else lua_pushnil(L);
}

static void push_opt_int(lua_State *L, int has, lua_Integer v)
{
    if (has) lua_pushinteger(L, v);
    else lua_pushnil(L);
}

static void push_provider(lua_State *L, const etwl_header *h)
{
    if (h->has & ETWL_HAS_PROVIDER_NAME) lua_pushlstring(L, h->provider_name, h->provider_name_len);
    else push_guid(L, &h->provider_guid);
}

/* ev.source: {file=, record= | line= | offset=} for a replayed event (where
 * it was read, for hunting over folders), nil live. */
static void push_source(lua_State *L, const etwl_event *ev)
{
    const char *kind = etwl_event_source_kind(ev);
    if (!ev->src_file) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, ev->src_file);
    lua_setfield(L, -2, "file");
    if (kind) {
        lua_pushinteger(L, (lua_Integer)ev->src_pos);
        lua_setfield(L, -2, kind);
    }
}

/* Pushes header field `id` of ev; the view ids push views of it. */
static int push_field(lua_State *L, etwl_event *ev, int id)
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
    case F_EVENT_NAME: push_opt_str(L, h->has & ETWL_HAS_EVENT_NAME, h->event_name, h->event_name_len); break;
    case F_RECORD_ID: push_opt_int(L, h->has & ETWL_HAS_RECORD_ID, (lua_Integer)h->record_id); break;
    case F_CHANNEL_NAME: push_opt_str(L, h->has & ETWL_HAS_CHANNEL_NAME, h->channel_name, h->channel_name_len); break;
    case F_COMPUTER: push_opt_str(L, h->has & ETWL_HAS_COMPUTER, h->computer, h->computer_len); break;
    case F_PROVIDER_GUID: push_guid(L, &h->provider_guid); break;
    case F_ACTIVITY_GUID: push_guid(L, &h->activity_guid); break;
    case F_FLAGS: lua_pushinteger(L, h->flags); break;
    case F_CPU: push_opt_int(L, h->has & ETWL_HAS_PROCESSOR, h->processor); break;
    case F_KTIME: lua_pushinteger(L, h->kernel_time); break;
    case F_UTIME: lua_pushinteger(L, h->user_time); break;
    case F_PTIME: lua_pushinteger(L, (lua_Integer)h->processor_time); break;
    case F_HEADER: push_lev(L, etwl_lua_host(L)->cur_seq, K_HEADER); break;
    case F_INFO: push_lev(L, etwl_lua_host(L)->cur_seq, K_INFO); break;
    case F_EXT: push_lev(L, etwl_lua_host(L)->cur_seq, K_EXT); break;
    case F_PROCESS: etwl_lua_push_event_process(L, etwl_lua_host(L)); break;
    case F_PAYLOAD: { /* the raw bytes as sent (nil when the source has none, as JSON and EVTX) */
        uint32_t len = 0;
        const uint8_t *p = etwl_event_payload(ev, &len);
        if (p) lua_pushlstring(L, (const char *)p, len);
        else lua_pushnil(L);
        break;
    }
    case F_SOURCE: push_source(L, ev); break;
    default: lua_pushnil(L);
    }
    return 1;
}

/* Short strings are interned: while the getter tables hold the names as
 * keys, a key with one of those names is that very string, so its address
 * finds the getter - no hash of the text, no table lookup (most handlers
 * read a few fields of every event). */
static unsigned key_slot(const char *k, unsigned n) { return (unsigned)(((uintptr_t)k >> 3) * 0x9E3779B1u) % n; }

static void keys_add(struct etwl_lua_key *t, unsigned n, const char *k, int id)
{
    unsigned i = key_slot(k, n);
    while (t[i].key) i = (i + 1) % n;
    t[i].key = k;
    t[i].id = id;
}

/* The getter id of the key at keyidx, or 0 (not a getter's name). */
static int key_id(lua_State *L, int keyidx, const struct etwl_lua_key *t, unsigned n)
{
    const char *k;
    unsigned i;
    if (lua_type(L, keyidx) != LUA_TSTRING) return 0;
    k = lua_tostring(L, keyidx);
    for (i = key_slot(k, n); t[i].key; i = (i + 1) % n)
        if (t[i].key == k) return t[i].id;
    return 0;
}

#define EV_KEYS(x) (x)->ev_keys, (unsigned)(sizeof(x)->ev_keys / sizeof(x)->ev_keys[0])
#define EXT_KEYS(x) (x)->ext_keys, (unsigned)(sizeof(x)->ext_keys / sizeof(x)->ext_keys[0])
/* a free slot ends every probe (key_id) and every insert (keys_add) */
_Static_assert(sizeof getters / sizeof getters[0] < sizeof((etwl_lua *)0)->ev_keys / sizeof(struct etwl_lua_key),
               "ev_keys has room");
_Static_assert(sizeof ext_getters / sizeof ext_getters[0] <
                   sizeof((etwl_lua *)0)->ext_keys / sizeof(struct etwl_lua_key),
               "ext_keys has room");

/* ev.<field> | ev:<method>(): methods sit beside the fields in the getter
 * table (upvalue 1 of the metamethods) */
static int ev_index(lua_State *L, etwl_lua *x, etwl_event *ev)
{
    int id = key_id(L, 2, EV_KEYS(x));
    if (id) return push_field(L, ev, id);
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    lua_rawget(L, lua_upvalueindex(1));
    return 1; /* a method, or nil */
}

/* Renders the event with one of the engine's writers into the host's
 * scratch buffer, which is reused so that printing allocates once. */
static int push_written(lua_State *L, etwl_status (*write)(etwl_event *, etwl_buf *))
{
    etwl_event *ev = live(L, 1, K_EVENT);
    etwl_lua *x = etwl_lua_host(L);
    etwl_buf_reset(&x->buf);
    if (write(ev, &x->buf) != ETWL_OK) return luaL_error(L, "out of memory");
    lua_pushlstring(L, x->buf.data, x->buf.len);
    return 1;
}

static int ev_json(lua_State *L) { return push_written(L, etwl_event_write_json); }

static int ev_tostring(lua_State *L) { return push_written(L, etwl_event_write_text); }

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
    case X_SESSION: push_opt_int(L, x->has & ETWL_EXT_SESSION_ID, x->session_id); break;
    case X_ACTIVITY:
        if (x->has & ETWL_EXT_RELATED_ACTIVITY) push_guid(L, &x->related_activity);
        else lua_pushnil(L);
        break;
    case X_SID: push_opt_str(L, x->has & ETWL_EXT_USER_SID, x->user_sid, x->user_sid_len); break;
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
    case X_PSKEY: push_opt_int(L, x->has & ETWL_EXT_PROCESS_START_KEY, (lua_Integer)x->process_start_key); break;
    case X_EVKEY: push_opt_int(L, x->has & ETWL_EXT_EVENT_KEY, (lua_Integer)x->event_key); break;
    default: lua_pushnil(L);
    }
}

static int ev_totable(lua_State *L)
{
    etwl_event *ev = live(L, 1, K_EVENT);
    size_t i;
    lua_createtable(L, 0, 3);
    lua_createtable(L, 0, 20);
    for (i = 0; i < sizeof getters / sizeof getters[0]; i++) {
        if (getters[i].id >= F_HEADER) continue;
        push_field(L, ev, getters[i].id);
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

static int info_index(lua_State *L, etwl_lua *x, etwl_event *ev)
{
    size_t n;
    const char *k;
    int32_t i;
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    k = lua_tolstring(L, 2, &n);
    i = etwl_event_prop_find_cached(ev, k, n, &x->props);
    if (i < 0) return 0; /* missing: nil */
    etwl_lua_push_value(L, etwl_event_prop(ev, (uint32_t)i), 0);
    return 1;
}

static int info_next(lua_State *L)
{
    etwl_event *ev = live(L, 1, K_INFO);
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
    live(L, 1, K_INFO);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, info_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int info_len(lua_State *L)
{
    lua_pushinteger(L, etwl_event_prop_count(live(L, 1, K_INFO)));
    return 1;
}

static int hdr_index(lua_State *L, etwl_lua *x, etwl_event *ev)
{
    int id = key_id(L, 2, EV_KEYS(x));
    if (id && id < F_HEADER) return push_field(L, ev, id);
    return 0;
}

static int ext_index(lua_State *L, etwl_lua *x, etwl_event *ev)
{
    int id = key_id(L, 2, EXT_KEYS(x));
    if (!id) return 0;
    push_ext_field(L, ev, id);
    return 1;
}

static int view_tostring(lua_State *L)
{
    uint32_t kind = lev_kind((uintptr_t)lua_touserdata(L, 1));
    live(L, 1, kind);
    lua_pushstring(L, kind_names[kind]);
    return 1;
}

/* One metatable serves every kind: each metamethod dispatches on the kind
 * bits of the value.  __index is the hot path of every handler: the value
 * is a light userdata (only they have this metatable), so it is read and
 * checked once here. */
static int m_index(lua_State *L)
{
    uintptr_t v = (uintptr_t)lua_touserdata(L, 1);
    etwl_lua *x = etwl_lua_host(L);
    if (!x->cur || x->cur_seq != lev_seq(v)) live(L, 1, lev_kind(v)); /* raises */
    switch (lev_kind(v)) {
    case K_EVENT: return ev_index(L, x, x->cur);
    case K_HEADER: return hdr_index(L, x, x->cur);
    case K_INFO: return info_index(L, x, x->cur);
    default: return ext_index(L, x, x->cur);
    }
}

static int m_newindex(lua_State *L)
{
    live(L, 1, lev_kind((uintptr_t)lua_touserdata(L, 1)));
    return luaL_error(L, "events are read-only");
}

static int m_tostring(lua_State *L)
{
    if (lev_kind((uintptr_t)lua_touserdata(L, 1)) == K_EVENT) return ev_tostring(L);
    return view_tostring(L);
}

static int m_pairs(lua_State *L)
{
    if (lev_kind((uintptr_t)lua_touserdata(L, 1)) == K_INFO) return info_pairs(L);
    live(L, 1, lev_kind((uintptr_t)lua_touserdata(L, 1)));
    return luaL_error(L, "only ev.info can be iterated (ev:totable() copies the rest)");
}

static int m_len(lua_State *L)
{
    if (lev_kind((uintptr_t)lua_touserdata(L, 1)) == K_INFO) return info_len(L);
    live(L, 1, lev_kind((uintptr_t)lua_touserdata(L, 1)));
    return luaL_error(L, "only ev.info has a length");
}

/* ev:mapname("Status") -> "Running": the name an ETW value map gives the
 * property's number (ev.info.Status stays the number), or nil. */
static int ev_mapname(lua_State *L)
{
    etwl_event *ev = live(L, 1, K_EVENT);
    size_t n;
    const char *name = luaL_checklstring(L, 2, &n);
    int32_t i = etwl_event_prop_find(ev, name, n);
    uint32_t len = 0;
    const char *s = i < 0 ? NULL : etwl_event_prop_map_name(ev, (uint32_t)i, &len);
    if (s) lua_pushlstring(L, s, len);
    else lua_pushnil(L);
    return 1;
}

static const luaL_Reg ev_methods[] = {
    {"json", ev_json}, {"totable", ev_totable}, {"mapname", ev_mapname}, {NULL, NULL}};
static const luaL_Reg lev_meta[] = {{"__index", m_index}, {"__newindex", m_newindex}, {"__tostring", m_tostring},
                                    {"__pairs", m_pairs}, {"__len", m_len},           {NULL, NULL}};

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
    etwl_lua *x = etwl_lua_host(L);
    size_t i;
    lua_createtable(L, 0, 8); /* mt */
    push_getters(L, 0);
    luaL_setfuncs(L, ev_methods, 0); /* beside the fields: ev_index looks once */
    push_getters(L, 1);
    luaL_setfuncs(L, lev_meta, 2); /* upvalues: getters (and methods), ext getters */
    lua_pushliteral(L, "etw event");
    lua_setfield(L, -2, "__metatable"); /* scripts cannot read or swap it */
    lua_pushliteral(L, EV_MT);
    lua_setfield(L, -2, "__name");
    lua_pushlightuserdata(L, NULL);
    lua_insert(L, -2);
    lua_setmetatable(L, -2); /* for every light userdata of this state */
    lua_pop(L, 1);
    /* the names as this state interns them, now that the getter tables
     * (reachable through the metatable) keep them alive */
    for (i = 0; i < sizeof getters / sizeof getters[0]; i++) {
        keys_add(EV_KEYS(x), lua_pushstring(L, getters[i].name), getters[i].id);
        lua_pop(L, 1);
    }
    for (i = 0; i < sizeof ext_getters / sizeof ext_getters[0]; i++) {
        keys_add(EXT_KEYS(x), lua_pushstring(L, ext_getters[i].name), ext_getters[i].id);
        lua_pop(L, 1);
    }
}

void etwl_lua_push_event(lua_State *L, etwl_lua *x, etwl_event *ev)
{
    (void)ev;
    push_lev(L, x->cur_seq, K_EVENT);
}

int etwl_lua_event_names(lua_State *L, int idx, const char *sub, void (*add)(const char *name, void *u), void *u)
{
    etwl_lua *x = etwl_lua_host(L);
    uintptr_t v = (uintptr_t)lua_touserdata(L, idx);
    uint32_t kind = lev_kind(v);
    size_t i;
    /* never raises: completion runs on whatever the line names so far */
    if (lua_type(L, idx) != LUA_TLIGHTUSERDATA || !x->cur || x->cur_seq != lev_seq(v)) return 0;
    if (sub) {
        if (kind != K_EVENT) return 0;
        if (strcmp(sub, "info") == 0) kind = K_INFO;
        else if (strcmp(sub, "ext") == 0) kind = K_EXT;
        else if (strcmp(sub, "header") == 0) kind = K_HEADER;
        else return 0;
    }
    if (kind == K_INFO) {
        uint32_t j, n = etwl_event_prop_count(x->cur);
        char name[256];
        for (j = 0; j < n; j++) {
            uint32_t len;
            const char *pn = etwl_event_prop_name(x->cur, j, &len);
            if (!pn || len >= sizeof name) continue;
            memcpy(name, pn, len);
            name[len] = 0;
            add(name, u);
        }
    } else if (kind == K_EXT) {
        for (i = 0; i < sizeof ext_getters / sizeof ext_getters[0]; i++) add(ext_getters[i].name, u);
    } else {
        for (i = 0; i < sizeof getters / sizeof getters[0]; i++) add(getters[i].name, u);
        if (kind == K_EVENT)
            for (i = 0; ev_methods[i].name; i++) add(ev_methods[i].name, u);
    }
    return 1;
}
