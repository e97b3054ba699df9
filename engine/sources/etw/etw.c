/* etw.c - the live backend on Windows: a real-time ETW session.
 *
 * open:    StartTraceW (EEXIST when the name is taken: never stopped and
 *          restarted behind the user's back), EnableTraceEx2 per provider
 *          with level, keywords, enable properties and an event-id filter,
 *          then OpenTraceW, so every setup error is reported before process.
 * process: ProcessTrace on the caller's thread (the one owning the Lua
 *          state); each EVENT_RECORD becomes an engine event, its schema
 *          from TdhGetEventInformation once per event type.
 * close:   ControlTraceW(STOP) and CloseTrace; callable from the console
 *          control handler or another thread while process() blocks.
 *
 * The same code reads .etl files (etwl_etw_file_ops: OpenTraceW with a
 * LogFileName) and records them (record_path: a file-mode session that is
 * also consumed in real time, so each event type's TRACE_EVENT_INFO can be
 * written beside the file, see schemafile.h).
 *
 * Every Win32 call goes through etwl_etw_api_get(), so tests run all of this
 * against a fake under Wine. */
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/format.h"
#include "core/schema_cache.h"
#include "etwfmt/schemafile.h"
#include "etwfmt/tei.h"
#include "core/valuemap.h"
#include "sources/etw/win.h"
#include "etwfmt/winrec.h"

/* The engine reads EVENT_RECORD through its portable mirror. */
_Static_assert(sizeof(EVENT_RECORD) == sizeof(etwl_win_record), "EVENT_RECORD layout");
_Static_assert(offsetof(EVENT_RECORD, ExtendedData) == offsetof(etwl_win_record, extended_data), "ExtendedData");
_Static_assert(offsetof(EVENT_RECORD, UserData) == offsetof(etwl_win_record, user_data), "UserData");
_Static_assert(offsetof(EVENT_RECORD, UserContext) == offsetof(etwl_win_record, user_context), "UserContext");
_Static_assert(sizeof(EVENT_HEADER) == sizeof(etwl_win_header), "EVENT_HEADER layout");
_Static_assert(offsetof(EVENT_HEADER, ActivityId) == offsetof(etwl_win_header, activity_id), "ActivityId");
_Static_assert(sizeof(EVENT_HEADER_EXTENDED_DATA_ITEM) == sizeof(etwl_win_ext_item), "extended item layout");

/* Enable properties and kernel flags pass straight through. */
_Static_assert(ETWL_ENABLE_SID == EVENT_ENABLE_PROPERTY_SID && ETWL_ENABLE_TS_ID == EVENT_ENABLE_PROPERTY_TS_ID &&
                   ETWL_ENABLE_STACK_TRACE == EVENT_ENABLE_PROPERTY_STACK_TRACE &&
                   ETWL_ENABLE_IGNORE_KEYWORD_0 == EVENT_ENABLE_PROPERTY_IGNORE_KEYWORD_0 &&
                   ETWL_ENABLE_PROCESS_START_KEY == EVENT_ENABLE_PROPERTY_PROCESS_START_KEY &&
                   ETWL_ENABLE_EVENT_KEY == EVENT_ENABLE_PROPERTY_EVENT_KEY &&
                   ETWL_ENABLE_EXCLUDE_INPRIVATE == EVENT_ENABLE_PROPERTY_EXCLUDE_INPRIVATE,
               "enable properties");

#define NAME_CHARS 1024
#define PROPS_SIZE (sizeof(EVENT_TRACE_PROPERTIES) + 2 * NAME_CHARS * sizeof(wchar_t))
#define DEFAULT_BUFFER_KB 64
#define DEFAULT_FLUSH_S 1
#define STATS_POLL_MS 1000
#define SCHEMA_CACHE_MAX 65536
#define MAP_CACHE_MAX 4096

/* SystemTraceControlGuid {9E814AAD-3204-11D2-9A82-006008A86939} */
static const GUID system_trace_guid = {0x9e814aad, 0x3204, 0x11d2, {0x9a, 0x82, 0x00, 0x60, 0x08, 0xa8, 0x69, 0x39}};
/* With nothing selected (the main job), the kernel's Process class: unlike
 * Microsoft-Windows-Kernel-Process it carries command lines, and its
 * rundown (DCStart) seeds the process table with what already runs. */
