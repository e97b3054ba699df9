/* lua_strmatch.c - string.find, match, gmatch and gsub with a step counter.
 *
 * Lua's own matcher backtracks inside one C call, where the count hook that
 * enforces --budget never runs: s:find(("a?"):rep(34) .. ("a"):rep(34))
 * takes 2^34 steps.  Hooks cannot help (they only run between Lua
 * instructions), and a pattern-complexity limit would reject honest patterns
 * while missing others, so the sandbox replaces the four functions with this
 * matcher, written here from the Lua 5.4 Reference Manual's specification
 * (section 6.4.1 "Patterns" and the descriptions of the functions in 6.4).
 * tests/lua/test_strmatch.c checks it against the real string library.
 *
 * Design: a pattern is compiled once into an array of items (a single-byte
 * test with its repetition, a capture open or close, %b, %f, a back-reference,
 * the end anchor, or a deferred syntax error).  The matcher walks the items
 * forwards and keeps its alternatives on an explicit choice stack, undoing
 * capture changes from a trail, so it never recurses: its memory is
 * proportional to the pattern, there is no C stack to overflow and no
 * "pattern too complex" limit.  Items only go forwards, so the choice stack
 * and the trail never hold more entries than the pattern has items.
 *
 * Every item tried, every backtrack, every byte a repetition or %b scans and
 * every 16 bytes a back-reference compares is a step; every
 * ETWL_MATCH_STEP_CHUNK steps the matcher calls etwl_lua_match_steps(),
 * which charges the handler's instruction budget and raises on budget
 * exhaustion, the watchdog or a stop request.  Raising from here is safe: the compiled pattern is a userdata
 * the collector owns, everything else is on the C stack.
 *
 * Syntax errors are raised when the match reaches the malformed part, as
 * the reference implementation does, so ("x"):find("a%") is nil there and
 * here alike, while ("a"):find("a%") raises. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lua_int.h"

#define MAX_CAPTURES 32 /* the manual's limit for one pattern */
#define CAP_OPEN (-1)   /* capture length while its ')' is not reached */
#define CAP_POS (-2)    /* a position capture () */

/* The escape character of patterns and replacement strings. */
#define ESC '%'

enum op {
    OP_BYTE,  /* one byte from a set (literal, '.', %class or [set]) */
    OP_OPEN,  /* '(' */
    OP_POS,   /* '()' */
    OP_CLOSE, /* ')' */
    OP_BAL,   /* %bxy */
    OP_FRONT, /* %f[set] */
    OP_BACKREF /* %1-%9 (and %0, an error when reached) */,
    OP_EOS,  /* a final '$' */
    OP_ERROR /* the pattern is malformed here */
};

enum rep { REP_ONE, REP_STAR, REP_PLUS, REP_LAZY, REP_OPT };

enum perr { PE_END_ESC, PE_NO_BRACKET, PE_BAL_ARGS, PE_FRONT_BRACKET };

typedef struct item {
    uint8_t op, rep;
    uint8_t x, y;   /* %b's delimiters; a back-reference's digit; an error's code */
    uint32_t set;   /* OP_BYTE, OP_FRONT: index of its 256-bit set */
    uint32_t where; /* offset in the pattern, for error messages */
} item;

typedef struct bits {
    uint8_t b[32];
} bits;

/* A choice point: the state to resume from when what follows fails. */
typedef struct choice {
    uint32_t it;     /* the repeated item; the match resumes after it */
    uint32_t trail;  /* trail height to restore */
    const char *at;  /* greedy: where the repetition began; lazy: where it is now */
    size_t n, least; /* greedy: repetitions taken now, and the fewest allowed */
} choice;

typedef struct prog {
    uint32_t nitems, nsets;
    int anchored;
    /* A byte every match has at a fixed offset from its start (the rarest
     * of the leading single-byte items): an unanchored search skips the
     * starts where it is absent without entering the matcher.  skip_set is
     * -1 when the pattern begins otherwise. */
    int32_t skip_set;
    uint32_t skip_off;
    item *items;
    bits *sets;
    choice *stack;
    int8_t *trail; /* -1: a capture was opened; k >= 0: capture k was closed */
} prog;

