/* One entry point per command; each lives in src/cli/cmd_<name>.c. Add a command: declare it here, add it to the
 * table in commands.c. */
#ifndef RETOOL_CLI_COMMANDS_H
#define RETOOL_CLI_COMMANDS_H

/* `retool demo`: the default demo (DESIGN.md section 8). */
int cmd_demo(int argc, char **argv);

/* `retool json check FILE...`: validates JSON / JSONL files and names the first bad line. */
int cmd_json(int argc, char **argv);

/* `retool sandbox run|serve|doctor`: isolated Python execution, the SandboxFusion-compatible server, host checks. */
int cmd_sandbox(int argc, char **argv);

/* `retool sandbox serve`: the HTTP server (src/cli/cmd_sandbox_serve.c). */
int cmd_sandbox_serve(int argc, char **argv);

/* `retool sandbox doctor`: which protections are active (src/cli/cmd_sandbox_doctor.c). */
int cmd_sandbox_doctor(int argc, char **argv);

#endif
