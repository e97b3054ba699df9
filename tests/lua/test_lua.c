/* test_lua.c - the scripting layer: lazy event userdata and expiry, filter
 * compilation, handler order, sandbox, budget, memory cap, error isolation
 * and stack balance. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "sources/jsonl/json_read.h"
#include "lua/lua_int.h"
#include "output/alert.h"
#include "testlib.h"

typedef struct fx {
    etwl_lua *x;
    char *alerts, *errs;
    size_t alerts_n, errs_n;
    FILE *af, *ef;
    etwl_event ev;
    etwl_json_reader *jr;
} fx;

static fx F;

static void host_timeout(long budget, size_t mem, long timeout_ms)
{
    etwl_lua_opts o;
    etwl_error e;
    memset(&o, 0, sizeof o);
    o.handler_timeout_ms = timeout_ms;
    o.budget = budget;
    o.memory_limit = mem;
    o.alerts_json = 1;
    o.alert_out = F.af;
    o.err_out = F.ef;
    o.lua_dir = LUA_DIR;
    assert_int_equal(etwl_lua_new(&o, &F.x, &e), ETWL_OK);
}

static void host(long budget, size_t mem) { host_timeout(budget, mem, 0); }

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    F.af = open_memstream(&F.alerts, &F.alerts_n);
    F.ef = open_memstream(&F.errs, &F.errs_n);
    etwl_event_init(&F.ev);
    F.jr = etwl_json_reader_new();
    host(0, 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    etwl_lua_free(F.x);
    fclose(F.af);
    fclose(F.ef);
    free(F.alerts);
    free(F.errs);
    etwl_event_release(&F.ev);
    etwl_json_reader_free(F.jr);
    return 0;
}

static void load(const char *code)
{
    etwl_error e;
    if (etwl_lua_load_string(F.x, code, "test", &e) != ETWL_OK) {
        print_error("load failed: %s\n", e.message);
        fail();
    }
}

static etwl_status load_err(const char *code, etwl_error *e) { return etwl_lua_load_string(F.x, code, "test", e); }

/* Dispatches one JSON event and checks the Lua stack is balanced. */
static void send(const char *json)
{
    char err[256];
    int top = lua_gettop(F.x->L);
    etwl_event_begin(&F.ev);
    assert_int_equal(etwl_json_parse_event(F.jr, json, strlen(json), &F.ev, err, sizeof err), ETWL_OK);
    etwl_lua_dispatch(F.x, &F.ev);
    assert_int_equal(lua_gettop(F.x->L), top);
}

/* Reads global `name` of the script env captured by the test script. */
static const char *result(void)
{
    lua_State *L = F.x->L;
    static char buf[1024];
    lua_getfield(L, LUA_REGISTRYINDEX, "test.result");
    snprintf(buf, sizeof buf, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(nil)");
    lua_pop(L, 1);
    return buf;
}

/* The sandbox has no debug library, so tests publish results through a
 * C function installed for them. */
static int publish(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "test.result");
    return 0;
}

/* _test_append(s): appends to test.order (scripts cannot write into the
 * shared etw module, so handlers of different scripts meet here) */
static int append(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "test.order");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "");
    }
    lua_pushvalue(L, 1);
    lua_concat(L, 2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "test.order");
    return 1;
}

static void install_publish(void)
{
    lua_State *L = F.x->L;
    lua_getfield(L, LUA_REGISTRYINDEX, "etwl.loaded");
    lua_getfield(L, -1, "etw");
    lua_pushcfunction(L, publish);
    lua_setfield(L, -2, "_test_publish");
    lua_pushcfunction(L, append);
    lua_setfield(L, -2, "_test_append");
    lua_pop(L, 2);
}

#define EV(id, prov, info)                                                                                             \
    "{\"header\":{\"descriptor\":{\"id\":" #id                                                                         \
    ",\"level\":4,\"keyword\":3},\"process_id\":42,\"provider_name\":\"" prov "\"},\"info\":" info                     \
    ",\"ext\":{\"user_sid\":\"S-1-5-18\"}}"

static void test_fields_and_views(void **st)
{
    (void)st;
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on({provider='P', id=1}, function(ev)\n"
         "  local n = 0; for k, v in pairs(ev.info) do n = n + 1 end\n"
         "  etw._test_publish(table.concat({ev.id, ev.pid, ev.provider, ev.level, ev.keyword, ev.info.Cmd,\n"
         "    tostring(ev.info.Missing), ev.ext.user_sid, ev.header.pid, #ev.info, n, ev.info.Arr[2],\n"
         "    ev.info.Obj.k, tostring(ev.info.Big), type(ev:json()), ev:totable().info.Cmd}, '|'))\n"
         "end)\n");
    send(EV(1, "P", "{\"Cmd\":\"a b\",\"Arr\":[1,2],\"Obj\":{\"k\":\"v\"},\"Big\":12345678901234567890123}"));
    assert_string_equal(result(), "1|42|P|4|3|a b|nil|S-1-5-18|42|4|4|2|v|1.2345678901235e+22|string|a b");
}

/* Getters are found by the address of the interned key (lua_event.c):
 * keys made at run time, keys that only look like getters, non-string
 * keys and methods must all still come out as the names say. */
static void test_field_keys(void **st)
{
    (void)st;
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on(function(ev)\n"
         "  local p = 'p'\n"
         "  collectgarbage() -- the getter names must stay where they were\n"
         "  etw._test_publish(table.concat({ev[p .. 'id'], tostring(ev.pidx), tostring(ev[1]), tostring(ev.PID),\n"
         "    tostring(ev.header.info), ev.header['i' .. 'd'], ev.ext['user' .. '_sid'], tostring(ev.ext.pid),\n"
         "    tostring(ev.ext[2]), type(ev.json), type(ev['tot' .. 'able']), tostring(ev.info[1])}, '|'))\n"
         "end)\n");
    send(EV(7, "P", "{\"pid\":\"not the header\"}"));
    assert_string_equal(result(), "42|nil|nil|nil|nil|7|S-1-5-18|nil|nil|function|function|nil");
}

