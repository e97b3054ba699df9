/* test_cli.c - etwlua option parsing. */
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "output/alert.h"
#include "output/schema_map.h"
#include "testlib.h"

static int parse(etwl_cli_opts *o, etwl_error *e, int n, ...)
{
    char *argv[32];
    va_list ap;
    int i;
    argv[0] = "etwlua";
    va_start(ap, n);
    for (i = 0; i < n; i++) argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    memset(e, 0, sizeof *e);
    return etwl_cli_parse(n + 1, argv, o, e);
}

static void test_full_line(void **st)
{
    etwl_cli_opts o;
    etwl_error e;
    (void)st;
    assert_int_equal(parse(&o, &e, 14, "-r", "trace.jsonl", "--dump", "--json", "-p", "A:3", "--provider=B", "-k",
                           "process", "-n", "mysess", "--stats", "rules.lua", "--strict"),
                     ETWL_EXIT_OK);
    assert_string_equal(o.cfg.read_path, "trace.jsonl");
    assert_true(o.dump && o.json && o.stats && o.cfg.strict);
    assert_int_equal(o.cfg.nproviders, 2);
    assert_int_equal(o.cfg.providers[0].level, 3);
    assert_string_equal(o.cfg.providers[1].name, "B");
    assert_int_equal(o.cfg.kernel_flags, 1);
    assert_string_equal(o.cfg.name, "mysess");
    assert_int_equal(o.nscripts, 1);
    assert_string_equal(o.scripts[0].path, "rules.lua");
}

static void test_etw_buffers(void **st)
{
    etwl_cli_opts o;
    etwl_error e;
    (void)st;
    assert_int_equal(parse(&o, &e, 4, "--min-buffers=8", "--max-buffers", "64", "--flush-timer=3"), ETWL_EXIT_OK);
    assert_int_equal(o.cfg.min_buffers, 8);
    assert_int_equal(o.cfg.max_buffers, 64);
    assert_int_equal(o.cfg.flush_timer_s, 3);
    assert_int_equal(parse(&o, &e, 2, "--min-buffers=80", "--max-buffers=64"), ETWL_EXIT_USAGE);
    assert_non_null(strstr(e.message, "--min-buffers 80 is more than --max-buffers 64"));
    assert_int_equal(parse(&o, &e, 1, "--flush-timer=0"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 1, "--max-buffers=1"), ETWL_EXIT_USAGE);
}

static void test_record(void **st)
{
    etwl_cli_opts o;
    etwl_error e;
    char *argv[] = {"etwlua", "record", "-o", "out.etl", "-p", "Microsoft-Windows-DNS-Client", "--duration=5"};
    (void)st;
    memset(&e, 0, sizeof e);
    assert_int_equal(etwl_cli_parse(7, argv, &o, &e), ETWL_EXIT_OK);
    assert_true(o.record);
    assert_string_equal(o.cfg.record_path, "out.etl");
    assert_int_equal(o.cfg.nproviders, 1);
    assert_int_equal(o.nscripts, 0); /* "record" is the verb, not a script */
    assert_int_equal(etwl_cli_parse(2, argv, &o, &e), ETWL_EXIT_USAGE);
    assert_non_null(strstr(e.message, "record needs -o"));
    /* outside record, -o names an alert output (repeatable), not a file */
    assert_int_equal(parse(&o, &e, 4, "-o", "file:a.json", "-o", "-"), ETWL_EXIT_OK);
    assert_null(o.cfg.record_path);
    assert_int_equal(o.noutputs, 2);
    assert_string_equal(o.outputs[0], "file:a.json");
    assert_string_equal(o.outputs[1], "-");
    assert_int_equal(parse(&o, &e, 2, "-o", ""), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 2, "--output-flush", "0"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 5, "--output-queue", "10", "--output-queue-mb", "2", "--output-insecure"),
                     ETWL_EXIT_OK);
    assert_int_equal(o.out_queue, 10);
    assert_int_equal(o.out_queue_mb, 2);
    assert_true(o.out_insecure);
    assert_int_equal(parse(&o, &e, 4, "-r", "t.etl", "--schemas", "t.etl.schemas"), ETWL_EXIT_OK);
    assert_string_equal(o.cfg.schemas_path, "t.etl.schemas");
}

static void test_defaults_and_misc(void **st)
{
    etwl_cli_opts o;
    etwl_error e;
    (void)st;
    assert_int_equal(parse(&o, &e, 0), ETWL_EXIT_OK);
    assert_string_equal(o.cfg.name, "etwlua");
    assert_null(o.cfg.read_path);
    assert_int_equal(o.cfg.max_line_bytes, 1u << 20);
    assert_int_equal(parse(&o, &e, 3, "--kill", "x", "--max-line-bytes=4096"), ETWL_EXIT_OK);
    assert_string_equal(o.kill, "x");
    assert_int_equal(o.cfg.max_line_bytes, 4096);
    assert_int_equal(parse(&o, &e, 2, "--", "--dump"), ETWL_EXIT_OK);
    assert_int_equal(o.nscripts, 1); /* after --, options are scripts */
    assert_false(o.dump);
    assert_int_equal(parse(&o, &e, 1, "-h"), ETWL_EXIT_OK);
    assert_true(o.help);
    assert_int_equal(
        parse(&o, &e, 8, "a.lua", "-e", "print(1)", "b.lua", "--budget", "5000", "--memory-mb=64", "--alerts-only"),
        ETWL_EXIT_OK);
    assert_int_equal(o.nscripts, 3); /* in command-line order */
    assert_string_equal(o.scripts[0].path, "a.lua");
    assert_null(o.scripts[1].path);
    assert_string_equal(o.scripts[1].code, "print(1)");
    assert_string_equal(o.scripts[2].path, "b.lua");
    assert_int_equal(o.budget, 5000);
    assert_int_equal(o.memory_mb, 64);
    assert_true(o.alerts_only);
}

