/* fake_etw.c - see fake_etw.h */
#include "fake_etw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SESSIONS 8
#define MAX_QUEUE 4096
#define MAX_TEI 64
#define MAX_PROVIDERS 32
#define HANDLE_BASE 0x1000
#define TRACE_BASE 0x2000

typedef struct queued {
    EVENT_RECORD rec;
    EVENT_HEADER_EXTENDED_DATA_ITEM ext[FAKE_MAX_EXT + 2];
    uint8_t data[8192];
} queued;

typedef struct tei_entry {
    GUID provider;
    USHORT id;
    UCHAR version, opcode;
    uint8_t meta[512];
    USHORT meta_len;
    uint8_t *blob;
    ULONG n;
} tei_entry;

static struct {
    int ready;
    CRITICAL_SECTION lock;
    CONDITION_VARIABLE cv;
    fake_session s[MAX_SESSIONS];
    queued *q[MAX_SESSIONS][MAX_QUEUE];
    int qhead[MAX_SESSIONS], qtail[MAX_SESSIONS];
    tei_entry tei[MAX_TEI];
    int ntei;
    struct {
        char name[128];
        GUID guid;
    } prov[MAX_PROVIDERS];
    int nprov;
    int tdh_calls, enum_calls, stop_calls, map_calls;
    struct {
        GUID provider;
        char name[128];
        uint8_t *blob;
        ULONG n;
    } map[16];
    int nmap;
} F;

static const GUID system_trace = {0x9e814aad, 0x3204, 0x11d2, {0x9a, 0x82, 0x00, 0x60, 0x08, 0xa8, 0x69, 0x39}};
static const GUID event_trace = {0x68fdd900, 0x4a3e, 0x11d1, {0x84, 0xf4, 0x00, 0x00, 0xf8, 0x04, 0x64, 0xe3}};
/* kernel event classes and the EnableFlags bit that turns each on */
static const struct {
    GUID guid;
    ULONG flag;
} kclass[] = {
    {{0x3d6fa8d0, 0xfe05, 0x11d0, {0x9d, 0xda, 0x00, 0xc0, 0x4f, 0xd7, 0xba, 0x7c}}, 0x1},     /* Process */
    {{0x3d6fa8d1, 0xfe05, 0x11d0, {0x9d, 0xda, 0x00, 0xc0, 0x4f, 0xd7, 0xba, 0x7c}}, 0x2},     /* Thread */
    {{0x2cb15d1d, 0x5fc1, 0x11d2, {0xab, 0xe1, 0x00, 0xa0, 0xc9, 0x11, 0xf5, 0x18}}, 0x4},     /* Image */
    {{0xae53722e, 0xc863, 0x11d2, {0x86, 0x59, 0x00, 0xc0, 0x4f, 0xa3, 0x21, 0xa1}}, 0x20000}, /* Registry */
};

static void to_utf8(const wchar_t *w, char *out, int n)
{
    if (!w || WideCharToMultiByte(CP_UTF8, 0, w, -1, out, n, NULL, NULL) <= 0) out[0] = 0;
}

static int find_name(const char *name, int live_only)
{
    int i;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (F.s[i].name[0] && !F.s[i].file && strcmp(F.s[i].name, name) == 0 && (!live_only || F.s[i].live)) return i;
    return -1;
}

/* Windows paths: case does not matter */
static int find_file(const char *path)
{
    int i;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (F.s[i].file && _stricmp(F.s[i].name, path) == 0) return i;
    return -1;
}

static int find_handle(TRACEHANDLE h)
{
    int i = (int)(h - HANDLE_BASE);
    return i >= 0 && i < MAX_SESSIONS && F.s[i].live ? i : -1;
}

static int new_slot(void)
{
    int i;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (!F.s[i].live) {
            while (F.qhead[i] != F.qtail[i]) free(F.q[i][F.qhead[i]++ % MAX_QUEUE]);
            F.qhead[i] = F.qtail[i] = 0;
            memset(&F.s[i], 0, sizeof F.s[i]);
            return i;
        }
    return -1;
}

