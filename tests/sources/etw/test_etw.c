/* test_etw.c - the Windows ETW backend against the fake API, under Wine.
 *
 * Everything here goes through the neutral session API, as the CLI does:
 * session lifecycle, the exists error, kill, kernel flags, enable
 * properties, the event-id filter descriptor, schemas from
 * TdhGetEventInformation (cached per type, TraceLogging apart), extended
 * data, loss counters, and a script raising an alert end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_etw.h"
#include "lua/lua_int.h"
#include "teib.h"
#include "testlib.h"
#include "sources/etw/win.h"

static const GUID G_TEST = {0x11111111, 0x2222, 0x3333, {0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55}};
static const GUID G_KPROC = {0x22fb2cd6, 0x0e7b, 0x422b, {0xa0, 0xc7, 0x2f, 0xad, 0x1f, 0xd0, 0xe7, 0x16}};
static const GUID G_PROCESS_CLASS = {0x3d6fa8d0, 0xfe05, 0x11d0, {0x9d, 0xda, 0x00, 0xc0, 0x4f, 0xd7, 0xba, 0x7c}};
static const GUID G_REGISTRY_CLASS = {0xae53722e, 0xc863, 0x11d2, {0x86, 0x59, 0x00, 0xc0, 0x4f, 0xa3, 0x21, 0xa1}};
static const GUID G_SYSTEM_TRACE = {0x9e814aad, 0x3204, 0x11d2, {0x9a, 0x82, 0x00, 0x60, 0x08, 0xa8, 0x69, 0x39}};

/* ---- helpers ------------------------------------------------------------- */

typedef struct seen {
    int n;
    uint16_t ids[64];
    char image[64][64];
    uint32_t ext_has[64];
    uint32_t session_id[64];
    char sid[64][32];
    char provider[64][64];
    uint32_t payload_len[64];
    uint32_t nprops[64];
    int stop_after; /* return ESTOPPED at this count (0: never) */
    int stats_at;   /* read the session stats at this count */
    etwl_session *s;
    etwl_stats stats;
    volatile LONG count;
} seen;

static etwl_status on_event(etwl_event *ev, void *user)
{
    seen *w = user;
    const etwl_header *h = etwl_event_header(ev);
    const etwl_ext *x = etwl_event_ext(ev);
    const etwl_value *v = etwl_event_get(ev, "ImageName");
    int i = w->n < 64 ? w->n : 63;
    w->ids[i] = h->desc.id;
    w->image[i][0] = 0;
    if (v && v->type == ETWL_VT_STRING) snprintf(w->image[i], sizeof w->image[i], "%.*s", (int)v->n, v->v.s);
    w->ext_has[i] = x->has;
    w->session_id[i] = x->session_id;
    snprintf(w->sid[i], sizeof w->sid[i], "%.*s", (int)x->user_sid_len, x->user_sid ? x->user_sid : "");
    snprintf(w->provider[i], sizeof w->provider[i], "%.*s", (int)h->provider_name_len,
             (h->has & ETWL_HAS_PROVIDER_NAME) ? h->provider_name : "");
    etwl_event_payload(ev, &w->payload_len[i]);
    w->nprops[i] = etwl_event_prop_count(ev);
    w->n++;
    InterlockedIncrement(&w->count);
    if (w->stats_at && w->n == w->stats_at) etwl_session_stats(w->s, &w->stats);
    if (w->stop_after && w->n == w->stop_after) return ETWL_ESTOPPED;
    return ETWL_OK;
}

static void config(etwl_config *c, const char *name)
{
    etwl_config_init(c);
    snprintf(c->name, sizeof c->name, "%s", name);
}

static void event(fake_event *e, const GUID *prov, USHORT id, UCHAR level, ULONGLONG kw)
{
    memset(e, 0, sizeof *e);
    e->provider = *prov;
    e->id = id;
    e->level = level;
    e->keyword = kw;
    e->pid = 4242;
    e->tid = 7;
    e->ts = 133541070730000000LL;
}

/* Closes the session from another thread once `want` events were seen,
 * recording that process() was still blocked at that moment. */
typedef struct closer {
    seen *w;
    int want;
    const char *name;
    volatile LONG closed;
} closer;

static DWORD WINAPI close_later(LPVOID arg)
{
    closer *c = arg;
    fake_etw_wait_processing(c->name);
    while (c->w->count < c->want) Sleep(1);
    Sleep(20);
    InterlockedExchange(&c->closed, 1);
    etwl_session_close(c->w->s);
    return 0;
}

/* Runs process() on this thread until `want` events, closing from another. */
static etwl_status run(etwl_session *s, seen *w, const char *name, int want, int *closed_first)
{
    closer c = {w, want, name, 0};
    HANDLE t;
    etwl_error e;
    etwl_status st;
    w->s = s;
    t = CreateThread(NULL, 0, close_later, &c, 0, NULL);
    assert_non_null(t);
    st = etwl_session_process(s, on_event, w, &e);
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    if (closed_first) *closed_first = c.closed;
    return st;
}

