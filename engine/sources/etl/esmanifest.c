/* esmanifest.c - see esmanifest.h.  The XML is read with expat (SAX): the
 * manifest's parts are collected first, since events name tasks, opcodes,
 * templates and maps that may come in any order. */
#include "sources/etl/esmanifest.h"

#ifdef ETWL_HAVE_EXPAT /* the Windows build has no expat: its ETL files go through OpenTraceW */

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/format.h"
#include "util/grow.h"

#define MAX_ITEMS 65536 /* of each kind: a bound on a hostile manifest */

typedef struct named {
    char *name;
    uint64_t value;
    int task; /* opcodes: the task's index, or -1 for provider-wide */
} named;

typedef struct tfield {
    char *name, *length, *count, *map;
    uint16_t intype;
} tfield;

typedef struct ttemplate {
    char *tid;
    tfield *f;
    uint32_t n, cap;
} ttemplate;

typedef struct tevent {
    uint16_t id;
    uint8_t version, level;
    uint64_t keywords;
    char *task, *opcode, *tmpl, *symbol;
} tevent;

typedef struct tmap {
    char *name;
    int bitmap;
    named *e; /* name holds the message, still to resolve */
    uint32_t n, cap;
} tmap;

typedef struct parse {
    XML_Parser xp;
    char *prov_name;
    etwl_guid prov;
    int have_prov;
    named *tasks, *opcodes, *strings; /* strings: name = id, value = index into svals */
    char **svals;
    uint32_t ntasks, captasks, nopcodes, capopcodes, nstrings, capstrings, capsvals;
    ttemplate *tmpl;
    uint32_t ntmpl, captmpl;
    tevent *ev;
    uint32_t nev, capev;
    tmap *maps;
    uint32_t nmaps, capmaps;
    int in_task, in_template, in_map;
    int oom;
} parse;

static int grow(void *p, uint32_t n, uint32_t *cap, size_t sz) { return etwl_grow(p, n, 1, cap, sz, MAX_ITEMS); }

static const char *attr(const char **a, const char *name)
{
    for (; a && a[0]; a += 2)
        if (strcmp(a[0], name) == 0) return a[1];
    return NULL;
}

static char *dup(parse *p, const char *s)
{
    char *d;
    if (!s) return NULL;
    if (!(d = strdup(s))) p->oom = 1;
    return d;
}

static uint64_t num(const char *s) { return s ? strtoull(s, NULL, 0) : 0; }

/* TDH in-types by their manifest names */
static uint16_t intype_of(const char *t)
{
    static const struct {
        const char *name;
        uint16_t in;
    } types[] = {
        {"win:UnicodeString", ETWL_IN_UNICODESTRING},
        {"win:AnsiString", ETWL_IN_ANSISTRING},
        {"win:Int8", ETWL_IN_INT8},
        {"win:UInt8", ETWL_IN_UINT8},
        {"win:Int16", ETWL_IN_INT16},
        {"win:UInt16", ETWL_IN_UINT16},
        {"win:Int32", ETWL_IN_INT32},
        {"win:UInt32", ETWL_IN_UINT32},
        {"win:Int64", ETWL_IN_INT64},
        {"win:UInt64", ETWL_IN_UINT64},
        {"win:Float", ETWL_IN_FLOAT},
        {"win:Double", ETWL_IN_DOUBLE},
        {"win:Boolean", ETWL_IN_BOOLEAN},
        {"win:Binary", ETWL_IN_BINARY},
        {"win:GUID", ETWL_IN_GUID},
        {"win:Pointer", ETWL_IN_POINTER},
        {"win:FILETIME", ETWL_IN_FILETIME},
        {"win:SYSTEMTIME", ETWL_IN_SYSTEMTIME},
        {"win:SID", ETWL_IN_SID},
        {"win:HexInt32", ETWL_IN_HEXINT32},
        {"win:HexInt64", ETWL_IN_HEXINT64},
    };
    size_t i;
    for (i = 0; t && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].name, t) == 0) return types[i].in;
    return ETWL_IN_NULL;
}

static void add_named(parse *p, named **arr, uint32_t *n, uint32_t *cap, const char *name, uint64_t v, int task)
{
    if (!name) return;
    if (!grow(arr, *n, cap, sizeof **arr)) {
        p->oom = 1;
        return;
    }
    (*arr)[*n].name = dup(p, name);
    (*arr)[*n].value = v;
    (*arr)[*n].task = task;
    (*n)++;
}

