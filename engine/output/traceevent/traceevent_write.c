/* traceevent_write.c - events in the text form of Microsoft TraceEvent's
 * test baselines, so etwlua's decoding can be compared with that reference
 * decoder line by line (`--dump --format traceevent`).
 *
 *   EVENT <ms>: <Provider>/<Task>/<Opcode> PID=..; TID=..; PName=..;
 *   ProceNum=..; DataLen=..; <Name>=<value>; ...
 *
 * The first 5 events of each name are printed; the file ends with one
 * "COUNT <name>:<n>" line per name, in ordinal order.  Numbers carry
 * thousands separators, times are "yy/MM/dd HH:mm:ss.fff" (UTC), GUIDs are
 * lower case without braces, 64-bit integers signed (as TraceEvent shows
 * them), and a value longer than 20 characters is cut to 20 and followed by
 * "...".  Control and bidi characters are escaped as in the readable form,
 * so a hostile string cannot drive the terminal; quotes and backslashes are
 * left as the reference prints them.
 *
 * For manifest, TraceLogging and EventSource events it also shows what
 * TraceEvent's dynamic parser shows: mapped values by name, no length
 * fields, SOCKADDR bytes in ...Address fields as addresses, keyword masks
 * in hex, a SYSTEMTIME's seconds as its milliseconds, and a manifest
 * chunk's length.  Kernel events: traceevent_kernel.c. */
#include "output/traceevent/traceevent.h"
#include "output/traceevent/traceevent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/bytes.h"
#include "core/event.h"
#include "core/format.h"
#include "output/output.h"
#include "core/schema.h"

#define PER_NAME 5
#define CUT 20

typedef struct te_name {
    char *name;
    uint64_t count;
} te_name;

struct etwl_te {
    te_name *names;
    uint32_t n, cap;
    etwl_tek *kernel; /* kernel events, and the trace-wide state behind them */
    int64_t t0;
    int have_t0;
};

etwl_te *etwl_te_new(void)
{
    etwl_te *t = calloc(1, sizeof(etwl_te));
    if (t && !(t->kernel = etwl_tek_new())) {
        free(t);
        t = NULL;
    }
    return t;
}

void etwl_te_free(etwl_te *t)
{
    uint32_t i;
    if (!t) return;
    for (i = 0; i < t->n; i++) free(t->names[i].name);
    free(t->names);
    etwl_tek_free(t->kernel);
    free(t);
}

/* 1234567 -> "1,234,567" (with a sign) */
void etwl_te_put_grouped(etwl_buf *b, uint64_t v, int neg)
{
    char d[32];
    int n = 0, i;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg) etwl_buf_putc(b, '-');
    for (i = n - 1; i >= 0; i--) {
        etwl_buf_putc(b, d[i]);
        if (i && i % 3 == 0) etwl_buf_putc(b, ',');
    }
}

static void put_time(etwl_buf *b, int64_t ft)
{
    char iso[ETWL_TIME_STRLEN + 1];
    /* "YYYY-MM-DDTHH:MM:SS.fffffffZ" -> "yy/MM/dd HH:mm:ss.fff" */
    if (etwl_time_format(ft, iso) != ETWL_OK) {
        etwl_buf_puts(b, "(bad time)");
        return;
    }
    etwl_buf_printf(b, "%.2s/%.2s/%.2s %.8s.%.3s", iso + 2, iso + 5, iso + 8, iso + 11, iso + 20);
}

