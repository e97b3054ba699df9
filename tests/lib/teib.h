/* teib.h - builds TRACE_EVENT_INFO blobs laid out as TdhGetEventInformation
 * returns them: the fixed header, the EVENT_PROPERTY_INFO array, then the
 * UTF-16 names.  Shared by the portable tests and the Windows fake. */
#ifndef ETWL_TEIB_H
#define ETWL_TEIB_H

#include <stdint.h>

/* PROPERTY_FLAGS */
#define TEIB_STRUCT 0x1
#define TEIB_PARAM_LENGTH 0x2
#define TEIB_PARAM_COUNT 0x4
#define TEIB_FIXED_LENGTH 0x10
#define TEIB_FIXED_COUNT 0x20

typedef struct teib {
    uint8_t b[8192];
    uint32_t names; /* where the next name goes; the blob's size when done */
    uint32_t nprops;
} teib;

/* guid: 16 bytes in GUID memory order; NULL: Microsoft-Windows-Kernel-Process. */
void teib_init(teib *t, const uint8_t *guid, uint16_t id, uint8_t version, uint8_t opcode, const char *provider,
               const char *event, uint32_t nprops, uint32_t ntop);
/* Property i.  For structs a/b are StructStartIndex/NumOfStructMembers,
 * otherwise InType/OutType. */
void teib_prop(teib *t, uint32_t i, const char *name, uint32_t flags, uint16_t a, uint16_t b, uint16_t count,
               uint16_t length);
/* Names the value map of (non-struct) property i: MapNameOffset. */
void teib_prop_map(teib *t, uint32_t i, const char *map);
/* An EVENT_MAP_INFO blob into b (cap bytes): flags MAP_FLAGS, n entries
 * with their values and names.  Returns its size. */
uint32_t teib_map(uint8_t *b, uint32_t cap, const char *name, uint32_t flags, uint32_t n, const uint32_t *values,
                  const char *const *names);
void teib_w16(uint8_t *p, uint16_t v);
void teib_w32(uint8_t *p, uint32_t v);

#endif
