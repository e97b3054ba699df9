/* alert.c - see alert.h.
 *
 * JSON: {"time","rule","title","severity","techniques","message","event",
 * "fields","source"}, in that order, always all of them, so consumers need no
 * optional-key handling.  Text: "TIME ALERT [SEV] RULE: TITLE (TECH) -
 * MESSAGE pid=N k=v ...", with every attacker-reachable string escaped so
 * it can neither move the cursor nor forge a line. */
#include "output/alert.h"
#include "output/schema_map.h"

#include <stdlib.h>
#include <string.h>

#include "core/event.h"

void etwl_source_write_json(etwl_buf *b, const etwl_event *ev)
{
    const char *kind;
    if (!ev || !ev->src_file) {
        etwl_buf_puts(b, "null");
        return;
    }
    kind = etwl_event_source_kind(ev);
    etwl_buf_puts(b, "{\"file\":");
    etwl_json_put_string(b, ev->src_file, strlen(ev->src_file));
    if (kind) etwl_buf_printf(b, ",\"%s\":%llu", kind, (unsigned long long)ev->src_pos);
    etwl_buf_putc(b, '}');
}

/* Where the alert's event was read (ev.source): {"file","record"|"line"|
 * "offset"} in JSON, " source=FILE:record=N" in text; null / nothing live. */
static void put_source(etwl_buf *b, const etwl_alert *a, int json)
{
    const etwl_event *ev = a->event;
    const char *kind = ev && ev->src_file ? etwl_event_source_kind(ev) : NULL;
    if (json) {
        etwl_buf_puts(b, ",\"source\":");
        etwl_source_write_json(b, ev);
        return;
    }
    if (!ev || !ev->src_file) return;
    etwl_buf_puts(b, " source=");
    etwl_text_put_escaped(b, ev->src_file, strlen(ev->src_file));
    if (kind) etwl_buf_printf(b, ":%s=%llu", kind, (unsigned long long)ev->src_pos);
}

/* SGR colours by severity; the text between them is ours or escaped, so no
 * input can end or forge a colour */
static const char *severity_color(const char *sev)
{
    switch (sev[0]) {
    case 'c': return "\033[1;31m"; /* critical: bold red */
    case 'h': return "\033[31m";   /* high: red */
    case 'm': return "\033[33m";   /* medium: yellow */
    case 'l': return "\033[36m";   /* low: cyan */
    default: return "\033[2m";     /* info: dim */
    }
}

int etwl_alert_form_for(int is_terminal)
{
    const char *nc = getenv("NO_COLOR");
    if (!is_terminal) return ETWL_ALERT_JSON;
    return nc && nc[0] ? ETWL_ALERT_TEXT : ETWL_ALERT_TEXT_COLOR;
}

void etwl_alert_write(etwl_buf *b, const etwl_alert *a, int form)
{
    int color = ETWL_FORM_BASE(form) == ETWL_ALERT_TEXT_COLOR;
    int json = ETWL_ALERT_JSON | (form & ETWL_FORM_HEX64); /* what the parts are asked for */
    if (etwl_schema_alert(b, a, form)) return;             /* ECS, OCSF: schema_*.c */
    if (ETWL_FORM_BASE(form) == ETWL_ALERT_JSON) {
        etwl_buf_printf(b, "{\"time\":\"%s\",\"rule\":", a->time);
        etwl_json_put_string(b, a->rule, a->rule_len);
        etwl_buf_puts(b, ",\"title\":");
        if (a->title) etwl_json_put_string(b, a->title, a->title_len);
        else etwl_json_put_string(b, a->rule, a->rule_len);
        etwl_buf_printf(b, ",\"severity\":\"%s\",\"techniques\":", a->severity);
        if (a->techniques) a->techniques(b, json, a->ctx);
        else etwl_buf_puts(b, "[]");
        etwl_buf_puts(b, ",\"message\":");
        etwl_json_put_string(b, a->message ? a->message : "", a->message ? a->message_len : 0);
        etwl_buf_puts(b, ",\"event\":");
        if (a->event) etwl_event_write_json_form(a->event, b, form);
        else etwl_buf_puts(b, "null");
        etwl_buf_puts(b, ",\"fields\":");
        if (a->fields) a->fields(b, json, a->ctx);
        else etwl_buf_puts(b, "{}");
        put_source(b, a, 1);
        etwl_buf_putc(b, '}');
        return;
    }
    if (color) etwl_buf_printf(b, "%s %sALERT [%s]\033[0m \033[1m", a->time, severity_color(a->severity), a->severity);
    else etwl_buf_printf(b, "%s ALERT [%s] ", a->time, a->severity);
    etwl_text_put_escaped(b, a->rule, a->rule_len);
    if (color) etwl_buf_puts(b, "\033[0m");
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
    put_source(b, a, 0);
}
