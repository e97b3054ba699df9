/* traceevent_kernel.c - NT kernel logger events as TraceEvent's kernel
 * parser presents them, for `--dump --format traceevent`.
 *
 * etwlua's own properties follow Microsoft's MOF documentation (kmof.c);
 * TraceEvent shows the same events its own way, and the baselines record
 * that way.  So this file is presentation only:
 *   - each shown event has a view: TraceEvent's field names and order, and
 *     how each value is made from etwlua's properties (renamed, retyped,
 *     flag names, times, paths with drive letters);
 *   - the header is "fixed up" as TraceEvent does: a process event reports
 *     the process it is about, a disk I/O the thread that issued it and that
 *     thread's process, and so on;
 *   - state that TraceEvent's TraceLog has when it prints an event: process
 *     names, file names by file object and time, disk completion times, the
 *     NT-to-DOS drive mapping (from a first pass over the whole trace), and
 *     which process owns a thread (in event order, as TraceLog converts);
 *   - events TraceLog absorbs into its tables and never shows (thread and
 *     file rundown, samples of an idle processor) are not shown.
 * Nothing here changes what scripts see. */
#include "output/traceevent/traceevent_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/bytes.h"
#include "core/event.h"
#include "util/grow.h"
#include "etwfmt/kclass.h"
#include "output/output.h"

/* ---- state ---------------------------------------------------------------- */

typedef struct tek_proc {
    int32_t pid;
    char name[64];
} tek_proc;

typedef struct tek_file { /* one name of a file object from a point in time */
    uint64_t key;
    int64_t start;
    uint32_t seq, name; /* arrival order; offset of the name in names */
} tek_file;

typedef struct tek_disk {
    int64_t ts;
    uint32_t disk;
} tek_disk;

typedef struct tek_map { /* kernel path prefix -> DOS prefix */
    uint32_t from, to;   /* offsets in names */
} tek_map;

typedef struct tek_tmap { /* thread id -> process id, open addressing */
    uint32_t *tid;        /* tid + 1; 0 is a free slot */
    int32_t *pid;
    uint32_t mask, n;
} tek_tmap;

typedef struct tek_threads { /* started threads; threads seen only ending */
    tek_tmap started, ended;
} tek_threads;

struct etwl_tek {
    tek_proc *procs;
    uint32_t nprocs, capprocs;
    tek_file *files;
    uint32_t nfiles, capfiles;
    tek_disk *disks;
    uint32_t ndisks, capdisks;
    tek_map *maps;
    uint32_t nmaps, capmaps;
    tek_threads now, all; /* in event order, as TraceLog converts; over the whole trace */
    etwl_buf names;       /* NUL-terminated strings the tables point into */
    char system_drive[8]; /* "C:" once SystemPaths is seen */
    int64_t t0, freq;     /* first timestamp; QPC ticks per second */
    int have_t0;
};

/* One more element in *p; the tables are lookup aids, bounded. */
static int grow(void *p, uint32_t n, uint32_t *cap, size_t sz) { return etwl_grow(p, n, 1, cap, sz, 1u << 26); }

static uint32_t keep(etwl_tek *k, const char *s, size_t n)
{
    uint32_t at = (uint32_t)k->names.len;
    etwl_buf_put(&k->names, s, n);
    etwl_buf_putc(&k->names, 0);
    return at;
}

static const char *str(const etwl_tek *k, uint32_t at) { return k->names.data + at; }

etwl_tek *etwl_tek_new(void)
{
    etwl_tek *k = calloc(1, sizeof *k);
    if (k) etwl_buf_init(&k->names);
    return k;
}

static void threads_free(tek_threads *t)
{
    free(t->started.tid);
    free(t->started.pid);
    free(t->ended.tid);
    free(t->ended.pid);
}

void etwl_tek_free(etwl_tek *k)
{
    if (!k) return;
    free(k->procs);
    free(k->files);
    free(k->disks);
    free(k->maps);
    threads_free(&k->now);
    threads_free(&k->all);
    etwl_buf_free(&k->names);
    free(k);
}

/* ---- property access -------------------------------------------------------- */

static int num(etwl_event *ev, const char *name, uint64_t *out)
{
    const etwl_value *v = etwl_event_get(ev, name);
    if (!v) return 0;
    switch (v->type) {
    case ETWL_VT_INT:
    case ETWL_VT_UINT:
    case ETWL_VT_HEX:
    case ETWL_VT_TIME:
    case ETWL_VT_BOOL: *out = v->v.u; return 1;
    default: return 0;
    }
}

static uint64_t u(etwl_event *ev, const char *name)
{
    uint64_t x = 0;
    num(ev, name, &x);
    return x;
}

static int text(etwl_event *ev, const char *name, const char **s, uint32_t *n)
{
    const etwl_value *v = etwl_event_get(ev, name);
    if (!v || v->type != ETWL_VT_STRING) return 0;
    *s = v->v.s;
    *n = v->n;
    return 1;
}

static uint32_t *tmap_slot(const tek_tmap *m, uint32_t tid)
{
    uint32_t h = (tid * 2654435761u) & m->mask;
    while (m->tid[h] && m->tid[h] != tid + 1) h = (h + 1) & m->mask;
    return &m->tid[h];
}

static int tmap_get(const tek_tmap *m, uint32_t tid, int32_t *pid)
{
    uint32_t *t;
    if (!m->n) return 0;
    t = tmap_slot(m, tid);
    if (!*t) return 0;
    *pid = m->pid[t - m->tid];
    return 1;
}

/* Sets tid's process (the latest wins); a table that cannot grow keeps
 * what it has: these are lookup aids. */
static void tmap_put(tek_tmap *m, uint32_t tid, int32_t pid)
{
    uint32_t *t;
    if ((m->n + 1) * 2 > m->mask + 1 || !m->tid) {
        tek_tmap g;
        uint32_t i, cap = m->tid ? (m->mask + 1) * 2 : 256;
        if (cap > (1u << 24)) return;
        g.tid = calloc(cap, sizeof *g.tid);
        g.pid = calloc(cap, sizeof *g.pid);
        if (!g.tid || !g.pid) {
            free(g.tid);
            free(g.pid);
            return;
        }
        g.mask = cap - 1;
        g.n = m->n;
        for (i = 0; m->tid && i <= m->mask; i++)
            if (m->tid[i]) {
                uint32_t *d = tmap_slot(&g, m->tid[i] - 1);
                *d = m->tid[i];
                g.pid[d - g.tid] = m->pid[i];
            }
        free(m->tid);
        free(m->pid);
        *m = g;
    }
    t = tmap_slot(m, tid);
    if (!*t) {
        *t = tid + 1;
        m->n++;
    }
    m->pid[t - m->tid] = pid;
}

