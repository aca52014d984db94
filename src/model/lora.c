/* LoRA adapters: the tensor table, initialisation, the low-rank products (forward and backward) and merging. */
#include "model/lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "kernels/matmul.h"

/* One adapter of a fused group: the rows [row0, row0+rows) of the group's output, its A [r, K] and B [rows, r]
 * (offsets in floats into params / grads). */
typedef struct lora_part {
    int target;
    int64_t row0, rows;
    size_t a, b;
} lora_part;

typedef struct lora_group {
    int n; /* adapters; their A's are back to back from part[0].a: [n*r, K] */
    lora_part part[3];
} lora_group;

struct model_lora {
    model_lora_cfg cfg;
    float scale;        /* alpha / r */
    lora_group *groups; /* [L * 4]: qkv, o, gu, down of each layer */
    float *u, *du;      /* scratch [M, 3r] */
    size_t cap;
    float *xd; /* scratch [M, K]: one adapter's dropped-out input (dropout only) */
    size_t xcap;
};

static const char *const target_names[MODEL_LORA_NTARGETS] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                              "gate_proj", "up_proj", "down_proj"};

const char *model_lora_target_name(int i) {
    return i >= 0 && i < MODEL_LORA_NTARGETS ? target_names[i] : "?";
}

void model_lora_targets_str(unsigned targets, char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < MODEL_LORA_NTARGETS && n < cap; i++)
        if (targets & (1u << i)) n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", target_names[i]);
}

rt_status model_lora_parse_targets(const char *list, unsigned *out, rt_error *err) {
    *out = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < MODEL_LORA_NTARGETS && found < 0; i++) {
            size_t short_len = strlen(target_names[i]) - 5; /* "q" of "q_proj" */
            if ((n == short_len || n == strlen(target_names[i])) && !strncmp(p, target_names[i], n)) found = i;
        }
        if (found < 0)
            return rt_err_set(err, RT_EINVAL,
                              "--lora-targets: '%.*s' is not one of q, k, v, o, gate, up, down (or q_proj, ...)",
                              (int)n, p);
        *out |= 1u << found;
        p += n;
        if (*p == ',') p++;
    }
    if (!*out) return rt_err_set(err, RT_EINVAL, "--lora-targets: empty list");
    return RT_OK;
}

rt_status model_lora_check(const model_lora_cfg *cfg, rt_error *err) {
    if (cfg->rank <= 0 || cfg->rank > 4096)
        return rt_err_set(err, RT_EINVAL, "lora rank %d: expected 1 .. 4096", cfg->rank);
    if (!(cfg->alpha > 0) || !isfinite(cfg->alpha))
        return rt_err_set(err, RT_EINVAL, "lora alpha %g: expected a positive number", cfg->alpha);
    if (!cfg->targets || (cfg->targets & ~(unsigned)MODEL_LORA_ALL))
        return rt_err_set(err, RT_EINVAL, "lora targets: none or unknown");
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return rt_err_set(err, RT_EINVAL, "lora dropout %g: expected 0 <= p < 1", cfg->dropout);
    return RT_OK;
}

/* The targets of group kind w, their output rows, and the group's K. */
static int group_targets(const model *m, model_wkind w, int *tg, int64_t *rows) {
    const model_config *c = &m->cfg;
    int64_t Q = c->num_heads * c->head_dim, KV = c->num_kv_heads * c->head_dim, C = c->hidden_size;
    int64_t I = c->intermediate_size;
    switch (w) {
    case MODEL_W_QKV:
        tg[0] = 0, tg[1] = 1, tg[2] = 2, rows[0] = Q, rows[1] = KV, rows[2] = KV;
        return 3;
    case MODEL_W_O:
        tg[0] = 3, rows[0] = C;
        return 1;
    case MODEL_W_GU:
        tg[0] = 4, tg[1] = 5, rows[0] = I, rows[1] = I;
        return 2;
    case MODEL_W_DOWN:
        tg[0] = 6, rows[0] = C;
        return 1;
    default:
        return 0;
    }
}

