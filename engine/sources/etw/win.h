/* win.h - shared by the files of the Windows backend (engine/win/). */
#ifndef ETWL_WIN_WIN_H
#define ETWL_WIN_WIN_H

#include "sources/etw/etwapi.h"
#include "etwl.h"
#include "session/source.h"

extern const etwl_source_ops etwl_etw_ops;      /* live sessions */
extern const etwl_source_ops etwl_etw_file_ops; /* .etl files, through OpenTraceW */

/* Resolves a provider name through TdhEnumerateProviders, asked once per
 * process and cached. */
etwl_status etwl_win_provider_guid(const char *name, etwl_guid *out, etwl_error *err);
void etwl_win_forget_providers(void);

/* UTF-8 to UTF-16 into a fixed buffer of n wide chars; -1 when it does not fit. */
int etwl_win_wide(const char *s, wchar_t *out, int n);
/* A Win32 error as a status with a message naming what failed. */
etwl_status etwl_win_error(etwl_error *err, ULONG code, const char *what, const char *name);

#endif
