/* json_read.c - one JSON line into one event, with yajl's SAX parser.
 *
 * yajl was chosen over DOM parsers because it hands us each number as its
 * exact text (so 64-bit keywords and big integers are never rounded through
 * a double), validates UTF-8, keeps its own parse stack on the heap (deep
 * nesting cannot overflow the C stack), and builds no tree: values go
 * straight into the event's arena, and scratch space is reused across lines,
 * so a steady stream allocates nothing. */
#include "sources/jsonl/json_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_parse.h>

#include "core/format.h"
#include "util/utf.h"

#define JR_MAX_DEPTH 64

/* Where the parser is.  Structured contexts check keys and types; INFO and
 * VALUE contexts accept any JSON and build etwl_values. */
typedef enum { C_TOP, C_ROOT, C_HEADER, C_DESC, C_EXT, C_INST, C_STACK, C_ADDRS, C_INFO, C_VMAP, C_VARR } jctx;

/* keys of the structured contexts */
enum {
    K_NONE,
    K_HEADER,
    K_INFO,
    K_EXT,
    K_PAYLOAD,
    K_DESC,
    K_TID,
    K_PID,
    K_TS,
    K_PGUID,
    K_PNAME,
    K_ENAME,
    K_RECID,
    K_CHNAME,
    K_COMPUTER,
    K_AGUID,
    K_FLAGS,
    K_KTIME,
    K_UTIME,
    K_PTIME,
    K_PROC,
    K_ID,
    K_VERSION,
    K_CHANNEL,
    K_LEVEL,
    K_OPCODE,
    K_TASK,
    K_KEYWORD,
    K_SESSION,
    K_RELACT,
    K_SID,
    K_INSTINFO,
    K_STACKTRACE,
    K_PSKEY,
    K_EVKEY,
    K_IID,
    K_IPARENT,
    K_IPGUID,
    K_MATCHED,
    K_ADDRESSES
};

typedef struct kdef {
    jctx ctx;
    const char *name;
    int key;
} kdef;

static const kdef keys[] = {
    {C_ROOT, "header", K_HEADER},
    {C_ROOT, "info", K_INFO},
    {C_ROOT, "ext", K_EXT},
    {C_ROOT, "payload", K_PAYLOAD},
    {C_HEADER, "descriptor", K_DESC},
    {C_HEADER, "thread_id", K_TID},
    {C_HEADER, "process_id", K_PID},
    {C_HEADER, "ts", K_TS},
    {C_HEADER, "provider_guid", K_PGUID},
    {C_HEADER, "provider_name", K_PNAME},
    {C_HEADER, "event_name", K_ENAME},
    {C_HEADER, "record_id", K_RECID},
    {C_HEADER, "channel_name", K_CHNAME},
    {C_HEADER, "computer", K_COMPUTER},
    {C_HEADER, "activity_guid", K_AGUID},
    {C_HEADER, "flags", K_FLAGS},
    {C_HEADER, "kernel_time", K_KTIME},
    {C_HEADER, "user_time", K_UTIME},
    {C_HEADER, "processor_time", K_PTIME},
    {C_HEADER, "processor_number", K_PROC},
    {C_DESC, "id", K_ID},
    {C_DESC, "version", K_VERSION},
    {C_DESC, "channel", K_CHANNEL},
    {C_DESC, "level", K_LEVEL},
    {C_DESC, "op_code", K_OPCODE},
    {C_DESC, "task", K_TASK},
    {C_DESC, "keyword", K_KEYWORD},
    {C_EXT, "session_id", K_SESSION},
    {C_EXT, "activity_id", K_RELACT},
    {C_EXT, "user_sid", K_SID},
    {C_EXT, "instance_info", K_INSTINFO},
    {C_EXT, "stacktrace", K_STACKTRACE},
    {C_EXT, "process_start_key", K_PSKEY},
    {C_EXT, "event_key", K_EVKEY},
    {C_INST, "id", K_IID},
    {C_INST, "parent_id", K_IPARENT},
    {C_INST, "parent_guid", K_IPGUID},
    {C_STACK, "matched_id", K_MATCHED},
    {C_STACK, "addresses", K_ADDRESSES},
};

