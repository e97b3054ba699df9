/* providers.c - provider names to GUIDs, and Win32 errors to statuses. */
#include <stdlib.h>
#include <string.h>

#include "etwfmt/tei.h"
#include "sources/etw/win.h"

/* One TdhEnumerateProviders answer per process: it lists every registered
 * provider (thousands), costs tens of milliseconds, and only changes when
 * software is installed. */
static uint8_t *prov_buf;
static ULONG prov_len;

void etwl_win_forget_providers(void)
{
    free(prov_buf);
    prov_buf = NULL;
    prov_len = 0;
}

static etwl_status load_providers(etwl_error *err)
{
    const etwl_etw_api *api = etwl_etw_api_get();
    ULONG size = 0, rc;
    int tries;
    if (prov_buf) return ETWL_OK;
    rc = api->TdhEnumerateProviders(NULL, &size);
    for (tries = 0; tries < 4 && rc == ERROR_INSUFFICIENT_BUFFER; tries++) {
        uint8_t *b = realloc(prov_buf, size);
        if (!b) return etwl_error_set(err, ETWL_ENOMEM, "out of memory listing providers");
        prov_buf = b;
        rc = api->TdhEnumerateProviders((PPROVIDER_ENUMERATION_INFO)prov_buf, &size);
    }
    if (rc != ERROR_SUCCESS) {
        etwl_win_forget_providers();
        return etwl_win_error(err, rc, "TdhEnumerateProviders", NULL);
    }
    prov_len = size;
    return ETWL_OK;
}

etwl_status etwl_win_provider_guid(const char *name, etwl_guid *out, etwl_error *err)
{
    etwl_status st = load_providers(err);
    if (st != ETWL_OK) return st;
    st = etwl_tei_find_provider(prov_buf, prov_len, name, out);
    if (st == ETWL_ENOTFOUND)
        return etwl_error_set(err, st,
                              "no ETW provider named '%s' is registered on this machine "
                              "('logman query providers' lists them; a GUID works too)",
                              name);
    if (st != ETWL_OK) return etwl_error_set(err, st, "TdhEnumerateProviders gave a malformed answer");
    return ETWL_OK;
}

int etwl_win_wide(const char *s, wchar_t *out, int n)
{
    int k = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, n);
    return k > 0 ? k : -1;
}

etwl_status etwl_win_error(etwl_error *err, ULONG code, const char *what, const char *name)
{
    const char *n = name ? name : "";
    const char *sep = name ? " " : "";
    switch (code) {
    case ERROR_ACCESS_DENIED:
        return etwl_error_set(err, ETWL_EACCES,
                              "%s%s%s: access denied; ETW sessions need Administrator rights "
                              "(or membership of Performance Log Users)",
                              what, sep, n);
    case ERROR_ALREADY_EXISTS:
        return etwl_error_set(err, ETWL_EEXIST, "%s: a session named '%s' already exists", what, n);
    case ERROR_WMI_INSTANCE_NOT_FOUND: return etwl_error_set(err, ETWL_ENOTFOUND, "no session named '%s'", n);
    case ERROR_NO_SYSTEM_RESOURCES:
        return etwl_error_set(err, ETWL_ELIMIT, "%s%s%s: the system has too many ETW sessions (at most 64)", what, sep,
                              n);
    case ERROR_NOT_FOUND: return etwl_error_set(err, ETWL_ENOTFOUND, "%s%s%s: not found", what, sep, n);
    default:
        return etwl_error_set(err, ETWL_EIO, "%s%s%s failed with Win32 error %lu", what, sep, n, (unsigned long)code);
    }
}
