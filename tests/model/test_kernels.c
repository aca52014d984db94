/* Kernels against independent references: matrix products against a naive f64 product, every op's backward against
 * central finite differences of its forward (loss = sum of random weights times the outputs, accumulated in f64). */
#include <criterion/criterion.h>
#include <math.h>
#include <oneapi/dnnl/dnnl_version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/pool.h"
#include "kernels/simd.h"

static void init2(void) {
    cr_assert_eq(kern_init(2, NULL), RT_OK);
}
static void fini(void) {
    kern_shutdown();
}

static float *randv(rt_rng *r, int64_t n, double s) {
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = (float)(rt_rng_normal(r) * s);
    return v;
}

static double dotw(const float *y, const float *w, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)y[i] * w[i];
    return s;
}

/* |a - b| <= atol + rtol * max(|a|, |b|) */
static int close_to(double a, double b, double rtol, double atol) {
    return fabs(a - b) <= atol + rtol * fmax(fabs(a), fabs(b));
}

TestSuite(kernels, .init = init2, .fini = fini);

static void check_gemm(kern_dtype dt, int ta, int tb, int64_t M, int64_t N, int64_t K, int acc) {
    rt_rng r;
    rt_rng_seed(&r, (uint64_t)(M * 131 + N * 7 + K + ta * 3 + tb * 5 + acc));
    float *A = randv(&r, M * K, 1), *B = randv(&r, K * N, 1), *C = randv(&r, M * N, 1);
    float *C0 = malloc((size_t)(M * N) * sizeof(float));
    memcpy(C0, C, (size_t)(M * N) * sizeof(float));
    uint16_t *Ab = malloc((size_t)(M * K) * 2), *Bb = malloc((size_t)(K * N) * 2);
    if (dt == KERN_BF16) { /* round the inputs so the reference sees the same values */
        kern_to_bf16(Ab, A, M * K);
        kern_to_bf16(Bb, B, K * N);
        kern_from_bf16(A, Ab, M * K);
        kern_from_bf16(B, Bb, K * N);
    }
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    kern_gemm g = {dt, ta, tb, M, N, K, dt == KERN_BF16 ? (void *)Ab : (void *)A, lda,
                   dt == KERN_BF16 ? (void *)Bb : (void *)B, ldb, C, N, acc};
    rt_error err;
    cr_assert_eq(kern_gemm_run(&g, &err), RT_OK, "%s", err.msg);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = acc ? C0[i * N + j] : 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
            cr_assert(close_to(C[i * N + j], s, 1e-5, 1e-4 * sqrt((double)K)), "C[%lld,%lld] = %g, want %g",
                      (long long)i, (long long)j, C[i * N + j], s);
        }
    free(A);
    free(B);
    free(C);
    free(C0);
    free(Ab);
    free(Bb);
}

Test(kernels, gemm_f32_all_transposes) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(KERN_F32, ta, tb, 37, 53, 29, 0);
            check_gemm(KERN_F32, ta, tb, 200, 67, 130, 1); /* big enough to split over threads */
            check_gemm(KERN_F32, ta, tb, 3, 300, 90, 1);  /* decode-like: split over N */
        }
}

/* 1 when the first "flags" line of /proc/cpuinfo holds every flag named (space-separated) in want. */
static int cpu_has_flags(const char *want) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    static char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) found = 1;
    fclose(f);
    if (!found) return 0;
    char words[256];
    snprintf(words, sizeof words, "%s", want);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char pad[64];
        snprintf(pad, sizeof pad, " %s", w);
        const char *at = strstr(line, pad);
        size_t n = strlen(pad);
        if (!at || (at[n] != ' ' && at[n] != '\n' && at[n] != '\0')) return 0;
    }
    return 1;
}

/* kern_bf16_native is a CPU capability, checked here against /proc/cpuinfo: oneDNN 2.x runs bf16 products natively
 * exactly where the CPU has AVX-512 F, BW, VL and DQ (its avx512_core). Where it says no, a bf16 product still runs,
 * widened to f32 (gemm_bf16 checks its values), and says so. */
