/* schema_ecs.c - alerts and events in the Elastic Common Schema (--schema
 * ecs).
 *
 * The field names and types are ECS 8.11's (elastic.co/guide/en/ecs/8.11);
 * docs/outputs.md has the table, tests/output/data/ecs_fields.json the
 * reference the tests check the output against.  What ECS has no field for
 * (the alert's fields, the native event, the severity's name) goes under
 * the custom namespace `etwlua`, as ECS asks of custom fields. */
#include <string.h>

#include "core/event.h"
#include "output/schema_map.h"

#define ECS_VERSION "8.11.0"

static void put_user(etwl_jobj *o, const etwl_schema_proc *p)
{
    if (!p->user_name && !p->sid) return;
    etwl_jobj_begin(o, "user");
    if (p->user_domain) etwl_jobj_str(o, "domain", p->user_domain, p->user_domain_len);
    if (p->user_name) etwl_jobj_str(o, "name", p->user_name, p->user_name_len);
    if (p->sid) etwl_jobj_str(o, "id", p->sid, p->sid_len);
    etwl_jobj_end(o);
}

static void put_process(etwl_jobj *o, const etwl_schema_proc *p)
{
    etwl_jobj_begin(o, "process");
    etwl_jobj_int(o, "pid", (int64_t)p->pid);
    if (!p->image_is_name) etwl_jobj_value_str(o, "executable", p->image);
    etwl_jobj_value_basename(o, "name", p->image);
    etwl_jobj_value_str(o, "command_line", p->cmdline);
    if (p->tid) {
        etwl_jobj_begin(o, "thread");
        etwl_jobj_int(o, "id", (int64_t)p->tid);
        etwl_jobj_end(o);
    }
    if (p->has_ppid || p->parent_image) {
        etwl_jobj_begin(o, "parent");
        if (p->has_ppid) etwl_jobj_int(o, "pid", (int64_t)p->ppid);
        etwl_jobj_value_str(o, "executable", p->parent_image);
        etwl_jobj_value_basename(o, "name", p->parent_image);
        etwl_jobj_value_str(o, "command_line", p->parent_cmdline);
        etwl_jobj_end(o);
    }
    etwl_jobj_end(o);
}

static void put_host(etwl_jobj *o, etwl_event *ev)
{
    size_t n;
    const char *h = etwl_schema_host(ev, &n);
    if (!n) return;
    etwl_jobj_begin(o, "host");
    etwl_jobj_str(o, "name", h, n);
    etwl_jobj_str(o, "hostname", h, n);
    etwl_jobj_end(o);
}

/* event.provider, event.code and event.action: where the event came from */
/* The replayed file as ECS's log.file.path; the record, line or offset
 * within it stays in etwlua.source, which ECS has no field for. */
static void put_log_file(etwl_jobj *o, const etwl_event *ev)
{
    if (!ev || !ev->src_file) return;
    etwl_jobj_begin(o, "log");
    etwl_jobj_begin(o, "file");
    etwl_jobj_cstr(o, "path", ev->src_file);
    etwl_jobj_end(o);
    etwl_jobj_end(o);
}

static void put_event_origin(etwl_jobj *o, etwl_event *ev)
{
    const etwl_header *h = etwl_event_header(ev);
    if (h->has & ETWL_HAS_PROVIDER_NAME) {
        etwl_jobj_str(o, "provider", h->provider_name, h->provider_name_len);
    } else {
        char g[ETWL_GUID_STRLEN + 1];
        etwl_guid_format(&h->provider_guid, g);
        etwl_jobj_cstr(o, "provider", g);
    }
    etwl_jobj_key(o, "code");
    etwl_buf_printf(o->b, "\"%u\"", h->desc.id); /* keyword: a string */
    if (h->has & ETWL_HAS_EVENT_NAME) etwl_jobj_str(o, "action", h->event_name, h->event_name_len);
}

static void put_time(etwl_jobj *o, const char *key, int64_t ft)
{
    char t[ETWL_TIME_STRLEN + 1];
    if (etwl_time_format(ft, t) != ETWL_OK) strcpy(t, "1601-01-01T00:00:00.0000000Z");
    etwl_jobj_cstr(o, key, t);
}