/* ev.info.X is remembered per layout (etwl_event_prop_find_cached): many
 * layouts (more than the cache has slots, so they share slots), with the
 * same names in other orders and a name some of them lack, come round
 * twice; each answer must be the event's own.  Events without a layout
 * are looked up each time. */
static void test_info_by_layout(void **st)
{
    enum { NL = 150 };
    uint64_t ids[NL];
    int round, k;
    (void)st;
    for (k = 0; k < NL; k++) {
        ids[k] = k == NL - 1 ? 0 : etwl_layout_new();
        assert_true(k == NL - 1 || (ids[k] != 0 && (k == 0 || ids[k] != ids[k - 1])));
    }
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on(function(ev)\n"
         "  etw._test_publish(table.concat({ev.info.A, ev.info.B, ev.info.C or '-'}, '|'))\n"
         "end)\n");
    for (round = 0; round < 2; round++)
        for (k = 0; k < NL; k++) {
            char info[128], json[512], err[256], want[64];
            int top = lua_gettop(F.x->L);
            if (k % 2) snprintf(info, sizeof info, "{\"B\":\"b%d\",\"C\":\"c%d\",\"A\":\"a%d\"}", k, k, k);
            else snprintf(info, sizeof info, "{\"A\":\"a%d\",\"B\":\"b%d\"}", k, k);
            snprintf(json, sizeof json, EV(1, "P", "%s"), info);
            etwl_event_begin(&F.ev);
            assert_int_equal(etwl_json_parse_event(F.jr, json, strlen(json), &F.ev, err, sizeof err), ETWL_OK);
            etwl_event_set_layout(&F.ev, ids[k]);
            etwl_lua_dispatch(F.x, &F.ev);
            assert_int_equal(lua_gettop(F.x->L), top);
            if (k % 2) snprintf(want, sizeof want, "a%d|b%d|c%d", k, k, k);
            else snprintf(want, sizeof want, "a%d|b%d|-", k, k);
            assert_string_equal(result(), want);
        }
}

static void test_expiry_through_every_path(void **st)
{
    (void)st;
    install_publish();
    load("local etw = require 'etw'\n"
         "local keep = {}\n"
         "etw.on({id=1}, function(ev)\n"
         "  keep.ev = ev; keep.info = ev.info; keep.hdr = ev.header; keep.ext = ev.ext\n"
         "  keep.iter, keep.state = pairs(ev.info); keep.json = ev.json\n"
         "end)\n"
         "etw.on({id=2}, function(ev)\n"
         "  local out = {}\n"
         "  local probes = {\n"
         "    function() return keep.ev.id end, function() return keep.info.Cmd end,\n"
         "    function() return keep.hdr.pid end, function() return keep.ext.user_sid end,\n"
         "    function() return keep.iter(keep.state) end, function() return keep.json(keep.ev) end,\n"
         "    function() return tostring(keep.ev) end, function() return keep.ev:totable() end,\n"
         "    function() for k in pairs(keep.info) do end end, function() return #keep.info end,\n"
         "    function() etw.alert{rule='r', event=keep.ev} end,\n"
         "  }\n"
         "  for i, f in ipairs(probes) do\n"
         "    local ok, err = pcall(f)\n"
         "    out[#out+1] = (not ok and tostring(err):find('expired event', 1, true)) and 'x' or ('LEAK' .. i)\n"
         "  end\n"
         "  etw._test_publish(table.concat(out))\n"
         "end)\n");
    send(EV(1, "P", "{\"Cmd\":\"first\"}"));
    send(EV(2, "P", "{\"Cmd\":\"second\"}"));
    assert_string_equal(result(), "xxxxxxxxxxx");
}

