/* proctab.c - see proctab.h */
#include "process/proctab.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"

/* The buckets grow with the table, twice as many when there are more than
 * two entries a bucket: most hosts of a recording have a few hundred
 * processes, and a fixed 65,536 buckets (512 KB) per host table had to be
 * faulted in, up to 16 tables a file. */
#define MIN_BITS 10 /* 1,024 buckets, 8 KB */
#define MAX_BITS 16 /* 65,536: chains of about 3 at DEFAULT_MAX */
#define DEFAULT_GRACE (60LL * 10000000LL)
#define DEFAULT_MAX 200000
#define MAX_GENERATIONS 4 /* entries kept per pid: bounds every lookup */

/* Entries live on one of two lists: alive (in start order) or exited (in
 * exit order), so expiry only ever looks at the front of the exited list. */
typedef struct plist {
    etwl_proc *head, *tail;
} plist;

struct etwl_proctab {
    etwl_proc **buckets; /* 1 << bits of them */
    unsigned bits;
    plist alive, exited;
    uint32_t count;
    etwl_proctab_opts o;
    int64_t last_expire;
    /* where the process events' properties are, per layout: a Sysmon
     * start reads ten of them */
    etwl_prop_cache props;
};

/* n empty buckets, each page written once now.  calloc leaves fresh pages
 * to the kernel's shared zero page: the first bucket read maps it, and the
 * first write then replaces it, which in a process of several threads (-j)
 * interrupts every other core that runs one to flush its TLB.  (A memset
 * after malloc would not do: the compiler makes the pair a calloc.) */
static etwl_proc **new_buckets(size_t n)
{
    etwl_proc **b = calloc(n, sizeof *b);
    volatile unsigned char *page = (volatile unsigned char *)b;
    size_t i;
    if (b)
        for (i = 0; i < n * sizeof *b; i += 4096) page[i] = 0;
    return b;
}

etwl_proctab *etwl_proctab_new(const etwl_proctab_opts *o)
{
    etwl_proctab *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (!(t->buckets = new_buckets((size_t)1 << MIN_BITS))) {
        free(t);
        return NULL;
    }
    t->bits = MIN_BITS;
    if (o) t->o = *o;
    if (t->o.grace <= 0) t->o.grace = DEFAULT_GRACE;
    if (!t->o.max_procs) t->o.max_procs = DEFAULT_MAX;
    return t;
}

static void free_proc(etwl_proc *p)
{
    free(p->image);
    free(p->cmdline);
    free(p->user);
    free(p->integrity);
    free(p);
}

/* the top bits of a multiplicative hash: Windows pids are multiples of 4 */
static uint32_t bucket_of(uint32_t pid, unsigned bits) { return (uint32_t)(pid * 2654435761u) >> (32 - bits); }
static uint32_t bucket(const etwl_proctab *t, uint32_t pid) { return bucket_of(pid, t->bits); }

/* Twice the buckets.  A bucket's chain splits in two (one more bit of the
 * same hash), each keeping its order: within a pid, newest first, which
 * start and trim_generations rely on.  Out of memory, the table stays as
 * it is, with longer chains. */
