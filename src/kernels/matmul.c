/* oneDNN matmul: a per-thread cache of primitives keyed by slice shape, transposes, dtype and accumulation, each with
 * its memory objects created once (only the data handles change per call). */
#include "kernels/matmul.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/pool.h"

#define CACHE_SLOTS 512

typedef struct gemm_key {
    int64_t M, N, K, lda, ldb, ldc;
    int dtype, trans_a, trans_b, accumulate;
} gemm_key;

typedef struct gemm_entry {
    int used;
    gemm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} gemm_entry;

typedef struct gemm_cache {
    gemm_entry slots[CACHE_SLOTS];
    size_t nused;
    dnnl_stream_t stream;
    float *wide[2]; /* A and B widened from bf16 to f32, where oneDNN has no bf16 matmul for this CPU */
    size_t wide_cap[2];
} gemm_cache;

static dnnl_engine_t g_engine;
static pthread_once_t g_engine_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static gemm_cache **g_caches; /* every thread's cache, so that they stay reachable and can be cleared */
static size_t g_ncaches;
static _Thread_local gemm_cache *t_cache;
static char g_impl[2][256];

static void engine_init(void) {
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) g_engine = NULL;
}

static gemm_cache *cache_get(void) {
    if (t_cache) return t_cache;
    gemm_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (dnnl_stream_create(&c->stream, g_engine, dnnl_stream_default_flags) != dnnl_success) {
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&g_reg_mu);
    gemm_cache **grown = realloc(g_caches, (g_ncaches + 1) * sizeof *grown);
    if (!grown) {
        pthread_mutex_unlock(&g_reg_mu);
        dnnl_stream_destroy(c->stream);
        free(c);
        return NULL;
    }
    g_caches = grown;
    g_caches[g_ncaches++] = c;
    pthread_mutex_unlock(&g_reg_mu);
    t_cache = c;
    return c;
}

static void entry_free(gemm_entry *e) {
    if (!e->used) return;
    dnnl_primitive_destroy(e->prim);
    dnnl_memory_destroy(e->a);
    dnnl_memory_destroy(e->b);
    dnnl_memory_destroy(e->c);
    memset(e, 0, sizeof *e);
}

void kern_gemm_cache_clear(void) {
    pthread_mutex_lock(&g_reg_mu);
    for (size_t i = 0; i < g_ncaches; i++) {
        for (size_t s = 0; s < CACHE_SLOTS; s++)
            entry_free(&g_caches[i]->slots[s]);
        g_caches[i]->nused = 0;
        for (int w = 0; w < 2; w++) {
            free(g_caches[i]->wide[w]);
            g_caches[i]->wide[w] = NULL;
            g_caches[i]->wide_cap[w] = 0;
        }
    }
    pthread_mutex_unlock(&g_reg_mu);
}

