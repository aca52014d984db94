/* The bf16 matmul ceiling of a model's shapes, shared by the benchmarks that report against it (header-only): every
 * layer product and the lm_head, forward and both backward products, at M rows, on the pool's threads, the way
 * training runs them (kern_mm_xwt / kern_mm_dx / kern_mm_dw). */
#ifndef RETOOL_BENCH_CEILING_H
#define RETOOL_BENCH_CEILING_H

#include <stdio.h>
#include <stdlib.h>

#include "base/timer.h"
#include "engine_bench.h"
#include "kernels/matmul.h"
#include "model/config.h"

/* Seconds for the forward and both backward bf16 products of a [N,K] weight at M rows; flops added to *flops. */
static inline double time_linear(int64_t M, int64_t N, int64_t K, double *flops) {
    uint16_t *x = calloc((size_t)(M * K), 2), *w = calloc((size_t)(N * K), 2), *dy = calloc((size_t)(M * N), 2);
    float *y = malloc((size_t)(M * N) * 4), *dx = malloc((size_t)(M * K) * 4), *dw = calloc((size_t)(N * K), 4);
    if (!x || !w || !dy || !y || !dx || !dw) {
        fprintf(stderr, "ceiling: no memory for a %lldx%lldx%lld product\n", (long long)M, (long long)N, (long long)K);
        exit(1);
    }
    for (int64_t i = 0; i < M * K; i++)
        x[i] = 0x3f80 ^ (uint16_t)(i & 7);
    for (int64_t i = 0; i < N * K; i++)
        w[i] = 0x3c00 ^ (uint16_t)(i & 15);
    for (int64_t i = 0; i < M * N; i++)
        dy[i] = 0x3a00 ^ (uint16_t)(i & 3);
    rt_error err;
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = rt_time_now();
        bench_ok(kern_mm_xwt(KERN_BF16, y, x, w, M, N, K, 0, &err), &err, "matmul");
        bench_ok(kern_mm_dx(KERN_BF16, dx, dy, w, M, N, K, 0, &err), &err, "matmul");
        bench_ok(kern_mm_dw(KERN_BF16, dw, dy, x, M, N, K, 1, &err), &err, "matmul");
        double t = rt_time_now() - t0;
        if (r > 0 && t < best) best = t; /* the first run creates the primitives */
    }
    *flops += 6.0 * (double)M * (double)N * (double)K;
    free(x), free(w), free(dy), free(y), free(dx), free(dw);
    return best;
}

/* GFLOP/s of one layer's products and the lm_head, forward and backward, at M rows (the training ceiling). */
static inline double ceiling_gflops(const model_config *c, int64_t M, double *flops_run) {
    int64_t C = c->hidden_size, A = c->num_heads * c->head_dim, Q = A + 2 * c->num_kv_heads * c->head_dim;
    int64_t I = c->intermediate_size;
    double flops = 0, t = 0;
    t += time_linear(M, Q, C, &flops);
    t += time_linear(M, C, A, &flops);
    t += time_linear(M, 2 * I, C, &flops);
    t += time_linear(M, C, I, &flops);
    /* the lm_head as the model runs it: row chunks of at most model_head_rows */
    double hf = 0, ht = 0;
    ht = time_linear(M, c->vocab_size, C, &hf);
    if (flops_run) *flops_run = 3.0 * (flops + hf); /* each product ran 3 times */
    return (flops * (double)c->num_layers + hf) / (t * (double)c->num_layers + ht) / 1e9;
}

/* Forward products of one token batch at M rows (every layer's and the lm_head, as inference runs them), timed alone:
 * best wall and CPU seconds of each product after a first run that creates primitives and workspaces. */
static inline void forward_products(const model_config *c, int64_t M, double *wall, double *cpu) {
    int64_t C = c->hidden_size, A = c->num_heads * c->head_dim, Q = A + 2 * c->num_kv_heads * c->head_dim;
    int64_t I = c->intermediate_size, shapes[5][2] = {{Q, C}, {C, A}, {2 * I, C}, {C, I}, {c->vocab_size, C}};
    double tw = 0, tc = 0;
    for (int s = 0; s < 5; s++) {
        int64_t N = shapes[s][0], K = shapes[s][1], reps = s < 4 ? c->num_layers : 1;
        uint16_t *x = calloc((size_t)(M * K), 2), *w = malloc((size_t)(N * K) * 2);
        float *y = malloc((size_t)(M * N) * 4);
        if (!x || !w || !y) {
            fprintf(stderr, "ceiling: no memory for a %lldx%lldx%lld product\n", (long long)M, (long long)N,
                    (long long)K);
            exit(1);
        }
        for (int64_t i = 0; i < N * K; i++)
            w[i] = 0x3c00 ^ (uint16_t)(i & 15);
        for (int64_t i = 0; i < M * K; i++)
            x[i] = 0x3f80 ^ (uint16_t)(i & 7);
        rt_error err;
        double bw = 1e30, bc = 1e30;
        for (int r = 0; r < 3; r++) {
            double t0 = rt_time_now(), c0 = rt_time_cpu();
            bench_ok(kern_mm_xwt(KERN_BF16, y, x, w, M, N, K, 0, &err), &err, "matmul");
            double dw = rt_time_now() - t0, dc = rt_time_cpu() - c0;
            if (r > 0 && dw < bw) bw = dw;
            if (r > 0 && dc < bc) bc = dc;
        }
        tw += bw * (double)reps;
        tc += bc * (double)reps;
        free(x), free(w), free(y);
    }
    *wall = tw;
    *cpu = tc;
}

/* Parameters that take part in matrix products (every layer's, and the lm_head; not the input embedding). */
static inline double matmul_params(const model_config *c) {
    int64_t C = c->hidden_size, A = c->num_heads * c->head_dim, Q = A + 2 * c->num_kv_heads * c->head_dim;
    double layer = (double)Q * C + (double)C * A + 3.0 * (double)c->intermediate_size * C;
    return layer * (double)c->num_layers + (double)c->vocab_size * C;
}

#endif