/* Writes the value's text, then cuts it to 20 characters (UTF-8 aware). */
static void put_value(etwl_buf *b, const etwl_value *v)
{
    size_t start = b->len, chars = 0, i;
    char g[ETWL_GUID_STRLEN + 1];
    switch (v->type) {
    case ETWL_VT_INT:
        etwl_te_put_grouped(b, v->v.i < 0 ? (uint64_t)0 - (uint64_t)v->v.i : (uint64_t)v->v.i, v->v.i < 0);
        break;
    case ETWL_VT_UINT: /* TraceEvent shows 64-bit integers signed */
        etwl_te_put_grouped(b, v->v.u >> 63 ? (uint64_t)0 - v->v.u : v->v.u, (int)(v->v.u >> 63));
        break;
    case ETWL_VT_HEX: etwl_buf_printf(b, "0x%llX", (unsigned long long)v->v.u); break;
    case ETWL_VT_BOOL: etwl_buf_puts(b, v->v.u ? "True" : "False"); break;
    case ETWL_VT_DOUBLE: etwl_buf_printf(b, "%g", v->v.d); break;
    case ETWL_VT_NUMBER: etwl_buf_put(b, v->v.s, v->n); break;
    case ETWL_VT_STRING: etwl_text_put_controls_escaped(b, v->v.s, v->n); break;
    case ETWL_VT_GUID:
        etwl_guid_format(&v->v.g, g);
        for (i = 1; i < 37; i++) etwl_buf_putc(b, (char)((g[i] >= 'A' && g[i] <= 'F') ? g[i] + 32 : g[i]));
        break;
    case ETWL_VT_TIME: put_time(b, v->v.i); break;
    case ETWL_VT_BINARY:
        for (i = 0; i < v->n && i < 16; i++) etwl_buf_printf(b, "%02X", v->v.p[i]);
        break;
    case ETWL_VT_NULL: break;
    default: etwl_buf_puts(b, "(...)"); break;
    }
    if (b->oom) return;
    for (i = start; i < b->len; i++) {
        if (((unsigned char)b->data[i] & 0xC0) != 0x80) chars++;
        if (chars == CUT + 1) {
            b->len = i;
            b->data[i] = 0;
            etwl_buf_puts(b, "...");
            return;
        }
    }
}

void etwl_te_put_prop(etwl_buf *b, const char *name, const etwl_value *v)
{
    etwl_buf_printf(b, "%s=", name);
    put_value(b, v);
    etwl_buf_puts(b, "; ");
}

/* TraceEvent's own field list for the logfile header. */
static void put_header_props(etwl_buf *b, etwl_event *ev)
{
    static const char *order[] = {"BufferSize",     "Version",         "ProviderVersion", "NumberOfProcessors",
                                  "EndTime",        "TimerResolution", "MaxFileSize",     "LogFileMode",
                                  "BuffersWritten", "StartBuffers",    "PointerSize",     "EventsLost",
                                  "CPUSpeed",       "BootTime",        "PerfFreq",        "StartTime",
                                  "ReservedFlags",  "BuffersLost",     "SessionName",     "LogFileName"};
    const etwl_value *tz;
    size_t i;
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        const etwl_value *v = etwl_event_get(ev, order[i]);
        if (v) etwl_te_put_prop(b, order[i], v);
    }
    tz = etwl_event_get(ev, "TimeZoneInformation");
    if (tz && tz->type == ETWL_VT_BINARY && tz->n >= 4) {
        etwl_value bias;
        memset(&bias, 0, sizeof bias);
        bias.type = ETWL_VT_INT;
        bias.v.i = (int32_t)etwl_le32(tz->v.p);
        etwl_te_put_prop(b, "UtcOffsetMinutes", &bias);
    }
}

/* "Provider/Task/Opcode" as TraceEvent names a manifest, TraceLogging or
 * MOF event (kernel events: traceevent_kernel.c); 0 for a classic event it
 * would not name. */
static int event_name(etwl_event *ev, etwl_buf *name)
{
    const etwl_header *h = etwl_event_header(ev);
    if (h->flags & ETWL_HDR_FLAG_CLASSIC_HEADER) return 0;
    if (h->has & ETWL_HAS_PROVIDER_NAME) etwl_buf_put(name, h->provider_name, h->provider_name_len);
    else {
        char g[ETWL_GUID_STRLEN + 1];
        etwl_guid_format(&h->provider_guid, g);
        etwl_buf_puts(name, g);
    }
    etwl_buf_putc(name, '/');
    if (ev->schema && ev->schema->task_name) { /* manifest events: Task[/Opcode] */
        etwl_buf_puts(name, ev->schema->task_name);
        if (h->desc.opcode && ev->schema->opcode_name) {
            const char *op = ev->schema->opcode_name;
            /* the standard opcodes' "win:" prefix is not part of TraceEvent's names */
            if (strncmp(op, "win:", 4) == 0) op += 4;
            etwl_buf_printf(name, "/%s", op);
        }
    } else if (h->has & ETWL_HAS_EVENT_NAME) {
        etwl_buf_put(name, h->event_name, h->event_name_len);
    } else {
        etwl_buf_printf(name, "EventID(%u)", h->desc.id);
    }
    return 1;
}