Test(kernels, bf16_native_is_the_cpu_capability) {
    int avx512_core = cpu_has_flags("avx512f avx512bw avx512vl avx512dq");
    int capped = getenv("DNNL_MAX_CPU_ISA") || getenv("ONEDNN_MAX_CPU_ISA");
    if (capped || DNNL_VERSION_MAJOR >= 3)
        cr_expect(!avx512_core || capped || kern_bf16_native(), "AVX-512 CPU but no bf16 support reported");
    else
        cr_expect_eq(kern_bf16_native(), avx512_core, "bf16 support %d, AVX-512 core flags %d",
                     kern_bf16_native(), avx512_core);
    uint16_t a[4 * 4] = {0}, b[4 * 4] = {0};
    float c[4 * 4];
    rt_error e = {0};
    cr_expect_eq(kern_mm_xwt(KERN_BF16, c, a, b, 4, 4, 4, 0, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(strstr(kern_gemm_impl_name(KERN_BF16), "widened") != NULL, !kern_bf16_native(), "%s",
                 kern_gemm_impl_name(KERN_BF16));
}

/* bf16 runs on every CPU (natively, or widened to f32 where oneDNN has no bf16 matmul): never skipped. Slices over
 * threads leave strided operands (a row stride wider than the slice), which the widened path must honour. */
Test(kernels, gemm_bf16) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(KERN_BF16, ta, tb, 200, 67, 130, 1);
            check_gemm(KERN_BF16, ta, tb, 3, 300, 90, 1);
        }
    check_gemm(KERN_BF16, 0, 1, 64, 96, 48, 0);
    check_gemm(KERN_BF16, 1, 0, 150, 70, 120, 1);
    check_gemm(KERN_BF16, 0, 0, 2, 257, 64, 0);
    /* operands above the widening block (4M floats a thread, where bf16 is widened): blocked over N, then over M */
    check_gemm(KERN_BF16, 0, 1, 3, 40000, 300, 1);
    check_gemm(KERN_BF16, 1, 0, 40000, 3, 300, 0);
    /* few rows and a long K: where bf16 is widened, B goes a block of 32 columns at a time (9 blocks and a tail) */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) check_gemm(KERN_BF16, ta, tb, 5, 300, 2000, tb);
    /* a long reduction (the lm_head's input gradient sums over the vocabulary): where bf16 is widened, K goes in
     * blocks of 4096 accumulated into C (two blocks and a tail) */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            check_gemm(KERN_BF16, ta, tb, 100, 20, 3 * 4096 + 5, ta);
}

/* kern_mm_bf16_small (the AVX2 product of few rows) against a naive f64 loop over the same bf16 values: every row
 * count up to 70 (tiles of 4 and their tails), N and K off the vector width and tile sizes, K over one chunk (1024),
 * row strides wider than K and operands starting off any alignment, overwriting and accumulating. */
static void check_small(int64_t M, int64_t N, int64_t K, int64_t pad, int acc) {
    rt_rng r;
    rt_rng_seed(&r, (uint64_t)(M * 1009 + N * 31 + K * 7 + pad + acc));
    int64_t lda = K + pad, ldb = K + 2 * pad, ldc = N + pad;
    uint16_t *Ab = malloc((size_t)(M * lda + 1) * 2), *Bb = malloc((size_t)(N * ldb + 1) * 2);
    float *C = malloc((size_t)(M * ldc) * sizeof(float)), *C0 = malloc((size_t)(M * ldc) * sizeof(float));
    for (int64_t i = 0; i < M * lda + 1; i++)
        Ab[i] = (uint16_t)(rt_rng_u64(&r) & 0xbfff); /* finite, |x| < 2 */
    for (int64_t i = 0; i < N * ldb + 1; i++)
        Bb[i] = (uint16_t)(rt_rng_u64(&r) & 0xbfff);
    for (int64_t i = 0; i < M * ldc; i++)
        C[i] = C0[i] = (float)rt_rng_normal(&r);
    const uint16_t *A = Ab + (pad & 1), *B = Bb + (pad & 1); /* odd addresses when pad is odd */
    float *ws = malloc(kern_mm_bf16_small_ws(M) * sizeof(float));
    kern_mm_bf16_small(A, lda, B, ldb, C, ldc, M, N, K, acc, ws);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            if (j >= N) { /* the padding between rows of C is never written */
                cr_assert_eq(C[i * ldc + j], C0[i * ldc + j]);
                continue;
            }
            double s = acc ? C0[i * ldc + j] : 0, mag = fabs(s);
            for (int64_t k = 0; k < K; k++) {
                uint32_t a = (uint32_t)A[i * lda + k] << 16, b = (uint32_t)B[j * ldb + k] << 16;
                float fa, fb;
                memcpy(&fa, &a, 4);
                memcpy(&fb, &b, 4);
                s += (double)fa * fb;
                mag += fabs((double)fa * fb);
            }
            cr_assert(fabs(C[i * ldc + j] - s) <= 1e-6 * mag + 1e-30,
                      "M%lld N%lld K%lld: C[%lld,%lld] = %.9g, want %.9g", (long long)M, (long long)N, (long long)K,
                      (long long)i, (long long)j, C[i * ldc + j], s);
        }
    free(ws);
    free(Ab);
    free(Bb);
    free(C);
    free(C0);
}

