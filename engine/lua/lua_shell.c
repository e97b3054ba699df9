/* lua_shell.c - the Lua side of `etwlua shell`.
 *
 * Typed lines run as chunks in one environment that lives as long as the
 * shell (the scripts' sandbox unless --unsafe), through the one protected
 * call, with the same instruction budget, wall-clock limit and memory cap
 * as a handler.  The builtins move through the trace by asking the CLI for
 * the next event (etwl_shell_ops); each move expires the previous `ev` the
 * way the end of a handler does (x->cur, x->cur_seq), so an event kept in
 * a local fails loudly once the shell has moved on. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "lua/lua_int.h"
#include "output/output.h"

struct etwl_lua_shell {
    etwl_shell_ops ops;
    int env_ref;
    etwl_handler find; /* find{}'s compiled filter, reused */
    int in_where;      /* find's `where` runs: a nested find would replace the filter */
};

#define MAX_SKIP ((lua_Integer)1 << 40)
#define MAX_TABLE_ITEMS 40

void etwl_lua_shell_free(etwl_lua *x)
{
    if (!x->shell) return;
    etwl_filter_free(&x->shell->find.filter);
    free(x->shell);
    x->shell = NULL;
}

/* ev = the current event, or nil at the end */
static void set_ev_global(lua_State *L, etwl_lua *x)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->shell->env_ref);
    lua_pushliteral(L, "ev");
    if (x->cur) etwl_lua_push_event(L, x, x->cur);
    else lua_pushnil(L);
    lua_rawset(L, -3); /* raw: an --unsafe _G may carry the user's metatable */
    lua_pop(L, 1);
}

/* One step: expires the current event first, whatever the outcome.
 * Returns 1 on an event, 0 at the end; raises on a read error or Ctrl-C. */
static int step(lua_State *L, etwl_lua *x)
{
    etwl_event *ev = NULL;
    etwl_error err;
    etwl_status st;
    x->cur = NULL;
    memset(&err, 0, sizeof err);
    st = x->shell->ops.next(x->shell->ops.ctx, &ev, &err);
    /* waiting for a live event is not the line's work; the instruction
     * budget still counts all of it */
    etwl_lua_rearm_clock(x);
    if (st == ETWL_OK && ev) {
        etwl_proctab_observe(x->procs, ev, &x->pe); /* for ev.process */
        x->cur = ev;
        x->cur_seq = ++x->dispatch_seq;
    }
    set_ev_global(L, x);
    if (st == ETWL_ESTOPPED) return luaL_error(L, "interrupted (Ctrl-C)");
    if (st != ETWL_OK) return luaL_error(L, "reading the trace failed: %s", err.message);
    return ev != NULL;
}

static int push_ev_result(lua_State *L, etwl_lua *x)
{
    etwl_lua_rearm_clock(x);
    if (x->cur) etwl_lua_push_event(L, x, x->cur);
    else lua_pushnil(L);
    return 1;
}

/* next() moves on; next(t [, k]) is Lua's next, so pairs-style code in a
 * typed line keeps working */
static int l_next(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_settop(L, 2);
        return lua_next(L, 1) ? 2 : (lua_pushnil(L), 1);
    }
    if (!lua_isnoneornil(L, 1)) return luaL_argerror(L, 1, "next() takes no argument (or a table, as Lua's next)");
    step(L, x);
    return push_ev_result(L, x);
}

static int l_skip(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    lua_Integer n = luaL_optinteger(L, 1, 1), i;
    luaL_argcheck(L, n >= 0 && n <= MAX_SKIP, 1, "skip(n) takes a count of events, 0 or more");
    for (i = 0; i < n; i++)
        if (!step(L, x)) break;
    return push_ev_result(L, x);
}

/* find{filter}: the next event the etw.on filter passes (`where` included),
 * starting after the current one; nil at the end */
static int l_find(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    struct etwl_lua_shell *sh = x->shell;
    etwl_handler *h = &sh->find;
    int where = 0;
    luaL_checktype(L, 1, LUA_TTABLE);
    if (sh->in_where) return luaL_error(L, "find{} cannot run inside find's where function");
    lua_settop(L, 1);
    etwl_filter_free(&h->filter);
    memset(h, 0, sizeof *h);
    etwl_filter_init(&h->filter);
    h->fn_ref = h->where_ref = LUA_NOREF;
    etwl_lua_compile_filter(L, 1, h);
    if (h->where_ref != LUA_NOREF) { /* kept on the stack: nothing leaks if it raises */
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->where_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, h->where_ref);
        h->where_ref = LUA_NOREF;
        where = lua_gettop(L);
    }
    while (step(L, x)) {
        const char *pname = NULL;
        if (h->filter.mask & ETWL_F_PROCESS) {
            const etwl_proc *p = etwl_proctab_find(x->procs, etwl_proc_subject(&x->pe), x->cur->hdr.ts);
            pname = p ? p->name : NULL;
        }
        if (!etwl_filter_match(&h->filter, x->cur, pname)) continue;
        if (where) {
            int keep;
            lua_pushvalue(L, where);
            etwl_lua_push_event(L, x, x->cur);
            sh->in_where = 1; /* cleared here, or by the next line after an error */
            lua_call(L, 1, 1);
            sh->in_where = 0;
            keep = lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (!keep) continue;
        }
        break;
    }
    return push_ev_result(L, x);
}

