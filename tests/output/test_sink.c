/* test_sink.c - the output queue (engine/output/sink.c) with fake kinds:
 * bounds in records and bytes, drops counted, push never blocking, retries
 * in order, partial deliveries, the flush deadline, reopen, and specs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/sink.h"
#include "testlib.h"
#ifndef _WIN32
#include "util/dynlib.h"
#endif

/* A fake receiver: a gate that holds send, a number of failures to give
 * before succeeding, at most `per_call` records per call, and a record of
 * what it got, in order. */
typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_closed, in_send;
    int fail_next;   /* failures left; -1: fail forever */
    size_t per_call; /* 0: all */
    int got[4096];
    size_t ngot;
    int reopens;
    char rule[64], host[64];
    int sev;
} fake;

static fake F;

static void fake_reset(void)
{
    memset(&F, 0, sizeof F);
    pthread_mutex_init(&F.mu, NULL);
    pthread_cond_init(&F.cv, NULL);
}

static etwl_status fake_open(etwl_sink *self, const char *spec, const etwl_sink_opts *o, void **state, etwl_error *e)
{
    (void)self, (void)spec, (void)o, (void)e;
    *state = &F;
    return ETWL_OK;
}

static etwl_status fake_send(void *state, etwl_sink_rec *const *recs, size_t n, size_t *done, etwl_error *err)
{
    fake *f = state;
    size_t i, k;
    pthread_mutex_lock(&f->mu);
    f->in_send = 1;
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed) pthread_cond_wait(&f->cv, &f->mu);
    *done = 0;
    if (f->fail_next) {
        if (f->fail_next > 0) f->fail_next--;
        pthread_mutex_unlock(&f->mu);
        return etwl_error_set(err, ETWL_EIO, "fake failure");
    }
    k = f->per_call && f->per_call < n ? f->per_call : n;
    for (i = 0; i < k && f->ngot < 4096; i++) {
        f->got[f->ngot++] = atoi(recs[i]->line);
        snprintf(f->rule, sizeof f->rule, "%s", recs[i]->rule);
        snprintf(f->host, sizeof f->host, "%s", recs[i]->host);
        f->sev = recs[i]->sev;
    }
    *done = k;
    pthread_mutex_unlock(&f->mu);
    if (k < n) return etwl_error_set(err, ETWL_EIO, "partial");
    return ETWL_OK;
}

static void fake_reopen(void *state)
{
    fake *f = state;
    pthread_mutex_lock(&f->mu);
    f->reopens++;
    pthread_mutex_unlock(&f->mu);
}

static void fake_close(void *state) { (void)state; }

static int fake_claims(const char *s) { return strncmp(s, "fake:", 5) == 0; }

static const etwl_sink_kind fake_kind = {.name = "fake",
                                         .claims = fake_claims,
                                         .batch = 1,
                                         .open = fake_open,
                                         .send = fake_send,
                                         .reopen = fake_reopen,
                                         .close = fake_close};

static const etwl_sink_kind fake_kind_batch = {.name = "fake",
                                               .claims = fake_claims,
                                               .batch = 64,
                                               .open = fake_open,
                                               .send = fake_send,
                                               .reopen = fake_reopen,
                                               .close = fake_close};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int push_n(etwl_sink *s, int from, int n, size_t pad)
{
    char line[256];
    int i, ok = 0;
    etwl_sink_meta m = {"rule.x", 6, "critical", "host-1", 6, "2026-01-01T00:00:00.0000000Z"};
    for (i = from; i < from + n; i++) {
        int len = snprintf(line, sizeof line, "%d", i);
        while ((size_t)len < pad && len < 255) line[len++] = ' ';
        ok += etwl_sink_push(s, line, (size_t)len, &m);
    }
    return ok;
}

/* waits (bounded: 10 s) until the writer is inside send */
static void wait_in_send(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&F.mu);
    while (!F.in_send)
        if (pthread_cond_timedwait(&F.cv, &F.mu, &ts) != 0) break;
    assert_true(F.in_send);
    pthread_mutex_unlock(&F.mu);
}

static void open_gate(void)
{
    pthread_mutex_lock(&F.mu);
    F.gate_closed = 0;
    pthread_cond_broadcast(&F.cv);
    pthread_mutex_unlock(&F.mu);
}

