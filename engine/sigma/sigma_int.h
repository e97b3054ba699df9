/* sigma_int.h - the compiled form of a Sigma rule, shared by the compiler
 * (compile.c), the matcher (match.c), the log-source layer (logsource.c) and
 * the YAML reader (yaml.c). */
#ifndef ETWL_SIGMA_INT_H
#define ETWL_SIGMA_INT_H

#include <stdint.h>
#include <yaml.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "sigma/sigma.h"

/* Bounds that hostile rules cannot pass. */
#define SG_MAX_DEPTH 64          /* condition nesting */
#define SG_MAX_VALUES 100000     /* values in one field's list */
#define SG_RE_MATCH_LIMIT 100000 /* PCRE2 match() calls per match attempt */
#define SG_RE_DEPTH_LIMIT 10000  /* PCRE2 backtracking depth */
#define SG_WINDASH_MAX 4         /* dashes |windash varies in one value: 5^4 = 625 variants */

typedef struct sg_matcher sg_matcher; /* match.c */

/* ---- YAML (yaml.c) ---------------------------------------------------- */
typedef struct sg_yaml {
    yaml_document_t docs[8];
    int ndocs;
} sg_yaml;
/* Loads every document; on error sets err with name and line. */
etwl_status sg_yaml_load(sg_yaml *y, const char *text, size_t n, const char *name, etwl_error *err);
void sg_yaml_free(sg_yaml *y);
yaml_node_t *sg_yaml_root(sg_yaml *y, int doc);
yaml_node_t *sg_yaml_get(yaml_document_t *d, yaml_node_t *map, const char *key);
/* A scalar's text or NULL. */
const char *sg_yaml_str(yaml_node_t *n);
int sg_yaml_is_null(yaml_node_t *n);

/* ---- values and plans ------------------------------------------------- */
typedef enum sg_op {
    SG_EQ,     /* whole value, no wildcard */
    SG_PREFIX, /* value* */
    SG_SUFFIX, /* *value */
    SG_SUB,    /* *value* */
    SG_GLOB,   /* any other wildcard pattern */
    SG_RE,
    SG_CIDR,
    SG_NUM,    /* gt/gte/lt/lte */
    SG_NULL,   /* field: null - the field is absent or empty */
    SG_EXISTS, /* exists: true/false */
    SG_FIELDREF
} sg_op;

typedef struct sg_val {
    uint8_t op, cased, cmp; /* cmp: 0 gt 1 gte 2 lt 3 lte; SG_EXISTS: wanted */
    uint8_t v6, bits;       /* CIDR */
    char *s;                /* pattern (lower-cased unless cased) */
    size_t n;
    pcre2_code *re;
    double num;
    uint8_t addr[16];
    int ref; /* SG_FIELDREF: field slot */
    /* the prefilter: reg - its literal is scanned for in every run of the
     * rule, so seen == the matcher's event generation tells whether it
     * occurs in this event's field; mark - a scratch stamp while building */
    uint8_t reg;
    uint32_t seen, mark;
} sg_val;

/* One field (or the keywords, field -1) with its values: any value matches,
 * or every value with |all. */
typedef struct sg_item {
    int field; /* slot in the rule's field table; -1: keyword search */
    int all;
    /* prefilter: every value is a registered case-insensitive substring, so
     * the item holds iff one was seen in this event (seen == generation) */
    uint8_t anysub, allreg; /* allreg: every value registered (not |all): none seen, no match */
    uint32_t seen;
    sg_val *v;
    int nv;
    char *text; /* the key as written, for convert */
} sg_item;

/* A selection: a map (items ANDed), or a list of maps (ORed).  A list of
 * plain values is a keyword selection: one item with field -1. */
typedef struct sg_sel {
    char *name;
    sg_item **maps; /* maps[i] is items[i][0..nitems[i]) */
    int *nitems;
    int nmaps;
} sg_sel;

typedef enum sg_nk { SG_AND, SG_OR, SG_NOT, SG_REF, SG_ONE_OF, SG_ALL_OF } sg_nk;
typedef struct sg_node {
    uint8_t kind;
    struct sg_node *a, *b; /* AND/OR/NOT */
    int *sels;             /* REF: one; ONE_OF/ALL_OF: the matching selections */
    int nsels;
} sg_node;

/* ---- log sources (logsource.c, declared in logsource.h) ---------------- */
#include "sigma/logsource.h"

/* ---- a rule ------------------------------------------------------------ */
typedef struct sg_rule {
    etwl_sigma_rule_info info;
    char *desc, *date, *modified;
    char **refs, **fps, **tags;
    int nrefs, nfps, ntags;
    char *link;
    /* the plan */
    sg_sel *sels;
    int nsels;
    sg_node *cond;
    char **fields; /* Sigma field names the plan reads, by slot */
    int nfields;
    const sg_source *srcs[8];
    int nsrcs;
    char *cond_text;
    char *name;           /* the optional name correlations refer to */
    struct sg_corr *corr; /* a correlation rule (correlate.c) */
    int *corrs, ncorrs;   /* the correlations this rule feeds */
    int quiet;            /* fed correlations all say generate: false */
} sg_rule;

/* ---- correlation rules (correlate.c) ------------------------------------ */
#define SG_CORR_MAX_GROUPS 10000 /* per correlation; the oldest go first */
#define SG_CORR_MAX_ITEMS 4096   /* timestamps or values kept per group */
typedef struct sg_corr sg_corr;
/* Parses the correlation map of a rule; on a problem sets *why. */
sg_corr *sg_corr_parse(yaml_document_t *d, yaml_node_t *root, const char **why, char *buf, size_t n);
void sg_corr_free(sg_corr *c);
/* Resolves the rules it names among rules[0..n); 0 with a reason when one
 * is missing or does not run. */
