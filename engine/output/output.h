/* output.h - helpers shared by the JSON and text writers. */
#ifndef ETWL_OUTPUT_H
#define ETWL_OUTPUT_H

#include "etwl.h"

/* Shortest decimal text that reads back as the same double. */
void etwl_fmt_double(etwl_buf *b, double d);
void etwl_json_put_value(etwl_buf *b, const etwl_value *v);
/* As etwl_text_put_escaped, but quotes stay as they are too: for forms
 * with no quoted values (the process tree) or that mimic another tool's
 * output (TraceEvent baselines). */
void etwl_text_put_controls_escaped(etwl_buf *b, const char *s, size_t n);

#endif