typedef struct capture {
    const char *start;
    ptrdiff_t len; /* or CAP_OPEN, CAP_POS */
} capture;

typedef struct mstate {
    lua_State *L;
    const prog *pg;
    const char *subj, *end; /* the subject */
    int ncap;
    capture cap[MAX_CAPTURES];
    unsigned steps;
} mstate;

/* ---- compiling --------------------------------------------------------- */

static void set_add(bits *s, unsigned c) { s->b[c >> 3] |= (uint8_t)(1u << (c & 7)); }
static int set_has(const bits *s, unsigned c) { return (s->b[c >> 3] >> (c & 7)) & 1; }

/* Whether byte c is in the class named by letter l (a, c, d, g, l, p, s,
 * u, w, x, z); -1 when l names no class. */
static int class_has(int l, int c)
{
    switch (tolower(l)) {
    case 'a': return isalpha(c) != 0;
    case 'c': return iscntrl(c) != 0;
    case 'd': return isdigit(c) != 0;
    case 'g': return isgraph(c) != 0;
    case 'l': return islower(c) != 0;
    case 'p': return ispunct(c) != 0;
    case 's': return isspace(c) != 0;
    case 'u': return isupper(c) != 0;
    case 'w': return isalnum(c) != 0;
    case 'x': return isxdigit(c) != 0;
    case 'z': return c == 0; /* Lua 5.4 still accepts this deprecated class (5.1's NUL) */
    default: return -1;
    }
}

/* The pattern compiler: pass 1 (out == NULL) counts items and sets, pass 2
 * fills them in. */
typedef struct compiler {
    const char *p;
    size_t len;
    uint32_t nitems, nsets;
    item *items;
    bits *sets;
    item scratch_item; /* pass 1 writes here */
    bits scratch_set;
    /* each class's members, computed on first use: a pattern of 100,000
     * %a's costs 100,000 copies, not 25 million ctype calls */
    bits cls[128];
    uint8_t have_cls[128];
} compiler;

/* Adds %l to s: a class (upper case: its complement) or the literal l. */
static void set_add_escape(compiler *c, bits *s, int l)
{
    unsigned k;
    if (l >= 128 || class_has(l, 'a') < 0) {
        set_add(s, (unsigned char)l);
        return;
    }
    if (!c->have_cls[l]) {
        memset(&c->cls[l], 0, sizeof c->cls[l]);
        for (k = 0; k < 256; k++)
            if (class_has(l, (int)k) != (isupper(l) != 0)) set_add(&c->cls[l], k);
        c->have_cls[l] = 1;
    }
    for (k = 0; k < sizeof s->b; k++) s->b[k] |= c->cls[l].b[k];
}

static item *emit(compiler *c, int op, size_t where)
{
    item *it = c->items ? &c->items[c->nitems] : &c->scratch_item;
    memset(it, 0, sizeof *it);
    it->op = (uint8_t)op;
    it->where = (uint32_t)where;
    c->nitems++;
    return it;
}

static bits *new_set(compiler *c, item *it)
{
    bits *s = c->sets ? &c->sets[c->nsets] : &c->scratch_set;
    memset(s, 0, sizeof *s);
    it->set = c->nsets++;
    return s;
}

/* Parses the bracket set starting at p[i] == '['; returns the offset past
 * its ']' or 0 when it has none.  A ']' right after '[' or "[^" is a member;
 * a '-' between two members (the second not the closing ']') makes a range;
 * %x is a class or an escaped byte and never begins a range. */
