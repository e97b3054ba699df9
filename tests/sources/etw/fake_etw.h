/* fake_etw.h - a fake of the Win32 ETW/TDH API with real semantics.
 *
 * Installed through etwl_etw_api_set(), it stands in for advapi32 and tdh
 * under Wine (whose ETW functions are stubs and whose TdhGetEventInformation
 * aborts).  What it models, after the documentation:
 *   - named sessions: StartTraceW refuses a taken name (ERROR_ALREADY_EXISTS),
 *     ControlTraceW STOP/QUERY by name, ERROR_WMI_INSTANCE_NOT_FOUND;
 *   - EnableTraceEx2: level, keywords (match any/all, keyword 0 and
 *     IGNORE_KEYWORD_0), enable properties and EVENT_ID filter descriptors,
 *     all applied to the events pushed, as the kernel would;
 *   - SID and TS_ID enable properties add those extended data items;
 *   - system logger and NT Kernel Logger sessions pass kernel events by
 *     their EnableFlags;
 *   - ProcessTrace delivers on the calling thread and blocks until STOP
 *     (after draining what was queued) or CloseTrace;
 *   - lost-event counters for QUERY;
 *   - TdhGetEventInformation / TdhEnumerateProviders with the
 *     ERROR_INSUFFICIENT_BUFFER protocol and call counts. */
#ifndef ETWL_FAKE_ETW_H
#define ETWL_FAKE_ETW_H

#include <stdint.h>

#include "sources/etw/etwapi.h"

#define FAKE_MAX_ENABLES 16
#define FAKE_MAX_EXT 8

typedef struct fake_enable {
    GUID guid;
    UCHAR level;
    ULONGLONG any, all;
    ULONG props;
    int has_id_filter, filter_in;
    USHORT ids[64];
    int nids;
    ULONG filter_types[4];
    ULONG nfilters;
} fake_enable;

typedef struct fake_session {
    int live, external, file; /* file: an .etl file, named by its path */
    char name[256];
    char log_file_name[512]; /* StartTraceW with a file mode */
    TRACEHANDLE handle;
    /* EVENT_TRACE_PROPERTIES as given to StartTraceW */
    GUID guid;
    ULONG client_context, log_file_mode, enable_flags, buffer_size, min_buffers, max_buffers, flush_timer;
    fake_enable en[FAKE_MAX_ENABLES];
    int nen;
    ULONG events_lost, rt_buffers_lost, buffers_written;
    /* the consumer */
    int opened, closed;
    TRACEHANDLE trace;
    ULONG process_trace_mode;
    PEVENT_RECORD_CALLBACK on_record;
    PEVENT_TRACE_BUFFER_CALLBACKW on_buffer;
    void *context;
    /* what happened */
    int delivered, dropped, stops, processing;
} fake_session;

/* One event to push; ext items are copied. */
typedef struct fake_ext {
    USHORT type;
    const void *data;
    USHORT size;
} fake_ext;

typedef struct fake_event {
    GUID provider;
    USHORT id;
    UCHAR version, opcode, level, channel;
    USHORT task;
    ULONGLONG keyword;
    ULONG pid, tid;
    LONGLONG ts;
    USHORT flags; /* EVENT_HEADER_FLAG_*; 64-bit header when 0 */
    const void *payload;
    USHORT payload_len;
    fake_ext ext[FAKE_MAX_EXT];
    int next;
} fake_event;

/* Installs the fake as the backend's API and forgets all state. */
void fake_etw_install(void);
void fake_etw_uninstall(void);
/* A live session owned by "another process". */
void fake_etw_external(const char *name);
/* An .etl file at this (full) path; push its events with fake_etw_push. */
void fake_etw_file(const char *path);
/* The session of that name (live or stopped last), or NULL. */
fake_session *fake_etw_session(const char *name);
/* Queues an event for the named session: 0, or -1 when no such live session. */
int fake_etw_push(const char *name, const fake_event *ev);
void fake_etw_lost(const char *name, ULONG events, ULONG rt_buffers, ULONG written);
/* TdhGetEventInformation's answer for one event type; meta (TraceLogging
 * metadata) must then match the event's EVENT_SCHEMA_TL item. */
void fake_etw_add_tei(const GUID *provider, USHORT id, UCHAR version, UCHAR opcode, const void *meta, USHORT meta_len,
                      const void *tei, ULONG n);
void fake_etw_add_provider(const char *name, const GUID *guid);
/* TdhGetEventMapInformation's answer for a provider's map. */
void fake_etw_add_map(const GUID *provider, const char *name, const void *emi, ULONG n);
int fake_etw_map_calls(void);
int fake_etw_tdh_calls(void);
int fake_etw_enum_calls(void);
/* ControlTraceW(STOP) calls, whether they found a session or not */
int fake_etw_stop_calls(void);
/* Blocks until a consumer is inside ProcessTrace for that session. */
void fake_etw_wait_processing(const char *name);

#endif
