/* Training-step throughput against two baselines measured in the same run: the bf16 matmul ceiling at the model's own
 * shapes (forward and both backward products, inputs already bf16) and PyTorch training the same model on the same
 * batches (bench/engine_torch.py, f32, AdamW).
 *
 *   build/bench/engine_train [--hidden 512] [--layers 8] [--seq 256] [--batch 8] [--vocab 256] [--threads 2]
 *                            [--steps 5] [--torch 1] [--prec bf16|f32]
 */
#include <math.h>
#include <unistd.h>

#include "engine_bench.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/pool.h"
#include "model/optim.h"

/* Seconds for one forward + both backward products of a [N,K] weight at M rows, bf16; flops added to *flops. */
static double time_linear(int64_t M, int64_t N, int64_t K, int reps, double *flops) {
    uint16_t *x = calloc((size_t)(M * K), 2), *w = calloc((size_t)(N * K), 2), *dy = calloc((size_t)(M * N), 2);
    float *y = malloc((size_t)(M * N) * 4), *dx = malloc((size_t)(M * K) * 4), *dw = calloc((size_t)(N * K), 4);
    for (int64_t i = 0; i < M * K; i++) x[i] = 0x3f80 ^ (uint16_t)(i & 7);
    for (int64_t i = 0; i < N * K; i++) w[i] = 0x3c00 ^ (uint16_t)(i & 15);
    for (int64_t i = 0; i < M * N; i++) dy[i] = 0x3a00 ^ (uint16_t)(i & 3);
    rt_error err;
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = rt_time_now();
        bench_ok(kern_mm_xwt(KERN_BF16, y, x, w, M, N, K, 0, &err), &err, "matmul");
        bench_ok(kern_mm_dx(KERN_BF16, dx, dy, w, M, N, K, 0, &err), &err, "matmul");
        bench_ok(kern_mm_dw(KERN_BF16, dw, dy, x, M, N, K, 1, &err), &err, "matmul");
        double t = rt_time_now() - t0;
        if (r > 0 && t < best) best = t; /* first run creates the primitives */
    }
    *flops += 6.0 * (double)M * (double)N * (double)K;
    free(x), free(w), free(dy), free(y), free(dx), free(dw);
    return best;
}