static int props_ok(const EVENT_TRACE_PROPERTIES *p)
{
    return p && p->Wnode.BufferSize >= sizeof *p && p->LoggerNameOffset >= sizeof *p &&
           p->LoggerNameOffset < p->Wnode.BufferSize;
}

/* ---- the API -------------------------------------------------------------- */

static ULONG WINAPI f_StartTraceW(PTRACEHANDLE h, LPCWSTR name, PEVENT_TRACE_PROPERTIES p)
{
    char n[256];
    int i;
    fake_session *s;
    if (!h || !name || !props_ok(p)) return ERROR_BAD_LENGTH;
    to_utf8(name, n, sizeof n);
    if (!n[0]) return ERROR_INVALID_PARAMETER;
    EnterCriticalSection(&F.lock);
    if (find_name(n, 1) >= 0) {
        LeaveCriticalSection(&F.lock);
        return ERROR_ALREADY_EXISTS;
    }
    /* the NT Kernel Logger is the session of SystemTraceControlGuid */
    if ((strcmp(n, "NT Kernel Logger") == 0) != (memcmp(&p->Wnode.Guid, &system_trace, sizeof(GUID)) == 0) ||
        (!(p->LogFileMode & EVENT_TRACE_REAL_TIME_MODE))) {
        LeaveCriticalSection(&F.lock);
        return ERROR_INVALID_PARAMETER;
    }
    i = new_slot();
    s = &F.s[i];
    s->live = 1;
    snprintf(s->name, sizeof s->name, "%s", n);
    s->handle = HANDLE_BASE + (TRACEHANDLE)i;
    s->guid = p->Wnode.Guid;
    s->client_context = p->Wnode.ClientContext;
    s->log_file_mode = p->LogFileMode;
    s->enable_flags = p->EnableFlags;
    s->buffer_size = p->BufferSize;
    s->min_buffers = p->MinimumBuffers;
    s->max_buffers = p->MaximumBuffers;
    s->flush_timer = p->FlushTimer;
    if (p->LogFileMode & (EVENT_TRACE_FILE_MODE_SEQUENTIAL | EVENT_TRACE_FILE_MODE_CIRCULAR)) {
        if (!p->LogFileNameOffset || p->LogFileNameOffset >= p->Wnode.BufferSize) {
            s->live = 0;
            LeaveCriticalSection(&F.lock);
            return ERROR_BAD_PATHNAME;
        }
        to_utf8((const wchar_t *)((const uint8_t *)p + p->LogFileNameOffset), s->log_file_name,
                sizeof s->log_file_name);
    }
    *h = s->handle;
    LeaveCriticalSection(&F.lock);
    return ERROR_SUCCESS;
}

static ULONG WINAPI f_ControlTraceW(TRACEHANDLE h, LPCWSTR name, PEVENT_TRACE_PROPERTIES p, ULONG code)
{
    char n[256];
    int i;
    fake_session *s;
    if (!props_ok(p)) return ERROR_BAD_LENGTH;
    EnterCriticalSection(&F.lock);
    if (code == EVENT_TRACE_CONTROL_STOP) F.stop_calls++; /* found or not: a second STOP could hit a new owner */
    if (name) {
        to_utf8(name, n, sizeof n);
        i = find_name(n, 1);
    } else {
        i = find_handle(h);
    }
    if (i < 0) {
        LeaveCriticalSection(&F.lock);
        return ERROR_WMI_INSTANCE_NOT_FOUND;
    }
    s = &F.s[i];
    p->EventsLost = s->events_lost;
    p->RealTimeBuffersLost = s->rt_buffers_lost;
    p->BuffersWritten = s->buffers_written;
    p->LogFileMode = s->log_file_mode;
    p->EnableFlags = s->enable_flags;
    if (code == EVENT_TRACE_CONTROL_STOP) {
        s->live = 0;
        s->stops++;
        WakeAllConditionVariable(&F.cv);
    } else if (code != EVENT_TRACE_CONTROL_QUERY) {
        LeaveCriticalSection(&F.lock);
        return ERROR_INVALID_PARAMETER;
    }
    LeaveCriticalSection(&F.lock);
    return ERROR_SUCCESS;
}

