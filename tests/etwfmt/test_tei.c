/* test_tei.c - TRACE_EVENT_INFO to schema conversion, including hostile
 * blobs.  Portable: the same code the Windows backend uses. */
#include <stdlib.h>
#include <string.h>

#include "etwfmt/tei.h"
#include "core/valuemap.h"
#include "teib.h"
#include "testlib.h"

static void tb_init(teib *t, uint32_t nprops, uint32_t ntop)
{
    teib_init(t, NULL, 1, 3, 1, "Microsoft-Windows-Kernel-Process", "ProcessStart", nprops, ntop);
}

static void test_convert_and_decode(void **st)
{
    teib t;
    etwl_schema *s;
    etwl_error e;
    etwl_event ev;
    tl_payload p;
    (void)st;
    tb_init(&t, 7, 5);
    teib_prop(&t, 0, "ProcessID", 0, ETWL_IN_UINT32, 0, 1, 0);
    teib_prop(&t, 1, "ImageName", 0, ETWL_IN_UNICODESTRING, 0, 1, 0);
    teib_prop(&t, 2, "Count", 0, ETWL_IN_UINT16, 0, 1, 0);
    teib_prop(&t, 3, "Ports", 0x4 /* PropertyParamCount */, ETWL_IN_UINT16, ETWL_OUT_PORT, 2, 0);
    teib_prop(&t, 4, "Pairs", 0x1 | 0x20 /* struct, fixed count */, 5, 2, 1, 0);
    teib_prop(&t, 5, "Key", 0, ETWL_IN_UINT8, 0, 1, 0);
    teib_prop(&t, 6, "Sid", 0, ETWL_IN_SID, 0, 1, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_OK);
    assert_int_equal(s->ntop, 5);
    assert_string_equal(s->provider_name, "Microsoft-Windows-Kernel-Process");
    assert_string_equal(s->event_name, "ProcessStart");
    assert_string_equal(s->task_name, "ProcessStart");
    assert_null(s->opcode_name);
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
    teib t;
    etwl_schema *s;
    etwl_error e;
    size_t cut;
    (void)st;
    /* too short, lying counts */
    tb_init(&t, 1, 1);
    assert_int_equal(etwl_tei_to_schema(t.b, 50, &s, &e), ETWL_ESCHEMA);
    teib_prop(&t, 0, "A", 0, ETWL_IN_UINT8, 0, 1, 0);
    teib_w32(t.b + 100, 100000);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    teib_w32(t.b + 100, 1);
    teib_w32(t.b + 104, 2); /* more top-level than properties */
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    /* a name offset past the end, and a name with no terminator */
    tb_init(&t, 1, 1);
    teib_prop(&t, 0, "A", 0, ETWL_IN_UINT8, 0, 1, 0);
    teib_w32(t.b + 112 + 4, 7000);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    assert_non_null(strstr(e.message, "outside"));
    /* a struct pointing at itself, and a count referring forward */
    tb_init(&t, 2, 2);
    teib_prop(&t, 0, "S", 0x1, 0, 1, 1, 0);
    teib_prop(&t, 1, "B", 0, ETWL_IN_UINT8, 0, 1, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    tb_init(&t, 2, 2);
    teib_prop(&t, 0, "Arr", 0x4, ETWL_IN_UINT8, 0, 1, 0);
    teib_prop(&t, 1, "N", 0, ETWL_IN_UINT8, 0, 1, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_ESCHEMA);
    /* every truncation of a good blob fails cleanly or converts (ASan checks) */
    tb_init(&t, 3, 3);
    teib_prop(&t, 0, "N", 0, ETWL_IN_UINT16, 0, 1, 0);
    teib_prop(&t, 1, "Names", 0x4, ETWL_IN_UNICODESTRING, 0, 0, 0);
    teib_prop(&t, 2, "Blob", 0x2, ETWL_IN_BINARY, 0, 1, 0);
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

/* Every TDH in-type, each alone in a TRACE_EVENT_INFO, converted and then
 * decoded from a payload written by hand (64-bit event). */
static void test_every_intype(void **st)
{
    static const struct {
        uint16_t in, out, length;
        const char *payload;
        size_t n;
        const char *json;
    } c[] = {
        {ETWL_IN_UNICODESTRING, 0, 0, "a\0b\0\0\0", 6, "\"ab\""},
        {ETWL_IN_ANSISTRING, 0, 0, "cd\0", 3, "\"cd\""},
        {ETWL_IN_INT8, 0, 0, "\xfd", 1, "-3"},
        {ETWL_IN_UINT8, 0, 0, "\xfa", 1, "250"},
        {ETWL_IN_INT16, 0, 0, "\xd4\xfe", 2, "-300"},
        {ETWL_IN_UINT16, 0, 0, "\x60\xea", 2, "60000"},
        {ETWL_IN_INT32, 0, 0, "\x90\xee\xfe\xff", 4, "-70000"},
        {ETWL_IN_UINT32, 0, 0, "\x00\x28\x6b\xee", 4, "4000000000"},
        {ETWL_IN_INT64, 0, 0, "\xfb\xff\xff\xff\xff\xff\xff\xff", 8, "-5"},
        {ETWL_IN_UINT64, 0, 0, "\x01\x00\x00\x00\x00\x00\x00\x80", 8, "9223372036854775809"},
        {ETWL_IN_FLOAT, 0, 0, "\x00\x00\xc0\x3f", 4, "1.5"},
        {ETWL_IN_DOUBLE, 0, 0, "\x00\x00\x00\x00\x00\x00\x02\xc0", 8, "-2.25"},
        {ETWL_IN_BOOLEAN, 0, 0, "\x01\x00\x00\x00", 4, "true"},
        {ETWL_IN_BINARY, 0, 3, "\x01\x02\x03", 3, "\"0x010203\""},
        {ETWL_IN_GUID, 0, 0, "\xd6\x2c\xfb\x22\x7b\x0e\x2b\x42\xa0\xc7\x2f\xad\x1f\xd0\xe7\x16", 16,
         "\"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}\""},
        {ETWL_IN_POINTER, 0, 0, "\x00\x10\x00\x00\x00\x80\xff\xff", 8, "\"0xFFFF800000001000\""},
        /* 2024-03-05T10:11:13Z is 133541070730000000 ticks */
        {ETWL_IN_FILETIME, 0, 0, "\x80\x76\xc9\x73\xe5\x6e\xda\x01", 8, "\"2024-03-05T10:11:13.0000000Z\""},
        {ETWL_IN_SYSTEMTIME, 0, 0, "\xe8\x07\x03\x00\x02\x00\x05\x00\x0a\x00\x0b\x00\x0d\x00\x07\x00", 16,
         "\"2024-03-05T10:11:13.0070000Z\""},
        {ETWL_IN_SID, 0, 0, "\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00", 12, "\"S-1-5-18\""},
        {ETWL_IN_HEXINT32, 0, 0, "\xef\xbe\xad\xde", 4, "\"0xDEADBEEF\""},
        {ETWL_IN_HEXINT64, 0, 0, "\x01\x00\x00\x00\x01\x00\x00\x00", 8, "\"0x100000001\""},
        {ETWL_IN_MANIFEST_COUNTEDSTRING, 0, 0, "\x04\x00h\0i\0", 6, "\"hi\""},
        {ETWL_IN_MANIFEST_COUNTEDANSISTRING, 0, 0, "\x02\x00ok", 4, "\"ok\""},
        {ETWL_IN_MANIFEST_COUNTEDBINARY, 0, 0, "\x02\x00\xab\xcd", 4, "\"0xABCD\""},
        {ETWL_IN_COUNTEDSTRING, 0, 0, "\x02\x00Z\0", 4, "\"Z\""},
        {ETWL_IN_COUNTEDANSISTRING, 0, 0, "\x01\x00Y", 3, "\"Y\""},
        {ETWL_IN_REVERSEDCOUNTEDSTRING, 0, 0, "\x00\x02R\0", 4, "\"R\""},
        {ETWL_IN_REVERSEDCOUNTEDANSISTRING, 0, 0, "\x00\x01S", 3, "\"S\""},
        {ETWL_IN_NONNULLTERMINATEDSTRING, 0, 0, "t\0a\0i\0l\0", 8, "\"tail\""},
        {ETWL_IN_NONNULLTERMINATEDANSISTRING, 0, 0, "end", 3, "\"end\""},
        {ETWL_IN_UNICODECHAR, 0, 0, "\x3a\x26", 2, "\"\xe2\x98\xba\""},
        {ETWL_IN_ANSICHAR, 0, 0, "Q", 1, "\"Q\""},
        {ETWL_IN_SIZET, 0, 0, "\x2a\x00\x00\x00\x00\x00\x00\x00", 8, "\"0x2A\""},
        {ETWL_IN_HEXDUMP, 0, 0, "\x01\x00\x00\x00\xee", 5, "\"0xEE\""},
        {ETWL_IN_WBEMSID, 0, 0,
         "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00"
         "\x00\x00",
         28, "\"S-1-5-18\""},
        /* out-types that change the presentation come through too */
        {ETWL_IN_UINT16, ETWL_OUT_PORT, 0, "\x01\xbb", 2, "443"},
        {ETWL_IN_UINT32, ETWL_OUT_IPV4, 0, "\x0a\x00\x00\x01", 4, "\"10.0.0.1\""},
        {ETWL_IN_UINT32, ETWL_OUT_HEXINT32, 0, "\x10\x00\x00\x00", 4, "\"0x10\""},
        {ETWL_IN_BINARY, ETWL_OUT_IPV6, 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16, "\"2001:db8::1\""},
    };
    size_t i;
    (void)st;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        teib t;
        etwl_schema *s;
        etwl_error e;
        etwl_event ev;
        const char *got;
        tb_init(&t, 1, 1);
        teib_prop(&t, 0, "V", 0, c[i].in, c[i].out, 1, c[i].length);
        assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_OK);
        assert_int_equal(s->props[0].intype, c[i].in);
        assert_int_equal(s->props[0].outtype, c[i].out);
        etwl_event_init(&ev);
        etwl_event_begin(&ev);
        ev.hdr.flags = ETWL_HDR_FLAG_64_BIT_HEADER;
        etwl_event_set_payload(&ev, s, (const uint8_t *)c[i].payload, (uint32_t)c[i].n);
        got = tl_json(etwl_event_get(&ev, "V"));
        if (strcmp(got, c[i].json) != 0)
            fail_msg("in-type %u out-type %u: got %s, want %s", c[i].in, c[i].out, got, c[i].json);
        etwl_event_release(&ev);
        etwl_schema_free(s);
    }
}

