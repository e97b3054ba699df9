/* procprov.c - the `process` provider on Linux.
 *
 * Events (provider "process"):
 *   1 start   (exec)  pid ppid image cmdline argv argc argv_source truncated
 *                     uid user gid uid_source cwd session_id cgroup
 *                     container_id parent_image start_time
 *   2 exit            pid ppid image exit_code
 *   3 rundown         as start, for processes running when the session began
 *   4 fork            pid ppid image (the parent's, until the child execs)
 *
 * The command line is captured at exec time, in the kernel: a uprobe at the
 * dynamic loader's entry reads argc and the argv strings from the new
 * process's stack before any of its code runs, so even /bin/true is seen
 * whole.  Statically linked programs never enter the loader; for them the
 * start is completed from /proc (argv_source "proc"), and if the process is
 * already gone the image path stands in (argv_source "none"). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "process/proctab.h"
#include "sources/tracefs/tfs.h"

#define MAX_PENDING 4096
#define PENDING_WAIT (200000LL) /* 20 ms of event time for the argv probe */
#define CLONE_THREAD_FLAG 0x00010000

typedef struct u32map {
    uint32_t *k, *v;
    uint32_t cap, n;
} u32map;

typedef struct pending {
    uint32_t pid;
    int64_t ts;
    char *filename;
} pending;

struct etwl_procprov {
    etwl_emit_fn emit;
    void *ctx;
    etwl_event ev;
    u32map tgid, ppid, exit_code;
    pending pend[MAX_PENDING];
    int npend;
    etwl_proctab *pt; /* images and parents, for parent_image */
    int64_t boot_ft;  /* FILETIME of boot */
    long clk_tck;
    uint64_t starts, argv_probe, argv_proc;
    int sec;   /* ETWL_SEC_*: the file and ptrace providers */
    int watch; /* the file family of the record being fed (0: none) */
    struct {
        uint32_t uid;
        char name[64];
    } users[64];
};

/* ---- small maps ---------------------------------------------------------- */

static int map_grow(u32map *m)
{
    uint32_t cap = m->cap ? m->cap * 2 : 4096, i;
    uint32_t *k = calloc(cap, sizeof *k), *v = calloc(cap, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return 0;
    }
    for (i = 0; i < m->cap; i++) {
        uint32_t h;
        if (!m->k[i]) continue;
        h = (m->k[i] * 2654435761u) & (cap - 1);
        while (k[h]) h = (h + 1) & (cap - 1);
        k[h] = m->k[i];
        v[h] = m->v[i];
    }
    free(m->k);
    free(m->v);
    m->k = k;
    m->v = v;
    m->cap = cap;
    return 1;
}

/* Keys are pids, never 0. */
static void map_put(u32map *m, uint32_t key, uint32_t val)
{
    uint32_t h;
    if (!key) return;
    if ((m->n + 1) * 2 > m->cap && !map_grow(m)) return;
    h = (key * 2654435761u) & (m->cap - 1);
    while (m->k[h] && m->k[h] != key) h = (h + 1) & (m->cap - 1);
    if (!m->k[h]) m->n++;
    m->k[h] = key;
    m->v[h] = val;
}

static int map_get(const u32map *m, uint32_t key, uint32_t *val)
{
    uint32_t h;
    if (!m->cap || !key) return 0;
    h = (key * 2654435761u) & (m->cap - 1);
    while (m->k[h]) {
        if (m->k[h] == key) {
            *val = m->v[h];
            return 1;
        }
        h = (h + 1) & (m->cap - 1);
    }
    return 0;
}

/* Removes key, shifting later entries of its probe run back so lookups
 * still find them (linear probing has no tombstones). */
static void map_del(u32map *m, uint32_t key)
{
    uint32_t h, j;
    if (!m->cap || !key) return;
    h = (key * 2654435761u) & (m->cap - 1);
    while (m->k[h] && m->k[h] != key) h = (h + 1) & (m->cap - 1);
    if (!m->k[h]) return;
    m->k[h] = 0;
    m->n--;
    for (j = (h + 1) & (m->cap - 1); m->k[j]; j = (j + 1) & (m->cap - 1)) {
        uint32_t home = (m->k[j] * 2654435761u) & (m->cap - 1);
        /* the entry at j may move to the hole at h unless its home lies
         * cyclically in (h, j] */
        if (h <= j ? (home > h && home <= j) : (home > h || home <= j)) continue;
        m->k[h] = m->k[j];
        m->v[h] = m->v[j];
        m->k[j] = 0;
        h = j;
    }
}

static void map_free(u32map *m)
{
    free(m->k);
    free(m->v);
}

/* ---- /proc ----------------------------------------------------------------- */

static ssize_t read_file(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t k, total = 0;
    if (fd < 0) return -1;
    while ((size_t)total < n - 1 && (k = read(fd, buf + total, n - 1 - (size_t)total)) > 0) total += k;
    close(fd);
    buf[total] = 0;
    return total;
}

static int read_link(const char *path, char *buf, size_t n)
{
    ssize_t k = readlink(path, buf, n - 1);
    if (k < 0) return 0;
    buf[k] = 0;
    return 1;
}

typedef struct pinfo {
    uint32_t ppid, session;
    uint64_t starttime; /* clock ticks since boot */
    int have_ids;
    uint32_t uid, gid;
    char comm[64];
} pinfo;

