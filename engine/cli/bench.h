/* bench.h - the `etwlua bench` subcommand. */
#ifndef ETWL_CLI_BENCH_H
#define ETWL_CLI_BENCH_H

int etwl_bench_main(int argc, char **argv);

#endif