static etwl_sink *open_fake(const etwl_sink_kind *k, size_t max_rec, size_t max_bytes, double flush)
{
    etwl_sink *s;
    etwl_error err;
    etwl_sink_opts o = {max_rec, max_bytes, flush, 0};
    assert_int_equal(etwl_sink_open_kind(k, "fake:x", &o, &s, &err), ETWL_OK);
    return s;
}

/* A stalled receiver: the queue holds max_records, the rest is dropped and
 * counted, push returns at once, and the held alerts arrive in order. */
static void test_records_bound(void **st)
{
    etwl_sink *s;
    etwl_sink_stats ss;
    double t0;
    size_t i;
    (void)st;
    fake_reset();
    F.gate_closed = 1;
    s = open_fake(&fake_kind, 4, 0, 5);
    assert_int_equal(push_n(s, 0, 1, 0), 1);
    wait_in_send(); /* alert 0 is in flight, held at the gate */
    t0 = now_s();
    assert_int_equal(push_n(s, 1, 10, 0), 4);
    assert_true(now_s() - t0 < 1.0); /* never blocks */
    etwl_sink_stats_get(s, &ss);
    assert_int_equal(ss.queued, 5);
    assert_int_equal(ss.dropped, 6);
    assert_int_equal(ss.pending, 5);
    open_gate();
    assert_int_equal(etwl_sink_close(s, &ss), 0);
    assert_int_equal(ss.delivered, 5);
    assert_int_equal(ss.dropped, 6);
    assert_int_equal(F.ngot, 5);
    for (i = 0; i < 5; i++) assert_int_equal(F.got[i], (int)i);
    /* the meta went with the line */
    assert_string_equal(F.rule, "rule.x");
    assert_string_equal(F.host, "host-1");
    assert_int_equal(F.sev, 4);
}

/* The byte bound counts too: 100 bytes hold three 30-byte alerts. */
static void test_bytes_bound(void **st)
{
    etwl_sink *s;
    etwl_sink_stats ss;
    (void)st;
    fake_reset();
    F.gate_closed = 1;
    s = open_fake(&fake_kind, 1000, 100, 5);
    assert_int_equal(push_n(s, 0, 1, 30), 1);
    wait_in_send();
    assert_int_equal(push_n(s, 1, 10, 30), 3);
    /* an alert bigger than the whole bound is dropped, never queued */
    {
        char big[200];
        memset(big, 'x', sizeof big);
        assert_int_equal(etwl_sink_push(s, big, sizeof big, NULL), 0);
    }
    etwl_sink_stats_get(s, &ss);
    assert_int_equal(ss.dropped, 8);
    open_gate();
    assert_int_equal(etwl_sink_close(s, &ss), 0);
    assert_int_equal(ss.delivered, 4);
}

/* Failures are retried (with backoff) and nothing is lost or reordered. */
static void test_retry(void **st)
{
    etwl_sink *s;
    etwl_sink_stats ss;
    size_t i;
    (void)st;
    fake_reset();
    F.fail_next = 3;
    s = open_fake(&fake_kind_batch, 0, 0, 10);
    assert_int_equal(push_n(s, 0, 100, 0), 100);
    assert_int_equal(etwl_sink_close(s, &ss), 0);
    assert_int_equal(ss.retries, 3);
    assert_int_equal(ss.delivered, 100);
    assert_int_equal(F.ngot, 100);
    for (i = 0; i < 100; i++) assert_int_equal(F.got[i], (int)i);
}

/* A kind that delivers part of a batch: the rest is retried from there. */
static void test_partial(void **st)
{
    etwl_sink *s;
    etwl_sink_stats ss;
    size_t i;
    (void)st;
    fake_reset();
    F.per_call = 7;
    s = open_fake(&fake_kind_batch, 0, 0, 30);
    assert_int_equal(push_n(s, 0, 50, 0), 50);
    assert_int_equal(etwl_sink_close(s, &ss), 0);
    assert_int_equal(F.ngot, 50);
    for (i = 0; i < 50; i++) assert_int_equal(F.got[i], (int)i);
}

/* A receiver that never recovers: close returns at the deadline and says
 * how many were not delivered. */
