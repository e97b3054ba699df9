/* shell.c - `etwlua shell`: an interactive Lua prompt over a trace.
 *
 * The session pushes events (etwl_session_process calls back); the prompt
 * pulls them, one per next().  So the session runs on a thread of its own,
 * the feeder, and hands events to the main thread, which owns the Lua
 * state and is the only one to touch it:
 *   - a replay waits in its callback until the prompt asks for the next
 *     event, so the event the prompt holds is the source's own (every
 *     field, exactly as a script sees it) and nothing is read ahead;
 *   - a live session cannot wait (the kernel would drop events), so its
 *     callback copies each event as a JSON line into a bounded queue while
 *     the user types; the prompt parses them back one at a time.  A full
 *     queue drops the new event, counts it, and the prompt says so at the
 *     next move and in stats().
 * Line editing is libedit's (history in a file, Tab completion from the
 * Lua state); when stdin is not a terminal, lines are read as they come,
 * without prompts. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef ETWL_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#include "core/event.h"
#include "library.h"
#include "lua/lua_host.h"
#include "opts.h"
#include "output/alert.h"
#include "platform/sys.h"
#include "process/proctab.h"
#include "process/tree.h"
#include "shell.h"
#include "sigma_cli.h"
#include "sources/jsonl/json_read.h"

#define DEFAULT_BUFFER_EVENTS 100000
#define BUFFER_BYTES (256u << 20) /* the live queue's memory bound, whatever its count */
#define HISTORY_LINES 1000
#define MAX_CHUNK (1u << 20) /* a typed chunk (continued lines included) */

typedef struct qline {
    char *s;
    size_t n;
} qline;

typedef struct feed {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    etwl_session *s;
    int live;
    pthread_t thread;
    int started;
    /* replay: the hand-over */
    int want, have, quit, eof;
    etwl_event *ev;
    etwl_status st; /* what process() returned */
    etwl_error err;
    /* live: the queue of JSON lines */
    qline *q;
    size_t qcap, qhead, qcount, qbytes;
    uint64_t dropped, told_dropped, unencodable, told_unencodable;
    uint64_t diags;   /* feeder thread only */
    etwl_buf scratch; /* feeder thread only */
    /* live: the session's counters, copied by the feeder (the session is
     * its thread's) at most once a second; the prompt reads the copy */
    etwl_stats snap;
    uint64_t told_lost, nlive;
    time_t snap_time;
    etwl_json_reader *jr;
    etwl_event lev; /* the parsed copy the prompt holds (main thread) */
} feed;

typedef struct shell {
    etwl_cli_opts *o;
    feed f;
    etwl_lua *x;
    etwl_event *cur; /* the prompt's current event, NULL before the first or at the end */
    uint64_t seen;   /* events moved over */
    etwl_proctab *tab;
    etwl_ptree *tree;
    uint32_t subject; /* the process the current event is about (for alerts in tree()) */
    int64_t ts;
} shell;

static volatile sig_atomic_t g_int, g_term;

/* Ctrl-C ends the running move or wait, never the shell (Ctrl-D does) */
static void on_sigint(int sig)
{
    (void)sig;
    g_int = 1;
}

/* SIGTERM, SIGHUP (and the console's close on Windows) end the shell as
 * Ctrl-D does, so a live session is taken down */
static void on_stop(void)
{
    g_term = 1;
    g_int = 1;
}

static void catch_signals(void)
{
    etwl_sys_on_stop(on_stop);
#ifdef _WIN32
    signal(SIGINT, on_sigint);
#else
    {
        /* no SA_RESTART: the prompt's read returns, and drops the line */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
    }
#endif
}

/* ---- the feeder --------------------------------------------------------- */

static etwl_status replay_cb(etwl_event *ev, void *user)
{
    feed *f = user;
    int quit;
    pthread_mutex_lock(&f->mu);
    while (!f->want && !f->quit) pthread_cond_wait(&f->cv, &f->mu);
    if (!f->quit) {
        f->want = 0;
        f->ev = ev;
        f->have = 1;
        pthread_cond_broadcast(&f->cv);
        /* the prompt reads ev until it asks for the next one */
        while (!f->want && !f->quit) pthread_cond_wait(&f->cv, &f->mu);
    }
    quit = f->quit;
    pthread_mutex_unlock(&f->mu);
    return quit ? ETWL_ESTOPPED : ETWL_OK;
}

