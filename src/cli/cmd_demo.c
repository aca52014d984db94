#include <stdio.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/demo.h"

int cmd_demo(int argc, char **argv) {
    const char *config = "configs/demo.json", *out = "runs/demo", *algo = NULL, *sandbox = NULL;
    long long seed = 1;
    int quiet = 0;
    const cli_flag flags[] = {
        {"out", CLI_FLAG_STRING, &out, "DIR", "where everything goes (default runs/demo); an existing DIR is resumed"},
        {"seed", CLI_FLAG_INT, &seed, "S", "seed of the data, the model and the training (default 1)"},
        {"config", CLI_FLAG_STRING, &config, "FILE", "demo settings (default configs/demo.json)"},
        {"algo", CLI_FLAG_STRING, &algo, "ppo|grpo", "the RL algorithm of both pipelines (default: the config's rl.algo)"},
        {"sandbox", CLI_FLAG_STRING, &sandbox, "SPEC",
         "the tool pipeline's sandbox: local (default), local:allow-weaker=NAME,... or SandboxFusion URLs"},
        {"quiet", CLI_FLAG_BOOL, &quiet, NULL, "no progress bars"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool demo [--out DIR] [--seed S] [--algo ppo|grpo] [--config FILE]",
                       "The default demo: a small model learns exact-computation problems from nothing, text-only vs "
                       "tool-integrated (same data, same steps), evaluated before and after RL on held-out problems. "
                       "Writes DIR/summary.json, DIR/report.html and the final models DIR/text/model, DIR/tool/model.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("demo", CLI_EXIT_USAGE, "unexpected argument (see --help)");
    pipe_demo_config c;
    cJSON *keep = NULL;
    rt_error err;
    if (pipe_demo_config_load(config, &c, &keep, &err)) return cli_fail_err("demo", &err);
    c.out_dir = out;
    c.seed = (uint64_t)seed;
    if (algo && train_algo_parse(algo, &c.rl_algo, &err)) {
        cJSON_Delete(keep);
        return cli_fail("demo", CLI_EXIT_USAGE, "--algo: %s", err.msg);
    }
    c.quiet = quiet;
    c.sandbox = sandbox;
    rt_status st = pipe_demo_run(&c, &err);
    cJSON_Delete(keep);
    if (st) return cli_fail_err("demo", &err);
    return CLI_EXIT_OK;
}