void etwl_alert_write_ecs(etwl_buf *b, const etwl_alert *a, int form)
{
    etwl_jobj o;
    etwl_schema_proc p;
    int json = ETWL_ALERT_JSON | (form & ETWL_FORM_HEX64);
    if (a->event) etwl_schema_proc_of(a->event, &p);
    etwl_jobj_open(&o, b);
    etwl_jobj_cstr(&o, "@timestamp", a->time);
    if (a->message) etwl_jobj_str(&o, "message", a->message, a->message_len);
    else if (a->title) etwl_jobj_str(&o, "message", a->title, a->title_len);
    else etwl_jobj_str(&o, "message", a->rule, a->rule_len);
    etwl_jobj_begin(&o, "ecs");
    etwl_jobj_cstr(&o, "version", ECS_VERSION);
    etwl_jobj_end(&o);
    etwl_jobj_begin(&o, "event");
    etwl_jobj_cstr(&o, "kind", "alert");
    etwl_jobj_key(&o, "category");
    etwl_buf_puts(b, "[\"intrusion_detection\"]");
    etwl_jobj_key(&o, "type");
    etwl_buf_puts(b, "[\"info\"]");
    etwl_jobj_int(&o, "severity", etwl_schema_severity_id(a->severity));
    etwl_jobj_cstr(&o, "module", "etwlua");
    etwl_jobj_cstr(&o, "dataset", "etwlua.alert");
    if (a->event) put_event_origin(&o, a->event);
    etwl_jobj_end(&o);
    etwl_jobj_begin(&o, "rule");
    etwl_jobj_str(&o, "id", a->rule, a->rule_len);
    if (a->title) etwl_jobj_str(&o, "name", a->title, a->title_len);
    else etwl_jobj_str(&o, "name", a->rule, a->rule_len);
    if (a->message) etwl_jobj_str(&o, "description", a->message, a->message_len);
    etwl_jobj_end(&o);
    if (a->techniques) {
        etwl_jobj_begin(&o, "threat");
        etwl_jobj_cstr(&o, "framework", "MITRE ATT&CK");
        etwl_jobj_begin(&o, "technique");
        etwl_jobj_key(&o, "id");
        a->techniques(b, json, a->ctx);
        etwl_jobj_end(&o);
        etwl_jobj_end(&o);
    }
    if (a->event) {
        put_process(&o, &p);
        put_user(&o, &p);
    }
    put_host(&o, a->event);
    put_log_file(&o, a->event);
    etwl_jobj_begin(&o, "etwlua");
    etwl_jobj_cstr(&o, "severity", a->severity);
    etwl_schema_put_native(&o, a, form);
    etwl_jobj_end(&o);
    etwl_buf_putc(b, '}');
}

etwl_status etwl_event_write_ecs(etwl_event *ev, etwl_buf *b, int form)
{
    etwl_jobj o;
    etwl_schema_proc p;
    etwl_schema_proc_of(ev, &p);
    etwl_jobj_open(&o, b);
    put_time(&o, "@timestamp", etwl_event_header(ev)->ts);
    etwl_jobj_begin(&o, "ecs");
    etwl_jobj_cstr(&o, "version", ECS_VERSION);
    etwl_jobj_end(&o);
    etwl_jobj_begin(&o, "event");
    etwl_jobj_cstr(&o, "kind", "event");
    etwl_jobj_cstr(&o, "module", "etwlua");
    etwl_jobj_cstr(&o, "dataset", "etwlua.event");
    put_event_origin(&o, ev);
    etwl_jobj_end(&o);
    put_process(&o, &p);
    put_user(&o, &p);
    put_host(&o, ev);
    put_log_file(&o, ev);
    etwl_jobj_begin(&o, "etwlua");
    etwl_jobj_key(&o, "source");
    etwl_source_write_json(b, ev);
    etwl_jobj_key(&o, "event");
    etwl_event_write_json_form(ev, b, form & ETWL_FORM_HEX64);
    etwl_jobj_end(&o);
    etwl_buf_putc(b, '}');
    return b->oom ? ETWL_ENOMEM : ETWL_OK;
}
