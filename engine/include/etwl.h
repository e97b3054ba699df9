/*
 * etwl.h - the public C API of the etwlua engine.
 *
 * Every public name starts with etwl_ / ETWL_.  Engine functions return an
 * etwl_status and never raise or exit; only the Lua-facing bindings raise.
 *
 * The event model is shaped after ETW's EVENT_RECORD so that every source
 * (JSON-lines replay, ETW, tracefs, EVTX, ETL) fills the same structure.
 */
#ifndef ETWL_H
#define ETWL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ETWL_VERSION "0.1.0"

/* The library exports exactly the functions declared here (built with
 * -fvisibility=hidden; tests/layout/exports.sh checks it with nm); every other
 * etwl_ name is internal to the engine. */
#if defined(__GNUC__) && !defined(_WIN32)
#define ETWL_API __attribute__((visibility("default")))
#else
#define ETWL_API
#endif

/* printf-style checking; mingw builds use C99 printf (__USE_MINGW_ANSI_STDIO),
 * so %zu and %llu are checked as GNU formats there too. */
#if defined(__MINGW32__)
#define ETWL_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__)
#define ETWL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ETWL_PRINTF(f, a)
#endif

/* ---- status codes ---------------------------------------------------- */

typedef enum etwl_status {
    ETWL_OK = 0,
    ETWL_EINVAL, /* bad argument or option value */
    ETWL_ENOMEM,
    ETWL_EIO,       /* read/write failure */
    ETWL_EPARSE,    /* malformed input record */
    ETWL_ERANGE,    /* number out of range */
    ETWL_ETRUNC,    /* payload shorter than its schema says */
    ETWL_ENOTFOUND, /* no such property / session / provider */
    ETWL_EEXIST,    /* a session with that name exists */
    ETWL_ENOTSUP,   /* backend or feature not built on this platform */
    ETWL_EACCES,    /* needs privileges */
    ETWL_ESTOPPED,  /* a callback asked processing to stop */
    ETWL_ESCHEMA,   /* schema is inconsistent */
    ETWL_ELIMIT     /* a configured limit was hit */
} etwl_status;

ETWL_API const char *etwl_status_name(etwl_status st);

/* An error with context.  Functions that can fail with a detailed reason
 * take an etwl_error*; it may be NULL when the caller only wants the code. */
typedef struct etwl_error {
    etwl_status status;
    char message[512];
    char session[128]; /* set with ETWL_EEXIST: the name that is taken */
} etwl_error;

ETWL_API etwl_status etwl_error_set(etwl_error *err, etwl_status st, const char *fmt, ...) ETWL_PRINTF(3, 4);

/* ---- small value types ----------------------------------------------- */

typedef struct etwl_guid {
    uint32_t d1;
    uint16_t d2, d3;
    uint8_t d4[8];
} etwl_guid;

#define ETWL_GUID_STRLEN 38 /* "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" */
/* Accepts with or without braces, any case.  Returns ETWL_EPARSE otherwise. */
ETWL_API etwl_status etwl_guid_parse(const char *s, size_t n, etwl_guid *out);
/* Writes 38 chars plus NUL into buf (>= 39 bytes), upper case with braces. */
ETWL_API void etwl_guid_format(const etwl_guid *g, char *buf);
ETWL_API int etwl_guid_is_zero(const etwl_guid *g);
ETWL_API int etwl_guid_equal(const etwl_guid *a, const etwl_guid *b);

/* Timestamps are FILETIME: 100 ns ticks since 1601-01-01 UTC. */
#define ETWL_TIME_STRLEN 28 /* "YYYY-MM-DDTHH:MM:SS.fffffffZ" */
ETWL_API etwl_status etwl_time_parse(const char *s, size_t n, int64_t *out);
/* Writes RFC 3339 UTC with 7 fraction digits into buf (>= 29 bytes). */
ETWL_API etwl_status etwl_time_format(int64_t filetime, char *buf);
ETWL_API int64_t etwl_time_from_unix_ns(int64_t ns);

/* ---- decoded values -------------------------------------------------- */

