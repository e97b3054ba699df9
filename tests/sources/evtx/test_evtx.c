/* test_evtx.c - the native EVTX reader's pieces on hand-made bytes: the text
 * of every substitution value type as libevtx writes it, and the BinXml
 * walk (inline names and templates, substitutions, optional values left
 * out, arrays as repeated elements, BinXml inside a value) with its limits.
 * The reader over real files is tests/sources/evtx/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "sources/evtx/binxml.h"
#include "sources/evtx/evtxfile.h"
#include "testlib.h"

static char *render(uint8_t type, const void *data, size_t n)
{
    static char out[512];
    bx_buf b = {0};
    int r = bx_render_value(&b, type, data, n);
    snprintf(out, sizeof out, "%s", r != 0 ? "<error>" : b.p ? b.p : "");
    bx_buf_free(&b);
    return out;
}

static void test_values(void **st)
{
    static const uint8_t s16[] = {'a', 0, 0xE9, 0, 0x3D, 0xD8, 0x00, 0xDE, 0, 0, 'x', 0}; /* a, e-acute, U+1F600 */
    static const uint8_t lone[] = {0x00, 0xD8, 'b', 0};
    static const uint8_t guid[] = {0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49,
                                   0xA5, 0xBA, 0x3E, 0x3B, 0x03, 0x28, 0xC3, 0x0D};
    static const uint8_t sid[] = {1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0};
    static const uint8_t ft[] = {0xDE, 0xFC, 0x4C, 0x78, 0xCD, 0x5D, 0xD6, 0x01}; /* 2020-07-19T13:06:52.1998558Z */
    static const uint8_t systime[] = {0xE3, 0x07, 7, 0, 5, 0, 19, 0, 14, 0, 42, 0, 51, 0, 0x39, 0x01};
    static const uint8_t u32s[] = {1, 0, 0, 0, 2, 0, 0, 0};
    static const uint8_t strs[] = {'a', 0, 0, 0, 'b', 0, 0, 0};
    uint64_t v64;
    uint32_t v32;
    (void)st;
    assert_string_equal(render(BX_STRING, s16, sizeof s16), "a\xC3\xA9\xF0\x9F\x98\x80"); /* stops at NUL */
    assert_string_equal(render(BX_STRING, lone, sizeof lone), "\xEF\xBF\xBD"
                                                              "b");
    assert_string_equal(render(BX_ANSI, "abc\0d", 5), "abc");
    assert_string_equal(render(BX_INT8, "\xFF", 1), "-1");
    assert_string_equal(render(BX_UINT8, "\xFF", 1), "255");
    assert_string_equal(render(BX_INT16, "\x00\x80", 2), "-32768");
    assert_string_equal(render(BX_UINT16, "\x00\x80", 2), "32768");
    v32 = 0xFFFFFFFEu;
    assert_string_equal(render(BX_INT32, &v32, 4), "-2");
    assert_string_equal(render(BX_UINT32, &v32, 4), "4294967294");
    v64 = 0x8000000000000000ull;
    assert_string_equal(render(BX_INT64, &v64, 8), "-9223372036854775808");
    assert_string_equal(render(BX_UINT64, &v64, 8), "9223372036854775808");
    v32 = 0x12019f;
    assert_string_equal(render(BX_HEX32, &v32, 4), "0x0012019f");
    v64 = 0x4e5197;
    assert_string_equal(render(BX_HEX64, &v64, 8), "0x00000000004e5197");
    assert_string_equal(render(BX_SIZET, &v64, 8), "0x00000000004e5197");
    assert_string_equal(render(BX_SIZET, &v32, 4), "0x0012019f");
    assert_string_equal(render(BX_SIZET, &v32, 3), "<error>");
    v32 = 1;
    assert_string_equal(render(BX_BOOL, &v32, 4), "true");
    v32 = 0;
    assert_string_equal(render(BX_BOOL, &v32, 4), "false");
    assert_string_equal(render(BX_BINARY, "\x01\xAB", 2), "01AB");
    assert_string_equal(render(BX_GUID, guid, 16), "{54849625-5478-4994-A5BA-3E3B0328C30D}");
    assert_string_equal(render(BX_SID, sid, sizeof sid), "S-1-5-32-544");
    assert_string_equal(render(BX_SID, sid, 12), "<error>"); /* says 2 sub-authorities, holds 1 */
    assert_string_equal(render(BX_FILETIME, ft, 8), "2020-07-19T13:06:52.199855800Z");
    assert_string_equal(render(BX_SYSTEMTIME, systime, 16), "2019-07-19T14:42:51.313000000Z");
    assert_string_equal(render(BX_ARRAY | BX_UINT32, u32s, 8), "1 2");
    assert_string_equal(render(BX_ARRAY | BX_STRING, strs, 8), "a b");
    assert_string_equal(render(BX_UINT32, u32s, 2), "<error>"); /* too short */
    assert_string_equal(render(0x7F, u32s, 8), "<error>");      /* no such type */
    assert_int_equal(bx_value_ok(BX_UINT32, u32s, 2), -1);
    assert_int_equal(bx_value_ok(BX_SID, sid, 12), -1);
    assert_int_equal(bx_value_ok(BX_SID, sid, sizeof sid), 0);
    {
        /* ASCII runs are converted 8 and 4 units at a time: around and
         * across those blocks, a non-ASCII unit, a surrogate pair, a unit
         * with a high byte and a NUL, which ends the string */
        static const char *const cases[][2] = {
            {"abcdefgh\xc3\xa9ijklmnopqrstu", "abcdefgh\xc3\xa9ijklmnopqrstu"},
            {"abcdefg\xc3\xa9hijklmnopqrstuvw", "abcdefg\xc3\xa9hijklmnopqrstuvw"},
            {"abcdefghijk\xf0\x9f\x98\x80lmnopqrstuvwxyz0123", "abcdefghijk\xf0\x9f\x98\x80lmnopqrstuvwxyz0123"},
            {"abcdefghijkl\xe2\x82\xacmnopqrs", "abcdefghijkl\xe2\x82\xacmnopqrs"},
            {"abcdefghijklmnop!", "abcdefghijklmnop!"},
        };
        uint8_t u[128];
        char out[200];
        size_t k, j, n;
        for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            const unsigned char *c = (const unsigned char *)cases[k][0];
            n = 0;
            for (j = 0; c[j];) { /* UTF-8 to UTF-16LE, enough of it for the cases */
                uint32_t cp = c[j] < 0x80   ? c[j]
                              : c[j] < 0xE0 ? (uint32_t)(c[j] & 0x1F)
                              : c[j] < 0xF0 ? (uint32_t)(c[j] & 0x0F)
                                            : (uint32_t)(c[j] & 0x07);
                size_t len = c[j] < 0x80 ? 1 : c[j] < 0xE0 ? 2 : c[j] < 0xF0 ? 3 : 4, q;
                for (q = 1; q < len; q++) cp = cp << 6 | (c[j + q] & 0x3F);
                j += len;
                if (cp >= 0x10000) {
                    cp -= 0x10000;
                    u[n++] = (uint8_t)((0xD800 | cp >> 10) & 0xFF), u[n++] = (uint8_t)((0xD800 | cp >> 10) >> 8);
                    cp = 0xDC00 | (cp & 0x3FF);
                }
                u[n++] = (uint8_t)(cp & 0xFF), u[n++] = (uint8_t)(cp >> 8);
            }
            assert_int_equal(bx_string_text(out, u, n), strlen(cases[k][1]));
            assert_string_equal(out, cases[k][1]);
            /* a NUL after the ninth unit ends it there */
            u[18] = u[19] = 0;
            bx_string_text(out, u, n);
            assert_int_equal(strlen(out) < strlen(cases[k][1]), 1);
        }
        u[0] = 'a', u[1] = 0x01; /* U+0161: a high byte, in the first block */
        for (j = 2; j < 32; j += 2) u[j] = 'b', u[j + 1] = 0;
        assert_int_equal(bx_string_text(out, u, 32), 17);
        assert_string_equal(out, "\xc5\xa1"
                                 "bbbbbbbbbbbbbbb");
    }
    {
        bx_buf b = {0};
        assert_int_equal(bx_render_text(&b, BX_STRING, (const uint8_t *)"a\0\r\0\n\0b\0\r\0", 10), 0);
        assert_string_equal(b.p, "a\nb\n"); /* line ends as an XML parser reports them */
        bx_buf_free(&b);
    }
}

