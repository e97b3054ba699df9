/* output.h - helpers shared by the JSON and text writers. */
#ifndef ETWL_OUTPUT_H
#define ETWL_OUTPUT_H

#include "etwl.h"

/* Shortest decimal text that reads back as the same double. */
void etwl_fmt_double(etwl_buf *b, double d);
void etwl_json_put_value(etwl_buf *b, const etwl_value *v);

#endif