static size_t parse_bracket(compiler *c, size_t i, bits *s)
{
    size_t k = i + 1, close;
    int negate = 0;
    unsigned b;
    if (k < c->len && c->p[k] == '^') {
        negate = 1;
        k++;
    }
    /* find the closing ']': the first member is never it, and an escaped
     * byte is never it */
    close = k;
    do {
        if (close >= c->len) return 0;
        if (c->p[close] == ESC) close++;
        close++;
    } while (close < c->len && c->p[close] != ']');
    if (close >= c->len) return 0;
    while (k < close) {
        unsigned char ch = (unsigned char)c->p[k];
        if (ch == ESC) {
            set_add_escape(c, s, (unsigned char)c->p[k + 1]);
            k += 2;
        } else if (k + 2 < close && c->p[k + 1] == '-') {
            for (b = ch; b <= (unsigned char)c->p[k + 2]; b++) set_add(s, b);
            k += 3;
        } else {
            set_add(s, ch);
            k++;
        }
    }
    if (negate)
        for (b = 0; b < 32; b++) s->b[b] = (uint8_t)~s->b[b];
    return close + 1;
}

static void compile_error(compiler *c, size_t where, int code)
{
    item *it = emit(c, OP_ERROR, where);
    it->x = (uint8_t)code;
}

static void compile(compiler *c, int allow_anchor, int *anchored)
{
    size_t i = 0;
    *anchored = 0;
    if (allow_anchor && c->len > 0 && c->p[0] == '^') {
        *anchored = 1;
        i = 1;
    }
    while (i < c->len) {
        unsigned char ch = (unsigned char)c->p[i];
        size_t start = i;
        item *it;
        bits *s;
        if (ch == '(') {
            if (i + 1 < c->len && c->p[i + 1] == ')') {
                emit(c, OP_POS, i);
                i += 2;
            } else {
                emit(c, OP_OPEN, i);
                i++;
            }
            continue;
        }
        if (ch == ')') {
            emit(c, OP_CLOSE, i++);
            continue;
        }
        if (ch == '$' && i + 1 == c->len) {
            emit(c, OP_EOS, i++);
            continue;
        }
        if (ch == ESC && i + 1 < c->len) {
            unsigned char e = (unsigned char)c->p[i + 1];
            if (e == 'b') {
                if (i + 3 >= c->len) {
                    compile_error(c, i, PE_BAL_ARGS);
                    return;
                }
                it = emit(c, OP_BAL, i);
                it->x = (uint8_t)c->p[i + 2];
                it->y = (uint8_t)c->p[i + 3];
                i += 4;
                continue;
            }
            if (e == 'f') {
                size_t next;
                if (i + 2 >= c->len || c->p[i + 2] != '[') {
                    compile_error(c, i, PE_FRONT_BRACKET);
                    return;
                }
                it = emit(c, OP_FRONT, i);
                s = new_set(c, it);
                if (!(next = parse_bracket(c, i + 2, s))) {
                    c->nitems--;
                    compile_error(c, i, PE_NO_BRACKET);
                    return;
                }
                i = next;
                continue;
            }
            if (isdigit(e)) {
                it = emit(c, OP_BACKREF, i);
                it->x = e;
                i += 2;
                continue;
            }
        }
        /* one byte from a set, maybe repeated */
        it = emit(c, OP_BYTE, i);
        s = new_set(c, it);
        if (ch == '.') {
            memset(s->b, 0xff, sizeof s->b);
            i++;
        } else if (ch == ESC) {
            if (i + 1 >= c->len) {
                c->nitems--;
                compile_error(c, i, PE_END_ESC);
                return;
            }
            set_add_escape(c, s, (unsigned char)c->p[i + 1]);
            i += 2;
        } else if (ch == '[') {
            size_t next = parse_bracket(c, i, s);
            if (!next) {
                c->nitems--;
                compile_error(c, start, PE_NO_BRACKET);
                return;
            }
            i = next;
        } else {
            set_add(s, ch);
            i++;
        }
        if (i < c->len) {
            switch (c->p[i]) {
            case '*': it->rep = REP_STAR, i++; break;
            case '+': it->rep = REP_PLUS, i++; break;
            case '-': it->rep = REP_LAZY, i++; break;
            case '?': it->rep = REP_OPT, i++; break;
            default: break;
            }
        }
    }
}