static int read_stat(uint32_t pid, pinfo *pi)
{
    char path[64], buf[1024], *p;
    unsigned long long f[22];
    int i;
    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    if (read_file(path, buf, sizeof buf) <= 0) return 0;
    p = strrchr(buf, ')'); /* comm may contain anything, even ") " */
    if (!p) return 0;
    {
        char *o = strchr(buf, '(');
        size_t cl = o && p > o ? (size_t)(p - o - 1) : 0;
        if (cl >= sizeof pi->comm) cl = sizeof pi->comm - 1;
        if (o) memcpy(pi->comm, o + 1, cl);
        pi->comm[cl] = 0;
    }
    p += 2;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice threads itreal starttime */
    if (*p) p += 2; /* state and its space */
    for (i = 0; i < 19; i++) f[i] = strtoull(p, &p, 10);
    pi->ppid = (uint32_t)f[0];
    pi->session = (uint32_t)f[2];
    pi->starttime = f[18];
    return 1;
}

static void read_ids(uint32_t pid, pinfo *pi)
{
    char path[64], buf[4096], *u, *g;
    snprintf(path, sizeof path, "/proc/%u/status", pid);
    pi->have_ids = 0;
    if (read_file(path, buf, sizeof buf) <= 0) return;
    u = strstr(buf, "\nUid:");
    g = strstr(buf, "\nGid:");
    if (!u || !g) return;
    pi->uid = (uint32_t)strtoul(u + 5, NULL, 10); /* the real id */
    pi->gid = (uint32_t)strtoul(g + 5, NULL, 10);
    pi->have_ids = 1;
}

static const char *user_name(etwl_procprov *pp, uint32_t uid)
{
    unsigned i = uid % 64;
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (pp->users[i].name[0] && pp->users[i].uid == uid) return pp->users[i].name;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res) return NULL;
    pp->users[i].uid = uid;
    snprintf(pp->users[i].name, sizeof pp->users[i].name, "%s", pw.pw_name);
    return pp->users[i].name;
}

/* ---- building events --------------------------------------------------------- */

typedef struct mb {
    etwl_member m[32];
    uint32_t n;
    etwl_event *ev;
} mb;

/* The next member, named and typed; NULL when the event is full. */
static etwl_member *add(mb *b, const char *name, etwl_vtype type)
{
    etwl_member *m;
    if (b->n == 32) return NULL;
    m = &b->m[b->n++];
    m->name = name;
    m->name_len = (uint32_t)strlen(name);
    memset(&m->value, 0, sizeof m->value);
    m->value.type = (uint8_t)type;
    return m;
}

static void add_str(mb *b, const char *name, const char *s, size_t n)
{
    char *d = s ? etwl_arena_strdup(&b->ev->arena, s, n) : NULL;
    etwl_member *m = d ? add(b, name, ETWL_VT_STRING) : NULL;
    if (!m) return;
    m->value.n = (uint32_t)n;
    m->value.v.s = d;
}

static void add_cstr(mb *b, const char *name, const char *s)
{
    if (s) add_str(b, name, s, strlen(s));
}

static void add_uint(mb *b, const char *name, uint64_t v)
{
    etwl_member *m = add(b, name, ETWL_VT_UINT);
    if (m) m->value.v.u = v;
}

static void add_int(mb *b, const char *name, int64_t v)
{
    etwl_member *m = add(b, name, ETWL_VT_INT);
    if (m) m->value.v.i = v;
}

static void add_bool(mb *b, const char *name, int v)
{
    etwl_member *m = add(b, name, ETWL_VT_BOOL);
    if (m) m->value.v.u = v != 0;
}

static void add_time(mb *b, const char *name, int64_t ft)
{
    etwl_member *m = ft > 0 ? add(b, name, ETWL_VT_TIME) : NULL;
    if (m) m->value.v.i = ft;
}

/* argv as a string array, and as one command line with POSIX quoting where
 * an argument needs it, so the line reads back into the same argv. */
static void add_argv(mb *b, char **argv, uint32_t argc)
{
    etwl_value *items;
    etwl_member *m;
    etwl_buf line;
    uint32_t i;
    if (b->n + 2 > 32) return;
    items = etwl_arena_alloc(&b->ev->arena, (argc ? argc : 1) * sizeof *items);
    if (!items) return;
    etwl_buf_init(&line);
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *q;
        int plain = *a != 0;
        memset(&items[i], 0, sizeof items[i]);
        items[i].type = ETWL_VT_STRING;
        items[i].n = (uint32_t)strlen(a);
        items[i].v.s = etwl_arena_strdup(&b->ev->arena, a, items[i].n);
        if (!items[i].v.s) items[i].type = ETWL_VT_NULL;
        for (q = a; *q; q++)
            if (!(isalnum((unsigned char)*q) || strchr("-_./=:,+@%^", *q) || (unsigned char)*q >= 0x80)) plain = 0;
        if (i) etwl_buf_putc(&line, ' ');
        if (plain) {
            etwl_buf_puts(&line, a);
        } else {
            etwl_buf_putc(&line, '\'');
            for (q = a; *q; q++) {
                if (*q == '\'') etwl_buf_puts(&line, "'\\''");
                else etwl_buf_putc(&line, *q);
            }
            etwl_buf_putc(&line, '\'');
        }
    }
    add_str(b, "cmdline", line.data ? line.data : "", line.len);
    etwl_buf_free(&line);
    if ((m = add(b, "argv", ETWL_VT_ARRAY)) != NULL) {
        m->value.n = argc;
        m->value.v.a = items;
    }
}