static void test_deadline(void **st)
{
    etwl_sink *s;
    etwl_sink_stats ss;
    double t0;
    (void)st;
    fake_reset();
    F.fail_next = -1;
    s = open_fake(&fake_kind_batch, 0, 0, 0.3);
    assert_int_equal(push_n(s, 0, 20, 0), 20);
    t0 = now_s();
    assert_int_equal(etwl_sink_close(s, &ss), 20);
    assert_true(now_s() - t0 < 2.5); /* the deadline, plus the grace to stop */
    assert_int_equal(ss.delivered, 0);
    assert_int_equal(ss.pending, 20);
    assert_true(ss.retries >= 1);
}

/* SIGUSR1's flag reaches the writer, which reopens. */
static void test_reopen(void **st)
{
    etwl_sink *s;
    double end;
    int n = 0;
    (void)st;
    fake_reset();
    s = open_fake(&fake_kind, 0, 0, 5);
    etwl_sink_signal_reopen();
    for (end = now_s() + 10; now_s() < end;) {
        pthread_mutex_lock(&F.mu);
        n = F.reopens;
        pthread_mutex_unlock(&F.mu);
        if (n) break;
        {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(n, 1);
    assert_int_equal(etwl_sink_close(s, NULL), 0);
}

/* Specs: unknown ones and bad ones are usage errors naming the spec. */
static void test_specs(void **st)
{
    etwl_sink *s;
    etwl_error err;
    (void)st;
    memset(&err, 0, sizeof err);
    assert_int_equal(etwl_sink_open("ftp://x", NULL, &s, &err), ETWL_EINVAL);
    assert_non_null(strstr(err.message, "not an output"));
    assert_int_equal(etwl_sink_open("file:", NULL, &s, &err), ETWL_EINVAL);
    assert_non_null(strstr(err.message, "needs a path"));
#ifndef _WIN32
    assert_int_equal(etwl_sink_open("syslog:udp://nohostport", NULL, &s, &err), ETWL_EINVAL);
    assert_int_equal(etwl_sink_open("kafka://broker:9092", NULL, &s, &err), ETWL_EINVAL);
    assert_int_equal(etwl_sink_open("http://h/plain", NULL, &s, &err), ETWL_EINVAL);
    assert_int_equal(etwl_sink_open("http://h/x?format=xml", NULL, &s, &err), ETWL_EINVAL);
#else
    assert_int_equal(etwl_sink_open("kafka://broker:9092/t", NULL, &s, &err), ETWL_ENOTSUP);
    assert_non_null(strstr(err.message, "not built into this etwlua"));
#endif
}

#ifndef _WIN32
/* The loader the HTTP and Kafka outputs use: a missing library, or a
 * function it lacks, is an error saying which, and stays one; a present
 * one fills every pointer. */
static void test_dynlib(void **st)
{
    size_t (*fn)(const char *) = NULL;
    int (*fn2)(const char *, const char *) = NULL;
    const char *names[] = {"strlen", "strcmp"}, *bad[] = {"strlen", "etwl_no_such_function"};
    void *const slots[] = {&fn, &fn2};
    etwl_dynlib absent = {"libetwl-absent.so.9", names, 2, 0, ""}, lacking = {"libc.so.6", bad, 2, 0, ""},
                libc = {"libc.so.6", names, 2, 0, ""};
    (void)st;
    assert_int_equal(etwl_dynlib_open(&absent, slots), -1);
    assert_non_null(strstr(absent.why, "libetwl-absent.so.9"));
    assert_int_equal(etwl_dynlib_open(&lacking, slots), -1);
    assert_string_equal(lacking.why, "libc.so.6 has no etwl_no_such_function");
    assert_int_equal(etwl_dynlib_open(&lacking, slots), -1); /* asked again: the same answer */
    fn = NULL;
    assert_int_equal(etwl_dynlib_open(&libc, slots), 0);
    assert_int_equal(fn("four"), 4);
    assert_int_equal(fn2("a", "a"), 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_bound), cmocka_unit_test(test_bytes_bound), cmocka_unit_test(test_retry),
        cmocka_unit_test(test_partial),       cmocka_unit_test(test_deadline),    cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_specs),
#ifndef _WIN32
        cmocka_unit_test(test_dynlib),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
