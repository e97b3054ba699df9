/* event.h - the event structure, for sources and bindings.
 *
 * A source owns one etwl_event and reuses it for every record: it calls
 * etwl_event_begin(), fills header/ext, attaches either a payload plus schema
 * or text members, and hands it to the callback.  Everything the event points
 * to is valid only until the next etwl_event_begin(). */
#ifndef ETWL_EVENT_H
#define ETWL_EVENT_H

#include "util/arena.h"
#include "etwl.h"
#include "core/schema.h"

struct etwl_valuemap;
/* Finds a value map by the name a schema gives, for the event being
 * delivered; NULL when there is none.  Installed by the source once. */
typedef const struct etwl_valuemap *(*etwl_map_resolver)(const char *map_name, void *user);

struct etwl_event {
    etwl_header hdr;
    etwl_ext ext;
    uint64_t seq;
    etwl_arena arena;

    /* text properties (JSON, EVTX): name/value pairs in input order */
    const etwl_member *members;
    uint32_t nmembers;
    /* members whose value is filled on first read (EVTX substitution
     * values): pending[i] set until fill() has run for member i */
    uint8_t *pending;
    void (*fill)(etwl_event *ev, uint32_t i, etwl_member *m, void *user);
    void *fill_user;
    int (*fill_num)(etwl_event *ev, uint32_t i, uint64_t *out, void *user); /* or NULL */
    const uint16_t *mindex; /* name index: built lazily in the arena, or the source's */
    uint32_t mindex_mask;
    /* events of one layout have the same member names in the same order
     * (an EVTX template's plan): from etwl_layout_new(), or 0 */
    uint64_t layout;

    /* payload properties (ETW, tracefs, ETL): decoded on demand */
    const etwl_schema *schema;
    const uint8_t *payload;
    uint32_t payload_len;
    uint32_t *off;       /* off[i]: start of top-level property i */
    uint32_t off_known;  /* off[0..off_known] are valid */
    const char *off_err; /* why offsets stop at off_known, or NULL */
    etwl_value *cache;   /* decoded top-level values */
    uint32_t *cache_gen; /* cache[i] is valid when cache_gen[i] == (uint32_t)seq */
    uint32_t cap;        /* capacity of off/cache/cache_gen */

    /* Where a replayed record came from (ev.source, the alert's "source"):
     * set by delivery from the source's position, so every source reports
     * it the same way; src_file is NULL for live events. */
    const char *src_file;
    uint64_t src_pos;
    uint8_t src_kind; /* ETWL_SRC_* */

    /* value map names (ETW); kept across events */
    etwl_map_resolver map_resolver;
    void *map_user;
};

/* What src_pos counts: an EVTX record id, a JSON line number (from 1), a
 * byte offset (ETL). */
enum { ETWL_SRC_NONE, ETWL_SRC_RECORD, ETWL_SRC_LINE, ETWL_SRC_OFFSET };
/* The position's name as the outputs spell it ("record", "line", "offset"). */
const char *etwl_event_source_kind(const etwl_event *ev);

etwl_status etwl_event_init(etwl_event *ev);
void etwl_event_release(etwl_event *ev);
/* Starts the next record: clears header, ext and properties. */
void etwl_event_begin(etwl_event *ev);
etwl_status etwl_event_set_payload(etwl_event *ev, const etwl_schema *schema, const uint8_t *payload, uint32_t len);
void etwl_event_set_members(etwl_event *ev, const etwl_member *m, uint32_t n);
/* The same, with values decoded only when read: fill(ev, i, &m[i], user)
 * runs on the first read of member i when pending[i] is set (both arrays
 * live as long as the event; fill must leave a value, an error at worst). */
void etwl_event_set_lazy_members(etwl_event *ev, etwl_member *m, uint32_t n, uint8_t *pending,
                                 void (*fill)(etwl_event *ev, uint32_t i, etwl_member *m, void *user), void *user);

/* For the same members: fill_num(ev, i, &v, user) gives pending member i
 * as an unsigned number when its value is one - its text would be v in
 * decimal or 0x-hex - without making the text (1), else 0. */
void etwl_event_set_member_numbers(etwl_event *ev,
                                   int (*fill_num)(etwl_event *ev, uint32_t i, uint64_t *out, void *user));
/* Member i as an unsigned number, when the source can give it without its
 * text: 1 and *out, else 0 (read the text).  The process table reads pids
 * so: rendering a number as text to parse it back was most of a read. */
int etwl_event_prop_uint(etwl_event *ev, uint32_t i, uint64_t *out);

/* Installs a name index the source built once for members named as these
 * are (etwl_hash(name) & mask, linear probing, slot i + 1; 0 is empty), so
 * the first lookup by name does not hash every member of every event.  It
 * must live as long as the event. */
void etwl_event_set_member_index(etwl_event *ev, const uint16_t *index, uint32_t mask);

/* A layout number: unique in the process (workers replaying in parallel
 * take theirs from one counter), never 0.  A source that delivers many
 * events with one set of member names - in order - says so with
 * etwl_event_set_layout(), after the members. */
uint64_t etwl_layout_new(void);
void etwl_event_set_layout(etwl_event *ev, uint64_t layout);

/* Lookups by name remembered per layout: a caller that asks for the same
 * few names event after event (the process table, ev.info.X) skips the
 * hash and the probe while the layout repeats, as a JIT compiler's inline
 * cache does.  The name's address only picks the slot; its bytes are
 * compared, so any name may be asked for.  Start it zeroed. */
#define ETWL_PROP_CACHE_BITS 6
#define ETWL_PROP_CACHE_SLOTS (1 << ETWL_PROP_CACHE_BITS)
#define ETWL_PROP_CACHE_NAME 24 /* longer names are looked up each time */
typedef struct etwl_prop_cache {
    struct {
        uint64_t layout; /* 0: empty */
        int32_t index;   /* -1: the layout has no such member */
        uint8_t len;
        char name[ETWL_PROP_CACHE_NAME];
    } e[ETWL_PROP_CACHE_SLOTS];
} etwl_prop_cache;
/* etwl_event_prop_find, answered from c when it can be */
int32_t etwl_event_prop_find_cached(etwl_event *ev, const char *name, size_t len, etwl_prop_cache *c);

/* decode.c */
const etwl_value *etwl_decode_top(etwl_event *ev, uint32_t i);
/* Pointer size the payload was written with, from the header flags. */
unsigned etwl_event_ptrsize(const etwl_event *ev);

#endif
