/* The training path: forward over a packed batch (activations kept), backward for every parameter, in reverse order
 * of the forward. Matrix products through model_lin / lin_bwd (bf16 or f32), everything else in f32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/pool.h"
#include "model/lora.h"
#include "model/model_internal.h"

#define L_ (m->cfg.num_layers)
#define C_ (m->cfg.hidden_size)
#define V_ (m->cfg.vocab_size)
#define I_ (m->cfg.intermediate_size)
#define NH_ (m->cfg.num_heads)
#define KVH_ (m->cfg.num_kv_heads)
#define HS_ (m->cfg.head_dim)

void model_acts_free(model *m) {
    model_acts *a = m->acts;
    if (!a) return;
    void *ptrs[] = {a->start, a->pos, a->tokens, a->targets, a->xs, a->xmid, a->h1, a->h2, a->rstd1, a->rstd2,
                    a->qkv, a->att, a->lse, a->gu, a->act, a->hf, a->rstdf, a->lm_lse, a->ent, a->logits, a->bf_a,
                    a->bf_b, a->dx, a->dh, a->dqkv, a->datt, a->dgu, a->da, a->dnorm};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
    free(a);
    m->acts = NULL;
}

void model_release_activations(model *m) {
    model_acts_free(m);
}

static int64_t widest(const model *m) {
    int64_t w = C_;
    if (m->qkv_dim > w) w = m->qkv_dim;
    if (NH_ * HS_ > w) w = NH_ * HS_;
    if (2 * I_ > w) w = 2 * I_;
    return w;
}

static rt_status acts_reserve(model *m, int64_t N, int64_t nseq, rt_error *err) {
    model_acts *a = m->acts;
    int64_t want_rows = model_head_rows(m);
    if (a && a->cap >= N && a->seq_cap >= nseq && a->rows == (want_rows < a->cap ? want_rows : a->cap) &&
        a->recompute == (m->recompute != 0))
        return RT_OK;
    int64_t cap = a && a->cap > N ? a->cap : N, scap = a && a->seq_cap > nseq ? a->seq_cap : nseq;
    model_acts_free(m);
    a = m->acts = calloc(1, sizeof *a);
    if (!a) return rt_err_set(err, RT_ENOMEM, "model: no memory for activations");
    a->cap = cap;
    a->seq_cap = scap;
    a->recompute = m->recompute != 0;
    /* L: layers whose internals are kept (one slot, refilled layer by layer in backward, when recomputing) */
    size_t n = (size_t)cap, L = a->recompute ? 1 : (size_t)L_, C = (size_t)C_, W = (size_t)widest(m);
    a->rows = want_rows < cap ? want_rows : cap;
    size_t bfn = n * W > (size_t)a->rows * (size_t)V_ ? n * W : (size_t)a->rows * (size_t)V_;
    int ok = 1;
#define ALLOC(p, cnt) ok &= ((p) = malloc((size_t)(cnt) * sizeof *(p) + 64)) != NULL
    ALLOC(a->start, scap + 1);
    ALLOC(a->pos, n);
    ALLOC(a->tokens, n);
    ALLOC(a->targets, n);
    ALLOC(a->xs, ((size_t)L_ + 1) * n * C);
    ALLOC(a->xmid, L * n * C);
    ALLOC(a->h1, L * n * C);
    ALLOC(a->h2, L * n * C);
    ALLOC(a->rstd1, L * n);
    ALLOC(a->rstd2, L * n);
    ALLOC(a->qkv, L * n * (size_t)m->qkv_dim);
    ALLOC(a->att, L * n * (size_t)(NH_ * HS_));
    ALLOC(a->lse, L * n * (size_t)NH_);
    ALLOC(a->gu, L * n * (size_t)(2 * I_));
    ALLOC(a->act, L * n * (size_t)I_);
    ALLOC(a->hf, n * C);
    ALLOC(a->rstdf, n);
    ALLOC(a->lm_lse, n);
    ALLOC(a->ent, n);
    ALLOC(a->logits, (size_t)a->rows * (size_t)V_);
    ALLOC(a->bf_a, bfn);
    ALLOC(a->bf_b, bfn);
    ALLOC(a->dx, n * C);
    ALLOC(a->dh, n * C);
    ALLOC(a->dqkv, n * (size_t)m->qkv_dim);
    ALLOC(a->datt, n * (size_t)(NH_ * HS_));
    ALLOC(a->dgu, n * (size_t)(2 * I_));
    ALLOC(a->da, n * (size_t)I_);
    ALLOC(a->dnorm, C);
