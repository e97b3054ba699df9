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
 *   pf:scan_record(out, record, fields)  the same over a rule record:
 *                       field k is record[fields[k]], lower-cased here
 *                       (no Lua string is made for it); "command_line"
 *                       is read as the record's cl, and "name",
 *                       "parent_name" and "decoded" as they are (lower-case
 *                       already).  What rules.lua did per start in Lua.
 *
 * The scan runs once per event however many rules there are; the rules
 * library then runs only those entries and the ones that declare nothing.
 *
 *   base64_decode(s), utf16le(s)   etwlua.encoding's decoders, in C
 *   basename(s [, lower])           etwlua.path's basename and name
 *   argv_windows(line)              etwlua.cmdline's windows() */
#include <ctype.h>
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
    size_t charged;         /* bytes counted against the state's memory cap */
    int built;
} lpf;

/* The matcher's memory is C memory, outside Lua's allocator: it is counted
 * against the same cap (--memory-mb) by an estimate per literal - its copy,
 * its record and its share of the gram hashes - so a script cannot hoard
 * memory through a prefilter. */
static int charge(lua_State *L, lpf *pf, size_t bytes)
{
    etwl_lua *x = etwl_lua_host(L);
    if (x->mem_enforce && x->mem_used + bytes > x->mem_limit) return 0;
    x->mem_used += bytes;
    if (x->mem_used > x->mem_peak) x->mem_peak = x->mem_used;
    pf->charged += bytes;
    return 1;
}

static lpf *check_pf(lua_State *L)
{
    lpf *pf = luaL_checkudata(L, 1, PF_MT);
    if (!pf->lits) luaL_error(L, "prefilter: already collected");
    return pf;
}

static int pf_gc(lua_State *L)
{
    lpf *pf = luaL_checkudata(L, 1, PF_MT);
    etwl_lua_host(L)->mem_used -= pf->charged;
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
    if (n > ((size_t)1 << 20)) return luaL_argerror(L, 4, "a literal of more than 1 MiB");
    if (!charge(L, pf, n + 64 + 16 * (n - SG_LIT_MIN + 1) + ((size_t)entry > pf->nentries ? 8 : 0)))
        return luaL_error(L, "prefilter: its literals would pass the memory cap (--memory-mb)");
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

static void scan_begin(lua_State *L, lpf *pf)
{
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!pf->built) luaL_error(L, "prefilter: scan before build");
    if (++pf->gen == 0) { /* wrapped: no stamp may look current */
        memset(pf->stamp, 0, (pf->nentries + 1) * sizeof *pf->stamp);
        pf->gen = 1;
    }
    pf->nhits = 0;
}

/* Writes the hits to the table at index 2 and pushes their count. */
static int scan_end(lua_State *L, lpf *pf)
{
    size_t i;
    if (pf->nhits > 1) qsort(pf->hits, pf->nhits, sizeof *pf->hits, cmp_u32);
    for (i = 0; i < pf->nhits; i++) {
        lua_pushinteger(L, pf->hits[i]);
        lua_rawseti(L, 2, (lua_Integer)i + 1);
    }
    lua_pushinteger(L, (lua_Integer)pf->nhits);
    return 1;
}

static int pf_scan(lua_State *L)
{
    lpf *pf = check_pf(L);
    int top = lua_gettop(L), k;
    scan_begin(L, pf);
    for (k = 3; k <= top && k - 3 < PF_MAX_FIELDS; k++) {
        size_t n;
        const char *t;
        if (lua_type(L, k) != LUA_TSTRING) continue; /* absent field: no literal occurs */
        t = lua_tolstring(L, k, &n);
        sg_lits_scan(pf->lits, (unsigned)(k - 3), t, n, found, pf);
    }
    return scan_end(L, pf);
}

