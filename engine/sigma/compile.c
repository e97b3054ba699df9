/* compile.c - a Sigma rule document to a plan (sigma_int.h).
 *
 * Everything that can be decided once is decided here: modifiers become
 * one operation per value (equality, prefix, suffix, substring, glob,
 * regex, CIDR, number), values are lower-cased unless |cased, regexes are
 * compiled, and the condition becomes a tree over selection indexes.  A
 * rule that cannot be served keeps the first reason found. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "sigma/sigma_int.h"

typedef struct cx {
    sg_rule *r;
    yaml_document_t *d;
    const sg_phs *ph;
    char reason[512];
    etwl_sigma_state state;
    int oom;
} cx;

static void fail(cx *c, etwl_sigma_state st, const char *fmt, ...) ETWL_PRINTF(3, 4);
static void fail(cx *c, etwl_sigma_state st, const char *fmt, ...)
{
    va_list ap;
    if (c->state) return; /* the first reason is the one to fix first */
    c->state = st;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof c->reason, fmt, ap);
    va_end(ap);
}

static char *dup(cx *c, const char *s)
{
    char *p = s ? strdup(s) : NULL;
    if (s && !p) c->oom = 1;
    return p;
}

/* ---- byte strings with wildcard marks ----------------------------------- */
typedef struct bstr {
    char *p;
    size_t n;
} bstr;

static int bput(bstr *b, const void *s, size_t n)
{
    char *q = realloc(b->p, b->n + n + 1);
    if (!q) return 0;
    memcpy(q + b->n, s, n);
    b->p = q;
    b->n += n;
    b->p[b->n] = 0;
    return 1;
}

/* Sigma escapes: \* \? \\ are literal; any other backslash is itself. */
static int unescape(const char *s, int wild, bstr *out)
{
    size_t n = strlen(s), i;
    int ok = 1;
    for (i = 0; i < n && ok; i++) {
        char ch = s[i];
        if (wild && ch == '\\' && i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            ok = bput(out, &s[++i], 1);
        } else if (wild && ch == '*') {
            char m = SG_STAR;
            ok = bput(out, &m, 1);
        } else if (wild && ch == '?') {
            char m = SG_ONE;
            ok = bput(out, &m, 1);
        } else {
            ok = bput(out, &ch, 1);
        }
    }
    if (!out->p) ok = ok && bput(out, "", 0);
    return ok;
}

static int b64(const uint8_t *s, size_t n, bstr *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    int ok = bput(out, "", 0);
    for (i = 0; i + 2 < n && ok; i += 3) {
        char q[4] = {t[s[i] >> 2], t[((s[i] & 3) << 4) | (s[i + 1] >> 4)], t[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)],
                     t[s[i + 2] & 63]};
        ok = bput(out, q, 4);
    }
    if (ok && n - i == 1) {
        char q[4] = {t[s[i] >> 2], t[(s[i] & 3) << 4], '=', '='};
        ok = bput(out, q, 4);
    } else if (ok && n - i == 2) {
        char q[4] = {t[s[i] >> 2], t[((s[i] & 3) << 4) | (s[i + 1] >> 4)], t[(s[i + 1] & 15) << 2], '='};
        ok = bput(out, q, 4);
    }
    return ok;
}

