/* tree.c - see tree.h.  Nodes live in one array, linked to their parent,
 * children and older namesakes by index, so growing it never invalidates a
 * link. */
#include "process/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "output/output.h"

#define NHEADS 65536
#define DEFAULT_MAX 1000000u
#define MAX_ALERT_RULES 16 /* distinct rules listed per process; the rest are counted */
#define MAX_DEPTH 256      /* a parent chain longer than this is drawn flat */

typedef struct pnode {
    uint32_t pid, ppid;
    int64_t start, exit; /* FILETIME; 0: unknown / still running */
    char *image, *cmdline, *user, *integrity;
    int32_t parent, first_child, last_child, next_sibling;
    int32_t older; /* the previous node with the same pid */
    char *rules[MAX_ALERT_RULES];
    uint32_t rule_counts[MAX_ALERT_RULES];
    uint32_t nrules, alerts;
    uint8_t in_view, reused;
} pnode;

struct etwl_ptree {
    pnode *n;
    uint32_t count, cap, max, dropped;
    int32_t heads[NHEADS]; /* newest node per pid bucket, -1 when none */
};

static uint32_t head_of(uint32_t pid) { return (pid * 2654435761u) >> 16 & (NHEADS - 1); }

etwl_ptree *etwl_ptree_new(uint32_t max_nodes)
{
    etwl_ptree *t = calloc(1, sizeof *t);
    uint32_t i;
    if (!t) return NULL;
    t->max = max_nodes ? max_nodes : DEFAULT_MAX;
    for (i = 0; i < NHEADS; i++) t->heads[i] = -1;
    return t;
}

void etwl_ptree_free(etwl_ptree *t)
{
    uint32_t i, k;
    if (!t) return;
    for (i = 0; i < t->count; i++) {
        free(t->n[i].image);
        free(t->n[i].cmdline);
        free(t->n[i].user);
        free(t->n[i].integrity);
        for (k = 0; k < t->n[i].nrules; k++) free(t->n[i].rules[k]);
    }
    free(t->n);
    free(t);
}

uint32_t etwl_ptree_count(const etwl_ptree *t) { return t->count; }

static char *dup_or_null(const char *s) { return s && s[0] ? strdup(s) : NULL; }

/* The node of pid that was alive at ts (the newest that started by then);
 * ts 0 means the newest. */
static int32_t node_at(const etwl_ptree *t, uint32_t pid, int64_t ts)
{
    int32_t i;
    for (i = t->heads[head_of(pid)]; i >= 0; i = t->n[i].older) {
        const pnode *p = &t->n[i];
        if (p->pid != pid) continue;
        if (ts && p->start && p->start > ts) continue; /* a later process that reused the pid */
        return i;
    }
    return -1;
}

static int32_t add(etwl_ptree *t, etwl_proctab *tab, const etwl_proc *p, int depth);

/* The parent instance of a new node: one the tree has, else one the process
 * table knows (Sysmon names parents it never saw start), else unseen. */
static int32_t parent_of(etwl_ptree *t, etwl_proctab *tab, const etwl_proc *p, int depth)
{
    int32_t i;
    const etwl_proc *q;
    if (!p->ppid || p->ppid == p->pid) return -1;
    if ((i = node_at(t, p->ppid, p->start)) >= 0) return i;
    q = etwl_proctab_parent(tab, p);
    return q && depth < MAX_DEPTH ? add(t, tab, q, depth + 1) : -1;
}