static ULONG WINAPI f_EnableTraceEx2(TRACEHANDLE h, LPCGUID guid, ULONG code, UCHAR level, ULONGLONG any, ULONGLONG all,
                                     ULONG timeout, PENABLE_TRACE_PARAMETERS params)
{
    int i;
    ULONG k;
    fake_enable e;
    (void)timeout;
    if (!guid || code != EVENT_CONTROL_CODE_ENABLE_PROVIDER) return ERROR_INVALID_PARAMETER;
    memset(&e, 0, sizeof e);
    e.guid = *guid;
    e.level = level;
    e.any = any;
    e.all = all;
    if (params) {
        if (params->Version != ENABLE_TRACE_PARAMETERS_VERSION_2) return ERROR_INVALID_PARAMETER;
        e.props = params->EnableProperty;
        if (params->FilterDescCount > 4 || (params->FilterDescCount && !params->EnableFilterDesc))
            return ERROR_INVALID_PARAMETER;
        for (k = 0; k < params->FilterDescCount; k++) {
            const EVENT_FILTER_DESCRIPTOR *d = &params->EnableFilterDesc[k];
            e.filter_types[e.nfilters++] = d->Type;
            if (d->Type == EVENT_FILTER_TYPE_EVENT_ID) {
                const etwl_event_filter_event_id *f = (const void *)(ULONG_PTR)d->Ptr;
                if (d->Size < 4 || !f || f->Count == 0 || f->Count > 64 ||
                    d->Size != offsetof(etwl_event_filter_event_id, Events) + 2u * f->Count)
                    return ERROR_INVALID_PARAMETER;
                e.has_id_filter = 1;
                e.filter_in = f->FilterIn;
                e.nids = f->Count;
                memcpy(e.ids, f->Events, 2u * f->Count);
            }
        }
    }
    EnterCriticalSection(&F.lock);
    i = find_handle(h);
    if (i < 0 || F.s[i].nen >= FAKE_MAX_ENABLES) {
        LeaveCriticalSection(&F.lock);
        return ERROR_INVALID_HANDLE;
    }
    F.s[i].en[F.s[i].nen++] = e;
    LeaveCriticalSection(&F.lock);
    return ERROR_SUCCESS;
}

static TRACEHANDLE WINAPI f_OpenTraceW(PEVENT_TRACE_LOGFILEW lf)
{
    char n[256];
    int i;
    fake_session *s;
    if (!lf || !lf->LoggerName == !lf->LogFileName) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return INVALID_PROCESSTRACE_HANDLE;
    }
    to_utf8(lf->LogFileName ? lf->LogFileName : lf->LoggerName, n, sizeof n);
    EnterCriticalSection(&F.lock);
    i = lf->LogFileName ? find_file(n) : find_name(n, 1);
    if (i < 0) {
        LeaveCriticalSection(&F.lock);
        SetLastError(lf->LogFileName ? ERROR_FILE_NOT_FOUND : ERROR_WMI_INSTANCE_NOT_FOUND);
        return INVALID_PROCESSTRACE_HANDLE;
    }
    s = &F.s[i];
    s->opened = 1;
    s->trace = TRACE_BASE + (TRACEHANDLE)i;
    s->process_trace_mode = lf->ProcessTraceMode;
    s->on_record = lf->EventRecordCallback;
    s->on_buffer = lf->BufferCallback;
    s->context = lf->Context;
    LeaveCriticalSection(&F.lock);
    return s->trace;
}

static ULONG WINAPI f_CloseTrace(TRACEHANDLE h)
{
    int i = (int)(h - TRACE_BASE);
    if (i < 0 || i >= MAX_SESSIONS || !F.s[i].opened) return ERROR_INVALID_HANDLE;
    EnterCriticalSection(&F.lock);
    F.s[i].closed = 1;
    WakeAllConditionVariable(&F.cv);
    LeaveCriticalSection(&F.lock);
    return ERROR_SUCCESS;
}

