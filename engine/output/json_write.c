/* json_write.c - events as JSON lines, in the input's shape.
 *
 * The output is canonical: fixed key order, 7-digit UTC timestamps, upper-case
 * braced GUIDs, numbers from the input kept as their exact text.  Replaying
 * the output and writing it again therefore gives the same bytes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/format.h"
#include "output/output.h"
#include "output/schema_map.h"
#include "util/utf.h"

static const char hexd[] = "0123456789abcdef";

void etwl_json_put_string(etwl_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i, run = 0;
    etwl_buf_putc(b, '"');
    for (i = 0; i < n; i++) {
        unsigned char ch = p[i];
        const char *esc = NULL;
        char u[7];
        uint32_t cp = ch;
        size_t k = 1;
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            run++;
            continue;
        }
        if (ch >= 0x80) {
            /* C1, bidi and invisible controls (utf.h has the list) are
             * escaped; other UTF-8, and bytes that are not UTF-8, stay */
            k = etwl_utf8_seq(p + i, n - i, &cp);
            if (!k || !etwl_cp_needs_escape(cp)) {
                run += k ? k : 1;
                i += k ? k - 1 : 0;
                continue;
            }
        }
        etwl_buf_put(b, s + i - run, run);
        run = 0;
        switch (cp) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: /* every code point on the list is in the BMP */
            u[0] = '\\', u[1] = 'u', u[2] = hexd[(cp >> 12) & 15], u[3] = hexd[(cp >> 8) & 15],
            u[4] = hexd[(cp >> 4) & 15], u[5] = hexd[cp & 15], u[6] = 0;
            esc = u;
        }
        etwl_buf_puts(b, esc);
        i += k - 1;
    }
    etwl_buf_put(b, s + n - run, run);
    etwl_buf_putc(b, '"');
}