Test(kernels, mm_bf16_small_against_f64) {
    if (!kern_mm_bf16_small_available()) cr_skip_test("no AVX2 + FMA on this CPU");
    for (int64_t M = 1; M <= 70; M++)
        check_small(M, 7, 19, M % 3, M & 1);
    const int64_t ns[] = {1, 2, 3, 5, 23, 24, 25, 49}, ks[] = {1, 7, 8, 9, 33, 1023, 1025, 2051};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++) {
            check_small(5, ns[a], ks[b], (int64_t)(a + b) % 3, (int)b & 1);
            check_small(64, ns[a], ks[b], 1, (int)a & 1);
        }
}

/* kern_gemm_run sends few-row X.W^T products to kern_mm_bf16_small where bf16 is widened, and splits them over the
 * threads by columns: the split slices (N off multiples of 16, odd K) still match the f64 product. */
Test(kernels, gemm_bf16_small_rows_split) {
    check_gemm(KERN_BF16, 0, 1, 64, 1000, 129, 0);
    check_gemm(KERN_BF16, 0, 1, KERN_SMALL_MAX_M, 301, 77, 1);
    check_gemm(KERN_BF16, 0, 1, KERN_SMALL_MAX_M + 1, 301, 77, 1);
    check_gemm(KERN_BF16, 0, 1, 1, 5003, 31, 1);
}

Test(kernels, simd_versions_agree) {
    rt_rng r;
    rt_rng_seed(&r, 5);
    float *a = randv(&r, 77, 1), *b = randv(&r, 77, 1);
    double ref = dotw(a, b, 77);
    const char *isas[] = {"generic", "avx2", "avx512"};
    for (int i = 0; i < 3; i++) {
        if (!kern_simd_force(isas[i])) continue;
        for (int64_t n = 0; n <= 77; n += 11) {
            double want = dotw(a, b, n);
            cr_assert(close_to(kern_simd_get()->dot(a, b, n), want, 1e-5, 1e-5), "%s dot n=%lld", isas[i], (long long)n);
            float y[77], y2[77];
            memcpy(y, b, sizeof y);
            kern_simd_get()->axpy(y, 0.5f, a, n);
            for (int64_t j = 0; j < 77; j++) y2[j] = j < n ? b[j] + 0.5f * a[j] : b[j];
            cr_assert_arr_eq(y, y2, sizeof y, "%s axpy n=%lld", isas[i], (long long)n);
        }
    }
    (void)ref;
    kern_simd_force("generic");
    if (!kern_simd_force("avx512")) kern_simd_force("avx2");
    free(a);
    free(b);
}

Test(kernels, bf16_rounding) {
    float in[6] = {1.0f, 1.00390625f /* halfway: to even (1.0) */, 1.01171875f /* halfway: up */, -2.5f, INFINITY, NAN};
    uint16_t out[6];
    kern_to_bf16(out, in, 6);
    cr_assert_eq(out[0], 0x3f80);
    cr_assert_eq(out[1], 0x3f80);
    cr_assert_eq(out[2], 0x3f82);
    cr_assert_eq(out[3], 0xc020);
    cr_assert_eq(out[4], 0x7f80);
    cr_assert((out[5] & 0x7f80) == 0x7f80 && (out[5] & 0x7f));
}

