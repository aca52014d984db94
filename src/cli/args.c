#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *cli_closest(const char *word, const char *const *candidates, size_t n) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (strncmp(word, candidates[i], strlen(word)) == 0 && strlen(word) >= 2) d = 1; /* a prefix */
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    return best_d <= limit ? best : NULL;
}

int cli_fail(const char *cmd, int exit_code, const char *fmt, ...) {
    fprintf(stderr, "retool %s: error: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return exit_code;
}

void cli_block_stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_fail_err(const char *cmd, const rt_error *err) {
    return cli_fail(cmd, err->status == RT_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, "%s", err->msg);
}

static void print_help(const char *usage, const char *description, const cli_flag *flags, size_t nflags) {
    printf("usage: %s\n", usage);
    if (description && *description) printf("\n%s\n", description);
    printf("\nflags:\n");
    for (size_t i = 0; i < nflags; i++) {
        char left[96];
        if (flags[i].kind == CLI_FLAG_BOOL)
            snprintf(left, sizeof left, "--%s", flags[i].name);
        else
            snprintf(left, sizeof left, "--%s %s", flags[i].name, flags[i].metavar ? flags[i].metavar : "VALUE");
        printf("  %-28s %s\n", left, flags[i].help);
    }
    printf("  %-28s %s\n", "--help", "show this help");
}

static int set_flag(const char *cmd, const cli_flag *f, const char *value) {
    char *end;
    switch (f->kind) {
    case CLI_FLAG_STRING: *(const char **)f->out = value; return 0;
    case CLI_FLAG_BOOL: *(int *)f->out = 1; return 0;
    case CLI_FLAG_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end)
            return cli_fail(cmd, CLI_EXIT_USAGE, "--%s: '%s' is not an integer", f->name, value);
        *(long long *)f->out = v;
        return 0;
    }
    case CLI_FLAG_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end)
            return cli_fail(cmd, CLI_EXIT_USAGE, "--%s: '%s' is not a number", f->name, value);
        *(double *)f->out = v;
        return 0;
    }
    }
    return CLI_EXIT_USAGE;
}

int cli_parse(int argc, char **argv, const char *usage, const char *description, const cli_flag *flags,
              size_t nflags, cli_args *args) {
    const char *cmd = argv[0];
    args->positional = calloc((size_t)argc + 1, sizeof(char *));
    args->npositional = 0;
    if (!args->positional) return cli_fail(cmd, CLI_EXIT_FAILURE, "out of memory");
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
            args->positional[args->npositional++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(usage, description, flags, nflags);
            cli_args_free(args);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0) {
            cli_args_free(args);
            return cli_fail(cmd, CLI_EXIT_USAGE, "unknown flag '%s' (flags start with --; see --help)", a);
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_flag *f = NULL;
        for (size_t k = 0; k < nflags; k++)
            if (strlen(flags[k].name) == name_len && strncmp(flags[k].name, name, name_len) == 0) f = &flags[k];
        if (!f) {
            char given[128];
            snprintf(given, sizeof given, "%.*s", (int)name_len, name);
            const char *names[64];
            size_t n = nflags < 63 ? nflags : 63;
            for (size_t k = 0; k < n; k++) names[k] = flags[k].name;
            names[n++] = "help";
            const char *close = cli_closest(given, names, n);
            cli_args_free(args);
            if (close) return cli_fail(cmd, CLI_EXIT_USAGE, "unknown flag '--%s'; did you mean '--%s'?", given, close);
            return cli_fail(cmd, CLI_EXIT_USAGE, "unknown flag '--%s' (see 'retool %s --help')", given, cmd);
        }
        const char *value = NULL;
        if (f->kind == CLI_FLAG_BOOL) {
            if (eq) {
                cli_args_free(args);
                return cli_fail(cmd, CLI_EXIT_USAGE, "--%s takes no value", f->name);
            }
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            cli_args_free(args);
            return cli_fail(cmd, CLI_EXIT_USAGE, "--%s needs a value (%s)", f->name, f->metavar ? f->metavar : "VALUE");
        }
        int rc = set_flag(cmd, f, value);
        if (rc) {
            cli_args_free(args);
            return rc;
        }
    }
    return 0;
}

void cli_args_free(cli_args *args) {
    free(args->positional);
    args->positional = NULL;
    args->npositional = 0;
}

int cli_dispatch_sub(const char *parent, int argc, char **argv, const cli_command *subs) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        printf("usage: retool %s <command> [flags]\n\ncommands:\n", parent);
        for (const cli_command *c = subs; c->name; c++) printf("  %-12s %s\n", c->name, c->summary);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *names[64];
    size_t n = 0;
    for (const cli_command *c = subs; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0) {
            /* The sub-command sees its full name ("sandbox serve") as argv[0], so its errors and hints name it. */
            char full[128];
            snprintf(full, sizeof full, "%s %s", parent, argv[1]);
            char *saved = argv[1];
            argv[1] = full;
            int rc = c->run(argc - 1, argv + 1);
            argv[1] = saved;
            return rc;
        }
        if (n < 64) names[n++] = c->name;
    }
    const char *close = cli_closest(argv[1], names, n);
    if (close)
        return cli_fail(parent, CLI_EXIT_USAGE, "unknown command '%s'; did you mean '%s'?", argv[1], close);
    return cli_fail(parent, CLI_EXIT_USAGE, "unknown command '%s' (see 'retool %s --help')", argv[1], parent);
}
