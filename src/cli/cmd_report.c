#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/report.h"

int cmd_report(int argc, char **argv) {
    const char *out = NULL, *title = NULL;
    long long samples = 3;
    const cli_flag flags[] = {
        {"out", CLI_FLAG_STRING, &out, "FILE", "HTML file to write (default: RUN/report.html for one run)"},
        {"samples", CLI_FLAG_INT, &samples, "N",
         "sample trajectories shown per run from its newest rollouts (default 3)"},
        {"title", CLI_FLAG_STRING, &title, "TEXT", "page title (default \"retool report\")"},
    };
    cli_args args;
    int rc =
        cli_parse(argc, argv, "retool report [--out FILE.html] [--samples N] RUN...",
                  "Writes one self-contained HTML file (inline CSS and SVG, nothing fetched) with the method's "
                  "curves over training steps from each RUN/metrics.jsonl, runs overlaid, a table of final values, "
                  "and sample trajectories from the newest RUN/rollouts/step-N.jsonl.",
                  flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int status = CLI_EXIT_OK;
    char *default_out = NULL;
    if (args.npositional == 0) {
        status = cli_fail("report", CLI_EXIT_USAGE, "no run directory given");
    } else if (samples < 0) {
        status = cli_fail("report", CLI_EXIT_USAGE, "--samples must be >= 0");
    } else if (!out && args.npositional > 1) {
        status = cli_fail("report", CLI_EXIT_USAGE, "--out is required with several runs");
    } else {
        if (!out) {
            size_t n = strlen(args.positional[0]) + 16;
            default_out = malloc(n);
            if (default_out) snprintf(default_out, n, "%s/report.html", args.positional[0]);
            out = default_out;
        }
        pipe_report_options opt = {.runs = (const char *const *)args.positional,
                                   .n_runs = (size_t)args.npositional,
                                   .out_path = out,
                                   .samples = (size_t)samples,
                                   .title = title};
        rt_error err;
        rt_err_clear(&err);
        if (!out)
            status = cli_fail("report", CLI_EXIT_FAILURE, "out of memory");
        else if (pipe_report_write(&opt, &err) != RT_OK)
            status = cli_fail_err("report", &err);
        else
            printf("wrote %s\n", out);
    }
    free(default_out);
    cli_args_free(&args);
    return status;
}
