/* tlmeta.c - see tlmeta.h.  TraceLogging in-types 1..23 and 25 are TDH's
 * own numbers; 13 (BOOL32), 14 (BINARY, a UINT16 byte count first) and 24
 * (STRUCT) differ, and out-types are renumbered.  A variable-count array of
 * 8- or 16-bit integers shown as STRING is text (AMSI writes script content
 * so). */
#include "etwfmt/tlmeta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLG_IN_TYPE_MASK 0x1f
#define TLG_IN_CCOUNT 0x20
#define TLG_IN_VCOUNT 0x40
#define TLG_IN_CUSTOM 0x60
#define TLG_IN_COUNT_MASK 0x60
#define TLG_CHAIN 0x80
#define TLG_IN_BOOL32 13
#define TLG_IN_BINARY 14
#define TLG_IN_POINTER_UNSUPPORTED 16
#define TLG_IN_STRUCT 24
#define TLG_IN_COUNTEDBINARY 25
#define MAX_FIELDS 512

typedef struct rd {
    const uint8_t *b;
    size_t n, at;
} rd;

static const char *cstr(rd *r)
{
    const uint8_t *z;
    const char *s;
    if (r->at >= r->n || !(z = memchr(r->b + r->at, 0, r->n - r->at))) return NULL;
    s = (const char *)r->b + r->at;
    r->at = (size_t)(z - r->b) + 1;
    return s;
}

static int byte(rd *r, uint8_t *v)
{
    if (r->at >= r->n) return 0;
    *v = r->b[r->at++];
    return 1;
}

static int u16(rd *r, uint16_t *v)
{
    if (r->n - r->at < 2 || r->at > r->n) return 0;
    *v = (uint16_t)(r->b[r->at] | r->b[r->at + 1] << 8);
    r->at += 2;
    return 1;
}

/* TraceLogging out-type to the TDH out-type the decoder knows, by in-type. */
static uint16_t out_type(uint8_t out, uint16_t in)
{
    switch (out) {
    case 3: return ETWL_OUT_BOOLEAN;
    case 4: /* HEX */
        switch (in) {
        case ETWL_IN_INT8:
        case ETWL_IN_UINT8: return ETWL_OUT_HEXINT8;
        case ETWL_IN_INT16:
        case ETWL_IN_UINT16: return ETWL_OUT_HEXINT16;
        case ETWL_IN_INT32:
        case ETWL_IN_UINT32: return ETWL_OUT_HEXINT32;
        default: return ETWL_OUT_HEXINT64;
        }
    case 7: return ETWL_OUT_PORT;
    case 8: return ETWL_OUT_IPV4;
    case 9: return ETWL_OUT_IPV6;
    case 15: return ETWL_OUT_HRESULT;
    case 35: return ETWL_OUT_UTF8;
    default: return ETWL_OUT_NULL;
    }
}

typedef struct field {
    etwl_schema_prop p;
    int parent;    /* index of the struct it belongs to, -1 at top level */
    int remaining; /* for structs: members still to read */
} field;

