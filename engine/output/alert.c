/* alert.c - see alert.h.
 *
 * JSON: {"time","rule","title","severity","techniques","message","event",
 * "fields"}, in that order, always all of them, so consumers need no
 * optional-key handling.  Text: "TIME ALERT [SEV] RULE: TITLE (TECH) -
 * MESSAGE pid=N k=v ...", with every attacker-reachable string escaped so
 * it can neither move the cursor nor forge a line. */
#include "output/alert.h"

void etwl_alert_write(etwl_buf *b, const etwl_alert *a, int json)
{
    if (json) {
        etwl_buf_printf(b, "{\"time\":\"%s\",\"rule\":", a->time);
        etwl_json_put_string(b, a->rule, a->rule_len);
        etwl_buf_puts(b, ",\"title\":");
        if (a->title) etwl_json_put_string(b, a->title, a->title_len);
        else etwl_json_put_string(b, a->rule, a->rule_len);
        etwl_buf_printf(b, ",\"severity\":\"%s\",\"techniques\":", a->severity);
        if (a->techniques) a->techniques(b, 1, a->ctx);
        else etwl_buf_puts(b, "[]");
        etwl_buf_puts(b, ",\"message\":");
        etwl_json_put_string(b, a->message ? a->message : "", a->message ? a->message_len : 0);
        etwl_buf_puts(b, ",\"event\":");
        if (a->event) etwl_event_write_json(a->event, b);
        else etwl_buf_puts(b, "null");
        etwl_buf_puts(b, ",\"fields\":");
        if (a->fields) a->fields(b, 1, a->ctx);
        else etwl_buf_puts(b, "{}");
        etwl_buf_putc(b, '}');
        return;
    }
    etwl_buf_printf(b, "%s ALERT [%s] ", a->time, a->severity);
    etwl_text_put_escaped(b, a->rule, a->rule_len);
    if (a->title) {
        etwl_buf_puts(b, ": ");
        etwl_text_put_escaped(b, a->title, a->title_len);
    }
    if (a->techniques) {
        etwl_buf_puts(b, " (");
        a->techniques(b, 0, a->ctx);
        etwl_buf_putc(b, ')');
    }
    if (a->message) {
        etwl_buf_puts(b, " - ");
        etwl_text_put_escaped(b, a->message, a->message_len);
    }
    /* the process that logged the event (the kernel, for a process start),
     * named apart from the process the alert is about (fields pid=) */
    if (a->event) etwl_buf_printf(b, " header_pid=%u", (unsigned)etwl_event_header(a->event)->pid);
    if (a->fields) a->fields(b, 0, a->ctx);
}
