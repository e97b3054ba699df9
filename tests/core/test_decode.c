/* test_decode.c - the payload decoder: every in-type, arrays, structs,
 * references, laziness and hostile payloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

typedef struct fx {
    etwl_event ev;
    etwl_schema *s;
    tl_payload p;
} fx;

static fx F;

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    etwl_event_init(&F.ev);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    etwl_event_release(&F.ev);
    etwl_schema_free(F.s);
    return 0;
}

static void attach(etwl_schema_builder *b, uint16_t hdr_flags)
{
    etwl_error err;
    etwl_schema_free(F.s);
    F.s = NULL;
    assert_int_equal(etwl_sb_build(b, &F.s, &err), ETWL_OK);
    etwl_sb_free(b);
    etwl_event_begin(&F.ev);
    F.ev.hdr.flags = hdr_flags;
    assert_int_equal(etwl_event_set_payload(&F.ev, F.s, F.p.b, F.p.n), ETWL_OK);
}

static const char *get(const char *name) { return tl_json(etwl_event_get(&F.ev, name)); }

static void test_integers(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    (void)st;
    etwl_sb_add(b, -1, "i8", ETWL_IN_INT8, 0);
    etwl_sb_add(b, -1, "u8", ETWL_IN_UINT8, 0);
    etwl_sb_add(b, -1, "i16", ETWL_IN_INT16, 0);
    etwl_sb_add(b, -1, "u16", ETWL_IN_UINT16, 0);
    etwl_sb_add(b, -1, "i32", ETWL_IN_INT32, 0);
    etwl_sb_add(b, -1, "u32", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "i64", ETWL_IN_INT64, 0);
    etwl_sb_add(b, -1, "u64", ETWL_IN_UINT64, 0);
    etwl_sb_add(b, -1, "h32", ETWL_IN_HEXINT32, 0);
    etwl_sb_add(b, -1, "h64", ETWL_IN_HEXINT64, 0);
    etwl_sb_add(b, -1, "u32hex", ETWL_IN_UINT32, ETWL_OUT_HEXINT32);
    etwl_sb_add(b, -1, "port", ETWL_IN_UINT16, ETWL_OUT_PORT);
    etwl_sb_add(b, -1, "ip", ETWL_IN_UINT32, ETWL_OUT_IPV4);
    etwl_sb_add(b, -1, "b8", ETWL_IN_UINT8, ETWL_OUT_BOOLEAN);
    tl_u8(&F.p, 0x80);
    tl_u8(&F.p, 0xFF);
    tl_u16(&F.p, 0x8000);
    tl_u16(&F.p, 0xFFFF);
    tl_u32(&F.p, 0xFFFFFFFE);
    tl_u32(&F.p, 0xFFFFFFFF);
    tl_u64(&F.p, 0x8000000000000000ull);
    tl_u64(&F.p, UINT64_MAX);
    tl_u32(&F.p, 0xDEADBEEF);
    tl_u64(&F.p, 0x0123456789ABCDEFull);
    tl_u32(&F.p, 255);
    tl_u16(&F.p, 0x5000); /* 80 in network order */
    tl_bytes(&F.p, "\x0a\x00\x00\x01", 4);
    tl_u8(&F.p, 2);
    attach(b, 0);
    assert_string_equal(get("i8"), "-128");
    assert_string_equal(get("u8"), "255");
    assert_string_equal(get("i16"), "-32768");
    assert_string_equal(get("u16"), "65535");
    assert_string_equal(get("i32"), "-2");
    assert_string_equal(get("u32"), "4294967295");
    assert_string_equal(get("i64"), "-9223372036854775808");
    assert_string_equal(get("u64"), "18446744073709551615");
    assert_string_equal(get("h32"), "\"0xDEADBEEF\"");
    assert_string_equal(get("h64"), "\"0x123456789ABCDEF\"");
    assert_string_equal(get("u32hex"), "\"0xFF\"");
    assert_string_equal(get("port"), "80");
    assert_string_equal(get("ip"), "\"10.0.0.1\"");
    assert_string_equal(get("b8"), "true");
}

