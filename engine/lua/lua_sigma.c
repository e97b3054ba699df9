/* lua_sigma.c - require "etwlua.sigma": Sigma rules from Lua.
 *
 *   sigma.load(path)          loads a rule file or folder; returns
 *                             {count=, running=, loaded={ids}, failed={{path=, id=, state=, reason=}}}
 *   sigma.list()              every rule: {id, title, level, status, logsource, tags, path, author, state, reason}
 *   sigma.select(spec)        keeps only the rules that meet every part of spec
 *   sigma.skip(spec)          leaves out the rules that meet any part of spec
 *                             spec: {id=, level=, status=, tags=} (a string or a list each)
 *   sigma.exclude(id, what)   what: a map {Field|mods = value or {values}} compiled into
 *                             the rule as "and not MAP", or a function(ev) -> true to drop
 *   sigma.on_match(id | "*", fn)  fn(ev, rule) on each alert of the rule: return false
 *                             to suppress it, a table to add its keys to the alert's fields
 *
 * The set is the CLI's --sigma rules when there are any (the host gets it in
 * its options), else one the first sigma.load makes.  Everything that changes
 * the set runs while scripts load; matching is in C (etwl_lua_sigma_event,
 * called by the dispatcher before the handlers), and Lua runs only for a hit
 * whose rule has an exclusion function or an on_match handler, each call
 * through the one protected call with the handler budget, on the thread that
 * owns the state. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lua_int.h"
#include "output/alert.h"

#ifndef ETWL_HAVE_SIGMA

static int l_absent(lua_State *L)
{
    return luaL_error(L, "etwlua.sigma: Sigma rules are not built into this etwlua (they need libyaml and PCRE2)");
}

int etwl_luaopen_sigma(lua_State *L)
{
    static const luaL_Reg f[] = {{"load", l_absent}, {"list", l_absent},    {"select", l_absent},
                                 {"skip", l_absent}, {"exclude", l_absent}, {"on_match", l_absent},
                                 {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}
void etwl_lua_sigma_event(etwl_lua *x, etwl_event *ev)
{
    (void)x;
    (void)ev;
}
void etwl_lua_sigma_free(etwl_lua *x) { (void)x; }
void etwl_lua_sigma_report(etwl_lua *x, int stats)
{
    (void)x;
    (void)stats;
}

#else

#include "sigma/sigma.h"

/* registry["etwl.sigma"] = {excl = {[rule+1] = {fn...}}, on = {[rule+1] = {fn...}}, any = {fn...}} */
#define REG "etwl.sigma"

static const char *const levels[] = {"informational", "low", "medium", "high", "critical", NULL};
static const char *const statuses[] = {"stable", "test", "experimental", "deprecated", "unsupported", NULL};
/* the alert fields a Sigma alert carries already: an on_match table cannot replace them */
static const char *const reserved[] = {"sigma_id",       "status", "level",   "author", "references",
                                       "falsepositives", "link",   "license", NULL};

static etwl_sigma *set_of(lua_State *L, int create)
{
    etwl_lua *x = etwl_lua_host(L);
    if (!x->sigma && create) {
        if (etwl_sigma_new(&x->sigma) != ETWL_OK) luaL_error(L, "etwlua.sigma: out of memory");
        x->sigma_owned = 1;
    }
    return x->sigma;
}

static void push_reg(lua_State *L, const char *sub)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, REG) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, REG);
    }
    if (lua_getfield(L, -1, sub) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, sub);
    }
    lua_remove(L, -2);
}

/* The rule an id names; raises (argument arg) when none does. */
static size_t rule_arg(lua_State *L, int arg, const char *what)
{
    etwl_sigma *s = set_of(L, 0);
    const char *id = luaL_checkstring(L, arg);
    long i = s ? etwl_sigma_find(s, id) : -1;
    if (i < 0) luaL_argerror(L, arg, lua_pushfstring(L, "%s: no Sigma rule has id '%s'", what, id));
    return (size_t)i;
}

