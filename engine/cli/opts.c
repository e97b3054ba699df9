/* opts.c - see opts.h */
#include "opts.h"

#include <stdlib.h>
#include <string.h>

#include "output/alert.h"
#include "output/schema_map.h"

const char etwl_cli_usage[] = "usage: etwlua [options] [script.lua ...]\n"
                              "       etwlua bench [N]        measure the scripting path (docs/performance.md)\n"
                              "       etwlua test [RULES...]  run rules over their own examples\n"
                              "       etwlua tree -r FILE [--pid N] [--at TIME]  the process tree of a recording\n"
                              "       etwlua shell -r FILE | [-p ...] [-k ...]  a Lua prompt over a trace\n"
                              "       etwlua sigma check|convert|test ...  Sigma rules (docs/sigma.md)\n"
                              "       etwlua record -o FILE.etl [SELECTION] [SCRIPTS]\n"
                              "                               record a live ETW session (Windows) to an .etl\n"
                              "                               file, and each event type's schema beside it\n"
                              "\n"
                              "Sources\n"
                              "  -r, --read FILE|DIR|-    replay a recording: JSON lines, an .evtx file or a\n"
                              "                           folder of them, an .etl file (also .etl.zip, .etl.gz)\n"
                              "                           on every OS; '-' reads JSON lines on stdin\n"
                              "      --schemas FILE       ETL replay: schemas written by 'etwlua record'\n"
                              "      --evtx-reader R      EVTX replay: native (default) or libevtx (the slower\n"
                              "                           reader it is checked against)\n"
                              "  -j, --jobs N             replay a folder's files N at a time (1-64), each\n"
                              "                           worker with its own Lua state and process tables\n"
                              "  (none)                   a live session (Linux: tracefs; Windows: ETW);\n"
                              "                           with no script and no --dump it runs the rule library\n"
                              "                           and prints alerts (with --no-rules: process starts)\n"
                              "\n"
                              "Selection (live: enabled in the OS; replay: applied as a filter)\n"
                              "  -p, --provider SPEC      NAME|GUID[:LEVEL[:ANY[:ALL]]], repeatable; LEVEL is\n"
                              "                           critical|error|warning|information|verbose or 1-5,\n"
                              "                           ANY/ALL are keyword masks (0x... or decimal)\n"
                              "  -k, --kernel FLAGS       kernel flags: process,thread,image_load,network,...\n"
                              "  -E, --enable PROPS       SID,TS_ID,STACK_TRACE,IGNORE_KEYWORD_0,EXCLUDE_INPRIVATE,\n"
                              "                           PROCESS_START_KEY,EVENT_KEY\n"
                              "  -n, --name NAME          session name (default etwlua)\n"
                              "      --duration SECONDS   stop by itself after this long\n"
                              "      --buffer-kb N        live: buffer size in KB (Linux: per CPU; ETW: 64)\n"
                              "      --min-buffers N      live ETW: buffers allocated at start (OS default)\n"
                              "      --max-buffers N      live ETW: most buffers before events are lost (OS default)\n"
                              "      --flush-timer SECS   live ETW: flush buffers at least this often (1)\n"
                              "      --kill NAME          stop the named session and exit\n"
                              "      --list               list etwlua's live sessions, their owner's pid and\n"
                              "                           whether it still runs, and exit\n"
                              "\n"
                              "Scripts (run in the order given)\n"
                              "  script.lua               load a Lua script\n"
                              "  -e CODE                  run a one-line script\n"
                              "      --budget N           instructions per handler call (default 1000000)\n"
                              "      --handler-timeout MS wall-clock limit of one handler call (default 1000)\n"
                              "      --memory-mb N        memory cap of the Lua state (default 256)\n"
                              "      --unsafe             give scripts io, os, debug and package\n"
                              "      --lua-dir DIR        where require() finds modules (default: lua/)\n"
                              "      --proc-grace SECONDS how long exited processes stay in the process table (60)\n"
                              "      --alerts-only        print nothing but alerts on stdout\n"
                              "      --watch              reload the scripts and rules (Lua and Sigma) when one of\n"
                              "                           their files changes, as SIGHUP does (Linux)\n"
                              "      --fail-on-error      exit 1 when a handler raised an error (they are\n"
                              "                           counted and reported, and processing goes on)\n"
                              "\n"
                              "Rules (the library in lua/rules loads by default, before scripts)\n"
                              "      --rules PATH         also load the rules in this file or folder\n"
                              "      --no-rules           do not load the library\n"
                              "      --rule ID            run only this rule (repeatable)\n"
                              "      --skip-rule ID       do not run this rule (repeatable; Lua or Sigma ids)\n"
                              "      --sigma PATH         also run the Sigma rules in this .yml file or folder\n"
                              "                           (repeatable; deprecated/ and unsupported/ skipped)\n"
                              "      --sigma-level LEVEL  only Sigma rules of this level or higher\n"
                              "      --sigma-status LIST  only Sigma rules of these statuses (stable,test,...)\n"
                              "      --sigma-config FILE  values of the placeholders |expand names\n"
                              "\n"
                              "Output\n"
                              "      --dump               print every event that passes the selection\n"
                              "      --format F           text or json for --dump's events (default text) and for\n"
                              "                           alerts (default: text on a terminal, else JSON lines);\n"
                              "                           or traceevent, --dump in TraceEvent's baseline form\n"
                              "                           (first 5 events of each name, then counts)\n"
                              "      --json               the same as --format json\n"
                              "      --schema S           JSON alerts and events as native (default), ecs (Elastic\n"
                              "                           Common Schema) or ocsf (Detection Finding); on stdout\n"
                              "                           and every -o output (docs/outputs.md has the mapping)\n"
                              "      --hex-keywords       JSON: 64-bit keywords, keys and addresses as \"0x...\"\n"
                              "                           strings, other integers beyond 2^53 as strings\n"
                              "      --stats              print counters on exit (stderr)\n"
                              "      --summary            replays: alerts by rule, severity and host, events by\n"
                              "                           provider, handler errors, on exit (stderr; the default\n"
                              "                           when stderr is a terminal; --no-summary: never)\n"
                              "      --no-progress        no progress line (shown for replays when stderr is a\n"
                              "                           terminal)\n"
                              "      --tree-every SECONDS live: print the process tree on stderr this often (and\n"
                              "                           on SIGUSR2)\n"
                              "  -o, --output SPEC        send alerts there instead of stdout, repeatable:\n"
                              "                           file:PATH, syslog: (/dev/log), syslog:udp://HOST:PORT,\n"
                              "                           syslog:tcp://HOST:PORT, http(s)://URL (Elasticsearch\n"
                              "                           .../_bulk or Splunk .../services/collector),\n"
                              "                           kafka://BROKERS/TOPIC; '-' keeps stdout too\n"
                              "      --output-queue N     alerts queued per output before drops (100000)\n"
                              "      --output-queue-mb N  bytes queued per output before drops, in MiB (64)\n"
                              "      --output-flush SECS  deadline to deliver what is queued at exit (5)\n"
                              "      --output-insecure    https: do not verify the certificate (loudly)\n"
                              "\n"
                              "Input checking\n"
                              "      --strict             stop at the first malformed record (exit 1)\n"
                              "      --max-line-bytes N   longest JSON line accepted (default 1048576, at most\n"
                              "                           67108864: 64 MiB, the most one event may hold)\n"
                              "\n"
                              "  -h, --help               this text\n"
                              "      --version            print the version\n"
                              "\n"
                              "Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 session exists,\n"
                              "4 not supported here, 5 access denied, 6 script failed to load.\n";

