/* test_session.c - the session API: blocking process(), close() from another
 * thread, the exists error and kill through an injected backend, replay
 * errors, and the bounded line reader. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/lines.h"
#include "session/source.h"
#include "testlib.h"

#define EV_LINE "{\"header\":{\"descriptor\":{\"id\":%d},\"provider_name\":\"%s\"}}\n"

static char *tmpfile_bytes(const char *data, size_t n)
{
    static char path[64];
    int fd;
    strcpy(path, "/tmp/etwl_test_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

static char *tmpfile_with(const char *text) { return tmpfile_bytes(text, strlen(text)); }

typedef struct counter {
    atomic_int n;
    int ids[64];
    etwl_status ret_at_3;
} counter;

static etwl_status count_cb(etwl_event *ev, void *user)
{
    counter *c = user;
    int n = atomic_load(&c->n);
    if (n < 64) c->ids[n] = etwl_event_header(ev)->desc.id;
    atomic_store(&c->n, n + 1);
    if (n + 1 == 3 && c->ret_at_3) return c->ret_at_3;
    return ETWL_OK;
}

/* ---- replay over a pipe: process() blocks until close() ---------------- */

typedef struct closer {
    etwl_session *s;
    counter *c;
    int want;
} closer;

static void *close_when(void *arg)
{
    closer *cl = arg;
    while (atomic_load(&cl->c->n) < cl->want) usleep(1000);
    usleep(20000); /* process() is now blocked in read */
    etwl_session_close(cl->s);
    return NULL;
}

static void test_blocks_until_close(void **st)
{
    int p[2];
    etwl_config cfg;
    etwl_session *s;
    etwl_error e;
    counter c;
    closer cl;
    pthread_t th;
    char line[256];
    int i;
    (void)st;
    memset(&c, 0, sizeof c);
    assert_int_equal(pipe(p), 0);
    for (i = 1; i <= 3; i++) {
        snprintf(line, sizeof line, EV_LINE, i, "P");
        assert_true(write(p[1], line, strlen(line)) > 0);
    }
    etwl_config_init(&cfg);
    cfg.read_path = "-";
    /* stdin is the pipe for this test */
    {
        int saved = dup(0);
        dup2(p[0], 0);
        assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_OK);
        cl.s = s;
        cl.c = &c;
        cl.want = 3;
        pthread_create(&th, NULL, close_when, &cl);
        /* the writer end stays open: only close() can end this */
        assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_OK);
        pthread_join(th, NULL);
        dup2(saved, 0);
        close(saved);
    }
    assert_int_equal(atomic_load(&c.n), 3);
    assert_int_equal(c.ids[0], 1);
    assert_int_equal(c.ids[2], 3); /* in order */
    etwl_session_free(s);
    close(p[0]);
    close(p[1]);
}

static void test_close_before_process(void **st)
{
    etwl_config cfg;
    etwl_session *s;
    etwl_error e;
    counter c;
    char text[256];
    (void)st;
    memset(&c, 0, sizeof c);
    snprintf(text, sizeof text, EV_LINE, 1, "P");
    etwl_config_init(&cfg);
    cfg.read_path = tmpfile_with(text);
    assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_OK);
    etwl_session_close(s);
    assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_OK);
    assert_int_equal(atomic_load(&c.n), 0);
    etwl_session_free(s);
    unlink(cfg.read_path);
}

static char last_where[512], last_msg[512];
static int ndiag;

static void diag_cb(const char *where, const char *msg, void *user)
{
    (void)user;
    ndiag++;
    snprintf(last_where, sizeof last_where, "%s", where);
    snprintf(last_msg, sizeof last_msg, "%s", msg);
}

static void test_replay_errors_and_selection(void **st)
{
    etwl_config cfg;
    etwl_session *s;
    etwl_error e;
    etwl_stats stats;
    counter c;
    char text[1024];
    (void)st;
    snprintf(text, sizeof text, EV_LINE "not json\n\n" EV_LINE EV_LINE "{\"header\":{\"flags\":70000}}\n", 1, "A", 2,
             "B", 3, "A");
    etwl_config_init(&cfg);
    cfg.read_path = tmpfile_with(text);
    etwl_config_add_provider(&cfg, "a", &e);
    memset(&c, 0, sizeof c);
    ndiag = 0;
    assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_OK);
    etwl_session_set_diag(s, diag_cb, NULL);
    assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_OK);
    etwl_session_stats(s, &stats);
    assert_int_equal(atomic_load(&c.n), 2);
    assert_int_equal(c.ids[1], 3);
    assert_int_equal(stats.read, 5);
    assert_int_equal(stats.passed, 2);
    assert_int_equal(stats.filtered, 1);
    assert_int_equal(stats.malformed, 2);
    assert_int_equal(ndiag, 2);
    assert_non_null(strstr(last_where, ":6")); /* line 6 */
    assert_non_null(strstr(last_msg, "header.flags"));
    etwl_session_free(s);

    /* strict: the first bad line stops with file and line */
    cfg.strict = 1;
    memset(&c, 0, sizeof c);
    assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_OK);
    assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_EPARSE);
    assert_non_null(strstr(e.message, ":2: invalid JSON"));
    assert_int_equal(atomic_load(&c.n), 1);
    etwl_session_free(s);
    unlink(cfg.read_path);
}