#undef ALLOC
    if (!ok) {
        model_acts_free(m);
        return rt_err_set(err, RT_ENOMEM, "model: no memory for the activations of %lld tokens", (long long)N);
    }
    return RT_OK;
}

void model_wshape(const model *m, model_wkind w, int64_t *N, int64_t *K) {
    int64_t C = C_, A = NH_ * HS_;
    const int64_t n[5] = {m->qkv_dim, C, 2 * I_, C, V_}, k[5] = {C, A, C, I_, C};
    *N = n[w];
    *K = k[w];
}

/* The f32 matrix w of layer l in views v (params or grads), or NULL (none: frozen mode's grads, bf16 bases). */
static float *view_mat(const model *m, const model_views *v, int64_t l, model_wkind w) {
    if (m->base && v == &m->p) v = &m->base->p;
    if (!v->embed) return NULL;
    const model_layer *L = w == MODEL_W_HEAD ? NULL : &v->layers[l];
    float *const p[5] = {L ? L->qkv_w : NULL, L ? L->o_w : NULL, L ? L->gu_w : NULL, L ? L->down_w : NULL, v->lm_head};
    return p[w];
}

static const uint16_t *view_mat16(const model *m, int64_t l, model_wkind w) {
    if (w == MODEL_W_HEAD) return m->w16.lm_head;
    const model_layer16 *L = &m->w16.layers[l];
    const uint16_t *const p[4] = {L->qkv_w, L->o_w, L->gu_w, L->down_w};
    return p[w];
}

void model_embed_rows(const model *m, float *out, const int32_t *tokens, int64_t n) {
    int64_t C = C_;
    for (int64_t r = 0; r < n; r++) {
        if (m->base && !m->base->f32) kern_from_bf16(out + r * C, m->w16.embed + (size_t)tokens[r] * (size_t)C, C);
        else memcpy(out + r * C, model_fixed(m)->embed + (size_t)tokens[r] * (size_t)C, (size_t)C * sizeof(float));
    }
}

rt_status model_lin(const model *m, float *out, const float *x, int64_t l, model_wkind w, int64_t M, int accumulate,
                    uint16_t *scratch, rt_error *err) {
    int64_t N, K;
    model_wshape(m, w, &N, &K);
    rt_status st;
    if (m->prec == MODEL_PREC_F32) {
        st = kern_mm_xwt(KERN_F32, out, x, view_mat(m, &m->p, l, w), M, N, K, accumulate, err);
    } else {
        kern_to_bf16(scratch, x, M * K);
        st = kern_mm_xwt(KERN_BF16, out, scratch, view_mat16(m, l, w), M, N, K, accumulate, err);
    }
    if (st == RT_OK && m->lora && !m->lora_off) st = lora_forward(m, out, x, l, w, M, err);
    return st;
}

rt_status model_lin_bwd(model *m, float *dx, int dx_acc, const float *dy, const float *x, int64_t l, model_wkind w,
                        int64_t M, rt_error *err) {
    model_acts *a = m->acts;
    int64_t N, K;
    model_wshape(m, w, &N, &K);
    float *dW = view_mat(m, &m->g, l, w);
    rt_status st = RT_OK;
    if (m->prec == MODEL_PREC_F32) {
        if (dW && (st = kern_mm_dw(KERN_F32, dW, dy, x, M, N, K, 1, err)) != RT_OK) return st;
        if (dx && (st = kern_mm_dx(KERN_F32, dx, dy, view_mat(m, &m->p, l, w), M, N, K, dx_acc, err)) != RT_OK)
            return st;
    } else {
        kern_to_bf16(a->bf_a, dy, M * N);
        if (dW) {
            kern_to_bf16(a->bf_b, x, M * K);
            if ((st = kern_mm_dw(KERN_BF16, dW, a->bf_a, a->bf_b, M, N, K, 1, err)) != RT_OK) return st;
        }
        if (dx && (st = kern_mm_dx(KERN_BF16, dx, a->bf_a, view_mat16(m, l, w), M, N, K, dx_acc, err)) != RT_OK)
            return st;
    }
    if (m->lora && !m->lora_off) st = lora_backward(m, dx, dy, x, l, w, M, err);
    return st;
}

static void add_bias(float *y, const float *b, int64_t M, int64_t N) {
    for (int64_t r = 0; r < M; r++)
        for (int64_t j = 0; j < N; j++) y[r * N + j] += b[j];
}

