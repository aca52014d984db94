/* The command-line front end: the command table, flag parsing with close-match suggestions, exit codes. */
#ifndef RETOOL_CLI_CLI_H
#define RETOOL_CLI_CLI_H

#include <signal.h>
#include <stddef.h>

#include "base/error.h"

/* Exit codes, documented in README.md. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

typedef struct cli_command {
    const char *name;
    const char *summary;                    /* one line for `retool --help` */
    int (*run)(int argc, char **argv);      /* argv[0] is the command name; returns an exit code */
} cli_command;

/* The command table (src/cli/commands.c), terminated by an entry with name NULL. */
extern const cli_command cli_commands[];

typedef enum cli_flag_kind { CLI_FLAG_STRING, CLI_FLAG_INT, CLI_FLAG_DOUBLE, CLI_FLAG_BOOL } cli_flag_kind;

typedef struct cli_flag {
    const char *name;     /* without the leading "--" */
    cli_flag_kind kind;
    void *out;            /* const char **, long long *, double *, int * (set to 1 when given) */
    const char *metavar;  /* e.g. "DIR"; NULL for bool flags */
    const char *help;     /* one line */
} cli_flag;

/* The parsed command line of one command. */
typedef struct cli_args {
    char **positional;    /* arguments that are not flags, in order */
    int npositional;
} cli_args;

/* Parses argv[1..] (argv[0] is the command) against flags; accepts "--name value" and "--name=value".
 * On a usage error prints the error (with the closest flag name) and returns CLI_EXIT_USAGE; prints help and
 * returns -1 for --help; else 0. usage is the one-line synopsis shown in help. */
int cli_parse(int argc, char **argv, const char *usage, const char *description, const cli_flag *flags,
              size_t nflags, cli_args *args);

/* Frees what cli_parse allocated. */
void cli_args_free(cli_args *args);

/* Prints "retool CMD: error: MESSAGE" to stderr; returns exit_code. */
int cli_fail(const char *cmd, int exit_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prints a failed rt_error for cmd and returns CLI_EXIT_FAILURE (or CLI_EXIT_USAGE for RT_EINVAL). */
int cli_fail_err(const char *cmd, const rt_error *err);

/* Blocks SIGTERM and SIGINT (into set, for sigwait) before any thread starts, and ignores SIGPIPE: the servers'
 * way to stop cleanly. */
void cli_block_stop_signals(sigset_t *set);

/* The candidate closest to word by edit distance, or NULL when none is close enough to be a plausible typo. */
const char *cli_closest(const char *word, const char *const *candidates, size_t n);

/* The help of every --template flag (rollout_template_parse reads the names; docs/TOKENIZER.md has the rule). */
#define CLI_TEMPLATE_HELP                                                                                              \
    "prompt template: auto (default: the one the model folder records in tokenizer_config.json), plain, chatml, "      \
    "llama3, or chat (the folder's chat family)"

/* Runs a sub-command table (e.g. `retool model init|info`): dispatches argv[1] among subs. */
int cli_dispatch_sub(const char *parent, int argc, char **argv, const cli_command *subs);

#endif
