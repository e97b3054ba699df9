/* fuzz_json.c - libFuzzer target: one JSON line through the reader, then
 * every property lookup, the JSON writer and the text writer.  Build and run
 * with tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/jsonl/json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static etwl_json_reader *r;
    static etwl_event ev;
    static etwl_buf out;
    char err[300];
    uint32_t i;
    if (!r) {
        r = etwl_json_reader_new();
        etwl_event_init(&ev);
        etwl_buf_init(&out);
    }
    etwl_event_begin(&ev);
    if (etwl_json_parse_event(r, (const char *)data, size, &ev, err, sizeof err) != ETWL_OK) return 0;
    for (i = 0; i < etwl_event_prop_count(&ev); i++) {
        uint32_t n;
        const char *name = etwl_event_prop_name(&ev, i, &n);
        etwl_event_prop_find(&ev, name, n);
        etwl_event_prop(&ev, i);
    }
    etwl_buf_reset(&out);
    etwl_event_write_json(&ev, &out);
    etwl_buf_reset(&out);
    etwl_event_write_text(&ev, &out);
    return 0;
}