/* ---- finite differences ---- */

typedef double (*loss_fn)(void *ctx); /* reads the inputs the test perturbs */

/* Checks analytic gradient g[n] of loss over x[n] by central differences. */
static void fd_check(const char *what, loss_fn f, void *ctx, float *x, const float *g, int64_t n, double h) {
    for (int64_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + (float)h;
        double lp = f(ctx);
        x[i] = keep - (float)h;
        double lm = f(ctx);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h);
        cr_assert(close_to(fd, g[i], 2e-2, 2e-3), "%s: d/dx[%lld]: finite difference %g, backward %g", what,
                  (long long)i, fd, g[i]);
    }
}

typedef struct rms_t {
    float *x, *w, *c, *y, *rstd;
    int64_t N, C;
} rms_t;
static double rms_loss(void *v) {
    rms_t *t = v;
    kern_rmsnorm_fwd(t->y, t->rstd, t->x, t->w, t->N, t->C, 1e-5f);
    return dotw(t->y, t->c, t->N * t->C);
}

Test(kernels, rmsnorm_grad) {
    const char *isas[3] = {"generic", "avx2", "avx512"};
    for (int k = 0; k < 3; k++) {
    if (!kern_simd_force(isas[k])) continue;
    rt_rng r;
    rt_rng_seed(&r, 1);
    int64_t N = 5, C = 40; /* two vectors of 16 and a tail */
    rms_t t = {randv(&r, N * C, 1), randv(&r, C, 1), randv(&r, N * C, 1), malloc(N * C * 4), malloc(N * 4), N, C};
    /* forward against the definition */
    rms_loss(&t);
    for (int64_t i = 0; i < N; i++) {
        double ss = 0;
        for (int64_t j = 0; j < C; j++) ss += (double)t.x[i * C + j] * t.x[i * C + j];
        double rs = 1 / sqrt(ss / C + 1e-5);
        for (int64_t j = 0; j < C; j++) cr_assert(close_to(t.y[i * C + j], t.x[i * C + j] * rs * t.w[j], 1e-5, 1e-6));
    }
    float *dx = calloc(N * C, 4), *dw = calloc(C, 4);
    kern_rmsnorm_bwd(dx, dw, t.c, t.x, t.w, t.rstd, N, C);
    fd_check("rmsnorm x", rms_loss, &t, t.x, dx, N * C, 1e-2);
    fd_check("rmsnorm w", rms_loss, &t, t.w, dw, C, 1e-2);
    free(t.x), free(t.w), free(t.c), free(t.y), free(t.rstd), free(dx), free(dw);
    }
}

typedef struct rope_t {
    kern_rope rope;
    float *x, *tmp, *c;
    int64_t N, ld, nh;
    int64_t *pos;
} rope_t;
static double rope_loss(void *v) {
    rope_t *t = v;
    memcpy(t->tmp, t->x, (size_t)(t->N * t->ld) * 4);
    kern_rope_fwd(&t->rope, t->tmp, t->ld, t->N, t->nh, t->pos);
    return dotw(t->tmp, t->c, t->N * t->ld);
}

