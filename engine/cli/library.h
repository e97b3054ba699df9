/* library.h - the rule library and `etwlua test`. */
#ifndef ETWL_CLI_LIBRARY_H
#define ETWL_CLI_LIBRARY_H

#include "lua/lua_host.h"
#include "opts.h"

int etwl_default_rules_dir(etwl_lua *x, char *out, size_t n);
/* The library (unless --no-rules), then every --rules path. */
etwl_status etwl_load_rules(etwl_lua *x, const etwl_cli_opts *o, int *count, etwl_error *err);
int etwl_rule_test_main(int argc, char **argv);

#endif
