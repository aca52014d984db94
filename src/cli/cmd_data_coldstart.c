#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/coldstart.h"

static void print_counts(const char *name, const pipe_cs_counts *c) {
    printf("%-14s %6zu %6zu %7zu", name, c->read, c->n[PIPE_CS_KEPT], c->repairs);
    for (int r = 1; r < PIPE_CS_NREASONS; r++)
        printf(" %13zu", c->n[r]);
    printf("\n");
}

int cmd_data_coldstart(int argc, char **argv) {
    pipe_coldstart_config c = pipe_coldstart_defaults();
    const char *tmpl = "auto", *mode = "code";
    long long seed = 0, workers = c.workers;
    double rate = c.repair_rate, timeout = c.call_timeout_s;
    const cli_flag flags[] = {
        {"in", CLI_FLAG_STRING, &c.in_path, "FILE",
         "text traces, JSONL {prompt, text_solution, answer, program?, family?}"},
        {"out", CLI_FLAG_STRING, &c.out_path, "FILE", "verified traces as trajectory JSONL (written atomically)"},
        {"tokenizer", CLI_FLAG_STRING, &c.tokenizer_dir, "DIR", "folder with the model's tokenizer.json"},
        {"template", CLI_FLAG_STRING, &tmpl, "NAME", CLI_TEMPLATE_HELP " (of the --tokenizer folder)"},
        {"mode", CLI_FLAG_STRING, &mode, "code|text", "code-integrated traces (default) or text-only traces"},
        {"repair-rate", CLI_FLAG_DOUBLE, &rate, "R",
         "share of code traces with a failing first block and its repair (0.1)"},
        {"seed", CLI_FLAG_INT, &seed, "S", "seed for which traces get a repair and of which kind (default 0)"},
        {"workers", CLI_FLAG_INT, &workers, "N", "local sandbox workers with numpy/sympy (default 2; 2 light ones serve other code)"},
        {"sandbox", CLI_FLAG_STRING, &c.sandbox, "SPEC", "local (default) or SandboxFusion URLs separated by commas"},
        {"call-timeout", CLI_FLAG_DOUBLE, &timeout, "S", "seconds per code block (default 10)"},
        {"rewriter", CLI_FLAG_STRING, &c.rewriter, "URL",
         "OpenAI-compatible endpoint rewriting traces that have no program"},
        {"rewriter-model", CLI_FLAG_STRING, &c.rewriter_model, "NAME",
         "model name sent to the rewriter (default \"default\")"},
        {"quiet", CLI_FLAG_BOOL, &c.quiet, NULL, "no progress bar"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool data coldstart --in TRACES.jsonl --out OUT.jsonl --tokenizer DIR [flags]",
                       "Builds cold-start SFT data: rewrites text traces into code-integrated traces (by template from "
                       "each family's reference program), runs every code block in the sandbox, puts the real output "
                       "in the trace, and keeps a trace only when it parses as the rollout engine parses it and its "
                       "final answer is right. See docs/COLDSTART.md.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("data coldstart", CLI_EXIT_USAGE, "unexpected argument (all inputs are flags)");
    if (!c.in_path || !c.out_path || !c.tokenizer_dir)
        return cli_fail("data coldstart", CLI_EXIT_USAGE, "--in, --out and --tokenizer are required");
    rt_error err;
    if (rollout_template_parse(tmpl, &c.template_kind, &err)) return cli_fail_err("data coldstart", &err);
    if (strcmp(mode, "code") == 0)
        c.mode = PIPE_CS_CODE;
    else if (strcmp(mode, "text") == 0)
        c.mode = PIPE_CS_TEXT;
    else
        return cli_fail("data coldstart", CLI_EXIT_USAGE, "--mode: '%s' is not code or text", mode);
    if (rate < 0 || rate > 1) return cli_fail("data coldstart", CLI_EXIT_USAGE, "--repair-rate must be in [0, 1]");
    if (workers < 1 || timeout <= 0)
        return cli_fail("data coldstart", CLI_EXIT_USAGE, "--workers and --call-timeout must be positive");
    c.repair_rate = rate;
    c.seed = (uint64_t)seed;
    c.workers = (int)workers;
    c.call_timeout_s = timeout;
    pipe_coldstart_summary s;
    if (pipe_coldstart(&c, &s, &err)) return cli_fail_err("data coldstart", &err);
    printf("%-14s %6s %6s %7s", "family", "read", "kept", "repairs");
    for (int r = 1; r < PIPE_CS_NREASONS; r++)
        printf(" %13s", pipe_cs_reason_name((pipe_cs_reason)r));
    printf("\n");
    for (size_t i = 0; i < s.n_families; i++)
        print_counts(s.families[i].family, &s.families[i]);
    print_counts("all", &s.all);
    printf("coldstart: kept %zu of %zu traces (%zu code blocks run) in %.1f s; out: %s\n", s.all.n[PIPE_CS_KEPT],
           s.all.read, s.code_blocks, s.wall_s, c.out_path);
    pipe_coldstart_summary_free(&s);
    return CLI_EXIT_OK;
}
