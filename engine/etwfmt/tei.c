/* tei.c - TRACE_EVENT_INFO (TdhGetEventInformation's answer) as a schema.
 *
 * Portable, byte-level C over the documented layout (tdh.h), so the Windows
 * backend, schema files written by `etwlua record`, and the tests on Linux
 * all use the same code.  The blob is treated as untrusted: every offset,
 * index and count is checked against its size. */
#include "etwfmt/tei.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/arena.h"
#include "util/bytes.h"
#include "core/format.h"
#include "util/utf.h"

/* TRACE_EVENT_INFO field offsets (x86 and x64 alike: no pointers) */
#define TEI_PROVIDER_GUID 0
#define TEI_DESCRIPTOR 32
#define TEI_PROVIDER_NAME_OFF 52
#define TEI_TASK_NAME_OFF 68
#define TEI_OPCODE_NAME_OFF 72
#define TEI_EVENT_NAME_OFF 92
#define TEI_PROPERTY_COUNT 100
#define TEI_TOP_LEVEL_COUNT 104
#define TEI_PROPERTIES 112
#define EPI_SIZE 24

/* PROPERTY_FLAGS */
#define PF_STRUCT 0x1
#define PF_PARAM_LENGTH 0x2
#define PF_PARAM_COUNT 0x4
#define PF_PARAM_FIXED_LENGTH 0x10
#define PF_PARAM_FIXED_COUNT 0x20

/* A NUL-terminated UTF-16 string at off, as UTF-8 (malloc'd); NULL when the
 * offset is 0 (absent).  *bad is set when it runs off the blob. */
static char *wstr_at(const uint8_t *b, size_t n, uint32_t off, int *bad)
{
    etwl_arena a;
    uint32_t len = 0, k;
    char *s, *out;
    if (off == 0) return NULL;
    if (off >= n || (n - off) < 2) {
        *bad = 1;
        return NULL;
    }
    for (k = off; k + 1 < n; k += 2)
        if (b[k] == 0 && b[k + 1] == 0) break;
    if (k + 1 >= n) {
        *bad = 1;
        return NULL;
    }
    etwl_arena_init(&a, 0);
    s = etwl_utf16_to_utf8(&a, b + off, (k - off) / 2, &len);
    out = s ? malloc(len + 1) : NULL;
    if (out) memcpy(out, s, len + 1);
    etwl_arena_free(&a);
    if (!out) *bad = 1;
    return out;
}