static uint64_t key_hash(const gemm_key *k) {
    const int64_t v[10] = {k->M, k->N, k->K, k->lda, k->ldb, k->ldc, k->dtype, k->trans_a, k->trans_b, k->accumulate};
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 10; i++)
        h = (h ^ (uint64_t)v[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static int key_eq(const gemm_key *a, const gemm_key *b) {
    return a->M == b->M && a->N == b->N && a->K == b->K && a->lda == b->lda && a->ldb == b->ldb && a->ldc == b->ldc &&
           a->dtype == b->dtype && a->trans_a == b->trans_a && a->trans_b == b->trans_b &&
           a->accumulate == b->accumulate;
}

static rt_status entry_create(gemm_entry *e, const gemm_key *k, rt_error *err) {
    dnnl_data_type_t in_dt = k->dtype == KERN_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_dims_t a_dims = {k->M, k->K}, b_dims = {k->K, k->N}, c_dims = {k->M, k->N};
    dnnl_dims_t a_str = {k->trans_a ? 1 : k->lda, k->trans_a ? k->lda : 1};
    dnnl_dims_t b_str = {k->trans_b ? 1 : k->ldb, k->trans_b ? k->ldb : 1};
    dnnl_dims_t c_str = {k->ldc, 1};
    dnnl_status_t st = dnnl_memory_desc_init_by_strides(&a_md, 2, a_dims, in_dt, a_str);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_strides(&b_md, 2, b_dims, in_dt, b_str);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_strides(&c_md, 2, c_dims, dnnl_f32, c_str);
    dnnl_matmul_desc_t md;
    if (st == dnnl_success) st = dnnl_matmul_desc_init(&md, &a_md, &b_md, NULL, &c_md);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success && k->accumulate) {
        st = dnnl_post_ops_create(&po);
        if (st == dnnl_success) st = dnnl_post_ops_append_sum(po, 1.0f);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success)
        return rt_err_set(err, k->dtype == KERN_BF16 ? RT_EUNSUPPORTED : RT_EINTERNAL,
                          "oneDNN cannot create a %s matmul %lldx%lldx%lld (status %d)",
                          k->dtype == KERN_BF16 ? "bf16" : "f32", (long long)k->M, (long long)k->N, (long long)k->K,
                          (int)st);
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(g_impl[k->dtype], sizeof g_impl[k->dtype], "%s", impl);
    st = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success)
        return rt_err_set(err, RT_EINTERNAL, "oneDNN primitive creation failed (status %d)", (int)st);
    if (dnnl_memory_create(&e->a, &a_md, g_engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&e->b, &b_md, g_engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&e->c, &c_md, g_engine, DNNL_MEMORY_NONE) != dnnl_success) {
        e->used = 1;
        entry_free(e);
        return rt_err_set(err, RT_ENOMEM, "oneDNN memory object creation failed");
    }
    e->key = *k;
    e->used = 1;
    return RT_OK;
}

/* A capability of the CPU as oneDNN sees it, never whether a product succeeded: a bf16 product that fails where this
 * says yes is a bug to report, not a reason to widen. oneDNN runs bf16 matmul on x86-64 from AVX-512 (avx512_core,
 * converting in software where the CPU has no AVX512_BF16 or AMX-BF16; its cpu/platform.cpp, has_data_type_support),
 * and from version 3 also on AVX2-VNNI-2. The effective ISA honours DNNL_MAX_CPU_ISA, as oneDNN's own choice does.
 * The ISA values are bit masks: an ISA includes those whose bits it holds. */
#if defined(__x86_64__)
static int isa_has(dnnl_cpu_isa_t isa, unsigned want) {
    return ((unsigned)isa & want) == want;
}
#endif

static int bf16_native_isa(void) {
#if defined(__x86_64__)
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (isa_has(isa, (unsigned)dnnl_cpu_isa_avx512_core)) return 1;
#if DNNL_VERSION_MAJOR >= 3
    if (isa_has(isa, (unsigned)dnnl_cpu_isa_avx2_vnni_2)) return 1;
#endif
#endif
    return 0;
}

static int g_bf16_native = -1;
static void bf16_probe(void) {
    g_bf16_native = bf16_native_isa();
    if (!g_bf16_native)
        snprintf(g_impl[KERN_BF16], sizeof g_impl[KERN_BF16], "%s",
                 kern_mm_bf16_small_available()
                     ? "bf16: X.W^T of few rows on retool's AVX2 kernel (widened in registers), others widened to f32, "
                       "then oneDNN f32 (oneDNN has no bf16 matmul for this CPU)"
                     : "bf16 widened to f32, then oneDNN f32 (oneDNN has no bf16 matmul for this CPU)");
}

int kern_bf16_native(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, bf16_probe);
    return g_bf16_native;
}

/* Copies the rows x cols bf16 matrix at src (row stride ld) into the cache's f32 buffer w, packed (stride cols).
 * bf16 to f32 is exact, so the product of the widened operands is the bf16 product with f32 accumulation. */
