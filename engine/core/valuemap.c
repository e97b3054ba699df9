/* valuemap.c - see valuemap.h.  Layout (tdh.h): EVENT_MAP_INFO {NameOffset,
 * Flag, EntryCount, MapEntryValueType | FormatStringOffset, then
 * EVENT_MAP_ENTRY {OutputOffset, Value | InputOffset}[EntryCount]}. */
#include "core/valuemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/bytes.h"
#include "util/utf.h"

#define EMI_ENTRIES 16
#define EME_SIZE 8
/* MAP_FLAGS */
#define MAP_MANIFEST_VALUEMAP 0x1
#define MAP_MANIFEST_BITMAP 0x2
#define MAP_MANIFEST_PATTERNMAP 0x4
#define MAP_WBEM_VALUEMAP 0x8
#define MAP_WBEM_BITMAP 0x10
#define MAP_WBEM_FLAG 0x20
#define MAP_WBEM_NO_MAP 0x40
#define MAP_VALUETYPE_STRING 1

void etwl_valuemap_free(etwl_valuemap *m)
{
    uint32_t i;
    if (!m) return;
    for (i = 0; i < m->n; i++) free(m->e[i].name);
    free(m->e);
    free(m);
}

static char *name_at(const uint8_t *b, size_t n, uint32_t off)
{
    etwl_arena a;
    uint32_t len = 0, k;
    char *s, *out = NULL;
    if (off < EMI_ENTRIES || off >= n || n - off < 2) return NULL;
    for (k = off; k + 1 < n; k += 2)
        if (b[k] == 0 && b[k + 1] == 0) break;
    if (k + 1 >= n) return NULL;
    etwl_arena_init(&a, 0);
    s = etwl_utf16_to_utf8(&a, b + off, (k - off) / 2, &len);
    while (s && len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--; /* manifests pad map strings */
    if (s && (out = malloc(len + 1))) {
        memcpy(out, s, len);
        out[len] = 0;
    }
    etwl_arena_free(&a);
    return out;
}

etwl_status etwl_valuemap_from_emi(const uint8_t *b, size_t n, etwl_valuemap **out, etwl_error *err)
{
    uint32_t flag, count, i;
    etwl_valuemap *m;
    *out = NULL;
    if (n < EMI_ENTRIES) return etwl_error_set(err, ETWL_ESCHEMA, "EVENT_MAP_INFO of %zu bytes is too short", n);
    flag = etwl_le32(b + 4);
    count = etwl_le32(b + 8);
    if (flag & MAP_MANIFEST_PATTERNMAP || (!(flag & MAP_WBEM_NO_MAP) && etwl_le32(b + 12) == MAP_VALUETYPE_STRING))
        return etwl_error_set(err, ETWL_ENOTSUP, "pattern and string-keyed maps are not read");
    if (count > 65536 || (size_t)count * EME_SIZE > n - EMI_ENTRIES)
        return etwl_error_set(err, ETWL_ESCHEMA, "EVENT_MAP_INFO claims %u entries in %zu bytes", count, n);
    if (!(m = calloc(1, sizeof *m)) || !(m->e = calloc(count ? count : 1, sizeof *m->e))) {
        etwl_valuemap_free(m);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    m->bitmap = (flag & (MAP_MANIFEST_BITMAP | MAP_WBEM_BITMAP | MAP_WBEM_FLAG)) != 0;
    for (i = 0; i < count; i++) {
        const uint8_t *e = b + EMI_ENTRIES + (size_t)i * EME_SIZE;
        m->e[i].name = name_at(b, n, etwl_le32(e));
        if (!m->e[i].name) {
            etwl_valuemap_free(m);
            return etwl_error_set(err, ETWL_ESCHEMA, "map entry %u: name offset %u is outside the %zu-byte blob", i,
                                  etwl_le32(e), n);
        }
        m->n = i + 1;
        /* a MOF Values list without ValueMap: the index is the value */
        m->e[i].value = (flag & MAP_WBEM_NO_MAP) ? i : etwl_le32(e + 4);
    }
    *out = m;
    return ETWL_OK;
}

static size_t put(char *buf, size_t n, size_t at, const char *s)
{
    size_t k = strlen(s);
    if (at + k < n) memcpy(buf + at, s, k + 1);
    return at + k;
}

size_t etwl_valuemap_name(const etwl_valuemap *m, uint64_t v, char *buf, size_t n)
{
    size_t at = 0;
    uint64_t left = v;
    uint32_t i;
    if (n == 0) return 0;
    buf[0] = 0;
    if (!m->bitmap) {
        for (i = 0; i < m->n; i++)
            if (m->e[i].value == v) {
                at = put(buf, n, 0, m->e[i].name);
                return at < n ? at : 0;
            }
        return 0;
    }
    for (i = 0; i < m->n; i++) {
        uint32_t bits = m->e[i].value;
        if (bits == 0 ? v != 0 : (v & bits) != bits) continue;
        if (bits == 0 && at) continue;
        if (at) at = put(buf, n, at, "|");
        at = put(buf, n, at, m->e[i].name);
        left &= ~(uint64_t)bits;
    }
    if (left && at) {
        char hex[24];
        snprintf(hex, sizeof hex, "|0x%llx", (unsigned long long)left);
        at = put(buf, n, at, hex);
    }
    return at < n ? at : 0;
}