/* A property counted by another, holding structs with an array member: the
 * flags map onto the schema's references. */
static void test_nested_arrays(void **st)
{
    teib t;
    etwl_schema *s;
    etwl_error e;
    etwl_event ev;
    tl_payload p;
    (void)st;
    tb_init(&t, 5, 2);
    teib_prop(&t, 0, "N", 0, ETWL_IN_UINT8, 0, 1, 0);
    teib_prop(&t, 1, "Items", TEIB_STRUCT | TEIB_PARAM_COUNT, 2, 3, 0 /* count: property 0 */, 0);
    teib_prop(&t, 2, "Len", 0, ETWL_IN_UINT16, 0, 1, 0);
    teib_prop(&t, 3, "Data", TEIB_PARAM_LENGTH, ETWL_IN_BINARY, 0, 1, 2 /* length: property 2 */);
    teib_prop(&t, 4, "Pair", TEIB_FIXED_COUNT, ETWL_IN_UINT8, 0, 2, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_OK);
    memset(&p, 0, sizeof p);
    tl_u8(&p, 2);
    tl_u16(&p, 1);
    tl_u8(&p, 0xAA);
    tl_u8(&p, 1);
    tl_u8(&p, 2);
    tl_u16(&p, 0);
    tl_u8(&p, 3);
    tl_u8(&p, 4);
    etwl_event_init(&ev);
    etwl_event_begin(&ev);
    etwl_event_set_payload(&ev, s, p.b, p.n);
    assert_string_equal(tl_json(etwl_event_get(&ev, "Items")),
                        "[{\"Len\":1,\"Data\":\"0xAA\",\"Pair\":[1,2]},{\"Len\":0,\"Data\":\"0x\",\"Pair\":[3,4]}]");
    etwl_event_release(&ev);
    etwl_schema_free(s);
}

