/* sigma_cli.h - Sigma rules in the etwlua command: --sigma and the
 * `etwlua sigma check|convert|test` subcommands (docs/sigma.md). */
#ifndef ETWL_CLI_SIGMA_H
#define ETWL_CLI_SIGMA_H

#include <stdio.h>

#include "opts.h"

struct etwl_alert;

typedef struct etwl_cli_sigma etwl_cli_sigma;

/* Loads every --sigma path with the filters and --rule/--skip-rule, says on
 * stderr which rules cannot run and why, and records in o->sigma_known the
 * selection ids that are Sigma ids.  NULL *out with ETWL_OK: no --sigma. */
etwl_status etwl_cli_sigma_setup(etwl_cli_opts *o, etwl_cli_sigma **out, etwl_error *err);
/* Matches the event; alerts go to fp in the terminal's or JSON form. */
void etwl_cli_sigma_event(etwl_cli_sigma *cs, etwl_event *ev, FILE *fp);
/* Alerts go to these -o outputs (engine/cli/outputs.c) instead of fp. */
void etwl_cli_sigma_set_outputs(etwl_cli_sigma *cs, void *outs);
/* The set, for the Lua host (scripts see and extend the --sigma rules, and
 * the host matches them); NULL without --sigma or without Sigma support.
 * With a host, the command leaves matching to it and counts its alerts. */
struct etwl_sigma *etwl_cli_sigma_set(etwl_cli_sigma *cs);
void etwl_cli_sigma_add_alerts(etwl_cli_sigma *cs, uint64_t alerts, uint64_t suppressed);
/* The rules that run (0 for NULL: no --sigma). */
size_t etwl_cli_sigma_running(const etwl_cli_sigma *cs);
/* Reports regex limit hits (always) and counters (with stats); frees. */
void etwl_cli_sigma_finish(etwl_cli_sigma *cs, int stats);
/* The same set again for a parallel replay's worker (-j): built quietly
 * (the first setup has said what runs); NULL in *out without --sigma. */
etwl_status etwl_cli_sigma_setup_quiet(etwl_cli_opts *o, etwl_cli_sigma **out, etwl_error *err);
/* Alerts go to write(alert, ctx) instead of stdout or the outputs. */
void etwl_cli_sigma_set_writer(etwl_cli_sigma *cs, void (*write)(const struct etwl_alert *a, void *ctx), void *ctx);
/* Adds a worker's counters (alerts, regex limit hits, correlation
 * evictions) to `into`, for the one report at exit, and frees the worker's
 * set. */
void etwl_cli_sigma_absorb(etwl_cli_sigma *into, etwl_cli_sigma *from);
int etwl_sigma_cli_main(int argc, char **argv);

#endif
