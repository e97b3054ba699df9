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
 *   pf:add(entry, field, literal [, letters])   entry (1..) cannot match
 *                       unless the literal occurs in field (1..) - any one
 *                       of its literals, over all its fields; letters (for
 *                       literals of 1-3 bytes): only where an ASCII letter
 *                       stands on either side
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

#include "core/event.h"
#include "core/schema.h"
#include "lua/lua_int.h"
#include "sigma/literals.h"
#include "sigma/logsource.h"

#define PF_MT "etwlua.prefilter"
#define PF_MAX_ENTRIES 1000000
#define PF_MAX_FIELDS 64

/* A literal shorter than the matcher's gram (1-3 bytes, such as "^"): found
 * by a plain search of its field.  Rules have few of them. */
typedef struct lshort {
    uint32_t entry;
    unsigned field;
    size_t n;
    int letters; /* only between two ASCII letters (Lua's %a, on lower-cased text) */
    char s[SG_LIT_MIN];
} lshort;

typedef struct lpf {
    sg_lits *lits;
    lshort *shorts;
    size_t nshort;
    uint32_t *stamp, *hits, gen;
    size_t nentries, nhits; /* entries are 1..nentries */
    size_t charged;         /* bytes counted against the state's memory cap */
    int built;
} lpf;

/* The matcher's memory is C memory, outside Lua's allocator: it is counted
 * against the same cap (--memory-mb) by an estimate per literal - its copy,
 * its record and its share of the gram hashes - so a script cannot hoard
 * memory through a prefilter. */
static int charge_to(lua_State *L, size_t *charged, size_t bytes)
{
    etwl_lua *x = etwl_lua_host(L);
    if (x->mem_enforce && x->mem_used + bytes > x->mem_limit) return 0;
    x->mem_used += bytes;
    if (x->mem_used > x->mem_peak) x->mem_peak = x->mem_used;
    *charged += bytes;
    return 1;
}

static int charge(lua_State *L, lpf *pf, size_t bytes) { return charge_to(L, &pf->charged, bytes); }

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
    free(pf->shorts);
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
    int letters = lua_toboolean(L, 5);
    if (pf->built) return luaL_error(L, "prefilter: add after build");
    if (entry < 1 || entry > PF_MAX_ENTRIES) return luaL_argerror(L, 2, "entry out of range");
    if (field < 1 || field > PF_MAX_FIELDS) return luaL_argerror(L, 3, "field out of range");
    if (n == 0) return luaL_argerror(L, 4, "an empty literal");
    if (n > ((size_t)1 << 20)) return luaL_argerror(L, 4, "a literal of more than 1 MiB");
    if (letters && n >= SG_LIT_MIN)
        return luaL_argerror(L, 5, "only a literal of 1-3 bytes can be required between letters");
    if (n < SG_LIT_MIN) {
        lshort *ns;
        if (!charge(L, pf, sizeof *ns + ((size_t)entry > pf->nentries ? 8 : 0)))
            return luaL_error(L, "prefilter: its literals would pass the memory cap (--memory-mb)");
        if (!(ns = realloc(pf->shorts, (pf->nshort + 1) * sizeof *ns)))
            return luaL_error(L, "prefilter: out of memory");
        pf->shorts = ns;
        ns += pf->nshort++;
        ns->entry = (uint32_t)entry;
        ns->field = (unsigned)(field - 1);
        ns->n = n;
        ns->letters = letters;
        for (size_t i = 0; i < n && i < SG_LIT_MIN; i++)
            ns->s[i] = (char)tolower((unsigned char)s[i]); /* folded as the matcher folds */
    } else {
        if (!charge(L, pf, n + 64 + 16 * (n - SG_LIT_MIN + 1) + ((size_t)entry > pf->nentries ? 8 : 0)))
            return luaL_error(L, "prefilter: its literals would pass the memory cap (--memory-mb)");
        if (!sg_lits_add(pf->lits, (unsigned)(field - 1), s, n, (uint32_t)entry))
            return luaL_error(L, "prefilter: out of memory");
    }
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