size_t model_lora_ntensors(const model *m, const model_lora_cfg *cfg) {
    size_t n = 0;
    for (int i = 0; i < MODEL_LORA_NTARGETS; i++)
        if (cfg->targets & (1u << i)) n += 2;
    return n * (size_t)m->cfg.num_layers;
}

static void peft_name(char *out, size_t cap, int64_t l, int target, char ab) {
    snprintf(out, cap, "base_model.model.model.layers.%lld.%s.%s.lora_%c.weight", (long long)l,
             target < 4 ? "self_attn" : "mlp", target_names[target], ab);
}

rt_status model_lora_build(model *m, const model_lora_cfg *cfg, size_t *off, rt_error *err) {
    rt_status st = model_lora_check(cfg, err);
    if (st) return st;
    model_lora *lo = calloc(1, sizeof *lo);
    if (lo) lo->groups = calloc((size_t)m->cfg.num_layers * 4, sizeof *lo->groups);
    if (!lo || !lo->groups) {
        free(lo);
        return rt_err_set(err, RT_ENOMEM, "no memory for the LoRA table");
    }
    lo->cfg = *cfg;
    lo->scale = (float)(cfg->alpha / cfg->rank);
    m->lora = lo;
    int64_t r = cfg->rank;
    char name[96];
    for (int64_t l = 0; l < m->cfg.num_layers; l++)
        for (int w = 0; w < 4; w++) {
            lora_group *g = &lo->groups[l * 4 + w];
            int tg[3];
            int64_t rows[3], N, K, row0 = 0;
            int n = group_targets(m, (model_wkind)w, tg, rows);
            model_wshape(m, (model_wkind)w, &N, &K);
            for (int i = 0; i < n; i++) {
                if (cfg->targets & (1u << tg[i])) g->part[g->n++] = (lora_part){tg[i], row0, rows[i], 0, 0};
                row0 += rows[i];
            }
            for (int i = 0; i < g->n; i++) { /* A's back to back (one product), then each B */
                size_t o = *off;
                peft_name(name, sizeof name, l, g->part[i].target, 'A');
                g->part[i].a = model_add_tensor(m, off, name, 2, r, K, 1);
                if (i + 1 < g->n) *off = o + (size_t)(r * K);
            }
            for (int i = 0; i < g->n; i++) {
                peft_name(name, sizeof name, l, g->part[i].target, 'B');
                g->part[i].b = model_add_tensor(m, off, name, 2, g->part[i].rows, r, 1);
            }
        }
    return RT_OK;
}

const model_lora_cfg *model_lora_config(const model *m) {
    return m->lora ? &m->lora->cfg : NULL;
}

void model_lora_free(model *m) {
    if (!m->lora) return;
    free(m->lora->groups);
    free(m->lora->u);
    free(m->lora->du);
    free(m->lora->xd);
    free(m->lora);
    m->lora = NULL;
}

void model_lora_init_random(model *m, uint64_t seed) {
    rt_rng root;
    rt_rng_seed(&root, seed);
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        if (strstr(t->name, ".lora_A.")) {
            rt_rng rr = rt_rng_split(&root, i);
            double bound = 1.0 / sqrt((double)t->shape[1]);
            for (size_t j = 0; j < t->numel; j++)
                p[j] = (float)((2 * rt_rng_uniform(&rr) - 1) * bound);
        } else if (strstr(t->name, ".lora_B.")) {
            memset(p, 0, t->numel * sizeof(float));
        }
    }
}

static rt_status scratch(model_lora *lo, size_t n, rt_error *err) {
    if (n <= lo->cap) return RT_OK;
    free(lo->u);
    free(lo->du);
    lo->u = malloc(n * sizeof(float));
    lo->du = malloc(n * sizeof(float));
    lo->cap = lo->u && lo->du ? n : 0;
    if (!lo->cap) return rt_err_set(err, RT_ENOMEM, "no memory for the LoRA products");
    return RT_OK;
}

static const lora_group *group_of(const model *m, int64_t l, model_wkind w) {
    if (!m->lora || w == MODEL_W_HEAD) return NULL;
    const lora_group *g = &m->lora->groups[l * 4 + w];
    return g->n ? g : NULL;
}

