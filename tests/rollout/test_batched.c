/* The batched path against the real model: tool-calling trajectories forced through a tiny random model (then sampled
 * on) come out the same when 6 run together (prompts and interpreter blocks prefilled in shared, fused calls) as when
 * they run one at a time, and as through the engine's one-sequence-at-a-time path, and on two threads as on one;
 * every reported log-prob equals a full forward's over the finished trajectory. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "fakes.h"
#include "kernels/pool.h"
#include "model/model.h"
#include "rollout/bind.h"
#include "rollout/engine.h"

#define NV 260   /* bytes, <eos> = 256, three unused */
#define NREQ 6
#define CODE(c) "<code>\n```python\n" c "\n```\n</code>"

static const char *const scripts[] = {
    "Compute.\n" CODE("print(12*34)") "So",
    "Two calls: " CODE("print(3*3)") "and " CODE("# slow\nprint(7*8)") "ok",
    "No tool at all, only words",
    CODE("bad code") "retry " CODE("print(2*2)"),
};
static const int which[NREQ] = {0, 1, 2, 3, 1, 0};

typedef struct forced_scripts {
    int32_t ids[4][256];
    size_t len[4];
} forced_scripts;

static const int32_t *force_fn(void *ctx, const int32_t *prompt, size_t n, size_t *len) {
    forced_scripts *f = ctx;
    (void)n;
    *len = f->len[prompt[0]];
    return f->ids[prompt[0]];
}

static void tiny(model *m) {
    model_config c = {0};
    c.arch = MODEL_ARCH_QWEN2;
    c.attention_bias = 1;
    c.vocab_size = NV;
    c.hidden_size = 32;
    c.intermediate_size = 64;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 8;
    c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    model_opts o = {.prec = MODEL_PREC_F32};
    rt_error e;
    cr_assert_eq(model_init(m, &c, &o, &e), RT_OK, "%s", e.msg);
    model_init_random(m, 5, 0.3);
}