static int pf_scan_record(lua_State *L)
{
    lpf *pf = check_pf(L);
    lua_Integer nf, k;
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    scan_begin(L, pf);
    nf = (lua_Integer)lua_rawlen(L, 4);
    for (k = 1; k <= nf && k <= PF_MAX_FIELDS; k++) {
        luaL_Buffer b; /* here, not in the branch: a short text lives in it */
        int top = lua_gettop(L), lower;
        size_t n, i;
        const char *f, *t;
        if (lua_rawgeti(L, 4, k) != LUA_TSTRING) return luaL_error(L, "prefilter: field %d is not a name", (int)k);
        f = lua_tostring(L, -1);
        /* read through the record's metatable, as rules do: cl, decoded and
         * the lazy fields are made on the first read */
        lower = strcmp(f, "name") != 0 && strcmp(f, "parent_name") != 0 && strcmp(f, "decoded") != 0;
        if (strcmp(f, "command_line") == 0) {
            f = "cl";
            lower = 0;
        }
        if (lua_getfield(L, 3, f) == LUA_TSTRING) {
            t = lua_tolstring(L, -1, &n);
            if (lower) {
                /* string.lower's own per-byte tolower, into a buffer the
                 * state's allocator (and so its memory cap) accounts for */
                char *d = luaL_buffinitsize(L, &b, n);
                for (i = 0; i < n; i++) d[i] = (char)tolower((unsigned char)t[i]);
                t = d;
            }
            /* the cl of an absent command line is "": no literal occurs */
            if (n > 0) sg_lits_scan(pf->lits, (unsigned)(k - 1), t, n, found, pf);
        }
        lua_settop(L, top);
    }
    return scan_end(L, pf);
}

/* ---- decoding, for etwlua.encoding ----------------------------------------
 * PowerShell's -EncodedCommand payloads run to kilobytes; decoded a
 * character at a time in Lua they cost more than every rule together. */

/* base64_decode(s): whitespace is dropped; nil when the length leaves a
 * lone character or a character is outside [A-Za-z0-9+/=]; '=' is skipped
 * wherever it stands (as etwlua.encoding always did). */