typedef enum etwl_vtype {
    ETWL_VT_NULL = 0,
    ETWL_VT_BOOL,
    ETWL_VT_INT,    /* v.i */
    ETWL_VT_UINT,   /* v.u */
    ETWL_VT_HEX,    /* v.u, shown as 0x... (hex ints, pointers) */
    ETWL_VT_DOUBLE, /* v.d */
    ETWL_VT_NUMBER, /* v.s/n: a JSON number kept as its exact text */
    ETWL_VT_STRING, /* v.s/n: UTF-8, not NUL-terminated, may hold NUL */
    ETWL_VT_BINARY, /* v.p/n */
    ETWL_VT_GUID,   /* v.g */
    ETWL_VT_TIME,   /* v.i: FILETIME */
    ETWL_VT_ARRAY,  /* v.a/n */
    ETWL_VT_OBJECT, /* v.o/n */
    ETWL_VT_ERROR   /* v.s/n: why this property could not be decoded */
} etwl_vtype;

typedef struct etwl_member etwl_member;

typedef struct etwl_value {
    uint8_t type; /* etwl_vtype */
    uint32_t n;   /* bytes for strings/binary, items for arrays/objects */
    union {
        int64_t i;
        uint64_t u;
        double d;
        const char *s;
        const uint8_t *p;
        const struct etwl_value *a;
        const etwl_member *o;
        etwl_guid g;
    } v;
} etwl_value;

struct etwl_member {
    const char *name;
    uint32_t name_len;
    etwl_value value;
};

ETWL_API const char *etwl_vtype_name(etwl_vtype t);

/* ---- the event --------------------------------------------------------- */

/* EVENT_HEADER flags (evntcons.h) */
#define ETWL_HDR_FLAG_EXTENDED_INFO 0x0001
#define ETWL_HDR_FLAG_PRIVATE_SESSION 0x0002
#define ETWL_HDR_FLAG_STRING_ONLY 0x0004
#define ETWL_HDR_FLAG_TRACE_MESSAGE 0x0008
#define ETWL_HDR_FLAG_NO_CPUTIME 0x0010
#define ETWL_HDR_FLAG_32_BIT_HEADER 0x0020
#define ETWL_HDR_FLAG_64_BIT_HEADER 0x0040
#define ETWL_HDR_FLAG_CLASSIC_HEADER 0x0100
#define ETWL_HDR_FLAG_PROCESSOR_INDEX 0x0200

typedef struct etwl_descriptor {
    uint16_t id;
    uint8_t version, channel, level, opcode;
    uint16_t task;
    uint64_t keyword;
} etwl_descriptor;

/* Header fields that a source may or may not supply. */
#define ETWL_HAS_PROVIDER_NAME 0x01
#define ETWL_HAS_PROCESSOR 0x02
#define ETWL_HAS_EVENT_NAME 0x04
#define ETWL_HAS_RECORD_ID 0x08
#define ETWL_HAS_CHANNEL_NAME 0x10
#define ETWL_HAS_COMPUTER 0x20
#define ETWL_HAS_RAW_TS 0x40

typedef struct etwl_header {
    etwl_descriptor desc;
    uint32_t tid, pid;
    int64_t ts; /* FILETIME, UTC */
    etwl_guid provider_guid;
    etwl_guid activity_guid;
    uint16_t flags;
    uint32_t kernel_time, user_time;
    uint64_t processor_time;
    uint32_t processor; /* processor number */
    /* from here on, fields are valid only with their ETWL_HAS_* bit */
    const char *provider_name; /* UTF-8, NUL-terminated, valid during the callback */
    uint32_t provider_name_len;
    const char *event_name; /* tracefs event, ETW task/event name; optional */
    uint32_t event_name_len;
    uint64_t record_id;       /* EVTX EventRecordID */
    const char *channel_name; /* EVTX channel, e.g. "Security" */
    uint32_t channel_name_len;
    const char *computer; /* EVTX computer name */
    uint32_t computer_len;
    int64_t raw_ts; /* the file's own clock (QPC, cycles or FILETIME) before conversion */
    uint32_t has;   /* ETWL_HAS_* */
} etwl_header;

