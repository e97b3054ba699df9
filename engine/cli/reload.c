/* reload.c - see reload.h.
 *
 * One loader thread per run.  It sleeps in poll() on a self-pipe (a reload
 * request from the SIGHUP handler, a set taken or handed back by the event
 * thread, the quit at exit) and, with --watch, an inotify descriptor.  A
 * change is debounced (an editor's save is several events; a `git checkout`
 * many) before the load starts, so one save is one reload. */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32

etwl_status etwl_reloader_new(const char *const *watch, int nwatch, etwl_reload_build_fn build,
                              etwl_reload_free_fn drop, void *ctx, etwl_reloader **out, etwl_error *err)
{
    (void)watch, (void)nwatch, (void)build, (void)drop, (void)ctx;
    *out = NULL;
    return etwl_error_set(err, ETWL_ENOTSUP, "--watch: hot reload needs inotify, which only Linux has");
}
void etwl_reloader_request(etwl_reloader *r) { (void)r; }
void *etwl_reloader_take(etwl_reloader *r, char *what, size_t n, double *build_ms)
{
    (void)r, (void)what, (void)n, (void)build_ms;
    return NULL;
}
void etwl_reloader_retire(etwl_reloader *r, void *set) { (void)r, (void)set; }
unsigned long etwl_reloader_failed(etwl_reloader *r)
{
    (void)r;
    return 0;
}
void etwl_reloader_free(etwl_reloader *r) { (void)r; }

#else

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "platform/sys.h"

#define DEBOUNCE_MS 50    /* a change is loaded once this long passed without another */
#define DEBOUNCE_MAX 1000 /* ... or this long after the first, whatever keeps changing */
#define MAX_WATCHES 4096  /* folders watched, at most */
#define MAX_DEPTH 8       /* folder depth watched, as library.c loads */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)

typedef struct watch {
    int wd;
    char *dir;  /* the folder watched */
    char *only; /* a watched file's name in it; NULL: every rule file in it */
    int depth;
} watched;

struct etwl_reloader {
    etwl_reload_build_fn build;
    etwl_reload_free_fn drop;
    void *ctx;
    int pipe[2];
    int ino; /* -1 without --watch */
    watched *w;
    int nw;
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    void *ready; /* built, not yet taken */
    char ready_what[512];
    double ready_ms;
    atomic_int has_ready;
    void **retired;
    int nretired, capretired;
    atomic_ulong failed;
    char what[512]; /* why the next load runs (loader thread only) */
};

static void wake(etwl_reloader *r, char c)
{
    /* non-blocking: a full pipe already wakes the loader */
    if (write(r->pipe[1], &c, 1) < 0) return;
}

