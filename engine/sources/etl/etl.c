/* etl.c - .etl files read natively, on any OS (the "etl" backend).
 *
 * An ETL file is a sequence of buffers, each a WMI_BUFFER_HEADER (72 bytes)
 * and events packed at 8-byte alignment up to its SavedOffset.  Each event
 * starts with a header whose third byte names its kind:
 *   SYSTEM32/64 (1, 2) and COMPACT32/64 (3, 4): kernel events, hook id =
 *     group << 8 | opcode, with thread, process and time (and CPU times)
 *   PERFINFO32/64 (16, 17): kernel events with only a hook id and time
 *   FULL_HEADER32/64 (10, 20): classic EVENT_TRACE_HEADER (MOF providers)
 *   EVENT_HEADER32/64 (18, 19): EVENT_HEADER, then extended data items
 *     (linked by their Linkage bit), then the payload
 * The first event is the logfile header (hook 0): pointer size, clock type,
 * QPC frequency and start time, from which every timestamp becomes UTC.
 *
 * Schemas: TraceLogging events describe themselves (tlmeta.c); the kernel
 * logfile header has one built in; manifest events take theirs from a
 * --schemas file (schemafile.c).  Others arrive with header and raw payload.
 *
 * The file is untrusted: a buffer or event that does not fit is reported
 * with its offset and skipped; nothing is read outside what was read in. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/bytes.h"
#include "core/event.h"
#include "core/format.h"
#include "util/grow.h"
#include "util/instream.h"
#include "etwfmt/kclass.h"
#include "etwfmt/kmof.h"
#include "sources/etl/esmanifest.h"
#include "sources/etl/etlstack.h"
#include "sources/etl/lz77.h"
#include "core/schema_cache.h"
#include "etwfmt/schemafile.h"
#include "session/source.h"
#include "etwfmt/tei.h"
#include "etwfmt/tlmeta.h"
#include "util/utf.h"
#include "core/valuemap.h"
#include "etwfmt/winrec.h"

#define BUF_HEADER 0x48
#define MIN_BUFFER 128u /* relogged files start with a 512-byte header buffer */
#define MAX_BUFFER (64u << 20)
#define MAX_DIAGS 50
#define MAX_WINDOW 512 /* buffers kept for the merge */
/* and the memory they may take: 512 buffers of 64 MiB would be 32 GiB */
#define WINDOW_BYTES (256ull << 20)
#define MAX_PROCS 1024 /* processors whose buffers the merge waits for */

/* WMI_BUFFER_HEADER */
#define BH_SIZE 0x00
#define BH_SAVED 0x04
#define BH_CURRENT 0x08
#define BH_PROCESSOR 0x28 /* ETW_BUFFER_CONTEXT: ProcessorNumber, Alignment, LoggerId */
#define BH_FLAG 0x34
#define BUFFER_FLAG_PROC_INDEX 0x20
#define BUFFER_FLAG_COMPRESSED 0x40

/* trace header kinds (the third byte of every event) */
enum {
    TH_SYSTEM32 = 1,
    TH_SYSTEM64 = 2,
    TH_COMPACT32 = 3,
    TH_COMPACT64 = 4,
    TH_FULL32 = 10,
    TH_INSTANCE32 = 11,
    TH_ERROR = 13,
    TH_WNODE = 14,
    TH_MESSAGE = 15,
    TH_PERFINFO32 = 16,
    TH_PERFINFO64 = 17,
    TH_EVENT32 = 18,
    TH_EVENT64 = 19,
    TH_FULL64 = 20,
    TH_INSTANCE64 = 21
};
#define TRACE_HEADER_FLAG 0x80

/* TraceMessage's MessageFlags */
enum { MSG_SEQUENCE = 1, MSG_GUID = 2, MSG_COMPONENTID = 4, MSG_TIMESTAMP = 8, MSG_SYSTEMINFO = 32 };

/* TRACE_LOGFILE_HEADER: its TIME_ZONE_INFORMATION (172 bytes) follows two
 * pointers, and the 8-byte fields after it are aligned */
#define LFH_TZ(ptr) (56u + 2u * (ptr))
#define LFH_AFTER_TZ(ptr) ((LFH_TZ(ptr) + 172u + 7u) & ~7u)

/* clock types of TRACE_LOGFILE_HEADER.ReservedFlags */
enum { CLOCK_QPC = 1, CLOCK_SYSTEM = 2, CLOCK_CYCLES = 3 };

typedef struct wbuf {
    uint8_t *data;
    uint32_t cap, end, pos, size; /* size: of the event at pos */
    uint16_t proc;
    uint64_t off;    /* of the buffer in the stream */
    int64_t next_ts; /* raw time of the event at pos */
    int live;
} wbuf;

typedef struct etl_src {
    etwl_source base;
    const etwl_config *cfg;
    etwl_instream *in;
    wbuf win[MAX_WINDOW];                   /* loaded buffers, merged by time; [nwin..] keep memory */
    int nwin, eof, first_done, window_full; /* window_full: said once */
    /* processors with buffers in the file so far, and a stamp per pass of
     * the merge of those that have one loaded */
    uint8_t seen[MAX_PROCS];
    uint32_t present[MAX_PROCS], stamp, nseen; /* nseen: highest seen + 1 */
    uint8_t *zin;                              /* a compressed buffer as read */
    uint32_t zcap;
    uint64_t file_off; /* where the next buffer starts in the (uncompressed) stream */
    etwl_event ev;
    etwl_schema_cache *schemas;  /* TraceLogging, by metadata */
    etwl_schema_cache *recorded; /* --schemas */
    etwl_schema_cache *embedded; /* TRACE_EVENT_INFO carried in the trace itself */
    struct etl_map {             /* EVENT_MAP_INFO carried in the trace, by provider and name */
        etwl_guid provider;
        char *name;
        etwl_valuemap *map;
    } * maps;
    uint32_t nmaps, capmaps;
    /* EventSource manifests being put together from their chunks */
    struct etl_esm {
        etwl_guid provider;
        uint16_t total, got;
        etwl_buf xml;
        int done;
    } * esm;
    uint32_t nesm;
    etwl_guid esm_provider;     /* of the manifest being read */
    char esm_name[256];         /* its provider's name, from its schemas */
    etwl_schema *header_schema; /* the logfile header */
    /* from the logfile header */
    int have_header;
    unsigned nproc;
    uint32_t clock;
    int64_t perf_freq, start_time, raw0, cpu_mhz;
    uint64_t diags;
    /* kernel layouts by hook, version and pointer size, ahead of the
     * schema cache's hashed lookup (kernel traces are mostly these) */
    struct {
        uint32_t tag;
        const etwl_schema *sc;
    } kmemo[512];
    uint32_t kmemo_resets;
    /* stack records away from their event (deferred user stacks, cached
     * stacks), from a first pass made when the trace has stacks */
    etwl_stackidx *stacks;
    int stacks_checked;
} etl_src;

static void diag(etl_src *s, uint64_t off, const char *msg)
{
    char where[1100];
    if (s->diags++ >= MAX_DIAGS || !s->base.diag) return;
    snprintf(where, sizeof where, "%s: offset %llu", etwl_instream_name(s->in), (unsigned long long)off);
    s->base.diag(where, msg, s->base.diag_user);
}