static etwl_status live_cb(etwl_event *ev, void *user)
{
    feed *f = user;
    char *copy;
    if ((++f->nlive & 1023) == 0 || time(NULL) != f->snap_time) {
        etwl_stats st;
        f->snap_time = time(NULL);
        etwl_session_stats(f->s, &st);
        pthread_mutex_lock(&f->mu);
        f->snap = st;
        pthread_mutex_unlock(&f->mu);
    }
    etwl_buf_reset(&f->scratch);
    if (etwl_event_write_json(ev, &f->scratch) != ETWL_OK || f->scratch.oom) {
        pthread_mutex_lock(&f->mu);
        f->unencodable++;
        pthread_mutex_unlock(&f->mu);
        return ETWL_OK;
    }
    pthread_mutex_lock(&f->mu);
    if (f->quit) {
        pthread_mutex_unlock(&f->mu);
        return ETWL_ESTOPPED;
    }
    if (f->qcount == f->qcap || f->qbytes + f->scratch.len > BUFFER_BYTES || !(copy = malloc(f->scratch.len + 1))) {
        f->dropped++; /* told at the next move and in stats() */
        pthread_mutex_unlock(&f->mu);
        return ETWL_OK;
    }
    memcpy(copy, f->scratch.data, f->scratch.len);
    copy[f->scratch.len] = 0;
    f->q[(f->qhead + f->qcount) % f->qcap] = (qline){copy, f->scratch.len};
    f->qcount++;
    f->qbytes += f->scratch.len;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return ETWL_OK;
}

static void *feeder(void *arg)
{
    feed *f = arg;
    etwl_error err;
    etwl_status st;
    memset(&err, 0, sizeof err);
    st = etwl_session_process(f->s, f->live ? live_cb : replay_cb, f, &err);
    pthread_mutex_lock(&f->mu);
    f->eof = 1;
    f->st = st == ETWL_ESTOPPED ? ETWL_OK : st;
    f->err = err;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* A bounded wait, so that Ctrl-C (a flag set by the signal handler) is seen
 * within 100 ms. */
static void wait_tick(feed *f)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&f->cv, &f->mu, &ts);
}

static void tell_dropped(feed *f)
{
    uint64_t d, c, u, lost;
    pthread_mutex_lock(&f->mu);
    d = f->dropped;
    c = f->qcap;
    u = f->unencodable;
    lost = f->snap.lost + f->snap.buffers_lost;
    pthread_mutex_unlock(&f->mu);
    if (lost > f->told_lost) { /* before the shell's queue: the kernel's buffers */
        fflush(stdout);
        fprintf(stderr, "etwlua shell: the session lost %llu event(s) so far (raise --buffer-kb)\n",
                (unsigned long long)lost);
        f->told_lost = lost;
    }
    if (u > f->told_unencodable) { /* an event the JSON writer or reader refused: a bug, said all the same */
        fflush(stdout);
        fprintf(stderr, "etwlua shell: %llu event(s) could not be copied for the prompt and were skipped\n",
                (unsigned long long)u);
        f->told_unencodable = u;
    }
    if (d > f->told_dropped) {
        fflush(stdout);
        fprintf(stderr,
                "etwlua shell: %llu event(s) dropped so far: the buffer of %llu events was full (raise it with "
                "--buffer)\n",
                (unsigned long long)d, (unsigned long long)c);
        f->told_dropped = d;
    }
}

