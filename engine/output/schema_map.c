/* schema_map.c - see schema_map.h: the choice of schema, and what the ECS and OCSF
 * writers share (the process an event is about, the host, a JSON object
 * writer). */
#include "output/schema_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <unistd.h>
#endif

#include "core/event.h"

const char *const etwl_schema_names[] = {"native", "ecs", "ocsf", NULL};

/* Edit distance with transpositions (optimal string alignment), for the
 * nearest name in a usage error: "ocfs" is one step from "ocsf". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, d[32][32];
    if (la > 30 || lb > 30) return (size_t)-1;
    for (i = 0; i <= la; i++) d[i][0] = i;
    for (j = 0; j <= lb; j++) d[0][j] = j;
    for (i = 1; i <= la; i++)
        for (j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

int etwl_schema_parse(const char *name, const char **nearest)
{
    size_t best = (size_t)-1;
    int i;
    for (i = 0; etwl_schema_names[i]; i++)
        if (strcmp(name, etwl_schema_names[i]) == 0) return i << 4;
    *nearest = etwl_schema_names[0];
    for (i = 0; etwl_schema_names[i]; i++) {
        size_t d = distance(name, etwl_schema_names[i]);
        if (d < best) best = d, *nearest = etwl_schema_names[i];
    }
    return -1;
}

int etwl_schema_alert(etwl_buf *b, const etwl_alert *a, int form)
{
    if (ETWL_FORM_BASE(form) != ETWL_ALERT_JSON) return 0;
    switch (form & ETWL_FORM_SCHEMA_MASK) {
    case ETWL_FORM_ECS: etwl_alert_write_ecs(b, a, form); return 1;
    case ETWL_FORM_OCSF: etwl_alert_write_ocsf(b, a, form); return 1;
    default: return 0;
    }
}

etwl_status etwl_schema_event(etwl_event *ev, etwl_buf *b, int form)
{
    switch (form & ETWL_FORM_SCHEMA_MASK) {
    case ETWL_FORM_ECS: return etwl_event_write_ecs(ev, b, form);
    case ETWL_FORM_OCSF: return etwl_event_write_ocsf(ev, b, form);
    default: return etwl_event_write_json_form(ev, b, form);
    }
}

/* ---- the process an event is about -------------------------------------- */

/* The property names each process source uses.  The first row whose `key`
 * property the event has is used; the last row (no key) is the fallback
 * for every other event that names a process.  Security 4688 says
 * NewProcessId for the new process and ProcessId for its creator, so it
 * comes before the rows where ProcessId is the process itself. */
typedef struct proc_names {
    const char *key;
    const char *pid, *ppid, *tid, *image, *cmdline, *user, *domain, *parent_image, *parent_cmdline, *sid;
    /* the user, domain and SID when `user` is absent (4688: the creator's
     * account when no target account is named) */
    const char *user2, *domain2, *sid2;
    int image_is_name; /* the image property holds a file name, not a path */
} proc_names;

static const proc_names proc_table[] = {
    /* Security 4688 */
    {.key = "NewProcessId",
     .pid = "NewProcessId",
     .ppid = "ProcessId",
     .image = "NewProcessName",
     .cmdline = "CommandLine",
     .user = "TargetUserName",
     .domain = "TargetDomainName",
     .sid = "TargetUserSid",
     .parent_image = "ParentProcessName",
     .user2 = "SubjectUserName",
     .domain2 = "SubjectDomainName",
     .sid2 = "SubjectUserSid"},
    /* Sysmon 1 (the other Sysmon events, which lack the parent, use the
     * last row) */
    {.key = "ParentProcessGuid",
     .pid = "ProcessId",
     .ppid = "ParentProcessId",
     .image = "Image",
     .cmdline = "CommandLine",
     .user = "User",
     .parent_image = "ParentImage",
     .parent_cmdline = "ParentCommandLine"},
    /* the kernel logger's Process class */
    {.key = "ImageFileName",
     .pid = "ProcessId",
     .ppid = "ParentId",
     .image = "ImageFileName",
     .cmdline = "CommandLine",
     .sid = "UserSID",
     .image_is_name = 1},
    /* Microsoft-Windows-Kernel-Process 1/2 */
    {.key = "ImageName", .pid = "ProcessID", .ppid = "ParentProcessID", .image = "ImageName"},
    /* etwlua's Linux process provider */
    {.key = "pid", .pid = "pid", .ppid = "ppid", .tid = "tid", .image = "image", .cmdline = "cmdline", .user = "user"},
    /* anything else that names its process */
    {.key = NULL, .pid = "ProcessId", .tid = "ThreadId", .image = "Image", .cmdline = "CommandLine", .user = "User"},
};

