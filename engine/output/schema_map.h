/* schema_map.h - alerts and events in standard schemas (--schema) and the
 * JSON number options (--hex-keywords).
 *
 * The JSON form of an alert or an event is native (etwlua's own shape,
 * alert.c and json_write.c), ECS (schema_ecs.c) or OCSF (schema_ocsf.c).
 * The choice travels with the alert form (ETWL_ALERT_*, alert.h) as flag
 * bits, so every writer that already takes a form - stdout, the -o outputs,
 * Sigma, the Lua host - gets it without a new parameter.  Each mapping is a
 * set of tables in one file; docs/outputs.md documents them and
 * tests/output/schema_check.py checks the names and JSON types against the
 * published references. */
#ifndef ETWL_OUTPUT_SCHEMA_MAP_H
#define ETWL_OUTPUT_SCHEMA_MAP_H

#include "etwl.h"
#include "output/alert.h"

/* Flag bits over an ETWL_ALERT_* form.  ETWL_FORM_BASE picks the base form
 * back out.  The schema bits only change JSON. */
#define ETWL_FORM_BASE(f) ((f)&0x0f)
#define ETWL_FORM_ECS 0x10
#define ETWL_FORM_OCSF 0x20
#define ETWL_FORM_SCHEMA_MASK 0x30
/* 64-bit masks, keys and addresses as "0x..." strings, and any other
 * integer beyond +-2^53 as a string: JSON readers that hold numbers as
 * doubles (jq, JavaScript) would round them. */
#define ETWL_FORM_HEX64 0x40

/* The --schema names, index = ETWL_FORM_* >> 4 (native 0, ecs 1, ocsf 2). */
extern const char *const etwl_schema_names[];
/* The form bits for a --schema name; -1 if unknown, with the nearest name
 * in *nearest. */
int etwl_schema_parse(const char *name, const char **nearest);

/* Writes the alert in the form's schema and returns 1, or returns 0 when
 * the form is not JSON in ECS or OCSF (alert.c then writes it). */
int etwl_schema_alert(etwl_buf *b, const etwl_alert *a, int form);
/* An event for --dump --json in the form's schema (native included). */
etwl_status etwl_schema_event(etwl_event *ev, etwl_buf *b, int form);

/* Native JSON with the ETWL_FORM_HEX64 bit honoured (json_write.c). */
etwl_status etwl_event_write_json_form(etwl_event *ev, etwl_buf *b, int form);
void etwl_json_put_value_form(etwl_buf *b, const etwl_value *v, int form);
/* An integer as JSON: a number, or with ETWL_FORM_HEX64 and beyond 2^53,
 * a "0x..." string (negative: a decimal string). */
void etwl_json_put_i64(etwl_buf *b, int64_t v, int form);
void etwl_json_put_u64(etwl_buf *b, uint64_t v, int form);

/* ---- shared by the schema writers (schema_map.c) --------------------------- */

/* What an event says about the process it concerns, found through a table
 * of the process sources' property names.  Values point into the event. */
typedef struct etwl_schema_proc {
    int has_pid, has_ppid;
    int image_is_name; /* image is a file name only (the kernel logger's ImageFileName), not a path */
    uint64_t pid, ppid, tid;
    const etwl_value *image, *cmdline, *user, *domain;
    const etwl_value *parent_image, *parent_cmdline;
    const char *sid; /* the user's SID, or NULL */
    uint32_t sid_len;
    /* the user's name and domain: "DOMAIN\user" (Sysmon's User) is split */
    const char *user_name, *user_domain; /* NULL when unknown */
    size_t user_name_len, user_domain_len;
} etwl_schema_proc;

void etwl_schema_proc_of(etwl_event *ev, etwl_schema_proc *p);
/* The host: the event's computer, else this machine's name. */
const char *etwl_schema_host(etwl_event *ev, size_t *len);
/* FILETIME to Unix milliseconds (OCSF timestamp_t). */
int64_t etwl_schema_unix_ms(int64_t filetime);
/* 1 (info) .. 5 (critical), the order OCSF's severity_id uses. */
int etwl_schema_severity_id(const char *severity);

/* A small JSON object writer: keys separated by commas, nested objects
 * opened and closed by the caller. */
typedef struct etwl_jobj {
    etwl_buf *b;
    int first[8], depth;
} etwl_jobj;

void etwl_jobj_open(etwl_jobj *o, etwl_buf *b);
void etwl_jobj_key(etwl_jobj *o, const char *key);
void etwl_jobj_begin(etwl_jobj *o, const char *key); /* "key":{ */
void etwl_jobj_elem(etwl_jobj *o);                   /* { as an array element */
void etwl_jobj_end(etwl_jobj *o);                    /* } */
void etwl_jobj_str(etwl_jobj *o, const char *key, const char *s, size_t n);
void etwl_jobj_cstr(etwl_jobj *o, const char *key, const char *s);
void etwl_jobj_int(etwl_jobj *o, const char *key, int64_t v);

/* What a schema has no field for, in etwlua's own shape, into the open
 * object o (ECS's etwlua namespace, OCSF's unmapped): the alert's source,
 * fields and whole event. */
void etwl_schema_put_native(etwl_jobj *o, const etwl_alert *a, int form);
/* A string property (ETWL_VT_STRING, not empty or "-"); nothing otherwise. */
int etwl_jobj_value_str(etwl_jobj *o, const char *key, const etwl_value *v);
/* The file name part of a path value. */
int etwl_jobj_value_basename(etwl_jobj *o, const char *key, const etwl_value *v);
/* Appends the strings of a JSON array (as alert.c's technique writers give
 * it) one by one through fn; other elements are skipped. */
void etwl_json_each_string(const char *json, size_t n, void (*fn)(const char *quoted, size_t len, void *ctx),
                           void *ctx);

void etwl_alert_write_ecs(etwl_buf *b, const etwl_alert *a, int form);
void etwl_alert_write_ocsf(etwl_buf *b, const etwl_alert *a, int form);
etwl_status etwl_event_write_ecs(etwl_event *ev, etwl_buf *b, int form);
etwl_status etwl_event_write_ocsf(etwl_event *ev, etwl_buf *b, int form);

#endif
