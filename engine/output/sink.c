/* sink.c - see sink.h: the queue, the writer thread, retries and flush. */
#include "output/sink.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_RECORDS 100000
#define DEFAULT_MAX_BYTES (64u << 20)
#define DEFAULT_FLUSH_SECONDS 5.0
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
/* the writer wakes this often when idle, to notice a reopen request: the
 * signal handler may only set a flag */
#define IDLE_WAKE_MS 200
/* after the deadline, how long the writer gets to notice it must stop
 * before close gives up on it */
#define ABORT_GRACE_MS 1000

static volatile sig_atomic_t g_reopen_gen;

void etwl_sink_signal_reopen(void) { g_reopen_gen++; }

struct etwl_sink {
    const etwl_sink_kind *kind;
    void *state;
    char *spec;
    etwl_sink_opts o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* writer: records, closing, abort */
    pthread_cond_t room; /* push_wait and close: the writer made progress */
    etwl_sink_rec *head, *tail;
    size_t nrec, nbytes;
    size_t inflight;
    int closing, finished, writer_waiting;
    struct timespec deadline; /* set with closing */
    atomic_int abort;
    uint64_t queued, delivered, retries, undelivered;
    atomic_uint_least64_t dropped;
    sig_atomic_t reopen_seen;
};

static const char *const sev_names[] = {"info", "low", "medium", "high", "critical"};

const char *etwl_sink_severity_name(int sev) { return sev >= 0 && sev < 5 ? sev_names[sev] : "medium"; }

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static long ms_until(const struct timespec *d)
{
    struct timespec now;
    long ms;
    clock_gettime(CLOCK_REALTIME, &now);
    ms = (long)(d->tv_sec - now.tv_sec) * 1000 + (d->tv_nsec - now.tv_nsec) / 1000000L;
    return ms > 0 ? ms : 0;
}

void etwl_sink_add_dropped(etwl_sink *s, uint64_t n) { atomic_fetch_add(&s->dropped, n); }

int etwl_sink_cancelled(const etwl_sink *s) { return atomic_load(&((etwl_sink *)s)->abort); }

const char *etwl_sink_spec(const etwl_sink *s) { return s->spec; }

/* Takes up to the kind's batch from the queue (mutex held). */
static size_t take(etwl_sink *s, etwl_sink_rec **batch, size_t max)
{
    size_t n = 0;
    while (s->head && n < max) {
        etwl_sink_rec *r = s->head;
        s->head = r->next;
        if (!s->head) s->tail = NULL;
        s->nrec--;
        s->nbytes -= r->len;
        batch[n++] = r;
    }
    s->inflight = n;
    return n;
}

