/* schema.h - the engine's own event schema.
 *
 * Laid out like TRACE_EVENT_INFO: the top-level properties come first
 * (0..ntop-1), struct members follow, each struct naming its first member
 * and member count.  ETW (TRACE_EVENT_INFO), tracefs formats and ETL
 * metadata all convert into this; the portable decoder reads only this. */
#ifndef ETWL_SCHEMA_H
#define ETWL_SCHEMA_H

#include <stdint.h>

#include "etwl.h"

/* TDH_IN_TYPE values (tdh.h) */
enum {
    ETWL_IN_NULL = 0,
    ETWL_IN_UNICODESTRING = 1,
    ETWL_IN_ANSISTRING = 2,
    ETWL_IN_INT8 = 3,
    ETWL_IN_UINT8 = 4,
    ETWL_IN_INT16 = 5,
    ETWL_IN_UINT16 = 6,
    ETWL_IN_INT32 = 7,
    ETWL_IN_UINT32 = 8,
    ETWL_IN_INT64 = 9,
    ETWL_IN_UINT64 = 10,
    ETWL_IN_FLOAT = 11,
    ETWL_IN_DOUBLE = 12,
    ETWL_IN_BOOLEAN = 13,
    ETWL_IN_BINARY = 14,
    ETWL_IN_GUID = 15,
    ETWL_IN_POINTER = 16,
    ETWL_IN_FILETIME = 17,
    ETWL_IN_SYSTEMTIME = 18,
    ETWL_IN_SID = 19,
    ETWL_IN_HEXINT32 = 20,
    ETWL_IN_HEXINT64 = 21,
    ETWL_IN_MANIFEST_COUNTEDSTRING = 22,
    ETWL_IN_MANIFEST_COUNTEDANSISTRING = 23,
    ETWL_IN_MANIFEST_COUNTEDBINARY = 25,
    ETWL_IN_COUNTEDSTRING = 300,
    ETWL_IN_COUNTEDANSISTRING = 301,
    ETWL_IN_REVERSEDCOUNTEDSTRING = 302,
    ETWL_IN_REVERSEDCOUNTEDANSISTRING = 303,
    ETWL_IN_NONNULLTERMINATEDSTRING = 304,
    ETWL_IN_NONNULLTERMINATEDANSISTRING = 305,
    ETWL_IN_UNICODECHAR = 306,
    ETWL_IN_ANSICHAR = 307,
    ETWL_IN_SIZET = 308,
    ETWL_IN_HEXDUMP = 309,
    ETWL_IN_WBEMSID = 310,
    /* not TDH: a tracefs __data_loc field, a u32 of offset (low 16 bits)
     * and length (high 16 bits) pointing into the record */
    ETWL_IN_DATALOC = 1000,
    /* not TDH: TraceLogging text as a UINT16 count of UTF-16 units, then
     * the units */
    ETWL_IN_COUNTEDCHARS16 = 1001
};

/* TDH_OUT_TYPE values that change how a value is presented */
enum {
    ETWL_OUT_NULL = 0,
    ETWL_OUT_STRING = 1,
    ETWL_OUT_BOOLEAN = 13,
    ETWL_OUT_HEXINT8 = 16,
    ETWL_OUT_HEXINT16 = 17,
    ETWL_OUT_HEXINT32 = 18,
    ETWL_OUT_HEXINT64 = 19,
    ETWL_OUT_PORT = 22,
    ETWL_OUT_IPV4 = 23,
    ETWL_OUT_IPV6 = 24,
    ETWL_OUT_HRESULT = 32,
    ETWL_OUT_UTF8 = 35
};

/* etwl_schema_prop.flags (after PROPERTY_FLAGS in tdh.h) */
#define ETWL_PROP_STRUCT 0x01       /* struct_start/struct_count are valid */
#define ETWL_PROP_LENGTH_REF 0x02   /* length names an earlier property */
#define ETWL_PROP_COUNT_REF 0x04    /* count names an earlier property */
#define ETWL_PROP_ARRAY 0x08        /* value is an array, even of count 1 */
#define ETWL_PROP_AT_OFFSET 0x10    /* at a fixed offset (tracefs formats) */
#define ETWL_PROP_DATALOC_REL 0x20  /* __rel_loc: offset counts from after the field */
#define ETWL_PROP_COUNT_INLINE 0x40 /* an array whose UINT16 count precedes it (TraceLogging) */

typedef struct etwl_schema_prop {
    const char *name;
    uint32_t name_len;
    uint16_t intype, outtype;
    uint16_t flags;
    uint16_t count;  /* fixed element count, or index of the count property */
    uint16_t length; /* fixed length (bytes, or chars for strings), or index */
    uint16_t struct_start, struct_count;
    uint32_t offset;      /* with ETWL_PROP_AT_OFFSET */
    const char *map_name; /* the value map the source names (ETW), or NULL */
} etwl_schema_prop;

typedef struct etwl_schema {
    etwl_guid provider_guid;
    const char *provider_name; /* may be NULL */
    const char *event_name;    /* task/event name, may be NULL */
    const char *task_name;     /* TRACE_EVENT_INFO's task and opcode names, may be NULL */
    const char *opcode_name;
    etwl_descriptor desc;
    uint32_t nprops;
    uint32_t ntop;
    etwl_schema_prop *props;
    /* open-addressed name index over the top-level properties:
     * slot holds property index + 1, 0 is empty */
    uint16_t *index;
    uint32_t index_mask;
    uint32_t max_array; /* decoder refuses larger counts */
    int fixed_offsets;  /* every top-level property has ETWL_PROP_AT_OFFSET */
} etwl_schema;

/* Builds a schema from TRACE_EVENT_INFO-shaped properties.  Checks every
 * reference and struct range, copies the names, and indexes them. */
etwl_status etwl_schema_new(const etwl_schema_prop *props, uint32_t nprops, uint32_t ntop, etwl_schema **out,
                            etwl_error *err);
void etwl_schema_free(etwl_schema *s);
/* Top-level lookup through the index; -1 when absent. */
int32_t etwl_schema_find(const etwl_schema *s, const char *name, size_t len);
/* Property lookup within a struct's members (linear; structs are small). */
int32_t etwl_schema_find_member(const etwl_schema *s, const etwl_schema_prop *st, const char *name, size_t len);
uint32_t etwl_hash(const char *s, size_t n);

/* ---- builder for tests, benchmarks and simple sources ---------------- */

typedef struct etwl_schema_builder etwl_schema_builder;

etwl_schema_builder *etwl_sb_new(void);
void etwl_sb_free(etwl_schema_builder *b);
/* Adds a property to the top level (parent = -1) or to a struct made with
 * etwl_sb_struct.  Returns a handle for the other calls, or -1. */
int etwl_sb_add(etwl_schema_builder *b, int parent, const char *name, uint16_t intype, uint16_t outtype);
int etwl_sb_struct(etwl_schema_builder *b, int parent, const char *name);
void etwl_sb_count(etwl_schema_builder *b, int h, uint16_t fixed);
/* The count/length comes from an earlier sibling, by name. */
void etwl_sb_count_ref(etwl_schema_builder *b, int h, const char *sibling);
void etwl_sb_length(etwl_schema_builder *b, int h, uint16_t fixed);
void etwl_sb_length_ref(etwl_schema_builder *b, int h, const char *sibling);
etwl_status etwl_sb_build(etwl_schema_builder *b, etwl_schema **out, etwl_error *err);

#endif
