#include "rollout/bind.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/sample.h"

typedef struct policy_seq {
    int live;
    int64_t kv_id;
    model_sampler sampler;
    rt_rng rng;
    float *logits;   /* [V]: the next-token logits */
} policy_seq;

struct rollout_model_policy {
    model *m;
    model_kv *kv;
    int64_t V;
    policy_seq *seqs;
    size_t max_seqs;
    model_sample_buf sbuf;
    float *batch_logits;  /* [max_seqs, V] */
    int64_t *ids;         /* [max_seqs] */
    size_t prefilled;
};

rt_status rollout_model_policy_init(rollout_model_policy **out, model *m, size_t max_seqs, rt_error *err) {
    *out = NULL;
    rollout_model_policy *p = calloc(1, sizeof *p);
    if (!p) return rt_err_set(err, RT_ENOMEM, "out of memory");
    p->m = m;
    p->V = m->cfg.vocab_size;
    p->max_seqs = max_seqs ? max_seqs : 1;
    p->seqs = calloc(p->max_seqs, sizeof *p->seqs);
    p->batch_logits = malloc(p->max_seqs * (size_t)p->V * sizeof(float));
    p->ids = malloc(p->max_seqs * sizeof *p->ids);
    rt_status st = RT_OK;
    if (!p->seqs || !p->batch_logits || !p->ids || !model_sample_buf_init(&p->sbuf, p->V))
        st = rt_err_set(err, RT_ENOMEM, "out of memory for %zu sequences of vocabulary %lld", p->max_seqs,
                        (long long)p->V);
    for (size_t i = 0; !st && i < p->max_seqs; i++) {
        p->seqs[i].logits = malloc((size_t)p->V * sizeof(float));
        if (!p->seqs[i].logits) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    if (!st) st = model_kv_init(&p->kv, m, err);
    if (st) {
        rollout_model_policy_free(p);
        return st;
    }
    *out = p;
    return RT_OK;
}

void rollout_model_policy_free(rollout_model_policy *p) {
    if (!p) return;
    if (p->kv) model_kv_free(p->kv);
    for (size_t i = 0; p->seqs && i < p->max_seqs; i++) free(p->seqs[i].logits);
    free(p->seqs);
    free(p->batch_logits);
    free(p->ids);
    model_sample_buf_free(&p->sbuf);
    free(p);
}

const float *rollout_model_policy_logits(const rollout_model_policy *p, int64_t seq) {
    if (seq < 0 || (size_t)seq >= p->max_seqs || !p->seqs[seq].live) return NULL;
    return p->seqs[seq].logits;
}

size_t rollout_model_policy_prefilled(const rollout_model_policy *p) { return p->prefilled; }

static rt_status feed(rollout_model_policy *p, policy_seq *s, const int32_t *ids, size_t n, rt_error *err) {
    int64_t off[2] = {0, (int64_t)n};
    rt_status st = model_infer(p->m, p->kv, 1, &s->kv_id, off, ids, s->logits, NULL, err);
    if (!st) p->prefilled += n;
    return st;
}

static rt_status pol_open(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling, uint64_t seed,
                          int64_t *seq, rt_error *err) {
    rollout_model_policy *p = ctx;
    if (n == 0) return rt_err_set(err, RT_EINVAL, "empty prompt");
    size_t slot = p->max_seqs;
    for (size_t i = 0; i < p->max_seqs; i++)
        if (!p->seqs[i].live) {
            slot = i;
            break;
        }
    if (slot == p->max_seqs) return rt_err_set(err, RT_EBUSY, "all %zu sequences are live", p->max_seqs);
    if ((int64_t)n >= p->m->cfg.max_position_embeddings)
        return rt_err_set(err, RT_ERANGE, "prompt of %zu tokens does not fit the context of %lld", n,
                          (long long)p->m->cfg.max_position_embeddings);
    for (size_t i = 0; i < n; i++)
        if (prompt[i] < 0 || prompt[i] >= p->V)
            return rt_err_set(err, RT_EINVAL, "prompt token %zu is id %d, outside the vocabulary of %lld", i, prompt[i],
                              (long long)p->V);
    policy_seq *s = &p->seqs[slot];
    rt_status st = model_seq_new(p->kv, &s->kv_id, err);
    if (st) return st;
    s->sampler.temperature = sampling->temperature;
    s->sampler.top_p = sampling->top_p > 0 ? sampling->top_p : 1.0;
    s->sampler.top_k = sampling->top_k;
    rt_rng_seed(&s->rng, seed);
    st = feed(p, s, prompt, n, err);
    if (st) {
        model_seq_free(p->kv, s->kv_id);
        return st;
    }
    s->live = 1;
    *seq = (int64_t)slot;
    return RT_OK;
}

static rt_status pol_append(void *ctx, int64_t seq, const int32_t *ids, size_t n, rt_error *err) {
    rollout_model_policy *p = ctx;
    if (seq < 0 || (size_t)seq >= p->max_seqs || !p->seqs[seq].live)
        return rt_err_set(err, RT_EINVAL, "append to sequence %lld, which is not live", (long long)seq);
    if (n == 0) return RT_OK;
    return feed(p, &p->seqs[seq], ids, n, err);
}

static rt_status pol_step(void *ctx, const int64_t *seqs, size_t n, int32_t *tokens, float *logprobs, rt_error *err) {
    rollout_model_policy *p = ctx;
    if (n > p->max_seqs) return rt_err_set(err, RT_EINVAL, "step over %zu sequences, more than %zu", n, p->max_seqs);
    for (size_t i = 0; i < n; i++) {
        if (seqs[i] < 0 || (size_t)seqs[i] >= p->max_seqs || !p->seqs[seqs[i]].live)
            return rt_err_set(err, RT_EINVAL, "step on sequence %lld, which is not live", (long long)seqs[i]);
        policy_seq *s = &p->seqs[seqs[i]];
        tokens[i] = model_sample(&s->sampler, s->logits, &p->sbuf, &s->rng, &logprobs[i]);
        p->ids[i] = s->kv_id;
    }
    rt_status st = model_decode(p->m, p->kv, (int64_t)n, p->ids, tokens, p->batch_logits, err);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        memcpy(p->seqs[seqs[i]].logits, p->batch_logits + i * (size_t)p->V, (size_t)p->V * sizeof(float));
    return RT_OK;
}

static void pol_close(void *ctx, int64_t seq) {
    rollout_model_policy *p = ctx;
    if (seq < 0 || (size_t)seq >= p->max_seqs || !p->seqs[seq].live) return;
    model_seq_free(p->kv, p->seqs[seq].kv_id);
    p->seqs[seq].live = 0;
}

rollout_policy rollout_model_policy_ops(rollout_model_policy *p) {
    rollout_policy ops = {.ctx = p,
                          .open = pol_open,
                          .append = pol_append,
                          .step = pol_step,
                          .close = pol_close,
                          .max_seq_len = (size_t)p->m->cfg.max_position_embeddings};
    return ops;
}

/* Encodes text with flags into malloc'd ids (the array tok_encode grew). */
static rt_status tok_enc_flags(tok_tokenizer *tok, int flags, const char *text, size_t len, int32_t **ids, size_t *n,
                               rt_error *err) {
    tok_ids out;
    memset(&out, 0, sizeof out);
    rt_status st = tok_encode(tok, text, len, flags, &out, err);
    if (st) {
        tok_ids_free(&out);
        return st;
    }
    *ids = out.ids;
    *n = out.len;
    return RT_OK;
}

static rt_status tok_enc(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, rt_error *err) {
    return tok_enc_flags(ctx, TOK_ENCODE_NO_SPECIAL, text, len, ids, n, err);
}

static rt_status tok_enc_untrusted(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, rt_error *err) {
    return tok_enc_flags(ctx, TOK_ENCODE_NO_ADDED, text, len, ids, n, err);
}

static size_t tok_bytes(void *ctx, int32_t id, char *buf, size_t cap) {
    size_t len = 0;
    const char *b = tok_token_bytes(ctx, id, &len);
    if (!b) return 0;
    memcpy(buf, b, len < cap ? len : cap);
    return len;
}

rollout_tokenizer rollout_tokenizer_ops(tok_tokenizer *tok) {
    rollout_tokenizer t = {.ctx = tok, .encode = tok_enc, .encode_untrusted = tok_enc_untrusted, .token_bytes = tok_bytes};
    return t;
}

size_t rollout_stop_ids(const model *m, const tok_tokenizer *tok, int32_t *out) {
    size_t n = 0;
    if (m->cfg.eos_token_id >= 0) out[n++] = (int32_t)m->cfg.eos_token_id;
    const char *names[] = {"<|im_end|>", "<|endoftext|>", "<|eot_id|>"};
    for (size_t i = 0; i < 3 && n < ROLLOUT_MAX_STOP_IDS; i++) {
        int32_t id = tok_token_id(tok, names[i]);
        int dup = 0;
        for (size_t k = 0; k < n; k++) dup |= out[k] == id;
        if (id >= 0 && !dup) out[n++] = id;
    }
    return n;
}
