/* test_strmatch.c - the sandbox's pattern matcher (engine/lua/lua_strmatch.c)
 * against the real Lua string library: thousands of random patterns and
 * subjects from a fixed seed, targeted cases for every pattern feature, and
 * the hostile ones (exponential backtracking, deep captures, 1 MB subjects).
 *
 * Both states run the same probe chunk; the host's string table holds our
 * find/match/gmatch/gsub, a plain lua_State holds Lua's.  A probe returns
 * one string describing the results (or "error": the messages differ on
 * purpose, so only the fact of raising is compared). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "sources/jsonl/json_read.h"
#include "lua/lua_int.h"
#include "testlib.h"

static const char PROBE[] =
    "local function ser(ok, ...)\n"
    "  if not ok then return 'error' end\n"
    "  local n = select('#', ...)\n"
    "  local t = {tostring(n)}\n"
    "  for i = 1, n do\n"
    "    local v = select(i, ...)\n"
    "    t[#t + 1] = (math.type(v) or type(v)) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(t, ' ')\n"
    "end\n"
    "local repl_t = {a = '<A>', b = false, ab = 1.5, [1] = 'one', [2] = 7, c = {}, ['1'] = 's1'}\n"
    "local function repl_f(...)\n"
    "  local a = ...\n"
    "  if a == 'a' then return nil elseif a == 'b' then return false\n"
    "  elseif a == 'c' then return {} elseif a == '1' then return 42 end\n"
    "  local t = {select('#', ...)}\n"
    "  for i = 1, select('#', ...) do t[#t + 1] = tostring((select(i, ...))) end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "function probe(op, s, p, init, plain, repl, maxn)\n"
    "  if op == 0 then return ser(pcall(string.find, s, p, init, plain))\n"
    "  elseif op == 1 then return ser(pcall(string.match, s, p, init))\n"
    "  elseif op == 2 then return ser(pcall(function()\n"
    "      local r, k = {}, 0\n"
    "      for a, b, c in string.gmatch(s, p, init) do\n"
    "        k = k + 1\n"
    "        r[k] = tostring(a) .. '|' .. tostring(b) .. '|' .. tostring(c)\n"
    "        if k > 300 then break end\n"
    "      end\n"
    "      return table.concat(r, ';')\n"
    "    end))\n"
    "  elseif op == 3 then return ser(pcall(string.gsub, s, p, repl, maxn))\n"
    "  elseif op == 4 then return ser(pcall(string.gsub, s, p, repl_t, maxn))\n"
    "  elseif op == 5 then return ser(pcall(string.gsub, s, p, repl_f, maxn))\n"
    "  else return ser(pcall(function() return s:match(p, init) end)) end\n"
    "end\n";

#define NOPS 7

typedef struct tcase {
    int op;
    const char *s, *p;
    size_t ls, lp;
    int has_init;
    long long init;
    int plain;
    const char *repl; /* NULL: the number 5 */
    int has_maxn;
    long long maxn;
} tcase;

typedef struct fx {
    etwl_lua *x;
    lua_State *ref; /* the real string library */
    char *errs;
    size_t errs_n;
    FILE *ef;
    etwl_event ev;
    etwl_json_reader *jr;
} fx;

static fx F;

static void host(long budget)
{
    etwl_lua_opts o;
    etwl_error e;
    memset(&o, 0, sizeof o);
    o.budget = budget;
    o.alerts_json = 1;
    o.alert_out = F.ef;
    o.err_out = F.ef;
    o.lua_dir = LUA_DIR;
    assert_int_equal(etwl_lua_new(&o, &F.x, &e), ETWL_OK);
}