static int l_base64_decode(lua_State *L)
{
    size_t n, i;
    const char *s = luaL_checklstring(L, 1, &n);
    size_t kept = 0;
    uint32_t bits = 0;
    int nb = 0;
    luaL_Buffer b;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || (c >= '\t' && c <= '\r')) continue;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
              c == '='))
            return lua_pushnil(L), 1;
        kept++;
    }
    if (kept % 4 == 1) return lua_pushnil(L), 1;
    luaL_buffinit(L, &b);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        uint32_t v;
        if (c >= 'A' && c <= 'Z') v = (uint32_t)(c - 'A');
        else if (c >= 'a' && c <= 'z') v = (uint32_t)(c - 'a' + 26);
        else if (c >= '0' && c <= '9') v = (uint32_t)(c - '0' + 52);
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else continue; /* whitespace and '=' */
        bits = (bits << 6) | v;
        nb += 6;
        if (nb >= 8) {
            nb -= 8;
            luaL_addchar(&b, (char)((bits >> nb) & 0xFF));
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static void add_utf8(luaL_Buffer *b, uint32_t u)
{
    char o[4];
    int k;
    if (u < 0x80) {
        o[0] = (char)u, k = 1;
    } else if (u < 0x800) {
        o[0] = (char)(0xC0 | (u >> 6)), o[1] = (char)(0x80 | (u & 0x3F)), k = 2;
    } else if (u < 0x10000) {
        o[0] = (char)(0xE0 | (u >> 12)), o[1] = (char)(0x80 | ((u >> 6) & 0x3F)), o[2] = (char)(0x80 | (u & 0x3F)),
        k = 3;
    } else {
        o[0] = (char)(0xF0 | (u >> 18)), o[1] = (char)(0x80 | ((u >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((u >> 6) & 0x3F)), o[3] = (char)(0x80 | (u & 0x3F)), k = 4;
    }
    luaL_addlstring(b, o, (size_t)k);
}

/* utf16le(s): UTF-16LE bytes as UTF-8; a lone surrogate becomes U+FFFD and
 * an odd last byte is dropped */
static int l_utf16le(lua_State *L)
{
    size_t n, i = 0;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (i + 1 < n) {
        uint32_t u = (uint32_t)s[i] | ((uint32_t)s[i + 1] << 8);
        i += 2;
        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
            uint32_t u2 = (uint32_t)s[i] | ((uint32_t)s[i + 1] << 8);
            if (u2 >= 0xDC00 && u2 <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
                i += 2;
            } else {
                u = 0xFFFD;
            }
        } else if (u >= 0xD800 && u <= 0xDFFF) {
            u = 0xFFFD;
        }
        add_utf8(&b, u);
    }
    luaL_pushresult(&b);
    return 1;
}

/* basename(s [, lower]): the last component of a Windows or POSIX path,
 * trailing separators ignored; s itself when it is nothing but
 * separators; nil for a non-string or "".  lower: ASCII lower-cased.
 * etwlua.path's basename and name, run twice per process start. */
static int l_basename(lua_State *L)
{
    size_t n, e, b;
    const char *s;
    int lower = lua_toboolean(L, 2);
    if (lua_type(L, 1) != LUA_TSTRING) return lua_pushnil(L), 1;
    s = lua_tolstring(L, 1, &n);
    if (n == 0) return lua_pushnil(L), 1;
    for (e = n; e > 0 && (s[e - 1] == '\\' || s[e - 1] == '/'); e--) {
    }
    if (e == 0) { /* only separators */
        b = 0;
        e = n;
    } else {
        for (b = e; b > 0 && s[b - 1] != '\\' && s[b - 1] != '/'; b--) {
        }
    }
    if (!lower) {
        lua_pushlstring(L, s + b, e - b);
    } else {
        luaL_Buffer buf;
        char *d = luaL_buffinitsize(L, &buf, e - b);
        for (size_t i = b; i < e; i++) d[i - b] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
        luaL_pushresultsize(&buf, e - b);
    }
    return 1;
}

/* argv_windows(line): CommandLineToArgvW's split, as etwlua.cmdline's
 * windows() (the Lua reference it is tested against) does it: the program
 * name ends at the first blank outside its quotes and takes no escapes
 * (text glued to its closing quote belongs to it); later arguments treat
 * 2n backslashes before a quote as n and a quote, 2n+1 as n and a literal
 * quote, and "" inside quotes as a literal quote.  Rules read p.args on
 * long PowerShell lines, where the Lua loop cost tens of microseconds. */
static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int l_argv_windows(lua_State *L)
{
    size_t n, i = 0, j;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_Integer na = 0;
    luaL_Buffer b;
    lua_newtable(L);
    while (i < n && is_blank(s[i])) i++;
    if (i >= n) return 1;
    luaL_buffinit(L, &b);
    if (s[i] == '"') {
        const char *q = memchr(s + i + 1, '"', n - i - 1);
        j = q ? (size_t)(q - s) : n;
        luaL_addlstring(&b, s + i + 1, j - i - 1);
        i = q ? j + 1 : n;
    } else {
        for (j = i; j < n && !is_blank(s[j]); j++) {
        }
        luaL_addlstring(&b, s + i, j - i);
        i = j;
    }
    for (j = i; j < n && !is_blank(s[j]); j++) { /* glued to the closing quote */
    }
    luaL_addlstring(&b, s + i, j - i);
    i = j;
    luaL_pushresult(&b);
    lua_rawseti(L, -2, ++na);
    for (;;) {
        int inq = 0;
        while (i < n && is_blank(s[i])) i++;
        if (i >= n) break;
        luaL_buffinit(L, &b);
        while (i < n) {
            char c = s[i];
            if (c == '\\') {
                size_t k;
                for (j = i; j < n && s[j] == '\\'; j++) {
                }
                k = j - i;
                if (j < n && s[j] == '"') {
                    for (size_t r = 0; r < k / 2; r++) luaL_addchar(&b, '\\');
                    if (k % 2 == 1) {
                        luaL_addchar(&b, '"');
                        i = j + 1;
                    } else {
                        i = j;
                    }
                } else {
                    for (size_t r = 0; r < k; r++) luaL_addchar(&b, '\\');
                    i = j;
                }
            } else if (c == '"') {
                if (inq && i + 1 < n && s[i + 1] == '"') {
                    luaL_addchar(&b, '"');
                    i += 2;
                } else {
                    inq = !inq;
                    i++;
                }
            } else if (is_blank(c) && !inq) {
                break;
            } else {
                luaL_addchar(&b, c);
                i++;
            }
        }
        luaL_pushresult(&b);
        lua_rawseti(L, -2, ++na);
    }
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

static const luaL_Reg pf_methods[] = {
    {"add", pf_add}, {"build", pf_build}, {"scan", pf_scan}, {"scan_record", pf_scan_record}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"logsources", l_logsources},
                                 {"prefilter", l_prefilter},
                                 {"base64_decode", l_base64_decode},
                                 {"utf16le", l_utf16le},
                                 {"basename", l_basename},
                                 {"argv_windows", l_argv_windows},
                                 {NULL, NULL}};

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
