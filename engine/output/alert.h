/* alert.h - an alert in its two shapes, written in one place.
 *
 * Script alerts (etw.alert), rule alerts and the engine's own alerts
 * (etwlua.events_lost) all go through etwl_alert_write, so every consumer
 * sees one schema: a JSON object per line, or one readable line for a
 * terminal.  Every string is escaped for the shape it is written in. */
#ifndef ETWL_OUTPUT_ALERT_H
#define ETWL_OUTPUT_ALERT_H

#include "etwl.h"

/* How the caller's lists and maps are written: the Lua host holds them as
 * Lua tables, the engine as C values.  Each writer appends the part in the
 * shape asked (json: a JSON array or object; text: "a,b" for techniques,
 * " k=v k=v" for fields, escaped).  json is 0 for text, else ETWL_ALERT_JSON
 * with the ETWL_FORM_HEX64 bit (schema_map.h) when big integers are asked for
 * as strings. */
typedef void (*etwl_alert_part)(etwl_buf *b, int json, void *ctx);

typedef struct etwl_alert {
    const char *time; /* RFC 3339 (etwl_time_format) */
    const char *rule;
    size_t rule_len;
    const char *title; /* NULL: the rule id */
    size_t title_len;
    const char *severity; /* info, low, medium, high, critical */
    const char *message;  /* may be NULL */
    size_t message_len;
    etwl_event *event;                  /* may be NULL */
    etwl_alert_part techniques, fields; /* may be NULL: none */
    void *ctx;
} etwl_alert;

/* The form of an alert. */
#define ETWL_ALERT_TEXT 0       /* one readable line */
#define ETWL_ALERT_JSON 1       /* one JSON object */
#define ETWL_ALERT_TEXT_COLOR 2 /* the readable line, severity and rule in colour */

/* Appends the alert (no newline) in the form asked (ETWL_ALERT_*, with the
 * schema and number bits of output/schema_map.h). */
void etwl_alert_write(etwl_buf *b, const etwl_alert *a, int form);

/* The form for a stream: JSON unless it is a terminal, coloured on a
 * terminal unless NO_COLOR is set (no-color.org). */
int etwl_alert_form_for(int is_terminal);

/* Where an event was read (ev.source) as JSON: {"file":..., "record"|
 * "line"|"offset": N}, or null for live events and events without one;
 * every schema writes it the same way. */
void etwl_source_write_json(etwl_buf *b, const etwl_event *ev);

#endif
