/* status.c - status names and the error carrier. */
#include "etwl.h"

#include <stdarg.h>
#include <stdio.h>

const char *etwl_status_name(etwl_status st)
{
    switch (st) {
    case ETWL_OK: return "ok";
    case ETWL_EINVAL: return "invalid argument";
    case ETWL_ENOMEM: return "out of memory";
    case ETWL_EIO: return "I/O error";
    case ETWL_EPARSE: return "malformed input";
    case ETWL_ERANGE: return "number out of range";
    case ETWL_ETRUNC: return "payload truncated";
    case ETWL_ENOTFOUND: return "not found";
    case ETWL_EEXIST: return "session exists";
    case ETWL_ENOTSUP: return "not supported";
    case ETWL_EACCES: return "access denied";
    case ETWL_ESTOPPED: return "stopped";
    case ETWL_ESCHEMA: return "bad schema";
    case ETWL_ELIMIT: return "limit reached";
    }
    return "unknown status";
}

etwl_status etwl_error_set(etwl_error *err, etwl_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = st;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return st;
}