static te_name *count_name(etwl_te *t, const char *name)
{
    uint32_t i;
    for (i = 0; i < t->n; i++)
        if (strcmp(t->names[i].name, name) == 0) return &t->names[i];
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        te_name *g = realloc(t->names, cap * sizeof *g);
        if (!g) return NULL;
        t->names = g;
        t->cap = cap;
    }
    t->names[t->n].name = strdup(name);
    t->names[t->n].count = 0;
    return t->names[t->n].name ? &t->names[t->n++] : NULL;
}

etwl_status etwl_te_learn(etwl_te *t, etwl_event *ev) { return etwl_tek_learn(t->kernel, ev); }

etwl_status etwl_te_learned(etwl_te *t) { return etwl_tek_learned(t->kernel); }

/* Whether top-level property i is another's length (a manifest's
 * length="..."), which TraceEvent does not list. */
static int length_field(const etwl_event *ev, uint32_t i)
{
    uint32_t j;
    if (!ev->schema) return 0;
    for (j = 0; j < ev->schema->ntop; j++)
        if ((ev->schema->props[j].flags & ETWL_PROP_LENGTH_REF) && ev->schema->props[j].length == i) return 1;
    return 0;
}

/* A SOCKADDR in a binary field named ...Address or ...Addr, as TraceEvent
 * prints it: "a.b.c.d:port" (AF_INET) or "[v6]:port" (AF_INET6). */
static int sockaddr_text(const uint8_t *b, uint32_t n, char *o, size_t osz)
{
    unsigned port;
    int k;
    if (n < 4) return 0;
    port = (unsigned)b[2] << 8 | b[3];
    if (n == 16 && b[0] == 2 && b[1] == 0) return snprintf(o, osz, "%u.%u.%u.%u:%u", b[4], b[5], b[6], b[7], port);
    if (n == 28 && b[0] == 23 && b[1] == 0) {
        k = snprintf(o, osz, "[");
        k += etwl_ipv6_format(b + 8, o + k, osz - (size_t)k);
        k += snprintf(o + k, osz - (size_t)k, "]:%u", port);
        return k;
    }
    return 0;
}