static void test_callback_stops(void **st)
{
    etwl_config cfg;
    etwl_session *s;
    etwl_error e;
    counter c;
    char text[1024];
    (void)st;
    snprintf(text, sizeof text, EV_LINE EV_LINE EV_LINE EV_LINE, 1, "A", 2, "A", 3, "A", 4, "A");
    etwl_config_init(&cfg);
    cfg.read_path = tmpfile_with(text);
    memset(&c, 0, sizeof c);
    c.ret_at_3 = ETWL_ESTOPPED;
    assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_OK);
    assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_ESTOPPED);
    assert_int_equal(atomic_load(&c.n), 3);
    etwl_session_free(s);
    unlink(cfg.read_path);
}

static void test_open_errors(void **st)
{
    etwl_config cfg;
    etwl_session *s;
    etwl_error e;
    (void)st;
    etwl_config_init(&cfg);
    cfg.read_path = "/nonexistent/trace.jsonl";
    assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_ENOTFOUND);
    assert_non_null(strstr(e.message, "/nonexistent/trace.jsonl"));
    /* a file that claims to be EVTX but is not opens, and is reported per file */
    cfg.read_path = tmpfile_bytes("ElfFile\0junk", 12);
    assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_OK);
    {
        counter c;
        memset(&c, 0, sizeof c);
        ndiag = 0;
        etwl_session_set_diag(s, diag_cb, NULL);
        assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_OK);
        assert_int_equal(ndiag, 1);
        assert_non_null(strstr(last_where, cfg.read_path));
        etwl_session_free(s);
    }
    unlink(cfg.read_path);
    etwl_config_init(&cfg); /* no source: live, not built on this platform yet */
    if (!etwl_source_find("live")) {
        assert_int_equal(etwl_session_open(&cfg, &s, &e), ETWL_ENOTSUP);
        assert_non_null(strstr(e.message, "-r FILE"));
    }
}

/* ---- which source reads what (the recogniser and the probes) ------------ */

static etwl_status open_msg(const char *path, const char *backend, etwl_session **s, etwl_error *e)
{
    etwl_config cfg;
    etwl_config_init(&cfg);
    cfg.read_path = path;
    cfg.backend = backend;
    memset(e, 0, sizeof *e);
    return etwl_session_open(&cfg, s, e);
}

static void *fifo_writer(void *path)
{
    /* blocks until the reader opens the FIFO: no timing assumption */
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"header\":{\"descriptor\":{\"id\":7}},\"info\":{}}\n", f);
        fclose(f);
    }
    return NULL;
}

/* The answers the session gave before sources registered themselves, kept:
 * a device that reads as zeros is refused by the JSON-lines source, which
 * names it and says it is a device, not a recording; a FIFO is read as JSON
 * lines; a folder goes to the EVTX source; gzip goes to the ETL reader
 * only as .etl.gz; an explicit backend is used whatever the content, and an
 * unknown one is an error. */