/* Which process a thread belongs to: its latest start, else its end. */
static int32_t thread_pid(const tek_threads *t, uint32_t tid)
{
    int32_t pid;
    if (tmap_get(&t->started, tid, &pid) || tmap_get(&t->ended, tid, &pid)) return pid;
    return -1;
}

/* Thread starts and rundown, and ends of threads never seen starting. */
static void track_thread(tek_threads *t, etwl_event *ev)
{
    uint8_t op = etwl_event_header(ev)->desc.opcode;
    uint32_t tid = (uint32_t)u(ev, "TThreadId");
    int32_t pid = (int32_t)u(ev, "ProcessId");
    if (op == 1 || op == 3) tmap_put(&t->started, tid, pid);
    if ((op == 2 || op == 4) && thread_pid(t, tid) == -1) tmap_put(&t->ended, tid, pid);
}

/* ---- the first pass ------------------------------------------------------- */

static void learn_proc(etwl_tek *k, etwl_event *ev)
{
    const char *img, *dot;
    uint32_t n, i;
    uint64_t pid;
    tek_proc *p = NULL;
    if (!num(ev, "ProcessId", &pid) || !text(ev, "ImageFileName", &img, &n) || n == 0) return;
    for (i = 0; i < k->nprocs; i++)
        if (k->procs[i].pid == (int32_t)pid) p = &k->procs[i];
    if (!p) {
        if (!grow(&k->procs, k->nprocs, &k->capprocs, sizeof *k->procs)) return;
        p = &k->procs[k->nprocs++];
        p->pid = (int32_t)pid;
    }
    /* the file name without its extension, as TraceLog names processes */
    if (n >= sizeof p->name) n = sizeof p->name - 1;
    memcpy(p->name, img, n);
    p->name[n] = 0;
    if ((dot = strrchr(p->name, '.')) && dot != p->name) p->name[dot - p->name] = 0;
}

static void learn_file(etwl_tek *k, etwl_event *ev, int64_t ts)
{
    const char *s;
    uint32_t n;
    uint64_t key;
    tek_file *f;
    if (!num(ev, "FileObject", &key) || !text(ev, "FileName", &s, &n)) return;
    if (!grow(&k->files, k->nfiles, &k->capfiles, sizeof *k->files)) return;
    f = &k->files[k->nfiles];
    f->key = key;
    f->start = ts;
    f->seq = k->nfiles++;
    f->name = keep(k, s, n);
    /* a rundown name (FileDelete, FileRundown) is marked by a negative
     * start until the table is ordered: it only counts where nothing earlier
     * names the object, and then from the beginning of the trace */
    if (etwl_event_header(ev)->desc.opcode == 35 || etwl_event_header(ev)->desc.opcode == 36) f->start = -1;
}

static void learn_map(etwl_tek *k, const char *from, uint32_t fn, const char *to, uint32_t tn)
{
    if (!grow(&k->maps, k->nmaps, &k->capmaps, sizeof *k->maps)) return;
    k->maps[k->nmaps].from = keep(k, from, fn);
    k->maps[k->nmaps].to = keep(k, to, tn);
    k->nmaps++;
}

etwl_status etwl_tek_learn(etwl_tek *k, etwl_event *ev)
{
    const etwl_header *h = etwl_event_header(ev);
    const char *a, *b;
    uint32_t an, bn;
    if (!k->have_t0) {
        k->t0 = h->ts;
        k->have_t0 = 1;
    }
    if (!(h->flags & ETWL_HDR_FLAG_CLASSIC_HEADER)) return ETWL_OK;
    switch (etwl_kclass_of_guid(&h->provider_guid)) {
    case ETWL_KC_EVENTTRACE:
        if (h->desc.opcode == 0 && !k->freq) k->freq = (int64_t)u(ev, "PerfFreq");
        break;
    case ETWL_KC_PROCESS:
        /* TraceLog names a process from its start, end and rundown; a
         * defunct record alone leaves it "Process(N)" */
        if (h->desc.opcode >= 1 && h->desc.opcode <= 4) learn_proc(k, ev);
        break;
    case ETWL_KC_THREAD: track_thread(&k->all, ev); break;
    case ETWL_KC_FILEIO:
        if (h->desc.opcode == 0 || h->desc.opcode == 32 || h->desc.opcode == 35 || h->desc.opcode == 36)
            learn_file(k, ev, h->ts);
        break;
    case ETWL_KC_DISKIO:
        if ((h->desc.opcode == 10 || h->desc.opcode == 11 || h->desc.opcode == 14) &&
            grow(&k->disks, k->ndisks, &k->capdisks, sizeof *k->disks)) {
            k->disks[k->ndisks].ts = h->ts;
            k->disks[k->ndisks++].disk = (uint32_t)u(ev, "DiskNumber");
        }
        break;
    case ETWL_KC_SYSCONFIGEX:
        if (h->desc.opcode == 35 && text(ev, "NtPath", &a, &an) && text(ev, "DosPath", &b, &bn))
            learn_map(k, a, an, b, bn);
        if (h->desc.opcode == 33 && text(ev, "SystemWindowsDirectory", &b, &bn) && bn >= 2) {
            learn_map(k, "\\Windows\\", 9, b, bn);
            memcpy(k->system_drive, b, 2);
            k->system_drive[2] = 0;
        }
        break;
    default: break;
    }
    return k->names.oom ? ETWL_ENOMEM : ETWL_OK;
}