static void grow(etwl_proctab *t)
{
    size_t n = (size_t)1 << t->bits, i;
    etwl_proc **nb;
    if (t->bits >= MAX_BITS || !(nb = new_buckets(2 * n))) return;
    for (i = 0; i < n; i++) {
        etwl_proc *p, *next, **tail[2];
        tail[0] = &nb[2 * i];
        tail[1] = &nb[2 * i + 1];
        for (p = t->buckets[i]; p; p = next) {
            int half = (int)(bucket_of(p->pid, t->bits + 1) & 1);
            next = p->next;
            p->next = NULL;
            *tail[half] = p;
            tail[half] = &p->next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->bits++;
}

/* One more entry: twice the buckets once there are more than two a bucket */
static void counted(etwl_proctab *t)
{
    t->count++;
    if (t->count > 2u << t->bits) grow(t);
}

/* Every entry is on the alive or the exited list, so emptying a table
 * walks its entries, not its buckets: a stream of more hosts than
 * ETWL_PROCTABS_MAX_HOSTS empties a table each time a host comes back, and
 * the bucket walk was 7% of a start in `etwlua bench h`. */
static void clear_entries(etwl_proctab *t, int reset_buckets)
{
    plist *lists[2];
    int l;
    lists[0] = &t->alive;
    lists[1] = &t->exited;
    for (l = 0; l < 2; l++) {
        etwl_proc *p = lists[l]->head, *n;
        for (; p; p = n) {
            n = p->lru_next;
            if (reset_buckets) t->buckets[bucket(t, p->pid)] = NULL;
            free_proc(p);
        }
        lists[l]->head = lists[l]->tail = NULL;
    }
    t->count = 0;
}

void etwl_proctab_free(etwl_proctab *t)
{
    if (!t) return;
    clear_entries(t, 0);
    free(t->buckets);
    free(t);
}

/* The table as etwl_proctab_new left it (options kept), without giving
 * its buckets back to the allocator and faulting them in again. */
static void proctab_reset(etwl_proctab *t)
{
    clear_entries(t, 1);
    t->last_expire = 0;
}

uint32_t etwl_proctab_count(const etwl_proctab *t) { return t->count; }

static void list_remove(plist *l, etwl_proc *p)
{
    if (p->lru_prev) p->lru_prev->lru_next = p->lru_next;
    else l->head = p->lru_next;
    if (p->lru_next) p->lru_next->lru_prev = p->lru_prev;
    else l->tail = p->lru_prev;
    p->lru_prev = p->lru_next = NULL;
}

static void list_append(plist *l, etwl_proc *p)
{
    p->lru_prev = l->tail;
    p->lru_next = NULL;
    if (l->tail) l->tail->lru_next = p;
    else l->head = p;
    l->tail = p;
}

static void drop(etwl_proctab *t, etwl_proc *p)
{
    etwl_proc **pp = &t->buckets[bucket(t, p->pid)];
    while (*pp && *pp != p) pp = &(*pp)->next;
    if (*pp) *pp = p->next;
    list_remove(p->exit ? &t->exited : &t->alive, p);
    t->count--;
    free_proc(p);
}

/* Whether `ts` is more than the grace period after `exit`.  Event times
 * come from the input, so this is worked out without a signed overflow. */
static int past_grace(const etwl_proctab *t, int64_t exit, int64_t ts)
{
    return ts > exit && (uint64_t)ts - (uint64_t)exit > (uint64_t)t->o.grace;
}

void etwl_proctab_expire(etwl_proctab *t, int64_t now)
{
    while (t->exited.head && past_grace(t, t->exited.head->exit, now)) drop(t, t->exited.head);
}

static void mark_exit(etwl_proctab *t, etwl_proc *p, int64_t ts)
{
    if (p->exit) return;
    list_remove(&t->alive, p);
    p->exit = ts ? ts : 1;
    list_append(&t->exited, p);
}

static char *dup_str(const char *s)
{
    size_t n;
    char *d;
    if (!s || !*s) return NULL;
    n = strlen(s) + 1;
    d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static const char *base_name(const char *s)
{
    const char *b = s, *p;
    if (!s) return NULL;
    for (p = s; *p; p++)
        if (*p == '\\' || *p == '/') b = p + 1;
    return *b ? b : s;
}

static void set_image(etwl_proc *p, const char *image)
{
    char *d;
    if (!image || !*image || (p->image && strcmp(p->image, image) == 0)) return;
    /* a short name (kernel ImageFileName) must not replace a full path */
    if (p->image && !strpbrk(image, "\\/") && strpbrk(p->image, "\\/")) return;
    d = dup_str(image);
    if (!d) return;
    free(p->image);
    p->image = d;
    p->name = base_name(d);
}

static void set_field(char **f, const char *v)
{
    char *d;
    if (!v || !*v || (*f && strcmp(*f, v) == 0)) return;
    d = dup_str(v);
    if (!d) return;
    free(*f);
    *f = d;
}

const etwl_proc *etwl_proctab_find(etwl_proctab *t, uint32_t pid, int64_t ts)
{
    etwl_proc *p, *best = NULL, *fallback = NULL;
    for (p = t->buckets[bucket(t, pid)]; p; p = p->next) {
        if (p->pid != pid) continue;
        if (!fallback) fallback = p;
        if (ts && p->start && p->start > ts) continue; /* started later: a reused pid */
        if (ts && p->exit && past_grace(t, p->exit, ts)) continue;
        if (!best || p->start > best->start) best = p;
    }
    return best ? best : (ts ? NULL : fallback);
}

const etwl_proc *etwl_proctab_parent(etwl_proctab *t, const etwl_proc *p)
{
    const etwl_proc *q;
    if (!p || p->ppid == p->pid) return NULL;
    q = etwl_proctab_find(t, p->ppid, p->start);
    return q == p ? NULL : q;
}

static void enforce_cap(etwl_proctab *t)
{
    while (t->count > t->o.max_procs) {
        if (t->exited.head) drop(t, t->exited.head);
        else if (t->alive.head) drop(t, t->alive.head);
        else break;
    }
}

/* A pid reused again and again (or by an attacker) must not grow a chain
 * that every lookup walks: keep the newest few generations. */
static void trim_generations(etwl_proctab *t, etwl_proc *newest_p)
{
    etwl_proc *q, *n;
    int gen = 0;
    for (q = t->buckets[bucket(t, newest_p->pid)]; q; q = n) {
        n = q->next;
        if (q->pid != newest_p->pid) continue;
        if (++gen > MAX_GENERATIONS && q->exit) drop(t, q);
    }
}

/* A new entry for pid, first in its chain (a pid's entries are newest
 * first there), on the exited list when it has an exit time, else the
 * alive one; counted in.  NULL out of memory. */
static etwl_proc *add_entry(etwl_proctab *t, uint32_t pid, int64_t exit)
{
    uint32_t b = bucket(t, pid);
    etwl_proc *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->pid = pid;
    p->exit = exit;
    p->next = t->buckets[b];
    t->buckets[b] = p;
    list_append(exit ? &t->exited : &t->alive, p);
    counted(t);
    return p;
}

etwl_proc *etwl_proctab_start(etwl_proctab *t, uint32_t pid, uint32_t ppid, int64_t ts, const char *image,
                              const char *cmdline, const char *user)
{
    etwl_proc *p, *tomb = NULL, *old = NULL, *same = NULL;
    uint32_t b = bucket(t, pid);
    int gens = 0, nalive = 0;
    int64_t later = 0;
    /* one walk of the chain (its entries are cache misses on a busy
     * machine) finds them all: an entry of this very start, a tombstone it
     * belongs to, the live entry, the next start after it, and how many
     * generations the pid has */
    for (p = t->buckets[b]; p; p = p->next) {
        if (p->pid != pid) continue;
        gens++;
        /* the same start again (a second source, overlapping logs), even
         * after a newer process took the pid */
        if (!same && ts && p->start == ts) same = p;
        /* a stop that arrived before its start left an entry with no start
         * time: this start belongs to it (out-of-order delivery) */
        if (!tomb && !p->start && p->exit && ts && p->exit >= ts) tomb = p;
        /* insertion order: earlier in the chain is newer */
        if (!p->exit) {
            if (!old) old = p;
            nalive++;
        }
        if (ts && p->start > ts && (!later || p->start < later)) later = p->start;
    }
    if (same) {
        p = same;
        goto fill;
    }
    if (tomb) {
        p = tomb;
        p->start = ts;
        p->ppid = ppid;
        goto fill;
    }
    if (old) {
        /* a rundown (no start time), or the same start seen from a second
         * source, describes the live entry: complete it */
        if (!ts || old->start == ts) {
            p = old;
            goto fill;
        }
        /* otherwise the live entry's end was never seen and the pid was
         * reused: it ended when this one started */
        if (old->start < ts) mark_exit(t, old, ts);
        /* so did older live entries of the pid, left by starts that came
         * out of time order (merged hosts, late delivery): kept alive, they
         * were never trimmed and the chain grew with every reuse */
        if (nalive > 1)
            for (p = old->next; p; p = p->next)
                if (p->pid == pid && !p->exit && p->start < ts) mark_exit(t, p, ts);
    }
    /* a start older than one already seen for the pid (time going back:
     * merged hosts, a replay of older logs): that process ended by the time
     * the pid's next one started.  Ended, it is one of the generations
     * trimmed below; kept alive, every such start made the chain longer,
     * and each start walks it. */
    if (!(p = add_entry(t, pid, later))) return NULL;
    p->ppid = ppid;
    p->start = ts;
    if (gens + 1 > MAX_GENERATIONS) trim_generations(t, p);
    enforce_cap(t);
fill:
    if (ppid) p->ppid = ppid;
    set_image(p, image);
    set_field(&p->cmdline, cmdline);
    set_field(&p->user, user);
    p->seen = ts;
    return p;
}

void etwl_proctab_stop(etwl_proctab *t, uint32_t pid, int64_t ts, int32_t exit_code, int has_code)
{
    etwl_proc *p, *best = NULL;
    for (p = t->buckets[bucket(t, pid)]; p; p = p->next)
        if (p->pid == pid && !p->exit && (!ts || !p->start || p->start <= ts)) {
            if (!best || p->start > best->start) best = p;
        }
    if (!best) {
        /* a second stop for a process already ended adds nothing */
        for (p = t->buckets[bucket(t, pid)]; p; p = p->next)
            if (p->pid == pid && p->exit && (!p->start || !ts || p->start <= ts)) {
                if (has_code && !p->has_exit_code) p->exit_code = exit_code, p->has_exit_code = 1;
                return;
            }
        /* the start is late or was never seen: keep a tombstone */
        if (!(best = add_entry(t, pid, ts ? ts : 1))) return;
        trim_generations(t, best);
        enforce_cap(t);
    } else {
        mark_exit(t, best, ts);
    }
    if (has_code) {
        best->exit_code = exit_code;
        best->has_exit_code = 1;
    }
}

/* ---- reading process events ------------------------------------------- */

/* The index of property name, remembered per layout in the table */
static int32_t find(etwl_proctab *t, etwl_event *ev, const char *name)
{
    return etwl_event_prop_find_cached(ev, name, strlen(name), &t->props);
}

static const etwl_value *get(etwl_proctab *t, etwl_event *ev, const char *name)
{
    int32_t i = find(t, ev, name);
    return i < 0 ? NULL : etwl_event_prop(ev, (uint32_t)i);
}

static int prop_str(etwl_proctab *t, etwl_event *ev, const char *name, char *buf, size_t n)
{
    const etwl_value *v = get(t, ev, name);
    size_t k;
    if (!v || v->type != ETWL_VT_STRING || v->n == 0) return 0;
    k = v->n < n - 1 ? v->n : n - 1;
    memcpy(buf, v->v.s, k);
    buf[k] = 0;
    if (strcmp(buf, "-") == 0) return 0; /* Windows' "no value" */
    return 1;
}

/* Integers arrive as numbers (ETW, tracefs) or text ("4242", "0x1a2c"). */
static int prop_u64(etwl_proctab *t, etwl_event *ev, const char *name, uint64_t *out)
{
    int32_t i = find(t, ev, name);
    const etwl_value *v;
    char buf[32], *end;
    if (i < 0) return 0;
    if (etwl_event_prop_uint(ev, (uint32_t)i, out)) return 1; /* the number its text would say */
    v = etwl_event_prop(ev, (uint32_t)i);
    if (!v) return 0;
    switch (v->type) {
    case ETWL_VT_INT: *out = (uint64_t)v->v.i; return 1;
    case ETWL_VT_UINT:
    case ETWL_VT_HEX: *out = v->v.u; return 1;
    case ETWL_VT_NUMBER:
    case ETWL_VT_STRING:
        if (v->n == 0 || v->n >= sizeof buf) return 0;
        memcpy(buf, v->v.s, v->n);
        buf[v->n] = 0;
        *out = strtoull(buf, &end, 0); /* 0x.. hex (Security) or decimal */
        return *end == 0 && end != buf;
    default: return 0;
    }
}

static int64_t prop_time(etwl_proctab *t, etwl_event *ev, const char *name)
{
    const etwl_value *v = get(t, ev, name);
    int64_t ts;
    char buf[40];
    if (!v) return 0;
    if (v->type == ETWL_VT_TIME) return v->v.i;
    if (v->type != ETWL_VT_STRING || v->n < 19 || v->n >= sizeof buf) return 0;
    memcpy(buf, v->v.s, v->n);
    buf[v->n] = 0;
    if (buf[10] == ' ') buf[10] = 'T';                  /* Sysmon's "2024-03-05 10:11:18.010" is UTC */
    if (buf[v->n - 1] >= '0' && buf[v->n - 1] <= '9') { /* no zone (Sysmon's): UTC */
        if (v->n + 1 >= sizeof buf) return 0;
        buf[v->n] = 'Z';
        return etwl_time_parse(buf, v->n + 1, &ts) == ETWL_OK ? ts : 0;
    }
    return etwl_time_parse(buf, v->n, &ts) == ETWL_OK ? ts : 0;
}

static const char *integrity_name(const char *sid)
{
    static const struct {
        const char *sid, *name;
    } map[] = {{"S-1-16-0", "Untrusted"},     {"S-1-16-4096", "Low"},   {"S-1-16-8192", "Medium"},
               {"S-1-16-8448", "MediumPlus"}, {"S-1-16-12288", "High"}, {"S-1-16-16384", "System"},
               {"S-1-16-20480", "Protected"}};
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(sid, map[i].sid) == 0) return map[i].name;
    return sid;
}

enum { SRC_NONE, SRC_KERNEL_MOF, SRC_KERNEL_PROCESS, SRC_SYSMON, SRC_SECURITY, SRC_LINUX };

static int name_is(const etwl_header *h, const char *name, size_t n)
{
    size_t i;
    if (h->provider_name_len != n) return 0;
    if (memcmp(h->provider_name, name, n) == 0) return 1; /* names usually come in their own case */
    for (i = 0; i < n; i++)
        if (tolower((unsigned char)h->provider_name[i]) != tolower((unsigned char)name[i])) return 0;
    return 1;
}

static int source_of(const etwl_header *h)
{
    /* constants, not parsed on first use: workers replaying in parallel
     * (-j) share no lazily initialised state */
    static const struct {
        etwl_guid guid; /* all zero: none */
        const char *name;
        size_t len;
        int src;
    } known[] = {{{0x3D6FA8D0, 0xFE05, 0x11D0, {0x9D, 0xDA, 0x00, 0xC0, 0x4F, 0xD7, 0xBA, 0x7C}},
                  "MSNT_SystemTrace/Process",
                  24,
                  SRC_KERNEL_MOF},
                 {{0x22FB2CD6, 0x0E7B, 0x422B, {0xA0, 0xC7, 0x2F, 0xAD, 0x1F, 0xD0, 0xE7, 0x16}},
                  "Microsoft-Windows-Kernel-Process",
                  32,
                  SRC_KERNEL_PROCESS},
                 {{0x5770385F, 0xC22A, 0x43E0, {0xBF, 0x4C, 0x06, 0xF5, 0x69, 0x8F, 0xFB, 0xD9}},
                  "Microsoft-Windows-Sysmon",
                  24,
                  SRC_SYSMON},
                 {{0x54849625, 0x5478, 0x4994, {0xA5, 0xBA, 0x3E, 0x3B, 0x03, 0x28, 0xC3, 0x0D}},
                  "Microsoft-Windows-Security-Auditing",
                  35,
                  SRC_SECURITY},
                 {{0, 0, 0, {0}}, "process", 7, SRC_LINUX}};
    enum { NKNOWN = sizeof known / sizeof known[0] };
    size_t i;
    if (!etwl_guid_is_zero(&h->provider_guid)) {
        for (i = 0; i < NKNOWN; i++) /* the zero GUID of the last entry matches none here */
            if (etwl_guid_equal(&known[i].guid, &h->provider_guid)) return known[i].src;
    }
    if (!(h->has & ETWL_HAS_PROVIDER_NAME)) return SRC_NONE;
    for (i = 0; i < NKNOWN; i++)
        if (name_is(h, known[i].name, known[i].len)) return known[i].src;
    return SRC_NONE;
}
void etwl_proctab_observe(etwl_proctab *t, etwl_event *ev, etwl_proc_event *out)
{
    const etwl_header *h = &ev->hdr;
    char image[1024], cmd[8192], user[256], il[64];
    uint64_t pid = 0, ppid = 0, code = 0;
    int64_t ts = h->ts;
    etwl_proc *p;
    int src = source_of(h), have_code;
    out->kind = ETWL_PE_NONE;
    out->subject = h->pid;
    out->has_subject = 1;
    out->pending = NULL;
    image[0] = cmd[0] = user[0] = il[0] = 0;
    /* at most once per second of event time; compared without subtracting
     * in int64_t, which a hostile clock (INT64_MIN after a large time) overflows */
    if (ts > t->last_expire && (uint64_t)ts - (uint64_t)t->last_expire > 10000000u) {
        etwl_proctab_expire(t, ts);
        t->last_expire = ts;
    }
    switch (src) {
    case SRC_KERNEL_MOF: /* opcodes: 1 Start, 2 End, 3 DCStart, 4 DCEnd, 39 Defunct */
        if (!prop_u64(t, ev, "ProcessId", &pid)) return;
        out->subject = (uint32_t)pid;
        prop_u64(t, ev, "ParentId", &ppid);
        prop_str(t, ev, "ImageFileName", image, sizeof image);
        prop_str(t, ev, "CommandLine", cmd, sizeof cmd);
        prop_str(t, ev, "UserSID", user, sizeof user);
        if (h->desc.opcode == 1 || h->desc.opcode == 3) {
            p = etwl_proctab_start(t, (uint32_t)pid, (uint32_t)ppid, h->desc.opcode == 1 ? ts : 0, image, cmd, user);
            out->kind = h->desc.opcode == 1 ? ETWL_PE_START : ETWL_PE_RUNDOWN;
            if (p && prop_u64(t, ev, "SessionId", &code)) p->session = (uint32_t)code, p->has_session = 1;
        } else if (h->desc.opcode == 2 || h->desc.opcode == 39) {
            have_code = prop_u64(t, ev, "ExitStatus", &code);
            etwl_proctab_stop(t, (uint32_t)pid, ts, (int32_t)code, have_code);
            out->kind = ETWL_PE_STOP;
        }
        return;
    case SRC_KERNEL_PROCESS:
        if (h->desc.id != 1 && h->desc.id != 2) return;
        if (!prop_u64(t, ev, "ProcessID", &pid)) return;
        out->subject = (uint32_t)pid;
        if (h->desc.id == 1) {
            int64_t ct = prop_time(t, ev, "CreateTime");
            prop_u64(t, ev, "ParentProcessID", &ppid);
            prop_str(t, ev, "ImageName", image, sizeof image);
            p = etwl_proctab_start(t, (uint32_t)pid, (uint32_t)ppid, ct ? ct : ts, image, NULL, NULL);
            if (p && prop_u64(t, ev, "SessionID", &code)) p->session = (uint32_t)code, p->has_session = 1;
            out->kind = ETWL_PE_START;
        } else {
            int64_t xt = prop_time(t, ev, "ExitTime");
            have_code = prop_u64(t, ev, "ExitCode", &code);
            etwl_proctab_stop(t, (uint32_t)pid, xt ? xt : ts, (int32_t)code, have_code);
            out->kind = ETWL_PE_STOP;
        }
        return;
    case SRC_SYSMON:
        if (h->desc.id != 1 && h->desc.id != 5) { /* most Sysmon events name their process */
            out->pending = ev, out->pending_src = src, out->pending_tab = t;
            return;
        }
        if (!prop_u64(t, ev, "ProcessId", &pid)) return;
        out->subject = (uint32_t)pid;
        if (h->desc.id == 1) {
            int64_t ut = prop_time(t, ev, "UtcTime");
            prop_u64(t, ev, "ParentProcessId", &ppid);
            prop_str(t, ev, "Image", image, sizeof image);
            prop_str(t, ev, "CommandLine", cmd, sizeof cmd);
            prop_str(t, ev, "User", user, sizeof user);
            p = etwl_proctab_start(t, (uint32_t)pid, (uint32_t)ppid, ut ? ut : ts, image, cmd, user);
            if (p && prop_str(t, ev, "IntegrityLevel", il, sizeof il)) set_field(&p->integrity, il);
            /* the parent, as Sysmon saw it, fills gaps in what we know */
            if (ppid && prop_str(t, ev, "ParentImage", image, sizeof image)) {
                const etwl_proc *q = etwl_proctab_find(t, (uint32_t)ppid, ut ? ut : ts);
                if (!q) {
                    cmd[0] = 0;
                    prop_str(t, ev, "ParentCommandLine", cmd, sizeof cmd);
                    user[0] = 0;
                    prop_str(t, ev, "ParentUser", user, sizeof user);
                    etwl_proctab_start(t, (uint32_t)ppid, 0, 0, image, cmd, user);
                } else if (!q->image) {
                    set_image((etwl_proc *)q, image);
                }
            }
            out->kind = ETWL_PE_START;
        } else if (h->desc.id == 5) {
            int64_t ut = prop_time(t, ev, "UtcTime");
            etwl_proctab_stop(t, (uint32_t)pid, ut ? ut : ts, 0, 0);
            out->kind = ETWL_PE_STOP;
        }
        return;
    case SRC_SECURITY: /* pids are hex strings: "0x1a2c" */
        if (h->desc.id == 4688) {
            if (!prop_u64(t, ev, "NewProcessId", &pid)) return;
            out->subject = (uint32_t)pid;
            prop_u64(t, ev, "ProcessId", &ppid);
            prop_str(t, ev, "NewProcessName", image, sizeof image);
            prop_str(t, ev, "CommandLine", cmd, sizeof cmd);
            if (!prop_str(t, ev, "TargetUserName", user, sizeof user))
                prop_str(t, ev, "SubjectUserName", user, sizeof user);
            p = etwl_proctab_start(t, (uint32_t)pid, (uint32_t)ppid, ts, image, cmd, user);
            if (p && prop_str(t, ev, "MandatoryLabel", il, sizeof il)) set_field(&p->integrity, integrity_name(il));
            out->kind = ETWL_PE_START;
        } else if (h->desc.id == 4689) {
            if (!prop_u64(t, ev, "ProcessId", &pid)) return;
            out->subject = (uint32_t)pid;
            have_code = prop_u64(t, ev, "Status", &code);
            etwl_proctab_stop(t, (uint32_t)pid, ts, (int32_t)code, have_code);
            out->kind = ETWL_PE_STOP;
        } else {
            out->pending = ev, out->pending_src = src, out->pending_tab = t;
        }
        return;
    case SRC_LINUX: /* etwlua's Linux process provider: 1 start, 2 exit, 3 rundown, 4 fork */
        if (!prop_u64(t, ev, "pid", &pid)) return;
        out->subject = (uint32_t)pid;
        if (h->desc.id == 1 || h->desc.id == 3) {
            prop_u64(t, ev, "ppid", &ppid);
            prop_str(t, ev, "image", image, sizeof image);
            prop_str(t, ev, "cmdline", cmd, sizeof cmd);
            prop_str(t, ev, "user", user, sizeof user);
            etwl_proctab_start(t, (uint32_t)pid, (uint32_t)ppid, h->desc.id == 1 ? ts : 0, image, cmd, user);
            out->kind = h->desc.id == 1 ? ETWL_PE_START : ETWL_PE_RUNDOWN;
        } else if (h->desc.id == 2) {
            have_code = prop_u64(t, ev, "exit_code", &code);
            etwl_proctab_stop(t, (uint32_t)pid, ts, (int32_t)code, have_code);
            out->kind = ETWL_PE_STOP;
        }
        return;
    default: return;
    }
}

uint32_t etwl_proc_subject(etwl_proc_event *pe)
{
    uint64_t pid;
    etwl_event *ev = pe->pending;
    etwl_proctab *t = pe->pending_tab;
    if (!ev) return pe->subject;
    pe->pending = NULL;
    if (prop_u64(t, ev, "ProcessId", &pid) ||
        (pe->pending_src == SRC_SECURITY && prop_u64(t, ev, "NewProcessId", &pid)))
        pe->subject = (uint32_t)pid;
    return pe->subject;
}

/* ---- the set: one table per host, emptied per file --------------------------- */

typedef struct host_tab {
    char *name; /* the computer name; "" for events without one */
    size_t len;
    etwl_proctab *t;
    uint64_t used; /* for the least-recently-used replacement */
} host_tab;

struct etwl_proctabs {
    etwl_proctab_opts o;
    host_tab hosts[ETWL_PROCTABS_MAX_HOSTS];
    int n;
    host_tab *cur;
    uint64_t tick;
    const char *file; /* the last event's source file, as delivered */
    char *file_copy;  /* and its name, should the pointer be reused */
};

etwl_proctabs *etwl_proctabs_new(const etwl_proctab_opts *o)
{
    etwl_proctabs *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (o) s->o = *o;
    s->hosts[0].name = dup_str("-");
    s->hosts[0].t = etwl_proctab_new(&s->o);
    if (!s->hosts[0].name || !s->hosts[0].t) {
        etwl_proctabs_free(s);
        return NULL;
    }
    s->hosts[0].name[0] = 0;
    s->n = 1;
    s->cur = &s->hosts[0];
    return s;
}

void etwl_proctabs_free(etwl_proctabs *s)
{
    int i;
    if (!s) return;
    for (i = 0; i < ETWL_PROCTABS_MAX_HOSTS; i++) {
        free(s->hosts[i].name);
        etwl_proctab_free(s->hosts[i].t);
    }
    free(s->file_copy);
    free(s);
}

int etwl_proctabs_hosts(const etwl_proctabs *s) { return s->n; }

etwl_proctab *etwl_proctabs_current(etwl_proctabs *s) { return s->cur->t; }

/* A new file: every host's table starts empty.  The tables are emptied and
 * kept for the new file's hosts (the first one as the fallback): freed and
 * made again per file, each of their 512 KB of buckets came back as fresh
 * pages to fault in, and with -j every fault interrupted the other
 * workers' cores (see etwl_proctab_new); -j 2 took 8% more CPU than two
 * processes replaying half the files each. */
static void new_file(etwl_proctabs *s, const char *file)
{
    int i;
    for (i = 0; i < s->n; i++) {
        proctab_reset(s->hosts[i].t);
        if (i == 0) continue;
        free(s->hosts[i].name);
        s->hosts[i].name = NULL;
        s->hosts[i].len = 0;
        s->hosts[i].used = 0; /* its table stays, for the next new host */
    }
    s->n = 1;
    s->hosts[0].name[0] = 0;
    s->hosts[0].len = 0;
    s->cur = &s->hosts[0];
    s->file = file;
    free(s->file_copy);
    s->file_copy = dup_str(file);
}

etwl_proctab *etwl_proctabs_for(etwl_proctabs *s, const etwl_event *ev)
{
    const etwl_header *h = &ev->hdr;
    const char *name = h->has & ETWL_HAS_COMPUTER ? h->computer : "";
    size_t len = h->has & ETWL_HAS_COMPUTER ? h->computer_len : 0;
    host_tab *e;
    char *copy;
    int i;
    if (ev->src_file != s->file) {
        /* same name through another pointer: the same file */
        if (!ev->src_file || !s->file_copy || strcmp(ev->src_file, s->file_copy) != 0) {
            if (s->tick) new_file(s, ev->src_file); /* before any event the tables are empty */
            else s->file_copy = dup_str(ev->src_file);
        }
        s->file = ev->src_file;
    }
    s->tick++;
    if (s->cur->len == len && memcmp(s->cur->name, name, len) == 0) {
        s->cur->used = s->tick;
        return s->cur->t;
    }
    for (i = 0; i < s->n; i++) {
        e = &s->hosts[i];
        if (e->len == len && memcmp(e->name, name, len) == 0) goto found;
    }
    if (!(copy = malloc(len + 1))) return s->cur->t;
    memcpy(copy, name, len);
    copy[len] = 0;
    /* the first table belongs to the first host seen, with or without a name */
    if (s->n == 1 && s->hosts[0].len == 0 && etwl_proctab_count(s->hosts[0].t) == 0) {
        e = &s->hosts[0];
    } else if (s->n < ETWL_PROCTABS_MAX_HOSTS) {
        e = &s->hosts[s->n];
        if (!e->t && !(e->t = etwl_proctab_new(&s->o))) { /* a previous file's, emptied, or a new one */
            free(copy);
            return s->cur->t;
        }
        s->n++;
    } else {
        e = &s->hosts[1]; /* the least recently used host gives its table up, emptied */
        for (i = 2; i < s->n; i++)
            if (s->hosts[i].used < e->used) e = &s->hosts[i];
        proctab_reset(e->t);
    }
    free(e->name);
    e->name = copy;
    e->len = len;
found:
    e->used = s->tick;
    s->cur = e;
    return e->t;
}
