/* shell.h - `etwlua shell`: an interactive Lua prompt over a trace. */
#ifndef ETWL_CLI_SHELL_H
#define ETWL_CLI_SHELL_H

int etwl_shell_main(int argc, char **argv);

#endif
