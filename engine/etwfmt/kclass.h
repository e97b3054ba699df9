/* kclass.h - the NT kernel logger's event classes, in one table: the hook
 * group an ETL file names them by, their MOF class GUID, and the task name
 * TraceEvent shows.  The ETL reader, the built-in layouts (kmof.c) and the
 * TraceEvent writer all look classes up here. */
#ifndef ETWL_KCLASS_H
#define ETWL_KCLASS_H

#include <stdint.h>

#include "etwl.h"

typedef enum etwl_kclass {
    ETWL_KC_NONE = -1,
    ETWL_KC_EVENTTRACE,
    ETWL_KC_DISKIO,
    ETWL_KC_PAGEFAULT,
    ETWL_KC_PROCESS,
    ETWL_KC_FILEIO,
    ETWL_KC_THREAD,
    ETWL_KC_TCPIP,
    ETWL_KC_UDPIP,
    ETWL_KC_REGISTRY,
    ETWL_KC_SYSCONFIG,
    ETWL_KC_PERFINFO,
    ETWL_KC_IMAGE,
    ETWL_KC_STACKWALK,
    ETWL_KC_ALPC,
    ETWL_KC_SYSCONFIGEX, /* no hook group: written with its GUID */
    ETWL_KC_IMAGEID,     /* xperf's KernelTraceControl image identity, written with its GUID */
    ETWL_KC_METADATA,    /* KernelTraceControl MetaData: the trace's own event schemas */
    ETWL_KC_COUNT
} etwl_kclass;

typedef struct etwl_kclass_info {
    int group; /* hook id >> 8, or -1 */
    etwl_guid guid;
    const char *task; /* as TraceEvent names it */
} etwl_kclass_info;

const etwl_kclass_info *etwl_kclass_info_of(etwl_kclass c);
etwl_kclass etwl_kclass_of_guid(const etwl_guid *g);
etwl_kclass etwl_kclass_of_group(uint8_t group);

#endif
