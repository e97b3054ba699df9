/* test_etl.c - the portable pieces of the ETL reader: the Plain LZ77
 * decompressor of compressed buffers, and TraceLogging metadata.  The
 * reader itself runs over the real traces in ../shared (tests/sources/etl/run.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/etl/esmanifest.h"
#include "sources/etl/etlstack.h"
#include "core/event.h"
#include "etwfmt/kclass.h"
#include "etwfmt/kmof.h"
#include "sources/etl/lz77.h"
#include "testlib.h"
#include "etwfmt/tlmeta.h"

static void test_lz77(void **st)
{
    /* flags (MSB first): literal, literal, match(offset 2, length 4) */
    static const uint8_t in[] = {0x00, 0x00, 0x00, 0x20, 'a', 'b', 0x09, 0x00};
    /* a long match: length 3+7+15+ (byte 40) through the half byte and the extra byte */
    static const uint8_t lng[] = {0x00, 0x00, 0x00, 0x40, 'z', 0x07, 0x00, 0x0f, 40};
    uint8_t out[256];
    long n;
    (void)st;
    n = etwl_lz77_decompress(in, sizeof in, out, sizeof out);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "ababab", 6);
    n = etwl_lz77_decompress(lng, sizeof lng, out, sizeof out);
    assert_int_equal(n, 1 + 3 + 7 + 15 + 40);
    for (long i = 0; i < n; i++) assert_int_equal(out[i], 'z');
    /* hostile: a match reaching before the output, a cut match, no room */
    {
        static const uint8_t before[] = {0x00, 0x00, 0x00, 0x80, 0x09, 0x00};
        static const uint8_t cut[] = {0x00, 0x00, 0x00, 0x40, 'a', 0x09};
        assert_int_equal(etwl_lz77_decompress(before, sizeof before, out, sizeof out), -1);
        assert_int_equal(etwl_lz77_decompress(cut, sizeof cut, out, sizeof out), -1);
        /* no room is not malformed: the caller may retry with more */
        assert_int_equal(etwl_lz77_decompress(in, sizeof in, out, 5), ETWL_LZ77_FULL);
        assert_int_equal(etwl_lz77_decompress(in, sizeof in, out, 1), ETWL_LZ77_FULL);
        assert_int_equal(etwl_lz77_decompress(lng, sizeof lng, out, 20), ETWL_LZ77_FULL);
    }
}