static unsigned set_count(const bits *s)
{
    unsigned n = 0, i;
    for (i = 0; i < sizeof s->b; i++) n += (unsigned)__builtin_popcount(s->b[i]);
    return n;
}

/* Picks the skip byte: among the items that each match exactly one byte
 * from the start of the pattern (and a first '+' repetition, which needs one
 * byte where it begins), the one with the smallest set. */
static void choose_skip(prog *pg)
{
    uint32_t i, best = 257;
    pg->skip_set = -1;
    pg->skip_off = 0;
    for (i = 0; i < pg->nitems; i++) {
        const item *it = &pg->items[i];
        unsigned n;
        if (it->op != OP_BYTE || (it->rep != REP_ONE && it->rep != REP_PLUS)) break;
        n = set_count(&pg->sets[it->set]);
        if (n < best) {
            best = n;
            pg->skip_set = (int32_t)it->set;
            pg->skip_off = i;
        }
        if (it->rep != REP_ONE) break;
    }
}

/* Compiles p for a match and leaves the program, a userdata, on the stack. */
static prog *push_prog(lua_State *L, const char *p, size_t lp, int allow_anchor)
{
    compiler c;
    prog *pg;
    size_t size;
    int anchored;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.len = lp;
    if (lp > UINT32_MAX / 2) luaL_error(L, "pattern too long");
    compile(&c, allow_anchor, &anchored);
    size = sizeof(prog) + c.nitems * (sizeof(item) + sizeof(choice) + 1) + c.nsets * sizeof(bits) + 16;
    pg = lua_newuserdatauv(L, size, 0);
    pg->nitems = c.nitems;
    pg->nsets = c.nsets;
    pg->anchored = anchored;
    pg->stack = (choice *)(pg + 1);
    pg->items = (item *)(pg->stack + c.nitems);
    pg->sets = (bits *)(pg->items + c.nitems);
    pg->trail = (int8_t *)(pg->sets + c.nsets);
    c.items = pg->items;
    c.sets = pg->sets;
    c.nitems = c.nsets = 0;
    compile(&c, allow_anchor, &anchored);
    choose_skip(pg);
    /* compiling is work too: one step per item, like trying it */
    for (size = pg->nitems; size >= ETWL_MATCH_STEP_CHUNK; size -= ETWL_MATCH_STEP_CHUNK) etwl_lua_match_steps(L);
    return pg;
}

/* find and match compile each pattern once per Lua state: rules call
 * c:find("%s[-/]w%a*") for every event, and compiling cost more than most
 * matches.  Safe to share because find and match never run Lua while they
 * use the program (a raise from the step counter leaves it to be
 * reinitialised by the next init_state); gmatch and gsub, which can, keep
 * compiling their own.  Bounded: patterns of at most PAT_CACHE_LEN bytes
 * (Lua's short, interned strings), at most PAT_CACHE_MAX of them, the cache
 * emptied when full, so scripts that build patterns from event data cannot
 * make it grow. */
#define PAT_CACHE_LEN 40
#define PAT_CACHE_MAX 512
#define PAT_CACHE_KEY "etwl.pattern_cache"

static const prog *cached_prog(lua_State *L, int pidx, const char *p, size_t lp)
{
    const prog *pg;
    lua_Integer n;
    if (lp > PAT_CACHE_LEN) return push_prog(L, p, lp, 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, PAT_CACHE_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 64);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, PAT_CACHE_KEY);
    }
    lua_pushvalue(L, pidx);
    if (lua_rawget(L, -2) == LUA_TUSERDATA) {
        pg = lua_touserdata(L, -1);
        lua_remove(L, -2); /* the table; the program stays on the stack */
        return pg;
    }
    lua_pop(L, 1);
    lua_rawgeti(L, -1, 0); /* how many it holds */
    n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (n >= PAT_CACHE_MAX) { /* full: start again */
        lua_pop(L, 1);
        lua_createtable(L, 0, 64);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, PAT_CACHE_KEY);
        n = 0;
    }
    pg = push_prog(L, p, lp, 1);
    lua_pushvalue(L, pidx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_pushinteger(L, n + 1);
    lua_rawseti(L, -3, 0);
    lua_remove(L, -2); /* the table */
    return pg;
}

