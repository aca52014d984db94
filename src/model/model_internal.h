/* Internals shared by the model's source files (not part of the public API). */
#ifndef RETOOL_MODEL_MODEL_INTERNAL_H
#define RETOOL_MODEL_MODEL_INTERNAL_H

#include "kernels/matmul.h"
#include "model/frozen.h"
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
    float *dnorm;        /* [C] frozen mode: where the untrained norms' gradients go */
    int valid;           /* a forward ran since the last backward */
    int head;            /* that forward ran the lm_head (lm_lse and ent are set) */
    int recompute;       /* one layer slot; backward recomputes each layer's internals from xs */
};

/* Appends a tensor to m's table at float offset *off (advanced past it, padded to 16 floats); returns its offset. */
size_t model_add_tensor(model *m, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, int decay);

/* Creates a frozen-mode model on base (taking a reference): the trainable tensors are the LoRA adapters of opts->lora
 * and the value head when asked (zero). */
rt_status model_init_frozen(model *m, model_base *base, const model_opts *opts, rt_error *err);

/* Frees the activations. */
void model_acts_free(model *m);

/* The matrices a product reads: layer l's fused q/k/v, o, fused gate/up, down, or the lm head (l ignored). */
typedef enum model_wkind { MODEL_W_QKV = 0, MODEL_W_O, MODEL_W_GU, MODEL_W_DOWN, MODEL_W_HEAD } model_wkind;

/* The shape [N, K] of matrix kind w. */
void model_wshape(const model *m, model_wkind w, int64_t *N, int64_t *K);

/* out[M,N] (+)= x[M,K] . W^T for matrix w of layer l in the model's precision (bf16: its bf16 view), plus the LoRA
 * adapters' product when the model has them for w (and lora_off is 0); scratch holds M*K bf16 values. */
rt_status model_lin(const model *m, float *out, const float *x, int64_t l, model_wkind w, int64_t M, int accumulate,
                    uint16_t *scratch, rt_error *err);

/* The f32 views of the norms and biases: the model's own, or its frozen base's. */
static inline const model_views *model_fixed(const model *m) { return m->base ? &m->base->p : &m->p; }

/* Copies the embedding rows of tokens[0..n) into out [n, C] (f32; widened from bf16 for a bf16 frozen base). */
void model_embed_rows(const model *m, float *out, const int32_t *tokens, int64_t n);

/* For matrix w of layer l, given dy[M,N] and its input x[M,K]: dW += dy^T . x (when the matrix is trained),
 * dx (+)= dy . W (dx may be NULL), and the adapters' gradients and input gradient when the model has them (uses acts'
 * scratch). */
rt_status model_lin_bwd(model *m, float *dx, int dx_acc, const float *dy, const float *x, int64_t l, model_wkind w,
                        int64_t M, rt_error *err);

/* Rows of the lm_head computed at once: m->head_rows, or MODEL_HEAD_BYTES of f32 logits (at least 16). */
int64_t model_head_rows(const model *m);

/* The lm_head over the final hidden states of the last forward, chunk by chunk: acts' lm_lse and ent [N], logp of the
 * targets and entropy [N] (either may be NULL). */
rt_status model_head_forward(model *m, float *logp, float *entropy, rt_error *err);

/* Its backward: acts' dh [N, C] (written) and the lm_head gradient (accumulated) for dlogp, dent [N] (either NULL =
 * zero); the logits are recomputed chunk by chunk. */
rt_status model_head_backward(model *m, const float *dlogp, const float *dent, rt_error *err);


#endif
