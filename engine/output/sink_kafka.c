/* sink_kafka.c - kafka://BROKERS/TOPIC[?PROPERTY=VALUE&...]: each alert a
 * message keyed by host (the event's computer, else this machine), so one
 * host's alerts stay in order on one partition.
 *
 * BROKERS is librdkafka's bootstrap.servers (host:port,host:port); every
 * query parameter is a librdkafka producer property (compression.type=lz4,
 * security.protocol=ssl, ...), refused at start if librdkafka refuses it.
 * ETWLUA_KAFKA_PASSWORD, when set, is sasl.password, so the secret is not on
 * the command line.  librdkafka queues and retries by itself (until
 * message.timeout.ms): a broker that is down delays delivery; its queue
 * being full makes ours fill, and our overflow is counted.  A message
 * librdkafka gives up on is counted as dropped.
 * librdkafka is loaded when the first kafka output opens (dynlib.h). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/dynlib.h"
#include "output/sink.h"

#define KAFKA_SONAME "librdkafka.so.1"
/* clang-format off: one function a line */
#define KAFKA_FUNCS(X)                                                                                                 \
    X(rd_kafka_conf_new)                                                                                               \
    X(rd_kafka_conf_set)                                                                                               \
    X(rd_kafka_conf_set_opaque)                                                                                        \
    X(rd_kafka_conf_set_dr_msg_cb)                                                                                     \
    X(rd_kafka_conf_destroy)                                                                                           \
    X(rd_kafka_new)                                                                                                    \
    X(rd_kafka_destroy)                                                                                                \
    X(rd_kafka_topic_new)                                                                                              \
    X(rd_kafka_topic_destroy)                                                                                          \
    X(rd_kafka_produce)                                                                                                \
    X(rd_kafka_poll)                                                                                                   \
    X(rd_kafka_flush)                                                                                                  \
    X(rd_kafka_outq_len)                                                                                               \
    X(rd_kafka_purge)                                                                                                  \
    X(rd_kafka_last_error)                                                                                             \
    X(rd_kafka_err2str)
/* clang-format on */
ETWL_DYNLIB_DEFINE(KAFKA_FUNCS, KAFKA_SONAME); /* called as lib.rd_kafka_... */

typedef struct kafka_sink {
    etwl_sink *self;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    int warned;
} kafka_sink;

static int kafka_claims(const char *s) { return strncmp(s, "kafka://", 8) == 0; }

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_sink *k = opaque;
    (void)rk;
    if (!m->err || m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return; /* purged at exit: already counted as not delivered */
    etwl_sink_add_dropped(k->self, 1);
    if (!k->warned++)
        fprintf(stderr, "etwlua: output kafka: a message was not delivered: %s (counted as dropped)\n",
                lib.rd_kafka_err2str(m->err));
}

static etwl_status conf_set(rd_kafka_conf_t *c, const char *k, const char *v, const char *spec, etwl_error *err)
{
    char why[256];
    if (lib.rd_kafka_conf_set(c, k, v, why, sizeof why) != RD_KAFKA_CONF_OK)
        return etwl_error_set(err, ETWL_EINVAL, "-o %s: %s", spec, why);
    return ETWL_OK;
}

