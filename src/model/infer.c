/* The KV cache (per sequence, per layer: keys transposed [KVH*HS][cap] so that decoding scores are long vector
 * operations, values as rows [cap][KVH*HS]; grown by a quarter at a time, up to a limit when one is set) and the
 * batched inference forward over new tokens of many sequences. */
#include "model/infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/pool.h"
#include "model/model_internal.h"

typedef struct kv_seq {
    int live;
    int64_t len, cap; /* cap: a multiple of KV_CAP_STEP */
    void **kt, **v;   /* [L] each: [KVH*HS][cap] (64-byte aligned rows) and [cap][KVH*HS], f32 or bf16 elements */
} kv_seq;

struct model_kv {
    const model *m;
    kv_seq *seqs;
    int64_t nseqs, seqs_cap;
    /* workspace for model_infer, sized for ws_cap tokens */
    int64_t ws_cap;
    float *x, *h, *qkv, *att, *gu, *act, *hl, *rstd;
    int64_t *pos, *seq_of;
    uint16_t *bf;
    kern_attn_seq *blk; /* [ws_cap] */
    kern_attn_dec *dec; /* [ws_cap] */
    int bf16;           /* keys and values stored as bf16 (model_kv_set_bf16) */
    int64_t limit;      /* most positions a sequence is expected to need (model_kv_set_seq_limit; 0: none) */
    float *cvt;         /* bf16 cache: f32 copies of the cached keys and values the blocked kernel reads */
    size_t cvt_cap;     /* floats */
};

rt_status model_kv_init(model_kv **kv, const model *m, rt_error *err) {
    *kv = calloc(1, sizeof **kv);
    if (!*kv) return rt_err_set(err, RT_ENOMEM, "kv cache: no memory");
    (*kv)->m = m;
    return RT_OK;
}

