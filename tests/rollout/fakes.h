/* Scripted stand-ins for the rollout engine's policy, tokenizer and executor. The tokenizer is byte-level (id = byte,
 * 256 = EOS "<eos>"); the policy replays a script per prompt byte by byte, recording what is prefilled; the executor
 * understands a few Python shapes (x = N, print(x), print(A*B), print_answer(N), an endless loop) and can delay its
 * answers. */
#ifndef RETOOL_TESTS_ROLLOUT_FAKES_H
#define RETOOL_TESTS_ROLLOUT_FAKES_H

#include <stddef.h>
#include <stdint.h>

#include "rollout/engine.h"
#include "rollout/ops.h"

#define FAKE_EOS 256
#define FAKE_MAX_SEQS 64

typedef struct fake_policy {
    const char *const *scripts; /* script i is replayed for a prompt whose first id is i */
    size_t nscripts;
    int eos_at_end;             /* emit FAKE_EOS after the script, else repeat spaces */
    struct {
        int live;
        const char *script;
        size_t pos;
        size_t prefilled;       /* tokens given to open + append */
        size_t appended;        /* tokens given to append (or fed after the prompt) */
        int fed_prompt;         /* batched path: the prompt was fed */
        int32_t first;          /* the prompt's first id */
        int32_t appended_ids[8192];
    } seqs[FAKE_MAX_SEQS];
    size_t total_prefilled;
    size_t opened, closed;
    size_t max_batch;
    int unbatched;              /* bind only open/append/step (the engine's one-sequence-at-a-time path) */
    size_t calls;               /* step and advance calls */
    size_t feed_calls;          /* advance calls with feeds */
    size_t max_feeds;           /* most feeds in one advance */
    size_t fused_calls;         /* advance calls that fed and stepped */
    int fail_feed_of;           /* a feed to the sequence of the prompt whose first id is this fails (0 = none) */
} fake_policy;

typedef struct fake_exec_job {
    uint64_t ticket;
    int ready_after;            /* polls before the result is ready; -1 = never */
    rollout_exec_result result;
} fake_exec_job;

typedef struct fake_executor {
    fake_exec_job jobs[256];
    size_t njobs;
    int delay;                  /* polls before each result is ready (default 0) */
    int delay_for_slow;         /* polls for code containing "slow" */
    int fail_submit;            /* submit returns an error */
    long long session_x[FAKE_MAX_SEQS + 1]; /* x per session (stateful mode) */
    int session_has_x[FAKE_MAX_SEQS + 1];
    size_t submitted;
    size_t sessions_closed;
    int timeout_never_returns;  /* endless loops never answer (to test the wall cap) */
} fake_executor;

/* Binds the fakes to the rollout interfaces. */
rollout_policy fake_policy_ops(fake_policy *p);
rollout_tokenizer fake_tokenizer_ops(void);
rollout_executor fake_executor_ops(fake_executor *x);

/* Runs one request, prompt {0, 7, 7}, whose response is script, through rollout_run with the fakes into *t. */
rt_status fake_rollout_one(const rollout_config *cfg, fake_policy *pol, fake_executor *ex, const char *script,
                           rollout_trajectory *t, rt_error *err);

#endif