static rt_status check_batch(const model *m, const model_batch *b, rt_error *err) {
    if (b->nseq <= 0 || !b->start || !b->tokens) return rt_err_set(err, RT_EINVAL, "batch: no sequences");
    if (b->start[0] != 0) return rt_err_set(err, RT_EINVAL, "batch: start[0] is %lld, not 0", (long long)b->start[0]);
    for (int64_t s = 0; s < b->nseq; s++) {
        int64_t len = b->start[s + 1] - b->start[s];
        if (len <= 0) return rt_err_set(err, RT_EINVAL, "batch: sequence %lld is empty", (long long)s);
        if (len > m->rope.max_pos)
            return rt_err_set(err, RT_ERANGE, "batch: sequence %lld has %lld tokens, above max_position_embeddings %lld",
                              (long long)s, (long long)len, (long long)m->rope.max_pos);
    }
    int64_t N = b->start[b->nseq];
    for (int64_t r = 0; r < N; r++) {
        if (b->tokens[r] < 0 || b->tokens[r] >= V_)
            return rt_err_set(err, RT_ERANGE, "batch: token %lld is %d, outside the vocabulary [0, %lld)",
                              (long long)r, b->tokens[r], (long long)V_);
    }
    for (int64_t r = 0; b->targets && r < N; r++) {
        if ((b->targets[r] < -1 || b->targets[r] >= V_))
            return rt_err_set(err, RT_ERANGE, "batch: target %lld is %d, outside [-1, %lld)", (long long)r,
                              b->targets[r], (long long)V_);
    }
    return RT_OK;
}

/* Layer l on the residual stream xs[l]: its internals into its slot (slot 0 for all when recomputing) and, with
 * out, xs[l+1]. Backward reruns it (without out) when recomputing: the same inputs give the same internals. */
static rt_status layer_forward(model *m, int64_t l, int out, rt_error *err) {
    model_acts *a = m->acts;
    int64_t N = a->N, C = C_, Q = m->qkv_dim, A = NH_ * HS_, I = I_, k = a->recompute ? 0 : l;
    size_t nc = (size_t)N * (size_t)C;
    kern_packing pk = {a->nseq, a->start, a->pos};
    rt_status st;
    const model_layer *P = &model_fixed(m)->layers[l];
    float *x = a->xs + l * nc, *xmid = a->xmid + k * nc, *h1 = a->h1 + k * nc, *h2 = a->h2 + k * nc;
    float *qkv = a->qkv + (size_t)k * N * Q, *att = a->att + (size_t)k * N * A, *gu = a->gu + (size_t)k * N * 2 * I;
    float *act = a->act + (size_t)k * N * I, *xout = a->xs + (l + 1) * nc;
    kern_rmsnorm_fwd(h1, a->rstd1 + k * N, x, P->ln1, N, C, (float)m->cfg.rms_norm_eps);
    if ((st = model_lin(m, qkv, h1, l, MODEL_W_QKV, N, 0, a->bf_a, err)) != RT_OK) return st;
    if (P->qkv_b) add_bias(qkv, P->qkv_b, N, Q);
    kern_rope_fwd(&m->rope, qkv, Q, N, NH_, a->pos);
    kern_rope_fwd(&m->rope, qkv + A, Q, N, KVH_, a->pos);
    if ((st = kern_attn_fwd(att, a->lse + (size_t)k * N * NH_, qkv, &pk, NH_, KVH_, HS_, err)) != RT_OK) return st;
    memcpy(xmid, x, nc * sizeof(float));
    if ((st = model_lin(m, xmid, att, l, MODEL_W_O, N, 1, a->bf_a, err)) != RT_OK) return st;
    kern_rmsnorm_fwd(h2, a->rstd2 + k * N, xmid, P->ln2, N, C, (float)m->cfg.rms_norm_eps);
    if ((st = model_lin(m, gu, h2, l, MODEL_W_GU, N, 0, a->bf_a, err)) != RT_OK) return st;
    kern_swiglu_fwd(act, gu, N, I);
    if (!out) return RT_OK;
    memcpy(xout, xmid, nc * sizeof(float));
    return model_lin(m, xout, act, l, MODEL_W_DOWN, N, 1, a->bf_a, err);
}