/* ---- a hand-made chunk ---------------------------------------------------- */

static uint8_t chunk[EVTX_CHUNK_SIZE];
static uint32_t pos;

static void p8(unsigned v) { chunk[pos++] = (uint8_t)v; }
static void p16(unsigned v)
{
    p8(v & 0xFF);
    p8(v >> 8);
}
static void p32(uint32_t v)
{
    p16(v & 0xFFFF);
    p16(v >> 16);
}
/* a name reference with the name defined right here */
static void name(const char *s)
{
    size_t i, n = strlen(s);
    p32(pos + 4);
    p32(0);
    p16(0);
    p16((unsigned)n);
    for (i = 0; i < n; i++) p16((unsigned char)s[i]);
    p16(0);
}
/* an element's start (in a template: with a dependency id) */
static void open_el(const char *s, int attrs)
{
    p8(attrs ? 0x41 : 0x01);
    p16(0xFFFF);
    p32(0);
    name(s);
    if (attrs) p32(0);
}
static void text(const char *s)
{
    size_t i, n = strlen(s);
    p8(0x05);
    p8(0x01);
    p16((unsigned)n);
    for (i = 0; i < n; i++) p16((unsigned char)s[i]);
}
static void attr_text(const char *n, const char *v)
{
    p8(0x06);
    name(n);
    text(v);
}
static void subst(int optional, unsigned id, unsigned type)
{
    p8(optional ? 0x0E : 0x0D);
    p16(id);
    p8(type);
}

