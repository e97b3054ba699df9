/* tracefs.c - live sessions on Linux: a tracefs instance is the session.
 *
 * Reading: every CPU's ring buffer is opened non-blocking; each round reads
 * what is there (up to MAX_PAGES pages per CPU), then merges the CPUs by
 * timestamp and delivers in that order.  Order is exact within a round;
 * an event recorded while a round was being read can reach the next round
 * with a timestamp a few microseconds before that round's last event.
 * When the buffers are empty the reader sleeps on a wake pipe for at most
 * IDLE_MS, which bounds latency; close() writes to that pipe. */
#include <ctype.h>
#include <dirent.h>
#include <fnmatch.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sources/tracefs/tfs.h"

#define MAX_PAGES 64
#define IDLE_MS 10
#define PEND_WAIT 500000           /* 50 ms in FILETIME ticks: how long an event waits for its stack */
#define STATS_EVERY_NS 250000000LL /* also how soon a --kill from outside is noticed */

typedef struct page {
    char *data;
    int len;
} page;

typedef struct cpu_rd {
    struct tracefs_cpu *tc;
    struct kbuffer *kb;
    page pages[MAX_PAGES];
    int npages, cur; /* pages read this round, and the one being merged */
    void *rec;       /* current record, NULL when this CPU is drained */
    unsigned long long ts;
    unsigned long long overrun; /* last value seen in per_cpu/cpuN/stats */
    /* With STACK_TRACE, an event that ends a round waits here for the
     * kernel_stack record that follows it, which the next round reads. */
    char *pend;
    unsigned pend_size, pend_cap;
    unsigned long long pend_ts;
    int64_t pend_until; /* FILETIME: after this it goes without a stack */
} cpu_rd;

typedef struct tfs {
    etwl_source base;
    const etwl_config *cfg;
    struct tracefs_instance *inst;
    struct tep_handle *tep;
    int ncpu, page_size;
    cpu_rd *cpus; /* ncpu readers per instance: the main one, then each file family's */
    int nrd;
    struct tracefs_instance *fam[8]; /* the file families' instances (see watch_fams) */
    int nfam;
    etwl_event ev;
    uint64_t lost; /* overruns and drops the ring buffers report */
    int wake[2];
    int64_t boot_ft; /* FILETIME of boot: ring-buffer times are CLOCK_BOOTTIME */
    etwl_schema **schemas;
    uint8_t *wanted; /* by event id: delivered to the callback (1) or only used inside (0) */
    int nids;
    etwl_procprov *pp;
    struct tracefs_dynevent *argv_probe;
    char probe_system[64];
    int process_provider; /* process events are delivered (they may be built only for file/ptrace) */
    int sec;              /* ETWL_SEC_*: the file and ptrace providers */
    char *user_specs[ETWL_MAX_PROVIDERS + 32]; /* "sys" or "sys:event" the user asked for */
    int nspecs;
    int stack_id;    /* ftrace:kernel_stack, when STACK_TRACE is on */
    uint64_t *stack; /* addresses for the event being delivered */
    int64_t next_stats;
    uint64_t unknown;
    int owns_state; /* wrote /run/etwlua/NAME */
} tfs;

static int64_t now_ft(tfs *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return t->boot_ft + ((int64_t)ts.tv_sec * 10000000LL + ts.tv_nsec / 100);
}

/* ---- setup ---------------------------------------------------------------- */