#define DEFAULT_KERNEL_FLAGS 0x00000001 /* EVENT_TRACE_FLAG_PROCESS */

typedef struct prov_name {
    etwl_guid guid;
    char name[256];
    uint32_t len;
} prov_name;

/* A value map by (provider, map name); map NULL: TDH had none. */
typedef struct map_slot {
    etwl_guid provider;
    char *name;
    etwl_valuemap *map;
} map_slot;

typedef struct etw_src {
    etwl_source base;
    const etwl_config *cfg;
    const etwl_etw_api *api;
    int file_mode; /* reading an .etl file, not a session */
    wchar_t name[NAME_CHARS];
    wchar_t path[NAME_CHARS]; /* the .etl file read or recorded */
    TRACEHANDLE session, trace;
    int started, opened;
    volatile LONG stopped;                            /* ControlTraceW(STOP) issued */
    volatile LONG closed;                             /* CloseTrace issued */
    EVENT_TRACE_PROPERTIES *stop_props, *query_props; /* preallocated: close() may not allocate */
    ULONGLONG last_poll;
    etwl_event ev;
    etwl_schema_cache *schemas;
    etwl_schema_cache *recorded; /* from --schemas: asked before TDH */
    uint32_t schemas_loaded, schemas_bad;
    char bad_schemas[700];
    FILE *rec_schemas; /* recording: one line per new event type */
    etwl_buf line;
    PEVENT_RECORD cur; /* the record being delivered, for map lookups */
    map_slot *maps;
    uint32_t nmaps;
    uint8_t *emi;
    ULONG emi_cap;
    uint8_t *tei;
    ULONG tei_cap;
    prov_name provs[ETWL_MAX_PROVIDERS];
    int nprovs;
    uint64_t schema_errors;
    etwl_stats os_st; /* lost and buffer counters the OS reports */
} etw_src;

/* Empty properties with room for the logger and file names after them. */
static void reset_props(EVENT_TRACE_PROPERTIES *p)
{
    memset(p, 0, PROPS_SIZE);
    p->Wnode.BufferSize = (ULONG)PROPS_SIZE;
    p->LoggerNameOffset = sizeof(EVENT_TRACE_PROPERTIES);
    p->LogFileNameOffset = (ULONG)(sizeof(EVENT_TRACE_PROPERTIES) + NAME_CHARS * sizeof(wchar_t));
}

static EVENT_TRACE_PROPERTIES *new_props(void)
{
    EVENT_TRACE_PROPERTIES *p = malloc(PROPS_SIZE);
    if (p) reset_props(p);
    return p;
}

static void to_win_guid(const etwl_guid *g, GUID *out)
{
    out->Data1 = g->d1;
    out->Data2 = g->d2;
    out->Data3 = g->d3;
    memcpy(out->Data4, g->d4, 8);
}

static int is_nt_kernel_logger(const wchar_t *name) { return wcscmp(name, KERNEL_LOGGER_NAMEW) == 0; }

/* Stops the OS session once, whoever asks first. */
static void stop_session(etw_src *s)
{
    if (!s->started || InterlockedExchange(&s->stopped, 1)) return;
    reset_props(s->stop_props);
    s->api->ControlTraceW(0, s->name, s->stop_props, EVENT_TRACE_CONTROL_STOP);
}

static void close_trace(etw_src *s)
{
    if (!s->opened || InterlockedExchange(&s->closed, 1)) return;
    s->api->CloseTrace(s->trace);
}

static void etw_close(etwl_source *base)
{
    etw_src *s = (etw_src *)base;
    s->base.closing = 1;
    stop_session(s);
    close_trace(s);
}

static void etw_destroy(etwl_source *base)
{
    etw_src *s = (etw_src *)base;
    if (!s) return;
    stop_session(s); /* the OS session must not outlive us */
    close_trace(s);
    etwl_event_release(&s->ev);
    etwl_schema_cache_free(s->schemas);
    etwl_schema_cache_free(s->recorded);
    if (s->rec_schemas) fclose(s->rec_schemas);
    etwl_buf_free(&s->line);
    for (uint32_t i = 0; i < s->nmaps; i++) {
        free(s->maps[i].name);
        etwl_valuemap_free(s->maps[i].map);
    }
    free(s->maps);
    free(s->emi);
    free(s->tei);
    free(s->stop_props);
    free(s->query_props);
    free(s);
}