/* Runs the layers and the final norm on the batch copied into acts. */
static rt_status body_forward(model *m, rt_error *err) {
    model_acts *a = m->acts;
    int64_t N = a->N, C = C_;
    size_t nc = (size_t)N * (size_t)C;
    model_embed_rows(m, a->xs, a->tokens, N);
    rt_status st;
    for (int64_t l = 0; l < L_; l++)
        if ((st = layer_forward(m, l, 1, err)) != RT_OK) return st;
    kern_rmsnorm_fwd(a->hf, a->rstdf, a->xs + L_ * nc, model_fixed(m)->final_norm, N, C, (float)m->cfg.rms_norm_eps);
    return RT_OK;
}

static rt_status load_batch(model *m, const model_batch *b, rt_error *err) {
    rt_status st = check_batch(m, b, err);
    if (st != RT_OK) return st;
    int64_t N = b->start[b->nseq];
    if ((st = acts_reserve(m, N, b->nseq, err)) != RT_OK) return st;
    model_acts *a = m->acts;
    a->N = N;
    a->nseq = b->nseq;
    memcpy(a->start, b->start, (size_t)(b->nseq + 1) * sizeof(int64_t));
    memcpy(a->tokens, b->tokens, (size_t)N * sizeof(int32_t));
    for (int64_t s = 0; s < b->nseq; s++)
        for (int64_t r = b->start[s]; r < b->start[s + 1]; r++) a->pos[r] = r - b->start[s];
    for (int64_t r = 0; r < N; r++) a->targets[r] = b->targets ? b->targets[r] : -1;
    a->valid = 0;
    return RT_OK;
}

rt_status model_forward(model *m, const model_batch *b, float *logp, float *entropy, float *value, rt_error *err) {
    if (value && !m->value_head) return rt_err_set(err, RT_EINVAL, "model: values asked of a model without a value head");
    rt_status st = load_batch(m, b, err);
    if (st != RT_OK) return st;
    model_acts *a = m->acts;
    if ((st = body_forward(m, err)) != RT_OK) return st;
    /* A forward asked for neither log-probs nor entropy (a critic's) skips the lm_head; its backward must too. */
    a->head = logp || entropy || !value;
    if (a->head && (st = model_head_forward(m, logp, entropy, err)) != RT_OK) return st;
    if (value) {
        for (int64_t r = 0; r < a->N; r++) {
            double s = m->p.value_b[0];
            for (int64_t i = 0; i < C_; i++) s += (double)a->hf[(size_t)r * C_ + i] * m->p.value_w[i];
            value[r] = (float)s;
        }
    }
    a->valid = 1;
    return RT_OK;
}

rt_status model_logits(model *m, const model_batch *b, float *logits, rt_error *err) {
    rt_status st = load_batch(m, b, err);
    if (st != RT_OK) return st;
    if ((st = body_forward(m, err)) != RT_OK) return st;
    model_acts *a = m->acts;
    for (int64_t r0 = 0; r0 < a->N; r0 += a->rows) {
        int64_t rows = a->N - r0 < a->rows ? a->N - r0 : a->rows;
        if ((st = model_lin(m, logits + (size_t)r0 * V_, a->hf + (size_t)r0 * C_, 0, MODEL_W_HEAD, rows, 0, a->bf_a,
                            err)) != RT_OK)
            return st;
    }
    return RT_OK;
}