/* Extended data items; each is optional (see ETWL_EXT_*). */
#define ETWL_EXT_SESSION_ID 0x01
#define ETWL_EXT_RELATED_ACTIVITY 0x02
#define ETWL_EXT_USER_SID 0x04
#define ETWL_EXT_INSTANCE_INFO 0x08
#define ETWL_EXT_STACKTRACE 0x10
#define ETWL_EXT_PROCESS_START_KEY 0x20
#define ETWL_EXT_EVENT_KEY 0x40

/* Each item is valid only with its ETWL_EXT_* bit; a source that sets a bit
 * fills the whole item. */
typedef struct etwl_ext {
    uint32_t has; /* ETWL_EXT_* */
    uint32_t session_id;
    etwl_guid related_activity;
    const char *user_sid; /* "S-1-..." */
    uint32_t user_sid_len;
    struct {
        uint32_t id, parent_id;
        etwl_guid parent_guid;
    } instance;
    struct {
        uint64_t matched_id;
        const uint64_t *addresses;
        uint32_t count;
    } stack;
    uint64_t process_start_key; /* unique per boot: tells pid reuse apart */
    uint64_t event_key;         /* groups related events (ETW EVENT_KEY) */
} etwl_ext;

typedef struct etwl_event etwl_event;

ETWL_API const etwl_header *etwl_event_header(const etwl_event *ev);
ETWL_API const etwl_ext *etwl_event_ext(const etwl_event *ev);
/* Sequence number of the event within its session, from 1.  Bindings use it
 * to detect use of an event after its callback returned. */
ETWL_API uint64_t etwl_event_seq(const etwl_event *ev);

/* Properties.  Indexes run 0..count-1 in schema (or input) order.  A property
 * is decoded on first access and cached for the rest of the event. */
ETWL_API uint32_t etwl_event_prop_count(etwl_event *ev);
ETWL_API const char *etwl_event_prop_name(etwl_event *ev, uint32_t i, uint32_t *len);
/* Returns the index, or -1 if there is no property of that name. */
ETWL_API int32_t etwl_event_prop_find(etwl_event *ev, const char *name, size_t len);
/* Never fails for an index in range: a property that cannot be decoded comes
 * back as an ETWL_VT_ERROR value that says why. */
ETWL_API const etwl_value *etwl_event_prop(etwl_event *ev, uint32_t i);
/* Convenience: find + prop; NULL when absent. */
ETWL_API const etwl_value *etwl_event_get(etwl_event *ev, const char *name);

/* The value-map name of property i's number (ETW valueMap or bitMap, e.g.
 * "Running", or "Read|Write" for a bitmap), looked up on first use; NULL
 * when the property has no map or the map has no name for the value.  Valid
 * during the callback. */
ETWL_API const char *etwl_event_prop_map_name(etwl_event *ev, uint32_t i, uint32_t *len);

/* Raw payload (may be NULL for text sources). */
ETWL_API const uint8_t *etwl_event_payload(const etwl_event *ev, uint32_t *len);

/* ---- output ------------------------------------------------------------ */

/* A growable byte buffer used by the writers. */
typedef struct etwl_buf {
    char *data;
    size_t len, cap;
    int oom; /* set once an append failed; further appends are ignored */
} etwl_buf;

ETWL_API void etwl_buf_init(etwl_buf *b);
ETWL_API void etwl_buf_free(etwl_buf *b);
ETWL_API void etwl_buf_reset(etwl_buf *b);
ETWL_API void etwl_buf_put(etwl_buf *b, const void *p, size_t n);
ETWL_API void etwl_buf_puts(etwl_buf *b, const char *s);
ETWL_API void etwl_buf_putc(etwl_buf *b, char c);
ETWL_API void etwl_buf_printf(etwl_buf *b, const char *fmt, ...) ETWL_PRINTF(2, 3);

