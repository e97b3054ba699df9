/* lua_etw.c - the `etw` module scripts require.
 *
 *   etw.on(filter, fn)  etw.alert{...}  etw.on_start(fn)  etw.on_stop(fn)
 *   etw.every(seconds, fn)  etw.stats()  etw.version
 *
 * Filters are compiled here into etwl_filter predicates; misuse is reported
 * with luaL_argerror so the message names the argument and the caller. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/event.h"
#include "lua/lua_int.h"
#include "output/alert.h"
#include "output/output.h"
#include "output/schema_map.h"

static void origin(lua_State *L, char *out, size_t n)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
        snprintf(out, n, "%s:%d", ar.short_src, ar.currentline);
    else snprintf(out, n, "?");
}

static uint64_t check_u64(lua_State *L, int idx, const char *what)
{
    int isnum;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);
    if (!isnum) luaL_error(L, "etw.on: filter key '%s' must be an integer", what);
    return (uint64_t)v;
}

static uint32_t check_range(lua_State *L, int idx, const char *what, uint32_t max)
{
    uint64_t v = check_u64(L, idx, what);
    if (v > max) luaL_error(L, "etw.on: filter key '%s' is out of range (0..%I)", what, (lua_Integer)max);
    return (uint32_t)v;
}

/* Compiles the filter table at idx into h.  Raises on unknown keys. */
void etwl_lua_compile_filter(lua_State *L, int idx, etwl_handler *h)
{
    etwl_filter *f = &h->filter;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k;
        if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "etw.on: filter keys must be strings");
        k = lua_tostring(L, -2);
        if (strcmp(k, "provider") == 0) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            if (!s || lua_type(L, -1) != LUA_TSTRING || etwl_filter_set_provider(f, s, n) != ETWL_OK)
                luaL_error(L, "etw.on: 'provider' must be a provider name or a GUID");
        } else if (strcmp(k, "id") == 0) {
            if (lua_type(L, -1) == LUA_TTABLE) {
                lua_Integer i, n = (lua_Integer)lua_rawlen(L, -1);
                if (n == 0) luaL_error(L, "etw.on: 'id' is an empty list");
                for (i = 1; i <= n; i++) {
                    lua_rawgeti(L, -1, i);
                    if (etwl_filter_add_id(f, check_range(L, -1, "id", 65535)) != ETWL_OK)
                        luaL_error(L, "out of memory");
                    lua_pop(L, 1);
                }
            } else if (etwl_filter_add_id(f, check_range(L, -1, "id", 65535)) != ETWL_OK) {
                luaL_error(L, "out of memory");
            }
        } else if (strcmp(k, "opcode") == 0) {
            f->opcode = (uint8_t)check_range(L, -1, "opcode", 255);
            f->mask |= ETWL_F_OPCODE;
        } else if (strcmp(k, "task") == 0) {
            f->task = (uint16_t)check_range(L, -1, "task", 65535);
            f->mask |= ETWL_F_TASK;
        } else if (strcmp(k, "version") == 0) {
            f->version = (uint8_t)check_range(L, -1, "version", 255);
            f->mask |= ETWL_F_VERSION;
        } else if (strcmp(k, "level") == 0) {
            uint8_t lv;
            if (lua_type(L, -1) == LUA_TSTRING) {
                if (etwl_level_parse(lua_tostring(L, -1), &lv) != ETWL_OK)
                    luaL_error(L, "etw.on: 'level' must be critical|error|warning|information|verbose or 1-5");
            } else {
                lv = (uint8_t)check_range(L, -1, "level", 255);
            }
            f->level_max = lv;
            f->mask |= ETWL_F_LEVEL;
        } else if (strcmp(k, "keyword_any") == 0 || strcmp(k, "any") == 0) {
            f->kw_any = check_u64(L, -1, k);
            f->mask |= ETWL_F_ANY;
        } else if (strcmp(k, "keyword_all") == 0 || strcmp(k, "all") == 0) {
            f->kw_all = check_u64(L, -1, k);
            f->mask |= ETWL_F_ALL;
        } else if (strcmp(k, "pid") == 0) {
            f->pid = check_range(L, -1, "pid", 0xFFFFFFFFu);
            f->mask |= ETWL_F_PID;
        } else if (strcmp(k, "process") == 0) {
            size_t n;
            const char *pn = lua_tolstring(L, -1, &n);
            if (lua_type(L, -1) != LUA_TSTRING || etwl_filter_set_process(f, pn, n) != ETWL_OK)
                luaL_error(L, "etw.on: 'process' must be an image file name such as \"powershell.exe\"");
            etwl_lua_host(L)->need_process = 1;
        } else if (strcmp(k, "where") == 0) {
            luaL_checktype(L, -1, LUA_TFUNCTION);
            lua_pushvalue(L, -1);
            h->where_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        } else {
            luaL_error(L,
                       "etw.on: unknown filter key '%s' (known: provider, id, opcode, task, version, level, "
                       "keyword_any, keyword_all, pid, process, where)",
                       k);
        }
        lua_pop(L, 1);
    }
}

