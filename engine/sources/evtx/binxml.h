/* binxml.h - Windows binary XML (BinXml, [MS-EVEN6] 3.1.4.1) as EVTX
 * chunks hold it: tokens, names, template instances and their typed
 * substitution values, walked as a stream of element events.
 *
 * Everything is addressed by its offset in one 64 KB chunk, because names
 * and template definitions are shared across the records of a chunk by
 * offset.  The walk produces what an XML parser would report for the text
 * libevtx renders (start with attributes, text, end), including libevtx's
 * indentation, so a consumer written against that XML sees the same thing
 * without any XML being written or parsed. */
#ifndef ETWL_EVTX_BINXML_H
#define ETWL_EVTX_BINXML_H

#include <stddef.h>
#include <stdint.h>

/* A growable text buffer; oom is set once an append failed. */
typedef struct bx_buf {
    char *p;
    size_t len, cap;
    int oom;
} bx_buf;

void bx_buf_free(bx_buf *b);
void bx_put(bx_buf *b, const void *s, size_t n);

/* Substitution value types ([MS-EVEN6] 2.2.x, "BinXmlValueType") */
enum {
    BX_NULL = 0x00,
    BX_STRING = 0x01,
    BX_ANSI = 0x02,
    BX_INT8 = 0x03,
    BX_UINT8 = 0x04,
    BX_INT16 = 0x05,
    BX_UINT16 = 0x06,
    BX_INT32 = 0x07,
    BX_UINT32 = 0x08,
    BX_INT64 = 0x09,
    BX_UINT64 = 0x0a,
    BX_REAL32 = 0x0b,
    BX_REAL64 = 0x0c,
    BX_BOOL = 0x0d,
    BX_BINARY = 0x0e,
    BX_GUID = 0x0f,
    BX_SIZET = 0x10,
    BX_FILETIME = 0x11,
    BX_SYSTEMTIME = 0x12,
    BX_SID = 0x13,
    BX_HEX32 = 0x14,
    BX_HEX64 = 0x15,
    BX_EVTHANDLE = 0x20,
    BX_BINXML = 0x21,
    BX_EVTXML = 0x23,
    BX_ARRAY = 0x80,
};

/* Appends value `type` (data, n bytes) as libevtx writes it in its XML
 * (before escaping).  Returns 0, or -1 when the type is unknown (nothing
 * is appended) - BinXml values are not rendered here. */
int bx_render_value(bx_buf *out, uint8_t type, const uint8_t *data, size_t n);

/* UTF-16LE (n code units) to UTF-8, stopping at the first NUL; unpaired
 * surrogates become U+FFFD. */
void bx_utf16_put(bx_buf *out, const uint8_t *s, size_t units);

/* Limits: nothing in a hostile chunk may recurse or allocate without bound. */
#define BX_MAX_DEPTH 64  /* nested elements and template instances */
#define BX_MAX_SUBS 4096 /* substitution values of one template instance */
#define BX_MAX_ATTRS 64  /* attributes of one element */
/* Work per record: a template may use a BinXml value that instantiates a
 * template again, so a small record could otherwise expand exponentially. */
#define BX_MAX_TOKENS 100000
#define BX_MAX_OUTPUT (16u << 20) /* bytes of text reported per record */

typedef struct bx_attr {
    const char *name, *value;
    size_t value_len;
    /* where the value came from, for compiling templates: the chunk
     * offset of the substitution value (>= 0) when it is exactly one scalar
     * value, BX_FROM_TEMPLATE when it is the template's own text,
     * BX_FROM_MIXED otherwise */
    int from;
} bx_attr;

#define BX_FROM_TEMPLATE (-2)
#define BX_FROM_MIXED (-1)

/* What a walk reports, as an XML parser would for libevtx's XML text. */
typedef struct bx_sink {
    void *ud;
    void (*start)(void *ud, const char *name, const bx_attr *a, int na);
    void (*text)(void *ud, const char *s, size_t n);
    void (*end)(void *ud);
    /* Optional: content that is one substitution value (not an array or
     * BinXml), passed undecoded so it can be decoded only if read; without
     * it, the value comes as text.  The bytes are valid as long as the chunk. */
    void (*value)(void *ud, uint8_t type, const uint8_t *data, uint32_t n);
} bx_sink;

/* A record's event data in its usual form: a fragment header, one template
 * instance and the end of the stream (bx_instance_head). */
typedef struct bx_instance {
    uint32_t def;    /* the template definition's offset (its cache key) */
    uint32_t n;      /* substitution values */
    uint32_t descs;  /* offset of the n (size u16, type u8, 0) descriptors */
    uint32_t values; /* offset of the first value */
    uint32_t end;    /* of the data it was found in */
} bx_instance;

/* 0 when bx_render_value would render this value, else -1: checked while
 * walking, so a value decoded later cannot fail. */
int bx_value_ok(uint8_t type, const uint8_t *data, size_t n);

/* The value as text, as the walk would report it (line ends normalised). */
int bx_render_text(bx_buf *out, uint8_t type, const uint8_t *data, size_t n);

/* The same for a BX_STRING value of n bytes, into out, which has room for
 * 3 * (n / 2) + 1 bytes; its length (out is NUL-terminated). */
size_t bx_string_text(char *out, const uint8_t *data, size_t n);

/* One chunk being walked, with its name cache. */
typedef struct bx_chunk {
    const uint8_t *data;
    uint32_t len;
    /* names converted once per chunk: offset -> UTF-8 in names */
    struct {
        uint32_t off, at, len;
    } cache[512];
    bx_buf names;
    bx_buf scratch;  /* element text being assembled */
    bx_buf attrbuf;  /* attribute values of the element being opened */
    bx_buf nameconv; /* an uncached name */
    char err[160];   /* why a walk failed */
    /* set by a walk: 1 when the text being reported (sink->text) holds
     * substitution values */
    int text_from_values;
    /* set by a walk: it rendered a substitution value as part of mixed
     * text or an array, so its events depend on more than the templates
     * and the types and presence of the values */
    int data_shaped;
    /* set by a walk while it reports an item of a string array (element
     * start, text, end): the array value's chunk offset and the item's
     * ordinal, so a plan can take the item from a later record's array of
     * as many items (bx_str_item) instead of walking it */
    int in_item;
    uint32_t item_array, item_index;
} bx_chunk;

/* A string array value (d, n bytes) holds NUL-terminated UTF-16 items:
 * the one at byte i ends at the returned offset (its NUL, or the value's
 * end); the next starts 2 bytes after that.  One definition, for the walk
 * and for plans. */
size_t bx_str_item_end(const uint8_t *d, size_t n, size_t i);

/* The instance at off (its data ending at end): 0 and *in filled, else -1
 * (then the record is only walked).  The values' sizes are not added up
 * here: the caller, which reads every descriptor anyway, passes where the
 * values end to bx_instance_fits() - 0, or -1 when the instance does not
 * hold together - before it reads any value. */
int bx_instance_head(const bx_chunk *c, uint32_t off, uint32_t end, bx_instance *in);
int bx_instance_fits(const bx_chunk *c, const bx_instance *in, uint32_t values_end);
void bx_chunk_reset(bx_chunk *c, const uint8_t *data, uint32_t len);
void bx_chunk_free(bx_chunk *c);

/* Walks the BinXml fragment at chunk offset [off, end) (a record's event
 * data), reporting to sink.  Returns 0, or -1 with c->err set. */
int bx_walk(bx_chunk *c, uint32_t off, uint32_t end, const bx_sink *sink);

#endif
