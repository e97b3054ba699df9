/* outputs.h - where alerts go: the -o outputs (engine/output/sink.h) and
 * stdout.
 *
 * Without -o, alerts go to stdout as before and none of this is used.  With
 * -o, alerts go to the outputs named, and to stdout only if "-o -" (or
 * "-o stdout") is one of them: a SIEM feed should not also flood a
 * terminal.  Every output gets the JSON alert (in the --schema asked);
 * stdout keeps its form (etwl_cli_stdout_form).  --dump still writes events
 * to stdout. */
#ifndef ETWL_CLI_OUTPUTS_H
#define ETWL_CLI_OUTPUTS_H

#include <stdio.h>

#include "opts.h"
#include "output/alert.h"

typedef struct etwl_outputs etwl_outputs;

/* NULL in *out (and ETWL_OK) when there is no -o. */
etwl_status etwl_outputs_open(const etwl_cli_opts *o, int stdout_form, etwl_outputs **out, etwl_error *err);
/* The alert writer (etwl_lua_opts.alert_write): enqueues the JSON alert on
 * every output, and writes stdout when it is kept.  Never blocks on an
 * output. */
void etwl_outputs_alert(const etwl_alert *a, void *outs);
/* Raises etwlua.output_dropped for outputs that dropped alerts since the
 * last call, on the other outputs (and stdout when kept; stderr when there
 * is no other). */
void etwl_outputs_check(etwl_outputs *x);
/* Flushes every output within its deadline and frees; says on stderr what
 * was not delivered, and with stats, each output's counters.  Returns 1 if
 * some alert was dropped or not delivered. */
int etwl_outputs_close(etwl_outputs *x, int stats);

/* `etwlua bench-outputs`: alerts/s per output (bench_outputs.c). */
int etwl_bench_outputs_main(int argc, char **argv);

#endif
