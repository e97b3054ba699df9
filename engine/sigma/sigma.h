/* sigma.h - Sigma rules (specification v2), compiled to a plan and matched
 * in C against every event.
 *
 * A set (etwl_sigma) holds every rule file loaded, including the ones that
 * cannot run here: each of those keeps the reason, so no rule is dropped
 * silently (etwlua sigma check lists them).  Rules are indexed by their log
 * source, so an event meets only the rules of its provider (or channel) and
 * event id. */
#ifndef ETWL_SIGMA_H
#define ETWL_SIGMA_H

#include "etwl.h"
#include "output/alert.h"

typedef struct etwl_sigma etwl_sigma;

/* Why a rule does not run (ETWL_SIGMA_OK: it runs). */
typedef enum etwl_sigma_state {
    ETWL_SIGMA_OK = 0,
    ETWL_SIGMA_FILTERED,    /* --sigma-level / --sigma-status / --rule left it out */
    ETWL_SIGMA_YAML,        /* not valid YAML, or not a rule */
    ETWL_SIGMA_LOGSOURCE,   /* a log source etwlua does not serve */
    ETWL_SIGMA_MODIFIER,    /* a modifier etwlua does not implement */
    ETWL_SIGMA_CONDITION,   /* condition syntax or an unknown selection */
    ETWL_SIGMA_VALUE,       /* a value a modifier cannot take (bad regex, bad CIDR) */
    ETWL_SIGMA_CORRELATION, /* a correlation etwlua cannot serve, or naming rules that do not run */
    ETWL_SIGMA_NSTATES
} etwl_sigma_state;

typedef struct etwl_sigma_rule_info {
    const char *id, *title, *path, *level, *status, *author;
    const char *logsource; /* "product/category/service" as written */
    etwl_sigma_state state;
    const char *reason; /* NULL when it runs */
    const char *note;   /* runs, but something is worth saying (a field the source lacks) */
} etwl_sigma_rule_info;

etwl_status etwl_sigma_new(etwl_sigma **out);
void etwl_sigma_free(etwl_sigma *s);
const char *etwl_sigma_state_name(etwl_sigma_state st);

/* Filters for the rules loaded after them: the lowest level kept
 * (informational, low, medium, high, critical), and a comma list of the
 * statuses kept (stable, test, experimental, deprecated, unsupported). */
etwl_status etwl_sigma_set_min_level(etwl_sigma *s, const char *level, etwl_error *err);
etwl_status etwl_sigma_set_statuses(etwl_sigma *s, const char *list, etwl_error *err);

/* Placeholder values for the |expand modifier, from a YAML file:
 *   placeholders:            (or vars:)
 *     Admins_Workstations: [ws1, ws2]
 * For the rules loaded after it. */
etwl_status etwl_sigma_set_config(etwl_sigma *s, const char *path, etwl_error *err);

/* Loads a .yml/.yaml file, or every one under a folder (sorted; folders
 * named deprecated or unsupported are skipped).  Fails only when the path
 * cannot be read; a rule that cannot run is kept with its reason. */
etwl_status etwl_sigma_load(etwl_sigma *s, const char *path, etwl_error *err);
/* Loads one rule from memory (tests, Lua); name stands for the file. */
etwl_status etwl_sigma_load_string(etwl_sigma *s, const char *text, size_t n, const char *name, etwl_error *err);

size_t etwl_sigma_count(const etwl_sigma *s);
size_t etwl_sigma_running(const etwl_sigma *s);
const etwl_sigma_rule_info *etwl_sigma_rule(const etwl_sigma *s, size_t i);
/* Index of the rule with that id, or -1. */
long etwl_sigma_find(const etwl_sigma *s, const char *id);

/* --rule / --skip-rule: with only set, the rules not named are filtered out;
 * skipped rules are filtered out.  Ids that name no Sigma rule are ignored
 * here (they may name Lua rules). */
void etwl_sigma_select(etwl_sigma *s, const char *const *only, int nonly, const char *const *skip, int nskip);

/* For the Lua API (engine/lua/lua_sigma.c): rule i's tags; leaving a
 * running rule out (FILTERED, with why); and extending it with
 * "and not MAP", MAP a selection as a rule writes it: keys[k] a field with
 * its modifiers, vals[k][0..nv[k]) its values (any of them).  A rule that
 * does not run, or a correlation, is refused with the reason (ETWL_EINVAL). */
int etwl_sigma_rule_tags(const etwl_sigma *s, size_t i, const char *const **tags);
void etwl_sigma_filter_out(etwl_sigma *s, size_t i, const char *why);
etwl_status etwl_sigma_exclude(etwl_sigma *s, size_t i, const char *const *keys, const char *const *const *vals,
                               const int *nv, int n, etwl_error *err);

/* Builds the index and the prefilters (also done by the first match);
 * fails only out of memory. */
etwl_status etwl_sigma_prepare(etwl_sigma *s, etwl_error *err);

/* Evaluates the event against its rules; calls hit for each match.  Returns
 * the number of matches. */
typedef void (*etwl_sigma_hit_fn)(void *ctx, etwl_event *ev, size_t rule);
size_t etwl_sigma_match(etwl_sigma *s, etwl_event *ev, etwl_sigma_hit_fn hit, void *ctx);

/* The alert for a match, in an ETWL_ALERT_* form (no newline). */
void etwl_sigma_alert(const etwl_sigma *s, size_t rule, etwl_event *ev, etwl_buf *b, int form);
/* The same alert as a structure, for the outputs; ts holds its time text
 * and must live as long as *a. */
void etwl_sigma_alert_of(const etwl_sigma *s, size_t rule, etwl_event *ev, etwl_alert *a,
                         char ts[ETWL_TIME_STRLEN + 1]);

/* The compiled plan of a rule, readable (etwlua sigma convert). */
void etwl_sigma_plan(const etwl_sigma *s, size_t rule, etwl_buf *b);

/* Regular expressions that hit the PCRE2 match or depth limit (counted as
 * no match). */
uint64_t etwl_sigma_regex_limit_hits(const etwl_sigma *s);

/* Correlation state: groups dropped to stay within bounds (expired ones are
 * not counted), and groups held now. */
uint64_t etwl_sigma_corr_evictions(const etwl_sigma *s);
size_t etwl_sigma_corr_groups(const etwl_sigma *s);

#endif
