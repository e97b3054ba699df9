/* text_write.c - one readable line per event.
 *
 * Every string that came from the traced system (command lines, paths,
 * provider names) is attacker-controlled.  It is escaped so that it can
 * neither move the terminal cursor (C0/C1 controls, ESC), nor start a new
 * line, nor reorder text (bidi overrides), nor end a quoted value early
 * (quotes are escaped).  Backslashes are shown as they are, one per
 * backslash, so Windows paths read as typed (as `etwlua tree` shows them):
 * the readable line is for people; JSON is the form that parses back. */
#include <stdio.h>
#include <string.h>

#include "core/event.h"
#include "core/format.h"
#include "output/output.h"
#include "util/utf.h"

static void put_escaped(etwl_buf *b, const char *s, size_t n, int quote)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char ch = p[i];
        uint32_t cp;
        size_t k;
        if (ch >= 0x20 && ch < 0x7f) {
            if (quote && ch == '"') etwl_buf_putc(b, '\\');
            etwl_buf_putc(b, (char)ch);
            i++;
            continue;
        }
        switch (ch) {
        case '\n':
            etwl_buf_puts(b, "\\n");
            i++;
            continue;
        case '\r':
            etwl_buf_puts(b, "\\r");
            i++;
            continue;
        case '\t':
            etwl_buf_puts(b, "\\t");
            i++;
            continue;
        default: break;
        }
        if (ch < 0x80) {
            etwl_buf_printf(b, "\\x%02x", ch);
            i++;
            continue;
        }
        k = etwl_utf8_seq(p + i, n - i, &cp);
        if (!k) { /* not UTF-8: show the byte */
            etwl_buf_printf(b, "\\x%02x", ch);
            i++;
            continue;
        }
        if (etwl_cp_needs_escape(cp)) etwl_buf_printf(b, "\\u{%x}", (unsigned)cp);
        else etwl_buf_put(b, s + i, k);
        i += k;
    }
}

/* One escaping for every readable output: quotes escaped or not. */
void etwl_text_put_escaped(etwl_buf *b, const char *s, size_t n) { put_escaped(b, s, n, 1); }

void etwl_text_put_controls_escaped(etwl_buf *b, const char *s, size_t n) { put_escaped(b, s, n, 0); }

void etwl_text_put_lines(etwl_buf *b, const char *s, size_t n, const char *prefix)
{
    size_t i = 0;
    while (i <= n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n, j = i;
        if (i) etwl_buf_puts(b, prefix);
        while (j < end && s[j] == '\t') { /* traceback indentation */
            etwl_buf_puts(b, "  ");
            j++;
        }
        etwl_text_put_escaped(b, s + j, end - j);
        if (!nl) break;
        etwl_buf_putc(b, '\n');
        i = end + 1;
    }
}

static void put_quoted(etwl_buf *b, const char *s, size_t n)
{
    etwl_buf_putc(b, '"');
    etwl_text_put_escaped(b, s, n);
    etwl_buf_putc(b, '"');
}

