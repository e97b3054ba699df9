/* instream.c - see instream.h */
#include "util/instream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef ETWL_HAVE_ZIP
#include <zip.h>
#include <zlib.h>
#endif

#include "session/sniff.h"
#ifdef ETWL_HAVE_ZIP
#include "util/dynlib.h"

/* libzip is loaded when the first .zip opens (dynlib.h) */
/* clang-format off: one function a line */
#define ZIP_FUNCS(X)                                                                                                   \
    X(zip_open)                                                                                                        \
    X(zip_error_init_with_code)                                                                                        \
    X(zip_error_strerror)                                                                                              \
    X(zip_error_fini)                                                                                                  \
    X(zip_get_num_entries)                                                                                             \
    X(zip_get_name)                                                                                                    \
    X(zip_fopen_index)                                                                                                 \
    X(zip_strerror)                                                                                                    \
    X(zip_fread)                                                                                                       \
    X(zip_file_strerror)                                                                                               \
    X(zip_fclose)                                                                                                      \
    X(zip_discard)
/* clang-format on */
ETWL_DYNLIB_DEFINE(ZIP_FUNCS, "libzip.so.4"); /* called as lib.zip_... */
#endif

struct etwl_instream {
    FILE *f;
#ifdef ETWL_HAVE_ZIP
    zip_t *za;
    zip_file_t *zf;
    gzFile gz;
#endif
    char name[1024];
};

void etwl_instream_close(etwl_instream *s)
{
    if (!s) return;
    if (s->f) fclose(s->f);
#ifdef ETWL_HAVE_ZIP
    if (s->zf) lib.zip_fclose(s->zf);
    if (s->za) lib.zip_discard(s->za);
    if (s->gz) gzclose(s->gz);
#endif
    free(s);
}

#ifdef ETWL_HAVE_ZIP
/* The first entry named *.etl; the archives TraceEvent and WPR write hold
 * one trace (and perhaps logs beside it). */
static etwl_status open_zip(etwl_instream *s, const char *path, etwl_error *err)
{
    int zerr = 0;
    zip_int64_t i, n;
    void *const slots[] = {ZIP_FUNCS(ETWL_DYNLIB_SLOT)};
    if (etwl_dynlib_open(&lib_so, slots) != 0)
        return etwl_error_set(err, ETWL_EIO, "%s: zip input needs libzip: %s", path, lib_so.why);
    s->za = lib.zip_open(path, ZIP_RDONLY, &zerr);
    if (!s->za) {
        zip_error_t ze;
        lib.zip_error_init_with_code(&ze, zerr);
        etwl_error_set(err, ETWL_EPARSE, "%s: not a readable zip archive: %s", path, lib.zip_error_strerror(&ze));
        lib.zip_error_fini(&ze);
        return ETWL_EPARSE;
    }
    n = lib.zip_get_num_entries(s->za, 0);
    for (i = 0; i < n; i++) {
        const char *e = lib.zip_get_name(s->za, (zip_uint64_t)i, 0);
        size_t len = e ? strlen(e) : 0;
        if (len > 4 && strcasecmp(e + len - 4, ".etl") == 0) {
            s->zf = lib.zip_fopen_index(s->za, (zip_uint64_t)i, 0);
            if (!s->zf) return etwl_error_set(err, ETWL_EPARSE, "%s:%s: %s", path, e, lib.zip_strerror(s->za));
            snprintf(s->name, sizeof s->name, "%s:%s", path, e);
            return ETWL_OK;
        }
    }
    return etwl_error_set(err, ETWL_ENOTFOUND, "%s: the archive holds no .etl file", path);
}
#endif

etwl_status etwl_instream_open(const char *path, etwl_instream **out, etwl_error *err)
{
    etwl_instream *s = calloc(1, sizeof *s);
    unsigned char m[ETWL_SNIFF_BYTES];
    size_t n;
    etwl_status st = ETWL_OK;
    *out = NULL;
    if (!s) return etwl_error_set(err, ETWL_ENOMEM, "out of memory");
    snprintf(s->name, sizeof s->name, "%s", path);
    if (!(s->f = fopen(path, "rb"))) {
        st = etwl_error_set(err,
                            errno == ENOENT   ? ETWL_ENOTFOUND
                            : errno == EACCES ? ETWL_EACCES
                                              : ETWL_EIO,
                            "%s: %s", path, strerror(errno));
        goto fail;
    }
    n = fread(m, 1, sizeof m, s->f);
    switch (etwl_sniff(m, n)) {
    case ETWL_SNIFF_ZIP:
#ifdef ETWL_HAVE_ZIP
        fclose(s->f);
        s->f = NULL;
        if ((st = open_zip(s, path, err)) != ETWL_OK) goto fail;
        break;
#else
        st = etwl_error_set(err, ETWL_ENOTSUP, "%s: zip input is not built into this etwlua", path);
        goto fail;
#endif
    case ETWL_SNIFF_GZIP:
#ifdef ETWL_HAVE_ZIP
        fclose(s->f);
        s->f = NULL;
        if (!(s->gz = gzopen(path, "rb"))) {
            st = etwl_error_set(err, ETWL_EIO, "%s: %s", path, strerror(errno));
            goto fail;
        }
        break;
#else
        st = etwl_error_set(err, ETWL_ENOTSUP, "%s: gzip input is not built into this etwlua", path);
        goto fail;
#endif
    default: rewind(s->f);
    }
    *out = s;
    return ETWL_OK;
fail:
    etwl_instream_close(s);
    return st;
}

long etwl_instream_read(etwl_instream *s, void *buf, size_t n, etwl_error *err)
{
    if (s->f) {
        size_t k = fread(buf, 1, n, s->f);
        if (k < n && ferror(s->f)) {
            etwl_error_set(err, ETWL_EIO, "%s: read error", s->name);
            return -1;
        }
        return (long)k;
    }
#ifdef ETWL_HAVE_ZIP
    if (s->zf) {
        zip_int64_t k = lib.zip_fread(s->zf, buf, n);
        if (k < 0) {
            etwl_error_set(err, ETWL_EPARSE, "%s: %s", s->name, lib.zip_file_strerror(s->zf));
            return -1;
        }
        return (long)k;
    }
    if (s->gz) {
        int k = gzread(s->gz, buf, (unsigned)(n > 1u << 30 ? 1u << 30 : n));
        if (k < 0) {
            int e;
            etwl_error_set(err, ETWL_EPARSE, "%s: %s", s->name, gzerror(s->gz, &e));
            return -1;
        }
        return k;
    }
#endif
    return 0;
}

const char *etwl_instream_name(const etwl_instream *s) { return s->name; }