/* The next event for the prompt. */
static etwl_status feed_next(feed *f, etwl_event **out, etwl_error *err)
{
    etwl_status st = ETWL_OK;
    *out = NULL;
    if (!f->live) {
        pthread_mutex_lock(&f->mu);
        f->have = 0;
        f->want = 1;
        pthread_cond_broadcast(&f->cv);
        /* a replay answers at once, unless it reads a slow input (a pipe) */
        while (!f->have && !f->eof && !g_int && !g_term) wait_tick(f);
        if (f->have) *out = f->ev;
        else if (g_int || g_term) st = ETWL_ESTOPPED;
        else if (f->st != ETWL_OK) st = etwl_error_set(err, f->st, "%s", f->err.message);
        pthread_mutex_unlock(&f->mu);
        return st;
    }
    for (;;) {
        qline l = {NULL, 0};
        char msg[400];
        pthread_mutex_lock(&f->mu);
        while (!f->qcount && !f->eof && !g_int && !g_term) wait_tick(f);
        if (f->qcount) {
            l = f->q[f->qhead];
            f->qhead = (f->qhead + 1) % f->qcap;
            f->qcount--;
            f->qbytes -= l.n;
        } else if (g_int || g_term) {
            st = ETWL_ESTOPPED;
        } else if (f->st != ETWL_OK) {
            st = etwl_error_set(err, f->st, "%s", f->err.message);
        }
        pthread_mutex_unlock(&f->mu);
        tell_dropped(f);
        if (!l.s) return st;
        etwl_event_begin(&f->lev);
        st = etwl_json_parse_event(f->jr, l.s, l.n, &f->lev, msg, sizeof msg);
        free(l.s);
        if (st == ETWL_OK) {
            *out = &f->lev;
            return ETWL_OK;
        }
        /* our own writer's line: a failure is a bug, counted, not fatal */
        pthread_mutex_lock(&f->mu);
        f->unencodable++;
        pthread_mutex_unlock(&f->mu);
        st = ETWL_OK;
    }
}

static void feed_stop(feed *f)
{
    size_t i;
    if (f->s) etwl_session_close(f->s);
    pthread_mutex_lock(&f->mu);
    f->quit = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->started) pthread_join(f->thread, NULL);
    f->started = 0;
    for (i = 0; i < f->qcount; i++) free(f->q[(f->qhead + i) % f->qcap].s);
    f->qcount = 0;
}

/* Malformed records are skipped and said, as the main command says them
 * (on the feeder thread: the prompt waits meanwhile, or it is live). */
static void on_diag(const char *where, const char *msg, void *user)
{
    feed *f = user;
    uint64_t n = ++f->diags;
    etwl_buf b;
    if (n > 20) {
        if (n == 21)
            fprintf(stderr, "etwlua shell: more malformed records; further messages suppressed (see stats())\n");
        return;
    }
    etwl_buf_init(&b);
    etwl_text_put_escaped(&b, where, strlen(where)); /* they quote the input */
    etwl_buf_puts(&b, ": ");
    etwl_text_put_escaped(&b, msg, strlen(msg));
    fprintf(stderr, "etwlua shell: %s (skipped)\n", b.data ? b.data : "");
    etwl_buf_free(&b);
}

/* ---- what the builtins ask of the CLI ------------------------------------ */

static etwl_status op_next(void *ctx, etwl_event **out, etwl_error *err)
{
    shell *sh = ctx;
    etwl_proc_event pe;
    etwl_status st;
    sh->cur = NULL;
    if (g_int) g_int = 0; /* a Ctrl-C at the prompt is not this move's */
    st = feed_next(&sh->f, out, err);
    if (st == ETWL_ESTOPPED) g_int = 0;
    if (st != ETWL_OK || !*out) return st;
    sh->cur = *out;
    sh->seen++;
    etwl_proctab_observe(sh->tab, sh->cur, &pe);
    etwl_ptree_observe(sh->tree, sh->tab, sh->cur, &pe);
    sh->subject = etwl_proc_subject(&pe);
    sh->ts = etwl_event_header(sh->cur)->ts;
    return ETWL_OK;
}

/* Alerts of run(): printed as the main command prints them, and counted on
 * the process of the event that raised them (tree() shows them). */
static void on_alert(const etwl_alert *a, void *ctx)
{
    shell *sh = ctx;
    etwl_buf b;
    etwl_ptree_alert(sh->tree, sh->subject, sh->ts, a->rule, a->rule_len);
    etwl_buf_init(&b);
    etwl_alert_write(&b, a, etwl_alert_form_for(isatty(1)));
    etwl_buf_putc(&b, '\n');
    if (!b.oom) fwrite(b.data, 1, b.len, stdout);
    etwl_buf_free(&b);
}

static int is_file(const char *p, int *dir)
{
    struct stat sb;
    if (stat(p, &sb) != 0) return 0;
    *dir = S_ISDIR(sb.st_mode);
    return 1;
}

/* The current event, then every one after it, to fn (the Ctrl-C flag ends
 * the walk). */