static void test_float_bool_guid_time(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    float f = 1.5f;
    double d = -0.1;
    uint32_t fw;
    uint64_t dw;
    static const uint8_t guid[16] = {0xd6, 0x2c, 0xfb, 0x22, 0x7b, 0x0e, 0x2b, 0x42,
                                     0xa0, 0xc7, 0x2f, 0xad, 0x1f, 0xd0, 0xe7, 0x16};
    (void)st;
    etwl_sb_add(b, -1, "f", ETWL_IN_FLOAT, 0);
    etwl_sb_add(b, -1, "d", ETWL_IN_DOUBLE, 0);
    etwl_sb_add(b, -1, "yes", ETWL_IN_BOOLEAN, 0);
    etwl_sb_add(b, -1, "no", ETWL_IN_BOOLEAN, 0);
    etwl_sb_add(b, -1, "g", ETWL_IN_GUID, 0);
    etwl_sb_add(b, -1, "ft", ETWL_IN_FILETIME, 0);
    etwl_sb_add(b, -1, "st", ETWL_IN_SYSTEMTIME, 0);
    memcpy(&fw, &f, 4);
    memcpy(&dw, &d, 8);
    tl_u32(&F.p, fw);
    tl_u64(&F.p, dw);
    tl_u32(&F.p, 7);
    tl_u32(&F.p, 0);
    tl_bytes(&F.p, guid, 16);
    tl_u64(&F.p, 133541070721234567ull); /* 2024-03-05T10:11:12.1234567Z */
    tl_u16(&F.p, 2024);
    tl_u16(&F.p, 3);
    tl_u16(&F.p, 2);
    tl_u16(&F.p, 5);
    tl_u16(&F.p, 10);
    tl_u16(&F.p, 11);
    tl_u16(&F.p, 12);
    tl_u16(&F.p, 123);
    attach(b, 0);
    assert_string_equal(get("f"), "1.5");
    assert_string_equal(get("d"), "-0.1");
    assert_string_equal(get("yes"), "true");
    assert_string_equal(get("no"), "false");
    assert_string_equal(get("g"), "\"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}\"");
    assert_string_equal(get("ft"), "\"2024-03-05T10:11:12.1234567Z\"");
    assert_string_equal(get("st"), "\"2024-03-05T10:11:12.1230000Z\"");
}