static void XMLCALL on_start(void *user, const char *el, const char **a)
{
    parse *p = user;
    if (p->oom) return;
    if (strcmp(el, "provider") == 0) {
        const char *g = attr(a, "guid");
        free(p->prov_name);
        p->prov_name = dup(p, attr(a, "name"));
        if (g && etwl_guid_parse(g, strlen(g), &p->prov) == ETWL_OK) p->have_prov = 1;
    } else if (strcmp(el, "task") == 0) {
        add_named(p, &p->tasks, &p->ntasks, &p->captasks, attr(a, "name"), num(attr(a, "value")), -1);
        p->in_task = 1;
    } else if (strcmp(el, "opcode") == 0) {
        add_named(p, &p->opcodes, &p->nopcodes, &p->capopcodes, attr(a, "name"), num(attr(a, "value")),
                  p->in_task && p->ntasks ? (int)p->ntasks - 1 : -1);
    } else if (strcmp(el, "template") == 0) {
        if (!grow(&p->tmpl, p->ntmpl, &p->captmpl, sizeof *p->tmpl)) {
            p->oom = 1;
            return;
        }
        memset(&p->tmpl[p->ntmpl], 0, sizeof *p->tmpl);
        p->tmpl[p->ntmpl++].tid = dup(p, attr(a, "tid"));
        p->in_template = 1;
    } else if (strcmp(el, "data") == 0 && p->in_template) {
        ttemplate *t = &p->tmpl[p->ntmpl - 1];
        tfield *f;
        if (!grow(&t->f, t->n, &t->cap, sizeof *t->f)) {
            p->oom = 1;
            return;
        }
        f = &t->f[t->n++];
        f->name = dup(p, attr(a, "name"));
        f->length = dup(p, attr(a, "length"));
        f->count = dup(p, attr(a, "count"));
        f->map = dup(p, attr(a, "map"));
        f->intype = intype_of(attr(a, "inType"));
    } else if (strcmp(el, "event") == 0) {
        tevent *e;
        if (!grow(&p->ev, p->nev, &p->capev, sizeof *p->ev)) {
            p->oom = 1;
            return;
        }
        e = &p->ev[p->nev++];
        memset(e, 0, sizeof *e);
        e->id = (uint16_t)num(attr(a, "value"));
        e->version = (uint8_t)num(attr(a, "version"));
        e->task = dup(p, attr(a, "task"));
        e->opcode = dup(p, attr(a, "opcode"));
        e->tmpl = dup(p, attr(a, "template"));
        e->symbol = dup(p, attr(a, "symbol"));
        e->keywords = num(attr(a, "keywords")); /* names, usually: 0 then */
    } else if (strcmp(el, "valueMap") == 0 || strcmp(el, "bitMap") == 0) {
        tmap *m;
        if (!grow(&p->maps, p->nmaps, &p->capmaps, sizeof *p->maps)) {
            p->oom = 1;
            return;
        }
        m = &p->maps[p->nmaps++];
        memset(m, 0, sizeof *m);
        m->name = dup(p, attr(a, "name"));
        m->bitmap = el[0] == 'b';
        p->in_map = 1;
    } else if (strcmp(el, "map") == 0 && p->in_map) {
        tmap *m = &p->maps[p->nmaps - 1];
        add_named(p, &m->e, &m->n, &m->cap, attr(a, "message"), num(attr(a, "value")), -1);
    } else if (strcmp(el, "string") == 0) {
        const char *id = attr(a, "id"), *v = attr(a, "value");
        if (id && v) {
            if (!grow(&p->svals, p->nstrings, &p->capsvals, sizeof *p->svals)) {
                p->oom = 1;
                return;
            }
            p->svals[p->nstrings] = dup(p, v);
            add_named(p, &p->strings, &p->nstrings, &p->capstrings, id, p->nstrings, -1);
        }
    }
}

static void XMLCALL on_end(void *user, const char *el)
{
    parse *p = user;
    if (strcmp(el, "task") == 0) p->in_task = 0;
    else if (strcmp(el, "template") == 0) p->in_template = 0;
    else if (strcmp(el, "valueMap") == 0 || strcmp(el, "bitMap") == 0) p->in_map = 0;
}

/* "$(string.ID)" -> the string table's value; anything else as it is */
static const char *message(const parse *p, const char *m)
{
    size_t n;
    uint32_t i;
    if (!m || strncmp(m, "$(string.", 9) != 0 || (n = strlen(m)) < 11 || m[n - 1] != ')') return m;
    for (i = 0; i < p->nstrings; i++)
        if (strlen(p->strings[i].name) == n - 10 && strncmp(p->strings[i].name, m + 9, n - 10) == 0)
            return p->svals[p->strings[i].value];
    return m;
}

static const named *find(const named *arr, uint32_t n, const char *name, int task)
{
    uint32_t i;
    for (i = 0; name && i < n; i++)
        if ((task < -1 || arr[i].task == task) && strcmp(arr[i].name, name) == 0) return &arr[i];
    return NULL;
}

