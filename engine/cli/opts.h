/* opts.h - etwlua command-line parsing, kept apart from main() so that the
 * tests can drive it. */
#ifndef ETWL_CLI_OPTS_H
#define ETWL_CLI_OPTS_H

#include "etwl.h"

/* Exit codes, documented in the README. */
enum {
    ETWL_EXIT_OK = 0,
    ETWL_EXIT_FAILURE = 1, /* runtime failure: I/O, strict-mode bad input */
    ETWL_EXIT_USAGE = 2,   /* bad command line */
    ETWL_EXIT_EXISTS = 3,  /* the session name is taken */
    ETWL_EXIT_NOTSUP = 4,  /* not available on this platform or build */
    ETWL_EXIT_ACCESS = 5,  /* needs root / Administrator */
    ETWL_EXIT_SCRIPT = 6   /* a script failed to load */
};

#define ETWL_CLI_MAX_SCRIPTS 64
#define ETWL_CLI_MAX_OUTPUTS 16
#define ETWL_CLI_MAX_JOBS 64

/* A script file, or inline code from -e, in command-line order. */
typedef struct etwl_cli_script {
    const char *path; /* NULL for -e */
    const char *code;
} etwl_cli_script;

typedef struct etwl_cli_opts {
    etwl_config cfg;
    int dump, json, stats, help, version;
    int traceevent; /* --format traceevent */
    int format;     /* --format/--json given: ETWL_CLI_FORMAT_*; 0 = the default */
    int schema;     /* --schema: ETWL_FORM_ECS, ETWL_FORM_OCSF or 0 (output/schema_map.h) */
    int hex64;      /* --hex-keywords */
    int alerts_only, unsafe;
    int fail_on_error;       /* handler errors give exit 1 */
    long budget;             /* 0 = default */
    double duration;         /* seconds; 0 = until stopped */
    long proc_grace;         /* seconds exited processes stay in the table; 0 = default */
    long memory_mb;          /* 0 = default */
    long handler_timeout_ms; /* --handler-timeout; 0 = default */
    const char *lua_dir;
    int no_rules;
    const char *rules_dirs[16];
    int nrules_dirs;
    const char *rule_only[64], *rule_skip[64];
    int nrule_only, nrule_skip;
    const char *kill;
    /* Sigma rules (engine/sigma): --sigma paths, the filters, and the
     * --rule/--skip-rule ids found among them (known to the rule check) */
    const char *sigma_paths[16];
    int nsigma;
    const char *sigma_level, *sigma_status, *sigma_config;
    const char *sigma_known[128];
    int nsigma_known;
    int list;              /* --list */
    int record;            /* etwlua record -o FILE.etl */
    int evtx_libevtx;      /* --evtx-reader libevtx */
    int evtx_reader_given; /* --evtx-reader at all */
    /* -o SPEC outputs (outputs.h); their queue bounds and flush deadline */
    const char *outputs[ETWL_CLI_MAX_OUTPUTS];
    int noutputs;
    long out_queue, out_queue_mb; /* 0 = default */
    double out_flush;             /* seconds; 0 = default */
    int out_insecure;
    long jobs;         /* -j: files replayed in parallel; 0 = not given */
    int summary;       /* --summary 1, --no-summary -1, 0: replays on a terminal */
    int no_progress;   /* --no-progress */
    int watch;         /* --watch: reload when a script or rule file changes */
    double tree_every; /* --tree-every SECONDS (live); 0: only on SIGUSR2 */
    etwl_cli_script scripts[ETWL_CLI_MAX_SCRIPTS];
    int nscripts;
} etwl_cli_opts;

enum { ETWL_CLI_FORMAT_TEXT = 1, ETWL_CLI_FORMAT_JSON, ETWL_CLI_FORMAT_TRACEEVENT };

/* The alert form (ETWL_ALERT_* with schema_map.h's bits) on stdout: --format
 * decides; by default JSON when stdout is not a terminal (or a --schema is
 * asked for), a readable line on a terminal. */
int etwl_cli_stdout_form(const etwl_cli_opts *o, int is_terminal);
/* The form on the -o outputs: always JSON, in the --schema asked for. */
int etwl_cli_output_form(const etwl_cli_opts *o);

/* Returns ETWL_EXIT_OK or ETWL_EXIT_USAGE with a message in err. */
int etwl_cli_parse(int argc, char **argv, etwl_cli_opts *o, etwl_error *err);
int etwl_exit_code(etwl_status st);
extern const char etwl_cli_usage[];

#endif