/* A session on the test provider (by GUID), open. */
static etwl_session *open_test(etwl_config *c, const char *name)
{
    etwl_session *s = NULL;
    etwl_error e;
    config(c, name);
    assert_int_equal(etwl_config_add_provider(c, "{11111111-2222-3333-4444-555555555555}", &e), ETWL_OK);
    if (etwl_session_open(c, &s, &e) != ETWL_OK) fail_msg("open %s: %s", name, e.message);
    return s;
}

static int setup(void **st)
{
    (void)st;
    fake_etw_install();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    fake_etw_uninstall();
    return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_lifecycle(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    fake_session *f;
    fake_event ev;
    seen w;
    int closed_first = 0;
    (void)st;
    fake_etw_add_provider("Test-Provider", &G_TEST);
    config(&c, "t-life");
    assert_int_equal(etwl_config_add_provider(&c, "Test-Provider:4:0x10", &e), ETWL_OK);
    assert_int_equal(etwl_config_add_enable_props(&c, "SID,TS_ID", &e), ETWL_OK);
    c.buffer_kb = 128;
    c.min_buffers = 8;
    c.max_buffers = 32;
    c.flush_timer_s = 2;
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    f = fake_etw_session("t-life");
    assert_non_null(f);
    assert_true(f->live);
    assert_true(f->log_file_mode & EVENT_TRACE_REAL_TIME_MODE);
    assert_false(f->log_file_mode & EVENT_TRACE_SYSTEM_LOGGER_MODE);
    assert_int_equal(f->client_context, 1); /* QPC */
    assert_int_equal(f->buffer_size, 128);
    assert_int_equal(f->min_buffers, 8);
    assert_int_equal(f->max_buffers, 32);
    assert_int_equal(f->flush_timer, 2);
    assert_int_equal(f->nen, 1);
    assert_true(IsEqualGUID(&f->en[0].guid, &G_TEST));
    assert_int_equal(f->en[0].level, 4);
    assert_true(f->en[0].any == 0x10);
    assert_int_equal(f->en[0].props, EVENT_ENABLE_PROPERTY_SID | EVENT_ENABLE_PROPERTY_TS_ID);
    assert_int_equal(f->en[0].has_id_filter, 0);
    assert_true(f->opened);
    assert_true(f->process_trace_mode & PROCESS_TRACE_MODE_REAL_TIME);
    assert_true(f->process_trace_mode & PROCESS_TRACE_MODE_EVENT_RECORD);
    /* the kernel's selection: level and keywords */
    event(&ev, &G_TEST, 1, 4, 0x10);
    assert_int_equal(fake_etw_push("t-life", &ev), 0);
    event(&ev, &G_TEST, 2, 5, 0x10); /* too verbose */
    fake_etw_push("t-life", &ev);
    event(&ev, &G_TEST, 3, 4, 0x20); /* other keyword */
    fake_etw_push("t-life", &ev);
    event(&ev, &G_TEST, 4, 4, 0); /* keyword 0 passes */
    fake_etw_push("t-life", &ev);
    memset(&w, 0, sizeof w);
    assert_int_equal(run(s, &w, "t-life", 2, &closed_first), ETWL_OK);
    assert_true(closed_first); /* process() blocked until close */
    assert_int_equal(w.n, 2);
    assert_int_equal(w.ids[0], 1);
    assert_int_equal(w.ids[1], 4);
    assert_int_equal(f->dropped, 2);
    /* SID and TS_ID enable properties become ext items */
    assert_true(w.ext_has[0] & ETWL_EXT_USER_SID);
    assert_string_equal(w.sid[0], "S-1-5-18");
    assert_true(w.ext_has[0] & ETWL_EXT_SESSION_ID);
    assert_int_equal(w.session_id[0], 1);
    /* without a schema the provider name comes from the session */
    assert_string_equal(w.provider[0], "Test-Provider");
    /* close stopped the OS session once; freeing does not stop it again */
    assert_false(f->live);
    assert_int_equal(f->stops, 1);
    assert_true(f->closed);
    etwl_session_free(s);
    assert_int_equal(f->stops, 1);
    /* a second STOP by name could stop a session someone else started since */
    assert_int_equal(fake_etw_stop_calls(), 1);
}

static void test_exists_and_kill(void **st)
{
    etwl_config c;
    etwl_session *s = NULL;
    etwl_error e;
    fake_session *f;
    (void)st;
    fake_etw_external("taken");
    config(&c, "taken");
    memset(&e, 0, sizeof e);
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_EEXIST);
    assert_null(s);
    assert_string_equal(e.session, "taken");
    assert_non_null(strstr(e.message, "'taken' already exists"));
    /* never stopped behind the owner's back */
    f = fake_etw_session("taken");
    assert_true(f->live);
    assert_int_equal(f->stops, 0);
    /* --kill stops it, wherever it came from */
    assert_int_equal(etwl_session_kill(NULL, "taken", &e), ETWL_OK);
    assert_false(f->live);
    assert_int_equal(f->stops, 1);
    assert_int_equal(etwl_session_kill(NULL, "taken", &e), ETWL_ENOTFOUND);
    assert_non_null(strstr(e.message, "no session named 'taken'"));
    /* and now the name is free */
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    etwl_session_free(s);
    assert_false(fake_etw_session("taken")->live);
}