int etwl_cli_stdout_form(const etwl_cli_opts *o, int is_terminal)
{
    int base;
    if (o->format == ETWL_CLI_FORMAT_JSON || (o->format != ETWL_CLI_FORMAT_TEXT && o->schema)) base = ETWL_ALERT_JSON;
    else if (o->format == ETWL_CLI_FORMAT_TEXT) base = is_terminal ? etwl_alert_form_for(1) : ETWL_ALERT_TEXT;
    else base = etwl_alert_form_for(is_terminal);
    return base | o->schema | (o->hex64 ? ETWL_FORM_HEX64 : 0);
}

int etwl_cli_output_form(const etwl_cli_opts *o)
{
    return ETWL_ALERT_JSON | o->schema | (o->hex64 ? ETWL_FORM_HEX64 : 0);
}

int etwl_exit_code(etwl_status st)
{
    switch (st) {
    case ETWL_OK: return ETWL_EXIT_OK;
    case ETWL_EINVAL: return ETWL_EXIT_USAGE;
    case ETWL_EEXIST: return ETWL_EXIT_EXISTS;
    case ETWL_ENOTSUP: return ETWL_EXIT_NOTSUP;
    case ETWL_EACCES: return ETWL_EXIT_ACCESS;
    default: return ETWL_EXIT_FAILURE;
    }
}