/* ---- the event path ------------------------------------------------------ */

static void diag(etw_src *s, const char *msg)
{
    if (s->base.diag) s->base.diag("etw", msg, s->base.diag_user);
}

/* The schema of r's event type: from the cache, or asked of TDH once.  A
 * type TDH cannot describe is cached as NULL: header and raw payload only. */
static const etwl_schema *schema_for(etw_src *s, PEVENT_RECORD r)
{
    etwl_schema_key k;
    const etwl_schema *cached;
    etwl_schema *schema = NULL;
    ULONG size = s->tei_cap, rc;
    int tries;
    etwl_win_record_schema_key((const etwl_win_record *)r, &k);
    if (s->recorded && etwl_schema_cache_get(s->recorded, &k, &cached) && cached) return cached;
    if (etwl_schema_cache_get(s->schemas, &k, &cached)) return cached;
    rc = s->api->TdhGetEventInformation(r, 0, NULL, (PTRACE_EVENT_INFO)s->tei, &size);
    for (tries = 0; tries < 4 && rc == ERROR_INSUFFICIENT_BUFFER; tries++) {
        uint8_t *b = realloc(s->tei, size);
        if (!b) break;
        s->tei = b;
        s->tei_cap = size;
        rc = s->api->TdhGetEventInformation(r, 0, NULL, (PTRACE_EVENT_INFO)s->tei, &size);
    }
    if (rc == ERROR_SUCCESS) {
        etwl_error e;
        if (etwl_tei_to_schema(s->tei, size, &schema, &e) != ETWL_OK) {
            char g[ETWL_GUID_STRLEN + 1], msg[700];
            etwl_guid_format(&k.provider, g);
            snprintf(msg, sizeof msg, "provider %s event %u version %u: unusable schema, raw payload only: %s", g, k.id,
                     k.version, e.message);
            if (s->schema_errors++ < 20) diag(s, msg);
            schema = NULL;
        } else if (s->rec_schemas) {
            etwl_buf_reset(&s->line);
            etwl_schemafile_line(&s->line, &k, s->tei, size);
            if (s->line.oom || fwrite(s->line.data, 1, s->line.len, s->rec_schemas) != s->line.len ||
                fflush(s->rec_schemas) != 0)
                if (s->schema_errors++ < 20) diag(s, "writing the schema file failed");
        }
    }
    etwl_schema_cache_put(s->schemas, &k, schema);
    return schema;
}

/* etwl_map_resolver: asks TDH once per (provider, map), with the record
 * being delivered (maps are the provider's, found through the event). */
static const etwl_valuemap *resolve_map(const char *name, void *user)
{
    etw_src *s = user;
    etwl_guid g;
    wchar_t w[512];
    ULONG size = s->emi_cap, rc;
    etwl_valuemap *m = NULL;
    map_slot *grown;
    uint32_t i;
    int tries;
    if (!s->cur) return NULL;
    etwl_guid_from_bytes((const uint8_t *)&s->cur->EventHeader.ProviderId, &g);
    for (i = 0; i < s->nmaps; i++)
        if (etwl_guid_equal(&s->maps[i].provider, &g) && strcmp(s->maps[i].name, name) == 0) return s->maps[i].map;
    if (s->nmaps >= MAP_CACHE_MAX || etwl_win_wide(name, w, 512) < 0) return NULL;
    rc = s->api->TdhGetEventMapInformation(s->cur, w, (PEVENT_MAP_INFO)s->emi, &size);
    for (tries = 0; tries < 4 && rc == ERROR_INSUFFICIENT_BUFFER; tries++) {
        uint8_t *b = realloc(s->emi, size);
        if (!b) return NULL;
        s->emi = b;
        s->emi_cap = size;
        rc = s->api->TdhGetEventMapInformation(s->cur, w, (PEVENT_MAP_INFO)s->emi, &size);
    }
    if (rc == ERROR_SUCCESS) {
        etwl_error e;
        if (etwl_valuemap_from_emi(s->emi, size, &m, &e) != ETWL_OK && s->schema_errors++ < 20) {
            char msg[700];
            snprintf(msg, sizeof msg, "value map '%s': %s", name, e.message);
            diag(s, msg);
        }
    }
    if (!(grown = realloc(s->maps, (s->nmaps + 1) * sizeof *s->maps))) {
        etwl_valuemap_free(m);
        return NULL;
    }
    s->maps = grown;
    s->maps[s->nmaps].provider = g;
    s->maps[s->nmaps].name = strdup(name);
    s->maps[s->nmaps].map = m;
    if (!s->maps[s->nmaps].name) {
        etwl_valuemap_free(m);
        return NULL;
    }
    s->nmaps++;
    return m;
}

