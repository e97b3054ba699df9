/* evtx.c - EVTX replay: Windows event logs through the session path.
 *
 * libevtx reads the file format (chunks, records, binary XML templates) and
 * gives each record as XML text; expat parses that XML, so neither format is
 * hand-written here.  <System> fills the header (system.c, the table the
 * native reader maps it by too), <EventData> (named Data
 * elements) or <UserData> (the children of its first element) fill the
 * properties, and the user SID goes to ext.  A damaged file or record is
 * reported with its file and record number, counted and skipped.
 *
 * libevtx runs in a child process, one per file: hostile files make it
 * allocate without bound, leak about a megabyte per damaged file, or crash
 * (inside libfwevt).  The child has an address-space limit, streams each
 * record's XML back through a pipe, and is killed when it makes no progress
 * or the replay is stopped; whatever happens to it, the file is reported by
 * name and the replay goes on with the next one. */
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <libevtx.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "core/event.h"
#include "session/source.h"
#include "sources/evtx/evtxlist.h"
#include "sources/evtx/system.h"

/* AddressSanitizer reserves terabytes of shadow: no address-space limit there */
#if defined(__SANITIZE_ADDRESS__)
#define NO_RLIMIT_AS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_RLIMIT_AS 1
#endif
#endif

#define MAX_PROPS 256
#define MAX_TEXT (1u << 20)
#define MAX_XML (64u << 20)           /* one record's XML */
#define CHILD_HEADROOM (256ull << 20) /* address space libevtx may take beyond what the process has */
#define CHILD_STALL_MS 10000          /* a reader child silent this long is stuck */

/* What a reader child sends: a header, then len bytes of text. */
enum {
    M_TIME = 'T',       /* a: the first record's written time (0: none) */
    M_OPENFAIL = 'O',   /* libevtx cannot open the file; text: why */
    M_DAMAGED = 'C',    /* a: records readable, b: recovered records */
    M_UNREADABLE = 'U', /* a: index of a record libevtx could not read */
    M_NOXML = 'B',      /* a record without XML; b: its identifier */
    M_XML = 'X',        /* a record's XML; b: its identifier */
    M_END = 'E'         /* the child is done with the file */
};

typedef struct child_msg {
    int64_t a, b;
    uint32_t len;
    uint8_t type, recovered;
} child_msg;

typedef struct xprop {
    char *name;
    char *text;
    size_t len, cap;
} xprop;