/* The CLI's kernel flag names are the SDK's EVENT_TRACE_FLAG_* bits. */
static void test_kernel_flag_names(void **st)
{
    static const struct {
        const char *name;
        ULONG bit;
    } want[] = {
        {"process", EVENT_TRACE_FLAG_PROCESS},
        {"thread", EVENT_TRACE_FLAG_THREAD},
        {"image_load", EVENT_TRACE_FLAG_IMAGE_LOAD},
        {"disk_io", EVENT_TRACE_FLAG_DISK_IO},
        {"disk_file_io", EVENT_TRACE_FLAG_DISK_FILE_IO},
        {"file_io", EVENT_TRACE_FLAG_FILE_IO},
        {"file_io_init", EVENT_TRACE_FLAG_FILE_IO_INIT},
        {"network", EVENT_TRACE_FLAG_NETWORK_TCPIP},
        {"tcpip", EVENT_TRACE_FLAG_NETWORK_TCPIP},
        {"registry", EVENT_TRACE_FLAG_REGISTRY},
        {"process_counters", EVENT_TRACE_FLAG_PROCESS_COUNTERS},
        {"cswitch", EVENT_TRACE_FLAG_CSWITCH},
        {"dpc", EVENT_TRACE_FLAG_DPC},
        {"interrupt", EVENT_TRACE_FLAG_INTERRUPT},
        {"syscall", EVENT_TRACE_FLAG_SYSTEMCALL},
        {"alpc", EVENT_TRACE_FLAG_ALPC},
        {"split_io", EVENT_TRACE_FLAG_SPLIT_IO},
        {"driver", EVENT_TRACE_FLAG_DRIVER},
        {"profile", EVENT_TRACE_FLAG_PROFILE},
        {"page_faults", EVENT_TRACE_FLAG_MEMORY_PAGE_FAULTS},
        {"hard_faults", EVENT_TRACE_FLAG_MEMORY_HARD_FAULTS},
        {"virtual_alloc", EVENT_TRACE_FLAG_VIRTUAL_ALLOC},
        {"dbgprint", EVENT_TRACE_FLAG_DBGPRINT},
        {"job", EVENT_TRACE_FLAG_JOB},
    };
    size_t i;
    (void)st;
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        etwl_config c;
        etwl_error e;
        config(&c, "k");
        if (etwl_config_add_kernel_flags(&c, want[i].name, &e) != ETWL_OK) fail_msg("%s: %s", want[i].name, e.message);
        if (c.kernel_flags != want[i].bit)
            fail_msg("%s: 0x%x, the SDK says 0x%lx", want[i].name, c.kernel_flags, want[i].bit);
    }
}

static void test_kernel_sessions(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    fake_session *f;
    fake_event ev;
    seen w;
    (void)st;
    /* a named session with kernel flags is a private system logger */
    config(&c, "k-sys");
    assert_int_equal(etwl_config_add_kernel_flags(&c, "process,image_load", &e), ETWL_OK);
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    f = fake_etw_session("k-sys");
    assert_int_equal(f->enable_flags, EVENT_TRACE_FLAG_PROCESS | EVENT_TRACE_FLAG_IMAGE_LOAD);
    assert_true(f->log_file_mode & EVENT_TRACE_SYSTEM_LOGGER_MODE);
    assert_int_equal(f->nen, 0);
    event(&ev, &G_PROCESS_CLASS, 0, 0, 0);
    ev.opcode = 3; /* DCStart: the rundown */
    ev.flags = EVENT_HEADER_FLAG_CLASSIC_HEADER | EVENT_HEADER_FLAG_64_BIT_HEADER;
    fake_etw_push("k-sys", &ev);
    event(&ev, &G_REGISTRY_CLASS, 0, 0, 0); /* registry was not asked for */
    fake_etw_push("k-sys", &ev);
    ev.provider = G_PROCESS_CLASS;
    ev.opcode = 1;
    fake_etw_push("k-sys", &ev);
    memset(&w, 0, sizeof w);
    assert_int_equal(run(s, &w, "k-sys", 2, NULL), ETWL_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(f->dropped, 1);
    etwl_session_free(s);
    /* the NT Kernel Logger by name */
    config(&c, "NT Kernel Logger");
    assert_int_equal(etwl_config_add_kernel_flags(&c, "process", &e), ETWL_OK);
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    f = fake_etw_session("NT Kernel Logger");
    assert_true(IsEqualGUID(&f->guid, &G_SYSTEM_TRACE));
    assert_false(f->log_file_mode & EVENT_TRACE_SYSTEM_LOGGER_MODE);
    assert_int_equal(f->enable_flags, EVENT_TRACE_FLAG_PROCESS);
    etwl_session_free(s);
    assert_false(f->live);
    /* it takes no providers, and a failed open leaves no session behind */
    fake_etw_add_provider("Test-Provider", &G_TEST);
    assert_int_equal(etwl_config_add_provider(&c, "Test-Provider", &e), ETWL_OK);
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_EINVAL);
    assert_non_null(strstr(e.message, "kernel flags"));
    assert_false(fake_etw_session("NT Kernel Logger")->live);
}