/* UTF-8 to UTF-16 (le or be), optionally with a byte-order mark */
static int utf16(const bstr *in, int be, int bom, bstr *out)
{
    size_t i = 0;
    int ok = bput(out, "", 0);
    if (bom) ok = bput(out, be ? "\xfe\xff" : "\xff\xfe", 2);
    while (i < in->n && ok) {
        const uint8_t *s = (const uint8_t *)in->p;
        uint32_t cp = s[i];
        int k = cp < 0x80 ? 1 : cp < 0xe0 ? 2 : cp < 0xf0 ? 3 : 4;
        if (i + (size_t)k > in->n) k = 1;
        if (k == 2) cp = ((cp & 0x1f) << 6) | (s[i + 1] & 0x3f);
        if (k == 3) cp = ((cp & 0x0f) << 12) | ((s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f);
        if (k == 4) cp = ((cp & 0x07) << 18) | ((s[i + 1] & 0x3f) << 12) | ((s[i + 2] & 0x3f) << 6) | (s[i + 3] & 0x3f);
        i += (size_t)k;
        uint16_t u[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[0] = (uint16_t)(0xd800 | (cp >> 10));
            u[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
            nu = 2;
        } else {
            u[0] = (uint16_t)cp;
        }
        for (int j = 0; j < nu && ok; j++) {
            uint8_t b[2] = {be ? (uint8_t)(u[j] >> 8) : (uint8_t)u[j], be ? (uint8_t)u[j] : (uint8_t)(u[j] >> 8)};
            ok = bput(out, b, 2);
        }
    }
    return ok;
}

/* ---- values ------------------------------------------------------------ */
enum { M_CONTAINS = 1, M_STARTS = 2, M_ENDS = 4 };

typedef struct mods {
    int match; /* M_* */
    int all, cased, re, re_flags, cidr, exists, fieldref, num, cmp, expand;
    const char *xform[8]; /* value transformations, in the order written */
    int nxform;
} mods;

static int parse_mods(cx *c, char *key, mods *m, char **field)
{
    char *bar = strchr(key, '|'), *tok;
    memset(m, 0, sizeof *m);
    *field = key;
    if (!bar) return 1;
    *bar = 0;
    for (tok = strtok(bar + 1, "|"); tok; tok = strtok(NULL, "|")) {
        if (strcmp(tok, "contains") == 0) m->match = M_CONTAINS;
        else if (strcmp(tok, "startswith") == 0) m->match = M_STARTS;
        else if (strcmp(tok, "endswith") == 0) m->match = M_ENDS;
        else if (strcmp(tok, "all") == 0) m->all = 1;
        else if (strcmp(tok, "cased") == 0) m->cased = 1;
        else if (strcmp(tok, "re") == 0) m->re = 1;
        else if (m->re && strcmp(tok, "i") == 0) m->re_flags |= PCRE2_CASELESS;
        else if (m->re && strcmp(tok, "m") == 0) m->re_flags |= PCRE2_MULTILINE;
        else if (m->re && strcmp(tok, "s") == 0) m->re_flags |= PCRE2_DOTALL;
        else if (strcmp(tok, "cidr") == 0) m->cidr = 1;
        else if (strcmp(tok, "exists") == 0) m->exists = 1;
        else if (strcmp(tok, "fieldref") == 0) m->fieldref = 1;
        else if (strcmp(tok, "gt") == 0) m->num = 1, m->cmp = 0;
        else if (strcmp(tok, "gte") == 0) m->num = 1, m->cmp = 1;
        else if (strcmp(tok, "lt") == 0) m->num = 1, m->cmp = 2;
        else if (strcmp(tok, "lte") == 0) m->num = 1, m->cmp = 3;
        else if (strcmp(tok, "base64") == 0 || strcmp(tok, "base64offset") == 0 || strcmp(tok, "utf16le") == 0 ||
                 strcmp(tok, "utf16be") == 0 || strcmp(tok, "utf16") == 0 || strcmp(tok, "wide") == 0 ||
                 strcmp(tok, "windash") == 0) {
            if (m->nxform == 8) {
                fail(c, ETWL_SIGMA_MODIFIER, "too many modifiers on '%s'", key);
                return 0;
            }
            m->xform[m->nxform++] = tok;
        } else if (strcmp(tok, "expand") == 0) {
            m->expand = 1;
        } else {
            fail(c, ETWL_SIGMA_MODIFIER, "unknown modifier '%s' on %s", tok, key);
            return 0;
        }
    }
    return 1;
}

static int add_val(cx *c, sg_item *it, sg_val *v)
{
    sg_val *nv;
    if (it->nv >= SG_MAX_VALUES) {
        fail(c, ETWL_SIGMA_VALUE, "more than %d values for %s", SG_MAX_VALUES, it->text);
        return 0;
    }
    nv = realloc(it->v, (size_t)(it->nv + 1) * sizeof *nv);
    if (!nv) return (c->oom = 1), 0;
    it->v = nv;
    it->v[it->nv++] = *v;
    return 1;
}

/* Classifies a marked pattern into its cheapest operation. */
static int add_pattern(cx *c, sg_item *it, bstr *pat, int cased)
{
    sg_val v;
    size_t i, inner = 0, n = pat->n;
    char *p = pat->p;
    int lead, trail;
    memset(&v, 0, sizeof v);
    v.cased = (uint8_t)cased;
    /* collapse runs of * */
    for (i = 0; i < n; i++)
        if (!(p[i] == SG_STAR && inner && p[inner - 1] == SG_STAR)) p[inner++] = p[i];
    n = inner;
    if (!cased) { /* folded as event texts are (fold.c); the length may change */
        char *f = malloc(SG_FOLD_MAX(n) + 1);
        if (!f) return (c->oom = 1), 0;
        n = sg_fold(p, n, f);
        f[n] = 0;
        free(pat->p);
        pat->p = p = f;
    }
    lead = n && p[0] == SG_STAR;
    trail = n > (size_t)lead && p[n - 1] == SG_STAR;
    inner = 0;
    for (i = (size_t)lead; i < n - (size_t)trail; i++)
        if (p[i] == SG_STAR || p[i] == SG_ONE) inner = 1;
    if (inner || (n == 1 && lead)) {
        v.op = SG_GLOB;
        v.s = p;
        v.n = n;
        if (n == 1 && lead) { /* '*' alone: any value, when the field is there */
            v.op = SG_SUB;
            v.n = 0;
            v.s[0] = 0;
        }
    } else {
        v.op = lead && trail ? SG_SUB : lead ? SG_SUFFIX : trail ? SG_PREFIX : SG_EQ;
        v.n = n - (size_t)lead - (size_t)trail;
        memmove(p, p + lead, v.n);
        p[v.n] = 0;
        v.s = p;
    }
    pat->p = NULL;
    pat->n = 0;
    if (!add_val(c, it, &v)) {
        free(v.s);
        return 0;
    }
    return 1;
}

static int parse_cidr(const char *s, sg_val *v)
{
    char buf[64];
    const char *sl = strchr(s, '/');
    long bits;
    char *end;
    if (!sl || (size_t)(sl - s) >= sizeof buf) return 0;
    memcpy(buf, s, (size_t)(sl - s));
    buf[sl - s] = 0;
    bits = strtol(sl + 1, &end, 10);
    if (*end || sl[1] == 0) return 0;
    if (inet_pton(AF_INET, buf, v->addr) == 1) {
        if (bits < 0 || bits > 32) return 0;
        v->v6 = 0;
    } else if (inet_pton(AF_INET6, buf, v->addr) == 1) {
        if (bits < 0 || bits > 128) return 0;
        v->v6 = 1;
    } else {
        return 0;
    }
    v->bits = (uint8_t)bits;
    v->op = SG_CIDR;
    return 1;
}

static int field_slot(cx *c, const char *name)
{
    sg_rule *r = c->r;
    char **nf;
    for (int i = 0; i < r->nfields; i++)
        if (strcmp(r->fields[i], name) == 0) return i;
    nf = realloc(r->fields, (size_t)(r->nfields + 1) * sizeof *nf);
    if (!nf) return (c->oom = 1), -1;
    r->fields = nf;
    if (!(nf[r->nfields] = dup(c, name))) return -1;
    return r->nfields++;
}

/* Applies the transformations to one value; may fan out (windash,
 * base64offset). */
static int xform_values(cx *c, const mods *m, int k, bstr *in, sg_item *it);

static int finish_value(cx *c, const mods *m, bstr *pat, sg_item *it)
{
    bstr q = {NULL, 0};
    int ok;
    if (m->match & (M_CONTAINS | M_ENDS)) {
        char s = SG_STAR;
        if (!bput(&q, &s, 1)) return (c->oom = 1), 0;
    }
    if (!bput(&q, pat->p, pat->n)) return free(q.p), (c->oom = 1), 0;
    if (m->match & (M_CONTAINS | M_STARTS)) {
        char s = SG_STAR;
        if (!bput(&q, &s, 1)) return free(q.p), (c->oom = 1), 0;
    }
    ok = add_pattern(c, it, &q, m->cased);
    free(q.p);
    return ok;
}

static int xform_values(cx *c, const mods *m, int k, bstr *in, sg_item *it)
{
    const char *x;
    bstr out = {NULL, 0};
    int ok = 1;
    if (k == m->nxform) return finish_value(c, m, in, it);
    x = m->xform[k];
    if (strcmp(x, "windash") == 0) {
        /* each dash or slash at the start of a word as each of - / and the
         * three Unicode dashes, independently: every combination, so a
         * value with k such characters becomes 5^k values.  Enumerated
         * (the prefilter then sees plain literals) up to SG_WINDASH_MAX
         * positions; past that the rule is refused with the reason, not
         * expanded without bound. */
        static const char *const dashes[] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};
        size_t pos[SG_WINDASH_MAX];
        int k2 = 0;
        long combos = 1;
        for (size_t i = 0; i < in->n; i++) {
            int word = i == 0 || in->p[i - 1] == ' ';
            if (!word || (in->p[i] != '-' && in->p[i] != '/')) continue;
            if (k2 == SG_WINDASH_MAX) {
                fail(c, ETWL_SIGMA_VALUE,
                     "%s: windash: more than %d dashes or slashes starting words in one value (5^%d variants); "
                     "split the value",
                     it->text, SG_WINDASH_MAX, SG_WINDASH_MAX + 1);
                return 0;
            }
            pos[k2++] = i;
            combos *= 5;
        }
        for (long v = 0; v < combos && ok; v++) {
            long digits = v;
            size_t last = 0;
            out.p = NULL;
            out.n = 0;
            ok = bput(&out, "", 0);
            for (int j = 0; j < k2 && ok; j++) {
                const char *d = dashes[digits % 5];
                digits /= 5;
                ok = bput(&out, in->p + last, pos[j] - last) && bput(&out, d, strlen(d));
                last = pos[j] + 1;
            }
            if (ok) ok = bput(&out, in->p + last, in->n - last);
            if (ok) ok = xform_values(c, m, k + 1, &out, it);
            else c->oom = 1;
            free(out.p);
        }
        return ok;
    }
    if (strcmp(x, "base64offset") == 0) {
        static const int start[] = {0, 2, 3}, endcut[] = {0, 3, 2};
        for (int i = 0; i < 3 && ok; i++) {
            uint8_t *tmp = malloc(in->n + 3);
            size_t e;
            if (!tmp) return (c->oom = 1), 0;
            memset(tmp, ' ', (size_t)i);
            memcpy(tmp + i, in->p, in->n);
            out.p = NULL;
            out.n = 0;
            ok = b64(tmp, in->n + (size_t)i, &out);
            free(tmp);
            e = (size_t)endcut[(in->n + (size_t)i) % 3];
            if (ok && out.n > (size_t)start[i] + e) {
                bstr part = {NULL, 0};
                ok = bput(&part, out.p + start[i], out.n - (size_t)start[i] - e);
                if (ok) ok = xform_values(c, m, k + 1, &part, it);
                free(part.p);
            }
            free(out.p);
        }
        return ok;
    }
    if (strcmp(x, "base64") == 0) ok = b64((const uint8_t *)in->p, in->n, &out);
    else if (strcmp(x, "utf16le") == 0 || strcmp(x, "wide") == 0) ok = utf16(in, 0, 0, &out);
    else if (strcmp(x, "utf16be") == 0) ok = utf16(in, 1, 0, &out);
    else ok = utf16(in, 0, 1, &out); /* utf16: little-endian with its BOM */
    if (ok) ok = xform_values(c, m, k + 1, &out, it);
    free(out.p);
    return ok;
}

static int compile_text(cx *c, const mods *m, const char *s, sg_item *it)
{
    bstr b = {NULL, 0};
    int ok;
    if (!unescape(s, m->nxform == 0, &b)) return free(b.p), (c->oom = 1), 0;
    ok = xform_values(c, m, 0, &b, it);
    free(b.p);
    return ok;
}

/* |expand: each %name% becomes each of its values (--sigma-config), the
 * value a Sigma string like the rest (its wildcards count) */
static int expand_value(cx *c, const mods *m, const char *s, sg_item *it, int depth)
{
    const char *p = strchr(s, '%'), *q = p ? strchr(p + 1, '%') : NULL;
    const sg_ph *ph = NULL;
    int ok = 1;
    if (!p || !q) return compile_text(c, m, s, it);
    if (depth >= 8) {
        fail(c, ETWL_SIGMA_VALUE, "%s: more than 8 placeholders in one value", it->text);
        return 0;
    }
    for (int i = 0; c->ph && i < c->ph->n && !ph; i++)
        if (strlen(c->ph->v[i].name) == (size_t)(q - p - 1) &&
            memcmp(c->ph->v[i].name, p + 1, (size_t)(q - p - 1)) == 0)
            ph = &c->ph->v[i];
    if (!ph) {
        fail(c, ETWL_SIGMA_MODIFIER, "%s: expand: placeholder %.*s has no values (give them with --sigma-config)",
             it->text, (int)(q - p + 1), p);
        return 0;
    }
    for (int k = 0; k < ph->nvals && ok; k++) {
        size_t n = (size_t)(p - s) + strlen(ph->vals[k]) + strlen(q + 1) + 1;
        char *x = malloc(n);
        if (!x) return (c->oom = 1), 0;
        snprintf(x, n, "%.*s%s%s", (int)(p - s), s, ph->vals[k], q + 1);
        ok = expand_value(c, m, x, it, depth + 1);
        free(x);
    }
    return ok;
}

static int compile_value(cx *c, const mods *m, yaml_node_t *n, sg_item *it)
{
    const char *s = sg_yaml_str(n);
    sg_val v;
    memset(&v, 0, sizeof v);
    if (!n || n->type != YAML_SCALAR_NODE) {
        fail(c, ETWL_SIGMA_VALUE, "%s: a value must be a scalar", it->text);
        return 0;
    }
    if (m->exists) {
        v.op = SG_EXISTS;
        v.cmp = strcmp(s, "true") == 0 || strcmp(s, "yes") == 0;
        if (!v.cmp && strcmp(s, "false") != 0 && strcmp(s, "no") != 0) {
            fail(c, ETWL_SIGMA_VALUE, "%s: exists takes true or false", it->text);
            return 0;
        }
        return add_val(c, it, &v);
    }
    if (sg_yaml_is_null(n) && !m->nxform && !m->re) {
        v.op = SG_NULL;
        return add_val(c, it, &v);
    }
    if (m->fieldref) {
        v.op = SG_FIELDREF;
        v.cased = (uint8_t)m->cased;
        v.cmp = (uint8_t)m->match;
        v.ref = field_slot(c, s);
        return v.ref >= 0 && add_val(c, it, &v);
    }
    if (m->num) {
        char *end;
        v.op = SG_NUM;
        v.cmp = (uint8_t)m->cmp;
        v.num = strtod(s, &end);
        if (end == s || *end) {
            fail(c, ETWL_SIGMA_VALUE, "%s: '%s' is not a number", it->text, s);
            return 0;
        }
        return add_val(c, it, &v);
    }
    if (m->cidr) {
        if (!parse_cidr(s, &v)) {
            fail(c, ETWL_SIGMA_VALUE, "%s: '%s' is not a CIDR network", it->text, s);
            return 0;
        }
        return add_val(c, it, &v);
    }
    if (m->re) {
        int ec;
        PCRE2_SIZE off;
        v.op = SG_RE;
        v.re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED,
                             (uint32_t)m->re_flags | PCRE2_UTF | PCRE2_NO_UTF_CHECK, &ec, &off, NULL);
        if (!v.re) {
            /* not valid UTF-8, or a pattern PCRE2 rejects */
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            fail(c, ETWL_SIGMA_VALUE, "%s: regex error at offset %zu: %s", it->text, (size_t)off, (char *)msg);
            return 0;
        }
        pcre2_jit_compile(v.re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter when it fails */
        v.s = dup(c, s);
        v.n = strlen(s);
        if (!add_val(c, it, &v)) {
            pcre2_code_free(v.re);
            free(v.s);
            return 0;
        }
        return 1;
    }
    if (m->expand) return expand_value(c, m, s, it, 0);
    return compile_text(c, m, s, it);
}

/* One "field|mods: value(s)" pair of a selection map; field NULL: keywords. */
static int compile_item(cx *c, const char *key, yaml_node_t *val, sg_item *it)
{
    char *k = dup(c, key ? key : "keywords"), *field;
    mods m;
    memset(it, 0, sizeof *it);
    if (!k) return 0;
    it->text = dup(c, k);
    if (!it->text) return free(k), 0;
    if (!parse_mods(c, k, &m, &field)) return free(k), 0;
    it->all = m.all;
    it->field = key ? field_slot(c, field) : -1;
    if (!key && !m.match && !m.re) m.match = M_CONTAINS; /* keywords occur anywhere in the event */
    /* k stays until the values are done: m.xform points into it */
    if (key && it->field < 0) return free(k), 0;
    if (val && val->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *p;
        int ok = 1;
        if (val->data.sequence.items.top == val->data.sequence.items.start) {
            fail(c, ETWL_SIGMA_VALUE, "%s: an empty list of values", it->text);
            return free(k), 0;
        }
        for (p = val->data.sequence.items.start; p < val->data.sequence.items.top && ok; p++)
            ok = compile_value(c, &m, yaml_document_get_node(c->d, *p), it);
        free(k);
        return ok;
    }
    {
        int ok = compile_value(c, &m, val, it);
        free(k);
        return ok;
    }
}

static int compile_map(cx *c, yaml_node_t *map, sg_item **items, int *nitems)
{
    yaml_node_pair_t *pr;
    int n = 0, cap = (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    *items = calloc((size_t)(cap ? cap : 1), sizeof **items);
    if (!*items) return (c->oom = 1), 0;
    for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        const char *key = sg_yaml_str(yaml_document_get_node(c->d, pr->key));
        if (!key) {
            fail(c, ETWL_SIGMA_YAML, "a selection key must be a string");
            break;
        }
        if (!compile_item(c, key, yaml_document_get_node(c->d, pr->value), &(*items)[n])) {
            n++;
            break;
        }
        n++;
    }
    *nitems = n;
    return !c->state && !c->oom;
}

static int compile_sel(cx *c, const char *name, yaml_node_t *n, sg_sel *s)
{
    memset(s, 0, sizeof *s);
    if (!(s->name = dup(c, name))) return 0;
    if (n->type == YAML_MAPPING_NODE) {
        s->maps = calloc(1, sizeof *s->maps);
        s->nitems = calloc(1, sizeof *s->nitems);
        if (!s->maps || !s->nitems) return (c->oom = 1), 0;
        s->nmaps = 1;
        return compile_map(c, n, &s->maps[0], &s->nitems[0]);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *p = n->data.sequence.items.start, *e = n->data.sequence.items.top;
        yaml_node_t *first = p < e ? yaml_document_get_node(c->d, *p) : NULL;
        int cap = (int)(e - p);
        if (!first) {
            fail(c, ETWL_SIGMA_YAML, "selection %s is an empty list", name);
            return 0;
        }
        s->maps = calloc((size_t)cap, sizeof *s->maps);
        s->nitems = calloc((size_t)cap, sizeof *s->nitems);
        if (!s->maps || !s->nitems) return (c->oom = 1), 0;
        if (first->type != YAML_MAPPING_NODE) { /* keywords: a list of plain values */
            s->maps[0] = calloc(1, sizeof(sg_item));
            if (!s->maps[0]) return (c->oom = 1), 0;
            s->nmaps = 1;
            s->nitems[0] = 1;
            return compile_item(c, NULL, n, &s->maps[0][0]);
        }
        for (; p < e; p++) {
            yaml_node_t *m = yaml_document_get_node(c->d, *p);
            if (!m || m->type != YAML_MAPPING_NODE) {
                fail(c, ETWL_SIGMA_YAML, "selection %s mixes maps and values", name);
                return 0;
            }
            if (!compile_map(c, m, &s->maps[s->nmaps], &s->nitems[s->nmaps])) {
                s->nmaps++;
                return 0;
            }
            s->nmaps++;
        }
        return 1;
    }
    /* a single unkeyed value */
    s->maps = calloc(1, sizeof *s->maps);
    s->nitems = calloc(1, sizeof *s->nitems);
    if (!s->maps || !s->nitems || !(s->maps[0] = calloc(1, sizeof(sg_item)))) return (c->oom = 1), 0;
    s->nmaps = 1;
    s->nitems[0] = 1;
    return compile_item(c, NULL, n, &s->maps[0][0]);
}

/* ---- the condition ------------------------------------------------------ */
typedef struct lex {
    const char *p;
    char tok[256];
    int depth;
    cx *c;
} lex;

static void next(lex *l)
{
    size_t n = 0;
    while (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r') l->p++;
    if (*l->p == '(' || *l->p == ')' || *l->p == '|') {
        l->tok[0] = *l->p++;
        l->tok[1] = 0;
        return;
    }
    while (*l->p && !strchr(" \t\r\n()|", *l->p)) {
        if (n + 1 < sizeof l->tok) l->tok[n++] = *l->p;
        l->p++;
    }
    l->tok[n] = 0;
}

static sg_node *node(lex *l, int kind)
{
    sg_node *n = calloc(1, sizeof *n);
    if (!n) l->c->oom = 1;
    else n->kind = (uint8_t)kind;
    return n;
}

static void node_free(sg_node *n)
{
    if (!n) return;
    node_free(n->a);
    node_free(n->b);
    free(n->sels);
    free(n);
}

static int name_match(const char *pat, const char *name)
{
    char p[256];
    size_t n = strlen(pat);
    if (n >= sizeof p) return 0;
    for (size_t i = 0; i < n; i++) p[i] = pat[i] == '*' ? SG_STAR : pat[i];
    return sg_glob(p, n, name, strlen(name));
}

static sg_node *expr(lex *l);

static sg_node *primary(lex *l)
{
    sg_rule *r = l->c->r;
    sg_node *n;
    if (++l->depth > SG_MAX_DEPTH) {
        fail(l->c, ETWL_SIGMA_CONDITION, "condition nested deeper than %d", SG_MAX_DEPTH);
        return NULL;
    }
    if (strcmp(l->tok, "(") == 0) {
        next(l);
        n = expr(l);
        if (!n) return NULL;
        if (strcmp(l->tok, ")") != 0) {
            fail(l->c, ETWL_SIGMA_CONDITION, "condition: ')' expected, not '%s'", l->tok);
            node_free(n);
            return NULL;
        }
        next(l);
        l->depth--;
        return n;
    }
    if (strcmp(l->tok, "not") == 0) {
        next(l);
        if (!(n = node(l, SG_NOT))) return NULL;
        if (!(n->a = primary(l))) return node_free(n), NULL;
        l->depth--;
        return n;
    }
    if (strcmp(l->tok, "1") == 0 || strcmp(l->tok, "all") == 0 || strcmp(l->tok, "any") == 0) {
        int all = strcmp(l->tok, "all") == 0;
        char pat[256];
        next(l);
        if (strcmp(l->tok, "of") != 0) {
            fail(l->c, ETWL_SIGMA_CONDITION, "condition: 'of' expected, not '%s'", l->tok);
            return NULL;
        }
        next(l);
        snprintf(pat, sizeof pat, "%s", l->tok);
        if (!pat[0] || strchr("()|", pat[0])) {
            fail(l->c, ETWL_SIGMA_CONDITION, "condition: a selection pattern or 'them' expected after 'of'");
            return NULL;
        }
        if (!(n = node(l, all ? SG_ALL_OF : SG_ONE_OF))) return NULL;
        n->sels = calloc((size_t)(r->nsels ? r->nsels : 1), sizeof *n->sels);
        if (!n->sels) return (l->c->oom = 1), node_free(n), NULL;
        for (int i = 0; i < r->nsels; i++) {
            int them = strcmp(pat, "them") == 0;
            /* 'them' leaves out selections named _... (spec v2) */
            if (them ? r->sels[i].name[0] != '_' : name_match(pat, r->sels[i].name)) n->sels[n->nsels++] = i;
        }
        if (!n->nsels) {
            fail(l->c, ETWL_SIGMA_CONDITION, "condition: '%s' names no selection", pat);
            node_free(n);
            return NULL;
        }
        next(l);
        l->depth--;
        return n;
    }
    if (!l->tok[0] || strchr("()|", l->tok[0]) || strcmp(l->tok, "and") == 0 || strcmp(l->tok, "or") == 0) {
        if (l->tok[0] == '|')
            fail(l->c, ETWL_SIGMA_CORRELATION, "condition: the '| count()' aggregation (use a correlation rule)");
        else fail(l->c, ETWL_SIGMA_CONDITION, "condition: a selection expected, not '%s'", l->tok);
        return NULL;
    }
    for (int i = 0; i < r->nsels; i++)
        if (strcmp(r->sels[i].name, l->tok) == 0) {
            if (!(n = node(l, SG_REF))) return NULL;
            if (!(n->sels = malloc(sizeof *n->sels))) return (l->c->oom = 1), node_free(n), NULL;
            n->sels[0] = i;
            n->nsels = 1;
            next(l);
            l->depth--;
            return n;
        }
    fail(l->c, ETWL_SIGMA_CONDITION, "condition: no selection named '%s'", l->tok);
    return NULL;
}

static sg_node *binary(lex *l, int and_level)
{
    const char *op = and_level ? "and" : "or";
    sg_node *lhs = and_level ? primary(l) : binary(l, 1);
    int chain = 0;
    while (lhs && strcmp(l->tok, op) == 0) {
        sg_node *n = node(l, and_level ? SG_AND : SG_OR);
        /* a long chain nests as deep as it is long */
        if (++chain + l->depth > SG_MAX_DEPTH * 4) {
            fail(l->c, ETWL_SIGMA_CONDITION, "condition longer than %d terms", SG_MAX_DEPTH * 4);
            node_free(n);
            node_free(lhs);
            return NULL;
        }
        if (!n) return node_free(lhs), NULL;
        next(l);
        n->a = lhs;
        n->b = and_level ? primary(l) : binary(l, 1);
        if (!n->b) return node_free(n), NULL;
        lhs = n;
    }
    return lhs;
}

static sg_node *expr(lex *l) { return binary(l, 0); }

static sg_node *parse_condition(cx *c, const char *text)
{
    lex l = {text, {0}, 0, c};
    sg_node *n;
    next(&l);
    n = expr(&l);
    if (n && l.tok[0]) {
        if (l.tok[0] == '|')
            fail(c, ETWL_SIGMA_CORRELATION, "condition: the '| count()' aggregation (use a correlation rule)");
        else fail(c, ETWL_SIGMA_CONDITION, "condition: unexpected '%s'", l.tok);
        node_free(n);
        return NULL;
    }
    return n;
}

/* ---- the rule ------------------------------------------------------------ */
static char **str_list(cx *c, yaml_node_t *n, int *count)
{
    char **v;
    int k = 0;
    *count = 0;
    if (!n) return NULL;
    if (n->type == YAML_SCALAR_NODE) {
        v = malloc(sizeof *v);
        if (!v || !(v[0] = dup(c, sg_yaml_str(n)))) return free(v), (c->oom = 1), NULL;
        *count = 1;
        return v;
    }
    if (n->type != YAML_SEQUENCE_NODE) return NULL;
    v = calloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1, sizeof *v);
    if (!v) return (c->oom = 1), NULL;
    for (yaml_node_item_t *p = n->data.sequence.items.start; p < n->data.sequence.items.top; p++) {
        const char *s = sg_yaml_str(yaml_document_get_node(c->d, *p));
        if (s && (v[k] = dup(c, s))) k++;
    }
    *count = k;
    return v;
}

static const char *get_str(cx *c, yaml_node_t *root, const char *key)
{
    return sg_yaml_str(sg_yaml_get(c->d, root, key));
}

static void compile_detection(cx *c, yaml_node_t *det)
{
    sg_rule *r = c->r;
    yaml_node_t *cond = sg_yaml_get(c->d, det, "condition");
    yaml_node_pair_t *pr;
    if (!det || det->type != YAML_MAPPING_NODE) return fail(c, ETWL_SIGMA_YAML, "no detection map");
    if (!cond) return fail(c, ETWL_SIGMA_CONDITION, "detection has no condition");
    r->sels = calloc((size_t)(det->data.mapping.pairs.top - det->data.mapping.pairs.start), sizeof *r->sels);
    if (!r->sels) return (void)(c->oom = 1);
    for (pr = det->data.mapping.pairs.start; pr < det->data.mapping.pairs.top && !c->state && !c->oom; pr++) {
        const char *name = sg_yaml_str(yaml_document_get_node(c->d, pr->key));
        yaml_node_t *v = yaml_document_get_node(c->d, pr->value);
        if (!name || strcmp(name, "condition") == 0 || strcmp(name, "timeframe") == 0) continue;
        if (!v) continue;
        compile_sel(c, name, v, &r->sels[r->nsels]);
        r->nsels++;
    }
    if (c->state || c->oom) return;
    if (cond->type == YAML_SEQUENCE_NODE) { /* several conditions: any of them */
        etwl_buf b;
        etwl_buf_init(&b);
        for (yaml_node_item_t *p = cond->data.sequence.items.start; p < cond->data.sequence.items.top; p++) {
            const char *s = sg_yaml_str(yaml_document_get_node(c->d, *p));
            if (b.len) etwl_buf_puts(&b, " or ");
            etwl_buf_printf(&b, "(%s)", s ? s : "");
        }
        r->cond_text = b.oom || !b.data ? NULL : strdup(b.data);
        etwl_buf_free(&b);
    } else {
        r->cond_text = dup(c, sg_yaml_str(cond));
    }
    if (!r->cond_text) return fail(c, ETWL_SIGMA_CONDITION, "the condition is not text");
    r->cond = parse_condition(c, r->cond_text);
}

static void sel_free(sg_sel *s)
{
    for (int j = 0; j < s->nmaps; j++) {
        for (int k = 0; s->nitems && k < s->nitems[j]; k++) {
            sg_item *it = &s->maps[j][k];
            for (int v = 0; v < it->nv; v++) {
                if (it->v[v].re) pcre2_code_free(it->v[v].re);
                free(it->v[v].s);
            }
            free(it->v);
            free(it->text);
        }
        free(s->maps[j]);
    }
    free(s->maps);
    free(s->nitems);
    free(s->name);
    memset(s, 0, sizeof *s);
}

int sg_compile_exclusion(sg_rule *r, yaml_document_t *d, yaml_node_t *map, const sg_phs *ph, char *why, size_t wn)
{
    cx c;
    sg_sel *ns;
    sg_node *ref, *not, *and;
    char name[64];
    size_t tl;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.d = d;
    c.ph = ph;
    if (!r->cond || r->corr) {
        snprintf(why, wn, "a correlation rule has no detection to extend");
        return 0;
    }
    if (!(ns = realloc(r->sels, (size_t)(r->nsels + 1) * sizeof *ns))) goto oom;
    r->sels = ns;
    snprintf(name, sizeof name, "_exclusion%d", r->nsels);
    if (!compile_sel(&c, name, map, &r->sels[r->nsels]) || c.state || c.oom) {
        sel_free(&r->sels[r->nsels]);
        if (c.oom) goto oom;
        snprintf(why, wn, "%s", c.reason);
        return 0;
    }
    ref = calloc(1, sizeof *ref);
    not = calloc(1, sizeof *not );
    and = calloc(1, sizeof *and);
    if (!ref || !not || !and || !(ref->sels = malloc(sizeof *ref->sels))) {
        free(ref);
        free(not );
        free(and);
        sel_free(&r->sels[r->nsels]);
        goto oom;
    }
    ref->kind = SG_REF;
    ref->sels[0] = r->nsels++;
    ref->nsels = 1;
    not ->kind = SG_NOT;
    not ->a = ref;
    and->kind = SG_AND;
    and->a = r->cond;
    and->b = not ;
    r->cond = and;
    /* convert shows it: "(condition) and not _exclusionN" */
    tl = strlen(r->cond_text ? r->cond_text : "") + strlen(name) + 16;
    {
        char *t = malloc(tl);
        if (t) {
            snprintf(t, tl, "(%s) and not %s", r->cond_text ? r->cond_text : "", name);
            free(r->cond_text);
            r->cond_text = t;
        }
    }
    return 1;
oom:
    snprintf(why, wn, "out of memory");
    return -1;
}

etwl_status sg_compile(sg_rule *r, yaml_document_t *d, yaml_node_t *root, const sg_phs *ph)
{
    cx c;
    yaml_node_t *ls;
    const char *prod, *cat, *srv, *why = NULL;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.d = d;
    c.ph = ph;
    if (!root || root->type != YAML_MAPPING_NODE) {
        fail(&c, ETWL_SIGMA_YAML, "not a Sigma rule (a YAML map expected)");
        goto out;
    }
    r->info.id = dup(&c, get_str(&c, root, "id"));
    r->info.title = dup(&c, get_str(&c, root, "title"));
    r->info.status = dup(&c, get_str(&c, root, "status"));
    r->info.level = dup(&c, get_str(&c, root, "level"));
    r->info.author = dup(&c, get_str(&c, root, "author"));
    r->desc = dup(&c, get_str(&c, root, "description"));
    r->date = dup(&c, get_str(&c, root, "date"));
    r->modified = dup(&c, get_str(&c, root, "modified"));
    r->refs = str_list(&c, sg_yaml_get(d, root, "references"), &r->nrefs);
    r->fps = str_list(&c, sg_yaml_get(d, root, "falsepositives"), &r->nfps);
    r->tags = str_list(&c, sg_yaml_get(d, root, "tags"), &r->ntags);
    r->name = dup(&c, get_str(&c, root, "name"));
    if (sg_yaml_get(d, root, "correlation")) {
        const char *cwhy = NULL;
        char buf[256];
        r->corr = sg_corr_parse(d, root, &cwhy, buf, sizeof buf);
        if (!r->corr) fail(&c, ETWL_SIGMA_CORRELATION, "correlation: %s", cwhy ? cwhy : "out of memory");
        r->info.logsource = dup(&c, "correlation");
        goto out;
    }
    if (!r->info.title || !sg_yaml_get(d, root, "detection")) {
        fail(&c, ETWL_SIGMA_YAML, "not a Sigma rule (no title or no detection)");
        goto out;
    }
    ls = sg_yaml_get(d, root, "logsource");
    prod = get_str(&c, ls, "product");
    cat = get_str(&c, ls, "category");
    srv = get_str(&c, ls, "service");
    {
        char buf[256];
        snprintf(buf, sizeof buf, "%s/%s/%s", prod ? prod : "-", cat ? cat : "-", srv ? srv : "-");
        r->info.logsource = dup(&c, buf);
    }
    r->nsrcs = sg_logsource(prod, cat, srv, r->srcs, 8, &why);
    if (!r->nsrcs) {
        fail(&c, ETWL_SIGMA_LOGSOURCE, "log source %s: %s", r->info.logsource ? r->info.logsource : "?", why);
        goto out;
    }
    compile_detection(&c, sg_yaml_get(d, root, "detection"));
    if (!c.state && !c.oom) {
        /* a field no source of the rule has: the rule runs, but that part
         * never matches - said, not hidden */
        for (int i = 0; i < r->nfields; i++) {
            int hdr, conv, any = 0;
            for (int k = 0; k < r->nsrcs; k++) any |= sg_source_field(r->srcs[k], r->fields[i], &hdr, &conv) != NULL;
            if (!any) {
                char buf[256];
                snprintf(buf, sizeof buf, "field %s is not in the events of %s", r->fields[i], r->srcs[0]->name);
                free((char *)r->info.note);
                r->info.note = dup(&c, buf);
            }
        }
    }
out:
    if (c.oom) return ETWL_ENOMEM;
    r->info.state = c.state;
    if (c.state) r->info.reason = dup(&c, c.reason);
    return c.oom ? ETWL_ENOMEM : ETWL_OK;
}

void sg_rule_free(sg_rule *r)
{
    int i;
    free((char *)r->info.id);
    free((char *)r->info.title);
    free((char *)r->info.path);
    free((char *)r->info.level);
    free((char *)r->info.status);
    free((char *)r->info.author);
    free((char *)r->info.logsource);
    free((char *)r->info.reason);
    free((char *)r->info.note);
    free(r->desc);
    free(r->date);
    free(r->modified);
    for (i = 0; i < r->nrefs; i++) free(r->refs[i]);
    for (i = 0; i < r->nfps; i++) free(r->fps[i]);
    for (i = 0; i < r->ntags; i++) free(r->tags[i]);
    free(r->refs);
    free(r->fps);
    free(r->tags);
    free(r->link);
    for (i = 0; i < r->nsels; i++) sel_free(&r->sels[i]);
    free(r->sels);
    node_free(r->cond);
    for (i = 0; i < r->nfields; i++) free(r->fields[i]);
    free(r->fields);
    free(r->cond_text);
    free(r->name);
    free(r->corrs);
    sg_corr_free(r->corr);
    memset(r, 0, sizeof *r);
}

/* ---- convert: the plan, readable ----------------------------------------- */
/* A pattern, readable: wildcards as * and ?, literal ones escaped, control
 * bytes, quotes and backslashes as \xNN (etwl_sigma_plan escapes the rest
 * for the terminal). */
static void put_pat(etwl_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    etwl_buf_putc(b, '\'');
    for (size_t i = 0; i <= n; i++) {
        int special = i == n || s[i] == SG_STAR || s[i] == SG_ONE || s[i] == '*' || s[i] == '?' ||
                      (unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '\'' || s[i] == '\\';
        if (!special) continue;
        if (i > run) etwl_buf_put(b, s + run, i - run);
        run = i + 1;
        if (i == n) break;
        if (s[i] == SG_STAR) etwl_buf_putc(b, '*');
        else if (s[i] == SG_ONE) etwl_buf_putc(b, '?');
        else if (s[i] == '*' || s[i] == '?') etwl_buf_printf(b, "\\%c", s[i]);
        else etwl_buf_printf(b, "\\x%02x", (unsigned char)s[i]);
    }
    etwl_buf_putc(b, '\'');
}

static void put_node(etwl_buf *b, const sg_rule *r, const sg_node *n)
{
    static const char *const ops[] = {"and", "or"};
    switch (n->kind) {
    case SG_AND:
    case SG_OR:
        etwl_buf_putc(b, '(');
        put_node(b, r, n->a);
        etwl_buf_printf(b, " %s ", ops[n->kind]);
        put_node(b, r, n->b);
        etwl_buf_putc(b, ')');
        break;
    case SG_NOT:
        etwl_buf_puts(b, "not ");
        put_node(b, r, n->a);
        break;
    case SG_REF: etwl_buf_puts(b, r->sels[n->sels[0]].name); break;
    default:
        etwl_buf_puts(b, n->kind == SG_ONE_OF ? "any(" : "all(");
        for (int i = 0; i < n->nsels; i++) etwl_buf_printf(b, "%s%s", i ? ", " : "", r->sels[n->sels[i]].name);
        etwl_buf_putc(b, ')');
    }
}

void sg_plan_write(const sg_rule *r, etwl_buf *b)
{
    static const char *const opn[] = {"equals", "startswith", "endswith", "contains", "glob",    "regex",
                                      "cidr",   "number",     "is null",  "exists",   "fieldref"};
    static const char *const cmpn[] = {">", ">=", "<", "<="};
    etwl_buf_printf(b, "rule %s: %s\n", r->info.id ? r->info.id : "(no id)", r->info.title ? r->info.title : "");
    etwl_buf_printf(b, "  state: %s%s%s\n", etwl_sigma_state_name(r->info.state), r->info.reason ? ": " : "",
                    r->info.reason ? r->info.reason : "");
    if (r->info.note) etwl_buf_printf(b, "  note: %s\n", r->info.note);
    etwl_buf_printf(b, "  logsource: %s\n", r->info.logsource ? r->info.logsource : "-");
    for (int i = 0; i < r->nsrcs; i++) {
        const sg_source *s = r->srcs[i];
        etwl_buf_printf(b, "  source: %s: %s %s, ids", s->name, s->provider ? "provider" : "channel",
                        s->provider ? s->provider : s->channel);
        if (!s->nids) etwl_buf_puts(b, " any");
        for (int k = 0; k < s->nids; k++) etwl_buf_printf(b, " %u", s->ids[k]);
        for (int f = 0; f < r->nfields; f++) {
            int hdr, conv;
            const char *p = sg_source_field(s, r->fields[f], &hdr, &conv);
            if (!p) etwl_buf_printf(b, "; %s absent", r->fields[f]);
            else if (strcmp(p, r->fields[f]) != 0) etwl_buf_printf(b, "; %s <- %s", r->fields[f], p);
        }
        etwl_buf_putc(b, '\n');
    }
    if (r->corr) sg_corr_describe(r->corr, b);
    if (r->cond) {
        etwl_buf_printf(b, "  condition: %s\n  plan: ", r->cond_text);
        put_node(b, r, r->cond);
        etwl_buf_putc(b, '\n');
    }
    for (int i = 0; i < r->nsels && r->cond; i++) {
        const sg_sel *s = &r->sels[i];
        etwl_buf_printf(b, "  %s:%s\n", s->name, s->nmaps > 1 ? " any of" : "");
        for (int j = 0; j < s->nmaps; j++) {
            for (int k = 0; k < s->nitems[j]; k++) {
                const sg_item *it = &s->maps[j][k];
                etwl_buf_printf(b, "    %s%s %s %s:",
                                s->nmaps > 1 && k == 0 ? "- "
                                : s->nmaps > 1         ? "  "
                                                       : "",
                                it->field < 0 ? "(keywords)" : r->fields[it->field], it->all ? "all" : "any",
                                it->nv == 1 ? "value" : "values");
                for (int v = 0; v < it->nv && v < 50; v++) {
                    const sg_val *x = &it->v[v];
                    etwl_buf_printf(b, " %s%s", opn[x->op], x->cased ? "(cased)" : "");
                    if (x->op <= SG_GLOB) {
                        etwl_buf_putc(b, ' ');
                        put_pat(b, x->s, x->n);
                    } else if (x->op == SG_RE) {
                        etwl_buf_putc(b, ' ');
                        put_pat(b, x->s, x->n);
                    } else if (x->op == SG_NUM) {
                        etwl_buf_printf(b, " %s %g", cmpn[x->cmp], x->num);
                    } else if (x->op == SG_CIDR) {
                        char a[64];
                        inet_ntop(x->v6 ? AF_INET6 : AF_INET, x->addr, a, sizeof a);
                        etwl_buf_printf(b, " %s/%u", a, x->bits);
                    } else if (x->op == SG_EXISTS) {
                        etwl_buf_puts(b, x->cmp ? " true" : " false");
                    } else if (x->op == SG_FIELDREF) {
                        etwl_buf_printf(b, " %s", r->fields[x->ref]);
                    }
                    if (v + 1 < it->nv) etwl_buf_putc(b, ',');
                }
                if (it->nv > 50) etwl_buf_printf(b, " ... (%d values)", it->nv);
                etwl_buf_putc(b, '\n');
            }
        }
    }
}