static const char *ctx_path(jctx c)
{
    switch (c) {
    case C_ROOT: return "event";
    case C_HEADER: return "header";
    case C_DESC: return "header.descriptor";
    case C_EXT: return "ext";
    case C_INST: return "ext.instance_info";
    case C_STACK: return "ext.stacktrace";
    case C_ADDRS: return "ext.stacktrace.addresses";
    default: return "info";
    }
}

/* A frame under construction inside info. */
typedef struct vframe {
    etwl_member *m;
    uint32_t n, cap;
    int is_map;
} vframe;

struct etwl_json_reader {
    yajl_handle h;
    etwl_event *ev;
    jctx stack[JR_MAX_DEPTH + 2];
    int sp;
    int key;
    const char *keyname;
    vframe frames[JR_MAX_DEPTH + 2];
    int nframes;
    uint64_t *addrs;
    uint32_t naddrs, addrcap;
    uint32_t seen; /* root keys seen */
    char err[256];
};

static int jerr(etwl_json_reader *r, const char *fmt, ...) ETWL_PRINTF(2, 3);
static int jerr(etwl_json_reader *r, const char *fmt, ...)
{
    va_list ap;
    if (r->err[0]) return 0; /* keep the first error */
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return 0;
}

static jctx top(etwl_json_reader *r) { return r->stack[r->sp]; }

static int push(etwl_json_reader *r, jctx c)
{
    if (r->sp >= JR_MAX_DEPTH) return jerr(r, "nesting deeper than %d levels", JR_MAX_DEPTH);
    r->stack[++r->sp] = c;
    return 1;
}

static int key_name_err(etwl_json_reader *r, const char *what)
{
    return jerr(r, "%s.%s: %s", ctx_path(top(r)), r->keyname ? r->keyname : "?", what);
}

/* ---- info values ------------------------------------------------------- */

static int in_value_ctx(etwl_json_reader *r)
{
    jctx c = top(r);
    return c == C_INFO || c == C_VMAP || c == C_VARR;
}

/* Appends v to the current frame; for maps the name was set by the key. */
static int frame_add(etwl_json_reader *r, const etwl_value *v)
{
    vframe *f = &r->frames[r->nframes - 1];
    if (f->is_map) {
        f->m[f->n - 1].value = *v;
        return 1;
    }
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 16;
        etwl_member *m = realloc(f->m, cap * sizeof *m);
        if (!m) return jerr(r, "out of memory");
        f->m = m;
        f->cap = cap;
    }
    f->m[f->n].name = NULL;
    f->m[f->n].name_len = 0;
    f->m[f->n].value = *v;
    f->n++;
    return 1;
}

static int frame_key(etwl_json_reader *r, const char *k, size_t n)
{
    vframe *f = &r->frames[r->nframes - 1];
    char *name;
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 16;
        etwl_member *m = realloc(f->m, cap * sizeof *m);
        if (!m) return jerr(r, "out of memory");
        f->m = m;
        f->cap = cap;
    }
    name = etwl_arena_strdup(&r->ev->arena, k, n);
    if (!name) return jerr(r, "event too large");
    f->m[f->n].name = name;
    f->m[f->n].name_len = (uint32_t)n;
    memset(&f->m[f->n].value, 0, sizeof f->m[f->n].value);
    f->n++;
    return 1;
}

static int frame_open(etwl_json_reader *r, int is_map)
{
    vframe *f;
    if (r->nframes >= JR_MAX_DEPTH) return jerr(r, "nesting deeper than %d levels", JR_MAX_DEPTH);
    f = &r->frames[r->nframes++];
    f->n = 0;
    f->is_map = is_map;
    return 1;
}

