/* evtx.c - EVTX replay: Windows event logs through the session path.
 *
 * libevtx reads the file format (chunks, records, binary XML templates) and
 * gives each record as XML text; expat parses that XML, so neither format is
 * hand-written here.  <System> fills the header, <EventData> (named Data
 * elements) or <UserData> (the children of its first element) fill the
 * properties, and the user SID goes to ext.  A damaged file or record is
 * reported with its file and record number, counted and skipped. */
#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <libevtx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/event.h"
#include "session/source.h"

#define MAX_PROPS 256
#define MAX_TEXT (1u << 20)

typedef struct xfile {
    char *path;
    int64_t first; /* time of the first record, for ordering a folder */
} xfile;

typedef struct xprop {
    char *name;
    char *text;
    size_t len, cap;
} xprop;

typedef struct evtx_src {
    etwl_source base;
    xfile *files;
    int nfiles;
    etwl_event ev;
    uint8_t *xml;
    size_t xmlcap;
    /* parser state for one record */
    XML_Parser xp;
    int depth, in_system, in_eventdata, in_userdata, userdata_depth;
    const char *elem; /* current System child */
    char text[512];
    size_t textlen;
    xprop props[MAX_PROPS];
    int nprops, cur_prop, unnamed;
    char provider[600], channel[600], computer[600], sid[200];
    char err[200];
} evtx_src;

/* ---- XML callbacks --------------------------------------------------------- */

static const char *attr(const XML_Char **a, const char *name)
{
    for (; a && a[0]; a += 2)
        if (strcmp(a[0], name) == 0) return a[1];
    return NULL;
}

static int new_prop(evtx_src *x, const char *name)
{
    xprop *p;
    if (x->nprops == MAX_PROPS) return -1;
    p = &x->props[x->nprops];
    free(p->name);
    p->name = strdup(name);
    if (!p->name) return -1;
    p->len = 0;
    if (p->text) p->text[0] = 0;
    return x->nprops++;
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
    evtx_src *x = ud;
    etwl_header *h = &x->ev.hdr;
    const char *v;
    x->depth++;
    x->textlen = 0;
    x->cur_prop = -1;
    if (x->depth == 2) {
        x->in_system = strcmp(el, "System") == 0;
        x->in_eventdata = strcmp(el, "EventData") == 0;
        x->in_userdata = strcmp(el, "UserData") == 0;
        return;
    }
    if (x->in_system && x->depth == 3) {
        x->elem = NULL;
        if (strcmp(el, "Provider") == 0) {
            if ((v = attr(a, "Name")) || (v = attr(a, "EventSourceName"))) {
                snprintf(x->provider, sizeof x->provider, "%s", v);
                h->provider_name = x->provider;
                h->provider_name_len = (uint32_t)strlen(x->provider);
                h->has |= ETWL_HAS_PROVIDER_NAME;
            }
            if ((v = attr(a, "Guid"))) etwl_guid_parse(v, strlen(v), &h->provider_guid);
        } else if (strcmp(el, "TimeCreated") == 0) {
            if ((v = attr(a, "SystemTime"))) etwl_time_parse(v, strlen(v), &h->ts);
        } else if (strcmp(el, "Correlation") == 0) {
            if ((v = attr(a, "ActivityID"))) etwl_guid_parse(v, strlen(v), &h->activity_guid);
            if ((v = attr(a, "RelatedActivityID")) &&
                etwl_guid_parse(v, strlen(v), &x->ev.ext.related_activity) == ETWL_OK)
                x->ev.ext.has |= ETWL_EXT_RELATED_ACTIVITY;
        } else if (strcmp(el, "Execution") == 0) {
            if ((v = attr(a, "ProcessID"))) h->pid = (uint32_t)strtoul(v, NULL, 10);
            if ((v = attr(a, "ThreadID"))) h->tid = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(el, "Security") == 0) {
            if ((v = attr(a, "UserID")) && strlen(v) < sizeof x->sid) {
                snprintf(x->sid, sizeof x->sid, "%s", v);
                x->ev.ext.user_sid = x->sid;
                x->ev.ext.user_sid_len = (uint32_t)strlen(x->sid);
                x->ev.ext.has |= ETWL_EXT_USER_SID;
            }
        } else {
            /* a text element: EventID, Level... */
            x->elem = strcmp(el, "EventID") == 0         ? "EventID"
                      : strcmp(el, "Version") == 0       ? "Version"
                      : strcmp(el, "Level") == 0         ? "Level"
                      : strcmp(el, "Task") == 0          ? "Task"
                      : strcmp(el, "Opcode") == 0        ? "Opcode"
                      : strcmp(el, "Keywords") == 0      ? "Keywords"
                      : strcmp(el, "EventRecordID") == 0 ? "EventRecordID"
                      : strcmp(el, "Channel") == 0       ? "Channel"
                      : strcmp(el, "Computer") == 0      ? "Computer"
                                                         : NULL;
        }
        return;
    }
    if (x->in_eventdata && x->depth == 3) {
        /* <Data Name="Image">; unnamed Data become Data1, Data2, ... */
        char name[32];
        v = attr(a, "Name");
        if (!v) {
            snprintf(name, sizeof name, "%s%d", el, ++x->unnamed);
            v = name;
        }
        x->cur_prop = new_prop(x, v);
        return;
    }
    if (x->in_userdata && x->depth == 4) { /* children of UserData's element */
        x->cur_prop = new_prop(x, el);
        return;
    }
}

