/* test_escape.c - the one list of code points no output writes raw
 * (util/utf.h), in both forms: JSON (\uXXXX) and the readable text
 * (\xXX, \u{X}).  Every code point is tried, so the list cannot drift from
 * what either writer does. */
#include <stdio.h>
#include <string.h>

#include "output/output.h"
#include "testlib.h"
#include "util/utf.h"

/* The list, written out again here on purpose: the engine's copy must agree. */
static const uint32_t listed[][2] = {
    {0x00, 0x1F},     {0x7F, 0x9F},     {0x061C, 0x061C}, {0x200B, 0x200F}, {0x2028, 0x2029},
    {0x202A, 0x202E}, {0x2060, 0x2064}, {0x2066, 0x2069}, {0xFEFF, 0xFEFF},
};

static int on_list(uint32_t cp)
{
    size_t i;
    for (i = 0; i < sizeof listed / sizeof listed[0]; i++)
        if (cp >= listed[i][0] && cp <= listed[i][1]) return 1;
    return 0;
}

static size_t enc(uint32_t c, char *o)
{
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xE0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3F)),
               o[2] = (char)(0x80 | (c & 0x3F)), 3;
    o[0] = (char)(0xF0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* No byte of the output may be a control or start a listed sequence. */
static int raw_free(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = etwl_utf8_seq(p + i, n - i, &cp);
        if (!k) return 0;
        if (on_list(cp)) return 0;
        i += k;
    }
    return 1;
}

static void test_list(void **st)
{
    uint32_t cp;
    (void)st;
    for (cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        assert_int_equal(etwl_cp_needs_escape(cp), on_list(cp));
    }
}

static void test_json_every_code_point(void **st)
{
    uint32_t cp;
    etwl_buf b;
    (void)st;
    etwl_buf_init(&b);
    for (cp = 0; cp <= 0x10FFFF; cp++) {
        char in[8], want[16];
        size_t n;
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        n = enc(cp, in + 1);
        in[0] = 'a', in[n + 1] = 'b'; /* inside a run, where a slip shows */
        etwl_buf_reset(&b);
        etwl_json_put_string(&b, in, n + 2);
        assert_false(b.oom);
        if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f' || cp == '"' || cp == '\\') {
            continue; /* the short forms: test_json_short */
        } else if (on_list(cp)) {
            snprintf(want, sizeof want, "\"a\\u%04xb\"", (unsigned)cp);
            if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
                fail_msg("U+%04X: JSON wrote %.*s, not %s", (unsigned)cp, (int)b.len, b.data, want);
        } else {
            assert_int_equal(b.len, n + 4);
            assert_memory_equal(b.data + 1, in, n + 2);
        }
        assert_true(raw_free(b.data, b.len));
    }
    etwl_buf_free(&b);
}

static void test_json_short(void **st)
{
    static const char in[] = "\"\\\n\r\t\b\f\x01\x7f";
    etwl_buf b;
    (void)st;
    etwl_buf_init(&b);
    etwl_json_put_string(&b, in, sizeof in - 1);
    etwl_buf_putc(&b, 0);
    assert_string_equal(b.data, "\"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u007f\"");
    /* bytes that are not UTF-8 stay bytes (a JSON reader rejects the line;
     * it cannot be read as a control) */
    etwl_buf_reset(&b);
    etwl_json_put_string(&b, "\xc2\xe2\x80", 3);
    assert_int_equal(b.len, 5);
    etwl_buf_free(&b);
}

static void test_text_every_code_point(void **st)
{
    uint32_t cp;
    etwl_buf b, c;
    (void)st;
    etwl_buf_init(&b);
    etwl_buf_init(&c);
    for (cp = 0; cp <= 0x10FFFF; cp++) {
        char in[8], want[16];
        size_t n;
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        n = enc(cp, in);
        etwl_buf_reset(&b);
        etwl_buf_reset(&c);
        etwl_text_put_escaped(&b, in, n);
        etwl_text_put_controls_escaped(&c, in, n);
        etwl_buf_putc(&b, 0);
        etwl_buf_putc(&c, 0);
        if (cp == '\n') strcpy(want, "\\n");
        else if (cp == '\r') strcpy(want, "\\r");
        else if (cp == '\t') strcpy(want, "\\t");
        else if (cp < 0x80 && on_list(cp)) snprintf(want, sizeof want, "\\x%02x", (unsigned)cp);
        else if (on_list(cp)) snprintf(want, sizeof want, "\\u{%x}", (unsigned)cp);
        else if (cp == '"') strcpy(want, "\\\"");
        else memcpy(want, in, n), want[n] = 0; /* a backslash too: one per backslash */
        if (strcmp(b.data, want) != 0) fail_msg("U+%04X: text wrote %s, not %s", (unsigned)cp, b.data, want);
        if (cp == '"') memcpy(want, in, n), want[n] = 0;
        if (strcmp(c.data, want) != 0) fail_msg("U+%04X: controls form wrote %s, not %s", (unsigned)cp, c.data, want);
        assert_true(raw_free(b.data, b.len - 1));
        assert_true(raw_free(c.data, c.len - 1));
    }
    etwl_buf_free(&b);
    etwl_buf_free(&c);
}

/* Multi-line messages (errors, tracebacks): each line escaped. */
static void test_text_lines(void **st)
{
    static const char in[] = "one\xc2\x9b\n\ttwo\xd8\x9c\xe2\x81\xa6";
    etwl_buf b;
    (void)st;
    etwl_buf_init(&b);
    etwl_text_put_lines(&b, in, sizeof in - 1, "> ");
    etwl_buf_putc(&b, 0);
    assert_string_equal(b.data, "one\\u{9b}\n>   two\\u{61c}\\u{2066}");
    etwl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),       cmocka_unit_test(test_json_every_code_point),
        cmocka_unit_test(test_json_short), cmocka_unit_test(test_text_every_code_point),
        cmocka_unit_test(test_text_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