static void test_source_picks(void **st)
{
    etwl_session *s = NULL;
    etwl_error e;
    char dir[] = "/tmp/etwl_dir_XXXXXX", fifo[64], gz[64];
    static const unsigned char gzip_x[] = {0x1f, 0x8b, 8,    0,    0,    0,    0, 0, 0, 3, 0xab,
                                           0,    0,    0x83, 0x16, 0xdc, 0x8c, 1, 0, 0, 0};
    pthread_t th;
    counter c;
    (void)st;
    assert_int_equal(open_msg("/dev/zero", NULL, &s, &e), ETWL_ENOTSUP);
    assert_non_null(strstr(e.message, "/dev/zero: not a regular file or recording (a character device"));

    assert_non_null(mkdtemp(dir));
    assert_int_equal(open_msg(dir, NULL, &s, &e), ETWL_ENOTFOUND);
    assert_non_null(strstr(e.message, "no .evtx files in this folder"));

    snprintf(fifo, sizeof fifo, "%s/f", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(pthread_create(&th, NULL, fifo_writer, fifo), 0);
    assert_int_equal(open_msg(fifo, NULL, &s, &e), ETWL_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_OK);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&c.n), 1);
    assert_int_equal(c.ids[0], 7);
    etwl_session_free(s);
    unlink(fifo);

    snprintf(gz, sizeof gz, "%s/t.gz", dir);
    {
        FILE *f = fopen(gz, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(gzip_x, 1, sizeof gzip_x, f), sizeof gzip_x);
        fclose(f);
    }
    assert_int_equal(open_msg(gz, NULL, &s, &e), ETWL_ENOTSUP);
    assert_non_null(strstr(e.message, "zcat FILE | etwlua -r -"));
    {
        char etlgz[80];
        snprintf(etlgz, sizeof etlgz, "%s/t.etl.gz", dir);
        assert_int_equal(rename(gz, etlgz), 0);
        /* the ETL reader takes it, and says it is no ETL file */
        if (open_msg(etlgz, NULL, &s, &e) == ETWL_OK) {
            memset(&c, 0, sizeof c);
            assert_int_not_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_OK);
            etwl_session_free(s);
        }
        assert_non_null(strstr(e.message, "not an ETL file"));
        unlink(etlgz);
    }

    /* explicit: JSON lines named as EVTX go to the EVTX source, which
     * reports the file, never the JSON reader */
    {
        char *json = tmpfile_with("{\"header\":{}}\n");
        assert_int_equal(open_msg(json, "evtx", &s, &e), ETWL_OK);
        memset(&c, 0, sizeof c);
        ndiag = 0;
        etwl_session_set_diag(s, diag_cb, NULL);
        assert_int_equal(etwl_session_process(s, count_cb, &c, &e), ETWL_OK);
        assert_int_equal(atomic_load(&c.n), 0);
        assert_int_equal(ndiag, 1);
        etwl_session_free(s);
        unlink(json);
    }
    assert_int_equal(open_msg("/dev/null", "nope", &s, &e), ETWL_ENOTFOUND);
    assert_non_null(strstr(e.message, "no session backend named 'nope'"));
    /* "live" names this platform's live source, when one is built */
    if (etwl_source_find("live")) assert_true(etwl_source_find("live")->flags & ETWL_SOURCE_LIVE);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- an injected backend with OS-like named sessions ------------------- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char names[8][128];
} os = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}};

typedef struct fake {
    etwl_source base;
    int slot;
    etwl_event ev;
    uint64_t lost;
} fake;

static etwl_status fake_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    int i, free_slot = -1;
    fake *f;
    pthread_mutex_lock(&os.mu);
    for (i = 0; i < 8; i++) {
        if (strcmp(os.names[i], cfg->name) == 0) {
            pthread_mutex_unlock(&os.mu);
            return etwl_error_set(err, ETWL_EEXIST, "session '%s' already exists", cfg->name);
        }
        if (!os.names[i][0] && free_slot < 0) free_slot = i;
    }
    strcpy(os.names[free_slot], cfg->name);
    pthread_mutex_unlock(&os.mu);
    f = calloc(1, sizeof *f);
    f->slot = free_slot;
    etwl_event_init(&f->ev);
    *out = &f->base;
    return ETWL_OK;
}

static etwl_status fake_process(etwl_source *s, etwl_error *err)
{
    fake *f = (fake *)s;
    int i;
    etwl_status st;
    (void)err;
    for (i = 0; i < 2; i++) {
        etwl_event_begin(&f->ev);
        f->ev.hdr.desc.id = (uint16_t)(100 + i);
        etwl_source_read(s);
        if ((st = etwl_source_deliver(s, &f->ev)) != ETWL_OK) return st;
    }
    /* like ProcessTrace: block until the session is stopped */
    pthread_mutex_lock(&os.mu);
    while (!s->closing && os.names[f->slot][0]) pthread_cond_wait(&os.cv, &os.mu);
    pthread_mutex_unlock(&os.mu);
    f->lost = 7;
    return ETWL_OK;
}

static void fake_close(etwl_source *s)
{
    (void)s; /* closing is set by the session layer; wake the waiter */
    pthread_cond_broadcast(&os.cv);
}

