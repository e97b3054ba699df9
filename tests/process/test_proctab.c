/* test_proctab.c - the process table: sources, pid reuse, out-of-order
 * events, expiry and bounds. */
#include <stdio.h>
#include <string.h>

#include "sources/jsonl/json_read.h"
#include "core/event.h"
#include "process/proctab.h"
#include "testlib.h"

#define S 10000000LL /* one second in FILETIME ticks */
#define T0 (133541070720000000LL)

static etwl_proctab *P;
static etwl_event EV;
static etwl_json_reader *JR;

static int setup(void **st)
{
    etwl_proctab_opts o;
    (void)st;
    memset(&o, 0, sizeof o);
    o.grace = 10 * S;
    o.max_procs = 1000;
    P = etwl_proctab_new(&o);
    etwl_event_init(&EV);
    JR = etwl_json_reader_new();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    etwl_proctab_free(P);
    etwl_event_release(&EV);
    etwl_json_reader_free(JR);
    return 0;
}

static etwl_proc_event observe(const char *json)
{
    char err[256];
    etwl_proc_event pe;
    etwl_event_begin(&EV);
    if (etwl_json_parse_event(JR, json, strlen(json), &EV, err, sizeof err) != ETWL_OK) {
        print_error("%s\n", err);
        fail();
    }
    etwl_proctab_observe(P, &EV, &pe);
    return pe;
}

static void test_pid_reuse(void **st)
{
    const etwl_proc *p;
    (void)st;
    etwl_proctab_start(P, 100, 4, T0, "C:\\a\\first.exe", "first", NULL);
    /* its stop is lost; the pid comes back for another image */
    etwl_proctab_start(P, 100, 4, T0 + 5 * S, "C:\\a\\second.exe", "second", NULL);
    p = etwl_proctab_find(P, 100, T0 + 1 * S);
    assert_non_null(p);
    assert_string_equal(p->name, "first.exe");
    assert_int_equal(p->exit, T0 + 5 * S); /* ended when its pid was reused */
    p = etwl_proctab_find(P, 100, T0 + 6 * S);
    assert_string_equal(p->name, "second.exe");
    assert_int_equal(p->exit, 0);
    /* before either started: nothing */
    assert_null(etwl_proctab_find(P, 100, T0 - S));
}

static void test_out_of_order_stop_then_start(void **st)
{
    const etwl_proc *p;
    (void)st;
    etwl_proctab_stop(P, 200, T0 + 3 * S, 5, 1);
    etwl_proctab_start(P, 200, 4, T0 + 1 * S, "x.exe", NULL, NULL);
    assert_int_equal(etwl_proctab_count(P), 1); /* one process, not two */
    p = etwl_proctab_find(P, 200, T0 + 2 * S);
    assert_string_equal(p->name, "x.exe");
    assert_int_equal(p->exit, T0 + 3 * S);
    assert_int_equal(p->exit_code, 5);
    /* a duplicate stop adds nothing */
    etwl_proctab_stop(P, 200, T0 + 3 * S, 5, 1);
    assert_int_equal(etwl_proctab_count(P), 1);
}

/* A start seen again (a second source, overlapping logs) is the process
 * already known, even after a newer process took its pid. */
static void test_same_start_again(void **st)
{
    const etwl_proc *p;
    (void)st;
    etwl_proctab_start(P, 100, 4, T0 + S, "C:\\a\\first.exe", "first", NULL);
    etwl_proctab_start(P, 100, 4, T0 + 3 * S, "C:\\a\\second.exe", "second", NULL);
    etwl_proctab_start(P, 100, 4, T0 + S, "C:\\a\\first.exe", "first again", NULL);
    assert_int_equal(etwl_proctab_count(P), 2);
    p = etwl_proctab_find(P, 100, T0 + 2 * S);
    assert_string_equal(p->name, "first.exe");
    assert_string_equal(p->cmdline, "first again");
    assert_int_equal(p->exit, T0 + 3 * S);
    assert_string_equal(etwl_proctab_find(P, 100, T0 + 4 * S)->name, "second.exe");
}