etwl_status etwl_tlmeta_to_schema(const uint8_t *meta, size_t n, const uint8_t *traits, size_t tn, etwl_schema **out,
                                  etwl_error *err)
{
    rd r = {meta, n, 0};
    uint16_t size = 0;
    uint8_t x;
    const char *ev_name, *prov = NULL;
    field *f = NULL;
    etwl_schema_prop *props = NULL;
    int nf = 0, i, open = -1, ntop = 0, *order = NULL, k;
    etwl_status st = ETWL_OK;
    *out = NULL;
    if (!u16(&r, &size) || size < 4 || size > n)
        return etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging metadata size %u in %zu bytes", size, n);
    r.n = size;
    do { /* extension bytes */
        if (!byte(&r, &x)) return etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging metadata ends in its header");
    } while (x & TLG_CHAIN);
    if (!(ev_name = cstr(&r))) return etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging event name is not terminated");
    f = calloc(MAX_FIELDS, sizeof *f);
    if (!f) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    while (r.at < r.n) {
        field *fd;
        uint8_t in, outb = 0;
        uint16_t count = 1;
        int ccount, vcount;
        const char *name = cstr(&r);
        if (!name || !byte(&r, &in)) {
            st = etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging field %d is cut short", nf);
            goto done;
        }
        if (in & TLG_CHAIN) {
            uint8_t tag;
            if (!byte(&r, &outb)) goto cut;
            if (outb & TLG_CHAIN) /* field tags: up to 4 bytes, chained */
                do {
                    if (!byte(&r, &tag)) goto cut;
                } while (tag & TLG_CHAIN);
        }
        ccount = (in & TLG_IN_COUNT_MASK) == TLG_IN_CCOUNT;
        vcount = (in & TLG_IN_COUNT_MASK) == TLG_IN_VCOUNT;
        if (ccount && !u16(&r, &count)) goto cut;
        if ((in & TLG_IN_COUNT_MASK) == TLG_IN_CUSTOM) {
            /* custom-serialized (Bond, protobuf...): the out byte names the
             * protocol and the metadata carries the serializer's schema,
             * which etwlua does not interpret; the payload holds the bytes
             * after a 16-bit length, delivered as binary */
            uint16_t schema_len;
            if (!u16(&r, &schema_len) || schema_len > r.n - r.at) goto cut;
            r.at += schema_len;
            in = TLG_IN_BINARY;
            outb = 0;
            ccount = vcount = 0;
        }
        if (nf == MAX_FIELDS) {
            st = etwl_error_set(err, ETWL_ESCHEMA, "more than %d TraceLogging fields", MAX_FIELDS);
            goto done;
        }
        fd = &f[nf];
        fd->p.name = name;
        fd->parent = open;
        in &= TLG_IN_TYPE_MASK;
        if (in == TLG_IN_STRUCT) {
            fd->p.flags = ETWL_PROP_STRUCT;
            fd->remaining = outb & 0x7f;
            if (fd->remaining == 0) {
                st = etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging struct '%s' has no fields", name);
                goto done;
            }
        } else if (in == 0 || in == TLG_IN_POINTER_UNSUPPORTED || in > TLG_IN_COUNTEDBINARY) {
            st = etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging field '%s': in-type %u", name, in);
            goto done;
        } else {
            fd->p.intype = in == TLG_IN_BOOL32   ? ETWL_IN_BOOLEAN
                           : in == TLG_IN_BINARY ? ETWL_IN_MANIFEST_COUNTEDBINARY
                                                 : in;
            fd->p.outtype = out_type(outb & 0x7f, fd->p.intype);
        }
        if (ccount) {
            fd->p.flags |= ETWL_PROP_ARRAY;
            fd->p.count = count;
        } else if (vcount && fd->p.outtype == ETWL_OUT_NULL && (outb & 0x7f) == 2 /* STRING */ &&
                   (fd->p.intype == ETWL_IN_UINT16 || fd->p.intype == ETWL_IN_INT16)) {
            fd->p.intype = ETWL_IN_COUNTEDCHARS16; /* UTF-16 text with its length in characters */
        } else if (vcount && (outb & 0x7f) == 2 && (fd->p.intype == ETWL_IN_UINT8 || fd->p.intype == ETWL_IN_INT8)) {
            fd->p.intype = ETWL_IN_MANIFEST_COUNTEDANSISTRING; /* 8-bit text, its length in bytes */
        } else if (vcount) {
            fd->p.flags |= ETWL_PROP_ARRAY | ETWL_PROP_COUNT_INLINE;
        }
        if (open >= 0) f[open].remaining--;
        nf++;
        if (in == TLG_IN_STRUCT) open = nf - 1;
        while (open >= 0 && f[open].remaining == 0) open = f[open].parent;
    }
    if (open >= 0) {
        st = etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging struct '%s' lacks members", f[open].p.name);
        goto done;
    }
    /* the schema wants top-level fields first, then each struct's members
     * together: renumber in that order */
    props = calloc(nf ? (size_t)nf : 1, sizeof *props);
    order = calloc(nf ? (size_t)nf : 1, sizeof *order);
    if (!props || !order) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < nf; i++)
        if (f[i].parent < 0) order[ntop++] = i;
    k = ntop;
    for (i = 0; i < k; i++) { /* breadth first: members of each struct in turn */
        int j, first = k;
        if (!(f[order[i]].p.flags & ETWL_PROP_STRUCT)) continue;
        for (j = 0; j < nf; j++)
            if (f[j].parent == order[i]) order[k++] = j;
        f[order[i]].p.struct_start = (uint16_t)first;
        f[order[i]].p.struct_count = (uint16_t)(k - first);
    }
    for (i = 0; i < nf; i++) props[i] = f[order[i]].p;
    st = etwl_schema_new(props, (uint32_t)nf, (uint32_t)ntop, out, err);
    if (st == ETWL_OK) {
        if (traits && tn >= 3) {
            rd t = {traits, tn, 2};
            uint16_t ts = (uint16_t)(traits[0] | traits[1] << 8);
            if (ts <= tn) t.n = ts;
            prov = cstr(&t);
        }
        (*out)->event_name = strdup(ev_name);
        if (prov) (*out)->provider_name = strdup(prov);
    }
    goto done;
cut:
    st = etwl_error_set(err, ETWL_ESCHEMA, "TraceLogging field %d is cut short", nf);
done:
    free(f);
    free(props);
    free(order);
    return st;
}
