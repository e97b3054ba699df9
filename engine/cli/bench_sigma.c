/* bench_sigma.c - `etwlua bench` case g: Sigma rules over Sysmon-shaped
 * events.
 *
 * Loads every rule under ETWL_BENCH_SIGMA (default
 * ../shared/data/sigma/rules/windows) and times:
 *   g_sigma_load        loading and compiling the corpus
 *   g_sigma_mix         a Sysmon mix as a workstation logs it: image loads,
 *                       file and registry writes dominate; 5% process starts
 *   g_sigma_proc_starts process starts only (every process_creation rule)
 * with the peak RSS, timed in CPU time (one core).  The events are built as a live source builds them (a
 * schema plus a UTF-16 payload), so field decoding is part of the cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "bench.h"
#include "core/event.h"
#include "core/schema.h"
#include "platform/sys.h"

#ifndef ETWL_HAVE_SIGMA
int etwl_bench_sigma(unsigned long long n)
{
    (void)n;
    printf("bench g_sigma skipped: Sigma rules are not built into this etwlua\n");
    return 0;
}
#else
#include "sigma/sigma.h"

#define GPOOL 1024
#define NTYPES 8

typedef struct gtype {
    uint16_t id;
    int pct;
    const char *fields[10];
} gtype;

static const gtype types[NTYPES] = {
    {7, 30, {"Image", "ImageLoaded", "OriginalFileName", "Signed", "Hashes", NULL}},
    {11, 20, {"Image", "TargetFilename", "User", NULL}},
    {13, 20, {"EventType", "Image", "TargetObject", "Details", NULL}},
    {3,
     10,
     {"Image", "User", "Protocol", "Initiated", "DestinationIp", "DestinationHostname", "DestinationPort", NULL}},
    {22, 8, {"Image", "QueryName", "QueryStatus", "QueryResults", NULL}},
    {10, 5, {"SourceImage", "TargetImage", "GrantedAccess", "CallTrace", NULL}},
    {1,
     5,
     {"Image", "OriginalFileName", "CommandLine", "CurrentDirectory", "User", "IntegrityLevel", "ParentImage",
      "ParentCommandLine", "Hashes", NULL}},
    {5, 2, {"Image", "User", NULL}},
};

/* Values per field name, picked by the event's index: mostly benign, a few
 * that rules describe (an encoded PowerShell, a temp-folder binary). */
static const char *value_for(const char *f, int i)
{
    static const char *const images[] = {"C:\\Windows\\System32\\svchost.exe",
                                         "C:\\Program Files\\App\\app.exe",
                                         "C:\\Windows\\explorer.exe",
                                         "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                                         "C:\\Users\\alice\\AppData\\Local\\Temp\\setup.exe",
                                         "C:\\Windows\\System32\\cmd.exe"};
    static const char *const cmds[] = {"svchost.exe -k netsvcs -p",
                                       "\"C:\\Program Files\\App\\app.exe\" --update",
                                       "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=",
                                       "cmd.exe /c dir C:\\Users",
                                       "explorer.exe",
                                       "setup.exe /S"};
    int k = i % 6;
    if (!strcmp(f, "Image") || !strcmp(f, "SourceImage") || !strcmp(f, "ParentImage")) return images[k];
    if (!strcmp(f, "CommandLine") || !strcmp(f, "ParentCommandLine")) return cmds[k];
    if (!strcmp(f, "ImageLoaded"))
        return k & 1 ? "C:\\Windows\\System32\\ntdll.dll" : "C:\\Program Files\\App\\lib.dll";
    if (!strcmp(f, "TargetFilename"))
        return k & 1 ? "C:\\Users\\alice\\AppData\\Local\\Temp\\x.tmp" : "C:\\Windows\\Temp\\log.txt";
    if (!strcmp(f, "TargetObject"))
        return k & 1 ? "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater"
                     : "HKCU\\Software\\App\\Settings\\LastRun";
    if (!strcmp(f, "Details")) return "DWORD (0x00000001)";
    if (!strcmp(f, "QueryName")) return k & 1 ? "www.example.test" : "update.app.test";
    if (!strcmp(f, "TargetImage")) return k == 3 ? "C:\\Windows\\System32\\lsass.exe" : "C:\\Windows\\explorer.exe";
    if (!strcmp(f, "GrantedAccess")) return "0x1000";
    if (!strcmp(f, "User")) return "HOST\\alice";
    if (!strcmp(f, "IntegrityLevel")) return "Medium";
    if (!strcmp(f, "DestinationIp")) return "93.184.216.34";
    if (!strcmp(f, "DestinationPort")) return "443";
    if (!strcmp(f, "OriginalFileName")) return "app.exe";
    if (!strcmp(f, "Hashes")) return "SHA256=0000000000000000000000000000000000000000000000000000000000000000";
    return "value";
}

typedef struct gev {
    int t;
    uint8_t payload[2048];
    uint32_t len;
} gev;