static etwl_status walk_rest(shell *sh, void (*fn)(shell *sh, etwl_event *ev, void *u), void *u, uint64_t *n,
                             etwl_error *err)
{
    etwl_event *ev = sh->cur;
    etwl_status st;
    *n = 0;
    if (g_int) g_int = 0;
    if (!ev && (st = op_next(sh, &ev, err)) != ETWL_OK) return st;
    while (ev) {
        fn(sh, ev, u);
        ++*n;
        if (g_int || g_term) {
            g_int = 0;
            return ETWL_ESTOPPED;
        }
        if ((st = op_next(sh, &ev, err)) != ETWL_OK) return st;
    }
    return ETWL_OK;
}

static void run_one(shell *sh, etwl_event *ev, void *u)
{
    (void)sh;
    etwl_lua_dispatch(u, ev); /* handler errors are reported and counted, never fatal */
}

static etwl_status op_run(void *ctx, const char *what, int *moved, etwl_error *err)
{
    shell *sh = ctx;
    etwl_lua_opts lo;
    etwl_cli_opts co;
    etwl_lua *y = NULL;
    etwl_status st;
    uint64_t n = 0;
    int dir = 0, nfiles = 0;
    memset(&lo, 0, sizeof lo);
    lo.budget = sh->o->budget;
    lo.memory_limit = (size_t)sh->o->memory_mb << 20;
    lo.unsafe = sh->o->unsafe;
    lo.lua_dir = sh->o->lua_dir;
    lo.handler_timeout_ms = sh->o->handler_timeout_ms;
    lo.alert_write = on_alert;
    lo.alert_ctx = sh;
    /* a fresh state: what run() loads cannot reach the prompt's globals,
     * and a second run() starts clean */
    if ((st = etwl_lua_new(&lo, &y, err)) != ETWL_OK) return st;
    memset(&co, 0, sizeof co);
    co.lua_dir = sh->o->lua_dir;
    if (is_file(what, &dir) && !dir) {
        st = etwl_lua_load_file(y, what, err);
    } else if (dir) {
        co.no_rules = 1;
        co.rules_dirs[co.nrules_dirs++] = what;
        st = etwl_load_rules(y, &co, &nfiles, err);
    } else if (strchr(what, '/') || strstr(what, ".lua")) {
        st = etwl_error_set(err, ETWL_ENOTFOUND, "run: no such file: %s", what);
    } else {
        /* a rule id of the library: a misspelt one is an error, as --rule's */
        co.rule_only[co.nrule_only++] = what;
        st = etwl_load_rules(y, &co, &nfiles, err);
    }
    if (st == ETWL_OK) st = etwl_lua_start(y);
    if (st == ETWL_OK) {
        if (!sh->f.live) etwl_lua_set_session(y, sh->f.s); /* see below */
        *moved = 1;
        st = walk_rest(sh, run_one, y, &n, err);
        etwl_lua_stop(y);
        fflush(stdout);
        fprintf(stdout, "run: %llu event(s), %llu alert(s), %llu handler error(s)%s\n", (unsigned long long)n,
                (unsigned long long)etwl_lua_alerts(y), (unsigned long long)etwl_lua_errors(y),
                st == ETWL_ESTOPPED ? " (interrupted)" : "");
    }
    etwl_lua_free(y);
    return st;
}

static void sigma_one(shell *sh, etwl_event *ev, void *u)
{
    (void)sh;
    etwl_cli_sigma_event(u, ev, stdout);
}

static etwl_status op_sigma(void *ctx, const char *path, int *moved, etwl_error *err)
{
    shell *sh = ctx;
    etwl_cli_opts co;
    etwl_cli_sigma *cs = NULL;
    etwl_status st;
    uint64_t n = 0;
    int dir;
    if (!is_file(path, &dir)) return etwl_error_set(err, ETWL_ENOTFOUND, "sigma: no such file or folder: %s", path);
    memset(&co, 0, sizeof co);
    co.sigma_paths[co.nsigma++] = path;
    if ((st = etwl_cli_sigma_setup(&co, &cs, err)) != ETWL_OK) return st;
    if (!cs) return etwl_error_set(err, ETWL_EINVAL, "sigma: no rule to run in %s", path);
    *moved = 1;
    st = walk_rest(sh, sigma_one, cs, &n, err);
    fflush(stdout);
    fprintf(stdout, "sigma: %llu event(s)%s\n", (unsigned long long)n, st == ETWL_ESTOPPED ? " (interrupted)" : "");
    etwl_cli_sigma_finish(cs, 0);
    return st;
}

