/* summary.c - see summary.h */
#include "summary.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Distinct names kept per table: hostile input cannot grow the summary
 * without bound; the rest is counted under one "(others)" line. */
#define MAX_KEYS 4096
#define SHOWN 20 /* lines per table */

typedef struct entry {
    char *key;
    size_t len;
    uint64_t n;
} entry;

/* An open-addressing table of name -> count. */
typedef struct table {
    entry *e;
    size_t cap, used;
    uint64_t others; /* counted past MAX_KEYS */
    uint64_t total;
    entry *last; /* the last name counted: events come in runs of one provider */
} table;

enum { T_RULE, T_SEVERITY, T_HOST, T_PROVIDER, NTABLES };

struct etwl_summary {
    table t[NTABLES];
};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int grow(table *t)
{
    size_t cap = t->cap ? 2 * t->cap : 64, i;
    entry *e = calloc(cap, sizeof *e);
    if (!e) return 0;
    for (i = 0; i < t->cap; i++) {
        size_t j;
        if (!t->e[i].key) continue;
        for (j = hash(t->e[i].key, t->e[i].len) & (cap - 1); e[j].key; j = (j + 1) & (cap - 1)) {
        }
        e[j] = t->e[i];
    }
    free(t->e);
    t->e = e;
    t->cap = cap;
    t->last = NULL;
    return 1;
}

static void count(table *t, const char *k, size_t len, uint64_t n)
{
    size_t j;
    t->total += n;
    if (t->last && t->last->len == len && memcmp(t->last->key, k, len) == 0) {
        t->last->n += n;
        return;
    }
    if (t->used * 2 >= t->cap && t->used < MAX_KEYS && !grow(t)) {
        t->others += n;
        return;
    }
    for (j = hash(k, len) & (t->cap - 1); t->e[j].key; j = (j + 1) & (t->cap - 1))
        if (t->e[j].len == len && memcmp(t->e[j].key, k, len) == 0) {
            t->e[j].n += n;
            t->last = &t->e[j];
            return;
        }
    if (t->used >= MAX_KEYS || !(t->e[j].key = malloc(len + 1))) {
        t->others += n;
        return;
    }
    memcpy(t->e[j].key, k, len);
    t->e[j].key[len] = 0;
    t->e[j].len = len;
    t->e[j].n = n;
    t->used++;
    t->last = &t->e[j];
}

etwl_summary *etwl_summary_new(void) { return calloc(1, sizeof(etwl_summary)); }

void etwl_summary_free(etwl_summary *s)
{
    int k;
    size_t i;
    if (!s) return;
    for (k = 0; k < NTABLES; k++) {
        for (i = 0; i < s->t[k].cap; i++) free(s->t[k].e[i].key);
        free(s->t[k].e);
    }
    free(s);
}

void etwl_summary_alert(etwl_summary *s, const etwl_alert *a)
{
    const etwl_header *h = a->event ? etwl_event_header(a->event) : NULL;
    if (!s) return;
    count(&s->t[T_RULE], a->rule, a->rule_len, 1);
    count(&s->t[T_SEVERITY], a->severity, strlen(a->severity), 1);
    if (h && (h->has & ETWL_HAS_COMPUTER)) count(&s->t[T_HOST], h->computer, h->computer_len, 1);
    else count(&s->t[T_HOST], "-", 1, 1); /* live events and engine alerts name no host */
}

void etwl_summary_event(etwl_summary *s, etwl_event *ev)
{
    const etwl_header *h = etwl_event_header(ev);
    char g[ETWL_GUID_STRLEN + 1];
    if (!s) return;
    if (h->has & ETWL_HAS_PROVIDER_NAME) {
        count(&s->t[T_PROVIDER], h->provider_name, h->provider_name_len, 1);
        return;
    }
    etwl_guid_format(&h->provider_guid, g);
    count(&s->t[T_PROVIDER], g, ETWL_GUID_STRLEN, 1);
}