/* PROVIDER_ENUMERATION_INFO, as TdhEnumerateProviders returns it. */
static void test_find_provider(void **st)
{
    uint8_t b[256];
    etwl_guid g;
    const char *n1 = "Microsoft-Windows-DNS-Client", *n2 = "Sysmon";
    uint32_t at = 8 + 2 * 24, i;
    (void)st;
    memset(b, 0, sizeof b);
    teib_w32(b, 2);
    b[8] = 0x11;
    b[8 + 24] = 0x22;
    teib_w32(b + 8 + 20, at);
    for (i = 0; n1[i]; i++) b[at + 2 * i] = (uint8_t)n1[i];
    at += 2 * (i + 1);
    teib_w32(b + 8 + 24 + 20, at);
    for (i = 0; n2[i]; i++) b[at + 2 * i] = (uint8_t)n2[i];
    at += 2 * (i + 1);
    assert_int_equal(etwl_tei_find_provider(b, at, "sysmon", &g), ETWL_OK);
    assert_int_equal(g.d1, 0x22);
    assert_int_equal(etwl_tei_find_provider(b, at, "MICROSOFT-WINDOWS-DNS-CLIENT", &g), ETWL_OK);
    assert_int_equal(g.d1, 0x11);
    assert_int_equal(etwl_tei_find_provider(b, at, "Sysmo", &g), ETWL_ENOTFOUND);
    /* lying count, name running off the end */
    teib_w32(b, 1000);
    assert_int_equal(etwl_tei_find_provider(b, at, "Sysmon", &g), ETWL_ESCHEMA);
    teib_w32(b, 2);
    assert_int_equal(etwl_tei_find_provider(b, at - 4, "Sysmon", &g), ETWL_ESCHEMA);
    assert_int_equal(etwl_tei_find_provider(b, 4, "Sysmon", &g), ETWL_ESCHEMA);
}