static VOID WINAPI on_record(PEVENT_RECORD r)
{
    etw_src *s = r->UserContext;
    const etwl_header *h;
    const etwl_schema *schema;
    etwl_status st;
    uint32_t bad = 0;
    int i;
    if (s->base.closing || s->base.cb_status) return;
    etwl_source_read(&s->base);
    schema = schema_for(s, r);
    etwl_event_begin(&s->ev);
    st = etwl_win_record_to_event((const etwl_win_record *)r, schema, &s->ev, &bad);
    if (st != ETWL_OK) {
        s->base.st.malformed++;
        diag(s, "an event record could not be read; skipped");
        return;
    }
    h = etwl_event_header(&s->ev);
    /* without a schema the name still comes from the session's own list */
    if (!(h->has & ETWL_HAS_PROVIDER_NAME))
        for (i = 0; i < s->nprovs; i++)
            if (etwl_guid_equal(&s->provs[i].guid, &h->provider_guid)) {
                s->ev.hdr.provider_name = s->provs[i].name;
                s->ev.hdr.provider_name_len = s->provs[i].len;
                s->ev.hdr.has |= ETWL_HAS_PROVIDER_NAME;
                break;
            }
    /* a live session was selected by the OS; a file is selected here */
    s->cur = r;
    st = etwl_source_deliver(&s->base, &s->ev);
    s->cur = NULL;
    if (st != ETWL_OK) {
        /* the callback asked to stop: ProcessTrace returns once this buffer
         * is done, and no further event reaches the callback */
        s->base.closing = 1;
        close_trace(s);
    }
}

static ULONG WINAPI on_buffer(PEVENT_TRACE_LOGFILEW lf)
{
    etw_src *s = lf->Context;
    return s->base.closing ? FALSE : TRUE;
}

/* ---- open ---------------------------------------------------------------- */

static etwl_status enable_provider(etw_src *s, const etwl_provider_spec *p, const etwl_guid *g, etwl_error *err)
{
    ENABLE_TRACE_PARAMETERS params;
    EVENT_FILTER_DESCRIPTOR fd;
    union {
        etwl_event_filter_event_id f;
        uint8_t raw[sizeof(etwl_event_filter_event_id) + 2 * ETWL_MAX_EVENT_IDS];
    } ids;
    GUID wg;
    ULONG rc;
    memset(&params, 0, sizeof params);
    params.Version = ENABLE_TRACE_PARAMETERS_VERSION_2;
    params.EnableProperty = s->cfg->enable_props;
    if (p->nevent_ids > 0 && p->nevent_ids <= ETWL_MAX_EVENT_IDS) {
        memset(&ids, 0, sizeof ids);
        ids.f.FilterIn = TRUE;
        ids.f.Count = p->nevent_ids;
        memcpy(ids.f.Events, p->event_ids, 2u * p->nevent_ids);
        fd.Ptr = (ULONGLONG)(ULONG_PTR)&ids;
        fd.Size = (ULONG)(offsetof(etwl_event_filter_event_id, Events) + 2u * p->nevent_ids);
        fd.Type = EVENT_FILTER_TYPE_EVENT_ID;
        params.EnableFilterDesc = &fd;
        params.FilterDescCount = 1;
    }
    to_win_guid(g, &wg);
    rc = s->api->EnableTraceEx2(s->session, &wg, EVENT_CONTROL_CODE_ENABLE_PROVIDER, p->level, p->match_any,
                                p->match_all, 0, &params);
    if (rc != ERROR_SUCCESS) {
        char gs[ETWL_GUID_STRLEN + 1], what[400];
        etwl_guid_format(g, gs);
        snprintf(what, sizeof what, "EnableTraceEx2 for provider %s%s%s%s", p->name[0] ? p->name : gs,
                 p->name[0] ? " (" : "", p->name[0] ? gs : "", p->name[0] ? ")" : "");
        return etwl_win_error(err, rc, what, NULL);
    }
    return ETWL_OK;
}

