/* One entry point per command; each lives in src/cli/cmd_<name>.c. Add a command: declare it here, add it to the
 * table in commands.c. */
#ifndef RETOOL_CLI_COMMANDS_H
#define RETOOL_CLI_COMMANDS_H

/* `retool demo`: the default demo (DESIGN.md section 8). */
int cmd_demo(int argc, char **argv);

/* `retool data gen|families|convert`: synthetic task families and dataset layouts (src/data/). */
int cmd_data(int argc, char **argv);

/* `retool json check FILE...`: validates JSON / JSONL files and names the first bad line. */
int cmd_json(int argc, char **argv);

#endif
