/* dynlib.h - libraries the outputs load when first used (Linux).
 *
 * libcurl and librdkafka are not linked into etwlua: with what they pull in
 * (TLS, Kerberos, LDAP, SASL, compressors: about 30 libraries) they cost
 * every run 3-4 ms of start-up, and most runs have no HTTP or Kafka output.
 * Each output loads its library once, when an output of its kind opens. */
#ifndef ETWL_OUTPUT_DYNLIB_H
#define ETWL_OUTPUT_DYNLIB_H

#include <stddef.h>

typedef struct etwl_dynlib {
    const char *soname;
    const char *const *names; /* its functions */
    size_t n;
    int state;     /* 0 not tried yet, 1 loaded, -1 not loadable */
    char why[300]; /* then why (dlerror's words: the library or the function missing) */
} etwl_dynlib;

/* Loads lib and its functions, each into the function pointer slots[i]
 * points to, the first time it is asked for (on any thread); 0, or -1 with
 * lib->why set, then and every time after. */
int etwl_dynlib_open(etwl_dynlib *lib, void *const *slots);

#endif
