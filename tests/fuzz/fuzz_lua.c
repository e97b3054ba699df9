/* fuzz_lua.c - libFuzzer target: the Lua event API with the sandbox on.
 *
 * An input is a script, then a line "--events", then JSON lines (the
 * replay format); without that line the whole input is the script and it
 * runs over a few built-in events.  Each input gets a fresh host with a
 * small instruction budget and memory cap, as a hostile script would: the
 * script's own errors, budget stops and memory refusals are reported by the
 * host (to /dev/null here) and are not findings; a crash, a sanitizer
 * report, a leak or a hang is.  Build and run with tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/lua_host.h"
#include "sources/jsonl/json_read.h"

#ifndef FUZZ_LUA_DIR
#define FUZZ_LUA_DIR "lua"
#endif

#define MAX_SCRIPT 8192
#define MAX_EVENTS 64

static const char default_events[] =
    "{\"header\":{\"descriptor\":{\"id\":1,\"op_code\":1,\"task\":1},\"process_id\":4,\"thread_id\":8,\"ts\":\"2024-03-"
    "05T10:11:12Z\",\"provider_name\":\"Microsoft-Windows-Kernel-Process\",\"provider_guid\":\"{22FB2CD6-0E7B-422B-"
    "A0C7-2FAD1FD0E716}\"},\"info\":{\"ProcessID\":\"6520\",\"ParentProcessID\":\"4\",\"ImageName\":"
    "\"\\\\Device\\\\HarddiskVolume3\\\\Windows\\\\System32\\\\cmd.exe\",\"CommandLine\":\"cmd /c whoami\"}}\n"
    "{\"header\":{\"descriptor\":{\"id\":4104,\"level\":5},\"process_id\":6520,\"thread_id\":9,\"ts\":\"2024-03-05T10:"
    "11:13Z\",\"provider_name\":\"Microsoft-Windows-PowerShell\"},\"info\":{\"ScriptBlockText\":\"IEX (New-Object "
    "Net.WebClient)\",\"Path\":\"\"}}\n"
    "{\"header\":{\"descriptor\":{\"id\":2,\"op_code\":2,\"task\":2},\"process_id\":4,\"thread_id\":8,\"ts\":\"2024-03-"
    "05T10:11:14Z\",\"provider_name\":\"Microsoft-Windows-Kernel-Process\",\"provider_guid\":\"{22FB2CD6-0E7B-422B-"
    "A0C7-2FAD1FD0E716}\"},\"info\":{\"ProcessID\":\"6520\",\"ExitStatus\":\"0\"}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    static int verbose;
    static etwl_json_reader *r;
    static etwl_event ev;
    const char *text = (const char *)data, *events = default_events, *end;
    const char *mark = NULL;
    size_t slen = size, i;
    char *script, errbuf[300];
    etwl_lua_opts o;
    etwl_lua *x;
    etwl_error err;
    int n = 0;
    if (!null) {
        null = fopen("/dev/null", "w");
        r = etwl_json_reader_new();
        verbose = getenv("FUZZ_VERBOSE") != NULL; /* FUZZ_VERBOSE=1: see what a seed does */
        if (!null || !r || etwl_event_init(&ev) != ETWL_OK) abort();
    }
    for (i = 0; i + 8 <= size; i++)
        if (memcmp(text + i, "--events", 8) == 0 && (i == 0 || text[i - 1] == '\n')) {
            mark = text + i;
            break;
        }
    if (mark) {
        slen = (size_t)(mark - text);
        events = mark + 8;
        end = text + size;
    } else {
        end = default_events + sizeof default_events - 1;
    }
    if (slen > MAX_SCRIPT) return 0;
    script = malloc(slen + 1);
    if (!script) abort();
    memcpy(script, text, slen);
    script[slen] = 0; /* a NUL inside cuts the script short: still a script */

    memset(&o, 0, sizeof o);
    o.budget = 20000;
    o.memory_limit = 8u << 20;
    o.alert_out = verbose ? stdout : null;
    o.err_out = verbose ? stderr : null;
    o.lua_dir = FUZZ_LUA_DIR;
    o.handler_timeout_ms = 2000;
    memset(&err, 0, sizeof err);
    if (etwl_lua_new(&o, &x, &err) != ETWL_OK) abort(); /* a fresh host always starts */
    if (etwl_lua_load_string(x, script, "fuzz", &err) == ETWL_OK && etwl_lua_start(x) == ETWL_OK) {
        while (events < end && n < MAX_EVENTS) {
            const char *nl = memchr(events, '\n', (size_t)(end - events));
            size_t len = nl ? (size_t)(nl - events) : (size_t)(end - events);
            etwl_event_begin(&ev);
            if (len && etwl_json_parse_event(r, events, len, &ev, errbuf, sizeof errbuf) == ETWL_OK) {
                etwl_lua_dispatch(x, &ev);
                n++;
            }
            events += len + (nl != NULL);
        }
        etwl_lua_stop(x);
    }
    etwl_lua_free(x);
    free(script);
    return 0;
}
