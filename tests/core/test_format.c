/* test_format.c - GUID, time, SID, UTF conversion and terminal escaping. */
#include <string.h>

#include "core/format.h"
#include "testlib.h"
#include "util/utf.h"

static void test_guid(void **st)
{
    etwl_guid g;
    char s[ETWL_GUID_STRLEN + 1];
    (void)st;
    assert_int_equal(etwl_guid_parse("{22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716}", 38, &g), ETWL_OK);
    etwl_guid_format(&g, s);
    assert_string_equal(s, "{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}");
    assert_int_equal(g.d1, 0x22fb2cd6u);
    assert_int_equal(g.d4[7], 0x16);
    assert_int_equal(etwl_guid_parse("22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716", 36, &g), ETWL_OK);
    assert_int_equal(etwl_guid_parse("{22fb2cd6-0e7b-422b-a0c7-2fad1fd0e71}", 37, &g), ETWL_EPARSE);
    assert_int_equal(etwl_guid_parse("{22fb2cd6+0e7b-422b-a0c7-2fad1fd0e716}", 38, &g), ETWL_EPARSE);
    assert_int_equal(etwl_guid_parse("{g2fb2cd6-0e7b-422b-a0c7-2fad1fd0e716}", 38, &g), ETWL_EPARSE);
    assert_int_equal(etwl_guid_parse("(22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716)", 38, &g), ETWL_EPARSE);
}

static void test_time(void **st)
{
    int64_t t;
    char s[ETWL_TIME_STRLEN + 1];
    (void)st;
    assert_int_equal(etwl_time_parse("1601-01-01T00:00:00Z", 20, &t), ETWL_OK);
    assert_int_equal(t, 0);
    assert_int_equal(etwl_time_parse("1970-01-01T00:00:00Z", 20, &t), ETWL_OK);
    assert_int_equal(t, 116444736000000000LL);
    assert_int_equal(etwl_time_parse("2024-02-29T23:59:59.9999999Z", 28, &t), ETWL_OK);
    etwl_time_format(t, s);
    assert_string_equal(s, "2024-02-29T23:59:59.9999999Z");
    assert_int_equal(etwl_time_parse("2024-03-01T01:00:00+01:00", 25, &t), ETWL_OK);
    etwl_time_format(t, s);
    assert_string_equal(s, "2024-03-01T00:00:00.0000000Z");
    assert_int_equal(etwl_time_parse("2023-02-29T00:00:00Z", 20, &t), ETWL_EPARSE);
    assert_int_equal(etwl_time_parse("2024-01-01T24:00:00Z", 20, &t), ETWL_EPARSE);
    assert_int_equal(etwl_time_parse("2024-01-01T00:00:00", 19, &t), ETWL_EPARSE);
    assert_int_equal(etwl_time_parse("2024-01-01T00:00:00.Z", 21, &t), ETWL_EPARSE);
    assert_int_equal(etwl_time_parse("2024-01-01T00:00:00Zjunk", 24, &t), ETWL_EPARSE);
    assert_int_equal(etwl_time_parse("1601-01-01T00:00:00+00:01", 25, &t), ETWL_ERANGE);
    /* every 100 ns tick of a day survives format+parse */
    {
        int64_t base = 133541070721234567LL, i, back;
        for (i = 0; i < 100000; i += 7) {
            etwl_time_format(base + i * 8640000, s);
            assert_int_equal(etwl_time_parse(s, strlen(s), &back), ETWL_OK);
            assert_int_equal(back, base + i * 8640000);
        }
    }
}

static void test_sid(void **st)
{
    static const uint8_t sid[] = {1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0,    0, 1, 0,
                                  0, 0, 2, 0, 0, 0, 3, 0, 0,  0, 0xe9, 3, 0, 0};
    static const uint8_t big[] = {1, 0, 1, 2, 3, 4, 5, 6};
    char s[ETWL_SID_STRLEN];
    (void)st;
    assert_int_equal(etwl_sid_size(sid, sizeof sid), sizeof sid);
    assert_true(etwl_sid_format(sid, sizeof sid, s, sizeof s) > 0);
    assert_string_equal(s, "S-1-5-21-1-2-3-1001");
    assert_int_equal(etwl_sid_size(sid, sizeof sid - 1), 0);
    assert_true(etwl_sid_format(big, sizeof big, s, sizeof s) > 0);
    assert_string_equal(s, "S-1-0x010203040506");
}

static void test_utf(void **st)
{
    etwl_arena a;
    uint32_t n;
    static const uint8_t w[] = {'A', 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xdc}; /* A, U+1F600, lone low */
    char *s;
    (void)st;
    etwl_arena_init(&a, 0);
    s = etwl_utf16_to_utf8(&a, w, 4, &n);
    assert_string_equal(s, "A\xf0\x9f\x98\x80\xef\xbf\xbd");
    assert_true(etwl_utf8_valid("caf\xc3\xa9", 5));
    assert_false(etwl_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(etwl_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(etwl_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(etwl_utf8_valid("\xe2\x82", 2));         /* truncated */
    etwl_arena_free(&a);
}

static void test_text_escaping(void **st)
{
    etwl_buf b;
    (void)st;
    etwl_buf_init(&b);
    /* cursor movement, a forged new line, a quote, bidi override, C1 CSI */
    static const char in[] = "a\x1b[2J\nb=\"c\" \xe2\x80\xae"
                             "exe.txt \xc2\x9b"
                             "1m\\";
    etwl_text_put_escaped(&b, in, sizeof in - 1);
    /* a backslash is shown as one backslash (paths read as typed) */
    assert_string_equal(b.data, "a\\x1b[2J\\nb=\\\"c\\\" \\u{202e}exe.txt \\u{9b}1m\\");
    etwl_buf_reset(&b);
    etwl_text_put_escaped(&b, "\xff\xfe ok \xe2\x98\xba", 9);
    assert_string_equal(b.data, "\\xff\\xfe ok \xe2\x98\xba");
    etwl_buf_free(&b);
}

static void test_text_lines(void **st)
{
    etwl_buf b;
    static const char in[] = "err: \x1b[2J\nstack traceback:\n\t[C]: in ?\nFAKE\r";
    (void)st;
    etwl_buf_init(&b);
    etwl_text_put_lines(&b, in, sizeof in - 1, "> ");
    assert_string_equal(b.data, "err: \\x1b[2J\n> stack traceback:\n>   [C]: in ?\n> FAKE\\r");
    etwl_buf_free(&b);
}

static void test_arena_reuse(void **st)
{
    etwl_arena a;
    void *p1, *p2;
    int i;
    (void)st;
    etwl_arena_init(&a, 1 << 20);
    for (i = 0; i < 3; i++) {
        etwl_arena_rewind(&a);
        p1 = etwl_arena_alloc(&a, 100);
        p2 = etwl_arena_alloc(&a, 50000); /* a big chunk of its own */
        assert_non_null(p1);
        assert_non_null(p2);
        memset(p2, 1, 50000);
    }
    /* chunks were reused, not piled up */
    assert_true(a.held <= 16384 + 50000 + 16384);
    assert_null(etwl_arena_alloc(&a, 2 << 20)); /* over the limit */
    etwl_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guid),       cmocka_unit_test(test_time),          cmocka_unit_test(test_sid),
        cmocka_unit_test(test_utf),        cmocka_unit_test(test_text_escaping), cmocka_unit_test(test_arena_reuse),
        cmocka_unit_test(test_text_lines),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
