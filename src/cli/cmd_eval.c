#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/eval.h"

int cmd_eval(int argc, char **argv) {
    pipe_eval_config e = pipe_eval_defaults();
    pipe_generate_config *c = &e.gen;
    const char *tools = "python", *mode = "stateless", *tmpl = "auto";
    long long samples = c->samples, limit = 0, top_k = 0, max_tokens = (long long)c->rollout.budget.max_response_tokens,
              max_calls = (long long)c->rollout.budget.max_tool_calls,
              max_interp = (long long)c->rollout.budget.max_interpreter_tokens,
              conc = (long long)c->rollout.max_concurrent, seed = 0, threads = c->threads, workers = c->sandbox_workers;
    double temp = c->rollout.sampling.temperature, top_p = c->rollout.sampling.top_p,
           timeout = c->rollout.budget.call_timeout_s;
    const cli_flag flags[] = {
        {"model", CLI_FLAG_STRING, &c->model_dir, "DIR", "model folder with its tokenizer"},
        {"data", CLI_FLAG_STRING, &c->prompts_path, "FILE", "problems, JSONL or Parquet (retool, DAPO, AIME, MATH, GSM8K)"},
        {"format", CLI_FLAG_STRING, &c->format, "NAME",
         "layout of --data: auto (default), retool, dapo, aime, math, gsm8k"},
        {"samples", CLI_FLAG_INT, &samples, "K", "samples per problem (default 32, as the paper)"},
        {"limit", CLI_FLAG_INT, &limit, "N", "only the first N problems"},
        {"tools", CLI_FLAG_STRING, &tools, "python|none", "tool-integrated (default) or text-only"},
        {"mode", CLI_FLAG_STRING, &mode, "stateless|stateful",
         "each code block alone (default) or one session per trajectory"},
        {"sandbox", CLI_FLAG_STRING, &c->sandbox, "SPEC", "local (default), or SandboxFusion URLs separated by commas"},
        {"workers", CLI_FLAG_INT, &workers, "N", "local sandbox workers with numpy/sympy (default 2; 2 light ones serve other code)"},
        {"template", CLI_FLAG_STRING, &tmpl, "NAME", CLI_TEMPLATE_HELP},
        {"temperature", CLI_FLAG_DOUBLE, &temp, "T", "sampling temperature (default 1.0, as the paper)"},
        {"top-p", CLI_FLAG_DOUBLE, &top_p, "P", "nucleus sampling (default 0.7, as the paper)"},
        {"top-k", CLI_FLAG_INT, &top_k, "K", "top-k sampling (default 0 = off)"},
        {"max-tokens", CLI_FLAG_INT, &max_tokens, "N",
         "response tokens per trajectory, interpreter included (default 4096)"},
        {"max-tool-calls", CLI_FLAG_INT, &max_calls, "N", "code blocks run per trajectory (default 8)"},
        {"max-interpreter-tokens", CLI_FLAG_INT, &max_interp, "N", "interpreter tokens per trajectory (default 2048)"},
        {"call-timeout", CLI_FLAG_DOUBLE, &timeout, "S", "seconds per code block (default 10)"},
        {"concurrency", CLI_FLAG_INT, &conc, "N", "trajectories decoded together (default 64)"},
        {"seed", CLI_FLAG_INT, &seed, "S", "sampling seed (default 0)"},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
        {"families", CLI_FLAG_STRING, &e.families_path, "FILE",
         "JSONL whose record i has a \"family\" (default: --data's own)"},
        {"json", CLI_FLAG_STRING, &e.json_path, "OUT", "write the metrics as JSON (atomically)"},
        {"out", CLI_FLAG_STRING, &c->out_path, "TRAJ.jsonl", "keep the scored trajectories"},
        {"f32", CLI_FLAG_BOOL, &c->f32, NULL, "f32 matrix products (default bf16)"},
        {"quiet", CLI_FLAG_BOOL, &c->quiet, NULL, "no progress bar"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool eval --model DIR --data FILE.{jsonl,parquet} [--samples K] [--json OUT] [flags]",
                       "Evaluates a model: K samples per problem (the paper: K = 32, T = 1.0, top-p 0.7) through the "
                       "tool-integrated rollout engine, scored against the answers; prints pass@1 (mean over the K "
                       "samples), pass@k, maj@k and the method's analysis metrics, whole set and per family. "
                       "docs/EVAL.md defines each metric.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("eval", CLI_EXIT_USAGE, "unexpected argument (all inputs are flags; see --help)");
    if (!c->model_dir || !c->prompts_path) return cli_fail("eval", CLI_EXIT_USAGE, "--model and --data are required");
    if (strcmp(tools, "none") == 0)
        c->rollout.tools = ROLLOUT_TOOLS_NONE;
    else if (strcmp(tools, "python") != 0)
        return cli_fail("eval", CLI_EXIT_USAGE, "--tools: '%s' is not python or none", tools);
    else if (strcmp(mode, "stateful") == 0)
        c->rollout.tools = ROLLOUT_TOOLS_STATEFUL;
    else if (strcmp(mode, "stateless") != 0)
        return cli_fail("eval", CLI_EXIT_USAGE, "--mode: '%s' is not stateless or stateful", mode);
    rt_error err;
    if (rollout_template_parse(tmpl, &c->template_kind, &err)) return cli_fail_err("eval", &err);
    if (samples < 1 || max_tokens < 1 || conc < 1 || threads < 1 || workers < 1 || max_calls < 0 || max_interp < 0 ||
        timeout <= 0 || limit < 0)
        return cli_fail("eval", CLI_EXIT_USAGE, "counts must be positive (see --help)");
    if (temp < 0 || top_p <= 0 || top_p > 1)
        return cli_fail("eval", CLI_EXIT_USAGE, "--temperature must be >= 0 and --top-p in (0, 1]");
    c->samples = samples;
    c->limit = limit;
    c->sandbox_workers = (int)workers;
    c->threads = (int)threads;
    c->rollout.sampling.temperature = (float)temp;
    c->rollout.sampling.top_p = (float)top_p;
    c->rollout.sampling.top_k = (int)top_k;
    c->rollout.budget.max_response_tokens = (size_t)max_tokens;
    c->rollout.budget.max_tool_calls = (size_t)max_calls;
    c->rollout.budget.max_interpreter_tokens = (size_t)max_interp;
    c->rollout.budget.call_timeout_s = timeout;
    c->rollout.max_concurrent = (size_t)conc;
    c->rollout.seed = (uint64_t)seed;
    pipe_eval_result r;
    if (pipe_eval(&e, &r, &err)) return cli_fail_err("eval", &err);
    pipe_metrics_report_print(stdout, &r.report);
    printf("eval: %zu problems x %lld samples in %.1f s", r.gen.problems, samples, r.wall_s);
    if (e.json_path) printf("; json: %s", e.json_path);
    if (c->out_path) printf("; trajectories: %s", c->out_path);
    printf("\n");
    pipe_eval_result_free(&r);
    return CLI_EXIT_OK;
}