static void test_tlmeta(void **st)
{
    /* event "Ev": a UINT32, text as a counted UINT16 array shown as STRING,
     * a counted byte array, a struct of two, a constant-count array */
    static const uint8_t meta[] = {
        0, 0,    0x00, 'E', 'v', 0,    'a',  0,   0x08, 't',  'x', 't', 0,    0xc6, 0x02, 'a',  'r',  'r',
        0, 0x44, 's',  't', 0,   0x98, 0x02, 'x', 0,    0x04, 'y', 0,   0x05, 'c',  0,    0x24, 0x02, 0x00,
    };
    static const uint8_t traits[] = {8, 0, 'P', 'r', 'o', 'v', 0, 0};
    uint8_t m[sizeof meta];
    etwl_schema *s;
    etwl_error e;
    etwl_event ev;
    tl_payload p;
    size_t cut;
    (void)st;
    memcpy(m, meta, sizeof meta);
    m[0] = sizeof meta;
    assert_int_equal(etwl_tlmeta_to_schema(m, sizeof m, traits, sizeof traits, &s, &e), ETWL_OK);
    assert_string_equal(s->event_name, "Ev");
    assert_string_equal(s->provider_name, "Prov");
    assert_int_equal(s->ntop, 5);
    memset(&p, 0, sizeof p);
    tl_u32(&p, 7);
    tl_u16(&p, 2);
    tl_wstr(&p, "hi", 0);
    tl_u16(&p, 3);
    tl_bytes(&p, "\x01\x02\x03", 3);
    tl_u8(&p, 9);
    tl_u16(&p, 0xFFFE);
    tl_u8(&p, 4);
    tl_u8(&p, 5);
    etwl_event_init(&ev);
    etwl_event_begin(&ev);
    etwl_event_set_payload(&ev, s, p.b, p.n);
    assert_string_equal(tl_json(etwl_event_get(&ev, "a")), "7");
    assert_string_equal(tl_json(etwl_event_get(&ev, "txt")), "\"hi\"");
    assert_string_equal(tl_json(etwl_event_get(&ev, "arr")), "[1,2,3]");
    assert_string_equal(tl_json(etwl_event_get(&ev, "st")), "{\"x\":9,\"y\":-2}");
    assert_string_equal(tl_json(etwl_event_get(&ev, "c")), "[4,5]");
    etwl_event_release(&ev);
    etwl_schema_free(s);
    /* every truncation fails cleanly or converts (ASan checks); a struct
     * that claims more members than follow is refused */
    for (cut = 0; cut <= sizeof m; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, m, cut);
        if (cut >= 2) copy[0] = (uint8_t)cut;
        if (etwl_tlmeta_to_schema(copy, cut, NULL, 0, &s, &e) == ETWL_OK) etwl_schema_free(s);
        free(copy);
    }
    m[24] = 0x05; /* st: 5 members */
    assert_int_equal(etwl_tlmeta_to_schema(m, sizeof m, NULL, 0, &s, &e), ETWL_ESCHEMA);
    {
        /* a custom-serialized field (protocol 1, a 3-byte serializer schema)
         * and a byte after it: the custom bytes come as binary */
        static const uint8_t cmeta[] = {0, 0, 0x00, 'C', 0, 'c', 'u', 0, 0xE0, 0x01, 3, 0, 'a', 'b', 'c', 'z', 0, 0x04};
        uint8_t cm[sizeof cmeta];
        memcpy(cm, cmeta, sizeof cmeta);
        cm[0] = sizeof cmeta;
        assert_int_equal(etwl_tlmeta_to_schema(cm, sizeof cm, NULL, 0, &s, &e), ETWL_OK);
        memset(&p, 0, sizeof p);
        tl_u16(&p, 2);
        tl_bytes(&p, "\xAA\xBB", 2);
        tl_u8(&p, 5);
        etwl_event_init(&ev);
        etwl_event_begin(&ev);
        etwl_event_set_payload(&ev, s, p.b, p.n);
        assert_int_equal(etwl_event_get(&ev, "cu")->type, ETWL_VT_BINARY);
        assert_int_equal(etwl_event_get(&ev, "cu")->n, 2);
        assert_memory_equal(etwl_event_get(&ev, "cu")->v.p, "\xAA\xBB", 2);
        assert_string_equal(tl_json(etwl_event_get(&ev, "z")), "5");
        etwl_event_release(&ev);
        etwl_schema_free(s);
        cm[10] = 200; /* a schema longer than the metadata */
        assert_int_equal(etwl_tlmeta_to_schema(cm, sizeof cm, NULL, 0, &s, &e), ETWL_ESCHEMA);
    }
}

/* Every built-in layout accounts for each byte of the real events it
 * decodes: a field too many or too few shows as a decode error or as bytes
 * left over.  Over the kernel traces in ../shared, when present. */
typedef struct fit {
    uint64_t checked, bad;
    char first[256];
} fit;

static etwl_status check_fit(etwl_event *ev, void *user)
{
    fit *f = user;
    uint32_t i, n, len = 0;
    const etwl_header *h = etwl_event_header(ev);
    if (!ev->schema || !(h->flags & ETWL_HDR_FLAG_CLASSIC_HEADER) || h->desc.opcode == 0) return ETWL_OK;
    n = etwl_event_prop_count(ev);
    for (i = 0; i < n; i++)
        if (etwl_event_prop(ev, i)->type == ETWL_VT_ERROR) break;
    etwl_event_payload(ev, &len);
    f->checked++;
    if (i < n || ev->off_known != n || ev->off[n] != len) {
        char g[ETWL_GUID_STRLEN + 1];
        etwl_guid_format(&h->provider_guid, g);
        if (!f->bad++)
            snprintf(f->first, sizeof f->first, "%s opcode %u version %u: %u of %u bytes used", g, h->desc.opcode,
                     h->desc.version, ev->off_known == n ? ev->off[n] : 0, len);
    }
    return ETWL_OK;
}

/* Layouts the sample traces do not exercise, checked against payloads laid
 * out by hand from Microsoft's class documentation: each value lands in its
 * field and every byte is used. */
typedef struct kcase {
    etwl_kclass cls;
    uint8_t opcode, version;
    unsigned ptr;
    const char *field; /* a field to check */
    uint64_t want;
} kcase;

static void put_le(uint8_t *b, size_t *n, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++) b[(*n)++] = (uint8_t)(v >> (8 * i));
}