/* Starts of one pid with time going back (merged hosts, older logs
 * replayed after newer ones): each ended when the pid's next start came,
 * so they are generations like any other, and the chain every start walks
 * stays short.  Kept alive, 5,000 of them made a chain of 5,000. */
static void test_time_going_back(void **st)
{
    const etwl_proc *p;
    int64_t i;
    (void)st;
    for (i = 5000; i >= 1; i--) etwl_proctab_start(P, 9, 4, T0 + i * S, "back.exe", NULL, NULL);
    assert_true(etwl_proctab_count(P) <= 5);
    p = etwl_proctab_find(P, 9, T0 + 5001 * S); /* the first seen, and newest: still running */
    assert_non_null(p);
    assert_int_equal(p->start, T0 + 5000 * S);
    assert_int_equal(p->exit, 0);
    p = etwl_proctab_find(P, 9, T0 + S + S / 2); /* the last seen, and oldest */
    assert_non_null(p);
    assert_int_equal(p->start, T0 + S);
    assert_int_equal(p->exit, T0 + 2 * S);
}

static void test_grace_expiry_and_late_events(void **st)
{
    (void)st;
    etwl_proctab_start(P, 300, 4, T0, "late.exe", NULL, NULL);
    etwl_proctab_stop(P, 300, T0 + S, 0, 1);
    etwl_proctab_expire(P, T0 + 5 * S);
    /* a late event within the grace time still finds it */
    assert_non_null(etwl_proctab_find(P, 300, T0 + 4 * S));
    etwl_proctab_expire(P, T0 + 12 * S);
    assert_null(etwl_proctab_find(P, 300, T0 + 4 * S));
    assert_int_equal(etwl_proctab_count(P), 0);
}

static void test_bounded(void **st)
{
    uint32_t i;
    (void)st;
    /* the same pid restarting forever keeps a few generations only */
    for (i = 0; i < 500; i++) etwl_proctab_start(P, 7, 4, T0 + i * S / 100, "again.exe", NULL, NULL);
    assert_true(etwl_proctab_count(P) <= 5);
    /* starts out of time order (merged hosts, late delivery) leave
     * several live entries for a pid; a later start ends them all, so
     * the chain stays a few generations long however often it happens */
    for (i = 0; i < 500; i++) {
        etwl_proctab_start(P, 8, 4, T0 + (int64_t)i * 10 * S + 2 * S, "later.exe", NULL, NULL);
        etwl_proctab_start(P, 8, 4, T0 + (int64_t)i * 10 * S + 1 * S, "earlier.exe", NULL, NULL);
    }
    assert_true(etwl_proctab_count(P) <= 5 + 6);
    /* and the newest is what a lookup at its time finds */
    assert_string_equal(etwl_proctab_find(P, 8, T0 + 499 * 10 * S + 3 * S)->name, "later.exe");
    /* many live processes stop at the cap */
    for (i = 0; i < 5000; i++) etwl_proctab_start(P, 10000 + i, 4, T0 + i, "many.exe", NULL, NULL);
    assert_true(etwl_proctab_count(P) <= 1000);
}

/* The buckets double as the table fills (from 1,024): every entry is still
 * found, and a reused pid's generations keep their order (newest first in
 * its chain), which lookups by time and the trimming of old generations
 * rely on. */