static int kw_match(const fake_enable *e, ULONGLONG kw)
{
    if (kw == 0) return !(e->props & EVENT_ENABLE_PROPERTY_IGNORE_KEYWORD_0);
    return (e->any == 0 || (kw & e->any)) && (kw & e->all) == e->all;
}

/* What the kernel would let through to this session; the enable that let
 * it through (NULL for kernel events) goes to *by. */
static int passes(const fake_session *s, const EVENT_RECORD *r, const fake_enable **by)
{
    int i, k;
    *by = NULL;
    if (s->file || IsEqualGUID(&r->EventHeader.ProviderId, &event_trace)) return 1;
    for (i = 0; i < (int)(sizeof kclass / sizeof kclass[0]); i++)
        if (IsEqualGUID(&r->EventHeader.ProviderId, &kclass[i].guid))
            return (s->log_file_mode & EVENT_TRACE_SYSTEM_LOGGER_MODE || IsEqualGUID(&s->guid, &system_trace)) &&
                   (s->enable_flags & kclass[i].flag);
    for (i = 0; i < s->nen; i++) {
        const fake_enable *e = &s->en[i];
        int listed = 0;
        if (!IsEqualGUID(&e->guid, &r->EventHeader.ProviderId)) continue;
        if (e->level && r->EventHeader.EventDescriptor.Level > e->level) continue;
        if (!kw_match(e, r->EventHeader.EventDescriptor.Keyword)) continue;
        if (e->has_id_filter) {
            for (k = 0; k < e->nids; k++)
                if (e->ids[k] == r->EventHeader.EventDescriptor.Id) listed = 1;
            if (listed != e->filter_in) continue;
        }
        *by = e;
        return 1;
    }
    return 0;
}

/* SID and TS_ID enable properties: the kernel adds these items. */
static void add_enable_items(queued *q, const fake_enable *e)
{
    static const uint8_t sid[] = {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}; /* S-1-5-18 */
    static const ULONG ts_id = 1;
    EVENT_HEADER_EXTENDED_DATA_ITEM *it;
    if (!e) return;
    if (e->props & EVENT_ENABLE_PROPERTY_SID) {
        it = &q->ext[q->rec.ExtendedDataCount++];
        memset(it, 0, sizeof *it);
        it->ExtType = EVENT_HEADER_EXT_TYPE_SID;
        it->DataSize = sizeof sid;
        it->DataPtr = (ULONGLONG)(ULONG_PTR)sid;
    }
    if (e->props & EVENT_ENABLE_PROPERTY_TS_ID) {
        it = &q->ext[q->rec.ExtendedDataCount++];
        memset(it, 0, sizeof *it);
        it->ExtType = EVENT_HEADER_EXT_TYPE_TS_ID;
        it->DataSize = sizeof ts_id;
        it->DataPtr = (ULONGLONG)(ULONG_PTR)&ts_id;
    }
    if (q->rec.ExtendedDataCount) q->rec.EventHeader.Flags |= EVENT_HEADER_FLAG_EXTENDED_INFO;
    q->rec.ExtendedData = q->ext;
}

static ULONG WINAPI f_ProcessTrace(PTRACEHANDLE hs, ULONG n, LPFILETIME start, LPFILETIME end)
{
    int i;
    fake_session *s;
    (void)start;
    (void)end;
    if (!hs || n != 1) return ERROR_INVALID_PARAMETER;
    i = (int)(hs[0] - TRACE_BASE);
    if (i < 0 || i >= MAX_SESSIONS || !F.s[i].opened) return ERROR_INVALID_HANDLE;
    s = &F.s[i];
    /* a file is read without REAL_TIME, a session only with it */
    if (!(s->process_trace_mode & PROCESS_TRACE_MODE_EVENT_RECORD) ||
        !(s->process_trace_mode & PROCESS_TRACE_MODE_REAL_TIME) != !!s->file)
        return ERROR_INVALID_PARAMETER;
    EnterCriticalSection(&F.lock);
    s->processing = 1;
    WakeAllConditionVariable(&F.cv);
    for (;;) {
        queued *q;
        const fake_enable *by;
        EVENT_TRACE_LOGFILEW lf;
        while (!s->closed && F.qhead[i] == F.qtail[i] && s->live && !s->file)
            SleepConditionVariableCS(&F.cv, &F.lock, INFINITE);
        if (s->closed) break;
        if (F.qhead[i] == F.qtail[i]) break; /* stopped and drained */
        q = F.q[i][F.qhead[i]++ % MAX_QUEUE];
        LeaveCriticalSection(&F.lock);
        if (passes(s, &q->rec, &by)) {
            add_enable_items(q, by);
            q->rec.UserContext = s->context;
            s->delivered++;
            s->on_record(&q->rec);
        } else {
            s->dropped++;
        }
        free(q);
        memset(&lf, 0, sizeof lf);
        lf.Context = s->context;
        if (s->on_buffer && !s->on_buffer(&lf)) {
            EnterCriticalSection(&F.lock);
            break;
        }
        EnterCriticalSection(&F.lock);
    }
    s->processing = 0;
    LeaveCriticalSection(&F.lock);
    return s->closed ? ERROR_CANCELLED : ERROR_SUCCESS;
}

