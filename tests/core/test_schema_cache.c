/* test_schema_cache.c - schemas by event type: hits, misses remembered as
 * NULL, growth, and the bound on memory. */
#include <stdlib.h>
#include <string.h>

#include "core/schema_cache.h"
#include "testlib.h"

static etwl_schema *one_prop(const char *name)
{
    etwl_schema_prop p;
    etwl_schema *s = NULL;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.intype = ETWL_IN_UINT32;
    assert_int_equal(etwl_schema_new(&p, 1, 1, &s, NULL), ETWL_OK);
    return s;
}

static void key(etwl_schema_key *k, uint32_t d1, uint16_t id, uint64_t meta)
{
    memset(k, 0, sizeof *k);
    k->provider.d1 = d1;
    k->id = id;
    k->version = 1;
    k->meta_hash = meta;
}

static void test_get_put(void **st)
{
    etwl_schema_cache *c;
    etwl_schema_key k;
    const etwl_schema *got;
    uint32_t i;
    (void)st;
    assert_int_equal(etwl_schema_cache_new(0, &c), ETWL_OK);
    key(&k, 1, 1, 0);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 0);
    assert_int_equal(etwl_schema_cache_put(c, &k, one_prop("A")), ETWL_OK);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 1);
    assert_string_equal(got->props[0].name, "A");
    /* a type without a schema is remembered as such */
    key(&k, 1, 2, 0);
    assert_int_equal(etwl_schema_cache_put(c, &k, NULL), ETWL_OK);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 1);
    assert_null(got);
    /* each key field tells types apart */
    key(&k, 1, 1, 5);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 0);
    key(&k, 2, 1, 0);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 0);
    key(&k, 1, 1, 0);
    k.opcode = 3;
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 0);
    /* replacing frees the old one (ASan checks) */
    key(&k, 1, 1, 0);
    assert_int_equal(etwl_schema_cache_put(c, &k, one_prop("B")), ETWL_OK);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 1);
    assert_string_equal(got->props[0].name, "B");
    /* growth keeps every entry */
    for (i = 0; i < 5000; i++) {
        key(&k, 100 + i, (uint16_t)i, i);
        assert_int_equal(etwl_schema_cache_put(c, &k, i % 2 ? NULL : one_prop("X")), ETWL_OK);
    }
    assert_int_equal(etwl_schema_cache_count(c), 5002);
    for (i = 0; i < 5000; i++) {
        key(&k, 100 + i, (uint16_t)i, i);
        assert_int_equal(etwl_schema_cache_get(c, &k, &got), 1);
        assert_true((got == NULL) == (i % 2 == 1));
    }
    etwl_schema_cache_free(c);
}

static void test_bound(void **st)
{
    etwl_schema_cache *c;
    etwl_schema_key k;
    const etwl_schema *got;
    uint32_t i;
    (void)st;
    assert_int_equal(etwl_schema_cache_new(100, &c), ETWL_OK);
    for (i = 0; i < 250; i++) {
        key(&k, i, 0, 0);
        assert_int_equal(etwl_schema_cache_put(c, &k, one_prop("X")), ETWL_OK);
        assert_true(etwl_schema_cache_count(c) <= 100);
    }
    assert_int_equal(etwl_schema_cache_resets(c), 2);
    key(&k, 249, 0, 0);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 1);
    key(&k, 0, 0, 0);
    assert_int_equal(etwl_schema_cache_get(c, &k, &got), 0);
    etwl_schema_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put),
        cmocka_unit_test(test_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