/* Closes the current frame into the arena and returns it as a value. */
static int frame_close(etwl_json_reader *r, etwl_value *out)
{
    vframe *f = &r->frames[--r->nframes];
    memset(out, 0, sizeof *out);
    if (f->is_map) {
        etwl_member *m = etwl_arena_dup(&r->ev->arena, f->m, f->n * sizeof *m);
        if (f->n && !m) return jerr(r, "event too large");
        out->type = ETWL_VT_OBJECT;
        out->v.o = m;
    } else {
        etwl_value *a = etwl_arena_alloc(&r->ev->arena, (f->n ? f->n : 1) * sizeof *a);
        uint32_t i;
        if (!a) return jerr(r, "event too large");
        for (i = 0; i < f->n; i++) a[i] = f->m[i].value;
        out->type = ETWL_VT_ARRAY;
        out->v.a = a;
    }
    out->n = f->n;
    return 1;
}

/* ---- scalar helpers ----------------------------------------------------- */

static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (n == 0) return 0;
    for (i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') return 0;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (v > max) return -1;
    *out = v;
    return 1;
}

/* Integer field of the structured part. */
static int set_uint(etwl_json_reader *r, const char *s, size_t n)
{
    static const struct {
        int key;
        uint64_t max;
    } lim[] = {{K_TID, UINT32_MAX},   {K_PID, UINT32_MAX},     {K_RECID, UINT64_MAX},   {K_FLAGS, UINT16_MAX},
               {K_KTIME, UINT32_MAX}, {K_UTIME, UINT32_MAX},   {K_PTIME, UINT64_MAX},   {K_PROC, UINT32_MAX},
               {K_ID, UINT16_MAX},    {K_VERSION, UINT8_MAX},  {K_CHANNEL, UINT8_MAX},  {K_LEVEL, UINT8_MAX},
               {K_OPCODE, UINT8_MAX}, {K_TASK, UINT16_MAX},    {K_KEYWORD, UINT64_MAX}, {K_SESSION, UINT32_MAX},
               {K_IID, UINT32_MAX},   {K_IPARENT, UINT32_MAX}, {K_MATCHED, UINT64_MAX}, {K_ADDRESSES, UINT64_MAX},
               {K_PSKEY, UINT64_MAX}, {K_EVKEY, UINT64_MAX}};
    etwl_header *h = &r->ev->hdr;
    etwl_ext *x = &r->ev->ext;
    uint64_t v = 0, max = 0;
    size_t i;
    int k;
    for (i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (lim[i].key == r->key) max = lim[i].max;
    if (!max) return key_name_err(r, "expected a string or object, got a number");
    k = parse_uint(s, n, max, &v);
    if (k == 0) {
        if (top(r) == C_ADDRS) return jerr(r, "ext.stacktrace.addresses: expected non-negative integers");
        return key_name_err(r, "expected a non-negative integer");
    }
    if (k < 0)
        return jerr(r, "%s%s%s: number %.*s out of range (0..%llu)", ctx_path(top(r)), top(r) == C_ADDRS ? "" : ".",
                    top(r) == C_ADDRS ? "" : r->keyname, (int)(n > 40 ? 40 : n), s, (unsigned long long)max);
    switch (r->key) {
    case K_TID: h->tid = (uint32_t)v; break;
    case K_RECID:
        h->record_id = v;
        h->has |= ETWL_HAS_RECORD_ID;
        break;
    case K_PID: h->pid = (uint32_t)v; break;
    case K_FLAGS: h->flags = (uint16_t)v; break;
    case K_KTIME: h->kernel_time = (uint32_t)v; break;
    case K_UTIME: h->user_time = (uint32_t)v; break;
    case K_PTIME: h->processor_time = v; break;
    case K_PROC:
        h->processor = (uint32_t)v;
        h->has |= ETWL_HAS_PROCESSOR;
        break;
    case K_ID: h->desc.id = (uint16_t)v; break;
    case K_VERSION: h->desc.version = (uint8_t)v; break;
    case K_CHANNEL: h->desc.channel = (uint8_t)v; break;
    case K_LEVEL: h->desc.level = (uint8_t)v; break;
    case K_OPCODE: h->desc.opcode = (uint8_t)v; break;
    case K_TASK: h->desc.task = (uint16_t)v; break;
    case K_KEYWORD: h->desc.keyword = v; break;
    case K_SESSION:
        x->session_id = (uint32_t)v;
        x->has |= ETWL_EXT_SESSION_ID;
        break;
    case K_IID: x->instance.id = (uint32_t)v; break;
    case K_IPARENT: x->instance.parent_id = (uint32_t)v; break;
    case K_MATCHED: x->stack.matched_id = v; break;
    case K_PSKEY:
        x->process_start_key = v;
        x->has |= ETWL_EXT_PROCESS_START_KEY;
        break;
    case K_EVKEY:
        x->event_key = v;
        x->has |= ETWL_EXT_EVENT_KEY;
        break;
    case K_ADDRESSES:
        if (r->naddrs == r->addrcap) {
            uint32_t cap = r->addrcap ? r->addrcap * 2 : 64;
            uint64_t *a = cap > 65536 ? NULL : realloc(r->addrs, cap * sizeof *a);
            if (!a) return jerr(r, "ext.stacktrace.addresses: more than 65536 frames");
            r->addrs = a;
            r->addrcap = cap;
        }
        r->addrs[r->naddrs++] = v;
        break;
    default: break;
    }
    return 1;
}

/* Copies an optional header name into the event and sets its has-bit. */
static int set_name(etwl_json_reader *r, const char *s, size_t n, const char **dst, uint32_t *len, uint32_t bit)
{
    *dst = etwl_arena_strdup(&r->ev->arena, s, n);
    if (!*dst) return jerr(r, "event too large");
    *len = (uint32_t)n;
    r->ev->hdr.has |= bit;
    return 1;
}

static int set_string(etwl_json_reader *r, const char *s, size_t n)
{
    etwl_header *h = &r->ev->hdr;
    etwl_ext *x = &r->ev->ext;
    etwl_guid *g = NULL;
    switch (r->key) {
    case K_TS: {
        etwl_status st = etwl_time_parse(s, n, &h->ts);
        if (st == ETWL_ERANGE) return key_name_err(r, "time before 1601-01-01");
        if (st) return key_name_err(r, "expected an RFC 3339 time like 2024-01-02T03:04:05.1234567Z");
        return 1;
    }
    case K_PNAME: return set_name(r, s, n, &h->provider_name, &h->provider_name_len, ETWL_HAS_PROVIDER_NAME);
    case K_ENAME: return set_name(r, s, n, &h->event_name, &h->event_name_len, ETWL_HAS_EVENT_NAME);
    case K_CHNAME: return set_name(r, s, n, &h->channel_name, &h->channel_name_len, ETWL_HAS_CHANNEL_NAME);
    case K_COMPUTER: return set_name(r, s, n, &h->computer, &h->computer_len, ETWL_HAS_COMPUTER);
    case K_SID:
        /* kept as text; must look like a SID so outputs stay parseable */
        if (n < 4 || n > 200 || s[0] != 'S' || s[1] != '-') return key_name_err(r, "expected a SID like S-1-5-18");
        x->user_sid = etwl_arena_strdup(&r->ev->arena, s, n);
        if (!x->user_sid) return jerr(r, "event too large");
        x->user_sid_len = (uint32_t)n;
        x->has |= ETWL_EXT_USER_SID;
        return 1;
    case K_PGUID: g = &h->provider_guid; break;
    case K_AGUID: g = &h->activity_guid; break;
    case K_RELACT:
        g = &x->related_activity;
        x->has |= ETWL_EXT_RELATED_ACTIVITY;
        break;
    case K_IPGUID: g = &x->instance.parent_guid; break;
    default: return key_name_err(r, "expected a number, got a string");
    }
    if (etwl_guid_parse(s, n, g)) return key_name_err(r, "expected a GUID like {00000000-0000-0000-0000-000000000000}");
    return 1;
}

/* ---- yajl callbacks ---------------------------------------------------- */

/* "payload": the raw bytes of an event no schema decoded, in hex. */
static int set_payload(etwl_json_reader *r, const etwl_value *v, const char *s, size_t n)
{
    uint8_t *b;
    size_t i;
    if (v->type != ETWL_VT_STRING || n % 2) return jerr(r, "payload: expected a string of hex digit pairs");
    if (!(b = etwl_arena_alloc(&r->ev->arena, n / 2 + 1))) return jerr(r, "event too large");
    for (i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return jerr(r, "payload: '%c' is not a hex digit", c);
        b[i / 2] = (uint8_t)(i % 2 ? (b[i / 2] << 4) | d : d);
    }
    etwl_event_set_payload(r->ev, NULL, b, (uint32_t)(n / 2));
    return 1;
}

static int cb_scalar(etwl_json_reader *r, const etwl_value *v, const char *raw, size_t rawn, const char *what)
{
    if (in_value_ctx(r)) return frame_add(r, v);
    switch (top(r)) {
    case C_TOP: return jerr(r, "expected a JSON object, got %s", what);
    case C_ROOT:
        if (v->type == ETWL_VT_NULL && (r->key == K_INFO || r->key == K_EXT)) return 1; /* null = empty */
        if (r->key == K_PAYLOAD) return set_payload(r, v, raw, rawn);
        return key_name_err(r, "expected an object");
    case C_ADDRS:
        if (v->type == ETWL_VT_NUMBER) return set_uint(r, raw, rawn);
        return jerr(r, "ext.stacktrace.addresses: expected numbers, got %s", what);
    default:
        if (r->key == K_INSTINFO || r->key == K_STACKTRACE || r->key == K_DESC)
            return key_name_err(r, "expected an object");
        if (r->key == K_ADDRESSES) return key_name_err(r, "expected an array");
        if (v->type == ETWL_VT_NUMBER) return set_uint(r, raw, rawn);
        if (v->type == ETWL_VT_STRING) return set_string(r, raw, rawn);
        return jerr(r, "%s.%s: unexpected %s", ctx_path(top(r)), r->keyname ? r->keyname : "?", what);
    }
}

static int y_null(void *ctx)
{
    etwl_value v;
    memset(&v, 0, sizeof v);
    return cb_scalar(ctx, &v, NULL, 0, "null");
}

static int y_bool(void *ctx, int b)
{
    etwl_value v;
    memset(&v, 0, sizeof v);
    v.type = ETWL_VT_BOOL;
    v.v.u = b != 0;
    return cb_scalar(ctx, &v, NULL, 0, "a boolean");
}

static int y_number(void *ctx, const char *s, size_t n)
{
    etwl_json_reader *r = ctx;
    etwl_value v;
    memset(&v, 0, sizeof v);
    v.type = ETWL_VT_NUMBER;
    v.n = (uint32_t)n;
    if (in_value_ctx(r)) {
        /* numbers in info keep their exact text, so nothing is rounded */
        v.v.s = etwl_arena_strdup(&r->ev->arena, s, n);
        if (!v.v.s) return jerr(r, "event too large");
    }
    return cb_scalar(r, &v, s, n, "a number");
}

static int y_string(void *ctx, const unsigned char *s, size_t n)
{
    etwl_json_reader *r = ctx;
    etwl_value v;
    /* yajl checks UTF-8 structure only; overlong forms (C0 AF for '/') and
     * surrogates would pass and reach rules as different text */
    if (!etwl_utf8_valid((const char *)s, n)) return jerr(r, "invalid UTF-8 in a string");
    memset(&v, 0, sizeof v);
    v.type = ETWL_VT_STRING;
    v.n = (uint32_t)n;
    if (in_value_ctx(r)) {
        v.v.s = etwl_arena_strdup(&r->ev->arena, (const char *)s, n);
        if (!v.v.s) return jerr(r, "event too large");
    }
    return cb_scalar(r, &v, (const char *)s, n, "a string");
}

static int y_map_key(void *ctx, const unsigned char *k, size_t n)
{
    etwl_json_reader *r = ctx;
    jctx c = top(r);
    size_t i;
    if (!etwl_utf8_valid((const char *)k, n)) return jerr(r, "invalid UTF-8 in a key");
    if (c == C_INFO || c == C_VMAP) return frame_key(r, (const char *)k, n);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (keys[i].ctx == c && strlen(keys[i].name) == n && memcmp(keys[i].name, k, n) == 0) {
            r->key = keys[i].key;
            r->keyname = keys[i].name;
            if (c == C_ROOT) {
                if (r->seen & (1u << r->key)) return jerr(r, "duplicate key '%s'", keys[i].name);
                r->seen |= 1u << r->key;
            }
            return 1;
        }
    }
    return jerr(r, "%s: unknown key '%.*s'", ctx_path(c), (int)(n > 64 ? 64 : n), k);
}