static const float *widen(gemm_cache *c, int w, const uint16_t *src, int64_t rows, int64_t cols, int64_t ld) {
    size_t need = (size_t)rows * (size_t)cols;
    if (need > c->wide_cap[w]) {
        float *grown = realloc(c->wide[w], need * sizeof(float));
        if (!grown) return NULL;
        c->wide[w] = grown;
        c->wide_cap[w] = need;
    }
    float *dst = c->wide[w];
    for (int64_t r = 0; r < rows; r++) {
        const uint16_t *s = src + r * ld;
        float *d = dst + r * cols;
        for (int64_t j = 0; j < cols; j++) {
            uint32_t bits = (uint32_t)s[j] << 16;
            memcpy(&d[j], &bits, sizeof bits);
        }
    }
    return dst;
}

static rt_status gemm_one(const gemm_key *k, const void *A, const void *B, float *C, rt_error *err);

/* 1 when a bf16 product runs on kern_mm_bf16_small: few rows of X.W^T, no native bf16 matmul, AVX2 + FMA. */
static int use_small(const gemm_key *k) {
    return k->dtype == KERN_BF16 && !k->trans_a && k->trans_b && k->M <= KERN_SMALL_MAX_M && !kern_bf16_native() &&
           kern_mm_bf16_small_available();
}

/* A bf16 product of few rows on kern_mm_bf16_small, its workspace the cache's first widening buffer. */
static rt_status gemm_small(gemm_cache *c, const gemm_key *k, const void *A, const void *B, float *C, rt_error *err) {
    size_t need = kern_mm_bf16_small_ws(k->M);
    if (need > c->wide_cap[0]) {
        float *grown = realloc(c->wide[0], need * sizeof(float));
        if (!grown)
            return rt_err_set(err, RT_ENOMEM, "no memory for the workspace of a %lld-row bf16 product",
                              (long long)k->M);
        c->wide[0] = grown;
        c->wide_cap[0] = need;
    }
    kern_mm_bf16_small(A, k->lda, B, k->ldb, C, k->ldc, k->M, k->N, k->K, k->accumulate, c->wide[0]);
    return RT_OK;
}

/* Floats in one widened operand at most: larger products run block by block (bounded memory: the lm head of a
 * 150k-token vocabulary widened whole would take 4 bytes a weight). */
#define WIDE_MAX ((int64_t)1 << 22)

/* Rows of a block of a dimension of size n whose operand rows are k floats long: all of n when it fits. */
static int64_t wide_block(int64_t n, int64_t k) {
    if (n * k <= WIDE_MAX) return n;
    int64_t b = WIDE_MAX / k / 16 * 16;
    return b < 16 ? 16 : b;
}

/* Widened B blocks of at most this many bytes (stay in L2 between widening and use) for products of few rows. */
#define WIDE_BLOCK_BYTES ((int64_t)256 << 10)

/* K per block where the reduction is long (the lm_head's input gradient sums over the vocabulary): blocks of K keep
 * the row and column blocks wide, so that each operand is widened about once instead of once per block of the other. */
#define WIDE_K_BLOCK ((int64_t)4096)

/* A bf16 product on a CPU without a oneDNN bf16 matmul: both operands widened to f32 (packed), then the f32 matmul,
 * in blocks of rows of C (M), columns (N) and, when K is long, of K (accumulated into C), so that neither widened
 * operand exceeds WIDE_MAX floats. With few rows (decoding, an lm_head chunk) the product is compute-light and B (the
 * weight) large: B's column blocks are then small enough that the widened copy never leaves the cache. */