static const etwl_value *get(etwl_event *ev, const char *name)
{
    const etwl_value *v;
    if (!name || !(v = etwl_event_get(ev, name))) return NULL;
    if (v->type == ETWL_VT_STRING && (v->n == 0 || (v->n == 1 && v->v.s[0] == '-'))) return NULL; /* "-": none */
    return v;
}

/* Integers arrive as numbers (ETW, tracefs) or text ("4242", "0x1a2c"). */
static int get_u64(etwl_event *ev, const char *name, uint64_t *out)
{
    const etwl_value *v = get(ev, name);
    char buf[32], *end;
    if (!v) return 0;
    switch (v->type) {
    case ETWL_VT_INT:
        if (v->v.i < 0) return 0;
        *out = (uint64_t)v->v.i;
        return 1;
    case ETWL_VT_UINT:
    case ETWL_VT_HEX: *out = v->v.u; return 1;
    case ETWL_VT_NUMBER:
    case ETWL_VT_STRING:
        if (v->n == 0 || v->n >= sizeof buf || v->v.s[0] == '-') return 0;
        memcpy(buf, v->v.s, v->n);
        buf[v->n] = 0;
        *out = strtoull(buf, &end, 0);
        return *end == 0 && end != buf;
    default: return 0;
    }
}

void etwl_schema_proc_of(etwl_event *ev, etwl_schema_proc *p)
{
    const etwl_header *h = etwl_event_header(ev);
    const etwl_ext *x = etwl_event_ext(ev);
    const proc_names *t = proc_table;
    const etwl_value *v;
    size_t i, n = sizeof proc_table / sizeof proc_table[0];
    memset(p, 0, sizeof *p);
    for (i = 0; i < n; i++)
        if (!proc_table[i].key || etwl_event_get(ev, proc_table[i].key)) {
            t = &proc_table[i];
            break;
        }
    p->has_pid = get_u64(ev, t->pid, &p->pid);
    if (!p->has_pid) { /* the process that logged the event */
        p->pid = h->pid;
        p->has_pid = 1;
        p->tid = h->tid;
    } else if (!get_u64(ev, t->tid, &p->tid) && p->pid == h->pid) {
        p->tid = h->tid;
    }
    p->has_ppid = get_u64(ev, t->ppid, &p->ppid);
    p->image = get(ev, t->image);
    p->image_is_name = t->image_is_name;
    p->cmdline = get(ev, t->cmdline);
    p->user = get(ev, t->user);
    p->domain = get(ev, t->domain);
    p->parent_image = get(ev, t->parent_image);
    p->parent_cmdline = get(ev, t->parent_cmdline);
    if (!p->user && t->user2 && (p->user = get(ev, t->user2))) {
        p->domain = get(ev, t->domain2);
        v = get(ev, t->sid2);
    } else {
        v = get(ev, t->sid);
    }
    if (v && v->type == ETWL_VT_STRING && !(v->n == 7 && memcmp(v->v.s, "S-1-0-0", 7) == 0)) /* the NULL SID: none */
        p->sid = v->v.s, p->sid_len = v->n;
    /* the SID the event was logged under is the process's user only when
     * the event names no user of its own (Sysmon logs as SYSTEM) */
    else if (!p->user && !v && (x->has & ETWL_EXT_USER_SID)) p->sid = x->user_sid, p->sid_len = x->user_sid_len;
    if (p->user && p->user->type == ETWL_VT_STRING) {
        const char *bs = memchr(p->user->v.s, '\\', p->user->n);
        p->user_name = p->user->v.s;
        p->user_name_len = p->user->n;
        if (bs && !p->domain) {
            p->user_domain = p->user->v.s;
            p->user_domain_len = (size_t)(bs - p->user->v.s);
            p->user_name = bs + 1;
            p->user_name_len = p->user->n - p->user_domain_len - 1;
        } else if (p->domain && p->domain->type == ETWL_VT_STRING) {
            p->user_domain = p->domain->v.s;
            p->user_domain_len = p->domain->n;
        }
    }
}