/* C[M,N] (+)= op(A) . op(B) in f32 with leading dimensions. */
static rt_status gemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                      int64_t ldb, float *C, int64_t ldc, int acc, rt_error *err) {
    kern_gemm g = {KERN_F32, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc};
    return kern_gemm_run(&g, err);
}

/* SplitMix64's finaliser: a bijective mix of 64 bits. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void lora_dropout_apply(uint64_t key, double p, int64_t l, int target, int64_t M, int64_t K, const float *x,
                        float *out) {
    /* element (r, c) is kept when 32 bits hashed from (key, l, target, r, c / 2) are >= p * 2^32 */
    uint64_t thr = (uint64_t)(p * 4294967296.0), base = mix64(key ^ mix64(((uint64_t)l << 8 | (uint64_t)target) + 1));
    float keep = (float)(1.0 / (1.0 - p));
    for (int64_t r = 0; r < M; r++) {
        uint64_t rk = mix64(base + (uint64_t)r * 0x9e3779b97f4a7c15ull);
        const float *xr = x ? x + r * K : NULL;
        float *o = out + r * K;
        for (int64_t c = 0; c < K; c += 2) {
            uint64_t h = mix64(rk ^ ((uint64_t)c * 0xd1b54a32d192ed03ull));
            o[c] = (h & 0xffffffffull) >= thr ? (xr ? xr[c] * keep : keep) : 0.0f;
            if (c + 1 < K) o[c + 1] = (h >> 32) >= thr ? (xr ? xr[c + 1] * keep : keep) : 0.0f;
        }
    }
}

/* Whether m's products apply LoRA dropout now (a training pass with a key and a positive probability). */
static int dropping(const model *m) {
    return m->lora_dropout_key != 0 && m->lora->cfg.dropout > 0;
}

static rt_status scratch_x(model_lora *lo, size_t n, rt_error *err) {
    if (n <= lo->xcap) return RT_OK;
    free(lo->xd);
    lo->xd = malloc(n * sizeof(float));
    lo->xcap = lo->xd ? n : 0;
    if (!lo->xcap) return rt_err_set(err, RT_ENOMEM, "no memory for the LoRA dropout input");
    return RT_OK;
}

/* u_i [M, r] = (alpha/r) dropout_i(x) A_i^T for each adapter i of g, at lo->u + i M r (each its own mask, as PEFT's
 * one nn.Dropout per module). */
static rt_status dropped_products(const model *m, const lora_group *g, const float *x, int64_t l, int64_t M, int64_t K,
                                  rt_error *err) {
    model_lora *lo = m->lora;
    int64_t r = lo->cfg.rank;
    rt_status st = scratch_x(lo, (size_t)(M * K), err);
    for (int i = 0; i < g->n && !st; i++) {
        lora_dropout_apply(m->lora_dropout_key, lo->cfg.dropout, l, g->part[i].target, M, K, x, lo->xd);
        st = kern_mm_xwt(KERN_F32, lo->u + i * M * r, lo->xd, m->params + g->part[i].a, M, r, K, 0, err);
    }
    for (int64_t i = 0; !st && i < M * g->n * r; i++)
        lo->u[i] *= lo->scale;
    return st;
}

rt_status lora_forward(const model *m, float *out, const float *x, int64_t l, model_wkind w, int64_t M, rt_error *err) {
    const lora_group *g = group_of(m, l, w);
    if (!g) return RT_OK;
    model_lora *lo = m->lora;
    int64_t r = lo->cfg.rank, R = g->n * r, N, K;
    model_wshape(m, w, &N, &K);
    rt_status st = scratch(lo, (size_t)(M * R), err);
    if (st) return st;
    int drop = dropping(m);
    /* without dropout, one product for the group: u [M, R] = s x [A_0; A_1; ...]^T; with it, u_i [M, r] each */
    int64_t ldu = drop ? r : R, stride = drop ? M * r : r;
    if (drop)
        st = dropped_products(m, g, x, l, M, K, err);
    else
        st = kern_mm_xwt(KERN_F32, lo->u, x, m->params + g->part[0].a, M, R, K, 0, err);
    for (int64_t i = 0; !drop && !st && i < M * R; i++)
        lo->u[i] *= lo->scale;
    for (int i = 0; i < g->n && !st; i++) {
        const lora_part *p = &g->part[i];
        st = gemm(0, 1, M, p->rows, r, lo->u + i * stride, ldu, m->params + p->b, r, out + p->row0, N, 1, err);
    }
    return st;
}

