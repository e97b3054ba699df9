/* bench_starts.c - `etwlua bench` case h: the rule library over real
 * process starts.
 *
 * Reads the JSON lines named by ETWL_BENCH_STARTS (default
 * build/bench-starts.jsonl, written by tests/bench/starts.sh from the
 * shared EVTX and OTRF samples: Sysmon 1 and Security 4688), parses each
 * once, then dispatches n starts round the pool, first with no rules, then
 * with the whole library.  Timed in CPU time (the figure that holds on a
 * loaded machine) and wall time:
 *   bench h_real_starts_<what> starts=<n> distinct=<k> cpu_ns_per_start=<x>
 *     starts_per_cpu_s=<y> wall_starts_per_s=<z> alerts=<a> peak_rss_kb=<r> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/event.h"
#include "library.h"
#include "lua/lua_host.h"
#include "platform/sys.h"
#include "sources/jsonl/json_read.h"

#define MAX_STARTS 200000

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file, NUL-terminated (getline is not in every C library). */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f) return NULL;
    do {
        if (cap - n < 65536) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 1 << 20);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* The pool: every line that parses, in file order. */
static etwl_event *load_pool(const char *path, size_t *count)
{
    size_t len = 0, n = 0;
    char *text = read_all(path, &len), *line, *end;
    etwl_json_reader *jr;
    etwl_event *evs;
    *count = 0;
    if (!text) return NULL;
    jr = etwl_json_reader_new();
    evs = calloc(MAX_STARTS, sizeof *evs);
    if (!jr || !evs) {
        free(text);
        etwl_json_reader_free(jr);
        free(evs);
        return NULL;
    }
    for (line = text; line < text + len && n < MAX_STARTS; line = end + 1) {
        char err[256];
        size_t ll;
        etwl_event *ev = &evs[n];
        end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end) end = text + len;
        ll = (size_t)(end - line);
        while (ll > 0 && line[ll - 1] == '\r') ll--;
        if (ll == 0 || etwl_event_init(ev) != ETWL_OK) continue;
        etwl_event_begin(ev);
        ev->seq = n + 1;
        if (etwl_json_parse_event(jr, line, ll, ev, err, sizeof err) != ETWL_OK) {
            etwl_event_release(ev);
            continue;
        }
        n++;
    }
    free(text);
    etwl_json_reader_free(jr);
    *count = n;
    return evs;
}

static int one(const char *what, etwl_event *evs, const int64_t *ts, int64_t span, size_t k, uint64_t n, int rules)
{
    etwl_lua_opts o;
    etwl_cli_opts co;
    etwl_error e;
    etwl_lua *x;
    int count = 0;
    uint64_t i;
    double c0, w0, cpu, wall;
    memset(&o, 0, sizeof o);
    memset(&co, 0, sizeof co);
    o.alerts_json = 1;
    o.alert_out = fopen("/dev/null", "w"); /* the alerts are real; measure, do not print them */
    if (!o.alert_out) return 1;
    if (etwl_lua_new(&o, &x, &e) != ETWL_OK || (rules && etwl_load_rules(x, &co, &count, &e) != ETWL_OK)) {
        fprintf(stderr, "bench: %s\n", e.message);
        fclose(o.alert_out);
        return 1;
    }
    c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    w0 = clock_s(CLOCK_MONOTONIC);
    for (i = 0; i < n; i++) {
        etwl_event *ev = &evs[i % k];
        /* each pass round the pool comes later, as a live stream does, so
         * the process table sees pids reused rather than time running
         * backwards */
        ev->hdr.ts = ts[i % k] + (int64_t)(i / k) * span;
        etwl_lua_dispatch(x, ev);
    }
    cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    wall = clock_s(CLOCK_MONOTONIC) - w0;
    printf("bench h_real_starts_%s starts=%llu distinct=%zu cpu_ns_per_start=%.1f starts_per_cpu_s=%.0f "
           "wall_starts_per_s=%.0f alerts=%llu peak_rss_kb=%ld\n",
           what, (unsigned long long)n, k, cpu * 1e9 / (double)n, (double)n / cpu, (double)n / wall,
           (unsigned long long)etwl_lua_alerts(x), etwl_sys_peak_rss_kb());
    fflush(stdout);
    etwl_lua_free(x);
    fclose(o.alert_out);
    return 0;
}

int etwl_bench_starts(unsigned long long n)
{
    const char *path = getenv("ETWL_BENCH_STARTS");
    size_t k, i;
    etwl_event *evs;
    int64_t *ts, lo = 0, hi = 0, span;
    int rc, named = path && *path;
    if (!named) path = "build/bench-starts.jsonl";
    evs = load_pool(path, &k);
    if (!evs || k == 0) {
        free(evs);
        if (named) { /* a file the user named must be there: a typo is an error, not a skip */
            fprintf(stderr, "etwlua: bench h: no process starts read from ETWL_BENCH_STARTS=%s\n", path);
            return 2;
        }
        printf("bench h_real_starts skipped: no process starts in %s (sh tests/bench/starts.sh writes it from "
               "../shared)\n",
               path);
        return 0;
    }
    ts = malloc(k * sizeof *ts);
    if (!ts) {
        free(evs);
        return 1;
    }
    for (i = 0; i < k; i++) {
        ts[i] = evs[i].hdr.ts;
        if (i == 0 || ts[i] < lo) lo = ts[i];
        if (i == 0 || ts[i] > hi) hi = ts[i];
    }
    span = hi - lo + 10000000; /* one second (100 ns units) past the latest */
    rc = one("no_rules", evs, ts, span, k, n, 0);
    if (!rc) rc = one("rule_library", evs, ts, span, k, n, 1);
    for (i = 0; i < k; i++) etwl_event_release(&evs[i]);
    free(ts);
    free(evs);
    return rc;
}