static int32_t add(etwl_ptree *t, etwl_proctab *tab, const etwl_proc *p, int depth)
{
    pnode *n;
    int32_t i, parent, *h;
    if (t->count == t->max) {
        t->dropped++;
        return -1;
    }
    parent = parent_of(t, tab, p, depth);
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        pnode *g = realloc(t->n, (size_t)cap * sizeof *g);
        if (!g) return -1;
        t->n = g;
        t->cap = cap;
    }
    i = (int32_t)t->count++;
    n = &t->n[i];
    memset(n, 0, sizeof *n);
    n->pid = p->pid;
    n->ppid = p->ppid;
    n->start = p->start;
    n->exit = p->exit;
    n->image = dup_or_null(p->image);
    n->cmdline = dup_or_null(p->cmdline);
    n->user = dup_or_null(p->user);
    n->integrity = dup_or_null(p->integrity);
    n->parent = parent;
    n->first_child = n->last_child = n->next_sibling = -1;
    h = &t->heads[head_of(p->pid)];
    n->older = *h;
    if (node_at(t, p->pid, 0) >= 0) n->reused = 1;
    *h = i;
    if (parent >= 0) {
        if (t->n[parent].last_child >= 0) t->n[t->n[parent].last_child].next_sibling = i;
        else t->n[parent].first_child = i;
        t->n[parent].last_child = i;
    }
    return i;
}

/* A rundown or a second report of a start the tree already has fills in
 * what it lacked, instead of adding a second node.  A node without a start
 * time (a rundown's) is not the instance of a table entry that has one: the
 * table keeps a rundown entry only for rundowns, and a start of its pid
 * makes a new entry (the pid was reused, or the rundown caught a fork child
 * before its exec, with its parent's image). */
static int same_instance(const pnode *n, const etwl_proc *p)
{
    if (n->exit) return 0;
    return !p->start || n->start == p->start;
}

void etwl_ptree_observe(etwl_ptree *t, etwl_proctab *tab, const etwl_event *ev, const etwl_proc_event *pe)
{
    const etwl_proc *p;
    int32_t i;
    if (pe->kind == ETWL_PE_NONE || !pe->has_subject) return;
    p = etwl_proctab_find(tab, pe->subject, ev->hdr.ts); /* process events: never pending */
    if (!p) p = etwl_proctab_find(tab, pe->subject, 0);
    if (!p) return;
    i = node_at(t, pe->subject, p->start ? p->start : ev->hdr.ts);
    if (pe->kind == ETWL_PE_STOP) {
        if (i >= 0 && !t->n[i].exit) t->n[i].exit = p->exit ? p->exit : ev->hdr.ts;
        return;
    }
    if (i >= 0 && !t->n[i].start && !t->n[i].exit && p->start && !same_instance(&t->n[i], p)) {
        /* the rundown's instance ended where this one began, as in the table */
        t->n[i].exit = p->start;
    } else if (i >= 0 && same_instance(&t->n[i], p)) {
        pnode *n = &t->n[i];
        if (!n->start) n->start = p->start;
        if (!n->image) n->image = dup_or_null(p->image);
        if (!n->cmdline) n->cmdline = dup_or_null(p->cmdline);
        if (!n->user) n->user = dup_or_null(p->user);
        if (!n->integrity) n->integrity = dup_or_null(p->integrity);
        return;
    }
    add(t, tab, p, 0);
}

void etwl_ptree_alert(etwl_ptree *t, uint32_t pid, int64_t ts, const char *rule, size_t rule_len)
{
    int32_t i = node_at(t, pid, ts);
    pnode *n;
    uint32_t k;
    if (i < 0) return;
    n = &t->n[i];
    n->alerts++;
    for (k = 0; k < n->nrules; k++)
        if (strlen(n->rules[k]) == rule_len && memcmp(n->rules[k], rule, rule_len) == 0) {
            n->rule_counts[k]++;
            return;
        }
    if (n->nrules == MAX_ALERT_RULES) return; /* counted in alerts */
    if (!(n->rules[n->nrules] = malloc(rule_len + 1))) return;
    memcpy(n->rules[n->nrules], rule, rule_len);
    n->rules[n->nrules][rule_len] = 0;
    n->rule_counts[n->nrules++] = 1;
}

/* ---- output ---------------------------------------------------------------- */

