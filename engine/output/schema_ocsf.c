/* schema_ocsf.c - alerts and events in the Open Cybersecurity Schema
 * Framework (--schema ocsf).
 *
 * An alert is a Detection Finding (class_uid 2004, category 2 Findings),
 * activity Create, with the rule as finding_info.analytic, the techniques
 * as finding_info.attacks and the process the event is about (with its
 * parent and user) as its evidence.  A dumped event, which is no finding,
 * is a Base Event (class_uid 0).  Names and types are OCSF 1.4.0's
 * (schema.ocsf.io/1.4.0); docs/outputs.md has the table and
 * tests/output/data/ocsf_fields.json the reference the tests check
 * against.  What OCSF has no attribute for goes in `unmapped`. */
#include <string.h>

#include "core/event.h"
#include "output/schema_map.h"

#define OCSF_VERSION "1.4.0"

static const char *const severity_names[] = {"Unknown", "Informational", "Low", "Medium", "High", "Critical"};

static void put_metadata(etwl_jobj *o)
{
    etwl_jobj_begin(o, "metadata");
    etwl_jobj_cstr(o, "version", OCSF_VERSION);
    etwl_jobj_begin(o, "product");
    etwl_jobj_cstr(o, "name", "etwlua");
    etwl_jobj_cstr(o, "vendor_name", "etwlua");
    etwl_jobj_cstr(o, "version", ETWL_VERSION);
    etwl_jobj_end(o);
    etwl_jobj_end(o);
}

static void put_device(etwl_jobj *o, etwl_event *ev)
{
    size_t n;
    const char *h = etwl_schema_host(ev, &n);
    etwl_jobj_begin(o, "device");
    if (n) etwl_jobj_str(o, "hostname", h, n);
    etwl_jobj_int(o, "type_id", 0); /* required; etwlua cannot tell server from desktop: Unknown */
    etwl_jobj_end(o);
}

/* file: the image path and its name; type_id 1 is Regular File */
static void put_file(etwl_jobj *o, const etwl_value *image, int is_name)
{
    if (!image || image->type != ETWL_VT_STRING || !image->n) return;
    etwl_jobj_begin(o, "file");
    if (!is_name) etwl_jobj_value_str(o, "path", image);
    etwl_jobj_value_basename(o, "name", image);
    etwl_jobj_int(o, "type_id", 1);
    etwl_jobj_end(o);
}

static void put_user(etwl_jobj *o, const etwl_schema_proc *p)
{
    if (!p->user_name && !p->sid) return;
    etwl_jobj_begin(o, "user");
    if (p->user_name) etwl_jobj_str(o, "name", p->user_name, p->user_name_len);
    if (p->user_domain) etwl_jobj_str(o, "domain", p->user_domain, p->user_domain_len);
    if (p->sid) etwl_jobj_str(o, "uid", p->sid, p->sid_len);
    etwl_jobj_end(o);
}

static void put_process(etwl_jobj *o, const etwl_schema_proc *p)
{
    etwl_jobj_begin(o, "process");
    etwl_jobj_int(o, "pid", (int64_t)p->pid);
    if (p->tid) etwl_jobj_int(o, "tid", (int64_t)p->tid);
    etwl_jobj_value_basename(o, "name", p->image);
    etwl_jobj_value_str(o, "cmd_line", p->cmdline);
    put_file(o, p->image, p->image_is_name);
    put_user(o, p);
    if (p->has_ppid || p->parent_image) {
        etwl_jobj_begin(o, "parent_process");
        if (p->has_ppid) etwl_jobj_int(o, "pid", (int64_t)p->ppid);
        etwl_jobj_value_basename(o, "name", p->parent_image);
        etwl_jobj_value_str(o, "cmd_line", p->parent_cmdline);
        put_file(o, p->parent_image, 0);
        etwl_jobj_end(o);
    }
    etwl_jobj_end(o);
}

typedef struct attacks {
    etwl_buf *b;
    int n;
} attacks;

static void put_attack(const char *quoted, size_t len, void *ctx)
{
    attacks *at = ctx;
    etwl_buf_puts(at->b, at->n++ ? ",{\"technique\":{\"uid\":" : "{\"technique\":{\"uid\":");
    etwl_buf_put(at->b, quoted, len); /* already a JSON string, escaped by the writer */
    etwl_buf_puts(at->b, "}}");
}

/* finding_info.uid: the same alert gives the same uid (rule, time, event) */
static void put_uid(etwl_jobj *o, const etwl_alert *a)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    const char *parts[2] = {a->rule, a->time};
    size_t lens[2] = {a->rule_len, strlen(a->time)}, i, k;
    for (k = 0; k < 2; k++)
        for (i = 0; i < lens[k]; i++) h = (h ^ (unsigned char)parts[k][i]) * 1099511628211ULL;
    if (a->event) {
        uint64_t seq = etwl_event_seq(a->event);
        for (i = 0; i < 8; i++) h = (h ^ (unsigned char)(seq >> (8 * i))) * 1099511628211ULL;
    }
    etwl_jobj_key(o, "uid");
    etwl_buf_printf(o->b, "\"%016llx\"", (unsigned long long)h);
}

