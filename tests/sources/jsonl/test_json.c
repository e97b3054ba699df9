/* test_json.c - JSON-lines reader and writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/jsonl/json_read.h"
#include "testlib.h"

static etwl_json_reader *R;
static etwl_event EV;
static char ERR[400];

static int setup(void **st)
{
    (void)st;
    R = etwl_json_reader_new();
    etwl_event_init(&EV);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    etwl_json_reader_free(R);
    etwl_event_release(&EV);
    return 0;
}

static etwl_status parse(const char *line)
{
    ERR[0] = 0;
    etwl_event_begin(&EV);
    return etwl_json_parse_event(R, line, strlen(line), &EV, ERR, sizeof ERR);
}

static char *write_json(void)
{
    static etwl_buf b;
    etwl_buf_reset(&b);
    assert_int_equal(etwl_event_write_json(&EV, &b), ETWL_OK);
    return b.data;
}

static const char FULL[] =
    "{\"header\":{\"descriptor\":{\"id\":65535,\"version\":255,\"channel\":16,\"level\":4,\"op_code\":1,"
    "\"task\":65535,\"keyword\":18446744073709551615},\"thread_id\":4294967295,\"process_id\":4,"
    "\"ts\":\"2024-03-05T10:11:12.1234567Z\",\"provider_guid\":\"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}\","
    "\"provider_name\":\"Microsoft-Windows-Kernel-Process\",\"activity_guid\":"
    "\"{00000000-0000-0000-0000-000000000001}\",\"flags\":576,\"kernel_time\":1,\"user_time\":2,"
    "\"processor_time\":18446744073709551615,\"processor_number\":3},\"info\":{\"CommandLine\":"
    "\"a \\\"b\\\" \\u001b[2J \\u0000 caf\xc3\xa9 \xf0\x9f\x98\x80 \\u2028\",\"Big\":123456789012345678901234567890,"
    "\"F\":-1.50e-3,\"Arr\":[1,[2,{\"x\":null}],true,false],\"Empty\":{},\"EmptyArr\":[]},\"ext\":{\"session_id\":"
    "1,\"activity_id\":\"{11111111-2222-3333-4444-555555555555}\",\"user_sid\":\"S-1-5-21-1-2-3-1001\","
    "\"instance_info\":{\"id\":1,\"parent_id\":2,\"parent_guid\":\"{00000000-0000-0000-0000-000000000002}\"},"
    "\"stacktrace\":{\"matched_id\":9,\"addresses\":[18446744073709551615,0]}}}";

static void test_full_roundtrip(void **st)
{
    char *out;
    (void)st;
    assert_int_equal(parse(FULL), ETWL_OK);
    out = write_json();
    assert_string_equal(out, FULL); /* canonical input comes back byte for byte */
    assert_int_equal(EV.hdr.desc.keyword, UINT64_MAX);
    assert_int_equal(EV.hdr.tid, 4294967295u);
    assert_int_equal(EV.ext.stack.count, 2);
    assert_string_equal(tl_json(etwl_event_get(&EV, "Big")), "123456789012345678901234567890");
}

static void test_normalises_then_stable(void **st)
{
    char first[2048];
    (void)st;
    /* lower-case GUIDs without braces, an offset time, 9 fraction digits */
    assert_int_equal(parse("{\"header\":{\"ts\":\"2024-03-05T12:11:12.123456789+02:00\","
                           "\"provider_guid\":\"22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716\"},\"info\":null,\"ext\":null}"),
                     ETWL_OK);
    strcpy(first, write_json());
    assert_non_null(strstr(first, "\"ts\":\"2024-03-05T10:11:12.1234567Z\""));
    assert_non_null(strstr(first, "{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}"));
    assert_non_null(strstr(first, "\"info\":{},\"ext\":{}"));
    assert_int_equal(parse(first), ETWL_OK);
    assert_string_equal(write_json(), first);
}

typedef struct bad {
    const char *line, *expect;
} bad;

