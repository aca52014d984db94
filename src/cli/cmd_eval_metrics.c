#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/metrics.h"
#include "rollout/score.h"

int cmd_eval_metrics(int argc, char **argv) {
    int as_json = 0;
    const char *families_path = NULL;
    const cli_flag flags[] = {
        {"json", CLI_FLAG_BOOL, &as_json, NULL, "print the metrics as JSON instead of a table"},
        {"families", CLI_FLAG_STRING, &families_path, "FILE",
         "dataset JSONL whose record i (prompt index i) has a \"family\" field, for per-family columns"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool eval-metrics [--json] [--families DATA.jsonl] TRAJECTORIES.jsonl",
                       "Computes the method's metrics (pass@1 over the samples of each prompt, pass@k, maj@k, response "
                       "length, code ratio, code lines, correct code, last-code pass rate, invocation timing, "
                       "self-corrections, tool errors, budget flags) of a trajectory file; see docs/EVAL.md.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    if (args.npositional != 1) {
        cli_args_free(&args);
        return cli_fail("eval-metrics", CLI_EXIT_USAGE, "give exactly one trajectory file");
    }
    rt_error err;
    rt_err_clear(&err);
    rollout_trajectory *ts = NULL;
    size_t n = 0;
    char **fams = NULL;
    size_t nfams = 0;
    pipe_metrics_report rep = {0};
    rt_status st = rollout_trajectory_read_file(args.positional[0], &ts, &n, &err);
    /* Only the model's own text answers (docs/REWARD.md): files scored otherwise are re-scored from it. */
    reward_options ro;
    reward_options_default(&ro);
    size_t rescored = 0;
    for (size_t i = 0; !st && i < n; i++) {
        int changed = 0;
        st = rollout_score_recheck(&ts[i], &ro, &changed, &err);
        rescored += (size_t)changed;
    }
    if (rescored)
        rt_log_warn("eval-metrics: %zu trajectories of %s had an answer from outside the model's own text; re-scored",
                    rescored, args.positional[0]);
    if (!st && families_path) st = pipe_families_read(families_path, &fams, &nfams, &err);
    pipe_metrics_options opt = {.families = (const char *const *)fams, .n_families = nfams};
    if (!st && pipe_metrics_compute(ts, n, &opt, &rep, &err) != RT_OK)
        st = rt_err_prefix(&err, "%s", args.positional[0]);
    cli_args_free(&args);
    int status = CLI_EXIT_OK;
    if (st) {
        status = cli_fail_err("eval-metrics", &err);
    } else if (as_json) {
        cJSON *j = pipe_metrics_report_to_json(&rep);
        char *text = j ? cJSON_Print(j) : NULL;
        if (text)
            printf("%s\n", text);
        else
            status = cli_fail("eval-metrics", CLI_EXIT_FAILURE, "out of memory");
        cJSON_free(text);
        cJSON_Delete(j);
    } else {
        pipe_metrics_report_print(stdout, &rep);
    }
    pipe_metrics_report_free(&rep);
    pipe_families_free(fams, nfams);
    rollout_trajectories_free(ts, n);
    return status;
}