const char *etwl_schema_host(etwl_event *ev, size_t *len)
{
    /* the alert writer runs on one thread (the one that owns the Lua
     * state); the name is read once */
    static char name[256];
    static int ready;
    const etwl_header *h = ev ? etwl_event_header(ev) : NULL;
    if (h && (h->has & ETWL_HAS_COMPUTER) && h->computer_len) {
        *len = h->computer_len;
        return h->computer;
    }
    if (!ready) {
#ifdef _WIN32
        const char *c = getenv("COMPUTERNAME");
        snprintf(name, sizeof name, "%s", c ? c : "");
#else
        if (gethostname(name, sizeof name - 1) != 0) name[0] = 0;
#endif
        ready = 1;
    }
    *len = strlen(name);
    return name;
}

int64_t etwl_schema_unix_ms(int64_t filetime) { return (filetime - 116444736000000000LL) / 10000; }

int etwl_schema_severity_id(const char *s)
{
    switch (s[0]) {
    case 'l': return 2;
    case 'm': return 3;
    case 'h': return 4;
    case 'c': return 5;
    default: return 1;
    }
}

/* ---- a JSON object writer ------------------------------------------------- */

void etwl_jobj_open(etwl_jobj *o, etwl_buf *b)
{
    o->b = b;
    o->depth = 0;
    o->first[0] = 1;
    etwl_buf_putc(b, '{');
}

void etwl_jobj_key(etwl_jobj *o, const char *key)
{
    if (!o->first[o->depth]) etwl_buf_putc(o->b, ',');
    o->first[o->depth] = 0;
    etwl_buf_putc(o->b, '"');
    etwl_buf_puts(o->b, key); /* keys are ours: plain ASCII */
    etwl_buf_puts(o->b, "\":");
}

void etwl_jobj_begin(etwl_jobj *o, const char *key)
{
    etwl_jobj_key(o, key);
    etwl_jobj_elem(o);
}

void etwl_jobj_elem(etwl_jobj *o)
{
    etwl_buf_putc(o->b, '{');
    if (o->depth < 7) o->depth++;
    o->first[o->depth] = 1;
}

void etwl_jobj_end(etwl_jobj *o)
{
    etwl_buf_putc(o->b, '}');
    if (o->depth > 0) o->depth--;
}

void etwl_jobj_str(etwl_jobj *o, const char *key, const char *s, size_t n)
{
    etwl_jobj_key(o, key);
    etwl_json_put_string(o->b, s, n);
}

void etwl_jobj_cstr(etwl_jobj *o, const char *key, const char *s) { etwl_jobj_str(o, key, s, strlen(s)); }

void etwl_jobj_int(etwl_jobj *o, const char *key, int64_t v)
{
    etwl_jobj_key(o, key);
    etwl_buf_printf(o->b, "%lld", (long long)v);
}

int etwl_jobj_value_str(etwl_jobj *o, const char *key, const etwl_value *v)
{
    if (!v || v->type != ETWL_VT_STRING || !v->n) return 0;
    etwl_jobj_str(o, key, v->v.s, v->n);
    return 1;
}

int etwl_jobj_value_basename(etwl_jobj *o, const char *key, const etwl_value *v)
{
    size_t i, start = 0;
    if (!v || v->type != ETWL_VT_STRING || !v->n) return 0;
    for (i = 0; i < v->n; i++)
        if (v->v.s[i] == '\\' || v->v.s[i] == '/') start = i + 1;
    if (start == v->n) return 0;
    etwl_jobj_str(o, key, v->v.s + start, v->n - start);
    return 1;
}

void etwl_json_each_string(const char *s, size_t n, void (*fn)(const char *quoted, size_t len, void *ctx), void *ctx)
{
    size_t i = 0;
    int depth = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            size_t start = i++;
            while (i < n && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
            if (i >= n) return; /* unterminated: not from our writers */
            i++;
            if (depth == 1) fn(s + start, i - start, ctx);
            continue;
        }
        if (c == '[' || c == '{') depth++;
        else if (c == ']' || c == '}') depth--;
        i++;
    }
}

void etwl_schema_put_native(etwl_jobj *o, const etwl_alert *a, int form)
{
    etwl_jobj_key(o, "source");
    etwl_source_write_json(o->b, a->event);
    etwl_jobj_key(o, "fields");
    if (a->fields) a->fields(o->b, ETWL_ALERT_JSON | (form & ETWL_FORM_HEX64), a->ctx);
    else etwl_buf_puts(o->b, "{}");
    etwl_jobj_key(o, "event");
    if (a->event) etwl_event_write_json_form(a->event, o->b, form & ETWL_FORM_HEX64);
    else etwl_buf_puts(o->b, "null");
}
