/* Rollout engine throughput: the same tool-calling trajectories decoded W at a time (default 64) vs one at a time, with
 * the real model policy (src/rollout/bind.c: KV cache, batched calls), the real engine and the in-process sandbox; and
 * the split of wall time (decode, prefill, calls that fused both, waiting on the sandbox with nothing to decode). The
 * policy replays a fixed tool-calling script per trajectory (rollout_model_policy_force: the same kernels, batching
 * and cache as sampling, log-probs computed, but every trajectory calls the tool), so the figures do not depend on
 * what an untrained model happens to write.
 * usage: rollout_throughput [--hidden C] [--layers L] [--heads H] [--kv-heads K] [--intermediate I]
 *                           [--trajectories N] [--width W] [--threads T] [--wide-only] [--unbatched-too] [--kv-bf16]
 * --kv-bf16 stores the KV cache as bf16 (default f32). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kernels/pool.h"
#include "model/infer.h"
#include "model/model.h"
#include "rollout/bind.h"
#include "rollout/exec_spec.h"
#include "rollout/engine.h"

#define V 512

/* The script of the trajectory named by the prompt's first id: [len, ids...]. */
static const int32_t *force_script(void *ctx, const int32_t *prompt, size_t n, size_t *len) {
    int32_t **scripts = ctx;
    (void)n;
    *len = (size_t)scripts[prompt[0]][0];
    return scripts[prompt[0]] + 1;
}

/* A byte tokenizer: id = byte (the model's vocabulary is 512, ids 256.. unused). */
static rt_status b_encode(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, rt_error *err) {
    (void)ctx;
    *ids = malloc((len ? len : 1) * sizeof **ids);
    if (!*ids) return rt_err_set(err, RT_ENOMEM, "oom");
    for (size_t i = 0; i < len; i++) (*ids)[i] = (unsigned char)text[i];
    *n = len;
    return RT_OK;
}
static size_t b_bytes(void *ctx, int32_t id, char *buf, size_t cap) {
    (void)ctx;
    if (cap) buf[0] = (char)(id & 0xff);
    return 1;
}

