/* sys.h - the few OS services the neutral code needs, one API for both.
 *
 * Implemented in engine/linux/sys.c and engine/win/sys.c (as libuv splits
 * src/unix and src/win), so no neutral file carries #ifdef _WIN32 for these. */
#ifndef ETWL_SYS_H
#define ETWL_SYS_H

#include <pthread.h>
#include <stddef.h>

/* Path of the running executable with '/' separators, UTF-8.  Returns 0 on
 * success, -1 when the OS cannot say. */
int etwl_sys_exe_path(char *buf, size_t n);

/* Calls fn when the user or the OS asks the process to stop: SIGINT and
 * SIGTERM on Linux (SIGHUP reloads, see etwl_sys_on_signal); Ctrl-C, Ctrl-Break, console close, logoff and
 * shutdown on Windows.  fn must be async-signal-safe (on Windows it runs on
 * a console-control thread). */
void etwl_sys_on_stop(void (*fn)(void));

/* The signals a live session answers besides stop: reload the scripts and
 * rules (SIGHUP, by daemon convention) and print the process tree
 * (SIGUSR2; SIGUSR1 reopens the -o files).  fn must be async-signal-safe.
 * Returns -1 where the OS has no such signal (Windows): the feature is
 * then reached some other way (--watch, --tree-every) or not at all. */
#define ETWL_SYS_SIG_RELOAD 1
#define ETWL_SYS_SIG_TREE 2
int etwl_sys_on_signal(int which, void (*fn)(void));

/* pthread_create for a helper thread that must never run the process's
 * signal handlers: they stay with the thread that runs the session (a
 * handler touching a Lua host must not run on a thread being joined by its
 * free).  Returns 0 or an error number. */
int etwl_sys_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Calls the etwl_sys_on_stop function once, after secs seconds. */
int etwl_sys_stop_after(double secs);

/* Standard streams carry bytes as they are: JSON lines stay LF-terminated
 * and identical on every OS (Windows would otherwise write CRLF). */
void etwl_sys_binary_stdio(void);

/* The width of the terminal on fd in columns, or 0 when fd is no terminal. */
int etwl_sys_term_columns(int fd);

/* Resident memory of this process now and at its peak, in KB (0: unknown). */
long etwl_sys_rss_kb(void);
long etwl_sys_peak_rss_kb(void);

#endif