static void put_value(etwl_buf *b, const etwl_value *v)
{
    char tmp[ETWL_GUID_STRLEN + 1];
    uint32_t i;
    switch ((etwl_vtype)v->type) {
    case ETWL_VT_NULL: etwl_buf_puts(b, "null"); break;
    case ETWL_VT_BOOL: etwl_buf_puts(b, v->v.u ? "true" : "false"); break;
    case ETWL_VT_INT: etwl_buf_printf(b, "%lld", (long long)v->v.i); break;
    case ETWL_VT_UINT: etwl_buf_printf(b, "%llu", (unsigned long long)v->v.u); break;
    case ETWL_VT_HEX: etwl_buf_printf(b, "0x%llX", (unsigned long long)v->v.u); break;
    case ETWL_VT_DOUBLE: etwl_fmt_double(b, v->v.d); break;
    case ETWL_VT_NUMBER: etwl_buf_put(b, v->v.s, v->n); break;
    case ETWL_VT_STRING: put_quoted(b, v->v.s, v->n); break;
    case ETWL_VT_BINARY:
        etwl_buf_puts(b, "0x");
        for (i = 0; i < v->n && i < 64; i++) etwl_buf_printf(b, "%02X", v->v.p[i]);
        if (v->n > 64) etwl_buf_printf(b, "...(%u bytes)", v->n);
        break;
    case ETWL_VT_GUID:
        etwl_guid_format(&v->v.g, tmp);
        etwl_buf_puts(b, tmp);
        break;
    case ETWL_VT_TIME: {
        char t[ETWL_TIME_STRLEN + 1];
        if (etwl_time_format(v->v.i, t) == ETWL_OK) etwl_buf_puts(b, t);
        else etwl_buf_printf(b, "%lld", (long long)v->v.i);
        break;
    }
    case ETWL_VT_ARRAY:
        etwl_buf_putc(b, '[');
        for (i = 0; i < v->n; i++) {
            if (i) etwl_buf_putc(b, ',');
            put_value(b, &v->v.a[i]);
        }
        etwl_buf_putc(b, ']');
        break;
    case ETWL_VT_OBJECT:
        etwl_buf_putc(b, '{');
        for (i = 0; i < v->n; i++) {
            if (i) etwl_buf_putc(b, ' ');
            etwl_text_put_escaped(b, v->v.o[i].name, v->v.o[i].name_len);
            etwl_buf_putc(b, '=');
            put_value(b, &v->v.o[i].value);
        }
        etwl_buf_putc(b, '}');
        break;
    case ETWL_VT_ERROR:
        etwl_buf_puts(b, "<error: ");
        etwl_text_put_escaped(b, v->v.s, v->n);
        etwl_buf_putc(b, '>');
        break;
    }
}

etwl_status etwl_event_write_text(etwl_event *ev, etwl_buf *b)
{
    const etwl_header *h = &ev->hdr;
    char t[ETWL_TIME_STRLEN + 1];
    uint32_t i, n;
    if (etwl_time_format(h->ts, t) == ETWL_OK) etwl_buf_puts(b, t);
    else etwl_buf_printf(b, "%lld", (long long)h->ts);
    etwl_buf_putc(b, ' ');
    if (h->has & ETWL_HAS_PROVIDER_NAME) {
        etwl_text_put_escaped(b, h->provider_name, h->provider_name_len);
    } else {
        char g[ETWL_GUID_STRLEN + 1];
        etwl_guid_format(&h->provider_guid, g);
        etwl_buf_puts(b, g);
    }
    if (h->has & ETWL_HAS_EVENT_NAME) {
        etwl_buf_putc(b, ':');
        etwl_text_put_escaped(b, h->event_name, h->event_name_len);
    }
    etwl_buf_printf(b, " id=%u v=%u op=%u task=%u lvl=%u kw=0x%llx pid=%u tid=%u", h->desc.id, h->desc.version,
                    h->desc.opcode, h->desc.task, h->desc.level, (unsigned long long)h->desc.keyword, (unsigned)h->pid,
                    (unsigned)h->tid);
    if (h->has & ETWL_HAS_PROCESSOR) etwl_buf_printf(b, " cpu=%u", (unsigned)h->processor);
    n = etwl_event_prop_count(ev);
    if (n) etwl_buf_puts(b, " |");
    for (i = 0; i < n; i++) {
        uint32_t len;
        const char *name = etwl_event_prop_name(ev, i, &len);
        etwl_buf_putc(b, ' ');
        etwl_text_put_escaped(b, name, len);
        etwl_buf_putc(b, '=');
        put_value(b, etwl_event_prop(ev, i));
    }
    if (ev->ext.has & ETWL_EXT_USER_SID) {
        etwl_buf_puts(b, " sid=");
        etwl_text_put_escaped(b, ev->ext.user_sid, ev->ext.user_sid_len);
    }
    return b->oom ? ETWL_ENOMEM : ETWL_OK;
}
