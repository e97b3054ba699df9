/* tfschema.c - tracefs event formats as engine schemas.
 *
 * Fields keep the offsets of the format file, so the portable decoder reads
 * them directly and lazily, with the same bounds checks as ETW payloads.
 * The common_* fields are header material and are left out. */
#include <stdlib.h>
#include <string.h>

#include "sources/tracefs/tfs.h"

static uint16_t int_type(unsigned size, int is_signed)
{
    switch (size) {
    case 1: return is_signed ? ETWL_IN_INT8 : ETWL_IN_UINT8;
    case 2: return is_signed ? ETWL_IN_INT16 : ETWL_IN_UINT16;
    case 4: return is_signed ? ETWL_IN_INT32 : ETWL_IN_UINT32;
    case 8: return is_signed ? ETWL_IN_INT64 : ETWL_IN_UINT64;
    default: return ETWL_IN_BINARY;
    }
}

etwl_status etwl_tfs_schema(struct tep_event *e, etwl_schema **out, etwl_error *err)
{
    struct tep_format_field *f;
    etwl_schema_prop props[256];
    uint32_t n = 0;
    etwl_status st;
    for (f = e->format.fields; f && n < 256; f = f->next) {
        etwl_schema_prop *p = &props[n];
        memset(p, 0, sizeof *p);
        p->name = f->name;
        p->flags = ETWL_PROP_AT_OFFSET;
        p->offset = (uint32_t)f->offset;
        if (f->flags & TEP_FIELD_IS_DYNAMIC) {
            p->intype = ETWL_IN_DATALOC;
            /* char[] data is text; anything else stays bytes */
            p->outtype = (f->flags & TEP_FIELD_IS_STRING) || strstr(f->type, "char") ? ETWL_OUT_STRING : 0;
            if (f->flags & TEP_FIELD_IS_RELATIVE) p->flags |= ETWL_PROP_DATALOC_REL;
        } else if ((f->flags & TEP_FIELD_IS_ARRAY) && ((f->flags & TEP_FIELD_IS_STRING) || strstr(f->type, "char"))) {
            p->intype = ETWL_IN_ANSISTRING; /* char comm[16] */
            p->length = (uint16_t)f->size;
        } else if (f->flags & TEP_FIELD_IS_ARRAY) {
            unsigned es = f->elementsize ? (unsigned)f->elementsize : 1;
            p->intype = int_type(es, (f->flags & TEP_FIELD_IS_SIGNED) != 0);
            if (p->intype == ETWL_IN_BINARY) {
                p->length = (uint16_t)f->size;
            } else {
                p->flags |= ETWL_PROP_ARRAY;
                p->count = (uint16_t)(f->arraylen ? f->arraylen : (unsigned)f->size / es);
            }
        } else if (f->flags & TEP_FIELD_IS_POINTER) {
            p->intype = f->size == 4 ? ETWL_IN_HEXINT32 : ETWL_IN_HEXINT64;
        } else {
            p->intype = int_type((unsigned)f->size, (f->flags & TEP_FIELD_IS_SIGNED) != 0);
            if (p->intype == ETWL_IN_BINARY) p->length = (uint16_t)f->size;
        }
        n++;
    }
    st = etwl_schema_new(props, n, n, out, err);
    if (st == ETWL_OK) {
        size_t k = strlen(e->system), m = strlen(e->name);
        char *pn = malloc(k + 1), *en = malloc(m + 1);
        if (pn) memcpy(pn, e->system, k + 1);
        if (en) memcpy(en, e->name, m + 1);
        (*out)->provider_name = pn;
        (*out)->event_name = en;
        (*out)->desc.id = (uint16_t)e->id;
    }
    return st;
}
