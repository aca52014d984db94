/* `retool model merge`: a base model folder plus a PEFT LoRA adapter into a plain Hugging Face model folder. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "kernels/pool.h"
#include "model/peft.h"

int cmd_model_merge(int argc, char **argv) {
    const char *base = NULL, *adapter = NULL, *out = NULL;
    long long threads = 2;
    const cli_flag flags[] = {
        {"model", CLI_FLAG_STRING, &base, "DIR", "base model folder (Hugging Face layout)"},
        {"adapter", CLI_FLAG_STRING, &adapter, "DIR",
         "PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors)"},
        {"out", CLI_FLAG_STRING, &out, "DIR", "new model folder to write (must not exist)"},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
    };
    cli_args args;
    int rc =
        cli_parse(argc, argv, "retool model merge --model BASE --adapter DIR --out DIR",
                  "Merges a LoRA adapter into its base: every adapted weight becomes W + (lora_alpha / r) B A "
                  "(computed in f32, stored in the base's dtype); the other tensors, config.json and the tokenizer "
                  "are copied. The folder appears whole or not at all.",
                  flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("model merge", CLI_EXIT_USAGE, "unexpected argument (all inputs are flags; see --help)");
    if (!base || !adapter || !out)
        return cli_fail("model merge", CLI_EXIT_USAGE, "--model, --adapter and --out are required");
    if (threads < 1 || threads > 256) return cli_fail("model merge", CLI_EXIT_USAGE, "--threads must be in 1..256");
    rt_error err;
    if (kern_init((int)threads, &err)) return cli_fail_err("model merge", &err);
    rt_status st = model_peft_merge(base, adapter, out, &err);
    kern_shutdown();
    if (st) return cli_fail_err("model merge", &err);
    printf("merged: %s\n", out);
    return CLI_EXIT_OK;
}