static void wstr(gev *e, const char *s)
{
    for (; *s && e->len + 4 < sizeof e->payload; s++) {
        e->payload[e->len++] = (uint8_t)*s;
        e->payload[e->len++] = 0;
    }
    e->payload[e->len++] = 0;
    e->payload[e->len++] = 0;
}

/* CPU time of the process: "events/s on one core" however loaded the
 * machine is (a shared CI box runs other builds beside it) */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int noop_alerts;
static void on_hit(void *ctx, etwl_event *ev, size_t rule)
{
    (void)ctx;
    (void)ev;
    (void)rule;
    noop_alerts++;
}

static double run(etwl_sigma *s, etwl_event *ev, etwl_schema **sch, gev *pool, unsigned long long n, int only_starts)
{
    double t0 = now_s();
    for (unsigned long long i = 0; i < n; i++) {
        const gev *e = &pool[i % GPOOL];
        if (only_starts) e = &pool[(i % (GPOOL / 20)) * 20 + 19]; /* the process starts (see the pool) */
        etwl_event_begin(ev);
        ev->hdr.desc.id = types[e->t].id;
        ev->hdr.desc.level = 4;
        ev->hdr.pid = 1000 + (uint32_t)(i % 977);
        ev->hdr.ts = 133541070720000000LL + (int64_t)i * 1000;
        ev->hdr.provider_name = "Microsoft-Windows-Sysmon";
        ev->hdr.provider_name_len = 24;
        ev->hdr.has = ETWL_HAS_PROVIDER_NAME;
        etwl_event_set_payload(ev, sch[e->t], e->payload, e->len);
        etwl_sigma_match(s, ev, on_hit, NULL);
    }
    return now_s() - t0;
}

int etwl_bench_sigma(unsigned long long n)
{
    static gev pool[GPOOL];
    etwl_schema *sch[NTYPES];
    etwl_sigma *s;
    etwl_error err;
    etwl_event ev;
    const char *dir = getenv("ETWL_BENCH_SIGMA");
    struct stat sb;
    double t0, secs;
    unsigned seed = 777;
    if (!dir) dir = "../shared/data/sigma/rules/windows";
    if (stat(dir, &sb) != 0) {
        printf("bench g_sigma skipped: %s is absent (set ETWL_BENCH_SIGMA to a folder of Sigma rules)\n", dir);
        return 0;
    }
    for (int t = 0; t < NTYPES; t++) {
        etwl_schema_builder *sb2 = etwl_sb_new();
        for (int f = 0; types[t].fields[f]; f++) etwl_sb_add(sb2, -1, types[t].fields[f], ETWL_IN_UNICODESTRING, 0);
        if (etwl_sb_build(sb2, &sch[t], &err) != ETWL_OK) return 1;
        etwl_sb_free(sb2);
    }
    for (int i = 0; i < GPOOL; i++) {
        int p, t = 0, acc = 0;
        seed = seed * 1103515245u + 12345u;
        p = (int)((seed >> 16) % 100);
        while (t < NTYPES - 1 && p >= acc + types[t].pct) acc += types[t++].pct;
        if (i % 20 == 19) t = 6; /* every 20th slot a process start: case g_sigma_proc_starts uses them */
        pool[i].t = t;
        pool[i].len = 0;
        for (int f = 0; types[t].fields[f]; f++) wstr(&pool[i], value_for(types[t].fields[f], i / 3 + f));
    }
    if (etwl_event_init(&ev) != ETWL_OK) return 1;
    t0 = now_s();
    if (etwl_sigma_new(&s) != ETWL_OK || etwl_sigma_load(s, dir, &err) != ETWL_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 1;
    }
    run(s, &ev, sch, pool, 1, 0); /* builds the index: part of loading */
    secs = now_s() - t0;
    printf("bench g_sigma_load rules=%zu running=%zu load_ms=%.0f peak_rss_kb=%ld\n", etwl_sigma_count(s),
           etwl_sigma_running(s), secs * 1e3, etwl_sys_peak_rss_kb());
    run(s, &ev, sch, pool, n / 10 + 1000, 0); /* warm up */
    noop_alerts = 0;
    secs = run(s, &ev, sch, pool, n, 0);
    printf("bench g_sigma_mix events=%llu ns_per_event=%.1f events_per_s=%.0f alerts=%d peak_rss_kb=%ld\n", n,
           secs * 1e9 / (double)n, (double)n / secs, noop_alerts, etwl_sys_peak_rss_kb());
    noop_alerts = 0;
    secs = run(s, &ev, sch, pool, n / 4, 1);
    printf("bench g_sigma_proc_starts events=%llu ns_per_event=%.1f events_per_s=%.0f alerts=%d peak_rss_kb=%ld\n",
           n / 4, secs * 1e9 / (double)(n / 4), (double)(n / 4) / secs, noop_alerts, etwl_sys_peak_rss_kb());
    fflush(stdout);
    etwl_sigma_free(s);
    etwl_event_release(&ev);
    for (int t = 0; t < NTYPES; t++) etwl_schema_free(sch[t]);
    return 0;
}
#endif