static void test_lazy_payload(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    etwl_schema *s;
    etwl_error e;
    tl_payload p;
    (void)st;
    memset(&p, 0, sizeof p);
    etwl_sb_add(b, -1, "A", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_add(b, -1, "B", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_add(b, -1, "C", ETWL_IN_UINT32, 0);
    assert_int_equal(etwl_sb_build(b, &s, &e), ETWL_OK);
    etwl_sb_free(b);
    tl_wstr(&p, "alpha", 1);
    tl_wstr(&p, "beta", 1);
    tl_u32(&p, 9);
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on(function(ev) etw._test_publish(ev.info.B) end)\n");
    etwl_event_begin(&F.ev);
    etwl_event_set_payload(&F.ev, s, p.b, p.n);
    etwl_lua_dispatch(F.x, &F.ev);
    assert_string_equal(result(), "beta");
    /* only B was decoded; A was measured, never converted; C untouched */
    assert_int_not_equal(F.ev.cache_gen[0], (uint32_t)F.ev.seq);
    assert_int_equal(F.ev.cache_gen[1], (uint32_t)F.ev.seq);
    assert_int_not_equal(F.ev.cache_gen[2], (uint32_t)F.ev.seq);
    etwl_schema_free(s);
}

static void test_filters_decide_what_reaches_lua(void **st)
{
    int top;
    (void)st;
    install_publish();
    load("local etw = require 'etw'\n"
         "local seen = {}\n"
         "local function mark(tag) return function(ev) seen[#seen+1] = tag .. ev.id end end\n"
         "etw.on({provider='microsoft-windows-kernel-process', id={1,2}}, mark('kp'))\n"
         "etw.on({provider='{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}'}, mark('guid'))\n"
         "etw.on({level=3}, mark('lvl'))\n"
         "etw.on({keyword_any=4}, mark('any'))\n"
         "etw.on({keyword_all=3, pid=42}, mark('all'))\n"
         "etw.on({id=7, where=function(ev) return ev.info.X == 'yes' end}, mark('where'))\n"
         "etw.on_stop(function() etw._test_publish(table.concat(seen, ',')) end)\n");
    top = lua_gettop(F.x->L);
    send(EV(1, "Microsoft-Windows-Kernel-Process", "{}"));
    send(EV(3, "Microsoft-Windows-Kernel-Process", "{}"));
    send(EV(7, "Other", "{\"X\":\"no\"}"));
    send(EV(7, "Other", "{\"X\":\"yes\"}"));
    send("{\"header\":{\"descriptor\":{\"id\":9,\"level\":2,\"keyword\":4},\"provider_guid\":"
         "\"{22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716}\"}}");
    etwl_lua_stop(F.x);
    assert_int_equal(lua_gettop(F.x->L), top);
    /* event 4 (id 7, X=yes) reaches 'all' before 'where': registration order */
    assert_string_equal(result(), "kp1,all1,all3,all7,all7,where7,guid9,lvl9,any9");
    /* handler stats: the kernel-process handler ran once */
    assert_int_equal(F.x->h[0].calls, 1);
}

static void test_events_nobody_wants_stay_out_of_lua(void **st)
{
    int i;
    size_t before;
    (void)st;
    load("local etw = require 'etw'\n"
         "etw.on({provider='Wanted'}, function(ev) error('must not run') end)\n");
    lua_gc(F.x->L, LUA_GCCOLLECT);
    lua_gc(F.x->L, LUA_GCSTOP);
    before = F.x->mem_used;
    for (i = 0; i < 1000; i++) send(EV(1, "Unwanted", "{\"a\":1}"));
    /* no userdata, no string, nothing was created in the Lua state */
    assert_int_equal(F.x->mem_used, before);
    assert_int_equal(F.x->h[0].calls, 0);
    lua_gc(F.x->L, LUA_GCRESTART);
}

static void test_filter_misuse(void **st)
{
    etwl_error e;
    (void)st;
    assert_int_equal(load_err("require('etw').on({provider='P', idd=1}, print)", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "unknown filter key 'idd'"));
    assert_int_equal(load_err("require('etw').on({id=70000}, print)", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "out of range"));
    assert_int_equal(load_err("require('etw').on({id={}}, print)", &e), ETWL_EINVAL);
    assert_int_equal(load_err("require('etw').on({level='loud'}, print)", &e), ETWL_EINVAL);
    assert_int_equal(load_err("require('etw').on('x')", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "bad argument #1"));
    assert_int_equal(load_err("require('etw').alert{title='no rule'}", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "'rule' is required"));
    assert_int_equal(load_err("require('etw').alert{rule='r', severity='urgent'}", &e), ETWL_EINVAL);
    assert_int_equal(etwl_lua_nhandlers(F.x), 0);
}

static void test_handler_order_across_scripts(void **st)
{
    (void)st;
    install_publish();
    load("local etw = require 'etw'; ORDER = ''\n"
         "etw.on(function() _G.x = 1 end)\n"
         "etw.on({id=1}, function() etw._test_append('a') end)\n");
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function() etw._test_append('b') end)\n"
         "etw.on(function() etw._test_publish(etw._test_append('c')) end)\n");
    send(EV(1, "P", "{}"));
    assert_string_equal(result(), "abc");
}

static void test_sandbox_denials(void **st)
{
    static const char *const denied[] = {
        "os.execute('id')",
        "io.open('/etc/passwd')",
        "io.popen('id')",
        "debug.getinfo(1)",
        "package.loadlib('x','y')",
        "require('os')",
        "require('io')",
        "dofile('/etc/passwd')",
        "loadfile('/etc/passwd')",
        "load(string.dump(function() end))()",
        "require('../../etc/passwd')",
        "collectgarbage('stop')",
        "os.exit(1)",
        "string.rep = nil; error('ok')",
    };
    size_t i;
    etwl_error e;
    (void)st;
    for (i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        if (load_err(denied[i], &e) != ETWL_EINVAL) {
            print_error("not denied: %s\n", denied[i]);
            fail();
        }
    }
    /* allowed: text load with the script's env, os.time, string methods */
    install_publish();
    load("local f = load('return 1 + 1'); require('etw')._test_publish(tostring(f()) .. ('x'):rep(2) .. "
         "type(os.time()))");
    assert_string_equal(result(), "2xxnumber");
    /* a script that replaces a library function does not affect another */
    load("string.upper = function() return 'pwned' end");
    load("require('etw')._test_publish(('a'):upper() .. string.upper('b'))");
    assert_string_equal(result(), "AB");
}

static void test_budget_stops_loop_and_goes_on(void **st)
{
    (void)st;
    etwl_lua_free(F.x);
    host(100000, 0);
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev)\n"
         "  while true do end\n"
         "end)\n"
         "etw.on({id=2}, function(ev) etw._test_publish('next event handled ' .. ev.id) end)\n");
    send(EV(1, "P", "{}"));
    send(EV(2, "P", "{}"));
    assert_string_equal(result(), "next event handled 2");
    assert_int_equal(F.x->h[0].errors, 1);
    assert_int_equal(F.x->h[0].budget_stops, 1);
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "test:3: instruction budget exceeded"));
    /* a loop at load time is stopped too */
    {
        etwl_error e;
        assert_int_equal(load_err("while true do end", &e), ETWL_EINVAL);
        assert_non_null(strstr(e.message, "instruction budget exceeded"));
    }
}

static void test_memory_cap(void **st)
{
    (void)st;
    etwl_lua_free(F.x);
    host(0, 8u << 20);
    install_publish();
    load("local etw = require 'etw'\n"
         "local hog = {}\n"
         "etw.on({id=1}, function(ev)\n"
         "  for i = 1, 1e8 do hog[i] = ('x'):rep(100) .. i end\n"
         "end)\n"
         "etw.on({id=2}, function(ev) hog = {}; collectgarbage(); etw._test_publish('alive') end)\n");
    send(EV(1, "P", "{}"));
    send(EV(2, "P", "{}"));
    assert_string_equal(result(), "alive");
    assert_int_equal(F.x->h[0].errors, 1);
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "not enough memory"));
    assert_true(F.x->mem_peak <= (8u << 20));
}

