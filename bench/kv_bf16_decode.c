/* Decode step time with a bf16 KV cache vs the default f32 cache, measured in the same run: n sequences with ctx
 * cached tokens each, stepped together; the fastest of --steps steps is kept for each (the least disturbed by other
 * processes on a shared machine), so the ratio is of like with like. bf16 products, random weights.
 *   build/bench/kv_bf16_decode [--hidden 128] [--layers 4] [--kv-heads 0 (= heads)] [--ctx 200] [--steps 24]
 *                              [--threads 2]   (batches 1 and 64) */
#include "engine_bench.h"
#include "kernels/pool.h"
#include "model/infer.h"

/* The fastest decode step (seconds) over steps steps of n sequences of ctx tokens, cache bf16 or f32. */
static double best_step(model *m, int64_t n, int64_t ctx, int bf16, int64_t steps) {
    rt_error err;
    model_kv *kv;
    bench_ok(model_kv_init(&kv, m, &err), &err, "kv");
    bench_ok(model_kv_set_bf16(kv, bf16, &err), &err, "kv bf16");
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    int32_t *t = malloc((size_t)(ctx > n ? ctx : n) * sizeof *t);
    float *logits = malloc((size_t)(n * m->cfg.vocab_size) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        bench_ok(model_seq_new(kv, &ids[i], &err), &err, "sequence");
        int64_t off[2] = {0, ctx};
        for (int64_t j = 0; j < ctx; j++) t[j] = (int32_t)((j * 13 + i) % m->cfg.vocab_size);
        bench_ok(model_infer(m, kv, 1, &ids[i], off, t, logits, NULL, &err), &err, "prefill");
    }
    double best = 1e30;
    for (int64_t s = 0; s < steps; s++) {
        for (int64_t i = 0; i < n; i++) t[i] = (int32_t)((s * 31 + i * 7) % m->cfg.vocab_size);
        double t0 = rt_time_now();
        bench_ok(model_decode(m, kv, n, ids, t, logits, &err), &err, "decode");
        double dt = rt_time_now() - t0;
        if (dt < best) best = dt;
    }
    model_kv_free(kv);
    free(ids);
    free(t);
    free(logits);
    return best;
}

int main(int argc, char **argv) {
    int64_t C = bench_flag(argc, argv, "--hidden", 128), L = bench_flag(argc, argv, "--layers", 4);
    int64_t kvh = bench_flag(argc, argv, "--kv-heads", 0), ctx = bench_flag(argc, argv, "--ctx", 200);
    int64_t steps = bench_flag(argc, argv, "--steps", 24);
    rt_error err;
    bench_ok(kern_init((int)bench_flag(argc, argv, "--threads", 2), &err), &err, "threads");
    model_config c = bench_config(C, L, 512, C * 8 / 3, ctx + steps + 16);
    c.head_dim = 32; /* the rollout bench's heads */
    c.num_heads = C / 32;
    c.num_kv_heads = kvh ? kvh : c.num_heads;
    model m;
    model_opts o = {.prec = MODEL_PREC_BF16};
    bench_ok(model_init(&m, &c, &o, &err), &err, "model");
    model_init_random(&m, 1, 0.02);
    model_sync_bf16(&m);
    printf("decode step, hidden %lld, %lld layers, %lld heads / %lld KV heads of 32, %lld cached tokens a sequence, "
           "%d threads; fastest of %lld steps\n",
           (long long)C, (long long)L, (long long)c.num_heads, (long long)c.num_kv_heads, (long long)ctx,
           kern_threads(), (long long)steps);
    int64_t batches[2] = {1, 64};
    for (int b = 0; b < 2; b++) {
        double f = best_step(&m, batches[b], ctx, 0, steps), h = best_step(&m, batches[b], ctx, 1, steps);
        printf("  batch %2lld: f32 cache %.3f ms (%.1f us a token), bf16 cache %.3f ms (%.1f us a token): bf16 %.2fx "
               "the speed of f32\n",
               (long long)batches[b], 1e3 * f, 1e6 * f / (double)batches[b], 1e3 * h, 1e6 * h / (double)batches[b],
               f / h);
    }
    model_free(&m);
    return 0;
}
