/* tree.h - `etwlua tree`: the process tree of a recording. */
#ifndef ETWL_CLI_TREE_H
#define ETWL_CLI_TREE_H

int etwl_tree_main(int argc, char **argv);

#endif
