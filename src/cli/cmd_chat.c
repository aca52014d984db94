#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "kernels/pool.h"
#include "model/model.h"
#include "rollout/bind.h"
#include "rollout/engine.h"
#include "rollout/exec_spec.h"
#include "rollout/prompt.h"
#include "rollout/score.h"
#include "tokenizer/tokenizer.h"

typedef struct chat_out {
    int tty;
    int in_interp;
} chat_out;

/* Prints model text as it is written and interpreter blocks in another colour (on a terminal). */
static void on_piece(void *ctx, size_t index, const char *bytes, size_t len, int mask) {
    (void)index;
    chat_out *o = ctx;
    if (o->tty && !mask) fputs("\033[36m", stdout);
    fwrite(bytes, 1, len, stdout);
    if (o->tty && !mask) fputs("\033[0m", stdout);
    fflush(stdout);
}

int cmd_chat(int argc, char **argv) {
    const char *model_dir = NULL, *sandbox = "local", *tmpl = "auto", *tools = "python";
    long long max_tokens = 2048, max_calls = 8, threads = 2, seed = 0, workers = 2;
    double temp = 0.7, top_p = 0.9, timeout = 10;
    const cli_flag flags[] = {
        {"model", CLI_FLAG_STRING, &model_dir, "DIR", "model folder with its tokenizer"},
        {"tools", CLI_FLAG_STRING, &tools, "python|none", "let the model run code (default) or not"},
        {"sandbox", CLI_FLAG_STRING, &sandbox, "SPEC", "local (default) or SandboxFusion URLs"},
        {"workers", CLI_FLAG_INT, &workers, "N", "local sandbox workers with numpy/sympy (default 2; 2 light ones serve other code)"},
        {"template", CLI_FLAG_STRING, &tmpl, "NAME", CLI_TEMPLATE_HELP},
        {"temperature", CLI_FLAG_DOUBLE, &temp, "T", "sampling temperature (default 0.7; 0 = greedy)"},
        {"top-p", CLI_FLAG_DOUBLE, &top_p, "P", "nucleus sampling (default 0.9)"},
        {"max-tokens", CLI_FLAG_INT, &max_tokens, "N", "response tokens per answer (default 2048)"},
        {"max-tool-calls", CLI_FLAG_INT, &max_calls, "N", "code blocks run per answer (default 8)"},
        {"call-timeout", CLI_FLAG_DOUBLE, &timeout, "S", "seconds per code block (default 10)"},
        {"seed", CLI_FLAG_INT, &seed, "S", "sampling seed (default 0)"},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool chat --model DIR [flags]",
                       "Interactive: each line you type is a problem; the model's answer streams as it is written, "
                       "with each code block's interpreter output (coloured on a terminal) as soon as it has run. "
                       "Every line is a new conversation. End with an empty line or end of input.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("chat", CLI_EXIT_USAGE, "unexpected argument (see --help)");
    if (!model_dir) return cli_fail("chat", CLI_EXIT_USAGE, "--model is required");
    int use_tools = strcmp(tools, "none") != 0;
    if (use_tools && strcmp(tools, "python") != 0)
        return cli_fail("chat", CLI_EXIT_USAGE, "--tools: '%s' is not python or none", tools);
    rt_error err;
    rollout_template tk;
    if (rollout_template_parse(tmpl, &tk, &err)) return cli_fail_err("chat", &err);
    if (kern_init((int)threads, &err)) return cli_fail_err("chat", &err);
    tok_tokenizer *tok = NULL;
    model m;
    memset(&m, 0, sizeof m);
    model_opts mo = {.prec = MODEL_PREC_BF16, .frozen = 1}; /* bf16 weights only (docs/ENGINE.md) */
    rollout_exec_spec *ex = NULL;
    rollout_model_policy *pol = NULL;
    rt_status st = tok_load(model_dir, &tok, &err);
    if (!st) st = rollout_template_resolve(model_dir, tk, &tk, &err);
    if (!st) st = model_load(&m, model_dir, &mo, &err);
    if (!st && use_tools) st = rollout_exec_spec_open(sandbox, (int)workers, &ex, &err);
    if (!st) st = rollout_model_policy_init(&pol, &m, 1, &err);
    int32_t stops[ROLLOUT_MAX_STOP_IDS];
    size_t nstops = 0;
    if (!st) nstops = rollout_stop_ids(&m, tok, stops);
    chat_out out = {.tty = isatty(STDOUT_FILENO)};
    char line[8192];
    uint64_t turn = 0;
    while (!st) {
        if (isatty(STDIN_FILENO)) {
            fputs("\n> ", stdout);
            fflush(stdout);
        }
        if (!fgets(line, sizeof line, stdin)) break;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) break;
        tok_ids ids = {0};
        st = rollout_prompt_ids(tok, tk, use_tools, line, &ids, &err);
        if (st) break;
        rollout_config rc2 = rollout_config_defaults();
        rc2.tools = use_tools ? ROLLOUT_TOOLS_STATELESS : ROLLOUT_TOOLS_NONE;
        rc2.max_concurrent = 1;
        rc2.budget.max_response_tokens = (size_t)max_tokens;
        rc2.budget.max_tool_calls = (size_t)max_calls;
        rc2.budget.call_timeout_s = timeout;
        rc2.sampling.temperature = (float)temp;
        rc2.sampling.top_p = (float)top_p;
        rc2.seed = (uint64_t)seed + turn++;
        rc2.stop_ids = stops;
        rc2.n_stop_ids = nstops;
        rc2.on_token = on_piece;
        rc2.on_token_ctx = &out;
        rollout_request req = {.prompt = ids.ids, .n_prompt = ids.len};
        rollout_trajectory t;
        rollout_policy p = rollout_model_policy_ops(pol);
        rollout_tokenizer tkn = rollout_tokenizer_ops(tok);
        rollout_executor x = rollout_exec_spec_ops(ex);
        st = rollout_run(&rc2, &p, &tkn, use_tools ? &x : NULL, &req, 1, &t, NULL, &err);
        if (!st) {
            printf("\n[%zu tokens, %zu tool calls, stopped: %s]\n", t.n_response, t.n_calls, rollout_stop_name(t.stop));
            rollout_trajectory_free(&t);
        }
        tok_ids_free(&ids);
    }
    rollout_model_policy_free(pol);
    rollout_exec_spec_close(ex);
    model_free(&m);
    tok_free(tok);
    if (st) return cli_fail_err("chat", &err);
    return CLI_EXIT_OK;
}
