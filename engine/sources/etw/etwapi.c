/* etwapi.c - the real ETW/TDH table, and the switch tests use. */
#include "sources/etw/etwapi.h"

#include "sources/etw/win.h"

static const etwl_etw_api real_api = {
    StartTraceW,
    ControlTraceW,
    EnableTraceEx2,
    OpenTraceW,
    ProcessTrace,
    CloseTrace,
    TdhGetEventInformation,
    TdhEnumerateProviders,
    TdhGetEventMapInformation,
};

static const etwl_etw_api *current = &real_api;

const etwl_etw_api *etwl_etw_api_get(void) { return current; }

void etwl_etw_api_set(const etwl_etw_api *api)
{
    current = api ? api : &real_api;
    etwl_win_forget_providers();
}