static const ttemplate *find_template(const parse *p, const char *tid)
{
    uint32_t i;
    for (i = 0; tid && i < p->ntmpl; i++)
        if (p->tmpl[i].tid && strcmp(p->tmpl[i].tid, tid) == 0) return &p->tmpl[i];
    return NULL;
}

static int field_index(const ttemplate *t, uint32_t before, const char *name)
{
    uint32_t i;
    for (i = 0; name && i < before; i++)
        if (t->f[i].name && strcmp(t->f[i].name, name) == 0) return (int)i;
    return -1;
}

/* The standard opcodes (winmeta.xml) */
static int std_opcode(const char *name, uint8_t *v)
{
    static const struct {
        const char *name;
        uint8_t v;
    } ops[] = {{"win:Info", 0},    {"win:Start", 1},     {"win:Stop", 2},     {"win:DC_Start", 3},
               {"win:DC_Stop", 4}, {"win:Extension", 5}, {"win:Reply", 6},    {"win:Resume", 7},
               {"win:Suspend", 8}, {"win:Send", 9},      {"win:Receive", 240}};
    size_t i;
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0) {
            *v = ops[i].v;
            return 1;
        }
    return 0;
}

static etwl_status build_event(const parse *p, const tevent *e, etwl_schema **out, etwl_error *err)
{
    const ttemplate *t = find_template(p, e->tmpl);
    etwl_schema_prop *props = NULL;
    const named *task = find(p->tasks, p->ntasks, e->task, -1);
    uint32_t i, n = t ? t->n : 0;
    uint8_t opcode = 0;
    etwl_status st;
    if (e->tmpl && !t) return etwl_error_set(err, ETWL_ESCHEMA, "event %u: no template '%s'", e->id, e->tmpl);
    if (e->opcode && !std_opcode(e->opcode, &opcode)) {
        const named *o = find(p->opcodes, p->nopcodes, e->opcode, task ? (int)(task - p->tasks) : -1);
        if (!o) o = find(p->opcodes, p->nopcodes, e->opcode, -2);
        if (!o) return etwl_error_set(err, ETWL_ESCHEMA, "event %u: no opcode '%s'", e->id, e->opcode);
        opcode = (uint8_t)o->value;
    }
    if (!(props = calloc(n ? n : 1, sizeof *props))) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        const tfield *f = &t->f[i];
        int ref;
        if (!f->name || f->intype == ETWL_IN_NULL) {
            free(props);
            return etwl_error_set(err, ETWL_ESCHEMA, "event %u: field %u has no name or an unknown inType", e->id, i);
        }
        props[i].name = f->name;
        props[i].intype = f->intype;
        props[i].map_name = f->map;
        if (f->length) {
            if ((ref = field_index(t, i, f->length)) >= 0) {
                props[i].flags |= ETWL_PROP_LENGTH_REF;
                props[i].length = (uint16_t)ref;
            } else {
                props[i].length = (uint16_t)num(f->length);
            }
        }
        if (f->count) {
            props[i].flags |= ETWL_PROP_ARRAY;
            if ((ref = field_index(t, i, f->count)) >= 0) {
                props[i].flags |= ETWL_PROP_COUNT_REF;
                props[i].count = (uint16_t)ref;
            } else {
                props[i].count = (uint16_t)num(f->count);
            }
        }
    }
    st = etwl_schema_new(props, n, n, out, err);
    free(props);
    if (st != ETWL_OK) return st;
    (*out)->provider_guid = p->prov;
    (*out)->desc.id = e->id;
    (*out)->desc.version = e->version;
    (*out)->desc.opcode = opcode;
    (*out)->desc.task = task ? (uint16_t)task->value : 0;
    (*out)->desc.keyword = e->keywords;
    (*out)->provider_name = p->prov_name ? strdup(p->prov_name) : NULL;
    (*out)->task_name = e->task ? strdup(e->task) : NULL;
    (*out)->event_name = strdup(e->task ? e->task : e->symbol ? e->symbol : "");
    (*out)->opcode_name = e->opcode ? strdup(e->opcode) : NULL;
    return ETWL_OK;
}