/* libevtx writes control characters from event data into its XML as they
 * are, and XML 1.0 forbids them: they travel through expat as U+E000+c and
 * are put back here, so values stay exact. */
static int is_xml_ctl(unsigned char c) { return c < 0x20 && c != '\t' && c != '\n' && c != '\r'; }

static size_t unescape_ctl(char *s, size_t n)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] == 0xEE && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
            (unsigned char)s[i + 2] >= 0x80 && (unsigned char)s[i + 2] < 0xA0) {
            s[o++] = (char)((unsigned char)s[i + 2] - 0x80);
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    evtx_src *x = ud;
    if (x->cur_prop >= 0 && len > 0) {
        xprop *p = &x->props[x->cur_prop];
        if (p->len + (size_t)len + 1 > p->cap) {
            size_t cap = p->cap ? p->cap : 128;
            char *t;
            while (cap < p->len + (size_t)len + 1) cap *= 2;
            if (cap > MAX_TEXT) return; /* a megabyte of text per value is plenty */
            t = realloc(p->text, cap);
            if (!t) return;
            p->text = t;
            p->cap = cap;
        }
        memcpy(p->text + p->len, s, (size_t)len);
        p->len += (size_t)len;
        p->text[p->len] = 0;
    } else if (x->elem && x->textlen + (size_t)len < sizeof x->text) {
        memcpy(x->text + x->textlen, s, (size_t)len);
        x->textlen += (size_t)len;
        x->text[x->textlen] = 0;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
    evtx_src *x = ud;
    etwl_header *h = &x->ev.hdr;
    (void)el;
    if (x->in_system && x->depth == 3 && x->elem) {
        const char *t = x->text;
        x->text[x->textlen] = 0;
        if (strcmp(x->elem, "EventID") == 0) h->desc.id = (uint16_t)strtoul(t, NULL, 10);
        else if (strcmp(x->elem, "Version") == 0) h->desc.version = (uint8_t)strtoul(t, NULL, 10);
        else if (strcmp(x->elem, "Level") == 0) h->desc.level = (uint8_t)strtoul(t, NULL, 10);
        else if (strcmp(x->elem, "Task") == 0) h->desc.task = (uint16_t)strtoul(t, NULL, 10);
        else if (strcmp(x->elem, "Opcode") == 0) h->desc.opcode = (uint8_t)strtoul(t, NULL, 10);
        else if (strcmp(x->elem, "Keywords") == 0) h->desc.keyword = strtoull(t, NULL, 0);
        else if (strcmp(x->elem, "EventRecordID") == 0) {
            h->record_id = strtoull(t, NULL, 10);
            h->has |= ETWL_HAS_RECORD_ID;
        } else if (strcmp(x->elem, "Channel") == 0) {
            snprintf(x->channel, sizeof x->channel, "%s", t);
            h->channel_name = x->channel;
            h->channel_name_len = (uint32_t)strlen(x->channel);
            h->has |= ETWL_HAS_CHANNEL_NAME;
        } else if (strcmp(x->elem, "Computer") == 0) {
            snprintf(x->computer, sizeof x->computer, "%s", t);
            h->computer = x->computer;
            h->computer_len = (uint32_t)strlen(x->computer);
            h->has |= ETWL_HAS_COMPUTER;
        }
        x->elem = NULL;
    }
    x->cur_prop = -1;
    x->textlen = 0;
    x->depth--;
    if (x->depth == 1) x->in_system = x->in_eventdata = x->in_userdata = 0;
}

/* ---- files ------------------------------------------------------------------ */

static int64_t first_record_time(const char *path)
{
    libevtx_file_t *f = NULL;
    libevtx_record_t *r = NULL;
    uint64_t t = 0;
    if (libevtx_file_initialize(&f, NULL) != 1) return 0;
    if (libevtx_file_open(f, path, LIBEVTX_OPEN_READ, NULL) == 1) {
        if (libevtx_file_get_record_by_index(f, 0, &r, NULL) == 1) {
            libevtx_record_get_written_time(r, &t, NULL);
            libevtx_record_free(&r, NULL);
        }
        libevtx_file_close(f, NULL);
    }
    libevtx_file_free(&f, NULL);
    return (int64_t)t;
}

static int by_time(const void *a, const void *b)
{
    const xfile *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return strcmp(x->path, y->path);
}

static etwl_status add_file(evtx_src *x, const char *path)
{
    xfile *f = realloc(x->files, (size_t)(x->nfiles + 1) * sizeof *f);
    if (!f) return ETWL_ENOMEM;
    x->files = f;
    f[x->nfiles].path = strdup(path);
    if (!f[x->nfiles].path) return ETWL_ENOMEM;
    f[x->nfiles].first = first_record_time(path);
    x->nfiles++;
    return ETWL_OK;
}

static etwl_status scan_dir(evtx_src *x, const char *dir, int depth, etwl_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    etwl_status st = ETWL_OK;
    if (!d) return etwl_error_set(err, ETWL_EIO, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL && st == ETWL_OK) {
        char path[4096];
        struct stat sb;
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        if (stat(path, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode) && depth < 8) st = scan_dir(x, path, depth + 1, err);
        else if (S_ISREG(sb.st_mode) && n > 5 && strcasecmp(de->d_name + n - 5, ".evtx") == 0) st = add_file(x, path);
    }
    closedir(d);
    return st;
}

static void evtx_destroy(etwl_source *s)
{
    evtx_src *x = (evtx_src *)s;
    int i;
    if (!x) return;
    for (i = 0; i < x->nfiles; i++) free(x->files[i].path);
    free(x->files);
    for (i = 0; i < MAX_PROPS; i++) {
        free(x->props[i].name);
        free(x->props[i].text);
    }
    if (x->xp) XML_ParserFree(x->xp);
    free(x->xml);
    etwl_event_release(&x->ev);
    free(x);
}

static etwl_status evtx_open(const etwl_config *cfg, etwl_source **out, etwl_error *err)
{
    evtx_src *x = calloc(1, sizeof *x);
    struct stat sb;
    etwl_status st;
    if (!x) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    etwl_event_init(&x->ev);
    if (stat(cfg->read_path, &sb) != 0) {
        st =
            etwl_error_set(err, errno == ENOENT ? ETWL_ENOTFOUND : ETWL_EIO, "%s: %s", cfg->read_path, strerror(errno));
        goto fail;
    }
    st = S_ISDIR(sb.st_mode) ? scan_dir(x, cfg->read_path, 0, err) : add_file(x, cfg->read_path);
    if (st) goto fail;
    if (S_ISDIR(sb.st_mode) && x->nfiles == 0) {
        st = etwl_error_set(err, ETWL_ENOTFOUND, "%s: no .evtx files in this folder", cfg->read_path);
        goto fail;
    }
    qsort(x->files, (size_t)x->nfiles, sizeof *x->files, by_time);
    x->xp = XML_ParserCreate("UTF-8");
    if (!x->xp) {
        st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        goto fail;
    }
    *out = &x->base;
    return ETWL_OK;
fail:
    evtx_destroy(&x->base);
    return st;
}

/* Every damage is counted as malformed and reported by file and record
 * (rec < 0: the file as a whole); strict mode stops at an unreadable file or
 * record (deliver.c). */
static etwl_status diag(evtx_src *x, const char *file, long long rec, const char *msg, etwl_error *err)
{
    char where[4200];
    if (rec >= 0) snprintf(where, sizeof where, "%s: record %lld", file, rec);
    else snprintf(where, sizeof where, "%s", file);
    return etwl_source_malformed(&x->base, where, msg, err);
}

/* Parses one record's XML into the event; 0 on a damaged record. */
static int parse_record(evtx_src *x, libevtx_record_t *r)
{
    size_t size = 0;
    int i;
    if (libevtx_record_get_utf8_xml_string_size(r, &size, NULL) != 1 || size == 0 || size > (64u << 20)) return 0;
    if (size > x->xmlcap) {
        uint8_t *b = realloc(x->xml, size);
        if (!b) return 0;
        x->xml = b;
        x->xmlcap = size;
    }
    if (libevtx_record_get_utf8_xml_string(r, x->xml, size, NULL) != 1) return 0;
    {
        size_t n = strlen((const char *)x->xml), k, ctl = 0;
        for (k = 0; k < n; k++) ctl += is_xml_ctl(x->xml[k]);
        if (ctl) { /* rare: rewrite into a larger buffer */
            uint8_t *b = malloc(n + 2 * ctl + 1), *w = b;
            if (!b) return 0;
            for (k = 0; k < n; k++) {
                if (is_xml_ctl(x->xml[k])) {
                    *w++ = 0xEE;
                    *w++ = 0x80;
                    *w++ = (uint8_t)(0x80 + x->xml[k]);
                } else {
                    *w++ = x->xml[k];
                }
            }
            *w = 0;
            free(x->xml);
            x->xml = b;
            x->xmlcap = n + 2 * ctl + 1;
        }
    }
    etwl_event_begin(&x->ev);
    x->depth = x->in_system = x->in_eventdata = x->in_userdata = 0;
    x->nprops = x->unnamed = 0;
    x->cur_prop = -1;
    x->elem = NULL;
    x->sid[0] = 0;
    XML_ParserReset(x->xp, "UTF-8");
    XML_SetUserData(x->xp, x);
    XML_SetElementHandler(x->xp, on_start, on_end);
    XML_SetCharacterDataHandler(x->xp, on_text);
    if (XML_Parse(x->xp, (const char *)x->xml, (int)strlen((const char *)x->xml), 1) != XML_STATUS_OK) {
        snprintf(x->err, sizeof x->err, "bad record XML: %s at line %lu", XML_ErrorString(XML_GetErrorCode(x->xp)),
                 (unsigned long)XML_GetCurrentLineNumber(x->xp));
        return 0;
    }
    /* properties as text members, in document order */
    {
        etwl_member *m = etwl_arena_alloc(&x->ev.arena, (size_t)(x->nprops ? x->nprops : 1) * sizeof *m);
        if (!m) return 0;
        for (i = 0; i < x->nprops; i++) {
            xprop *p = &x->props[i];
            if (p->text) p->len = unescape_ctl(p->text, p->len);
            m[i].name = etwl_arena_strdup(&x->ev.arena, p->name, strlen(p->name));
            m[i].name_len = (uint32_t)strlen(p->name);
            memset(&m[i].value, 0, sizeof m[i].value);
            m[i].value.type = ETWL_VT_STRING;
            m[i].value.v.s = etwl_arena_strdup(&x->ev.arena, p->text ? p->text : "", p->len);
            m[i].value.n = (uint32_t)p->len;
            if (!m[i].name || !m[i].value.v.s) return 0;
        }
        etwl_event_set_members(&x->ev, m, (uint32_t)x->nprops);
    }
    return 1;
}

static etwl_status evtx_process(etwl_source *s, etwl_error *err)
{
    evtx_src *x = (evtx_src *)s;
    int fi;
    for (fi = 0; fi < x->nfiles && !x->base.closing; fi++) {
        libevtx_file_t *f = NULL;
        libevtx_error_t *le = NULL;
        int n = 0, i, nreg, nrecovered = 0, recovered_bad = 0;
        etwl_status st = ETWL_OK;
        const char *path = x->files[fi].path;
        if (libevtx_file_initialize(&f, NULL) != 1) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
        if (libevtx_file_open(f, path, LIBEVTX_OPEN_READ, &le) != 1) {
            char msg[300] = "cannot open as EVTX";
            if (le) {
                libevtx_error_sprint(le, msg, sizeof msg);
                libevtx_error_free(&le);
            }
            libevtx_file_free(&f, NULL);
            if ((st = diag(x, path, -1, msg, err)) != ETWL_OK) return st;
            continue;
        }
        libevtx_file_get_number_of_records(f, &n, NULL);
        nreg = n; /* regular records first, then any recovered ones */
        {
            /* a damaged chunk is dropped whole by libevtx: say so, and replay
             * the records it could recover, rather than lose them quietly */
            int nrec = 0;
            /* healthy files often hold old records in slack space; they are
             * replayed only when the file is damaged and records were lost */
            if (libevtx_file_is_corrupted(f, NULL) == 1) {
                char msg[200];
                libevtx_file_get_number_of_recovered_records(f, &nrec, NULL);
                snprintf(msg, sizeof msg, "file is damaged: %d records readable, %d recovered from damaged space", n,
                         nrec);
                st = diag(x, path, -1, msg, err);
            }
            nrecovered = nrec;
            n += nrec;
        }
        for (i = 0; i < n && st == ETWL_OK && !x->base.closing; i++) {
            libevtx_record_t *r = NULL;
            int ok;
            etwl_source_read(&x->base);
            x->err[0] = 0;
            if ((i < nreg ? libevtx_file_get_record_by_index(f, i, &r, NULL)
                          : libevtx_file_get_recovered_record_by_index(f, i - nreg, &r, NULL)) != 1) {
                st = diag(x, path, i, "damaged record (libevtx could not read it)", err);
                continue;
            }
            ok = parse_record(x, r);
            if (!ok && i >= nreg) { /* recovered fragments: summarised below */
                recovered_bad++;
                x->base.st.read--;
                libevtx_record_free(&r, NULL);
                continue;
            }
            if (!ok) {
                uint64_t id = 0;
                libevtx_record_get_identifier(r, &id, NULL);
                st = diag(x, path, (long long)id, x->err[0] ? x->err : "damaged record", err);
                libevtx_record_free(&r, NULL);
                continue;
            }
            libevtx_record_free(&r, NULL);
            st = etwl_source_deliver(&x->base, &x->ev);
        }
        if (recovered_bad && st == ETWL_OK) {
            char msg[120];
            snprintf(msg, sizeof msg, "%d of %d recovered records could not be read", recovered_bad, nrecovered);
            st = diag(x, path, -1, msg, err);
        }
        libevtx_file_close(f, NULL);
        libevtx_file_free(&f, NULL);
        if (st != ETWL_OK) return st;
    }
    return ETWL_OK;
}

static void evtx_close(etwl_source *s) { (void)s; /* the loop checks closing */ }

/* Event logs announce themselves ("ElfFile"); a folder is a set of them. */
static int evtx_probe(etwl_sniff_kind kind, const char *path, int is_dir)
{
    (void)path;
    return is_dir || kind == ETWL_SNIFF_EVTX ? 5 : 0; /* below the native reader */
}

const etwl_source_ops etwl_evtx_source = {
    .name = "evtx-libevtx",
    .probe = evtx_probe,
    .open = evtx_open,
    .process = evtx_process,
    .close = evtx_close,
    .destroy = evtx_destroy,
};