static void test_growth(void **st)
{
    etwl_proctab *t = etwl_proctab_new(NULL);
    const etwl_proc *p;
    char img[32];
    uint32_t i;
    (void)st;
    assert_non_null(t);
    for (i = 1; i <= 2040; i++) { /* Windows pids: multiples of 4 */
        snprintf(img, sizeof img, "p%u.exe", (unsigned)i);
        etwl_proctab_start(t, 400 + 4 * i, 4, T0 + i, img, NULL, NULL);
    }
    /* four generations of pid 400 when the table first grows (past 2,048
     * entries) */
    etwl_proctab_start(t, 400, 4, T0, "first.exe", NULL, NULL);
    etwl_proctab_start(t, 400, 4, T0 + 1 * S, "a.exe", NULL, NULL);
    etwl_proctab_start(t, 400, 4, T0 + 2 * S, "b.exe", NULL, NULL);
    etwl_proctab_start(t, 400, 4, T0 + 5 * S, "second.exe", NULL, NULL);
    for (i = 2041; i <= 2100; i++) {
        snprintf(img, sizeof img, "p%u.exe", (unsigned)i);
        etwl_proctab_start(t, 400 + 4 * i, 4, T0 + i, img, NULL, NULL);
    }
    assert_string_equal(etwl_proctab_find(t, 400, T0 + S / 2)->name, "first.exe");
    assert_string_equal(etwl_proctab_find(t, 400, T0 + 6 * S)->name, "second.exe");
    /* a fifth: the oldest goes, the newest stay */
    etwl_proctab_start(t, 400, 4, T0 + 7 * S, "third.exe", NULL, NULL);
    assert_null(etwl_proctab_find(t, 400, T0 + S / 2));
    assert_string_equal(etwl_proctab_find(t, 400, T0 + 6 * S)->name, "second.exe");
    assert_string_equal(etwl_proctab_find(t, 400, T0 + 2 * S + S / 2)->name, "b.exe");
    for (i = 2101; i <= 20000; i++) {
        snprintf(img, sizeof img, "p%u.exe", (unsigned)i);
        etwl_proctab_start(t, 400 + 4 * i, 4, T0 + i, img, NULL, NULL);
    }
    assert_int_equal(etwl_proctab_count(t), 20004);
    for (i = 1; i <= 20000; i++) {
        snprintf(img, sizeof img, "p%u.exe", (unsigned)i);
        p = etwl_proctab_find(t, 400 + 4 * i, T0 + 10 * S);
        if (!p || strcmp(p->name, img) != 0) fail_msg("pid %u lost after the table grew", (unsigned)(400 + 4 * i));
    }
    /* more generations of it, after three more doublings */
    for (i = 0; i < 10; i++) {
        snprintf(img, sizeof img, "gen%u.exe", (unsigned)i);
        etwl_proctab_start(t, 400, 4, T0 + (10 + (int64_t)i) * S, img, NULL, NULL);
    }
    assert_string_equal(etwl_proctab_find(t, 400, T0 + 19 * S + S / 2)->name, "gen9.exe");
    assert_string_equal(etwl_proctab_find(t, 400, T0 + 18 * S + S / 2)->name, "gen8.exe");
    assert_null(etwl_proctab_find(t, 400, T0 + 6 * S)); /* second.exe: trimmed */
    assert_true(etwl_proctab_count(t) <= 20000 + 5);
    etwl_proctab_free(t);
}