static rt_status gemm_widened(gemm_cache *c, const gemm_key *k, const void *A, const void *B, float *C, rt_error *err) {
    int64_t kb = k->K > 2 * WIDE_K_BLOCK ? WIDE_K_BLOCK : k->K;
    int64_t bm = wide_block(k->M, kb), bn = wide_block(k->N, kb);
    if (k->M <= KERN_WIDE_BLOCK_MAX_M) {
        int64_t nb = WIDE_BLOCK_BYTES / (kb * (int64_t)sizeof(float)) / 16 * 16;
        if (nb < 16) nb = 16;
        if (nb < bn) bn = nb;
    }
    rt_status st = RT_OK;
    for (int64_t k0 = 0; k0 < k->K && st == RT_OK; k0 += kb) {
        gemm_key f = *k;
        f.dtype = KERN_F32;
        f.K = k->K - k0 < kb ? k->K - k0 : kb;
        f.accumulate = k->accumulate || k0 > 0;
        for (int64_t m0 = 0; m0 < k->M && st == RT_OK; m0 += bm) {
            f.M = k->M - m0 < bm ? k->M - m0 : bm;
            const uint16_t *a = (const uint16_t *)A + (k->trans_a ? k0 * k->lda + m0 : m0 * k->lda + k0);
            int64_t a_rows = k->trans_a ? f.K : f.M, a_cols = k->trans_a ? f.M : f.K;
            f.lda = a_cols;
            const float *wa = widen(c, 0, a, a_rows, a_cols, k->lda); /* once per row block */
            for (int64_t n0 = 0; n0 < k->N && st == RT_OK; n0 += bn) {
                f.N = k->N - n0 < bn ? k->N - n0 : bn;
                const uint16_t *b = (const uint16_t *)B + (k->trans_b ? n0 * k->ldb + k0 : k0 * k->ldb + n0);
                int64_t b_rows = k->trans_b ? f.N : f.K, b_cols = k->trans_b ? f.K : f.N;
                f.ldb = b_cols;
                const float *wb = wa ? widen(c, 1, b, b_rows, b_cols, k->ldb) : NULL;
                if (!wa || !wb)
                    return rt_err_set(err, RT_ENOMEM, "no memory to widen a %lldx%lldx%lld bf16 product to f32",
                                      (long long)k->M, (long long)k->N, (long long)k->K);
                st = gemm_one(&f, wa, wb, C + m0 * k->ldc + n0, err);
            }
        }
    }
    return st;
}

/* Runs one slice on the calling thread. */
static rt_status gemm_one(const gemm_key *k, const void *A, const void *B, float *C, rt_error *err) {
    gemm_cache *c = cache_get();
    if (!c) return rt_err_set(err, RT_ENOMEM, "oneDNN stream creation failed");
    if (use_small(k)) return gemm_small(c, k, A, B, C, err);
    if (k->dtype == KERN_BF16 && !kern_bf16_native()) return gemm_widened(c, k, A, B, C, err);
    uint64_t h = key_hash(k);
    size_t slot = h % CACHE_SLOTS;
    gemm_entry *e = NULL;
    for (size_t p = 0; p < CACHE_SLOTS; p++) {
        gemm_entry *cand = &c->slots[(slot + p) % CACHE_SLOTS];
        if (!cand->used) {
            e = cand;
            break;
        }
        if (key_eq(&cand->key, k)) {
            e = cand;
            break;
        }
    }
    if (!e || (!e->used && c->nused >= CACHE_SLOTS / 2)) {
        /* Full: RL batches change shape every step, so drop everything and start over rather than grow forever. */
        for (size_t s = 0; s < CACHE_SLOTS; s++)
            entry_free(&c->slots[s]);
        c->nused = 0;
        e = &c->slots[slot];
    }
    if (!e->used) {
        rt_status s = entry_create(e, k, err);
        if (s != RT_OK) return s;
        c->nused++;
    }
    dnnl_memory_set_data_handle(e->a, (void *)A);
    dnnl_memory_set_data_handle(e->b, (void *)B);
    dnnl_memory_set_data_handle(e->c, C);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    dnnl_status_t st = dnnl_primitive_execute(e->prim, c->stream, 3, args);
    if (st == dnnl_success) st = dnnl_stream_wait(c->stream);
    if (st != dnnl_success) return rt_err_set(err, RT_EINTERNAL, "oneDNN matmul execution failed (status %d)", (int)st);
    return RT_OK;
}

typedef struct split_ctx {
    const kern_gemm *g;
    int split_m;
    int64_t part; /* rows (or columns) per slice */
    rt_status status;
    rt_error err;
    pthread_mutex_t mu;
} split_ctx;

