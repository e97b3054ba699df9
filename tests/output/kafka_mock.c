/* kafka_mock.c - librdkafka's own mock cluster for tests/output/run.sh.
 *
 *   kafka_mock DIR TOPIC N SECONDS
 *
 * Starts a one-broker mock cluster with TOPIC (3 partitions), writes its
 * bootstrap address to DIR/bootstrap (the readiness signal), then consumes
 * TOPIC from the beginning, appending "KEY<TAB>PAYLOAD" lines to
 * DIR/consumed, until N messages or SECONDS pass.  SIGUSR1 takes the broker
 * down, SIGUSR2 brings it back; each is acknowledged by DIR/down or DIR/up
 * appearing.  Exits 0 when N messages came, 1 on timeout.  N = 0 (the
 * benchmark): no consumer, only the cluster, until SECONDS pass or a
 * signal; the producer's delivery reports are the broker's acknowledgement.
 * (A consumer cannot check a long run anyway: the mock broker keeps only the
 * last few MB of each partition.) */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t want_down, want_up;
static void on_usr1(int s) { (void)s, want_down = 1; }
static void on_usr2(int s) { (void)s, want_up = 1; }

static void touch(const char *dir, const char *name)
{
    char p[4096];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if ((f = fopen(p, "w"))) fclose(f);
}

int main(int argc, char **argv)
{
    char why[512], path[4096];
    rd_kafka_conf_t *c;
    rd_kafka_t *owner, *cons;
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_topic_partition_list_t *parts;
    FILE *out;
    long n, got = 0;
    time_t end;
    int i;
    if (argc != 5) {
        fprintf(stderr, "usage: kafka_mock DIR TOPIC N SECONDS\n");
        return 2;
    }
    n = atol(argv[3]);
    end = time(NULL) + atol(argv[4]);
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    c = rd_kafka_conf_new();
    if (!(owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof why))) {
        fprintf(stderr, "kafka_mock: %s\n", why);
        return 2;
    }
    if (!(mc = rd_kafka_mock_cluster_new(owner, 1))) {
        fprintf(stderr, "kafka_mock: no mock cluster\n");
        return 2;
    }
    rd_kafka_mock_topic_create(mc, argv[2], 3, 1);
    c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), why, sizeof why);
    rd_kafka_conf_set(c, "group.id", "etwlua-test", why, sizeof why);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", why, sizeof why);
    rd_kafka_conf_set(c, "auto.offset.reset", "earliest", why, sizeof why);
    if (!(cons = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof why))) {
        fprintf(stderr, "kafka_mock: %s\n", why);
        return 2;
    }
    rd_kafka_poll_set_consumer(cons);
    parts = rd_kafka_topic_partition_list_new(3);
    for (i = 0; i < 3; i++) rd_kafka_topic_partition_list_add(parts, argv[2], i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(cons, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    snprintf(path, sizeof path, "%s/consumed", argv[1]);
    if (!(out = fopen(path, "a"))) return 2;
    snprintf(path, sizeof path, "%s/bootstrap.tmp", argv[1]);
    {
        FILE *f = fopen(path, "w");
        char final[4096];
        if (!f) return 2;
        fprintf(f, "%s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fclose(f);
        snprintf(final, sizeof final, "%s/bootstrap", argv[1]);
        rename(path, final); /* appears whole */
    }
    if (n == 0) {
        while (time(NULL) < end) sleep(1);
        return 0;
    }
    while (got < n && time(NULL) < end) {
        rd_kafka_message_t *m;
        if (want_down) {
            want_down = 0;
            rd_kafka_mock_broker_set_down(mc, 1);
            touch(argv[1], "down");
        }
        if (want_up) {
            want_up = 0;
            rd_kafka_mock_broker_set_up(mc, 1);
            touch(argv[1], "up");
        }
        m = rd_kafka_consumer_poll(cons, 100);
        if (!m) continue;
        if (!m->err) {
            fwrite(m->key ? m->key : "", 1, m->key ? m->key_len : 0, out);
            fputc('\t', out);
            fwrite(m->payload, 1, m->len, out);
            fputc('\n', out);
            fflush(out);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    fclose(out);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
    return got >= n ? 0 : 1;
}