/* Runs the NREQ requests max_concurrent at a time; batched = 0 hides begin/advance from the engine. */
static void run(model *m, size_t max_concurrent, int batched, rollout_trajectory *out, rollout_stats *st) {
    forced_scripts fs;
    for (size_t s = 0; s < 4; s++) {
        fs.len[s] = strlen(scripts[s]);
        for (size_t i = 0; i < fs.len[s]; i++) fs.ids[s][i] = (unsigned char)scripts[s][i];
    }
    rollout_model_policy *p;
    rt_error e;
    cr_assert_eq(rollout_model_policy_init(&p, m, NREQ, &e), RT_OK, "%s", e.msg);
    rollout_model_policy_force(p, force_fn, &fs);
    rollout_policy ops = rollout_model_policy_ops(p);
    if (!batched) ops.begin = NULL, ops.advance = NULL;
    rollout_tokenizer tok = fake_tokenizer_ops();
    static fake_executor ex;
    memset(&ex, 0, sizeof ex);
    ex.delay = 1;
    ex.delay_for_slow = 6;
    rollout_executor x = fake_executor_ops(&ex);
    int32_t prompts[NREQ][5];
    rollout_request reqs[NREQ];
    for (size_t i = 0; i < NREQ; i++) {
        prompts[i][0] = which[i];
        for (int k = 1; k < 5; k++) prompts[i][k] = 40 + (int32_t)(i * 7 + (size_t)k) % 50;
        reqs[i] = (rollout_request){.prompt = prompts[i], .n_prompt = 5, .prompt_index = (int64_t)i};
    }
    rollout_config cfg = rollout_config_defaults();
    cfg.max_concurrent = max_concurrent;
    cfg.budget.max_response_tokens = 220; /* the scripts, then sampled tokens up to here */
    cfg.stop_string = NULL;
    cfg.seed = 99;
    cr_assert_eq(rollout_run(&cfg, &ops, &tok, &x, reqs, NREQ, out, st, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(rollout_model_policy_prefilled(p), st->prompt_tokens + st->interpreter_tokens,
                 "prompt + interpreter tokens, never the context again");
    rollout_model_policy_free(p);
}

/* The log-prob of every model token of t, recomputed by a full forward over prompt + response. */
static void check_full_forward(model *m, const rollout_trajectory *t) {
    size_t n = t->n_prompt + t->n_response;
    int32_t *ids = malloc(n * sizeof *ids), *targets = malloc(n * sizeof *targets);
    float *logits = malloc(n * NV * sizeof(float));
    memcpy(ids, t->prompt_ids, t->n_prompt * sizeof *ids);
    memcpy(ids + t->n_prompt, t->response_ids, t->n_response * sizeof *ids);
    for (size_t i = 0; i < n; i++) targets[i] = -1;
    int64_t start[2] = {0, (int64_t)n};
    model_batch b = {.nseq = 1, .start = start, .tokens = ids, .targets = targets};
    rt_error e;
    cr_assert_eq(model_logits(m, &b, logits, &e), RT_OK, "%s", e.msg);
    for (size_t k = 0; k < t->n_response; k++) {
        if (!t->mask[k]) continue;
        const float *row = logits + (t->n_prompt + k - 1) * NV;
        double mx = row[0], sum = 0;
        for (int v = 1; v < NV; v++) mx = fmax(mx, row[v]);
        for (int v = 0; v < NV; v++) sum += exp(row[v] - mx);
        double want = row[t->response_ids[k]] - mx - log(sum);
        cr_expect_lt(fabs(t->logprobs[k] - want), 1e-4, "%s token %zu: log-prob %f, full forward %f", t->id, k,
                     t->logprobs[k], want);
    }
    free(ids);
    free(targets);
    free(logits);
}

Test(batched, six_together_equal_one_at_a_time_on_the_real_model) {
    rt_log_set_level(RT_LOG_OFF);
    model m;
    tiny(&m);
    rollout_trajectory wide[NREQ], one[NREQ], old[NREQ];
    rollout_stats sw, s1, so;
    /* the batched run on two threads (the policy samples its sequences in parallel), the others on one: the tokens
     * must not depend on the thread count */
    cr_assert_eq(kern_init(2, NULL), RT_OK);
    run(&m, NREQ, 1, wide, &sw);
    cr_assert_eq(kern_init(1, NULL), RT_OK);
    run(&m, 1, 1, one, &s1);
    run(&m, NREQ, 0, old, &so);
    kern_shutdown();
    cr_expect_eq(sw.max_batch, (size_t)NREQ);
    cr_expect_eq(s1.max_batch, 1u);
    cr_expect_gt(sw.t_fused, 0.0, "some interpreter blocks were prefilled inside a decode step");
    cr_expect_lt(sw.prefill_calls, (size_t)NREQ, "prefills share calls");
    cr_expect_eq(so.prefill_calls, 0u);
    size_t calls = 0;
    for (int i = 0; i < NREQ; i++) {
        const rollout_trajectory *ref = &one[i];
        calls += ref->n_calls;
        cr_expect_eq(ref->n_response, 220u, "%s: the script, then sampling up to the budget", ref->id);
        for (int pass = 0; pass < 2; pass++) {
            const rollout_trajectory *t = pass ? &old[i] : &wide[i];
            cr_assert_eq(t->n_response, ref->n_response, "%s", t->id);
            for (size_t k = 0; k < t->n_response; k++) {
                cr_assert_eq(t->response_ids[k], ref->response_ids[k], "%s token %zu", t->id, k);
                cr_expect_eq(t->mask[k], ref->mask[k]);
                /* f32 products of 6 rows and of 1 sum in different orders (oneDNN picks kernels by shape): the
                 * ids are equal exactly, the log-probs to the full-forward check's 1e-4. */
                cr_expect_lt(fabsf(t->logprobs[k] - ref->logprobs[k]), 1e-4, "%s token %zu: %.9g vs %.9g", t->id, k,
                             t->logprobs[k], ref->logprobs[k]);
            }
            cr_expect_eq(t->n_calls, ref->n_calls);
        }
        check_full_forward(&m, &wide[i]);
        rollout_trajectory_free(&wide[i]);
        rollout_trajectory_free(&one[i]);
        rollout_trajectory_free(&old[i]);
    }
    cr_expect_eq(calls, 8u, "every scripted block ran or was answered");
    model_free(&m);
}