static void put_wstr(uint8_t *b, size_t *n, const char *s)
{
    do put_le(b, n, (uint8_t)*s, 2);
    while (*s++);
}

static void check_layout(etwl_kclass cls, uint8_t op, uint8_t ver, unsigned ptr, const uint8_t *p, size_t n,
                         const char *field, uint64_t want, const char *text_field, const char *text)
{
    etwl_schema *sc = NULL;
    etwl_event ev;
    const etwl_value *v;
    uint32_t np;
    assert_int_equal(etwl_kmof_schema(&etwl_kclass_info_of(cls)->guid, op, ver, ptr, &sc), ETWL_OK);
    assert_int_equal(etwl_event_init(&ev), ETWL_OK);
    etwl_event_begin(&ev);
    assert_int_equal(etwl_event_set_payload(&ev, sc, p, (uint32_t)n), ETWL_OK);
    v = etwl_event_get(&ev, field);
    assert_non_null(v);
    assert_int_equal(v->v.u, want);
    if (text_field) {
        v = etwl_event_get(&ev, text_field);
        assert_non_null(v);
        assert_int_equal(v->type, ETWL_VT_STRING);
        assert_int_equal(v->n, strlen(text));
        assert_memory_equal(v->v.s, text, v->n);
    }
    np = etwl_event_prop_count(&ev);
    for (uint32_t i = 0; i < np; i++) assert_int_not_equal(etwl_event_prop(&ev, i)->type, ETWL_VT_ERROR);
    assert_int_equal(ev.off_known, np);
    assert_int_equal(ev.off[np], n); /* every byte used */
    etwl_event_release(&ev);
    etwl_schema_free(sc);
}

static void test_documented_layouts(void **st)
{
    uint8_t b[512];
    size_t n;
    (void)st;
    /* Registry_TypeGroup1 v2, 64-bit: InitialTime, Status, Index, KeyHandle, KeyName */
    n = 0;
    put_le(b, &n, 123456789, 8);
    put_le(b, &n, 0xC0000034, 4);
    put_le(b, &n, 7, 4);
    put_le(b, &n, 0xFFFF8000DEADBEEFull, 8);
    put_wstr(b, &n, "\\REGISTRY\\MACHINE\\SOFTWARE\\Run");
    check_layout(ETWL_KC_REGISTRY, 11, 2, 8, b, n, "KeyHandle", 0xFFFF8000DEADBEEFull, "KeyName",
                 "\\REGISTRY\\MACHINE\\SOFTWARE\\Run");
    check_layout(ETWL_KC_REGISTRY, 11, 2, 8, b, n, "Index", 7, NULL, NULL);
    /* v1, 32-bit: Status (pointer), KeyHandle (pointer), ElapsedTime, Index, KeyName */
    n = 0;
    put_le(b, &n, 0, 4);
    put_le(b, &n, 0x8123, 4);
    put_le(b, &n, 99, 8);
    put_le(b, &n, 3, 4);
    put_wstr(b, &n, "K");
    check_layout(ETWL_KC_REGISTRY, 10, 1, 4, b, n, "ElapsedTime", 99, "KeyName", "K");
    /* FileIo_ReadWrite v2 (64-bit, pointer-sized TTID) and v3 (TTID after FileKey, 32 bits) */
    n = 0;
    put_le(b, &n, 4096, 8);
    put_le(b, &n, 0x1111, 8);
    put_le(b, &n, 42, 8);
    put_le(b, &n, 0x2222, 8);
    put_le(b, &n, 0x3333, 8);
    put_le(b, &n, 512, 4);
    put_le(b, &n, 0x60900, 4);
    check_layout(ETWL_KC_FILEIO, 67, 2, 8, b, n, "FileKey", 0x3333, NULL, NULL);
    n = 0;
    put_le(b, &n, 4096, 8);
    put_le(b, &n, 0x1111, 8);
    put_le(b, &n, 0x2222, 8);
    put_le(b, &n, 0x3333, 8);
    put_le(b, &n, 42, 4);
    put_le(b, &n, 512, 4);
    put_le(b, &n, 0x60900, 4);
    check_layout(ETWL_KC_FILEIO, 68, 3, 8, b, n, "TTID", 42, NULL, NULL);
    check_layout(ETWL_KC_FILEIO, 68, 3, 8, b, n, "IoSize", 512, NULL, NULL);
    /* FileIo_Create v3: IrpPtr, FileObject, TTID, options, attributes, share, OpenPath */
    n = 0;
    put_le(b, &n, 0x1111, 8);
    put_le(b, &n, 0x2222, 8);
    put_le(b, &n, 77, 4);
    put_le(b, &n, 0x1000060, 4);
    put_le(b, &n, 0x80, 4);
    put_le(b, &n, 7, 4);
    put_wstr(b, &n, "\\Device\\HarddiskVolume2\\x.txt");
    check_layout(ETWL_KC_FILEIO, 64, 3, 8, b, n, "TTID", 77, "OpenPath", "\\Device\\HarddiskVolume2\\x.txt");
    /* PerfInfo_ISR: InitialTime, Routine, ReturnValue, Vector, Reserved */
    n = 0;
    put_le(b, &n, 5555, 8);
    put_le(b, &n, 0xFFFFF80000001234ull, 8);
    put_le(b, &n, 1, 1);
    put_le(b, &n, 0x91, 2);
    put_le(b, &n, 0, 1);
    check_layout(ETWL_KC_PERFINFO, 67, 2, 8, b, n, "Vector", 0x91, NULL, NULL);
    /* a truncated registry event decodes what it has and marks the rest */
    {
        etwl_schema *sc = NULL;
        etwl_event ev;
        static const uint8_t cut[] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0};
        assert_int_equal(etwl_kmof_schema(&etwl_kclass_info_of(ETWL_KC_REGISTRY)->guid, 11, 2, 8, &sc), ETWL_OK);
        assert_int_equal(etwl_event_init(&ev), ETWL_OK);
        etwl_event_begin(&ev);
        etwl_event_set_payload(&ev, sc, cut, sizeof cut);
        assert_int_equal(etwl_event_get(&ev, "InitialTime")->v.u, 1);
        assert_int_equal(etwl_event_get(&ev, "KeyName")->type, ETWL_VT_ERROR);
        etwl_event_release(&ev);
        etwl_schema_free(sc);
    }
}