void etwl_summary_add(etwl_summary *into, const etwl_summary *from)
{
    int k;
    size_t i;
    if (!into || !from) return;
    for (k = 0; k < NTABLES; k++) {
        const table *t = &from->t[k];
        for (i = 0; i < t->cap; i++)
            if (t->e[i].key) count(&into->t[k], t->e[i].key, t->e[i].len, t->e[i].n);
        into->t[k].others += t->others;
        into->t[k].total += t->others;
    }
}

uint64_t etwl_summary_alerts(const etwl_summary *s) { return s ? s->t[T_RULE].total : 0; }

static int by_count(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void print_table(const table *t, const char *what, FILE *f)
{
    entry **v;
    size_t i, n = 0;
    etwl_buf b;
    if (!t->used && !t->others) return;
    if (!(v = malloc((t->used ? t->used : 1) * sizeof *v))) return;
    for (i = 0; i < t->cap; i++)
        if (t->e[i].key) v[n++] = &t->e[i];
    qsort(v, n, sizeof *v, by_count);
    fprintf(f, "etwlua: summary: %s:\n", what);
    etwl_buf_init(&b);
    for (i = 0; i < n && i < SHOWN; i++) {
        etwl_buf_reset(&b);
        /* names come from the input: escaped */
        etwl_text_put_escaped(&b, v[i]->key, v[i]->len);
        fprintf(f, "etwlua:   %10llu  %s\n", (unsigned long long)v[i]->n, b.data ? b.data : "");
    }
    if (n > SHOWN) {
        uint64_t rest = 0;
        for (; i < n; i++) rest += v[i]->n;
        fprintf(f, "etwlua:   %10llu  (%zu more)\n", (unsigned long long)rest, n - SHOWN);
    }
    if (t->others) fprintf(f, "etwlua:   %10llu  (others, past %d names)\n", (unsigned long long)t->others, MAX_KEYS);
    etwl_buf_free(&b);
    free(v);
}

void etwl_summary_print(const etwl_summary *s, uint64_t handler_errors, uint64_t files, FILE *f)
{
    if (!s) return;
    fprintf(f, "etwlua: summary: %llu alert(s), %llu event(s)", (unsigned long long)s->t[T_RULE].total,
            (unsigned long long)s->t[T_PROVIDER].total);
    if (files) fprintf(f, " from %llu file(s)", (unsigned long long)files);
    fprintf(f, ", %llu handler error(s)\n", (unsigned long long)handler_errors);
    print_table(&s->t[T_SEVERITY], "alerts by severity", f);
    print_table(&s->t[T_RULE], "alerts by rule", f);
    print_table(&s->t[T_HOST], "alerts by host", f);
    print_table(&s->t[T_PROVIDER], "events by provider", f);
}

/* ---- the progress line ----------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void etwl_progress_start(etwl_progress *p, int on)
{
    memset(p, 0, sizeof *p);
    p->on = on;
    p->t0 = now_s();
}

void etwl_progress_update(etwl_progress *p, uint64_t done, uint64_t total, uint64_t events, int force)
{
    double t, el, rate;
    char eta[32] = "";
    if (!p->on) return;
    t = now_s();
    if (!force && t - p->last < 0.25) return;
    p->last = t;
    el = t - p->t0 > 1e-3 ? t - p->t0 : 1e-3;
    rate = (double)events / el;
    if (total && done && done < total) {
        double left = el * (double)(total - done) / (double)done;
        snprintf(eta, sizeof eta, ", ETA %d:%02d", (int)(left / 60), (int)left % 60);
    }
    if (total)
        fprintf(stderr, "\retwlua: %.1f of %.1f MB (%d%%), %llu events, %.0f events/s%s\033[K", done / 1048576.0,
                total / 1048576.0, (int)(done >= total ? 100 : 100.0 * (double)done / (double)total),
                (unsigned long long)events, rate, eta);
    else
        fprintf(stderr, "\retwlua: %.1f MB, %llu events, %.0f events/s\033[K", done / 1048576.0,
                (unsigned long long)events, rate);
    fflush(stderr);
    p->visible = 1;
}

void etwl_progress_clear(etwl_progress *p)
{
    if (!p->visible) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->visible = 0;
}