/* Nothing selected (the main job): the kernel Process class, for command
 * lines and the rundown of what already runs. */
static void test_default_selection(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    fake_session *f;
    (void)st;
    config(&c, "etwlua");
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    f = fake_etw_session("etwlua");
    assert_int_equal(f->enable_flags, EVENT_TRACE_FLAG_PROCESS);
    assert_true(f->log_file_mode & EVENT_TRACE_SYSTEM_LOGGER_MODE);
    assert_int_equal(f->nen, 0);
    etwl_session_free(s);
}

static void test_event_id_filter(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    fake_session *f;
    fake_event ev;
    seen w;
    USHORT id;
    (void)st;
    config(&c, "t-ids");
    assert_int_equal(etwl_config_add_provider(&c, "{11111111-2222-3333-4444-555555555555}", &e), ETWL_OK);
    c.providers[0].event_ids[0] = 1;
    c.providers[0].event_ids[1] = 4104;
    c.providers[0].nevent_ids = 2;
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    f = fake_etw_session("t-ids");
    assert_int_equal(f->en[0].nfilters, 1);
    assert_int_equal(f->en[0].filter_types[0], EVENT_FILTER_TYPE_EVENT_ID);
    assert_true(f->en[0].has_id_filter);
    assert_true(f->en[0].filter_in);
    assert_int_equal(f->en[0].nids, 2);
    assert_int_equal(f->en[0].ids[0], 1);
    assert_int_equal(f->en[0].ids[1], 4104);
    for (id = 1; id <= 5; id++) {
        event(&ev, &G_TEST, id, 4, 0);
        fake_etw_push("t-ids", &ev);
    }
    event(&ev, &G_TEST, 4104, 4, 0);
    fake_etw_push("t-ids", &ev);
    memset(&w, 0, sizeof w);
    assert_int_equal(run(s, &w, "t-ids", 2, NULL), ETWL_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.ids[0], 1);
    assert_int_equal(w.ids[1], 4104);
    assert_int_equal(f->dropped, 4); /* in the "kernel": never reached us */
    etwl_session_free(s);
}

static void test_provider_names(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    (void)st;
    fake_etw_add_provider("Microsoft-Windows-DNS-Client", &G_TEST);
    fake_etw_add_provider("Microsoft-Windows-Kernel-Process", &G_KPROC);
    config(&c, "t-names");
    assert_int_equal(etwl_config_add_provider(&c, "microsoft-windows-dns-client", &e), ETWL_OK);
    assert_int_equal(etwl_config_add_provider(&c, "Microsoft-Windows-Kernel-Process:5:0x10", &e), ETWL_OK);
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    assert_true(IsEqualGUID(&fake_etw_session("t-names")->en[0].guid, &G_TEST));
    assert_true(IsEqualGUID(&fake_etw_session("t-names")->en[1].guid, &G_KPROC));
    etwl_session_free(s);
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    etwl_session_free(s);
    assert_int_equal(fake_etw_enum_calls(), 2); /* once for the size, once for the list: then cached */
    /* an unknown name: a clear error, and no session left behind */
    config(&c, "t-unknown");
    assert_int_equal(etwl_config_add_provider(&c, "No-Such-Provider", &e), ETWL_OK);
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_ENOTFOUND);
    assert_non_null(strstr(e.message, "'No-Such-Provider'"));
    assert_false(fake_etw_session("t-unknown")->live);
}

