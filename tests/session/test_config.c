/* test_config.c - provider specs, levels, kernel flags, enable properties,
 * and the ETW selection rule replay applies. */
#include <string.h>

#include "testlib.h"

static void test_provider_specs(void **st)
{
    etwl_config c;
    etwl_error e;
    (void)st;
    etwl_config_init(&c);
    assert_int_equal(etwl_config_add_provider(&c, "Microsoft-Windows-Kernel-Process", &e), ETWL_OK);
    assert_string_equal(c.providers[0].name, "Microsoft-Windows-Kernel-Process");
    assert_int_equal(c.providers[0].level, 5);
    assert_int_equal(etwl_config_add_provider(&c, "{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}:warning:0x10:0x30", &e),
                     ETWL_OK);
    assert_true(c.providers[1].has_guid);
    assert_int_equal(c.providers[1].guid.d1, 0x22FB2CD6u);
    assert_int_equal(c.providers[1].level, 3);
    assert_int_equal(c.providers[1].match_any, 0x10);
    assert_int_equal(c.providers[1].match_all, 0x30);
    assert_int_equal(etwl_config_add_provider(&c, "X:2", &e), ETWL_OK);
    assert_int_equal(c.providers[2].level, 2);
    assert_int_equal(etwl_config_add_provider(&c, "X::18446744073709551615", &e), ETWL_OK);
    assert_int_equal(c.providers[3].level, 5);
    assert_true(c.providers[3].match_any == UINT64_MAX);
    /* tracefs names hold ':' themselves */
    assert_int_equal(etwl_config_add_provider(&c, "sched:sched_process_exec", &e), ETWL_OK);
    assert_string_equal(c.providers[4].name, "sched:sched_process_exec");
    assert_int_equal(etwl_config_add_provider(&c, "sched:sched_process_exec:verbose", &e), ETWL_OK);
    assert_string_equal(c.providers[5].name, "sched:sched_process_exec");
    assert_int_equal(etwl_config_add_provider(&c, "", &e), ETWL_EINVAL);
    assert_int_equal(etwl_config_add_provider(&c, ":3", &e), ETWL_EINVAL);
    assert_int_equal(etwl_config_add_provider(&c, "X:3:nothex", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "keywords must be numbers"));
}

/* A misspelt level is an error naming it, never a name that selects
 * nothing; tracefs names that merely contain ':' stay names. */
static void test_level_typos(void **st)
{
    etwl_config c;
    etwl_error e;
    (void)st;
    etwl_config_init(&c);
    assert_int_equal(etwl_config_add_provider(&c, "Microsoft-Windows-Kernel-Process:verbos", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "unknown level 'verbos' (did you mean verbose?)"));
    assert_int_equal(etwl_config_add_provider(&c, "X:infromation:0x10", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "did you mean information?"));
    assert_int_equal(etwl_config_add_provider(&c, "X:WARNNG", &e), ETWL_EINVAL);
    assert_int_equal(etwl_config_add_provider(&c, "{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}:foo", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "'foo' is not a level"));
    assert_int_equal(c.nproviders, 0);
    assert_int_equal(etwl_config_add_provider(&c, "sched:sched_switch", &e), ETWL_OK);
    assert_int_equal(etwl_config_add_provider(&c, "irq:irq_handler_entry:info", &e), ETWL_OK);
    assert_string_equal(c.providers[1].name, "irq:irq_handler_entry");
    assert_int_equal(c.providers[1].level, ETWL_LEVEL_INFORMATION);
}

static void test_levels(void **st)
{
    uint8_t l;
    (void)st;
    assert_int_equal(etwl_level_parse("critical", &l), ETWL_OK);
    assert_int_equal(l, 1);
    assert_int_equal(etwl_level_parse("Information", &l), ETWL_OK);
    assert_int_equal(l, 4);
    assert_int_equal(etwl_level_parse("5", &l), ETWL_OK);
    assert_int_equal(l, 5);
    assert_int_equal(etwl_level_parse("6", &l), ETWL_EINVAL);
    assert_int_equal(etwl_level_parse("0", &l), ETWL_EINVAL);
    assert_int_equal(etwl_level_parse("loud", &l), ETWL_EINVAL);
}

