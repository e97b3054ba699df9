/* match.c - a compiled plan against one event.
 *
 * Fields are read only when a rule asks for them, rendered as text and
 * lower-cased at most once per event (a cache keyed by property name, reset
 * by sg_matcher_begin).  Regular expressions run under PCRE2 match and depth
 * limits; a hit on a limit counts as no match and is counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "sigma/sigma_int.h"

#define CACHE_SLOTS 512
#define CACHE_MAX 384 /* past this many fields in one event, values are not cached */

typedef struct centry {
    const char *name;
    uint32_t h;
    uint32_t gen;
    int present;
    size_t raw, low, n; /* offsets into the matcher's buffer */
    size_t lown;        /* the folded text's length (folding may change it) */
    int has_low;
} centry;

struct sg_matcher {
    centry tab[CACHE_SLOTS];
    centry scratch;
    uint32_t gen;
    int used;
    etwl_buf buf;
    etwl_event *ev;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
    uint64_t limit_hits;
};

sg_matcher *sg_matcher_new(void)
{
    sg_matcher *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    etwl_buf_init(&m->buf);
    m->mctx = pcre2_match_context_create(NULL);
    m->md = pcre2_match_data_create(4, NULL);
    if (!m->mctx || !m->md) {
        sg_matcher_free(m);
        return NULL;
    }
    pcre2_set_match_limit(m->mctx, SG_RE_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mctx, SG_RE_DEPTH_LIMIT);
    return m;
}

void sg_matcher_free(sg_matcher *m)
{
    if (!m) return;
    if (m->mctx) pcre2_match_context_free(m->mctx);
    if (m->md) pcre2_match_data_free(m->md);
    etwl_buf_free(&m->buf);
    free(m);
}

uint64_t sg_matcher_limit_hits(const sg_matcher *m) { return m->limit_hits; }

void sg_matcher_begin(sg_matcher *m, etwl_event *ev)
{
    m->ev = ev;
    m->used = 0;
    etwl_buf_reset(&m->buf);
    if (++m->gen == 0) { /* wrapped: every entry is stale anyway */
        memset(m->tab, 0, sizeof m->tab);
        m->gen = 1;
    }
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static void put_value(etwl_buf *b, const etwl_value *v, int depth)
{
    char t[ETWL_GUID_STRLEN + ETWL_TIME_STRLEN + 2];
    switch (v->type) {
    case ETWL_VT_STRING:
    case ETWL_VT_NUMBER: etwl_buf_put(b, v->v.s, v->n); break;
    case ETWL_VT_BOOL: etwl_buf_puts(b, v->v.i ? "true" : "false"); break;
    case ETWL_VT_INT: etwl_buf_printf(b, "%lld", (long long)v->v.i); break;
    case ETWL_VT_UINT: etwl_buf_printf(b, "%llu", (unsigned long long)v->v.u); break;
    case ETWL_VT_HEX: etwl_buf_printf(b, "0x%llx", (unsigned long long)v->v.u); break;
    case ETWL_VT_DOUBLE: etwl_buf_printf(b, "%.17g", v->v.d); break;
    case ETWL_VT_GUID:
        etwl_guid_format(&v->v.g, t);
        etwl_buf_puts(b, t);
        break;
    case ETWL_VT_TIME:
        if (etwl_time_format(v->v.i, t) == ETWL_OK) etwl_buf_puts(b, t);
        break;
    case ETWL_VT_BINARY:
        for (uint32_t i = 0; i < v->n; i++) etwl_buf_printf(b, "%02X", v->v.p[i]);
        break;
    case ETWL_VT_ARRAY: /* argv and the like: items joined by spaces */
        for (uint32_t i = 0; i < v->n && depth < 4; i++) {
            if (i) etwl_buf_putc(b, ' ');
            put_value(b, &v->v.a[i], depth + 1);
        }
        break;
    default: break;
    }
}

static const char *integrity_name(const char *s, size_t n)
{
    static const struct {
        const char *sid, *name;
    } t[] = {{"S-1-16-0", "Untrusted"},     {"S-1-16-4096", "Low"},   {"S-1-16-8192", "Medium"},
             {"S-1-16-8448", "MediumPlus"}, {"S-1-16-12288", "High"}, {"S-1-16-16384", "System"},
             {"S-1-16-20480", "Protected"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].sid) == n && memcmp(t[i].sid, s, n) == 0) return t[i].name;
    return NULL;
}

