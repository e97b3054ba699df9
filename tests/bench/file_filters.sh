#!/usr/bin/env bash
# tests/bench/file_filters.sh [N] - what the file provider's kernel filters
# cost the processes being watched (root).
#
# A small C program makes N calls of each kind and reports the CPU time
# (user + system, getrusage) per call: opening a file read-only (the
# filters' flag test fails at once), opening one for writing that no family
# watches (each of the six write families copies the path from user memory
# and matches its globs), and opening a watched one for writing in a
# scratch directory (recorded: `*authorized_keys*` matches anywhere).  It
# runs without a session, then beside `etwlua -p file`, and prints the
# difference per call.  CPU time of the caller is what the tracepoints
# cost it, and it is far less noisy than wall time on a loaded machine;
# other live sessions on the machine add their own filters to both runs.
set -u
cd "$(dirname "$0")/../.."
N=${1:-200000}
BIN=$PWD/build/bin/release/etwlua
[ "$(id -u)" = 0 ] || { echo "bench file-filters: skipped (needs root)"; exit 0; }
TMP=$(mktemp -d)
P=etwl-ffb$$
trap '"$BIN" --kill $P >/dev/null 2>&1; rm -rf "$TMP"' EXIT
cat >"$TMP/b.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
static double cpu(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}
static double run(const char *path, int flags, long n)
{
    double t0 = cpu();
    for (long i = 0; i < n; i++) {
        int fd = open(path, flags, 0600);
        if (fd >= 0) close(fd);
    }
    return (cpu() - t0) / n * 1e9;
}
int main(int argc, char **argv)
{
    long n = atol(argv[1]);
    char w[4096], k[4096];
    snprintf(w, sizeof w, "%s/plain.txt", argv[2]);
    snprintf(k, sizeof k, "%s/authorized_keys", argv[2]);
    printf("%.0f %.0f %.0f\n", run("/etc/hostname", O_RDONLY, n), run(w, O_WRONLY | O_CREAT, n),
           run(k, O_WRONLY | O_CREAT, n / 10));
    return 0;
}
EOF
gcc -O2 -o "$TMP/b" "$TMP/b.c" || exit 1
base=$("$TMP/b" "$N" "$TMP")
"$BIN" -n $P -p file >"$TMP/out" 2>"$TMP/err" &
for ((i = 0; i < 1200; i++)); do grep -q started "$TMP/err" 2>/dev/null && break; sleep 0.05; done
grep -q started "$TMP/err" || { echo "bench file-filters: the session did not start: $(cat "$TMP/err")"; exit 1; }
with=$("$TMP/b" "$N" "$TMP")
"$BIN" --kill $P >/dev/null 2>&1
set -- $base $with
echo "bench file-filters: CPU ns per call (N=$N): without a session / with -p file / added"
printf '  open read-only             %6d %6d %+6d\n' "$1" "$4" $(($4 - $1))
printf '  open for writing, unwatched %5d %6d %+6d\n' "$2" "$5" $(($5 - $2))
printf '  open for writing, watched  %6d %6d %+6d  (recorded)\n' "$3" "$6" $(($6 - $3))