int main(int argc, char **argv) {
    int64_t C = bench_flag(argc, argv, "--hidden", 512), L = bench_flag(argc, argv, "--layers", 8);
    int64_t T = bench_flag(argc, argv, "--seq", 256), B = bench_flag(argc, argv, "--batch", 8);
    int64_t V = bench_flag(argc, argv, "--vocab", 256), steps = bench_flag(argc, argv, "--steps", 5);
    int threads = (int)bench_flag(argc, argv, "--threads", 2), torch = (int)bench_flag(argc, argv, "--torch", 1);
    int64_t I = bench_flag(argc, argv, "--inter", (C * 8 / 3 + 63) / 64 * 64);
    const char *prec = bench_flag_s(argc, argv, "--prec", "bf16");
    rt_error err;
    bench_ok(kern_init(threads, &err), &err, "threads");
    model_config cfg = bench_config(C, L, V, I, T + 1);
    model m;
    model_opts o = {.prec = strcmp(prec, "f32") ? MODEL_PREC_BF16 : MODEL_PREC_F32};
    bench_ok(model_init(&m, &cfg, &o, &err), &err, "model");
    model_init_random(&m, 1, 0.02);
    bench_ok(model_train_init(&m, &err), &err, "train init");
    int64_t N = B * T, nb = steps + 1;
    /* the batches, shared with the PyTorch baseline: int32 [nb, B, T+1] */
    int32_t *all = malloc((size_t)(nb * B * (T + 1)) * sizeof(int32_t));
    rt_rng r;
    rt_rng_seed(&r, 42);
    for (int64_t i = 0; i < nb * B * (T + 1); i++) all[i] = (int32_t)rt_rng_below(&r, (uint64_t)V);
    int32_t *tok = malloc((size_t)N * 4), *tgt = malloc((size_t)N * 4);
    int64_t *start = malloc((size_t)(B + 1) * 8);
    float *w = malloc((size_t)N * 4);
    for (int64_t b = 0; b <= B; b++) start[b] = b * T;
    for (int64_t i = 0; i < N; i++) w[i] = 1.0f / (float)N;
    model_batch batch = {B, start, tok, tgt};
    model_adamw opt = model_adamw_defaults();
    double t_train = 0, t_best = 1e30;
    float loss = 0;
    for (int64_t s = 0; s < nb; s++) {
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                tok[b * T + t] = all[(s * B + b) * (T + 1) + t];
                tgt[b * T + t] = all[(s * B + b) * (T + 1) + t + 1];
            }
        double t0 = rt_time_now();
        model_zero_grad(&m);
        bench_ok(model_xent_step(&m, &batch, w, &loss, NULL, &err), &err, "step");
        model_clip_grad(&m, 1.0);
        model_adamw_step(&m, &opt, 1e-3);
        if (s > 0) { /* step 0 warms up (primitives, buffers) */
            double dt = rt_time_now() - t0;
            t_train += dt;
            if (dt < t_best) t_best = dt;
        }
    }
    double tps = (double)(N * steps) / t_train, tps_best = (double)N / t_best;
    /* flops per step: 6 x matmul parameters x tokens + attention (3 x forward's 2 x B x NH x HS x T(T+1)) */
    int64_t HS = cfg.head_dim, NH = cfg.num_heads;
    double mm_params = (double)L * (double)(C * 3 * C + C * C + 3 * C * I) + (double)V * C;
    double attn = 3.0 * 2.0 * (double)B * NH * HS * (double)T * (T + 1) * L;
    double step_flops = 6.0 * mm_params * (double)N + attn;
    /* the ceiling: the same products alone, at M = B*T */
    double fl = 0, tm = 0;
    tm += L * time_linear(N, 3 * C, C, 3, &fl);
    tm += L * time_linear(N, C, C, 3, &fl);
    tm += L * time_linear(N, 2 * I, C, 3, &fl);
    tm += L * time_linear(N, C, I, 3, &fl);
    double fl_lm = 0;
    tm += time_linear(N, V, C, 3, &fl_lm);
    fl = fl * (double)L + fl_lm;
    double ceiling = fl / tm / 1e9, achieved = step_flops / (t_train / (double)steps) / 1e9;
    double achieved_best = step_flops / t_best / 1e9;
    printf("engine_train: hidden %lld, layers %lld, seq %lld, batch %lld, vocab %lld, mlp %lld, threads %d, %s\n",
           (long long)C, (long long)L, (long long)T, (long long)B, (long long)V, (long long)I, threads, prec);
    printf("  parameters %.2fM; step %.1f ms mean, %.1f ms best; %.0f tokens/s mean, %.0f best; loss %.3f\n",
           (double)m.nparams / 1e6, 1e3 * t_train / (double)steps, 1e3 * t_best, tps, tps_best, loss);
    printf("  bf16 matmul ceiling at these shapes: %.1f GFLOP/s (impl %s)\n", ceiling, kern_gemm_impl_name(KERN_BF16));
    printf("  training step achieved: %.1f GFLOP/s mean = %.1f%% of the ceiling; best step %.1f GFLOP/s = %.1f%%\n",
           achieved, 100 * achieved / ceiling, achieved_best, 100 * achieved_best / ceiling);
    if (torch) {
        char path[] = "/tmp/retool-bench-XXXXXX";
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!f || fwrite(all, 4, (size_t)(nb * B * (T + 1)), f) != (size_t)(nb * B * (T + 1))) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        fclose(f);
        /* PyTorch twice: as installed (its OpenMP threads spin while waiting, which collapses when the machine is
         * busy) and with OMP_WAIT_POLICY=passive; the ratio is taken against the faster of the two. */
        double ttps[2] = {0, 0}, tbest[2] = {0, 0};
        for (int v = 0; v < 2; v++) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd,
                     "%s/usr/bin/python3 bench/engine_torch.py %s %lld %lld %lld %lld %lld %lld %lld %d %lld",
                     v ? "OMP_WAIT_POLICY=passive " : "", path, (long long)C, (long long)L, (long long)V, (long long)I,
                     (long long)HS, (long long)B, (long long)T, threads, (long long)steps);
            FILE *p = popen(cmd, "r");
            char line[256];
            while (p && fgets(line, sizeof line, p)) {
                sscanf(line, "torch_tokens_per_s %lf", &ttps[v]);
                sscanf(line, "torch_best_tokens_per_s %lf", &tbest[v]);
            }
            if (p) pclose(p);
        }
        double best = ttps[0] > ttps[1] ? ttps[0] : ttps[1], bbest = tbest[0] > tbest[1] ? tbest[0] : tbest[1];
        if (best > 0)
            printf("  PyTorch 1.13 (f32, same model and batches): %.0f tokens/s mean as installed, %.0f with "
                   "OMP_WAIT_POLICY=passive (best steps %.0f, %.0f)\n"
                   "  retool / PyTorch: %.2fx on means, %.2fx on best steps\n",
                   ttps[0], ttps[1], tbest[0], tbest[1], tps / best, tps_best / bbest);
        else
            printf("  PyTorch baseline failed to run\n");
        unlink(path);
    }
    free(all), free(tok), free(tgt), free(start), free(w);
    model_free(&m);
    kern_shutdown();
    return 0;
}
