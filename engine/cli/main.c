/* main.c - the etwlua command. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etwl.h"
#include "opts.h"

#define MAX_DIAG_PRINTED 20

typedef struct run {
    etwl_cli_opts *o;
    etwl_buf out;
    FILE *fp;
    uint64_t diags;
} run;

static etwl_session *volatile g_session;

static void on_signal(int sig)
{
    (void)sig;
    if (g_session) etwl_session_close(g_session); /* async-signal-safe */
}

static void install_signals(void)
{
#ifndef _WIN32
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
#else
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
#endif
}

static void on_diag(const char *where, const char *msg, void *user)
{
    run *r = user;
    if (r->diags++ < MAX_DIAG_PRINTED) {
        etwl_buf b;
        etwl_buf_init(&b);
        /* messages quote input, which may be hostile: escape it */
        etwl_text_put_escaped(&b, where, strlen(where));
        etwl_buf_puts(&b, ": ");
        etwl_text_put_escaped(&b, msg, strlen(msg));
        fprintf(stderr, "etwlua: %s (line skipped)\n", b.data ? b.data : "");
        etwl_buf_free(&b);
    } else if (r->diags == MAX_DIAG_PRINTED + 1) {
        fprintf(stderr, "etwlua: more malformed lines; further messages suppressed (counted in --stats)\n");
    }
}

static etwl_status on_event(etwl_event *ev, void *user)
{
    run *r = user;
    etwl_status st;
    if (!r->o->dump) return ETWL_OK;
    etwl_buf_reset(&r->out);
    st = r->o->json ? etwl_event_write_json(ev, &r->out) : etwl_event_write_text(ev, &r->out);
    if (st) return st;
    etwl_buf_putc(&r->out, '\n');
    if (r->out.oom) return ETWL_ENOMEM;
    if (fwrite(r->out.data, 1, r->out.len, r->fp) != r->out.len) return ETWL_EIO;
    return ETWL_OK;
}

static int report(const etwl_error *err)
{
    etwl_buf b;
    etwl_buf_init(&b);
    etwl_text_put_escaped(&b, err->message, strlen(err->message));
    fprintf(stderr, "etwlua: %s\n", b.data ? b.data : etwl_status_name(err->status));
    etwl_buf_free(&b);
    return etwl_exit_code(err->status);
}

int main(int argc, char **argv)
{
    etwl_cli_opts o;
    etwl_error err;
    etwl_session *s = NULL;
    etwl_status st;
    etwl_stats stats;
    run r;
    int code;
    memset(&err, 0, sizeof err);
    if (etwl_cli_parse(argc, argv, &o, &err) != ETWL_EXIT_OK) {
        report(&err);
        fprintf(stderr, "etwlua: see 'etwlua --help'\n");
        return ETWL_EXIT_USAGE;
    }
    if (o.help) {
        fputs(etwl_cli_usage, stdout);
        return ETWL_EXIT_OK;
    }
    if (o.version) {
        printf("etwlua %s\n", ETWL_VERSION);
        return ETWL_EXIT_OK;
    }
    if (o.kill) {
        st = etwl_session_kill(NULL, o.kill, &err);
        if (st) return report(&err);
        fprintf(stderr, "etwlua: stopped session '%s'\n", o.kill);
        return ETWL_EXIT_OK;
    }
    if (o.nscripts) {
        fprintf(stderr, "etwlua: Lua scripts are not supported by this build\n");
        return ETWL_EXIT_NOTSUP;
    }
    memset(&r, 0, sizeof r);
    r.o = &o;
    r.fp = stdout;
    etwl_buf_init(&r.out);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);

    st = etwl_session_open(&o.cfg, &s, &err);
    if (st) {
        if (st == ETWL_EEXIST)
            fprintf(stderr, "etwlua: a session named '%s' already exists; stop it with 'etwlua --kill %s' or pick "
                            "another --name\n", err.session, err.session);
        else
            report(&err);
        etwl_buf_free(&r.out);
        return etwl_exit_code(st);
    }
    etwl_session_set_diag(s, on_diag, &r);
    g_session = s;
    install_signals();
    st = etwl_session_process(s, on_event, &r, &err);
    g_session = NULL;
    if (fflush(stdout) != 0 && st == ETWL_OK) etwl_error_set(&err, st = ETWL_EIO, "writing output failed");
    etwl_session_stats(s, &stats);
    code = st ? report(&err) : ETWL_EXIT_OK;
    if (o.stats)
        fprintf(stderr, "etwlua: stats: read=%llu passed=%llu filtered=%llu malformed=%llu lost=%llu\n",
                (unsigned long long)stats.read, (unsigned long long)stats.passed,
                (unsigned long long)stats.filtered, (unsigned long long)stats.malformed,
                (unsigned long long)stats.lost);
    else if (stats.malformed)
        fprintf(stderr, "etwlua: skipped %llu malformed record(s)\n", (unsigned long long)stats.malformed);
    etwl_session_free(s);
    etwl_buf_free(&r.out);
    return code;
}
