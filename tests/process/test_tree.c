/* test_tree.c - the process tree: lineage through every process source,
 * pid reuse as separate nodes, unseen parents said so, views by pid and by
 * time, alerts attributed to the right instance, and the node bound. */
#include <stdio.h>
#include <string.h>

#include "process/proctab.h"
#include "process/tree.h"
#include "sources/jsonl/json_read.h"
#include "testlib.h"

static etwl_proctab *P;
static etwl_ptree *T;
static etwl_event EV;
static etwl_json_reader *JR;

static int setup(void **st)
{
    (void)st;
    P = etwl_proctab_new(NULL);
    T = etwl_ptree_new(0);
    etwl_event_init(&EV);
    JR = etwl_json_reader_new();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    etwl_ptree_free(T);
    etwl_proctab_free(P);
    etwl_event_release(&EV);
    etwl_json_reader_free(JR);
    return 0;
}

/* An event in JSON, through the table and then the tree, as a run does. */
static void observe(const char *json)
{
    char err[256];
    etwl_proc_event pe;
    etwl_event_begin(&EV);
    if (etwl_json_parse_event(JR, json, strlen(json), &EV, err, sizeof err) != ETWL_OK) {
        print_error("%s\n", err);
        fail();
    }
    etwl_proctab_observe(P, &EV, &pe);
    etwl_ptree_observe(T, P, &EV, &pe);
}

/* A Sysmon 1 (start) or 5 (stop) event. */
static void sysmon(int id, const char *time, unsigned pid, unsigned ppid, const char *image)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"header\":{\"descriptor\":{\"id\":%d},\"ts\":\"%s\",\"provider_name\":\"Microsoft-Windows-Sysmon\"},"
             "\"info\":{\"UtcTime\":\"%.10s %.12s\",\"ProcessId\":\"%u\",\"ParentProcessId\":\"%u\",\"Image\":\"%s\","
             "\"CommandLine\":\"%s run\"}}",
             id, time, time, time + 11, pid, ppid, image, image);
    observe(json);
}

/* A Linux `process` provider event: 1 start (exec), 3 rundown. */
static void linux_proc(int id, const char *time, unsigned pid, unsigned ppid, const char *image)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"header\":{\"descriptor\":{\"id\":%d},\"ts\":\"%s\",\"provider_name\":\"process\"},"
             "\"info\":{\"pid\":%u,\"ppid\":%u,\"image\":\"%s\",\"cmdline\":\"%s x\"}}",
             id, time, pid, ppid, image, image);
    observe(json);
}

static char *draw(const etwl_ptree_view *v)
{
    static char text[8192];
    etwl_buf b;
    etwl_buf_init(&b);
    etwl_ptree_write(T, v, &b);
    snprintf(text, sizeof text, "%.*s", (int)b.len, b.data ? b.data : "");
    etwl_buf_free(&b);
    return text;
}