static void write_out(etwl_lua *x, const etwl_buf *b)
{
    if (!b->oom && b->len) fwrite(b->data, 1, b->len, x->shell->ops.out);
}

/* show([ev]): the event as one readable line, then its properties one a
 * line (escaped: they are the trace's, possibly hostile, strings) */
static int l_show(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_event *ev;
    uint32_t i, n;
    etwl_buf b;
    if (lua_isnoneornil(L, 1)) {
        if (!x->cur) return luaL_error(L, "no current event (at the end of the trace)");
        ev = x->cur;
    } else {
        ev = etwl_lua_check_event(L, 1); /* raises when expired */
    }
    etwl_buf_init(&b);
    etwl_event_write_text(ev, &b);
    etwl_buf_putc(&b, '\n');
    n = etwl_event_prop_count(ev);
    for (i = 0; i < n; i++) {
        uint32_t len;
        const char *name = etwl_event_prop_name(ev, i, &len);
        etwl_buf_puts(&b, "  ");
        etwl_text_put_controls_escaped(&b, name, len);
        etwl_buf_puts(&b, " = ");
        lua_settop(L, 1);
        etwl_lua_push_value(L, etwl_event_prop(ev, i), 0);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t sl;
            const char *s = lua_tolstring(L, -1, &sl);
            etwl_text_put_controls_escaped(&b, s, sl);
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            etwl_buf_puts(&b, "(table)");
        } else {
            size_t sl;
            const char *s = luaL_tolstring(L, -1, &sl);
            etwl_text_put_controls_escaped(&b, s, sl);
        }
        lua_pop(L, 1);
        etwl_buf_putc(&b, '\n');
    }
    write_out(x, &b);
    etwl_buf_free(&b);
    return 0;
}

static int l_tree(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    etwl_buf b;
    int has = !lua_isnoneornil(L, 1);
    lua_Integer pid = has ? luaL_checkinteger(L, 1) : 0;
    luaL_argcheck(L, pid >= 0 && pid <= 0xffffffffLL, 1, "tree(pid) takes a process id");
    etwl_buf_init(&b);
    x->shell->ops.tree(x->shell->ops.ctx, has, (uint32_t)pid, &b);
    write_out(x, &b);
    etwl_buf_free(&b);
    return 0;
}

static void put_stat(void *u, const char *name, uint64_t v)
{
    lua_State *L = u;
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, name);
}

static int l_stats(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    lua_newtable(L);
    x->shell->ops.stats(x->shell->ops.ctx, put_stat, L);
    return 1;
}

/* run(what) and sigma(path) read the rest of the trace: afterwards the
 * shell is at its end */
static int over_rest(lua_State *L, etwl_status (*fn)(void *, const char *, int *, etwl_error *))
{
    etwl_lua *x = etwl_lua_host(L);
    const char *what = luaL_checkstring(L, 1);
    etwl_error err;
    etwl_status st;
    int moved = 0;
    memset(&err, 0, sizeof err);
    st = fn(x->shell->ops.ctx, what, &moved, &err);
    if (moved) { /* at the end now (or where Ctrl-C stopped it): ev is gone */
        x->cur = NULL;
        set_ev_global(L, x);
    }
    etwl_lua_rearm_clock(x);
    if (st == ETWL_ESTOPPED) return luaL_error(L, "interrupted (Ctrl-C)");
    if (st != ETWL_OK) return luaL_error(L, "%s", err.message);
    return 0;
}

static int l_run(lua_State *L) { return over_rest(L, etwl_lua_host(L)->shell->ops.run); }
static int l_sigma(lua_State *L) { return over_rest(L, etwl_lua_host(L)->shell->ops.sigma); }

static const char help_text[] =
    "  ev               the current event (valid until the next move; nil at the end)\n"
    "  next()           move to the next event; returns it\n"
    "  skip(n)          move n events on\n"
    "  find{filter}     move to the next event the etw.on filter passes\n"
    "                   (provider, id, opcode, task, version, level, keyword_any,\n"
    "                   keyword_all, pid, process, where)\n"
    "  show([ev])       the event and its properties\n"
    "  tree([pid])      the process tree of the events seen so far\n"
    "  stats()          counters: events seen, read, filtered, dropped...\n"
    "  run(what)        a script file, rules folder or rule id over the current event\n"
    "                   and the rest of the trace\n"
    "  sigma(path)      Sigma rules (a file or folder) over the current event and the rest\n"
    "  Tab completes globals, ev.<field>, ev.info.<property>; Ctrl-D exits.\n";