int sg_corr_resolve(sg_corr *c, sg_rule *rules, size_t n, size_t self, char *why, size_t wn);
/* A referenced rule matched: feeds the state; returns 1 when the
 * correlation fires for this event. */
int sg_corr_feed(sg_corr *c, sg_matcher *m, const sg_rule *base, const sg_source *src, size_t base_idx, etwl_event *ev);
void sg_corr_describe(const sg_corr *c, etwl_buf *b);
/* Correlations whose condition is decided when a window is over (lt, lte,
 * eq, neq): sg_corr_tick, on every event the set sees, evaluates the
 * windows its time has closed, calling fire(ctx) for each that holds. */
int sg_corr_at_close(const sg_corr *c);
size_t sg_corr_tick(sg_corr *c, int64_t now, void (*fire)(void *ctx), void *ctx);
/* The last firing (group values, count, window) for the alert's fields:
 * a JSON object, or " k=v" pairs. */
void sg_corr_fired_write(const sg_corr *c, etwl_buf *b, int json);
uint64_t sg_corr_evicted(const sg_corr *c);
int sg_corr_generates(const sg_corr *c);
int sg_corr_feeds(const sg_corr *c, size_t rule);
size_t sg_corr_groups(const sg_corr *c);
/* A field's text (raw or lower-cased) for this event; 0 when absent. */
int sg_field_text(sg_matcher *m, const char *prop, int hdr, int conv, int lower, const char **text, size_t *n);

/* Compiles a parsed rule document; the rule keeps its reason when it cannot
 * run.  Returns ETWL_ENOMEM only. */
/* Placeholder values for |expand (--sigma-config). */
typedef struct sg_ph {
    char *name;
    char **vals;
    int nvals;
} sg_ph;
typedef struct sg_phs {
    sg_ph *v;
    int n;
} sg_phs;
etwl_status sg_compile(sg_rule *r, yaml_document_t *d, yaml_node_t *root, const sg_phs *ph);
void sg_rule_free(sg_rule *r);
/* Adds "and not SELECTION" to a compiled rule, the selection a map as a
 * rule would write it (field|modifiers: value or list).  1 done; 0 with
 * the reason in why (the rule is unchanged); -1 out of memory. */
int sg_compile_exclusion(sg_rule *r, yaml_document_t *d, yaml_node_t *map, const sg_phs *ph, char *why, size_t wn);
void sg_plan_write(const sg_rule *r, etwl_buf *b);

/* ---- matching (match.c) ---------------------------------------------- */
/* A rule's field slots resolved for one source, once at index time. */
typedef struct sg_bind {
    const char *prop; /* NULL: the source never has it */
    uint8_t hdr, conv;
} sg_bind;

sg_matcher *sg_matcher_new(void);
void sg_matcher_free(sg_matcher *m);
/* Starts an event: the field cache (each value rendered and lower-cased at
 * most once per event) is emptied. */
void sg_matcher_begin(sg_matcher *m, etwl_event *ev);
int sg_eval(sg_matcher *m, const sg_rule *r, const sg_bind *bind);
uint64_t sg_matcher_limit_hits(const sg_matcher *m);
/* A field's lower-cased text for this event (cached); 0 when absent.  The
 * pointer holds until the next lookup. */
int sg_field_lower(sg_matcher *m, const char *prop, int hdr, int conv, const char **text, size_t *n);
/* This event's generation (sg_val.seen). */
uint32_t sg_matcher_gen(const sg_matcher *m);

/* ---- the literal prefilter (prefilter.c) ------------------------------ */
/* For a run of index entries (one event id of one provider or channel):
 * the literals each rule needs, per field, in a hash of 4-byte grams.  A
 * rule whose condition cannot match unless one of its literals occurs is
 * evaluated only when one does; rules without such literals always are. */
typedef struct sg_pf sg_pf;
typedef struct sg_pf_rule {
    const sg_rule *rule;
    const sg_bind *bind;
} sg_pf_rule;
sg_pf *sg_pf_build(const sg_pf_rule *rules, size_t n);
void sg_pf_free(sg_pf *pf);
/* Marks the candidates of this event; then sg_pf_candidate(pf, i) says
 * whether entry i of the run must be evaluated. */
void sg_pf_scan(sg_pf *pf, sg_matcher *m);
/* The entries to evaluate for this event, in order. */
size_t sg_pf_candidates(sg_pf *pf, const uint32_t **list);
/* How many of the run's rules the prefilter guards (for convert/stats). */
size_t sg_pf_guarded(const sg_pf *pf);

/* Wildcards once escapes are resolved: a pattern holds SG_STAR for an
 * unescaped * and SG_ONE for an unescaped ?, so \* and \? stay literal. */
#define SG_STAR '\x01'
#define SG_ONE '\x02'
/* Glob match over the whole subject; linear in practice (no backtracking
 * blow-up: one saved star position). */
int sg_glob(const char *p, size_t pn, const char *s, size_t sn);

/* ---- case folding (fold.c) --------------------------------------------- */
/* Folds n bytes of text into out (room for SG_FOLD_MAX(n) bytes): ASCII
 * letters, and every other letter by Unicode's simple case mapping; bytes
 * that are not valid UTF-8 are copied as they are.  Returns the length
 * folded, which may differ from n. */
#define SG_FOLD_MAX(n) (2 * (n) + 4)
size_t sg_fold(const char *in, size_t n, char *out);
/* 0 when the C library has no UTF-8 locale: then only ASCII folds. */
int sg_fold_unicode(void);

#endif