static int meta_of(const EVENT_RECORD *r, const uint8_t **p, USHORT *n)
{
    USHORT k;
    for (k = 0; r->ExtendedData && k < r->ExtendedDataCount; k++)
        if (r->ExtendedData[k].ExtType == 11 /* EVENT_SCHEMA_TL */) {
            *p = (const uint8_t *)(ULONG_PTR)r->ExtendedData[k].DataPtr;
            *n = r->ExtendedData[k].DataSize;
            return 1;
        }
    return 0;
}

static ULONG WINAPI f_TdhGetEventInformation(PEVENT_RECORD r, ULONG nctx, PTDH_CONTEXT ctx, PTRACE_EVENT_INFO buf,
                                             ULONG *size)
{
    int i;
    const uint8_t *meta = NULL;
    USHORT metan = 0;
    (void)ctx;
    if (!r || !size || nctx) return ERROR_INVALID_PARAMETER;
    F.tdh_calls++;
    meta_of(r, &meta, &metan);
    for (i = 0; i < F.ntei; i++) {
        tei_entry *t = &F.tei[i];
        if (!IsEqualGUID(&t->provider, &r->EventHeader.ProviderId) || t->id != r->EventHeader.EventDescriptor.Id ||
            t->version != r->EventHeader.EventDescriptor.Version || t->opcode != r->EventHeader.EventDescriptor.Opcode)
            continue;
        if (t->meta_len && (metan != t->meta_len || memcmp(meta, t->meta, metan) != 0)) continue;
        if (!buf || *size < t->n) {
            *size = t->n;
            return ERROR_INSUFFICIENT_BUFFER;
        }
        memcpy(buf, t->blob, t->n);
        *size = t->n;
        return ERROR_SUCCESS;
    }
    return ERROR_NOT_FOUND;
}

static ULONG WINAPI f_TdhEnumerateProviders(PPROVIDER_ENUMERATION_INFO buf, ULONG *size)
{
    ULONG need = 8 + 24u * (ULONG)F.nprov, at;
    int i, k;
    F.enum_calls++;
    for (i = 0; i < F.nprov; i++) need += 2u * ((ULONG)strlen(F.prov[i].name) + 1);
    if (!buf || *size < need) {
        *size = need;
        return ERROR_INSUFFICIENT_BUFFER;
    }
    memset(buf, 0, need);
    buf->NumberOfProviders = (ULONG)F.nprov;
    at = 8 + 24u * (ULONG)F.nprov;
    for (i = 0; i < F.nprov; i++) {
        uint8_t *b = (uint8_t *)buf;
        buf->TraceProviderInfoArray[i].ProviderGuid = F.prov[i].guid;
        buf->TraceProviderInfoArray[i].ProviderNameOffset = at;
        for (k = 0; F.prov[i].name[k]; k++, at += 2) b[at] = (uint8_t)F.prov[i].name[k];
        at += 2;
    }
    *size = need;
    return ERROR_SUCCESS;
}

