/* api_client.c - a program that knows only engine/include/etwl.h and links
 * only libetwlua.so: replays a JSON-lines file and prints each event's id
 * and CommandLine, then the counters.  tests/layout/exports.sh builds and
 * runs it, so the public API is shown to be enough to write a consumer. */
#include <stdio.h>

#include "etwl.h"

static etwl_status on_event(etwl_event *ev, void *user)
{
    const etwl_value *cmd = etwl_event_get(ev, "CommandLine");
    etwl_buf b;
    (void)user;
    etwl_buf_init(&b);
    etwl_buf_printf(&b, "%u", (unsigned)etwl_event_header(ev)->desc.id);
    if (cmd && cmd->type == ETWL_VT_STRING) { /* attacker-controlled: escaped */
        etwl_buf_putc(&b, ' ');
        etwl_text_put_escaped(&b, cmd->v.s, cmd->n);
    }
    if (!b.oom) printf("%.*s\n", (int)b.len, b.data);
    etwl_buf_free(&b);
    return ETWL_OK;
}

int main(int argc, char **argv)
{
    etwl_config cfg;
    etwl_session *s;
    etwl_error err;
    etwl_stats st;
    if (argc != 2) return 2;
    etwl_config_init(&cfg);
    cfg.read_path = argv[1];
    if (etwl_session_open(&cfg, &s, &err) != ETWL_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    if (etwl_session_process(s, on_event, NULL, &err) != ETWL_OK) fprintf(stderr, "process: %s\n", err.message);
    etwl_session_stats(s, &st);
    printf("read=%llu passed=%llu\n", (unsigned long long)st.read, (unsigned long long)st.passed);
    etwl_session_free(s);
    return 0;
}