static int y_start_map(void *ctx)
{
    etwl_json_reader *r = ctx;
    jctx c = top(r);
    if (in_value_ctx(r)) return frame_open(r, 1) && push(r, C_VMAP);
    switch (c) {
    case C_TOP: return push(r, C_ROOT);
    case C_ROOT:
        if (r->key == K_HEADER) return push(r, C_HEADER);
        if (r->key == K_EXT) return push(r, C_EXT);
        /* K_INFO */
        return frame_open(r, 1) && push(r, C_INFO);
    case C_HEADER:
        if (r->key == K_DESC) return push(r, C_DESC);
        break;
    case C_EXT:
        if (r->key == K_INSTINFO) {
            memset(&r->ev->ext.instance, 0, sizeof r->ev->ext.instance);
            r->ev->ext.has |= ETWL_EXT_INSTANCE_INFO;
            return push(r, C_INST);
        }
        if (r->key == K_STACKTRACE) {
            memset(&r->ev->ext.stack, 0, sizeof r->ev->ext.stack);
            r->ev->ext.has |= ETWL_EXT_STACKTRACE;
            return push(r, C_STACK);
        }
        break;
    default: break;
    }
    return key_name_err(r, "unexpected object");
}

static int y_end_map(void *ctx)
{
    etwl_json_reader *r = ctx;
    jctx c = top(r);
    r->sp--;
    if (c == C_INFO) {
        vframe *f = &r->frames[--r->nframes];
        etwl_member *m = etwl_arena_dup(&r->ev->arena, f->m, f->n * sizeof *m);
        if (f->n && !m) return jerr(r, "event too large");
        etwl_event_set_members(r->ev, m, f->n);
        return 1;
    }
    if (c == C_VMAP) {
        etwl_value v;
        return frame_close(r, &v) && frame_add(r, &v);
    }
    if (c == C_STACK) {
        etwl_ext *x = &r->ev->ext;
        x->stack.count = r->naddrs;
        x->stack.addresses = etwl_arena_dup(&r->ev->arena, r->addrs, r->naddrs * sizeof *r->addrs);
        if (r->naddrs && !x->stack.addresses) return jerr(r, "event too large");
    }
    /* back in the parent context, the key that opened this map is done */
    r->key = K_NONE;
    return 1;
}