typedef struct evtx_src {
    etwl_source base;
    etwl_evtx_list files; /* the .evtx files, in time order */
    etwl_event ev;
    uint8_t *xml;
    size_t xmlcap;
    /* parser state for one record */
    XML_Parser xp;
    int depth, in_system, in_eventdata, in_userdata, userdata_depth;
    int elem;                   /* current System text child (evtx_sys_text), or -1 */
    const XML_Char **cur_attrs; /* the attributes of the System child being opened */
    char text[512];
    size_t textlen;
    xprop props[MAX_PROPS];
    int nprops, cur_prop, unnamed;
    evtx_sys_strings str; /* the header strings */
    char err[200];
    volatile pid_t child; /* the reader process, for close() to kill */
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

/* evtx_sys_child's view of the element being opened */
static const void *sys_get(void *ctx, const char *name) { return attr(((evtx_src *)ctx)->cur_attrs, name); }

static void sys_set(void *ctx, int field, const void *value)
{
    evtx_src *x = ctx;
    evtx_sys_apply(&x->ev, &x->str, field, 0, value);
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
    evtx_src *x = ud;
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
        x->cur_attrs = a;
        x->elem = evtx_sys_child(el, sys_get, sys_set, x); /* a text child: EventID, Level... */
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
    } else if (x->elem >= 0 && x->textlen + (size_t)len < sizeof x->text) {
        memcpy(x->text + x->textlen, s, (size_t)len);
        x->textlen += (size_t)len;
        x->text[x->textlen] = 0;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
    evtx_src *x = ud;
    (void)el;
    if (x->in_system && x->depth == 3 && x->elem >= 0) {
        x->text[x->textlen] = 0;
        evtx_sys_apply(&x->ev, &x->str, EVTX_F_TEXT, x->elem, x->text);
        x->elem = -1;
    }
    x->cur_prop = -1;
    x->textlen = 0;
    x->depth--;
    if (x->depth == 1) x->in_system = x->in_eventdata = x->in_userdata = 0;
}

/* ---- the reader child ---------------------------------------------------- */

static int put(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static void send_msg(int fd, int type, int recovered, int64_t a, int64_t b, const void *text, size_t len)
{
    child_msg m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)type;
    m.recovered = (uint8_t)recovered;
    m.a = a;
    m.b = b;
    m.len = (uint32_t)len;
    /* the parent gone or not reading: nothing left to do */
    if (put(fd, &m, sizeof m) != 0 || (len && put(fd, text, len) != 0)) _exit(1);
}

/* The first record's time, for ordering a folder. */
static void child_time(int fd, const char *path)
{
    libevtx_file_t *f = NULL;
    libevtx_record_t *r = NULL;
    uint64_t t = 0;
    if (libevtx_file_initialize(&f, NULL) == 1) {
        if (libevtx_file_open(f, path, LIBEVTX_OPEN_READ, NULL) == 1) {
            if (libevtx_file_get_record_by_index(f, 0, &r, NULL) == 1) {
                libevtx_record_get_written_time(r, &t, NULL);
                libevtx_record_free(&r, NULL);
            }
        }
    }
    send_msg(fd, M_TIME, 0, (int64_t)t, 0, NULL, 0);
}

/* Every record of the file, regular ones first, then the recovered ones
 * when the file is damaged. */
static void child_file(int fd, const char *path)
{
    libevtx_file_t *f = NULL;
    libevtx_error_t *le = NULL;
    uint8_t *xml = NULL;
    size_t cap = 0;
    int n = 0, i, nreg, nrec = 0;
    if (libevtx_file_initialize(&f, NULL) != 1) {
        send_msg(fd, M_OPENFAIL, 0, 0, 0, "out of memory", 13);
        send_msg(fd, M_END, 0, 0, 0, NULL, 0);
        return;
    }
    if (libevtx_file_open(f, path, LIBEVTX_OPEN_READ, &le) != 1) {
        char text[300] = "cannot open as EVTX";
        if (le) libevtx_error_sprint(le, text, sizeof text);
        send_msg(fd, M_OPENFAIL, 0, 0, 0, text, strlen(text));
        send_msg(fd, M_END, 0, 0, 0, NULL, 0);
        return;
    }
    libevtx_file_get_number_of_records(f, &n, NULL);
    nreg = n;
    /* a damaged chunk is dropped whole by libevtx: say so, and replay the
     * records it could recover, rather than lose them quietly.  Healthy files
     * often hold old records in slack space; they are replayed only when the
     * file is damaged and records were lost. */
    if (libevtx_file_is_corrupted(f, NULL) == 1) {
        libevtx_file_get_number_of_recovered_records(f, &nrec, NULL);
        send_msg(fd, M_DAMAGED, 0, n, nrec, NULL, 0);
        n += nrec;
    }
    for (i = 0; i < n; i++) {
        libevtx_record_t *r = NULL;
        uint64_t id = 0;
        size_t size = 0;
        int rec = i >= nreg;
        if ((rec ? libevtx_file_get_recovered_record_by_index(f, i - nreg, &r, NULL)
                 : libevtx_file_get_record_by_index(f, i, &r, NULL)) != 1) {
            send_msg(fd, M_UNREADABLE, rec, i, 0, NULL, 0);
            continue;
        }
        libevtx_record_get_identifier(r, &id, NULL);
        if (libevtx_record_get_utf8_xml_string_size(r, &size, NULL) != 1 || size == 0 || size > MAX_XML) {
            send_msg(fd, M_NOXML, rec, i, (int64_t)id, NULL, 0);
        } else {
            if (size > cap) {
                uint8_t *b = realloc(xml, size);
                if (b) xml = b, cap = size;
            }
            if (size > cap || libevtx_record_get_utf8_xml_string(r, xml, size, NULL) != 1)
                send_msg(fd, M_NOXML, rec, i, (int64_t)id, NULL, 0);
            else send_msg(fd, M_XML, rec, i, (int64_t)id, xml, strnlen((const char *)xml, size));
        }
        libevtx_record_free(&r, NULL);
    }
    send_msg(fd, M_END, 0, nrec, 0, NULL, 0);
    /* nothing is freed: the process ends, and with it what libevtx leaks */
}

/* The bytes of address space this process has mapped, or 0 if unknown. */
static unsigned long long mapped_bytes(void)
{
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%llu", &pages) != 1) pages = 0;
    fclose(f);
    return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Starts a reader child for path (the first record's time when for_time);
 * its output is read from *fd.  Returns its pid, or -1 with errno set. */
static pid_t spawn(evtx_src *x, const char *path, int for_time, int *fd)
{
    int p[2];
    pid_t pid, parent = getpid();
    unsigned long long limit = mapped_bytes();
    if (pipe(p) != 0) return -1;
    pid = fork();
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        close(p[0]);
        /* stopping is the parent's business: it kills this child; a parent
         * that dies takes it along */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_DFL);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != parent) _exit(1);
        setrlimit(RLIMIT_CORE, &rl); /* a crash on a hostile file leaves no core behind */
#ifndef NO_RLIMIT_AS
        if (limit && getrlimit(RLIMIT_AS, &rl) == 0) {
            limit += CHILD_HEADROOM;
            if (rl.rlim_max == RLIM_INFINITY || limit < rl.rlim_max) {
                rl.rlim_cur = (rlim_t)limit;
                setrlimit(RLIMIT_AS, &rl);
            }
        }
#endif
        (void)limit;
        if (for_time) child_time(p[1], path);
        else child_file(p[1], path);
        _exit(0);
    }
    close(p[1]);
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        errno = e;
        return -1;
    }
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    x->child = pid;
    if (x->base.closing) kill(pid, SIGKILL); /* a stop that came before the pid was known */
    *fd = p[0];
    return pid;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads n bytes from the child: 1 read, 0 the child's output ended, -1 it
 * made no progress for CHILD_STALL_MS, -2 the replay is stopping. */