static void test_malformed(void **st)
{
    static const bad cases[] = {
        {"{", "invalid JSON"},
        {"{\"header\":{}} x", "invalid JSON"},
        {"[]", "expected a JSON object, got an array"},
        {"42", "expected a JSON object"},
        {"{\"info\":{}}", "missing the header"},
        {"{\"header\":{\"descriptor\":{\"id\":65536}}}", "header.descriptor.id: number 65536 out of range"},
        {"{\"header\":{\"descriptor\":{\"id\":-1}}}", "expected a non-negative integer"},
        {"{\"header\":{\"descriptor\":{\"id\":1.5}}}", "expected a non-negative integer"},
        {"{\"header\":{\"descriptor\":{\"keyword\":18446744073709551616}}}", "out of range"},
        {"{\"header\":{\"descriptor\":{\"id\":\"1\"}}}", "header.descriptor.id: expected a number"},
        {"{\"header\":{\"ts\":12}}", "header.ts: expected a string"},
        {"{\"header\":{\"ts\":\"2024-02-30T00:00:00Z\"}}", "header.ts: expected an RFC 3339"},
        {"{\"header\":{\"ts\":\"1600-12-31T23:59:59Z\"}}", "header.ts"},
        {"{\"header\":{\"provider_guid\":\"{zzz}\"}}", "header.provider_guid: expected a GUID"},
        {"{\"header\":{\"bogus\":1}}", "header: unknown key 'bogus'"},
        {"{\"header\":{},\"payload\":\"abc\"}", "payload: expected a string of hex digit pairs"},
        {"{\"header\":{},\"payload\":\"0g\"}", "payload: 'g' is not a hex digit"},
        {"{\"header\":{},\"payload\":12}", "payload: expected a string of hex digit pairs"},
        {"{\"header\":{},\"payload\":\"00\",\"payload\":\"00\"}", "duplicate key 'payload'"},
        {"{\"header\":{},\"header\":{}}", "duplicate key 'header'"},
        {"{\"header\":null}", "header: expected an object"},
        {"{\"header\":{\"descriptor\":7}}", "expected an object"},
        {"{\"header\":{},\"ext\":{\"user_sid\":\"admin\"}}", "ext.user_sid: expected a SID"},
        {"{\"header\":{},\"ext\":{\"stacktrace\":{\"addresses\":[\"x\"]}}}", "addresses: expected numbers"},
        {"{\"header\":{},\"info\":{\"s\":\"\xff\"}}", "invalid JSON"},
        {"{\"header\":{},\"info\":{\"s\":\"\xc0\xaf\"}}", "invalid UTF-8"},
        {"{\"header\":{},\"info\":{\"\xed\xa0\x80\":1}}", "invalid UTF-8 in a key"},
        {"{\"header\":{},\"info\":{\"s\":\"\\ud800\"}}", "unpaired UTF-16 surrogate"},
        {"{\"header\":{},\"info\":{\"s\":\"\\udc00\\ud800\"}}", "unpaired UTF-16 surrogate"},
        {"{\"header\":{},\"info\":{\"s\":\"\\ud83d\\u0041\"}}", "unpaired UTF-16 surrogate"},
    };
    size_t i;
    (void)st;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        etwl_status s = parse(cases[i].line);
        if (!cases[i].expect) continue;
        if (s != ETWL_EPARSE || !strstr(ERR, cases[i].expect)) {
            print_error("case %u: %s\n  status %d, message '%s', expected '%s'\n", (unsigned)i, cases[i].line, s, ERR,
                        cases[i].expect);
            fail();
        }
    }
}

/* An event no schema decoded keeps its raw payload, in hex. */
static void test_payload(void **st)
{
    uint32_t n = 0;
    const uint8_t *p;
    (void)st;
    assert_int_equal(parse("{\"header\":{},\"info\":{},\"payload\":\"00fFa5\"}"), ETWL_OK);
    p = etwl_event_payload(&EV, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x00\xff\xa5", 3);
    assert_int_equal(parse("{\"header\":{}}"), ETWL_OK);
    assert_null(etwl_event_payload(&EV, &n)); /* reset for the next line */
}

static void test_escapes_decoded(void **st)
{
    (void)st;
    assert_int_equal(parse("{\"header\":{},\"info\":{\"p\":\"C:\\\\ud800\",\"e\":\"\\ud83d\\ude00\\u00e9\"}}"),
                     ETWL_OK);
    assert_string_equal(tl_json(etwl_event_get(&EV, "p")), "\"C:\\\\ud800\"");
    assert_string_equal(tl_json(etwl_event_get(&EV, "e")), "\"\xf0\x9f\x98\x80\xc3\xa9\"");
}

static void test_deep_nesting(void **st)
{
    size_t n = 100000, i;
    char *line = malloc(n * 2 + 64), *p;
    (void)st;
    p = line + sprintf(line, "{\"header\":{},\"info\":{\"x\":");
    for (i = 0; i < n; i++) *p++ = '[';
    for (i = 0; i < n; i++) *p++ = ']';
    strcpy(p, "}}");
    assert_int_equal(parse(line), ETWL_EPARSE);
    assert_non_null(strstr(ERR, "nesting deeper than"));
    free(line);
}

static void test_huge_string_value(void **st)
{
    size_t n = 5 << 20, i;
    char *line = malloc(n + 64), *p;
    const etwl_value *v;
    (void)st;
    p = line + sprintf(line, "{\"header\":{},\"info\":{\"x\":\"");
    for (i = 0; i < n; i++) *p++ = 'A';
    strcpy(p, "\"}}");
    assert_int_equal(parse(line), ETWL_OK);
    v = etwl_event_get(&EV, "x");
    assert_int_equal(v->n, n);
    free(line);
}

static void test_duplicate_info_keys_kept(void **st)
{
    (void)st;
    assert_int_equal(parse("{\"header\":{},\"info\":{\"a\":1,\"a\":2}}"), ETWL_OK);
    assert_string_equal(tl_json(etwl_event_get(&EV, "a")), "1");         /* lookup: first */
    assert_non_null(strstr(write_json(), "\"info\":{\"a\":1,\"a\":2}")); /* output: both */
}

static void test_lookup_many_members(void **st)
{
    char line[8192], *p = line;
    int i;
    (void)st;
    p += sprintf(p, "{\"header\":{},\"info\":{");
    for (i = 0; i < 200; i++) p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i, i);
    strcpy(p, "}}");
    assert_int_equal(parse(line), ETWL_OK);
    for (i = 0; i < 200; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "%d", i);
        assert_string_equal(tl_json(etwl_event_get(&EV, k)), v);
    }
    assert_null(etwl_event_get(&EV, "k200"));
}

static void test_writer_escapes(void **st)
{
    etwl_buf b;
    (void)st;
    etwl_buf_init(&b);
    static const char in[] = "q\"b\\\n\r\t\b\f\x01\x7f\xe2\x80\xa8";
    etwl_json_put_string(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "\"q\\\"b\\\\\\n\\r\\t\\b\\f\\u0001\\u007f\\u2028\"");
    etwl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_normalises_then_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes_decoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_string_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_info_keys_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_many_members, setup, teardown),
        cmocka_unit_test(test_writer_escapes),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