static ULONG WINAPI f_TdhGetEventMapInformation(PEVENT_RECORD r, LPWSTR name, PEVENT_MAP_INFO buf, ULONG *size)
{
    char n[128];
    int i;
    if (!r || !name || !size) return ERROR_INVALID_PARAMETER;
    F.map_calls++;
    to_utf8(name, n, sizeof n);
    for (i = 0; i < F.nmap; i++) {
        if (!IsEqualGUID(&F.map[i].provider, &r->EventHeader.ProviderId) || strcmp(F.map[i].name, n) != 0) continue;
        if (!buf || *size < F.map[i].n) {
            *size = F.map[i].n;
            return ERROR_INSUFFICIENT_BUFFER;
        }
        memcpy(buf, F.map[i].blob, F.map[i].n);
        *size = F.map[i].n;
        return ERROR_SUCCESS;
    }
    return ERROR_NOT_FOUND;
}

static const etwl_etw_api fake_api = {
    f_StartTraceW,
    f_ControlTraceW,
    f_EnableTraceEx2,
    f_OpenTraceW,
    f_ProcessTrace,
    f_CloseTrace,
    f_TdhGetEventInformation,
    f_TdhEnumerateProviders,
    f_TdhGetEventMapInformation,
};

/* ---- test controls ---------------------------------------------------------- */

void fake_etw_install(void)
{
    int i;
    if (!F.ready) {
        InitializeCriticalSection(&F.lock);
        InitializeConditionVariable(&F.cv);
        F.ready = 1;
    }
    for (i = 0; i < MAX_SESSIONS; i++) {
        while (F.qhead[i] != F.qtail[i]) free(F.q[i][F.qhead[i]++ % MAX_QUEUE]);
        F.qhead[i] = F.qtail[i] = 0;
    }
    for (i = 0; i < F.ntei; i++) free(F.tei[i].blob);
    for (i = 0; i < F.nmap; i++) free(F.map[i].blob);
    F.nmap = F.map_calls = 0;
    memset(F.s, 0, sizeof F.s);
    memset(F.tei, 0, sizeof F.tei);
    F.ntei = F.nprov = F.tdh_calls = F.enum_calls = F.stop_calls = 0;
    etwl_etw_api_set(&fake_api);
}

void fake_etw_uninstall(void) { etwl_etw_api_set(NULL); }

void fake_etw_external(const char *name)
{
    int i;
    EnterCriticalSection(&F.lock);
    i = new_slot();
    F.s[i].live = F.s[i].external = 1;
    snprintf(F.s[i].name, sizeof F.s[i].name, "%s", name);
    F.s[i].handle = HANDLE_BASE + (TRACEHANDLE)i;
    LeaveCriticalSection(&F.lock);
}

void fake_etw_file(const char *path)
{
    int i;
    EnterCriticalSection(&F.lock);
    i = new_slot();
    F.s[i].live = F.s[i].file = 1;
    snprintf(F.s[i].name, sizeof F.s[i].name, "%s", path);
    LeaveCriticalSection(&F.lock);
}

fake_session *fake_etw_session(const char *name)
{
    int i = find_name(name, 1);
    if (i < 0) i = find_name(name, 0);
    return i < 0 ? NULL : &F.s[i];
}