static void etl_destroy(etwl_source *base)
{
    etl_src *s = (etl_src *)base;
    if (!s) return;
    etwl_instream_close(s->in);
    for (int i = 0; i < MAX_WINDOW; i++) free(s->win[i].data);
    free(s->zin);
    etwl_event_release(&s->ev);
    etwl_schema_cache_free(s->schemas);
    etwl_schema_cache_free(s->recorded);
    etwl_schema_cache_free(s->embedded);
    etwl_schema_free(s->header_schema);
    etwl_stackidx_free(s->stacks);
    for (uint32_t i = 0; i < s->nmaps; i++) {
        free(s->maps[i].name);
        etwl_valuemap_free(s->maps[i].map);
    }
    free(s->maps);
    for (uint32_t i = 0; i < s->nesm; i++) etwl_buf_free(&s->esm[i].xml);
    free(s->esm);
    free(s);
}

static void etl_close(etwl_source *base) { ((etl_src *)base)->base.closing = 1; }

/* TRACE_LOGFILE_HEADER, as the kernel's EventTrace_Header MOF class names
 * its fields; the two pointers are meaningless in a file, the strings that
 * follow the struct are the names. */
static etwl_status build_header_schema(etl_src *s, unsigned ptr, etwl_error *err)
{
    etwl_schema_builder *b = etwl_sb_new();
    static const char *u32a[] = {"BufferSize", "Version", "ProviderVersion", "NumberOfProcessors"};
    static const char *u32b[] = {"TimerResolution", "MaxFileSize", "LogFileMode", "BuffersWritten",
                                 "StartBuffers",    "PointerSize", "EventsLost",  "CPUSpeed"};
    size_t i;
    int h;
    etwl_status st;
    if (!b) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    for (i = 0; i < 4; i++) etwl_sb_add(b, -1, u32a[i], ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "EndTime", ETWL_IN_FILETIME, 0);
    for (i = 0; i < 8; i++) etwl_sb_add(b, -1, u32b[i], ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "LoggerNamePointer", ptr == 4 ? ETWL_IN_HEXINT32 : ETWL_IN_HEXINT64, 0);
    etwl_sb_add(b, -1, "LogFileNamePointer", ptr == 4 ? ETWL_IN_HEXINT32 : ETWL_IN_HEXINT64, 0);
    h = etwl_sb_add(b, -1, "TimeZoneInformation", ETWL_IN_BINARY, 0);
    etwl_sb_length(b, h, (uint16_t)(LFH_AFTER_TZ(ptr) - LFH_TZ(ptr))); /* with its padding */
    etwl_sb_add(b, -1, "BootTime", ETWL_IN_FILETIME, 0);
    etwl_sb_add(b, -1, "PerfFreq", ETWL_IN_INT64, 0);
    etwl_sb_add(b, -1, "StartTime", ETWL_IN_FILETIME, 0);
    etwl_sb_add(b, -1, "ReservedFlags", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "BuffersLost", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "SessionName", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_add(b, -1, "LogFileName", ETWL_IN_UNICODESTRING, 0);
    st = etwl_sb_build(b, &s->header_schema, err);
    etwl_sb_free(b);
    return st;
}

/* The clock and start of the trace, from the logfile header's payload. */
static void read_logfile_header(etl_src *s, const uint8_t *p, uint32_t n, unsigned ptr, int64_t raw, uint64_t off)
{
    uint32_t after = LFH_AFTER_TZ(ptr);
    if (n < after + 32) {
        diag(s, off, "the logfile header is too short; timestamps stay raw");
        return;
    }
    s->nproc = etwl_le32(p + 12);
    s->cpu_mhz = etwl_le32(p + 52);
    s->perf_freq = (int64_t)etwl_le64(p + after + 8);
    s->start_time = (int64_t)etwl_le64(p + after + 16);
    s->clock = etwl_le32(p + after + 24);
    s->raw0 = raw;
    s->have_header = 1;
}

/* UTC FILETIME of a raw timestamp, by the header's clock.  The header is
 * untrusted too: a distance or result out of range keeps the raw value
 * rather than overflowing. */
static int64_t to_filetime(const etl_src *s, int64_t raw)
{
    int64_t d, q, r, per_s;
    if (!s->have_header || s->clock == CLOCK_SYSTEM) return raw;
    per_s = s->clock == CLOCK_CYCLES ? s->cpu_mhz * 1000000 : s->perf_freq;
    if (per_s <= 0) return raw;
    d = (int64_t)((uint64_t)raw - (uint64_t)s->raw0); /* wraps, never overflows */
    if (d > ((int64_t)1 << 62) || d < -((int64_t)1 << 62)) return raw;
    /* whole seconds, then the rest: exact for the usual 10 MHz QPC */
    q = d / per_s;
    r = d % per_s;
    if (q > INT64_MAX / 20000000 || q < -(INT64_MAX / 20000000)) return raw;
    /* a hostile start time may push the sum past the range: wrap, do not overflow */
    return (int64_t)((uint64_t)s->start_time + (uint64_t)(q * 10000000) +
                     (uint64_t)(int64_t)((double)r * 1e7 / (double)per_s));
}

static const etwl_guid *group_guid(uint8_t group)
{
    const etwl_kclass_info *k = etwl_kclass_info_of(etwl_kclass_of_group(group));
    return k ? &k->guid : NULL;
}

/* ---- one event ------------------------------------------------------------- */

typedef struct parsed {
    etwl_win_record r;
    int classic;   /* kernel or MOF header: no id, opcode is the type */
    uint16_t hook; /* kernel events */
    int has_hook;
    const uint8_t *tl_meta, *tl_traits;
    uint16_t tl_meta_n, tl_traits_n;
    etwl_win_ext_item ext[16]; /* last: only the first r.extended_data_count are set */
} parsed;

/* Fills q from the event at e (n bytes); 0 with *why when it cannot. */
static int parse_event(const uint8_t *e, uint32_t n, uint16_t proc, parsed *q, const char **why)
{
    uint8_t kind = e[2];
    uint32_t hdr, size;
    etwl_win_header *h = &q->r.header;
    memset(q, 0, offsetof(parsed, ext)); /* per event: the items are set as found */
    q->r.processor_index = proc;
    switch (kind) {
    case TH_SYSTEM32:
    case TH_SYSTEM64:
    case TH_COMPACT32:
    case TH_COMPACT64:
        hdr = (kind == TH_SYSTEM32 || kind == TH_SYSTEM64) ? 32 : 24;
        if (n < hdr) goto short_;
        size = etwl_le16(e + 4);
        q->hook = etwl_le16(e + 6);
        q->has_hook = 1;
        h->version = (uint8_t)etwl_le16(e); /* the marker's version */
        h->thread_id = etwl_le32(e + 8);
        h->process_id = etwl_le32(e + 12);
        h->timestamp = (int64_t)etwl_le64(e + 16);
        if (hdr == 32) {
            h->t.kt.kernel_time = etwl_le32(e + 24);
            h->t.kt.user_time = etwl_le32(e + 28);
        }
        h->flags =
            ETWL_HDR_FLAG_CLASSIC_HEADER |
            ((kind == TH_SYSTEM32 || kind == TH_COMPACT32) ? ETWL_HDR_FLAG_32_BIT_HEADER : ETWL_HDR_FLAG_64_BIT_HEADER);
        q->classic = 1;
        break;
    case TH_PERFINFO32:
    case TH_PERFINFO64:
        hdr = 16;
        if (n < hdr) goto short_;
        size = etwl_le16(e + 4);
        q->hook = etwl_le16(e + 6);
        q->has_hook = 1;
        h->version = (uint8_t)etwl_le16(e);
        h->timestamp = (int64_t)etwl_le64(e + 8);
        h->thread_id = h->process_id = 0xFFFFFFFFu; /* not recorded */
        h->flags = ETWL_HDR_FLAG_CLASSIC_HEADER | ETWL_HDR_FLAG_NO_CPUTIME |
                   (kind == TH_PERFINFO32 ? ETWL_HDR_FLAG_32_BIT_HEADER : ETWL_HDR_FLAG_64_BIT_HEADER);
        q->classic = 1;
        break;
    case TH_FULL32:
    case TH_FULL64:
    case TH_INSTANCE32:
    case TH_INSTANCE64:
        /* an instance header (TraceEventInstance) is a full header and
         * then InstanceId, ParentInstanceId and the parent's class GUID:
         * the layout of the instance-info extended item */
        hdr = (kind == TH_INSTANCE32 || kind == TH_INSTANCE64) ? 72 : 48;
        if (n < hdr) goto short_;
        if (hdr == 72) {
            q->ext[0].ext_type = ETWL_EXT_TYPE_INSTANCE_INFO;
            q->ext[0].data_size = 24;
            q->ext[0].data_ptr = (uint64_t)(uintptr_t)(e + 48);
            q->r.extended_data = q->ext;
            q->r.extended_data_count = 1;
        }
        size = etwl_le16(e);
        h->opcode = e[4];
        h->level = e[5];
        h->version = (uint8_t)etwl_le16(e + 6);
        h->thread_id = etwl_le32(e + 8);
        h->process_id = etwl_le32(e + 12);
        h->timestamp = (int64_t)etwl_le64(e + 16);
        memcpy(h->provider_id, e + 24, 16);
        h->t.kt.kernel_time = etwl_le32(e + 40);
        h->t.kt.user_time = etwl_le32(e + 44);
        h->flags =
            ETWL_HDR_FLAG_CLASSIC_HEADER |
            ((kind == TH_FULL32 || kind == TH_INSTANCE32) ? ETWL_HDR_FLAG_32_BIT_HEADER : ETWL_HDR_FLAG_64_BIT_HEADER);
        q->classic = 1;
        break;
    case TH_EVENT32:
    case TH_EVENT64: {
        uint32_t at;
        int k = 0;
        hdr = 80;
        if (n < hdr) goto short_;
        size = etwl_le16(e);
        h->flags = etwl_le16(e + 4);
        h->event_property = etwl_le16(e + 6);
        h->thread_id = etwl_le32(e + 8);
        h->process_id = etwl_le32(e + 12);
        h->timestamp = (int64_t)etwl_le64(e + 16);
        memcpy(h->provider_id, e + 24, 16);
        h->id = etwl_le16(e + 40);
        h->version = e[42];
        h->channel = e[43];
        h->level = e[44];
        h->opcode = e[45];
        h->task = etwl_le16(e + 46);
        h->keyword = etwl_le64(e + 48);
        h->t.processor_time = etwl_le64(e + 56);
        memcpy(h->activity_id, e + 64, 16);
        /* the header kind, not the flags, tells the pointer size in a file */
        h->flags = (uint16_t)((h->flags & ~(ETWL_HDR_FLAG_32_BIT_HEADER | ETWL_HDR_FLAG_64_BIT_HEADER)) |
                              (kind == TH_EVENT32 ? ETWL_HDR_FLAG_32_BIT_HEADER : ETWL_HDR_FLAG_64_BIT_HEADER));
        if (size < hdr || size > n) goto bad_size;
        at = hdr;
        if (h->flags & ETWL_HDR_FLAG_EXTENDED_INFO) {
            for (;;) {
                uint16_t type, link, dsize;
                if (at + 8 > size) {
                    *why = "an extended data item runs past its event";
                    return 0;
                }
                type = etwl_le16(e + at + 2);
                link = etwl_le16(e + at + 4);
                dsize = etwl_le16(e + at + 6);
                if (at + 8 + dsize > size) {
                    *why = "an extended data item runs past its event";
                    return 0;
                }
                if (k < 16) {
                    q->ext[k].ext_type = type;
                    q->ext[k].data_size = dsize;
                    q->ext[k].data_ptr = (uint64_t)(uintptr_t)(e + at + 8);
                    k++;
                }
                if (type == ETWL_EXT_TYPE_EVENT_SCHEMA_TL) {
                    q->tl_meta = e + at + 8;
                    q->tl_meta_n = dsize;
                } else if (type == 12 /* PROV_TRAITS */) {
                    q->tl_traits = e + at + 8;
                    q->tl_traits_n = dsize;
                }
                at = (at + 8 + dsize + 7) & ~7u;
                if (!(link & 1)) break;
            }
            q->r.extended_data = q->ext;
            q->r.extended_data_count = (uint16_t)k;
        }
        if (at > size) at = size;
        q->r.user_data = e + at;
        q->r.user_data_length = (uint16_t)(size - at);
        return 1;
    }
    case TH_MESSAGE: {
        /* TraceMessage (WPP): Size, header type, flags, MessageNumber,
         * MessageFlags, then what the flags ask for, in this order:
         * sequence number, class GUID or component id, time stamp, thread
         * and process ids; the message's arguments follow.  Their text
         * needs the provider's TMF files: the arguments stay the payload. */
        uint16_t mf;
        uint32_t at = 8;
        if (n < 8) goto short_;
        size = etwl_le16(e);
        h->id = etwl_le16(e + 4);
        mf = etwl_le16(e + 6);
        h->flags = ETWL_HDR_FLAG_TRACE_MESSAGE;
        h->thread_id = h->process_id = 0xFFFFFFFFu;
        if (mf & MSG_SEQUENCE) at += 4;
        if (mf & MSG_GUID) {
            if (at + 16 > n) goto short_;
            memcpy(h->provider_id, e + at, 16);
            at += 16;
        } else if (mf & MSG_COMPONENTID) {
            if (at + 4 > n) goto short_;
            memcpy(h->provider_id, e + at, 4); /* the component id, as the GUID's first field */
            at += 4;
        }
        if (mf & MSG_TIMESTAMP) {
            if (at + 8 > n) goto short_;
            h->timestamp = (int64_t)etwl_le64(e + at);
            at += 8;
        }
        if (mf & MSG_SYSTEMINFO) {
            if (at + 8 > n) goto short_;
            h->thread_id = etwl_le32(e + at);
            h->process_id = etwl_le32(e + at + 4);
            at += 8;
        }
        if (size < at || size > n) goto bad_size;
        q->r.user_data = e + at;
        q->r.user_data_length = (uint16_t)(size - at);
        return 1;
    }
    default: *why = "an unknown event header kind, skipped"; return 0;
    }
    if (size < hdr || size > n) goto bad_size;
    q->r.user_data = e + hdr;
    q->r.user_data_length = (uint16_t)(size - hdr);
    if (q->has_hook) {
        /* image loads are logged with the process group's hook (0x030A)
         * but belong to the Image class (Image_Load, type 10) */
        const etwl_guid *g = group_guid(q->hook == 0x030A ? 0x14 : (uint8_t)(q->hook >> 8));
        h->opcode = (uint8_t)q->hook;
        if (g) etwl_guid_to_bytes(g, h->provider_id);
    }
    return 1;
short_:
    *why = "the event is shorter than its header";
    return 0;
bad_size:
    *why = "the event's size does not fit its header or buffer";
    return 0;
}

/* The kernel-layout table points into the schema cache: forget it when the
 * cache has started over. */
static void kmemo_sync(etl_src *s)
{
    if (s->kmemo_resets == etwl_schema_cache_resets(s->schemas)) return;
    memset(s->kmemo, 0, sizeof s->kmemo);
    s->kmemo_resets = etwl_schema_cache_resets(s->schemas);
}

static const etwl_schema *schema_for(etl_src *s, const parsed *q, etwl_error *e)
{
    etwl_schema_key k;
    const etwl_schema *sc = NULL;
    etwl_schema *made = NULL;
    if (q->has_hook && q->hook == 0) return s->header_schema;
    etwl_win_record_schema_key(&q->r, &k);
    if (s->recorded && etwl_schema_cache_get(s->recorded, &k, &sc) && sc) return sc;
    if (q->classic) {
        /* built-in kernel classes; the pointer size is part of the layout
         * (even numbers: TraceLogging keys are odd) */
        unsigned ptr = (q->r.header.flags & ETWL_HDR_FLAG_32_BIT_HEADER) ? 4 : 8;
        uint32_t tag = q->has_hook ? ((uint32_t)q->hook << 16 | (uint32_t)q->r.header.version << 8 | ptr) : 0;
        uint32_t slot = (q->hook * 31u + q->r.header.version * 7u + ptr) % 512u;
        kmemo_sync(s);
        if (tag && s->kmemo[slot].tag == tag) return s->kmemo[slot].sc;
        k.meta_hash = ptr;
        if (!etwl_schema_cache_get(s->schemas, &k, &sc)) {
            if (etwl_kmof_schema(&k.provider, q->r.header.opcode, q->r.header.version, ptr, &made) != ETWL_OK)
                made = NULL;
            if (etwl_schema_cache_put(s->schemas, &k, made) == ETWL_OK) sc = made;
            else sc = NULL;
            kmemo_sync(s); /* the put may have started the cache over */
        }
        if (tag) {
            s->kmemo[slot].tag = tag;
            s->kmemo[slot].sc = sc;
        }
        return sc;
    }
    if (!q->tl_meta) return s->embedded && etwl_schema_cache_get(s->embedded, &k, &sc) ? sc : NULL;
    if (etwl_schema_cache_get(s->schemas, &k, &sc)) return sc;
    if (etwl_tlmeta_to_schema(q->tl_meta, q->tl_meta_n, q->tl_traits, q->tl_traits_n, &made, e) != ETWL_OK) made = NULL;
    etwl_schema_cache_put(s->schemas, &k, made);
    return made;
}

/* {BBCCF6C1-6CD1-48C4-80FF-839482E37671}: KernelTraceControl's MetaData
 * events.  Type 32 (EventInfo) carries a TRACE_EVENT_INFO, written into
 * traces by the tools that merge them (xperf, PerfView's relogger), so
 * manifest events decode without the manifest. */

static void learn_schema(etl_src *s, const parsed *q, uint64_t off)
{
    etwl_schema *sc;
    etwl_schema_key k;
    etwl_error e;
    if (!s->embedded && etwl_schema_cache_new(1u << 20, &s->embedded) != ETWL_OK) return;
    if (etwl_tei_to_schema(q->r.user_data, q->r.user_data_length, &sc, &e) != ETWL_OK) {
        diag(s, off, e.message);
        return;
    }
    memset(&k, 0, sizeof k);
    k.provider = sc->provider_guid;
    k.id = sc->desc.id;
    k.version = sc->desc.version;
    k.opcode = sc->desc.opcode;
    etwl_schema_cache_put(s->embedded, &k, sc);
}

static int grow_maps(etl_src *s);
static void learn_manifest(etl_src *s, const parsed *q, uint64_t off);

/* Type 33 (EventMapInfo) carries a provider's value map: its GUID, then an
 * EVENT_MAP_INFO, so numbers in those events can be named
 * (ev:mapname) as TDH names them on Windows. */
static void learn_map(etl_src *s, const parsed *q, uint64_t off)
{
    const uint8_t *p = q->r.user_data;
    uint32_t n = q->r.user_data_length, no, i;
    etwl_valuemap *m;
    etwl_error e;
    struct etl_map *slot;
    if (n < 16 + 16 || s->nmaps >= 65536) return;
    if (etwl_valuemap_from_emi(p + 16, n - 16, &m, &e) != ETWL_OK) {
        diag(s, off, e.message);
        return;
    }
    /* the map's name: UTF-16 at MapNameOffset from the EVENT_MAP_INFO */
    no = etwl_le32(p + 16);
    for (i = 16 + no; no && no < n && i + 1 < n && (p[i] | p[i + 1]); i += 2) {
    }
    if (!no || no >= n || i == 16 + no || !grow_maps(s)) {
        etwl_valuemap_free(m);
        return;
    }
    {
        etwl_arena a;
        uint32_t len;
        const char *u;
        etwl_arena_init(&a, 1u << 20);
        u = etwl_utf16_to_utf8(&a, p + 16 + no, (i - 16 - no) / 2, &len);
        slot = &s->maps[s->nmaps];
        slot->name = u ? malloc(len + 1) : NULL; /* no strndup in msvcrt */
        if (slot->name) {
            memcpy(slot->name, u, len);
            slot->name[len] = 0;
        }
        etwl_arena_free(&a);
        if (!slot->name) {
            etwl_valuemap_free(m);
            return;
        }
    }
    s->nmaps++;
    etwl_guid_from_bytes(p, &slot->provider);
    slot->map = m;
}

static int grow_maps(etl_src *s) { return etwl_grow(&s->maps, s->nmaps, 1, &s->capmaps, sizeof *s->maps, 65536); }

/* ---- EventSource manifests (see esmanifest.h) ---- */

#ifdef ETWL_HAVE_EXPAT
static void esm_schema(etwl_schema *sc, void *user)
{
    etl_src *s = user;
    etwl_schema_key k;
    memset(&k, 0, sizeof k);
    k.provider = sc->provider_guid;
    k.id = sc->desc.id;
    k.version = sc->desc.version;
    k.opcode = sc->desc.opcode;
    if (!s->esm_name[0] && sc->provider_name) snprintf(s->esm_name, sizeof s->esm_name, "%s", sc->provider_name);
    etwl_schema_cache_put(s->embedded, &k, sc);
}

static void esm_map(const char *name, etwl_valuemap *m, void *user)
{
    etl_src *s = user;
    struct etl_map *slot;
    if (s->nmaps >= 65536 || !grow_maps(s) || !(s->maps[s->nmaps].name = strdup(name))) {
        etwl_valuemap_free(m);
        return;
    }
    slot = &s->maps[s->nmaps++];
    slot->provider = s->esm_provider;
    slot->map = m;
}
#endif

/* A ManifestData event: its chunk joins the provider's manifest; the last
 * one makes the provider's schemas and maps, and the ManifestData events
 * themselves decode from then on. */
static void learn_manifest(etl_src *s, const parsed *q, uint64_t off)
{
#ifdef ETWL_HAVE_EXPAT
    const uint8_t *p = q->r.user_data;
    uint32_t n = q->r.user_data_length, i;
    uint16_t total, num;
    etwl_guid prov;
    struct etl_esm *m = NULL;
    if (n < 8 || p[3] != ETWL_ESM_MAGIC) return;
    total = etwl_le16(p + 4);
    num = etwl_le16(p + 6);
    etwl_guid_from_bytes(q->r.header.provider_id, &prov);
    if (!s->embedded && etwl_schema_cache_new(1u << 20, &s->embedded) != ETWL_OK) return;
    for (i = 0; i < s->nesm; i++)
        if (etwl_guid_equal(&s->esm[i].provider, &prov)) m = &s->esm[i];
    if (!m) {
        struct etl_esm *g = s->nesm < 1024 ? realloc(s->esm, (s->nesm + 1) * sizeof *g) : NULL;
        if (!g) return;
        s->esm = g;
        m = &s->esm[s->nesm++];
        memset(m, 0, sizeof *m);
        m->provider = prov;
        etwl_buf_init(&m->xml);
    }
    /* EventSource logs its manifest again on each enable: the first whole
     * one serves */
    if (m->done) return;
    if (num == 0) {
        etwl_buf_reset(&m->xml);
        m->total = total;
        m->got = 0;
    }
    if (!total || num != m->got || total != m->total || m->xml.len + (n - 8) > (16u << 20)) {
        diag(s, off, "an EventSource manifest chunk out of order or too large; the manifest is skipped");
        m->got = 0;
        etwl_buf_reset(&m->xml);
        return;
    }
    etwl_buf_put(&m->xml, (const char *)p + 8, n - 8);
    if (++m->got < m->total || m->xml.oom) return;
    {
        etwl_error e;
        uint32_t skipped = 0;
        etwl_esm_sink sink = {esm_schema, esm_map, s};
        s->esm_provider = prov;
        s->esm_name[0] = 0;
        if (etwl_esm_parse(m->xml.data, m->xml.len, &prov, &sink, &skipped, &e) != ETWL_OK) {
            diag(s, off, e.message);
        } else {
            etwl_schema *data;
            etwl_schema_key k;
            if (skipped) {
                char msg[96];
                snprintf(msg, sizeof msg, "%u events or maps of an EventSource manifest could not be read", skipped);
                diag(s, off, msg);
            }
            /* the ManifestData events themselves, named after the provider */
            memset(&k, 0, sizeof k);
            k.provider = prov;
            k.id = ETWL_ESM_EVENT_ID;
            k.version = q->r.header.version;
            k.opcode = 254;
            if (etwl_esm_data_schema(&prov, s->esm_name[0] ? s->esm_name : NULL, &data) == ETWL_OK)
                etwl_schema_cache_put(s->embedded, &k, data);
        }
        m->done = 1;
    }
    etwl_buf_free(&m->xml);
#else
    (void)s;
    (void)q;
    (void)off;
#endif
}

/* etwl_map_resolver: the map the current event's provider names so. */
static const etwl_valuemap *resolve_map(const char *name, void *user)
{
    etl_src *s = user;
    uint32_t i;
    for (i = s->nmaps; i-- > 0;)
        if (etwl_guid_equal(&s->maps[i].provider, &s->ev.hdr.provider_guid) && strcmp(s->maps[i].name, name) == 0)
            return s->maps[i].map;
    return NULL;
}

/* ---- buffers, merged by time ------------------------------------------------
 *
 * Each buffer holds one processor's events in time order, and buffers reach
 * the file as they fill, so file order is not time order.  As ProcessTrace
 * does, events are delivered in time order: a window of buffers (four per
 * processor, at least 32, more while a processor seen so far has none
 * loaded, at most 512 and 256 MiB) is kept loaded and the earliest next event among
 * them goes first; an exhausted buffer is replaced by the next one read.  An event stamped far out of line (after the
 * trace's end, say) still arrives where its buffer has it. */

static uint32_t event_size(const uint8_t *e, uint32_t room)
{
    switch (e[2]) {
    case TH_EVENT32:
    case TH_EVENT64:
    case TH_FULL32:
    case TH_FULL64:
    case TH_INSTANCE32:
    case TH_INSTANCE64:
    case TH_MESSAGE: return etwl_le16(e);
    default: return room >= 8 ? etwl_le16(e + 4) : 0;
    }
}

/* The raw timestamp of the event at w->pos, to order the merge; kinds
 * without one go first (they are reported at once). */
static int64_t raw_time(const uint8_t *e, uint32_t size)
{
    switch (e[2]) {
    case TH_PERFINFO32:
    case TH_PERFINFO64: return size >= 16 ? (int64_t)etwl_le64(e + 8) : INT64_MIN;
    case TH_SYSTEM32:
    case TH_SYSTEM64:
    case TH_COMPACT32:
    case TH_COMPACT64:
    case TH_FULL32:
    case TH_FULL64:
    case TH_EVENT32:
    case TH_EVENT64:
    case TH_INSTANCE32:
    case TH_INSTANCE64: return size >= 24 ? (int64_t)etwl_le64(e + 16) : INT64_MIN;
    case TH_MESSAGE: {
        uint16_t mf = size >= 8 ? etwl_le16(e + 6) : 0;
        uint32_t at = 8 + ((mf & MSG_SEQUENCE) ? 4 : 0) + ((mf & MSG_GUID) ? 16 : (mf & MSG_COMPONENTID) ? 4 : 0);
        return (mf & MSG_TIMESTAMP) && at + 8 <= size ? (int64_t)etwl_le64(e + at) : INT64_MIN;
    }
    default: return INT64_MIN;
    }
}

/* Moves w to its next well-formed event start, or marks it done. */
static void peek(etl_src *s, wbuf *w)
{
    for (;;) {
        const uint8_t *e = w->data + w->pos;
        uint32_t size;
        if (w->pos + 4 > w->end || etwl_le32(e) == 0xFFFFFFFFu) break; /* the rest is free */
        if (!(e[3] & TRACE_HEADER_FLAG)) {
            diag(s, w->off + w->pos, "no trace header here; the rest of this buffer is skipped");
            s->base.st.malformed++;
            break;
        }
        size = event_size(e, w->end - w->pos);
        if (size < 8 || size > w->end - w->pos) {
            diag(s, w->off + w->pos, "an event size runs past its buffer; the rest of this buffer is skipped");
            s->base.st.malformed++;
            break;
        }
        w->size = size;
        w->next_ts = raw_time(e, size);
        return;
    }
    w->live = 0;
}

/* A kernel stack (StackWalk, hook 0x1820) is written right after the event
 * it belongs to, stamped with that event's raw time: when the next record
 * of w is one, it becomes the event's ext.stacktrace and is consumed. */
/* A StackWalk record (hook group 0x18) with a classic kernel header: its
 * hook and header length; 0 for anything else. */
static uint16_t stack_hook(const uint8_t *e, uint32_t room, uint32_t *hdr, uint32_t *size)
{
    uint16_t hook;
    if (room < 8 || !(e[3] & TRACE_HEADER_FLAG)) return 0;
    switch (e[2]) {
    case TH_SYSTEM32:
    case TH_SYSTEM64: *hdr = 32; break;
    case TH_COMPACT32:
    case TH_COMPACT64: *hdr = 24; break;
    case TH_PERFINFO32:
    case TH_PERFINFO64: *hdr = 16; break;
    default: return 0;
    }
    hook = etwl_le16(e + 6);
    *size = etwl_le16(e + 4);
    if ((hook >> 8) != 0x18 || *size < *hdr + 8 || *size > room) return 0;
    return hook;
}

static unsigned ptr_of(const uint8_t *e)
{
    return (e[2] == TH_SYSTEM32 || e[2] == TH_COMPACT32 || e[2] == TH_PERFINFO32) ? 4 : 8;
}

#define MAX_FRAMES 512

/* The stack of the event just delivered from w: the StackWalk records
 * stamped with its time that follow it (a full stack, 0x1820, or cache
 * references, 0x1825 kernel and 0x1826 user), then the records of the first
 * pass for its time and thread (deferred user stacks). */
static void attach_stack(etl_src *s, wbuf *w, int64_t raw, uint32_t thread)
{
    uint64_t frames[MAX_FRAMES], *addr;
    uint32_t n = 0;
    for (;;) {
        const uint8_t *e = w->data + w->pos, *p;
        uint32_t hdr, size, ptr, k, i;
        uint16_t hook = w->pos < w->end ? stack_hook(e, w->end - w->pos, &hdr, &size) : 0;
        if (hook != 0x1820 && hook != 0x1825 && hook != 0x1826) break;
        p = e + hdr;
        ptr = ptr_of(e);
        if (size < hdr + 16 || (int64_t)etwl_le64(p) != raw) break;
        if (hook == 0x1820) {
            k = (size - hdr - 16) / ptr;
            for (i = 0; i < k && n < MAX_FRAMES; i++)
                frames[n++] = ptr == 4 ? etwl_le32(p + 16 + 4 * i) : etwl_le64(p + 16 + 8 * i);
        } else if (s->stacks && size >= hdr + 16 + ptr) {
            uint64_t key = ptr == 4 ? etwl_le32(p + 16) : etwl_le64(p + 16);
            n += etwl_stackidx_key_frames(s->stacks, key, raw, frames + n, MAX_FRAMES - n);
        }
        w->pos += (size + 7) & ~7u;
        s->base.st.read++;
    }
    if (s->stacks) {
        /* a kernel event without a thread in its header names it in its
         * payload (samples, disk I/O, hard faults): two processors may
         * stamp events with the same tick */
        if (thread == 0xFFFFFFFFu) {
            static const char *const names[] = {"ThreadId", "IssuingThreadId", "TThreadId"};
            for (size_t i = 0; i < sizeof names / sizeof names[0] && thread == 0xFFFFFFFFu; i++) {
                const etwl_value *v = etwl_event_get(&s->ev, names[i]);
                if (v && (v->type == ETWL_VT_UINT || v->type == ETWL_VT_INT)) thread = (uint32_t)v->v.u;
            }
        }
        n += etwl_stackidx_frames(s->stacks, raw, thread, frames + n, MAX_FRAMES - n);
    }
    if (!n || !(addr = etwl_arena_alloc(&s->ev.arena, n * sizeof *addr))) return;
    /* kernel frames first, then user frames, whatever order the records came in */
    {
        uint64_t kmin = (s->ev.hdr.flags & ETWL_HDR_FLAG_32_BIT_HEADER) ? 0x80000000u : 0xFFFF800000000000ull;
        uint32_t i, k = 0;
        for (i = 0; i < n; i++)
            if (frames[i] >= kmin) addr[k++] = frames[i];
        for (i = 0; i < n; i++)
            if (frames[i] < kmin) addr[k++] = frames[i];
    }
    s->ev.ext.stack.matched_id = 0;
    s->ev.ext.stack.addresses = addr;
    s->ev.ext.stack.count = n;
    s->ev.ext.has |= ETWL_EXT_STACKTRACE;
}

/* Records that teach the reader: the logfile header (the clock), the
 * schemas, maps and manifests a trace carries.  Kept out of line: few
 * events are these, and deliver() is the hot path. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static etwl_status
learn(etl_src *s, const parsed *q, const uint8_t *e, uint64_t off)
{
    etwl_guid g;
    etwl_error err;
    if (q->has_hook && q->hook == 0 && !s->have_header) {
        unsigned ptr = (e[2] == TH_SYSTEM32 || e[2] == TH_COMPACT32) ? 4 : 8;
        read_logfile_header(s, q->r.user_data, q->r.user_data_length, ptr, q->r.header.timestamp, off);
        if (!s->header_schema && build_header_schema(s, ptr, &err) != ETWL_OK) return err.status;
        return ETWL_OK;
    }
    if (!q->classic) {
        if (q->r.header.opcode == 254) learn_manifest(s, q, off);
        return ETWL_OK;
    }
    etwl_guid_from_bytes(q->r.header.provider_id, &g);
    if (etwl_kclass_of_guid(&g) != ETWL_KC_METADATA) return ETWL_OK;
    if (q->r.header.opcode == 32) learn_schema(s, q, off);
    else learn_map(s, q, off);
    return ETWL_OK;
}

/* Delivers the event at w->pos, then moves on. */
static etwl_status deliver(etl_src *s, wbuf *w)
{
    const uint8_t *e = w->data + w->pos;
    uint64_t off = w->off + w->pos;
    uint32_t size = w->size;
    parsed q;
    const char *why = NULL;
    etwl_error err;
    const etwl_schema *schema;
    etwl_status st = ETWL_OK;
    int64_t raw;
    w->pos += (size + 7) & ~7u;
    s->base.st.read++;
    if (s->stacks) { /* stack records: joined to their events as ext.stacktrace */
        uint32_t hdr, sz;
        if (stack_hook(e, size, &hdr, &sz)) goto next;
    }
    if (!parse_event(e, size, w->proc, &q, &why)) {
        diag(s, off, why);
        s->base.st.malformed++;
        goto next;
    }
    if ((q.has_hook && q.hook == 0 && !s->have_header) ||
        (q.classic ? q.r.header.opcode == 32 || q.r.header.opcode == 33 : q.r.header.id == ETWL_ESM_EVENT_ID)) {
        if ((st = learn(s, &q, e, off)) != ETWL_OK) return st;
    }
    schema = schema_for(s, &q, &err);
    raw = q.r.header.timestamp;
    /* a WPP message logged without a time stamp has no time: it stays 0 */
    if (!(raw == 0 && (q.r.header.flags & ETWL_HDR_FLAG_TRACE_MESSAGE))) q.r.header.timestamp = to_filetime(s, raw);
    etwl_event_begin(&s->ev);
    if (etwl_win_record_to_event(&q.r, schema, &s->ev, NULL) != ETWL_OK) {
        s->base.st.malformed++;
        goto next;
    }
    /* the raw clock too: durations in the payload (a hard fault's start)
     * are in its units */
    s->ev.hdr.raw_ts = raw;
    s->ev.hdr.has |= ETWL_HAS_RAW_TS;
    attach_stack(s, w, raw, q.r.header.thread_id);
    s->base.file = s->base.cfg->read_path;
    s->base.pos_kind = ETWL_SRC_OFFSET;
    s->base.pos = off;
    s->base.bytes_done = off;
    st = etwl_source_deliver(&s->base, &s->ev);
next:
    peek(s, w);
    return st;
}

static etwl_status grow(wbuf *w, uint32_t size, etwl_error *err)
{
    uint8_t *b;
    if (size <= w->cap) return ETWL_OK;
    if (!(b = realloc(w->data, size))) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    w->data = b;
    w->cap = size;
    return ETWL_OK;
}

/* Reads the next buffer into w: 1 loaded, 0 at the end (or nothing more can
 * be read), -1 on an error in err. */
static int load(etl_src *s, wbuf *w, etwl_error *err)
{
    uint8_t hdr[BUF_HEADER];
    long k;
    uint32_t size, len, saved;
    uint16_t flag;
    if (s->eof) return 0;
    k = etwl_instream_read(s->in, hdr, BUF_HEADER, err);
    if (k < 0) return -1;
    size = k < BUF_HEADER ? 0 : etwl_le32(hdr + BH_SIZE);
    flag = k < BUF_HEADER ? 0 : etwl_le16(hdr + BH_FLAG);
    if (s->file_off == 0 &&
        (k < BUF_HEADER || size < MIN_BUFFER || size > MAX_BUFFER || (!(flag & BUFFER_FLAG_COMPRESSED) && size % 8))) {
        etwl_error_set(err, ETWL_EPARSE, "%s: not an ETL file (no plausible buffer header at offset 0)",
                       etwl_instream_name(s->in));
        return -1;
    }
    if (k == 0) goto end;
    if (k < BUF_HEADER) {
        diag(s, s->file_off, "the file ends inside a buffer header");
        goto bad_end;
    }
    if (size <= BUF_HEADER || size > MAX_BUFFER || (!(flag & BUFFER_FLAG_COMPRESSED) && size % 8)) {
        char msg[160];
        snprintf(msg, sizeof msg, "a buffer size of %u is not plausible; the rest of the file is skipped", size);
        diag(s, s->file_off, msg);
        goto bad_end;
    }
    w->off = s->file_off;
    s->file_off += size;
    if (flag & BUFFER_FLAG_COMPRESSED) {
        /* Windows 8+: BufferSize is the compressed size (any alignment);
         * the events follow the header in Plain LZ77 */
        long out;
        if (size > s->zcap) {
            uint8_t *b = realloc(s->zin, size);
            if (!b) return etwl_error_set(err, ETWL_ENOMEM, "out of memory"), -1;
            s->zin = b;
            s->zcap = size;
        }
        k = etwl_instream_read(s->in, s->zin, size - BUF_HEADER, err);
        if (k < 0) return -1;
        saved = etwl_le32(hdr + BH_SAVED);
        if (grow(w, saved > BUF_HEADER && saved <= MAX_BUFFER ? saved : 65536, err) != ETWL_OK) return -1;
        out = etwl_lz77_decompress(s->zin, (size_t)k, w->data + BUF_HEADER, w->cap - BUF_HEADER);
        /* SavedOffset may understate the size: retry with twice the room, and
         * only when the input ran out of room, not when it is malformed, so
         * a small hostile buffer cannot make every load take the maximum */
        while (out == ETWL_LZ77_FULL && w->cap < MAX_BUFFER) {
            if (grow(w, w->cap > MAX_BUFFER / 2 ? MAX_BUFFER : w->cap * 2, err) != ETWL_OK) return -1;
            out = etwl_lz77_decompress(s->zin, (size_t)k, w->data + BUF_HEADER, w->cap - BUF_HEADER);
        }
        if ((uint32_t)k < size - BUF_HEADER) {
            diag(s, w->off, "the file ends inside a compressed buffer");
            s->base.st.malformed++;
            s->eof = 1;
        }
        if (out < 0) {
            diag(s, w->off, "a compressed buffer does not decompress; skipped");
            s->base.st.malformed++;
            w->live = 0;
            return 1;
        }
        len = BUF_HEADER + (uint32_t)out;
        w->end = saved >= BUF_HEADER && saved < len ? saved : len;
    } else {
        if (grow(w, size, err) != ETWL_OK) return -1;
        k = etwl_instream_read(s->in, w->data + BUF_HEADER, size - BUF_HEADER, err);
        if (k < 0) return -1;
        len = BUF_HEADER + (uint32_t)k;
        if ((uint32_t)k < size - BUF_HEADER) {
            diag(s, w->off, "the file ends inside a buffer; the events read from it are delivered");
            s->base.st.malformed++;
            s->eof = 1;
        }
        saved = etwl_le32(hdr + BH_SAVED);
        if (saved < BUF_HEADER || saved > len) saved = etwl_le32(hdr + BH_CURRENT);
        w->end = saved >= BUF_HEADER && saved <= len ? saved : len;
    }
    memcpy(w->data, hdr, BUF_HEADER);
    w->proc = (flag & BUFFER_FLAG_PROC_INDEX) ? etwl_le16(hdr + BH_PROCESSOR) : hdr[BH_PROCESSOR];
    w->pos = BUF_HEADER;
    w->live = 1;
    peek(s, w);
    if (w->live && w->proc < MAX_PROCS) {
        s->seen[w->proc] = 1;
        if (w->proc >= s->nseen) s->nseen = w->proc + 1u;
    }
    return 1;
bad_end:
    s->base.st.malformed++;
end:
    s->eof = 1;
    return 0;
}

/* The first pass for stacks: a second reader over the same input indexes
 * the StackWalk records that the delivery pass cannot join by position:
 * stacks and cache references that do not follow their event, and the
 * cached stacks' definitions, written after the events that use them. */
static etwl_status scan_stacks(etl_src *s, etwl_error *err)
{
    etl_src *t = calloc(1, sizeof *t);
    wbuf w;
    etwl_status st = ETWL_OK;
    int r;
    memset(&w, 0, sizeof w);
    if (!t || !(s->stacks = etwl_stackidx_new())) {
        free(t);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    t->cfg = s->cfg; /* no diag: the delivery pass reports what is wrong */
    if ((st = etwl_instream_open(s->cfg->read_path, &t->in, err)) != ETWL_OK) goto done;
    while ((r = load(t, &w, err)) > 0) {
        int64_t run = 0;
        int in_run = 0;
        while (w.live && st == ETWL_OK) {
            const uint8_t *e = w.data + w.pos, *p;
            uint32_t hdr, size, ptr;
            uint16_t hook = stack_hook(e, w.end - w.pos, &hdr, &size);
            if (!hook) {
                run = raw_time(e, w.size);
                in_run = 1;
            } else if (size >= hdr + 8) {
                int64_t ets;
                p = e + hdr;
                ptr = ptr_of(e);
                ets = (int64_t)etwl_le64(p);
                if ((hook == 0x1820 || hook == 0x1825 || hook == 0x1826) && size >= hdr + 16) {
                    if (in_run && ets == run) {
                        /* right after its event: joined by the delivery pass */
                    } else {
                        in_run = 0;
                        if (hook == 0x1820)
                            st = etwl_stackidx_add_stack(s->stacks, ets, etwl_le32(p + 12), p + 16,
                                                         (size - hdr - 16) / ptr, ptr);
                        else if (size >= hdr + 16 + ptr)
                            st = etwl_stackidx_add_ref(s->stacks, ets, etwl_le32(p + 12),
                                                       ptr == 4 ? etwl_le32(p + 16) : etwl_le64(p + 16));
                    }
                } else if ((hook == 0x1823 || hook == 0x1824) && size >= hdr + ptr) {
                    /* KeyDelete, KeyRundown: a cached stack's key, then its frames */
                    in_run = 0;
                    st = etwl_stackidx_add_def(s->stacks, ptr == 4 ? etwl_le32(p) : etwl_le64(p), raw_time(e, w.size),
                                               p + ptr, (size - hdr - ptr) / ptr, ptr);
                }
            }
            w.pos += (w.size + 7) & ~7u;
            peek(t, &w);
        }
        if (st != ETWL_OK) {
            /* a bound or memory: go on without what did not fit, and say so */
            diag(s, w.off,
                 "the stack index is full (64 M frames) or out of memory: later deferred and cached "
                 "stacks are not joined to their events");
            st = ETWL_OK;
            break;
        }
    }
    if (r < 0) st = err ? err->status : ETWL_EIO;
    etwl_stackidx_done(s->stacks);
done:
    etwl_instream_close(t->in);
    free(t->zin);
    free(w.data);
    free(t);
    return st;
}

/* Whether the loaded buffers hold StackWalk records: a trace recorded with
 * stacks has them throughout. */
static int window_has_stacks(const etl_src *s)
{
    int i;
    for (i = 0; i < s->nwin; i++) {
        const wbuf *w = &s->win[i];
        uint32_t pos = BUF_HEADER;
        while (pos + 8 <= w->end && etwl_le32(w->data + pos) != 0xFFFFFFFFu) {
            const uint8_t *e = w->data + pos;
            uint32_t hdr, size = 0;
            if (!(e[3] & TRACE_HEADER_FLAG)) break;
            if (stack_hook(e, w->end - pos, &hdr, &size)) return 1;
            size = event_size(e, w->end - pos);
            if (size < 8) break;
            pos += (size + 7) & ~7u;
        }
    }
    return 0;
}

/* Whether another buffer may be loaded into win[nwin] with the window's
 * memory kept under WINDOW_BYTES, counting the next buffer as large as a
 * buffer may be; memory kept by exhausted buffers is let go first.  A full
 * window is said once: the merge goes on with the buffers that fit, so no
 * event is lost, but some may come out of time order. */
static int window_room(etl_src *s)
{
    uint64_t used = MAX_BUFFER;
    int i;
    if (s->nwin == 0) return 1;
    for (i = 0; i < s->nwin; i++) used += s->win[i].cap;
    if (used >= WINDOW_BYTES) {
        if (!s->window_full) {
            char msg[200];
            s->window_full = 1;
            snprintf(msg, sizeof msg,
                     "the merge window is full (%llu MiB of buffers): later buffers are merged with those that "
                     "fit, so some events may come out of time order",
                     (unsigned long long)(WINDOW_BYTES >> 20));
            diag(s, s->file_off, msg);
        }
        return 0;
    }
    for (i = s->nwin + 1; i < MAX_WINDOW; i++) used += s->win[i].cap;
    for (i = MAX_WINDOW - 1; i > s->nwin && used >= WINDOW_BYTES; i--) {
        used -= s->win[i].cap;
        free(s->win[i].data);
        memset(&s->win[i], 0, sizeof s->win[i]);
    }
    return 1;
}

static etwl_status etl_process(etwl_source *base, etwl_error *err)
{
    etl_src *s = (etl_src *)base;
    while (!s->base.closing) {
        int i, best = -1;
        etwl_status st;
        /* keep the window full: four buffers a processor (relogged files
         * interleave several sessions' buffers), at least 32 */
        int want = 32;
        if (s->have_header && s->nproc) /* the header's count is the file's word: compared before it is scaled */
            want = s->nproc >= MAX_WINDOW / 4 ? MAX_WINDOW : 4 * (int)s->nproc + 4;
        if (want < 32) want = 32;
        while (s->nwin < want && !s->eof && window_room(s)) {
            int r = load(s, &s->win[s->nwin], err);
            if (r < 0) return err ? err->status : ETWL_EIO;
            if (r == 0) break;
            s->nwin++;
        }
        if (!s->stacks_checked) {
            s->stacks_checked = 1;
            if (window_has_stacks(s) && scan_stacks(s, err) != ETWL_OK) return err ? err->status : ETWL_EIO;
        }
        int64_t other = INT64_MAX; /* the earliest next event of the other buffers */
        int missing = 0;
        s->stamp++;
        for (i = 0; i < s->nwin; i++) {
            if (!s->win[i].live) { /* exhausted: its memory serves the next buffer */
                wbuf t = s->win[i];
                s->win[i] = s->win[--s->nwin];
                s->win[s->nwin] = t;
                i--;
                continue;
            }
            if (s->win[i].proc < MAX_PROCS) s->present[s->win[i].proc] = s->stamp;
            if (best < 0 || s->win[i].next_ts < s->win[best].next_ts) {
                if (best >= 0 && s->win[best].next_ts < other) other = s->win[best].next_ts;
                best = i;
            } else if (s->win[i].next_ts < other) {
                other = s->win[i].next_ts;
            }
        }
        /* as ProcessTrace merges one stream per processor, the earliest event
         * is only known once every processor seen so far has its next buffer
         * loaded: read ahead for the others (relogged files put a
         * processor's buffer hundreds of buffers late), within the window */
        for (i = 0; i < (int)s->nseen && !s->eof && s->nwin < MAX_WINDOW; i++)
            if (s->seen[i] && s->present[i] != s->stamp) missing = 1;
        if (missing && window_room(s)) {
            int r = load(s, &s->win[s->nwin], err);
            if (r < 0) return err ? err->status : ETWL_EIO;
            if (r > 0) s->nwin++;
            continue;
        }
        if (best < 0) {
            if (s->eof) break;
            continue;
        }
        /* the file's first event is the logfile header, whose clock converts
         * every timestamp: it goes first whatever its own time says */
        if (!s->first_done) {
            s->first_done = 1;
            for (i = 0; i < s->nwin; i++)
                if (s->win[i].off == 0 && s->win[i].pos == BUF_HEADER) best = i, other = INT64_MIN;
        }
        /* a buffer is in time order: deliver its run up to the others' next */
        do {
            if ((st = deliver(s, &s->win[best])) != ETWL_OK) {
                if (st == ETWL_ENOMEM) return etwl_error_set(err, st, "out of memory");
                return etwl_error_set(err, st, "event processing stopped by its callback");
            }
        } while (s->win[best].live && s->win[best].next_ts <= other && !s->base.closing);
    }
    if (s->stacks && s->eof && etwl_stackidx_unjoined(s->stacks)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%u stack records matched no event (their event is not in the file)",
                 etwl_stackidx_unjoined(s->stacks));
        diag(s, s->file_off, msg);
    }
    return ETWL_OK;
}

static etwl_status etl_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    etl_src *s = calloc(1, sizeof *s);
    etwl_status st;
    *out = NULL;
    if (!s) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    s->cfg = cfg;
    if ((st = etwl_event_init(&s->ev)) != ETWL_OK || (st = etwl_schema_cache_new(0, &s->schemas)) != ETWL_OK) {
        etl_destroy(&s->base);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    s->ev.map_resolver = resolve_map;
    s->ev.map_user = s;
    if ((st = etwl_instream_open(cfg->read_path, &s->in, err)) != ETWL_OK) {
        etl_destroy(&s->base);
        return st;
    }
    if (cfg->schemas_path) {
        uint32_t loaded, bad;
        if ((st = etwl_schema_cache_new(1u << 20, &s->recorded)) != ETWL_OK ||
            (st = etwl_schemafile_load(cfg->schemas_path, s->recorded, &loaded, &bad, NULL, NULL, err)) != ETWL_OK) {
            etl_destroy(&s->base);
            return st;
        }
    }
    *out = &s->base;
    return ETWL_OK;
}

/* ETL buffers, and compressed traces (.etl.zip from PerfView, .etl.gz) read
 * in a stream where libzip and zlib are built in.  Windows reads plain .etl
 * files through OpenTraceW (engine/sources/etw), which outbids this reader
 * there. */
static int etl_probe(etwl_sniff_kind kind, const char *path, int is_dir)
{
    size_t n = strlen(path);
    (void)is_dir;
    if (kind == ETWL_SNIFF_BINARY) return 5;
#ifdef ETWL_HAVE_ZIP
    if (kind == ETWL_SNIFF_ZIP) return 10;
    if (kind == ETWL_SNIFF_GZIP && n > 7 && strcmp(path + n - 7, ".etl.gz") == 0) return 10;
#endif
    (void)n;
    return 0;
}

const etwl_source_ops etwl_etl_source = {
    .name = "etl-native",
    .probe = etl_probe,
    .open = etl_open,
    .process = etl_process,
    .close = etl_close,
    .destroy = etl_destroy,
};
