/* test_schemafile.c - the schemas written beside a recording: a round trip,
 * and every kind of bad line skipped with its FILE:LINE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etwfmt/schemafile.h"
#include "teib.h"
#include "testlib.h"

typedef struct diags {
    int n;
    char where[8][256], what[8][256];
} diags;

static void on_diag(const char *where, const char *what, void *user)
{
    diags *d = user;
    if (d->n < 8) {
        snprintf(d->where[d->n], sizeof d->where[0], "%s", where);
        snprintf(d->what[d->n], sizeof d->what[0], "%s", what);
    }
    d->n++;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_round_trip(void **st)
{
    teib t;
    etwl_buf b;
    etwl_schema_key k, k2;
    etwl_schema_cache *c;
    const etwl_schema *s;
    uint32_t loaded, bad;
    etwl_error e;
    diags d;
    char path[1024], *big;
    FILE *f;
    (void)st;
    snprintf(path, sizeof path, "%s", tl_tmp_path("etwlua-test.schemas"));
    teib_init(&t, NULL, 1, 2, 1, "Microsoft-Windows-Kernel-Process", "ProcessStart", 2, 2);
    teib_prop(&t, 0, "ProcessID", 0, 8, 0, 1, 0);
    teib_prop(&t, 1, "ImageName", 0, 1, 0, 1, 0);
    memset(&k, 0, sizeof k);
    assert_int_equal(etwl_guid_parse("{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}", 38, &k.provider), ETWL_OK);
    k.id = 1;
    k.version = 2;
    k.opcode = 1;
    etwl_buf_init(&b);
    etwl_buf_puts(&b, ETWL_SCHEMAFILE_HEADER "\n");
    etwl_schemafile_line(&b, &k, t.b, t.names);
    k2 = k;
    k2.id = 0;
    k2.meta_hash = 0xfedcba9876543211ull;            /* a TraceLogging type */
    etwl_schemafile_line(&b, &k2, t.b, t.names - 1); /* every length of base64 tail */
    /* the bad lines, each skipped */
    etwl_buf_puts(&b, "not json\n");
    etwl_buf_puts(&b,
                  "{\"provider\":\"nope\",\"id\":1,\"version\":0,\"opcode\":0,\"meta_hash\":\"0x0\",\"tei\":\"\"}\n");
    etwl_buf_puts(&b, "{\"provider\":\"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}\",\"id\":70000,\"version\":0,"
                      "\"opcode\":0,\"meta_hash\":\"0x0\",\"tei\":\"\"}\n");
    etwl_buf_puts(&b, "{\"provider\":\"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}\",\"id\":1,\"version\":0,"
                      "\"opcode\":0,\"meta_hash\":\"0x0\",\"tei\":\"AB=C\"}\n");
    etwl_buf_puts(&b, "{\"provider\":\"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}\",\"id\":1,\"version\":0,"
                      "\"opcode\":0,\"meta_hash\":\"0x0\",\"tei\":\"AAAA\"}\n"); /* 3 bytes: too short a blob */
    etwl_buf_puts(&b, "\n");
    write_file(path, b.data);
    /* and a line longer than any schema */
    f = fopen(path, "ab");
    big = malloc((1u << 20) + 100);
    memset(big, 'A', (1u << 20) + 99);
    big[(1u << 20) + 99] = 0;
    fputs(big, f);
    fputs("\n", f);
    fclose(f);
    free(big);
    etwl_buf_free(&b);

    assert_int_equal(etwl_schema_cache_new(0, &c), ETWL_OK);
    memset(&d, 0, sizeof d);
    assert_int_equal(etwl_schemafile_load(path, c, &loaded, &bad, on_diag, &d, &e), ETWL_OK);
    assert_int_equal(loaded, 1); /* the cut blob does not convert */
    assert_int_equal(bad, 7);
    assert_int_equal(d.n, 7);
    assert_non_null(strstr(d.where[0], "etwlua-test.schemas:3"));
    assert_non_null(strstr(d.what[0], "TRACE_EVENT_INFO"));
    assert_non_null(strstr(d.where[1], ":4"));
    assert_non_null(strstr(d.what[2], "\"provider\""));
    assert_non_null(strstr(d.what[3], "out of range"));
    assert_non_null(strstr(d.what[4], "base64"));
    assert_non_null(strstr(d.what[5], "TRACE_EVENT_INFO"));
    assert_non_null(strstr(d.where[6], ":10"));
    assert_string_equal(d.what[6], "line too long");
    assert_int_equal(etwl_schema_cache_get(c, &k, &s), 1);
    assert_non_null(s);
    assert_int_equal(s->nprops, 2);
    assert_string_equal(s->props[1].name, "ImageName");
    assert_string_equal(s->provider_name, "Microsoft-Windows-Kernel-Process");
    etwl_schema_cache_free(c);
    remove(path);
}

static void test_not_a_schema_file(void **st)
{
    etwl_schema_cache *c;
    uint32_t loaded, bad;
    etwl_error e;
    char path[1024];
    (void)st;
    snprintf(path, sizeof path, "%s", tl_tmp_path("etwlua-test2.schemas"));
    assert_int_equal(etwl_schema_cache_new(0, &c), ETWL_OK);
    write_file(path, "{\"header\":{}}\n");
    assert_int_equal(etwl_schemafile_load(path, c, &loaded, &bad, NULL, NULL, &e), ETWL_EPARSE);
    assert_non_null(strstr(e.message, ":1: not an etwlua schema file"));
    write_file(path, "");
    assert_int_equal(etwl_schemafile_load(path, c, &loaded, &bad, NULL, NULL, &e), ETWL_EPARSE);
    remove(path);
    assert_int_equal(etwl_schemafile_load(path, c, &loaded, &bad, NULL, NULL, &e), ETWL_ENOTFOUND);
    etwl_schema_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_not_a_schema_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
