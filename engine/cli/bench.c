/* bench.c - `etwlua bench [N]`: the scripting path's cost per event.
 *
 * Events are synthetic but shaped like ETW's: a payload plus a schema, with
 * UTF-16 strings, for a mix of four providers and eight event ids, drawn
 * from a pool of distinct payloads.  Each case prints one line:
 *   bench <case> events=<n> ns_per_event=<x> events_per_s=<y> peak_rss_kb=<z>
 * Cases:
 *   a  delivery only, no scripts
 *   b  a script whose filters reject every event in C
 *   c  one handler on every event reading pid, id and one string property
 *   d  the same with 10 handlers on disjoint filters
 *   e  reference: the same handler fed a fresh 16-field Lua table per event,
 *      built eagerly as a log shipper's Lua filter does
 *   f  the whole rule library (lua/rules) over the same mix
 *   g  Sigma rules over a Sysmon mix and over process starts (bench_sigma.c)
 *   h  the rule library over real process starts (bench_starts.c)
 * Every line also gives the CPU time per event (cpu_ns_per_event), the
 * figure that holds when the machine is shared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/event.h"
#include "library.h"
#include "lua/lua_host.h"
#include "platform/sys.h"

#define POOL 512

typedef struct bev {
    const etwl_schema *schema;
    const char *provider;
    uint32_t provider_len;
    uint16_t id;
    uint8_t payload[512];
    uint32_t len;
} bev;

typedef struct bench {
    etwl_schema *schemas[8];
    const char *providers[8];
    uint16_t ids[8];
    bev pool[POOL];
    etwl_event ev;
} bench;

static void put16(uint8_t *p, uint32_t *n, uint16_t v)
{
    p[(*n)++] = (uint8_t)v;
    p[(*n)++] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t *n, uint32_t v)
{
    put16(p, n, (uint16_t)v);
    put16(p, n, (uint16_t)(v >> 16));
}

static void put_wstr(uint8_t *p, uint32_t *n, const char *s)
{
    while (*s) put16(p, n, (uint8_t)*s++);
    put16(p, n, 0);
}

/* Eight event types; every one has a UTF-16 "Name" among its fields. */
static int build_schemas(bench *b)
{
    static const struct {
        const char *provider;
        uint16_t id;
    } types[8] = {{"Microsoft-Windows-Kernel-Process", 1},  {"Microsoft-Windows-Kernel-Process", 2},
                  {"Microsoft-Windows-Kernel-File", 12},    {"Microsoft-Windows-Kernel-File", 14},
                  {"Microsoft-Windows-Kernel-File", 16},    {"Microsoft-Windows-DNS-Client", 3008},
                  {"Microsoft-Windows-Kernel-Network", 10}, {"Microsoft-Windows-Kernel-Network", 11}};
    int t;
    etwl_error e;
    for (t = 0; t < 8; t++) {
        etwl_schema_builder *sb = etwl_sb_new();
        etwl_sb_add(sb, -1, "ProcessID", ETWL_IN_UINT32, 0);
        etwl_sb_add(sb, -1, "Flags", ETWL_IN_HEXINT32, 0);
        etwl_sb_add(sb, -1, "Object", ETWL_IN_POINTER, 0);
        etwl_sb_add(sb, -1, "Name", ETWL_IN_UNICODESTRING, 0);
        etwl_sb_add(sb, -1, "Detail", ETWL_IN_UNICODESTRING, 0);
        etwl_sb_add(sb, -1, "Size", ETWL_IN_UINT64, 0);
        etwl_sb_add(sb, -1, "Time", ETWL_IN_FILETIME, 0);
        etwl_sb_add(sb, -1, "Status", ETWL_IN_UINT32, 0);
        if (types[t].id == 1 && t == 0) { /* process starts carry what the rules read */
            etwl_sb_add(sb, -1, "ImageName", ETWL_IN_UNICODESTRING, 0);
            etwl_sb_add(sb, -1, "CommandLine", ETWL_IN_UNICODESTRING, 0);
        }
        if (etwl_sb_build(sb, &b->schemas[t], &e) != ETWL_OK) {
            etwl_sb_free(sb);
            return 0;
        }
        etwl_sb_free(sb);
        b->providers[t] = types[t].provider;
        b->ids[t] = types[t].id;
    }
    return 1;
}