static void test_errors(void **st)
{
    etwl_cli_opts o;
    etwl_error e;
    (void)st;
    assert_int_equal(parse(&o, &e, 1, "--bogus"), ETWL_EXIT_USAGE);
    assert_non_null(strstr(e.message, "unknown option '--bogus'"));
    assert_int_equal(parse(&o, &e, 1, "-r"), ETWL_EXIT_USAGE);
    assert_non_null(strstr(e.message, "needs a value"));
    assert_int_equal(parse(&o, &e, 2, "-k", "nope"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 2, "-p", "X:9"), ETWL_EXIT_OK); /* "X:9" is a name, not a bad level */
    assert_int_equal(parse(&o, &e, 2, "-p", "X:3:zz"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 1, "--max-line-bytes=12"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 1, "--max-line-bytes=1e6"), ETWL_EXIT_USAGE);
    /* no longer than the event limit, which a longer line could only exceed */
    assert_int_equal(parse(&o, &e, 1, "--max-line-bytes=67108865"), ETWL_EXIT_USAGE);
    assert_non_null(strstr(e.message, "from 64 to 67108864"));
    assert_int_equal(parse(&o, &e, 1, "--max-line-bytes=67108864"), ETWL_EXIT_OK);
    assert_int_equal(parse(&o, &e, 2, "-n", ""), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 1, "--dump=yes"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 2, "--budget", "10"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 1, "--memory-mb=0"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 1, "-e"), ETWL_EXIT_USAGE);
}

static void test_exit_codes(void **st)
{
    (void)st;
    assert_int_equal(etwl_exit_code(ETWL_OK), 0);
    assert_int_equal(etwl_exit_code(ETWL_EEXIST), 3);
    assert_int_equal(etwl_exit_code(ETWL_ENOTSUP), 4);
    assert_int_equal(etwl_exit_code(ETWL_EACCES), 5);
    assert_int_equal(etwl_exit_code(ETWL_EPARSE), 1);
}

/* --format decides the alert form; --schema and --hex-keywords add their
 * bits and are refused where they would change nothing. */
static void test_schema_and_format(void **st)
{
    etwl_cli_opts o;
    etwl_error e;
    (void)st;
#ifdef _WIN32
    _putenv("NO_COLOR=");
#else
    unsetenv("NO_COLOR");
#endif
    assert_int_equal(parse(&o, &e, 0), ETWL_EXIT_OK);
    assert_int_equal(etwl_cli_stdout_form(&o, 0), ETWL_ALERT_JSON);
    assert_int_equal(etwl_cli_stdout_form(&o, 1), ETWL_ALERT_TEXT_COLOR);
    assert_int_equal(parse(&o, &e, 2, "--format", "text"), ETWL_EXIT_OK);
    assert_int_equal(etwl_cli_stdout_form(&o, 0), ETWL_ALERT_TEXT);
    assert_int_equal(parse(&o, &e, 1, "--format=json"), ETWL_EXIT_OK);
    assert_int_equal(etwl_cli_stdout_form(&o, 1), ETWL_ALERT_JSON);
    assert_int_equal(parse(&o, &e, 3, "--schema", "ocsf", "--hex-keywords"), ETWL_EXIT_OK);
    assert_true(o.json); /* --dump too */
    assert_int_equal(etwl_cli_stdout_form(&o, 1), ETWL_ALERT_JSON | ETWL_FORM_OCSF | ETWL_FORM_HEX64);
    assert_int_equal(etwl_cli_output_form(&o), ETWL_ALERT_JSON | ETWL_FORM_OCSF | ETWL_FORM_HEX64);
    assert_int_equal(parse(&o, &e, 2, "--schema", "ECS"), ETWL_EXIT_USAGE);
    assert_non_null(strstr(e.message, "did you mean 'ecs'"));
    assert_int_equal(parse(&o, &e, 4, "--schema", "ecs", "--format", "text"), ETWL_EXIT_USAGE);
    assert_int_equal(parse(&o, &e, 3, "--hex-keywords", "--format", "traceevent"), ETWL_EXIT_USAGE);
    /* text on stdout, ECS to a file output: both have a use */
    assert_int_equal(parse(&o, &e, 6, "--schema", "ecs", "--format", "text", "-o", "file:a"), ETWL_EXIT_OK);
    assert_int_equal(etwl_cli_stdout_form(&o, 0), ETWL_ALERT_TEXT | ETWL_FORM_ECS);
    assert_int_equal(etwl_cli_output_form(&o), ETWL_ALERT_JSON | ETWL_FORM_ECS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_and_format),
        cmocka_unit_test(test_full_line),
        cmocka_unit_test(test_defaults_and_misc),
        cmocka_unit_test(test_etw_buffers),
        cmocka_unit_test(test_record),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_exit_codes),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
