/* dynlib.c - see dynlib.h. */
#include "util/dynlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int load(etwl_dynlib *lib, void *const *slots)
{
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL), *p;
    size_t i;
    if (!h) {
        snprintf(lib->why, sizeof lib->why, "%s", dlerror());
        return -1;
    }
    for (i = 0; i < lib->n; i++) {
        if (!(p = dlsym(h, lib->names[i]))) {
            snprintf(lib->why, sizeof lib->why, "%s has no %s", lib->soname, lib->names[i]);
            return -1; /* the handle stays open: closing is never needed to be safe */
        }
        /* a function pointer from dlsym's object pointer, as POSIX allows */
        memcpy(slots[i], &p, sizeof p);
    }
    return 0;
}

int etwl_dynlib_open(etwl_dynlib *lib, void *const *slots)
{
    int st;
    pthread_mutex_lock(&mu);
    if (!lib->state) lib->state = load(lib, slots) == 0 ? 1 : -1;
    st = lib->state;
    pthread_mutex_unlock(&mu);
    return st == 1 ? 0 : -1;
}
