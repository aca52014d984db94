#include "rollout/bind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "kernels/pool.h"
#include "model/sample.h"

typedef struct policy_seq {
    int live;
    int ready;       /* the next-token logits are computed (a begun sequence is not ready until its prompt is fed) */
    int64_t kv_id;
    model_sampler sampler;
    rt_rng rng;
    float *logits;   /* [V]: the next-token logits */
    const int32_t *force; /* forced decoding: tokens emitted instead of sampling */
    size_t force_len, force_pos;
} policy_seq;

struct rollout_model_policy {
    model *m;
    model_kv *kv;
    int64_t V;
    policy_seq *seqs;
    size_t max_seqs;
    model_sample_buf *sbufs; /* [nsbufs]: one per compute thread (sequences are sampled in parallel) */
    int nsbufs;
    float *batch_logits;  /* [max_seqs, V] */
    int64_t *ids;         /* [max_seqs] */
    int64_t *off;         /* [max_seqs + 1] */
    size_t *which;        /* [max_seqs]: row of advance's call -> policy slot */
    int32_t *tokens;      /* advance's tokens, grown on demand */
    size_t tokens_cap;
    size_t prefilled;
    size_t calls;
    rollout_force_fn force;
    void *force_ctx;
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
    p->off = malloc((p->max_seqs + 1) * sizeof *p->off);
    p->which = malloc(p->max_seqs * sizeof *p->which);
    rt_status st = RT_OK;
    if (!p->seqs || !p->batch_logits || !p->ids || !p->off || !p->which)
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
    free(p->off);
    free(p->which);
    free(p->tokens);
    for (int i = 0; i < p->nsbufs; i++)
        model_sample_buf_free(&p->sbufs[i]);
    free(p->sbufs);
    free(p);
}

const float *rollout_model_policy_logits(const rollout_model_policy *p, int64_t seq) {
    if (seq < 0 || (size_t)seq >= p->max_seqs || !p->seqs[seq].live || !p->seqs[seq].ready) return NULL;
    return p->seqs[seq].logits;
}

size_t rollout_model_policy_prefilled(const rollout_model_policy *p) { return p->prefilled; }

rt_status rollout_model_policy_kv_bf16(rollout_model_policy *p, int on, rt_error *err) {
    return model_kv_set_bf16(p->kv, on, err);
}

void rollout_model_policy_seq_limit(rollout_model_policy *p, int64_t tokens) { model_kv_set_seq_limit(p->kv, tokens); }

size_t rollout_model_policy_calls(const rollout_model_policy *p) { return p->calls; }

void rollout_model_policy_force(rollout_model_policy *p, rollout_force_fn fn, void *ctx) {
    p->force = fn;
    p->force_ctx = ctx;
}

static rt_status feed(rollout_model_policy *p, policy_seq *s, const int32_t *ids, size_t n, rt_error *err) {
    int64_t off[2] = {0, (int64_t)n};
    rt_status st = model_infer(p->m, p->kv, 1, &s->kv_id, off, ids, s->logits, NULL, err);
    if (!st) {
        p->prefilled += n;
        p->calls++;
        s->ready = 1;
    }
    return st;
}

/* The checks of open and begin; reserves a sequence (not yet live) and returns its slot in *slot_out. */
static rt_status open_seq(rollout_model_policy *p, const int32_t *prompt, size_t n, const rollout_sampling *sampling,
                          uint64_t seed, size_t *slot_out, rt_error *err) {
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
    s->ready = 0;
    s->sampler.temperature = sampling->temperature;
    s->sampler.top_p = sampling->top_p > 0 ? sampling->top_p : 1.0;
    s->sampler.top_k = sampling->top_k;
    rt_rng_seed(&s->rng, seed);
    s->force = p->force ? p->force(p->force_ctx, prompt, n, &s->force_len) : NULL;
    if (!s->force) s->force_len = 0;
    s->force_pos = 0;
    *slot_out = slot;
    return RT_OK;
}

static rt_status pol_open(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling, uint64_t seed,
                          int64_t *seq, rt_error *err) {
    rollout_model_policy *p = ctx;
    size_t slot;
    rt_status st = open_seq(p, prompt, n, sampling, seed, &slot, err);
    if (st) return st;
    policy_seq *s = &p->seqs[slot];
    st = feed(p, s, prompt, n, err);
    if (st) {
        model_seq_free(p->kv, s->kv_id);
        return st;
    }
    s->live = 1;
    *seq = (int64_t)slot;
    return RT_OK;
}