static void push_info(lua_State *L, const etwl_sigma *s, size_t i)
{
    const etwl_sigma_rule_info *r = etwl_sigma_rule(s, i);
    const char *const *tags;
    int nt = etwl_sigma_rule_tags(s, i, &tags);
    lua_createtable(L, 0, 11);
#define SETS(k, v)                                                                                                     \
    do {                                                                                                               \
        if (v) {                                                                                                       \
            lua_pushstring(L, v);                                                                                      \
            lua_setfield(L, -2, k);                                                                                    \
        }                                                                                                              \
    } while (0)
    SETS("id", r->id);
    SETS("title", r->title);
    SETS("level", r->level);
    SETS("status", r->status);
    SETS("logsource", r->logsource);
    SETS("path", r->path);
    SETS("author", r->author);
    SETS("reason", r->reason);
    SETS("note", r->note);
#undef SETS
    lua_pushstring(L, r->state == ETWL_SIGMA_OK ? "runs" : etwl_sigma_state_name(r->state));
    lua_setfield(L, -2, "state");
    lua_createtable(L, nt, 0);
    for (int k = 0; k < nt; k++) {
        lua_pushstring(L, tags[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "tags");
}

/* sigma.load(path) */
static int l_load(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    const char *path = luaL_checkstring(L, 1);
    etwl_sigma *s;
    etwl_error err;
    size_t before, n, nl = 0, nf = 0;
    etwl_lua_check_load_time(L, "sigma.load");
    s = set_of(L, 1);
    before = etwl_sigma_count(s);
    if (etwl_sigma_load(s, path, &err) != ETWL_OK) return luaL_error(L, "sigma.load: %s", err.message);
    n = etwl_sigma_count(s);
    lua_createtable(L, 0, 4);
    lua_newtable(L); /* loaded */
    lua_newtable(L); /* failed */
    for (size_t i = before; i < n; i++) {
        const etwl_sigma_rule_info *r = etwl_sigma_rule(s, i);
        if (r->state == ETWL_SIGMA_OK) {
            lua_pushstring(L, r->id);
            lua_rawseti(L, -3, (lua_Integer)++nl);
            continue;
        }
        lua_createtable(L, 0, 4);
        lua_pushstring(L, r->path);
        lua_setfield(L, -2, "path");
        if (r->id) {
            lua_pushstring(L, r->id);
            lua_setfield(L, -2, "id");
        }
        lua_pushstring(L, etwl_sigma_state_name(r->state));
        lua_setfield(L, -2, "state");
        lua_pushstring(L, r->reason ? r->reason : "");
        lua_setfield(L, -2, "reason");
        lua_rawseti(L, -2, (lua_Integer)++nf);
    }
    lua_setfield(L, -3, "failed");
    lua_setfield(L, -2, "loaded");
    lua_pushinteger(L, (lua_Integer)(n - before));
    lua_setfield(L, -2, "count");
    lua_pushinteger(L, (lua_Integer)nl);
    lua_setfield(L, -2, "running");
    /* never dropped silently: the script gets the list, stderr the count */
    if (nf && !x->o.alerts_only)
        fprintf(x->o.err_out, "etwlua: sigma.load %s: %zu of %zu rule(s) run; %zu cannot (see the returned 'failed')\n",
                path, nl, n - before, nf);
    return 1;
}

/* sigma.list() */
static int l_list(lua_State *L)
{
    etwl_sigma *s = set_of(L, 0);
    size_t n = s ? etwl_sigma_count(s) : 0;
    lua_createtable(L, (int)(n > 1000000 ? 1000000 : n), 0);
    for (size_t i = 0; i < n; i++) {
        push_info(L, s, i);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ---- select / skip --------------------------------------------------------- */
/* The strings of spec[key] (a string or a list of strings) on the stack as a
 * table, or nil; raises on other types. */
static int spec_list(lua_State *L, int spec, const char *key, const char *fn)
{
    int t = lua_getfield(L, spec, key);
    if (t == LUA_TNIL) return 0;
    if (t == LUA_TSTRING) {
        lua_createtable(L, 1, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        return 1;
    }
    if (t != LUA_TTABLE) return luaL_argerror(L, 1, lua_pushfstring(L, "%s: '%s' must be a string or a list", fn, key));
    for (lua_Integer k = 1, n = (lua_Integer)lua_rawlen(L, -1); k <= n; k++) {
        if (lua_rawgeti(L, -1, k) != LUA_TSTRING)
            return luaL_argerror(L, 1, lua_pushfstring(L, "%s: '%s' must list strings", fn, key));
        lua_pop(L, 1);
    }
    if (lua_rawlen(L, -1) == 0) return luaL_argerror(L, 1, lua_pushfstring(L, "%s: '%s' is an empty list", fn, key));
    return 1;
}

static int in_list(lua_State *L, int list, const char *s)
{
    if (!s) return 0;
    for (lua_Integer k = 1, n = (lua_Integer)lua_rawlen(L, list); k <= n; k++) {
        int eq;
        lua_rawgeti(L, list, k);
        eq = strcmp(lua_tostring(L, -1), s) == 0;
        lua_pop(L, 1);
        if (eq) return 1;
    }
    return 0;
}

static int level_of(const char *l)
{
    for (int i = 0; l && levels[i]; i++)
        if (strcmp(l, levels[i]) == 0) return i;
    return -1;
}

/* every entry of the list is one of names (a misspelt status or level is an error) */
static void check_names(lua_State *L, int list, const char *const *names, const char *fn, const char *key)
{
    for (lua_Integer k = 1, n = (lua_Integer)lua_rawlen(L, list); k <= n; k++) {
        const char *v;
        int i;
        lua_rawgeti(L, list, k);
        v = lua_tostring(L, -1);
        for (i = 0; names[i] && strcmp(names[i], v) != 0; i++) {
        }
        if (!names[i]) luaL_argerror(L, 1, lua_pushfstring(L, "%s: unknown %s '%s'", fn, key, v));
        lua_pop(L, 1);
    }
}

/* every id and tag named is one some loaded rule has */
static void check_known(lua_State *L, etwl_sigma *s, int ids, int tags, const char *fn)
{
    for (int pass = 0; pass < 2; pass++) {
        int list = pass ? tags : ids;
        if (!list) continue;
        for (lua_Integer k = 1, n = (lua_Integer)lua_rawlen(L, list); k <= n; k++) {
            const char *v;
            int found = 0;
            lua_rawgeti(L, list, k);
            v = lua_tostring(L, -1);
            for (size_t i = 0; s && i < etwl_sigma_count(s) && !found; i++) {
                const char *const *tg;
                int nt = pass ? etwl_sigma_rule_tags(s, i, &tg) : 0;
                if (!pass) found = etwl_sigma_rule(s, i)->id && strcmp(etwl_sigma_rule(s, i)->id, v) == 0;
                for (int t = 0; t < nt && !found; t++) found = strcmp(tg[t], v) == 0;
            }
            if (!found)
                luaL_argerror(L, 1, lua_pushfstring(L, "%s: no Sigma rule has %s '%s'", fn, pass ? "tag" : "id", v));
            lua_pop(L, 1);
        }
    }
}

static int any_tag(lua_State *L, const etwl_sigma *s, size_t i, int list)
{
    const char *const *tg;
    int nt = etwl_sigma_rule_tags(s, i, &tg);
    for (int t = 0; t < nt; t++)
        if (in_list(L, list, tg[t])) return 1;
    return 0;
}

static int select_or_skip(lua_State *L, int skip)
{
    const char *fn = skip ? "sigma.skip" : "sigma.select";
    etwl_sigma *s = set_of(L, 0);
    int ids, lv, st, tg, minlv = -1, base;
    size_t changed = 0;
    etwl_lua_check_load_time(L, fn);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) { /* a misspelt key is an error, not a filter that does nothing */
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(k, "id") && strcmp(k, "level") && strcmp(k, "status") && strcmp(k, "tags"))
            return luaL_argerror(L, 1, lua_pushfstring(L, "%s: unknown key '%s' (id, level, status, tags)", fn, k));
        lua_pop(L, 1);
    }
    base = lua_gettop(L);
    ids = spec_list(L, 1, "id", fn) ? lua_gettop(L) : 0;
    if (!ids) lua_settop(L, base);
    base = lua_gettop(L);
    lv = spec_list(L, 1, "level", fn) ? lua_gettop(L) : 0;
    if (!lv) lua_settop(L, base);
    base = lua_gettop(L);
    st = spec_list(L, 1, "status", fn) ? lua_gettop(L) : 0;
    if (!st) lua_settop(L, base);
    base = lua_gettop(L);
    tg = spec_list(L, 1, "tags", fn) ? lua_gettop(L) : 0;
    if (!tg) lua_settop(L, base);
    if (lv) check_names(L, lv, levels, fn, "level");
    if (st) check_names(L, st, statuses, fn, "status");
    check_known(L, s, ids, tg, fn);
    if (lv && !skip) { /* select: the lowest level named is the minimum, as --sigma-level */
        for (lua_Integer k = 1, n = (lua_Integer)lua_rawlen(L, lv); k <= n; k++) {
            int l;
            lua_rawgeti(L, lv, k);
            l = level_of(lua_tostring(L, -1));
            lua_pop(L, 1);
            if (minlv < 0 || l < minlv) minlv = l;
        }
    }
    for (size_t i = 0; s && i < etwl_sigma_count(s); i++) {
        const etwl_sigma_rule_info *r = etwl_sigma_rule(s, i);
        int out;
        if (r->state != ETWL_SIGMA_OK) continue;
        if (skip) {
            out = (ids && in_list(L, ids, r->id)) || (lv && in_list(L, lv, r->level)) ||
                  (st && in_list(L, st, r->status)) || (tg && any_tag(L, s, i, tg));
        } else {
            out = (ids && !in_list(L, ids, r->id)) || (lv && level_of(r->level) < minlv) ||
                  (st && !in_list(L, st, r->status)) || (tg && !any_tag(L, s, i, tg));
        }
        if (out) {
            etwl_sigma_filter_out(s, i, skip ? "left out by sigma.skip" : "left out by sigma.select");
            changed++;
        }
    }
    lua_pushinteger(L, (lua_Integer)changed);
    return 1;
}

static int l_select(lua_State *L) { return select_or_skip(L, 0); }
static int l_skip(lua_State *L) { return select_or_skip(L, 1); }

/* ---- exclude / on_match ---------------------------------------------------- */
static void append_fn(lua_State *L, const char *sub, lua_Integer key, int fn)
{
    push_reg(L, sub);
    if (lua_rawgeti(L, -1, key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, key);
    }
    lua_pushvalue(L, fn);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 2);
    etwl_lua_host(L)->sigma_hooks++;
}

/* a value of an exclusion map: text as a rule would write it */
static const char *value_text(lua_State *L, int idx, const char *key)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
    case LUA_TNUMBER: return lua_tostring(L, idx);
    case LUA_TBOOLEAN: return lua_toboolean(L, idx) ? "true" : "false";
    default:
        luaL_argerror(L, 2,
                      lua_pushfstring(L, "sigma.exclude: '%s' takes a string, number, boolean or a list of them", key));
        return NULL;
    }
}