static int y_start_array(void *ctx)
{
    etwl_json_reader *r = ctx;
    if (in_value_ctx(r)) return frame_open(r, 0) && push(r, C_VARR);
    if (top(r) == C_STACK && r->key == K_ADDRESSES) {
        r->naddrs = 0;
        return push(r, C_ADDRS);
    }
    if (top(r) == C_TOP) return jerr(r, "expected a JSON object, got an array");
    if (top(r) == C_ROOT) return key_name_err(r, "expected an object, got an array");
    return key_name_err(r, "unexpected array");
}

static int y_end_array(void *ctx)
{
    etwl_json_reader *r = ctx;
    jctx c = top(r);
    r->sp--;
    if (c == C_VARR) {
        etwl_value v;
        return frame_close(r, &v) && frame_add(r, &v);
    }
    return 1;
}

static const yajl_callbacks callbacks = {y_null,      y_bool,    NULL,      NULL,          y_number,   y_string,
                                         y_start_map, y_map_key, y_end_map, y_start_array, y_end_array};

/* yajl replaces an unpaired surrogate escape (\ud800) with '?', silently
 * changing the value; find them first so the line is rejected instead.
 * Only backslashes are visited, so plain text costs one memchr pass. */
static const char *lone_surrogate(const char *s, size_t n)
{
    const char *end = s + n, *p = s;
    int want_low = 0;
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        unsigned v = 0;
        int i;
        if (end - p < 2) break;
        if (p[1] != 'u') {
            if (want_low) return p;
            p += 2; /* skips an escaped backslash too */
            continue;
        }
        if (end - p < 6) break;
        for (i = 2; i < 6; i++) {
            char c = p[i];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
        }
        if (want_low && !(v >= 0xDC00 && v <= 0xDFFF)) return p;
        if (!want_low && v >= 0xDC00 && v <= 0xDFFF) return p;
        want_low = v >= 0xD800 && v <= 0xDBFF;
        /* a high surrogate must be followed directly by its low half */
        if (want_low && (end - p < 12 || p[6] != '\\' || p[7] != 'u')) return p;
        p += 6;
    }
    return NULL;
}

