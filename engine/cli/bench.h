/* bench.h - the `etwlua bench` subcommand. */
#ifndef ETWL_CLI_BENCH_H
#define ETWL_CLI_BENCH_H

int etwl_bench_main(int argc, char **argv);
/* Case g: Sigma rules (bench_sigma.c). */
int etwl_bench_sigma(unsigned long long n);
/* Case h: the rule library over real process starts (bench_starts.c). */
int etwl_bench_starts(unsigned long long n);

#endif