static void mark(lpf *pf, uint32_t e)
{
    if (pf->stamp[e] == pf->gen) return;
    pf->stamp[e] = pf->gen;
    pf->hits[pf->nhits++] = e;
}

static void found(void *ctx, uint32_t li)
{
    lpf *pf = ctx;
    mark(pf, sg_lits_tag(pf->lits, li));
}

static int is_letter(char c) { return c >= 'a' && c <= 'z'; } /* the text is lower-cased */

static int has_short(const char *t, size_t n, const lshort *sh)
{
    const char *p = t, *end = t + n;
    while (p + sh->n <= end && (p = memchr(p, sh->s[0], (size_t)(end - p) - sh->n + 1)) != NULL) {
        if (memcmp(p, sh->s, sh->n) == 0 &&
            (!sh->letters || (p > t && p + sh->n < end && is_letter(p[-1]) && is_letter(p[sh->n]))))
            return 1;
        p++;
    }
    return 0;
}

/* Every literal of field f (0..) in the lower-cased text t. */
static void scan_field(lpf *pf, unsigned f, const char *t, size_t n)
{
    size_t i;
    sg_lits_scan(pf->lits, f, t, n, found, pf);
    for (i = 0; i < pf->nshort; i++)
        if (pf->shorts[i].field == f && pf->stamp[pf->shorts[i].entry] != pf->gen && has_short(t, n, &pf->shorts[i]))
            mark(pf, pf->shorts[i].entry);
}