static void split_task(void *vctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    split_ctx *s = vctx;
    const kern_gemm *g = s->g;
    size_t es = g->dtype == KERN_BF16 ? 2 : 4;
    for (int64_t i = begin; i < end; i++) {
        gemm_key k = {g->M, g->N, g->K, g->lda, g->ldb, g->ldc, g->dtype, g->trans_a, g->trans_b, g->accumulate};
        const char *A = g->A, *B = g->B;
        float *C = g->C;
        int64_t lo = i * s->part;
        if (s->split_m) {
            k.M = (lo + s->part <= g->M ? s->part : g->M - lo);
            A += (size_t)(g->trans_a ? lo : lo * g->lda) * es;
            C += lo * g->ldc;
        } else {
            k.N = (lo + s->part <= g->N ? s->part : g->N - lo);
            B += (size_t)(g->trans_b ? lo * g->ldb : lo) * es;
            C += lo;
        }
        rt_error e;
        rt_status st = gemm_one(&k, A, B, C, &e);
        if (st != RT_OK) {
            pthread_mutex_lock(&s->mu);
            if (s->status == RT_OK) {
                s->status = st;
                s->err = e;
            }
            pthread_mutex_unlock(&s->mu);
        }
    }
}

rt_status kern_gemm_run(const kern_gemm *g, rt_error *err) {
    pthread_once(&g_engine_once, engine_init);
    if (!g_engine) return rt_err_set(err, RT_EINTERNAL, "oneDNN CPU engine creation failed");
    kern_thread_setup(); /* a caller outside the pool runs oneDNN single-threaded too */
    if (g->M <= 0 || g->N <= 0) return RT_OK;
    if (g->K <= 0) {
        if (!g->accumulate)
            for (int64_t m = 0; m < g->M; m++)
                memset(g->C + m * g->ldc, 0, (size_t)g->N * sizeof(float));
        return RT_OK;
    }
    int nt = kern_threads();
    double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K;
    if (nt == 1 || flops < 2e6) {
        gemm_key k = {g->M, g->N, g->K, g->lda, g->ldb, g->ldc, g->dtype, g->trans_a, g->trans_b, g->accumulate};
        return gemm_one(&k, g->A, g->B, g->C, err);
    }
    /* Slice the larger of M and N (decoding's small M splits the weight rows, so each thread streams its own part
     * of the weights); slices are multiples of 16 for the kernels' blocking. */
    split_ctx s = {.g = g, .split_m = g->M >= g->N, .status = RT_OK, .mu = PTHREAD_MUTEX_INITIALIZER};
    int64_t dim = s.split_m ? g->M : g->N;
    int64_t part = (dim + nt - 1) / nt;
    part = (part + 15) / 16 * 16;
    s.part = part;
    int64_t nparts = (dim + part - 1) / part;
    kern_parallel_for(nparts, 1, split_task, &s);
    pthread_mutex_destroy(&s.mu);
    if (s.status != RT_OK && err) *err = s.err;
    return s.status;
}

rt_status kern_mm_xwt(kern_dtype dt, float *out, const void *x, const void *w, int64_t M, int64_t N, int64_t K,
                      int accumulate, rt_error *err) {
    kern_gemm g = {dt, 0, 1, M, N, K, x, K, w, K, out, N, accumulate};
    return kern_gemm_run(&g, err);
}

rt_status kern_mm_dx(kern_dtype dt, float *dx, const void *dy, const void *w, int64_t M, int64_t N, int64_t K,
                     int accumulate, rt_error *err) {
    kern_gemm g = {dt, 0, 0, M, K, N, dy, N, w, K, dx, K, accumulate};
    return kern_gemm_run(&g, err);
}

rt_status kern_mm_dw(kern_dtype dt, float *dw, const void *dy, const void *x, int64_t M, int64_t N, int64_t K,
                     int accumulate, rt_error *err) {
    kern_gemm g = {dt, 1, 0, N, K, M, dy, N, x, K, dw, K, accumulate};
    return kern_gemm_run(&g, err);
}

const char *kern_gemm_impl_name(kern_dtype dt) {
    return g_impl[dt == KERN_BF16][0] ? g_impl[dt == KERN_BF16] : "(none yet)";
}