/* Renders a field into the buffer; returns 0 when the event lacks it. */
static int render(sg_matcher *m, const char *name, int hdr, int conv, size_t *off, size_t *n)
{
    const etwl_header *h = etwl_event_header(m->ev);
    etwl_buf *b = &m->buf;
    size_t start = b->len;
    switch (hdr) {
    case SG_HDR_ID: etwl_buf_printf(b, "%u", h->desc.id); break;
    case SG_HDR_PROVIDER:
        if (!(h->has & ETWL_HAS_PROVIDER_NAME)) return 0;
        etwl_buf_put(b, h->provider_name, h->provider_name_len);
        break;
    case SG_HDR_CHANNEL:
        if (!(h->has & ETWL_HAS_CHANNEL_NAME)) return 0;
        etwl_buf_put(b, h->channel_name, h->channel_name_len);
        break;
    case SG_HDR_COMPUTER:
        if (!(h->has & ETWL_HAS_COMPUTER)) return 0;
        etwl_buf_put(b, h->computer, h->computer_len);
        break;
    default: {
        const etwl_value *v = etwl_event_get(m->ev, name);
        if (!v || v->type == ETWL_VT_NULL || v->type == ETWL_VT_ERROR || v->type == ETWL_VT_OBJECT) return 0;
        put_value(b, v, 0);
    }
    }
    if (conv == 1) {
        const char *nm = b->data ? integrity_name(b->data + start, b->len - start) : NULL;
        if (nm) {
            b->len = start;
            etwl_buf_puts(b, nm);
        }
    }
    *n = b->len - start;
    etwl_buf_putc(b, 0); /* inet_pton and strtod want a terminated string */
    *off = start;
    return !b->oom;
}

static centry *field(sg_matcher *m, const char *name, int hdr, int conv)
{
    uint32_t h = hash(name) ^ (uint32_t)hdr, i;
    centry *e = NULL;
    for (i = 0; i < CACHE_SLOTS; i++) {
        centry *c = &m->tab[(h + i) & (CACHE_SLOTS - 1)];
        if (c->gen != m->gen) {
            if (m->used < CACHE_MAX) {
                e = c;
                m->used++;
            }
            break;
        }
        if (c->h == h && strcmp(c->name, name) == 0) return c;
    }
    if (!e) e = &m->scratch; /* too many fields: computed, not kept */
    e->name = name;
    e->h = h;
    e->gen = m->gen;
    e->has_low = 0;
    e->present = render(m, name, hdr, conv, &e->raw, &e->n);
    return e;
}

static const char *raw_of(sg_matcher *m, centry *e) { return m->buf.data + e->raw; }

static const char *low_of(sg_matcher *m, centry *e)
{
    if (!e->has_low) {
        size_t start = m->buf.len, cap = SG_FOLD_MAX(e->n);
        char small[1100], *tmp = cap <= sizeof small ? small : malloc(cap);
        /* folded aside, then appended: the buffer may move as it grows */
        if (!tmp) return "";
        e->lown = sg_fold(m->buf.data + e->raw, e->n, tmp);
        etwl_buf_put(&m->buf, tmp, e->lown);
        etwl_buf_putc(&m->buf, 0);
        if (tmp != small) free(tmp);
        if (m->buf.oom) return "";
        e->low = start;
        e->has_low = 1;
    }
    return m->buf.data + e->low;
}

int sg_glob(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == SG_ONE) { /* one character: a whole UTF-8 sequence */
            pi++;
            si++;
            while (si < sn && ((uint8_t)s[si] & 0xc0) == 0x80) si++;
        } else if (pi < pn && p[pi] != SG_STAR && p[pi] == s[si]) {
            pi++;
            si++;
        } else if (pi < pn && p[pi] == SG_STAR) {
            star = pi++;
            mark = si;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < pn && p[pi] == SG_STAR) pi++;
    return pi == pn;
}

