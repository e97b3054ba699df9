/* dynlib.h - libraries loaded when first used (Linux).
 *
 * libcurl, librdkafka (the HTTP and Kafka outputs) and libzip (.zip input)
 * are not linked into etwlua: with what they pull in (TLS and crypto,
 * Kerberos, LDAP, SASL, compressors: about 30 libraries) they cost every
 * run 4-5 ms of start-up, and most runs use none of them.  Each is loaded
 * once, when the first output or input that needs it opens. */
#ifndef ETWL_UTIL_DYNLIB_H
#define ETWL_UTIL_DYNLIB_H

#include <stddef.h>

typedef struct etwl_dynlib {
    const char *soname;
    const char *const *names; /* its functions */
    size_t n;
    int state;     /* 0 not tried yet, 1 loaded, -1 not loadable */
    char why[300]; /* then why (dlerror's words: the library or the function missing) */
} etwl_dynlib;

/* For a list of functions F(X) (an X-macro) of the library soname:
 * ETWL_DYNLIB_DEFINE(F, soname) defines `lib`, the functions' pointers
 * (called as lib.name), and `lib_so`, the library; etwl_dynlib_open()
 * fills the slots {F(ETWL_DYNLIB_SLOT)}. */
#define ETWL_DYNLIB_DECL(f) __typeof__(&f) f;
#define ETWL_DYNLIB_NAME(f) #f,
#define ETWL_DYNLIB_SLOT(f) &lib.f,
#define ETWL_DYNLIB_DEFINE(F, soname)                                                                                  \
    static struct {                                                                                                    \
        F(ETWL_DYNLIB_DECL)                                                                                            \
    } lib;                                                                                                             \
    static const char *const lib_names[] = {F(ETWL_DYNLIB_NAME)};                                                      \
    static etwl_dynlib lib_so = {soname, lib_names, sizeof lib_names / sizeof lib_names[0], 0, ""}

/* Loads lib and its functions, each into the function pointer slots[i]
 * points to, the first time it is asked for (on any thread); 0, or -1 with
 * lib->why set, then and every time after. */
int etwl_dynlib_open(etwl_dynlib *lib, void *const *slots);

#endif