static void op_tree(void *ctx, int has_pid, uint32_t pid, etwl_buf *out)
{
    shell *sh = ctx;
    etwl_ptree_view v;
    memset(&v, 0, sizeof v);
    v.has_pid = has_pid;
    v.pid = pid;
    v.width = (unsigned)etwl_sys_term_columns(1);
    if (!etwl_ptree_write(sh->tree, &v, out)) etwl_buf_puts(out, "(no process in this view)\n");
}

static void op_stats(void *ctx, void (*put)(void *u, const char *name, uint64_t v), void *u)
{
    shell *sh = ctx;
    feed *f = &sh->f;
    etwl_stats st;
    put(u, "seen", sh->seen);
    /* a replay's feeder waits in its callback: its counters are still */
    if (!f->live) {
        etwl_session_stats(f->s, &st);
        put(u, "read", st.read);
        put(u, "filtered", st.filtered);
        put(u, "malformed", st.malformed);
    } else {
        pthread_mutex_lock(&f->mu);
        put(u, "read", f->snap.read);
        put(u, "filtered", f->snap.filtered);
        put(u, "lost", f->snap.lost + f->snap.buffers_lost);
        put(u, "buffered", f->qcount);
        put(u, "buffer", f->qcap);
        put(u, "dropped", f->dropped);
        put(u, "unencodable", f->unencodable);
        pthread_mutex_unlock(&f->mu);
    }
    put(u, "processes", etwl_ptree_count(sh->tree));
    pthread_mutex_lock(&f->mu);
    put(u, "at_end", sh->cur == NULL && f->eof);
    pthread_mutex_unlock(&f->mu);
}

/* ---- line input ---------------------------------------------------------- */

#ifdef ETWL_HAVE_LIBEDIT
static etwl_lua *g_complete_lua;

typedef struct cands {
    char **v;
    size_t n, cap;
    const char *word;
    size_t wlen;
    const char *prefix; /* prepended to each match: readline replaces the whole word */
} cands;

static void add_cand(const char *name, void *u)
{
    cands *c = u;
    size_t pl = strlen(c->prefix), nl = strlen(name), i;
    char *s;
    if (strncmp(name, c->word, c->wlen) != 0) return;
    for (i = 0; i < c->n; i++)
        if (strcmp(c->v[i] + pl, name) == 0) return;
    if (c->n + 1 >= c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        char **v = realloc(c->v, cap * sizeof *v);
        if (!v) return;
        c->v = v;
        c->cap = cap;
    }
    if (!(s = malloc(pl + nl + 1))) return;
    memcpy(s, c->prefix, pl);
    memcpy(s + pl, name, nl + 1);
    c->v[c->n++] = s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The whole "a.b.c" chain before the cursor is the word: libedit hands us
 * it (rl_basic_word_break_characters has no '.'); what is before the last
 * '.' or ':' names the table or event, the rest is completed. */
static char **complete(const char *text, int start, int end)
{
    cands c;
    char expr[256], prefix[256];
    const char *sep = NULL, *p;
    size_t i, elen;
    (void)start, (void)end;
    rl_attempted_completion_over = 1;   /* never file names */
    rl_completion_append_character = 0; /* "ev.info" may go on with "." */
    memset(&c, 0, sizeof c);
    for (p = text; *p; p++)
        if (*p == '.' || *p == ':') sep = p;
    elen = sep ? (size_t)(sep - text) : 0;
    if (elen >= sizeof expr) return NULL;
    memcpy(expr, text, elen);
    expr[elen] = 0;
    for (i = 0; i < elen; i++)
        if (expr[i] == ':') return NULL; /* a method call's result: nothing to offer */
    memcpy(prefix, text, sep ? elen + 1 : 0);
    prefix[sep ? elen + 1 : 0] = 0;
    c.word = sep ? sep + 1 : text;
    c.wlen = strlen(c.word);
    c.prefix = prefix;
    etwl_lua_shell_complete(g_complete_lua, expr, add_cand, &c);
    if (!c.n) {
        free(c.v);
        return NULL;
    }
    qsort(c.v, c.n, sizeof *c.v, cmp_str);
    /* readline's form: [0] is what replaces the word (the common prefix),
     * then the matches, then NULL */
    {
        char **m = malloc((c.n + 2) * sizeof *m);
        size_t k, common = strlen(c.v[0]);
        if (!m) {
            for (i = 0; i < c.n; i++) free(c.v[i]);
            free(c.v);
            return NULL;
        }
        for (i = 1; i < c.n; i++) {
            for (k = 0; k < common && c.v[i][k] == c.v[0][k]; k++) {
            }
            common = k;
        }
        m[0] = c.n == 1 ? strdup(c.v[0]) : strndup(c.v[0], common);
        for (i = 0; i < c.n; i++) m[i + 1] = c.v[i];
        m[c.n + 1] = NULL;
        if (c.n == 1) { /* one match: the word is it; no list */
            free(m[1]);
            m[1] = NULL;
        }
        free(c.v);
        return m;
    }
}

/* $XDG_STATE_HOME/etwlua/shell_history, else ~/.local/state/etwlua/... */
static int history_path(char *out, size_t n)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[1024];
    if (xdg && xdg[0] == '/') snprintf(dir, sizeof dir, "%s/etwlua", xdg);
    else if (home && home[0]) snprintf(dir, sizeof dir, "%s/.local/state/etwlua", home);
    else return 0;
    /* the parents too: ~/.local/state may not exist yet */
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(dir, 0700);
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return 0;
    return snprintf(out, n, "%s/shell_history", dir) < (int)n;
}
#endif