/* One event as one JSON line (no newline), in the input's shape. */
ETWL_API etwl_status etwl_event_write_json(etwl_event *ev, etwl_buf *out);
/* One event as one readable line (no newline).  Control characters, quotes
 * and bidi overrides are escaped, so hostile strings cannot move the cursor
 * or end a quoted value; a backslash shows as one backslash. */
ETWL_API etwl_status etwl_event_write_text(etwl_event *ev, etwl_buf *out);
/* Appends s as a JSON string literal (with quotes). */
ETWL_API void etwl_json_put_string(etwl_buf *b, const char *s, size_t n);
/* Appends s escaped for a terminal line (no quotes around it): controls,
 * bidi characters and '"' escaped, backslashes as they are. */
ETWL_API void etwl_text_put_escaped(etwl_buf *b, const char *s, size_t n);
/* Multi-line text (tracebacks): each line escaped on its own, tabs shown as
 * two spaces, and every line after the first starts with `prefix`, so the
 * text stays readable yet cannot forge a line of its own. */
ETWL_API void etwl_text_put_lines(etwl_buf *b, const char *s, size_t n, const char *prefix);

/* ---- session configuration ------------------------------------------- */

/* Trace levels (evntrace.h TRACE_LEVEL_*) */
#define ETWL_LEVEL_CRITICAL 1
#define ETWL_LEVEL_ERROR 2
#define ETWL_LEVEL_WARNING 3
#define ETWL_LEVEL_INFORMATION 4
#define ETWL_LEVEL_VERBOSE 5

/* Enable properties (evntrace.h EVENT_ENABLE_PROPERTY_*) */
#define ETWL_ENABLE_SID 0x001
#define ETWL_ENABLE_TS_ID 0x002
#define ETWL_ENABLE_STACK_TRACE 0x004
#define ETWL_ENABLE_IGNORE_KEYWORD_0 0x010
#define ETWL_ENABLE_PROCESS_START_KEY 0x080
#define ETWL_ENABLE_EVENT_KEY 0x100
#define ETWL_ENABLE_EXCLUDE_INPRIVATE 0x200

#define ETWL_MAX_PROVIDERS 64
/* MAX_EVENT_FILTER_EVENT_ID_COUNT: the most ids one ETW event-id filter takes */
#define ETWL_MAX_EVENT_IDS 64

typedef struct etwl_provider_spec {
    char name[256]; /* provider name, or "" when given by GUID only */
    etwl_guid guid;
    int has_guid;
    uint8_t level; /* 1..5; default 5 (verbose) */
    uint64_t match_any, match_all;
    /* Live ETW: only these event ids are wanted (an EVENT_FILTER_TYPE_EVENT_ID
     * filter, so the others are dropped in the kernel); 0 = all. */
    uint16_t event_ids[ETWL_MAX_EVENT_IDS];
    uint16_t nevent_ids;
} etwl_provider_spec;

/* The most one decoded event may hold; a longer one is "event too large".
 * max_line_bytes is at most this: a longer line could only give such an
 * event. */
#define ETWL_MAX_EVENT_BYTES (64u << 20)

typedef struct etwl_config {
    char name[128]; /* session name; default "etwlua" */
    etwl_provider_spec providers[ETWL_MAX_PROVIDERS];
    int nproviders;
    uint32_t kernel_flags;             /* ETW EVENT_TRACE_FLAG_* bits */
    uint32_t enable_props;             /* ETWL_ENABLE_* applied to every provider */
    const char *read_path;             /* replay source: file path or "-" */
    size_t max_line_bytes;             /* replay: longest accepted line, at most ETWL_MAX_EVENT_BYTES */
    int strict;                        /* replay: stop at the first malformed record */
    size_t buffer_kb;                  /* live: buffer size (per CPU on Linux) in KB; 0 = backend default */
    uint32_t min_buffers, max_buffers; /* live ETW: buffer pool; 0 = default */
    uint32_t flush_timer_s;            /* live ETW: seconds between buffer flushes; 0 = default */
    const char *backend;               /* NULL: replay when read_path, else live */
    const char *record_path;           /* live ETW: also write the events to this .etl file,
                                          and their schemas to record_path + ".schemas" */
    const char *schemas_path;          /* ETL replay: schemas written by a recording */
} etwl_config;