static etwl_handler *new_handler(lua_State *L, etwl_lua *x)
{
    etwl_handler *h;
    if (x->nh == x->caph) {
        int cap = x->caph ? x->caph * 2 : 16;
        etwl_handler *n = realloc(x->h, (size_t)cap * sizeof *n);
        if (!n) luaL_error(L, "out of memory");
        memset(n + x->caph, 0, (size_t)(cap - x->caph) * sizeof *n);
        x->h = n;
        x->caph = cap;
    }
    /* the slot past nh may hold what a failed etw.on compiled; the host
     * frees every slot up to caph, so nothing leaks when a compile raises */
    h = &x->h[x->nh];
    etwl_filter_free(&h->filter);
    memset(h, 0, sizeof *h);
    etwl_filter_init(&h->filter);
    h->fn_ref = h->where_ref = LUA_NOREF;
    return h;
}

/* etw.on([filter,] fn) -> handler number */
static int l_on(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_handler *h;
    int fidx = 0, fn = 1;
    if (lua_type(L, 1) == LUA_TTABLE) {
        fidx = 1;
        fn = 2;
    } else if (!lua_isfunction(L, 1)) {
        return luaL_argerror(L, 1, "expected a filter table or a function");
    }
    luaL_checktype(L, fn, LUA_TFUNCTION);
    etwl_lua_check_load_time(L, "etw.on");
    h = new_handler(L, x);
    if (fidx) etwl_lua_compile_filter(L, fidx, h); /* may raise; see new_handler */
    lua_pushvalue(L, fn);
    h->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    origin(L, h->origin, sizeof h->origin);
    x->nh++;
    lua_pushinteger(L, x->nh);
    return 1;
}

static int add_ref(lua_State *L, int **refs, int *n)
{
    int *r;
    luaL_checktype(L, 1, LUA_TFUNCTION);
    r = realloc(*refs, (size_t)(*n + 1) * sizeof *r);
    if (!r) return luaL_error(L, "out of memory");
    *refs = r;
    lua_pushvalue(L, 1);
    r[(*n)++] = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Hooks and timers are registered while a script loads: registered from a
 * handler, they would grow C arrays outside --memory-mb, once per event. */
static int l_on_start(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_lua_check_load_time(L, "etw.on_start");
    return add_ref(L, &x->start_refs, &x->nstart);
}

static int l_on_stop(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_lua_check_load_time(L, "etw.on_stop");
    return add_ref(L, &x->stop_refs, &x->nstop);
}

/* etw.every(seconds, fn): runs on the event clock, so replays are repeatable */
static int l_every(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    lua_Number sec = luaL_checknumber(L, 1);
    etwl_timer *t;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    etwl_lua_check_load_time(L, "etw.every");
    if (!(sec >= 0.001 && sec <= 86400.0 * 365)) return luaL_argerror(L, 1, "seconds must be 0.001 to one year");
    t = realloc(x->timers, (size_t)(x->ntimers + 1) * sizeof *t);
    if (!t) return luaL_error(L, "out of memory");
    x->timers = t;
    t = &x->timers[x->ntimers];
    memset(t, 0, sizeof *t);
    t->period = (int64_t)(sec * 1e7);
    lua_pushvalue(L, 2);
    t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    origin(L, t->origin, sizeof t->origin);
    x->ntimers++;
    return 0;
}

static void set_int(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static int l_stats(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_stats st;
    int i;
    memset(&st, 0, sizeof st);
    if (x->session) etwl_session_stats(x->session, &st);
    lua_createtable(L, 0, 10);
    set_int(L, "read", st.read);
    set_int(L, "passed", st.passed);
    set_int(L, "filtered", st.filtered);
    set_int(L, "malformed", st.malformed);
    set_int(L, "lost", st.lost);
    set_int(L, "buffers_lost", st.buffers_lost);
    set_int(L, "buffers_written", st.buffers_written);
    set_int(L, "alerts", x->alerts);
    set_int(L, "errors", x->handler_errors);
    set_int(L, "memory", x->mem_used);
    lua_createtable(L, x->nh, 0);
    for (i = 0; i < x->nh; i++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, x->h[i].origin);
        lua_setfield(L, -2, "origin");
        set_int(L, "calls", x->h[i].calls);
        set_int(L, "errors", x->h[i].errors);
        set_int(L, "budget_stops", x->h[i].budget_stops);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "handlers");
    return 1;
}

/* ---- alerts ----------------------------------------------------------------- */

static const char *const severities[] = {"info", "low", "medium", "high", "critical", NULL};

/* Fields are read raw: an __index function would run script code between
 * fields, while the text of earlier fields is in use.  The value (or its
 * capped copy) stays on the stack until l_alert returns, so its text lives
 * as long as the alert is being written. */
static int get_raw(lua_State *L, int t, const char *k)
{
    lua_pushstring(L, k);
    return lua_rawget(L, t);
}

static const char *opt_field(lua_State *L, const char *k, size_t *n)
{
    const char *s = NULL;
    get_raw(L, 1, k);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "etw.alert: '%s' must be a string", k);
        s = lua_tolstring(L, -1, n);
        if (*n > ETWL_LUA_FIELD_CAP) s = etwl_lua_push_capped(L, s, *n, n);
    }
    return s;
}