static void *writer(void *arg)
{
    etwl_sink *s = arg;
    size_t max = s->kind->batch ? s->kind->batch : 256;
    etwl_sink_rec **batch = malloc(max * sizeof *batch);
    int failing = 0;
#ifndef _WIN32
    {
        /* signals (Ctrl-C, SIGUSR1) go to the main thread, whose handlers
         * only set flags; this thread's I/O is never interrupted by them */
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
    }
#endif
    pthread_mutex_lock(&s->mu);
    for (;;) {
        size_t n, start = 0, i;
        long backoff = BACKOFF_FIRST_MS;
        while (!s->head && !s->closing && s->reopen_seen == g_reopen_gen) {
            struct timespec ts;
            deadline_in(&ts, IDLE_WAKE_MS);
            s->writer_waiting = 1;
            pthread_cond_timedwait(&s->wake, &s->mu, &ts);
            s->writer_waiting = 0;
        }
        if (s->reopen_seen != g_reopen_gen) {
            s->reopen_seen = g_reopen_gen;
            if (s->kind->reopen) {
                pthread_mutex_unlock(&s->mu);
                s->kind->reopen(s->state);
                pthread_mutex_lock(&s->mu);
            }
            continue;
        }
        if (!s->head || atomic_load(&s->abort)) break; /* closing and empty, or out of time */
        n = batch ? take(s, batch, max) : 0;
        if (!n) break; /* no memory for the batch array: close counts what is left */
        pthread_cond_broadcast(&s->room);
        pthread_mutex_unlock(&s->mu);
        for (;;) {
            size_t done = 0;
            etwl_error err;
            etwl_status st;
            memset(&err, 0, sizeof err);
            st = s->kind->send(s->state, batch + start, n - start, &done, &err);
            if (done > n - start) done = n - start;
            pthread_mutex_lock(&s->mu);
            s->delivered += done;
            s->inflight -= done;
            pthread_mutex_unlock(&s->mu);
            start += done;
            if (st == ETWL_OK && start >= n) {
                if (failing) fprintf(stderr, "etwlua: output %s: delivering again\n", s->spec);
                failing = 0;
                break;
            }
            pthread_mutex_lock(&s->mu);
            s->retries++;
            pthread_mutex_unlock(&s->mu);
            if (!failing)
                fprintf(stderr, "etwlua: output %s: %s; retrying with backoff\n", s->spec,
                        err.message[0] ? err.message : "delivery failed");
            failing = 1;
            if (atomic_load(&s->abort)) break;
            /* wait out the backoff, unless close runs out of time */
            /* a batch that made progress (a partial send) waits the least */
            if (done) backoff = BACKOFF_FIRST_MS;
            pthread_mutex_lock(&s->mu);
            {
                struct timespec ts;
                deadline_in(&ts, backoff);
                while (!atomic_load(&s->abort) && pthread_cond_timedwait(&s->wake, &s->mu, &ts) != ETIMEDOUT) {
                }
            }
            pthread_mutex_unlock(&s->mu);
            if (atomic_load(&s->abort)) break;
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
        for (i = 0; i < n; i++) free(batch[i]);
        pthread_mutex_lock(&s->mu);
        if (start < n) s->undelivered += n - start;
        s->inflight = 0;
        pthread_cond_broadcast(&s->room);
        if (atomic_load(&s->abort)) break;
    }
    /* what the kind holds itself (librdkafka's queue) gets what is left of
     * the deadline */
    if (s->closing && s->kind->finish) {
        long ms = atomic_load(&s->abort) ? 0 : ms_until(&s->deadline);
        uint64_t left;
        pthread_mutex_unlock(&s->mu);
        left = s->kind->finish(s->state, ms);
        pthread_mutex_lock(&s->mu);
        s->undelivered += left;
    }
    s->finished = 1;
    pthread_cond_broadcast(&s->room);
    pthread_mutex_unlock(&s->mu);
    free(batch);
    return NULL;
}

etwl_status etwl_sink_open(const char *spec, const etwl_sink_opts *o, etwl_sink **out, etwl_error *err)
{
    const etwl_sink_kind *k = NULL;
    int i;
    *out = NULL;
    for (i = 0; etwl_sink_kinds[i]; i++)
        if (etwl_sink_kinds[i]->claims(spec)) {
            k = etwl_sink_kinds[i];
            break;
        }
    if (!k)
        return etwl_error_set(err, ETWL_EINVAL,
                              "-o %s: not an output; use file:PATH, syslog:[udp|tcp://HOST:PORT], "
                              "http(s)://URL, kafka://BROKERS/TOPIC or - (stdout)",
                              spec);
    if (k->unbuilt) return etwl_error_set(err, ETWL_ENOTSUP, "-o %s: %s", spec, k->unbuilt);
    return etwl_sink_open_kind(k, spec, o, out, err);
}

etwl_status etwl_sink_open_kind(const etwl_sink_kind *k, const char *spec, const etwl_sink_opts *o, etwl_sink **out,
                                etwl_error *err)
{
    etwl_sink *s;
    etwl_status st;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s || !(s->spec = strdup(spec))) {
        free(s);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    s->kind = k;
    if (o) s->o = *o;
    if (!s->o.max_records) s->o.max_records = DEFAULT_MAX_RECORDS;
    if (!s->o.max_bytes) s->o.max_bytes = DEFAULT_MAX_BYTES;
    if (!(s->o.flush_seconds > 0)) s->o.flush_seconds = DEFAULT_FLUSH_SECONDS;
    s->reopen_seen = g_reopen_gen;
    atomic_init(&s->abort, 0);
    atomic_init(&s->dropped, 0);
    st = k->open(s, spec, &s->o, &s->state, err);
    if (st != ETWL_OK) {
        free(s->spec);
        free(s);
        return st;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->room, NULL);
    if (pthread_create(&s->thread, NULL, writer, s) != 0) {
        k->close(s->state);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->wake);
        pthread_cond_destroy(&s->room);
        free(s->spec);
        free(s);
        return etwl_error_set(err, ETWL_ENOMEM, "-o %s: cannot start its writer thread", spec);
    }
    *out = s;
    return ETWL_OK;
}

static int sev_of(const char *s)
{
    int i;
    for (i = 0; s && i < 5; i++)
        if (strcmp(s, sev_names[i]) == 0) return i;
    return 2;
}

