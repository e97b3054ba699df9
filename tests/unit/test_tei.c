/* test_tei.c - TRACE_EVENT_INFO to schema conversion, including hostile
 * blobs.  Portable: the same code the Windows backend uses. */
#include <stdlib.h>
#include <string.h>

#include "tei.h"
#include "testlib.h"

/* A small TRACE_EVENT_INFO writer, laid out as TdhGetEventInformation does:
 * the fixed header, the EVENT_PROPERTY_INFO array, then UTF-16 names. */
typedef struct tb {
    uint8_t b[8192];
    uint32_t names; /* where the next name goes */
    uint32_t nprops;
} tb;

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, (uint16_t)v); w16(p + 2, (uint16_t)(v >> 16)); }

static uint32_t name(tb *t, const char *s)
{
    uint32_t off = t->names;
    while (*s) { w16(t->b + t->names, (uint8_t)*s++); t->names += 2; }
    w16(t->b + t->names, 0);
    t->names += 2;
    return off;
}

static void tb_init(tb *t, uint32_t nprops, uint32_t ntop)
{
    static const uint8_t guid[16] = {0xd6, 0x2c, 0xfb, 0x22, 0x7b, 0x0e, 0x2b, 0x42,
                                     0xa0, 0xc7, 0x2f, 0xad, 0x1f, 0xd0, 0xe7, 0x16};
    memset(t, 0, sizeof *t);
    memcpy(t->b, guid, 16);
    w16(t->b + 32, 1);      /* Id */
    t->b[34] = 3;           /* Version */
    t->b[36] = 4;           /* Level */
    t->b[37] = 1;           /* Opcode */
    w16(t->b + 38, 1);      /* Task */
    w32(t->b + 40, 0x10);   /* Keyword, low */
    w32(t->b + 44, 0x80000000u); /* Keyword, high */
    w32(t->b + 100, nprops);
    w32(t->b + 104, ntop);
    t->nprops = nprops;
    t->names = 112 + nprops * 24;
    w32(t->b + 52, name(t, "Microsoft-Windows-Kernel-Process"));
    w32(t->b + 68, name(t, "ProcessStart"));
}

static void prop(tb *t, uint32_t i, const char *n, uint32_t flags, uint16_t a, uint16_t b, uint16_t count,
                 uint16_t length)
{
    uint8_t *e = t->b + 112 + i * 24;
    w32(e, flags);
    w32(e + 4, name(t, n));
    w16(e + 8, a);
    w16(e + 10, b);
    w16(e + 16, count);
    w16(e + 18, length);
}

static void test_convert_and_decode(void **st)
{
    tb t;
    etwl_schema *s;
    etwl_error e;
    etwl_event ev;
    tl_payload p;
    (void)st;
    tb_init(&t, 7, 5);
    prop(&t, 0, "ProcessID", 0, ETWL_IN_UINT32, 0, 1, 0);
    prop(&t, 1, "ImageName", 0, ETWL_IN_UNICODESTRING, 0, 1, 0);
    prop(&t, 2, "Count", 0, ETWL_IN_UINT16, 0, 1, 0);
    prop(&t, 3, "Ports", 0x4 /* PropertyParamCount */, ETWL_IN_UINT16, ETWL_OUT_PORT, 2, 0);
    prop(&t, 4, "Pairs", 0x1 | 0x20 /* struct, fixed count */, 5, 2, 1, 0);
    prop(&t, 5, "Key", 0, ETWL_IN_UINT8, 0, 1, 0);
    prop(&t, 6, "Sid", 0, ETWL_IN_SID, 0, 1, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_OK);
    assert_int_equal(s->ntop, 5);
    assert_string_equal(s->provider_name, "Microsoft-Windows-Kernel-Process");
    assert_string_equal(s->event_name, "ProcessStart");
    assert_int_equal(s->desc.version, 3);
    assert_true(s->desc.keyword == 0x8000000000000010ull);
    assert_int_equal(s->provider_guid.d1, 0x22FB2CD6u);
    assert_int_equal(etwl_schema_find(s, "Ports", 5), 3);
    /* and the portable decoder reads payloads with it */
    memset(&p, 0, sizeof p);
    tl_u32(&p, 4242);
    tl_wstr(&p, "C:\\a.exe", 1);
    tl_u16(&p, 2);
    tl_u16(&p, 0x5000);
    tl_u16(&p, 0xBB01);
    tl_u8(&p, 9);
    tl_bytes(&p, "\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00", 12);
    etwl_event_init(&ev);
    etwl_event_begin(&ev);
    etwl_event_set_payload(&ev, s, p.b, p.n);
    assert_string_equal(tl_json(etwl_event_get(&ev, "ImageName")), "\"C:\\\\a.exe\"");
    assert_string_equal(tl_json(etwl_event_get(&ev, "Ports")), "[80,443]");
    assert_string_equal(tl_json(etwl_event_get(&ev, "Pairs")), "[{\"Key\":9,\"Sid\":\"S-1-5-18\"}]");
    etwl_event_release(&ev);
    etwl_schema_free(s);
}

static void test_hostile_blobs(void **st)
{
    tb t;
    etwl_schema *s;
    etwl_error e;
    size_t cut;
    (void)st;
    /* too short, lying counts */
    tb_init(&t, 1, 1);
    assert_int_equal(etwl_tei_to_schema(t.b, 50, &s, &e), ETWL_ESCHEMA);
    prop(&t, 0, "A", 0, ETWL_IN_UINT8, 0, 1, 0);
    w32(t.b + 100, 100000);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    w32(t.b + 100, 1);
    w32(t.b + 104, 2); /* more top-level than properties */
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    /* a name offset past the end, and a name with no terminator */
    tb_init(&t, 1, 1);
    prop(&t, 0, "A", 0, ETWL_IN_UINT8, 0, 1, 0);
    w32(t.b + 112 + 4, 7000);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    assert_non_null(strstr(e.message, "outside"));
    /* a struct pointing at itself, and a count referring forward */
    tb_init(&t, 2, 2);
    prop(&t, 0, "S", 0x1, 0, 1, 1, 0);
    prop(&t, 1, "B", 0, ETWL_IN_UINT8, 0, 1, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    tb_init(&t, 2, 2);
    prop(&t, 0, "Arr", 0x4, ETWL_IN_UINT8, 0, 1, 0);
    prop(&t, 1, "N", 0, ETWL_IN_UINT8, 0, 1, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    /* every truncation of a good blob fails cleanly or converts (ASan checks) */
    tb_init(&t, 3, 3);
    prop(&t, 0, "N", 0, ETWL_IN_UINT16, 0, 1, 0);
    prop(&t, 1, "Names", 0x4, ETWL_IN_UNICODESTRING, 0, 0, 0);
    prop(&t, 2, "Blob", 0x2, ETWL_IN_BINARY, 0, 1, 0);
    for (cut = 0; cut <= t.names; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, t.b, cut);
        if (etwl_tei_to_schema(copy, cut, &s, &e) == ETWL_OK) {
            assert_true(cut == t.names);
            etwl_schema_free(s);
        }
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert_and_decode),
        cmocka_unit_test(test_hostile_blobs),
    };
    return cmocka_run_group_tests_name("tei", tests, NULL, NULL);
}