static void test_schemas(void **st)
{
    etwl_config c;
    etwl_session *s;
    fake_event ev;
    teib t;
    seen w;
    uint8_t pl[64];
    uint8_t g[16];
    static const uint8_t meta_a[] = {0x20, 0x00, 0x00, 'A', 0}, meta_b[] = {0x20, 0x00, 0x00, 'B', 0};
    int i, calls;
    (void)st;
    memcpy(g, &G_TEST, 16);
    teib_init(&t, g, 1, 0, 0, "Test-Provider", "Start", 2, 2);
    teib_prop(&t, 0, "ProcessID", 0, 8 /* UINT32 */, 0, 1, 0);
    teib_prop(&t, 1, "ImageName", 0, 1 /* UNICODESTRING */, 0, 1, 0);
    fake_etw_add_tei(&G_TEST, 1, 0, 0, NULL, 0, t.b, t.names);
    /* TraceLogging: id 0 twice, told apart by their metadata */
    teib_init(&t, g, 0, 0, 0, "Test-Provider", "TlA", 1, 1);
    teib_prop(&t, 0, "ImageName", 0, 2 /* ANSISTRING */, 0, 1, 0);
    fake_etw_add_tei(&G_TEST, 0, 0, 0, meta_a, sizeof meta_a, t.b, t.names);
    teib_init(&t, g, 0, 0, 0, "Test-Provider", "TlB", 1, 1);
    teib_prop(&t, 0, "Other", 0, 2, 0, 1, 0);
    fake_etw_add_tei(&G_TEST, 0, 0, 0, meta_b, sizeof meta_b, t.b, t.names);
    s = open_test(&c, "t-schema");
    memcpy(pl,
           "\x92\x10\x00\x00"
           "a\0.\0e\0x\0e\0\0\0",
           16);
    for (i = 0; i < 3; i++) {
        event(&ev, &G_TEST, 1, 4, 0);
        ev.payload = pl;
        ev.payload_len = 16;
        fake_etw_push("t-schema", &ev);
    }
    event(&ev, &G_TEST, 9, 4, 0); /* no schema anywhere */
    ev.payload = pl;
    ev.payload_len = 4;
    fake_etw_push("t-schema", &ev);
    fake_etw_push("t-schema", &ev);
    event(&ev, &G_TEST, 0, 4, 0);
    ev.payload = "tl.exe";
    ev.payload_len = 7;
    ev.ext[0].type = 11;
    ev.ext[0].data = meta_a;
    ev.ext[0].size = sizeof meta_a;
    fake_etw_push("t-schema", &ev);
    ev.ext[0].data = meta_b;
    fake_etw_push("t-schema", &ev);
    memset(&w, 0, sizeof w);
    assert_int_equal(run(s, &w, "t-schema", 7, NULL), ETWL_OK);
    assert_int_equal(w.n, 7);
    for (i = 0; i < 3; i++) {
        assert_string_equal(w.image[i], "a.exe");
        assert_string_equal(w.provider[i], "Test-Provider"); /* from the schema */
    }
    /* header and raw payload when there is no schema */
    assert_int_equal(w.nprops[3], 0);
    assert_int_equal(w.payload_len[3], 4);
    assert_string_equal(w.image[5], "tl.exe");
    assert_string_equal(w.image[6], "");
    assert_int_equal(w.nprops[6], 1);
    /* TDH was asked once per type, never per event: twice for the first
     * type (the size, then the blob); the grown buffer then fits the rest */
    calls = fake_etw_tdh_calls();
    assert_int_equal(calls, 2 + 1 + 1 + 1);
    etwl_session_free(s);
}

typedef struct mapped {
    int n;
    char name[4][64];
} mapped;

static etwl_status on_mapped(etwl_event *ev, void *user)
{
    mapped *m = user;
    uint32_t len = 0;
    int32_t i = etwl_event_prop_find(ev, "State", 5);
    const char *s = i < 0 ? NULL : etwl_event_prop_map_name(ev, (uint32_t)i, &len);
    if (m->n < 4) snprintf(m->name[m->n], sizeof m->name[0], "%.*s", s ? (int)len : 6, s ? s : "(none)");
    m->n++;
    return ETWL_OK;
}

struct mapped_run {
    mapped *m;
    seen *w;
};

static etwl_status on_mapped_counted(etwl_event *ev, void *user)
{
    struct mapped_run *r = user;
    etwl_status st = on_mapped(ev, r->m);
    r->w->n++;
    InterlockedIncrement(&r->w->count);
    return st;
}

/* Value maps resolve on first use, through TdhGetEventMapInformation once
 * per (provider, map), and come out as names beside the numbers. */