static void json_lua_value(lua_State *L, etwl_buf *b, int idx, int depth, int form);

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The string keys of the table at idx, sorted: Lua's table order changes
 * from run to run, and alert consumers diff and dedupe.  Pushes a table that
 * keeps the strings alive; the caller frees *names and pops it. */
static int sorted_keys(lua_State *L, int idx, const char ***names)
{
    int keys, i, nk = 0;
    lua_newtable(L);
    keys = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) continue; /* field names are strings */
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++nk);
    }
    *names = nk ? malloc((size_t)nk * sizeof **names) : NULL;
    if (!*names) return 0;
    for (i = 0; i < nk; i++) {
        lua_rawgeti(L, keys, i + 1);
        (*names)[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    qsort(*names, (size_t)nk, sizeof **names, cmp_str);
    return nk;
}

static void json_lua_table(lua_State *L, etwl_buf *b, int idx, int depth, int form)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), k;
    if (n > 0) { /* a sequence */
        etwl_buf_putc(b, '[');
        for (k = 1; k <= n; k++) {
            lua_rawgeti(L, idx, k);
            if (k > 1) etwl_buf_putc(b, ',');
            json_lua_value(L, b, lua_gettop(L), depth + 1, form);
            lua_pop(L, 1);
        }
        etwl_buf_putc(b, ']');
        return;
    }
    {
        const char **names;
        int i, nk = sorted_keys(L, idx, &names);
        etwl_buf_putc(b, '{');
        for (i = 0; i < nk; i++) {
            if (i) etwl_buf_putc(b, ',');
            etwl_json_put_string(b, names[i], strlen(names[i]));
            etwl_buf_putc(b, ':');
            get_raw(L, idx, names[i]);
            json_lua_value(L, b, lua_gettop(L), depth + 1, form);
            lua_pop(L, 1);
        }
        etwl_buf_putc(b, '}');
        free(names);
        lua_pop(L, 1); /* the keys */
    }
}

static void json_lua_value(lua_State *L, etwl_buf *b, int idx, int depth, int form)
{
    size_t n;
    const char *s;
    if (depth > 16) {
        etwl_buf_puts(b, "null");
        return;
    }
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: etwl_buf_puts(b, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) etwl_json_put_i64(b, (int64_t)lua_tointeger(L, idx), form);
        else etwl_fmt_double(b, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        if (b->len > ETWL_LUA_ALERT_CAP) { /* one 64 KiB string, referenced from many fields */
            lua_pushfstring(L, "\xe2\x80\xa6[truncated %I bytes]", (lua_Integer)n);
            s = lua_tolstring(L, -1, &n);
            etwl_json_put_string(b, s, n);
            lua_pop(L, 1);
        } else if (n > ETWL_LUA_FIELD_CAP) {
            s = etwl_lua_push_capped(L, s, n, &n);
            etwl_json_put_string(b, s, n);
            lua_pop(L, 1);
        } else {
            etwl_json_put_string(b, s, n);
        }
        break;
    case LUA_TTABLE:
        luaL_checkstack(L, 4, "alert fields too deep");
        json_lua_table(L, b, idx, depth, form);
        break;
    default: etwl_buf_puts(b, "null");
    }
}

