/* json_read.h - JSON-lines event parser (yajl). */
#ifndef ETWL_JSON_READ_H
#define ETWL_JSON_READ_H

#include <stddef.h>

#include "core/event.h"

typedef struct etwl_json_reader etwl_json_reader;

etwl_json_reader *etwl_json_reader_new(void);
void etwl_json_reader_free(etwl_json_reader *r);
/* Parses one line into ev (which the caller has begun).  On ETWL_EPARSE,
 * errbuf says what and where inside the line. */
etwl_status etwl_json_parse_event(etwl_json_reader *r, const char *line, size_t len, etwl_event *ev, char *errbuf,
                                  size_t errsz);

#endif