static void test_value_maps(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    fake_event ev;
    teib t;
    mapped m;
    uint8_t g[16], emi[512];
    static const uint32_t vals[] = {1, 2};
    static const char *const names[] = {"Running ", "Stopped "};
    uint32_t v, n;
    int i;
    (void)st;
    memcpy(g, &G_TEST, 16);
    teib_init(&t, g, 1, 0, 0, "Test-Provider", "State", 1, 1);
    teib_prop(&t, 0, "State", 0, 8, 0, 1, 0);
    teib_prop_map(&t, 0, "StateMap");
    fake_etw_add_tei(&G_TEST, 1, 0, 0, NULL, 0, t.b, t.names);
    n = teib_map(emi, sizeof emi, "StateMap", 0x1, 2, vals, names);
    fake_etw_add_map(&G_TEST, "StateMap", emi, n);
    s = open_test(&c, "t-maps");
    for (i = 0; i < 3; i++) {
        v = i == 2 ? 7 : (uint32_t)(i + 1);
        event(&ev, &G_TEST, 1, 4, 0);
        ev.payload = &v;
        ev.payload_len = 4;
        fake_etw_push("t-maps", &ev);
    }
    memset(&m, 0, sizeof m);
    {
        seen w;
        closer cl;
        struct mapped_run mr;
        HANDLE th;
        memset(&w, 0, sizeof w);
        w.s = s;
        cl.w = &w;
        cl.want = 3;
        cl.name = "t-maps";
        cl.closed = 0;
        mr.m = &m;
        mr.w = &w;
        th = CreateThread(NULL, 0, close_later, &cl, 0, NULL);
        assert_int_equal(etwl_session_process(s, on_mapped_counted, &mr, &e), ETWL_OK);
        WaitForSingleObject(th, INFINITE);
        CloseHandle(th);
    }
    assert_int_equal(m.n, 3);
    assert_string_equal(m.name[0], "Running");
    assert_string_equal(m.name[1], "Stopped");
    assert_string_equal(m.name[2], "(none)");  /* 7 has no name */
    assert_int_equal(fake_etw_map_calls(), 2); /* the size, then the map: once for the session */
    etwl_session_free(s);
}

static void test_extended_data(void **st)
{
    etwl_config c;
    etwl_session *s;
    fake_event ev;
    seen w;
    uint8_t related[16], inst[24], stack[8 + 2 * 8], psk[8], key[8];
    uint64_t v;
    (void)st;
    s = open_test(&c, "t-ext");
    memset(related, 0xAB, 16);
    memset(inst, 0, sizeof inst);
    inst[0] = 5;
    inst[4] = 6;
    v = 3;
    memcpy(stack, &v, 8);
    v = 0xFFFFF80000001000ull;
    memcpy(stack + 8, &v, 8);
    v = 0x7FF600001000ull;
    memcpy(stack + 16, &v, 8);
    v = 0x1234;
    memcpy(psk, &v, 8);
    v = 0x99;
    memcpy(key, &v, 8);
    event(&ev, &G_TEST, 1, 4, 0);
    ev.ext[0] = (fake_ext){EVENT_HEADER_EXT_TYPE_RELATED_ACTIVITYID, related, 16};
    ev.ext[1] = (fake_ext){EVENT_HEADER_EXT_TYPE_INSTANCE_INFO, inst, 24};
    ev.ext[2] = (fake_ext){EVENT_HEADER_EXT_TYPE_STACK_TRACE64, stack, sizeof stack};
    ev.ext[3] = (fake_ext){13 /* PROCESS_START_KEY */, psk, 8};
    ev.ext[4] = (fake_ext){10 /* EVENT_KEY */, key, 8};
    fake_etw_push("t-ext", &ev);
    memset(&w, 0, sizeof w);
    assert_int_equal(run(s, &w, "t-ext", 1, NULL), ETWL_OK);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ext_has[0], ETWL_EXT_RELATED_ACTIVITY | ETWL_EXT_INSTANCE_INFO | ETWL_EXT_STACKTRACE |
                                       ETWL_EXT_PROCESS_START_KEY | ETWL_EXT_EVENT_KEY);
    etwl_session_free(s);
}

static void test_losses_and_stop(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    fake_event ev;
    seen w;
    int i;
    (void)st;
    s = open_test(&c, "t-lost");
    fake_etw_lost("t-lost", 5, 2, 10);
    for (i = 0; i < 5; i++) {
        event(&ev, &G_TEST, (USHORT)(i + 1), 4, 0);
        fake_etw_push("t-lost", &ev);
    }
    memset(&w, 0, sizeof w);
    w.s = s;
    w.stats_at = 1;
    w.stop_after = 2; /* the callback stops processing */
    assert_int_equal(etwl_session_process(s, on_event, &w, &e), ETWL_ESTOPPED);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.stats.lost, 5);
    assert_int_equal(w.stats.buffers_lost, 2);
    assert_int_equal(w.stats.buffers_written, 10);
    assert_int_equal(w.stats.passed, 1);
    etwl_session_free(s);
    assert_false(fake_etw_session("t-lost")->live);
}

/* etwlua record: a file-mode session consumed in real time, writing each
 * event type's schema beside the file; then that file replayed where TDH
 * knows none of them (a fresh fake), decoded from the schema file. */