/* Matches "--long", "--long=value" or "-s"; sets *val for options that take
 * one, consuming the next argument when needed. */
static int opt(int argc, char **argv, int *i, const char *s, const char *l, int takes, const char **val,
               etwl_error *err, int *bad)
{
    const char *a = argv[*i];
    size_t ll = l ? strlen(l) : 0;
    int hit = 0;
    *val = NULL;
    if (s && strcmp(a, s) == 0) hit = 1;
    if (l && strncmp(a, l, ll) == 0 && (a[ll] == 0 || (a[ll] == '=' && takes))) {
        hit = 1;
        if (a[ll] == '=') {
            *val = a + ll + 1;
            return 1;
        }
    }
    if (!hit) return 0;
    if (!takes) return 1;
    if (*i + 1 >= argc) {
        etwl_error_set(err, ETWL_EINVAL, "option %s needs a value", a);
        *bad = 1;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

static int parse_long(const char *v, long lo, long hi, long *out, const char *name, etwl_error *err)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || n < lo || n > hi) {
        etwl_error_set(err, ETWL_EINVAL, "%s: expected a number from %ld to %ld", name, lo, hi);
        return 0;
    }
    *out = n;
    return 1;
}

static int add_id(const char **list, int *n, const char *v, etwl_error *err)
{
    if (*n == 64) {
        etwl_error_set(err, ETWL_EINVAL, "at most 64 --rule and 64 --skip-rule");
        return 0;
    }
    list[(*n)++] = v;
    return 1;
}

