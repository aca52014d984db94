/* One entry point per command; each lives in src/cli/cmd_<name>.c. Add a command: declare it here, add it to the
 * table in commands.c. */
#ifndef RETOOL_CLI_COMMANDS_H
#define RETOOL_CLI_COMMANDS_H

/* `retool demo`: the default demo (DESIGN.md section 8). */
int cmd_demo(int argc, char **argv);

/* `retool json check FILE...`: validates JSON / JSONL files and names the first bad line. */
int cmd_json(int argc, char **argv);

/* `retool model init|info`: random model folders from a config.json; architecture, parameters and memory. */
int cmd_model(int argc, char **argv);
/* `retool score --model DIR`: log-probabilities of each token after the first, for JSON id arrays on stdin. */
int cmd_score(int argc, char **argv);

#endif