static void load_probe(lua_State *L)
{
    if (luaL_dostring(L, PROBE) != LUA_OK) {
        print_error("probe chunk: %s\n", lua_tostring(L, -1));
        fail();
    }
}

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    F.ef = open_memstream(&F.errs, &F.errs_n);
    etwl_event_init(&F.ev);
    F.jr = etwl_json_reader_new();
    host(0);
    load_probe(F.x->L);
    F.ref = luaL_newstate();
    assert_non_null(F.ref);
    luaL_openlibs(F.ref);
    load_probe(F.ref);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    etwl_lua_free(F.x);
    lua_close(F.ref);
    fclose(F.ef);
    free(F.errs);
    etwl_event_release(&F.ev);
    etwl_json_reader_free(F.jr);
    return 0;
}

/* Runs probe(c) in L; returns its result (static storage per state). */
static const char *run_probe(lua_State *L, const tcase *c, char *out, size_t outn)
{
    lua_getglobal(L, "probe");
    lua_pushinteger(L, c->op);
    lua_pushlstring(L, c->s, c->ls);
    lua_pushlstring(L, c->p, c->lp);
    if (c->has_init) lua_pushinteger(L, (lua_Integer)c->init);
    else lua_pushnil(L);
    lua_pushboolean(L, c->plain);
    if (c->repl) lua_pushstring(L, c->repl);
    else lua_pushinteger(L, 5);
    if (c->has_maxn) lua_pushinteger(L, (lua_Integer)c->maxn);
    else lua_pushnil(L);
    if (lua_pcall(L, 7, 1, 0) != LUA_OK) {
        print_error("probe raised: %s\n", lua_tostring(L, -1));
        fail();
    }
    snprintf(out, outn, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return out;
}

static long mismatches, compared;

/* Compares one case; prints the first mismatches in full. */
static int same(const tcase *c)
{
    static char a[8192], b[8192];
    run_probe(F.x->L, c, a, sizeof a);
    run_probe(F.ref, c, b, sizeof b);
    compared++;
    if (strcmp(a, b) == 0) return 1;
    if (mismatches++ < 20)
        print_error("op %d s=\"%.*s\" p=\"%.*s\" init=%s%lld plain=%d repl=%s maxn=%s%lld\n  ours: %s\n  lua:  %s\n",
                    c->op, (int)c->ls, c->s, (int)c->lp, c->p, c->has_init ? "" : "nil/", c->init, c->plain,
                    c->repl ? c->repl : "(5)", c->has_maxn ? "" : "nil/", c->maxn, a, b);
    return 0;
}

/* ---- random cases ------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull; /* fixed seed: failures reproduce */

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *pick(const char *const *v, size_t n) { return v[rnd((unsigned)n)]; }
#define PICK(v) pick(v, sizeof v / sizeof v[0])

static void put(char *buf, size_t *n, size_t cap, const char *s)
{
    size_t k = strlen(s);
    if (*n + k < cap) {
        memcpy(buf + *n, s, k);
        *n += k;
    }
}

static void gen_set(char *buf, size_t *n, size_t cap)
{
    static const char *const elems[] = {"a",  "b",  "c", "1", "a-c", "0-9", "b-a", "%d",  "%a", "%s", "%W",
                                        "%]", "%-", "-", "^", ".",   "(",   "%%",  "A-Z", "%p", "%x"};
    int k, m = 1 + (int)rnd(3);
    put(buf, n, cap, "[");
    if (rnd(4) == 0) put(buf, n, cap, "^");
    if (rnd(10) == 0) put(buf, n, cap, "]");
    for (k = 0; k < m; k++) put(buf, n, cap, PICK(elems));
    if (rnd(10) == 0) put(buf, n, cap, "-");
    if (rnd(40) != 0) put(buf, n, cap, "]"); /* sometimes unclosed */
}

static void gen_single(char *buf, size_t *n, size_t cap)
{
    static const char *const lits[] = {"a", "b",  "c",  "1",  "2",  " ",  "A",  ",",  "x",  "^",
                                       "]", "%.", "%%", "%(", "%)", "%-", "%z", "%[", "%$", "%^"};
    static const char *const classes[] = {"%a", "%d", "%s", "%w", "%p", "%l", "%u", "%c", "%x", "%g",
                                          "%A", "%D", "%S", "%W", "%P", "%L", "%U", "%C", "%X", "%G"};
    static const char *const quants[] = {"*", "+", "-", "?"};
    switch (rnd(4)) {
    case 0: put(buf, n, cap, PICK(lits)); break;
    case 1: put(buf, n, cap, "."); break;
    case 2: put(buf, n, cap, PICK(classes)); break;
    default: gen_set(buf, n, cap); break;
    }
    if (rnd(5) < 2) put(buf, n, cap, PICK(quants));
}

static size_t gen_pattern(char *buf, size_t cap)
{
    static const char *const specials[] = {"%b()",   "%bab", "%b))", "%f[%w]", "%f[%s]", "%f[a]", "%f[^%a]",
                                           "%f[%z]", "%1",   "%2",   "()",     "$",      "^"};
    static const char *const broken[] = {"%", "[a", "%b(", "%fa", "%0", ")", "%f", "[", "[%", "(", "%5"};
    size_t n = 0;
    int depth = 0, k, m = 1 + (int)rnd(6);
    if (rnd(5) == 0) put(buf, &n, cap, "^");
    for (k = 0; k < m; k++) {
        unsigned r = rnd(100);
        if (r < 55) {
            gen_single(buf, &n, cap);
        } else if (r < 67) {
            put(buf, &n, cap, "(");
            depth++;
        } else if (r < 77 && depth > 0) {
            put(buf, &n, cap, ")");
            depth--;
        } else if (r < 95) {
            put(buf, &n, cap, PICK(specials));
        } else if (r < 98) {
            put(buf, &n, cap, PICK(broken));
        } else {
            gen_single(buf, &n, cap);
        }
    }
    while (depth-- > 0)
        if (rnd(12) != 0) put(buf, &n, cap, ")");
    if (rnd(5) == 0) put(buf, &n, cap, "$");
    return n;
}

static size_t gen_subject(char *buf, size_t cap)
{
    static const char alpha[] = "aaabbbc112 A,x()(ab)^$.-%]\t\nZz\0";
    size_t n = rnd(15), k;
    if (n > cap) n = cap;
    for (k = 0; k < n; k++) buf[k] = alpha[rnd(sizeof alpha - 1)];
    return n;
}

static void random_case(tcase *c, char *pbuf, char *sbuf)
{
    static const char *const repls[] = {"x", "%0", "%1", "<%1|%2>", "%%", "%", "%a", "", "%9", "[%0]", "%2%1"};
    c->lp = gen_pattern(pbuf, 64);
    c->p = pbuf;
    c->ls = gen_subject(sbuf, 64);
    c->s = sbuf;
    c->has_init = rnd(3) == 0;
    c->init = (long long)rnd(24) - 8;
    c->plain = rnd(6) == 0;
    c->repl = rnd(10) == 0 ? NULL : PICK(repls);
    c->has_maxn = rnd(4) == 0;
    c->maxn = (long long)rnd(5) - 1;
}

#define RANDOM_PAIRS 25000

/* Every operation on RANDOM_PAIRS random (pattern, subject) pairs. */
static void test_random_patterns_match_lua(void **st)
{
    char pbuf[64], sbuf[64];
    long k, errors = 0;
    (void)st;
    mismatches = compared = 0;
    for (k = 0; k < RANDOM_PAIRS; k++) {
        tcase c;
        memset(&c, 0, sizeof c);
        random_case(&c, pbuf, sbuf);
        for (c.op = 0; c.op < NOPS; c.op++) {
            char out[16];
            if (same(&c) && strcmp(run_probe(F.ref, &c, out, sizeof out), "error") == 0) errors++;
        }
    }
    print_message("compared %ld random calls (%d pairs x %d operations), %ld of them raising in both\n", compared,
                  RANDOM_PAIRS, NOPS, errors);
    /* the generator must reach the error paths, and not only them */
    assert_true(errors > compared / 50);
    assert_true(errors < compared / 2);
    assert_int_equal(mismatches, 0);
}

/* ---- targeted cases ---------------------------------------------------- */

typedef struct tc {
    const char *s, *p;
    size_t ls, lp;
} tc;
#define T(s, p)                                                                                                        \
    {                                                                                                                  \
        s, p, sizeof(s) - 1, sizeof(p) - 1                                                                             \
    } /* lengths: some hold a NUL */

/* Each feature of section 6.4.1, its corners, and each malformed pattern;
 * every one runs through every operation against Lua. */
static const tc TARGETED[] = {
    T("hello world", "o w"),
    /* the skip byte: the rarest leading single-byte item, at an offset */
    T("cmd /c p^o^w^e^r", "%a[%^\"]%a"),
    T("c:\\a \"b\" x\"y", "%a[%^\"]%a"),
    T("abc^", "%a[%^\"]%a"),
    T("^abc", "[%^]%a"),
    T("xxab", "xa"),
    T("aaab", "a+b"),
    T("ab", "abc"),
    T("zzz", "z.z"),
    T("q", "%a%d"),
    T("hello world", "o"),
    T("hello", ""),
    T("", ""),
    T("", "a*"),
    T("abc", "."),
    T("a1 b2", "%a%d"),
    T("a1 b2", "%A%D"),
    T(" \t\n", "%s+"),
    T("aB1_", "%w+"),
    T("aB1_", "%W"),
    T("x.y", "%p"),
    T("aBc", "%l%u%l"),
    T("\1x", "%c"),
    T("0fF9g", "%x+"),
    T("a b", "%g%G%g"),
    T("a%b", "%%"),
    T("a.b", "%."),
    T("zz", "%z"),
    T("abc", "[abc]+"),
    T("abc-", "[a-]+"),
    T("a]b", "[]]"),
    T("a]b", "[^]]+"),
    T("a-b", "[a%-]+"),
    T("a^b", "[%^]"),
    T("a^b", "[b^]"),
    T("x1y", "[%d]"),
    T("x1y", "[^%d]+"),
    T("b", "[a-c]"),
    T("b", "[c-a]"),
    T("%", "[%%]"),
    T("aaa", "a*"),
    T("aaa", "a+"),
    T("aaa", "a-"),
    T("aaa", "a-$"),
    T("aaa", "a?"),
    T("baaa", "ba?a"),
    T("", "a+"),
    T("<a><b>", "<(.-)>"),
    T("<a><b>", "<(.*)>"),
    T("abc", "^abc$"),
    T("xabc", "^abc"),
    T("abc$", "c$"),
    T("a$b", "a$b"),
    T("ab^", "b^"),
    T("^ab", "^^a"),
    T("hello", "(h)(e)(l)"),
    T("hello", "()ll()"),
    T("hello", "(h(e(l)))"),
    T("hello", "()"),
    T("f(a(b)c)d", "%b()"),
    T("((a)", "%b()"),
    T("abab", "%bab"),
    T("aa", "%baa"),
    T("THE (quick) fox", "%f[%a]%a+"),
    T("THE (quick) fox", "%f[%A]"),
    T("word", "%f[%w]%w+%f[%W]"),
    T("abab", "(ab)%1"),
    T("abba", "(a)(b)%2%1"),
    T("xx", "()x%1"),
    T("abc", "(a"),
    T("abc", "a)"),
    T("abc", "a%"),
    T("abc", "[a"),
    T("abc", "[a%"),
    T("abc", "%b"),
    T("abc", "%ba"),
    T("abc", "%f"),
    T("abc", "%fa"),
    T("abc", "%f[a"),
    T("abc", "%0"),
    T("abc", "(a)%2"),
    T("abc", "(a%1)"),
    T("xyz", "a%"),
    T("xyz", "a)"),
    T("xyz", "a%1"),
    T("abc", ")"),
    T("a)c", ")"),
    T("a.b", "."),
    T("a+b", "+"),
    T("key = value", "(%w+)%s*=%s*(%w+)"),
    T("a,b,,c", "([^,]*)"),
    T("abc", "%w*"),
    T("abc", "x*"),
    T("a b c", "%s*"),
    T("12ab", "^(%d+)(%a+)$"),
    T("(((x)))", "%b()"),
    T("abc", "[]"),
    T("abc", "[^]"),
    T("a-z", "[a-]"),
    T("a-z", "[-a]"),
    T("-", "[%a-z]"),
    T("b", "[%a-z]"),
    T("\xff\x80", "[\x80-\xff]+"),
    T("abc", "%a%f[%z]"),
    T("a b", "%f[%Z]."),
    T("a\0b", "%z"),
    T("a\0b", "a.b"),
};

static void test_targeted_cases_match_lua(void **st)
{
    static const char *const repls[] = {"x", "%0", "%1", "%2", "%%", "%", "%q", "<%1>"};
    long inits[] = {0, 1, 2, -1, -2, -100, 3, 100};
    size_t k, r;
    (void)st;
    mismatches = compared = 0;
    for (k = 0; k < sizeof TARGETED / sizeof TARGETED[0]; k++) {
        for (r = 0; r < 8; r++) {
            tcase c;
            memset(&c, 0, sizeof c);
            c.s = TARGETED[k].s;
            c.ls = TARGETED[k].ls;
            c.p = TARGETED[k].p;
            c.lp = TARGETED[k].lp;
            c.has_init = r > 0;
            c.init = inits[r];
            c.plain = r == 7;
            c.repl = repls[r];
            c.has_maxn = r >= 5;
            c.maxn = (long long)r - 6;
            for (c.op = 0; c.op < NOPS; c.op++) same(&c);
        }
    }
    print_message("compared %ld targeted calls\n", compared);
    assert_int_equal(mismatches, 0);
}

/* Runs chunk (which returns one string) in both states and compares; also
 * returns ours for explicit checks. */
static const char *both(const char *chunk)
{
    static char a[4096];
    const char *b;
    lua_State *L = F.x->L;
    if (luaL_dostring(L, chunk) != LUA_OK) {
        print_error("ours raised: %s\n", lua_tostring(L, -1));
        fail();
    }
    snprintf(a, sizeof a, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (luaL_dostring(F.ref, chunk) != LUA_OK) {
        print_error("lua raised: %s\n", lua_tostring(F.ref, -1));
        fail();
    }
    b = lua_tostring(F.ref, -1);
    if (strcmp(a, b) != 0) {
        print_error("%s\n  ours: %s\n  lua:  %s\n", chunk, a, b);
        fail();
    }
    lua_pop(F.ref, 1);
    return a;
}

/* Explicit values, so the comparison cannot pass with both sides wrong
 * in the same way, and the argument handling the random cases skip. */
static void test_known_answers(void **st)
{
    (void)st;
    assert_string_equal(both("return table.concat({('hello world'):find('o w')}, ',')"), "5,7");
    assert_string_equal(both("return table.concat({('hello'):find('l', 1, true)}, ',')"), "3,3");
    assert_string_equal(both("return table.concat({('a+b'):find('+', 1, true)}, ',')"), "2,2");
    assert_string_equal(both("return table.concat({('hello'):find('()ll()')}, ',')"), "3,4,3,5");
    assert_string_equal(both("return tostring(('hello'):find('xl', 1, true))"), "nil");
    assert_string_equal(both("return tostring(('hello'):find('', 10))"), "nil");
    assert_string_equal(both("return tostring(('hello'):find('', 6))"), "6");
    assert_string_equal(both("return (('key = val'):gsub('(%w+) = (%w+)', '%2 = %1'))"), "val = key");
    assert_string_equal(both("return select(2, ('abc'):gsub('', '-'))"), "4");
    assert_string_equal(both("return (('abc'):gsub('', '-'))"), "-a-b-c-");
    assert_string_equal(both("return (('abc'):gsub('%w*', '<%0>'))"), "<abc>");
    assert_string_equal(both("return (('hello world'):gsub('o', '0', 1))"), "hell0 world");
    assert_string_equal(both("return (('$name'):gsub('%$(%w+)', {name = 'etw'}))"), "etw");
    assert_string_equal(both("return (('abc'):gsub('%w', function(c) return c:upper() .. '.' end))"), "A.B.C.");
    assert_string_equal(both("local t = {} for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)') do t[#t+1] = k .. v end "
                             "return table.concat(t, ' ')"),
                        "a1 b2");
    assert_string_equal(both("local t = {} for w in ('one two three'):gmatch('%a+', 5) do t[#t+1] = w end "
                             "return table.concat(t, ' ')"),
                        "two three");
    assert_string_equal(both("local t = {} for w in ('^a^a'):gmatch('^a') do t[#t+1] = w end "
                             "return table.concat(t, ' ')"),
                        "^a ^a");
    assert_string_equal(both("local t = {} for w in ('abc'):gmatch('%w*') do t[#t+1] = '<' .. w .. '>' end "
                             "return table.concat(t)"),
                        "<abc>");
    assert_string_equal(both("return (('THE (quick) fox'):gsub('%f[%a]%a+', 'W'))"), "W (W) W");
    assert_string_equal(both("return (string.find(12345, 34))"), "3");
    assert_string_equal(both("return (string.gsub(123, 2, 9.5))"), "19.53");
    assert_string_equal(both("return string.format('%s', pcall(string.gsub, 'a', 'a', true))"), "false");
    assert_string_equal(both("return string.format('%s', pcall(string.rep))"), "false");
    assert_string_equal(both("return select('#', ('abc'):match('(a)(b)(c)'))"), "3");
}

/* find and match keep compiled short patterns (lua_strmatch.c's cache):
 * one pattern reused over different subjects, a pattern that raised and is
 * used again, and more distinct patterns than the cache holds (it starts
 * again) all answer as Lua does, and the cache stays bounded. */
static void test_pattern_cache(void **st)
{
    lua_State *L = F.x->L;
    (void)st;
    assert_string_equal(both("local t = {} for _, s in ipairs{'ab12', 'x', '  9z', ''} do "
                             "t[#t+1] = tostring(s:find('%d+')) .. '/' .. tostring(s:match('(%a)(%d)')) end "
                             "return table.concat(t, ' ')"),
                        "3/b nil/nil 3/nil nil/nil");
    assert_string_equal(both("local ok = pcall(string.find, 'a', 'a%') "
                             "return tostring(ok) .. ' ' .. tostring(('x'):find('a%')) .. ' ' .. "
                             "tostring(pcall(string.find, 'a', 'a%'))"),
                        "false nil false");
    assert_string_equal(
        both("local n = 0 for i = 1, 3000 do if (('k' .. i .. 'v')):find('k' .. i .. '%a') then n = n + 1 end end "
             "for i = 1, 3000 do if (('k' .. i .. 'v')):match('^k(' .. i .. ')v$') == tostring(i) then n = n + 1 end "
             "end "
             "return n"),
        "6000");
    lua_getfield(L, LUA_REGISTRYINDEX, "etwl.pattern_cache");
    assert_int_equal(lua_type(L, -1), LUA_TTABLE);
    lua_rawgeti(L, -1, 0);
    assert_true(lua_tointeger(L, -1) > 0 && lua_tointeger(L, -1) <= 512);
    lua_pop(L, 2);
}

/* The messages name the problem (they need not be Lua's, byte for byte). */
static void test_error_messages(void **st)
{
    static const struct {
        const char *code, *want;
    } cases[] = {
        {"return ('a'):find('a%')", "ends with '%'"},
        {"return ('a'):find('[a')", "missing ']'"},
        {"return ('a'):find('%b(')", "missing arguments to '%b'"},
        {"return ('a'):find('%fa')", "missing '[' after '%f'"},
        {"return ('a'):find('(a)%2')", "invalid capture index %2"},
        {"return ('a'):match('a)')", "invalid pattern capture"},
        {"return ('a'):find('(a')", "unfinished capture"},
        {"return ('a'):find(('('):rep(33) .. 'a')", "too many captures"},
        {"return ('a'):gsub('a', '%2')", "invalid capture index %2"},
        {"return ('a'):gsub('a', '%x')", "invalid use of '%' in replacement string"},
        {"return ('a'):gsub('a', {a = {}})", "invalid replacement value (a table)"},
        {"return ('a'):gsub('a', true)", "string/function/table expected"},
    };
    size_t k;
    lua_State *L = F.x->L;
    (void)st;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *msg;
        if (luaL_dostring(L, cases[k].code) == LUA_OK) {
            print_error("%s did not raise\n", cases[k].code);
            fail();
        }
        msg = lua_tostring(L, -1);
        if (!msg || !strstr(msg, cases[k].want)) {
            print_error("%s: got \"%s\", want \"%s\"\n", cases[k].code, msg ? msg : "(null)", cases[k].want);
            fail();
        }
        lua_pop(L, 1);
        assert_int_not_equal(luaL_dostring(F.ref, cases[k].code), LUA_OK); /* Lua raises too */
        lua_pop(F.ref, 1);
    }
}

/* ---- hostile patterns -------------------------------------------------- */

static void send_event(int id)
{
    char json[256], err[256];
    int top = lua_gettop(F.x->L);
    snprintf(json, sizeof json,
             "{\"header\":{\"descriptor\":{\"id\":%d,\"level\":4,\"keyword\":3},\"process_id\":42,"
             "\"provider_name\":\"P\"},\"info\":{}}",
             id);
    etwl_event_begin(&F.ev);
    assert_int_equal(etwl_json_parse_event(F.jr, json, strlen(json), &F.ev, err, sizeof err), ETWL_OK);
    etwl_lua_dispatch(F.x, &F.ev);
    assert_int_equal(lua_gettop(F.x->L), top);
}

static void load(const char *code)
{
    etwl_error e;
    if (etwl_lua_load_string(F.x, code, "test", &e) != ETWL_OK) {
        print_error("load failed: %s\n", e.message);
        fail();
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define BUDGET 1000000L

/* ("a?"):rep(34) .. ("a"):rep(34) needs about 2^34 steps: the budget stops
 * it, counted as a budget stop, having charged at most twice the budget;
 * the same for a quadratic scan of a 1 MB subject and for gmatch/gsub. */
static void test_exponential_pattern_stopped_by_budget(void **st)
{
    static const char *const handlers[] = {
        "local s = ('a'):rep(34) return s:find(('a?'):rep(34) .. s)",
        "local s = ('a'):rep(34) return s:match(('a?'):rep(34) .. s)",
        "local s = ('a'):rep(34) for x in s:gmatch(('a?'):rep(34) .. s) do end",
        "local s = ('a'):rep(34) return s:gsub(('a?'):rep(34) .. s, 'x')",
        "local s = ('a'):rep(1 << 20) return s:find('.-b')",
        "local s = ('(a'):rep(1 << 19) return s:find('%b()')",
    };
    size_t k;
    char code[512];
    (void)st;
    etwl_lua_free(F.x);
    host(BUDGET);
    for (k = 0; k < sizeof handlers / sizeof handlers[0]; k++) {
        uint64_t before;
        double t0;
        snprintf(code, sizeof code, "require('etw').on({id=%d}, function(ev) %s end)\n", (int)k + 1, handlers[k]);
        load(code);
        before = F.x->match_chunks;
        t0 = now_s();
        send_event((int)k + 1);
        if (F.x->h[k].budget_stops != 1 || (F.x->match_chunks - before) * ETWL_MATCH_STEP_CHUNK > 2 * BUDGET ||
            (F.x->match_chunks - before) * ETWL_MATCH_STEP_CHUNK < BUDGET / 2) {
            print_error("handler %s: budget_stops=%llu, %llu steps charged for a budget of %ld, %.3f s\n", handlers[k],
                        (unsigned long long)F.x->h[k].budget_stops,
                        (unsigned long long)(F.x->match_chunks - before) * ETWL_MATCH_STEP_CHUNK, BUDGET, now_s() - t0);
            fail();
        }
        print_message("%s: stopped after %llu steps (budget %ld), %.3f s\n", handlers[k],
                      (unsigned long long)(F.x->match_chunks - before) * ETWL_MATCH_STEP_CHUNK, BUDGET, now_s() - t0);
    }
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "instruction budget exceeded"));
}

/* 32 nested captures work, the 33rd is an error, 100,000 are an error and
 * no crash; 100,000 quantified items run without recursion (where Lua
 * itself says "pattern too complex": the one deliberate difference). */
static void test_deep_patterns(void **st)
{
    lua_State *L = F.x->L;
    (void)st;
    both("local n = select('#', ('a'):match(('('):rep(32) .. 'a' .. (')'):rep(32))) return tostring(n)");
    assert_string_equal(both("local n = select('#', ('a'):match(('('):rep(32) .. 'a' .. (')'):rep(32))) "
                             "return tostring(n)"),
                        "32");
    assert_string_equal(both("return tostring(pcall(string.match, 'a', ('('):rep(33) .. 'a' .. (')'):rep(33)))"),
                        "false");
    assert_string_equal(both("return tostring(pcall(string.match, 'a', ('('):rep(100000) .. 'a'))"), "false");
    assert_string_equal(both("return tostring(pcall(string.match, 'a', 'a' .. (')'):rep(100000)))"), "false");
    assert_string_equal(both("return tostring(pcall(string.find, ('a'):rep(100), ('%b()'):rep(10000)))"), "true");
    assert_int_equal(luaL_dostring(L, "return select(2, ('a'):rep(100000):find(('a?'):rep(100000)))"), LUA_OK);
    assert_int_equal(lua_tointeger(L, -1), 100000);
    lua_pop(L, 1);
    /* Lua's recursion limit, kept here as documentation of the difference */
    assert_int_not_equal(luaL_dostring(F.ref, "return ('a'):rep(1000):find(('a?'):rep(1000))"), LUA_OK);
    assert_non_null(strstr(lua_tostring(F.ref, -1), "too complex"));
    lua_pop(F.ref, 1);
}

/* A 1 MB subject through every function, compared with Lua. */
static void test_megabyte_subject(void **st)
{
    (void)st;
    assert_string_equal(both("local s = ('ab'):rep(1 << 19) .. 'c' "
                             "return table.concat({s:find('c$')}, ',') .. ' ' .. table.concat({s:find('b(c)')}, ',')"),
                        "1048577,1048577 1048576,1048577,c");
    assert_string_equal(both("local s = ('ab'):rep(1 << 19) .. 'c' local r, n = s:gsub('a', 'xy') "
                             "return #r .. ' ' .. n"),
                        "1572865 524288");
    assert_string_equal(both("local s = ('ab '):rep(1 << 18) local n = 0 for w in s:gmatch('%a+') do n = n + 1 end "
                             "return tostring(n)"),
                        "262144");
    assert_string_equal(both("local s = ('a'):rep(1 << 20) .. 'b' return #s:match('^(a*)b') .. ' ' .. "
                             "#s:match('(.-)b')"),
                        "1048576 1048576");
    assert_string_equal(both("local s = ('x'):rep(1 << 20) return tostring(select(2, s:gsub('', '')))"), "1048577");
    assert_string_equal(both("local s = ('('):rep(1 << 19) .. (')'):rep(1 << 19) return #s:match('%b()')"), "1048576");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_known_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targeted_cases_match_lua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_patterns_match_lua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_megabyte_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exponential_pattern_stopped_by_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