rt_status model_backward(model *m, const float *dlogp, const float *dent, const float *dvalue, rt_error *err) {
    model_acts *a = m->acts;
    if (!m->grads) return rt_err_set(err, RT_EINVAL, "model: backward before model_train_init");
    if (!a || !a->valid) return rt_err_set(err, RT_EINVAL, "model: backward without a forward before it");
    if (dvalue && !m->value_head) return rt_err_set(err, RT_EINVAL, "model: value gradients for a model without a value head");
    int64_t N = a->N, C = C_, Q = m->qkv_dim, A = NH_ * HS_, I = I_;
    size_t nc = (size_t)N * (size_t)C;
    rt_status st;
    if ((dlogp || dent) && !a->head)
        return rt_err_set(err, RT_EINVAL, "model: log-prob or entropy gradients after a forward that skipped the lm_head");
    if (dlogp || dent) {
        if ((st = model_head_backward(m, dlogp, dent, err)) != RT_OK) return st;
    } else {
        memset(a->dh, 0, nc * sizeof(float));
    }
    if (dvalue) {
        for (int64_t r = 0; r < N; r++) {
            float dv = dvalue[r];
            m->g.value_b[0] += dv;
            for (int64_t i = 0; i < C; i++) {
                a->dh[(size_t)r * C + i] += dv * m->p.value_w[i];
                m->g.value_w[i] += dv * a->hf[(size_t)r * C + i];
            }
        }
    }
    memset(a->dx, 0, nc * sizeof(float));
    const model_views *F = model_fixed(m);
    int frozen = m->base != NULL; /* norms, biases and embeddings untrained: their gradients go to scratch */
    kern_rmsnorm_bwd(a->dx, frozen ? a->dnorm : m->g.final_norm, a->dh, a->xs + L_ * nc, F->final_norm, a->rstdf, N,
                     C);
    kern_packing pk = {a->nseq, a->start, a->pos};
    for (int64_t l = L_ - 1; l >= 0; l--) {
        const model_layer *P = &F->layers[l];
        model_layer *G = &m->g.layers[l];
        int64_t k = a->recompute ? 0 : l; /* the layer's slot */
        if (a->recompute && (st = layer_forward(m, l, 0, err)) != RT_OK) return st;
        float *x = a->xs + l * nc, *xmid = a->xmid + k * nc, *h1 = a->h1 + k * nc, *h2 = a->h2 + k * nc;
        float *qkv = a->qkv + (size_t)k * N * Q, *att = a->att + (size_t)k * N * A, *gu = a->gu + (size_t)k * N * 2 * I;
        float *act = a->act + (size_t)k * N * I;
        /* MLP: xout = xmid + down(swiglu(gu(norm(xmid)))) */
        if ((st = model_lin_bwd(m, a->da, 0, a->dx, act, l, MODEL_W_DOWN, N, err)) != RT_OK) return st;
        kern_swiglu_bwd(a->dgu, a->da, gu, N, I);
        if ((st = model_lin_bwd(m, a->dh, 0, a->dgu, h2, l, MODEL_W_GU, N, err)) != RT_OK) return st;
        kern_rmsnorm_bwd(a->dx, frozen ? a->dnorm : G->ln2, a->dh, xmid, P->ln2, a->rstd2 + k * N, N, C);
        /* attention: xmid = x + o(attn(rope(qkv(norm(x))))) */
        if ((st = model_lin_bwd(m, a->datt, 0, a->dx, att, l, MODEL_W_O, N, err)) != RT_OK) return st;
        memset(a->dqkv, 0, (size_t)N * (size_t)Q * sizeof(float));
        if ((st = kern_attn_bwd(a->dqkv, a->datt, att, a->lse + (size_t)k * N * NH_, qkv, &pk, NH_, KVH_, HS_, err)) !=
            RT_OK)
            return st;
        kern_rope_bwd(&m->rope, a->dqkv, Q, N, NH_, a->pos);
        kern_rope_bwd(&m->rope, a->dqkv + A, Q, N, KVH_, a->pos);
        if (!frozen && G->qkv_b)
            for (int64_t r = 0; r < N; r++)
                for (int64_t j = 0; j < Q; j++) G->qkv_b[j] += a->dqkv[(size_t)r * Q + j];
        if ((st = model_lin_bwd(m, a->dh, 0, a->dqkv, h1, l, MODEL_W_QKV, N, err)) != RT_OK) return st;
        kern_rmsnorm_bwd(a->dx, frozen ? a->dnorm : G->ln1, a->dh, x, P->ln1, a->rstd1 + k * N, N, C);
    }
    for (int64_t r = 0; r < N && !frozen; r++) {
        float *d = m->g.embed + (size_t)a->tokens[r] * (size_t)C;
        const float *s = a->dx + (size_t)r * C;
        for (int64_t i = 0; i < C; i++) d[i] += s[i];
    }
    a->valid = 0;
    return RT_OK;
}

rt_status model_xent_step(model *m, const model_batch *b, const float *weight, float *loss, float *logp,
                          rt_error *err) {
    int64_t N = b->start[b->nseq];
    float *lp = malloc((size_t)N * 2 * sizeof(float));
    if (!lp) return rt_err_set(err, RT_ENOMEM, "model: no memory for %lld log-probs", (long long)N);
    float *dl = lp + N;
    rt_status st = model_forward(m, b, lp, NULL, NULL, err);
    if (st == RT_OK) {
        double s = 0;
        for (int64_t r = 0; r < N; r++) {
            s -= (double)weight[r] * lp[r];
            dl[r] = -weight[r];
        }
        if (loss) *loss = (float)s;
        if (logp) memcpy(logp, lp, (size_t)N * sizeof(float));
        st = model_backward(m, dl, NULL, NULL, err);
    }
    free(lp);
    return st;
}
