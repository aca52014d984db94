/* Attention kernels side by side: the blocked training kernel (kern_attn_fwd / kern_attn_bwd) against the row-at-a-time
 * kernel (kern_attn_row, used for decoding), forward only, same inputs; outputs compared.
 *
 *   build/bench/engine_attn [--seq 256] [--batch 8] [--heads 4] [--kv-heads 4] [--head-dim 32] [--threads 2]
 */
#include <math.h>

#include "engine_bench.h"
#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/simd.h"

typedef struct row_ctx {
    float *out;
    const float *qkv;
    const kern_packing *pk;
    int64_t NH, KVH, HS, T;
    float *scratch;
} row_ctx;

static void row_task(void *vc, int64_t b, int64_t e, int tid) {
    row_ctx *c = vc;
    int64_t ld = (c->NH + 2 * c->KVH) * c->HS;
    for (int64_t it = b; it < e; it++) {
        int64_t r = it / c->NH, h = it % c->NH, g = h / (c->NH / c->KVH), t = c->pk->pos[r], r0 = r - t;
        kern_attn_row(c->out + (r * c->NH + h) * c->HS, c->qkv + r * ld + h * c->HS,
                      c->qkv + r0 * ld + (c->NH + g) * c->HS, c->qkv + r0 * ld + (c->NH + c->KVH + g) * c->HS, ld,
                      t + 1, c->HS, 1.0f / sqrtf((float)c->HS), c->scratch + (size_t)tid * (size_t)c->T);
    }
}

int main(int argc, char **argv) {
    int64_t T = bench_flag(argc, argv, "--seq", 256), B = bench_flag(argc, argv, "--batch", 8);
    int64_t NH = bench_flag(argc, argv, "--heads", 4), KVH = bench_flag(argc, argv, "--kv-heads", 4);
    int64_t HS = bench_flag(argc, argv, "--head-dim", 32);
    int threads = (int)bench_flag(argc, argv, "--threads", 2);
    rt_error err;
    bench_ok(kern_init(threads, &err), &err, "threads");
    int64_t N = B * T, ld = (NH + 2 * KVH) * HS;
    float *qkv = malloc((size_t)(N * ld) * 4), *o1 = malloc((size_t)(N * NH * HS) * 4), *o2 = malloc((size_t)(N * NH * HS) * 4);
    float *lse = malloc((size_t)(N * NH) * 4), *d = calloc((size_t)(N * ld), 4);
    int64_t *start = malloc((size_t)(B + 1) * 8), *pos = malloc((size_t)N * 8);
    rt_rng r;
    rt_rng_seed(&r, 1);
    for (int64_t i = 0; i < N * ld; i++) qkv[i] = (float)rt_rng_normal(&r);
    for (int64_t b = 0; b <= B; b++) start[b] = b * T;
    for (int64_t i = 0; i < N; i++) pos[i] = i % T;
    kern_packing pk = {B, start, pos};
    row_ctx rc = {o2, qkv, &pk, NH, KVH, HS, T, malloc((size_t)(threads * T) * 4)};
    double tb = 1e30, tr = 1e30, tbw = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = rt_time_now();
        bench_ok(kern_attn_fwd(o1, lse, qkv, &pk, NH, KVH, HS, &err), &err, "attention");
        double t1 = rt_time_now();
        kern_parallel_for(N * NH, 4, row_task, &rc);
        double t2 = rt_time_now();
        bench_ok(kern_attn_bwd(d, o1, o1, lse, qkv, &pk, NH, KVH, HS, &err), &err, "attention backward");
        double t3 = rt_time_now();
        tb = fmin(tb, t1 - t0), tr = fmin(tr, t2 - t1), tbw = fmin(tbw, t3 - t2);
    }
    double md = 0;
    for (int64_t i = 0; i < N * NH * HS; i++) md = fmax(md, fabs(o1[i] - o2[i]));
    double fl = 2.0 * 2.0 * (double)B * NH * HS * (double)T * (T + 1) / 2;
    printf("engine_attn: batch %lld, seq %lld, heads %lld/%lld, head dim %lld, threads %d, isa %s\n", (long long)B,
           (long long)T, (long long)NH, (long long)KVH, (long long)HS, threads, kern_simd_get()->isa);
    printf("  forward blocked %.2f ms (%.1f GFLOP/s), row-wise %.2f ms (%.1f GFLOP/s): blocked is %.2fx; max diff %.2g\n",
           tb * 1e3, fl / tb / 1e9, tr * 1e3, fl / tr / 1e9, tr / tb, md);
    printf("  backward blocked %.2f ms (%.1f GFLOP/s, counted as 2x forward)\n", tbw * 1e3, 2 * fl / tbw / 1e9);
    free(qkv), free(o1), free(o2), free(lse), free(d), free(start), free(pos), free(rc.scratch);
    kern_shutdown();
    return 0;
}
