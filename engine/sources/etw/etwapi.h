/* etwapi.h - every Win32 ETW and TDH call the backend makes, as a table.
 *
 * Like SQLite's VFS: the backend calls only through etwl_etw_api_get(), so the
 * tests can swap in a fake with real semantics (named sessions, ALREADY_EXISTS,
 * ProcessTrace blocking until STOP) and run the backend under Wine, whose
 * own ETW functions are stubs and whose TdhGetEventInformation aborts. */
#ifndef ETWL_WIN_ETWAPI_H
#define ETWL_WIN_ETWAPI_H

#include <windows.h>
#include <evntcons.h>
#include <evntrace.h>
#include <tdh.h>

typedef struct etwl_etw_api {
    ULONG(WINAPI *StartTraceW)(PTRACEHANDLE, LPCWSTR, PEVENT_TRACE_PROPERTIES);
    ULONG(WINAPI *ControlTraceW)(TRACEHANDLE, LPCWSTR, PEVENT_TRACE_PROPERTIES, ULONG);
    ULONG(WINAPI *EnableTraceEx2)
    (TRACEHANDLE, LPCGUID, ULONG, UCHAR, ULONGLONG, ULONGLONG, ULONG, PENABLE_TRACE_PARAMETERS);
    TRACEHANDLE(WINAPI *OpenTraceW)(PEVENT_TRACE_LOGFILEW);
    ULONG(WINAPI *ProcessTrace)(PTRACEHANDLE, ULONG, LPFILETIME, LPFILETIME);
    ULONG(WINAPI *CloseTrace)(TRACEHANDLE);
    ULONG(WINAPI *TdhGetEventInformation)(PEVENT_RECORD, ULONG, PTDH_CONTEXT, PTRACE_EVENT_INFO, ULONG *);
    ULONG(WINAPI *TdhEnumerateProviders)(PPROVIDER_ENUMERATION_INFO, ULONG *);
    ULONG(WINAPI *TdhGetEventMapInformation)(PEVENT_RECORD, LPWSTR, PEVENT_MAP_INFO, ULONG *);
} etwl_etw_api;

/* The table in use: the real advapi32/tdh functions unless a test set one. */
const etwl_etw_api *etwl_etw_api_get(void);
/* Swaps the table (NULL: back to the real one); call before opening
 * sessions.  Also forgets the cached provider list, which came from the old
 * table. */
void etwl_etw_api_set(const etwl_etw_api *api);

/* Constants from the documentation that mingw-w64's headers lack. */
#ifndef EVENT_FILTER_TYPE_EVENT_ID
#define EVENT_FILTER_TYPE_EVENT_ID 0x80000200
#endif
#ifndef EVENT_ENABLE_PROPERTY_IGNORE_KEYWORD_0
#define EVENT_ENABLE_PROPERTY_IGNORE_KEYWORD_0 0x010
#endif
#ifndef EVENT_ENABLE_PROPERTY_PROCESS_START_KEY
#define EVENT_ENABLE_PROPERTY_PROCESS_START_KEY 0x080
#endif
#ifndef EVENT_ENABLE_PROPERTY_EVENT_KEY
#define EVENT_ENABLE_PROPERTY_EVENT_KEY 0x100
#endif
#ifndef EVENT_ENABLE_PROPERTY_EXCLUDE_INPRIVATE
#define EVENT_ENABLE_PROPERTY_EXCLUDE_INPRIVATE 0x200
#endif
#ifndef EVENT_TRACE_USE_MS_FLUSH_TIMER
#define EVENT_TRACE_USE_MS_FLUSH_TIMER 0x00000010
#endif
#ifndef ERROR_WMI_INSTANCE_NOT_FOUND
#define ERROR_WMI_INSTANCE_NOT_FOUND 4201L
#endif
/* EVENT_FILTER_EVENT_ID (evntprov.h, Windows 8.1 SDK) */
typedef struct etwl_event_filter_event_id {
    BOOLEAN FilterIn;
    UCHAR Reserved;
    USHORT Count;
    USHORT Events[1];
} etwl_event_filter_event_id;

#endif