/* sigma.exclude(id, map | function) */
static int l_exclude(lua_State *L)
{
    etwl_sigma *s;
    size_t rule;
    int n = 0, cap;
    const char **keys;
    const char ***vals;
    int *nv;
    etwl_error err;
    etwl_status st;
    etwl_lua_check_load_time(L, "sigma.exclude");
    rule = rule_arg(L, 1, "sigma.exclude");
    s = set_of(L, 0);
    if (etwl_sigma_rule(s, rule)->state != ETWL_SIGMA_OK)
        return luaL_argerror(
            L, 1,
            lua_pushfstring(L, "sigma.exclude: rule %s does not run (%s)", etwl_sigma_rule(s, rule)->id,
                            etwl_sigma_rule(s, rule)->reason ? etwl_sigma_rule(s, rule)->reason : "?"));
    if (lua_type(L, 2) == LUA_TFUNCTION) {
        append_fn(L, "excl", (lua_Integer)rule + 1, 2);
        return 0;
    }
    luaL_argexpected(L, lua_type(L, 2) == LUA_TTABLE, 2, "a map of fields or a function");
    cap = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_argerror(L, 2, "sigma.exclude: the map's keys are field names (with |modifiers)");
        cap++;
        lua_pop(L, 1);
    }
    if (!cap) return luaL_argerror(L, 2, "sigma.exclude: the map is empty");
    /* the strings stay alive in the table at arg 2 (or in a keeper table) while compiling */
    lua_newtable(L);
    {
        int keep = lua_gettop(L), nkeep = 0;
        keys = lua_newuserdatauv(L, (size_t)cap * sizeof *keys, 0);
        vals = lua_newuserdatauv(L, (size_t)cap * sizeof *vals, 0);
        nv = lua_newuserdatauv(L, (size_t)cap * sizeof *nv, 0);
        lua_pushnil(L);
        while (lua_next(L, 2) && n < cap) {
            const char *k = lua_tostring(L, -2);
            int vi = lua_gettop(L);
            keys[n] = k;
            if (lua_type(L, vi) == LUA_TTABLE) {
                lua_Integer m = (lua_Integer)lua_rawlen(L, vi);
                if (m < 1 || m > 100000)
                    return luaL_argerror(L, 2, lua_pushfstring(L, "sigma.exclude: '%s' lists 1 to 100000 values", k));
                vals[n] = lua_newuserdatauv(L, (size_t)m * sizeof **vals, 0);
                lua_rawseti(L, keep, ++nkeep);
                for (lua_Integer j = 1; j <= m; j++) {
                    lua_rawgeti(L, vi, j);
                    vals[n][j - 1] = value_text(L, -1, k);
                    lua_rawseti(L, keep, ++nkeep); /* numbers became strings: kept */
                }
                nv[n] = (int)m;
            } else {
                vals[n] = lua_newuserdatauv(L, sizeof **vals, 0);
                lua_rawseti(L, keep, ++nkeep);
                lua_pushvalue(L, vi);
                vals[n][0] = value_text(L, -1, k);
                lua_rawseti(L, keep, ++nkeep);
                nv[n] = 1;
            }
            n++;
            lua_pop(L, 1);
        }
        st = etwl_sigma_exclude(s, rule, keys, (const char *const *const *)vals, nv, n, &err);
    }
    if (st == ETWL_ENOMEM) return luaL_error(L, "sigma.exclude: out of memory");
    if (st != ETWL_OK) return luaL_argerror(L, 2, lua_pushfstring(L, "sigma.exclude: %s", err.message));
    return 0;
}