static int get(evtx_src *x, int fd, void *buf, size_t n)
{
    char *c = buf;
    long long last = now_ms();
    while (n) {
        struct pollfd pf = {fd, POLLIN, 0};
        ssize_t k;
        int r;
        if (x->base.closing) return -2;
        r = poll(&pf, 1, 250);
        if (r < 0 && errno != EINTR) return 0;
        if (r <= 0) {
            if (now_ms() - last >= CHILD_STALL_MS) return -1;
            continue;
        }
        k = read(fd, c, n);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k <= 0) return 0;
        c += k;
        n -= (size_t)k;
        last = now_ms();
    }
    return 1;
}

/* Ends the child (killed unless it finished) and says how it ended in why
 * (empty when it exited normally). */
static void reap(evtx_src *x, pid_t pid, int fd, int finished, char *why, size_t n)
{
    int status = 0;
    pid_t r;
    why[0] = 0;
    if (!finished) kill(pid, SIGKILL);
    close(fd);
    x->child = 0; /* before the wait: close() must not kill a reused pid */
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (r != pid) return; /* SIGCHLD ignored by the host: no status */
    if (WIFSIGNALED(status) && !(WTERMSIG(status) == SIGKILL && !finished))
        snprintf(why, n, "crashed (signal %d, %s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        snprintf(why, n, "failed (exit status %d)", WEXITSTATUS(status));
}

static int64_t first_record_time(evtx_src *x, const char *path)
{
    int fd;
    child_msg m;
    char why[100];
    pid_t pid = spawn(x, path, 1, &fd);
    if (pid < 0) return 0;
    if (get(x, fd, &m, sizeof m) != 1 || m.type != M_TIME) m.a = 0;
    reap(x, pid, fd, m.type == M_TIME, why, sizeof why);
    return m.a;
}

/* ---- files ------------------------------------------------------------------ */

/* the libevtx child's answer, for ordering a folder */
static int64_t first_time(const char *path, void *x) { return first_record_time(x, path); }

static void evtx_destroy(etwl_source *s)
{
    evtx_src *x = (evtx_src *)s;
    int i;
    if (!x) return;
    etwl_evtx_list_free(&x->files);
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
    etwl_status st;
    if (!x) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    etwl_event_init(&x->ev);
    if ((st = etwl_evtx_list_make(&x->files, cfg->read_path, first_time, x, err)) != ETWL_OK) goto fail;
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

/* Parses one record's XML (in x->xml, NUL-terminated) into the event; 0 on
 * a damaged record. */
static int parse_record(evtx_src *x)
{
    int i;
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
    x->elem = -1;
    x->str.sid[0] = 0;
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

/* Replays one file from its reader child. */
static etwl_status read_file(evtx_src *x, const char *path, etwl_error *err)
{
    int fd, r = 0, finished = 0, nrecovered = 0, recovered_bad = 0;
    etwl_status st = ETWL_OK;
    char why[100];
    pid_t pid = spawn(x, path, 0, &fd);
    x->base.file = path;
    x->base.pos_kind = ETWL_SRC_RECORD;
    if (pid < 0) return etwl_error_set(err, ETWL_EIO, "%s: cannot start the EVTX reader: %s", path, strerror(errno));
    while (st == ETWL_OK && !x->base.closing) {
        child_msg m;
        if ((r = get(x, fd, &m, sizeof m)) != 1) break;
        if (m.len > MAX_XML) { /* not what the child writes: it is not itself */
            r = 0;
            break;
        }
        if (m.len + 1 > x->xmlcap) {
            uint8_t *b = realloc(x->xml, m.len + 1);
            if (!b) {
                st = etwl_error_set(err, ETWL_ENOMEM, "out of memory");
                break;
            }
            x->xml = b;
            x->xmlcap = m.len + 1;
        }
        if (m.len && (r = get(x, fd, x->xml, m.len)) != 1) break;
        x->xml[m.len] = 0;
        if (m.type == M_END) {
            finished = 1;
            break;
        } else if (m.type == M_OPENFAIL) {
            st = diag(x, path, -1, (const char *)x->xml, err);
        } else if (m.type == M_DAMAGED) {
            char text[200];
            nrecovered = (int)m.b;
            snprintf(text, sizeof text, "file is damaged: %d records readable, %d recovered from damaged space",
                     (int)m.a, (int)m.b);
            st = diag(x, path, -1, text, err);
        } else if (m.type == M_UNREADABLE) {
            etwl_source_read(&x->base);
            st = diag(x, path, m.a, "damaged record (libevtx could not read it)", err);
        } else if (m.type == M_XML || m.type == M_NOXML) {
            int ok;
            etwl_source_read(&x->base);
            x->err[0] = 0;
            ok = m.type == M_XML && parse_record(x);
            if (!ok && m.recovered) { /* recovered fragments: summarised below */
                recovered_bad++;
                x->base.st.read--;
            } else if (!ok) {
                st = diag(x, path, m.b, x->err[0] ? x->err : "damaged record", err);
            } else {
                x->base.pos = (uint64_t)m.b; /* the record header's identifier, as the native reader */
                st = etwl_source_deliver(&x->base, &x->ev);
            }
        } else {
            r = 0;
            break;
        }
    }
    reap(x, pid, fd, finished, why, sizeof why);
    if (st == ETWL_OK && !finished && !x->base.closing) {
        char text[300];
        snprintf(text, sizeof text, "the EVTX reader (libevtx) %s; the rest of the file is skipped",
                 r == -1  ? "made no progress for 10 s"
                 : why[0] ? why
                 : r == 0 ? "stopped early (out of memory?)"
                          : "stopped early");
        st = diag(x, path, -1, text, err);
    }
    if (recovered_bad && st == ETWL_OK) {
        char text[120];
        snprintf(text, sizeof text, "%d of %d recovered records could not be read", recovered_bad, nrecovered);
        st = diag(x, path, -1, text, err);
    }
    return st;
}

static etwl_status evtx_process(etwl_source *s, etwl_error *err)
{
    evtx_src *x = (evtx_src *)s;
    int fi;
    etwl_status st;
    for (fi = 0; fi < x->files.n && !x->base.closing; fi++)
        if ((st = read_file(x, x->files.files[fi].path, err)) != ETWL_OK) return st;
    return ETWL_OK;
}

/* The loop checks closing; a child stuck inside libevtx is killed here
 * (kill() is async-signal-safe). */
static void evtx_close(etwl_source *s)
{
    pid_t pid = ((evtx_src *)s)->child;
    if (pid > 0) kill(pid, SIGKILL);
}

/* Event logs announce themselves ("ElfFile"); a folder is a set of them. */
static int evtx_probe(etwl_sniff_kind kind, const char *path, int is_dir)
{
    (void)path;
    return is_dir || kind == ETWL_SNIFF_EVTX ? 5 : 0; /* below the native reader */
}

/* The folder's files, in the order they replay. */
static const char *evtx_file_at(etwl_source *s, int i) { return etwl_evtx_list_path(&((evtx_src *)s)->files, i); }

const etwl_source_ops etwl_evtx_source = {
    .name = "evtx-libevtx",
    .probe = evtx_probe,
    .open = evtx_open,
    .process = evtx_process,
    .close = evtx_close,
    .file = evtx_file_at,
    .destroy = evtx_destroy,
};