void etwl_alert_write_ocsf(etwl_buf *b, const etwl_alert *a, int form)
{
    etwl_jobj o;
    etwl_schema_proc p;
    int json = ETWL_ALERT_JSON | (form & ETWL_FORM_HEX64);
    int sev = etwl_schema_severity_id(a->severity);
    int64_t t = 0;
    if (a->event) {
        etwl_schema_proc_of(a->event, &p);
        t = etwl_schema_unix_ms(etwl_event_header(a->event)->ts);
    } else if (etwl_time_parse(a->time, strlen(a->time), &t) == ETWL_OK) {
        t = etwl_schema_unix_ms(t);
    }
    etwl_jobj_open(&o, b);
    etwl_jobj_int(&o, "activity_id", 1);
    etwl_jobj_cstr(&o, "activity_name", "Create");
    etwl_jobj_int(&o, "category_uid", 2);
    etwl_jobj_cstr(&o, "category_name", "Findings");
    etwl_jobj_int(&o, "class_uid", 2004);
    etwl_jobj_cstr(&o, "class_name", "Detection Finding");
    etwl_jobj_int(&o, "type_uid", 200401); /* class_uid * 100 + activity_id */
    etwl_jobj_cstr(&o, "type_name", "Detection Finding: Create");
    etwl_jobj_int(&o, "severity_id", sev);
    etwl_jobj_cstr(&o, "severity", severity_names[sev]);
    etwl_jobj_int(&o, "status_id", 1);
    etwl_jobj_cstr(&o, "status", "New");
    etwl_jobj_key(&o, "is_alert");
    etwl_buf_puts(b, "true");
    etwl_jobj_int(&o, "time", t);
    if (a->message) etwl_jobj_str(&o, "message", a->message, a->message_len);
    else if (a->title) etwl_jobj_str(&o, "message", a->title, a->title_len);
    put_metadata(&o);
    etwl_jobj_begin(&o, "finding_info");
    put_uid(&o, a);
    if (a->title) etwl_jobj_str(&o, "title", a->title, a->title_len);
    else etwl_jobj_str(&o, "title", a->rule, a->rule_len);
    if (a->message) etwl_jobj_str(&o, "desc", a->message, a->message_len);
    etwl_jobj_int(&o, "created_time", t);
    etwl_jobj_begin(&o, "analytic");
    etwl_jobj_str(&o, "uid", a->rule, a->rule_len);
    etwl_jobj_str(&o, "name", a->rule, a->rule_len);
    etwl_jobj_int(&o, "type_id", 1);
    etwl_jobj_cstr(&o, "type", "Rule");
    etwl_jobj_end(&o);
    if (a->techniques) {
        etwl_buf tmp;
        attacks at = {b, 0};
        etwl_buf_init(&tmp);
        a->techniques(&tmp, json, a->ctx);
        etwl_jobj_key(&o, "attacks");
        etwl_buf_putc(b, '[');
        if (tmp.data) etwl_json_each_string(tmp.data, tmp.len, put_attack, &at);
        etwl_buf_putc(b, ']');
        if (tmp.oom) b->oom = 1;
        etwl_buf_free(&tmp);
    }
    etwl_jobj_end(&o);
    put_device(&o, a->event);
    if (a->event) {
        etwl_jobj_key(&o, "evidences");
        etwl_buf_putc(b, '[');
        etwl_jobj_elem(&o); /* the one evidence: the process */
        put_process(&o, &p);
        etwl_jobj_end(&o);
        etwl_buf_putc(b, ']');
    }
    etwl_jobj_begin(&o, "unmapped");
    etwl_jobj_str(&o, "rule", a->rule, a->rule_len);
    etwl_schema_put_native(&o, a, form);
    etwl_jobj_end(&o);
    etwl_buf_putc(b, '}');
}

etwl_status etwl_event_write_ocsf(etwl_event *ev, etwl_buf *b, int form)
{
    etwl_jobj o;
    const etwl_header *h = etwl_event_header(ev);
    etwl_jobj_open(&o, b);
    etwl_jobj_int(&o, "activity_id", 0);
    etwl_jobj_int(&o, "category_uid", 0);
    etwl_jobj_cstr(&o, "category_name", "Uncategorized");
    etwl_jobj_int(&o, "class_uid", 0);
    etwl_jobj_cstr(&o, "class_name", "Base Event");
    etwl_jobj_int(&o, "type_uid", 0);
    etwl_jobj_int(&o, "severity_id", 1);
    etwl_jobj_cstr(&o, "severity", "Informational");
    etwl_jobj_int(&o, "time", etwl_schema_unix_ms(h->ts));
    if (h->has & ETWL_HAS_PROVIDER_NAME) etwl_jobj_str(&o, "message", h->provider_name, h->provider_name_len);
    put_metadata(&o);
    put_device(&o, ev);
    etwl_jobj_begin(&o, "unmapped");
    etwl_jobj_key(&o, "source");
    etwl_source_write_json(b, ev);
    etwl_jobj_key(&o, "event");
    etwl_event_write_json_form(ev, b, form & ETWL_FORM_HEX64);
    etwl_jobj_end(&o);
    etwl_buf_putc(b, '}');
    return b->oom ? ETWL_ENOMEM : ETWL_OK;
}