static void build_pool(bench *b)
{
    static const char *names[] = {"\\Device\\HarddiskVolume3\\Windows\\System32\\svchost.exe",
                                  "C:\\Users\\alice\\AppData\\Local\\Temp\\setup.tmp", "www.example.test",
                                  "\\Device\\HarddiskVolume3\\Program Files\\App\\app.exe"};
    int i;
    unsigned seed = 12345;
    for (i = 0; i < POOL; i++) {
        bev *e = &b->pool[i];
        char detail[96];
        uint32_t n = 0;
        int t;
        seed = seed * 1103515245u + 12345u;
        /* a skewed mix as on real hosts: file I/O dominates, then network and
         * DNS; process starts and stops are about 2% */
        t = (int)((seed >> 16) % 100);
        t = t < 55 ? 2 + t % 3 : t < 80 ? 6 + t % 2 : t < 98 ? 5 : t % 2;
        e->schema = b->schemas[t];
        e->provider = b->providers[t];
        e->provider_len = (uint32_t)strlen(e->provider);
        e->id = b->ids[t];
        snprintf(detail, sizeof detail, "detail-%d --flag value --other %u", i, seed % 100000);
        put32(e->payload, &n, 1000 + (uint32_t)i);
        put32(e->payload, &n, seed);
        put32(e->payload, &n, 0xFFFF0000u + (uint32_t)i);
        put32(e->payload, &n, 0xFFFFF800u);
        put_wstr(e->payload, &n, names[i % 4]);
        put_wstr(e->payload, &n, detail);
        put32(e->payload, &n, (uint32_t)i * 4096);
        put32(e->payload, &n, 0);
        put32(e->payload, &n, 0x12345678);
        put32(e->payload, &n, 0x01DA0000);
        put32(e->payload, &n, 0);
        if (t == 0) {
            static const char *const starts[][2] = {
                {"\\Device\\HarddiskVolume3\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -p"},
                {"\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe", "cmd.exe /c dir C:\\Users"},
                {"\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                 "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA="},
                {"\\Device\\HarddiskVolume3\\Program Files\\App\\app.exe", "app.exe --update --quiet"}};
            put_wstr(e->payload, &n, starts[i % 4][0]);
            put_wstr(e->payload, &n, starts[i % 4][1]);
        }
        e->len = n;
    }
}

/* What a real-time source does per record: reuse the event, fill the
 * header, attach the payload. */
static etwl_event *deliver(bench *b, uint64_t i)
{
    const bev *e = &b->pool[i % POOL];
    etwl_event *ev = &b->ev;
    etwl_event_begin(ev);
    ev->hdr.desc.id = e->id;
    ev->hdr.desc.level = 4;
    ev->hdr.desc.keyword = 0x8000000000000010ull;
    ev->hdr.pid = 1000 + (uint32_t)(i % 977);
    ev->hdr.tid = 2000 + (uint32_t)(i % 31);
    ev->hdr.ts = 133541070720000000LL + (int64_t)i * 1000;
    ev->hdr.provider_name = e->provider;
    ev->hdr.provider_name_len = e->provider_len;
    ev->hdr.has = ETWL_HAS_PROVIDER_NAME;
    ev->hdr.flags = ETWL_HDR_FLAG_64_BIT_HEADER;
    etwl_event_set_payload(ev, e->schema, e->payload, e->len);
    return ev;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double last_cpu; /* CPU seconds of the last run() */

static void report(const char *name, uint64_t n, double secs)
{
    printf("bench %s events=%llu ns_per_event=%.1f events_per_s=%.0f cpu_ns_per_event=%.1f events_per_cpu_s=%.0f "
           "peak_rss_kb=%ld\n",
           name, (unsigned long long)n, secs * 1e9 / (double)n, (double)n / secs, last_cpu * 1e9 / (double)n,
           (double)n / last_cpu, etwl_sys_peak_rss_kb());
    fflush(stdout);
}

static const char *case_c = "local etw = require 'etw'\n"
                            "local sink = 0\n"
                            "etw.on(function(ev)\n"
                            "  local pid, id, name = ev.pid, ev.id, ev.info.Name\n"
                            "  if #name > 0 then sink = sink + pid + id end\n"
                            "end)\n";

static etwl_lua *host(const char *code)
{
    etwl_lua *x;
    etwl_error e;
    etwl_lua_opts o;
    memset(&o, 0, sizeof o);
    o.alerts_json = 1;
    if (etwl_lua_new(&o, &x, &e) != ETWL_OK) return NULL;
    if (etwl_lua_load_string(x, code, "bench", &e) != ETWL_OK) {
        fprintf(stderr, "bench: %s\n", e.message);
        etwl_lua_free(x);
        return NULL;
    }
    return x;
}

/* Runs n events through x (or delivery only when x is NULL). */
static double run(bench *b, etwl_lua *x, uint64_t n, long *rss_at_1m)
{
    uint64_t i;
    double t0 = now_s(), c0 = cpu_s();
    for (i = 0; i < n; i++) {
        etwl_event *ev = deliver(b, i);
        if (x) etwl_lua_dispatch(x, ev);
        if (rss_at_1m && i + 1 == 1000000) *rss_at_1m = etwl_sys_rss_kb();
    }
    last_cpu = cpu_s() - c0;
    return now_s() - t0;
}

/* (e): the eager reference, a fresh table of 16 fields per event. */
/* One case: a script loaded into a fresh host and timed over n events.  The
 * memory figures, when asked for, are read while the host is still alive. */
static int run_script(bench *b, const char *name, uint64_t n, const char *code, long *rss_at_1m, long *rss_at_end)
{
    etwl_lua *x = host(code);
    if (!x) return 0;
    report(name, n, run(b, x, n, rss_at_1m));
    if (rss_at_end) *rss_at_end = etwl_sys_rss_kb();
    etwl_lua_free(x);
    return 1;
}

static etwl_event *next_event(void *b, uint64_t i) { return deliver(b, i); }

static double run_eager(bench *b, uint64_t n)
{
    etwl_lua *x = host("local sink = 0\n"
                       "require('etw').on(function(t)\n"
                       "  local pid, id, name = t.pid, t.id, t.Name\n"
                       "  if #name > 0 then sink = sink + pid + id end\n"
                       "end)\n");
    double t0;
    if (!x) return 0;
    t0 = now_s();
    last_cpu = cpu_s();
    etwl_lua_bench_eager(x, next_event, b, n);
    last_cpu = cpu_s() - last_cpu;
    t0 = now_s() - t0;
    etwl_lua_free(x);
    return t0;
}

int etwl_bench_main(int argc, char **argv)
{
    static bench b;
    uint64_t n = 1000000;
    double s;
    etwl_lua *x;
    long rss1 = 0, rss2;
    int rc;
    const char *only;
    if (argc > 2) {
        char *end;
        unsigned long long v = strtoull(argv[2], &end, 10);
        if (*end || v < 1000 || v > 1000000000ull) {
            fprintf(stderr, "usage: etwlua bench [N]   (N from 1000 to 1000000000, default 1000000)\n");
            return 2;
        }
        n = v;
    }
    only = argc > 3 ? argv[3] : NULL; /* e.g. "c": run one case, for profiling */
    if (!build_schemas(&b)) return 1;
    build_pool(&b);
    etwl_event_init(&b.ev);

    run(&b, NULL, n / 10 + 1000, NULL); /* warm up caches and the arena */
#define WANT(c) (!only || strchr(only, c))
    if (WANT('a')) {
        s = run(&b, NULL, n, NULL);
        report("a_delivery_only", n, s);
    }

    if (WANT('b') &&
        !run_script(&b, "b_rejected_in_c", n,
                    "local etw = require 'etw'\n"
                    "etw.on({provider='Microsoft-Windows-Kernel-Registry', id=1}, function(ev) error('no') end)\n"
                    "etw.on({provider='Microsoft-Windows-Kernel-Process', id=99}, function(ev) error('no') end)\n",
                    NULL, NULL))
        return 1;

    if (getenv("ETWL_BENCH_HANDLER")) { /* ad-hoc: time a handler body */
        char code[2048];
        snprintf(code, sizeof code, "local etw = require 'etw'\nlocal sink = 0\netw.on(function(ev) %s end)\n",
                 getenv("ETWL_BENCH_HANDLER"));
        if (!run_script(&b, "custom_handler", n, code, NULL, NULL)) return 1;
    }

    if (WANT('c')) {
        if (!run_script(&b, "c_one_handler_3_fields", n, case_c, &rss1, &rss2)) return 1;
        if (n >= 2000000)
            printf("bench c_rss_growth rss_kb_at_1m=%ld rss_kb_at_end=%ld growth_kb=%ld\n", rss1, rss2, rss2 - rss1);
    }

    if (WANT('d')) {
        char code[4096];
        int k, len = snprintf(code, sizeof code, "local etw = require 'etw'\nlocal sink = 0\n");
        static const char *const prov[] = {"Microsoft-Windows-Kernel-Process", "Microsoft-Windows-Kernel-File",
                                           "Microsoft-Windows-DNS-Client", "Microsoft-Windows-Kernel-Network"};
        /* 10 disjoint filters: the 8 real types and 2 that never match */
        static const struct {
            int p, id;
        } f[10] = {{0, 1}, {0, 2}, {1, 12}, {1, 14}, {1, 16}, {2, 3008}, {3, 10}, {3, 11}, {0, 5}, {2, 3020}};
        for (k = 0; k < 10; k++)
            len += snprintf(code + len, sizeof code - (size_t)len,
                            "etw.on({provider='%s', id=%d}, function(ev)\n"
                            "  local pid, id, name = ev.pid, ev.id, ev.info.Name\n"
                            "  if #name > 0 then sink = sink + pid + id end\n"
                            "end)\n",
                            prov[f[k].p], f[k].id);
        if (!run_script(&b, "d_ten_disjoint_handlers", n, code, NULL, NULL)) return 1;
    }

    if (WANT('e')) {
        s = run_eager(&b, n);
        report("e_reference_eager_table", n, s);
    }

    if (WANT('f')) { /* the whole rule library over the same mix */
        etwl_lua_opts o;
        etwl_cli_opts co;
        etwl_error e;
        int count = 0;
        memset(&o, 0, sizeof o);
        memset(&co, 0, sizeof co);
        o.alerts_json = 1;
        o.alert_out = fopen("/dev/null", "w"); /* the alerts are real; measure, do not print them */
        if (!o.alert_out) return 1;
        if (etwl_lua_new(&o, &x, &e) != ETWL_OK || etwl_load_rules(x, &co, &count, &e) != ETWL_OK) {
            fprintf(stderr, "bench: %s\n", e.message);
            return 1;
        }
        s = run(&b, x, n, NULL);
        report("f_rule_library", n, s);
        printf("bench f_rule_library rule_files=%d handlers=%d alerts=%llu\n", count, etwl_lua_nhandlers(x),
               (unsigned long long)etwl_lua_alerts(x));
        etwl_lua_free(x);
        fclose(o.alert_out);
    }
    if (WANT('g') && etwl_bench_sigma(n) != 0) return 1;
    if (WANT('h') && (rc = etwl_bench_starts(n)) != 0) return rc;
    etwl_event_release(&b.ev);
    {
        int i;
        for (i = 0; i < 8; i++) etwl_schema_free(b.schemas[i]);
    }
    return 0;
}