Test(kernels, rope_matches_rotate_half_and_grad) {
    rt_rng r;
    rt_rng_seed(&r, 2);
    rope_t t = {.N = 4, .ld = 20, .nh = 2}; /* 2 heads of 8 in rows of 20 (4 columns untouched) */
    cr_assert_eq(kern_rope_init(&t.rope, 8, 10000.0, 64, NULL), RT_OK);
    t.x = randv(&r, t.N * t.ld, 1);
    t.tmp = malloc((size_t)(t.N * t.ld) * 4);
    t.c = randv(&r, t.N * t.ld, 1);
    int64_t pos[4] = {0, 1, 7, 63};
    t.pos = pos;
    rope_loss(&t);
    for (int64_t n = 0; n < t.N; n++)
        for (int64_t h = 0; h < t.nh; h++)
            for (int64_t i = 0; i < 8; i++) {
                double ang = pos[n] * pow(10000.0, -(double)(2 * (i % 4)) / 8);
                const float *x = t.x + n * t.ld + h * 8;
                double rot = i < 4 ? -x[i + 4] : x[i - 4];
                double want = x[i] * cos(ang) + rot * sin(ang);
                cr_assert(close_to(t.tmp[n * t.ld + h * 8 + i], want, 1e-5, 1e-5), "rope n=%lld i=%lld", (long long)n,
                          (long long)i);
            }
    for (int64_t n = 0; n < t.N; n++)
        for (int64_t i = 16; i < 20; i++) cr_assert_eq(t.tmp[n * t.ld + i], t.x[n * t.ld + i]);
    float *g = malloc((size_t)(t.N * t.ld) * 4);
    memcpy(g, t.c, (size_t)(t.N * t.ld) * 4);
    kern_rope_bwd(&t.rope, g, t.ld, t.N, t.nh, t.pos);
    fd_check("rope", rope_loss, &t, t.x, g, t.N * t.ld, 1e-2);
    kern_rope_free(&t.rope);
    free(t.x), free(t.tmp), free(t.c), free(g);
}

typedef struct sw_t {
    float *gu, *a, *c;
    int64_t N, I;
} sw_t;
static double sw_loss(void *v) {
    sw_t *t = v;
    kern_swiglu_fwd(t->a, t->gu, t->N, t->I);
    return dotw(t->a, t->c, t->N * t->I);
}

Test(kernels, swiglu_grad) {
    const char *isas[3] = {"generic", "avx2", "avx512"};
    for (int k = 0; k < 3; k++) {
        if (!kern_simd_force(isas[k])) continue;
        rt_rng r;
        rt_rng_seed(&r, 3);
        const int64_t N = 3, I = 37; /* two vectors of 16 and a tail */
        sw_t t = {randv(&r, N * 2 * I, 2), malloc(N * I * 4), randv(&r, N * I, 1), N, I};
        sw_loss(&t);
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < I; j++) {
                double g = t.gu[i * 2 * I + j], u = t.gu[i * 2 * I + I + j];
                cr_assert(close_to(t.a[i * I + j], g / (1 + exp(-g)) * u, 1e-5, 1e-6), "%s", isas[k]);
            }
        float *d = malloc(N * 2 * I * 4);
        kern_swiglu_bwd(d, t.c, t.gu, N, I);
        fd_check("swiglu", sw_loss, &t, t.gu, d, N * 2 * I, 1e-2);
        free(t.gu), free(t.a), free(t.c), free(d);
    }
}

typedef struct lg_t {
    float *z, *tmp;
    int64_t V, y;
    double a, b;
} lg_t;
static double lg_loss(void *v) {
    lg_t *t = v;
    float ent, lse;
    float lp = kern_logits_stats(t->z, t->V, t->y, &ent, &lse);
    return t->a * lp + t->b * ent;
}

Test(kernels, logprob_entropy_grad) {
    rt_rng r;
    rt_rng_seed(&r, 4);
    lg_t t = {randv(&r, 13, 2), malloc(13 * 4), 13, 5, 0.7, -1.3};
    float ent, lse;
    float lp = kern_logits_stats(t.z, 13, 5, &ent, &lse);
    double s = 0, h = 0;
    for (int i = 0; i < 13; i++) s += exp(t.z[i]);
    for (int i = 0; i < 13; i++) h -= exp(t.z[i]) / s * (t.z[i] - log(s));
    cr_assert(close_to(lp, t.z[5] - log(s), 1e-6, 1e-6));
    cr_assert(close_to(ent, h, 1e-5, 1e-6));
    memcpy(t.tmp, t.z, 13 * 4);
    kern_logits_grad(t.tmp, 13, 5, lse, ent, (float)t.a, (float)t.b);
    fd_check("log-prob and entropy", lg_loss, &t, t.z, t.tmp, 13, 1e-2);
    free(t.z), free(t.tmp);
}