static etwl_status start_session(etw_src *s, etwl_error *err)
{
    const etwl_config *cfg = s->cfg;
    EVENT_TRACE_PROPERTIES *p = new_props();
    ULONG rc;
    if (!p) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    p->Wnode.Flags = WNODE_FLAG_TRACED_GUID;
    p->Wnode.ClientContext = 1; /* QPC timestamps, converted to FILETIME for us */
    p->LogFileMode = EVENT_TRACE_REAL_TIME_MODE;
    p->BufferSize = (ULONG)(cfg->buffer_kb ? cfg->buffer_kb : DEFAULT_BUFFER_KB);
    p->MinimumBuffers = cfg->min_buffers;
    p->MaximumBuffers = cfg->max_buffers;
    p->FlushTimer = cfg->flush_timer_s ? cfg->flush_timer_s : DEFAULT_FLUSH_S;
    if (cfg->record_path) {
        /* written as any ETW tool writes it; consumed in real time as well */
        p->LogFileMode |= EVENT_TRACE_FILE_MODE_SEQUENTIAL;
        memcpy((uint8_t *)p + p->LogFileNameOffset, s->path, (wcslen(s->path) + 1) * sizeof(wchar_t));
    }
    if (is_nt_kernel_logger(s->name)) {
        p->Wnode.Guid = system_trace_guid;
        p->EnableFlags = cfg->kernel_flags ? cfg->kernel_flags : DEFAULT_KERNEL_FLAGS;
    } else if (cfg->kernel_flags || cfg->nproviders == 0) {
        /* Windows 8+: a private system logger next to the NT Kernel Logger,
         * so kernel and user providers share one named session */
        p->LogFileMode |= EVENT_TRACE_SYSTEM_LOGGER_MODE;
        p->EnableFlags = cfg->kernel_flags ? cfg->kernel_flags : DEFAULT_KERNEL_FLAGS;
    }
    rc = s->api->StartTraceW(&s->session, s->name, p);
    free(p);
    if (rc == ERROR_ALREADY_EXISTS) {
        etwl_error_set(err, ETWL_EEXIST, "a session named '%s' already exists", cfg->name);
        if (err) snprintf(err->session, sizeof err->session, "%s", cfg->name);
        return ETWL_EEXIST;
    }
    if (rc != ERROR_SUCCESS) return etwl_win_error(err, rc, "StartTraceW", cfg->name);
    s->started = 1;
    return ETWL_OK;
}

static etwl_status enable_all(etw_src *s, etwl_error *err)
{
    const etwl_config *cfg = s->cfg;
    etwl_status st;
    int i;
    if (is_nt_kernel_logger(s->name)) {
        if (cfg->nproviders)
            return etwl_error_set(err, ETWL_EINVAL,
                                  "the NT Kernel Logger takes kernel flags (-k) only; name the session otherwise "
                                  "to combine kernel flags and providers");
        return ETWL_OK;
    }
    for (i = 0; i < cfg->nproviders; i++) {
        const etwl_provider_spec *p = &cfg->providers[i];
        etwl_guid g = p->guid;
        if (!p->has_guid && (st = etwl_win_provider_guid(p->name, &g, err)) != ETWL_OK) return st;
        s->provs[s->nprovs].guid = g;
        s->provs[s->nprovs].len =
            (uint32_t)snprintf(s->provs[s->nprovs].name, sizeof s->provs[s->nprovs].name, "%s", p->name);
        if (p->name[0]) s->nprovs++;
        if ((st = enable_provider(s, p, &g, err)) != ETWL_OK) return st;
    }
    return ETWL_OK;
}

