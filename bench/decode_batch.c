/* Decoding a batch of sequences at a real model's shape, against the bf16 matmul ceiling measured in the same run
 * (bench/ceiling.h, the one bench/rl_step reports against), through the rollout policy the engine uses
 * (src/rollout/bind.c: batched prefill, KV cache, sampling):
 *  1. prefill of B short prompts in one batched call vs one prompt at a time;
 *  2. B-wide decoding steps (temperature 1, the rollout default): GFLOP/s and % of the ceiling, by wall time and by
 *     CPU time (which other processes on a shared machine inflate less), and the step's split into the matrix
 *     products at the step's shapes (timed alone, same kernels), sampling (timed alone on the step's logits) and the
 *     rest (attention over the cache, norms, RoPE, copies).
 * FLOPs of a decoded token: 2 x the parameters of every matrix product it touches (each layer's q/k/v, o, gate/up,
 * down, and the lm_head over the whole vocabulary; not the embedding lookup) + attention, 4 x heads x head size x the
 * positions attended, per layer. Prefill counts the layers for every prompt token and the lm_head once per prompt.
 *
 *   build/bench/decode_batch [--model DIR | --config configs/model-qwen2.5-0.5b.json] [--batch 64] [--prompt 40]
 *                            [--steps 6] [--threads 2] [--ceiling-rows 1024 (0: none)] [--kv-bf16 0] [--single 1]
 * Without --model it writes a bf16 model of the config's shape with `retool model init` ($RETOOL_BIN or build/retool)
 * into a temporary folder (about 1 GB for the 0.5B shape) and removes it at the end. */
#include <math.h>
#include <unistd.h>

#include "ceiling.h"
#include "engine_bench.h"
#include "kernels/pool.h"
#include "model/sample.h"
#include "rollout/bind.h"