static etwl_status emit_as(etwl_procprov *pp, mb *b, const char *provider, uint16_t id, uint8_t opcode,
                           const char *name, uint32_t pid, uint32_t tid, int64_t ts)
{
    etwl_event *ev = &pp->ev;
    etwl_member *m = etwl_arena_dup(&ev->arena, b->m, b->n * sizeof *b->m);
    if (b->n && !m) return ETWL_ENOMEM;
    ev->hdr.provider_name = provider;
    ev->hdr.provider_name_len = (uint32_t)strlen(provider);
    ev->hdr.event_name = name;
    ev->hdr.event_name_len = (uint32_t)strlen(name);
    ev->hdr.has |= ETWL_HAS_PROVIDER_NAME | ETWL_HAS_EVENT_NAME;
    ev->hdr.desc.id = id;
    ev->hdr.desc.opcode = opcode;
    ev->hdr.desc.task = 1;
    ev->hdr.desc.level = ETWL_LEVEL_INFORMATION;
    ev->hdr.pid = pid;
    ev->hdr.tid = tid;
    ev->hdr.ts = ts;
    etwl_event_set_members(ev, m, b->n);
    return pp->emit(ev, pp->ctx);
}

static etwl_status emit(etwl_procprov *pp, mb *b, uint16_t id, uint8_t opcode, const char *name, uint32_t pid,
                        int64_t ts)
{
    return emit_as(pp, b, "process", id, opcode, name, pid, pid, ts);
}

static void begin(etwl_procprov *pp, mb *b)
{
    etwl_event_begin(&pp->ev);
    b->n = 0;
    b->ev = &pp->ev;
}

/* The /proc details every start and rundown carries, when still readable. */
static const char *add_proc_details(etwl_procprov *pp, mb *b, uint32_t pid, uint32_t ppid, pinfo *pi, int have_stat)
{
    char path[64], buf[4096];
    const char *src = "proc", *user = NULL;
    pi->have_ids = 0;
    read_ids(pid, pi);
    if (!pi->have_ids && ppid) {
        /* gone already: exec keeps the real ids of the parent (setuid
         * changes only the effective ones), so the parent's are the answer
         * unless it changed ids between fork and exec, as su does */
        read_ids(ppid, pi);
        src = "parent";
    }
    if (pi->have_ids) {
        add_uint(b, "uid", pi->uid);
        add_cstr(b, "user", user = user_name(pp, pi->uid));
        add_uint(b, "gid", pi->gid);
        add_cstr(b, "uid_source", src);
    }
    snprintf(path, sizeof path, "/proc/%u/cwd", pid);
    if (read_link(path, buf, sizeof buf)) add_cstr(b, "cwd", buf);
    if (have_stat) add_uint(b, "session_id", pi->session);
    snprintf(path, sizeof path, "/proc/%u/cgroup", pid);
    if (read_file(path, buf, sizeof buf) > 0) {
        char *cg = strstr(buf, "0::"), *nl, *p;
        if (cg) {
            cg += 3;
            if ((nl = strchr(cg, '\n'))) *nl = 0;
            add_cstr(b, "cgroup", cg);
            /* docker, containerd and podman put a 64-hex id in the path */
            for (p = cg; *p; p++) {
                size_t k = 0;
                while (isxdigit((unsigned char)p[k])) k++;
                if (k == 64) {
                    add_str(b, "container_id", p, 64);
                    break;
                }
                if (k) p += k - 1;
            }
        }
    }
    return user;
}

static void split_cmdline(char *buf, ssize_t n, char **argv, uint32_t *argc, uint32_t max)
{
    ssize_t i = 0;
    *argc = 0;
    while (i < n && *argc < max) {
        argv[(*argc)++] = buf + i;
        while (i < n && buf[i]) i++;
        i++;
    }
}

static etwl_status emit_start(etwl_procprov *pp, uint32_t pid, const char *image, char **argv, uint32_t argc,
                              uint64_t argc_total, const char *source, int truncated, int64_t exec_ts, int64_t ts,
                              int rundown)
{
    mb b;
    pinfo pi;
    uint32_t ppid = 0;
    const etwl_proc *parent, *self;
    int have_stat;
    const char *user, *line = NULL;
    uint32_t k;
    begin(pp, &b);
    memset(&pi, 0, sizeof pi);
    have_stat = read_stat(pid, &pi);
    if (!map_get(&pp->ppid, pid, &ppid)) {
        /* no fork record (yet: it can come late, from another CPU's buffer):
         * an entry of the table still alive, else the live process's parent;
         * never an ended process's that had the pid before */
        self = etwl_proctab_find(pp->pt, pid, exec_ts);
        ppid = self && !self->exit ? self->ppid : have_stat ? pi.ppid : 0;
    }
    add_uint(&b, "pid", pid);
    add_uint(&b, "ppid", ppid);
    add_cstr(&b, "image", image);
    add_argv(&b, argv, argc);
    add_uint(&b, "argc", argc_total);
    add_cstr(&b, "argv_source", source);
    add_bool(&b, "truncated", truncated || argc_total > argc);
    user = add_proc_details(pp, &b, pid, ppid, &pi, have_stat);
    parent = etwl_proctab_find(pp->pt, ppid, exec_ts);
    if (parent && parent->image) add_cstr(&b, "parent_image", parent->image);
    add_time(&b, "start_time", exec_ts);
    /* the table keeps the command line and user: file and ptrace events
     * name the process that made them with these */
    for (k = 0; k < b.n; k++)
        if (strcmp(b.m[k].name, "cmdline") == 0) line = b.m[k].value.v.s;
    etwl_proctab_start(pp->pt, pid, ppid, rundown ? 0 : exec_ts, image, line, user);
    pp->starts++;
    return emit(pp, &b, rundown ? 3 : 1, rundown ? 3 : 1, rundown ? "rundown" : "start", pid, ts);
}

/* ---- lifecycle ---------------------------------------------------------------- */