/* what the walk reported, as one string: <el a=v>text</> */
typedef struct rec {
    char s[4096];
} rec;

static void r_start(void *ud, const char *n, const bx_attr *a, int na)
{
    rec *r = ud;
    int i;
    snprintf(r->s + strlen(r->s), sizeof r->s - strlen(r->s), "<%s", n);
    for (i = 0; i < na; i++) snprintf(r->s + strlen(r->s), sizeof r->s - strlen(r->s), " %s=%s", a[i].name, a[i].value);
    snprintf(r->s + strlen(r->s), sizeof r->s - strlen(r->s), ">");
}
static void r_text(void *ud, const char *s, size_t n)
{
    rec *r = ud;
    size_t i;
    for (i = 0; i < n; i++) /* whitespace between elements shown as | */
        snprintf(r->s + strlen(r->s), sizeof r->s - strlen(r->s), "%c", s[i] == '\n' || s[i] == ' ' ? '|' : s[i]);
}
static void r_end(void *ud)
{
    rec *r = ud;
    snprintf(r->s + strlen(r->s), sizeof r->s - strlen(r->s), "</>");
}

/* A record: fragment header, then a template instance whose definition
 * is inline; `values` are (type, bytes, size) triples. */
typedef struct val {
    uint8_t type;
    const void *p;
    uint16_t n;
} val;

static uint32_t def_start, def_size_at;
static void begin_template(void)
{
    pos = 512;
    p8(0x0F);
    p8(1);
    p8(1);
    p8(0);
    p8(0x0C);
    p8(1);
    p32(0x1234);
    p32(pos + 4); /* the definition follows */
    def_start = pos;
    p32(0);
    memset(chunk + pos, 0xAB, 16);
    pos += 16;
    def_size_at = pos;
    p32(0);
    p8(0x0F);
    p8(1);
    p8(1);
    p8(0);
}
static void end_template(const val *v, unsigned n)
{
    unsigned i;
    uint32_t sz;
    p8(0x00); /* end of the definition's stream */
    sz = pos - def_size_at - 4;
    chunk[def_size_at] = (uint8_t)sz;
    chunk[def_size_at + 1] = (uint8_t)(sz >> 8);
    p32(n);
    for (i = 0; i < n; i++) {
        p16(v[i].n);
        p8(v[i].type);
        p8(0);
    }
    for (i = 0; i < n; i++) {
        memcpy(chunk + pos, v[i].p, v[i].n);
        pos += v[i].n;
    }
    p8(0x00);
}

static int walk(bx_chunk *c, rec *r)
{
    bx_sink sink = {r, r_start, r_text, r_end, NULL};
    memset(r, 0, sizeof *r);
    bx_chunk_reset(c, chunk, sizeof chunk);
    return bx_walk(c, 512, pos, &sink);
}