static void test_record_and_replay(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    fake_session *f;
    fake_event ev;
    teib t;
    seen w;
    uint8_t g[16], pl[32];
    char etl[1024], side[1100], line[4096];
    FILE *fp;
    int lines = 0, i;
    (void)st;
    assert_non_null(_fullpath(etl, tl_tmp_path("etwlua-rec.etl"), sizeof etl));
    snprintf(side, sizeof side, "%s.schemas", etl);
    memcpy(g, &G_TEST, 16);
    teib_init(&t, g, 1, 0, 0, "Test-Provider", "Start", 2, 2);
    teib_prop(&t, 0, "ProcessID", 0, 8, 0, 1, 0);
    teib_prop(&t, 1, "ImageName", 0, 1, 0, 1, 0);
    fake_etw_add_tei(&G_TEST, 1, 0, 0, NULL, 0, t.b, t.names);
    config(&c, "t-rec");
    assert_int_equal(etwl_config_add_provider(&c, "{11111111-2222-3333-4444-555555555555}", &e), ETWL_OK);
    c.record_path = etl;
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    f = fake_etw_session("t-rec");
    assert_true(f->log_file_mode & EVENT_TRACE_FILE_MODE_SEQUENTIAL);
    assert_true(f->log_file_mode & EVENT_TRACE_REAL_TIME_MODE);
    assert_string_equal(f->log_file_name, etl);
    memcpy(pl,
           "\x92\x10\x00\x00"
           "a\0.\0e\0x\0e\0\0\0",
           16);
    for (i = 0; i < 3; i++) {
        event(&ev, &G_TEST, i == 2 ? 9 : 1, 4, 0);
        ev.payload = pl;
        ev.payload_len = 16;
        fake_etw_push("t-rec", &ev);
    }
    memset(&w, 0, sizeof w);
    assert_int_equal(run(s, &w, "t-rec", 3, NULL), ETWL_OK);
    etwl_session_free(s);
    /* the schema file: its header, then the one type TDH could describe */
    fp = fopen(side, "rb");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp)) {
        if (lines == 0) assert_string_equal(line, "{\"etwlua_schemas\":1}\n");
        if (lines == 1)
            assert_non_null(strstr(line, "\"provider\":\"{11111111-2222-3333-4444-555555555555}\",\"id\":1,"));
        lines++;
    }
    fclose(fp);
    assert_int_equal(lines, 2);

    /* another machine: TDH knows nothing; the file on disk only has to look
     * like an ETL file (binary), the fake OS reads the events */
    fake_etw_install();
    fp = fopen(etl, "wb");
    assert_non_null(fp);
    fwrite("\x00\x00\x01\x00\x02\x00\x00\x00", 1, 8, fp);
    fclose(fp);
    fake_etw_file(etl);
    for (i = 0; i < 3; i++) {
        event(&ev, &G_TEST, i == 2 ? 9 : 1, 4, 0);
        ev.payload = pl;
        ev.payload_len = 16;
        fake_etw_push(etl, &ev);
    }
    event(&ev, &G_KPROC, 1, 4, 0); /* another provider: filtered as in any replay */
    fake_etw_push(etl, &ev);
    config(&c, "unused");
    assert_int_equal(etwl_config_add_provider(&c, "{11111111-2222-3333-4444-555555555555}", &e), ETWL_OK);
    c.read_path = etl;
    c.schemas_path = side;
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    memset(&w, 0, sizeof w);
    w.s = s;
    assert_int_equal(etwl_session_process(s, on_event, &w, &e), ETWL_OK); /* returns at the end of the file */
    assert_int_equal(w.n, 3);
    assert_string_equal(w.image[0], "a.exe");
    assert_string_equal(w.image[1], "a.exe");
    assert_int_equal(w.nprops[2], 0); /* id 9: header and raw payload */
    assert_int_equal(w.payload_len[2], 16);
    /* TDH only for the types the schema file lacks: id 9, and the other
     * provider's event (selection by name needs its schema's provider name) */
    assert_int_equal(fake_etw_tdh_calls(), 2);
    etwl_session_stats(s, &w.stats);
    assert_int_equal(w.stats.filtered, 1);
    etwl_session_free(s);
    /* a missing file is named */
    c.read_path = "C:\\no\\such.etl";
    c.schemas_path = NULL;
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_ENOTFOUND);
    remove(etl);
    remove(side);
}

typedef struct lua_run {
    etwl_lua *x;
    seen *w;
} lua_run;

/* What the CLI does per event: into Lua, on the thread that owns the state. */
static etwl_status on_event_lua(etwl_event *ev, void *user)
{
    lua_run *r = user;
    etwl_status st = etwl_lua_dispatch(r->x, ev);
    r->w->n++;
    InterlockedIncrement(&r->w->count);
    return st;
}

