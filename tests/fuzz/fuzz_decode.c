/* fuzz_decode.c - libFuzzer target: the first bytes describe a schema
 * (in-types, counts, references, structs), the rest is the payload.  Every
 * property is decoded and written; nothing may read outside the payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/schema.h"

static const uint16_t intypes[] = {1,  2,  3,  4,  5,  6,  7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,  18,
                                   19, 20, 21, 22, 23, 25, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 1000};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    etwl_schema_prop props[8];
    etwl_schema *s = NULL;
    etwl_event ev;
    etwl_buf out;
    uint32_t n, i;
    if (size < 1) return 0;
    n = 1 + data[0] % 8;
    if (size < 1 + n * 6) return 0;
    memset(props, 0, sizeof props);
    for (i = 0; i < n; i++) {
        const uint8_t *d = data + 1 + i * 6;
        static const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
        props[i].name = names[i];
        props[i].intype = intypes[d[0] % (sizeof intypes / sizeof intypes[0])];
        props[i].outtype = d[1] % 40;
        props[i].flags = d[2] & 0x3F;
        props[i].count = d[3] % 16;
        props[i].length = d[4] % 64;
        props[i].struct_start = d[5] % 8;
        props[i].struct_count = 1 + d[5] / 32;
        props[i].offset = d[4];
    }
    if (etwl_schema_new(props, n, 1 + data[0] / 32 % n, &s, NULL) != ETWL_OK) return 0;
    data += 1 + n * 6;
    size -= 1 + n * 6;
    {
        uint8_t *payload = malloc(size ? size : 1); /* exact size: ASan sees overreads */
        memcpy(payload, data, size);
        etwl_event_init(&ev);
        etwl_event_begin(&ev);
        ev.hdr.flags = (size & 1) ? ETWL_HDR_FLAG_32_BIT_HEADER : 0;
        etwl_event_set_payload(&ev, s, payload, (uint32_t)size);
        for (i = s->ntop; i-- > 0;) etwl_event_prop(&ev, i); /* last first: offsets measured once */
        etwl_buf_init(&out);
        etwl_event_write_json(&ev, &out);
        etwl_buf_free(&out);
        etwl_event_release(&ev);
        free(payload);
    }
    etwl_schema_free(s);
    return 0;
}