static int by_key_seq(const void *x, const void *y)
{
    const tek_file *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int by_key_start(const void *x, const void *y)
{
    const tek_file *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

etwl_status etwl_tek_learned(etwl_tek *k)
{
    uint32_t i, j = 0;
    if (!k->nfiles) return k->names.oom ? ETWL_ENOMEM : ETWL_OK;
    /* per object, in arrival order: a rundown name first counts from the
     * start; a rundown name after others is dropped */
    qsort(k->files, k->nfiles, sizeof *k->files, by_key_seq);
    for (i = 0; i < k->nfiles; i++) {
        int first = i == 0 || k->files[i - 1].key != k->files[i].key;
        if (k->files[i].start < 0) {
            if (!first) continue;
            k->files[i].start = 0;
        }
        k->files[j++] = k->files[i];
    }
    k->nfiles = j;
    qsort(k->files, k->nfiles, sizeof *k->files, by_key_start);
    return k->names.oom ? ETWL_ENOMEM : ETWL_OK;
}

/* ---- lookups -------------------------------------------------------------- */

static const char *file_name(const etwl_tek *k, uint64_t key, int64_t ts)
{
    uint32_t lo = 0, hi = k->nfiles;
    const char *name = "";
    while (lo < hi) { /* the first entry of the key */
        uint32_t mid = lo + (hi - lo) / 2;
        if (k->files[mid].key < key) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < k->nfiles && k->files[lo].key == key && k->files[lo].start <= ts; lo++)
        name = str(k, k->files[lo].name);
    return name;
}

/* TraceEvent's KernelToUser: the first matching prefix of the drive
 * mapping, else the system drive before a rooted path. */
static void put_user_path(const etwl_tek *k, etwl_buf *b, const char *s, size_t n)
{
    static const char *const defaults[][2] = {
        {"\\??\\", ""}, {"\\Device\\LanmanRedirector\\", "\\\\"}, {"\\Device\\Mup\\", "\\\\"}, {"\\\\", "\\\\"}};
    uint32_t i;
    const char *os = NULL;
    size_t j;
    for (j = 0; j + 12 <= n; j++) /* container paths: \OS\Windows\... */
        if (strncasecmp(s + j, "\\OS\\Windows\\", 12) == 0) {
            os = s + j + 3;
            break;
        }
    if (os) {
        etwl_buf_puts(b, k->system_drive);
        etwl_buf_put(b, os, n - (size_t)(os - s));
        return;
    }
    for (i = 0; i < k->nmaps; i++) {
        const char *from = str(k, k->maps[i].from);
        size_t fl = strlen(from);
        if (fl <= n && strncasecmp(s, from, fl) == 0) {
            etwl_buf_puts(b, str(k, k->maps[i].to));
            etwl_buf_put(b, s + fl, n - fl);
            return;
        }
    }
    if (!k->nmaps) /* a trace without mappings: TraceEvent would ask the local machine */
        for (i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
            size_t fl = strlen(defaults[i][0]);
            if (fl <= n && strncmp(s, defaults[i][0], fl) == 0) {
                etwl_buf_puts(b, defaults[i][1]);
                etwl_buf_put(b, s + fl, n - fl);
                return;
            }
        }
    if (n > 2 && s[0] == '\\' && isalnum((unsigned char)s[1])) etwl_buf_puts(b, k->system_drive);
    etwl_buf_put(b, s, n);
}

void etwl_tek_put_pname(const etwl_tek *k, etwl_buf *b, int32_t pid)
{
    uint32_t i;
    if (pid == -1) return;
    for (i = 0; k && i < k->nprocs; i++)
        if (k->procs[i].pid == pid) {
            etwl_text_put_controls_escaped(b, k->procs[i].name, strlen(k->procs[i].name));
            return;
        }
    etwl_buf_printf(b, "Process(%d)", (int)pid);
}

/* Milliseconds since the first event, as TraceEvent's relative times. */
static double rel_ms(const etwl_tek *k, int64_t ts) { return (double)(ts - k->t0) / 10000.0; }

/* TraceEvent's DiskServiceTimeMSec: the elapsed time, or less when the
 * same disk completed another request meanwhile. */
static double disk_service(const etwl_tek *k, uint32_t disk, int64_t ts, double elapsed)
{
    uint32_t lo = 0, hi = k->ndisks;
    double last = 0, since;
    while (lo < hi) { /* the first completion at or after this one */
        uint32_t mid = lo + (hi - lo) / 2;
        if (k->disks[mid].ts < ts) lo = mid + 1;
        else hi = mid;
    }
    while (lo-- > 0)
        if (k->disks[lo].disk == disk) {
            last = rel_ms(k, k->disks[lo].ts);
            break;
        }
    since = rel_ms(k, ts) - last;
    return since < elapsed ? since : elapsed;
}

/* ---- views ----------------------------------------------------------------- */

typedef enum fmt {
    F_INT,       /* a 32-bit signed integer */
    F_LONG,      /* a 64-bit signed integer */
    F_ADDR,      /* "0x" and at least 8 lower-case hex digits */
    F_VALUE,     /* etwlua's value as it is (strings, addresses, ports) */
    F_PATH,      /* a kernel path with its drive letter */
    F_PNAME,     /* the name of the process the field holds */
    F_FILE,      /* the name of the file object the field holds */
    F_BUILD,     /* a PE TimeDateStamp as a time */
    F_PFLAGS,    /* Process flags by name */
    F_IRPFLAGS,  /* IRP flags by name, the priority bits cleared */
    F_IOPRIO,    /* the I/O priority in the IRP flags */
    F_ELAPSED,   /* a QPC duration in milliseconds */
    F_SERVICE,   /* disk service time */
    F_HARDFAULT, /* time since the fault's start */
    F_CPU,       /* the processor number */
    F_PRIO,
    F_DPC,
    F_ISR,
    F_RANK, /* the sample's flags byte */
    F_PARENT_TID,
    F_PARENT_PID, /* the creating thread, for thread starts */
    F_UDP_CONTEXT,
    F_UDP_DSIZE,   /* TraceEvent's reading of a UDP record's bytes */
    F_IMAGEID_PID, /* TraceEvent reads ImageID's process 4 bytes in, in the image size */
} fmt;

typedef enum fix {
    X_NONE,
    X_PROCESS,     /* pid = the process; no thread */
    X_PID,         /* pid = the field */
    X_THREAD,      /* pid, tid = the thread's (not for Stop) */
    X_IMAGE,       /* rundown and unload: pid = the field; no thread */
    X_ISSUER,      /* tid = the field when unknown; pid = the thread's */
    X_ISSUER_LATE, /* the same, and TraceEvent asks again when printing */
    X_FLUSH,       /* TraceEvent reads the issuing thread 8 bytes in */
} fix;

typedef struct tfield {
    const char *name, *src;
    fmt f;
} tfield;

typedef struct view {
    etwl_kclass cls;
    const char *ops;           /* "1,2,3" */
    const char *task, *opname; /* NULL task: the class's; provider is "Windows Kernel" unless prefixed */
    fix x;
    const char *xsrc;
    tfield fields[16];
} view;

static const view views[] = {
    {ETWL_KC_EVENTTRACE,
     "5",
     NULL,
     "Extension",
     X_NONE,
     NULL,
     {{"GroupMask1", "GroupMask1", F_INT},
      {"GroupMask2", "GroupMask2", F_INT},
      {"GroupMask3", "GroupMask3", F_INT},
      {"GroupMask4", "GroupMask4", F_INT},
      {"GroupMask5", "GroupMask5", F_INT},
      {"GroupMask6", "GroupMask6", F_INT},
      {"GroupMask7", "GroupMask7", F_INT},
      {"GroupMask8", "GroupMask8", F_INT},
      {"KernelEventVersion", "KernelEventVersion", F_INT}}},
    {ETWL_KC_EVENTTRACE,
     "32",
     NULL,
     "EndExtension",
     X_NONE,
     NULL,
     {{"GroupMask1", "GroupMask1", F_INT},
      {"GroupMask2", "GroupMask2", F_INT},
      {"GroupMask3", "GroupMask3", F_INT},
      {"GroupMask4", "GroupMask4", F_INT},
      {"GroupMask5", "GroupMask5", F_INT},
      {"GroupMask6", "GroupMask6", F_INT},
      {"GroupMask7", "GroupMask7", F_INT},
      {"GroupMask8", "GroupMask8", F_INT},
      {"KernelEventVersion", "KernelEventVersion", F_INT}}},
    {ETWL_KC_EVENTTRACE, "8", NULL, "RundownComplete", X_NONE, NULL, {{NULL, NULL, F_INT}}},
#define PROCESS_FIELDS                                                                                                 \
    {                                                                                                                  \
        {"ProcessID", "ProcessId", F_INT}, {"ParentID", "ParentId", F_INT},                                            \
            {"ImageFileName", "ImageFileName", F_PATH}, {"PageDirectoryBase", "DirectoryTableBase", F_ADDR},           \
            {"Flags", "Flags", F_PFLAGS}, {"SessionID", "SessionId", F_INT}, {"ExitStatus", "ExitStatus", F_INT},      \
            {"UniqueProcessKey", "UniqueProcessKey", F_ADDR}, {"CommandLine", "CommandLine", F_VALUE},                 \
            {"PackageFullName", "PackageFullName", F_VALUE},                                                           \
        {                                                                                                              \
            "ApplicationID", "ApplicationId", F_VALUE                                                                  \
        }                                                                                                              \
    }
    {ETWL_KC_PROCESS, "1", NULL, "Start", X_PROCESS, "ProcessId", PROCESS_FIELDS},
    {ETWL_KC_PROCESS, "2", NULL, "Stop", X_PROCESS, "ProcessId", PROCESS_FIELDS},
    {ETWL_KC_PROCESS, "3", NULL, "DCStart", X_PROCESS, "ProcessId", PROCESS_FIELDS},
    {ETWL_KC_PROCESS, "4", NULL, "DCStop", X_PROCESS, "ProcessId", PROCESS_FIELDS},
    {ETWL_KC_PROCESS, "39", NULL, "Defunct", X_PROCESS, "ProcessId", PROCESS_FIELDS},
#define PROCESS_CTR_FIELDS                                                                                             \
    {                                                                                                                  \
        {"ProcessID", "ProcessId", F_INT}, {"MemoryCount", "PageFaultCount", F_INT},                                   \
            {"HandleCount", "HandleCount", F_INT}, {"PeakVirtualSize", "PeakVirtualSize", F_LONG},                     \
            {"PeakWorkingSetSize", "PeakWorkingSetSize", F_LONG}, {"PeakPagefileUsage", "PeakPagefileUsage", F_LONG},  \
            {"QuotaPeakPagedPoolUsage", "QuotaPeakPagedPoolUsage", F_LONG},                                            \
            {"QuotaPeakNonPagedPoolUsage", "QuotaPeakNonPagedPoolUsage", F_LONG},                                      \
            {"VirtualSize", "VirtualSize", F_LONG}, {"WorkingSetSize", "WorkingSetSize", F_LONG},                      \
            {"PagefileUsage", "PagefileUsage", F_LONG}, {"QuotaPagedPoolUsage", "QuotaPagedPoolUsage", F_LONG},        \
            {"QuotaNonPagedPoolUsage", "QuotaNonPagedPoolUsage", F_LONG},                                              \
        {                                                                                                              \
            "PrivatePageCount", "PrivatePageCount", F_LONG                                                             \
        }                                                                                                              \
    }
    {ETWL_KC_PROCESS, "32", NULL, "PerfCtr", X_PID, "ProcessId", PROCESS_CTR_FIELDS},
    {ETWL_KC_PROCESS, "33", NULL, "PerfCtrRundown", X_PID, "ProcessId", PROCESS_CTR_FIELDS},
#define THREAD_FIELDS                                                                                                  \
    {                                                                                                                  \
        {"StackBase", "StackBase", F_ADDR}, {"StackLimit", "StackLimit", F_ADDR},                                      \
            {"UserStackBase", "UserStackBase", F_ADDR}, {"UserStackLimit", "UserStackLimit", F_ADDR},                  \
            {"StartAddr", "Affinity", F_ADDR}, {"Win32StartAddr", "Win32StartAddr", F_ADDR},                           \
            {"TebBase", "TebBase", F_ADDR}, {"SubProcessTag", "SubProcessTag", F_INT},                                 \
            {"BasePriority", "BasePriority", F_INT}, {"PagePriority", "PagePriority", F_INT},                          \
            {"IoPriority", "IoPriority", F_INT}, {"ThreadFlags", "ThreadFlags", F_INT},                                \
            {"ThreadName", "ThreadName", F_VALUE}, {"ParentThreadID", NULL, F_PARENT_TID},                             \
        {                                                                                                              \
            "ParentProcessID", NULL, F_PARENT_PID                                                                      \
        }                                                                                                              \
    }
    {ETWL_KC_THREAD, "1", NULL, "Start", X_THREAD, NULL, THREAD_FIELDS},
    {ETWL_KC_THREAD, "2", NULL, "Stop", X_THREAD, NULL, THREAD_FIELDS},
#define IMAGE_FIELDS                                                                                                   \
    {                                                                                                                  \
        {"ImageBase", "ImageBase", F_ADDR}, {"ImageSize", "ImageSize", F_INT},                                         \
            {"ImageChecksum", "ImageCheckSum", F_INT}, {"TimeDateStamp", "TimeDateStamp", F_INT},                      \
            {"DefaultBase", "DefaultBase", F_ADDR}, {"BuildTime", "TimeDateStamp", F_BUILD},                           \
        {                                                                                                              \
            "FileName", "FileName", F_PATH                                                                             \
        }                                                                                                              \
    }
    {ETWL_KC_IMAGE, "10", NULL, "Load", X_NONE, NULL, IMAGE_FIELDS},
    {ETWL_KC_IMAGE, "2", NULL, "Unload", X_IMAGE, "ProcessId", IMAGE_FIELDS},
    {ETWL_KC_IMAGE, "3", NULL, "DCStart", X_IMAGE, "ProcessId", IMAGE_FIELDS},
    {ETWL_KC_IMAGE, "4", NULL, "DCStop", X_IMAGE, "ProcessId", IMAGE_FIELDS},
    /* TraceEvent has no parser of its own for these two: it shows the MOF
     * class Windows describes them with */
    {ETWL_KC_IMAGE, "33", "MSNT_SystemTrace/Image", "KernelBase", X_NONE, NULL, {{"ImageBase", "ImageBase", F_ADDR}}},
#define DISK_FIELDS                                                                                                    \
    {                                                                                                                  \
        {"DiskNumber", "DiskNumber", F_INT}, {"IrpFlags", "IrpFlags", F_IRPFLAGS}, {"Priority", "IrpFlags", F_IOPRIO}, \
            {"TransferSize", "TransferSize", F_INT}, {"ByteOffset", "ByteOffset", F_LONG}, {"Irp", "Irp", F_ADDR},     \
            {"ElapsedTimeMSec", "HighResResponseTime", F_ELAPSED},                                                     \
            {"DiskServiceTimeMSec", "HighResResponseTime", F_SERVICE}, {"FileKey", "FileObject", F_ADDR},              \
        {                                                                                                              \
            "FileName", "FileObject", F_FILE                                                                           \
        }                                                                                                              \
    }
    {ETWL_KC_DISKIO, "10", "DiskIO", "Read", X_ISSUER, "IssuingThreadId", DISK_FIELDS},
    {ETWL_KC_DISKIO, "11", "DiskIO", "Write", X_ISSUER, "IssuingThreadId", DISK_FIELDS},
    {ETWL_KC_DISKIO, "12", "DiskIO", "ReadInit", X_ISSUER, "IssuingThreadId", {{"Irp", "Irp", F_ADDR}}},
    {ETWL_KC_DISKIO, "13", "DiskIO", "WriteInit", X_ISSUER, "IssuingThreadId", {{"Irp", "Irp", F_ADDR}}},
    {ETWL_KC_DISKIO, "15", "DiskIO", "FlushInit", X_ISSUER, "IssuingThreadId", {{"Irp", "Irp", F_ADDR}}},
    {ETWL_KC_DISKIO,
     "14",
     "DiskIO",
     "FlushBuffers",
     X_FLUSH,
     NULL,
     {{"DiskNumber", "DiskNumber", F_INT},
      {"IrpFlags", "IrpFlags", F_IRPFLAGS},
      {"Irp", "Irp", F_ADDR},
      {"ElapsedTimeMSec", "HighResResponseTime", F_ELAPSED}}},
    {ETWL_KC_PAGEFAULT,
     "32",
     "Memory",
     "HardFault",
     X_ISSUER_LATE,
     "TThreadId",
     {{"ElapsedTimeMSec", "InitialTime", F_HARDFAULT},
      {"ReadOffset", "ReadOffset", F_LONG},
      {"VirtualAddress", "VirtualAddress", F_ADDR},
      {"FileKey", "FileObject", F_ADDR},
      {"ByteCount", "ByteCount", F_INT},
      {"FileName", "FileObject", F_FILE}}},
    {ETWL_KC_PERFINFO,
     "46",
     NULL,
     "Sample",
     X_ISSUER_LATE,
     "ThreadId",
     {{"InstructionPointer", "InstructionPointer", F_ADDR},
      {"ProcessorNumber", NULL, F_CPU},
      {"Priority", "Reserved", F_PRIO},
      {"ExecutingDPC", "Reserved", F_DPC},
      {"ExecutingISR", "Reserved", F_ISR},
      {"Rank", "Reserved", F_RANK},
      {"Count", "Count", F_INT}}},
    {ETWL_KC_PERFINFO,
     "73",
     NULL,
     "CollectionStart",
     X_NONE,
     NULL,
     {{"SampleSource", "Source", F_INT}, {"NewInterval", "NewInterval", F_INT}, {"OldInterval", "OldInterval", F_INT}}},
    {ETWL_KC_PERFINFO,
     "74",
     NULL,
     "CollectionEnd",
     X_NONE,
     NULL,
     {{"SampleSource", "Source", F_INT}, {"NewInterval", "NewInterval", F_INT}, {"OldInterval", "OldInterval", F_INT}}},
#define TCP_SEND                                                                                                       \
    {                                                                                                                  \
        {"size", "size", F_INT}, {"daddr", "daddr", F_VALUE}, {"saddr", "saddr", F_VALUE}, {"dport", "dport", F_INT},  \
            {"sport", "sport", F_INT}, {"startime", "startime", F_INT}, {"endtime", "endtime", F_INT},                 \
            {"seqnum", "seqnum", F_INT},                                                                               \
        {                                                                                                              \
            "connid", "connid", F_ADDR                                                                                 \
        }                                                                                                              \
    }
#define TCP_OTHER                                                                                                      \
    {                                                                                                                  \
        {"size", "size", F_INT}, {"daddr", "daddr", F_VALUE}, {"saddr", "saddr", F_VALUE}, {"dport", "dport", F_INT},  \
            {"sport", "sport", F_INT}, {"connid", "connid", F_ADDR},                                                   \
        {                                                                                                              \
            "seqnum", "seqnum", F_INT                                                                                  \
        }                                                                                                              \
    }
    {ETWL_KC_TCPIP, "10", NULL, "Send", X_PID, "PID", TCP_SEND},
    {ETWL_KC_TCPIP, "26", NULL, "SendIPV6", X_PID, "PID", TCP_SEND},
    {ETWL_KC_TCPIP, "11", NULL, "Recv", X_PID, "PID", TCP_OTHER},
    {ETWL_KC_TCPIP, "27", NULL, "RecvIPV6", X_PID, "PID", TCP_OTHER},
#define UDP4                                                                                                           \
    {                                                                                                                  \
        {"context", NULL, F_UDP_CONTEXT}, {"saddr", "saddr", F_VALUE}, {"sport", "sport", F_INT},                      \
            {"size", "size", F_INT}, {"daddr", "daddr", F_VALUE}, {"dport", "dport", F_INT},                           \
        {                                                                                                              \
            "dsize", NULL, F_UDP_DSIZE                                                                                 \
        }                                                                                                              \
    }
#define UDP6                                                                                                           \
    {                                                                                                                  \
        {"size", "size", F_INT}, {"dport", "dport", F_INT}, {"sport", "sport", F_INT}, {"seqnum", "seqnum", F_INT},    \
        {                                                                                                              \
            "connid", "connid", F_ADDR                                                                                 \
        }                                                                                                              \
    }
    {ETWL_KC_UDPIP, "10", NULL, "Send", X_PID, "PID", UDP4},
    {ETWL_KC_UDPIP, "11", NULL, "Recv", X_PID, "PID", UDP4},
    {ETWL_KC_UDPIP, "26", NULL, "SendIPV6", X_PID, "PID", UDP6},
    {ETWL_KC_UDPIP, "27", NULL, "RecvIPV6", X_PID, "PID", UDP6},
    {ETWL_KC_SYSCONFIG,
     "10",
     NULL,
     "CPU",
     X_NONE,
     NULL,
     {{"MHz", "MHz", F_INT},
      {"NumberOfProcessors", "NumberOfProcessors", F_INT},
      {"MemSize", "MemSize", F_INT},
      {"PageSize", "PageSize", F_INT},
      {"AllocationGranularity", "AllocationGranularity", F_INT},
      {"ComputerName", "ComputerName", F_VALUE},
      {"DomainName", "DomainName", F_VALUE},
      {"HyperThreadingFlag", "HyperThreadingFlag", F_ADDR}}},
    {ETWL_KC_SYSCONFIG,
     "11",
     NULL,
     "PhyDisk",
     X_NONE,
     NULL,
     {{"DiskNumber", "DiskNumber", F_INT},
      {"BytesPerSector", "BytesPerSector", F_INT},
      {"SectorsPerTrack", "SectorsPerTrack", F_INT},
      {"TracksPerCylinder", "TracksPerCylinder", F_INT},
      {"Cylinders", "Cylinders", F_LONG},
      {"SCSIPort", "SCSIPort", F_INT},
      {"SCSIPath", "SCSIPath", F_INT},
      {"SCSITarget", "SCSITarget", F_INT},
      {"SCSILun", "SCSILun", F_INT},
      {"Manufacturer", "Manufacturer", F_VALUE},
      {"PartitionCount", "PartitionCount", F_INT},
      {"WriteCacheEnabled", "WriteCacheEnabled", F_INT},
      {"BootDriveLetter", "BootDriveLetter", F_VALUE},
      {"Spare", "Spare", F_VALUE}}},
    {ETWL_KC_SYSCONFIG,
     "12",
     NULL,
     "LogDisk",
     X_NONE,
     NULL,
     {{"StartOffset", "StartOffset", F_LONG},
      {"PartitionSize", "PartitionSize", F_LONG},
      {"DiskNumber", "DiskNumber", F_INT},
      {"Size", "Size", F_INT},
      {"DriveType", "DriveType", F_INT},
      {"DriveLetterString", "DriveLetterString", F_VALUE},
      {"PartitionNumber", "PartitionNumber", F_INT},
      {"SectorsPerCluster", "SectorsPerCluster", F_INT},
      {"BytesPerSector", "BytesPerSector", F_INT},
      {"NumberOfFreeClusters", "NumberOfFreeClusters", F_LONG},
      {"TotalNumberOfClusters", "TotalNumberOfClusters", F_LONG},
      {"FileSystem", "FileSystem", F_VALUE},
      {"VolumeExt", "VolumeExt", F_INT}}},
    {ETWL_KC_SYSCONFIG,
     "13",
     NULL,
     "NIC",
     X_NONE,
     NULL,
     {{"PhysicalAddrLen", "PhysicalAddrLen", F_INT},
      {"PhysicalAddr", "PhysicalAddr", F_LONG},
      {"Ipv4Index", "Ipv4Index", F_INT},
      {"Ipv6Index", "Ipv6Index", F_INT},
      {"NICDescription", "NICDescription", F_VALUE},
      {"IpAddresses", "IpAddresses", F_VALUE},
      {"DnsServerAddresses", "DnsServerAddresses", F_VALUE}}},
    {ETWL_KC_SYSCONFIG,
     "15",
     NULL,
     "Services",
     X_PID,
     "ProcessId",
     {{"ServiceName", "ServiceName", F_VALUE},
      {"DisplayName", "DisplayName", F_VALUE},
      {"ProcessName", "ProcessId", F_PNAME},
      {"ProcessID", "ProcessId", F_INT},
      {"ServiceState", "ServiceState", F_INT},
      {"SubProcessTag", "SubProcessTag", F_INT}}},
    {ETWL_KC_SYSCONFIG,
     "16",
     NULL,
     "Power",
     X_NONE,
     NULL,
     {{"S1", "S1", F_INT}, {"S2", "S2", F_INT}, {"S3", "S3", F_INT}, {"S4", "S4", F_INT}, {"S5", "S5", F_INT}}},
    {ETWL_KC_SYSCONFIG,
     "17",
     NULL,
     "Network",
     X_NONE,
     NULL,
     {{"TcbTablePartitions", "TcbTablePartitions", F_INT},
      {"MaxHashTableSize", "MaxHashTableSize", F_INT},
      {"MaxUserPort", "MaxUserPort", F_INT},
      {"TcpTimedWaitDelay", "TcpTimedWaitDelay", F_INT}}},
    {ETWL_KC_SYSCONFIG,
     "22",
     NULL,
     "PnP",
     X_NONE,
     NULL,
     {{"DeviceID", "DeviceID", F_VALUE},
      {"DeviceDescription", "DeviceDescription", F_VALUE},
      {"FriendlyName", "FriendlyName", F_VALUE},
      {"PdoName", "PdoName", F_VALUE},
      {"ServiceName", "ServiceName", F_VALUE}}},
    {ETWL_KC_SYSCONFIG,
     "23",
     NULL,
     "IDEChannel",
     X_NONE,
     NULL,
     {{"TargetID", "TargetId", F_INT},
      {"DeviceType", "DeviceType", F_INT},
      {"DeviceTimingMode", "DeviceTimingMode", F_INT},
      {"LocationInformationLen", "LocationInformationLen", F_INT},
      {"LocationInformation", "LocationInformation", F_VALUE}}},
    {ETWL_KC_SYSCONFIG,
     "25",
     "MSNT_SystemTrace/SystemConfig",
     "Platform",
     X_NONE,
     NULL,
     {{"SystemManufacturer", "SystemManufacturer", F_VALUE},
      {"SystemProductName", "SystemProductName", F_VALUE},
      {"BiosDate", "BiosDate", F_VALUE},
      {"BiosVersion", "BiosVersion", F_VALUE}}},
    {ETWL_KC_SYSCONFIGEX,
     "32",
     NULL,
     "BuildInfo",
     X_NONE,
     NULL,
     {{"InstallDate", "InstallDate", F_VALUE},
      {"BuildLab", "BuildLab", F_VALUE},
      {"ProductName", "ProductName", F_VALUE}}},
    {ETWL_KC_SYSCONFIGEX,
     "33",
     NULL,
     "SystemPaths",
     X_NONE,
     NULL,
     {{"SystemDirectory", "SystemDirectory", F_VALUE}, {"SystemWindowsDirectory", "SystemWindowsDirectory", F_VALUE}}},
    {ETWL_KC_SYSCONFIGEX, "34", NULL, "UnknownVolume", X_NONE, NULL, {{"Value", "Value", F_VALUE}}},
    {ETWL_KC_SYSCONFIGEX,
     "35",
     NULL,
     "VolumeMapping",
     X_NONE,
     NULL,
     {{"NtPath", "NtPath", F_VALUE}, {"DosPath", "DosPath", F_VALUE}}},
    {ETWL_KC_SYSCONFIGEX, "37", NULL, "Opcode(37)", X_NONE, NULL, {{NULL, NULL, F_INT}}},
    /* schemas the trace carries (read by etl.c); TraceEvent lists no fields */
    {ETWL_KC_METADATA, "32", "KernelTraceControl/MetaData", "EventInfo", X_NONE, NULL, {{NULL, NULL, F_INT}}},
    {ETWL_KC_METADATA, "33", "KernelTraceControl/MetaData", "EventMapInfo", X_NONE, NULL, {{NULL, NULL, F_INT}}},
    {ETWL_KC_IMAGEID,
     "0",
     "KernelTraceControl/ImageID",
     NULL,
     X_NONE,
     NULL,
     {{"ImageBase", "ImageBase", F_ADDR},
      {"ImageSize", "ImageSize", F_INT},
      {"ProcessID", NULL, F_IMAGEID_PID},
      {"TimeDateStamp", "TimeDateStamp", F_INT},
      {"BuildTime", "TimeDateStamp", F_BUILD},
      {"OriginalFileName", "OriginalFileName", F_VALUE}}},
    {ETWL_KC_IMAGEID, "32", "KernelTraceControl/ImageID", "None", X_NONE, NULL, {{NULL, NULL, F_INT}}},
#define RSDS_FIELDS                                                                                                    \
    {                                                                                                                  \
        {"ImageBase", "ImageBase", F_ADDR}, {"GuidSig", "GuidSig", F_VALUE}, {"Age", "Age", F_INT},                    \
        {                                                                                                              \
            "PDBFileName", "PdbFileName", F_VALUE                                                                      \
        }                                                                                                              \
    }
    {ETWL_KC_IMAGEID, "36", "KernelTraceControl/ImageID", "DbgID_RSDS", X_NONE, NULL, RSDS_FIELDS},
    {ETWL_KC_IMAGEID, "37", "KernelTraceControl/ImageID", "DbgID_ILRSDS", X_NONE, NULL, RSDS_FIELDS},
    {ETWL_KC_IMAGEID,
     "64",
     "KernelTraceControl/ImageID",
     "FileVersion",
     X_NONE,
     NULL,
     {{"ImageSize", "ImageSize", F_INT},
      {"TimeDateStamp", "TimeDateStamp", F_INT},
      {"BuildTime", "TimeDateStamp", F_BUILD},
      {"OrigFileName", "OrigFileName", F_VALUE},
      {"FileDescription", "FileDescription", F_VALUE},
      {"FileVersion", "FileVersion", F_VALUE},
      {"BinFileVersion", "BinFileVersion", F_VALUE},
      {"VerLanguage", "VerLanguage", F_VALUE},
      {"ProductName", "ProductName", F_VALUE},
      {"CompanyName", "CompanyName", F_VALUE},
      {"ProductVersion", "ProductVersion", F_VALUE},
      {"FileId", "FileId", F_VALUE},
      {"ProgramId", "ProgramId", F_VALUE}}},
};

static int has_op(const char *ops, unsigned op)
{
    while (*ops) {
        char *end;
        if (strtoul(ops, &end, 10) == op) return 1;
        ops = *end ? end + 1 : end;
    }
    return 0;
}

static const view *view_of(const etwl_header *h)
{
    etwl_kclass c = etwl_kclass_of_guid(&h->provider_guid);
    size_t i;
    for (i = 0; i < sizeof views / sizeof views[0]; i++)
        if (views[i].cls == c && has_op(views[i].ops, h->desc.opcode)) return &views[i];
    return NULL;
}

/* Events TraceLog keeps in its own tables instead of showing them. */
static int absorbed(etwl_event *ev, const etwl_header *h, etwl_kclass c)
{
    if (c == ETWL_KC_THREAD && (h->desc.opcode == 3 || h->desc.opcode == 4)) return 1;
    if (c == ETWL_KC_FILEIO) return 1;
    /* a sample of an idle processor that is not servicing a DPC or an
     * interrupt */
    if (c == ETWL_KC_PERFINFO && h->desc.opcode == 46) return u(ev, "ThreadId") == 0 && (u(ev, "Reserved") & 3) == 0;
    return 0;
}

int etwl_tek_event(etwl_tek *k, etwl_event *ev, etwl_buf *name, int32_t *pid, int32_t *tid)
{
    const etwl_header *h = etwl_event_header(ev);
    etwl_kclass c;
    const view *v;
    uint32_t len = 0;
    const uint8_t *p;
    if (!(h->flags & ETWL_HDR_FLAG_CLASSIC_HEADER)) return 0;
    if ((c = etwl_kclass_of_guid(&h->provider_guid)) == ETWL_KC_NONE) return 0;
    *pid = (int32_t)h->pid;
    *tid = (int32_t)h->tid;
    /* which process owns a thread, in event order as TraceLog converts */
    if (c == ETWL_KC_THREAD) track_thread(&k->now, ev);
    if (absorbed(ev, h, c)) return -1;
    if (c == ETWL_KC_EVENTTRACE && h->desc.opcode == 0) {
        etwl_buf_puts(name, "Windows Kernel/EventTrace");
        return 2;
    }
    if (!(v = view_of(h))) return 0;
    if (v->task && strchr(v->task, '/'))
        etwl_buf_printf(name, "%s%s%s", v->task, v->opname ? "/" : "", v->opname ? v->opname : "");
    else etwl_buf_printf(name, "Windows Kernel/%s/%s", v->task ? v->task : etwl_kclass_info_of(c)->task, v->opname);
    switch (v->x) {
    case X_NONE: break;
    case X_PROCESS:
        *pid = (int32_t)u(ev, v->xsrc);
        *tid = -1;
        break;
    case X_PID: *pid = (int32_t)u(ev, v->xsrc); break;
    case X_IMAGE:
        *pid = (int32_t)u(ev, v->xsrc);
        *tid = -1;
        break;
    case X_THREAD:
        if (h->desc.opcode != 2) {
            *tid = (int32_t)u(ev, "TThreadId");
            *pid = (int32_t)u(ev, "ProcessId");
        }
        break;
    case X_ISSUER:
    case X_ISSUER_LATE:
        if (*tid == -1) *tid = (int32_t)u(ev, v->xsrc);
        if (*pid == -1) *pid = thread_pid(&k->now, (uint32_t)*tid);
        /* these classes look again when asked, with what the whole trace knows */
        if (*pid == -1 && v->x == X_ISSUER_LATE) *pid = thread_pid(&k->all, (uint32_t)*tid);
        break;
    case X_FLUSH:
        p = etwl_event_payload(ev, &len);
        if (*tid == -1 && len >= 12) *tid = (int32_t)etwl_le32(p + 8);
        if (*pid == -1) *pid = thread_pid(&k->now, (uint32_t)*tid);
        break;
    }
    return 1;
}

/* .NET's [Flags] ToString: names of the set bits, lowest first, or the
 * number when some bit has no name. */
static void put_flags(etwl_buf *b, uint32_t v, const char *const *names, unsigned nbits)
{
    unsigned i;
    int first = 1;
    uint32_t named = 0;
    if (v == 0) {
        etwl_buf_puts(b, "None");
        return;
    }
    for (i = 0; i < nbits; i++)
        if (names[i]) named |= 1u << i;
    if (v & ~named) {
        etwl_buf_printf(b, "%u", v);
        return;
    }
    for (i = 0; i < nbits; i++)
        if (v & (1u << i)) {
            etwl_buf_printf(b, "%s%s", first ? "" : ", ", names[i]);
            first = 0;
        }
}

/* A double as .NET Framework's "n3" prints it: first to 15 significant
 * digits, then rounded half away from zero to three decimals (so 109.7765,
 * stored as 109.77649999..., shows as 109.777), grouped. */
static void put_ms(etwl_buf *b, double ms)
{
    char e[48], d[16];
    int exp, k, i, neg = ms < 0;
    uint64_t n = 0;
    snprintf(e, sizeof e, "%.14e", neg ? -ms : ms); /* "d.dddddddddddddde+XX" */
    if (e[0] < '0' || e[0] > '9' || !strchr(e, 'e')) {
        etwl_buf_puts(b, e); /* inf, nan */
        return;
    }
    d[0] = e[0];
    memcpy(d + 1, e + 2, 14);
    exp = atoi(strchr(e, 'e') + 1);
    k = exp + 4; /* digits of ms * 1000 before its decimal point */
    if (k > 19) k = 19;
    for (i = 0; i < k; i++) n = n * 10 + (uint64_t)(i < 15 ? d[i] - '0' : 0);
    if (k >= 0 && k < 15 && d[k] >= '5') n++;
    etwl_te_put_grouped(b, n / 1000, neg && n);
    etwl_buf_printf(b, ".%03u", (unsigned)(n % 1000));
}

void etwl_tek_props(etwl_tek *k, etwl_event *ev, etwl_buf *out)
{
    static const char *const irp[] = {"Nocache",
                                      "MountCompletion",
                                      "SynchronousApi",
                                      "AssociatedIrp",
                                      "BufferedIO",
                                      "DeallocateBuffer",
                                      "SynchronousPagingIO",
                                      "Create",
                                      "Read",
                                      "Write",
                                      "Close",
                                      "DeferIOCompletion",
                                      "ObQueryName",
                                      "HoldDeviceQueue"};
    static const char *const pflags[] = {"PackageFullName", "Wow64", "Protected"};
    static const char *const prio[] = {"Notset", "Verylow",  "Low",       "Normal",
                                       "High",   "Critical", "Reserved0", "Reserved1"};
    const etwl_header *h = etwl_event_header(ev);
    const view *v = view_of(h);
    const tfield *f;
    etwl_buf t;
    if (!v) return;
    etwl_buf_init(&t);
    for (f = v->fields; f < v->fields + 16 && f->name; f++) {
        const etwl_value *src = f->src ? etwl_event_get(ev, f->src) : NULL;
        uint64_t x = 0;
        etwl_value val;
        const char *s;
        uint32_t n, len = 0;
        const uint8_t *p;
        memset(&val, 0, sizeof val);
        if (f->src) num(ev, f->src, &x);
        t.len = 0;
        switch (f->f) {
        case F_INT:
            val.type = ETWL_VT_INT;
            val.v.i = (int32_t)(uint32_t)x;
            break;
        case F_LONG:
            val.type = ETWL_VT_INT;
            val.v.i = (int64_t)x;
            break;
        case F_ADDR: etwl_buf_printf(&t, "0x%08llx", (unsigned long long)x); break;
        case F_VALUE:
            if (src) val = *src;
            break;
        case F_PATH:
            if (text(ev, f->src, &s, &n)) put_user_path(k, &t, s, n);
            break;
        case F_PNAME: etwl_tek_put_pname(k, &t, (int32_t)x); break;
        case F_FILE:
            s = file_name(k, x, h->ts);
            put_user_path(k, &t, s, strlen(s));
            break;
        case F_BUILD:
            val.type = ETWL_VT_TIME;
            val.v.i = 116444736000000000LL + (int64_t)(uint32_t)x * 10000000;
            break;
        case F_PFLAGS: put_flags(&t, (uint32_t)x, pflags, 3); break;
        case F_IRPFLAGS: put_flags(&t, (uint32_t)x & ~0xE0000u, irp, 14); break;
        case F_IOPRIO: etwl_buf_puts(&t, prio[(x >> 17) & 7]); break;
        case F_ELAPSED: put_ms(&t, k->freq > 0 ? (double)(int64_t)x * 1000.0 / (double)k->freq : 0); break;
        case F_SERVICE:
            put_ms(&t, disk_service(k, (uint32_t)u(ev, "DiskNumber"), h->ts,
                                    k->freq > 0 ? (double)(int64_t)x * 1000.0 / (double)k->freq : 0));
            break;
        case F_HARDFAULT:
            put_ms(&t, k->freq > 0 && (h->has & ETWL_HAS_RAW_TS)
                           ? (double)(h->raw_ts - (int64_t)x) * 1000.0 / (double)k->freq
                           : 0);
            break;
        case F_CPU:
            val.type = ETWL_VT_INT;
            val.v.i = h->processor;
            break;
        case F_PRIO:
            val.type = ETWL_VT_INT;
            val.v.i = (int64_t)((x >> 3) & 0x1F);
            break;
        case F_DPC:
            val.type = ETWL_VT_BOOL;
            val.v.u = x & 1;
            break;
        case F_ISR:
            val.type = ETWL_VT_BOOL;
            val.v.u = (x >> 1) & 1;
            break;
        case F_RANK:
            val.type = ETWL_VT_INT;
            val.v.i = (int64_t)((x >> 8) & 0xFF);
            break;
        case F_PARENT_TID: /* the creating thread only for a start (opcode 1) */
            val.type = ETWL_VT_INT;
            val.v.i = h->desc.opcode == 1 ? (int32_t)h->tid : -1;
            break;
        case F_PARENT_PID:
            val.type = ETWL_VT_INT;
            val.v.i = h->desc.opcode == 1 ? (int32_t)h->pid : -1;
            break;
        case F_UDP_CONTEXT: /* a pointer's worth of the payload's start */
            p = etwl_event_payload(ev, &len);
            etwl_buf_printf(&t, "0x%08llx", (unsigned long long)(len >= 8 ? etwl_le64(p) : 0));
            break;
        case F_IMAGEID_PID: {
            unsigned ptr = (h->flags & ETWL_HDR_FLAG_32_BIT_HEADER) ? 4 : 8;
            p = etwl_event_payload(ev, &len);
            val.type = ETWL_VT_INT;
            val.v.i = len >= ptr + 8 ? (int32_t)etwl_le32(p + ptr + 4) : 0;
            break;
        }
        case F_UDP_DSIZE:
            p = etwl_event_payload(ev, &len);
            val.type = ETWL_VT_INT;
            val.v.i = len >= 24 ? (int16_t)etwl_le16(p + 22) : 0;
            break;
        }
        if (t.len || val.type == ETWL_VT_NULL) {
            if (t.oom) break;
            val.type = ETWL_VT_STRING;
            val.v.s = t.data ? t.data : "";
            val.n = (uint32_t)t.len;
        }
        etwl_te_put_prop(out, f->name, &val);
    }
    etwl_buf_free(&t);
}