static int name_ok(const char *n)
{
    const char *p;
    if (!*n || strlen(n) > 64 || n[0] == '.') return 0;
    for (p = n; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')) return 0;
    return 1;
}

/* The uprobe group of a session.  Probe groups are global, so distinct
 * session names must give distinct groups (rt-c and rt_c once shared one):
 * '_' is written "__", '-' "_d" and '.' "_o", which decodes back.  The
 * kernel caps a group at 63 bytes; a name too long for that gets
 * "_h" and a 64-bit FNV-1a hash instead ("_h" is no escape, so the two forms
 * never meet), and a hash collision fails loudly when the probe is created,
 * as any existing group does. */
static void probe_group(const char *name, char *out, size_t n)
{
    size_t k = (size_t)snprintf(out, n, "etwlua_");
    const char *p;
    for (p = name; *p && k + 2 < 64; p++) { /* n >= 64 */
        if (isalnum((unsigned char)*p)) {
            out[k++] = *p;
            continue;
        }
        out[k++] = '_';
        out[k++] = *p == '_' ? '_' : *p == '-' ? 'd' : 'o';
    }
    out[k] = 0;
    if (*p) { /* did not fit */
        uint64_t h = 14695981039346656037ULL;
        for (p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(out, n, "etwlua__h%016llx", (unsigned long long)h);
    }
}

/* Who owns a session: /run/etwlua/NAME holds the owner's pid and start
 * time (so a reused pid is not taken for the owner), for --list.  Written
 * once the instance exists, removed after it is gone; a killed owner
 * leaves it, which is how --list tells a dead owner. */
#define STATE_DIR "/run/etwlua"

static unsigned long long proc_start_time(long pid)
{
    char path[64], buf[1024], *p;
    unsigned long long v = 0;
    FILE *f;
    int field;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r"))) return 0;
    buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
    fclose(f);
    if (!(p = strrchr(buf, ')'))) return 0;
    /* field 22 (starttime); p is at the end of field 2 */
    for (field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
    if (p) v = strtoull(p + 1, NULL, 10);
    return v;
}

static void state_path(const char *name, char *out, size_t n) { snprintf(out, n, STATE_DIR "/%s", name); }

static void state_write(const char *name)
{
    char path[256], tmp[320];
    FILE *f;
    mkdir("/run", 0755);
    mkdir(STATE_DIR, 0755);
    state_path(name, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    if (!(f = fopen(tmp, "w"))) return; /* --list then shows no owner */
    fprintf(f, "pid=%ld\nstart=%llu\n", (long)getpid(), proc_start_time((long)getpid()));
    if (fclose(f) != 0 || rename(tmp, path) != 0) unlink(tmp);
}

/* The owner's pid (0: unknown) and whether that process still runs. */
static long state_owner(const char *name, int *alive)
{
    char path[256];
    long pid = 0;
    unsigned long long start = 0;
    FILE *f;
    *alive = 0;
    state_path(name, path, sizeof path);
    if (!(f = fopen(path, "r"))) return 0;
    if (fscanf(f, "pid=%ld start=%llu", &pid, &start) < 1) pid = 0;
    fclose(f);
    if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) *alive = proc_start_time(pid) == start;
    return pid > 0 ? pid : 0;
}

static etwl_status need_tracefs(etwl_error *err)
{
    const char *path = NULL;
    if (geteuid() != 0)
        return etwl_error_set(err, ETWL_EACCES,
                              "live tracing needs root (tracefs instances and probes are root-only); "
                              "run as root or replay a recording with -r FILE");
    if (tracefs_tracing_dir_is_mounted(true, &path) < 0 || !path)
        return etwl_error_set(err, ETWL_ENOTSUP,
                              "tracefs is not mounted and could not be mounted at /sys/kernel/tracing (%s); "
                              "is CONFIG_FTRACE enabled?",
                              strerror(errno));
    return ETWL_OK;
}

/* The dynamic loader's entry point as a file offset, for the argv probe. */
static int loader_entry(char *path, size_t n, unsigned long long *off)
{
    static const char *const cands[] = {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1",
                                        "/lib/ld-linux-armhf.so.3", "/lib/ld-linux.so.2"};
    size_t i;
    for (i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        unsigned char eh[64];
        int fd;
        char *real = realpath(cands[i], NULL);
        if (!real) continue;
        fd = open(real, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, eh, sizeof eh) == (ssize_t)sizeof eh && memcmp(eh, "\177ELF", 4) == 0 && eh[4] == 2 &&
            eh[5] == 1) { /* 64-bit little-endian */
            uint64_t entry, phoff;
            uint16_t phentsize, phnum, k;
            memcpy(&entry, eh + 24, 8);
            memcpy(&phoff, eh + 32, 8);
            memcpy(&phentsize, eh + 54, 2);
            memcpy(&phnum, eh + 56, 2);
            for (k = 0; k < phnum && phentsize >= 56; k++) {
                unsigned char ph[56];
                uint32_t type;
                uint64_t foff, vaddr, memsz;
                if (pread(fd, ph, sizeof ph, (off_t)(phoff + (uint64_t)k * phentsize)) != (ssize_t)sizeof ph) break;
                memcpy(&type, ph, 4);
                memcpy(&foff, ph + 8, 8);
                memcpy(&vaddr, ph + 16, 8);
                memcpy(&memsz, ph + 40, 8);
                if (type == 1 && entry >= vaddr && entry < vaddr + memsz) { /* PT_LOAD */
                    *off = entry - vaddr + foff;
                    snprintf(path, n, "%s", real);
                    close(fd);
                    free(real);
                    return 1;
                }
            }
        }
        if (fd >= 0) close(fd);
        free(real);
    }
    return 0;
}

static int have_uprobes(void)
{
    char *f = tracefs_get_tracing_file("uprobe_events");
    int ok = f && access(f, W_OK) == 0;
    tracefs_put_tracing_file(f);
    return ok;
}

static etwl_status create_argv_probe(tfs *t, etwl_error *err)
{
    char file[4096], fetch[4096];
    unsigned long long off;
    int i, k;
    /* without a loader to probe or uprobe support, command lines come
     * from /proc (ENOTSUP: the caller says so and goes on) */
    if (!loader_entry(file, sizeof file, &off) || !have_uprobes()) return ETWL_ENOTSUP;
    probe_group(t->cfg->name, t->probe_system, sizeof t->probe_system);
    k = snprintf(fetch, sizeof fetch, "argc=+0(%%sp):u64");
    for (i = 0; i < ETWL_ARGV_MAX; i++)
        k += snprintf(fetch + k, sizeof fetch - (size_t)k, " a%d=+0(+%d(%%sp)):ustring", i, 8 * (i + 1));
    t->argv_probe = tracefs_uprobe_alloc(t->probe_system, "argv", file, off, fetch);
    if (!t->argv_probe) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    if (tracefs_dynevent_create(t->argv_probe) < 0) {
        /* never run on silently without argv, nor on a probe that is not
         * ours (whoever made it would remove it under us) */
        int e = errno;
        tracefs_dynevent_free(t->argv_probe);
        t->argv_probe = NULL;
        return etwl_error_set(err, ETWL_EIO, "cannot create the argv uprobe %s:argv for session '%s': %s%s%s%s",
                              t->probe_system, t->cfg->name, strerror(e),
                              e == EEXIST ? "; a probe of that name is left from an earlier session, and "
                                            "'etwlua --kill "
                                          : "",
                              e == EEXIST ? t->cfg->name : "", e == EEXIST ? "' removes it" : "");
    }
    return ETWL_OK;
}

static etwl_status enable(tfs *t, const char *sys, const char *ev, etwl_error *err)
{
    if (tracefs_event_enable(t->inst, sys, ev) < 0)
        return etwl_error_set(err, ETWL_ENOTFOUND, "no tracepoint %s%s%s on this kernel (see available_events)", sys,
                              ev ? ":" : "", ev ? ev : "");
    return ETWL_OK;
}

/* Enables a tracepoint the user asked for: its events are delivered. */
static etwl_status enable_user(tfs *t, const char *sys, const char *ev, etwl_error *err)
{
    etwl_status st = enable(t, sys, ev, err);
    size_t n;
    char *spec;
    if (st || t->nspecs == (int)(sizeof t->user_specs / sizeof t->user_specs[0])) return st;
    n = strlen(sys) + (ev ? strlen(ev) + 1 : 0) + 1;
    spec = malloc(n);
    if (!spec) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    snprintf(spec, n, "%s%s%s", sys, ev ? ":" : "", ev ? ev : "");
    t->user_specs[t->nspecs++] = spec;
    return ETWL_OK;
}

/* Kernel flag names, mapped onto sensible tracepoint sets. */
static etwl_status enable_kernel_flags(tfs *t, uint32_t flags, etwl_error *err)
{
    static const struct {
        uint32_t bit;
        const char *sys, *ev;
    } map[] = {
        {0x00000001, "process", NULL},        /* process: the process provider */
        {0x00000002, "task", "task_newtask"}, /* thread */
        {0x00000002, "sched", "sched_process_exit"},
        {0x00000010, "sched", "sched_switch"},     /* cswitch */
        {0x00000080, "raw_syscalls", "sys_enter"}, /* syscall */
        {0x00000100, "block", "block_rq_issue"},   /* disk_io */
        {0x00000100, "block", "block_rq_complete"},
        {0x02000000, "syscalls", "sys_enter_openat"}, /* file_io */
        {0x02000000, "syscalls", "sys_enter_unlinkat"},
        {0x02000000, "syscalls", "sys_enter_renameat2"},
        {0x02000000, "syscalls", "sys_enter_fchmodat"},
        {0x00010000, "sock", "inet_sock_set_state"}, /* network */
        {0x00010000, "syscalls", "sys_enter_connect"},
        {0x00001000, "exceptions", "page_fault_user"}, /* page_faults */
        {0x00000040, "irq", "irq_handler_entry"},      /* interrupt */
    };
    uint32_t done = 0;
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++) {
        etwl_status st;
        if (!(flags & map[i].bit)) continue;
        done |= map[i].bit;
        if (strcmp(map[i].sys, "process") == 0) {
            t->process_provider = 1;
            continue;
        }
        st = enable_user(t, map[i].sys, map[i].ev, err);
        if (st) return st;
    }
    if (flags & ~done)
        return etwl_error_set(err, ETWL_ENOTSUP,
                              "kernel flags 0x%x have no Linux equivalent; Linux maps process, "
                              "thread, cswitch, syscall, disk_io, file_io, network, page_faults and interrupt",
                              flags & ~done);
    return ETWL_OK;
}

/* ---- the file and ptrace providers -----------------------------------------
 *
 * Syscall tracepoints, filtered in the kernel so that only calls naming a
 * watched path (or a ptrace request that touches another process) are
 * recorded: the filter reads the path argument from user memory
 * (`.ustring`), so an ordinary open never reaches the ring buffer.
 * procprov.c turns what passes into `file` and `ptrace` events.  The
 * patterns are kernel globs; the rules then match exact paths. */

/* Each family of watched paths is an instance of its own, with the same
 * syscall tracepoints under its own filter: the instance a record comes
 * from says which family it named, even when the process is gone before
 * its memory can be read for the exact path.  "write" families catch opens
 * for writing, creations and renames onto the path; "wipe" families catch
 * unlinks, truncations and O_TRUNC opens.  Basename globs also catch the
 * relative forms (cd /etc; echo >> passwd).  Families are named in events
 * as `watch`; their instances are NAME~f1 to NAME~f8. */
typedef struct watch_fam {
    const char *name;
    int wipe;
    const char *globs[8];
} watch_fam;

static const watch_fam watch_fams[] = {
    {"preload", 0, {"*ld.so.preload"}},
    {"accounts", 0, {"*passwd", "*shadow", "*group"}},
    {"sudoers", 0, {"*sudoers*"}},
    {"cron", 0, {"*cron*"}},
    {"systemd",
     0,
     {"/etc/systemd/*", "/lib/systemd/*", "/usr/lib/systemd/*", "*/.config/systemd/*", "*.service", "*.timer"}},
    {"ssh_keys", 0, {"*authorized_keys*"}},
    {"logs", 1, {"/var/log/*"}},
    {"history", 1, {"*history"}},
};
#define NFAMS ((int)(sizeof watch_fams / sizeof *watch_fams))

const char *etwl_tfs_family(int k) { return k >= 1 && k <= NFAMS ? watch_fams[k - 1].name : NULL; }

int etwl_tfs_family_match(int k, const char *path)
{
    const char *const *g;
    if (k < 1 || k > NFAMS) return 0;
    for (g = watch_fams[k - 1].globs; *g; g++)
        if (fnmatch(*g, path, 0) == 0) return 1;
    return 0;
}

static void fam_instance_name(const char *session, int k, char *out, size_t n)
{
    /* numbered, not named: a path naming an instance must not match its
     * own family's globs ("NAME~cron" would match "*cron*"); session names
     * are at most 64 bytes (name_ok), so this fits */
    if (snprintf(out, n, "%s~f%d", session, k + 1) >= (int)n) out[0] = 0;
}

#define O_WRITE_BITS 0x243 /* O_WRONLY|O_RDWR|O_CREAT|O_TRUNC */
#define O_TRUNC_BIT 0x200

static void glob_any(char *out, size_t n, const char *field, const char *const *g)
{
    size_t i, len = (size_t)snprintf(out, n, "(");
    for (i = 0; g[i] && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s.ustring ~ \"%s\"", i ? " || " : "", field, g[i]);
    if (len < n) snprintf(out + len, n - len, ")");
}

static etwl_status enable_filtered(struct tracefs_instance *in, const char *call, const char *filter, etwl_error *err)
{
    char ev[64];
    snprintf(ev, sizeof ev, "sys_enter_%s", call);
    if (!tracefs_event_file_exists(in, "syscalls", ev, "enable"))
        return etwl_error_set(err, ETWL_ENOTFOUND, "no tracepoint syscalls:%s on this kernel (see available_events)",
                              ev);
    if (filter && tracefs_event_file_write(in, "syscalls", ev, "filter", filter) < 0)
        return etwl_error_set(err, ETWL_ENOTSUP,
                              "the kernel refused the filter of syscalls:%s (filtering on user-space strings "
                              "needs Linux 6.6 or later): %s",
                              ev, strerror(errno));
    if (tracefs_event_enable(in, "syscalls", ev) < 0)
        return etwl_error_set(err, ETWL_ENOTFOUND, "cannot enable syscalls:%s: %s", ev, strerror(errno));
    return ETWL_OK;
}

/* An instance for family k, filtered to its paths. */
static etwl_status open_family(tfs *t, int k, etwl_error *err)
{
    static const char *const opens[][2] = {{"openat", "filename"}, {"open", "filename"}};
    static const char *const renames[] = {"renameat2", "renameat", "rename"};
    const watch_fam *f = &watch_fams[k];
    struct tracefs_instance *in;
    char name[128], g[1024], flt[1200];
    etwl_status st;
    int i;
    fam_instance_name(t->cfg->name, k, name, sizeof name);
    in = tracefs_instance_create(name);
    if (!in) return etwl_error_set(err, ETWL_EIO, "cannot create tracefs instance '%s': %s", name, strerror(errno));
    if (!tracefs_instance_is_new(in)) {
        tracefs_instance_free(in);
        return etwl_error_set(err, ETWL_EEXIST,
                              "tracefs instance '%s' already exists (left by a killed session? 'etwlua --kill %s' "
                              "removes it)",
                              name, t->cfg->name);
    }
    t->fam[t->nfam++] = in;
    tracefs_trace_off(in);
    if (tracefs_instance_file_write(in, "trace_clock", "boot") < 0)
        return etwl_error_set(err, ETWL_ENOTSUP, "tracefs has no 'boot' trace clock");
    tracefs_instance_set_buffer_size(in, 64, -1); /* a few events a second at most */
    for (i = 0; i < 2; i++) {
        glob_any(g, sizeof g, opens[i][1], f->globs);
        snprintf(flt, sizeof flt, "(flags & %d) && %s", f->wipe ? O_TRUNC_BIT : O_WRITE_BITS, g);
        if ((st = enable_filtered(in, opens[i][0], flt, err)) != ETWL_OK) return st;
    }
    glob_any(g, sizeof g, "pathname", f->globs);
    if ((st = enable_filtered(in, "creat", g, err)) != ETWL_OK) return st;
    if (f->wipe) {
        if ((st = enable_filtered(in, "unlinkat", g, err)) != ETWL_OK ||
            (st = enable_filtered(in, "unlink", g, err)) != ETWL_OK)
            return st;
        glob_any(g, sizeof g, "path", f->globs);
        return enable_filtered(in, "truncate", g, err);
    }
    glob_any(g, sizeof g, "newname", f->globs);
    for (i = 0; i < 3; i++)
        if ((st = enable_filtered(in, renames[i], g, err)) != ETWL_OK) return st;
    return ETWL_OK;
}

static etwl_status enable_sec_providers(tfs *t, etwl_error *err)
{
    static const char *const ours[] = {"ptrace", "process_vm_readv", "process_vm_writev", "ftruncate"};
    etwl_status st;
    size_t i;
    int k;
    for (i = 0; i < (size_t)t->nspecs; i++) {
        const char *u = t->user_specs[i];
        int clash = strcmp(u, "syscalls") == 0;
        for (k = 0; !clash && k < (int)(sizeof ours / sizeof *ours); k++)
            clash = strncmp(u, "syscalls:sys_enter_", 19) == 0 && strcmp(u + 19, ours[k]) == 0;
        if (clash) /* one filter per tracepoint and instance: ours would hide the user's events */
            return etwl_error_set(err, ETWL_EINVAL,
                                  "the file and ptrace providers filter syscalls tracepoints in the kernel, so they "
                                  "cannot share a session with -p %s; use two sessions",
                                  u);
    }
    if (t->sec & ETWL_SEC_PTRACE) {
        /* ATTACH, SEIZE and the POKEs: another process is read or changed
         * (TRACEME and the peeks of a debugger's own child are not) */
        if ((st = enable_filtered(t->inst, "ptrace",
                                  "request == 16 || request == 16902 || request == 4 || request == 5 || request == 6",
                                  err)) != ETWL_OK ||
            (st = enable_filtered(t->inst, "process_vm_readv", NULL, err)) != ETWL_OK ||
            (st = enable_filtered(t->inst, "process_vm_writev", NULL, err)) != ETWL_OK)
            return st;
    }
    if (!(t->sec & ETWL_SEC_FILE)) return ETWL_OK;
    /* an fd has no path the kernel can filter on: emptying calls only, the
     * path is checked when the event is read */
    if ((st = enable_filtered(t->inst, "ftruncate", "length == 0", err)) != ETWL_OK) return st;
    for (k = 0; k < NFAMS; k++)
        if ((st = open_family(t, k, err)) != ETWL_OK) return st;
    return ETWL_OK;
}

static etwl_status enable_process_provider(tfs *t, etwl_error *err)
{
    static const char *const evs[][2] = {{"sched", "sched_process_exec"},
                                         {"sched", "sched_process_exit"},
                                         {"task", "task_newtask"},
                                         {"syscalls", "sys_enter_exit_group"}};
    size_t i;
    etwl_status st;
    for (i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if ((st = enable(t, evs[i][0], evs[i][1], err)) != ETWL_OK) return st;
    st = create_argv_probe(t, err);
    if (st == ETWL_OK) return enable(t, t->probe_system, "argv", err);
    if (st == ETWL_ENOTSUP && t->base.diag)
        t->base.diag("tracefs", "no uprobe at the dynamic loader: command lines come from /proc", t->base.diag_user);
    return st == ETWL_ENOTSUP ? ETWL_OK : st;
}

static void destroy(etwl_source *s)
{
    tfs *t = (tfs *)s;
    int i;
    if (!t) return;
    if (t->inst) {
        tracefs_trace_off(t->inst);
        tracefs_event_disable(t->inst, NULL, NULL);
    }
    for (i = 0; i < t->nfam; i++) {
        tracefs_trace_off(t->fam[i]);
        tracefs_event_disable(t->fam[i], NULL, NULL);
    }
    for (i = 0; i < t->nrd && t->cpus; i++) {
        int k;
        if (t->cpus[i].tc) tracefs_cpu_close(t->cpus[i].tc);
        if (t->cpus[i].kb) kbuffer_free(t->cpus[i].kb);
        for (k = 0; k < MAX_PAGES; k++) free(t->cpus[i].pages[k].data);
        free(t->cpus[i].pend);
    }
    free(t->cpus);
    if (t->inst) { /* the session must not outlive us */
        tracefs_instance_destroy(t->inst);
        tracefs_instance_free(t->inst);
    }
    for (i = 0; i < t->nfam; i++) {
        tracefs_instance_destroy(t->fam[i]);
        tracefs_instance_free(t->fam[i]);
    }
    if (t->argv_probe) {
        tracefs_dynevent_destroy(t->argv_probe, true);
        tracefs_dynevent_free(t->argv_probe);
    }
    if (t->owns_state) {
        char path[256];
        state_path(t->cfg->name, path, sizeof path);
        unlink(path);
    }
    for (i = 0; i < t->nids; i++) etwl_schema_free(t->schemas ? t->schemas[i] : NULL);
    free(t->schemas);
    free(t->wanted);
    if (t->tep) tep_free(t->tep);
    for (i = 0; i < t->nspecs; i++) free(t->user_specs[i]);
    etwl_procprov_free(t->pp);
    etwl_event_release(&t->ev);
    if (t->wake[0] >= 0) close(t->wake[0]);
    if (t->wake[1] >= 0) close(t->wake[1]);
    free(t);
}

/* the process provider's events (procprov.c) */
static etwl_status emit_cb(etwl_event *ev, void *ctx)
{
    tfs *t = ctx;
    const etwl_header *h = etwl_event_header(ev);
    if (t->base.closing) return ETWL_ESTOPPED;
    if (!t->process_provider && h->provider_name_len == 7 && memcmp(h->provider_name, "process", 7) == 0)
        return ETWL_OK; /* built only to name the process of file/ptrace events */
    etwl_source_read(&t->base);
    return etwl_source_deliver(&t->base, ev);
}

static etwl_status tfs_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    tfs *t;
    etwl_status st;
    struct timespec rt, bt;
    int i, want_all = cfg->nproviders == 0 && cfg->kernel_flags == 0;
    if (cfg->record_path)
        return etwl_error_set(err, ETWL_ENOTSUP,
                              "recording to .etl needs Windows (ETW); on Linux, record JSON lines: "
                              "etwlua --dump --json > FILE.jsonl");
    if ((st = need_tracefs(err)) != ETWL_OK) return st;
    if (!name_ok(cfg->name))
        return etwl_error_set(err, ETWL_EINVAL, "session name '%s': use letters, digits, '_', '-' or '.'", cfg->name);
    t = calloc(1, sizeof *t);
    if (!t) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    t->cfg = cfg;
    t->wake[0] = t->wake[1] = -1;
    etwl_event_init(&t->ev);
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    t->boot_ft = etwl_time_from_unix_ns(((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec));
    t->inst = tracefs_instance_create(cfg->name);
    if (!t->inst) {
        st = etwl_error_set(err, ETWL_EIO, "cannot create tracefs instance '%s': %s", cfg->name, strerror(errno));
        goto fail;
    }
    if (!tracefs_instance_is_new(t->inst)) {
        /* someone else's session: never reuse or remove it */
        tracefs_instance_free(t->inst);
        t->inst = NULL;
        st = etwl_error_set(err, ETWL_EEXIST, "session '%s' already exists (tracefs instance %s/instances/%s)",
                            cfg->name, tracefs_tracing_dir(), cfg->name);
        goto fail;
    }
    tracefs_trace_off(t->inst);
    state_write(cfg->name);
    t->owns_state = 1;
    if (tracefs_instance_file_write(t->inst, "trace_clock", "boot") < 0) {
        st = etwl_error_set(err, ETWL_ENOTSUP, "tracefs has no 'boot' trace clock");
        goto fail;
    }
    if (cfg->buffer_kb && tracefs_instance_set_buffer_size(t->inst, cfg->buffer_kb, -1) < 0) {
        st = etwl_error_set(err, ETWL_EINVAL, "cannot set the buffer size to %zu KB per CPU", cfg->buffer_kb);
        goto fail;
    }
    if (cfg->enable_props & ETWL_ENABLE_STACK_TRACE) tracefs_option_enable(t->inst, TRACEFS_OPTION_STACKTRACE);
    for (i = 0; i < cfg->nproviders; i++) {
        const char *n = cfg->providers[i].name;
        char sys[256], *colon;
        if (!n[0]) {
            st = etwl_error_set(err, ETWL_EINVAL, "tracefs providers are named system or system:event, not GUIDs");
            goto fail;
        }
        if (strcmp(n, "process") == 0) {
            t->process_provider = 1;
            continue;
        }
        if (strcmp(n, "file") == 0 || strcmp(n, "ptrace") == 0) {
            t->sec |= n[0] == 'f' ? ETWL_SEC_FILE : ETWL_SEC_PTRACE;
            continue;
        }
        snprintf(sys, sizeof sys, "%s", n);
        colon = strchr(sys, ':');
        if (colon) *colon = 0;
        if ((st = enable_user(t, sys, colon ? colon + 1 : NULL, err)) != ETWL_OK) goto fail;
    }
    if ((st = enable_kernel_flags(t, cfg->kernel_flags, err)) != ETWL_OK) goto fail;
    if (want_all) { /* the default: process, file and ptrace events */
        t->process_provider = 1;
        t->sec = ETWL_SEC_FILE | ETWL_SEC_PTRACE;
    }
    /* file and ptrace events name their process from the process table,
     * so they run the process provider too (its events then stay inside) */
    if (t->process_provider || t->sec) {
        t->pp = etwl_procprov_new(emit_cb, t);
        if (!t->pp) {
            st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
            goto fail;
        }
        if ((st = enable_process_provider(t, err)) != ETWL_OK) goto fail;
        if (t->sec) {
            etwl_procprov_set_sec(t->pp, t->sec);
            if ((st = enable_sec_providers(t, err)) != ETWL_OK) goto fail;
        }
    }
    t->tep = tracefs_local_events(NULL);
    if (!t->tep) {
        st = etwl_error_set(err, ETWL_EIO, "cannot read the tracefs event formats");
        goto fail;
    }
    if (cfg->enable_props & ETWL_ENABLE_STACK_TRACE) {
        struct tep_event *ks = tep_find_event_by_name(t->tep, "ftrace", "kernel_stack");
        if (ks) t->stack_id = ks->id;
    }
    t->ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
    t->nrd = t->ncpu * (1 + t->nfam);
    t->cpus = calloc((size_t)t->nrd, sizeof *t->cpus);
    if (!t->cpus) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < t->nrd; i++) {
        t->cpus[i].tc = tracefs_cpu_open(i < t->ncpu ? t->inst : t->fam[i / t->ncpu - 1], i % t->ncpu, true);
        if (!t->cpus[i].tc) continue; /* an offline CPU */
        t->page_size = tracefs_cpu_read_size(t->cpus[i].tc);
        t->cpus[i].kb = kbuffer_alloc(sizeof(long) == 8 ? KBUFFER_LSIZE_8 : KBUFFER_LSIZE_4, KBUFFER_ENDIAN_LITTLE);
        if (!t->cpus[i].kb) {
            st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (pipe(t->wake) != 0) {
        st = etwl_error_set(err, ETWL_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    fcntl(t->wake[1], F_SETFL, O_NONBLOCK);
    /* capture from here on: what happens during the rundown waits in the
     * ring buffers, so "started" means nothing is missed after it */
    for (i = 0; i < t->nfam; i++) tracefs_trace_on(t->fam[i]);
    tracefs_trace_on(t->inst);
    *out = &t->base;
    return ETWL_OK;
fail:
    destroy(&t->base);
    return st;
}

/* ---- reading ---------------------------------------------------------------- */

static etwl_schema *schema_for(tfs *t, struct tep_event *e)
{
    if (e->id < 0 || e->id > 65535) return NULL;
    if (e->id >= t->nids) {
        int n = e->id + 64;
        etwl_schema **s = realloc(t->schemas, (size_t)n * sizeof *s);
        uint8_t *w;
        if (!s) return NULL;
        t->schemas = s;
        w = realloc(t->wanted, (size_t)n);
        if (!w) return NULL;
        t->wanted = w;
        memset(s + t->nids, 0, (size_t)(n - t->nids) * sizeof *s);
        memset(w + t->nids, 0xFF, (size_t)(n - t->nids)); /* 0xFF: not decided yet */
        t->nids = n;
    }
    if (!t->schemas[e->id]) etwl_tfs_schema(e, &t->schemas[e->id], NULL);
    if (t->wanted[e->id] == 0xFF) {
        /* delivered when the user asked for it; events enabled only to
         * build process events stay inside */
        int wanted = 0, i;
        size_t sl = strlen(e->system);
        for (i = 0; i < t->nspecs; i++) {
            const char *n = t->user_specs[i];
            if (strcmp(n, e->system) == 0 ||
                (strncmp(n, e->system, sl) == 0 && n[sl] == ':' && strcmp(n + sl + 1, e->name) == 0))
                wanted = 1;
        }
        t->wanted[e->id] = (uint8_t)wanted;
    }
    return t->schemas[e->id];
}

/* One ring-buffer record into the event; then the process provider. */
/* rd is the reader: its CPU, and its instance (0 the main one, k file family k). */
static etwl_status deliver(tfs *t, int rd, void *data, unsigned size, unsigned long long ts)
{
    int cpu = rd % t->ncpu, fam = rd / t->ncpu;
    struct tep_event *e;
    etwl_event *ev = &t->ev;
    etwl_schema *s;
    uint16_t type;
    int32_t tid;
    etwl_status st = ETWL_OK;
    if (size < 8) return ETWL_OK;
    memcpy(&type, data, 2);
    memcpy(&tid, (char *)data + 4, 4);
    e = tep_find_event(t->tep, type);
    if (!e) {
        t->unknown++;
        return ETWL_OK;
    }
    s = schema_for(t, e);
    etwl_event_begin(ev);
    ev->hdr.provider_name = e->system;
    ev->hdr.provider_name_len = (uint32_t)strlen(e->system);
    ev->hdr.event_name = e->name;
    ev->hdr.event_name_len = (uint32_t)strlen(e->name);
    ev->hdr.has = ETWL_HAS_PROVIDER_NAME | ETWL_HAS_EVENT_NAME | ETWL_HAS_PROCESSOR;
    ev->hdr.desc.id = type;
    ev->hdr.desc.level = ETWL_LEVEL_INFORMATION;
    ev->hdr.tid = (uint32_t)tid;
    ev->hdr.pid = t->pp ? etwl_procprov_tgid(t->pp, (uint32_t)tid) : (uint32_t)tid;
    ev->hdr.processor = (uint32_t)cpu;
    ev->hdr.ts = t->boot_ft + (int64_t)(ts / 100);
    ev->hdr.flags = sizeof(void *) == 8 ? ETWL_HDR_FLAG_64_BIT_HEADER : ETWL_HDR_FLAG_32_BIT_HEADER;
    if (s) etwl_event_set_payload(ev, s, data, size);
    if (t->stack) { /* from the kernel_stack record that followed it */
        ev->ext.has |= ETWL_EXT_STACKTRACE;
        ev->ext.stack.matched_id = 0;
        ev->ext.stack.addresses = t->stack + 1;
        ev->ext.stack.count = (uint32_t)t->stack[0];
    }
    /* after a stop request no record is read: read = passed + filtered
     * holds at the end (--stats) */
    if (t->base.closing) return ETWL_ESTOPPED;
    etwl_source_read(&t->base);
    /* a family's records are file events only, never the user's syscalls */
    if (s && !fam && t->wanted[e->id]) {
        if ((st = etwl_source_deliver(&t->base, ev)) != ETWL_OK) return st;
    } else {
        /* read for the process table or a family's file event, not asked
         * for as it is: filtered out */
        t->base.st.filtered++;
    }
    if (t->pp) {
        etwl_procprov_set_watch(t->pp, fam);
        st = etwl_procprov_feed(t->pp, ev, ev->hdr.ts);
        etwl_procprov_set_watch(t->pp, 0);
    }
    return st;
}

static void poll_losses(tfs *t)
{
    int i;
    uint64_t lost = 0;
    for (i = 0; i < t->nrd; i++) {
        char file[64], *txt, *p;
        snprintf(file, sizeof file, "per_cpu/cpu%d/stats", i % t->ncpu);
        txt = tracefs_instance_file_read(i < t->ncpu ? t->inst : t->fam[i / t->ncpu - 1], file, NULL);
        if (!txt) continue;
        /* overrun: events overwritten; dropped events: refused when full */
        if ((p = strstr(txt, "overrun:"))) lost += strtoull(p + 8, NULL, 10);
        if ((p = strstr(txt, "dropped events:"))) lost += strtoull(p + 15, NULL, 10);
        free(txt);
    }
    if (lost > t->lost) t->lost = lost;
}

static int read_round(tfs *t)
{
    int i, got = 0;
    for (i = 0; i < t->nrd; i++) {
        cpu_rd *c = &t->cpus[i];
        c->npages = c->cur = 0;
        c->rec = NULL;
        if (!c->tc) continue;
        while (c->npages < MAX_PAGES) {
            page *pg = &c->pages[c->npages];
            int n;
            if (!pg->data && !(pg->data = malloc((size_t)t->page_size))) break;
            n = tracefs_cpu_read(c->tc, pg->data, true);
            if (n <= 0) break;
            pg->len = n;
            c->npages++;
            got = 1;
        }
        /* position on the first record */
        while (c->cur < c->npages) {
            kbuffer_load_subbuffer(c->kb, c->pages[c->cur].data);
            c->rec = kbuffer_read_event(c->kb, &c->ts);
            if (c->rec) break;
            c->cur++;
        }
    }
    return got;
}

static void advance(cpu_rd *c)
{
    c->rec = kbuffer_next_event(c->kb, &c->ts);
    while (!c->rec && ++c->cur < c->npages) {
        kbuffer_load_subbuffer(c->kb, c->pages[c->cur].data);
        c->rec = kbuffer_read_event(c->kb, &c->ts);
    }
}

static int is_type(const void *rec, unsigned size, int id)
{
    uint16_t type;
    if (size < 2) return 0;
    memcpy(&type, rec, 2);
    return type == id;
}

/* When the record at c is the kernel_stack that followed an event, it
 * becomes that event's stack (t->stack) and is consumed. */
static void take_stack(tfs *t, cpu_rd *c, uint64_t *stackbuf)
{
    unsigned ssz = (unsigned)kbuffer_event_size(c->kb);
    int32_t n = 0;
    if (!is_type(c->rec, ssz, t->stack_id)) return;
    if (ssz >= 16) memcpy(&n, (char *)c->rec + 8, 4);
    if (n < 0) n = 0;
    if (ssz < 16 || (unsigned)n > (ssz - 16) / 8) n = ssz < 16 ? 0 : (int32_t)((ssz - 16) / 8);
    if (n > 64) n = 64;
    stackbuf[0] = (uint64_t)n;
    memcpy(stackbuf + 1, (char *)c->rec + 16, (size_t)n * 8);
    t->stack = stackbuf;
    advance(c);
}

static etwl_status tfs_process(etwl_source *s, etwl_error *err)
{
    tfs *t = (tfs *)s;
    etwl_status st = ETWL_OK;
    if (t->pp && (st = etwl_procprov_rundown(t->pp, now_ft(t))) != ETWL_OK) goto done;
    t->next_stats = now_ft(t);
    while (!t->base.closing) {
        int got = read_round(t);
        /* k-way merge by timestamp across CPUs */
        int64_t now = now_ft(t);
        for (;;) {
            int i, best = -1;
            void *rec;
            unsigned size;
            unsigned long long ts;
            uint64_t stackbuf[65];
            for (i = 0; i < t->nrd; i++) {
                cpu_rd *c = &t->cpus[i];
                unsigned long long head;
                if (c->pend_size) {
                    /* its stack is written right after it; a later round reads it */
                    if (!c->rec && now < c->pend_until) continue;
                    head = c->pend_ts;
                } else if (c->rec) {
                    head = c->ts;
                } else {
                    continue;
                }
                if (best < 0 || head < (t->cpus[best].pend_size ? t->cpus[best].pend_ts : t->cpus[best].ts)) best = i;
            }
            if (best < 0) break;
            t->stack = NULL;
            if (t->cpus[best].pend_size) {
                cpu_rd *c = &t->cpus[best];
                if (c->rec) take_stack(t, c, stackbuf);
                st = deliver(t, best, c->pend, c->pend_size, c->pend_ts);
                c->pend_size = 0;
                t->stack = NULL;
                if (st) goto done;
                continue;
            }
            rec = t->cpus[best].rec;
            size = (unsigned)kbuffer_event_size(t->cpus[best].kb);
            ts = t->cpus[best].ts;
            advance(&t->cpus[best]); /* pages stay valid for the whole round */
            if (t->stack_id && !t->cpus[best].rec && !is_type(rec, size, t->stack_id)) {
                /* the last record of this round: keep it for its stack */
                cpu_rd *c = &t->cpus[best];
                if (size > c->pend_cap) {
                    char *b = realloc(c->pend, size);
                    if (!b) {
                        st = ETWL_ENOMEM;
                        goto done;
                    }
                    c->pend = b;
                    c->pend_cap = size;
                }
                memcpy(c->pend, rec, size);
                c->pend_size = size;
                c->pend_ts = ts;
                c->pend_until = now_ft(t) + PEND_WAIT;
                continue;
            }
            if (t->stack_id && t->cpus[best].rec) take_stack(t, &t->cpus[best], stackbuf);
            st = deliver(t, best, rec, size, ts);
            t->stack = NULL;
            if (st) goto done;
        }
        if (t->pp && (st = etwl_procprov_flush(t->pp, now_ft(t), 0)) != ETWL_OK) goto done;
        if (now_ft(t) >= t->next_stats) {
            poll_losses(t);
            t->next_stats = now_ft(t) + STATS_EVERY_NS / 100;
            /* only --kill turns tracing off while we run: stop and clean up */
            if (tracefs_trace_is_on(t->inst) == 0) break;
        }
        if (!got) {
            struct pollfd pf = {t->wake[0], POLLIN, 0};
            poll(&pf, 1, IDLE_MS);
        }
    }
done:
    /* events still waiting for a stack go without one rather than nowhere */
    for (int i = 0; st == ETWL_OK && i < t->nrd; i++)
        if (t->cpus[i].pend_size) {
            st = deliver(t, i, t->cpus[i].pend, t->cpus[i].pend_size, t->cpus[i].pend_ts);
            t->cpus[i].pend_size = 0;
        }
    tracefs_trace_off(t->inst);
    for (int i = 0; i < t->nfam; i++) tracefs_trace_off(t->fam[i]);
    poll_losses(t);
    if (t->pp && st == ETWL_OK) st = etwl_procprov_flush(t->pp, now_ft(t), 1);
    /* a stop the callback asked for, or a stop request: the session says which */
    if (t->base.cb_status || st == ETWL_ESTOPPED) return st;
    return st ? etwl_error_set(err, st, "tracefs session stopped: %s", etwl_status_name(st)) : ETWL_OK;
}

static void tfs_close(etwl_source *s)
{
    tfs *t = (tfs *)s;
    if (t->wake[1] >= 0) {
        ssize_t n = write(t->wake[1], "x", 1);
        (void)n;
    }
}

/* Removes the argv probe a session made, if it is there. */
static int remove_probe(const char *name)
{
    char sys[64];
    struct tracefs_dynevent *d;
    probe_group(name, sys, sizeof sys);
    d = tracefs_dynevent_get(TRACEFS_DYNEVENT_UPROBE, sys, "argv");
    if (!d) return 0;
    tracefs_dynevent_destroy(d, true);
    tracefs_dynevent_free(d);
    return 1;
}

/* Removes the file-family instances of a session, if they are there. */
static int remove_families(const char *name)
{
    int k, had = 0;
    for (k = 0; k < NFAMS; k++) {
        char fn[128];
        struct tracefs_instance *in;
        fam_instance_name(name, k, fn, sizeof fn);
        if (!tracefs_instance_exists(fn) || !(in = tracefs_instance_alloc(NULL, fn))) continue;
        tracefs_trace_off(in);
        tracefs_event_disable(in, NULL, NULL);
        had |= tracefs_instance_destroy(in) == 0;
        tracefs_instance_free(in);
    }
    return had;
}

static etwl_status tfs_kill(const char *name, etwl_error *err)
{
    struct tracefs_instance *inst;
    etwl_status st = need_tracefs(err);
    char path[256];
    int i;
    if (st) return st;
    if (!name_ok(name)) return etwl_error_set(err, ETWL_EINVAL, "'%s' is not a session name", name);
    state_path(name, path, sizeof path);
    if (!tracefs_instance_exists(name)) {
        /* an instance removed by hand can leave its probe and state */
        int had = remove_probe(name);
        had |= remove_families(name);
        had |= unlink(path) == 0;
        return had ? ETWL_OK : etwl_error_set(err, ETWL_ENOTFOUND, "no session named '%s'", name);
    }
    inst = tracefs_instance_alloc(NULL, name);
    if (!inst) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    /* a running etwlua notices tracing go off, stops and removes its own
     * instance; give it a moment, then remove what is left ourselves */
    tracefs_trace_off(inst);
    for (i = 0; i < 40 && tracefs_instance_exists(name); i++) usleep(50000);
    if (tracefs_instance_exists(name)) {
        tracefs_event_disable(inst, NULL, NULL);
        if (tracefs_instance_destroy(inst) < 0) {
            tracefs_instance_free(inst);
            return etwl_error_set(err, ETWL_EIO, "cannot remove instance '%s': %s", name, strerror(errno));
        }
    }
    tracefs_instance_free(inst);
    /* and the argv probe, family instances and owner record that session
     * left, if any */
    remove_probe(name);
    remove_families(name);
    unlink(path);
    return ETWL_OK;
}

/* The sessions etwlua made: instances with an owner record. */
static etwl_status tfs_list(etwl_session_list_fn fn, void *user, etwl_error *err)
{
    etwl_status st = need_tracefs(err);
    DIR *d;
    struct dirent *e;
    if (st) return st;
    if (!(d = opendir(STATE_DIR))) return ETWL_OK; /* none yet */
    while ((e = readdir(d))) {
        etwl_session_info si;
        struct tracefs_instance *inst;
        char *on;
        if (!name_ok(e->d_name) || strstr(e->d_name, ".tmp") || !tracefs_instance_exists(e->d_name)) continue;
        memset(&si, 0, sizeof si);
        si.name = e->d_name;
        si.owner_pid = state_owner(e->d_name, &si.owner_alive);
        inst = tracefs_instance_alloc(NULL, e->d_name);
        on = inst ? tracefs_instance_file_read(inst, "tracing_on", NULL) : NULL;
        si.recording = on && on[0] == '1';
        free(on);
        tracefs_instance_free(inst);
        fn(&si, user);
    }
    closedir(d);
    return ETWL_OK;
}

static void tfs_stats(etwl_source *s, etwl_stats *out) { out->lost = ((tfs *)s)->lost; }

/* live only: the kernel selects the events (tracepoints enabled per
 * provider), so delivery does not select again */
const etwl_source_ops etwl_tracefs_source = {
    .name = "tracefs",
    .open = tfs_open,
    .process = tfs_process,
    .close = tfs_close,
    .kill = tfs_kill,
    .list = tfs_list,
    .stats = tfs_stats,
    .destroy = destroy,
    .flags = ETWL_SOURCE_LIVE | ETWL_SOURCE_SELECTS,
};