static void text_lua_value(lua_State *L, etwl_buf *b, int idx)
{
    size_t n;
    const char *s = luaL_tolstring(L, idx, &n);
    if (b->len > ETWL_LUA_ALERT_CAP) {
        etwl_buf_printf(b, "\xe2\x80\xa6[truncated %zu bytes]", n);
    } else if (n > ETWL_LUA_FIELD_CAP) {
        s = etwl_lua_push_capped(L, s, n, &n);
        etwl_text_put_escaped(b, s, n);
        lua_pop(L, 1);
    } else {
        etwl_text_put_escaped(b, s, n);
    }
    lua_pop(L, 1);
}

/* The parts of a script alert that are Lua tables, for alert.c. */
typedef struct lua_alert {
    lua_State *L;
    int tech, fields; /* stack slots; 0 when absent */
} lua_alert;

static void alert_techniques(etwl_buf *b, int json, void *ctx)
{
    lua_alert *la = ctx;
    lua_State *L = la->L;
    int tech = la->tech;
    if (json) {
        if (lua_type(L, tech) == LUA_TSTRING) {
            etwl_buf_putc(b, '[');
            json_lua_value(L, b, tech, 0, json);
            etwl_buf_putc(b, ']');
        } else {
            json_lua_value(L, b, tech, 0, json);
        }
    } else if (lua_type(L, tech) == LUA_TSTRING) {
        text_lua_value(L, b, tech);
    } else {
        lua_Integer k, n = (lua_Integer)lua_rawlen(L, tech);
        for (k = 1; k <= n; k++) {
            lua_rawgeti(L, tech, k);
            if (k > 1) etwl_buf_putc(b, ',');
            text_lua_value(L, b, lua_gettop(L));
            lua_pop(L, 1);
        }
    }
}

static void alert_fields(etwl_buf *b, int json, void *ctx)
{
    lua_alert *la = ctx;
    lua_State *L = la->L;
    int fi = la->fields, k, nk;
    const char **names;
    if (json) {
        json_lua_value(L, b, fi, 0, json);
        return;
    }
    nk = sorted_keys(L, fi, &names);
    for (k = 0; k < nk; k++) {
        etwl_buf_putc(b, ' ');
        etwl_text_put_escaped(b, names[k], strlen(names[k]));
        etwl_buf_putc(b, '=');
        get_raw(L, fi, names[k]);
        text_lua_value(L, b, lua_gettop(L));
        lua_pop(L, 1);
    }
    free(names);
    lua_pop(L, 1); /* the keys */
}

void etwl_lua_write_fields(lua_State *L, int idx, etwl_buf *b, int json)
{
    lua_alert la = {L, 0, idx};
    alert_fields(b, json, &la);
}

/* etw.alert{rule=, title=, severity=, technique=, message=, event=, fields=} */
static int l_alert(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_buf *b = &x->buf;
    size_t rn = 0, tn = 0, mn = 0, sn = 0;
    const char *rule, *title, *msg, *sev;
    etwl_event *ev = NULL;
    char ts[ETWL_TIME_STRLEN + 1];
    int i;
    lua_alert la = {L, 0, 0};
    etwl_alert a;
    luaL_checktype(L, 1, LUA_TTABLE);
    rule = opt_field(L, "rule", &rn);
    if (!rule) return luaL_argerror(L, 1, "'rule' is required");
    title = opt_field(L, "title", &tn);
    msg = opt_field(L, "message", &mn);
    sev = opt_field(L, "severity", &sn);
    if (!sev) sev = "medium", sn = 6;
    for (i = 0; severities[i]; i++)
        if (strcmp(sev, severities[i]) == 0) break;
    if (!severities[i]) return luaL_argerror(L, 1, "'severity' must be info, low, medium, high or critical");
    if (get_raw(L, 1, "event") != LUA_TNIL) ev = etwl_lua_check_event(L, -1); /* raises if expired */
    lua_pop(L, 1);
    la.tech = get_raw(L, 1, "technique") != LUA_TNIL ? lua_gettop(L) : 0;
    if (!la.tech) {
        lua_pop(L, 1);
        la.tech = get_raw(L, 1, "techniques") != LUA_TNIL ? lua_gettop(L) : 0;
    }
    if (la.tech && lua_type(L, la.tech) != LUA_TSTRING && lua_type(L, la.tech) != LUA_TTABLE)
        return luaL_argerror(L, 1, "'technique' must be a string or a list of strings");
    if (ev) {
        etwl_time_format(ev->hdr.ts, ts);
    } else {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        etwl_time_format(etwl_time_from_unix_ns((int64_t)now.tv_sec * 1000000000 + now.tv_nsec), ts);
    }
    x->alerts++;
    if (x->capture_ref != LUA_NOREF) { /* etwlua test: collect, do not write */
        lua_rawgeti(L, LUA_REGISTRYINDEX, x->capture_ref);
        lua_pushlstring(L, rule, rn);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        return 0;
    }
    la.fields = get_raw(L, 1, "fields") == LUA_TTABLE ? lua_gettop(L) : 0;
    a = (etwl_alert){
        ts, rule, rn, title, tn, sev, msg, mn, ev, la.tech ? alert_techniques : NULL, la.fields ? alert_fields : NULL,
        &la};
    if (x->o.alert_write) return x->o.alert_write(&a, x->o.alert_ctx), 0;
    etwl_buf_reset(b);
    etwl_alert_write(b, &a, x->o.alerts_json);
    if (b->oom) return luaL_error(L, "out of memory");
    etwl_buf_putc(b, '\n');
    fwrite(b->data, 1, b->len, x->o.alert_out);
    etwl_lua_buf_trim(x);
    return 0;
}

