#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/generate.h"

int cmd_generate(int argc, char **argv) {
    pipe_generate_config c = pipe_generate_defaults();
    const char *tools = "python", *mode = "stateless", *tmpl = "auto";
    long long samples = 1, limit = 0, top_k = 0, max_tokens = (long long)c.rollout.budget.max_response_tokens,
              max_calls = (long long)c.rollout.budget.max_tool_calls,
              max_interp = (long long)c.rollout.budget.max_interpreter_tokens,
              conc = (long long)c.rollout.max_concurrent, seed = 0, threads = c.threads, workers = c.sandbox_workers;
    double temp = c.rollout.sampling.temperature, top_p = c.rollout.sampling.top_p,
           timeout = c.rollout.budget.call_timeout_s, wall = 0;
    const cli_flag flags[] = {
        {"model", CLI_FLAG_STRING, &c.model_dir, "DIR", "model folder with its tokenizer"},
        {"prompts", CLI_FLAG_STRING, &c.prompts_path, "FILE", "problems, JSONL or Parquet (retool, DAPO, AIME, MATH, GSM8K)"},
        {"format", CLI_FLAG_STRING, &c.format, "NAME", "layout of --prompts: auto (default), retool, dapo, aime, math, gsm8k"},
        {"out", CLI_FLAG_STRING, &c.out_path, "FILE", "trajectories, JSONL (written atomically)"},
        {"samples", CLI_FLAG_INT, &samples, "K", "samples per problem (default 1)"},
        {"limit", CLI_FLAG_INT, &limit, "N", "only the first N problems"},
        {"tools", CLI_FLAG_STRING, &tools, "python|none", "tool-integrated (default) or text-only"},
        {"mode", CLI_FLAG_STRING, &mode, "stateless|stateful", "each code block alone (default) or one session per trajectory"},
        {"sandbox", CLI_FLAG_STRING, &c.sandbox, "SPEC", "local (default), or SandboxFusion URLs separated by commas"},
        {"workers", CLI_FLAG_INT, &workers, "N", "local sandbox workers with numpy/sympy (default 2; 2 light ones serve other code)"},
        {"template", CLI_FLAG_STRING, &tmpl, "NAME", CLI_TEMPLATE_HELP},
        {"temperature", CLI_FLAG_DOUBLE, &temp, "T", "sampling temperature (default 1; 0 = greedy)"},
        {"top-p", CLI_FLAG_DOUBLE, &top_p, "P", "nucleus sampling (default 1 = off)"},
        {"top-k", CLI_FLAG_INT, &top_k, "K", "top-k sampling (default 0 = off)"},
        {"max-tokens", CLI_FLAG_INT, &max_tokens, "N", "response tokens per trajectory, interpreter included (default 4096)"},
        {"max-tool-calls", CLI_FLAG_INT, &max_calls, "N", "code blocks run per trajectory (default 8)"},
        {"max-interpreter-tokens", CLI_FLAG_INT, &max_interp, "N", "interpreter tokens per trajectory (default 2048)"},
        {"call-timeout", CLI_FLAG_DOUBLE, &timeout, "S", "seconds per code block (default 10)"},
        {"wall", CLI_FLAG_DOUBLE, &wall, "S", "wall-clock cap per trajectory (default none)"},
        {"concurrency", CLI_FLAG_INT, &conc, "N", "trajectories decoded together (default 64)"},
        {"seed", CLI_FLAG_INT, &seed, "S", "sampling seed (default 0)"},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
        {"audit-log", CLI_FLAG_STRING, &c.audit_path, "FILE", "append every tool call to this JSONL file"},
        {"f32", CLI_FLAG_BOOL, &c.f32, NULL, "f32 matrix products (default bf16)"},
        {"quiet", CLI_FLAG_BOOL, &c.quiet, NULL, "no progress bar"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool generate --model DIR --prompts FILE.{jsonl,parquet} --out FILE.jsonl [flags]",
                       "Tool-integrated rollouts for a file of problems: the model writes, pauses at </code>, the "
                       "sandbox runs the code, the output is appended and decoding resumes from the KV cache. Each "
                       "trajectory is scored against the problem's answer.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("generate", CLI_EXIT_USAGE, "unexpected argument (all inputs are flags; see --help)");
    if (!c.model_dir || !c.prompts_path || !c.out_path)
        return cli_fail("generate", CLI_EXIT_USAGE, "--model, --prompts and --out are required");
    if (strcmp(tools, "none") == 0) c.rollout.tools = ROLLOUT_TOOLS_NONE;
    else if (strcmp(tools, "python") != 0)
        return cli_fail("generate", CLI_EXIT_USAGE, "--tools: '%s' is not python or none", tools);
    else if (strcmp(mode, "stateful") == 0) c.rollout.tools = ROLLOUT_TOOLS_STATEFUL;
    else if (strcmp(mode, "stateless") != 0)
        return cli_fail("generate", CLI_EXIT_USAGE, "--mode: '%s' is not stateless or stateful", mode);
    rt_error err;
    if (rollout_template_parse(tmpl, &c.template_kind, &err)) return cli_fail_err("generate", &err);
    if (samples < 1 || max_tokens < 1 || conc < 1 || threads < 1 || max_calls < 0 || max_interp < 0 || timeout <= 0)
        return cli_fail("generate", CLI_EXIT_USAGE, "counts must be positive (see --help)");
    c.samples = samples;
    c.limit = limit;
    c.sandbox_workers = (int)workers;
    c.threads = (int)threads;
    c.rollout.sampling.temperature = (float)temp;
    c.rollout.sampling.top_p = (float)top_p;
    c.rollout.sampling.top_k = (int)top_k;
    c.rollout.budget.max_response_tokens = (size_t)max_tokens;
    c.rollout.budget.max_tool_calls = (size_t)max_calls;
    c.rollout.budget.max_interpreter_tokens = (size_t)max_interp;
    c.rollout.budget.call_timeout_s = timeout;
    c.rollout.budget.wall_s = wall;
    c.rollout.max_concurrent = (size_t)conc;
    c.rollout.seed = (uint64_t)seed;
    pipe_generate_summary s;
    if (pipe_generate(&c, &s, &err)) return cli_fail_err("generate", &err);
    double tok_s = s.stats.t_total > 0 ? (double)s.stats.decoded_tokens / s.stats.t_total : 0;
    printf("generate: %zu trajectories for %zu problems: %zu correct (%.1f%%), %zu used code, %zu tool calls, "
           "%zu with tool errors\n",
           s.trajectories, s.problems, s.correct, 100.0 * (double)s.correct / (double)s.trajectories, s.with_code,
           s.tool_calls, s.tool_errors);
    printf("time: %.1f s (decode %.1f, prefill %.1f, decode+prefill together %.1f, waiting on the sandbox %.1f); "
           "%.0f tokens/s; widest batch %zu\n",
           s.stats.t_total, s.stats.t_decode, s.stats.t_prefill, s.stats.t_fused, s.stats.t_idle, tok_s,
           s.stats.max_batch);
    printf("out: %s\n", c.out_path);
    return CLI_EXIT_OK;
}