static rt_status pol_begin(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling,
                           uint64_t seed, int64_t *seq, rt_error *err) {
    rollout_model_policy *p = ctx;
    size_t slot;
    rt_status st = open_seq(p, prompt, n, sampling, seed, &slot, err);
    if (st) return st;
    p->seqs[slot].live = 1;
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

/* The token a ready sequence emits next: its forced token, or a sample (scratch sb); *logprob as model_sample reports
 * it. */
static int32_t next_token(rollout_model_policy *p, policy_seq *s, model_sample_buf *sb, float *logprob) {
    if (s->force_pos >= s->force_len) return model_sample(&s->sampler, s->logits, sb, &s->rng, logprob);
    int32_t tok = s->force[s->force_pos++];
    double T = s->sampler.temperature > 0 ? s->sampler.temperature : 1.0, mx = -INFINITY, sum = 0;
    for (int64_t v = 0; v < p->V; v++) mx = fmax(mx, s->logits[v] / T);
    for (int64_t v = 0; v < p->V; v++) sum += exp(s->logits[v] / T - mx);
    *logprob = (float)(s->logits[tok] / T - mx - log(sum));
    return tok;
}

typedef struct sample_ctx {
    rollout_model_policy *p;
    const int64_t *seqs;
    int32_t *tokens;
    float *logprobs;
} sample_ctx;

static void sample_task(void *vc, int64_t begin, int64_t end, int tid) {
    sample_ctx *c = vc;
    for (int64_t i = begin; i < end; i++)
        c->tokens[i] = next_token(c->p, &c->p->seqs[c->seqs[i]], &c->p->sbufs[tid], &c->logprobs[i]);
}

/* tokens[i], logprobs[i] for the ready sequences seqs[0, n), drawn on the pool's threads (each sequence draws from its
 * own random stream: the tokens do not depend on the thread count). */
static rt_status sample_all(rollout_model_policy *p, const int64_t *seqs, size_t n, int32_t *tokens, float *logprobs,
                            rt_error *err) {
    int nt = kern_threads();
    if (nt > p->nsbufs) {
        model_sample_buf *g = realloc(p->sbufs, (size_t)nt * sizeof *g);
        if (!g) return rt_err_set(err, RT_ENOMEM, "out of memory for sampling scratch");
        p->sbufs = g;
        for (; p->nsbufs < nt; p->nsbufs++)
            if (!model_sample_buf_init(&p->sbufs[p->nsbufs], p->V))
                return rt_err_set(err, RT_ENOMEM, "out of memory for sampling over a vocabulary of %lld",
                                  (long long)p->V);
    }
    sample_ctx c = {p, seqs, tokens, logprobs};
    kern_parallel_for((int64_t)n, 1, sample_task, &c);
    return RT_OK;
}

typedef struct copy_ctx {
    rollout_model_policy *p;
} copy_ctx;

/* Row r of the batch's logits to the sequence of row r (p->which), on the pool's threads. */
static void copy_task(void *vc, int64_t begin, int64_t end, int tid) {
    (void)tid;
    rollout_model_policy *p = ((copy_ctx *)vc)->p;
    for (int64_t r = begin; r < end; r++) {
        policy_seq *s = &p->seqs[p->which[r]];
        memcpy(s->logits, p->batch_logits + (size_t)r * (size_t)p->V, (size_t)p->V * sizeof(float));
        s->ready = 1;
    }
}

static rt_status check_step_seq(const rollout_model_policy *p, int64_t seq, rt_error *err) {
    if (seq < 0 || (size_t)seq >= p->max_seqs || !p->seqs[seq].live)
        return rt_err_set(err, RT_EINVAL, "step on sequence %lld, which is not live", (long long)seq);
    if (!p->seqs[seq].ready)
        return rt_err_set(err, RT_EINVAL, "step on sequence %lld, whose prompt was never fed", (long long)seq);
    const policy_seq *s = &p->seqs[seq];
    if (s->force_pos < s->force_len && (s->force[s->force_pos] < 0 || s->force[s->force_pos] >= p->V))
        return rt_err_set(err, RT_EINVAL, "forced token %zu of sequence %lld is id %d, outside the vocabulary of %lld",
                          s->force_pos, (long long)seq, s->force[s->force_pos], (long long)p->V);
    return RT_OK;
}

static rt_status pol_step(void *ctx, const int64_t *seqs, size_t n, int32_t *tokens, float *logprobs, rt_error *err) {
    rollout_model_policy *p = ctx;
    if (n > p->max_seqs) return rt_err_set(err, RT_EINVAL, "step over %zu sequences, more than %zu", n, p->max_seqs);
    for (size_t i = 0; i < n; i++) {
        rt_status st = check_step_seq(p, seqs[i], err);
        if (st) return st;
    }
    rt_status st = sample_all(p, seqs, n, tokens, logprobs, err);
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
        p->ids[i] = p->seqs[seqs[i]].kv_id;
        p->which[i] = (size_t)seqs[i];
    }
    st = model_decode(p->m, p->kv, (int64_t)n, p->ids, tokens, p->batch_logits, err);
    if (st) return st;
    p->calls++;
    copy_ctx cc = {p};
    kern_parallel_for((int64_t)n, 1, copy_task, &cc);
    return RT_OK;
}