typedef struct input {
    int tty;
    char hist[1200];
    int has_hist;
} input;

/* One line without its newline (malloc'd), or NULL at end of input. */
static char *read_line(input *in, const char *prompt)
{
#ifdef ETWL_HAVE_LIBEDIT
    if (in->tty) {
        for (;;) {
            char *l;
            fflush(stdout);
            g_int = 0;
            l = readline(prompt);
            /* Ctrl-C at the prompt drops the line being typed, as a shell does;
             * libedit returns NULL for it, which is not the end of input */
            if (l || !g_int || g_term) return l;
            fputc('\n', stdout);
        }
    }
#endif
    (void)prompt, (void)in;
    {
        etwl_buf b;
        char part[4096];
        etwl_buf_init(&b);
        while (fgets(part, sizeof part, stdin)) {
            size_t n = strlen(part);
            etwl_buf_put(&b, part, n);
            if (n && part[n - 1] == '\n') break;
        }
        if (!b.len || b.oom) {
            etwl_buf_free(&b);
            return NULL;
        }
        if (b.data[b.len - 1] == '\n') b.len--;
        if (b.len && b.data[b.len - 1] == '\r') b.len--;
        b.data[b.len] = 0;
        return b.data; /* the caller frees it */
    }
}

static void input_open(input *in, etwl_lua *x)
{
    memset(in, 0, sizeof *in);
    in->tty = isatty(0);
#ifdef ETWL_HAVE_LIBEDIT
    if (!in->tty) return;
    g_complete_lua = x;
    rl_readline_name = "etwlua";
    rl_attempted_completion_function = complete;
    /* '.' and ':' stay inside the word: "ev.info.Im" is completed whole */
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,[+-*/%^~#";
    stifle_history(HISTORY_LINES);
    if ((in->has_hist = history_path(in->hist, sizeof in->hist))) read_history(in->hist);
#else
    (void)x;
#endif
}

static void input_add(input *in, const char *chunk)
{
#ifdef ETWL_HAVE_LIBEDIT
    if (in->tty && chunk[0]) {
        add_history(chunk);
        /* written at once: a shell killed later keeps what was typed */
        if (in->has_hist) write_history(in->hist);
    }
#else
    (void)in, (void)chunk;
#endif
}

/* ---- the command ---------------------------------------------------------- */

static const char usage[] = "usage: etwlua shell -r FILE|DIR [options]     a prompt over a recording\n"
                            "       etwlua shell -p PROVIDER|-k FLAGS ... [options]   over a live session\n"
                            "  Takes the main command's session and sandbox options (-r, -p, -k, --budget,\n"
                            "  --memory-mb, --handler-timeout, --unsafe, --lua-dir, ...), and:\n"
                            "  --buffer N   live: events kept while you type (default 100000); more are\n"
                            "               dropped, counted and reported\n"
                            "Inside: help() lists the builtins (next, skip, find, show, tree, stats, run,\n"
                            "sigma). Tab completes; Ctrl-C stops a move; Ctrl-D exits. See docs/cli.md.\n";

static int bad_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "etwlua shell: ");
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\n%s", usage);
    return ETWL_EXIT_USAGE;
}

