/* sink.h - alert outputs (-o SPEC): one bounded queue and one writer thread
 * per output, so a slow or dead receiver never stalls the event path.
 *
 * The thread that raises alerts only enqueues (etwl_sink_push): it never
 * blocks and never does I/O.  When the queue is full (in records or in
 * bytes) the alert is dropped and counted; the caller raises the count as
 * the engine alert etwlua.output_dropped.  The writer thread delivers in
 * batches through its kind (sink_file.c, sink_syslog.c, sink_http.c,
 * sink_kafka.c, listed in sinks.c), retrying a failed batch with
 * exponential backoff.  etwl_sink_close flushes with a deadline and says how
 * many alerts were not delivered.  This file names no kind. */
#ifndef ETWL_OUTPUT_SINK_H
#define ETWL_OUTPUT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "etwl.h"

typedef struct etwl_sink etwl_sink;

/* What a kind may need besides the JSON line: syslog's MSGID and PRI,
 * Kafka's key, HEC's host. */
typedef struct etwl_sink_meta {
    const char *rule;
    size_t rule_len;
    const char *severity; /* info, low, medium, high, critical */
    const char *host;     /* where the event happened (or this machine) */
    size_t host_len;
    const char *time; /* RFC 3339, as in the alert */
} etwl_sink_meta;

/* One queued alert: a single allocation holding the line and its meta. */
typedef struct etwl_sink_rec {
    struct etwl_sink_rec *next;
    char *line; /* the JSON alert, no newline */
    size_t len;
    char *rule, *host;
    size_t rule_len, host_len;
    int sev;       /* 0 info .. 4 critical */
    char time[32]; /* RFC 3339 */
    char data[];
} etwl_sink_rec;

typedef struct etwl_sink_opts {
    size_t max_records;   /* queue bound in alerts; 0 = 100000 */
    size_t max_bytes;     /* queue bound in bytes; 0 = 64 MiB */
    double flush_seconds; /* deadline at exit; 0 = 5 */
    int insecure;         /* https: do not verify the server's certificate */
} etwl_sink_opts;

/* One kind of output.  open/send/reopen/finish/close run on the writer
 * thread except open and close, which run on the caller's. */
typedef struct etwl_sink_kind {
    const char *name;
    /* 1 when spec is this kind's (by its prefix) */
    int (*claims)(const char *spec);
    /* Not NULL: this build lacks the kind; the message says why. */
    const char *unbuilt;
    size_t batch; /* most records handed to send at once */
    /* Parses spec and prepares; a bad spec is ETWL_EINVAL naming it.  A
     * receiver that is down is not an error here: send retries. */
    etwl_status (*open)(etwl_sink *self, const char *spec, const etwl_sink_opts *o, void **state, etwl_error *err);
    /* Delivers recs[0..n) in order; *done says how many went.  Not ETWL_OK:
     * the rest is retried after a backoff (err says why, once per outage). */
    etwl_status (*send)(void *state, etwl_sink_rec *const *recs, size_t n, size_t *done, etwl_error *err);
    void (*reopen)(void *state); /* optional: SIGUSR1 (log rotation) */
    /* optional: at exit, once the queue is empty, delivers what the kind
     * buffers itself within ms; returns how many it could not */
    uint64_t (*finish)(void *state, long ms);
    void (*close)(void *state);
} etwl_sink_kind;

/* The kinds, NULL-terminated (sinks.c). */
extern const etwl_sink_kind *const etwl_sink_kinds[];

typedef struct etwl_sink_stats {
    uint64_t queued;    /* accepted into the queue */
    uint64_t delivered; /* handed to the receiver */
    uint64_t dropped;   /* queue full, or lost by the kind (counted) */
    uint64_t retries;   /* failed attempts */
    uint64_t pending;   /* in the queue or in flight now */
} etwl_sink_stats;

/* "-" and "stdout" are not sinks: the caller writes stdout itself. */
etwl_status etwl_sink_open(const char *spec, const etwl_sink_opts *o, etwl_sink **out, etwl_error *err);
/* As etwl_sink_open, with the kind given (the tests' fake kinds). */
etwl_status etwl_sink_open_kind(const etwl_sink_kind *k, const char *spec, const etwl_sink_opts *o, etwl_sink **out,
                                etwl_error *err);
/* Never blocks: 1 queued, 0 dropped (counted). */
int etwl_sink_push(etwl_sink *s, const char *line, size_t n, const etwl_sink_meta *m);
/* As push, but waits for room (for the benchmark's maximum rate only). */
int etwl_sink_push_wait(etwl_sink *s, const char *line, size_t n, const etwl_sink_meta *m);
void etwl_sink_stats_get(etwl_sink *s, etwl_sink_stats *st);
const char *etwl_sink_spec(const etwl_sink *s);
/* Flushes within the deadline given at open, stops the thread and frees;
 * returns how many accepted alerts were not delivered (queued, in flight,
 * or buffered by the kind when the deadline passed); final (may be NULL)
 * gets the last counters, pending being that number. */
uint64_t etwl_sink_close(etwl_sink *s, etwl_sink_stats *final);

/* Async-signal-safe: asks every sink to reopen (SIGUSR1). */
void etwl_sink_signal_reopen(void);

/* For kinds: count alerts they lost after accepting them; and whether the
 * flush deadline has passed (give up on a blocking call). */
void etwl_sink_add_dropped(etwl_sink *s, uint64_t n);
int etwl_sink_cancelled(const etwl_sink *s);
const char *etwl_sink_severity_name(int sev);

#endif