/* Starts a scan in C: the hits so far forgotten. */
static void scan_reset(lpf *pf)
{
    if (++pf->gen == 0) { /* wrapped: no stamp may look current */
        memset(pf->stamp, 0, (pf->nentries + 1) * sizeof *pf->stamp);
        pf->gen = 1;
    }
    pf->nhits = 0;
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
    scan_reset(pf);
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
        scan_field(pf, (unsigned)(k - 3), t, n);
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
            if (n > 0) scan_field(pf, (unsigned)(k - 1), t, n);
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

/* The last component of the path s (n bytes), Windows or POSIX: it spans
 * [*b, the returned end); trailing separators are ignored, and a path of
 * nothing but separators is itself. */
static size_t base_span(const char *s, size_t n, size_t *b)
{
    size_t e;
    for (e = n; e > 0 && (s[e - 1] == '\\' || s[e - 1] == '/'); e--) {
    }
    if (e == 0) { /* only separators */
        *b = 0;
        return n;
    }
    for (*b = e; *b > 0 && s[*b - 1] != '\\' && s[*b - 1] != '/'; --*b) {
    }
    return e;
}

/* basename(s, true) of s (n bytes) into d (at least n bytes): its length */
static size_t name_of(const char *s, size_t n, char *d)
{
    size_t b, e = base_span(s, n, &b), i;
    for (i = b; i < e; i++) d[i - b] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
    return e - b;
}

/* basename(s [, lower]): the last component of a Windows or POSIX path,
 * trailing separators ignored; s itself when it is nothing but
 * separators; nil for a non-string or "".  lower: ASCII lower-cased.
 * etwlua.path's basename and name, run twice per process start. */
static int l_basename(lua_State *L)
{
    size_t n, b;
    const char *s;
    if (lua_type(L, 1) != LUA_TSTRING) return lua_pushnil(L), 1;
    s = lua_tolstring(L, 1, &n);
    if (n == 0) return lua_pushnil(L), 1;
    if (!lua_toboolean(L, 2)) {
        size_t e = base_span(s, n, &b);
        lua_pushlstring(L, s + b, e - b);
    } else {
        luaL_Buffer buf;
        char *d = luaL_buffinitsize(L, &buf, n);
        luaL_pushresultsize(&buf, name_of(s, n, d));
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

/* The Security 4688 names of Sigma's fields, from the log-source table the
 * Lua library reads too (S4688 in rules.lua), so the two cannot drift. */
typedef struct names4688 {
    const char *image, *parent_image, *user;
} names4688;

static void find_4688(void *ctx, const char *product, const char *category, const char *service, const sg_source *src)
{
    names4688 *n = ctx;
    (void)product, (void)category, (void)service;
    if (!src->name || strcmp(src->name, "Security 4688") != 0) return;
    for (const sg_map *m = src->map; m && m->sigma; m++) {
        if (strcmp(m->sigma, "Image") == 0) n->image = m->prop;
        else if (strcmp(m->sigma, "ParentImage") == 0) n->parent_image = m->prop;
        else if (strcmp(m->sigma, "User") == 0) n->user = m->prop;
    }
}

static names4688 the_4688 = {"Image", "ParentImage", "User"}; /* names as they are when unmapped */
static pthread_once_t once_4688 = PTHREAD_ONCE_INIT;

static void init_4688(void) { sg_logsource_each(find_4688, &the_4688); }

/* a constant table, read once by whichever state (thread, with -j) asks first */
static const names4688 *map_4688(void)
{
    pthread_once(&once_4688, init_4688);
    return &the_4688;
}

/* ---- the gate: rules selected in C before any Lua runs ---------------------
 * Most process starts run no rule of the library: no literal a rule needs
 * occurs in them and no rule applies to their image by name.  The gate
 * decides that in C, from the event itself, before the handler (and the
 * record the normaliser builds, the prefilter's scan in Lua, ...) runs; Lua
 * runs only for the starts it cannot rule out.  It may let through a start
 * on which no rule runs (the handler then selects nothing, as before), never
 * the reverse: whatever it cannot read as the normaliser does (a field
 * absent from the event, which the process table may fill; a value that is
 * not a string; a line that may carry -EncodedCommand) lets the start
 * through.  rules.lua arms it with the list's prefilter, its fields and the
 * image names the rules are restricted to, and disarms it while `etwlua
 * test` checks the rules' needs (that check runs in Lua on every event). */

#define GATE_MT "etwlua.gate"
#define GATE_BUF (256 * 1024) /* longer fields let the start through */

enum { GF_CL = 1, GF_NAME, GF_PARENT_NAME, GF_IMAGE, GF_OFN, GF_DECODED, GF_PARENT_IMAGE };
enum { GK_SYSMON = 1, GK_SECURITY };

typedef struct gname {
    uint32_t entry; /* 0: an always-run rule applies to this name */
    uint32_t n;     /* 0: an empty slot */
    char *s;
} gname;

typedef struct sv {
    const char *s;
    size_t n;
} sv;

typedef struct lgate {
    int armed;
    lpf *pf; /* NULL: no rule of the list declares needs */
    int nf;
    unsigned char field[PF_MAX_FIELDS];
    unsigned char *named; /* named[e]: entry e runs only on the names in set */
    size_t nnamed;
    gname *set;
    size_t mask, count;
    char *buf; /* the lower-cased fields, GATE_BUF each */
    size_t charged;
    /* the last scan, for gate:take, and the fields it read, for
     * start_record (valid while the event is dispatched) */
    int has_result, pending; /* pending: 1 + the decoded field's index */
    sv img, cl, parent, ofn;
    int have_ofn;
    uint64_t result_seq;
    uint32_t result_gen;
} lgate;

static uint32_t gname_hash(uint32_t entry, const char *s, size_t n) { return etwl_hash(s, n) ^ (entry * 0x9E3779B1u); }

static int gname_has(const lgate *g, uint32_t entry, const char *s, size_t n)
{
    size_t h;
    if (!g->set) return 0;
    for (h = gname_hash(entry, s, n) & g->mask; g->set[h].n; h = (h + 1) & g->mask)
        if (g->set[h].entry == entry && g->set[h].n == n && memcmp(g->set[h].s, s, n) == 0) return 1;
    return 0;
}

static void gate_clear(lua_State *L, lgate *g)
{
    size_t i;
    if (g->set)
        for (i = 0; i <= g->mask; i++) free(g->set[i].s);
    free(g->set);
    free(g->named);
    free(g->buf);
    etwl_lua_host(L)->mem_used -= g->charged;
    memset(g, 0, sizeof *g);
}

static lgate *check_gate(lua_State *L) { return luaL_checkudata(L, 1, GATE_MT); }

static int gate_gc(lua_State *L)
{
    gate_clear(L, check_gate(L));
    return 0;
}

static int l_gate(lua_State *L)
{
    lgate *g = lua_newuserdatauv(L, sizeof *g, 1);
    memset(g, 0, sizeof *g);
    luaL_setmetatable(L, GATE_MT);
    return 1;
}

static int gate_disarm(lua_State *L)
{
    gate_clear(L, check_gate(L));
    return 0;
}

/* counted against the state's memory cap as the prefilter is */
static int gate_charge(lua_State *L, lgate *g, size_t bytes) { return charge_to(L, &g->charged, bytes); }

/* 0 when the memory cap or the allocator refuses */
static int gname_add(lua_State *L, lgate *g, uint32_t entry, const char *s, size_t n)
{
    size_t h;
    if (n == 0 || gname_has(g, entry, s, n)) return 1; /* "" is no image name: the start goes through */
    h = gname_hash(entry, s, n) & g->mask;
    while (g->set[h].n) h = (h + 1) & g->mask;
    if (!gate_charge(L, g, n + 1) || !(g->set[h].s = malloc(n + 1))) return 0;
    memcpy(g->set[h].s, s, n);
    g->set[h].s[n] = 0;
    g->set[h].n = (uint32_t)n;
    g->set[h].entry = entry;
    g->count++;
    return 1;
}

/* gate:arm(pf|nil, fields, always_names, entry_names) -> armed
 *   fields        the prefilter's field names, in its order
 *   always_names  the image names on which a rule without needs runs
 *   entry_names   entry -> the names its rule is restricted to
 * false (and unarmed) when a field is one the gate cannot read, or when
 * the memory cap (--memory-mb) leaves no room for it */
static int gate_arm(lua_State *L)
{
    lgate *g = check_gate(L);
    lpf *pf = NULL;
    size_t total = 0, cap = 16;
    lua_Integer k, nf;
    gate_clear(L, g);
    if (!lua_isnil(L, 2)) {
        pf = luaL_checkudata(L, 2, PF_MT);
        if (!pf->built) return luaL_argerror(L, 2, "a prefilter that is not built");
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    nf = (lua_Integer)lua_rawlen(L, 3);
    if (nf > PF_MAX_FIELDS) return lua_pushboolean(L, 0), 1;
    for (k = 1; k <= nf; k++) {
        static const char *const names[] = {"command_line",       "name",    "parent_name", "image",
                                            "original_file_name", "decoded", "parent_image"};
        const char *f = lua_rawgeti(L, 3, k) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        int c = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(f, names[i]) == 0) c = (int)i + 1;
        lua_pop(L, 1);
        if (!c) return lua_pushboolean(L, 0), 1;
        g->field[k - 1] = (unsigned char)c;
    }
    g->nf = (int)nf;
    /* the set: every name once per entry, at most half full */
    total = lua_rawlen(L, 4);
    lua_pushnil(L);
    while (lua_next(L, 5)) {
        if (lua_type(L, -1) == LUA_TTABLE) total += lua_rawlen(L, -1);
        lua_pop(L, 1);
    }
    while (cap < 2 * total + 2) cap *= 2;
    g->nnamed = (pf ? pf->nentries : 0) + 1;
    if (!gate_charge(L, g, cap * sizeof *g->set + g->nnamed + (g->nf ? GATE_BUF : 0)) ||
        !(g->set = calloc(cap, sizeof *g->set)) || !(g->named = calloc(g->nnamed, 1)) ||
        (g->nf && !(g->buf = malloc(GATE_BUF)))) {
        gate_clear(L, g); /* the gate is a shortcut: without it every start goes to Lua, as before */
        return lua_pushboolean(L, 0), 1;
    }
    g->mask = cap - 1;
    for (k = 1; k <= (lua_Integer)lua_rawlen(L, 4); k++) {
        size_t n;
        const char *s;
        if (lua_rawgeti(L, 4, k) != LUA_TSTRING) return luaL_error(L, "gate: names must be strings");
        s = lua_tolstring(L, -1, &n);
        if (!gname_add(L, g, 0, s, n)) return gate_clear(L, g), lua_pushboolean(L, 0), 1;
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, 5)) {
        lua_Integer e = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 0;
        if (e < 1 || (size_t)e >= g->nnamed || lua_type(L, -1) != LUA_TTABLE)
            return luaL_error(L, "gate: entry_names maps entries of the prefilter to lists of names");
        g->named[e] = 1;
        for (k = 1; k <= (lua_Integer)lua_rawlen(L, -1); k++) {
            size_t n;
            const char *s;
            if (lua_rawgeti(L, -1, k) != LUA_TSTRING) return luaL_error(L, "gate: names must be strings");
            s = lua_tolstring(L, -1, &n);
            if (!gname_add(L, g, (uint32_t)e, s, n)) return gate_clear(L, g), lua_pushboolean(L, 0), 1;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    g->pf = pf;
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, 1); /* keeps the prefilter alive with the gate */
    g->armed = 1;
    lua_pushboolean(L, 1);
    return 1;
}

/* core.gate_attach(handler, gate, kind): the handler etw.on numbered so
 * reads "sysmon" (Sysmon 1) or "security" (Security 4688) starts; the
 * gate is kept alive by the registry for as long as the handler */
static int l_gate_attach(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    lua_Integer hn = luaL_checkinteger(L, 1);
    static const char *const kinds[] = {"sysmon", "security", NULL};
    int kind;
    luaL_checkudata(L, 2, GATE_MT);
    kind = luaL_checkoption(L, 3, NULL, kinds) + 1;
    if (hn < 1 || hn > x->nh) return luaL_argerror(L, 1, "no such handler");
    if (x->h[hn - 1].gate) return luaL_argerror(L, 1, "the handler has a gate already");
    lua_pushvalue(L, 2);
    luaL_ref(L, LUA_REGISTRYINDEX);
    x->h[hn - 1].gate = lua_touserdata(L, 2);
    x->h[hn - 1].gate_kind = kind;
    return 0;
}

/* The normaliser's nz(info[prop]): 1 a string, 0 absent (missing, "", "-"
 * or "?"), -1 a value the gate cannot vouch for. */
static int prop_nz(etwl_event *ev, const char *prop, sv *out)
{
    const etwl_value *v = etwl_event_get(ev, prop);
    if (!v) return 0;
    if (v->type != ETWL_VT_STRING) return -1;
    if (v->n == 0 || (v->n == 1 && (v->v.s[0] == '-' || v->v.s[0] == '?'))) return 0;
    out->s = v->v.s;
    out->n = v->n;
    return 1;
}

/* Is w (n bytes, just past a dash) etwlua.encoding's flag word: e, ec or e
 * and a prefix of ncodedcommand, in any case, then a blank? */
static int flag_word(const unsigned char *w, size_t n)
{
    static const char full[] = "encodedcommand";
    size_t k = 0, i;
    while (k < n && (w[k] | 0x20) >= 'a' && (w[k] | 0x20) <= 'z') k++;
    if (k == 0 || k >= n || (w[k] != ' ' && w[k] != '\t') || (w[0] | 0x20) != 'e') return 0;
    if (k == 2 && (w[1] | 0x20) == 'c') return 1;
    if (k > sizeof full - 1) return 0;
    for (i = 1; i < k; i++)
        if ((w[i] | 0x20) != full[i]) return 0;
    return 1;
}

/* Could the line carry -EncodedCommand?  etwlua.encoding's flag is a
 * blank (or the line's start), - / or a dash lookalike (U+2013..U+2015),
 * then its word and a blank; the payload is Lua's to check. */
static int may_encode(const sv *cl)
{
    const unsigned char *s = (const unsigned char *)cl->s;
    size_t i, d;
    for (i = 0; i < cl->n; i++) {
        if (i > 0 && s[i - 1] != ' ' && s[i - 1] != '\t') continue;
        if (s[i] == '-' || s[i] == '/') d = 1;
        else if (s[i] == 0xE2 && i + 2 < cl->n && s[i + 1] == 0x80 && s[i + 2] >= 0x93 && s[i + 2] <= 0x95) d = 3;
        else continue;
        if (flag_word(s + i + d, cl->n - i - d)) return 1;
    }
    return 0;
}

int etwl_lua_gate_pass(etwl_lua *x, const etwl_handler *h, etwl_event *ev)
{
    lgate *g = h->gate;
    sv img, cl, parent, ofn = {NULL, 0};
    char name[512];
    size_t nn, i;
    int have_ofn = 0, pass;
    g->has_result = 0;
    if (!g->armed) return 1;
    if (h->gate_kind == GK_SYSMON) {
        if (prop_nz(ev, "Image", &img) != 1 || prop_nz(ev, "CommandLine", &cl) != 1 ||
            prop_nz(ev, "ParentImage", &parent) != 1 || (have_ofn = prop_nz(ev, "OriginalFileName", &ofn)) < 0)
            return 1;
    } else {
        const names4688 *f = map_4688();
        if (prop_nz(ev, f->image, &img) != 1 || prop_nz(ev, "CommandLine", &cl) != 1 ||
            prop_nz(ev, f->parent_image, &parent) != 1)
            return 1;
    }
    if (img.n > sizeof name) return 1;
    nn = name_of(img.s, img.n, name);
    pass = nn == 0 || gname_has(g, 0, name, nn);
    if (!g->pf) return pass;
    scan_reset(g->pf);
    g->pending = 0;
    for (i = 0; i < (size_t)g->nf; i++) {
        const sv *src = NULL;
        size_t n, j;
        switch (g->field[i]) {
        case GF_CL: src = &cl; break;
        case GF_IMAGE: src = &img; break;
        case GF_PARENT_IMAGE: src = &parent; break;
        case GF_OFN: src = have_ofn ? &ofn : NULL; break;
        case GF_NAME: scan_field(g->pf, (unsigned)i, name, nn); continue;
        case GF_PARENT_NAME:
            if (parent.n > GATE_BUF) return 1;
            n = name_of(parent.s, parent.n, g->buf);
            scan_field(g->pf, (unsigned)i, g->buf, n);
            continue;
        case GF_DECODED:
            /* decoding is Lua's (p.decoded): a line that may carry the
             * flag goes through, and Lua scans this field (gate:take) */
            if (may_encode(&cl)) g->pending = (int)i + 1;
            continue; /* no flag: decoded is false, no literal occurs */
        default: return 1;
        }
        if (!src) continue;
        if (src->n > GATE_BUF) return 1;
        /* string.lower's per-byte tolower, as p.cl and pf:scan_record */
        for (j = 0; j < src->n; j++) g->buf[j] = (char)tolower((unsigned char)src->s[j]);
        scan_field(g->pf, (unsigned)i, g->buf, src->n);
    }
    /* the hits are the handler's (gate:take) when it runs on this event:
     * the cur_seq dispatch gives it, unless an earlier handler pushed it */
    g->has_result = 1;
    g->result_seq = x->cur == ev ? x->cur_seq : x->dispatch_seq + 1;
    g->img = img, g->cl = cl, g->parent = parent, g->ofn = ofn, g->have_ofn = have_ofn;
    g->result_gen = g->pf->gen;
    if (g->pending) pass = 1;
    for (i = 0; i < g->pf->nhits && !pass; i++) {
        uint32_t e = g->pf->hits[i];
        if (e >= g->nnamed || !g->named[e] || gname_has(g, e, name, nn)) pass = 1;
    }
    return pass;
}

/* gate:take(out, record) -> n, or nil: the prefilter's hits for the event
 * being handled, as pf:scan_record(out, record, fields) would give them,
 * when the gate scanned this event (the decoded field, if it could not,
 * read from the record here); nil when it did not. */
static int gate_take(lua_State *L)
{
    lgate *g = check_gate(L);
    etwl_lua *x = etwl_lua_host(L);
    lpf *pf = g->pf;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!g->armed || !g->has_result || !pf || g->result_seq != x->cur_seq || g->result_gen != pf->gen || !x->cur) {
        g->has_result = 0;
        lua_pushnil(L);
        return 1;
    }
    g->has_result = 0;
    if (g->pending) {
        luaL_checktype(L, 3, LUA_TTABLE);
        if (lua_getfield(L, 3, "decoded") == LUA_TSTRING) { /* lower-case already */
            size_t n;
            const char *t = lua_tolstring(L, -1, &n);
            if (n > 0) scan_field(pf, (unsigned)(g->pending - 1), t, n);
        }
        lua_pop(L, 1);
    }
    return scan_end(L, pf);
}

/* ---- process-start records ------------------------------------------------
 * start_record(ev, kind, lazy_key, lazy, info_key [, gate, meta]) -> record,
 * done: the record rules.lua's normaliser made of a Sysmon 1 ("sysmon") or
 * Security 4688 ("security") start, before the process table's fill:
 * platform, image, command_line and cl, parent_image, user,
 * original_file_name (Sysmon), [lazy_key] = lazy, [info_key] = ev.info, and
 * name and parent_name (etwlua.path's name of the images).  Each field is
 * nz(info.Field) as the Lua version read it (absent when "", "-" or "?";
 * other types as they are), without a metamethod call and a Lua call per
 * field; the fields the gate read from this event are taken from it.  With
 * meta the record gets it as its metatable, and done is true when the
 * event named the parent image, the user and the command line (so the
 * process table has nothing to fill). */

/* Pushes nz(info[prop]): 1, or 0 (nothing pushed) when it is nil. */
static int push_nz(lua_State *L, etwl_event *ev, const char *prop)
{
    int32_t i = etwl_event_prop_find(ev, prop, strlen(prop));
    if (i < 0) return 0;
    etwl_lua_push_value(L, etwl_event_prop(ev, (uint32_t)i), 0);
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (n > 1 || (n == 1 && s[0] != '-' && s[0] != '?')) return 1;
        lua_pop(L, 1);
        return 0;
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

static void set_nz(lua_State *L, etwl_event *ev, const char *prop, const char *field)
{
    if (push_nz(L, ev, prop)) lua_setfield(L, -2, field);
}

/* the command line on top of the record: command_line, and cl (its
 * string.lower, which most rules read) with it */
static void set_cl_top(lua_State *L)
{
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n, i;
        const char *t = lua_tolstring(L, -1, &n);
        luaL_Buffer b;
        char *d = luaL_buffinitsize(L, &b, n);
        for (i = 0; i < n; i++) d[i] = (char)tolower((unsigned char)t[i]);
        luaL_pushresultsize(&b, n);
        lua_setfield(L, -3, "cl");
    }
    lua_setfield(L, -2, "command_line");
}

static void set_cl(lua_State *L, etwl_event *ev)
{
    if (push_nz(L, ev, "CommandLine")) set_cl_top(L);
}

/* t.field = basename(t.image, lower) for the table on top, as l_basename */
static void set_name(lua_State *L, const char *image, const char *field)
{
    sv v;
    if (lua_getfield(L, -1, image) == LUA_TSTRING && (v.s = lua_tolstring(L, -1, &v.n), v.n > 0)) {
        luaL_Buffer b; /* the image stays on the stack below it: v.s stays valid */
        char *d = luaL_buffinitsize(L, &b, v.n);
        luaL_pushresultsize(&b, name_of(v.s, v.n, d));
        lua_setfield(L, -3, field);
    }
    lua_pop(L, 1);
}

/* the record's field k is set and neither nil nor false */
static int has_field(lua_State *L, const char *k)
{
    int t = lua_getfield(L, -1, k) != LUA_TNIL && lua_toboolean(L, -1);
    lua_pop(L, 1);
    return t;
}

static void set_sv(lua_State *L, const sv *v, const char *field)
{
    lua_pushlstring(L, v->s, v->n);
    lua_setfield(L, -2, field);
}

static int l_start_record(lua_State *L)
{
    etwl_event *ev = etwl_lua_check_event(L, 1);
    static const char *const kinds[] = {"sysmon", "security", NULL};
    int kind = luaL_checkoption(L, 2, NULL, kinds) + 1;
    lgate *g = luaL_testudata(L, 6, GATE_MT);
    /* the fields the gate read from this very event (strings, nz'd) */
    int gated = g && g->armed && g->has_result && g->result_seq == etwl_lua_host(L)->cur_seq, done = 0;
    lua_settop(L, 7);
    lua_createtable(L, 0, 12);
    lua_pushliteral(L, "windows");
    lua_setfield(L, -2, "platform");
    if (gated) {
        set_sv(L, &g->img, "image");
        lua_pushlstring(L, g->cl.s, g->cl.n);
        set_cl_top(L);
        set_sv(L, &g->parent, "parent_image");
    }
    if (kind == GK_SYSMON) {
        if (!gated) {
            set_nz(L, ev, "Image", "image");
            set_cl(L, ev);
            set_nz(L, ev, "ParentImage", "parent_image");
        }
        set_nz(L, ev, "User", "user");
        if (!gated) set_nz(L, ev, "OriginalFileName", "original_file_name");
        else if (g->have_ofn) set_sv(L, &g->ofn, "original_file_name");
    } else {
        const names4688 *f = map_4688();
        int nu, nd;
        if (!gated) {
            set_nz(L, ev, f->image, "image");
            set_cl(L, ev);
            set_nz(L, ev, f->parent_image, "parent_image");
        }
        /* the new process's user (TargetUserName, 4688 version 2) when
         * logged, else the creator's; "DOMAIN\\user" when both are known */
        nu = push_nz(L, ev, "TargetUserName") || push_nz(L, ev, f->user);
        if (nu) {
            nd = push_nz(L, ev, "TargetDomainName") || push_nz(L, ev, "SubjectDomainName");
            if (nd) {
                lua_pushliteral(L, "\\");
                lua_rotate(L, -3, 2); /* domain "\\" user */
                lua_concat(L, 3);     /* as Lua's .. */
            }
            lua_setfield(L, -2, "user");
        }
    }
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 4);
    lua_rawset(L, -3);
    lua_pushvalue(L, 5);
    etwl_lua_push_info(L, etwl_lua_host(L));
    lua_rawset(L, -3);
    set_name(L, "image", "name");
    set_name(L, "parent_image", "parent_name");
    if (lua_type(L, 7) == LUA_TTABLE) {
        /* finish's part when the event said all it fills from the process
         * table: the record's metatable, and nothing to fill */
        lua_pushvalue(L, 7);
        lua_setmetatable(L, -2);
        done = has_field(L, "parent_image") && has_field(L, "user") && has_field(L, "command_line");
    }
    lua_pushboolean(L, done);
    return 2;
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
static const luaL_Reg gate_methods[] = {{"arm", gate_arm}, {"disarm", gate_disarm}, {"take", gate_take}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"logsources", l_logsources},     {"gate", l_gate},
                                 {"gate_attach", l_gate_attach},   {"start_record", l_start_record},
                                 {"prefilter", l_prefilter},       {"base64_decode", l_base64_decode},
                                 {"utf16le", l_utf16le},           {"basename", l_basename},
                                 {"argv_windows", l_argv_windows}, {NULL, NULL}};

/* A userdata type's metatable: its methods, its __gc, and a __metatable
 * that names it, so scripts can neither read nor replace it. */
static void new_type(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction gc, const char *shown)
{
    if (luaL_newmetatable(L, tname)) {
        lua_newtable(L); /* (luaL_newlib sizes its table from an array, not a pointer) */
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
        lua_pushstring(L, shown);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
}

int etwl_luaopen_rulecore(lua_State *L)
{
    new_type(L, PF_MT, pf_methods, pf_gc, "prefilter");
    new_type(L, GATE_MT, gate_methods, gate_gc, "gate");
    luaL_newlib(L, funcs);
    return 1;
}