static int l_help(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    fputs(help_text, x->shell->ops.out);
    return 0;
}

static const luaL_Reg builtins[] = {{"next", l_next}, {"skip", l_skip},   {"find", l_find}, {"show", l_show},
                                    {"tree", l_tree}, {"stats", l_stats}, {"run", l_run},   {"sigma", l_sigma},
                                    {"help", l_help}, {NULL, NULL}};

etwl_status etwl_lua_shell_open(etwl_lua *x, const etwl_shell_ops *ops, etwl_error *err)
{
    lua_State *L = x->L;
    struct etwl_lua_shell *sh = calloc(1, sizeof *sh);
    if (!sh) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    sh->ops = *ops;
    if (!sh->ops.out) sh->ops.out = stdout;
    etwl_filter_init(&sh->find.filter);
    x->shell = sh;
    /* set up before the cap applies, as the host's own setup is */
    x->mem_enforce = 0;
    etwl_lua_push_sandbox_env(L, x);
    luaL_setfuncs(L, builtins, 0);
    sh->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    x->mem_enforce = 1;
    return ETWL_OK;
}

/* ---- typed lines ----------------------------------------------------------- */

/* One value as the prompt shows it, cut at ETWL_LUA_FIELD_CAP: controls
 * and bidi characters escaped (a property may hold terminal sequences),
 * backslashes and quotes as they are, so paths read as typed (as the
 * process tree shows them). */
static void render(lua_State *L, int idx, etwl_buf *b, int nested)
{
    size_t n;
    const char *s;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE && !nested && !luaL_getmetafield(L, idx, "__tostring")) {
        int k = 0;
        etwl_buf_puts(b, "{");
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (k++ == MAX_TABLE_ITEMS) {
                lua_pop(L, 2);
                etwl_buf_puts(b, ", ...");
                break;
            }
            if (k > 1) etwl_buf_puts(b, ", ");
            if (lua_type(L, -2) == LUA_TSTRING) {
                s = lua_tolstring(L, -2, &n);
                etwl_text_put_controls_escaped(b, s, n > ETWL_LUA_FIELD_CAP ? ETWL_LUA_FIELD_CAP : n);
            } else {
                etwl_buf_puts(b, "[");
                render(L, -2, b, 1);
                etwl_buf_puts(b, "]");
            }
            etwl_buf_puts(b, " = ");
            if (lua_type(L, -1) == LUA_TSTRING) etwl_buf_putc(b, '"');
            render(L, -1, b, 1);
            if (lua_type(L, -1) == LUA_TSTRING) etwl_buf_putc(b, '"');
            lua_pop(L, 1);
        }
        etwl_buf_puts(b, "}");
        return;
    }
    if (lua_type(L, idx) == LUA_TTABLE && !nested) lua_pop(L, 1); /* the __tostring */
    s = luaL_tolstring(L, idx, &n);
    /* an event's line comes from the engine's text writer, escaped already */
    if (lua_type(L, idx) == LUA_TLIGHTUSERDATA) etwl_buf_put(b, s, n > ETWL_LUA_FIELD_CAP ? ETWL_LUA_FIELD_CAP : n);
    else etwl_text_put_controls_escaped(b, s, n > ETWL_LUA_FIELD_CAP ? ETWL_LUA_FIELD_CAP : n);
    if (n > ETWL_LUA_FIELD_CAP) etwl_buf_printf(b, "\xe2\x80\xa6[truncated %zu bytes]", n - ETWL_LUA_FIELD_CAP);
    lua_pop(L, 1);
}

/* Runs the chunk at 1 and prints what it returned - inside the protected
 * call, since a __tostring is the user's code too. */
static int exec(lua_State *L)
{
    etwl_lua *x = etwl_lua_host(L);
    int i, n;
    etwl_buf b;
    lua_call(L, 0, LUA_MULTRET);
    n = lua_gettop(L);
    if (!n) return 0;
    etwl_buf_init(&b);
    for (i = 1; i <= n; i++) {
        if (i > 1) etwl_buf_putc(&b, '\t');
        render(L, i, &b, 0);
        if (b.len > ETWL_LUA_ALERT_CAP) break;
    }
    etwl_buf_putc(&b, '\n');
    write_out(x, &b);
    etwl_buf_free(&b);
    return 0;
}