/* attention: sequences of lengths 5 and 3 (or 37, 3 and 20: blocks of 32 keys and padding), NH 4, KVH 2, HS 8 */
typedef struct at_t {
    float *qkv, *out, *lse, *c;
    kern_packing pk;
    int64_t NH, KVH, HS;
} at_t;
static double at_loss(void *v) {
    at_t *t = v;
    kern_attn_fwd(t->out, t->lse, t->qkv, &t->pk, t->NH, t->KVH, t->HS, NULL);
    return dotw(t->out, t->c, t->pk.start[t->pk.nseq] * t->NH * t->HS);
}

/* Runs forward against a naive float64 attention; with fd, backward against finite differences, else against the
 * backward of the generic version (dq_ref). */
static void attention_case(int64_t nseq, const int64_t *lens, int fd, float *dq_ref) {
    rt_rng r;
    rt_rng_seed(&r, 6);
    int64_t start[4] = {0}, pos[64], N = 0;
    for (int64_t s = 0; s < nseq; s++) {
        for (int64_t i = 0; i < lens[s]; i++) pos[N + i] = i;
        N += lens[s];
        start[s + 1] = N;
    }
    at_t t = {.NH = 4, .KVH = 2, .HS = 8, .pk = {nseq, start, pos}};
    int64_t ld = (4 + 4) * 8, A = 32;
    t.qkv = randv(&r, N * ld, 1);
    t.out = malloc((size_t)(N * A) * 4);
    t.lse = malloc((size_t)(N * 4) * 4);
    t.c = randv(&r, N * A, 1);
    at_loss(&t);
    for (int64_t s = 0; s < nseq; s++)
        for (int64_t h = 0; h < 4; h++)
            for (int64_t i = start[s]; i < start[s + 1]; i++) {
                double sc[64], mx = -1e30, sum = 0;
                int64_t g = h / 2;
                for (int64_t j = start[s]; j <= i; j++) {
                    sc[j] = dotw(t.qkv + i * ld + h * 8, t.qkv + j * ld + (4 + g) * 8, 8) / sqrt(8.0);
                    mx = fmax(mx, sc[j]);
                }
                for (int64_t j = start[s]; j <= i; j++) sum += exp(sc[j] - mx);
                cr_assert(close_to(t.lse[i * 4 + h], mx + log(sum), 1e-5, 1e-5));
                for (int64_t d = 0; d < 8; d++) {
                    double o = 0;
                    for (int64_t j = start[s]; j <= i; j++) o += exp(sc[j] - mx) / sum * t.qkv[j * ld + (6 + g) * 8 + d];
                    cr_assert(close_to(t.out[i * A + h * 8 + d], o, 1e-5, 1e-6), "%s: attention out[%lld,%lld,%lld]",
                              kern_simd_get()->isa, (long long)i, (long long)h, (long long)d);
                }
            }
    float *dqkv = calloc((size_t)(N * ld), 4);
    cr_assert_eq(kern_attn_bwd(dqkv, t.c, t.out, t.lse, t.qkv, &t.pk, 4, 2, 8, NULL), RT_OK);
    if (fd) fd_check("attention", at_loss, &t, t.qkv, dqkv, N * ld, 1e-2);
    if (dq_ref) {
        if (fd) memcpy(dq_ref, dqkv, (size_t)(N * ld) * 4);
        else
            for (int64_t i = 0; i < N * ld; i++)
                cr_assert(close_to(dqkv[i], dq_ref[i], 1e-5, 1e-6), "%s: dqkv[%lld] %g vs %g", kern_simd_get()->isa,
                          (long long)i, dqkv[i], dq_ref[i]);
    }
    free(t.qkv), free(t.out), free(t.lse), free(t.c), free(dqkv);
}

Test(kernels, attention_matches_naive_and_grad) {
    const int64_t short_lens[2] = {5, 3}, long_lens[3] = {37, 3, 20};
    float *ref = malloc(60 * 64 * 4);
    kern_simd_force("generic");
    attention_case(2, short_lens, 1, NULL);
    attention_case(3, long_lens, 1, ref);
    const char *isas[2] = {"avx2", "avx512"};
    for (int i = 0; i < 2; i++)
        if (kern_simd_force(isas[i])) attention_case(3, long_lens, 0, ref);
    free(ref);
}
