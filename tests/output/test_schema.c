/* test_schema.c - the --schema names, the big-integer rules of
 * --hex-keywords, and ECS/OCSF alerts without an event (engine alerts). */
#include <string.h>

#include "output/alert.h"
#include "output/schema_map.h"
#include "testlib.h"

static void test_names(void **st)
{
    const char *near = NULL;
    (void)st;
    assert_int_equal(etwl_schema_parse("native", &near), 0);
    assert_int_equal(etwl_schema_parse("ecs", &near), ETWL_FORM_ECS);
    assert_int_equal(etwl_schema_parse("ocsf", &near), ETWL_FORM_OCSF);
    assert_int_equal(etwl_schema_parse("ocfs", &near), -1);
    assert_string_equal(near, "ocsf");
    assert_int_equal(etwl_schema_parse("nativ", &near), -1);
    assert_string_equal(near, "native");
    assert_int_equal(etwl_schema_parse("", &near), -1);
    assert_int_equal(etwl_schema_parse("a-name-longer-than-the-table-handles-at-all", &near), -1);
    assert_non_null(near);
}

static void put_u(etwl_buf *b, uint64_t v, int form)
{
    etwl_buf_reset(b);
    etwl_json_put_u64(b, v, form);
    etwl_buf_putc(b, 0);
}

static void put_i(etwl_buf *b, int64_t v, int form)
{
    etwl_buf_reset(b);
    etwl_json_put_i64(b, v, form);
    etwl_buf_putc(b, 0);
}

static void test_big_integers(void **st)
{
    etwl_buf b;
    (void)st;
    etwl_buf_init(&b);
    put_u(&b, 9007199254740992ULL, ETWL_FORM_HEX64); /* 2^53: exact as a double */
    assert_string_equal(b.data, "9007199254740992");
    put_u(&b, 9007199254740993ULL, ETWL_FORM_HEX64);
    assert_string_equal(b.data, "\"0x20000000000001\"");
    put_u(&b, 9007199254740993ULL, 0);
    assert_string_equal(b.data, "9007199254740993");
    put_u(&b, UINT64_MAX, ETWL_FORM_HEX64);
    assert_string_equal(b.data, "\"0xFFFFFFFFFFFFFFFF\"");
    put_i(&b, -9007199254740992LL, ETWL_FORM_HEX64);
    assert_string_equal(b.data, "-9007199254740992");
    put_i(&b, -9007199254740993LL, ETWL_FORM_HEX64);
    assert_string_equal(b.data, "\"-9007199254740993\"");
    put_i(&b, INT64_MIN, ETWL_FORM_HEX64);
    assert_string_equal(b.data, "\"-9223372036854775808\"");
    put_i(&b, -5, ETWL_FORM_HEX64);
    assert_string_equal(b.data, "-5");
    etwl_buf_free(&b);
}

typedef struct seen {
    char all[256];
} seen;

static void collect(const char *q, size_t n, void *ctx)
{
    seen *s = ctx;
    strncat(s->all, q, n);
    strcat(s->all, "|");
}

static void test_each_string(void **st)
{
    static const char json[] = "[\"T1\",[\"nested\"],\"a\\\"b\\\\\",{\"k\":\"v\"},5,\"\"]";
    seen s = {{0}};
    (void)st;
    etwl_json_each_string(json, sizeof json - 1, collect, &s);
    assert_string_equal(s.all, "\"T1\"|\"a\\\"b\\\\\"|\"\"|");
    memset(&s, 0, sizeof s);
    etwl_json_each_string("[\"unterminated", 14, collect, &s);
    assert_string_equal(s.all, "");
}

static void techniques(etwl_buf *b, int json, void *ctx)
{
    (void)ctx;
    etwl_buf_puts(b, json ? "[\"T1059.001\",\"\\u001b[2J\"]" : "T1059.001");
}

/* An engine alert has no event: no process, no evidence, the host is this
 * machine; hostile text stays escaped. */
static void test_alert_without_event(void **st)
{
    etwl_buf b;
    etwl_alert a;
    (void)st;
    memset(&a, 0, sizeof a);
    a.time = "2024-03-05T10:11:12.0000000Z";
    a.rule = "r\"\x1b[2J";
    a.rule_len = strlen(a.rule);
    a.severity = "critical";
    a.techniques = techniques;
    etwl_buf_init(&b);
    etwl_alert_write(&b, &a, ETWL_ALERT_JSON | ETWL_FORM_ECS);
    etwl_buf_putc(&b, 0);
    assert_non_null(strstr(b.data, "\"@timestamp\":\"2024-03-05T10:11:12.0000000Z\""));
    assert_non_null(strstr(b.data, "\"rule\":{\"id\":\"r\\\"\\u001b[2J\""));
    assert_non_null(strstr(b.data, "\"severity\":5"));
    assert_non_null(strstr(b.data, "\"technique\":{\"id\":[\"T1059.001\",\"\\u001b[2J\"]}"));
    assert_null(strstr(b.data, "\"process\""));
    assert_null(strchr(b.data, '\x1b'));
    etwl_buf_reset(&b);
    etwl_alert_write(&b, &a, ETWL_ALERT_JSON | ETWL_FORM_OCSF);
    etwl_buf_putc(&b, 0);
    assert_non_null(strstr(b.data, "\"class_uid\":2004"));
    assert_non_null(strstr(b.data, "\"severity_id\":5,\"severity\":\"Critical\""));
    assert_non_null(strstr(b.data, "\"time\":1709633472000"));
    assert_non_null(strstr(b.data, "\"attacks\":[{\"technique\":{\"uid\":\"T1059.001\"}},{\"technique\":{\"uid\":"));
    assert_null(strstr(b.data, "\"evidences\""));
    assert_null(strchr(b.data, '\x1b'));
    /* the text form is untouched by the schema bits */
    etwl_buf_reset(&b);
    etwl_alert_write(&b, &a, ETWL_ALERT_TEXT | ETWL_FORM_OCSF);
    etwl_buf_putc(&b, 0);
    assert_non_null(strstr(b.data, "ALERT [critical] r\\\"\\x1b[2J (T1059.001)"));
    etwl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_big_integers),
        cmocka_unit_test(test_each_string),
        cmocka_unit_test(test_alert_without_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