static int by_value(const void *a, const void *b)
{
    const etwl_map_entry *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

static etwl_valuemap *build_map(const parse *p, const tmap *m)
{
    etwl_valuemap *v = calloc(1, sizeof *v);
    uint32_t i;
    if (!v || !(v->e = calloc(m->n ? m->n : 1, sizeof *v->e))) {
        free(v);
        return NULL;
    }
    v->bitmap = m->bitmap;
    for (i = 0; i < m->n; i++) {
        const char *s = message(p, m->e[i].name);
        v->e[i].value = (uint32_t)m->e[i].value;
        if (!(v->e[i].name = strdup(s ? s : ""))) {
            v->n = i;
            etwl_valuemap_free(v);
            return NULL;
        }
        v->n = i + 1;
    }
    /* a bitmap's names come out lowest bit first, as TDH and TraceEvent list them */
    if (v->bitmap) qsort(v->e, v->n, sizeof *v->e, by_value);
    return v;
}

static void free_parse(parse *p)
{
    uint32_t i, j;
    free(p->prov_name);
    for (i = 0; i < p->ntasks; i++) free(p->tasks[i].name);
    for (i = 0; i < p->nopcodes; i++) free(p->opcodes[i].name);
    for (i = 0; i < p->nstrings; i++) {
        free(p->strings[i].name);
        free(p->svals[i]);
    }
    for (i = 0; i < p->ntmpl; i++) {
        for (j = 0; j < p->tmpl[i].n; j++) {
            free(p->tmpl[i].f[j].name);
            free(p->tmpl[i].f[j].length);
            free(p->tmpl[i].f[j].count);
            free(p->tmpl[i].f[j].map);
        }
        free(p->tmpl[i].f);
        free(p->tmpl[i].tid);
    }
    for (i = 0; i < p->nev; i++) {
        free(p->ev[i].task);
        free(p->ev[i].opcode);
        free(p->ev[i].tmpl);
        free(p->ev[i].symbol);
    }
    for (i = 0; i < p->nmaps; i++) {
        for (j = 0; j < p->maps[i].n; j++) free(p->maps[i].e[j].name);
        free(p->maps[i].e);
        free(p->maps[i].name);
    }
    free(p->tasks);
    free(p->opcodes);
    free(p->strings);
    free(p->svals);
    free(p->tmpl);
    free(p->ev);
    free(p->maps);
}

etwl_status etwl_esm_parse(const char *xml, size_t n, const etwl_guid *provider, const etwl_esm_sink *sink,
                           uint32_t *skipped, etwl_error *err)
{
    parse p;
    etwl_status st = ETWL_OK;
    uint32_t i;
    memset(&p, 0, sizeof p);
    *skipped = 0;
    if (n > INT32_MAX) return etwl_error_set(err, ETWL_ESCHEMA, "an EventSource manifest of %zu bytes", n);
    if (!(p.xp = XML_ParserCreate("UTF-8"))) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    XML_SetUserData(p.xp, &p);
    XML_SetElementHandler(p.xp, on_start, on_end);
    if (XML_Parse(p.xp, xml, (int)n, 1) == XML_STATUS_ERROR) {
        st = etwl_error_set(err, ETWL_ESCHEMA, "EventSource manifest: %s at line %lu",
                            XML_ErrorString(XML_GetErrorCode(p.xp)), (unsigned long)XML_GetCurrentLineNumber(p.xp));
        goto done;
    }
    if (p.oom) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory (or more than %u items) reading a manifest", MAX_ITEMS);
        goto done;
    }
    if (!p.have_prov && provider) {
        p.prov = *provider;
        p.have_prov = 1;
    }
    if (!p.have_prov) {
        st = etwl_error_set(err, ETWL_ESCHEMA, "EventSource manifest without a provider GUID");
        goto done;
    }
    for (i = 0; i < p.nmaps; i++) {
        etwl_valuemap *m;
        if (!p.maps[i].name || !(m = build_map(&p, &p.maps[i]))) {
            (*skipped)++;
            continue;
        }
        sink->map(p.maps[i].name, m, sink->user);
    }
    for (i = 0; i < p.nev; i++) {
        etwl_schema *s;
        etwl_error e;
        if (build_event(&p, &p.ev[i], &s, &e) != ETWL_OK) {
            (*skipped)++;
            continue;
        }
        sink->schema(s, sink->user);
    }
done:
    XML_ParserFree(p.xp);
    free_parse(&p);
    return st;
}

etwl_status etwl_esm_data_schema(const etwl_guid *provider, const char *provider_name, etwl_schema **out)
{
    static const char *const names[] = {"Format", "MajorVersion", "MinorVersion",
                                        "Magic",  "TotalChunks",  "ChunkNumber"};
    etwl_schema_prop props[6];
    etwl_error e;
    etwl_status st;
    uint32_t i;
    memset(props, 0, sizeof props);
    for (i = 0; i < 6; i++) {
        props[i].name = names[i];
        props[i].intype = i < 4 ? ETWL_IN_UINT8 : ETWL_IN_UINT16;
    }
    if ((st = etwl_schema_new(props, 6, 6, out, &e)) != ETWL_OK) return st;
    (*out)->provider_guid = *provider;
    (*out)->desc.id = ETWL_ESM_EVENT_ID;
    (*out)->desc.opcode = 254;
    (*out)->provider_name = provider_name ? strdup(provider_name) : NULL;
    (*out)->task_name = strdup("ManifestData");
    (*out)->event_name = strdup("ManifestData");
    return ETWL_OK;
}

#endif
