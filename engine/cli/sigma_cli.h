/* sigma_cli.h - Sigma rules in the etwlua command: --sigma and the
 * `etwlua sigma check|convert|test` subcommands (docs/sigma.md). */
#ifndef ETWL_CLI_SIGMA_H
#define ETWL_CLI_SIGMA_H

#include <stdio.h>

#include "opts.h"

typedef struct etwl_cli_sigma etwl_cli_sigma;

/* Loads every --sigma path with the filters and --rule/--skip-rule, says on
 * stderr which rules cannot run and why, and records in o->sigma_known the
 * selection ids that are Sigma ids.  NULL *out with ETWL_OK: no --sigma. */
etwl_status etwl_cli_sigma_setup(etwl_cli_opts *o, etwl_cli_sigma **out, etwl_error *err);
/* Matches the event; alerts go to fp in the terminal's or JSON form. */
void etwl_cli_sigma_event(etwl_cli_sigma *cs, etwl_event *ev, FILE *fp);
/* Alerts go to these -o outputs (engine/cli/outputs.c) instead of fp. */
void etwl_cli_sigma_set_outputs(etwl_cli_sigma *cs, void *outs);
/* The rules that run (0 for NULL: no --sigma). */
size_t etwl_cli_sigma_running(const etwl_cli_sigma *cs);
/* Reports regex limit hits (always) and counters (with stats); frees. */
void etwl_cli_sigma_finish(etwl_cli_sigma *cs, int stats);
int etwl_sigma_cli_main(int argc, char **argv);

#endif
