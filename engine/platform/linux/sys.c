/* sys.c - sys.h on Linux (and other POSIX systems). */
#include "platform/sys.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

static void (*volatile stop_fn)(void);

int etwl_sys_exe_path(char *buf, size_t n)
{
    ssize_t k;
    if (n < 2) return -1;
    k = readlink("/proc/self/exe", buf, n - 1);
    if (k <= 0) return -1;
    buf[k] = 0;
    return 0;
}

static void on_signal(int sig)
{
    void (*fn)(void) = stop_fn;
    (void)sig;
    if (fn) fn();
}

void etwl_sys_on_stop(void (*fn)(void))
{
    struct sigaction sa;
    stop_fn = fn;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL); /* etwl_sys_stop_after */
}

static void (*volatile reload_fn)(void), (*volatile tree_fn)(void);

static void on_user_signal(int sig)
{
    void (*fn)(void) = sig == SIGHUP ? reload_fn : tree_fn;
    if (fn) fn();
}

int etwl_sys_on_signal(int which, void (*fn)(void))
{
    struct sigaction sa;
    int sig = which == ETWL_SYS_SIG_RELOAD ? SIGHUP : which == ETWL_SYS_SIG_TREE ? SIGUSR2 : 0;
    if (!sig) return -1;
    if (sig == SIGHUP) reload_fn = fn;
    else tree_fn = fn;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_user_signal;
    /* the handlers only set flags: interrupted reads and polls go on */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL) == 0 ? 0 : -1;
}

int etwl_sys_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int rc;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(t, NULL, fn, arg); /* the new thread inherits the mask */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int etwl_sys_stop_after(double secs)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)secs;
    it.it_value.tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
    return setitimer(ITIMER_REAL, &it, NULL) == 0 ? 0 : -1;
}

void etwl_sys_binary_stdio(void) {}

long etwl_sys_peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return ru.ru_maxrss;
}

long etwl_sys_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int etwl_sys_term_columns(int fd)
{
    struct winsize ws;
    if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
    return ws.ws_col;
}
