/* tlmeta.h - TraceLogging (self-describing) event metadata as a schema.
 *
 * A TraceLogging event carries its own field list in an EVENT_SCHEMA_TL
 * extended item, and its provider's name in a PROV_TRAITS item.  Layout
 * (TraceLoggingProvider.h):
 *   metadata: UINT16 size, extension bytes (while 0x80 is set), the event
 *             name (UTF-8, NUL), then per field:
 *   field:    name (UTF-8, NUL), UINT8 in-type (low 5 bits; 0x20 variable
 *             count, 0x40 constant count, 0x60 custom; 0x80: an out-type
 *             byte follows, whose 0x80 means tag bytes follow), a UINT16
 *             count for constant-count arrays, a UINT16 size and bytes for
 *             custom types.  A struct's out-type (low 7 bits) is its number
 *             of member fields, which follow it.
 *   traits:   UINT16 size, the provider name (UTF-8, NUL), then traits. */
#ifndef ETWL_TLMETA_H
#define ETWL_TLMETA_H

#include <stddef.h>
#include <stdint.h>

#include "core/schema.h"

/* Converts the metadata (n bytes, untrusted) into a schema; traits may be
 * NULL.  The event name becomes schema->event_name. */
etwl_status etwl_tlmeta_to_schema(const uint8_t *meta, size_t n, const uint8_t *traits, size_t tn, etwl_schema **out,
                                  etwl_error *err);

#endif