/* Backward of one adapter i of g under dropout, its u_i already in lo->u: dB_i, dA_i = du_i^T dropout_i(x), and
 * dx += dropout_i(du_i A_i) (the same mask). */
static rt_status dropped_backward(model *m, const lora_group *g, int i, float *dx, const float *dy, const float *x,
                                  int64_t l, int64_t M, int64_t N, int64_t K, rt_error *err) {
    model_lora *lo = m->lora;
    const lora_part *p = &g->part[i];
    int64_t r = lo->cfg.rank;
    float *u = lo->u + i * M * r, *du = lo->du + i * M * r;
    double pr = lo->cfg.dropout;
    rt_status st = gemm(1, 0, p->rows, r, M, dy + p->row0, N, u, r, m->grads + p->b, r, 1, err);
    if (!st) st = gemm(0, 0, M, r, p->rows, dy + p->row0, N, m->params + p->b, r, du, r, 0, err);
    if (st) return st;
    for (int64_t j = 0; j < M * r; j++)
        du[j] *= lo->scale;
    lora_dropout_apply(m->lora_dropout_key, pr, l, p->target, M, K, x, lo->xd);
    if ((st = kern_mm_dw(KERN_F32, m->grads + p->a, du, lo->xd, M, r, K, 1, err)) != RT_OK || !dx) return st;
    if ((st = kern_mm_dx(KERN_F32, lo->xd, du, m->params + p->a, M, r, K, 0, err)) != RT_OK) return st;
    lora_dropout_apply(m->lora_dropout_key, pr, l, p->target, M, K, lo->xd, lo->xd);
    for (int64_t j = 0; j < M * K; j++)
        dx[j] += lo->xd[j];
    return RT_OK;
}

rt_status lora_backward(model *m, float *dx, const float *dy, const float *x, int64_t l, model_wkind w, int64_t M,
                        rt_error *err) {
    const lora_group *g = group_of(m, l, w);
    if (!g) return RT_OK;
    model_lora *lo = m->lora;
    int64_t r = lo->cfg.rank, R = g->n * r, N, K;
    model_wshape(m, w, &N, &K);
    const float *A = m->params + g->part[0].a;
    rt_status st = scratch(lo, (size_t)(M * R), err);
    if (!st && dropping(m)) { /* u_i recomputed with the forward's masks (the same key) */
        st = dropped_products(m, g, x, l, M, K, err);
        for (int i = 0; i < g->n && !st; i++)
            st = dropped_backward(m, g, i, dx, dy, x, l, M, N, K, err);
        return st;
    }
    if (!st) st = kern_mm_xwt(KERN_F32, lo->u, x, A, M, R, K, 0, err); /* u = x A^T, recomputed */
    if (st) return st;
    for (int64_t i = 0; i < M * R; i++)
        lo->u[i] *= lo->scale;
    for (int i = 0; i < g->n && !st; i++) {
        const lora_part *p = &g->part[i];
        /* dB += dy_p^T (s u_p);  du_p = dy_p B */
        st = gemm(1, 0, p->rows, r, M, dy + p->row0, N, lo->u + i * r, R, m->grads + p->b, r, 1, err);
        if (!st) st = gemm(0, 0, M, r, p->rows, dy + p->row0, N, m->params + p->b, r, lo->du + i * r, R, 0, err);
    }
    if (st) return st;
    for (int64_t i = 0; i < M * R; i++)
        lo->du[i] *= lo->scale;
    if ((st = kern_mm_dw(KERN_F32, m->grads + g->part[0].a, lo->du, x, M, R, K, 1, err)) != RT_OK) return st;
    return dx ? kern_mm_dx(KERN_F32, dx, lo->du, A, M, R, K, 1, err) : RT_OK;
}
