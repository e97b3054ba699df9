/* evtxlist.c - see evtxlist.h */
#include "sources/evtx/evtxlist.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct walk {
    etwl_evtx_list *l;
    etwl_evtx_first_fn first;
    void *ctx;
} walk;

static etwl_status add_file(walk *w, const char *path)
{
    etwl_evtx_list *l = w->l;
    etwl_evtx_file *f = realloc(l->files, (size_t)(l->n + 1) * sizeof *f);
    if (!f) return ETWL_ENOMEM;
    l->files = f;
    f[l->n].path = strdup(path);
    if (!f[l->n].path) return ETWL_ENOMEM;
    f[l->n].first = w->first(path, w->ctx);
    l->n++;
    return ETWL_OK;
}

static etwl_status scan_dir(walk *w, const char *dir, int depth, etwl_error *err)
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
        if (S_ISDIR(sb.st_mode) && depth < 8) st = scan_dir(w, path, depth + 1, err);
        else if (S_ISREG(sb.st_mode) && n > 5 && strcasecmp(de->d_name + n - 5, ".evtx") == 0) st = add_file(w, path);
    }
    closedir(d);
    return st;
}

static int by_time(const void *a, const void *b)
{
    const etwl_evtx_file *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return strcmp(x->path, y->path);
}

etwl_status etwl_evtx_list_make(etwl_evtx_list *l, const char *path, etwl_evtx_first_fn first, void *ctx,
                                etwl_error *err)
{
    struct stat sb;
    walk w = {l, first, ctx};
    etwl_status st;
    l->files = NULL;
    l->n = 0;
    if (stat(path, &sb) != 0)
        return etwl_error_set(err, errno == ENOENT ? ETWL_ENOTFOUND : ETWL_EIO, "%s: %s", path, strerror(errno));
    st = S_ISDIR(sb.st_mode) ? scan_dir(&w, path, 0, err) : add_file(&w, path);
    if (st == ETWL_ENOMEM) return etwl_error_set(err, st, "out of memory");
    if (st) return st;
    if (S_ISDIR(sb.st_mode) && l->n == 0)
        return etwl_error_set(err, ETWL_ENOTFOUND, "%s: no .evtx files in this folder", path);
    qsort(l->files, (size_t)l->n, sizeof *l->files, by_time);
    return ETWL_OK;
}

void etwl_evtx_list_free(etwl_evtx_list *l)
{
    int i;
    for (i = 0; i < l->n; i++) free(l->files[i].path);
    free(l->files);
    l->files = NULL;
    l->n = 0;
}

const char *etwl_evtx_list_path(const etwl_evtx_list *l, int i) { return i >= 0 && i < l->n ? l->files[i].path : NULL; }

uint64_t etwl_evtx_list_bytes(const etwl_evtx_list *l)
{
    uint64_t n = 0;
    int i;
    for (i = 0; i < l->n; i++) {
        struct stat sb;
        if (stat(l->files[i].path, &sb) == 0) n += (uint64_t)sb.st_size;
    }
    return n;
}
