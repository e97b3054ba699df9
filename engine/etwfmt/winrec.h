/* winrec.h - an ETW EVENT_RECORD as an engine event (portable).
 *
 * The structs below mirror EVENT_RECORD and EVENT_HEADER_EXTENDED_DATA_ITEM
 * field for field (evntcons.h, x64 layout).  The Windows backend passes
 * its EVENT_RECORD* as an etwl_win_record* (it checks the layouts agree at
 * compile time); the tests build records by hand on any OS. */
#ifndef ETWL_WINREC_H
#define ETWL_WINREC_H

#include <stdint.h>

#include "core/event.h"
#include "core/schema_cache.h"

typedef struct etwl_win_header {
    uint16_t size, header_type, flags, event_property;
    uint32_t thread_id, process_id;
    int64_t timestamp;
    uint8_t provider_id[16];
    uint16_t id;
    uint8_t version, channel, level, opcode;
    uint16_t task;
    uint64_t keyword;
    union {
        struct {
            uint32_t kernel_time, user_time;
        } kt;
        uint64_t processor_time;
    } t;
    uint8_t activity_id[16];
} etwl_win_header;

typedef struct etwl_win_ext_item {
    uint16_t reserved1, ext_type, linkage, data_size;
    uint64_t data_ptr;
} etwl_win_ext_item;

typedef struct etwl_win_record {
    etwl_win_header header;
    uint16_t processor_index; /* ProcessorNumber + Alignment, or ProcessorIndex */
    uint16_t logger_id;
    uint16_t extended_data_count;
    uint16_t user_data_length;
    const etwl_win_ext_item *extended_data;
    const void *user_data;
    void *user_context;
} etwl_win_record;

/* EVENT_HEADER_EXT_TYPE_* */
enum {
    ETWL_EXT_TYPE_RELATED_ACTIVITYID = 1,
    ETWL_EXT_TYPE_SID = 2,
    ETWL_EXT_TYPE_TS_ID = 3,
    ETWL_EXT_TYPE_INSTANCE_INFO = 4,
    ETWL_EXT_TYPE_STACK_TRACE32 = 5,
    ETWL_EXT_TYPE_STACK_TRACE64 = 6,
    ETWL_EXT_TYPE_EVENT_KEY = 10,
    ETWL_EXT_TYPE_EVENT_SCHEMA_TL = 11,
    ETWL_EXT_TYPE_PROCESS_START_KEY = 13
};

/* Fills ev (already begun) from r: header, extended data, and the payload
 * with schema (NULL: header and raw payload only).  Malformed extended items
 * are skipped and counted in *bad_items. */
etwl_status etwl_win_record_to_event(const etwl_win_record *r, const etwl_schema *schema, etwl_event *ev,
                                     uint32_t *bad_items);

/* The cache key of r's event type.  TraceLogging events carry their metadata
 * in an EVENT_SCHEMA_TL item, whose bytes are hashed into the key. */
void etwl_win_record_schema_key(const etwl_win_record *r, etwl_schema_key *k);

#endif