/* The stack index: a cached stack's key is reused after its deletion, so a
 * reference takes the first definition at or after its time; deferred
 * stacks join by time and thread. */
static void test_stackidx(void **st)
{
    etwl_stackidx *x = etwl_stackidx_new();
    uint8_t f[24];
    uint64_t out[8];
    size_t n = 0;
    (void)st;
    assert_non_null(x);
    put_le(f, &n, 0xFFFFF80000000001ull, 8);
    put_le(f, &n, 0xFFFFF80000000002ull, 8);
    put_le(f, &n, 0x7FF600000003ull, 8);
    /* key 7 holds frames A at time 100 (deleted), then B at time 300 */
    assert_int_equal(etwl_stackidx_add_def(x, 7, 100, f, 1, 8), ETWL_OK);
    assert_int_equal(etwl_stackidx_add_def(x, 7, 300, f + 8, 2, 8), ETWL_OK);
    assert_int_equal(etwl_stackidx_add_ref(x, 250, 42, 7), ETWL_OK);              /* event at 250 on thread 42 */
    assert_int_equal(etwl_stackidx_add_stack(x, 250, 43, f + 16, 1, 8), ETWL_OK); /* another thread, same tick */
    etwl_stackidx_done(x);
    assert_int_equal(etwl_stackidx_key_frames(x, 7, 50, out, 8), 1);
    assert_true(out[0] == 0xFFFFF80000000001ull);
    assert_int_equal(etwl_stackidx_key_frames(x, 7, 101, out, 8), 2);
    assert_true(out[0] == 0xFFFFF80000000002ull);
    assert_int_equal(etwl_stackidx_key_frames(x, 7, 301, out, 8), 0); /* never defined again */
    assert_int_equal(etwl_stackidx_key_frames(x, 8, 0, out, 8), 0);
    assert_int_equal(etwl_stackidx_unjoined(x), 2);
    assert_int_equal(etwl_stackidx_frames(x, 250, 42, out, 8), 2); /* the reference, resolved */
    assert_int_equal(etwl_stackidx_frames(x, 250, 43, out, 8), 1);
    assert_true(out[0] == 0x7FF600000003ull);
    assert_int_equal(etwl_stackidx_frames(x, 250, 42, out, 1), 1); /* bounded by the room */
    assert_int_equal(etwl_stackidx_frames(x, 251, 42, out, 8), 0);
    assert_int_equal(etwl_stackidx_unjoined(x), 0);
    etwl_stackidx_free(x);
}