etwl_json_reader *etwl_json_reader_new(void) { return calloc(1, sizeof(etwl_json_reader)); }

void etwl_json_reader_free(etwl_json_reader *r)
{
    int i;
    if (!r) return;
    for (i = 0; i < JR_MAX_DEPTH + 2; i++) free(r->frames[i].m);
    free(r->addrs);
    free(r);
}

etwl_status etwl_json_parse_event(etwl_json_reader *r, const char *line, size_t len, etwl_event *ev, char *errbuf,
                                  size_t errsz)
{
    yajl_handle h;
    yajl_status ys;
    etwl_status st = ETWL_OK;
    r->ev = ev;
    r->sp = 0;
    r->stack[0] = C_TOP;
    r->key = K_NONE;
    r->keyname = NULL;
    r->nframes = 0;
    r->naddrs = 0;
    r->seen = 0;
    r->err[0] = 0;
    {
        const char *bad = lone_surrogate(line, len);
        if (bad) {
            snprintf(errbuf, errsz, "unpaired UTF-16 surrogate escape near byte %zu", (size_t)(bad - line) + 1);
            return ETWL_EPARSE;
        }
    }
    h = yajl_alloc(&callbacks, NULL, r);
    if (!h) {
        snprintf(errbuf, errsz, "out of memory");
        return ETWL_ENOMEM;
    }
    ys = yajl_parse(h, (const unsigned char *)line, len);
    if (ys == yajl_status_ok) ys = yajl_complete_parse(h);
    if (ys != yajl_status_ok) {
        if (r->err[0]) {
            snprintf(errbuf, errsz, "%s", r->err);
        } else {
            unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
            size_t at = yajl_get_bytes_consumed(h);
            char *p;
            /* yajl's message carries a newline and sometimes a "parse error: "
             * prefix; keep it to one clean line */
            for (p = (char *)msg; p && *p; p++)
                if (*p == '\n' || *p == '\r') *p = ' ';
            while (msg && p > (char *)msg && p[-1] == ' ') *--p = 0;
            snprintf(errbuf, errsz, "invalid JSON near byte %zu: %s", at + 1, msg ? (const char *)msg : "parse error");
            if (msg) yajl_free_error(h, msg);
        }
        st = ETWL_EPARSE;
    } else if (!(r->seen & (1u << K_HEADER))) {
        snprintf(errbuf, errsz, "event: missing the header object");
        st = ETWL_EPARSE;
    }
    yajl_free(h);
    return st;
}