/* Prompt i of B: 40-ish deterministic ids. */
static int32_t *prompt_ids(int64_t i, int64_t len, int64_t V) {
    int32_t *t = malloc((size_t)len * sizeof(int32_t));
    for (int64_t j = 0; j < len; j++)
        t[j] = (int32_t)((j * 7919 + i * 104729 + 17) % V);
    return t;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *config = bench_flag_s(argc, argv, "--config", "configs/model-qwen2.5-0.5b.json");
    const char *dir = bench_flag_s(argc, argv, "--model", NULL);
    int64_t B = bench_flag(argc, argv, "--batch", 64), P = bench_flag(argc, argv, "--prompt", 40);
    int64_t steps = bench_flag(argc, argv, "--steps", 6), rows = bench_flag(argc, argv, "--ceiling-rows", 1024);
    int threads = (int)bench_flag(argc, argv, "--threads", 2), kv16 = (int)bench_flag(argc, argv, "--kv-bf16", 0);
    int single = (int)bench_flag(argc, argv, "--single", 1); /* 0: no one-at-a-time prefill (long prompts) */
    rt_error err;
    bench_ok(kern_init(threads, &err), &err, "threads");
    char tmp[64] = "", cmd[8192];
    if (!dir) {
        snprintf(tmp, sizeof tmp, "/tmp/retool-decode-XXXXXX");
        if (!mkdtemp(tmp)) {
            perror("mkdtemp");
            return 1;
        }
        const char *bin = getenv("RETOOL_BIN") ? getenv("RETOOL_BIN") : "build/retool";
        snprintf(cmd, sizeof cmd,
                 "%s model init --config %s --out %s/model --tokenizer %s/tokenizers/qwen3 --dtype bf16 --force "
                 ">/dev/null",
                 bin, config, tmp, RETOOL_FIXTURES);
        if (system(cmd) != 0) {
            fprintf(stderr, "decode_batch: `%s` failed\n", cmd);
            snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
            if (system(cmd) != 0) fprintf(stderr, "decode_batch: could not remove %s\n", tmp);
            return 1;
        }
        snprintf(cmd, sizeof cmd, "%s/model", tmp);
        dir = cmd;
    }
    model m;
    model_opts mo = {.prec = MODEL_PREC_BF16, .frozen = 1};
    bench_ok(model_load(&m, dir, &mo, &err), &err, "model");
    const model_config *c = &m.cfg;
    int64_t V = c->vocab_size;
    printf("decode_batch: %s (%lld layers, hidden %lld, vocabulary %lld), batch %lld, prompts %lld-%lld tokens, %d "
           "threads, KV cache %s\n",
           dir, (long long)c->num_layers, (long long)c->hidden_size, (long long)V, (long long)B, (long long)P,
           (long long)(P + 15), threads, kv16 ? "bf16" : "f32");
    double cfl = 0, cc0 = rt_time_cpu(), ceil = 1, ccpu = 1; /* --ceiling-rows 0: no ceiling (a baseline's run) */
    if (rows > 0) ceil = ceiling_gflops(c, rows, &cfl), ccpu = cfl / (rt_time_cpu() - cc0) / 1e9;

    rollout_model_policy *pol;
    bench_ok(rollout_model_policy_init(&pol, &m, (size_t)B, &err), &err, "policy");
    bench_ok(rollout_model_policy_kv_bf16(pol, kv16, &err), &err, "kv");
    rollout_policy ops = rollout_model_policy_ops(pol);
    rollout_sampling samp = {.temperature = 1.0f, .top_p = 1.0f, .top_k = 0};
    int64_t *seqs = malloc((size_t)B * sizeof *seqs);
    int32_t **prompts = malloc((size_t)B * sizeof *prompts), *tokens = malloc((size_t)B * sizeof(int32_t));
    float *lps = malloc((size_t)B * sizeof(float));
    rollout_feed *feeds = malloc((size_t)B * sizeof *feeds);
    rt_error *ferr = malloc((size_t)B * sizeof *ferr);
    int64_t ptok = 0;
    for (int64_t i = 0; i < B; i++) {
        int64_t len = P + (i * 7) % 16;
        prompts[i] = prompt_ids(i, len, V);
        feeds[i] = (rollout_feed){.ids = prompts[i], .n = (size_t)len};
        ptok += len;
    }
    /* FLOPs of the layers for one token, and of the lm_head for one row */
    double layer_fl = 2.0 * (matmul_params(c) - (double)V * (double)c->hidden_size),
           head_fl = 2.0 * (double)V * c->hidden_size;
    double att_per_pos = 4.0 * (double)c->num_heads * (double)c->head_dim * (double)c->num_layers;
    double pre_fl = layer_fl * (double)ptok + head_fl * (double)B;
    for (int64_t i = 0; i < B; i++)
        pre_fl += att_per_pos * (double)(feeds[i].n * (feeds[i].n + 1) / 2);

    /* 1. prefill: one batched call (as the engine's advance), then one prompt at a time (open) */
    double pb = 0, pbc = 0, ps = 0, psc = 0;
    {
        for (int64_t i = 0; i < B; i++) {
            bench_ok(ops.begin(ops.ctx, prompts[i], feeds[i].n, &samp, (uint64_t)i, &seqs[i], &err), &err, "begin");
            feeds[i].seq = seqs[i];
        }
        double t0 = rt_time_now(), c0 = rt_time_cpu();
        bench_ok(ops.advance(ops.ctx, feeds, (size_t)B, ferr, NULL, 0, tokens, lps, &err), &err, "prefill");
        pb = rt_time_now() - t0, pbc = rt_time_cpu() - c0;
        if (single) {
            for (int64_t i = 0; i < B; i++)
                ops.close(ops.ctx, seqs[i]);
            t0 = rt_time_now(), c0 = rt_time_cpu();
            for (int64_t i = 0; i < B; i++)
                bench_ok(ops.open(ops.ctx, prompts[i], feeds[i].n, &samp, (uint64_t)i, &seqs[i], &err), &err, "open");
            ps = rt_time_now() - t0, psc = rt_time_cpu() - c0;
        }
    }
    printf("prefill of %lld prompts (%lld tokens, %.1f GFLOP): batched %.2f s (%.1f GFLOP/s, %.1f per CPU-s), one at a "
           "time %.2f s (%.1f GFLOP/s, %.1f per CPU-s): batched %.2fx faster\n",
           (long long)B, (long long)ptok, pre_fl / 1e9, pb, pre_fl / pb / 1e9, pre_fl / pbc / 1e9, ps,
           pre_fl / ps / 1e9, pre_fl / psc / 1e9, ps / pb);

    /* 2. decoding steps over all B sequences */
    bench_ok(ops.step(ops.ctx, seqs, (size_t)B, tokens, lps, &err), &err, "decode"); /* warm-up */
    double best = 1e30, sum = 0, csum = 0, fl_sum = 0, best_fl = 0;
    for (int64_t s = 0; s < steps; s++) {
        double ctx = 0; /* positions attended this step: each sequence's cached tokens + the new one */
        for (int64_t i = 0; i < B; i++)
            ctx += (double)(feeds[i].n + 2 + (size_t)s);
        double fl = (layer_fl + head_fl) * (double)B + att_per_pos * ctx;
        double t0 = rt_time_now(), c0 = rt_time_cpu();
        bench_ok(ops.step(ops.ctx, seqs, (size_t)B, tokens, lps, &err), &err, "decode");
        double dt = rt_time_now() - t0;
        csum += rt_time_cpu() - c0;
        sum += dt;
        fl_sum += fl;
        if (dt < best) best = dt, best_fl = fl;
    }
    /* sampling alone, on the step's logits (each sequence's row, as the policy samples them) */
    model_sample_buf sb;
    if (!model_sample_buf_init(&sb, V)) return 1;
    model_sampler ms = {.temperature = 1.0, .top_k = 0, .top_p = 1.0};
    rt_rng rng;
    rt_rng_seed(&rng, 1);
    double t0 = rt_time_now(), c0 = rt_time_cpu();
    for (int64_t i = 0; i < B; i++)
        model_sample(&ms, rollout_model_policy_logits(pol, seqs[i]), &sb, &rng, &lps[i]);
    double samp_w = rt_time_now() - t0, samp_c = rt_time_cpu() - c0;
    model_sample_buf_free(&sb);
    double prod_w, prod_c, fwd_w, fwd_c;
    forward_products(c, B, &prod_w, &prod_c);
    fwd_w = fwd_c = 1;
    if (rows > 0) forward_products(c, rows, &fwd_w, &fwd_c);
    double fwd_fl = (layer_fl + head_fl) * (double)rows, fwd_gf = fwd_fl / fwd_w / 1e9, fwd_cpu = fwd_fl / fwd_c / 1e9;
    double mean = sum / (double)steps, gf_mean = fl_sum / sum / 1e9, gf_best = best_fl / best / 1e9;
    double gf_cpu = fl_sum / csum / 1e9;
    if (rows > 0)
        printf(
            "bf16 matmul ceiling at %lld rows (bench/rl_step's: forward and backward products): %.1f GFLOP/s, %.1f per "
            "CPU-second; forward products alone at %lld rows (prefill's): %.1f GFLOP/s, %.1f per CPU-second; %s\n",
            (long long)rows, ceil, ccpu, (long long)rows, fwd_gf, fwd_cpu, kern_gemm_impl_name(KERN_BF16));
    printf("decode, batch %lld: %.3f s a step (best %.3f), %.1f tokens/s; %.1f GFLOP/s by mean wall (%.1f%% of the "
           "ceiling, %.1f%% of the forward products'), %.1f best step (%.1f%%, %.1f%%), %.1f per CPU-second (%.1f%% of "
           "the "
           "ceiling's, %.1f%% of the forward products')\n",
           (long long)B, mean, best, (double)B / mean, gf_mean, 100 * gf_mean / ceil, 100 * gf_mean / fwd_gf, gf_best,
           100 * gf_best / ceil, 100 * gf_best / fwd_gf, gf_cpu, 100 * gf_cpu / ccpu, 100 * gf_cpu / fwd_cpu);
    printf("  split of a mean step: products %.3f s (alone at these shapes: %.1f GFLOP/s, %.1f per CPU-s), sampling "
           "%.3f s, the rest "
           "(attention, norms, RoPE, copies) %.3f s\n",
           prod_w, (layer_fl + head_fl) * (double)B / prod_w / 1e9, (layer_fl + head_fl) * (double)B / prod_c / 1e9,
           samp_w, mean - prod_w - samp_w);
    printf("  by CPU time: step %.3f CPU-s, products %.3f, sampling %.3f\n", csum / (double)steps, prod_c, samp_c);
    for (int64_t i = 0; i < B; i++) {
        ops.close(ops.ctx, seqs[i]);
        free(prompts[i]);
    }
    rollout_model_policy_free(pol);
    model_free(&m);
    free(seqs), free(prompts), free(tokens), free(lps), free(feeds), free(ferr);
    if (tmp[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
        if (system(cmd) != 0) fprintf(stderr, "decode_batch: could not remove %s\n", tmp);
    }
    kern_shutdown();
    return 0;
}