int main(int argc, char **argv) {
    int hidden = 128, layers = 4, heads = 0, kv_heads = 0, inter = 0, ntraj = 64, width = 64, threads = 2;
    int wide_only = 0, unbatched_too = 0, kv_bf16 = 0;
    for (int i = 1; i < argc; i++) {
        int *dst = NULL;
        if (!strcmp(argv[i], "--wide-only")) wide_only = 1;
        else if (!strcmp(argv[i], "--unbatched-too")) unbatched_too = 1;
        else if (!strcmp(argv[i], "--kv-bf16")) kv_bf16 = 1;
        else if (!strcmp(argv[i], "--hidden")) dst = &hidden;
        else if (!strcmp(argv[i], "--layers")) dst = &layers;
        else if (!strcmp(argv[i], "--heads")) dst = &heads;
        else if (!strcmp(argv[i], "--kv-heads")) dst = &kv_heads;
        else if (!strcmp(argv[i], "--intermediate")) dst = &inter;
        else if (!strcmp(argv[i], "--trajectories")) dst = &ntraj;
        else if (!strcmp(argv[i], "--width")) dst = &width;
        else if (!strcmp(argv[i], "--threads")) dst = &threads;
        else return fprintf(stderr, "rollout_throughput: unknown flag %s\n", argv[i]), 2;
        if (dst) {
            if (i + 1 >= argc || atoi(argv[i + 1]) <= 0)
                return fprintf(stderr, "rollout_throughput: %s needs a positive number\n", argv[i]), 2;
            *dst = atoi(argv[++i]);
        }
    }
    if (!heads) heads = hidden / 32;
    if (!kv_heads) kv_heads = heads;
    if (!inter) inter = hidden * 8 / 3;
    if (ntraj > 256) ntraj = 256;
    if (width > ntraj) width = ntraj;
    if (hidden % heads || heads % kv_heads)
        return fprintf(stderr, "rollout_throughput: --hidden must divide by --heads, --heads by --kv-heads\n"), 2;
    rt_log_set_level(RT_LOG_WARN);
    rt_error e;
    if (kern_init(threads, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    model_config c = {0};
    c.arch = MODEL_ARCH_LLAMA;
    c.vocab_size = V;
    c.hidden_size = hidden;
    c.intermediate_size = inter;
    c.num_layers = layers;
    c.num_heads = heads;
    c.num_kv_heads = kv_heads;
    c.head_dim = hidden / heads;
    c.max_position_embeddings = 1024;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    model m;
    model_opts o = {.prec = MODEL_PREC_BF16};
    if (model_init(&m, &c, &o, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    model_init_random(&m, 1, 0.02);
    model_sync_bf16(&m);
    rollout_exec_spec *ex;
    if (rollout_exec_spec_open("local", 2, &ex, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    /* Scripts: some reasoning text, one tool call, an answer. */
    int32_t **scripts = calloc((size_t)ntraj, sizeof *scripts);
    int32_t (*prompts)[16] = calloc((size_t)ntraj, sizeof *prompts);
    rollout_request *reqs = calloc((size_t)ntraj, sizeof *reqs);
    for (int t = 0; t < ntraj; t++) {
        char text[512];
        int len = snprintf(text, sizeof text,
                           "We need the product of %d and %d; a short script computes it exactly.\n<code>\n```python\n"
                           "print(%d*%d)\n```\n</code>Done: the result above is the answer. <answer>\\boxed{x}</answer>",
                           1000 + t, 37 + t, 1000 + t, 37 + t);
        scripts[t] = malloc(((size_t)len + 1) * sizeof(int32_t));
        scripts[t][0] = len;
        for (int k = 0; k < len; k++) scripts[t][1 + k] = (unsigned char)text[k];
        prompts[t][0] = t;
        for (int i = 1; i < 16; i++) prompts[t][i] = 'a' + i;
        reqs[t] = (rollout_request){.prompt = prompts[t], .n_prompt = 16, .prompt_index = t};
    }
    rollout_model_policy *pol;
    if (rollout_model_policy_init(&pol, &m, (size_t)width, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    rollout_model_policy_force(pol, force_script, scripts);
    if (kv_bf16 && rollout_model_policy_kv_bf16(pol, 1, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    rollout_tokenizer tok = {.encode = b_encode, .token_bytes = b_bytes};
    rollout_executor x = rollout_exec_spec_ops(ex);
    printf("rollout throughput: model hidden %d, %d layers, %d heads, %d KV heads, intermediate %d, vocabulary %d, "
           "bf16 products, %s KV cache, %d threads; %d trajectories, 1 tool call each (in-process sandbox, 2 workers)\n",
           hidden, layers, heads, kv_heads, inter, V, kv_bf16 ? "bf16" : "f32", threads, ntraj);
    double tps_wide = 0, tps_one = 0;
    for (int run = 0; run < 3; run++) {
        size_t w = run == 1 ? 1 : (size_t)width;
        int batched = run != 2;
        if ((run == 1 && wide_only) || (run == 2 && !unbatched_too)) continue;
        rollout_policy ops = rollout_model_policy_ops(pol);
        if (!batched) ops.begin = NULL, ops.advance = NULL;
        rollout_config cfg = rollout_config_defaults();
        cfg.max_concurrent = w;
        cfg.budget.max_response_tokens = 1000;
        cfg.sampling.temperature = 0;
        rollout_trajectory *out = calloc((size_t)ntraj, sizeof *out);
        rollout_stats s;
        if (rollout_run(&cfg, &ops, &tok, &x, reqs, (size_t)ntraj, out, &s, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        size_t calls = 0, ok = 0;
        double lat = 0;
        for (int t = 0; t < ntraj; t++) {
            for (size_t k = 0; k < out[t].n_calls; k++) lat += out[t].calls[k].latency_s;
            calls += out[t].n_calls;
            ok += out[t].n_calls && out[t].calls[0].status == ROLLOUT_EXEC_OK;
            rollout_trajectory_free(&out[t]);
        }
        free(out);
        double tps = (double)s.decoded_tokens / s.t_total;
        if (run == 0) tps_wide = tps;
        if (run == 1) tps_one = tps;
        printf("  %3zu at a time%s: %7.0f tokens/s; wall %.2f s = decode %.2f (%.0f%%) + prefill %.2f (%.0f%%) + "
               "fused decode+prefill %.2f (%.0f%%) + idle on sandbox %.2f (%.1f%%) + other; %zu model calls (%zu "
               "with prefill; %.1f ms a decode-only call); %zu tool calls, %zu ok, %.1f ms on average from submit until the "
               "engine took the result\n",
               w, batched ? "" : " (one-at-a-time prefill path)", tps, s.t_total, s.t_decode,
               100 * s.t_decode / s.t_total, s.t_prefill, 100 * s.t_prefill / s.t_total, s.t_fused,
               100 * s.t_fused / s.t_total, s.t_idle, 100 * s.t_idle / s.t_total, s.model_calls, s.prefill_calls,
               s.model_calls > s.prefill_calls ? 1e3 * s.t_decode / (double)(s.model_calls - s.prefill_calls) : 0.0,
               calls, ok, calls ? 1e3 * lat / (double)calls : 0.0);
    }
    if (!wide_only) printf("  ratio %d-wide / 1-wide: %.1fx\n", width, tps_wide / tps_one);
    rollout_exec_spec_close(ex);
    rollout_model_policy_free(pol);
    model_free(&m);
    for (int t = 0; t < ntraj; t++) free(scripts[t]);
    free(scripts);
    free(prompts);
    free(reqs);
    return 0;
}
