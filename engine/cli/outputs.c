/* outputs.c - see outputs.h. */
#include "outputs.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "output/sink.h"

struct etwl_outputs {
    etwl_sink *sinks[ETWL_CLI_MAX_OUTPUTS];
    uint64_t reported[ETWL_CLI_MAX_OUTPUTS]; /* drops already raised */
    int n;
    int to_stdout, stdout_form; /* stdout's form, as without -o */
    int form;                   /* the outputs': JSON in the --schema asked */
    etwl_buf line, text;
    char hostname[256];
    size_t hostname_len;
};

#ifndef _WIN32
static void on_usr1(int sig)
{
    (void)sig;
    etwl_sink_signal_reopen();
}
#endif

etwl_status etwl_outputs_open(const etwl_cli_opts *o, int stdout_form, etwl_outputs **out, etwl_error *err)
{
    etwl_outputs *x;
    etwl_sink_opts so;
    int i;
    *out = NULL;
    if (!o->noutputs) return ETWL_OK;
    if (!(x = calloc(1, sizeof *x))) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    etwl_buf_init(&x->line);
    etwl_buf_init(&x->text);
    x->stdout_form = stdout_form;
    x->form = etwl_cli_output_form(o);
    memset(&so, 0, sizeof so);
    so.max_records = (size_t)o->out_queue;
    so.max_bytes = (size_t)o->out_queue_mb << 20;
    so.flush_seconds = o->out_flush;
    so.insecure = o->out_insecure;
#ifdef _WIN32
    /* gethostname needs winsock started; the environment has the name */
    snprintf(x->hostname, sizeof x->hostname, "%s", getenv("COMPUTERNAME") ? getenv("COMPUTERNAME") : "");
#else
    if (gethostname(x->hostname, sizeof x->hostname - 1) != 0) x->hostname[0] = 0;
#endif
    x->hostname_len = strlen(x->hostname);
    for (i = 0; i < o->noutputs; i++) {
        const char *spec = o->outputs[i];
        etwl_status st;
        if (strcmp(spec, "-") == 0 || strcmp(spec, "stdout") == 0) {
            x->to_stdout = 1;
            continue;
        }
        if ((st = etwl_sink_open(spec, &so, &x->sinks[x->n], err)) != ETWL_OK) {
            etwl_outputs_close(x, 0);
            return st;
        }
        x->n++;
    }
#ifndef _WIN32
    {
        /* logrotate's "kill -USR1": the handler only sets a flag, each
         * writer thread reopens its file */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
    }
#endif
    *out = x;
    return ETWL_OK;
}

/* to every sink but skip (-1: all) */
static void route(etwl_outputs *x, const etwl_alert *a, int skip)
{
    etwl_sink_meta m;
    const etwl_header *h = a->event ? etwl_event_header(a->event) : NULL;
    int i;
    if (x->n > (skip >= 0)) {
        etwl_buf_reset(&x->line);
        etwl_alert_write(&x->line, a, x->form);
        memset(&m, 0, sizeof m);
        m.rule = a->rule;
        m.rule_len = a->rule_len;
        m.severity = a->severity;
        m.time = a->time;
        /* the host the event happened on (a replayed EVTX file's computer),
         * else this machine */
        if (h && (h->has & ETWL_HAS_COMPUTER) && h->computer_len) {
            m.host = h->computer;
            m.host_len = h->computer_len;
        } else {
            m.host = x->hostname;
            m.host_len = x->hostname_len;
        }
        if (!x->line.oom)
            for (i = 0; i < x->n; i++)
                if (i != skip) etwl_sink_push(x->sinks[i], x->line.data, x->line.len, &m);
    }
    if (x->to_stdout) {
        etwl_buf_reset(&x->text);
        etwl_alert_write(&x->text, a, x->stdout_form);
        etwl_buf_putc(&x->text, '\n');
        if (!x->text.oom) fwrite(x->text.data, 1, x->text.len, stdout);
    }
}

void etwl_outputs_alert(const etwl_alert *a, void *outs) { route(outs, a, -1); }

typedef struct dropped {
    const char *spec;
    uint64_t total, fresh;
} dropped;

static void dropped_fields(etwl_buf *b, int json, void *ctx)
{
    const dropped *d = ctx;
    if (json) {
        etwl_buf_puts(b, "{\"output\":");
        etwl_json_put_string(b, d->spec, strlen(d->spec));
        etwl_buf_printf(b, ",\"dropped\":%llu,\"new\":%llu}", (unsigned long long)d->total,
                        (unsigned long long)d->fresh);
    } else {
        etwl_buf_puts(b, " output=");
        etwl_text_put_escaped(b, d->spec, strlen(d->spec));
        etwl_buf_printf(b, " dropped=%llu new=%llu", (unsigned long long)d->total, (unsigned long long)d->fresh);
    }
}

void etwl_outputs_check(etwl_outputs *x)
{
    int i;
    if (!x) return;
    for (i = 0; i < x->n; i++) {
        etwl_sink_stats st;
        char ts[ETWL_TIME_STRLEN + 1], msg[300];
        struct timespec now;
        dropped d;
        etwl_alert a;
        etwl_sink_stats_get(x->sinks[i], &st);
        if (st.dropped <= x->reported[i]) continue;
        d = (dropped){etwl_sink_spec(x->sinks[i]), st.dropped, st.dropped - x->reported[i]};
        x->reported[i] = st.dropped;
        clock_gettime(CLOCK_REALTIME, &now);
        etwl_time_format(etwl_time_from_unix_ns((int64_t)now.tv_sec * 1000000000 + now.tv_nsec), ts);
        snprintf(msg, sizeof msg, "%llu alerts dropped so far by output %s (its queue was full)",
                 (unsigned long long)st.dropped, d.spec);
        a = (etwl_alert){
            ts,   "etwlua.output_dropped", 21, "An output dropped alerts", 24, "high", msg, strlen(msg), NULL,
            NULL, dropped_fields,          &d};
        if (x->n > 1 || x->to_stdout) {
            route(x, &a, i);
            fflush(stdout); /* rare, and a reader waits for it */
        } else {            /* no other output to tell: stderr, never silence */
            etwl_buf_reset(&x->text);
            etwl_alert_write(&x->text, &a, 0);
            if (!x->text.oom) fprintf(stderr, "etwlua: %s\n", x->text.data);
        }
    }
}

int etwl_outputs_close(etwl_outputs *x, int stats)
{
    int i, lost = 0;
    if (!x) return 0;
    fflush(stdout);
    for (i = 0; i < x->n; i++) {
        etwl_sink_stats st;
        uint64_t left;
        char *spec = strdup(etwl_sink_spec(x->sinks[i]));
        left = etwl_sink_close(x->sinks[i], &st);
        if (left)
            fprintf(stderr, "etwlua: output %s: %llu alert(s) not delivered by the flush deadline\n", spec ? spec : "?",
                    (unsigned long long)left);
        if (st.dropped)
            fprintf(stderr, "etwlua: output %s: %llu alert(s) dropped\n", spec ? spec : "?",
                    (unsigned long long)st.dropped);
        if (stats)
            fprintf(stderr,
                    "etwlua: output %s: queued=%llu delivered=%llu dropped=%llu retries=%llu undelivered=%llu\n",
                    spec ? spec : "?", (unsigned long long)st.queued, (unsigned long long)st.delivered,
                    (unsigned long long)st.dropped, (unsigned long long)st.retries, (unsigned long long)left);
        if (left || st.dropped) lost = 1;
        free(spec);
    }
    etwl_buf_free(&x->line);
    etwl_buf_free(&x->text);
    free(x);
    return lost;
}
