/* kmof.h - built-in schemas for the NT kernel logger's MOF classes, keyed
 * by class GUID, event type (opcode) and version, for .etl files read where
 * no TDH is at hand.  Field layouts follow Microsoft's documentation of the
 * MSNT_SystemTrace classes; pointer-sized fields take the trace's size. */
#ifndef ETWL_KMOF_H
#define ETWL_KMOF_H

#include "core/schema.h"

/* ETWL_ENOTFOUND when the class, type or version is not built in. */
etwl_status etwl_kmof_schema(const etwl_guid *cls, uint8_t opcode, uint8_t version, unsigned ptrsize,
                             etwl_schema **out);

#endif