etwl_status etwl_tei_to_schema(const uint8_t *b, size_t n, etwl_schema **out, etwl_error *err)
{
    uint32_t count, top, i;
    etwl_schema_prop *props = NULL;
    char **names = NULL, **maps = NULL;
    etwl_status st = ETWL_OK;
    int bad = 0, ignore_map = 0;
    *out = NULL;
    if (n < TEI_PROPERTIES) return etwl_error_set(err, ETWL_ESCHEMA, "TRACE_EVENT_INFO of %zu bytes is too short", n);
    count = etwl_le32(b + TEI_PROPERTY_COUNT);
    top = etwl_le32(b + TEI_TOP_LEVEL_COUNT);
    if (count > 4096 || top > count || (size_t)count * EPI_SIZE > n - TEI_PROPERTIES)
        return etwl_error_set(err, ETWL_ESCHEMA, "TRACE_EVENT_INFO claims %u properties (%u top level) in %zu bytes",
                              count, top, n);
    props = calloc(count ? count : 1, sizeof *props);
    names = calloc(count ? count : 1, sizeof *names);
    maps = calloc(count ? count : 1, sizeof *maps);
    if (!props || !names || !maps) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < count; i++) {
        const uint8_t *e = b + TEI_PROPERTIES + (size_t)i * EPI_SIZE;
        uint32_t flags = etwl_le32(e);
        etwl_schema_prop *p = &props[i];
        uint16_t cnt = etwl_le16(e + 16), len = etwl_le16(e + 18);
        names[i] = wstr_at(b, n, etwl_le32(e + 4), &bad);
        if (bad || !names[i]) {
            st = etwl_error_set(err, ETWL_ESCHEMA, "property %u: name offset %u is outside the %zu-byte blob", i,
                                etwl_le32(e + 4), n);
            goto done;
        }
        p->name = names[i];
        if (flags & PF_STRUCT) {
            p->flags |= ETWL_PROP_STRUCT;
            p->struct_start = etwl_le16(e + 8);
            p->struct_count = etwl_le16(e + 10);
        } else {
            p->intype = etwl_le16(e + 8);
            p->outtype = etwl_le16(e + 10);
            /* MapNameOffset: a map that cannot be read is only a missing name */
            maps[i] = wstr_at(b, n, etwl_le32(e + 12), &ignore_map);
            p->map_name = maps[i];
        }
        if (flags & PF_PARAM_COUNT) {
            p->flags |= ETWL_PROP_ARRAY | ETWL_PROP_COUNT_REF;
            p->count = cnt;
        } else if (cnt > 1 || (flags & PF_PARAM_FIXED_COUNT)) {
            p->flags |= ETWL_PROP_ARRAY; /* a fixed count, an array even when it is 1 */
            p->count = cnt;
        }
        if (flags & PF_PARAM_LENGTH) {
            p->flags |= ETWL_PROP_LENGTH_REF;
            p->length = len;
        } else {
            p->length = len; /* 0: not given */
        }
    }
    /* references, struct ranges and nesting are checked by etwl_schema_new */
    st = etwl_schema_new(props, count, top, out, err);
    if (st == ETWL_OK) {
        etwl_schema *s = *out;
        const uint8_t *d = b + TEI_DESCRIPTOR;
        int ignore = 0;
        etwl_guid_from_bytes(b + TEI_PROVIDER_GUID, &s->provider_guid);
        s->desc.id = etwl_le16(d);
        s->desc.version = d[2];
        s->desc.channel = d[3];
        s->desc.level = d[4];
        s->desc.opcode = d[5];
        s->desc.task = etwl_le16(d + 6);
        s->desc.keyword = (uint64_t)etwl_le32(d + 8) | (uint64_t)etwl_le32(d + 12) << 32;
        s->provider_name = wstr_at(b, n, etwl_le32(b + TEI_PROVIDER_NAME_OFF), &ignore);
        /* the event's name: EventName (TraceLogging), else the task name */
        s->event_name = wstr_at(b, n, etwl_le32(b + TEI_EVENT_NAME_OFF), &ignore);
        if (!s->event_name) s->event_name = wstr_at(b, n, etwl_le32(b + TEI_TASK_NAME_OFF), &ignore);
        s->task_name = wstr_at(b, n, etwl_le32(b + TEI_TASK_NAME_OFF), &ignore);
        s->opcode_name = wstr_at(b, n, etwl_le32(b + TEI_OPCODE_NAME_OFF), &ignore);
    }
done:
    for (i = 0; names && i < count; i++) free(names[i]);
    for (i = 0; maps && i < count; i++) free(maps[i]);
    free(names);
    free(maps);
    free(props);
    return st;
}

/* PROVIDER_ENUMERATION_INFO: NumberOfProviders, Reserved, then
 * TRACE_PROVIDER_INFO {ProviderGuid, SchemaSource, ProviderNameOffset}. */
#define PEI_ARRAY 8
#define TPI_SIZE 24

etwl_status etwl_tei_find_provider(const uint8_t *b, size_t n, const char *name, etwl_guid *out)
{
    uint32_t count, i;
    size_t want = strlen(name);
    if (n < PEI_ARRAY) return ETWL_ESCHEMA;
    count = etwl_le32(b);
    if ((size_t)count > (n - PEI_ARRAY) / TPI_SIZE) return ETWL_ESCHEMA;
    for (i = 0; i < count; i++) {
        const uint8_t *e = b + PEI_ARRAY + (size_t)i * TPI_SIZE;
        int bad = 0, same;
        char *s = wstr_at(b, n, etwl_le32(e + 20), &bad);
        if (!s) {
            if (bad) return ETWL_ESCHEMA;
            continue;
        }
        same = strlen(s) == want && strncasecmp(s, name, want) == 0;
        free(s);
        if (same) {
            etwl_guid_from_bytes(e, out);
            return ETWL_OK;
        }
    }
    return ETWL_ENOTFOUND;
}
