/* The lm_head fused with the softmax over the vocabulary, in row chunks: a chunk's logits [rows, V] are computed,
 * turned into log-probs, entropies and log-sum-exps (forward) or into their own gradient (backward, recomputed), and
 * dropped before the next chunk, so no batch ever holds N x V logits. */
#include <string.h>

#include "kernels/ops.h"
#include "model/model_internal.h"

int64_t model_head_rows(const model *m) {
    if (m->head_rows > 0) return m->head_rows;
    int64_t rows = (int64_t)(MODEL_HEAD_BYTES / (4 * (uint64_t)m->cfg.vocab_size));
    return rows < 16 ? 16 : rows;
}

/* logits[rows, V] of rows [r0, r0+rows) of the final hidden states. */
static rt_status head_logits(model *m, int64_t r0, int64_t rows, rt_error *err) {
    model_acts *a = m->acts;
    int64_t C = m->cfg.hidden_size;
    return model_lin(m, a->logits, a->hf + (size_t)r0 * C, 0, MODEL_W_HEAD, rows, 0, a->bf_a, err);
}

rt_status model_head_forward(model *m, float *logp, float *entropy, rt_error *err) {
    model_acts *a = m->acts;
    int64_t V = m->cfg.vocab_size;
    for (int64_t r0 = 0; r0 < a->N; r0 += a->rows) {
        int64_t rows = a->N - r0 < a->rows ? a->N - r0 : a->rows;
        rt_status st = head_logits(m, r0, rows, err);
        if (st != RT_OK) return st;
        kern_logits_stats_rows(a->logits, rows, V, a->targets + r0, logp ? logp + r0 : NULL, a->ent + r0,
                               a->lm_lse + r0);
        if (entropy) memcpy(entropy + r0, a->ent + r0, (size_t)rows * sizeof(float));
    }
    return RT_OK;
}

rt_status model_head_backward(model *m, const float *dlogp, const float *dent, rt_error *err) {
    model_acts *a = m->acts;
    int64_t V = m->cfg.vocab_size, C = m->cfg.hidden_size;
    for (int64_t r0 = 0; r0 < a->N; r0 += a->rows) {
        int64_t rows = a->N - r0 < a->rows ? a->N - r0 : a->rows;
        rt_status st = head_logits(m, r0, rows, err);
        if (st != RT_OK) return st;
        kern_logits_grad_rows(a->logits, rows, V, a->targets + r0, a->lm_lse + r0, a->ent + r0,
                              dlogp ? dlogp + r0 : NULL, dent ? dent + r0 : NULL);
        st = model_lin_bwd(m, a->dh + (size_t)r0 * C, 0, a->logits, a->hf + (size_t)r0 * C, 0, MODEL_W_HEAD, rows, err);
        if (st != RT_OK) return st;
    }
    return RT_OK;
}