/* ---- matching ---------------------------------------------------------- */

static void steps(mstate *m, unsigned n)
{
    m->steps += n;
    while (m->steps >= ETWL_MATCH_STEP_CHUNK) {
        m->steps -= ETWL_MATCH_STEP_CHUNK;
        etwl_lua_match_steps(m->L);
    }
}

static void raise_syntax(mstate *m, const item *it)
{
    static const char *const what[] = {
        [PE_END_ESC] = "malformed pattern (ends with '%%')",
        [PE_NO_BRACKET] = "malformed pattern (missing ']' at offset %d)",
        [PE_BAL_ARGS] = "malformed pattern (missing arguments to '%%b' at offset %d)",
        [PE_FRONT_BRACKET] = "malformed pattern (missing '[' after '%%f' at offset %d)",
    };
    luaL_error(m->L, what[it->x], (int)it->where + 1);
}

/* How many times (up to max) item it matches from s on. */
static size_t count_run(mstate *m, const bits *set, const char *s, size_t max)
{
    size_t n = 0, avail = (size_t)(m->end - s);
    if (max > avail) max = avail;
    while (n < max && set_has(set, (unsigned char)s[n])) {
        n++;
        if ((n & 63) == 0) steps(m, 64);
    }
    return n;
}

/* The first start from `at` on where the skip byte is present, or NULL when
 * there is none.  Each start skipped is charged the one step that trying
 * it would have cost, so the budget sees the same work either way. */
static const char *skip_to(mstate *m, const char *at)
{
    const prog *pg = m->pg;
    const bits *set = &pg->sets[pg->skip_set];
    size_t off = pg->skip_off;
    const char *from = at, *last = (size_t)(m->end - at) > off ? m->end - off : at;
    size_t skipped;
    while (at < last && !set_has(set, (unsigned char)at[off])) at++;
    /* no start at or after `last` has the byte: every one up to the end
     * (the end itself included, where an empty match would be tried) fails */
    skipped = at < last ? (size_t)(at - from) : (size_t)(m->end - from) + 1;
    for (; skipped >= ETWL_MATCH_STEP_CHUNK; skipped -= ETWL_MATCH_STEP_CHUNK) steps(m, ETWL_MATCH_STEP_CHUNK);
    steps(m, (unsigned)skipped);
    return at < last ? at : NULL;
}