static void test_kernel_flags(void **st)
{
    etwl_config c;
    etwl_error e;
    (void)st;
    etwl_config_init(&c);
    assert_int_equal(etwl_config_add_kernel_flags(&c, "process,image_load,tcpip", &e), ETWL_OK);
    assert_int_equal(c.kernel_flags, 0x1 | 0x4 | 0x10000);
    assert_int_equal(etwl_config_add_kernel_flags(&c, "process,,thread", &e), ETWL_EINVAL);
    assert_int_equal(etwl_config_add_kernel_flags(&c, "procss", &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "unknown kernel flag 'procss'"));
    assert_int_equal(etwl_config_add_enable_props(&c, "sid,STACK_TRACE,ignore_keyword_0", &e), ETWL_OK);
    assert_int_equal(c.enable_props, ETWL_ENABLE_SID | ETWL_ENABLE_STACK_TRACE | ETWL_ENABLE_IGNORE_KEYWORD_0);
    assert_int_equal(etwl_config_add_enable_props(&c, "SID,NOPE", &e), ETWL_EINVAL);
}

static etwl_event EV;

static void mk(const char *name, uint8_t level, uint64_t kw)
{
    etwl_event_begin(&EV);
    EV.hdr.provider_name = name;
    EV.hdr.provider_name_len = (uint32_t)strlen(name);
    EV.hdr.has |= ETWL_HAS_PROVIDER_NAME;
    EV.hdr.desc.level = level;
    EV.hdr.desc.keyword = kw;
}

static void test_matching(void **st)
{
    etwl_config c;
    etwl_error e;
    (void)st;
    etwl_event_init(&EV);
    etwl_config_init(&c);
    mk("Anything", 5, 0);
    assert_true(etwl_config_matches(&c, &EV)); /* no selection: everything */
    etwl_config_add_provider(&c, "microsoft-windows-dns-client:3:0x6:0x2", &e);
    mk("Microsoft-Windows-DNS-Client", 3, 0x2);
    assert_true(etwl_config_matches(&c, &EV));
    mk("Microsoft-Windows-DNS-Client", 4, 0x2); /* too verbose */
    assert_false(etwl_config_matches(&c, &EV));
    mk("Microsoft-Windows-DNS-Client", 0, 0x2); /* level 0 always passes */
    assert_true(etwl_config_matches(&c, &EV));
    mk("Microsoft-Windows-DNS-Client", 2, 0x4); /* any ok, all (0x2) missing */
    assert_false(etwl_config_matches(&c, &EV));
    mk("Microsoft-Windows-DNS-Client", 2, 0x8); /* no any bit */
    assert_false(etwl_config_matches(&c, &EV));
    mk("Microsoft-Windows-DNS-Client", 2, 0); /* keyword 0 passes... */
    assert_true(etwl_config_matches(&c, &EV));
    c.enable_props |= ETWL_ENABLE_IGNORE_KEYWORD_0; /* ...unless ignored */
    assert_false(etwl_config_matches(&c, &EV));
    mk("Other", 1, 0x2);
    assert_false(etwl_config_matches(&c, &EV));
    /* kernel flags select kernel MOF classes by GUID */
    etwl_config_add_kernel_flags(&c, "process", &e);
    mk("Windows Kernel", 4, 0);
    etwl_guid_parse("{3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C}", 38, &EV.hdr.provider_guid);
    assert_true(etwl_config_matches(&c, &EV));
    etwl_guid_parse("{3D6FA8D1-FE05-11D0-9DDA-00C04FD7BA7C}", 38, &EV.hdr.provider_guid); /* Thread */
    assert_false(etwl_config_matches(&c, &EV));
    etwl_event_release(&EV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_specs), cmocka_unit_test(test_levels),   cmocka_unit_test(test_level_typos),
        cmocka_unit_test(test_kernel_flags),   cmocka_unit_test(test_matching),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