static void seq_release(model_kv *kv, kv_seq *s) {
    if (s->kt)
        for (int64_t l = 0; l < kv->m->cfg.num_layers; l++) {
            free(s->kt[l]);
            free(s->v[l]);
        }
    free(s->kt);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static void ws_free(model_kv *kv) {
    void *p[] = {kv->x,   kv->h,      kv->qkv, kv->att,     kv->gu, kv->act,
                 kv->hl,  kv->rstd,   kv->pos, kv->seq_of,  kv->bf, kv->blk, kv->dec};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
    kv->x = kv->h = kv->qkv = kv->att = kv->gu = kv->act = kv->hl = kv->rstd = NULL;
    kv->pos = kv->seq_of = NULL;
    kv->bf = NULL;
    kv->blk = NULL;
    kv->dec = NULL;
    kv->ws_cap = 0;
}

void model_kv_free(model_kv *kv) {
    if (!kv) return;
    for (int64_t i = 0; i < kv->nseqs; i++) seq_release(kv, &kv->seqs[i]);
    free(kv->seqs);
    ws_free(kv);
    free(kv->cvt);
    free(kv);
}

static size_t row_floats(const model *m) {
    return (size_t)(m->cfg.num_kv_heads * m->cfg.head_dim);
}

/* Bytes of one cached element. */
static size_t elem_size(const model_kv *kv) { return kv->bf16 ? sizeof(uint16_t) : sizeof(float); }

rt_status model_kv_set_bf16(model_kv *kv, int on, rt_error *err) {
    for (int64_t i = 0; i < kv->nseqs; i++)
        if (kv->seqs[i].live)
            return rt_err_set(err, RT_EINVAL, "kv cache: the element type cannot change while sequence %lld is live",
                              (long long)i);
    kv->bf16 = on != 0;
    return RT_OK;
}

int model_kv_is_bf16(const model_kv *kv) { return kv->bf16; }

void model_kv_set_seq_limit(model_kv *kv, int64_t tokens) { kv->limit = tokens > 0 ? tokens : 0; }

/* Positions of a sequence's cache are allocated in multiples of this (64-byte rows of keys in bf16 and f32). */
#define KV_CAP_STEP 64

static int64_t round_cap(int64_t n) { return (n + KV_CAP_STEP - 1) / KV_CAP_STEP * KV_CAP_STEP; }

int64_t model_kv_seq_capacity(int64_t cap, int64_t need, int64_t limit) {
    if (need <= cap) return cap;
    int64_t grown = round_cap(cap + cap / 4 > need ? cap + cap / 4 : need);
    /* a quarter at a time (amortised copies stay a few times the cache) and never past the limit a sequence stays in */
    if (limit > 0 && need <= round_cap(limit) && grown > round_cap(limit)) grown = round_cap(limit);
    return grown;
}

size_t model_kv_bytes(const model_kv *kv) {
    size_t per_pos = 2 * (size_t)kv->m->cfg.num_layers * row_floats(kv->m) * elem_size(kv), n = 0;
    for (int64_t i = 0; i < kv->nseqs; i++)
        if (kv->seqs[i].live) n += (size_t)kv->seqs[i].cap * per_pos;
    return n;
}

static rt_status seq_reserve(model_kv *kv, kv_seq *s, int64_t need, rt_error *err) {
    if (need <= s->cap) return RT_OK;
    int64_t cap = model_kv_seq_capacity(s->cap, need, kv->limit);
    size_t L = (size_t)kv->m->cfg.num_layers, rf = row_floats(kv->m), es = elem_size(kv);
    for (size_t l = 0; l < L; l++) {
        void *kt = NULL;
        if (posix_memalign(&kt, 64, rf * (size_t)cap * es) != 0)
            return rt_err_set(err, RT_ENOMEM, "kv cache: no memory for %lld positions", (long long)cap);
        for (size_t r = 0; r < rf && s->len; r++)
            memcpy((char *)kt + r * (size_t)cap * es, (char *)s->kt[l] + r * (size_t)s->cap * es, (size_t)s->len * es);
        free(s->kt[l]);
        s->kt[l] = kt;
        void *v = realloc(s->v[l], (size_t)cap * rf * es);
        if (!v) return rt_err_set(err, RT_ENOMEM, "kv cache: no memory for %lld positions", (long long)cap);
        s->v[l] = v;
    }
    s->cap = cap;
    return RT_OK;
}

rt_status model_seq_new(model_kv *kv, int64_t *id, rt_error *err) {
    int64_t i = 0;
    while (i < kv->nseqs && kv->seqs[i].live) i++;
    if (i == kv->nseqs) {
        if (kv->nseqs == kv->seqs_cap) {
            int64_t cap = kv->seqs_cap ? 2 * kv->seqs_cap : 16;
            kv_seq *g = realloc(kv->seqs, (size_t)cap * sizeof *g);
            if (!g) return rt_err_set(err, RT_ENOMEM, "kv cache: no memory for %lld sequences", (long long)cap);
            kv->seqs = g;
            kv->seqs_cap = cap;
        }
        memset(&kv->seqs[kv->nseqs++], 0, sizeof(kv_seq));
    }
    kv_seq *s = &kv->seqs[i];
    size_t L = (size_t)kv->m->cfg.num_layers;
    s->kt = calloc(L, sizeof(void *));
    s->v = calloc(L, sizeof(void *));
    if (!s->kt || !s->v) {
        seq_release(kv, s);
        return rt_err_set(err, RT_ENOMEM, "kv cache: no memory for a sequence");
    }
    s->live = 1;
    *id = i;
    return RT_OK;
}

static kv_seq *seq_get(const model_kv *kv, int64_t id) {
    return id >= 0 && id < kv->nseqs && kv->seqs[id].live ? &kv->seqs[id] : NULL;
}

rt_status model_seq_fork(model_kv *kv, int64_t src, int64_t *id, rt_error *err) {
    if (!seq_get(kv, src)) return rt_err_set(err, RT_EINVAL, "kv cache: sequence %lld is not live", (long long)src);
    rt_status st = model_seq_new(kv, id, err);
    if (st != RT_OK) return st;
    kv_seq *s = &kv->seqs[src], *d = &kv->seqs[*id]; /* seqs may have moved: take pointers after model_seq_new */
    if ((st = seq_reserve(kv, d, s->len, err)) != RT_OK) {
        model_seq_free(kv, *id);
        return st;
    }
    size_t rf = row_floats(kv->m), es = elem_size(kv), bytes = (size_t)s->len * rf * es;
    for (int64_t l = 0; l < kv->m->cfg.num_layers && bytes; l++) {
        for (size_t r = 0; r < rf; r++)
            memcpy((char *)d->kt[l] + r * (size_t)d->cap * es, (char *)s->kt[l] + r * (size_t)s->cap * es,
                   (size_t)s->len * es);
        memcpy(d->v[l], s->v[l], bytes);
    }
    d->len = s->len;
    return RT_OK;
}

void model_seq_free(model_kv *kv, int64_t id) {
    kv_seq *s = seq_get(kv, id);
    if (s) seq_release(kv, s);
}

int64_t model_seq_len(const model_kv *kv, int64_t id) {
    const kv_seq *s = seq_get(kv, id);
    return s ? s->len : -1;
}

rt_status model_seq_truncate(model_kv *kv, int64_t id, int64_t len, rt_error *err) {
    kv_seq *s = seq_get(kv, id);
    if (!s) return rt_err_set(err, RT_EINVAL, "kv cache: sequence %lld is not live", (long long)id);
    if (len < 0 || len > s->len)
        return rt_err_set(err, RT_ERANGE, "kv cache: cannot truncate sequence %lld of %lld tokens to %lld",
                          (long long)id, (long long)s->len, (long long)len);
    s->len = len;
    return RT_OK;
}

double model_infer_workspace_bytes(const model_config *c, int64_t tokens) {
    double C = (double)c->hidden_size, I = (double)c->intermediate_size, A = (double)(c->num_heads * c->head_dim);
    double Q = (double)((c->num_heads + 2 * c->num_kv_heads) * c->head_dim), W = C > Q ? C : Q;
    if (A > W) W = A;
    if (2 * I > W) W = 2 * I;
    double per = 4.0 * (3 * C + 1 + Q + A + 3 * I) + 2.0 * sizeof(int64_t) + 2.0 * W + sizeof(kern_attn_seq) +
                 sizeof(kern_attn_dec); /* as ws_reserve allocates them */
    return per * (double)tokens;
}

static rt_status ws_reserve(model_kv *kv, int64_t nt, rt_error *err) {
    if (nt <= kv->ws_cap) return RT_OK;
    int64_t cap = nt;
    ws_free(kv);
    const model *m = kv->m;
    size_t n = (size_t)cap, C = (size_t)m->cfg.hidden_size, I = (size_t)m->cfg.intermediate_size;
    size_t A = (size_t)(m->cfg.num_heads * m->cfg.head_dim), Q = (size_t)m->qkv_dim;
    size_t W = C > Q ? C : Q;
    if (A > W) W = A;
    if (2 * I > W) W = 2 * I;
    int ok = 1;
#define ALLOC(p, cnt) ok &= ((p) = malloc((size_t)(cnt) * sizeof *(p) + 64)) != NULL
    ALLOC(kv->x, n * C);
    ALLOC(kv->h, n * C);
    ALLOC(kv->hl, n * C);
    ALLOC(kv->rstd, n);
    ALLOC(kv->qkv, n * Q);
    ALLOC(kv->att, n * A);
    ALLOC(kv->gu, n * 2 * I);
    ALLOC(kv->act, n * I);
    ALLOC(kv->pos, n);
    ALLOC(kv->seq_of, n);
    ALLOC(kv->bf, n * W);
    ALLOC(kv->blk, n);
    ALLOC(kv->dec, n);
#undef ALLOC
    if (!ok) {
        ws_free(kv);
        return rt_err_set(err, RT_ENOMEM, "inference: no memory for a workspace of %lld tokens", (long long)nt);
    }
    kv->ws_cap = cap;
    return RT_OK;
}

/* Why model_infer cannot run these inputs (sequences live and distinct, tokens in the vocabulary, room in the
 * context), or RT_OK. */
static rt_status check_inputs(const model *m, const model_kv *kv, int64_t n, const int64_t *ids, const int64_t *off,
                              const int32_t *tokens, rt_error *err) {
    int64_t V = m->cfg.vocab_size;
    if (n <= 0) return rt_err_set(err, RT_EINVAL, "inference: no sequences");
    if (off[0] != 0) return rt_err_set(err, RT_EINVAL, "inference: off[0] must be 0");
    for (int64_t i = 0; i < n; i++) {
        kv_seq *s = seq_get(kv, ids[i]);
        if (!s) return rt_err_set(err, RT_EINVAL, "inference: sequence %lld is not live", (long long)ids[i]);
        for (int64_t j = 0; j < i; j++)
            if (ids[j] == ids[i]) return rt_err_set(err, RT_EINVAL, "inference: sequence %lld given twice", (long long)ids[i]);
        int64_t cnt = off[i + 1] - off[i];
        if (cnt <= 0) return rt_err_set(err, RT_EINVAL, "inference: no new tokens for sequence %lld", (long long)ids[i]);
        if (s->len + cnt > m->rope.max_pos)
            return rt_err_set(err, RT_ERANGE, "inference: sequence %lld would reach %lld tokens, above %lld positions",
                              (long long)ids[i], (long long)(s->len + cnt), (long long)m->rope.max_pos);
    }
    int64_t nt = off[n];
    for (int64_t r = 0; r < nt; r++)
        if (tokens[r] < 0 || tokens[r] >= V)
            return rt_err_set(err, RT_ERANGE, "inference: token %lld is %d, outside the vocabulary [0, %lld)",
                              (long long)r, tokens[r], (long long)V);
    return RT_OK;
}

/* model_infer over at most a workspace's worth of tokens (the caller slices larger calls). */
static rt_status infer_slice(model *m, model_kv *kv, int64_t n, const int64_t *ids, const int64_t *off,
                             const int32_t *tokens, float *logits, float *all_logits, rt_error *err) {
    const model_config *cfg = &m->cfg;
    int64_t C = cfg->hidden_size, I = cfg->intermediate_size, NH = cfg->num_heads;
    int64_t KVH = cfg->num_kv_heads, HS = cfg->head_dim, Q = m->qkv_dim, A = NH * HS, rf = KVH * HS;
    rt_status st = check_inputs(m, kv, n, ids, off, tokens, err);
    if (st) return st;
    int64_t nt = off[n];
    st = ws_reserve(kv, nt, err);
    for (int64_t i = 0; i < n && st == RT_OK; i++)
        st = seq_reserve(kv, seq_get(kv, ids[i]), seq_get(kv, ids[i])->len + off[i + 1] - off[i], err);
    if (st != RT_OK) return st;
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = off[i]; r < off[i + 1]; r++) {
            kv->seq_of[r] = i;
            kv->pos[r] = kv->seqs[ids[i]].len + (r - off[i]);
        }
    if (kv->bf16) { /* room for the f32 copies of the blocked runs' keys and values (one layer at a time) */
        size_t need = 0;
        for (int64_t i = 0; i < n; i++)
            if (off[i + 1] - off[i] >= 4)
                need += 2 * (size_t)rf * (size_t)((kv->seqs[ids[i]].len + off[i + 1] - off[i] + 15) / 16 * 16);
        if (need > kv->cvt_cap) {
            void *p = NULL;
            if (posix_memalign(&p, 64, need * sizeof(float)) != 0)
                return rt_err_set(err, RT_ENOMEM, "inference: no memory for %zu floats of cache copies", need);
            free(kv->cvt);
            kv->cvt = p;
            kv->cvt_cap = need;
        }
    }
    model_embed_rows(m, kv->x, tokens, nt);
    const model_views *F = model_fixed(m);
    float eps = (float)cfg->rms_norm_eps;
    for (int64_t l = 0; l < cfg->num_layers; l++) {
        const model_layer *P = &F->layers[l];
        kern_rmsnorm_fwd(kv->h, kv->rstd, kv->x, P->ln1, nt, C, eps);
        if ((st = model_lin(m, kv->qkv, kv->h, l, MODEL_W_QKV, nt, 0, kv->bf, err)) != RT_OK) return st;
        if (P->qkv_b)
            for (int64_t r = 0; r < nt; r++)
                for (int64_t j = 0; j < Q; j++) kv->qkv[r * Q + j] += P->qkv_b[j];
        kern_rope_fwd(&m->rope, kv->qkv, Q, nt, NH, kv->pos);
        kern_rope_fwd(&m->rope, kv->qkv + A, Q, nt, KVH, kv->pos);
        for (int64_t r = 0; r < nt; r++) {
            kv_seq *s = &kv->seqs[ids[kv->seq_of[r]]];
            const float *k = kv->qkv + r * Q + A;
            if (kv->bf16) {
                uint16_t *kb = kv->bf, *kt = s->kt[l]; /* bf: scratch of at least Q values between products */
                kern_to_bf16(kb, k, rf);
                for (int64_t j = 0; j < rf; j++) kt[j * s->cap + kv->pos[r]] = kb[j];
                kern_to_bf16((uint16_t *)s->v[l] + kv->pos[r] * rf, k + rf, rf);
            } else {
                float *kt = s->kt[l];
                for (int64_t j = 0; j < rf; j++) kt[j * s->cap + kv->pos[r]] = k[j];
                memcpy((float *)s->v[l] + kv->pos[r] * rf, k + rf, (size_t)rf * sizeof(float));
            }
        }
        float *cvt = kv->cvt;
        /* runs of 4 or more new tokens (prefill, appends) take the blocked kernel, the other rows the decoding one */
        int64_t nblk = 0, ndec = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t cnt = off[i + 1] - off[i];
            kv_seq *s = &kv->seqs[ids[i]];
            if (cnt >= 4) {
                kern_attn_seq d = {.q = kv->qkv + off[i] * Q, .q_ld = Q, .v = s->v[l], .kv_ld = rf, .kt = s->kt[l],
                                   .kt_ld = s->cap, .p0 = kv->pos[off[i]], .nq = cnt, .out = kv->att + off[i] * A,
                                   .out_ld = A};
                if (kv->bf16) { /* the blocked kernel reads f32: an f32 copy of what this run attends to */
                    int64_t nk = d.p0 + cnt, ld = (nk + 15) / 16 * 16;
                    for (int64_t j = 0; j < rf; j++)
                        kern_from_bf16(cvt + j * ld, (const uint16_t *)s->kt[l] + j * s->cap, nk);
                    d.kt = cvt;
                    d.kt_ld = ld;
                    cvt += rf * ld;
                    kern_from_bf16(cvt, s->v[l], nk * rf);
                    d.v = cvt;
                    cvt += rf * ld;
                }
                kv->blk[nblk++] = d;
            } else {
                for (int64_t r = off[i]; r < off[i + 1]; r++) {
                    kern_attn_dec d = {.q = kv->qkv + r * Q, .kt_ld = s->cap, .v_ld = rf, .nk = kv->pos[r] + 1,
                                       .out = kv->att + r * A};
                    if (kv->bf16) d.kt16 = s->kt[l], d.v16 = s->v[l];
                    else d.kt = s->kt[l], d.v = s->v[l];
                    kv->dec[ndec++] = d;
                }
            }
        }
        if (nblk && (st = kern_attn_seqs_fwd(kv->blk, nblk, NH, KVH, HS, err)) != RT_OK) return st;
        if (ndec && (st = kern_attn_decode(kv->dec, ndec, NH, KVH, HS, err)) != RT_OK) return st;
        if ((st = model_lin(m, kv->x, kv->att, l, MODEL_W_O, nt, 1, kv->bf, err)) != RT_OK) return st;
        kern_rmsnorm_fwd(kv->h, kv->rstd, kv->x, P->ln2, nt, C, eps);
        if ((st = model_lin(m, kv->gu, kv->h, l, MODEL_W_GU, nt, 0, kv->bf, err)) != RT_OK) return st;
        kern_swiglu_fwd(kv->act, kv->gu, nt, I);
        if ((st = model_lin(m, kv->x, kv->act, l, MODEL_W_DOWN, nt, 1, kv->bf, err)) != RT_OK) return st;
    }
    for (int64_t i = 0; i < n; i++) kv->seqs[ids[i]].len += off[i + 1] - off[i];
    if (all_logits) {
        kern_rmsnorm_fwd(kv->h, kv->rstd, kv->x, F->final_norm, nt, C, eps);
        if ((st = model_lin(m, all_logits, kv->h, 0, MODEL_W_HEAD, nt, 0, kv->bf, err)) != RT_OK) return st;
    }
    if (logits) {
        /* gather each sequence's last row, then norm and lm head over the n rows */
        for (int64_t i = 0; i < n; i++)
            memcpy(kv->hl + i * C, kv->x + (off[i + 1] - 1) * C, (size_t)C * sizeof(float));
        kern_rmsnorm_fwd(kv->h, kv->rstd, kv->hl, F->final_norm, n, C, eps);
        if ((st = model_lin(m, logits, kv->h, 0, MODEL_W_HEAD, n, 0, kv->bf, err)) != RT_OK) return st;
    }
    return RT_OK;
}