/* Matches the program from s; returns the end of the match or NULL. */
static const char *run(mstate *m, const char *s)
{
    const prog *pg = m->pg;
    uint32_t i = 0, nstack = 0, ntrail = 0;
    m->ncap = 0;
    for (;;) {
        const item *it;
        if (i == pg->nitems) return s;
        it = &pg->items[i];
        steps(m, 1);
        switch (it->op) {
        case OP_BYTE: {
            const bits *set = &pg->sets[it->set];
            size_t n;
            switch (it->rep) {
            case REP_ONE:
                if (s < m->end && set_has(set, (unsigned char)*s)) {
                    s++;
                    i++;
                    continue;
                }
                goto fail;
            case REP_LAZY: {
                choice *ch = &pg->stack[nstack++];
                ch->it = i;
                ch->trail = ntrail;
                ch->at = s;
                ch->n = ch->least = 0;
                i++;
                continue;
            }
            default: {
                size_t least = it->rep == REP_PLUS ? 1 : 0;
                n = count_run(m, set, s, it->rep == REP_OPT ? 1 : (size_t)-1);
                if (n < least) goto fail;
                if (n > least) {
                    choice *ch = &pg->stack[nstack++];
                    ch->it = i;
                    ch->trail = ntrail;
                    ch->at = s;
                    ch->n = n;
                    ch->least = least;
                }
                s += n;
                i++;
                continue;
            }
            }
        }
        case OP_OPEN:
        case OP_POS:
            if (m->ncap >= MAX_CAPTURES) {
                luaL_error(m->L, "too many captures in pattern (the limit is %d)", MAX_CAPTURES);
                return NULL;
            }
            m->cap[m->ncap].start = s;
            m->cap[m->ncap].len = it->op == OP_POS ? CAP_POS : CAP_OPEN;
            m->ncap++;
            pg->trail[ntrail++] = -1;
            i++;
            continue;
        case OP_CLOSE: {
            int k = m->ncap - 1;
            while (k >= 0 && m->cap[k].len != CAP_OPEN) k--;
            if (k < 0) {
                luaL_error(m->L, "invalid pattern capture (')' at offset %d closes no capture)", (int)it->where + 1);
                return NULL;
            }
            m->cap[k].len = s - m->cap[k].start;
            pg->trail[ntrail++] = (int8_t)k;
            i++;
            continue;
        }
        case OP_BAL: {
            const char *q;
            size_t depth = 1;
            if (s >= m->end || (unsigned char)*s != it->x) goto fail;
            /* the closing delimiter is tested first, so %bxx pairs x's */
            for (q = s + 1;; q++) {
                if (q >= m->end) goto fail;
                if ((unsigned char)*q == it->y) {
                    if (--depth == 0) break;
                } else if ((unsigned char)*q == it->x) {
                    depth++;
                }
                if (((q - s) & 63) == 0) steps(m, 64);
            }
            s = q + 1;
            i++;
            continue;
        }
        case OP_FRONT: {
            const bits *set = &pg->sets[it->set];
            unsigned before = s > m->subj ? (unsigned char)s[-1] : 0;
            unsigned here = s < m->end ? (unsigned char)*s : 0;
            if (set_has(set, before) || !set_has(set, here)) goto fail;
            i++;
            continue;
        }
        case OP_BACKREF: {
            int k = it->x - '1';
            size_t len;
            if (k < 0 || k >= m->ncap || m->cap[k].len == CAP_OPEN) {
                luaL_error(m->L, "invalid capture index %%%d in pattern (at offset %d)", k + 1, (int)it->where + 1);
                return NULL;
            }
            if (m->cap[k].len == CAP_POS) goto fail; /* a position is no text: it never matches */
            len = (size_t)m->cap[k].len;
            steps(m, (unsigned)(len / 16 < 65536 ? len / 16 : 65536));
            if ((size_t)(m->end - s) < len || memcmp(m->cap[k].start, s, len) != 0) goto fail;
            s += len;
            i++;
            continue;
        }
        case OP_EOS:
            if (s != m->end) goto fail;
            i++;
            continue;
        default: raise_syntax(m, it); return NULL;
        }
    fail:
        /* resume from the newest choice point that has an alternative left */
        for (;;) {
            choice *ch;
            const item *rit;
            if (nstack == 0) return NULL;
            steps(m, 1);
            ch = &pg->stack[nstack - 1];
            while (ntrail > ch->trail) {
                int8_t t = pg->trail[--ntrail];
                if (t < 0) m->ncap--;
                else m->cap[t].len = CAP_OPEN;
            }
            rit = &pg->items[ch->it];
            if (rit->rep == REP_LAZY) {
                /* take one more repetition, if the next byte allows */
                if (ch->at < m->end && set_has(&pg->sets[rit->set], (unsigned char)*ch->at)) {
                    s = ++ch->at;
                    i = ch->it + 1;
                    break;
                }
                nstack--;
                continue;
            }
            /* greedy: give one repetition back */
            ch->n--;
            s = ch->at + ch->n;
            i = ch->it + 1;
            if (ch->n == ch->least) nstack--;
            break;
        }
    }
}