static int alive_at(const pnode *n, int64_t at)
{
    if (!at) return 1;
    return (!n->start || n->start <= at) && (!n->exit || n->exit >= at);
}

static void mark_down(etwl_ptree *t, int32_t i, int depth)
{
    int32_t c;
    if (depth > MAX_DEPTH) return;
    t->n[i].in_view = 2;
    for (c = t->n[i].first_child; c >= 0; c = t->n[c].next_sibling)
        if (t->n[c].in_view) mark_down(t, c, depth + 1);
}

static void put_time(etwl_buf *b, int64_t ft, int json)
{
    char s[ETWL_TIME_STRLEN + 1];
    if (!ft || etwl_time_format(ft, s) != ETWL_OK) {
        etwl_buf_puts(b, json ? "null" : "?");
        return;
    }
    if (json) etwl_buf_printf(b, "\"%s\"", s);
    else etwl_buf_puts(b, s);
}

static void json_str(etwl_buf *b, const char *key, const char *v)
{
    etwl_buf_printf(b, ",\"%s\":", key);
    if (v) etwl_json_put_string(b, v, strlen(v));
    else etwl_buf_puts(b, "null");
}

static const char *file_name(const char *s)
{
    const char *r = s;
    for (; *s; s++)
        if (*s == '\\' || *s == '/') r = s + 1;
    return r;
}

/* Cuts the line that starts at `from` to `width` columns (UTF-8 code
 * points), marking the cut. */
static void cut(etwl_buf *b, size_t from, unsigned width)
{
    size_t i, cols = 0;
    if (!width || b->oom) return;
    for (i = from; i < b->len; i++) {
        if (((unsigned char)b->data[i] & 0xC0) == 0x80) continue;
        if (++cols == width) {
            b->len = i;
            etwl_buf_puts(b, "\xe2\x80\xa6"); /* … */
            return;
        }
    }
}