/* sigma.on_match(id | "*", fn(ev, rule)) */
static int l_on_match(lua_State *L)
{
    etwl_lua_check_load_time(L, "sigma.on_match");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), "*") == 0) {
        push_reg(L, "any");
        lua_pushvalue(L, 2);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_pop(L, 1);
        etwl_lua_host(L)->sigma_hooks++;
        return 0;
    }
    {
        size_t rule = rule_arg(L, 1, "sigma.on_match");
        const etwl_sigma_rule_info *r = etwl_sigma_rule(set_of(L, 0), rule);
        if (r->state != ETWL_SIGMA_OK)
            return luaL_argerror(
                L, 1,
                lua_pushfstring(L, "sigma.on_match: rule %s does not run (%s)", r->id, r->reason ? r->reason : "?"));
        append_fn(L, "on", (lua_Integer)rule + 1, 2);
    }
    return 0;
}

int etwl_luaopen_sigma(lua_State *L)
{
    static const luaL_Reg f[] = {{"load", l_load}, {"list", l_list},       {"select", l_select},
                                 {"skip", l_skip}, {"exclude", l_exclude}, {"on_match", l_on_match},
                                 {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

/* ---- hits ---------------------------------------------------------------- */
typedef struct hitctx {
    etwl_lua *x;
    int evidx;   /* the event userdata's slot, 0 until pushed */
    int nohooks; /* no stack for the hooks: the alerts go out unchanged */
    int extra;   /* slot of the enrichment table, 0: none */
    etwl_alert_part sigma_fields, sigma_tech;
    void *sigma_ctx; /* the alert's own ctx (the rule) */
} hitctx;

static void tech_wrap(etwl_buf *b, int json, void *ctx)
{
    hitctx *h = ctx;
    h->sigma_tech(b, json, h->sigma_ctx);
}

/* the rule's fields, then the on_match additions */
static void fields_wrap(etwl_buf *b, int json, void *ctx)
{
    hitctx *h = ctx;
    size_t mark;
    h->sigma_fields(b, json, h->sigma_ctx);
    if (!h->extra) return;
    if (!json) {
        etwl_lua_write_fields(h->x->L, h->extra, b, 0);
        return;
    }
    /* {"sigma_id":...} + {"k":v} -> {"sigma_id":...,"k":v} */
    if (!b->len || b->data[b->len - 1] != '}') return;
    mark = --b->len;
    etwl_lua_write_fields(h->x->L, h->extra, b, 1);
    if (b->len - mark == 2) { /* {} */
        b->len = mark;
        etwl_buf_putc(b, '}');
        return;
    }
    b->data[mark] = ',';
}

static void push_event(hitctx *h, etwl_event *ev)
{
    etwl_lua *x = h->x;
    if (h->evidx) return;
    x->cur = ev;
    x->cur_seq = ++x->dispatch_seq;
    etwl_lua_push_event(x->L, x, ev);
    h->evidx = lua_gettop(x->L);
}

/* A hook's error (its message in x->buf), counted with the handlers' and
 * printed as theirs are (the first few per kind of hook), the rule named. */
static void hook_error(etwl_lua *x, const char *origin, const char *id, uint64_t nth)
{
    etwl_buf msg;
    etwl_buf_init(&msg);
    etwl_buf_printf(&msg, "rule %s: ", id ? id : "?");
    if (x->buf.data) etwl_buf_put(&msg, x->buf.data, x->buf.len);
    etwl_buf_reset(&x->buf);
    if (msg.data) etwl_buf_put(&x->buf, msg.data, msg.len);
    etwl_buf_free(&msg);
    x->handler_errors++;
    etwl_lua_report(x, "sigma", origin, nth);
}

/* Calls each function of the list at slot list with (ev) for exclusions,
 * (ev, rule) for on_match; returns 0 when the hit is suppressed.  Keys of
 * table results go into the enrichment table at h->extra. */
static int run_list(hitctx *h, int list, size_t rule, int excl)
{
    etwl_lua *x = h->x;
    lua_State *L = x->L;
    const etwl_sigma_rule_info *ri = etwl_sigma_rule(x->sigma, rule);
    lua_Integer n = (lua_Integer)lua_rawlen(L, list);
    const char *origin = excl ? "exclusion function" : "on_match handler";
    uint64_t *nerr = excl ? &x->sigma_excl_errors : &x->sigma_errors;
    for (lua_Integer k = 1; k <= n; k++) {
        int hit = 0, rc, top;
        lua_rawgeti(L, list, k);
        lua_pushvalue(L, h->evidx);
        if (!excl) push_info(L, x->sigma, rule);
        rc = etwl_lua_pcall(x, excl ? 1 : 2, 1, &hit);
        if (rc != LUA_OK) { /* an error keeps the alert: a broken hook must not hide detections */
            hook_error(x, origin, ri->id, ++*nerr);
            continue;
        }
        top = lua_gettop(L);
        if (excl) {
            int drop = lua_toboolean(L, top);
            lua_settop(L, top - 1);
            if (drop) return 0;
            continue;
        }
        if (lua_type(L, top) == LUA_TBOOLEAN && !lua_toboolean(L, top)) {
            lua_settop(L, top - 1);
            return 0;
        }
        if (lua_type(L, top) == LUA_TTABLE) {
            lua_pushnil(L);
            while (lua_next(L, top)) {
                int bad = 0;
                if (lua_type(L, -2) == LUA_TSTRING)
                    for (int r = 0; reserved[r]; r++) bad |= strcmp(reserved[r], lua_tostring(L, -2)) == 0;
                if (bad) {
                    etwl_buf_reset(&x->buf);
                    etwl_buf_printf(&x->buf, "field '%s' is the rule's own; not replaced", lua_tostring(L, -2));
                    hook_error(x, origin, ri->id, ++*nerr);
                    lua_pop(L, 1);
                    continue;
                }
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, h->extra);
            }
        }
        lua_settop(L, top - 1);
    }
    return 1;
}

/* Pushes the list of functions of this kind for the rule (0 excl, 1 on,
 * 2 any); returns 1, or 0 with nothing pushed when there is none. */
static int push_list(lua_State *L, int kind, size_t rule)
{
    static const char *const subs[] = {"excl", "on", "any"};
    int top = lua_gettop(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, REG) == LUA_TTABLE && lua_getfield(L, -1, subs[kind]) == LUA_TTABLE &&
        (kind == 2 || lua_rawgeti(L, -1, (lua_Integer)rule + 1) == LUA_TTABLE) && lua_rawlen(L, -1) > 0) {
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
        return 1;
    }
    lua_settop(L, top);
    return 0;
}

static void write_alert(hitctx *h, etwl_event *ev, size_t rule)
{
    etwl_lua *x = h->x;
    char ts[ETWL_TIME_STRLEN + 1];
    etwl_alert a;
    etwl_sigma_alert_of(x->sigma, rule, ev, &a, ts);
    h->sigma_fields = a.fields;
    h->sigma_tech = a.techniques;
    h->sigma_ctx = a.ctx;
    a.fields = fields_wrap;
    a.techniques = tech_wrap;
    a.ctx = h;
    x->sigma_alerts++;
    if (x->o.alert_write) {
        x->o.alert_write(&a, x->o.alert_ctx);
        return;
    }
    etwl_buf_reset(&x->buf);
    etwl_alert_write(&x->buf, &a, x->o.alerts_json);
    etwl_buf_putc(&x->buf, '\n');
    if (!x->buf.oom) fwrite(x->buf.data, 1, x->buf.len, x->o.alert_out);
    etwl_lua_buf_trim(x);
}

static void on_hit(void *ctx, etwl_event *ev, size_t rule)
{
    hitctx *h = ctx;
    etwl_lua *x = h->x;
    lua_State *L = x->L;
    int keep = 1, any = 0;
    h->extra = 0;
    for (int k = 0; x->sigma_hooks && !h->nohooks && k < 3 && !any; k++)
        if (push_list(L, k, rule)) {
            lua_pop(L, 1);
            any = 1;
        }
    if (any) {
        /* the event (once per event, kept below everything else), then
         * the enrichment table, then each list in turn */
        push_event(h, ev);
        lua_newtable(L);
        h->extra = lua_gettop(L);
        for (int k = 0; k < 3 && keep; k++) {
            if (!push_list(L, k, rule)) continue;
            keep = run_list(h, lua_gettop(L), rule, k == 0);
            lua_settop(L, h->extra);
        }
        if (lua_rawlen(L, h->extra) == 0) { /* an empty table adds nothing */
            lua_pushnil(L);
            if (!lua_next(L, h->extra)) h->extra = 0;
            else lua_settop(L, h->extra);
        }
    }
    if (keep) write_alert(h, ev, rule);
    else x->sigma_dropped++;
    if (h->evidx) lua_settop(L, h->evidx);
    h->extra = 0;
}

void etwl_lua_sigma_event(etwl_lua *x, etwl_event *ev)
{
    hitctx h;
    int base = lua_gettop(x->L);
    memset(&h, 0, sizeof h);
    h.x = x;
    /* the hooks' frames live on the main stack: room for the event, the
     * enrichment table, a list, a function, its arguments and a key */
    h.nohooks = x->sigma_hooks && !lua_checkstack(x->L, 24); /* out of memory: alerts as they are */
    etwl_sigma_match(x->sigma, ev, on_hit, &h);
    lua_settop(x->L, base);
    if (h.evidx) x->cur = NULL; /* expires the userdata the hooks saw */
}

void etwl_lua_sigma_report(etwl_lua *x, int stats)
{
    uint64_t lim;
    if (!x || !x->sigma || !x->sigma_owned) return; /* the command reports its --sigma set */
    lim = etwl_sigma_regex_limit_hits(x->sigma);
    if (lim)
        fprintf(x->o.err_out,
                "etwlua: sigma: %llu regular-expression match(es) hit the PCRE2 match limit (counted as no match)\n",
                (unsigned long long)lim);
    if (etwl_sigma_corr_evictions(x->sigma))
        fprintf(x->o.err_out, "etwlua: sigma: %llu correlation group(s) dropped to keep the state bounded\n",
                (unsigned long long)etwl_sigma_corr_evictions(x->sigma));
    if (stats)
        fprintf(x->o.err_out,
                "etwlua: sigma stats: rules=%zu running=%zu alerts=%llu suppressed_by_scripts=%llu "
                "regex_limit_hits=%llu correlation_groups=%zu correlation_evictions=%llu\n",
                etwl_sigma_count(x->sigma), etwl_sigma_running(x->sigma), (unsigned long long)x->sigma_alerts,
                (unsigned long long)x->sigma_dropped, (unsigned long long)lim, etwl_sigma_corr_groups(x->sigma),
                (unsigned long long)etwl_sigma_corr_evictions(x->sigma));
}

void etwl_lua_sigma_free(etwl_lua *x)
{
    if (x->sigma_owned) etwl_sigma_free(x->sigma);
    x->sigma = NULL;
    x->sigma_owned = 0;
}

#endif
