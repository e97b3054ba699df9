/* sys.c - sys.h on Windows. */
#include "platform/sys.h"

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <windows.h>
#include <psapi.h>

static void (*volatile stop_fn)(void);

int etwl_sys_exe_path(char *buf, size_t n)
{
    wchar_t w[MAX_PATH * 4];
    DWORD k = GetModuleFileNameW(NULL, w, (DWORD)(sizeof w / sizeof w[0]));
    int m;
    char *p;
    if (k == 0 || k >= sizeof w / sizeof w[0] || n > 0x7fffffff) return -1;
    m = WideCharToMultiByte(CP_UTF8, 0, w, (int)k, buf, (int)n - 1, NULL, NULL);
    if (m <= 0) return -1;
    buf[m] = 0;
    for (p = buf; *p; p++)
        if (*p == '\\') *p = '/';
    return 0;
}

/* Runs on a thread the console creates.  For CTRL_CLOSE_EVENT, logoff and
 * shutdown the process is killed once this returns, so it waits (up to the
 * OS's few seconds) for the session to be stopped by the main thread. */
static BOOL WINAPI on_console(DWORD type)
{
    void (*fn)(void) = stop_fn;
    if (!fn) return FALSE;
    fn();
    if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT) Sleep(2000);
    return TRUE;
}

void etwl_sys_on_stop(void (*fn)(void))
{
    stop_fn = fn;
    SetConsoleCtrlHandler(on_console, TRUE);
}

/* Console control handlers run on a thread of their own here: nothing to
 * block. */
int etwl_sys_thread_start(pthread_t *t, void *(*fn)(void *), void *arg) { return pthread_create(t, NULL, fn, arg); }

/* Windows has no SIGHUP or SIGUSR2: --watch and --tree-every instead. */
int etwl_sys_on_signal(int which, void (*fn)(void))
{
    (void)which;
    (void)fn;
    return -1;
}

static DWORD WINAPI timer_thread(LPVOID arg)
{
    DWORD ms = (DWORD)(ULONG_PTR)arg;
    void (*fn)(void);
    Sleep(ms);
    fn = stop_fn;
    if (fn) fn();
    return 0;
}

int etwl_sys_stop_after(double secs)
{
    HANDLE t;
    double ms = secs * 1000.0;
    if (ms < 1) ms = 1;
    if (ms > 4e9) ms = 4e9;
    t = CreateThread(NULL, 0, timer_thread, (LPVOID)(ULONG_PTR)(DWORD)ms, 0, NULL);
    if (!t) return -1;
    CloseHandle(t);
    return 0;
}

void etwl_sys_binary_stdio(void)
{
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
}

long etwl_sys_peak_rss_kb(void)
{
    PROCESS_MEMORY_COUNTERS pmc;
    if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc)) return 0;
    return (long)(pmc.PeakWorkingSetSize / 1024);
}

long etwl_sys_rss_kb(void)
{
    PROCESS_MEMORY_COUNTERS pmc;
    if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc)) return 0;
    return (long)(pmc.WorkingSetSize / 1024);
}

int etwl_sys_term_columns(int fd)
{
    CONSOLE_SCREEN_BUFFER_INFO info;
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    if (!_isatty(fd) || !GetConsoleScreenBufferInfo(h, &info)) return 0;
    return info.srWindow.Right - info.srWindow.Left + 1;
}
