/* tree.h - the process tree of a trace, for `etwlua tree`.
 *
 * The process table (proctab.h) answers "which process had this pid at
 * that time" and forgets what exited; the tree keeps every process instance
 * the trace shows, with its parent instance, so a whole capture can be
 * drawn.  It learns from what the process table makes of each event
 * (etwl_proctab_observe), so every process source feeds it the same way.
 * Pid reuse gives separate nodes; a parent the trace never showed is said
 * to be unseen, never guessed. */
#ifndef ETWL_PROCESS_TREE_H
#define ETWL_PROCESS_TREE_H

#include <stdint.h>

#include "etwl.h"
#include "process/proctab.h"

typedef struct etwl_ptree etwl_ptree;

/* max_nodes bounds the memory (0: 1,000,000); past it new processes are
 * counted, not kept, and the output says how many. */
etwl_ptree *etwl_ptree_new(uint32_t max_nodes);
void etwl_ptree_free(etwl_ptree *t);

/* Learns from one event, after etwl_proctab_observe(tab, ev, pe). */
void etwl_ptree_observe(etwl_ptree *t, etwl_proctab *tab, const etwl_event *ev, const etwl_proc_event *pe);

/* Attributes an alert to the process with this pid at time ts. */
void etwl_ptree_alert(etwl_ptree *t, uint32_t pid, int64_t ts, const char *rule, size_t rule_len);

typedef struct etwl_ptree_view {
    int json;    /* JSON lines, one per process in tree order, with its depth */
    int has_pid; /* only the subtrees of processes with this pid, and their ancestors */
    uint32_t pid;
    int64_t at;     /* FILETIME; only processes alive then (0: all) */
    unsigned width; /* readable form: cut lines to this many columns (0: whole) */
} etwl_ptree_view;

/* Writes the tree; returns the number of processes written. */
uint32_t etwl_ptree_write(etwl_ptree *t, const etwl_ptree_view *v, etwl_buf *out);
uint32_t etwl_ptree_count(const etwl_ptree *t);

#endif