static etwl_status open_trace(etw_src *s, etwl_error *err)
{
    EVENT_TRACE_LOGFILEW lf;
    memset(&lf, 0, sizeof lf);
    if (s->file_mode) {
        lf.LogFileName = s->path;
        lf.ProcessTraceMode = PROCESS_TRACE_MODE_EVENT_RECORD;
    } else {
        lf.LoggerName = s->name;
        lf.ProcessTraceMode = PROCESS_TRACE_MODE_REAL_TIME | PROCESS_TRACE_MODE_EVENT_RECORD;
    }
    lf.EventRecordCallback = on_record;
    lf.BufferCallback = on_buffer;
    lf.Context = s;
    s->trace = s->api->OpenTraceW(&lf);
    if (s->trace == INVALID_PROCESSTRACE_HANDLE) {
        ULONG rc = GetLastError();
        const char *path = s->cfg->read_path;
        if (!s->file_mode) return etwl_win_error(err, rc, "OpenTraceW", s->cfg->name);
        if (rc == ERROR_FILE_NOT_FOUND || rc == ERROR_PATH_NOT_FOUND)
            return etwl_error_set(err, ETWL_ENOTFOUND, "%s: no such file", path);
        if (rc == ERROR_ACCESS_DENIED) return etwl_error_set(err, ETWL_EACCES, "%s: access denied", path);
        return etwl_error_set(err, ETWL_EPARSE, "%s: OpenTraceW cannot read it (Win32 error %lu): not an ETL file?",
                              path, (unsigned long)rc);
    }
    s->opened = 1;
    return ETWL_OK;
}

/* A full path as UTF-16: ETW resolves relative names against its own
 * working directory, not ours. */
static etwl_status wide_path(const char *path, wchar_t *out, etwl_error *err)
{
    wchar_t rel[NAME_CHARS];
    if (etwl_win_wide(path, rel, NAME_CHARS) < 0 || !_wfullpath(out, rel, NAME_CHARS))
        return etwl_error_set(err, ETWL_EINVAL, "%s: not valid UTF-8, or too long a path", path);
    return ETWL_OK;
}

/* The first bad line of a --schemas file, told once processing starts (the
 * session's diag callback is set after open). */
static void first_bad_line(const char *where, const char *what, void *user)
{
    etw_src *s = user;
    if (!s->bad_schemas[0]) snprintf(s->bad_schemas, sizeof s->bad_schemas, "%s: %s", where, what);
}

static etwl_status load_schemas(etw_src *s, etwl_error *err)
{
    if (!s->cfg->schemas_path) return ETWL_OK;
    if (etwl_schema_cache_new(1u << 20, &s->recorded) != ETWL_OK)
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    return etwl_schemafile_load(s->cfg->schemas_path, s->recorded, &s->schemas_loaded, &s->schemas_bad, first_bad_line,
                                s, err);
}

static etwl_status new_src(const etwl_config *cfg, int file_mode, etw_src **out, etwl_error *err)
{
    etw_src *s = calloc(1, sizeof *s);
    etwl_status st;
    *out = NULL;
    if (!s) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    s->cfg = cfg;
    s->api = etwl_etw_api_get();
    s->file_mode = file_mode;
    etwl_buf_init(&s->line);
    if (etwl_win_wide(cfg->name, s->name, NAME_CHARS) < 0) {
        free(s);
        return etwl_error_set(err, ETWL_EINVAL, "session name '%s' is not valid UTF-8 or too long", cfg->name);
    }
    s->stop_props = new_props();
    s->query_props = new_props();
    if (!s->stop_props || !s->query_props || etwl_event_init(&s->ev) != ETWL_OK ||
        etwl_schema_cache_new(SCHEMA_CACHE_MAX, &s->schemas) != ETWL_OK) {
        etw_destroy(&s->base);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    s->ev.map_resolver = resolve_map;
    s->ev.map_user = s;
    if ((st = load_schemas(s, err)) != ETWL_OK) {
        etw_destroy(&s->base);
        return st;
    }
    *out = s;
    return ETWL_OK;
}

static etwl_status open_recording(etw_src *s, etwl_error *err)
{
    char side[1100];
    etwl_status st = wide_path(s->cfg->record_path, s->path, err);
    if (st != ETWL_OK) return st;
    snprintf(side, sizeof side, "%s.schemas", s->cfg->record_path);
    if (!(s->rec_schemas = fopen(side, "wb")) || fputs(ETWL_SCHEMAFILE_HEADER "\n", s->rec_schemas) < 0)
        return etwl_error_set(err, ETWL_EIO, "%s: %s", side, strerror(errno));
    return ETWL_OK;
}

static etwl_status etw_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    etw_src *s;
    etwl_status st = new_src(cfg, 0, &s, err);
    *out = NULL;
    if (st != ETWL_OK) return st;
    if ((cfg->record_path && (st = open_recording(s, err)) != ETWL_OK) || (st = start_session(s, err)) != ETWL_OK ||
        (st = enable_all(s, err)) != ETWL_OK || (st = open_trace(s, err)) != ETWL_OK) {
        etw_destroy(&s->base); /* stops the session we started, never one we found */
        return st;
    }
    *out = &s->base;
    return ETWL_OK;
}