static etwl_status kafka_open(etwl_sink *self, const char *spec, const etwl_sink_opts *o, void **state, etwl_error *err)
{
    kafka_sink *k;
    rd_kafka_conf_t *c;
    char *s = strdup(spec + 8), *slash, *q, *p, why[512];
    const char *pw = getenv("ETWLUA_KAFKA_PASSWORD");
    void *const slots[] = {KAFKA_FUNCS(ETWL_DYNLIB_SLOT)};
    (void)o;
    if (etwl_dynlib_open(&lib_so, slots) != 0) {
        free(s);
        return etwl_error_set(err, ETWL_EIO, "-o %s: the Kafka output needs librdkafka: %s", spec, lib_so.why);
    }
    if (!s) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    q = strchr(s, '?');
    if (q) *q++ = 0;
    slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')) {
        free(s);
        return etwl_error_set(err, ETWL_EINVAL, "-o %s: expected kafka://HOST:PORT[,HOST:PORT]/TOPIC", spec);
    }
    *slash = 0;
    if (!(k = calloc(1, sizeof *k))) {
        free(s);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    k->self = self;
    c = lib.rd_kafka_conf_new();
    /* acks from every in-sync replica, no duplicates on retry */
    if (conf_set(c, "bootstrap.servers", s, spec, err) || conf_set(c, "enable.idempotence", "true", spec, err) ||
        conf_set(c, "linger.ms", "20", spec, err) || (pw && conf_set(c, "sasl.password", pw, spec, err)))
        goto fail;
    for (p = q; p && *p;) {
        char *amp = strchr(p, '&'), *eq;
        if (amp) *amp = 0;
        eq = strchr(p, '=');
        if (!eq) {
            etwl_error_set(err, ETWL_EINVAL, "-o %s: '%s' is not PROPERTY=VALUE", spec, p);
            goto fail;
        }
        *eq = 0;
        if (conf_set(c, p, eq + 1, spec, err)) goto fail;
        p = amp ? amp + 1 : NULL;
    }
    lib.rd_kafka_conf_set_opaque(c, k);
    lib.rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    if (!(k->rk = lib.rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why))) {
        etwl_error_set(err, ETWL_EINVAL, "-o %s: %s", spec, why);
        goto fail;
    }
    c = NULL; /* rd_kafka_new owns it now */
    if (!(k->topic = lib.rd_kafka_topic_new(k->rk, slash + 1, NULL))) {
        etwl_error_set(err, ETWL_EINVAL, "-o %s: topic: %s", spec, lib.rd_kafka_err2str(lib.rd_kafka_last_error()));
        lib.rd_kafka_destroy(k->rk);
        goto fail;
    }
    free(s);
    *state = k;
    return ETWL_OK;
fail:
    if (c) lib.rd_kafka_conf_destroy(c);
    free(k);
    free(s);
    return err->status;
}

static etwl_status kafka_send(void *state, etwl_sink_rec *const *recs, size_t n, size_t *done, etwl_error *err)
{
    kafka_sink *k = state;
    size_t i;
    *done = 0;
    for (i = 0; i < n; i++) {
        const etwl_sink_rec *r = recs[i];
        if (lib.rd_kafka_produce(k->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, r->line, r->len,
                                 r->host_len ? r->host : NULL, r->host_len, NULL) != 0) {
            rd_kafka_resp_err_t e = lib.rd_kafka_last_error();
            lib.rd_kafka_poll(k->rk, e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? 100 : 0);
            return etwl_error_set(err, ETWL_EIO, "producing failed: %s", lib.rd_kafka_err2str(e));
        }
        (*done)++;
    }
    lib.rd_kafka_poll(k->rk, 0); /* delivery reports */
    return ETWL_OK;
}

static uint64_t kafka_finish(void *state, long ms)
{
    kafka_sink *k = state;
    int left;
    lib.rd_kafka_flush(k->rk, (int)(ms > 0 ? ms : 0));
    left = lib.rd_kafka_outq_len(k->rk);
    return left > 0 ? (uint64_t)left : 0;
}

static void kafka_close(void *state)
{
    kafka_sink *k = state;
    /* what flush could not deliver was counted; do not wait for it here */
    lib.rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    lib.rd_kafka_poll(k->rk, 0);
    lib.rd_kafka_topic_destroy(k->topic);
    lib.rd_kafka_destroy(k->rk);
    free(k);
}

const etwl_sink_kind etwl_sink_kafka = {
    .name = "kafka",
    .claims = kafka_claims,
    .batch = 1000,
    .open = kafka_open,
    .send = kafka_send,
    .finish = kafka_finish,
    .close = kafka_close,
};