int fake_etw_push(const char *name, const fake_event *ev)
{
    queued *q = calloc(1, sizeof *q);
    EVENT_HEADER *h;
    size_t at = 0;
    int i, k;
    if (!q) return -1;
    h = &q->rec.EventHeader;
    h->Size = sizeof(EVENT_HEADER);
    h->Flags = ev->flags ? ev->flags : EVENT_HEADER_FLAG_64_BIT_HEADER;
    h->ThreadId = ev->tid;
    h->ProcessId = ev->pid;
    h->TimeStamp.QuadPart = ev->ts;
    h->ProviderId = ev->provider;
    h->EventDescriptor.Id = ev->id;
    h->EventDescriptor.Version = ev->version;
    h->EventDescriptor.Channel = ev->channel;
    h->EventDescriptor.Level = ev->level;
    h->EventDescriptor.Opcode = ev->opcode;
    h->EventDescriptor.Task = ev->task;
    h->EventDescriptor.Keyword = ev->keyword;
    if (ev->payload_len) {
        memcpy(q->data, ev->payload, ev->payload_len);
        q->rec.UserData = q->data;
        q->rec.UserDataLength = ev->payload_len;
        at = (ev->payload_len + 7u) & ~7u;
    }
    for (k = 0; k < FAKE_MAX_EXT && ev->ext[k].type; k++) {
        EVENT_HEADER_EXTENDED_DATA_ITEM *it = &q->ext[k];
        if (at + ev->ext[k].size > sizeof q->data) break;
        memcpy(q->data + at, ev->ext[k].data, ev->ext[k].size);
        it->ExtType = ev->ext[k].type;
        it->DataSize = ev->ext[k].size;
        it->DataPtr = (ULONGLONG)(ULONG_PTR)(q->data + at);
        at = (at + ev->ext[k].size + 7u) & ~(size_t)7u;
    }
    q->rec.ExtendedDataCount = (USHORT)k;
    q->rec.ExtendedData = q->ext;
    if (k) h->Flags |= EVENT_HEADER_FLAG_EXTENDED_INFO;
    EnterCriticalSection(&F.lock);
    i = find_name(name, 1);
    if (i < 0) i = find_file(name);
    if (i < 0 || F.qtail[i] - F.qhead[i] >= MAX_QUEUE) {
        LeaveCriticalSection(&F.lock);
        free(q);
        return -1;
    }
    F.q[i][F.qtail[i]++ % MAX_QUEUE] = q;
    WakeAllConditionVariable(&F.cv);
    LeaveCriticalSection(&F.lock);
    return 0;
}

void fake_etw_lost(const char *name, ULONG events, ULONG rt_buffers, ULONG written)
{
    int i;
    EnterCriticalSection(&F.lock);
    if ((i = find_name(name, 1)) >= 0) {
        F.s[i].events_lost += events;
        F.s[i].rt_buffers_lost += rt_buffers;
        F.s[i].buffers_written += written;
    }
    LeaveCriticalSection(&F.lock);
}

void fake_etw_add_tei(const GUID *provider, USHORT id, UCHAR version, UCHAR opcode, const void *meta, USHORT meta_len,
                      const void *tei, ULONG n)
{
    tei_entry *t;
    if (F.ntei >= MAX_TEI || meta_len > sizeof F.tei[0].meta) return;
    t = &F.tei[F.ntei++];
    t->provider = *provider;
    t->id = id;
    t->version = version;
    t->opcode = opcode;
    t->meta_len = meta_len;
    if (meta_len) memcpy(t->meta, meta, meta_len);
    t->blob = malloc(n);
    memcpy(t->blob, tei, n);
    t->n = n;
}

void fake_etw_add_provider(const char *name, const GUID *guid)
{
    if (F.nprov >= MAX_PROVIDERS) return;
    snprintf(F.prov[F.nprov].name, sizeof F.prov[F.nprov].name, "%s", name);
    F.prov[F.nprov].guid = *guid;
    F.nprov++;
}

void fake_etw_add_map(const GUID *provider, const char *name, const void *emi, ULONG n)
{
    if (F.nmap >= 16) return;
    F.map[F.nmap].provider = *provider;
    snprintf(F.map[F.nmap].name, sizeof F.map[F.nmap].name, "%s", name);
    F.map[F.nmap].blob = malloc(n);
    memcpy(F.map[F.nmap].blob, emi, n);
    F.map[F.nmap].n = n;
    F.nmap++;
}

int fake_etw_map_calls(void) { return F.map_calls; }
int fake_etw_tdh_calls(void) { return F.tdh_calls; }
int fake_etw_enum_calls(void) { return F.enum_calls; }
int fake_etw_stop_calls(void) { return F.stop_calls; }

void fake_etw_wait_processing(const char *name)
{
    EnterCriticalSection(&F.lock);
    for (;;) {
        int i = find_name(name, 0);
        if (i >= 0 && F.s[i].processing) break;
        SleepConditionVariableCS(&F.cv, &F.lock, 50);
    }
    LeaveCriticalSection(&F.lock);
}
