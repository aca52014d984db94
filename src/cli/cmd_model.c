/* `retool model init|info`: create a randomly initialised model folder; describe a model and what it needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "model/config.h"
#include "model/layout.h"
#include "model/modeldir.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"

/* buf = dir + "/" + name; non-zero (after printing the error) when it does not fit. */
static int path_join(char *buf, size_t n, const char *dir, const char *name, const char *cmd) {
    int len = snprintf(buf, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n) return cli_fail(cmd, CLI_EXIT_USAGE, "path too long: %s/%s", dir, name);
    return 0;
}

/* "1.23 GiB" style size with the exact byte count. */
static void print_bytes(const char *label, double bytes, const char *assumes) {
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    printf("  %-28s %8.2f %-3s  (%.0f bytes; %s)\n", label, v, unit[u], bytes, assumes);
}

static int model_init(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *dtype_name = "f32", *tok = NULL, *tmpl_name = NULL;
    long long seed = 0;
    int force = 0;
    const cli_flag flags[] = {
        {"config", CLI_FLAG_STRING, &config, "CONFIG.json", "the architecture (a Hugging Face config.json)"},
        {"out", CLI_FLAG_STRING, &out, "DIR", "the model folder to create"},
        {"seed", CLI_FLAG_INT, &seed, "S", "random seed of the initialisation (default 0)"},
        {"dtype", CLI_FLAG_STRING, &dtype_name, "f32|bf16", "dtype of the weights on disk (default f32)"},
        {"tokenizer", CLI_FLAG_STRING, &tok, "DIR", "copy tokenizer.json and tokenizer_config.json from DIR"},
        {"template", CLI_FLAG_STRING, &tmpl_name, "NAME",
         "how the model will be prompted, recorded in its tokenizer_config.json: plain, chatml or llama3 (default: "
         "the one the --tokenizer folder records)"},
        {"force", CLI_FLAG_BOOL, &force, NULL, "overwrite a model folder that already has weights"},
    };
    cli_args args;
    int rc =
        cli_parse(argc, argv,
                  "retool model init --config CONFIG.json --out DIR [--seed S] [--dtype f32|bf16] [--tokenizer DIR "
                  "[--template NAME]]",
                  "Writes a randomly initialised Hugging Face model folder (config.json, model.safetensors, "
                  "generation_config.json): normal(0, 0.02) weights, normal(0, 0.02/sqrt(2*layers)) for o_proj "
                  "and down_proj, ones for norms, zeros for biases; the same seed gives the same weights anywhere.",
                  flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    int npos = args.npositional;
    cli_args_free(&args);
    if (npos) return cli_fail("model init", CLI_EXIT_USAGE, "unexpected argument (flags only; see --help)");
    if (!config) return cli_fail("model init", CLI_EXIT_USAGE, "--config CONFIG.json is required");
    if (!out) return cli_fail("model init", CLI_EXIT_USAGE, "--out DIR is required");
    st_dtype dtype;
    if (strcmp(dtype_name, "f32") == 0)
        dtype = ST_F32;
    else if (strcmp(dtype_name, "bf16") == 0)
        dtype = ST_BF16;
    else
        return cli_fail("model init", CLI_EXIT_USAGE, "--dtype must be f32 or bf16, not '%s'", dtype_name);
    if (seed < 0) return cli_fail("model init", CLI_EXIT_USAGE, "--seed must be >= 0");
    if (tmpl_name && !tok) return cli_fail("model init", CLI_EXIT_USAGE, "--template needs --tokenizer");
    char weights[4200];
    if (path_join(weights, sizeof weights, out, "model.safetensors", "model init")) return CLI_EXIT_USAGE;
    if (!force && rt_path_exists(weights))
        return cli_fail("model init", CLI_EXIT_FAILURE, "%s already exists (use --force to overwrite)", weights);
    model_config cfg;
    rt_error err;
    if (model_config_load(config, &cfg, &err)) return cli_fail_err("model init", &err);
    tok_template tmpl = 0;
    if (tmpl_name && tok_template_parse(tmpl_name, &tmpl, &err)) return cli_fail_err("model init", &err);
    if (tok && !tmpl_name && tok_template_read(tok, &tmpl, &err)) return cli_fail_err("model init", &err);
    if (tok) { /* check the tokenizer fits the vocabulary before writing anything */
        char tj[4200];
        int64_t max_id;
        if (path_join(tj, sizeof tj, tok, "tokenizer.json", "model init")) return CLI_EXIT_USAGE;
        if (model_tokenizer_max_id(tj, &max_id, &err)) return cli_fail_err("model init", &err);
        if (max_id >= cfg.vocab_size)
            return cli_fail("model init", CLI_EXIT_FAILURE, "%s: token ids go up to %lld but %s has vocab_size %lld",
                            tj, (long long)max_id, config, (long long)cfg.vocab_size);
    }
    if (model_dir_init(&cfg, out, (uint64_t)seed, dtype, &err)) return cli_fail_err("model init", &err);
    if (tok && (model_dir_copy_tokenizer(tok, out, NULL, &err) || tok_template_write(out, tmpl, &err)))
        return cli_fail_err("model init", &err);
    printf("wrote %s: %s, %lld parameters, %s weights, seed %lld", out,
           cfg.arch == MODEL_ARCH_QWEN2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM",
           (long long)model_config_param_count(&cfg), st_dtype_name(dtype), seed);
    if (tok) printf(", tokenizer copied, prompt template %s", tok_template_name(tmpl));
    printf("\n");
    return CLI_EXIT_OK;
}

/* Checks the folder's weights against the layout; prints what it found. Returns non-zero on a mismatch. */
static int info_weights(const char *dir, const model_config *cfg) {
    char single[4200], index[4200];
    if (path_join(single, sizeof single, dir, "model.safetensors", "model info") ||
        path_join(index, sizeof index, dir, "model.safetensors.index.json", "model info"))
        return CLI_EXIT_USAGE;
    if (!rt_path_exists(single) && !rt_path_exists(index)) {
        printf("weights:       none in the folder (config only)\n");
        return 0;
    }
    st_set set;
    rt_error err;
    if (st_open_dir(dir, &set, &err)) return cli_fail_err("model info", &err);
    size_t ns = model_tensor_specs(cfg, NULL);
    model_tensor_spec *specs = calloc(ns, sizeof *specs);
    if (!specs) {
        st_close(&set);
        return cli_fail("model info", CLI_EXIT_FAILURE, "out of memory");
    }
    model_tensor_specs(cfg, specs);
    int rc = 0;
    size_t counts[8] = {0};
    double bytes = 0;
    for (size_t i = 0; i < ns && !rc; i++) {
        const st_tensor *t;
        if (st_expect(&set, specs[i].name, specs[i].ndim, specs[i].shape, &t, &err))
            rc = cli_fail_err("model info", &err);
        else
            counts[t->dtype]++;
    }
    for (size_t i = 0; i < set.ntensors; i++)
        bytes += (double)set.tensors[i].nbytes;
    if (!rc) {
        printf("weights:       %zu file%s, %zu tensors (all %zu the architecture needs, shapes match;", set.nmaps,
               set.nmaps == 1 ? "" : "s", set.ntensors, ns);
        for (int d = 0; d < 8; d++)
            if (counts[d]) printf(" %zu %s", counts[d], st_dtype_name((st_dtype)d));
        printf("), %.0f bytes of data\n", bytes);
        if (set.ntensors > ns)
            printf("               %zu extra tensors beyond the architecture's\n", set.ntensors - ns);
    }
    free(specs);
    st_close(&set);
    return rc;
}

static int model_info(int argc, char **argv) {
    cli_args args;
    const char *train = "sft";
    long long tokens = 4096, rollouts = 0, rollout_tokens = 0, lora_rank = 0;
    int kl = 0, recompute = 0, kv_bf16 = 0;
    const cli_flag flags[] = {
        {"train", CLI_FLAG_STRING, &train, "sft|grpo|ppo", "the training step to plan memory for (default sft)"},
        {"tokens", CLI_FLAG_INT, &tokens, "N",
         "rows of one forward/backward: sft --batch-tokens, rl --micro-tokens (default 4096)"},
        {"kl", CLI_FLAG_BOOL, &kl, NULL, "rl with a KL reference model in memory"},
        {"recompute", CLI_FLAG_BOOL, &recompute, NULL, "activation recomputation (sft/rl --recompute)"},
        {"rollouts", CLI_FLAG_INT, &rollouts, "N", "rl: sequences decoded at once (default 0)"},
        {"lora-rank", CLI_FLAG_INT, &lora_rank, "R",
         "plan LoRA adapters of rank R on a frozen bf16 base (sft/rl --lora-rank)"},
        {"rollout-tokens", CLI_FLAG_INT, &rollout_tokens, "N", "rl: tokens each rollout may cache"},
        {"kv-bf16", CLI_FLAG_BOOL, &kv_bf16, NULL, "rl: rollouts keep keys and values as bf16 (rl --kv-bf16)"},
    };
    int rc = cli_parse(argc, argv,
                       "retool model info DIR|CONFIG.json [--train sft|grpo|ppo] [--tokens N] [--kl] [--recompute] "
                       "[--rollouts N --rollout-tokens T [--kv-bf16]] [--lora-rank R]",
                       "Describes a model: architecture, sizes, parameter count, memory for inference and training, "
                       "and what one training step needs for a given batch (as sft and rl check before they start); "
                       "checks the weights in DIR (when present) against the architecture.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    if (args.npositional != 1) {
        cli_args_free(&args);
        return cli_fail("model info", CLI_EXIT_USAGE, "expected one model folder or config.json");
    }
    char path[4200], dir[4200] = "";
    struct stat sb;
    const char *arg = args.positional[0];
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof dir, "%.4000s", arg);
        if (path_join(path, sizeof path, dir, "config.json", "model info")) {
            cli_args_free(&args);
            return CLI_EXIT_USAGE;
        }
    } else {
        snprintf(path, sizeof path, "%.4000s", arg);
    }
    cli_args_free(&args);
    model_config c;
    rt_error err;
    if (model_config_load(path, &c, &err)) return cli_fail_err("model info", &err);
    int64_t n = model_config_param_count(&c), emb = c.vocab_size * c.hidden_size;
    int64_t layer = (n - emb * (c.tie_word_embeddings ? 1 : 2) - c.hidden_size) / c.num_layers;
    printf("config:        %s\n", path);
    printf("architecture:  %s (model_type %s)\n", c.arch == MODEL_ARCH_QWEN2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM",
           c.arch == MODEL_ARCH_QWEN2 ? "qwen2" : "llama");
    printf("layers:        %lld x (hidden %lld, %lld heads of %lld, %lld kv heads%s, MLP %lld)\n",
           (long long)c.num_layers, (long long)c.hidden_size, (long long)c.num_heads, (long long)c.head_dim,
           (long long)c.num_kv_heads, c.attention_bias ? ", q/k/v bias" : "", (long long)c.intermediate_size);
    printf("vocabulary:    %lld tokens, embeddings %s\n", (long long)c.vocab_size,
           c.tie_word_embeddings ? "tied to lm_head" : "separate from lm_head");
    printf("positions:     up to %lld, RoPE theta %g, RMSNorm eps %g\n", (long long)c.max_position_embeddings,
           c.rope_theta, c.rms_norm_eps);
    printf("parameters:    %lld (embeddings %lld%s, %lld per layer, final norm %lld)\n", (long long)n, (long long)emb,
           c.tie_word_embeddings ? " shared with lm_head" : " + lm_head the same", (long long)layer,
           (long long)c.hidden_size);
    double P = (double)n;
    double kv1k = 2.0 * (double)c.num_layers * (double)c.num_kv_heads * (double)c.head_dim * 1024.0;
    printf("memory for inference:\n");
    print_bytes("weights", 2 * P, "bf16, 2 bytes a parameter");
    print_bytes("KV cache per 1k tokens", kv1k * 2, "K and V, every layer, bf16, one sequence");
    print_bytes("KV cache per 1k tokens", kv1k * 4, "same in f32");
    printf("memory for training (mixed precision, before activations, which grow with batch x sequence):\n");
    print_bytes("f32 master weights", 4 * P, "4 bytes a parameter");
    print_bytes("f32 gradients", 4 * P, "4 bytes a parameter");
    print_bytes("AdamW m and v", 8 * P, "two f32 moments a parameter");
    print_bytes("bf16 weight copy", 2 * P, "for the bf16 matrix products");
    print_bytes("total", 18 * P, "18 bytes a parameter");
    if ((rc = cmd_model_info_plan(&c, train, tokens, kl, recompute, rollouts, rollout_tokens, lora_rank, kv_bf16)) !=
        CLI_EXIT_OK)
        return rc;
    if (dir[0]) return info_weights(dir, &c) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    return CLI_EXIT_OK;
}

int cmd_model(int argc, char **argv) {
    static const cli_command subs[] = {
        {"init", "write a randomly initialised model folder from a config.json", model_init},
        {"info", "describe a model: architecture, parameters, memory for inference and training", model_info},
        {"merge", "merge a PEFT LoRA adapter into its base, writing a plain model folder", cmd_model_merge},
        {NULL, NULL, NULL},
    };
    return cli_dispatch_sub("model", argc, argv, subs);
}
