/* Rollout engine throughput: the same tool-calling trajectories decoded 64 at a time vs one at a time, with the real
 * model, KV cache and in-process sandbox; and the split of wall time (decode, prefill, waiting on the sandbox with
 * nothing to decode). The policy replays a fixed tool-calling script per trajectory through the model (forced
 * decoding: the same kernels, batching and cache as sampling, but every trajectory calls the tool), so the figures do
 * not depend on what an untrained model happens to write.
 * usage: rollout_throughput [--hidden C] [--layers L] [--trajectories N] [--threads T] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kernels/pool.h"
#include "model/infer.h"
#include "model/model.h"
#include "rollout/exec_spec.h"
#include "rollout/engine.h"

#define V 512

typedef struct forced {
    int32_t **scripts; /* script of trajectory t: [len, ids...]; prompt[0] names t */
    model *m;
    model_kv *kv;
    int64_t kv_id[256];
    const int32_t *script[256];
    size_t script_len[256], pos[256];
    int live[256];
    float *logits;
} forced;

static rt_status f_open(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *s, uint64_t seed, int64_t *seq,
                        rt_error *err) {
    (void)s;
    forced *f = ctx;
    int64_t slot = -1;
    for (int64_t i = 0; i < 256; i++)
        if (!f->live[i]) {
            slot = i;
            break;
        }
    if (slot < 0) return rt_err_set(err, RT_EBUSY, "full");
    rt_status st = model_seq_new(f->kv, &f->kv_id[slot], err);
    int64_t off[2] = {0, (int64_t)n};
    if (!st) st = model_infer(f->m, f->kv, 1, &f->kv_id[slot], off, prompt, f->logits, NULL, err);
    if (st) return st;
    f->live[slot] = 1;
    f->pos[slot] = 0;
    (void)seed;
    f->script[slot] = f->scripts[prompt[0]];
    *seq = slot;
    return RT_OK;
}

static rt_status f_append(void *ctx, int64_t seq, const int32_t *ids, size_t n, rt_error *err) {
    forced *f = ctx;
    int64_t off[2] = {0, (int64_t)n};
    return model_infer(f->m, f->kv, 1, &f->kv_id[seq], off, ids, f->logits, NULL, err);
}

static rt_status f_step(void *ctx, const int64_t *seqs, size_t n, int32_t *tokens, float *lps, rt_error *err) {
    forced *f = ctx;
    int64_t ids[256];
    for (size_t i = 0; i < n; i++) {
        const int32_t *s = f->script[seqs[i]];
        size_t len = (size_t)s[0];
        size_t p = f->pos[seqs[i]]++;
        tokens[i] = p < len ? s[1 + p] : 0;
        lps[i] = 0;
        ids[i] = f->kv_id[seqs[i]];
    }
    return model_decode(f->m, f->kv, (int64_t)n, ids, tokens, f->logits, err);
}

static void f_close(void *ctx, int64_t seq) {
    forced *f = ctx;
    model_seq_free(f->kv, f->kv_id[seq]);
    f->live[seq] = 0;
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
    int hidden = 128, layers = 4, ntraj = 64, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--hidden")) hidden = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--layers")) layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--trajectories")) ntraj = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    }
    if (ntraj > 256) ntraj = 256;
    rt_log_set_level(RT_LOG_WARN);
    rt_error e;
    if (kern_init(threads, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    model_config c = {0};
    c.arch = MODEL_ARCH_LLAMA;
    c.vocab_size = V;
    c.hidden_size = hidden;
    c.intermediate_size = hidden * 8 / 3;
    c.num_layers = layers;
    c.num_heads = hidden / 32;
    c.num_kv_heads = hidden / 32;
    c.head_dim = 32;
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
    forced f = {.m = &m, .scripts = scripts};
    f.logits = malloc(256 * V * sizeof(float));
    if (model_kv_init(&f.kv, &m, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    rollout_policy pol = {.ctx = &f, .open = f_open, .append = f_append, .step = f_step, .close = f_close};
    rollout_tokenizer tok = {.encode = b_encode, .token_bytes = b_bytes};
    rollout_executor x = rollout_exec_spec_ops(ex);
    double tps[2];
    size_t widths[2] = {(size_t)ntraj, 1};
    printf("rollout throughput: model hidden %d, %d layers, bf16 products, %d threads; %d trajectories, 1 tool call each "
           "(in-process sandbox, 2 workers)\n",
           hidden, layers, threads, ntraj);
    for (int run = 0; run < 2; run++) {
        rollout_config cfg = rollout_config_defaults();
        cfg.max_concurrent = widths[run];
        cfg.budget.max_response_tokens = 1000;
        rollout_trajectory *out = calloc((size_t)ntraj, sizeof *out);
        rollout_stats s;
        if (rollout_run(&cfg, &pol, &tok, &x, reqs, (size_t)ntraj, out, &s, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        size_t calls = 0, ok = 0;
        for (int t = 0; t < ntraj; t++) {
            calls += out[t].n_calls;
            ok += out[t].n_calls && out[t].calls[0].status == ROLLOUT_EXEC_OK;
            rollout_trajectory_free(&out[t]);
        }
        free(out);
        tps[run] = (double)s.decoded_tokens / s.t_total;
        printf("  %3zu at a time: %7.0f tokens/s; wall %.2f s = decode %.2f (%.0f%%) + prefill %.2f (%.0f%%) + idle on "
               "sandbox %.2f (%.0f%%) + other; %zu calls, %zu ok\n",
               widths[run], tps[run], s.t_total, s.t_decode, 100 * s.t_decode / s.t_total, s.t_prefill,
               100 * s.t_prefill / s.t_total, s.t_idle, 100 * s.t_idle / s.t_total, calls, ok);
    }
    printf("  ratio %zu-wide / 1-wide: %.1fx\n", widths[0], tps[0] / tps[1]);
    rollout_exec_spec_close(ex);
    model_kv_free(f.kv);
    model_free(&m);
    for (int t = 0; t < ntraj; t++) free(scripts[t]);
    free(scripts);
    free(prompts);
    free(reqs);
    free(f.logits);
    return 0;
}