etwl_status etwl_te_event(etwl_te *t, etwl_event *ev, etwl_buf *out)
{
    const etwl_header *h = etwl_event_header(ev);
    etwl_buf name;
    te_name *c;
    uint32_t len = 0, i, n;
    int64_t rel;
    int32_t pid = (int32_t)h->pid, tid = (int32_t)h->tid;
    int kernel;
    etwl_buf_init(&name);
    kernel = etwl_tek_event(t->kernel, ev, &name, &pid, &tid);
    if (kernel < 0 || (!kernel && !event_name(ev, &name))) {
        int oom = name.oom;
        etwl_buf_free(&name);
        return oom ? ETWL_ENOMEM : ETWL_OK;
    }
    if (name.oom || !(c = count_name(t, name.data))) {
        etwl_buf_free(&name);
        return ETWL_ENOMEM;
    }
    if (!t->have_t0) {
        t->t0 = h->ts;
        t->have_t0 = 1;
    }
    if (c->count++ >= PER_NAME) {
        etwl_buf_free(&name);
        return ETWL_OK;
    }
    rel = h->ts - t->t0; /* 100 ns ticks */
    etwl_buf_puts(out, "EVENT ");
    if (rel < 0) {
        etwl_buf_putc(out, '-');
        rel = -rel;
    }
    rel = (rel + 5) / 10; /* microseconds, rounded as TraceEvent's milliseconds are */
    etwl_te_put_grouped(out, (uint64_t)(rel / 1000), 0);
    etwl_buf_printf(out, ".%03d: %s PID=%d; TID=%d; PName=", (int)(rel % 1000), name.data, (int)pid, (int)tid);
    etwl_tek_put_pname(t->kernel, out, pid);
    etwl_buf_printf(out, "; ProceNum=%u; DataLen=", h->processor);
    etwl_event_payload(ev, &len);
    etwl_buf_printf(out, "%u; ", len);
    if (kernel == 2) {
        put_header_props(out, ev);
    } else if (kernel) {
        etwl_tek_props(t->kernel, ev, out);
    } else {
        n = etwl_event_prop_count(ev);
        for (i = 0; i < n; i++) {
            uint32_t nl;
            const char *pn = etwl_event_prop_name(ev, i, &nl);
            const etwl_value *v;
            etwl_value adj;
            char sa[80];
            if (length_field(ev, i)) continue; /* TraceEvent folds a length into what it measures */
            v = etwl_event_prop(ev, i);
            if (v->type == ETWL_VT_BINARY && nl >= 4 &&
                (memcmp(pn + nl - 4, "Addr", 4) == 0 || (nl >= 7 && memcmp(pn + nl - 7, "Address", 7) == 0))) {
                int k = sockaddr_text(v->v.p, v->n, sa, sizeof sa);
                if (k > 0) {
                    adj.type = ETWL_VT_STRING;
                    adj.v.s = sa;
                    adj.n = (uint32_t)k;
                    v = &adj;
                }
            }
            if (ev->schema && i < ev->schema->ntop && ev->schema->props[i].intype == ETWL_IN_SYSTEMTIME &&
                v->type == ETWL_VT_TIME) {
                /* TraceEvent takes a SYSTEMTIME's milliseconds from its
                 * seconds (14:59:35.799 shows as 14:59:35.035); this format
                 * reproduces that so lines compare, scripts see the time */
                int64_t ms = (v->v.i / 10000) % 1000, sec = (v->v.i / 10000000) % 60;
                adj = *v;
                adj.v.i += (sec - ms) * 10000;
                v = &adj;
            }
            {
                /* a value map's name, as TraceEvent shows mapped values */
                uint32_t ml;
                const char *mn = etwl_event_prop_map_name(ev, i, &ml);
                if (mn) {
                    adj.type = ETWL_VT_STRING;
                    adj.v.s = mn;
                    adj.n = ml;
                    v = &adj;
                }
            }
            if (v->type == ETWL_VT_UINT && nl == 8 && strncasecmp(pn, "keywords", 8) == 0) {
                /* TraceEvent shows a keywords mask in hex */
                snprintf(sa, sizeof sa, "0x%08llx", (unsigned long long)v->v.u);
                adj.type = ETWL_VT_STRING;
                adj.v.s = sa;
                adj.n = (uint32_t)strlen(sa);
                v = &adj;
            }
            etwl_buf_put(out, pn, nl);
            etwl_buf_putc(out, '=');
            put_value(out, v);
            etwl_buf_puts(out, "; ");
        }
        /* an EventSource manifest chunk: TraceEvent adds the payload's length */
        if (ev->schema && ev->schema->desc.id == 0xFFFE && ev->schema->task_name &&
            strcmp(ev->schema->task_name, "ManifestData") == 0)
            etwl_buf_printf(out, "PayloadLength=%u; ", len);
    }
    etwl_buf_putc(out, '\n');
    etwl_buf_free(&name);
    return out->oom ? ETWL_ENOMEM : ETWL_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const te_name *)a)->name, ((const te_name *)b)->name);
}

etwl_status etwl_te_finish(etwl_te *t, etwl_buf *out)
{
    uint32_t i;
    if (t->n) qsort(t->names, t->n, sizeof *t->names, by_name); /* names is NULL when none was seen */
    for (i = 0; i < t->n; i++)
        etwl_buf_printf(out, "COUNT %s:%llu\n", t->names[i].name, (unsigned long long)t->names[i].count);
    return out->oom ? ETWL_ENOMEM : ETWL_OK;
}