/* ---- the library functions --------------------------------------------- */

/* A start position as string.find and the others take it: negative counts
 * from the end, 0 and anything before the start mean 1. */
static size_t start_pos(lua_Integer pos, size_t len)
{
    if (pos > 0) return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len) return 1;
    return (size_t)((lua_Integer)len + pos + 1);
}

static void init_state(mstate *m, lua_State *L, const prog *pg, const char *s, size_t ls)
{
    memset(m, 0, sizeof *m);
    m->L = L;
    m->pg = pg;
    m->subj = s;
    m->end = s + ls;
}

/* Pushes capture k of a match [s, e); with no captures, k == 0 is the
 * whole match. */
static void push_capture(mstate *m, int k, const char *s, const char *e)
{
    if (k >= m->ncap) {
        if (k != 0) luaL_error(m->L, "invalid capture index %%%d (the pattern has %d captures)", k + 1, m->ncap);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    if (m->cap[k].len == CAP_OPEN) luaL_error(m->L, "unfinished capture (a '(' without its ')')");
    if (m->cap[k].len == CAP_POS) lua_pushinteger(m->L, (lua_Integer)(m->cap[k].start - m->subj) + 1);
    else lua_pushlstring(m->L, m->cap[k].start, (size_t)m->cap[k].len);
}

/* Pushes all captures of a match; with none, the whole match unless
 * whole_if_none is 0.  Returns how many values it pushed. */
static int push_all(mstate *m, const char *s, const char *e, int whole_if_none)
{
    int n = m->ncap == 0 && whole_if_none ? 1 : m->ncap, k;
    luaL_checkstack(m->L, n, "too many captures");
    for (k = 0; k < n; k++) push_capture(m, k, s, e);
    return n;
}

/* The bytes that make a pattern more than a literal for string.find. */
static int has_magic(const char *p, size_t lp)
{
    size_t i;
    for (i = 0; i < lp; i++)
        if (p[i] && strchr("^$*+?.([%-", p[i])) return 1;
    return 0;
}

/* A plain substring search from s for p. */
static const char *find_plain(const char *s, size_t ls, const char *p, size_t lp)
{
    const char *end = s + ls;
    if (lp == 0) return s;
    while ((size_t)(end - s) >= lp) {
        const char *q = memchr(s, p[0], (size_t)(end - s) - lp + 1);
        if (!q) return NULL;
        if (memcmp(q, p, lp) == 0) return q;
        s = q + 1;
    }
    return NULL;
}

static int find_or_match(lua_State *L, int find)
{
    size_t ls, lp, init;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *at;
    mstate m;
    const prog *pg;
    init = start_pos(luaL_optinteger(L, 3, 1), ls);
    if (init > ls + 1) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_magic(p, lp))) {
        const char *q = find_plain(s + init - 1, ls - (init - 1), p, lp);
        if (!q) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (lua_Integer)(q - s) + 1);
        lua_pushinteger(L, (lua_Integer)(q - s) + (lua_Integer)lp);
        return 2;
    }
    pg = cached_prog(L, 2, p, lp);
    init_state(&m, L, pg, s, ls);
    for (at = s + init - 1;; at++) {
        const char *e;
        if (!pg->anchored && pg->skip_set >= 0 && !(at = skip_to(&m, at))) break;
        e = run(&m, at);
        if (e) {
            if (!find) return push_all(&m, at, e, 1);
            lua_pushinteger(L, (lua_Integer)(at - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            return push_all(&m, at, e, 0) + 2;
        }
        if (pg->anchored || at >= m.end) break;
    }
    luaL_pushfail(L);
    return 1;
}

static int s_find(lua_State *L) { return find_or_match(L, 1); }
static int s_match(lua_State *L) { return find_or_match(L, 0); }

/* gmatch's iterator.  Upvalues: the subject, the pattern, the program and
 * a userdata holding the next start offset and the end of the last match
 * (-1 before the first): an empty match where the last one ended is not a
 * new match. */
typedef struct gm_pos {
    size_t next;
    ptrdiff_t last;
} gm_pos;

static int gmatch_next(lua_State *L)
{
    size_t ls;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const prog *pg = lua_touserdata(L, lua_upvalueindex(3));
    gm_pos *g = lua_touserdata(L, lua_upvalueindex(4));
    mstate m;
    init_state(&m, L, pg, s, ls);
    for (; g->next <= ls; g->next++) {
        const char *e = run(&m, s + g->next);
        if (e && e - s != g->last) {
            const char *at = s + g->next;
            g->next = (size_t)(e - s);
            g->last = e - s;
            return push_all(&m, at, e, 1);
        }
    }
    return 0;
}

static int s_gmatch(lua_State *L)
{
    size_t ls, lp, init;
    const char *p;
    gm_pos *g;
    luaL_checklstring(L, 1, &ls);
    p = luaL_checklstring(L, 2, &lp);
    init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    /* the manual: a '^' in gmatch would stop the iteration, so it is no
     * anchor here (it matches itself) */
    push_prog(L, p, lp, 0);
    g = lua_newuserdatauv(L, sizeof *g, 0);
    g->next = init > ls ? ls + 1 : init;
    g->last = -1;
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/* Appends the replacement of match [s, e) to b. */
static void add_replacement(mstate *m, luaL_Buffer *b, const char *s, const char *e, int kind)
{
    lua_State *L = m->L;
    if (kind == LUA_TSTRING || kind == LUA_TNUMBER) {
        size_t lr, k;
        const char *r = lua_tolstring(L, 3, &lr);
        for (k = 0; k < lr; k++) {
            char c = r[k];
            if (c != ESC) {
                luaL_addchar(b, c);
                continue;
            }
            c = ++k < lr ? r[k] : '\0';
            if (c == ESC) {
                luaL_addchar(b, ESC);
            } else if (c == '0') {
                luaL_addlstring(b, s, (size_t)(e - s));
            } else if (c >= '1' && c <= '9') {
                push_capture(m, c - '1', s, e);
                luaL_tolstring(L, -1, NULL); /* a position capture is a number */
                lua_remove(L, -2);
                luaL_addvalue(b);
            } else {
                luaL_error(L, "invalid use of '%c' in replacement string", ESC);
            }
        }
        return;
    }
    if (kind == LUA_TFUNCTION) {
        int n;
        lua_pushvalue(L, 3);
        n = push_all(m, s, e, 1);
        lua_call(L, n, 1);
    } else {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    }
    if (!lua_toboolean(L, -1)) {
        /* nil or false: the match stays as it was */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int s_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int kind = lua_type(L, 3);
    lua_Integer max_n, n = 0;
    const char *at, *last = NULL;
    const prog *pg;
    mstate m;
    luaL_Buffer b;
    luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE, 3,
                     "string/function/table");
    max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    pg = push_prog(L, p, lp, 1);
    init_state(&m, L, pg, s, ls);
    luaL_buffinit(L, &b);
    at = s;
    while (n < max_n) {
        const char *e = run(&m, at);
        if (e && e != last) {
            n++;
            add_replacement(&m, &b, at, e, kind);
            at = last = e;
        } else if (at < m.end) {
            luaL_addchar(&b, *at++);
        } else {
            break;
        }
        if (pg->anchored) break;
    }
    luaL_addlstring(&b, at, (size_t)(m.end - at));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

/* Replaces the four functions in the global string table: the sandbox's
 * private copies and the string metatable's __index both come from it. */
void etwl_lua_bounded_patterns(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"find", s_find}, {"match", s_match}, {"gmatch", s_gmatch}, {"gsub", s_gsub}, {NULL, NULL}};
    lua_getglobal(L, "string");
    luaL_setfuncs(L, f, 0);
    lua_pop(L, 1);
}
