/* bench_outputs.c - `etwlua bench-outputs [-n N] [--rate R] -o SPEC ...`:
 * alerts/s per output, through the same queue and writer thread as a run.
 *
 * Two figures per output: the most it delivers (the producer waits for room,
 * so nothing is dropped and the time is the writer's), and a run paced at R
 * alerts/s through the ordinary non-blocking push, whose drop counter says
 * whether the output keeps up at that rate.  The time includes the flush at
 * the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opts.h"
#include "output/sink.h"
#include "outputs.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A typical rule alert with its event: about 830 bytes, like the library's. */
static int make_line(char *buf, size_t n, unsigned long i)
{
    return snprintf(
        buf, n,
        "{\"time\":\"2026-11-29T23:00:00.1234567Z\",\"rule\":\"proc_creation_win_powershell_encoded_cmd\","
        "\"title\":\"Suspicious Encoded PowerShell Command Line\",\"severity\":\"high\",\"techniques\":"
        "[\"T1059.001\",\"T1027\"],\"message\":\"powershell.exe -enc started by winword.exe\",\"event\":"
        "{\"provider\":\"Microsoft-Windows-Kernel-Process\",\"id\":1,\"version\":3,\"level\":4,\"opcode\":1,"
        "\"task\":1,\"keywords\":\"0x8000000000000010\",\"pid\":4242,\"tid\":4343,\"cpu\":1,\"timestamp\":"
        "\"2026-11-29T23:00:00.1234567Z\",\"computer\":\"ws-%04lu.corp.example\",\"data\":{\"ProcessID\":%lu,"
        "\"CreateTime\":\"2026-11-29T23:00:00.1234567Z\",\"ParentProcessID\":4242,\"SessionID\":1,"
        "\"ImageName\":\"\\\\Device\\\\HarddiskVolume3\\\\Windows\\\\System32\\\\WindowsPowerShell\\\\v1.0\\\\"
        "powershell.exe\",\"CommandLine\":\"powershell.exe -NoProfile -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA\"}},"
        "\"fields\":{\"parent\":\"winword.exe\",\"user\":\"CORP\\\\alice\"}}",
        i % 1000, i);
}

static void one(const char *spec, unsigned long n, double rate, const etwl_sink_opts *so)
{
    char line[2048], host[32];
    etwl_sink *s;
    etwl_error err;
    etwl_sink_stats st;
    etwl_sink_opts big = *so;
    etwl_sink_meta m = {
        "proc_creation_win_powershell_encoded_cmd", 40, "high", host, 0, "2026-11-29T23:00:00.1234567Z"};
    unsigned long i;
    uint64_t left;
    double t0, t1;
    memset(&err, 0, sizeof err);
    /* the most it delivers */
    big.flush_seconds = 120;
    if (etwl_sink_open(spec, &big, &s, &err) != ETWL_OK) {
        fprintf(stderr, "bench-outputs: %s\n", err.message);
        return;
    }
    t0 = now_s();
    for (i = 0; i < n; i++) {
        int len = make_line(line, sizeof line, i);
        m.host_len = (size_t)snprintf(host, sizeof host, "ws-%04lu", i % 1000);
        etwl_sink_push_wait(s, line, (size_t)len, &m);
    }
    left = etwl_sink_close(s, &st);
    t1 = now_s();
    printf("bench-outputs: %s: max: %lu alerts (%d bytes each) in %.3f s = %.0f alerts/s, dropped %llu, "
           "undelivered %llu\n",
           spec, n, make_line(line, sizeof line, 0), t1 - t0, (double)(st.queued - left) / (t1 - t0),
           (unsigned long long)st.dropped, (unsigned long long)left);
    fflush(stdout);
    /* paced, non-blocking, the default queue */
    if (etwl_sink_open(spec, so, &s, &err) != ETWL_OK) {
        fprintf(stderr, "bench-outputs: %s\n", err.message);
        return;
    }
    t0 = now_s();
    for (i = 0; i < n; i++) {
        int len;
        /* every 1000 alerts, wait until the schedule catches up */
        if (i % 1000 == 0)
            while (now_s() - t0 < (double)i / rate) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
        len = make_line(line, sizeof line, i);
        m.host_len = (size_t)snprintf(host, sizeof host, "ws-%04lu", i % 1000);
        etwl_sink_push(s, line, (size_t)len, &m);
    }
    left = etwl_sink_close(s, &st);
    t1 = now_s();
    printf("bench-outputs: %s: paced at %.0f/s: %lu alerts in %.3f s = %.0f alerts/s delivered, dropped %llu, "
           "undelivered %llu\n",
           spec, rate, n, t1 - t0, (double)(st.queued - left) / (t1 - t0), (unsigned long long)st.dropped,
           (unsigned long long)left);
    fflush(stdout);
}

int etwl_bench_outputs_main(int argc, char **argv)
{
    unsigned long n = 200000;
    double rate = 100000;
    const char *specs[ETWL_CLI_MAX_OUTPUTS];
    int ns = 0, i;
    etwl_sink_opts so;
    memset(&so, 0, sizeof so);
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) rate = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && ns < ETWL_CLI_MAX_OUTPUTS) specs[ns++] = argv[++i];
        else {
            fprintf(stderr, "usage: etwlua bench-outputs [-n N] [--rate ALERTS_PER_S] -o SPEC [-o SPEC ...]\n");
            return ETWL_EXIT_USAGE;
        }
    }
    if (!ns || !n || !(rate > 0)) {
        fprintf(stderr, "usage: etwlua bench-outputs [-n N] [--rate ALERTS_PER_S] -o SPEC [-o SPEC ...]\n");
        return ETWL_EXIT_USAGE;
    }
    for (i = 0; i < ns; i++) one(specs[i], n, rate, &so);
    return ETWL_EXIT_OK;
}