/* Value maps: the TRACE_EVENT_INFO names them, EVENT_MAP_INFO gives the
 * names; manifest padding is trimmed, bitmaps join set bits. */
static void test_value_maps(void **st)
{
    teib t;
    etwl_schema *s;
    etwl_error e;
    etwl_valuemap *m;
    uint8_t b[1024];
    char out[128];
    static const uint32_t vals[] = {0, 1, 2};
    static const char *const names[] = {"Stopped ", "Running", "Paused "};
    static const uint32_t bits[] = {0, 1, 2, 8};
    static const char *const bnames[] = {"None", "Read", "Write", "Delete"};
    static const char *const mof[] = {"Zero", "One"};
    uint32_t n;
    (void)st;
    tb_init(&t, 2, 2);
    teib_prop(&t, 0, "State", 0, ETWL_IN_UINT32, 0, 1, 0);
    teib_prop_map(&t, 0, "StateMap");
    teib_prop(&t, 1, "Plain", 0, ETWL_IN_UINT32, 0, 1, 0);
    assert_int_equal(etwl_tei_to_schema(t.b, t.names, &s, &e), ETWL_OK);
    assert_string_equal(s->props[0].map_name, "StateMap");
    assert_null(s->props[1].map_name);
    etwl_schema_free(s);

    n = teib_map(b, sizeof b, "StateMap", 0x1 /* manifest valuemap */, 3, vals, names);
    assert_int_equal(etwl_valuemap_from_emi(b, n, &m, &e), ETWL_OK);
    assert_int_equal(etwl_valuemap_name(m, 1, out, sizeof out), 7);
    assert_string_equal(out, "Running");
    assert_int_equal(etwl_valuemap_name(m, 2, out, sizeof out), 6);
    assert_string_equal(out, "Paused"); /* the trailing blank manifests add */
    assert_int_equal(etwl_valuemap_name(m, 7, out, sizeof out), 0);
    etwl_valuemap_free(m);

    n = teib_map(b, sizeof b, "Access", 0x2 /* manifest bitmap */, 4, bits, bnames);
    assert_int_equal(etwl_valuemap_from_emi(b, n, &m, &e), ETWL_OK);
    etwl_valuemap_name(m, 3, out, sizeof out);
    assert_string_equal(out, "Read|Write");
    etwl_valuemap_name(m, 0x19, out, sizeof out);
    assert_string_equal(out, "Read|Delete|0x10");
    etwl_valuemap_name(m, 0, out, sizeof out);
    assert_string_equal(out, "None");
    assert_int_equal(etwl_valuemap_name(m, 3, out, 5), 0); /* does not fit */
    etwl_valuemap_free(m);

    /* MOF Values without ValueMap: the index is the value */
    n = teib_map(b, sizeof b, "M", 0x40 /* WBEM_NO_MAP */, 2, NULL, mof);
    assert_int_equal(etwl_valuemap_from_emi(b, n, &m, &e), ETWL_OK);
    etwl_valuemap_name(m, 1, out, sizeof out);
    assert_string_equal(out, "One");
    etwl_valuemap_free(m);

    /* hostile: lying count, name outside, pattern maps */
    n = teib_map(b, sizeof b, "StateMap", 0x1, 3, vals, names);
    teib_w32(b + 8, 5000);
    assert_int_equal(etwl_valuemap_from_emi(b, n, &m, &e), ETWL_ESCHEMA);
    teib_w32(b + 8, 3);
    teib_w32(b + 16, 9999);
    assert_int_equal(etwl_valuemap_from_emi(b, n, &m, &e), ETWL_ESCHEMA);
    assert_int_equal(etwl_valuemap_from_emi(b, 10, &m, &e), ETWL_ESCHEMA);
    teib_w32(b + 4, 0x4);
    assert_int_equal(etwl_valuemap_from_emi(b, n, &m, &e), ETWL_ENOTSUP);
    /* every truncation fails cleanly or converts (ASan checks) */
    n = teib_map(b, sizeof b, "Access", 0x2, 4, bits, bnames);
    for (uint32_t cut = 0; cut <= n; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b, cut);
        if (etwl_valuemap_from_emi(copy, cut, &m, &e) == ETWL_OK) etwl_valuemap_free(m);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert_and_decode), cmocka_unit_test(test_hostile_blobs),
        cmocka_unit_test(test_every_intype),       cmocka_unit_test(test_nested_arrays),
        cmocka_unit_test(test_find_provider),      cmocka_unit_test(test_value_maps),
    };
    return cmocka_run_group_tests_name("tei", tests, NULL, NULL);
}
