/* `retool model info`'s training-step memory plan (train/memplan.h) and whether it fits this machine now. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "kernels/matmul.h"
#include "train/memplan.h"

static void plan_line(const char *label, double bytes, const char *what) {
    printf("  %-28s %8.2f GiB  (%s)\n", label, bytes / (1024.0 * 1024 * 1024), what);
}

int cmd_model_info_plan(const model_config *c, const char *train, long long tokens, int kl, int recompute,
                        long long rollouts, long long rollout_tokens, long long lora_rank, int kv_bf16) {
    int ppo = !strcmp(train, "ppo");
    if (!ppo && strcmp(train, "sft") && strcmp(train, "grpo"))
        return cli_fail("model info", CLI_EXIT_USAGE, "--train must be sft, grpo or ppo, not '%s'", train);
    if (tokens < 1 || rollouts < 0 || rollout_tokens < 0 || lora_rank < 0 || lora_rank > 4096)
        return cli_fail("model info", CLI_EXIT_USAGE,
                        "--tokens must be >= 1, --rollouts and --rollout-tokens >= 0, --lora-rank 0..4096");
    int is_sft = !strcmp(train, "sft");
    train_mem_req q = {ppo ? 2 : 1,    kl && !is_sft, tokens,         is_sft ? 0 : rollouts,
                       rollout_tokens, recompute,     (int)lora_rank, 0,
                       kv_bf16};
    train_mem_plan p;
    train_mem_plan_make(c, &q, &p);
    long long rows = (long long)train_mem_rows(&q);
    char whole[96] = "";
    if (rows != tokens) snprintf(whole, sizeof whole, " (a whole trajectory: more than %lld)", tokens);
    printf("memory for one %s step (%s%lld rows a forward/backward%s%s%s, %lld rollouts of %lld tokens):\n", train,
           ppo ? "policy and critic, " : "", rows, whole, recompute ? " recomputed" : "",
           q.frozen ? ", KL reference" : "", (long long)q.rollouts, (long long)q.rollout_len);
    if (lora_rank > 0) {
        printf("  LoRA rank %lld on q,k,v,o,gate,up,down: %.1fM adapter parameters a trained model\n", lora_rank,
               train_mem_lora_params(c, (int)lora_rank, 0) / 1e6);
        plan_line("weights", p.weights, "frozen bf16 base once (2 bytes a parameter) + f32 adapters");
        plan_line("gradients", p.grads, "f32, the adapters of trained models");
        plan_line("AdamW m and v", p.optim, "f32, the adapters of trained models");
    } else {
        plan_line("weights", p.weights, "f32 master + bf16 copy, 6 bytes a parameter, every model");
        plan_line("gradients", p.grads, "f32, trained models");
        plan_line("AdamW m and v", p.optim, "f32, trained models");
    }
    plan_line("activations", p.acts, "kept for backward + gradient scratch, one model at a time");
    plan_line("lm_head chunk", p.head, "f32 logits of one row chunk");
    plan_line("product scratch", p.scratch,
              kern_bf16_native() ? "none: native bf16 products" : "bf16 operands widened to f32 (no bf16 matmul)");
    plan_line("rollout KV cache", p.kv,
              kv_bf16 ? "bf16 keys and values at the budget (+ one layer in f32), two rows of logits, per live sequence"
                      : "f32 keys and values at the budget, two rows of logits, per live sequence");
    if (p.infer > 0) plan_line("inference workspace", p.infer, "one pass of at most 1024 new tokens (prefill, appends)");
    plan_line("runtime", p.runtime, "tokenizer, libraries, buffers (allowance)");
    plan_line("total", p.total,
              p.kv > 0 ? "the larger of rollouts and update (never both at once); what `retool rl` checks first"
                       : "what `retool sft` / `retool rl` check before loading anything");
    double avail = (double)train_mem_available();
    if (avail > 0)
        printf("  available now: %.2f GiB (MemAvailable, cgroup memory.max): %s\n", avail / (1024.0 * 1024 * 1024),
               p.total <= avail ? "fits" : "does NOT fit; sft and rl refuse it");
    return CLI_EXIT_OK;
}