etwl_procprov *etwl_procprov_new(etwl_emit_fn emitfn, void *ctx)
{
    etwl_procprov *pp = calloc(1, sizeof *pp);
    struct timespec rt, bt;
    if (!pp) return NULL;
    pp->emit = emitfn;
    pp->ctx = ctx;
    etwl_event_init(&pp->ev);
    pp->pt = etwl_proctab_new(NULL);
    if (!pp->pt) {
        free(pp);
        return NULL;
    }
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    pp->boot_ft = etwl_time_from_unix_ns(((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec));
    pp->clk_tck = sysconf(_SC_CLK_TCK);
    if (pp->clk_tck <= 0) pp->clk_tck = 100;
    return pp;
}

void etwl_procprov_free(etwl_procprov *pp)
{
    int i;
    if (!pp) return;
    for (i = 0; i < pp->npend; i++) free(pp->pend[i].filename);
    map_free(&pp->tgid);
    map_free(&pp->ppid);
    map_free(&pp->exit_code);
    etwl_proctab_free(pp->pt);
    etwl_event_release(&pp->ev);
    free(pp);
}

uint32_t etwl_procprov_tgid(etwl_procprov *pp, uint32_t tid)
{
    uint32_t t;
    return map_get(&pp->tgid, tid, &t) ? t : tid;
}

void etwl_procprov_counts(etwl_procprov *pp, uint64_t *starts, uint64_t *argv_probe, uint64_t *argv_proc)
{
    *starts = pp->starts;
    *argv_probe = pp->argv_probe;
    *argv_proc = pp->argv_proc;
}

typedef struct rd {
    uint32_t pid;
    uint64_t start;
} rd;

static int by_start(const void *a, const void *b)
{
    const rd *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

etwl_status etwl_procprov_rundown(etwl_procprov *pp, int64_t now)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    rd *list = NULL;
    size_t n = 0, cap = 0, i;
    etwl_status st = ETWL_OK;
    if (!d) return ETWL_OK;
    while ((de = readdir(d)) != NULL) {
        char *end, path[300];
        unsigned long pid = strtoul(de->d_name, &end, 10);
        pinfo pi;
        DIR *td;
        if (*end || !pid) continue;
        memset(&pi, 0, sizeof pi);
        if (!read_stat((uint32_t)pid, &pi)) continue;
        if (n == cap) {
            rd *l = realloc(list, (cap = cap ? cap * 2 : 256) * sizeof *l);
            if (!l) break;
            list = l;
        }
        list[n].pid = (uint32_t)pid;
        list[n++].start = pi.starttime;
        map_put(&pp->ppid, (uint32_t)pid, pi.ppid);
        /* threads of this process: tid -> tgid */
        snprintf(path, sizeof path, "/proc/%lu/task", pid);
        if ((td = opendir(path)) != NULL) {
            struct dirent *te;
            while ((te = readdir(td)) != NULL) {
                unsigned long tid = strtoul(te->d_name, &end, 10);
                if (!*end && tid) map_put(&pp->tgid, (uint32_t)tid, (uint32_t)pid);
            }
            closedir(td);
        }
    }
    closedir(d);
    /* parents first, so every rundown event can name its parent */
    qsort(list, n, sizeof *list, by_start);
    for (i = 0; i < n && st == ETWL_OK; i++) {
        char path[64], exe[4096], buf[65536], *argv[ETWL_ARGV_MAX];
        uint32_t argc = 0, total;
        ssize_t k;
        int64_t start;
        snprintf(path, sizeof path, "/proc/%u/exe", list[i].pid);
        if (!read_link(path, exe, sizeof exe)) exe[0] = 0; /* kernel threads have none */
        snprintf(path, sizeof path, "/proc/%u/cmdline", list[i].pid);
        k = read_file(path, buf, sizeof buf);
        if (k > 0) split_cmdline(buf, k, argv, &argc, ETWL_ARGV_MAX);
        total = argc;
        start = pp->boot_ft + (int64_t)(list[i].start * 10000000ULL / (uint64_t)pp->clk_tck);
        if (!exe[0] && argc == 0) {
            pinfo pi;
            memset(&pi, 0, sizeof pi);
            read_stat(list[i].pid, &pi);
            snprintf(exe, sizeof exe, "[%s]", pi.comm); /* a kernel thread */
        }
        st = emit_start(pp, list[i].pid, exe, argv, argc, total, "proc", 0, start, now, 1);
    }
    free(list);
    return st;
}

static pending *find_pending(etwl_procprov *pp, uint32_t pid)
{
    int i;
    for (i = 0; i < pp->npend; i++)
        if (pp->pend[i].pid == pid) return &pp->pend[i];
    return NULL;
}

static void drop_pending(etwl_procprov *pp, pending *p)
{
    free(p->filename);
    *p = pp->pend[--pp->npend];
}

/* A start whose probe never came: /proc if the process is still there. */
static etwl_status complete_from_proc(etwl_procprov *pp, pending *p, int64_t now)
{
    char path[64], buf[65536], *argv[ETWL_ARGV_MAX], *one[1];
    uint32_t argc = 0;
    ssize_t k;
    etwl_status st;
    snprintf(path, sizeof path, "/proc/%u/cmdline", p->pid);
    k = read_file(path, buf, sizeof buf);
    if (k > 0) {
        split_cmdline(buf, k, argv, &argc, ETWL_ARGV_MAX);
        pp->argv_proc++;
        st = emit_start(pp, p->pid, p->filename, argv, argc, argc, "proc", k >= (ssize_t)sizeof buf - 1, p->ts, now, 0);
    } else {
        /* gone, and no argv: only the image is known */
        one[0] = p->filename;
        st = emit_start(pp, p->pid, p->filename, one, 1, 1, "none", 1, p->ts, now, 0);
    }
    drop_pending(pp, p);
    return st;
}

etwl_status etwl_procprov_flush(etwl_procprov *pp, int64_t now, int all)
{
    int i;
    etwl_status st = ETWL_OK;
    for (i = pp->npend - 1; i >= 0 && st == ETWL_OK; i--)
        if (all || now - pp->pend[i].ts > PENDING_WAIT) st = complete_from_proc(pp, &pp->pend[i], now);
    return st;
}

static int get_u(etwl_event *ev, const char *name, uint64_t *out)
{
    const etwl_value *v = etwl_event_get(ev, name);
    if (!v) return 0;
    if (v->type == ETWL_VT_INT) *out = (uint64_t)v->v.i;
    else if (v->type == ETWL_VT_UINT || v->type == ETWL_VT_HEX) *out = v->v.u;
    else return 0;
    return 1;
}

static const char *get_s(etwl_event *ev, const char *name)
{
    const etwl_value *v = etwl_event_get(ev, name);
    return v && v->type == ETWL_VT_STRING ? v->v.s : NULL;
}

/* ---- the file and ptrace providers ------------------------------------------
 *
 * Syscall tracepoints record a path argument only as a user-space pointer.
 * The kernel filter (set up in tracefs.c) already read that string to
 * decide the event is wanted; here the string is read again from the
 * thread's memory through /proc/TID/mem, and a relative path is joined to
 * the directory it is relative to (/proc/TID/cwd or /proc/TID/fd/DFD).  A
 * thread that has exited by then leaves no memory to read: the event still
 * comes, without `path` and with path_source "none", since the kernel
 * filter said it named a watched path. */

#define AT_FDCWD_ID 0xffffff9cu /* AT_FDCWD (-100) as the tracepoint's low 32 bits */

void etwl_procprov_set_sec(etwl_procprov *pp, int which) { pp->sec = which; }

void etwl_procprov_set_watch(etwl_procprov *pp, int fam) { pp->watch = fam; }

/* A NUL-terminated string at addr in the memory of tid, page by page (a
 * read across into an unmapped page fails as a whole); 0 when unreadable. */
static int read_user_str(uint32_t tid, uint64_t addr, char *out, size_t n)
{
    char path[64];
    size_t got = 0;
    int fd;
    if (!addr) return 0;
    snprintf(path, sizeof path, "/proc/%u/mem", tid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
    while (got < n - 1) {
        size_t chunk = 4096 - (size_t)((addr + got) & 4095);
        ssize_t k;
        char *z;
        if (chunk > n - 1 - got) chunk = n - 1 - got;
        k = pread(fd, out + got, chunk, (off_t)(addr + got));
        if (k <= 0) break;
        if ((z = memchr(out + got, 0, (size_t)k)) != NULL) {
            close(fd);
            return 1;
        }
        got += (size_t)k;
    }
    close(fd);
    out[got] = 0;
    return got > 0 && got == n - 1; /* longer than PATH_MAX: cut, but a path */
}

/* The absolute form of a path as thread tid passed it relative to dfd. */
/* Collapses "//", "/./" and "/x/.." in an absolute path, in place, so that
 * /etc//passwd or /etc/cron.d/../passwd read as /etc/passwd. */
static void normalise_path(char *p)
{
    char *w = p, *r = p;
    while (*r) {
        if (r[0] == '/' && (r[1] == '/' || r[1] == 0) && w != p) {
            r++; /* "//", or a trailing '/' */
        } else if (r[0] == '/' && r[1] == '.' && (r[2] == '/' || r[2] == 0)) {
            r += 2;
        } else if (r[0] == '/' && r[1] == '.' && r[2] == '.' && (r[3] == '/' || r[3] == 0)) {
            r += 3;
            while (w > p && *--w != '/') {
            }
        } else {
            *w++ = *r++;
        }
    }
    if (w == p) *w++ = '/';
    *w = 0;
}

static int same_mount_ns(uint32_t tid)
{
    char a[64], b[64], path[64];
    snprintf(path, sizeof path, "/proc/%u/ns/mnt", tid);
    return read_link(path, a, sizeof a) && read_link("/proc/self/ns/mnt", b, sizeof b) && strcmp(a, b) == 0;
}

/* The absolute form of a path as thread tid passed it relative to dfd,
 * normalised; when the thread sees the same files as etwlua, its directory
 * is resolved through symlinks too (ln -s /etc /tmp/e; echo >> /tmp/e/passwd
 * writes /etc/passwd).  The last component is kept: the file may not exist
 * yet. */
static int resolve_path(uint32_t tid, uint64_t dfd, const char *p, char *out, size_t n)
{
    char link[64], dir[4096], *slash, *real;
    if (p[0] == '/') {
        snprintf(out, n, "%s", p);
    } else {
        if ((uint32_t)dfd == AT_FDCWD_ID) snprintf(link, sizeof link, "/proc/%u/cwd", tid);
        else snprintf(link, sizeof link, "/proc/%u/fd/%u", tid, (unsigned)dfd);
        if (!read_link(link, dir, sizeof dir)) return 0;
        snprintf(out, n, "%s/%s", dir, p);
    }
    normalise_path(out);
    if ((slash = strrchr(out, '/')) != NULL && slash != out && same_mount_ns(tid)) {
        *slash = 0;
        real = realpath(out, NULL);
        *slash = '/';
        if (real && strlen(real) + strlen(slash) < n) {
            char *name = strdup(slash);
            if (name) {
                snprintf(out, n, "%s%s", strcmp(real, "/") == 0 ? "" : real, name);
                free(name);
            }
        }
        free(real);
    }
    return 1;
}

/* Adds `key` (and `path_source`) for the path at addr; returns 1 when read.
 * With a family, what is read must be one of its paths, as the kernel saw
 * it: otherwise the memory was reused since the call (a freed buffer). */
static int add_path(mb *b, const char *key, uint32_t tid, uint64_t dfd, uint64_t addr, int source, int fam)
{
    char raw[4096], full[8192];
    if (!read_user_str(tid, addr, raw, sizeof raw) || (fam && !etwl_tfs_family_match(fam, raw))) {
        if (source) add_cstr(b, "path_source", "none");
        return 0;
    }
    if (!resolve_path(tid, dfd, raw, full, sizeof full)) snprintf(full, sizeof full, "%s", raw);
    add_cstr(b, key, full);
    if (source) add_cstr(b, "path_source", "mem");
    return 1;
}

/* An open whose path memory is gone or reused (a shell reuses the buffer
 * of a redirection at once) still left its file open: the one descriptor
 * of the thread whose path is in the family.  Several: none is chosen. */
static int path_from_fds(uint32_t tid, int fam, char *out, size_t n)
{
    char dir[64], link[320], path[4096];
    DIR *d;
    struct dirent *e;
    int found = 0;
    snprintf(dir, sizeof dir, "/proc/%u/fd", tid);
    if (!(d = opendir(dir))) return 0;
    while ((e = readdir(d)) != NULL && found < 2) {
        if (e->d_name[0] == '.') continue;
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        if (!read_link(link, path, sizeof path) || !etwl_tfs_family_match(fam, path)) continue;
        if (found && strcmp(out, path) == 0) continue;
        snprintf(out, n, "%s", path);
        found++;
    }
    closedir(d);
    return found == 1;
}

/* Who did it: pid and tid, image, command line, user, parent. */
static void add_actor(etwl_procprov *pp, mb *b, uint32_t pid, uint32_t tid, int64_t ts)
{
    const etwl_proc *self = etwl_proctab_find(pp->pt, pid, ts), *parent;
    add_uint(b, "pid", pid);
    add_uint(b, "tid", tid);
    if (!self) return;
    add_uint(b, "ppid", self->ppid);
    if (self->image) add_cstr(b, "image", self->image);
    if (self->cmdline) add_cstr(b, "cmdline", self->cmdline);
    if (self->user) add_cstr(b, "user", self->user);
    parent = etwl_proctab_parent(pp->pt, self);
    if (parent && parent->image) add_cstr(b, "parent_image", parent->image);
}

/* The target of ptrace or process_vm_*: the call names a thread; the
 * event names its process (target_pid) and the thread (target_tid). */
static void add_target(etwl_procprov *pp, mb *b, uint32_t tid, int64_t ts)
{
    uint32_t tgid = etwl_procprov_tgid(pp, tid);
    const etwl_proc *target = etwl_proctab_find(pp->pt, tgid, ts);
    add_uint(b, "target_pid", tgid);
    add_uint(b, "target_tid", tid);
    if (target && target->image) add_cstr(b, "target_image", target->image);
}

static const char *ptrace_request(uint64_t r)
{
    switch (r) {
    case 0: return "TRACEME";
    case 1: return "PEEKTEXT";
    case 2: return "PEEKDATA";
    case 4: return "POKETEXT";
    case 5: return "POKEDATA";
    case 6: return "POKEUSER";
    case 13: return "SETREGS";
    case 16: return "ATTACH";
    case 0x4206: return "SEIZE";
    default: return NULL;
    }
}

/* One syscalls:sys_enter_* event of the file or ptrace provider; 0 when
 * the event is none of theirs. */
static int sec_feed(etwl_procprov *pp, etwl_event *raw, uint32_t pid, etwl_status *st)
{
    const etwl_header *h = &raw->hdr;
    const char *n = h->event_name, *sc;
    uint64_t a = 0, dfd = AT_FDCWD_ID, flags = 0, ptr = 0;
    uint32_t tid = h->tid;
    int id = 0, got;
    mb b;
    if (strncmp(n, "sys_enter_", 10) != 0) return 0;
    sc = n + 10;
    if ((pp->sec & ETWL_SEC_PTRACE) && strcmp(sc, "ptrace") == 0) {
        const char *rn;
        uint64_t req = 0;
        get_u(raw, "request", &req);
        get_u(raw, "pid", &a);
        begin(pp, &b);
        add_actor(pp, &b, pid, tid, h->ts);
        add_uint(&b, "request", req);
        if ((rn = ptrace_request(req)) != NULL) add_cstr(&b, "request_name", rn);
        add_target(pp, &b, (uint32_t)a, h->ts);
        *st = emit_as(pp, &b, "ptrace", 1, 0, "ptrace", pid, tid, h->ts);
        return 1;
    }
    if ((pp->sec & ETWL_SEC_PTRACE) && strncmp(sc, "process_vm_", 11) == 0) {
        int write = strcmp(sc + 11, "writev") == 0;
        get_u(raw, "pid", &a);
        begin(pp, &b);
        add_actor(pp, &b, pid, tid, h->ts);
        add_target(pp, &b, (uint32_t)a, h->ts);
        *st = emit_as(pp, &b, "ptrace", write ? 3 : 2, 0, write ? "vm_write" : "vm_read", pid, tid, h->ts);
        return 1;
    }
    if (!(pp->sec & ETWL_SEC_FILE)) return 0;
    /* path calls come filtered from a family's instance; the main
     * instance's are the user's own -p syscalls:... events */
    if (!pp->watch && strcmp(sc, "ftruncate") != 0) return 0;
    if (pp->watch && strcmp(sc, "ftruncate") == 0) return 0;
    /* open family: write (1) or a truncating open of a log (3) */
    if (strcmp(sc, "openat") == 0 || strcmp(sc, "open") == 0 || strcmp(sc, "creat") == 0) {
        if (sc[0] == 'c') {
            flags = 0x241; /* creat() is open(O_CREAT|O_WRONLY|O_TRUNC) */
            get_u(raw, "pathname", &ptr);
        } else {
            get_u(raw, "flags", &flags);
            get_u(raw, "filename", &ptr);
        }
        if (sc[4] == 'a') get_u(raw, "dfd", &dfd);
        id = 1;
    } else if (strcmp(sc, "unlinkat") == 0 || strcmp(sc, "unlink") == 0) {
        get_u(raw, "pathname", &ptr);
        if (sc[6] == 'a') get_u(raw, "dfd", &dfd);
        id = 2;
    } else if (strcmp(sc, "truncate") == 0) {
        get_u(raw, "path", &ptr);
        id = 3;
    } else if (strcmp(sc, "ftruncate") == 0) {
        char link[64], path[4096];
        const char *p;
        get_u(raw, "fd", &a);
        snprintf(link, sizeof link, "/proc/%u/fd/%u", tid, (unsigned)a);
        /* the kernel cannot filter an fd by its path: keep logs and histories */
        if (!read_link(link, path, sizeof path)) return 1;
        p = strrchr(path, '/');
        if (strncmp(path, "/var/log/", 9) != 0 && !(p && strstr(p, "history"))) return 1;
        begin(pp, &b);
        add_actor(pp, &b, pid, tid, h->ts);
        add_cstr(&b, "syscall", sc);
        add_cstr(&b, "watch", strncmp(path, "/var/log/", 9) == 0 ? "logs" : "history");
        add_cstr(&b, "path", path);
        add_cstr(&b, "path_source", "fd");
        *st = emit_as(pp, &b, "file", 3, 0, "truncate", pid, tid, h->ts);
        return 1;
    } else if (strcmp(sc, "renameat2") == 0 || strcmp(sc, "renameat") == 0 || strcmp(sc, "rename") == 0) {
        uint64_t odfd = AT_FDCWD_ID, optr = 0;
        get_u(raw, "oldname", &optr);
        get_u(raw, "newname", &ptr);
        if (strcmp(sc, "rename") != 0) {
            get_u(raw, "olddfd", &odfd);
            get_u(raw, "newdfd", &dfd);
        }
        begin(pp, &b);
        add_actor(pp, &b, pid, tid, h->ts);
        add_cstr(&b, "syscall", sc);
        add_cstr(&b, "watch", etwl_tfs_family(pp->watch));
        add_path(&b, "path", tid, dfd, ptr, 1, pp->watch);
        add_path(&b, "old_path", tid, odfd, optr, 0, 0);
        *st = emit_as(pp, &b, "file", 4, 0, "rename", pid, tid, h->ts);
        return 1;
    } else {
        return 0;
    }
    begin(pp, &b);
    add_actor(pp, &b, pid, tid, h->ts);
    add_cstr(&b, "syscall", sc);
    add_cstr(&b, "watch", etwl_tfs_family(pp->watch));
    got = add_path(&b, "path", tid, dfd, ptr, 0, pp->watch);
    if (got) {
        add_cstr(&b, "path_source", "mem");
    } else {
        char path[4096];
        if (id == 1 && path_from_fds(tid, pp->watch, path, sizeof path)) {
            add_cstr(&b, "path", path);
            add_cstr(&b, "path_source", "fd");
        } else {
            add_cstr(&b, "path_source", "none");
        }
    }
    if (id == 1) add_uint(&b, "flags", (uint32_t)flags);
    *st = emit_as(pp, &b, "file", (uint16_t)id, 0,
                  id == 1   ? "write"
                  : id == 2 ? "delete"
                            : "truncate",
                  pid, tid, h->ts);
    return 1;
}

etwl_status etwl_procprov_feed(etwl_procprov *pp, etwl_event *raw, int64_t now)
{
    etwl_status sst = ETWL_OK;
    const etwl_header *h = &raw->hdr;
    const char *name = h->event_name;
    uint64_t a = 0, b = 0;
    uint32_t tid = h->tid, tgid = etwl_procprov_tgid(pp, tid);
    if (!name) return ETWL_OK;
    if (pp->sec && h->provider_name_len == 8 && memcmp(h->provider_name, "syscalls", 8) == 0 &&
        sec_feed(pp, raw, tgid, &sst))
        return sst;
    if (strcmp(name, "task_newtask") == 0) {
        uint64_t flags = 0;
        if (!get_u(raw, "pid", &a)) return ETWL_OK;
        get_u(raw, "clone_flags", &flags);
        if (flags & CLONE_THREAD_FLAG) {
            map_put(&pp->tgid, (uint32_t)a, tgid);
        } else {
            const etwl_proc *parent = etwl_proctab_find(pp->pt, tgid, h->ts);
            const etwl_proc *self = etwl_proctab_find(pp->pt, (uint32_t)a, 0);
            mb m;
            map_put(&pp->tgid, (uint32_t)a, (uint32_t)a);
            map_put(&pp->ppid, (uint32_t)a, tgid);
            /* until it execs, a fork child runs its parent's image; a fork
             * delivered after the child's exec (another CPU's buffer, read
             * a round later) must not stand for a second, newer instance */
            if (!self || self->exit || self->start < h->ts)
                etwl_proctab_start(pp->pt, (uint32_t)a, tgid, h->ts, parent ? parent->image : NULL, NULL, NULL);
            else if (!self->ppid) ((etwl_proc *)self)->ppid = tgid; /* what its exit will name */
            begin(pp, &m);
            add_uint(&m, "pid", a);
            add_uint(&m, "ppid", tgid);
            if (parent && parent->image) add_cstr(&m, "image", parent->image);
            return emit(pp, &m, 4, 1, "fork", (uint32_t)a, h->ts);
        }
        return ETWL_OK;
    }
    if (strcmp(name, "sched_process_exec") == 0) {
        const char *fn = get_s(raw, "filename");
        pending *p;
        if (!get_u(raw, "pid", &a)) return ETWL_OK;
        if ((p = find_pending(pp, (uint32_t)a)) != NULL) complete_from_proc(pp, p, now); /* exec'd twice */
        if (pp->npend == MAX_PENDING) complete_from_proc(pp, &pp->pend[0], now);
        p = &pp->pend[pp->npend];
        p->pid = (uint32_t)a;
        p->ts = h->ts;
        p->filename = strdup(fn ? fn : "");
        if (!p->filename) return ETWL_ENOMEM;
        pp->npend++;
        return ETWL_OK;
    }
    if (strcmp(name, "argv") == 0) { /* our uprobe at the loader's entry */
        pending *p = find_pending(pp, tgid);
        char *argv[ETWL_ARGV_MAX];
        char key[8];
        uint32_t argc = 0, i;
        uint64_t total = 0;
        etwl_status st;
        if (!p) return ETWL_OK; /* a loader run directly, or the exec was lost */
        get_u(raw, "argc", &total);
        /* slots past argc hold environment strings: never look at them */
        for (i = 0; i < ETWL_ARGV_MAX && i < total; i++) {
            const char *s;
            snprintf(key, sizeof key, "a%u", i);
            s = get_s(raw, key);
            if (!s) break;
            argv[argc++] = (char *)s;
        }
        {
            /* The kernel caps a uprobe record's string data (about 2 KB here,
             * and it may cut rather than drop); a long capture is checked
             * against /proc while the process is still there. */
            size_t bytes = 0;
            int suspect;
            for (i = 0; i < argc; i++) bytes += strlen(argv[i]) + 1;
            suspect = bytes >= 900 || total > argc;
            if (suspect) {
                char path[64], buf[65536], *pargv[ETWL_ARGV_MAX];
                uint32_t pargc = 0;
                ssize_t k;
                snprintf(path, sizeof path, "/proc/%u/cmdline", p->pid);
                k = read_file(path, buf, sizeof buf);
                if (k > 0) split_cmdline(buf, k, pargv, &pargc, ETWL_ARGV_MAX);
                /* /proc may already show a later exec of the same pid: use it
                 * only when what the probe caught is a prefix of it */
                for (i = 0; k > 0 && i < argc; i++)
                    if (i >= pargc || strncmp(pargv[i], argv[i], strlen(argv[i])) != 0) k = 0;
                if (k > 0) {
                    pp->argv_proc++;
                    st = emit_start(pp, p->pid, p->filename, pargv, pargc, total > pargc ? total : pargc, "proc",
                                    k >= (ssize_t)sizeof buf - 1, p->ts, h->ts, 0);
                    drop_pending(pp, p);
                    return st;
                }
            }
            pp->argv_probe++;
            st = emit_start(pp, p->pid, p->filename, argv, argc, total, "probe", suspect, p->ts, h->ts, 0);
        }
        drop_pending(pp, p);
        return st;
    }
    if (strcmp(name, "sys_enter_exit_group") == 0) {
        if (get_u(raw, "error_code", &a)) map_put(&pp->exit_code, tgid, (uint32_t)a + 1); /* +1: 0 means unset */
        return ETWL_OK;
    }
    if (strcmp(name, "sched_process_exit") == 0) {
        uint32_t code = 0, ppid = 0;
        const etwl_proc *self;
        mb m;
        if (!get_u(raw, "pid", &a)) return ETWL_OK;
        /* group_dead (newer kernels) says the whole process is going */
        if (get_u(raw, "group_dead", &b) ? !b : tgid != (uint32_t)a) return ETWL_OK;
        {
            pending *p = find_pending(pp, (uint32_t)a);
            if (p) complete_from_proc(pp, p, now); /* exited before its loader ran */
        }
        self = etwl_proctab_find(pp->pt, (uint32_t)a, h->ts);
        map_get(&pp->ppid, (uint32_t)a, &ppid);
        begin(pp, &m);
        add_uint(&m, "pid", a);
        add_uint(&m, "ppid", self ? self->ppid : ppid);
        if (self && self->image) add_cstr(&m, "image", self->image);
        if (map_get(&pp->exit_code, (uint32_t)a, &code) && code) add_int(&m, "exit_code", (int32_t)(code - 1));
        etwl_proctab_stop(pp->pt, (uint32_t)a, h->ts, code ? (int32_t)(code - 1) : 0, code != 0);
        /* the pid will be reused: a later process killed by a signal must not
         * report this one's exit code, nor one whose fork record comes late
         * (another CPU's buffer) this one's parent */
        map_del(&pp->exit_code, (uint32_t)a);
        map_del(&pp->ppid, (uint32_t)a);
        return emit(pp, &m, 2, 2, "exit", (uint32_t)a, h->ts);
    }
    return ETWL_OK;
}