static void test_sources(void **st)
{
    etwl_proc_event pe;
    const etwl_proc *p, *parent;
    (void)st;
    /* kernel logger rundown, then Kernel-Process start */
    pe = observe("{\"header\":{\"descriptor\":{\"op_code\":3},\"ts\":\"2024-03-05T10:00:00Z\","
                 "\"provider_guid\":\"{3D6FA8D0-FE05-11D0-9DDA-00C04FD7BA7C}\"},\"info\":{\"ProcessId\":500,"
                 "\"ParentId\":4,\"ImageFileName\":\"explorer.exe\",\"CommandLine\":\"C:\\\\Windows\\\\Explorer.EXE\","
                 "\"UserSID\":\"S-1-5-21-1-2-3-1001\",\"SessionId\":1}}");
    assert_int_equal(pe.kind, ETWL_PE_RUNDOWN);
    assert_int_equal(pe.subject, 500);
    pe = observe("{\"header\":{\"descriptor\":{\"id\":1},\"process_id\":500,\"ts\":\"2024-03-05T10:00:01Z\","
                 "\"provider_name\":\"Microsoft-Windows-Kernel-Process\"},\"info\":{\"ProcessID\":\"600\","
                 "\"ParentProcessID\":\"500\",\"ImageName\":\"\\\\Device\\\\HarddiskVolume3\\\\Windows\\\\"
                 "System32\\\\cmd.exe\",\"SessionID\":\"1\"}}");
    assert_int_equal(pe.kind, ETWL_PE_START);
    assert_int_equal(pe.subject, 600); /* the new process, not the header's creator */
    p = etwl_proctab_find(P, 600, 0);
    assert_string_equal(p->name, "cmd.exe");
    parent = etwl_proctab_parent(P, p);
    assert_non_null(parent);
    assert_string_equal(parent->name, "explorer.exe");
    assert_string_equal(parent->user, "S-1-5-21-1-2-3-1001");
    /* Security 4688: hex pids, label SID */
    pe = observe("{\"header\":{\"descriptor\":{\"id\":4688},\"ts\":\"2024-03-05T10:00:02Z\",\"provider_name\":"
                 "\"Microsoft-Windows-Security-Auditing\"},\"info\":{\"NewProcessId\":\"0x1a2c\",\"ProcessId\":"
                 "\"0x258\",\"NewProcessName\":\"C:\\\\Windows\\\\System32\\\\whoami.exe\",\"CommandLine\":"
                 "\"whoami /priv\",\"SubjectUserName\":\"bob\",\"TargetUserName\":\"-\",\"MandatoryLabel\":"
                 "\"S-1-16-12288\"}}");
    assert_int_equal(pe.subject, 0x1a2c);
    p = etwl_proctab_find(P, 0x1a2c, 0);
    assert_int_equal(p->ppid, 0x258);
    assert_string_equal(p->user, "bob");
    assert_string_equal(p->integrity, "High");
    assert_string_equal(p->cmdline, "whoami /priv");
    pe = observe("{\"header\":{\"descriptor\":{\"id\":4689},\"ts\":\"2024-03-05T10:00:03Z\",\"provider_name\":"
                 "\"Microsoft-Windows-Security-Auditing\"},\"info\":{\"ProcessId\":\"0x1a2c\",\"Status\":\"0x0\"}}");
    assert_int_equal(pe.kind, ETWL_PE_STOP);
    assert_true(etwl_proctab_find(P, 0x1a2c, 0)->exit > 0);
    /* Sysmon 1 fills in a parent it has never seen; its time is UtcTime */
    pe = observe("{\"header\":{\"descriptor\":{\"id\":1},\"process_id\":3000,\"ts\":\"2024-03-05T10:00:09Z\","
                 "\"provider_name\":\"Microsoft-Windows-Sysmon\"},\"info\":{\"ProcessId\":\"7100\",\"Image\":"
                 "\"C:\\\\t\\\\a.exe\",\"CommandLine\":\"a.exe\",\"User\":\"CORP\\\\bob\",\"IntegrityLevel\":"
                 "\"Medium\",\"ParentProcessId\":\"7000\",\"ParentImage\":\"C:\\\\Office\\\\WINWORD.EXE\","
                 "\"UtcTime\":\"2024-03-05 10:00:04.500\"}}");
    assert_int_equal(pe.subject, 7100);
    assert_int_equal(etwl_proc_subject(&pe), 7100);
    p = etwl_proctab_find(P, 7100, 0);
    assert_string_equal(p->integrity, "Medium");
    assert_int_equal(p->start, 133541064045000000LL); /* 2024-03-05 10:00:04.500 UTC */
    parent = etwl_proctab_parent(P, p);
    assert_non_null(parent);
    assert_string_equal(parent->name, "WINWORD.EXE");
    /* other events name their process in a property, read when asked for */
    pe = observe("{\"header\":{\"descriptor\":{\"id\":3},\"process_id\":3000,\"ts\":\"2024-03-05T10:00:10Z\","
                 "\"provider_name\":\"Microsoft-Windows-Sysmon\"},\"info\":{\"ProcessId\":\"7100\"}}");
    assert_int_equal(pe.kind, ETWL_PE_NONE);
    assert_int_equal(etwl_proc_subject(&pe), 7100);
    assert_int_equal(etwl_proc_subject(&pe), 7100); /* resolved once, kept */
    pe = observe("{\"header\":{\"descriptor\":{\"id\":3},\"process_id\":3000,\"ts\":\"2024-03-05T10:00:10Z\","
                 "\"provider_name\":\"Microsoft-Windows-Sysmon\"},\"info\":{\"Image\":\"x.exe\"}}");
    assert_int_equal(etwl_proc_subject(&pe), 3000); /* none named: the header's */
    pe = observe("{\"header\":{\"descriptor\":{\"id\":4624},\"process_id\":600,\"ts\":\"2024-03-05T10:00:11Z\","
                 "\"provider_name\":\"Microsoft-Windows-Security-Auditing\"},\"info\":{\"NewProcessId\":\"0x1a2c\"}}");
    assert_int_equal(etwl_proc_subject(&pe), 0x1a2c);
    pe = observe("{\"header\":{\"descriptor\":{\"id\":4624},\"process_id\":600,\"ts\":\"2024-03-05T10:00:11Z\","
                 "\"provider_name\":\"Microsoft-Windows-Security-Auditing\"},\"info\":{\"ProcessId\":\"0x2b0\","
                 "\"NewProcessId\":\"0x1a2c\"}}");
    assert_int_equal(etwl_proc_subject(&pe), 0x2b0);
}