static void test_lineage_and_reuse(void **st)
{
    etwl_ptree_view v;
    int64_t at;
    char *s;
    (void)st;
    memset(&v, 0, sizeof v);
    sysmon(1, "2024-03-05T10:00:00.000Z", 100, 50, "C:\\\\w\\\\explorer.exe");
    sysmon(1, "2024-03-05T10:00:01.000Z", 200, 100, "C:\\\\w\\\\cmd.exe");
    sysmon(1, "2024-03-05T10:00:02.000Z", 300, 200, "C:\\\\w\\\\whoami.exe");
    sysmon(5, "2024-03-05T10:00:03.000Z", 300, 0, "C:\\\\w\\\\whoami.exe");
    /* pid 300 comes back for another program, under explorer */
    sysmon(1, "2024-03-05T10:00:04.000Z", 300, 100, "C:\\\\w\\\\notepad.exe");
    etwl_ptree_alert(T, 300, 133541064020000000LL, "r.whoami", 8); /* 10:00:02: the first 300 */
    assert_int_equal(etwl_ptree_count(T), 4);
    s = draw(&v);
    assert_non_null(strstr(s, "100 explorer.exe (parent 50 not seen)"));
    assert_non_null(strstr(s, "\xe2\x94\x94\xe2\x94\x80 300 whoami.exe [1 alert: r.whoami]"));
    assert_non_null(strstr(s, "300 notepad.exe (pid reused)"));
    /* notepad is explorer's child, not cmd's */
    assert_true(strstr(s, "notepad.exe") > strstr(s, "whoami.exe"));
    assert_null(strstr(s, "\xe2\x94\x82     \xe2\x94\x94\xe2\x94\x80 300 notepad"));
    /* the view of pid 200: its ancestors and its subtree, not notepad */
    v.has_pid = 1;
    v.pid = 200;
    s = draw(&v);
    assert_non_null(strstr(s, "explorer.exe"));
    assert_non_null(strstr(s, "whoami.exe"));
    assert_null(strstr(s, "notepad.exe"));
    /* alive at 10:00:03.5: whoami had exited, notepad not started */
    v.has_pid = 0;
    assert_int_equal(etwl_time_parse("2024-03-05T10:00:03.5Z", 22, &at), ETWL_OK);
    v.at = at;
    s = draw(&v);
    assert_non_null(strstr(s, "cmd.exe"));
    assert_null(strstr(s, "whoami.exe"));
    assert_null(strstr(s, "notepad.exe"));
    /* JSON: one line per process, with its depth */
    v.at = 0;
    v.json = 1;
    s = draw(&v);
    assert_non_null(strstr(s, "{\"pid\":300,\"ppid\":200,\"depth\":2,\"parent_seen\":true"));
    assert_non_null(strstr(s, "\"alerts\":{\"r.whoami\":1}"));
}

/* A live session's rundown can catch a fork child before its exec (the
 * parent's image, no start time); the exec's start that follows is a new
 * instance in the table, and the tree must show it, not keep the rundown's
 * image on the old node. */
static void test_rundown_then_exec(void **st)
{
    etwl_ptree_view v;
    int64_t at;
    char *s;
    uint32_t before = etwl_ptree_count(T);
    (void)st;
    memset(&v, 0, sizeof v);
    linux_proc(3, "2024-03-05T12:00:00.000Z", 400, 1, "/usr/bin/dash");
    linux_proc(3, "2024-03-05T12:00:00.001Z", 500, 400, "/usr/bin/dash");
    linux_proc(1, "2024-03-05T12:00:00.050Z", 500, 400, "/usr/bin/sleep");
    /* a second rundown record of the same child adds no node */
    linux_proc(3, "2024-03-05T12:00:00.002Z", 400, 1, "/usr/bin/dash");
    assert_int_equal(etwl_time_parse("2024-03-05T12:00:00.060Z", 24, &at), ETWL_OK);
    v.at = at;
    v.json = 1;
    s = draw(&v);
    assert_non_null(
        strstr(s, "{\"pid\":500,\"ppid\":400,\"depth\":1,\"parent_seen\":true,\"image\":\"/usr/bin/sleep\""));
    /* the rundown's view of 500 ended when it exec'd */
    assert_null(strstr(s, "{\"pid\":500,\"ppid\":400,\"depth\":1,\"parent_seen\":true,\"image\":\"/usr/bin/dash\""));
    assert_int_equal(etwl_ptree_count(T) - before, 3);
}

static void test_bound(void **st)
{
    etwl_ptree_view v;
    char time[48];
    int i;
    (void)st;
    etwl_ptree_free(T);
    T = etwl_ptree_new(3);
    for (i = 0; i < 5; i++) {
        snprintf(time, sizeof time, "2024-03-05T11:00:0%d.000Z", i % 10);
        sysmon(1, time, 1000u + (unsigned)i, 1, "C:\\\\x.exe");
    }
    assert_int_equal(etwl_ptree_count(T), 3);
    memset(&v, 0, sizeof v);
    assert_non_null(strstr(draw(&v), "(2 more processes not kept: the tree is full)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lineage_and_reuse),
        cmocka_unit_test(test_rundown_then_exec),
        cmocka_unit_test(test_bound),
    };
    return cmocka_run_group_tests_name("tree", tests, setup, teardown);
}