/* Shortest text that reads back as the same double. */
void etwl_fmt_double(etwl_buf *b, double d)
{
    char tmp[40];
    int prec;
    if (!isfinite(d)) { /* JSON has no NaN/Inf */
        etwl_buf_puts(b, "null");
        return;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* keep it a JSON number that reads back as a double, not an integer */
    if (!strpbrk(tmp, ".eE")) strcat(tmp, ".0");
    etwl_buf_puts(b, tmp);
}

static void put_guid(etwl_buf *b, const etwl_guid *g)
{
    char s[ETWL_GUID_STRLEN + 1];
    etwl_guid_format(g, s);
    etwl_buf_putc(b, '"');
    etwl_buf_put(b, s, ETWL_GUID_STRLEN);
    etwl_buf_putc(b, '"');
}

/* Optional header names are left out, not written as null, when absent. */
static void put_opt_string(etwl_buf *b, int has, const char *key, const char *s, uint32_t n)
{
    if (!has) return;
    etwl_buf_puts(b, key);
    etwl_json_put_string(b, s, n);
}

static void put_time(etwl_buf *b, int64_t ft)
{
    char s[ETWL_TIME_STRLEN + 1];
    if (etwl_time_format(ft, s) != ETWL_OK) {
        etwl_buf_printf(b, "%lld", (long long)ft); /* out of range: raw ticks */
        return;
    }
    etwl_buf_putc(b, '"');
    etwl_buf_put(b, s, ETWL_TIME_STRLEN);
    etwl_buf_putc(b, '"');
}

#define MAX_SAFE 9007199254740992ULL /* 2^53: the last integer a double holds exactly */

void etwl_json_put_u64(etwl_buf *b, uint64_t v, int form)
{
    if ((form & ETWL_FORM_HEX64) && v > MAX_SAFE) etwl_buf_printf(b, "\"0x%llX\"", (unsigned long long)v);
    else etwl_buf_printf(b, "%llu", (unsigned long long)v);
}

void etwl_json_put_i64(etwl_buf *b, int64_t v, int form)
{
    if (v >= 0) etwl_json_put_u64(b, (uint64_t)v, form);
    else if ((form & ETWL_FORM_HEX64) && (uint64_t) - (v + 1) >= MAX_SAFE) etwl_buf_printf(b, "\"%lld\"", (long long)v);
    else etwl_buf_printf(b, "%lld", (long long)v);
}

/* A number kept as its input text: with ETWL_FORM_HEX64, an integer beyond
 * 2^53 is written as the integers above are (beyond 64 bits: its digits as
 * a string); fractions and exponents stay, they are doubles anyway. */
static void put_number_text(etwl_buf *b, const char *s, size_t n, int form)
{
    char tmp[32], *end;
    size_t i, neg = n && s[0] == '-';
    int digits = n > neg;
    for (i = neg; i < n && digits; i++)
        if (s[i] < '0' || s[i] > '9') digits = 0;
    if (!(form & ETWL_FORM_HEX64) || !digits || n - neg < 16) {
        etwl_buf_put(b, s, n);
        return;
    }
    if (n < sizeof tmp) {
        memcpy(tmp, s, n);
        tmp[n] = 0;
        errno = 0;
        if (neg) {
            long long v = strtoll(tmp, &end, 10);
            if (!errno) {
                etwl_json_put_i64(b, v, form);
                return;
            }
        } else {
            unsigned long long v = strtoull(tmp, &end, 10);
            if (!errno) {
                etwl_json_put_u64(b, v, form);
                return;
            }
        }
    }
    etwl_buf_putc(b, '"');
    etwl_buf_put(b, s, n);
    etwl_buf_putc(b, '"');
}

void etwl_json_put_value(etwl_buf *b, const etwl_value *v) { etwl_json_put_value_form(b, v, 0); }

void etwl_json_put_value_form(etwl_buf *b, const etwl_value *v, int form)
{
    uint32_t i;
    switch ((etwl_vtype)v->type) {
    case ETWL_VT_NULL: etwl_buf_puts(b, "null"); break;
    case ETWL_VT_BOOL: etwl_buf_puts(b, v->v.u ? "true" : "false"); break;
    case ETWL_VT_INT: etwl_json_put_i64(b, v->v.i, form); break;
    case ETWL_VT_UINT: etwl_json_put_u64(b, v->v.u, form); break;
    case ETWL_VT_HEX: etwl_buf_printf(b, "\"0x%llX\"", (unsigned long long)v->v.u); break;
    case ETWL_VT_DOUBLE: etwl_fmt_double(b, v->v.d); break;
    case ETWL_VT_NUMBER: put_number_text(b, v->v.s, v->n, form); break;
    case ETWL_VT_STRING: etwl_json_put_string(b, v->v.s, v->n); break;
    case ETWL_VT_BINARY:
        etwl_buf_puts(b, "\"0x");
        for (i = 0; i < v->n; i++) etwl_buf_printf(b, "%02X", v->v.p[i]);
        etwl_buf_putc(b, '"');
        break;
    case ETWL_VT_GUID: put_guid(b, &v->v.g); break;
    case ETWL_VT_TIME: put_time(b, v->v.i); break;
    case ETWL_VT_ARRAY:
        etwl_buf_putc(b, '[');
        for (i = 0; i < v->n; i++) {
            if (i) etwl_buf_putc(b, ',');
            etwl_json_put_value_form(b, &v->v.a[i], form);
        }
        etwl_buf_putc(b, ']');
        break;
    case ETWL_VT_OBJECT:
        etwl_buf_putc(b, '{');
        for (i = 0; i < v->n; i++) {
            if (i) etwl_buf_putc(b, ',');
            etwl_json_put_string(b, v->v.o[i].name, v->v.o[i].name_len);
            etwl_buf_putc(b, ':');
            etwl_json_put_value_form(b, &v->v.o[i].value, form);
        }
        etwl_buf_putc(b, '}');
        break;
    case ETWL_VT_ERROR:
        etwl_buf_puts(b, "{\"error\":");
        etwl_json_put_string(b, v->v.s, v->n);
        etwl_buf_putc(b, '}');
        break;
    }
}

etwl_status etwl_event_write_json(etwl_event *ev, etwl_buf *b) { return etwl_event_write_json_form(ev, b, 0); }

/* A 64-bit mask, key or address: always "0x..." with ETWL_FORM_HEX64, so
 * its JSON type does not change with its value. */
static void put_mask(etwl_buf *b, uint64_t v, int form)
{
    if (form & ETWL_FORM_HEX64) etwl_buf_printf(b, "\"0x%llX\"", (unsigned long long)v);
    else etwl_buf_printf(b, "%llu", (unsigned long long)v);
}

etwl_status etwl_event_write_json_form(etwl_event *ev, etwl_buf *b, int form)
{
    const etwl_header *h = &ev->hdr;
    const etwl_ext *x = &ev->ext;
    uint32_t i, n;
    int first = 1;
    etwl_buf_printf(b,
                    "{\"header\":{\"descriptor\":{\"id\":%u,\"version\":%u,\"channel\":%u,\"level\":%u,"
                    "\"op_code\":%u,\"task\":%u,\"keyword\":",
                    h->desc.id, h->desc.version, h->desc.channel, h->desc.level, h->desc.opcode, h->desc.task);
    put_mask(b, h->desc.keyword, form);
    etwl_buf_printf(b, "},\"thread_id\":%u,\"process_id\":%u,\"ts\":", (unsigned)h->tid, (unsigned)h->pid);
    put_time(b, h->ts);
    etwl_buf_puts(b, ",\"provider_guid\":");
    put_guid(b, &h->provider_guid);
    put_opt_string(b, h->has & ETWL_HAS_PROVIDER_NAME, ",\"provider_name\":", h->provider_name, h->provider_name_len);
    put_opt_string(b, h->has & ETWL_HAS_EVENT_NAME, ",\"event_name\":", h->event_name, h->event_name_len);
    etwl_buf_puts(b, ",\"activity_guid\":");
    put_guid(b, &h->activity_guid);
    etwl_buf_printf(b, ",\"flags\":%u,\"kernel_time\":%u,\"user_time\":%u,\"processor_time\":", h->flags,
                    (unsigned)h->kernel_time, (unsigned)h->user_time);
    etwl_json_put_u64(b, h->processor_time, form);
    if (h->has & ETWL_HAS_PROCESSOR) etwl_buf_printf(b, ",\"processor_number\":%u", (unsigned)h->processor);
    if (h->has & ETWL_HAS_RECORD_ID) {
        etwl_buf_puts(b, ",\"record_id\":");
        etwl_json_put_u64(b, h->record_id, form);
    }
    put_opt_string(b, h->has & ETWL_HAS_CHANNEL_NAME, ",\"channel_name\":", h->channel_name, h->channel_name_len);
    put_opt_string(b, h->has & ETWL_HAS_COMPUTER, ",\"computer\":", h->computer, h->computer_len);
    etwl_buf_puts(b, "},\"info\":{");
    n = etwl_event_prop_count(ev);
    for (i = 0; i < n; i++) {
        uint32_t len;
        const char *name = etwl_event_prop_name(ev, i, &len);
        if (i) etwl_buf_putc(b, ',');
        etwl_json_put_string(b, name, len);
        etwl_buf_putc(b, ':');
        etwl_json_put_value_form(b, etwl_event_prop(ev, i), form);
    }
    etwl_buf_puts(b, "},\"ext\":{");
#define SEP() (first ? (void)(first = 0) : etwl_buf_putc(b, ','))
    if (x->has & ETWL_EXT_SESSION_ID) {
        SEP();
        etwl_buf_printf(b, "\"session_id\":%u", (unsigned)x->session_id);
    }
    if (x->has & ETWL_EXT_RELATED_ACTIVITY) {
        SEP();
        etwl_buf_puts(b, "\"activity_id\":");
        put_guid(b, &x->related_activity);
    }
    if (x->has & ETWL_EXT_USER_SID) {
        SEP();
        etwl_buf_puts(b, "\"user_sid\":");
        etwl_json_put_string(b, x->user_sid, x->user_sid_len);
    }
    if (x->has & ETWL_EXT_INSTANCE_INFO) {
        SEP();
        etwl_buf_printf(b, "\"instance_info\":{\"id\":%u,\"parent_id\":%u,\"parent_guid\":", (unsigned)x->instance.id,
                        (unsigned)x->instance.parent_id);
        put_guid(b, &x->instance.parent_guid);
        etwl_buf_putc(b, '}');
    }
    if (x->has & ETWL_EXT_STACKTRACE) {
        SEP();
        etwl_buf_puts(b, "\"stacktrace\":{\"matched_id\":");
        etwl_json_put_u64(b, x->stack.matched_id, form);
        etwl_buf_puts(b, ",\"addresses\":[");
        for (i = 0; i < x->stack.count; i++) {
            if (i) etwl_buf_putc(b, ',');
            put_mask(b, x->stack.addresses[i], form);
        }
        etwl_buf_puts(b, "]}");
    }
    if (x->has & ETWL_EXT_PROCESS_START_KEY) {
        SEP();
        etwl_buf_puts(b, "\"process_start_key\":");
        put_mask(b, x->process_start_key, form);
    }
    if (x->has & ETWL_EXT_EVENT_KEY) {
        SEP();
        etwl_buf_puts(b, "\"event_key\":");
        put_mask(b, x->event_key, form);
    }
#undef SEP
    etwl_buf_putc(b, '}');
    {
        /* an event no schema decoded keeps its bytes: header and raw payload */
        uint32_t len = 0;
        const uint8_t *p = etwl_event_payload(ev, &len);
        if (!ev->schema && len && p) {
            etwl_buf_puts(b, ",\"payload\":\"");
            for (uint32_t k = 0; k < len; k++) etwl_buf_printf(b, "%02x", p[k]);
            etwl_buf_putc(b, '"');
        }
    }
    etwl_buf_putc(b, '}');
    return b->oom ? ETWL_ENOMEM : ETWL_OK;
}