/* An event of host `host` (NULL: none) read from `file` (NULL: live). */
static void at(const char *host, const char *file)
{
    etwl_event_begin(&EV);
    if (host) {
        EV.hdr.computer = host;
        EV.hdr.computer_len = (uint32_t)strlen(host);
        EV.hdr.has |= ETWL_HAS_COMPUTER;
    }
    EV.src_file = file;
    EV.src_kind = file ? ETWL_SRC_RECORD : ETWL_SRC_NONE;
}

/* Pids of one machine explain nothing on another, nor across the files of
 * a folder: a table per host, emptied when the file changes. */
static void test_per_host_per_file(void **st)
{
    etwl_proctabs *s = etwl_proctabs_new(NULL);
    etwl_proctab *a, *b;
    char other[] = "one.evtx"; /* the same name through another pointer */
    (void)st;
    assert_non_null(s);
    at("HOST-A", "one.evtx");
    a = etwl_proctabs_for(s, &EV);
    etwl_proctab_start(a, 100, 4, T0, "C:\\a\\parent.exe", "parent", NULL);
    at("HOST-B", "one.evtx");
    b = etwl_proctabs_for(s, &EV);
    assert_ptr_not_equal(a, b);
    assert_null(etwl_proctab_find(b, 100, T0 + S)); /* another machine's pid 100 */
    etwl_proctab_start(b, 200, 4, T0, "C:\\b\\other.exe", "other", NULL);
    at("HOST-A", other);
    assert_ptr_equal(etwl_proctabs_for(s, &EV), a);
    assert_non_null(etwl_proctab_find(a, 100, T0 + S));
    assert_int_equal(etwl_proctabs_hosts(s), 2);
    /* the next file of the folder starts with empty tables */
    at("HOST-A", "two.evtx");
    a = etwl_proctabs_for(s, &EV);
    assert_null(etwl_proctab_find(a, 100, T0 + S));
    assert_int_equal(etwl_proctabs_hosts(s), 1);
    /* emptied, the tables are kept for the new file's hosts rather than made
     * again (a table made anew faults its 512 KB in, which under -j costs
     * every other worker's core a TLB flush per page) */
    at("HOST-B", "two.evtx");
    assert_ptr_equal(etwl_proctabs_for(s, &EV), b);
    assert_int_equal(etwl_proctab_count(b), 0);
    assert_null(etwl_proctab_find(b, 200, T0 + S));
    assert_int_equal(etwl_proctabs_hosts(s), 2);
    /* live events (no file, no computer) share one table and are never emptied */
    etwl_proctabs_free(s);
    s = etwl_proctabs_new(NULL);
    at(NULL, NULL);
    a = etwl_proctabs_for(s, &EV);
    etwl_proctab_start(a, 7, 4, T0, "x", "x", NULL);
    at(NULL, NULL);
    assert_ptr_equal(etwl_proctabs_for(s, &EV), a);
    assert_non_null(etwl_proctab_find(a, 7, T0 + S));
    etwl_proctabs_free(s);
}

