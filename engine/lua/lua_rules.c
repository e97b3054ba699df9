/* lua_rules.c - "etwlua.rulecore": what the Lua rule library (lua/etwlua/
 * rules.lua) takes from C.
 *
 *   logsources()        the log-source layer of engine/sigma/logsource.c as
 *                       a list of { product, category, service, name,
 *                       provider, channel, ids, map, conv, fields }, so the
 *                       Lua library and the Sigma engine read one table and
 *                       cannot drift
 *   prefilter()         a literal prefilter over a list of rules: the
 *                       multi-pattern matcher of engine/sigma/literals.c
 *                       (the one behind the Sigma prefilter)
 *   pf:add(entry, field, literal)   entry (1..) cannot match unless the
 *                       literal occurs in field (1..) - any one of its
 *                       literals, over all its fields
 *   pf:build()
 *   pf:scan(out, text1, text2, ...)  the entries one of whose literals
 *                       occurs in the lower-cased texts (text k is field k;
 *                       nil or false: absent), written to out[1..n] in
 *                       ascending order; returns n
 *
 * The scan runs once per event however many rules there are; the rules
 * library then runs only those entries and the ones that declare nothing. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "lua/lua_int.h"
#include "sigma/literals.h"
#include "sigma/logsource.h"

#define PF_MT "etwlua.prefilter"
#define PF_MAX_ENTRIES 1000000
#define PF_MAX_FIELDS 64

typedef struct lpf {
    sg_lits *lits;
    uint32_t *stamp, *hits, gen;
    size_t nentries, nhits; /* entries are 1..nentries */
    int built;
} lpf;

static lpf *check_pf(lua_State *L) { return luaL_checkudata(L, 1, PF_MT); }

static int pf_gc(lua_State *L)
{
    lpf *pf = check_pf(L);
    sg_lits_free(pf->lits);
    free(pf->stamp);
    free(pf->hits);
    memset(pf, 0, sizeof *pf);
    return 0;
}

static int l_prefilter(lua_State *L)
{
    lpf *pf = lua_newuserdatauv(L, sizeof *pf, 0);
    memset(pf, 0, sizeof *pf);
    luaL_setmetatable(L, PF_MT);
    if (!(pf->lits = sg_lits_new())) return luaL_error(L, "prefilter: out of memory");
    return 1;
}

static int pf_add(lua_State *L)
{
    lpf *pf = check_pf(L);
    lua_Integer entry = luaL_checkinteger(L, 2), field = luaL_checkinteger(L, 3);
    size_t n;
    const char *s = luaL_checklstring(L, 4, &n);
    if (pf->built) return luaL_error(L, "prefilter: add after build");
    if (entry < 1 || entry > PF_MAX_ENTRIES) return luaL_argerror(L, 2, "entry out of range");
    if (field < 1 || field > PF_MAX_FIELDS) return luaL_argerror(L, 3, "field out of range");
    if (n < SG_LIT_MIN) return luaL_argerror(L, 4, "a literal needs at least 4 characters");
    if (!sg_lits_add(pf->lits, (unsigned)(field - 1), s, n, (uint32_t)entry))
        return luaL_error(L, "prefilter: out of memory");
    if ((size_t)entry > pf->nentries) pf->nentries = (size_t)entry;
    return 0;
}

static int pf_build(lua_State *L)
{
    lpf *pf = check_pf(L);
    if (pf->built) return 0;
    pf->stamp = calloc(pf->nentries + 1, sizeof *pf->stamp);
    pf->hits = calloc(pf->nentries + 1, sizeof *pf->hits);
    if (!pf->stamp || !pf->hits || !sg_lits_build(pf->lits)) return luaL_error(L, "prefilter: out of memory");
    pf->built = 1;
    return 0;
}

static void found(void *ctx, uint32_t li)
{
    lpf *pf = ctx;
    uint32_t e = sg_lits_tag(pf->lits, li);
    if (pf->stamp[e] == pf->gen) return;
    pf->stamp[e] = pf->gen;
    pf->hits[pf->nhits++] = e;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int pf_scan(lua_State *L)
{
    lpf *pf = check_pf(L);
    int top = lua_gettop(L), k;
    size_t i;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!pf->built) return luaL_error(L, "prefilter: scan before build");
    if (++pf->gen == 0) { /* wrapped: no stamp may look current */
        memset(pf->stamp, 0, (pf->nentries + 1) * sizeof *pf->stamp);
        pf->gen = 1;
    }
    pf->nhits = 0;
    for (k = 3; k <= top && k - 3 < PF_MAX_FIELDS; k++) {
        size_t n;
        const char *t;
        if (lua_type(L, k) != LUA_TSTRING) continue; /* absent field: no literal occurs */
        t = lua_tolstring(L, k, &n);
        sg_lits_scan(pf->lits, (unsigned)(k - 3), t, n, found, pf);
    }
    if (pf->nhits > 1) qsort(pf->hits, pf->nhits, sizeof *pf->hits, cmp_u32);
    for (i = 0; i < pf->nhits; i++) {
        lua_pushinteger(L, pf->hits[i]);
        lua_rawseti(L, 2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)pf->nhits);
    return 1;
}

/* ---- the log-source table ---------------------------------------------- */
static void set_s(lua_State *L, const char *k, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void push_source(void *ctx, const char *product, const char *category, const char *service, const sg_source *src)
{
    lua_State *L = ctx;
    int i;
    lua_createtable(L, 0, 10);
    set_s(L, "product", product);
    set_s(L, "category", category);
    set_s(L, "service", service);
    set_s(L, "name", src->name);
    set_s(L, "provider", src->provider);
    set_s(L, "channel", src->channel);
    lua_createtable(L, src->nids, 0);
    for (i = 0; i < src->nids; i++) {
        lua_pushinteger(L, src->ids[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "ids");
    /* Sigma's field name -> the event's property, and the conversions */
    lua_newtable(L);
    lua_newtable(L);
    for (const sg_map *m = src->map; m && m->sigma; m++) {
        lua_pushstring(L, m->prop);
        lua_setfield(L, -3, m->sigma);
        if (m->conv) {
            lua_pushinteger(L, m->conv);
            lua_setfield(L, -2, m->sigma);
        }
    }
    lua_setfield(L, -3, "conv");
    lua_setfield(L, -2, "map");
    if (src->fields) {
        lua_newtable(L);
        for (i = 0; src->fields[i]; i++) {
            lua_pushstring(L, src->fields[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "fields");
    }
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

static int l_logsources(lua_State *L)
{
    lua_newtable(L);
    sg_logsource_each(push_source, L);
    return 1;
}

static const luaL_Reg pf_methods[] = {{"add", pf_add}, {"build", pf_build}, {"scan", pf_scan}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"logsources", l_logsources}, {"prefilter", l_prefilter}, {NULL, NULL}};

int etwl_luaopen_rulecore(lua_State *L)
{
    if (luaL_newmetatable(L, PF_MT)) {
        luaL_newlib(L, pf_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, pf_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "prefilter");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
