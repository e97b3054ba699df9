/* esmanifest.h - schemas from the manifests EventSource providers log.
 *
 * A .NET EventSource (and any provider built on it) describes itself by
 * logging its manifest into the trace: ManifestData events (id 0xFFFE,
 * opcode 254) whose payload is a small header (format, version, magic 0x5B,
 * total chunks, chunk number) and a chunk of the manifest's XML.  Once the
 * chunks are together, each <event> of the manifest becomes a schema (task
 * and opcode names, template fields with their lengths, counts and maps) and
 * each value map a map, so the provider's other events decode as if TDH knew
 * the manifest. */
#ifndef ETWL_ESMANIFEST_H
#define ETWL_ESMANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/schema.h"
#include "core/valuemap.h"

#define ETWL_ESM_EVENT_ID 0xFFFE
#define ETWL_ESM_MAGIC 0x5B

/* Called for each schema (ownership passes) and each map (ownership
 * passes; name is valid during the call). */
typedef struct etwl_esm_sink {
    void (*schema)(etwl_schema *s, void *user);
    void (*map)(const char *name, etwl_valuemap *m, void *user);
    void *user;
} etwl_esm_sink;

/* Parses a whole manifest (UTF-8 XML, n bytes).  provider: the GUID of the
 * events that carried it, used when the manifest names none.  Malformed XML
 * or a manifest without a provider is ETWL_ESCHEMA with a message; events
 * that cannot be built are skipped and counted in *skipped. */
etwl_status etwl_esm_parse(const char *xml, size_t n, const etwl_guid *provider, const etwl_esm_sink *sink,
                           uint32_t *skipped, etwl_error *err);

/* The schema of the ManifestData events themselves (their header fields),
 * for a provider of that name (may be NULL). */
etwl_status etwl_esm_data_schema(const etwl_guid *provider, const char *provider_name, etwl_schema **out);

#endif
