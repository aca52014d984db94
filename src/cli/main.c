/* retool: the single binary. Dispatches `retool <command>` through the table in commands.c. */
#include <stdio.h>
#include <string.h>

#include "base/version.h"
#include "cli/cli.h"

static void print_usage(void) {
    printf("retool %s: train language models to reason with a Python interpreter, by reinforcement learning\n\n",
           RETOOL_VERSION);
    printf("usage: retool <command> [flags]      (retool <command> --help for its flags)\n\ncommands:\n");
    for (const cli_command *c = cli_commands; c->name; c++) printf("  %-12s %s\n", c->name, c->summary);
    printf("\nglobal flags:\n  --help       show this help\n  --version    print the version\n");
    printf("\nexit codes: 0 success, 1 runtime failure, 2 usage error\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage();
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc >= 3 && strcmp(cmd, "help") == 0) {
            for (const cli_command *c = cli_commands; c->name; c++) {
                if (strcmp(c->name, argv[2]) == 0) {
                    char *sub[] = {argv[2], "--help", NULL};
                    int rc = c->run(2, sub);
                    return rc < 0 ? CLI_EXIT_OK : rc;
                }
            }
        }
        print_usage();
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("retool %s\n", RETOOL_VERSION);
        return CLI_EXIT_OK;
    }
    const char *names[128];
    size_t n = 0;
    for (const cli_command *c = cli_commands; c->name; c++) {
        if (strcmp(c->name, cmd) == 0) {
            int rc = c->run(argc - 1, argv + 1);
            return rc < 0 ? CLI_EXIT_OK : rc; /* -1: help was printed */
        }
        if (n < 128) names[n++] = c->name;
    }
    if (cmd[0] == '-') {
        fprintf(stderr, "retool: error: unknown flag '%s' (try --help)\n", cmd);
        return CLI_EXIT_USAGE;
    }
    const char *close = cli_closest(cmd, names, n);
    if (close)
        fprintf(stderr, "retool: error: unknown command '%s'; did you mean '%s'?\n", cmd, close);
    else
        fprintf(stderr, "retool: error: unknown command '%s' (see retool --help)\n", cmd);
    return CLI_EXIT_USAGE;
}
