/* schemafile.h - the schemas of a recording's event types, in a file beside
 * it, so that the recording decodes where its providers are not installed.
 *
 * `etwlua record -o t.etl` writes t.etl.schemas: JSON lines, the first
 *   {"etwlua_schemas":1}
 * then one per event type, with the TRACE_EVENT_INFO that
 * TdhGetEventInformation gave for it, in base64:
 *   {"provider":"{GUID}","id":1,"version":0,"opcode":0,"meta_hash":"0x...","tei":"..."}
 * meta_hash is 0 except for TraceLogging events (see schema_cache.h). */
#ifndef ETWL_SCHEMAFILE_H
#define ETWL_SCHEMAFILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/schema_cache.h"

#define ETWL_SCHEMAFILE_HEADER "{\"etwlua_schemas\":1}"

/* One line (with its newline) for an event type. */
void etwl_schemafile_line(etwl_buf *b, const etwl_schema_key *k, const uint8_t *tei, size_t n);

/* Reads a schema file into c.  Lines that are malformed, or whose
 * TRACE_EVENT_INFO does not convert, are skipped: *bad counts them and
 * diag (when given) hears of each as "FILE:LINE". */
etwl_status etwl_schemafile_load(const char *path, etwl_schema_cache *c, uint32_t *loaded, uint32_t *bad,
                                 etwl_diag_cb diag, void *user, etwl_error *err);

#endif