static void print_error(etwl_lua *x, const char *msg, size_t n)
{
    etwl_buf b;
    const char *tb = strstr(msg, "\nstack traceback:");
    /* the traceback of a one-line chunk only repeats the shell's frames */
    if (tb && (size_t)(tb - msg) < n) n = (size_t)(tb - msg);
    etwl_buf_init(&b);
    etwl_text_put_lines(&b, msg, n, "  ");
    fflush(x->shell->ops.out);
    fprintf(x->o.err_out == x->shell->ops.out ? stderr : x->o.err_out, "error: %s\n", b.data ? b.data : "?");
    etwl_buf_free(&b);
}

int etwl_lua_shell_eval(etwl_lua *x, const char *code)
{
    lua_State *L = x->L;
    int top = lua_gettop(L), rc;
    size_t n = strlen(code);
    etwl_buf ret;
    /* an expression prints its values (as lua.c does): try it as one first */
    etwl_buf_init(&ret);
    etwl_buf_puts(&ret, "return ");
    etwl_buf_put(&ret, code, n);
    /* compiled outside the cap (a chunk is at most 1 MiB, so this is
     * bounded): with the cap full of the user's tables, `t = nil` must
     * still compile, or the memory could never be given back */
    x->mem_enforce = 0;
    rc = ret.oom ? LUA_ERRMEM : luaL_loadbufferx(L, ret.data, ret.len, "=stdin", "t");
    if (rc != LUA_OK) {
        lua_pop(L, 1);
        rc = luaL_loadbufferx(L, code, n, "=stdin", "t");
    }
    x->mem_enforce = 1;
    etwl_buf_free(&ret);
    if (rc != LUA_OK) {
        size_t ml;
        const char *msg = lua_tolstring(L, -1, &ml);
        int incomplete = rc == LUA_ERRSYNTAX && msg && ml >= 5 && strcmp(msg + ml - 5, "<eof>") == 0;
        if (!incomplete) print_error(x, msg ? msg : "?", msg ? ml : 1);
        lua_settop(L, top);
        return incomplete ? ETWL_SHELL_INCOMPLETE : ETWL_SHELL_ERROR;
    }
    x->shell->in_where = 0; /* no find runs between lines */
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->shell->env_ref);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    lua_pushcfunction(L, exec);
    lua_insert(L, -2);
    rc = etwl_lua_pcall(x, 1, 0, NULL);
    if (rc != LUA_OK) print_error(x, x->buf.data ? x->buf.data : "?", x->buf.data ? x->buf.len : 1);
    lua_settop(L, top);
    etwl_lua_buf_trim(x);
    fflush(x->shell->ops.out);
    return rc == LUA_OK ? ETWL_SHELL_OK : ETWL_SHELL_ERROR;
}

void etwl_lua_shell_first(etwl_lua *x)
{
    etwl_lua_shell_eval(x, "if next() then show() else print('(no events)') end");
}

/* ---- completion ------------------------------------------------------------ */

typedef struct completion {
    const char *expr;
    void (*add)(const char *name, void *u);
    void *u;
} completion;

static int is_ident(const char *s, size_t n)
{
    size_t i;
    if (!n || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (i = 0; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

/* Follows expr ("", "ev", "ev.info", "string") with raw lookups only: no
 * metamethod, so completing never runs the user's code. */
static int complete_in(lua_State *L)
{
    completion *c = lua_touserdata(L, 1);
    etwl_lua *x = etwl_lua_host(L);
    const char *p = c->expr;
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->shell->env_ref);
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
            char sub[16];
            if (dot || n >= sizeof sub) return 0; /* ev.info.X.<TAB>: nothing to offer */
            memcpy(sub, p, n);
            sub[n] = 0;
            etwl_lua_event_names(L, -1, sub, c->add, c->u);
            return 0;
        }
        if (lua_type(L, -1) != LUA_TTABLE) return 0;
        lua_pushlstring(L, p, n);
        lua_rawget(L, -2);
        lua_remove(L, -2);
        p += n;
        if (*p == '.') p++;
    }
    if (lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
        etwl_lua_event_names(L, -1, NULL, c->add, c->u);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            size_t n;
            const char *k;
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING) continue;
            k = lua_tolstring(L, -1, &n);
            if (is_ident(k, n)) c->add(k, c->u);
        }
    }
    return 0;
}

void etwl_lua_shell_complete(etwl_lua *x, const char *expr, void (*add)(const char *name, void *u), void *u)
{
    completion c = {expr, add, u};
    int top = lua_gettop(x->L);
    lua_pushcfunction(x->L, complete_in);
    lua_pushlightuserdata(x->L, &c);
    etwl_lua_pcall(x, 1, 0, NULL); /* an error (memory) only means fewer candidates */
    lua_settop(x->L, top);
}