static etwl_status fake_kill(const char *name, etwl_error *err)
{
    int i;
    pthread_mutex_lock(&os.mu);
    for (i = 0; i < 8; i++)
        if (strcmp(os.names[i], name) == 0) {
            os.names[i][0] = 0;
            pthread_cond_broadcast(&os.cv);
            pthread_mutex_unlock(&os.mu);
            return ETWL_OK;
        }
    pthread_mutex_unlock(&os.mu);
    return etwl_error_set(err, ETWL_ENOTFOUND, "no session named '%s'", name);
}

static void fake_stats(etwl_source *s, etwl_stats *out) { out->lost = ((fake *)s)->lost; }

static void fake_destroy(etwl_source *s)
{
    fake *f = (fake *)s;
    pthread_mutex_lock(&os.mu);
    os.names[f->slot][0] = 0;
    pthread_mutex_unlock(&os.mu);
    etwl_event_release(&f->ev);
    free(f);
}

static const etwl_source_ops fake_ops = {
    .name = "fake",
    .open = fake_open,
    .process = fake_process,
    .close = fake_close,
    .kill = fake_kill,
    .stats = fake_stats,
    .destroy = fake_destroy,
    .flags = ETWL_SOURCE_SELECTS, /* like an OS session */
};

static void *kill_later(void *arg)
{
    etwl_error e;
    usleep(30000);
    assert_int_equal(etwl_session_kill("fake", (const char *)arg, &e), ETWL_OK);
    return NULL;
}

static void test_exists_and_kill(void **st)
{
    etwl_config cfg;
    etwl_session *a, *b, *c2;
    etwl_error e;
    etwl_stats stats;
    counter c;
    pthread_t th;
    (void)st;
    assert_int_equal(etwl_source_register(&fake_ops), ETWL_OK);
    etwl_config_init(&cfg);
    cfg.backend = "fake";
    strcpy(cfg.name, "s1");
    assert_int_equal(etwl_session_open(&cfg, &a, &e), ETWL_OK);
    memset(&e, 0, sizeof e);
    assert_int_equal(etwl_session_open(&cfg, &b, &e), ETWL_EEXIST);
    assert_string_equal(e.session, "s1"); /* the error carries the name */
    strcpy(cfg.name, "s2");
    assert_int_equal(etwl_session_open(&cfg, &c2, &e), ETWL_OK); /* another name is fine */
    /* kill from "another process" ends a blocked process() */
    memset(&c, 0, sizeof c);
    pthread_create(&th, NULL, kill_later, "s1");
    assert_int_equal(etwl_session_process(a, count_cb, &c, &e), ETWL_OK);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&c.n), 2);
    etwl_session_stats(a, &stats);
    assert_int_equal(stats.lost, 7);
    assert_int_equal(etwl_session_kill("fake", "nope", &e), ETWL_ENOTFOUND);
    etwl_session_free(a);
    etwl_session_free(c2);
    strcpy(cfg.name, "s1"); /* freed: the name can be taken again */
    assert_int_equal(etwl_session_open(&cfg, &a, &e), ETWL_OK);
    etwl_session_free(a);
}

/* ---- the line reader ---------------------------------------------------- */

static void test_lines(void **st)
{
    etwl_lines r;
    const char *l;
    size_t n;
    int p[2];
    static char big[300];
    (void)st;
    memset(big, 'x', sizeof big - 1);
    assert_int_equal(pipe(p), 0);
    assert_true(write(p[1], "one\r\n", 5) == 5);
    assert_true(write(p[1], big, strlen(big)) > 0);
    assert_true(write(p[1], "\ntwo\nlast", 9) == 9);
    close(p[1]);
    etwl_lines_init(&r, p[0], 100, -1);
    assert_int_equal(etwl_lines_next(&r, &l, &n), ETWL_LINE_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(l, "one", 3);
    assert_int_equal(etwl_lines_next(&r, &l, &n), ETWL_LINE_TOO_LONG);
    assert_int_equal(r.lineno, 2);
    assert_int_equal(etwl_lines_next(&r, &l, &n), ETWL_LINE_OK);
    assert_memory_equal(l, "two", 3);
    assert_int_equal(r.lineno, 3);
    assert_int_equal(etwl_lines_next(&r, &l, &n), ETWL_LINE_OK);
    assert_memory_equal(l, "last", 4);
    assert_int_equal(etwl_lines_next(&r, &l, &n), ETWL_LINE_EOF);
    assert_true(r.cap <= 101); /* never buffered the long line */
    etwl_lines_free(&r);
    close(p[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_until_close),
        cmocka_unit_test(test_close_before_process),
        cmocka_unit_test(test_replay_errors_and_selection),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_source_picks),
        cmocka_unit_test(test_exists_and_kill),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