static void test_error_isolation(void **st)
{
    int i;
    (void)st;
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev) local t = nil; return t.field end)\n"
         "etw.on({id=1}, function(ev) etw._test_publish('second ran') end)\n");
    for (i = 0; i < 10; i++) send(EV(1, "P", "{}"));
    assert_string_equal(result(), "second ran");
    assert_int_equal(F.x->h[0].errors, 10);
    assert_int_equal(F.x->h[1].calls, 10);
    assert_int_equal(F.x->handler_errors, 10);
    fflush(F.ef);
    /* traceback printed for the first ones, then counted only */
    assert_non_null(strstr(F.errs, "attempt to index a nil value"));
    assert_non_null(strstr(F.errs, "stack traceback"));
    assert_non_null(strstr(F.errs, "counted, not printed"));
}

static void test_alert_json(void **st)
{
    (void)st;
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev)\n"
         "  etw.alert{rule='r.1', title='T', severity='high', technique={'T1059.001','T1027'},\n"
         "    message='m\\n\\27[2J', event=ev, fields={user='bob', n=3}}\n"
         "end)\n");
    send(EV(1, "P", "{\"Cmd\":\"x\"}"));
    fflush(F.af);
    assert_non_null(strstr(F.alerts, "{\"time\":\"1601-01-01T00:00:00.0000000Z\",\"rule\":\"r.1\",\"title\":\"T\","
                                     "\"severity\":\"high\",\"techniques\":[\"T1059.001\",\"T1027\"],"
                                     "\"message\":\"m\\n\\u001b[2J\",\"event\":{\"header\""));
    assert_non_null(strstr(F.alerts, "\"info\":{\"Cmd\":\"x\"}"));
    assert_true(strstr(F.alerts, "\"fields\":{\"user\":\"bob\",\"n\":3}") ||
                strstr(F.alerts, "\"fields\":{\"n\":3,\"user\":\"bob\"}"));
    assert_int_equal(F.x->alerts, 1);
}

static void test_require_lua_dir_and_lpeg(void **st)
{
    (void)st;
    install_publish();
    load("local path = require 'etwlua.path'; local lpeg = require 'lpeg'\n"
         "require('etw')._test_publish(path.name('\\\\Device\\\\X\\\\CMD.EXE') .. lpeg.match(lpeg.C(lpeg.P'a'^1), "
         "'aab'))");
    assert_string_equal(result(), "cmd.exeaa");
}

static void test_process_table_from_lua(void **st)
{
    (void)st;
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on({process='CMD.exe'}, function(ev)\n"
         "  local p = ev.process\n"
         "  local chain = {}\n"
         "  for a in p:ancestors() do chain[#chain+1] = a.name end\n"
         "  etw._test_publish(table.concat({ev.id, p.name, p.pid, p.parent.name, p.parent.parent.name,\n"
         "    table.concat(chain, '<')}, '|'))\n"
         "end)\n");
    send("{\"header\":{\"descriptor\":{\"id\":1},\"ts\":\"2024-01-01T00:00:00Z\",\"provider_name\":\"process\"},"
         "\"info\":{\"pid\":10,\"ppid\":1,\"image\":\"/sbin/init\"}}");
    send("{\"header\":{\"descriptor\":{\"id\":1},\"ts\":\"2024-01-01T00:00:01Z\",\"provider_name\":"
         "\"Microsoft-Windows-Kernel-Process\"},\"info\":{\"ProcessID\":\"20\",\"ParentProcessID\":\"10\","
         "\"ImageName\":\"C:\\\\w\\\\explorer.exe\"}}");
    send("{\"header\":{\"descriptor\":{\"id\":1},\"ts\":\"2024-01-01T00:00:02Z\",\"provider_name\":"
         "\"Microsoft-Windows-Kernel-Process\"},\"info\":{\"ProcessID\":\"30\",\"ParentProcessID\":\"20\","
         "\"ImageName\":\"C:\\\\w\\\\cmd.exe\"}}");
    assert_string_equal(result(), "1|cmd.exe|30|explorer.exe|init|explorer.exe<init");
    /* later events of that process match by its name too */
    send("{\"header\":{\"descriptor\":{\"id\":77},\"process_id\":30,\"ts\":\"2024-01-01T00:00:03Z\"}}");
    assert_true(strncmp(result(), "77|cmd.exe|30", 13) == 0);
}

static void test_every_on_event_clock(void **st)
{
    (void)st;
    install_publish();
    load("local etw = require 'etw'; local n = 0\n"
         "etw.every(1, function() n = n + 1; etw._test_publish(tostring(n)) end)\n");
    send("{\"header\":{\"ts\":\"2024-01-01T00:00:00Z\"}}");
    send("{\"header\":{\"ts\":\"2024-01-01T00:00:00.5Z\"}}");
    send("{\"header\":{\"ts\":\"2024-01-01T00:00:01Z\"}}");
    send("{\"header\":{\"ts\":\"2024-01-01T00:00:09Z\"}}"); /* a gap fires once */
    assert_string_equal(result(), "2");
}

/* The ids a kernel-side event-id filter may keep: the union of what the
 * handlers of a provider name, or no filter when one may want any id. */