/* More hosts than tables: the least recently used host's table is reused,
 * and memory stays bounded. */
static void test_hosts_bounded(void **st)
{
    etwl_proctabs *s = etwl_proctabs_new(NULL);
    char name[32];
    int i;
    (void)st;
    for (i = 0; i < 3 * ETWL_PROCTABS_MAX_HOSTS; i++) {
        snprintf(name, sizeof name, "H%d", i);
        at(name, "f.evtx");
        assert_non_null(etwl_proctabs_for(s, &EV));
    }
    assert_int_equal(etwl_proctabs_hosts(s), ETWL_PROCTABS_MAX_HOSTS);
    etwl_proctabs_free(s);
}

/* A table given up by the least recently used host comes to the new host
 * empty and working: the old entries are gone from the lists and the
 * buckets alike (the table is emptied in place, not reallocated). */
static void test_evicted_host_table_empty(void **st)
{
    etwl_proctabs *s = etwl_proctabs_new(NULL);
    etwl_proctab *t;
    const etwl_proc *p;
    char name[32];
    uint32_t pid;
    int i;
    (void)st;
    at("A", "f.evtx");
    etwl_proctabs_for(s, &EV);
    at("B", "f.evtx");
    t = etwl_proctabs_for(s, &EV); /* the second table: the first is the fallback, never evicted */
    for (pid = 100; pid < 140; pid++) etwl_proctab_start(t, pid, 4, T0, "C:\\b\\old.exe", "old", NULL);
    etwl_proctab_stop(t, 100, T0 + S, 0, 1);
    assert_int_equal(etwl_proctab_count(t), 40);
    for (i = 0; i < ETWL_PROCTABS_MAX_HOSTS; i++) {
        snprintf(name, sizeof name, "H%d", i);
        at(name, "f.evtx");
        etwl_proctabs_for(s, &EV);
    }
    /* the first new host past the bound took B's table (the least recently used) */
    snprintf(name, sizeof name, "H%d", ETWL_PROCTABS_MAX_HOSTS - 2);
    at(name, "f.evtx");
    assert_ptr_equal(etwl_proctabs_for(s, &EV), t);
    assert_int_equal(etwl_proctab_count(t), 0);
    assert_null(etwl_proctab_find(t, 120, T0 + S));
    assert_null(etwl_proctab_find(t, 100, T0 + S));
    etwl_proctab_start(t, 120, 4, T0 + 2 * S, "C:\\b\\new.exe", "new", NULL);
    p = etwl_proctab_find(t, 120, T0 + 3 * S);
    assert_non_null(p);
    assert_string_equal(p->cmdline, "new");
    assert_int_equal(etwl_proctab_count(t), 1);
    etwl_proctabs_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_start_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_going_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_stop_then_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grace_expiry_and_late_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_host_per_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hosts_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evicted_host_table_empty, setup, teardown),
    };
    return cmocka_run_group_tests_name("proctab", tests, NULL, NULL);
}
