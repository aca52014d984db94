/* What the rollout engine needs from the layers below, as small interfaces: a policy that decodes batches, a
 * tokenizer, and an executor that runs code asynchronously. Adapters bind them to the model engine, the tokenizer
 * and the sandbox (in-process pool or remote SandboxFusion servers); tests bind them to scripted stand-ins. */
#ifndef RETOOL_ROLLOUT_OPS_H
#define RETOOL_ROLLOUT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rollout/shape.h"

typedef struct rollout_sampling {
    float temperature;   /* 0 = greedy */
    float top_p;         /* 1 = off */
    int top_k;           /* 0 = off */
} rollout_sampling;

/* Tokens to append to one live sequence in a batched call (rollout_policy.advance). */
typedef struct rollout_feed {
    int64_t seq;
    const int32_t *ids;
    size_t n;              /* at least 1 */
} rollout_feed;

/* A policy holds live sequences (KV caches). After open or append, the sequence's next-token distribution is ready;
 * step samples one token for each given sequence, returns it with its log-prob under the sampling distribution's
 * model (temperature-scaled log-softmax), and feeds it so the distribution is ready again. */
typedef struct rollout_policy {
    void *ctx;
    /* Opens a sequence and prefills prompt[0, n); *seq receives its handle. */
    rt_status (*open)(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling, uint64_t seed,
                      int64_t *seq, rt_error *err);
    /* Prefills ids[0, n) after what the sequence holds (interpreter output): only these tokens are computed. */
    rt_status (*append)(void *ctx, int64_t seq, const int32_t *ids, size_t n, rt_error *err);
    /* One batched decode step over seqs[0, n): tokens[i], logprobs[i] for seqs[i]. */
    rt_status (*step)(void *ctx, const int64_t *seqs, size_t n, int32_t *tokens, float *logprobs, rt_error *err);
    /* Frees a sequence and its cache. */
    void (*close)(void *ctx, int64_t seq);
    /* Most tokens one sequence may hold (context length), 0 = no limit. */
    size_t max_seq_len;
    /* The batched path, optional (both NULL: the engine calls open, append and step one sequence at a time). */
    /* Opens a sequence like open (same checks) but computes nothing: the prompt is fed by a later advance. */
    rt_status (*begin)(void *ctx, const int32_t *prompt, size_t n, const rollout_sampling *sampling, uint64_t seed,
                       int64_t *seq, rt_error *err);
    /* One model call for everything due: feeds[0, nf) append their tokens (a begun sequence's prompt, interpreter
     * output) and step seqs[0, n) as step does (tokens[i], logprobs[i]); a sequence appears at most once. A feed the
     * policy refuses (feed_err[j].status set, the others still run) leaves its sequence as it was; a failure of the
     * call itself is returned. After it every fed and stepped sequence has its next-token distribution ready. */
    rt_status (*advance)(void *ctx, const rollout_feed *feeds, size_t nf, rt_error *feed_err, const int64_t *seqs,
                         size_t n, int32_t *tokens, float *logprobs, rt_error *err);
} rollout_policy;

/* A tokenizer, as far as rollouts need one. Token bytes concatenate to the decoded text exactly (byte-level BPE). */
typedef struct rollout_tokenizer {
    void *ctx;
    /* Encodes plain text (no special-token parsing) into malloc'd ids. */
    rt_status (*encode)(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, rt_error *err);
    /* Encodes untrusted text (interpreter output) with no added token matched; NULL means encode. */
    rt_status (*encode_untrusted)(void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, rt_error *err);
    /* Writes the raw bytes of token id into buf (up to cap) and returns their count (may exceed cap). */
    size_t (*token_bytes)(void *ctx, int32_t id, char *buf, size_t cap);
} rollout_tokenizer;

typedef struct rollout_exec_request {
    const char *code;
    double timeout_s;      /* wall-clock limit of this call */
    uint64_t session;      /* 0 = stateless; else one live interpreter per session id (stateful mode) */
} rollout_exec_request;

typedef struct rollout_exec_result {
    rollout_exec_status status;
    char *stdout_text;     /* malloc'd, owned by the receiver */
    char *stderr_text;     /* malloc'd, owned by the receiver */
} rollout_exec_result;

/* Runs code asynchronously. submit never blocks; results come back through poll in any order, tagged with the
 * ticket given at submit. A failure to run is a result with status ROLLOUT_EXEC_SANDBOX_ERROR, never a stall. */
typedef struct rollout_executor {
    void *ctx;
    rt_status (*submit)(void *ctx, uint64_t ticket, const rollout_exec_request *req, rt_error *err);
    /* Returns 1 and fills *ticket, *result when a result is ready, waiting up to wait_s seconds; else 0. */
    int (*poll)(void *ctx, double wait_s, uint64_t *ticket, rollout_exec_result *result);
    /* Ends a stateful session (frees its interpreter). May be NULL for stateless executors. */
    void (*session_close)(void *ctx, uint64_t session);
} rollout_executor;

#endif