/* EventSource manifests: tasks, task opcodes and standard ones, a template
 * whose binary field takes its length from an earlier one, a counted array,
 * a bitmap whose names come from the string table; and XML that is
 * malformed or hostile (an entity expansion bomb) is refused, never hangs. */
#ifdef ETWL_HAVE_EXPAT
typedef struct esm_got {
    etwl_schema *s[8];
    int ns;
    etwl_valuemap *m[4];
    char mname[4][32];
    int nm;
} esm_got;

static void got_schema(etwl_schema *s, void *u)
{
    esm_got *g = u;
    if (g->ns < 8) g->s[g->ns++] = s;
    else etwl_schema_free(s);
}

static void got_map(const char *name, etwl_valuemap *m, void *u)
{
    esm_got *g = u;
    if (g->nm < 4) {
        snprintf(g->mname[g->nm], sizeof g->mname[0], "%s", name);
        g->m[g->nm++] = m;
    } else {
        etwl_valuemap_free(m);
    }
}

static void test_esmanifest(void **st)
{
    static const char xml[] =
        "<instrumentationManifest xmlns=\"http://schemas.microsoft.com/win/2004/08/events\"><instrumentation><events>"
        "<provider name=\"My-Source\" guid=\"{01020304-0506-0708-090a-0b0c0d0e0f10}\">"
        "<tasks><task name=\"Request\" value=\"3\"><opcodes><opcode name=\"Retry\" "
        "value=\"11\"/></opcodes></task></tasks>"
        "<events><event value=\"7\" version=\"2\" task=\"Request\" opcode=\"win:Start\" template=\"T\"/>"
        "<event value=\"8\" version=\"0\" task=\"Request\" opcode=\"Retry\"/></events>"
        "<templates><template tid=\"T\"><data name=\"url\" inType=\"win:UnicodeString\"/>"
        "<data name=\"n\" inType=\"win:UInt32\"/><data name=\"blob\" inType=\"win:Binary\" length=\"n\"/>"
        "<data name=\"flags\" inType=\"win:UInt32\" map=\"F\"/>"
        "<data name=\"c\" inType=\"win:UInt16\"/><data name=\"arr\" inType=\"win:Int32\" "
        "count=\"c\"/></template></templates>"
        "<maps><bitMap name=\"F\"><map value=\"0x4\" message=\"$(string.f.four)\"/>"
        "<map value=\"0x1\" message=\"$(string.f.one)\"/></bitMap></maps>"
        "</provider></events></instrumentation><localization><resources culture=\"en-US\"><stringTable>"
        "<string id=\"f.one\" value=\"One\"/><string id=\"f.four\" value=\"Four\"/>"
        "</stringTable></resources></localization></instrumentationManifest>";
    static const char bomb[] =
        "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c "
        "\"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e "
        "\"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
        "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g "
        "\"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">]>"
        "<m><provider name=\"&g;\" guid=\"{01020304-0506-0708-090a-0b0c0d0e0f10}\"/></m>";
    esm_got g;
    etwl_esm_sink sink = {got_schema, got_map, &g};
    etwl_guid fallback;
    etwl_error e;
    uint32_t skipped;
    char buf[64];
    int i;
    (void)st;
    memset(&g, 0, sizeof g);
    memset(&fallback, 0, sizeof fallback);
    assert_int_equal(etwl_esm_parse(xml, sizeof xml - 1, &fallback, &sink, &skipped, &e), ETWL_OK);
    assert_int_equal(skipped, 0);
    assert_int_equal(g.ns, 2);
    assert_int_equal(g.nm, 1);
    assert_string_equal(g.mname[0], "F");
    assert_int_equal(etwl_valuemap_name(g.m[0], 5, buf, sizeof buf), 8);
    assert_string_equal(buf, "One|Four"); /* lowest bit first */
    assert_string_equal(g.s[0]->provider_name, "My-Source");
    assert_int_equal(g.s[0]->provider_guid.d1, 0x01020304);
    assert_int_equal(g.s[0]->desc.id, 7);
    assert_int_equal(g.s[0]->desc.version, 2);
    assert_int_equal(g.s[0]->desc.opcode, 1);
    assert_int_equal(g.s[0]->desc.task, 3);
    assert_string_equal(g.s[0]->task_name, "Request");
    assert_int_equal(g.s[0]->ntop, 6);
    assert_true(g.s[0]->props[2].flags & ETWL_PROP_LENGTH_REF);
    assert_int_equal(g.s[0]->props[2].length, 1);
    assert_true(g.s[0]->props[5].flags & ETWL_PROP_COUNT_REF);
    assert_string_equal(g.s[0]->props[3].map_name, "F");
    assert_int_equal(g.s[1]->desc.opcode, 11); /* the task's own opcode */
    {
        /* and an event decodes with it */
        tl_payload p;
        etwl_event ev;
        memset(&p, 0, sizeof p);
        tl_wstr(&p, "/x", 1);
        tl_u32(&p, 2);
        tl_bytes(&p, "\xAB\xCD", 2);
        tl_u32(&p, 5);
        tl_u16(&p, 2);
        tl_u32(&p, (uint32_t)-1);
        tl_u32(&p, 9);
        etwl_event_init(&ev);
        etwl_event_begin(&ev);
        etwl_event_set_payload(&ev, g.s[0], p.b, p.n);
        assert_string_equal(tl_json(etwl_event_get(&ev, "url")), "\"/x\"");
        assert_string_equal(tl_json(etwl_event_get(&ev, "arr")), "[-1,9]");
        assert_int_equal(etwl_event_get(&ev, "blob")->n, 2);
        etwl_event_release(&ev);
    }
    for (i = 0; i < g.ns; i++) etwl_schema_free(g.s[i]);
    for (i = 0; i < g.nm; i++) etwl_valuemap_free(g.m[i]);
    /* malformed: cut anywhere (ASan checks), a bad inType, no provider GUID, the bomb */
    for (size_t cut = 0; cut < sizeof xml - 1; cut += 7) {
        memset(&g, 0, sizeof g);
        etwl_esm_parse(xml, cut, NULL, &sink, &skipped, &e);
        for (i = 0; i < g.ns; i++) etwl_schema_free(g.s[i]);
        for (i = 0; i < g.nm; i++) etwl_valuemap_free(g.m[i]);
    }
    memset(&g, 0, sizeof g);
    assert_int_equal(etwl_esm_parse("<m><provider name=\"x\"/></m>", 27, NULL, &sink, &skipped, &e), ETWL_ESCHEMA);
    assert_non_null(strstr(e.message, "without a provider GUID"));
    assert_int_equal(etwl_esm_parse(bomb, sizeof bomb - 1, NULL, &sink, &skipped, &e), ETWL_ESCHEMA);
    assert_int_equal(g.ns + g.nm, 0);
    {
        static const char badtype[] =
            "<provider guid=\"{01020304-0506-0708-090a-0b0c0d0e0f10}\"><events><event value=\"1\" template=\"T\"/>"
            "<event value=\"2\" template=\"missing\"/></events><templates><template tid=\"T\">"
            "<data name=\"x\" inType=\"win:Nonsense\"/></template></templates></provider>";
        assert_int_equal(etwl_esm_parse(badtype, sizeof badtype - 1, NULL, &sink, &skipped, &e), ETWL_OK);
        assert_int_equal(skipped, 2);
        assert_int_equal(g.ns, 0);
    }
}
#else
static void test_esmanifest(void **st)
{
    (void)st;
    skip(); /* built without expat (the Windows build reads .etl through OpenTraceW) */
}
#endif

static void test_kernel_layouts_fit(void **st)
{
    static const char *files[] = {"../shared/data/etl/ShutdownPerfDiagLogger.etl",
                                  "../shared/data/etl/net.4.5.2.x64.etl.zip"};
    size_t k;
    (void)st;
    for (k = 0; k < 2; k++) {
        fit f;
        memset(&f, 0, sizeof f);
        /* etl-native on Windows too: never Wine's stub OpenTraceW */
        if (!tl_replay_shared(files[k], "etl-native", check_fit, &f)) continue;
        if (f.bad)
            fail_msg("%s: %llu of %llu kernel events do not fit their layout; first: %s", files[k],
                     (unsigned long long)f.bad, (unsigned long long)f.checked, f.first);
        assert_true(f.checked > 1000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lz77),     cmocka_unit_test(test_tlmeta),     cmocka_unit_test(test_documented_layouts),
        cmocka_unit_test(test_stackidx), cmocka_unit_test(test_esmanifest), cmocka_unit_test(test_kernel_layouts_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