rt_status model_infer(model *m, model_kv *kv, int64_t n, const int64_t *ids, const int64_t *off, const int32_t *tokens,
                      float *logits, float *all_logits, rt_error *err) {
    if (n <= 0 || off[0] != 0 || off[n] <= MODEL_INFER_MAX_TOKENS)
        return infer_slice(m, kv, n, ids, off, tokens, logits, all_logits, err);
    rt_status st = check_inputs(m, kv, n, ids, off, tokens, err); /* no slice runs unless all can */
    if (st) return st;
    /* Slices of at most MODEL_INFER_MAX_TOKENS consecutive tokens; a run cut in two is an append of its second part
     * (the cache holds the first), and the sequence's logits row is written again by the slice that ends its run. */
    int64_t *soff = malloc((size_t)(n + 1) * sizeof *soff);
    if (!soff) return rt_err_set(err, RT_ENOMEM, "inference: no memory");
    for (int64_t a = 0, i0 = 0; !st && a < off[n]; a += MODEL_INFER_MAX_TOKENS) {
        int64_t b = a + MODEL_INFER_MAX_TOKENS < off[n] ? a + MODEL_INFER_MAX_TOKENS : off[n], k = 0;
        while (off[i0 + 1] <= a) i0++; /* the first run with a token at a */
        soff[0] = 0;
        for (int64_t i = i0; i < n && off[i] < b; i++, k++) soff[k + 1] = (off[i + 1] < b ? off[i + 1] : b) - a;
        st = infer_slice(m, kv, k, ids + i0, soff, tokens + a, logits ? logits + i0 * m->cfg.vocab_size : NULL,
                         all_logits ? all_logits + a * m->cfg.vocab_size : NULL, err);
    }
    free(soff);
    return st;
}

rt_status model_decode(model *m, model_kv *kv, int64_t n, const int64_t *ids, const int32_t *tokens, float *logits,
                       rt_error *err) {
    int64_t small[65] = {0}, *off = n < 65 ? small : malloc((size_t)(n + 1) * sizeof(int64_t));
    if (!off) return rt_err_set(err, RT_ENOMEM, "decode: no memory");
    for (int64_t i = 0; i <= n; i++) off[i] = i;
    rt_status st = model_infer(m, kv, n, ids, off, tokens, logits, NULL, err);
    if (off != small) free(off);
    return st;
}