static etwl_status etw_file_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    etw_src *s;
    etwl_status st = new_src(cfg, 1, &s, err);
    *out = NULL;
    if (st != ETWL_OK) return st;
    if ((st = wide_path(cfg->read_path, s->path, err)) != ETWL_OK || (st = open_trace(s, err)) != ETWL_OK) {
        etw_destroy(&s->base);
        return st;
    }
    *out = &s->base;
    return ETWL_OK;
}

/* ---- process, stats, kill -------------------------------------------------- */

static etwl_status etw_process(etwl_source *base, etwl_error *err)
{
    etw_src *s = (etw_src *)base;
    ULONG rc;
    if (s->schemas_bad) {
        char msg[800];
        snprintf(msg, sizeof msg, "%u schema line(s) skipped, the first: %s", s->schemas_bad, s->bad_schemas);
        diag(s, msg);
    }
    if (s->base.closing) return ETWL_OK;
    rc = s->api->ProcessTrace(&s->trace, 1, NULL, NULL);
    if (s->base.cb_status) return s->base.cb_status; /* the session says it was the callback */
    if (rc != ERROR_SUCCESS && rc != ERROR_CANCELLED && !s->base.closing)
        return etwl_win_error(err, rc, "ProcessTrace", s->cfg->name);
    return ETWL_OK;
}

static void etw_stats(etwl_source *base, etwl_stats *out)
{
    etw_src *s = (etw_src *)base;
    ULONGLONG now = GetTickCount64();
    if (s->started && !s->stopped && (s->last_poll == 0 || now - s->last_poll >= STATS_POLL_MS)) {
        s->last_poll = now;
        reset_props(s->query_props);
        if (s->api->ControlTraceW(0, s->name, s->query_props, EVENT_TRACE_CONTROL_QUERY) == ERROR_SUCCESS) {
            s->os_st.lost = s->query_props->EventsLost;
            s->os_st.buffers_lost = (uint64_t)s->query_props->RealTimeBuffersLost + s->query_props->LogBuffersLost;
            s->os_st.buffers_written = s->query_props->BuffersWritten;
        }
    }
    *out = s->os_st;
}

static etwl_status etw_kill(const char *name, etwl_error *err)
{
    wchar_t w[NAME_CHARS];
    EVENT_TRACE_PROPERTIES *p;
    ULONG rc;
    if (etwl_win_wide(name, w, NAME_CHARS) < 0) return etwl_error_set(err, ETWL_EINVAL, "bad session name '%s'", name);
    if (!(p = new_props())) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    rc = etwl_etw_api_get()->ControlTraceW(0, w, p, EVENT_TRACE_CONTROL_STOP);
    free(p);
    if (rc == ERROR_SUCCESS || rc == ERROR_MORE_DATA) return ETWL_OK; /* MORE_DATA: stopped, names did not fit */
    return etwl_win_error(err, rc, "ControlTraceW(STOP)", name);
}

/* live: the OS selects the events (EnableTraceEx2 per provider) */
const etwl_source_ops etwl_etw_source = {
    .name = "etw",
    .open = etw_open,
    .process = etw_process,
    .close = etw_close,
    .kill = etw_kill,
    .stats = etw_stats,
    .destroy = etw_destroy,
    .flags = ETWL_SOURCE_LIVE | ETWL_SOURCE_SELECTS,
};

/* Plain .etl files go through OpenTraceW here, ahead of the native reader
 * (engine/sources/etl), which keeps compressed input. */
static int etw_file_probe(etwl_sniff_kind kind, const char *path, int is_dir)
{
    (void)path;
    (void)is_dir;
    return kind == ETWL_SNIFF_BINARY ? 10 : 0;
}

/* .etl files: no session to stop or kill, no OS counters to poll; selected
 * here, as a file is not filtered by the OS */
const etwl_source_ops etwl_etw_file_source = {
    .name = "etl",
    .probe = etw_file_probe,
    .open = etw_file_open,
    .process = etw_process,
    .close = etw_close,
    .stats = etw_stats,
    .destroy = etw_destroy,
};