static void write_node(etwl_ptree *t, const etwl_ptree_view *v, int32_t i, int depth, const char *prefix, int last,
                       etwl_buf *b, uint32_t *written)
{
    pnode *n = &t->n[i];
    size_t from = b->len;
    uint32_t k;
    int32_t c, lastc = -1;
    char sub[4 * MAX_DEPTH + 8];
    (*written)++;
    if (v->json) {
        etwl_buf_printf(b, "{\"pid\":%u,\"ppid\":%u,\"depth\":%d,\"parent_seen\":%s", n->pid, n->ppid, depth,
                        n->parent >= 0 ? "true" : "false");
        json_str(b, "image", n->image);
        json_str(b, "command_line", n->cmdline);
        json_str(b, "user", n->user);
        json_str(b, "integrity", n->integrity);
        etwl_buf_puts(b, ",\"start\":");
        put_time(b, n->start, 1);
        etwl_buf_puts(b, ",\"exit\":");
        put_time(b, n->exit, 1);
        etwl_buf_printf(b, ",\"pid_reused\":%s,\"alerts\":{", n->reused ? "true" : "false");
        for (k = 0; k < n->nrules; k++) {
            if (k) etwl_buf_putc(b, ',');
            etwl_json_put_string(b, n->rules[k], strlen(n->rules[k]));
            etwl_buf_printf(b, ":%u", n->rule_counts[k]);
        }
        etwl_buf_puts(b, "}}\n");
    } else {
        /* controls and bidi characters escaped; backslashes and quotes as
         * they are, so paths and command lines read as typed */
        const char *name = n->image ? file_name(n->image) : "?";
        etwl_buf_puts(b, prefix);
        if (depth) etwl_buf_puts(b, last ? "\xe2\x94\x94\xe2\x94\x80 " : "\xe2\x94\x9c\xe2\x94\x80 "); /* └─ ├─ */
        etwl_buf_printf(b, "%u ", n->pid);
        etwl_text_put_controls_escaped(b, name, strlen(name));
        if (n->alerts) {
            etwl_buf_printf(b, " [%u alert%s:", n->alerts, n->alerts == 1 ? "" : "s");
            for (k = 0; k < n->nrules; k++) {
                etwl_buf_putc(b, ' ');
                etwl_text_put_controls_escaped(b, n->rules[k], strlen(n->rules[k]));
                if (n->rule_counts[k] > 1) etwl_buf_printf(b, "x%u", n->rule_counts[k]);
            }
            etwl_buf_putc(b, ']');
        }
        if (n->parent < 0 && n->ppid && n->ppid != n->pid) etwl_buf_printf(b, " (parent %u not seen)", n->ppid);
        if (!n->start && !n->ppid) etwl_buf_puts(b, " (known only as a parent)");
        if (n->reused) etwl_buf_puts(b, " (pid reused)");
        etwl_buf_puts(b, " start=");
        put_time(b, n->start, 0);
        if (n->exit) {
            etwl_buf_puts(b, " exit=");
            put_time(b, n->exit, 0);
        }
        if (n->user) {
            etwl_buf_puts(b, " user=");
            etwl_text_put_controls_escaped(b, n->user, strlen(n->user));
        }
        if (n->integrity) {
            etwl_buf_puts(b, " integrity=");
            etwl_text_put_controls_escaped(b, n->integrity, strlen(n->integrity));
        }
        if (n->cmdline) {
            etwl_buf_puts(b, " | ");
            etwl_text_put_controls_escaped(b, n->cmdline, strlen(n->cmdline));
        }
        cut(b, from, v->width);
        etwl_buf_putc(b, '\n');
    }
    snprintf(sub, sizeof sub, "%s%s", prefix, depth == 0 ? "" : last ? "   " : "\xe2\x94\x82  "); /* │ */
    if (depth >= MAX_DEPTH) return;
    for (c = n->first_child; c >= 0; c = t->n[c].next_sibling)
        if (t->n[c].in_view == 2) lastc = c;
    for (c = n->first_child; c >= 0; c = t->n[c].next_sibling)
        if (t->n[c].in_view == 2) write_node(t, v, c, depth + 1, sub, c == lastc, b, written);
}

uint32_t etwl_ptree_write(etwl_ptree *t, const etwl_ptree_view *v, etwl_buf *out)
{
    uint32_t i, written = 0;
    /* 1: alive at the time asked; 2: and in the pid's lineage, if one is asked */
    for (i = 0; i < t->count; i++) t->n[i].in_view = (uint8_t)alive_at(&t->n[i], v->at);
    if (v->has_pid) {
        for (i = 0; i < t->count; i++) t->n[i].in_view = t->n[i].in_view ? 3 : 0; /* 3: candidate */
        for (i = 0; i < t->count; i++) {
            int32_t a;
            int d = 0;
            if (t->n[i].in_view != 3 || t->n[i].pid != v->pid) continue;
            mark_down(t, (int32_t)i, 0);
            for (a = t->n[i].parent; a >= 0 && d++ < MAX_DEPTH; a = t->n[a].parent)
                if (t->n[a].in_view) t->n[a].in_view = 2;
        }
        /* descendants were marked through candidates only; the rest leave */
        for (i = 0; i < t->count; i++)
            if (t->n[i].in_view != 2) t->n[i].in_view = 0;
    } else {
        for (i = 0; i < t->count; i++)
            if (t->n[i].in_view) t->n[i].in_view = 2;
    }
    for (i = 0; i < t->count; i++) {
        pnode *n = &t->n[i];
        if (n->in_view != 2 || (n->parent >= 0 && t->n[n->parent].in_view == 2)) continue;
        write_node(t, v, (int32_t)i, 0, "", 1, out, &written);
    }
    if (t->dropped)
        etwl_buf_printf(out, v->json ? "{\"dropped\":%u}\n" : "(%u more processes not kept: the tree is full)\n",
                        t->dropped);
    return written;
}