ETWL_API void etwl_config_init(etwl_config *cfg);
/* Parses "NAME|GUID[:LEVEL[:ANY[:ALL]]]" and appends it. */
ETWL_API etwl_status etwl_config_add_provider(etwl_config *cfg, const char *spec, etwl_error *err);
/* Parses "process,image_load,..." and ORs the flags in. */
ETWL_API etwl_status etwl_config_add_kernel_flags(etwl_config *cfg, const char *list, etwl_error *err);
/* Parses "SID,TS_ID,STACK_TRACE,..." and ORs the properties in. */
ETWL_API etwl_status etwl_config_add_enable_props(etwl_config *cfg, const char *list, etwl_error *err);
ETWL_API etwl_status etwl_level_parse(const char *s, uint8_t *out);

/* Kernel flag names, as used by -k and by the Windows kernel logger. */
typedef struct etwl_kernel_flag {
    const char *name;
    uint32_t bit; /* EVENT_TRACE_FLAG_* */
} etwl_kernel_flag;
ETWL_API const etwl_kernel_flag *etwl_kernel_flags(size_t *count);

/* Does the event pass the session's provider / kernel-flag selection?
 * Live sessions select in the OS; replay uses this to get the same result. */
ETWL_API int etwl_config_matches(const etwl_config *cfg, const etwl_event *ev);

/* ---- sessions ---------------------------------------------------------- */

typedef struct etwl_stats {
    uint64_t read;            /* records read from the source */
    uint64_t passed;          /* delivered to the callback */
    uint64_t filtered;        /* dropped by provider/kernel selection */
    uint64_t malformed;       /* skipped as malformed */
    uint64_t lost;            /* events lost by the source (buffers, overruns) */
    uint64_t buffers_lost;    /* ETW: whole buffers lost (real-time and log) */
    uint64_t buffers_written; /* ETW: buffers the session wrote */
} etwl_stats;

/* Return ETWL_OK to continue, anything else stops process() with that code. */
typedef etwl_status (*etwl_event_cb)(etwl_event *ev, void *user);
/* Called for each malformed record that is skipped (non-strict mode). */
typedef void (*etwl_diag_cb)(const char *where, const char *message, void *user);

typedef struct etwl_session etwl_session;

ETWL_API etwl_status etwl_session_open(const etwl_config *cfg, etwl_session **out, etwl_error *err);
ETWL_API void etwl_session_set_diag(etwl_session *s, etwl_diag_cb cb, void *user);
/* Blocks, calling cb synchronously and in order on this thread, until the
 * source ends or etwl_session_close() is called. */
ETWL_API etwl_status etwl_session_process(etwl_session *s, etwl_event_cb cb, void *user, etwl_error *err);
/* Async-signal-safe and thread-safe: makes process() return soon. */
ETWL_API void etwl_session_close(etwl_session *s);
ETWL_API void etwl_session_stats(etwl_session *s, etwl_stats *out);
ETWL_API const char *etwl_session_name(const etwl_session *s);
ETWL_API void etwl_session_free(etwl_session *s);
/* Stops a named session, in this process or (for live backends) on the OS. */
ETWL_API etwl_status etwl_session_kill(const char *backend, const char *name, etwl_error *err);

/* A session on the OS, as etwl_session_list() reports it. */
typedef struct etwl_session_info {
    const char *name;
    long owner_pid;  /* the process that started it; 0 when unknown */
    int owner_alive; /* that process still runs (a dead owner leaves the session recording) */
    int recording;   /* the session still records events */
} etwl_session_info;
typedef void (*etwl_session_list_fn)(const etwl_session_info *si, void *user);
/* Calls fn for each session this program's live backend started on the OS,
 * running or orphaned (as logman query -ets).  ETWL_ENOTSUP when the
 * backend cannot list them. */
ETWL_API etwl_status etwl_session_list(const char *backend, etwl_session_list_fn fn, void *user, etwl_error *err);

#ifdef __cplusplus
}
#endif
#endif