static etwl_sink_rec *make_rec(const char *line, size_t n, const etwl_sink_meta *m)
{
    size_t rl = m && m->rule ? m->rule_len : 0, hl = m && m->host ? m->host_len : 0;
    etwl_sink_rec *r = malloc(sizeof *r + n + 1 + rl + 1 + hl + 1);
    if (!r) return NULL;
    r->next = NULL;
    r->line = r->data;
    memcpy(r->line, line, n);
    r->line[n] = 0;
    r->len = n;
    r->rule = r->line + n + 1;
    if (rl) memcpy(r->rule, m->rule, rl);
    r->rule[rl] = 0;
    r->rule_len = rl;
    r->host = r->rule + rl + 1;
    if (hl) memcpy(r->host, m->host, hl);
    r->host[hl] = 0;
    r->host_len = hl;
    r->sev = sev_of(m ? m->severity : NULL);
    r->time[0] = 0;
    if (m && m->time) snprintf(r->time, sizeof r->time, "%s", m->time);
    return r;
}

static int push(etwl_sink *s, const char *line, size_t n, const etwl_sink_meta *m, int wait)
{
    etwl_sink_rec *r;
    if (n > s->o.max_bytes || !(r = make_rec(line, n, m))) {
        atomic_fetch_add(&s->dropped, 1);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    while (wait && !s->finished && (s->nrec >= s->o.max_records || s->nbytes + n > s->o.max_bytes))
        pthread_cond_wait(&s->room, &s->mu);
    if (s->finished || s->nrec >= s->o.max_records || s->nbytes + n > s->o.max_bytes) {
        pthread_mutex_unlock(&s->mu);
        free(r);
        atomic_fetch_add(&s->dropped, 1);
        return 0;
    }
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    s->nrec++;
    s->nbytes += n;
    s->queued++;
    /* a signal only when the writer sleeps: most pushes cost no syscall */
    if (s->writer_waiting) pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    return 1;
}

int etwl_sink_push(etwl_sink *s, const char *line, size_t n, const etwl_sink_meta *m) { return push(s, line, n, m, 0); }

int etwl_sink_push_wait(etwl_sink *s, const char *line, size_t n, const etwl_sink_meta *m)
{
    return push(s, line, n, m, 1);
}

void etwl_sink_stats_get(etwl_sink *s, etwl_sink_stats *st)
{
    pthread_mutex_lock(&s->mu);
    st->queued = s->queued;
    st->delivered = s->delivered;
    st->retries = s->retries;
    st->pending = s->nrec + s->inflight;
    pthread_mutex_unlock(&s->mu);
    st->dropped = atomic_load(&s->dropped);
}

uint64_t etwl_sink_close(etwl_sink *s, etwl_sink_stats *final)
{
    struct timespec deadline, grace;
    uint64_t left;
    int joined = 0;
    etwl_sink_rec *r;
    if (!s) return 0;
    deadline_in(&deadline, (long)(s->o.flush_seconds * 1000));
    pthread_mutex_lock(&s->mu);
    s->deadline = deadline;
    s->closing = 1;
    pthread_cond_broadcast(&s->wake);
    while (!s->finished) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (!before(&now, &deadline)) break;
        pthread_cond_timedwait(&s->room, &s->mu, &deadline);
    }
    if (!s->finished) {
        /* out of time: the writer stops at its next check (kinds poll
         * etwl_sink_cancelled in their blocking calls) */
        atomic_store(&s->abort, 1);
        pthread_cond_broadcast(&s->wake);
        deadline_in(&grace, ABORT_GRACE_MS);
        while (!s->finished && ms_until(&grace) > 0) pthread_cond_timedwait(&s->room, &s->mu, &grace);
    }
    left = s->undelivered + s->nrec + s->inflight;
    if (final) {
        final->queued = s->queued;
        final->delivered = s->delivered;
        final->retries = s->retries;
        final->pending = left;
        final->dropped = atomic_load(&s->dropped);
    }
    if (s->finished) {
        joined = 1;
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    } else {
        /* a writer stuck in a call that ignores the deadline: leave it (and
         * its state) to the process exit rather than hang here */
        pthread_mutex_unlock(&s->mu);
        pthread_detach(s->thread);
        return left;
    }
    while ((r = s->head)) {
        s->head = r->next;
        free(r);
    }
    if (joined) {
        s->kind->close(s->state);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->wake);
        pthread_cond_destroy(&s->room);
        free(s->spec);
        free(s);
    }
    return left;
}