int etwl_cli_parse(int argc, char **argv, etwl_cli_opts *o, etwl_error *err)
{
    int i, bad = 0, only_args = 0;
    const char *v;
    memset(o, 0, sizeof *o);
    etwl_config_init(&o->cfg);
    i = 1;
    if (argc > 1 && strcmp(argv[1], "record") == 0) {
        o->record = 1;
        i = 2;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || strcmp(a, "-") == 0) {
            if (o->nscripts == ETWL_CLI_MAX_SCRIPTS) {
                etwl_error_set(err, ETWL_EINVAL, "at most %d scripts", ETWL_CLI_MAX_SCRIPTS);
                return ETWL_EXIT_USAGE;
            }
            o->scripts[o->nscripts].path = a;
            o->scripts[o->nscripts++].code = NULL;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = 1;
        } else if (opt(argc, argv, &i, "-r", "--read", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            if (!*v) {
                etwl_error_set(err, ETWL_EINVAL, "--read needs a file name or -");
                return ETWL_EXIT_USAGE;
            }
            o->cfg.read_path = v;
        } else if (opt(argc, argv, &i, "-p", "--provider", 1, &v, err, &bad)) {
            if (bad || etwl_config_add_provider(&o->cfg, v, err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, "-k", "--kernel", 1, &v, err, &bad)) {
            if (bad || etwl_config_add_kernel_flags(&o->cfg, v, err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, "-E", "--enable", 1, &v, err, &bad)) {
            if (bad || etwl_config_add_enable_props(&o->cfg, v, err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, "-n", "--name", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            if (!*v || strlen(v) >= sizeof o->cfg.name) {
                etwl_error_set(err, ETWL_EINVAL, "session name must be 1 to %zu bytes", sizeof o->cfg.name - 1);
                return ETWL_EXIT_USAGE;
            }
            strcpy(o->cfg.name, v);
        } else if (opt(argc, argv, &i, NULL, "--list", 0, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->list = 1;
        } else if (opt(argc, argv, &i, NULL, "--kill", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->kill = v;
        } else if (opt(argc, argv, &i, NULL, "--max-line-bytes", 1, &v, err, &bad)) {
            char *end;
            unsigned long long n;
            if (bad) return ETWL_EXIT_USAGE;
            n = strtoull(v, &end, 10);
            /* a longer line could only give an event over the event limit */
            if (*v < '0' || *v > '9' || *end || n < 64 || n > ETWL_MAX_EVENT_BYTES) {
                etwl_error_set(
                    err, ETWL_EINVAL,
                    "--max-line-bytes: expected a number from 64 to %u (64 MiB, the most one event may hold)",
                    ETWL_MAX_EVENT_BYTES);
                return ETWL_EXIT_USAGE;
            }
            o->cfg.max_line_bytes = (size_t)n;
        } else if (opt(argc, argv, &i, "-e", NULL, 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            if (o->nscripts == ETWL_CLI_MAX_SCRIPTS) {
                etwl_error_set(err, ETWL_EINVAL, "at most %d scripts", ETWL_CLI_MAX_SCRIPTS);
                return ETWL_EXIT_USAGE;
            }
            o->scripts[o->nscripts].path = NULL;
            o->scripts[o->nscripts++].code = v;
        } else if (opt(argc, argv, &i, NULL, "--budget", 1, &v, err, &bad)) {
            if (bad || !parse_long(v, 1000, 2000000000L, &o->budget, "--budget", err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--handler-timeout", 1, &v, err, &bad)) {
            if (bad || !parse_long(v, 10, 3600000L, &o->handler_timeout_ms, "--handler-timeout", err))
                return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--memory-mb", 1, &v, err, &bad)) {
            if (bad || !parse_long(v, 4, 65536, &o->memory_mb, "--memory-mb", err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--duration", 1, &v, err, &bad)) {
            char *end;
            double d;
            if (bad) return ETWL_EXIT_USAGE;
            d = strtod(v, &end);
            if (*v < '0' || *v > '9' || *end || !(d > 0 && d <= 31536000)) {
                etwl_error_set(err, ETWL_EINVAL, "--duration: expected seconds, more than 0 and at most a year");
                return ETWL_EXIT_USAGE;
            }
            o->duration = d;
        } else if (opt(argc, argv, &i, NULL, "--tree-every", 1, &v, err, &bad)) {
            char *end;
            double d;
            if (bad) return ETWL_EXIT_USAGE;
            d = strtod(v, &end);
            if (*v < '0' || *v > '9' || *end || !(d >= 0.1 && d <= 86400)) {
                etwl_error_set(err, ETWL_EINVAL, "--tree-every: expected seconds, from 0.1 to 86400, not '%s'", v);
                return ETWL_EXIT_USAGE;
            }
            o->tree_every = d;
        } else if (opt(argc, argv, &i, NULL, "--watch", 0, &v, err, &bad)) {
            o->watch = 1;
        } else if (opt(argc, argv, &i, NULL, "--buffer-kb", 1, &v, err, &bad)) {
            long kb;
            if (bad || !parse_long(v, 4, 1048576, &kb, "--buffer-kb", err)) return ETWL_EXIT_USAGE;
            o->cfg.buffer_kb = (size_t)kb;
        } else if (opt(argc, argv, &i, "-o", "--output", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            if (o->record) {
                o->cfg.record_path = v;
            } else if (o->noutputs == ETWL_CLI_MAX_OUTPUTS) {
                etwl_error_set(err, ETWL_EINVAL, "at most %d -o outputs", ETWL_CLI_MAX_OUTPUTS);
                return ETWL_EXIT_USAGE;
            } else if (!*v) {
                etwl_error_set(err, ETWL_EINVAL, "-o needs an output (see --help)");
                return ETWL_EXIT_USAGE;
            } else {
                o->outputs[o->noutputs++] = v;
            }
        } else if (opt(argc, argv, &i, NULL, "--output-queue", 1, &v, err, &bad)) {
            if (bad || !parse_long(v, 1, 100000000L, &o->out_queue, "--output-queue", err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--output-queue-mb", 1, &v, err, &bad)) {
            if (bad || !parse_long(v, 1, 65536, &o->out_queue_mb, "--output-queue-mb", err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--output-flush", 1, &v, err, &bad)) {
            char *end;
            double d;
            if (bad) return ETWL_EXIT_USAGE;
            d = strtod(v, &end);
            if (*v < '0' || *v > '9' || *end || !(d > 0 && d <= 3600)) {
                etwl_error_set(err, ETWL_EINVAL, "--output-flush: expected seconds, more than 0 and at most 3600");
                return ETWL_EXIT_USAGE;
            }
            o->out_flush = d;
        } else if (opt(argc, argv, &i, NULL, "--output-insecure", 0, &v, err, &bad)) {
            o->out_insecure = 1;
        } else if (opt(argc, argv, &i, NULL, "--schemas", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->cfg.schemas_path = v;
        } else if (opt(argc, argv, &i, NULL, "--evtx-reader", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->evtx_reader_given = 1;
            if (strcmp(v, "native") == 0) o->evtx_libevtx = 0;
            else if (strcmp(v, "libevtx") == 0) {
#ifdef ETWL_HAVE_EVTX
                o->evtx_libevtx = 1;
#else
                etwl_error_set(err, ETWL_EINVAL, "--evtx-reader libevtx: this etwlua is built without libevtx");
                return ETWL_EXIT_USAGE;
#endif
            } else {
                etwl_error_set(err, ETWL_EINVAL, "--evtx-reader: expected native or libevtx, not '%s'", v);
                return ETWL_EXIT_USAGE;
            }
        } else if (opt(argc, argv, &i, NULL, "--min-buffers", 1, &v, err, &bad)) {
            long n;
            if (bad || !parse_long(v, 2, 65536, &n, "--min-buffers", err)) return ETWL_EXIT_USAGE;
            o->cfg.min_buffers = (uint32_t)n;
        } else if (opt(argc, argv, &i, NULL, "--max-buffers", 1, &v, err, &bad)) {
            long n;
            if (bad || !parse_long(v, 2, 65536, &n, "--max-buffers", err)) return ETWL_EXIT_USAGE;
            o->cfg.max_buffers = (uint32_t)n;
        } else if (opt(argc, argv, &i, NULL, "--flush-timer", 1, &v, err, &bad)) {
            long n;
            if (bad || !parse_long(v, 1, 3600, &n, "--flush-timer", err)) return ETWL_EXIT_USAGE;
            o->cfg.flush_timer_s = (uint32_t)n;
        } else if (opt(argc, argv, &i, NULL, "--proc-grace", 1, &v, err, &bad)) {
            if (bad || !parse_long(v, 1, 86400, &o->proc_grace, "--proc-grace", err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--lua-dir", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->lua_dir = v;
        } else if (opt(argc, argv, &i, NULL, "--rules", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            if (o->nrules_dirs == 16) {
                etwl_error_set(err, ETWL_EINVAL, "at most 16 --rules");
                return ETWL_EXIT_USAGE;
            }
            o->rules_dirs[o->nrules_dirs++] = v;
        } else if (opt(argc, argv, &i, NULL, "--sigma", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            if (o->nsigma == 16) {
                etwl_error_set(err, ETWL_EINVAL, "at most 16 --sigma");
                return ETWL_EXIT_USAGE;
            }
            o->sigma_paths[o->nsigma++] = v;
        } else if (opt(argc, argv, &i, NULL, "--sigma-level", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->sigma_level = v;
        } else if (opt(argc, argv, &i, NULL, "--sigma-status", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->sigma_status = v;
        } else if (opt(argc, argv, &i, NULL, "--sigma-config", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->sigma_config = v;
        } else if (opt(argc, argv, &i, NULL, "--no-rules", 0, &v, err, &bad)) {
            o->no_rules = 1;
        } else if (opt(argc, argv, &i, NULL, "--rule", 1, &v, err, &bad)) {
            if (bad || !add_id(o->rule_only, &o->nrule_only, v, err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--skip-rule", 1, &v, err, &bad)) {
            if (bad || !add_id(o->rule_skip, &o->nrule_skip, v, err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--unsafe", 0, &v, err, &bad)) {
            o->unsafe = 1;
        } else if (opt(argc, argv, &i, NULL, "--alerts-only", 0, &v, err, &bad)) {
            o->alerts_only = 1;
        } else if (opt(argc, argv, &i, NULL, "--fail-on-error", 0, &v, err, &bad)) {
            o->fail_on_error = 1;
        } else if (opt(argc, argv, &i, NULL, "--dump", 0, &v, err, &bad)) {
            o->dump = 1;
        } else if (opt(argc, argv, &i, NULL, "--json", 0, &v, err, &bad)) {
            o->json = 1;
            o->format = ETWL_CLI_FORMAT_JSON;
        } else if (opt(argc, argv, &i, NULL, "--format", 1, &v, err, &bad)) {
            if (bad) return ETWL_EXIT_USAGE;
            o->traceevent = 0;
            if (strcmp(v, "json") == 0) o->json = 1, o->format = ETWL_CLI_FORMAT_JSON;
            else if (strcmp(v, "text") == 0) o->json = 0, o->format = ETWL_CLI_FORMAT_TEXT;
            else if (strcmp(v, "traceevent") == 0)
                o->json = 0, o->traceevent = 1, o->format = ETWL_CLI_FORMAT_TRACEEVENT;
            else {
                etwl_error_set(err, ETWL_EINVAL, "--format is json, text or traceevent, not '%s'", v);
                return ETWL_EXIT_USAGE;
            }
        } else if (opt(argc, argv, &i, NULL, "--schema", 1, &v, err, &bad)) {
            const char *near;
            int f;
            if (bad) return ETWL_EXIT_USAGE;
            if ((f = etwl_schema_parse(v, &near)) < 0) {
                etwl_error_set(err, ETWL_EINVAL,
                               "--schema: unknown schema '%s'; did you mean '%s'? (native, ecs or ocsf)", v, near);
                return ETWL_EXIT_USAGE;
            }
            o->schema = f;
        } else if (opt(argc, argv, &i, NULL, "--hex-keywords", 0, &v, err, &bad)) {
            o->hex64 = 1;
        } else if (opt(argc, argv, &i, "-j", "--jobs", 1, &v, err, &bad)) {
            if (bad || !parse_long(v, 1, ETWL_CLI_MAX_JOBS, &o->jobs, "--jobs", err)) return ETWL_EXIT_USAGE;
        } else if (opt(argc, argv, &i, NULL, "--summary", 0, &v, err, &bad)) {
            o->summary = 1;
        } else if (opt(argc, argv, &i, NULL, "--no-summary", 0, &v, err, &bad)) {
            o->summary = -1;
        } else if (opt(argc, argv, &i, NULL, "--no-progress", 0, &v, err, &bad)) {
            o->no_progress = 1;
        } else if (opt(argc, argv, &i, NULL, "--stats", 0, &v, err, &bad)) {
            o->stats = 1;
        } else if (opt(argc, argv, &i, NULL, "--strict", 0, &v, err, &bad)) {
            o->cfg.strict = 1;
        } else if (opt(argc, argv, &i, "-h", "--help", 0, &v, err, &bad)) {
            o->help = 1;
        } else if (opt(argc, argv, &i, NULL, "--version", 0, &v, err, &bad)) {
            o->version = 1;
        } else {
            etwl_error_set(err, ETWL_EINVAL, "unknown option '%s' (see --help)", a);
            return ETWL_EXIT_USAGE;
        }
    }
    if (o->schema || o->hex64) {
        /* both shape JSON: asking for them and for no JSON at all is a
         * mistake, not something to ignore */
        int sinks = 0;
        for (int k = 0; k < o->noutputs; k++)
            if (strcmp(o->outputs[k], "-") != 0 && strcmp(o->outputs[k], "stdout") != 0) sinks = 1;
        if (o->format == ETWL_CLI_FORMAT_TEXT || o->format == ETWL_CLI_FORMAT_TRACEEVENT) {
            if (!sinks) {
                etwl_error_set(err, ETWL_EINVAL, "%s shapes JSON output, but --format %s writes none",
                               o->schema ? "--schema" : "--hex-keywords", o->traceevent ? "traceevent" : "text");
                return ETWL_EXIT_USAGE;
            }
        } else if (o->schema) {
            o->json = 1; /* an ECS or OCSF consumer wants JSON, on a terminal too */
        }
    }
    /* a recording keeps everything; rules run only when asked for */
    if (o->record && !o->nrules_dirs) o->no_rules = 1;
    if (o->record && !o->cfg.record_path) {
        etwl_error_set(err, ETWL_EINVAL, "record needs -o FILE.etl");
        return ETWL_EXIT_USAGE;
    }
    if (o->record && o->cfg.read_path) {
        etwl_error_set(err, ETWL_EINVAL, "record makes a live session; it cannot read -r");
        return ETWL_EXIT_USAGE;
    }
    if (o->evtx_reader_given && !o->cfg.read_path) {
        etwl_error_set(err, ETWL_EINVAL, "--evtx-reader is for replaying EVTX with -r");
        return ETWL_EXIT_USAGE;
    }
    if (o->jobs && (!o->cfg.read_path || strcmp(o->cfg.read_path, "-") == 0)) {
        etwl_error_set(err, ETWL_EINVAL, "--jobs replays files in parallel: it needs -r FILE or -r DIR (not stdin)");
        return ETWL_EXIT_USAGE;
    }
    if (o->jobs > 1 && o->traceevent) {
        etwl_error_set(err, ETWL_EINVAL, "--format traceevent reads the trace as a whole; it cannot take --jobs");
        return ETWL_EXIT_USAGE;
    }
    if (o->jobs && o->watch) {
        /* each worker has its own Lua state: a reload would have to swap N */
        etwl_error_set(err, ETWL_EINVAL, "--watch reloads one running set; it cannot take --jobs");
        return ETWL_EXIT_USAGE;
    }
    if (o->tree_every && o->cfg.read_path) {
        etwl_error_set(err, ETWL_EINVAL,
                       "--tree-every is for live sessions; 'etwlua tree -r FILE' draws a recording's");
        return ETWL_EXIT_USAGE;
    }
    if (o->watch && o->record) {
        etwl_error_set(err, ETWL_EINVAL, "--watch reloads scripts and rules; record runs none");
        return ETWL_EXIT_USAGE;
    }
    /* the libevtx source by name: it reads the .evtx file or folder -r names */
    if (o->evtx_libevtx) o->cfg.backend = "evtx-libevtx";
    if (o->cfg.min_buffers && o->cfg.max_buffers && o->cfg.min_buffers > o->cfg.max_buffers) {
        etwl_error_set(err, ETWL_EINVAL, "--min-buffers %u is more than --max-buffers %u", o->cfg.min_buffers,
                       o->cfg.max_buffers);
        return ETWL_EXIT_USAGE;
    }
    return ETWL_EXIT_OK;
}