static void report_err(const etwl_error *err)
{
    etwl_buf b;
    etwl_buf_init(&b);
    etwl_text_put_lines(&b, err->message, strlen(err->message), "etwlua shell:   ");
    fprintf(stderr, "etwlua shell: %s\n", b.data ? b.data : etwl_status_name(err->status));
    etwl_buf_free(&b);
}

static void repl(shell *sh)
{
    input in;
    etwl_buf chunk;
    char *l;
    input_open(&in, sh->x);
    etwl_buf_init(&chunk);
    for (;;) {
        if (g_term) break;
        l = read_line(&in, chunk.len ? ">> " : "etwlua> ");
        if (!l || g_term) {
            free(l);
            break;
        }
        if (chunk.len) etwl_buf_putc(&chunk, '\n');
        etwl_buf_puts(&chunk, l);
        free(l);
        if (chunk.oom || chunk.len > MAX_CHUNK) {
            fprintf(stderr, "error: the chunk is longer than %u bytes\n", MAX_CHUNK);
            etwl_buf_reset(&chunk);
            chunk.oom = 0;
            continue;
        }
        etwl_buf_putc(&chunk, 0);
        chunk.len--;
        if (!chunk.data[0]) continue;
        if (etwl_lua_shell_eval(sh->x, chunk.data) == ETWL_SHELL_INCOMPLETE) continue;
        input_add(&in, chunk.data);
        etwl_buf_reset(&chunk);
        if (sh->f.live) tell_dropped(&sh->f);
    }
    if (chunk.len && !g_term) /* say why it never ran */
        fprintf(stderr, "error: the input ended inside an unfinished chunk (%zu byte(s) not run)\n", chunk.len);
    if (in.tty) fputc('\n', stdout);
    etwl_buf_free(&chunk);
}