static void test_wanted_ids(void **st)
{
    etwl_provider_spec p;
    (void)st;
    memset(&p, 0, sizeof p);
    strcpy(p.name, "Microsoft-Windows-PowerShell");
    etwl_lua_wanted_ids(F.x, &p);
    assert_int_equal(p.nevent_ids, 0); /* no handlers: no filter */
    load("local etw = require 'etw'\n"
         "etw.on({provider='microsoft-windows-powershell', id={4104, 4103}}, function() end)\n"
         "etw.on({provider='Microsoft-Windows-PowerShell', id=40961}, function() end)\n"
         "etw.on({provider='Other'}, function() end)\n"
         "etw.on({provider='{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}', id=5}, function() end)\n");
    etwl_lua_wanted_ids(F.x, &p);
    /* the GUID-keyed handler counts too: by name alone, PowerShell's GUID is
     * not known here, and keeping an id too many is harmless */
    assert_int_equal(p.nevent_ids, 4);
    assert_int_equal(p.event_ids[0], 5);
    assert_int_equal(p.event_ids[1], 4103);
    assert_int_equal(p.event_ids[2], 4104);
    assert_int_equal(p.event_ids[3], 40961);
    /* a handler without a provider key takes part for every provider */
    load("local etw = require 'etw'\netw.on({id=7}, function() end)\n");
    memset(&p, 0, sizeof p);
    strcpy(p.name, "Microsoft-Windows-PowerShell");
    etwl_lua_wanted_ids(F.x, &p);
    assert_int_equal(p.nevent_ids, 5);
    assert_int_equal(p.event_ids[1], 7);
    /* one that wants everything turns the filter off */
    load("local etw = require 'etw'\netw.on({provider='Microsoft-Windows-PowerShell'}, function() end)\n");
    etwl_lua_wanted_ids(F.x, &p);
    assert_int_equal(p.nevent_ids, 0);
}

/* A provider given by GUID: id 5 for its handler, 1 and 2 for the process
 * table, and 4104 because a name-keyed handler may be this provider too. */
static void test_wanted_ids_guid(void **st)
{
    etwl_provider_spec p;
    (void)st;
    load("local etw = require 'etw'\n"
         "etw.on({provider='{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}', id=5}, function() end)\n"
         "etw.on({provider='{11111111-2222-3333-4444-555555555555}'}, function() end)\n"
         "etw.on({provider='Microsoft-Windows-PowerShell', id=4104}, function() end)\n");
    memset(&p, 0, sizeof p);
    assert_int_equal(etwl_guid_parse("22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716", 36, &p.guid), ETWL_OK);
    p.has_guid = 1;
    etwl_lua_wanted_ids(F.x, &p);
    assert_int_equal(p.nevent_ids, 4);
    assert_int_equal(p.event_ids[0], 1);
    assert_int_equal(p.event_ids[1], 2);
    assert_int_equal(p.event_ids[2], 5);
    assert_int_equal(p.event_ids[3], 4104);
}

static void test_wanted_ids_too_many(void **st)
{
    etwl_provider_spec p;
    char code[4096];
    int i, k;
    (void)st;
    k = snprintf(code, sizeof code, "local etw = require 'etw'\netw.on({provider='P', id={");
    for (i = 0; i < ETWL_MAX_EVENT_IDS + 1; i++) k += snprintf(code + k, sizeof code - (size_t)k, "%d,", 100 + i);
    snprintf(code + k, sizeof code - (size_t)k, "}}, function() end)\n");
    load(code);
    memset(&p, 0, sizeof p);
    strcpy(p.name, "P");
    etwl_lua_wanted_ids(F.x, &p);
    assert_int_equal(p.nevent_ids, 0); /* more than one filter takes: none */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* alert_uaf_index.lua: fields are read raw, so an __index function never
 * runs between fields (it used to collect the string of the previous one);
 * a number converted in place stays on the stack until the alert is out. */
static void test_alert_reads_fields_raw(void **st)
{
    etwl_error e;
    (void)st;
    assert_int_equal(load_err("local etw = require 'etw'\n"
                              "local mt = { __index = function(t, k)\n"
                              "  if k == 'rule' then return string.rep('R', 64) .. tostring(math.random()) end\n"
                              "  if k == 'title' then collectgarbage(); collectgarbage(); return nil end\n"
                              "end }\n"
                              "etw.alert(setmetatable({}, mt))\n",
                              &e),
                     ETWL_EINVAL);
    assert_non_null(strstr(e.message, "'rule' is required"));
    load("local etw = require 'etw'\n"
         "etw.alert(setmetatable({rule = 12345, message = 0.5, fields = setmetatable({}, {__index = function()\n"
         "  collectgarbage(); return 'x' end})}, {__index = function() collectgarbage() end}))\n");
    fflush(F.af);
    assert_non_null(strstr(F.alerts, "\"rule\":\"12345\""));
    assert_non_null(strstr(F.alerts, "\"message\":\"0.5\""));
    assert_non_null(strstr(F.alerts, "\"fields\":{}"));
}

/* What the id=2 handler below published: an integer. */
static long count_of(void)
{
    long n;
    lua_getfield(F.x->L, LUA_REGISTRYINDEX, "test.result");
    n = (long)lua_tointeger(F.x->L, -1);
    lua_pop(F.x->L, 1);
    return n;
}

static int publish_any(lua_State *L)
{
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "test.result");
    return 0;
}

/* sb_pcall_budget.lua, sb_coroutine_budget.lua: one budget per handler call,
 * across pcall and coroutines; the call ends (its code after the loop never
 * runs) and counts as a budget stop; the next event is handled.  A loop
 * iteration below is 4 instructions, so 2x the budget is budget/2 of them. */
static void test_budget_holds_across_pcall_and_coroutines(void **st)
{
    static const char *const escapes[] = {
        "pcall(function() while true do C.n = C.n + 1 end end)\n"
        "while true do C.n = C.n + 1 end\n",
        "for i = 1, 2000 do\n"
        "  local co = coroutine.create(function() while true do C.n = C.n + 1 end end)\n"
        "  coroutine.resume(co)\n"
        "end\n",
        "for i = 1, 2000 do\n" /* wrap, and the error caught by pcall */
        "  pcall(coroutine.wrap(function() while true do C.n = C.n + 1 end end))\n"
        "end\n",
        "local co = coroutine.wrap(function() while true do C.n = C.n + 1; coroutine.yield() end end)\n"
        "while true do pcall(co) end\n",
    };
    size_t i;
    (void)st;
    for (i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        char code[1024];
        etwl_lua_free(F.x);
        host(100000, 0);
        install_publish();
        lua_getfield(F.x->L, LUA_REGISTRYINDEX, "etwl.loaded");
        lua_getfield(F.x->L, -1, "etw");
        lua_pushcfunction(F.x->L, publish_any);
        lua_setfield(F.x->L, -2, "_test_publish_any");
        lua_pop(F.x->L, 2);
        snprintf(code, sizeof code,
                 "local etw = require 'etw'\nC = {n = 0}\n"
                 "etw.on({id=1}, function(ev)\n%s  C.after = true\nend)\n"
                 "etw.on({id=2}, function(ev) etw._test_publish_any(C.after and -1 or C.n) end)\n",
                 escapes[i]);
        load(code);
        send(EV(1, "P", "{}"));
        send(EV(2, "P", "{}")); /* the next event is handled */
        if (count_of() < 1000 || count_of() > 100000 / 2) {
            print_error("escape %zu ran %ld iterations\n", i, count_of());
            fail();
        }
        assert_int_equal(F.x->h[0].budget_stops, 1);
        assert_int_equal(F.x->h[1].errors, 0);
    }
}