static void test_walk(void **st)
{
    static const uint8_t user[] = {'b', 0, 'o', 0, 'b', 0};
    static const uint8_t items[] = {'x', 0, 0, 0, 'y', 0, 0, 0, 0, 0};
    uint16_t id = 4688;
    val v[4] = {{BX_UINT16, &id, 2}, {BX_STRING, user, 6}, {BX_NULL, "", 0}, {BX_ARRAY | BX_STRING, items, 10}};
    bx_chunk c;
    rec r;
    (void)st;
    memset(&c, 0, sizeof c);
    begin_template();
    open_el("Event", 0);
    p8(0x02);
    open_el("System", 0);
    p8(0x02);
    open_el("EventID", 0);
    p8(0x02);
    subst(0, 0, BX_UINT16);
    p8(0x04);
    open_el("Correlation", 1);
    p8(0x06);
    name("ActivityID");
    subst(1, 2, BX_GUID); /* left out: so is the attribute */
    p8(0x03);
    p8(0x04);
    open_el("EventData", 0);
    p8(0x02);
    open_el("Data", 1);
    attr_text("Name", "User");
    p8(0x02);
    subst(1, 1, BX_STRING);
    p8(0x04);
    open_el("Binary", 0); /* its optional value is left out: so is it */
    p8(0x02);
    subst(1, 2, BX_BINARY);
    p8(0x04);
    open_el("Data", 0); /* an array: one element per item */
    p8(0x02);
    subst(1, 3, BX_ARRAY | BX_STRING);
    p8(0x04);
    p8(0x04);
    p8(0x04);
    end_template(v, 4);
    assert_int_equal(walk(&c, &r), 0);
    /* libevtx's indentation: a newline and two spaces per level (shown as |) */
    assert_string_equal(r.s, "<Event>|||<System>|||||<EventID>4688</>|||||<Correlation></>|||</>|||<EventData>"
                             "|||||<Data Name=User>bob</>|||||<Data>x</>|||||<Data>y</>|||||<Data></>|||</>|</>");

    /* the same record cut anywhere fails cleanly, never reading past it */
    {
        uint32_t full = pos, cut;
        for (cut = 513; cut < full; cut += 3) {
            pos = cut;
            memset(&r, 0, sizeof r);
            walk(&c, &r); /* may succeed where the cut is in trailing values; must not crash */
        }
        pos = full;
    }
    bx_chunk_free(&c);
}

/* A template whose content is a BinXml value holding an instance of the
 * same template, nested 100 deep: the walk stops at its depth limit. */
static void test_limits(void **st)
{
    bx_chunk c;
    rec r;
    uint32_t def, at[100], k;
    (void)st;
    memset(&c, 0, sizeof c);
    memset(chunk, 0, sizeof chunk);
    begin_template();
    def = def_start;
    open_el("Event", 0);
    p8(0x02);
    subst(0, 0, BX_BINXML);
    p8(0x04);
    p8(0x00);
    {
        uint32_t sz = pos - def_size_at - 4;
        chunk[def_size_at] = (uint8_t)sz;
        chunk[def_size_at + 1] = (uint8_t)(sz >> 8);
    }
    for (k = 0; k < 100; k++) {
        if (k) { /* level k is the value of level k-1: an instance of the same definition */
            p8(0x0C);
            p8(1);
            p32(0);
            p32(def);
        }
        p32(1);
        at[k] = pos;
        p16(0); /* the value's size, patched below */
        p8(BX_BINXML);
        p8(0);
    }
    for (k = 0; k < 100; k++) { /* each value runs to the end */
        uint32_t sz = pos - (at[k] + 4);
        chunk[at[k]] = (uint8_t)sz;
        chunk[at[k] + 1] = (uint8_t)(sz >> 8);
    }
    assert_int_equal(walk(&c, &r), -1);
    assert_non_null(strstr(c.err, "too deep"));
    bx_chunk_free(&c);

    /* more substitution values than the limit: refused before allocating */
    memset(chunk, 0, sizeof chunk);
    begin_template();
    open_el("Event", 0);
    p8(0x03);
    p8(0x00);
    {
        uint32_t sz = pos - def_size_at - 4;
        chunk[def_size_at] = (uint8_t)sz;
        chunk[def_size_at + 1] = (uint8_t)(sz >> 8);
    }
    p32(BX_MAX_SUBS + 1);
    assert_int_equal(walk(&c, &r), -1);
    assert_non_null(strstr(c.err, "too many substitution values"));
    bx_chunk_free(&c);
}

static void test_crc(void **st)
{
    (void)st;
    /* the standard check value of CRC-32/ISO-HDLC */
    assert_int_equal(evtx_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
}

/* UTF-16 text to UTF-8, which takes four ASCII units at a time: every
 * place a NUL, a non-ASCII unit or a surrogate pair can fall in or across
 * such a group gives what one unit at a time gives. */
static void utf16le(uint8_t *out, const uint16_t *u, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = (uint8_t)u[i];
        out[2 * i + 1] = (uint8_t)(u[i] >> 8);
    }
}