/* One value of etw.emit's readable line: tables as compact JSON (escaped
 * for a terminal like every JSON string), the rest as print shows them. */
static void emit_text_value(lua_State *L, etwl_buf *b, int idx)
{
    if (lua_type(L, idx) == LUA_TTABLE) json_lua_value(L, b, idx, 1, 0);
    else text_lua_value(L, b, idx);
}

/* etw.emit(table): a hunting result on stdout, in the form alerts take
 * there (--format; by default JSON when stdout is not a terminal, else a
 * readable line).  A sequence is its values; a map is sorted key=value
 * pairs, as alerts' fields are. */
static int l_emit(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_buf *b = &x->buf;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (x->capture_ref != LUA_NOREF) return 0; /* etwlua test: rules' examples print nothing */
    etwl_buf_reset(b);
    if (ETWL_FORM_BASE(x->o.alerts_json) == ETWL_ALERT_JSON) {
        json_lua_value(L, b, 1, 0, ETWL_ALERT_JSON | (x->o.alerts_json & ETWL_FORM_HEX64));
    } else {
        lua_Integer k, n = (lua_Integer)lua_rawlen(L, 1);
        if (n > 0) {
            for (k = 1; k <= n; k++) {
                if (k > 1) etwl_buf_putc(b, ' ');
                lua_rawgeti(L, 1, k);
                emit_text_value(L, b, lua_gettop(L));
                lua_pop(L, 1);
            }
        } else {
            const char **names;
            int i, nk = sorted_keys(L, 1, &names);
            for (i = 0; i < nk; i++) {
                if (i) etwl_buf_putc(b, ' ');
                etwl_text_put_escaped(b, names[i], strlen(names[i]));
                etwl_buf_putc(b, '=');
                get_raw(L, 1, names[i]);
                emit_text_value(L, b, lua_gettop(L));
                lua_pop(L, 1);
            }
            free(names);
            lua_pop(L, 1); /* the keys */
        }
    }
    if (b->oom) return luaL_error(L, "etw.emit: out of memory");
    etwl_buf_putc(b, '\n');
    fwrite(b->data, 1, b->len, x->o.alert_out);
    etwl_lua_buf_trim(x);
    return 0;
}

static const luaL_Reg etw_funcs[] = {
    {"on", l_on},           {"alert", l_alert}, {"emit", l_emit},   {"on_start", l_on_start},
    {"on_stop", l_on_stop}, {"every", l_every}, {"stats", l_stats}, {NULL, NULL}};

int etwl_luaopen_etw(lua_State *L)
{
    luaL_newlib(L, etw_funcs);
    lua_pushliteral(L, ETWL_VERSION);
    lua_setfield(L, -2, "version");
    /* the one table a reload carries over (etwl_lua_carry_state); scripts
     * fill it, the read-only view of etw hands it out writable */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, ETWL_LUA_RELOAD_STATE);
    lua_setfield(L, -2, "reload_state");
    return 1;
}