/* A script's filters decide the event-id filter; its alert comes out. */
static void test_script_end_to_end(void **st)
{
    etwl_config c;
    etwl_session *s;
    etwl_error e;
    etwl_lua_opts o;
    etwl_lua *x;
    fake_event ev;
    teib t;
    seen w;
    uint8_t g[16], pl[128];
    char out[4096];
    size_t n;
    FILE *af = tmpfile();
    uint32_t k = 0;
    const char *img;
    etwl_status st2;
    (void)st;
    assert_non_null(af);
    memset(&o, 0, sizeof o);
    o.alerts_json = 1;
    o.alert_out = af;
    o.lua_dir = LUA_DIR;
    assert_int_equal(etwl_lua_new(&o, &x, &e), ETWL_OK);
    st2 = etwl_lua_load_string(x,
                               "local etw = require 'etw'\n"
                               "etw.on({provider='Microsoft-Windows-Kernel-Process', id=1}, function(ev)\n"
                               "  if ev.info.ImageName:find('evil', 1, true) then\n"
                               "    etw.alert{rule='t.evil', severity='high', message=ev.info.ImageName,\n"
                               "              fields={flags=ev.info.Flags, flag_names=ev:mapname('Flags')}}\n"
                               "  end\n"
                               "end)\n",
                               "t.lua", &e);
    if (st2 != ETWL_OK) fail_msg("%s", e.message);
    fake_etw_add_provider("Microsoft-Windows-Kernel-Process", &G_KPROC);
    memcpy(g, &G_KPROC, 16);
    teib_init(&t, g, 1, 0, 0, "Microsoft-Windows-Kernel-Process", "ProcessStart", 3, 3);
    teib_prop(&t, 0, "ProcessID", 0, 8, 0, 1, 0);
    teib_prop(&t, 1, "ImageName", 0, 1, 0, 1, 0);
    teib_prop(&t, 2, "Flags", 0, 8, 0, 1, 0);
    teib_prop_map(&t, 2, "FlagsMap");
    fake_etw_add_tei(&G_KPROC, 1, 0, 0, NULL, 0, t.b, t.names);
    {
        static const uint32_t bits[] = {1, 2};
        static const char *const names[] = {"Elevated", "Protected"};
        uint8_t emi[256];
        uint32_t emin = teib_map(emi, sizeof emi, "FlagsMap", 0x2 /* bitmap */, 2, bits, names);
        fake_etw_add_map(&G_KPROC, "FlagsMap", emi, emin);
    }
    config(&c, "t-lua");
    assert_int_equal(etwl_config_add_provider(&c, "Microsoft-Windows-Kernel-Process", &e), ETWL_OK);
    etwl_lua_wanted_ids(x, &c.providers[0]);        /* as the CLI does */
    assert_int_equal(c.providers[0].nevent_ids, 2); /* 1 for the script, 2 for the process table */
    assert_int_equal(etwl_session_open(&c, &s, &e), ETWL_OK);
    assert_int_equal(fake_etw_session("t-lua")->en[0].nids, 2);
    /* an attacker-chosen image name with a terminal escape and a quote */
    memcpy(pl, "\x10\x00\x00\x00", 4);
    for (img = "C:\\evil\x1b[2J\".exe"; *img; img++, k += 2) {
        pl[4 + k] = (uint8_t)*img;
        pl[5 + k] = 0;
    }
    pl[4 + k] = pl[5 + k] = 0;
    memcpy(pl + 6 + k, "\x03\x00\x00\x00", 4); /* Flags: Elevated|Protected */
    event(&ev, &G_KPROC, 1, 4, 0x10);
    ev.payload = pl;
    ev.payload_len = (USHORT)(10 + k);
    fake_etw_push("t-lua", &ev);
    event(&ev, &G_KPROC, 5, 4, 0x10); /* image load: filtered in the kernel */
    fake_etw_push("t-lua", &ev);
    memset(&w, 0, sizeof w);
    etwl_lua_set_session(x, NULL);
    assert_int_equal(etwl_lua_start(x), ETWL_OK);
    w.s = s;
    {
        closer cl = {&w, 1, "t-lua", 0};
        lua_run b = {x, &w};
        HANDLE th = CreateThread(NULL, 0, close_later, &cl, 0, NULL);
        assert_int_equal(etwl_session_process(s, on_event_lua, &b, &e), ETWL_OK);
        WaitForSingleObject(th, INFINITE);
        CloseHandle(th);
    }
    etwl_lua_stop(x);
    fflush(af);
    rewind(af);
    n = fread(out, 1, sizeof out - 1, af);
    out[n] = 0;
    assert_non_null(strstr(out, "\"rule\":\"t.evil\""));
    /* escaped in the JSON: no raw ESC, the quote backslashed */
    assert_null(strchr(out, 0x1b));
    assert_non_null(strstr(out, "evil\\u001b[2J\\\".exe"));
    /* a value map: the number and its name */
    assert_non_null(strstr(out, "\"flags\":3"));
    assert_non_null(strstr(out, "\"flag_names\":\"Elevated|Protected\""));
    assert_int_equal(fake_etw_session("t-lua")->dropped, 1);
    etwl_session_free(s);
    etwl_lua_free(x);
    fclose(af);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_and_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernel_flag_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernel_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_id_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schemas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extended_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_losses_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_end_to_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