static int cidr_match(const sg_val *v, const char *text)
{
    uint8_t a[16];
    int bits = v->bits, i;
    if (inet_pton(v->v6 ? AF_INET6 : AF_INET, text, a) != 1) return 0;
    for (i = 0; bits >= 8; i++, bits -= 8)
        if (a[i] != v->addr[i]) return 0;
    return bits == 0 || ((a[i] ^ v->addr[i]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

static int str_test(int op, const char *t, size_t n, const char *s, size_t sn)
{
    switch (op) {
    case SG_EQ: return n == sn && memcmp(t, s, n) == 0;
    case SG_PREFIX: return n >= sn && memcmp(t, s, sn) == 0;
    case SG_SUFFIX: return n >= sn && memcmp(t + n - sn, s, sn) == 0;
    case SG_SUB: return sn == 0 || memmem(t, n, s, sn) != NULL;
    default: return sg_glob(s, sn, t, n);
    }
}

static int value_test(sg_matcher *m, const sg_rule *r, const sg_bind *bind, centry *e, const sg_val *v)
{
    switch (v->op) {
    case SG_NULL: return !e->present || e->n == 0;
    case SG_EXISTS: return e->present == v->cmp;
    default: break;
    }
    if (!e->present) return 0;
    switch (v->op) {
    case SG_RE: {
        int rc = pcre2_match(v->re, (PCRE2_SPTR)raw_of(m, e), e->n, 0, 0, m->md, m->mctx);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
            m->limit_hits++;
        return rc >= 0;
    }
    case SG_CIDR: return cidr_match(v, raw_of(m, e));
    case SG_NUM: {
        char *end;
        const char *t = raw_of(m, e);
        double d = strtod(t, &end);
        if (end == t || *end) return 0;
        return v->cmp == 0 ? d > v->num : v->cmp == 1 ? d >= v->num : v->cmp == 2 ? d < v->num : d <= v->num;
    }
    case SG_FIELDREF: {
        const sg_bind *b = &bind[v->ref];
        centry *o;
        const char *t, *s;
        size_t on;
        int op;
        if (!b->prop) return 0;
        o = field(m, b->prop, b->hdr, b->conv);
        if (!o->present) return 0;
        on = o->n;
        /* both texts are read after both lookups: a lookup may move the buffer */
        (void)r;
        if (!v->cased) { /* both lowered first: lowering may move the buffer */
            low_of(m, e);
            low_of(m, o);
        }
        t = v->cased ? raw_of(m, e) : low_of(m, e);
        s = v->cased ? raw_of(m, o) : low_of(m, o);
        if (!v->cased) on = o->lown;
        op = v->cmp == 1 ? SG_SUB : v->cmp == 2 ? SG_PREFIX : v->cmp == 4 ? SG_SUFFIX : SG_EQ;
        return str_test(op, t, v->cased ? e->n : e->lown, s, on);
    }
    default: {
        const char *t;
        /* the prefilter scanned this field for the value's literal */
        if (v->reg && v->seen != m->gen) return 0;
        if (v->reg && v->op == SG_SUB && !v->cased) return 1;
        t = v->cased ? raw_of(m, e) : low_of(m, e);
        return str_test(v->op, t, v->cased ? e->n : e->lown, v->s, v->n);
    }
    }
}

static int item_test(sg_matcher *m, const sg_rule *r, const sg_bind *bind, const sg_item *it)
{
    if (it->field < 0) { /* keywords: any value of any property */
        uint32_t np = etwl_event_prop_count(m->ev);
        for (int k = 0; k < it->nv; k++) {
            int hit = 0;
            for (uint32_t i = 0; i < np && !hit; i++) {
                uint32_t len;
                const char *nm = etwl_event_prop_name(m->ev, i, &len);
                if (nm) hit = value_test(m, r, bind, field(m, nm, SG_PROP, 0), &it->v[k]);
            }
            if (hit && !it->all) return 1;
            if (!hit && it->all) return 0;
        }
        return it->all;
    } else {
        const sg_bind *b = &bind[it->field];
        centry absent, *e;
        /* answered, or ruled out, by the prefilter's scan */
        if (it->anysub || (it->allreg && it->seen != m->gen)) return it->seen == m->gen;
        if (b->prop) {
            e = field(m, b->prop, b->hdr, b->conv);
        } else {
            memset(&absent, 0, sizeof absent);
            e = &absent;
        }
        for (int k = 0; k < it->nv; k++) {
            const sg_val *v = &it->v[k];
            /* a scanned-for literal that did not occur: no call needed */
            int hit = v->reg && v->seen != m->gen ? 0 : value_test(m, r, bind, e, v);
            if (hit && !it->all) return 1;
            if (!hit && it->all) return 0;
        }
        return it->all;
    }
}

static int sel_test(sg_matcher *m, const sg_rule *r, const sg_bind *bind, const sg_sel *s)
{
    for (int j = 0; j < s->nmaps; j++) {
        int ok = 1;
        for (int k = 0; k < s->nitems[j] && ok; k++) ok = item_test(m, r, bind, &s->maps[j][k]);
        if (ok) return 1;
    }
    return 0;
}

static int node_test(sg_matcher *m, const sg_rule *r, const sg_bind *bind, const sg_node *n)
{
    switch (n->kind) {
    case SG_AND: return node_test(m, r, bind, n->a) && node_test(m, r, bind, n->b);
    case SG_OR: return node_test(m, r, bind, n->a) || node_test(m, r, bind, n->b);
    case SG_NOT: return !node_test(m, r, bind, n->a);
    case SG_REF: return sel_test(m, r, bind, &r->sels[n->sels[0]]);
    case SG_ONE_OF:
        for (int i = 0; i < n->nsels; i++)
            if (sel_test(m, r, bind, &r->sels[n->sels[i]])) return 1;
        return 0;
    default:
        for (int i = 0; i < n->nsels; i++)
            if (!sel_test(m, r, bind, &r->sels[n->sels[i]])) return 0;
        return 1;
    }
}

int sg_eval(sg_matcher *m, const sg_rule *r, const sg_bind *bind) { return r->cond && node_test(m, r, bind, r->cond); }

int sg_field_lower(sg_matcher *m, const char *prop, int hdr, int conv, const char **text, size_t *n)
{
    centry *e = field(m, prop, hdr, conv);
    if (!e->present) return 0;
    *text = low_of(m, e);
    *n = e->lown;
    return !m->buf.oom;
}

uint32_t sg_matcher_gen(const sg_matcher *m) { return m->gen; }

int sg_field_text(sg_matcher *m, const char *prop, int hdr, int conv, int lower, const char **text, size_t *n)
{
    centry *e = field(m, prop, hdr, conv);
    if (!e->present) return 0;
    *text = lower ? low_of(m, e) : raw_of(m, e);
    *n = lower ? e->lown : e->n;
    return !m->buf.oom;
}