int etwl_shell_main(int argc, char **argv)
{
    etwl_cli_opts o;
    etwl_error err;
    etwl_lua_opts lo;
    etwl_shell_ops ops;
    shell sh;
    char **av;
    int i, ac = 0, code = ETWL_EXIT_OK;
    long buffer = DEFAULT_BUFFER_EVENTS;
    memset(&err, 0, sizeof err);
    /* our own options out, the main command's parser for the rest */
    if (!(av = calloc((size_t)argc + 1, sizeof *av))) return ETWL_EXIT_FAILURE;
    av[ac++] = "etwlua shell";
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            free(av);
            fputs(usage, stdout);
            return ETWL_EXIT_OK;
        }
        if (strcmp(argv[i], "--buffer") == 0) {
            char *end;
            if (i + 1 >= argc) {
                free(av);
                return bad_usage("%s", "--buffer takes a count of events");
            }
            buffer = strtol(argv[++i], &end, 10);
            if (*end || !argv[i][0] || buffer < 1 || buffer > 100000000) {
                free(av);
                return bad_usage("--buffer takes a count of events from 1 to 100000000, not '%s'", argv[i]);
            }
            continue;
        }
        av[ac++] = argv[i];
    }
    i = etwl_cli_parse(ac, av, &o, &err);
    free(av);
    if (i != ETWL_EXIT_OK) return bad_usage("%s", err.message);
    if (o.nscripts)
        return bad_usage("takes no script ('%s'): load one with run(path) at the prompt",
                         o.scripts[0].path ? o.scripts[0].path : "-e");
    if (o.cfg.read_path && strcmp(o.cfg.read_path, "-") == 0)
        return bad_usage("%s", "-r - would read the trace from the prompt's own input: give a file");
    if (o.dump || o.record || o.noutputs || o.nsigma || o.list || o.kill)
        return bad_usage("%s", "--dump, record, -o, --sigma, --list and --kill are not for the shell");
    /* options of a run the shell does not make: refused, never ignored */
    if (o.no_rules || o.nrules_dirs || o.nrule_only || o.nrule_skip || o.stats || o.alerts_only || o.fail_on_error ||
        o.json || o.traceevent || o.duration > 0 || o.sigma_level || o.sigma_status || o.sigma_config)
        return bad_usage("%s", "--rules, --no-rules, --rule, --skip-rule, --stats, --alerts-only, "
                               "--fail-on-error, --json, --format, --duration and the --sigma-* filters are not for "
                               "the shell: give rules to run(), Sigma rules to sigma(), and ask stats()");

    memset(&sh, 0, sizeof sh);
    sh.o = &o;
    pthread_mutex_init(&sh.f.mu, NULL);
    pthread_cond_init(&sh.f.cv, NULL);
    etwl_buf_init(&sh.f.scratch);
    sh.f.live = !o.cfg.read_path;
    sh.tab = etwl_proctab_new(NULL);
    sh.tree = etwl_ptree_new(0);
    if (etwl_event_init(&sh.f.lev) != ETWL_OK || !sh.tab || !sh.tree ||
        (sh.f.live && (!(sh.f.jr = etwl_json_reader_new()) || !(sh.f.q = calloc((size_t)buffer, sizeof *sh.f.q))))) {
        fprintf(stderr, "etwlua shell: out of memory\n");
        code = ETWL_EXIT_FAILURE;
        goto done;
    }
    sh.f.qcap = (size_t)buffer;

    memset(&lo, 0, sizeof lo);
    lo.budget = o.budget;
    lo.memory_limit = (size_t)o.memory_mb << 20;
    lo.unsafe = o.unsafe;
    lo.lua_dir = o.lua_dir;
    lo.handler_timeout_ms = o.handler_timeout_ms;
    lo.err_out = stdout; /* print() at the prompt is the user's output */
    if (etwl_lua_new(&lo, &sh.x, &err) != ETWL_OK) {
        report_err(&err);
        code = ETWL_EXIT_FAILURE;
        goto done;
    }
    memset(&ops, 0, sizeof ops);
    ops.next = op_next;
    ops.run = op_run;
    ops.sigma = op_sigma;
    ops.tree = op_tree;
    ops.stats = op_stats;
    ops.ctx = &sh;
    ops.out = stdout;
    if (etwl_lua_shell_open(sh.x, &ops, &err) != ETWL_OK) {
        report_err(&err);
        code = ETWL_EXIT_FAILURE;
        goto done;
    }
    if (etwl_session_open(&o.cfg, &sh.f.s, &err) != ETWL_OK) {
        report_err(&err);
        code = etwl_exit_code(err.status);
        goto done;
    }
    etwl_session_set_diag(sh.f.s, on_diag, &sh.f);
    /* etw.stats() reads the session's counters: a replay's feeder is
     * parked whenever Lua runs, a live one is not (stats() has its copy) */
    if (!sh.f.live) etwl_lua_set_session(sh.x, sh.f.s);
    catch_signals();
    if (pthread_create(&sh.f.thread, NULL, feeder, &sh.f) != 0) {
        fprintf(stderr, "etwlua shell: cannot start the session thread\n");
        code = ETWL_EXIT_FAILURE;
        goto done;
    }
    sh.f.started = 1;
    if (isatty(0)) {
        if (sh.f.live)
            printf("etwlua shell: live session '%s', events are buffered while you type (up to %ld); "
                   "help() lists the builtins, Ctrl-D exits\n",
                   etwl_session_name(sh.f.s), buffer);
        else printf("etwlua shell: help() lists the builtins, Ctrl-D exits\n");
    }
    /* a replay starts on its first event; a live session waits for a next() */
    if (!sh.f.live) etwl_lua_shell_first(sh.x);
    fflush(stdout);
    repl(&sh);
    fflush(stdout);
done:
    feed_stop(&sh.f);
    etwl_lua_free(sh.x);
    etwl_session_free(sh.f.s);
    etwl_event_release(&sh.f.lev);
    etwl_json_reader_free(sh.f.jr);
    free(sh.f.q);
    etwl_buf_free(&sh.f.scratch);
    etwl_ptree_free(sh.tree);
    etwl_proctab_free(sh.tab);
    pthread_cond_destroy(&sh.f.cv);
    pthread_mutex_destroy(&sh.f.mu);
    return code;
}