/* Why feed f cannot run (live sequence, tokens in the vocabulary, room in the context), or RT_OK. */
static rt_status check_feed(const rollout_model_policy *p, const rollout_feed *f, rt_error *err) {
    if (f->seq < 0 || (size_t)f->seq >= p->max_seqs || !p->seqs[f->seq].live)
        return rt_err_set(err, RT_EINVAL, "feed to sequence %lld, which is not live", (long long)f->seq);
    if (f->n == 0) return rt_err_set(err, RT_EINVAL, "feed of no tokens to sequence %lld", (long long)f->seq);
    for (size_t i = 0; i < f->n; i++)
        if (f->ids[i] < 0 || f->ids[i] >= p->V)
            return rt_err_set(err, RT_EINVAL, "token %zu fed to sequence %lld is id %d, outside the vocabulary of %lld",
                              i, (long long)f->seq, f->ids[i], (long long)p->V);
    int64_t len = model_seq_len(p->kv, p->seqs[f->seq].kv_id);
    if (len + (int64_t)f->n > p->m->cfg.max_position_embeddings)
        return rt_err_set(err, RT_ERANGE, "sequence %lld would reach %lld tokens, above the context of %lld",
                          (long long)f->seq, (long long)(len + (int64_t)f->n),
                          (long long)p->m->cfg.max_position_embeddings);
    return RT_OK;
}

static rt_status pol_advance(void *ctx, const rollout_feed *feeds, size_t nf, rt_error *feed_err, const int64_t *seqs,
                             size_t n, int32_t *tokens, float *logprobs, rt_error *err) {
    rollout_model_policy *p = ctx;
    if (n + nf > p->max_seqs)
        return rt_err_set(err, RT_EINVAL, "advance over %zu sequences, more than %zu", n + nf, p->max_seqs);
    for (size_t i = 0; i < n; i++) {
        rt_status st = check_step_seq(p, seqs[i], err);
        if (st) return st;
    }
    /* Rows of the call: the stepped sequences (one token each), then the feeds the policy accepts. */
    size_t ntok = n, rows = n;
    for (size_t j = 0; j < nf; j++) {
        rt_err_clear(&feed_err[j]);
        if (!check_feed(p, &feeds[j], &feed_err[j])) ntok += feeds[j].n;
    }
    if (ntok > p->tokens_cap) {
        int32_t *t = realloc(p->tokens, ntok * sizeof *t);
        if (!t) return rt_err_set(err, RT_ENOMEM, "out of memory for %zu tokens", ntok);
        p->tokens = t;
        p->tokens_cap = ntok;
    }
    rt_status st = sample_all(p, seqs, n, tokens, logprobs, err);
    if (st) return st;
    p->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        policy_seq *s = &p->seqs[seqs[i]];
        p->tokens[i] = tokens[i];
        p->ids[i] = s->kv_id;
        p->which[i] = (size_t)seqs[i];
        p->off[i + 1] = (int64_t)i + 1;
    }
    size_t fed = 0;
    for (size_t j = 0; j < nf; j++) {
        if (feed_err[j].status) continue;
        const rollout_feed *f = &feeds[j];
        memcpy(p->tokens + p->off[rows], f->ids, f->n * sizeof(int32_t));
        p->ids[rows] = p->seqs[f->seq].kv_id;
        p->which[rows] = (size_t)f->seq;
        p->off[rows + 1] = p->off[rows] + (int64_t)f->n;
        fed += f->n;
        rows++;
    }
    if (rows == 0) return RT_OK;
    st = model_infer(p->m, p->kv, (int64_t)rows, p->ids, p->off, p->tokens, p->batch_logits, NULL, err);
    if (st) return st;
    p->calls++;
    p->prefilled += fed;
    copy_ctx cc = {p};
    kern_parallel_for((int64_t)rows, 1, copy_task, &cc);
    return RT_OK;
}

static void pol_close(void *ctx, int64_t seq) {
    rollout_model_policy *p = ctx;
    if (seq < 0 || (size_t)seq >= p->max_seqs || !p->seqs[seq].live) return;
    model_seq_free(p->kv, p->seqs[seq].kv_id);
    p->seqs[seq].live = 0;
    p->seqs[seq].ready = 0;
}

rollout_policy rollout_model_policy_ops(rollout_model_policy *p) {
    rollout_policy ops = {.ctx = p,
                          .open = pol_open,
                          .append = pol_append,
                          .step = pol_step,
                          .close = pol_close,
                          .max_seq_len = (size_t)p->m->cfg.max_position_embeddings,
                          .begin = pol_begin,
                          .advance = pol_advance};
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