static int rule_file(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.') return 0; /* editors' swap files, .git */
    return (n > 4 && strcmp(name + n - 4, ".lua") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static etwl_status add_watch(etwl_reloader *r, const char *dir, const char *only, int depth, etwl_error *err)
{
    watched *nw;
    int wd;
    if (r->nw >= MAX_WATCHES) return etwl_error_set(err, ETWL_ELIMIT, "--watch: more than %d folders", MAX_WATCHES);
    wd = inotify_add_watch(r->ino, dir, WATCH_MASK);
    if (wd < 0)
        return etwl_error_set(err, errno == ENOSPC ? ETWL_ELIMIT : ETWL_EIO, "--watch %s: %s%s", dir, strerror(errno),
                              errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
    if (!(nw = realloc(r->w, (size_t)(r->nw + 1) * sizeof *nw)))
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    r->w = nw;
    nw[r->nw].wd = wd;
    nw[r->nw].dir = strdup(dir);
    nw[r->nw].only = only ? strdup(only) : NULL;
    nw[r->nw].depth = depth;
    if (!nw[r->nw].dir || (only && !nw[r->nw].only)) {
        free(nw[r->nw].dir);
        free(nw[r->nw].only);
        return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    }
    r->nw++;
    if (!only && depth < MAX_DEPTH) { /* and its subfolders */
        DIR *d = opendir(dir);
        struct dirent *de;
        etwl_status st = ETWL_OK;
        while (d && st == ETWL_OK && (de = readdir(d)) != NULL) {
            char path[PATH_MAX];
            if (de->d_name[0] == '.') continue;
            if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
            if (is_dir(path)) st = add_watch(r, path, NULL, depth + 1, err);
        }
        if (d) closedir(d);
        return st;
    }
    return ETWL_OK;
}

static etwl_status watch_path(etwl_reloader *r, const char *path, etwl_error *err)
{
    char dir[PATH_MAX];
    const char *slash;
    struct stat sb;
    if (stat(path, &sb) != 0) return etwl_error_set(err, ETWL_EINVAL, "--watch: %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return add_watch(r, path, NULL, 0, err);
    /* a file is watched through its folder: editors save by writing a new
     * file and renaming it over the old one, which a watch on the file
     * itself would lose */
    slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return add_watch(r, dir, slash ? slash + 1 : path, 0, err);
}

static void note_change(etwl_reloader *r, const char *dir, const char *name)
{
    size_t n = strlen(r->what);
    if (strstr(r->what, name)) return; /* once per file */
    if (n + strlen(dir) + strlen(name) + 8 >= sizeof r->what) {
        if (n + 5 < sizeof r->what && !strstr(r->what, ",...")) strcat(r->what, ",...");
        return;
    }
    snprintf(r->what + n, sizeof r->what - n, "%s%s/%s", n ? "," : "", dir, name);
}

/* Reads what inotify has; returns 1 when a watched file changed. */
static int read_changes(etwl_reloader *r)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int hit = 0;
    ssize_t len;
    while ((len = read(r->ino, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof *e + e->len;
            if (e->mask & IN_Q_OVERFLOW) { /* changes were missed: reload all the same */
                note_change(r, "(inotify", "overflow)");
                hit = 1;
                continue;
            }
            for (int i = 0; i < r->nw; i++) {
                const watched *w = &r->w[i];
                if (w->wd != e->wd || !e->len) continue;
                if (w->only ? strcmp(e->name, w->only) != 0 : 0) continue;
                if (!w->only && (e->mask & IN_ISDIR)) {
                    char sub[PATH_MAX];
                    etwl_error err;
                    /* a new folder of rules: watched from now on */
                    if ((e->mask & (IN_CREATE | IN_MOVED_TO)) && w->depth < MAX_DEPTH &&
                        snprintf(sub, sizeof sub, "%s/%s", w->dir, e->name) < (int)sizeof sub &&
                        add_watch(r, sub, NULL, w->depth + 1, &err) == ETWL_OK)
                        w = &r->w[i]; /* (r->w may have moved) */
                    note_change(r, w->dir, e->name);
                    hit = 1;
                    break;
                }
                if (!w->only && !rule_file(e->name)) continue;
                note_change(r, w->dir, e->name);
                hit = 1;
                break;
            }
        }
    }
    return hit;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void free_retired(etwl_reloader *r)
{
    void **v;
    int n;
    pthread_mutex_lock(&r->mu);
    v = r->retired;
    n = r->nretired;
    r->retired = NULL;
    r->nretired = r->capretired = 0;
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n; i++) r->drop(r->ctx, v[i]);
    free(v);
}

static void load(etwl_reloader *r)
{
    struct timespec t0;
    etwl_error err;
    void *set = NULL;
    etwl_status st;
    memset(&err, 0, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = r->build(r->ctx, &set, &err);
    if (st != ETWL_OK) {
        etwl_buf b, w;
        etwl_buf_init(&b);
        etwl_buf_init(&w);
        /* the message quotes the file, and file names are anyone's: escaped */
        etwl_text_put_lines(&b, err.message, strlen(err.message), "etwlua:   ");
        etwl_text_put_escaped(&w, r->what, strlen(r->what));
        fprintf(stderr, "etwlua: reload refused (%s): %s\netwlua: the running scripts and rules go on\n",
                w.data ? w.data : "", b.data ? b.data : etwl_status_name(st));
        etwl_buf_free(&b);
        etwl_buf_free(&w);
        atomic_fetch_add(&r->failed, 1);
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->ready = set;
    snprintf(r->ready_what, sizeof r->ready_what, "%s", r->what);
    r->ready_ms = ms_since(&t0);
    atomic_store(&r->has_ready, 1);
    pthread_mutex_unlock(&r->mu);
}

static void *loader(void *arg)
{
    etwl_reloader *r = arg;
    int want = 0, quit = 0;
    while (!quit) {
        struct pollfd pf[2] = {{r->pipe[0], POLLIN, 0}, {r->ino, POLLIN, 0}};
        char c[64];
        ssize_t k;
        if (poll(pf, r->ino >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) break;
        while ((k = read(r->pipe[0], c, sizeof c)) > 0)
            for (ssize_t i = 0; i < k; i++) {
                if (c[i] == 'q') quit = 1;
                if (c[i] == 'r' && !want) {
                    want = 1;
                    snprintf(r->what, sizeof r->what, "SIGHUP");
                }
            }
        free_retired(r);
        if (quit) break;
        if (r->ino >= 0 && (pf[1].revents & POLLIN) && (want || (r->what[0] = 0, 1)) && read_changes(r)) {
            struct timespec first;
            want = 1;
            clock_gettime(CLOCK_MONOTONIC, &first);
            /* debounce: until DEBOUNCE_MS of quiet (at most DEBOUNCE_MAX) */
            for (;;) {
                struct pollfd q = {r->ino, POLLIN, 0};
                long left = DEBOUNCE_MAX - (long)ms_since(&first);
                if (left <= 0 || poll(&q, 1, (int)(left < DEBOUNCE_MS ? left : DEBOUNCE_MS)) <= 0) break;
                read_changes(r);
            }
        }
        /* one prepared set at a time: a change while one waits to be
         * swapped in is loaded once that one was taken */
        if (want && !atomic_load(&r->has_ready)) {
            want = 0;
            load(r);
        }
    }
    return NULL;
}

etwl_status etwl_reloader_new(const char *const *watch, int nwatch, etwl_reload_build_fn build,
                              etwl_reload_free_fn drop, void *ctx, etwl_reloader **out, etwl_error *err)
{
    etwl_reloader *r = calloc(1, sizeof *r);
    etwl_status st;
    *out = NULL;
    if (!r) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    r->build = build;
    r->drop = drop;
    r->ctx = ctx;
    r->ino = -1;
    r->pipe[0] = r->pipe[1] = -1;
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->has_ready, 0);
    atomic_init(&r->failed, 0);
    if (pipe2(r->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        etwl_reloader_free(r);
        return etwl_error_set(err, ETWL_EIO, "reload: pipe: %s", strerror(errno));
    }
    if (nwatch > 0) {
        if ((r->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
            etwl_reloader_free(r);
            return etwl_error_set(err, ETWL_EIO, "--watch: inotify: %s", strerror(errno));
        }
        for (int i = 0; i < nwatch; i++)
            if ((st = watch_path(r, watch[i], err)) != ETWL_OK) {
                etwl_reloader_free(r);
                return st;
            }
    }
    /* signals stay with the session's thread (reload.h) */
    if (etwl_sys_thread_start(&r->thread, loader, r) != 0) {
        etwl_reloader_free(r);
        return etwl_error_set(err, ETWL_ENOMEM, "reload: cannot start the loader thread");
    }
    r->running = 1;
    *out = r;
    return ETWL_OK;
}

void etwl_reloader_request(etwl_reloader *r)
{
    if (r) wake(r, 'r');
}

void *etwl_reloader_take(etwl_reloader *r, char *what, size_t n, double *build_ms)
{
    void *set;
    if (!r || !atomic_load_explicit(&r->has_ready, memory_order_acquire)) return NULL;
    pthread_mutex_lock(&r->mu);
    set = r->ready;
    r->ready = NULL;
    snprintf(what, n, "%s", r->ready_what);
    *build_ms = r->ready_ms;
    atomic_store(&r->has_ready, 0);
    pthread_mutex_unlock(&r->mu);
    wake(r, 't'); /* a change that came meanwhile loads now */
    return set;
}

void etwl_reloader_retire(etwl_reloader *r, void *set)
{
    void **v;
    if (!set) return;
    pthread_mutex_lock(&r->mu);
    if (r->nretired == r->capretired) {
        v = realloc(r->retired, (size_t)(r->capretired ? r->capretired * 2 : 4) * sizeof *v);
        if (!v) { /* no room to hand it over: freed here, late but freed */
            pthread_mutex_unlock(&r->mu);
            r->drop(r->ctx, set);
            return;
        }
        r->retired = v;
        r->capretired = r->capretired ? r->capretired * 2 : 4;
    }
    r->retired[r->nretired++] = set;
    pthread_mutex_unlock(&r->mu);
    wake(r, 'f');
}

unsigned long etwl_reloader_failed(etwl_reloader *r) { return r ? atomic_load(&r->failed) : 0; }

void etwl_reloader_free(etwl_reloader *r)
{
    if (!r) return;
    if (r->running) {
        /* the pipe may be full of requests: the quit must get through */
        while (write(r->pipe[1], "q", 1) < 0 && errno == EAGAIN) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        pthread_join(r->thread, NULL);
    }
    free_retired(r);
    if (r->ready) r->drop(r->ctx, r->ready);
    for (int i = 0; i < r->nw; i++) {
        free(r->w[i].dir);
        free(r->w[i].only);
    }
    free(r->w);
    if (r->ino >= 0) close(r->ino);
    if (r->pipe[0] >= 0) close(r->pipe[0]);
    if (r->pipe[1] >= 0) close(r->pipe[1]);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

#endif