/* sb_redos.lua: backtracking inside one string.find is charged to the
 * budget, through the string methods and the library functions alike. */
static void test_pattern_backtracking_is_bounded(void **st)
{
    double t0;
    (void)st;
    etwl_lua_free(F.x);
    host(100000, 0);
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev)\n"
         "  local s = string.rep('a', 40)\n"
         "  s:find(string.rep('a?', 40) .. s .. 'b')\n"
         "end)\n"
         "etw.on({id=2}, function(ev)\n"
         "  local s = string.rep('a', 40)\n"
         "  for _ in string.gmatch(s, string.rep('a?', 40) .. s .. 'b') do end\n"
         "end)\n"
         "etw.on({id=3}, function(ev) etw._test_publish(('abc'):gsub('b', 'x') .. ('x1'):match('%d')) end)\n");
    t0 = now_s();
    send(EV(1, "P", "{}"));
    send(EV(2, "P", "{}"));
    assert_true(now_s() - t0 < 5); /* 2^40 steps otherwise */
    assert_int_equal(F.x->h[0].budget_stops, 1);
    assert_int_equal(F.x->h[1].budget_stops, 1);
    send(EV(3, "P", "{}"));
    assert_string_equal(result(), "axc1");
}

/* The watchdog: with an instruction budget too large to matter, a handler
 * stuck in one pattern match is interrupted at --handler-timeout, counted,
 * and the next event is handled. */
static void test_watchdog_interrupts_a_stuck_call(void **st)
{
    double t0, dt;
    (void)st;
    etwl_lua_free(F.x);
    host_timeout(2000000000L, 0, 200);
    install_publish();
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev)\n"
         "  local s = string.rep('a', 60)\n"
         "  pcall(string.find, s, string.rep('a?', 60) .. s .. 'b')\n"
         "  while true do end\n"
         "end)\n"
         "etw.on({id=2}, function(ev) etw._test_publish('next') end)\n");
    t0 = now_s();
    send(EV(1, "P", "{}"));
    dt = now_s() - t0;
    if (dt < 0.15 || dt > 5) {
        print_error("the stuck handler ran %.3f s (limit 0.2 s)\n", dt);
        fail();
    }
    send(EV(2, "P", "{}"));
    assert_string_equal(result(), "next");
    assert_int_equal(F.x->h[0].budget_stops, 1);
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "interrupted after 200 ms of wall-clock time"));
}

/* The watchdog names the call it interrupts: an interrupt that lands after
 * its call has ended (the watchdog read the clock just before) hits
 * neither the next call nor any later one. */
static void test_late_interrupt_hits_no_other_call(void **st)
{
    int i;
    (void)st;
    etwl_lua_free(F.x);
    host_timeout(2000000000L, 0, 3600000);
    install_publish();
    load("local etw = require 'etw'\n"
         "local n = 0\n"
         "etw.on({id=1}, function(ev)\n"
         "  for i = 1, 20000 do end\n" /* past several count hooks */
         "  n = n + 1; etw._test_publish(tostring(n))\n"
         "end)\n");
    send(EV(1, "P", "{}"));
    assert_string_equal(result(), "1");
    for (i = 0; i < 2; i++) {
        /* as if the watchdog had interrupted the call that just ended */
        atomic_store(&F.x->interrupt, F.x->gen_next << 2 | ETWL_INT_TIMEOUT);
        send(EV(1, "P", "{}"));
    }
    assert_string_equal(result(), "3");
    assert_int_equal(F.x->h[0].errors, 0);
    assert_int_equal(F.x->h[0].budget_stops, 0);
    /* while one meant for the running call ends it */
    lua_rawgeti(F.x->L, LUA_REGISTRYINDEX, F.x->h[0].fn_ref);
    lua_pushnil(F.x->L);
    atomic_store(&F.x->interrupt, (F.x->gen_next + 1) << 2 | ETWL_INT_TIMEOUT); /* the call's, next given */
    assert_int_not_equal(etwl_lua_pcall(F.x, 1, 0, NULL), LUA_OK);
    assert_non_null(strstr(F.x->buf.data, "interrupted after"));
}

static int started;

static int mark_started(lua_State *L)
{
    (void)L;
    __atomic_store_n(&started, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void *stop_when_started(void *arg)
{
    int i;
    for (i = 0; i < 2000 && !__atomic_load_n(&started, __ATOMIC_SEQ_CST); i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    etwl_lua_request_stop(arg);
    return NULL;
}

/* A stop request (SIGINT/SIGTERM in the CLI) ends a handler stuck in Lua
 * with no budget or timeout to speak of, within the stop grace. */
static void test_stop_request_interrupts(void **st)
{
    pthread_t t;
    double t0;
    (void)st;
    etwl_lua_free(F.x);
    host_timeout(2000000000L, 0, 3600000);
    lua_getfield(F.x->L, LUA_REGISTRYINDEX, "etwl.loaded");
    lua_getfield(F.x->L, -1, "etw");
    lua_pushcfunction(F.x->L, mark_started);
    lua_setfield(F.x->L, -2, "_test_started");
    lua_pop(F.x->L, 2);
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev) etw._test_started(); while true do end end)\n");
    started = 0;
    assert_int_equal(pthread_create(&t, NULL, stop_when_started, F.x), 0);
    t0 = now_s();
    send(EV(1, "P", "{}"));
    assert_true(now_s() - t0 < 2);
    pthread_join(t, NULL);
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "interrupted: etwlua is stopping"));
}

