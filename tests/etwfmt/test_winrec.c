/* test_winrec.c - EVENT_RECORD to event: header fields, every extended data
 * item the issue lists, malformed items, and payload decoding. */
#include <string.h>

#include "testlib.h"
#include "etwfmt/winrec.h"

static void test_header_and_ext(void **st)
{
    etwl_win_record r;
    etwl_win_ext_item items[9];
    etwl_event ev;
    uint8_t related[16], inst[24], st64[8 + 3 * 8], st32[8 + 2 * 4], key[8], psk[8], ts[4];
    static const uint8_t sid[] = {1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0};
    static const uint8_t prov[16] = {0xd6, 0x2c, 0xfb, 0x22, 0x7b, 0x0e, 0x2b, 0x42,
                                     0xa0, 0xc7, 0x2f, 0xad, 0x1f, 0xd0, 0xe7, 0x16};
    uint64_t v;
    uint32_t bad = 99, w;
    etwl_buf out;
    (void)st;
    memset(&r, 0, sizeof r);
    memset(items, 0, sizeof items);
    r.header.thread_id = 8;
    r.header.process_id = 4;
    r.header.timestamp = 133541070721234567LL;
    memcpy(r.header.provider_id, prov, 16);
    r.header.id = 1;
    r.header.version = 3;
    r.header.level = 4;
    r.header.opcode = 1;
    r.header.task = 1;
    r.header.keyword = 0x8000000000000010ull;
    r.header.flags = ETWL_HDR_FLAG_EXTENDED_INFO | ETWL_HDR_FLAG_64_BIT_HEADER;
    r.header.t.kt.kernel_time = 7;
    r.header.t.kt.user_time = 9;
    r.processor_index = 0x0103; /* ProcessorNumber 3 (Alignment 1) */
    memset(related, 0x11, 16);
    w = 5;
    memcpy(inst, &w, 4);
    w = 6;
    memcpy(inst + 4, &w, 4);
    memset(inst + 8, 0x22, 16);
    v = 77;
    memcpy(st64, &v, 8);
    v = 0xFFFFF80000001000ull;
    memcpy(st64 + 8, &v, 8);
    v = 0x00007FF600001000ull;
    memcpy(st64 + 16, &v, 8);
    v = 1;
    memcpy(st64 + 24, &v, 8);
    v = 42;
    memcpy(key, &v, 8);
    v = 0x1000000000123ull;
    memcpy(psk, &v, 8);
    w = 2;
    memcpy(ts, &w, 4);
    v = 0;
    memcpy(st32, &v, 8);
    w = 0x401000;
    memcpy(st32 + 8, &w, 4);
    memcpy(st32 + 12, &w, 4);
#define ITEM(k, t, p, n) items[k].ext_type = t, items[k].data_ptr = (uint64_t)(uintptr_t)(p), items[k].data_size = n
    ITEM(0, ETWL_EXT_TYPE_RELATED_ACTIVITYID, related, 16);
    ITEM(1, ETWL_EXT_TYPE_SID, sid, sizeof sid);
    ITEM(2, ETWL_EXT_TYPE_TS_ID, ts, 4);
    ITEM(3, ETWL_EXT_TYPE_INSTANCE_INFO, inst, 24);
    ITEM(4, ETWL_EXT_TYPE_STACK_TRACE64, st64, sizeof st64);
    ITEM(5, ETWL_EXT_TYPE_EVENT_KEY, key, 8);
    ITEM(6, ETWL_EXT_TYPE_PROCESS_START_KEY, psk, 8);
    ITEM(7, 8 /* PMC counters: not used, not an error */, key, 8);
    ITEM(8, ETWL_EXT_TYPE_TS_ID, ts, 3); /* malformed: wrong size */
    r.extended_data = items;
    r.extended_data_count = 9;
    etwl_event_init(&ev);
    etwl_event_begin(&ev);
    assert_int_equal(etwl_win_record_to_event(&r, NULL, &ev, &bad), ETWL_OK);
    assert_int_equal(bad, 1);
    assert_int_equal(ev.hdr.processor, 3);
    assert_int_equal(ev.hdr.kernel_time, 7);
    assert_int_equal(ev.ext.session_id, 2);
    assert_int_equal(ev.ext.stack.count, 3);
    assert_true(ev.ext.stack.addresses[0] == 0xFFFFF80000001000ull);
    etwl_buf_init(&out);
    etwl_event_write_json(&ev, &out);
    assert_non_null(strstr(out.data, "\"provider_guid\":\"{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}\""));
    assert_non_null(strstr(out.data, "\"ts\":\"2024-03-05T10:11:12.1234567Z\""));
    assert_non_null(strstr(out.data, "\"kernel_time\":7,\"user_time\":9,\"processor_time\":0,\"processor_number\":3"));
    assert_non_null(strstr(out.data,
                           "\"ext\":{\"session_id\":2,\"activity_id\":\"{11111111-1111-1111-1111-111111111111}\","
                           "\"user_sid\":\"S-1-5-18\",\"instance_info\":{\"id\":5,\"parent_id\":6,"
                           "\"parent_guid\":\"{22222222-2222-2222-2222-222222222222}\"},\"stacktrace\":"
                           "{\"matched_id\":77,\"addresses\":[18446735277616533504,140694538686464,1]},"
                           "\"process_start_key\":281474976710947,\"event_key\":42}"));
    /* 32-bit stacks, a private session's processor time, a processor index */
    items[0].ext_type = ETWL_EXT_TYPE_STACK_TRACE32;
    items[0].data_ptr = (uint64_t)(uintptr_t)st32;
    items[0].data_size = sizeof st32;
    r.extended_data_count = 1;
    r.header.flags = ETWL_HDR_FLAG_PRIVATE_SESSION | ETWL_HDR_FLAG_PROCESSOR_INDEX;
    r.header.t.processor_time = 123456789;
    r.processor_index = 300;
    etwl_event_begin(&ev);
    assert_int_equal(etwl_win_record_to_event(&r, NULL, &ev, &bad), ETWL_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(ev.ext.stack.count, 2);
    assert_int_equal(ev.ext.stack.addresses[1], 0x401000);
    assert_int_equal(ev.hdr.processor_time, 123456789);
    assert_int_equal(ev.hdr.processor, 300);
    /* a stack whose size lies, a bad SID, a NULL pointer with a size */
    items[0].ext_type = ETWL_EXT_TYPE_STACK_TRACE64;
    items[0].data_size = 8 + 5;
    etwl_event_begin(&ev);
    etwl_win_record_to_event(&r, NULL, &ev, &bad);
    assert_int_equal(bad, 1);
    assert_false(ev.ext.has & ETWL_EXT_STACKTRACE);
    items[0].ext_type = ETWL_EXT_TYPE_SID;
    items[0].data_ptr = (uint64_t)(uintptr_t)sid;
    items[0].data_size = 10;
    etwl_event_begin(&ev);
    etwl_win_record_to_event(&r, NULL, &ev, &bad);
    assert_int_equal(bad, 1);
    items[0].data_ptr = 0;
    etwl_event_begin(&ev);
    etwl_win_record_to_event(&r, NULL, &ev, &bad);
    assert_int_equal(bad, 1);
    etwl_buf_free(&out);
    etwl_event_release(&ev);
}

static void test_payload_with_schema(void **st)
{
    etwl_schema_builder *b = etwl_sb_new();
    etwl_schema *s;
    etwl_error e;
    etwl_win_record r;
    etwl_event ev;
    tl_payload p;
    (void)st;
    etwl_sb_add(b, -1, "ProcessID", ETWL_IN_UINT32, 0);
    etwl_sb_add(b, -1, "ImageName", ETWL_IN_UNICODESTRING, 0);
    assert_int_equal(etwl_sb_build(b, &s, &e), ETWL_OK);
    etwl_sb_free(b);
    memset(&p, 0, sizeof p);
    tl_u32(&p, 4242);
    tl_wstr(&p, "cmd.exe", 1);
    memset(&r, 0, sizeof r);
    r.user_data = p.b;
    r.user_data_length = (uint16_t)p.n;
    etwl_event_init(&ev);
    etwl_event_begin(&ev);
    assert_int_equal(etwl_win_record_to_event(&r, s, &ev, NULL), ETWL_OK);
    assert_string_equal(tl_json(etwl_event_get(&ev, "ImageName")), "\"cmd.exe\"");
    /* without a schema: the header and the raw payload */
    etwl_event_begin(&ev);
    assert_int_equal(etwl_win_record_to_event(&r, NULL, &ev, NULL), ETWL_OK);
    assert_int_equal(etwl_event_prop_count(&ev), 0);
    {
        uint32_t n;
        assert_ptr_equal(etwl_event_payload(&ev, &n), p.b);
        assert_int_equal(n, p.n);
    }
    etwl_event_release(&ev);
    etwl_schema_free(s);
}

/* Schema cache keys: the event type, and for TraceLogging (all id 0) the
 * bytes of the event's own metadata. */
static void test_schema_key(void **st)
{
    etwl_win_record r;
    etwl_win_ext_item it[2];
    etwl_schema_key a, b, c;
    static const uint8_t meta1[] = {0x10, 0x00, 0x00, 'E', 'v', 0, 'x', 0, 1};
    static const uint8_t meta2[] = {0x10, 0x00, 0x00, 'E', 'v', 0, 'y', 0, 1};
    (void)st;
    memset(&r, 0, sizeof r);
    memset(it, 0, sizeof it);
    r.header.provider_id[0] = 0x42;
    r.header.id = 7;
    r.header.version = 2;
    r.header.opcode = 11;
    etwl_win_record_schema_key(&r, &a);
    assert_int_equal(a.provider.d1, 0x42);
    assert_int_equal(a.id, 7);
    assert_int_equal(a.version, 2);
    assert_int_equal(a.opcode, 11);
    assert_true(a.meta_hash == 0);
    /* two TraceLogging events, same header, different fields */
    r.header.id = 0;
    r.extended_data = it;
    r.extended_data_count = 2;
    it[0].ext_type = ETWL_EXT_TYPE_TS_ID;
    it[1].ext_type = ETWL_EXT_TYPE_EVENT_SCHEMA_TL;
    it[1].data_size = sizeof meta1;
    it[1].data_ptr = (uint64_t)(uintptr_t)meta1;
    etwl_win_record_schema_key(&r, &b);
    it[1].data_ptr = (uint64_t)(uintptr_t)meta2;
    etwl_win_record_schema_key(&r, &c);
    assert_true(b.meta_hash != 0 && c.meta_hash != 0);
    assert_true(b.meta_hash != c.meta_hash);
    it[1].data_ptr = (uint64_t)(uintptr_t)meta1;
    etwl_win_record_schema_key(&r, &c);
    assert_true(b.meta_hash == c.meta_hash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_ext),
        cmocka_unit_test(test_payload_with_schema),
        cmocka_unit_test(test_schema_key),
    };
    return cmocka_run_group_tests_name("winrec", tests, NULL, NULL);
}
