/* tei.h - TDH's answers (TRACE_EVENT_INFO, PROVIDER_ENUMERATION_INFO) read
 * as engine data (portable). */
#ifndef ETWL_TEI_H
#define ETWL_TEI_H

#include <stddef.h>
#include <stdint.h>

#include "core/schema.h"

/* Converts a TRACE_EVENT_INFO buffer of n bytes.  Offsets, counts, struct
 * ranges and count/length references are all checked; a hostile blob gives
 * ETWL_ESCHEMA with the reason, never a read outside it. */
etwl_status etwl_tei_to_schema(const uint8_t *tei, size_t n, etwl_schema **out, etwl_error *err);

/* Looks a provider up by name (ASCII case-insensitive) in a
 * PROVIDER_ENUMERATION_INFO buffer of n bytes (TdhEnumerateProviders).
 * ETWL_ENOTFOUND when absent, ETWL_ESCHEMA when the buffer is malformed. */
etwl_status etwl_tei_find_provider(const uint8_t *pei, size_t n, const char *name, etwl_guid *out);

#endif
