/* test_procprov.c - the Linux `process` provider fed recorded sched events
 * (no tracefs needed): what it makes of pid reuse and of a fork record that
 * arrives after the child's exec, as happens when the two were written to
 * different CPUs' buffers and read in different rounds.  The pids are above
 * any pid_max, so /proc never answers for them. */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>
#include "sources/tracefs/tfs.h"
#include "testlib.h"

typedef struct seen {
    char name[16];
    uint64_t pid, ppid;
    int has_code;
    int64_t code;
} seen;

static seen S[16];
static int NS;

static int get_num(etwl_event *ev, const char *name, uint64_t *out)
{
    const etwl_value *v = etwl_event_get(ev, name);
    if (!v) return 0;
    if (v->type == ETWL_VT_INT) *out = (uint64_t)v->v.i;
    else if (v->type == ETWL_VT_UINT) *out = v->v.u;
    else return 0;
    return 1;
}

static etwl_status capture(etwl_event *ev, void *ctx)
{
    seen *s = &S[NS < 16 ? NS++ : 15];
    uint64_t c = 0;
    (void)ctx;
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", ev->hdr.event_name ? ev->hdr.event_name : "");
    get_num(ev, "pid", &s->pid);
    get_num(ev, "ppid", &s->ppid);
    if ((s->has_code = get_num(ev, "exit_code", &c))) s->code = (int64_t)c;
    return ETWL_OK;
}

static etwl_procprov *PP;
static etwl_event EV;

#define T0 133541064000000000LL /* 2024-03-05T10:00:00Z */

/* One raw sched event, typed as the tracefs reader gives it: NAME by
 * thread TID at TS (FILETIME ticks); members "k=v" with numbers unsigned,
 * and a string for "filename". */
static void feed(const char *name, unsigned tid, int64_t ts, const char *members)
{
    static char text[256];
    etwl_member m[4];
    char *save = NULL, *tok;
    uint32_t n = 0;
    snprintf(text, sizeof text, "%s", members);
    memset(m, 0, sizeof m);
    for (tok = strtok_r(text, " ", &save); tok && n < 4; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = 0;
        m[n].name = tok;
        m[n].name_len = (uint32_t)strlen(tok);
        if (strcmp(tok, "filename") == 0) {
            m[n].value.type = ETWL_VT_STRING;
            m[n].value.v.s = eq + 1;
            m[n].value.n = (uint32_t)strlen(eq + 1);
        } else {
            m[n].value.type = ETWL_VT_UINT;
            m[n].value.v.u = strtoull(eq + 1, NULL, 10);
        }
        n++;
    }
    etwl_event_begin(&EV);
    EV.hdr.provider_name = "sched";
    EV.hdr.provider_name_len = 5;
    EV.hdr.event_name = name;
    EV.hdr.event_name_len = (uint32_t)strlen(name);
    EV.hdr.has |= ETWL_HAS_PROVIDER_NAME | ETWL_HAS_EVENT_NAME;
    EV.hdr.pid = EV.hdr.tid = tid;
    EV.hdr.ts = ts;
    etwl_event_set_members(&EV, m, n);
    assert_int_equal(etwl_procprov_feed(PP, &EV, ts), ETWL_OK);
}

static int setup(void **st)
{
    (void)st;
    NS = 0;
    PP = etwl_procprov_new(capture, NULL);
    etwl_event_init(&EV);
    return PP ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    etwl_procprov_free(PP);
    etwl_event_release(&EV);
    return 0;
}

/* A process that ends by a signal (no exit_group) has no exit code, even
 * when an earlier process with its pid gave one. */
static void test_reused_pid_exit_code(void **st)
{
    (void)st;
    feed("task_newtask", 9000001, T0, "pid=9000002 clone_flags=0");
    feed("sys_enter_exit_group", 9000002, T0 + 10, "error_code=3");
    feed("sched_process_exit", 9000002, T0 + 20, "pid=9000002 group_dead=1");
    assert_int_equal(NS, 2);
    assert_string_equal(S[1].name, "exit");
    assert_true(S[1].has_code);
    assert_int_equal(S[1].code, 3);
    /* the pid again, killed this time */
    feed("task_newtask", 9000001, T0 + 30, "pid=9000002 clone_flags=0");
    feed("sched_process_exit", 9000002, T0 + 40, "pid=9000002 group_dead=1");
    assert_int_equal(NS, 4);
    assert_string_equal(S[3].name, "exit");
    assert_false(S[3].has_code);
}

/* The exec of a reused pid whose fork record is late: its start must not
 * name the parent of the pid's previous process, and the late fork fills
 * in the parent its exit then names. */
static void test_late_fork(void **st)
{
    (void)st;
    feed("task_newtask", 9000001, T0, "pid=9000003 clone_flags=0");
    feed("sched_process_exit", 9000003, T0 + 10, "pid=9000003 group_dead=1");
    assert_int_equal(NS, 2);
    assert_int_equal(S[1].ppid, 9000001);
    /* the next process of pid 9000003: exec first, its fork a round later */
    feed("sched_process_exec", 9000003, T0 + 30, "pid=9000003 filename=/usr/bin/sleep");
    assert_int_equal(etwl_procprov_flush(PP, T0 + 30, 1), ETWL_OK);
    assert_int_equal(NS, 3);
    assert_string_equal(S[2].name, "start");
    assert_int_equal(S[2].pid, 9000003);
    assert_int_not_equal(S[2].ppid, 9000001);
    feed("task_newtask", 9000005, T0 + 20, "pid=9000003 clone_flags=0");
    assert_string_equal(S[3].name, "fork");
    assert_int_equal(S[3].ppid, 9000005);
    feed("sched_process_exit", 9000003, T0 + 40, "pid=9000003 group_dead=1");
    assert_int_equal(NS, 5);
    assert_string_equal(S[4].name, "exit");
    assert_int_equal(S[4].ppid, 9000005);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reused_pid_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_fork, setup, teardown),
    };
    return cmocka_run_group_tests_name("procprov", tests, NULL, NULL);
}
