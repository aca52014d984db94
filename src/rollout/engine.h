/* The rollout engine: many trajectories decode together in one batched step; a sequence that writes </code> leaves
 * the batch while its code runs, and rejoins with the interpreter block appended by an append-prefill of just those
 * tokens. New prompts join as others finish (continuous batching), up to max_concurrent live sequences. With a
 * policy that has the batched path (begin, advance), each round makes one model call: the decode step of every ready
 * sequence, fused with the prefill of every prompt admitted and every interpreter block returned since the last. */
#ifndef RETOOL_ROLLOUT_ENGINE_H
#define RETOOL_ROLLOUT_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "rollout/ops.h"
#include "rollout/shape.h"
#include "rollout/trajectory.h"

typedef enum rollout_tools_mode {
    ROLLOUT_TOOLS_NONE = 0,    /* text only: </code> is ordinary text */
    ROLLOUT_TOOLS_STATELESS,   /* each code block runs alone (the paper's evaluation) */
    ROLLOUT_TOOLS_STATEFUL,    /* one interpreter session per trajectory: variables persist across blocks */
} rollout_tools_mode;

typedef struct rollout_budget {
    size_t max_tool_calls;          /* calls run per trajectory; later ones are refused with a message */
    size_t max_response_tokens;     /* response tokens (model + interpreter); the trajectory ends there */
    size_t max_interpreter_tokens;  /* interpreter tokens per trajectory; the trajectory ends before passing it */
    double call_timeout_s;          /* wall-clock limit of one call */
    double wall_s;                  /* wall-clock cap of one trajectory; 0 = none */
} rollout_budget;

typedef struct rollout_config {
    rollout_tools_mode tools;
    rollout_budget budget;
    rollout_shape_config shape;
    rollout_sampling sampling;
    size_t max_concurrent;          /* live sequences at once */
    const int32_t *stop_ids;        /* token ids that end a trajectory (EOS, <|im_end|>) */
    size_t n_stop_ids;
    const char *stop_string;        /* text that ends a trajectory (default "</answer>"); NULL = none */
    uint64_t seed;                  /* per-trajectory seeds are split from it by (prompt index, sample index) */
    FILE *audit;                    /* when set, one JSONL line per tool call */
    /* Called as text is appended to a response: each model token's bytes (mask 1) as it is sampled, and each
     * interpreter block in one piece (mask 0). The pieces concatenate to the response. For streaming; may be NULL. */
    void (*on_token)(void *ctx, size_t index, const char *bytes, size_t len, int mask);
    void *on_token_ctx;
    /* Called as each trajectory finishes (e.g. a progress bar); may be NULL. */
    void (*on_done)(void *ctx, size_t index, const rollout_trajectory *t);
    void *on_done_ctx;
} rollout_config;

/* Defaults: stateless tools, 8 calls, 4096 response tokens, 2048 interpreter tokens, 10 s a call, no wall cap,
 * output shaped 200 + "..." + 200, T = 1, top-p 1, 64 concurrent, stop at "</answer>". */
rollout_config rollout_config_defaults(void);

typedef struct rollout_request {
    const int32_t *prompt;
    size_t n_prompt;
    int64_t prompt_index;
    int64_t sample_index;
} rollout_request;

typedef struct rollout_stats {
    size_t decode_steps;       /* model calls that sampled tokens */
    size_t model_calls;        /* model calls of the batched path (advance) and of step; open/append not counted */
    size_t prefill_calls;      /* advance calls that prefilled prompts or interpreter blocks */
    size_t decoded_tokens;     /* tokens sampled */
    size_t prompt_tokens;      /* prefilled at open */
    size_t interpreter_tokens; /* prefilled by append */
    size_t tool_calls;         /* calls run (not refused) */
    size_t max_batch;          /* widest decode step */
    double t_decode;           /* seconds in step */
    double t_prefill;          /* seconds in open and append, or in batched calls that only prefilled */
    double t_fused;            /* seconds in batched calls that decoded and prefilled together */
    double t_idle;             /* seconds waiting on the sandbox with nothing to decode */
    double t_total;
} rollout_stats;

/* Runs every request to completion; out[i] receives request i's trajectory (caller frees each). A failure of the
 * policy on one sequence ends that trajectory (stop "error"); a failure of a whole step is returned. */
rt_status rollout_run(const rollout_config *cfg, const rollout_policy *policy, const rollout_tokenizer *tok,
                      const rollout_executor *exec, const rollout_request *reqs, size_t n, rollout_trajectory *out,
                      rollout_stats *stats, rt_error *err);

#endif