/* sb_gc_loop.lua and registration from handlers */
static void test_finalizers_and_late_registration_refused(void **st)
{
    etwl_error e;
    (void)st;
    assert_int_equal(load_err("setmetatable({}, {__gc = function() while true do end end})", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "__gc finalizers are not allowed"));
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev) etw.every(3600, function() end) end)\n"
         "etw.on({id=2}, function(ev) etw.on_stop(function() end) end)\n"
         "etw.on({id=3}, function(ev) etw.on(function() end) end)\n"
         "etw.on_start(function() etw.on_start(function() end) end)\n");
    send(EV(1, "P", "{}"));
    send(EV(2, "P", "{}"));
    send(EV(3, "P", "{}"));
    etwl_lua_start(F.x);
    assert_int_equal(F.x->ntimers, 0);
    assert_int_equal(F.x->nstop, 0);
    assert_int_equal(F.x->nstart, 1);
    assert_int_equal(F.x->nh, 3);
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "test:2: etw.every: register while the script loads"));
    assert_non_null(strstr(F.errs, "test:3: etw.on_stop: register while the script loads"));
    assert_non_null(strstr(F.errs, "test:4: etw.on: register while the script loads"));
    assert_non_null(strstr(F.errs, "test:5: etw.on_start: register while the script loads"));
}

/* sb_string_metatable.lua: shared tables are read-only views; a write is
 * an error naming the line, and the other scripts are unaffected. */
static void test_shared_tables_read_only(void **st)
{
    (void)st;
    install_publish();
    load("getmetatable('').__index.lower = function(s) return '' end\n"
         "require('etw').alert = function() end\n"
         "rawset(require('etw'), 'on', function() end)\n"
         "rawset(getmetatable(''), '__index', {lower = function() return '' end})\n");
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "test:1: the string metatable is read-only"));
    assert_non_null(strstr(F.errs, "test:2: module 'etw' is read-only"));
    assert_int_equal(F.x->handler_errors, 2);
    load(
        "local etw = require 'etw'\n"
        "local n = 0\n"
        "for k in pairs(etw) do n = n + 1 end\n"
        "etw.on({id=1}, function(ev)\n"
        "  etw.alert{rule = ('ABC'):lower()}\n"
        "  etw._test_publish(table.concat({tostring(getmetatable(etw)), tostring(n > 5), tostring(#etw),\n"
        "    tostring(pcall(setmetatable, etw, {})), tostring(getmetatable('').__index.upper == string.upper)}, ' '))\n"
        "end)\n"
        "etw.on({id=2}, function(ev) require('etw').options = {} end)\n");
    send(EV(1, "P", "{}"));
    assert_string_equal(result(), "false true 0 false true");
    fflush(F.af);
    assert_non_null(strstr(F.alerts, "\"rule\":\"abc\""));
    send(EV(2, "P", "{}"));
    assert_int_equal(F.x->h[1].errors, 1);
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "test:9: module 'etw' is read-only"));
}

/* A 40 MB message used to give a 240 MB alert line: strings are capped,
 * marked, and the host's buffer is given back after a large line. */
static void test_alert_and_print_text_capped(void **st)
{
    char marker[64];
    (void)st;
    load("local etw = require 'etw'\n"
         "local big = ('\\1'):rep(200000)\n"
         "etw.on({id=1}, function(ev)\n"
         "  etw.alert{rule = 'r', message = big, fields = {a = big, b = big, c = big, d = big}, technique = {big}}\n"
         "  print(big, 'after')\n"
         "end)\n");
    send(EV(1, "P", "{}"));
    fflush(F.af);
    fflush(F.ef);
    snprintf(marker, sizeof marker, "\xe2\x80\xa6[truncated %u bytes]", 200000u - ETWL_LUA_FIELD_CAP);
    assert_non_null(strstr(F.alerts, marker));
    assert_true(F.alerts_n < 7 * 6 * ETWL_LUA_FIELD_CAP); /* 6 strings, each escaped to at most 6 bytes a byte */
    assert_true(F.alerts_n > 6 * ETWL_LUA_FIELD_CAP);
    assert_non_null(strstr(F.errs, "and the values after it]"));
    assert_true(F.errs_n < 5 * ETWL_LUA_FIELD_CAP);
    assert_true(F.x->buf.cap <= ETWL_LUA_BUF_KEEP);
    /* one capped string from many fields: the line stays bounded */
    load("local etw = require 'etw'\n"
         "local big, f = ('y'):rep(200000), {}\n"
         "for i = 1, 1000 do f['k' .. i] = big end\n"
         "etw.on({id=2}, function(ev) etw.alert{rule = 'many', fields = f} end)\n");
    fseek(F.af, 0, SEEK_SET);
    send(EV(2, "P", "{}"));
    fflush(F.af);
    assert_non_null(strstr(F.alerts, "\"rule\":\"many\""));
    assert_true(F.alerts_n < ETWL_LUA_ALERT_CAP + 1000 * 64);
}

/* etw.emit: JSON in the JSON form, a readable line otherwise; escaped in
 * both, and a misuse is the script's error. */
static void test_emit(void **st)
{
    (void)st;
    load("local etw = require 'etw'\n"
         "etw.on({id=1}, function(ev) etw.emit{b = 'C:\\\\x', a = 1, t = {1, 'e\\27[2J'}} end)\n"
         "etw.on({id=2}, function(ev) etw.emit{'one', 2} end)\n"
         "etw.on({id=3}, function(ev) etw.emit('not a table') end)\n");
    send(EV(1, "P", "{}"));
    send(EV(2, "P", "{}"));
    fflush(F.af);
    assert_string_equal(F.alerts, "{\"a\":1,\"b\":\"C:\\\\x\",\"t\":[1,\"e\\u001b[2J\"]}\n[\"one\",2]\n");
    fseek(F.af, 0, SEEK_SET);
    F.x->o.alerts_json = ETWL_ALERT_TEXT;
    send(EV(1, "P", "{}"));
    send(EV(2, "P", "{}"));
    fputc(0, F.af);
    fflush(F.af);
    assert_string_equal(F.alerts, "a=1 b=C:\\x t=[1,\"e\\u001b[2J\"]\none 2\n");
    send(EV(3, "P", "{}"));
    fflush(F.ef);
    assert_non_null(strstr(F.errs, "bad argument #1 to 'emit'"));
}