static void test_strings(void **st)
{
    static const struct {
        uint16_t u[20];
        size_t n;
        const char *want;
    } cases[] = {
        {{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'}, 9, "abcdefghi"},
        {{'a', 'b', 'c', 0, 'e', 'f', 'g', 'h'}, 8, "abc"}, /* NUL inside a group */
        {{'a', 'b', 'c', 'd', 0, 'f'}, 6, "abcd"},          /* NUL right after one */
        {{'a', 'b', 0xE9, 'd', 'e', 'f', 'g', 'h', 'i'},
         9,
         "ab\xC3\xA9"
         "defghi"}, /* non-ASCII inside */
        {{'a', 'b', 'c', 0x80, 'e'},
         5,
         "abc\xC2\x80"
         "e"}, /* the first unit above 0x7F */
        {{'a', 'b', 'c', 0xD83D, 0xDE00, 'x', 'y', 'z', 'w'},
         9,
         "abc\xF0\x9F\x98\x80"
         "xyzw"},                                                              /* a pair across */
        {{'a', 'b', 'c', 'd', 0xD83D}, 5, "abcd\xEF\xBF\xBD"},                 /* a lone high surrogate at the end */
        {{'a', '\r', '\n', 'b', '\r', 'c', 'd', 'e', '\r'}, 9, "a\nb\ncde\n"}, /* line ends */
        {{0x7F, 0x7F, 0x7F, 0x7F, 0x100}, 5, "\x7F\x7F\x7F\x7F\xC4\x80"},
        {{0}, 0, ""},
    };
    size_t k;
    (void)st;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t in[40];
        char out[3 * 20 + 1];
        bx_buf b = {0};
        size_t len;
        utf16le(in, cases[k].u, cases[k].n);
        len = bx_string_text(out, in, 2 * cases[k].n);
        assert_string_equal(out, cases[k].want);
        assert_int_equal(len, strlen(cases[k].want));
        /* the same through the buffer the walk uses */
        assert_int_equal(bx_render_text(&b, BX_STRING, in, 2 * cases[k].n), 0);
        assert_string_equal(b.p ? b.p : "", cases[k].want);
        bx_buf_free(&b);
    }
}

/* etwl_event_prop_uint (the process table's pid reads) gives a member's
 * number without its text: over real files, every member it answers for
 * must have text that says that number (decimal or 0x-hex), and a member
 * once read as text is answered by its text only. */
typedef struct nums {
    unsigned long long answered, texts, bad;
    char first[200];
} nums;

static etwl_status check_numbers(etwl_event *ev, void *user)
{
    nums *c = user;
    uint32_t i, n = etwl_event_prop_count(ev);
    for (i = 0; i < n; i++) {
        uint64_t v = 0, again;
        int got = etwl_event_prop_uint(ev, i, &v);
        const etwl_value *t = etwl_event_prop(ev, i);
        char buf[64], *end;
        int plain = t->type == ETWL_VT_STRING && t->n > 0 && t->n < sizeof buf;
        unsigned long long parsed = 0;
        if (plain) {
            memcpy(buf, t->v.s, t->n);
            buf[t->n] = 0;
            parsed = strtoull(buf, &end, 0);
            plain = *end == 0 && buf[0] >= '0' && buf[0] <= '9';
        }
        c->answered += got;
        c->texts += plain;
        if ((got && (!plain || parsed != v)) || etwl_event_prop_uint(ev, i, &again)) {
            if (!c->bad++)
                snprintf(c->first, sizeof c->first, "record %llu member %u: %s %llu, text %.*s",
                         (unsigned long long)etwl_event_header(ev)->record_id, i, got ? "number" : "-",
                         (unsigned long long)v, (int)(t->n < 60 ? t->n : 60), t->type == ETWL_VT_STRING ? t->v.s : "");
        }
    }
    return ETWL_OK;
}

static void test_numbers_as_their_text(void **st)
{
    static const char *files[] = {
        "../shared/data/evtx-attack-samples/Execution/revshell_cmd_svchost_sysmon_1.evtx",
        "../shared/data/evtx-attack-samples/Lateral Movement/ImpersonateUser-via local Pass The Hash Sysmon and "
        "Security.evtx",
    };
    size_t k;
    (void)st;
    for (k = 0; k < sizeof files / sizeof files[0]; k++) {
        nums f;
        memset(&f, 0, sizeof f);
        if (!tl_replay_shared(files[k], NULL, check_numbers, &f)) continue;
        if (f.bad) fail_msg("%s: %llu members; first: %s", files[k], f.bad, f.first);
        /* Sysmon writes its pids and session ids as numbers */
        assert_true(f.answered > 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values), cmocka_unit_test(test_strings), cmocka_unit_test(test_walk),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_crc),     cmocka_unit_test(test_numbers_as_their_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
