/* Runs the built retool binary ($RETOOL_BIN, else ./build/retool) with a shell argument string and captures
 * stdout+stderr and the exit code. */
#ifndef RETOOL_TESTS_CLI_RUN_CLI_H
#define RETOOL_TESTS_CLI_RUN_CLI_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs "retool ARGS 2>&1"; returns the exit code and fills out (NUL-terminated, up to n-1 bytes). */
static inline int run_cli(const char *args, char *out, size_t n) {
    const char *bin = getenv("RETOOL_BIN");
    if (!bin) bin = "./build/retool";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