/* The libraries the sandbox leaves out say that --unsafe gives them. */
static void test_sandbox_names_unsafe(void **st)
{
    etwl_error e;
    (void)st;
    assert_int_not_equal(load_err("io.write('x')", &e), ETWL_OK);
    assert_non_null(strstr(e.message, "test:1: 'io' is not available in the sandbox; run etwlua with --unsafe"));
    assert_int_not_equal(load_err("local d = debug.getinfo(1)", &e), ETWL_OK);
    assert_non_null(strstr(e.message, "'debug' is not available in the sandbox"));
    assert_int_not_equal(load_err("os.exit(1)", &e), ETWL_OK);
    assert_non_null(strstr(e.message, "os.exit is not available in the sandbox"));
    assert_non_null(strstr(e.message, "--unsafe"));
    /* other names are nil as in plain Lua; the four os functions work */
    load("assert(undefined_name == nil and rawget(_ENV, 'io') == nil and os.time() > 0)");
}

/* etw.reload_state across a reload: plain data copies whole, in a state of
 * its own; anything else copies nothing and names the key; the bounds hold;
 * the process table given in the options is the one both states use. */
static void test_reload_state_carry(void **st)
{
    etwl_lua_opts o;
    etwl_lua *to;
    etwl_error e;
    static const struct {
        const char *fill, *msg;
    } bad[] = {
        {"s.f = print", "etw.reload_state.f: a function cannot be carried over"},
        {"s.a = {b = {c = coroutine.create(print)}}", "etw.reload_state.a.b.c: a thread cannot"},
        {"s.m = setmetatable({}, {})", "etw.reload_state.m: a table with a metatable"},
        {"s.c = {} s.c.c = s.c", "nested more than 32 deep"},
        {"s.big = {} for i = 1, 100001 do s.big[i] = i end", "more than 100000 entries"},
        {"s[{}] = 1", "keys must be strings, numbers or booleans"},
    };
    (void)st;
    memset(&o, 0, sizeof o);
    o.err_out = F.ef;
    o.alert_out = F.af;
    o.lua_dir = LUA_DIR;
    load("local s = require('etw').reload_state\n"
         "s.n = 42 s.f = 1.5 s.str = 'x\\0y' s.yes = true s[7] = 'seven' s[true] = 'T'\n"
         "s.t = {list = {1, 2, 'three'}, deep = {a = {b = {c = 'd'}}}}\n");
    assert_int_equal(etwl_lua_new(&o, &to, &e), ETWL_OK);
    assert_int_equal(etwl_lua_carry_state(to, F.x, &e), ETWL_OK);
    assert_int_equal(
        etwl_lua_load_string(to,
                             "local s = require('etw').reload_state\n"
                             "assert(s.n == 42 and math.type(s.n) == 'integer' and s.f == 1.5)\n"
                             "assert(s.str == 'x\\0y' and s.yes == true and s[7] == 'seven' and s[true] == 'T')\n"
                             "assert(s.t.list[3] == 'three' and s.t.deep.a.b.c == 'd')\n",
                             "check", &e),
        ETWL_OK);
    etwl_lua_free(to);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char code[256];
        snprintf(code, sizeof code, "local s = require('etw').reload_state\n%s", bad[i].fill);
        load(code);
        assert_int_equal(etwl_lua_new(&o, &to, &e), ETWL_OK);
        memset(&e, 0, sizeof e);
        assert_int_equal(etwl_lua_carry_state(to, F.x, &e), ETWL_EINVAL);
        if (!strstr(e.message, bad[i].msg) || !strstr(e.message, "nothing was carried over")) {
            print_error("case %zu: %s\n", i, e.message);
            fail();
        }
        /* nothing at all arrived, not the good half */
        assert_int_equal(etwl_lua_load_string(to, "assert(next(require('etw').reload_state) == nil)", "empty", &e),
                         ETWL_OK);
        etwl_lua_free(to);
        /* the next case starts from an empty table again */
        load("local s = require('etw').reload_state for k in pairs(s) do s[k] = nil end");
    }
}

/* Borrowed process tables are used, and outlives the host. */
static void test_borrowed_proctab(void **st)
{
    etwl_lua_opts o;
    etwl_lua *a;
    etwl_error e;
    etwl_proctabs *t = etwl_proctabs_new(NULL);
    (void)st;
    memset(&o, 0, sizeof o);
    o.procs = t;
    o.lua_dir = LUA_DIR;
    assert_non_null(t);
    assert_int_equal(etwl_lua_new(&o, &a, &e), ETWL_OK);
    assert_ptr_equal(a->hosts, t);
    etwl_lua_free(a);
    etwl_proctabs_free(t); /* still ours: a double free would show under ASan */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wanted_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wanted_ids_guid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wanted_ids_too_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_and_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_by_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_through_every_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_decide_what_reaches_lua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_nobody_wants_stay_out_of_lua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_order_across_scripts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_denials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_stops_loop_and_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_require_lua_dir_and_lpeg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_on_event_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_table_from_lua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_reads_fields_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_holds_across_pcall_and_coroutines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern_backtracking_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_interrupts_a_stuck_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_request_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_interrupt_hits_no_other_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finalizers_and_late_registration_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_tables_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_and_print_text_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_names_unsafe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_state_carry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_borrowed_proctab, setup, teardown),
    };
    return cmocka_run_group_tests_name("lua", tests, NULL, NULL);
}
