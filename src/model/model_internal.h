/* Internals shared by the model's source files (not part of the public API). */
#ifndef RETOOL_MODEL_MODEL_INTERNAL_H
#define RETOOL_MODEL_MODEL_INTERNAL_H

#include "kernels/matmul.h"
#include "model/model.h"

/* Forward activations kept for backward, sized for cap tokens (grown when a batch is larger). */
struct model_acts {
    int64_t cap, N, nseq, seq_cap;
    int64_t *start, *pos;
    int32_t *tokens, *targets;
    float *xs;           /* [L+1, N, C] residual stream */
    float *xmid;         /* [L, N, C] after attention */
    float *h1, *h2;      /* [L, N, C] normed inputs of attention and MLP */
    float *rstd1, *rstd2;/* [L, N] */
    float *qkv;          /* [L, N, QKV] after RoPE */
    float *att;          /* [L, N, NH*HS] */
    float *lse;          /* [L, N, NH] */
    float *gu;           /* [L, N, 2I] */
    float *act;          /* [L, N, I] */
    float *hf, *rstdf;   /* [N, C], [N] final norm */
    float *lm_lse, *ent; /* [N] */
    int64_t rows;        /* lm head rows per chunk */
    float *logits;       /* [rows, V] */
    uint16_t *bf_a, *bf_b; /* bf16 scratch, [N * widest] and [rows * V] */
    float *dx, *dh, *dqkv, *datt, *dgu, *da; /* gradient scratch */
    int valid;           /* a forward ran since the last backward */
    int head;            /* that forward ran the lm_head (lm_lse and ent are set) */
    int recompute;       /* one layer slot; backward recomputes each layer's internals from xs */
};

/* Frees the activations. */
void model_acts_free(model *m);

/* out[M,N] (+)= x[M,K] . W^T in the model's precision (W is a parameter: its bf16 copy is used); scratch holds M*K
 * bf16 values. */
rt_status model_lin(const model *m, float *out, const float *x, const float *W, int64_t M, int64_t N, int64_t K,
                    int accumulate, uint16_t *scratch, rt_error *err);

/* dW[N,K] += dy[M,N]^T . x[M,K]; dx[M,K] (+)= dy . W (dx may be NULL), in the model's precision (uses acts' scratch). */
rt_status model_lin_bwd(model *m, float *dx, int dx_acc, float *dW, const float *dy, const float *x, const float *W,
                        int64_t M, int64_t N, int64_t K, rt_error *err);

/* Rows of the lm_head computed at once: m->head_rows, or MODEL_HEAD_BYTES of f32 logits (at least 16). */
int64_t model_head_rows(const model *m);

/* The lm_head over the final hidden states of the last forward, chunk by chunk: acts' lm_lse and ent [N], logp of the
 * targets and entropy [N] (either may be NULL). */
rt_status model_head_forward(model *m, float *logp, float *entropy, rt_error *err);

/* Its backward: acts' dh [N, C] (written) and the lm_head gradient (accumulated) for dlogp, dent [N] (either NULL =
 * zero); the logits are recomputed chunk by chunk. */
rt_status model_head_backward(model *m, const float *dlogp, const float *dent, rt_error *err);

/* The bf16 copy of parameter pointer p. */
static inline const uint16_t *model_bf16_of(const model *m, const float *p) {
    return m->params_bf16 + (p - m->params);
}

#endif