static void test_strings(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    int h;
    (void)st;
    etwl_sb_add(b, -1, "w", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_add(b, -1, "a", ETWL_IN_ANSISTRING, 0);
    h = etwl_sb_add(b, -1, "wfix", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_length(b, h, 4);
    etwl_sb_add(b, -1, "alen", ETWL_IN_UINT16, 0);
    h = etwl_sb_add(b, -1, "aref", ETWL_IN_ANSISTRING, 0);
    etwl_sb_length_ref(b, h, "alen");
    etwl_sb_add(b, -1, "wc", ETWL_IN_COUNTEDSTRING, 0);
    etwl_sb_add(b, -1, "wr", ETWL_IN_REVERSEDCOUNTEDSTRING, 0);
    etwl_sb_add(b, -1, "ac", ETWL_IN_COUNTEDANSISTRING, 0);
    etwl_sb_add(b, -1, "mc", ETWL_IN_MANIFEST_COUNTEDSTRING, 0);
    etwl_sb_add(b, -1, "uc", ETWL_IN_UNICODECHAR, 0);
    etwl_sb_add(b, -1, "ach", ETWL_IN_ANSICHAR, 0);
    etwl_sb_add(b, -1, "cp1252", ETWL_IN_ANSISTRING, 0);
    etwl_sb_add(b, -1, "surr", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_add(b, -1, "rest", ETWL_IN_NONNULLTERMINATEDSTRING, 0);
    tl_wstr(&F.p, "C:\\x.exe", 1);
    tl_bytes(&F.p, "ansi\0", 5);
    tl_wstr(&F.p, "ab", 0);
    tl_u16(&F.p, 0); /* fixed 4 chars, NUL padded */
    tl_u16(&F.p, 0);
    tl_u16(&F.p, 3);
    tl_bytes(&F.p, "xyz", 3);
    tl_u16(&F.p, 4);
    tl_wstr(&F.p, "hi", 0);
    tl_u8(&F.p, 0);
    tl_u8(&F.p, 2); /* big-endian count 2 */
    tl_wstr(&F.p, "R", 0);
    tl_u16(&F.p, 2);
    tl_bytes(&F.p, "ok", 2);
    tl_u16(&F.p, 6);
    tl_wstr(&F.p, "abc", 0);
    tl_u16(&F.p, 0x263A); /* U+263A */
    tl_u8(&F.p, 'Q');
    tl_bytes(&F.p, "caf\xe9\x80\0", 6); /* not UTF-8: Windows-1252 */
    tl_u16(&F.p, 0xD800);               /* lone surrogate */
    tl_u16(&F.p, 'z');
    tl_u16(&F.p, 0);
    tl_wstr(&F.p, "tail", 0);
    attach(b, 0);
    assert_string_equal(get("w"), "\"C:\\\\x.exe\"");
    assert_string_equal(get("a"), "\"ansi\"");
    assert_string_equal(get("wfix"), "\"ab\"");
    assert_string_equal(get("aref"), "\"xyz\"");
    assert_string_equal(get("wc"), "\"hi\"");
    assert_string_equal(get("wr"), "\"R\"");
    assert_string_equal(get("ac"), "\"ok\"");
    assert_string_equal(get("mc"), "\"abc\"");
    assert_string_equal(get("uc"), "\"\xe2\x98\xba\"");
    assert_string_equal(get("ach"), "\"Q\"");
    assert_string_equal(get("cp1252"), "\"caf\xc3\xa9\xe2\x82\xac\"");
    assert_string_equal(get("surr"), "\"\xef\xbf\xbdz\"");
    assert_string_equal(get("rest"), "\"tail\"");
}

static void test_sid_pointer_binary(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    int h;
    static const uint8_t sid[] = {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}; /* S-1-5-18 */
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    (void)st;
    etwl_sb_add(b, -1, "sid", ETWL_IN_SID, 0);
    etwl_sb_add(b, -1, "ptr", ETWL_IN_POINTER, 0);
    etwl_sb_add(b, -1, "sz", ETWL_IN_SIZET, 0);
    etwl_sb_add(b, -1, "wsid", ETWL_IN_WBEMSID, 0);
    h = etwl_sb_add(b, -1, "bin", ETWL_IN_BINARY, 0);
    etwl_sb_length(b, h, 3);
    h = etwl_sb_add(b, -1, "ip6", ETWL_IN_BINARY, ETWL_OUT_IPV6);
    etwl_sb_length(b, h, 16);
    etwl_sb_add(b, -1, "cbin", ETWL_IN_MANIFEST_COUNTEDBINARY, 0);
    etwl_sb_add(b, -1, "dump", ETWL_IN_HEXDUMP, 0);
    tl_bytes(&F.p, sid, sizeof sid);
    tl_u32(&F.p, 0x1000); /* 32-bit pointers: see flags below */
    tl_u32(&F.p, 42);
    tl_u32(&F.p, 0xAAAAAAAA); /* TOKEN_USER: pointer + attributes */
    tl_u32(&F.p, 0);
    tl_bytes(&F.p, sid, sizeof sid);
    tl_bytes(&F.p, "\x01\x02\x03", 3);
    tl_bytes(&F.p, v6, 16);
    tl_u16(&F.p, 2);
    tl_bytes(&F.p, "\xAB\xCD", 2);
    tl_u32(&F.p, 1);
    tl_u8(&F.p, 0xEE);
    attach(b, ETWL_HDR_FLAG_32_BIT_HEADER);
    assert_string_equal(get("sid"), "\"S-1-5-18\"");
    assert_string_equal(get("ptr"), "\"0x1000\"");
    assert_string_equal(get("sz"), "\"0x2A\"");
    assert_string_equal(get("wsid"), "\"S-1-5-18\"");
    assert_string_equal(get("bin"), "\"0x010203\"");
    assert_string_equal(get("ip6"), "\"2001:db8::1\"");
    assert_string_equal(get("cbin"), "\"0xABCD\"");
    assert_string_equal(get("dump"), "\"0xEE\"");
}

static void test_pointer_64(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    (void)st;
    etwl_sb_add(b, -1, "ptr", ETWL_IN_POINTER, 0);
    etwl_sb_add(b, -1, "after", ETWL_IN_UINT8, 0);
    tl_u64(&F.p, 0xFFFFF80000001000ull);
    tl_u8(&F.p, 9);
    attach(b, ETWL_HDR_FLAG_64_BIT_HEADER);
    assert_string_equal(get("ptr"), "\"0xFFFFF80000001000\"");
    assert_string_equal(get("after"), "9");
}

static void test_arrays_and_structs(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    int h, s;
    (void)st;
    h = etwl_sb_add(b, -1, "fixed", ETWL_IN_UINT16, 0);
    etwl_sb_count(b, h, 3);
    etwl_sb_add(b, -1, "n", ETWL_IN_UINT32, 0);
    h = etwl_sb_add(b, -1, "names", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_count_ref(b, h, "n");
    s = etwl_sb_struct(b, -1, "pairs");
    etwl_sb_count(b, s, 2);
    etwl_sb_add(b, s, "k", ETWL_IN_UINT8, 0);
    etwl_sb_add(b, s, "v", ETWL_IN_ANSISTRING, 0);
    s = etwl_sb_struct(b, -1, "one");
    etwl_sb_add(b, s, "len", ETWL_IN_UINT8, 0);
    h = etwl_sb_add(b, s, "data", ETWL_IN_BINARY, 0);
    etwl_sb_length_ref(b, h, "len");
    etwl_sb_add(b, -1, "end", ETWL_IN_UINT8, 0);
    tl_u16(&F.p, 1);
    tl_u16(&F.p, 2);
    tl_u16(&F.p, 3);
    tl_u32(&F.p, 2);
    tl_wstr(&F.p, "a", 1);
    tl_wstr(&F.p, "bc", 1);
    tl_u8(&F.p, 1);
    tl_bytes(&F.p, "x\0", 2);
    tl_u8(&F.p, 2);
    tl_bytes(&F.p, "yz\0", 3);
    tl_u8(&F.p, 2);
    tl_bytes(&F.p, "\x0f\xf0", 2);
    tl_u8(&F.p, 77);
    attach(b, 0);
    /* read the last one first: offsets before it are measured once */
    assert_string_equal(get("end"), "77");
    assert_string_equal(get("fixed"), "[1,2,3]");
    assert_string_equal(get("names"), "[\"a\",\"bc\"]");
    assert_string_equal(get("pairs"), "[{\"k\":1,\"v\":\"x\"},{\"k\":2,\"v\":\"yz\"}]");
    assert_string_equal(get("one"), "{\"len\":2,\"data\":\"0x0FF0\"}");
}

static void test_lazy_and_cached(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    const etwl_value *v1, *v2;
    (void)st;
    etwl_sb_add(b, -1, "a", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_add(b, -1, "b", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_add(b, -1, "c", ETWL_IN_UINT32, 0);
    tl_wstr(&F.p, "first", 1);
    tl_wstr(&F.p, "second", 1);
    tl_u32(&F.p, 5);
    attach(b, 0);
    assert_int_equal(F.ev.off_known, 0); /* nothing decoded before a read */
    v1 = etwl_event_get(&F.ev, "c");
    assert_int_equal(F.ev.off_known, 3);
    /* measuring a and b did not convert them */
    assert_int_not_equal(F.ev.cache_gen[0], (uint32_t)F.ev.seq);
    assert_int_not_equal(F.ev.cache_gen[1], (uint32_t)F.ev.seq);
    v2 = etwl_event_get(&F.ev, "c");
    assert_ptr_equal(v1, v2); /* cached */
    assert_string_equal(tl_json(v1), "5");
    /* the next event must not see this one's cache */
    etwl_event_begin(&F.ev);
    F.p.n = 0;
    tl_wstr(&F.p, "x", 1);
    tl_wstr(&F.p, "y", 1);
    tl_u32(&F.p, 6);
    etwl_event_set_payload(&F.ev, F.s, F.p.b, F.p.n);
    assert_string_equal(get("c"), "6");
    assert_string_equal(get("a"), "\"x\"");
    assert_null(etwl_event_get(&F.ev, "missing"));
}

/* ---- hostile payloads ------------------------------------------------- */

static void test_truncated_scalar(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    const etwl_value *v;
    (void)st;
    etwl_sb_add(b, -1, "a", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "b", ETWL_IN_UINT64, 0);
    etwl_sb_add(b, -1, "c", ETWL_IN_UINT8, 0);
    tl_u32(&F.p, 1);
    tl_u32(&F.p, 2); /* b needs 8 */
    attach(b, 0);
    assert_string_equal(get("a"), "1");
    v = etwl_event_get(&F.ev, "b");
    assert_int_equal(v->type, ETWL_VT_ERROR);
    assert_non_null(strstr(v->v.s, "truncated"));
    v = etwl_event_get(&F.ev, "c");
    assert_int_equal(v->type, ETWL_VT_ERROR);
    assert_non_null(strstr(v->v.s, "after 'b'"));
}

static void test_unterminated_strings(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    (void)st;
    etwl_sb_add(b, -1, "w", ETWL_IN_UNICODESTRING, 0);
    tl_wstr(&F.p, "no-nul", 0);
    tl_u8(&F.p, 'x'); /* odd byte count too */
    attach(b, 0);
    assert_int_equal(etwl_event_get(&F.ev, "w")->type, ETWL_VT_ERROR);
    b = etwl_sb_new();
    etwl_sb_add(b, -1, "a", ETWL_IN_ANSISTRING, 0);
    F.p.n = 0;
    tl_bytes(&F.p, "abc", 3);
    attach(b, 0);
    assert_int_equal(etwl_event_get(&F.ev, "a")->type, ETWL_VT_ERROR);
}

static void test_lying_counts(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    int h;
    const etwl_value *v;
    (void)st;
    etwl_sb_add(b, -1, "n", ETWL_IN_UINT32, 0);
    h = etwl_sb_add(b, -1, "arr", ETWL_IN_UINT64, 0);
    etwl_sb_count_ref(b, h, "n");
    tl_u32(&F.p, 0xFFFFFFFF); /* four billion elements, 8 bytes of payload */
    tl_u64(&F.p, 1);
    attach(b, 0);
    v = etwl_event_get(&F.ev, "arr");
    assert_int_equal(v->type, ETWL_VT_ERROR);

    b = etwl_sb_new();
    etwl_sb_add(b, -1, "len", ETWL_IN_UINT16, 0);
    h = etwl_sb_add(b, -1, "s", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_length_ref(b, h, "len");
    F.p.n = 0;
    tl_u16(&F.p, 60000);
    tl_wstr(&F.p, "ab", 1);
    attach(b, 0);
    assert_int_equal(etwl_event_get(&F.ev, "s")->type, ETWL_VT_ERROR);

    /* counted string whose count runs past the end */
    b = etwl_sb_new();
    etwl_sb_add(b, -1, "c", ETWL_IN_COUNTEDSTRING, 0);
    F.p.n = 0;
    tl_u16(&F.p, 200);
    tl_wstr(&F.p, "ab", 0);
    attach(b, 0);
    assert_int_equal(etwl_event_get(&F.ev, "c")->type, ETWL_VT_ERROR);

    /* a SID that claims 15 sub-authorities in 12 bytes, and a bad revision */
    b = etwl_sb_new();
    etwl_sb_add(b, -1, "sid", ETWL_IN_SID, 0);
    F.p.n = 0;
    tl_bytes(&F.p, "\x01\x0f\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00", 12);
    attach(b, 0);
    assert_int_equal(etwl_event_get(&F.ev, "sid")->type, ETWL_VT_ERROR);
    b = etwl_sb_new();
    etwl_sb_add(b, -1, "sid", ETWL_IN_SID, 0);
    F.p.n = 0;
    tl_bytes(&F.p, "\x07\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00", 12);
    attach(b, 0);
    assert_int_equal(etwl_event_get(&F.ev, "sid")->type, ETWL_VT_ERROR);

    /* a SYSTEMTIME with month 13 */
    b = etwl_sb_new();
    etwl_sb_add(b, -1, "t", ETWL_IN_SYSTEMTIME, 0);
    F.p.n = 0;
    tl_u16(&F.p, 2024);
    tl_u16(&F.p, 13);
    tl_bytes(&F.p, "\0\0\1\0\0\0\0\0\0\0\0\0", 12);
    attach(b, 0);
    assert_int_equal(etwl_event_get(&F.ev, "t")->type, ETWL_VT_ERROR);
}

static void test_empty_and_null_payload(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    etwl_error err;
    (void)st;
    etwl_sb_add(b, -1, "a", ETWL_IN_UINT8, 0);
    assert_int_equal(etwl_sb_build(b, &F.s, &err), ETWL_OK);
    etwl_sb_free(b);
    etwl_event_begin(&F.ev);
    etwl_event_set_payload(&F.ev, F.s, NULL, 0);
    assert_int_equal(etwl_event_get(&F.ev, "a")->type, ETWL_VT_ERROR);
}

/* Every prefix of a valid payload must decode to values or errors, never
 * read outside the buffer (ASan checks the "never"). */
static void test_every_truncation(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    uint8_t *copy;
    uint32_t cut, full, i;
    int h, s;
    static const uint8_t sid[] = {1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 2, 3, 4};
    (void)st;
    etwl_sb_add(b, -1, "n", ETWL_IN_UINT16, 0);
    h = etwl_sb_add(b, -1, "names", ETWL_IN_UNICODESTRING, 0);
    etwl_sb_count_ref(b, h, "n");
    etwl_sb_add(b, -1, "sid", ETWL_IN_SID, 0);
    s = etwl_sb_struct(b, -1, "st");
    etwl_sb_count(b, s, 2);
    etwl_sb_add(b, s, "x", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, s, "y", ETWL_IN_ANSISTRING, 0);
    etwl_sb_add(b, -1, "c", ETWL_IN_COUNTEDSTRING, 0);
    etwl_sb_add(b, -1, "g", ETWL_IN_GUID, 0);
    tl_u16(&F.p, 2);
    tl_wstr(&F.p, "one", 1);
    tl_wstr(&F.p, "two", 1);
    tl_bytes(&F.p, sid, sizeof sid);
    tl_u32(&F.p, 1);
    tl_bytes(&F.p, "p\0", 2);
    tl_u32(&F.p, 2);
    tl_bytes(&F.p, "q\0", 2);
    tl_u16(&F.p, 4);
    tl_wstr(&F.p, "zz", 0);
    tl_bytes(&F.p, "0123456789abcdef", 16);
    full = F.p.n;
    attach(b, 0);
    for (i = 0; i < etwl_event_prop_count(&F.ev); i++)
        assert_int_not_equal(etwl_event_prop(&F.ev, i)->type, ETWL_VT_ERROR);
    for (cut = 0; cut < full; cut++) {
        int errors = 0;
        /* an exact-size heap copy so ASan sees any overread */
        copy = malloc(cut ? cut : 1);
        memcpy(copy, F.p.b, cut);
        etwl_event_begin(&F.ev);
        etwl_event_set_payload(&F.ev, F.s, copy, cut);
        for (i = 0; i < etwl_event_prop_count(&F.ev); i++) {
            etwl_buf out;
            etwl_event_prop(&F.ev, i);
            errors += etwl_event_prop(&F.ev, i)->type == ETWL_VT_ERROR;
            etwl_buf_init(&out);
            assert_int_equal(etwl_event_write_json(&F.ev, &out), ETWL_OK);
            etwl_buf_free(&out);
        }
        assert_true(errors > 0); /* a cut payload must not decode cleanly */
        free(copy);
    }
}

/* Found by tests/fuzz: a fixed-offset property (tracefs layout) that starts
 * past the end of the payload, and one whose length is a reference. */
static void test_fixed_offset_regressions(void **st)
{
    etwl_schema_prop p[2];
    etwl_schema *s = NULL;
    etwl_error err;
    etwl_event ev;
    uint8_t *payload = malloc(4);
    (void)st;
    payload[0] = 3;
    payload[1] = 0;
    payload[2] = 'a';
    payload[3] = 'b';
    memset(p, 0, sizeof p);
    p[0].name = "n";
    p[0].intype = ETWL_IN_UINT8;
    p[0].flags = ETWL_PROP_AT_OFFSET;
    p[0].offset = 0;
    p[1].name = "s";
    p[1].intype = ETWL_IN_UNICODESTRING;
    p[1].flags = ETWL_PROP_AT_OFFSET;
    p[1].offset = 37; /* far past the 4-byte payload */
    p[1].length = 8;
    assert_int_equal(etwl_schema_new(p, 2, 2, &s, &err), ETWL_OK);
    etwl_event_init(&ev);
    etwl_event_begin(&ev);
    etwl_event_set_payload(&ev, s, payload, 4);
    assert_int_equal(etwl_event_get(&ev, "s")->type, ETWL_VT_ERROR);
    assert_string_equal(tl_json(etwl_event_get(&ev, "n")), "3");
    etwl_schema_free(s);
    /* the same layout with the length taken from "n" */
    p[1].offset = 2;
    p[1].length = 0;
    p[1].intype = ETWL_IN_ANSISTRING;
    p[1].flags = ETWL_PROP_AT_OFFSET | ETWL_PROP_LENGTH_REF;
    assert_int_equal(etwl_schema_new(p, 2, 2, &s, &err), ETWL_OK);
    etwl_event_begin(&ev);
    etwl_event_set_payload(&ev, s, payload, 4);
    /* 3 bytes from offset 2 run past the end: an error value, not a read */
    assert_int_equal(etwl_event_get(&ev, "s")->type, ETWL_VT_ERROR);
    payload[0] = 2;
    etwl_event_begin(&ev);
    etwl_event_set_payload(&ev, s, payload, 4);
    assert_string_equal(tl_json(etwl_event_get(&ev, "s")), "\"ab\"");
    etwl_event_release(&ev);
    etwl_schema_free(s);
    free(payload);
}

static void test_schema_rejects_bad_refs(void **st)
{
    etwl_schema_prop p[3];
    etwl_schema *s = NULL;
    etwl_error err;
    (void)st;
    memset(p, 0, sizeof p);
    p[0].name = "arr";
    p[0].intype = ETWL_IN_UINT8;
    p[0].flags = ETWL_PROP_ARRAY | ETWL_PROP_COUNT_REF;
    p[0].count = 1; /* refers forward: invalid */
    p[1].name = "n";
    p[1].intype = ETWL_IN_UINT8;
    assert_int_equal(etwl_schema_new(p, 2, 2, &s, &err), ETWL_ESCHEMA);
    assert_null(s);
    /* a count that refers to a string */
    p[0].name = "str";
    p[0].intype = ETWL_IN_UNICODESTRING;
    p[0].flags = 0;
    p[1].name = "arr";
    p[1].flags = ETWL_PROP_ARRAY | ETWL_PROP_COUNT_REF;
    p[1].count = 0;
    assert_int_equal(etwl_schema_new(p, 2, 2, &s, &err), ETWL_ESCHEMA);
    /* struct members out of range */
    memset(p, 0, sizeof p);
    p[0].name = "st";
    p[0].flags = ETWL_PROP_STRUCT;
    p[0].struct_start = 1;
    p[0].struct_count = 5;
    p[1].name = "m";
    assert_int_equal(etwl_schema_new(p, 2, 1, &s, &err), ETWL_ESCHEMA);
    /* a struct that contains itself */
    p[0].struct_start = 0;
    p[0].struct_count = 1;
    assert_int_equal(etwl_schema_new(p, 2, 1, &s, &err), ETWL_ESCHEMA);
}

static void test_schema_index(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    etwl_schema *s;
    etwl_error err;
    char name[32];
    int i;
    (void)st;
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "Prop%d", i);
        etwl_sb_add(b, -1, name, ETWL_IN_UINT8, 0);
    }
    assert_int_equal(etwl_sb_build(b, &s, &err), ETWL_OK);
    etwl_sb_free(b);
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "Prop%d", i);
        assert_int_equal(etwl_schema_find(s, name, strlen(name)), i);
    }
    assert_int_equal(etwl_schema_find(s, "Prop300", 7), -1);
    assert_int_equal(etwl_schema_find(s, "prop1", 5), -1); /* case-sensitive, as ETW */
    etwl_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_bool_guid_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sid_pointer_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pointer_64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arrays_and_structs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_and_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_scalar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unterminated_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_null_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test(test_fixed_offset_regressions),
        cmocka_unit_test(test_schema_rejects_bad_refs),
        cmocka_unit_test(test_schema_index),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
