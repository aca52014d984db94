/* The engine-backed policy: after decoding and an append-prefill, the logits it holds equal a full forward over the
 * same ids, the behaviour log-probs are the full forward's log-softmax, and only prompt + appended tokens are
 * prefilled. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "base/log.h"
#include "model/model.h"
#include "rollout/bind.h"

static void tiny_model_kv(model *m, int bias, int kv_heads) {
    model_config c = {0};
    c.arch = bias ? MODEL_ARCH_QWEN2 : MODEL_ARCH_LLAMA;
    c.attention_bias = bias;
    c.vocab_size = 48;
    c.hidden_size = 32;
    c.intermediate_size = 64;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = kv_heads;
    c.head_dim = 8;
    c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 10000;
    c.bos_token_id = c.eos_token_id = -1;
    model_opts o = {.prec = MODEL_PREC_F32};
    rt_error e;
    cr_assert_eq(model_init(m, &c, &o, &e), RT_OK, "%s", e.msg);
    model_init_random(m, 11, 0.3);
}

static void tiny_model(model *m, int bias) {
    tiny_model_kv(m, bias, 2);
}

/* The logits p holds for seq equal a full forward over ids[0, n) (1e-5), and each behaviour log-prob lps[k] of the
 * token at lp_pos[k] equals the full forward's log-softmax (1e-4). */
static void expect_full_forward(model *m, rollout_model_policy *p, int64_t seq, const int32_t *ids, size_t n,
                                const size_t *lp_pos, const float *lps, size_t nlp) {
    rt_error e;
    int64_t start[2] = {0, (int64_t)n};
    int32_t targets[64];
    for (size_t i = 0; i < n; i++)
        targets[i] = -1;
    model_batch batch = {.nseq = 1, .start = start, .tokens = (int32_t *)ids, .targets = targets};
    float *logits = malloc(n * 48 * sizeof(float));
    cr_assert_eq(model_logits(m, &batch, logits, &e), RT_OK, "%s", e.msg);
    const float *held = rollout_model_policy_logits(p, seq);
    double maxdiff = 0;
    for (int v = 0; v < 48; v++)
        maxdiff = fmax(maxdiff, fabs(held[v] - logits[(n - 1) * 48 + v]));
    cr_expect_lt(maxdiff, 1e-5, "held logits differ from a full forward by %g", maxdiff);
    for (size_t k = 0; k < nlp; k++) {
        const float *row = logits + (lp_pos[k] - 1) * 48;
        double mx = row[0], sum = 0;
        for (int v = 1; v < 48; v++)
            mx = fmax(mx, row[v]);
        for (int v = 0; v < 48; v++)
            sum += exp(row[v] - mx);
        double want = row[ids[lp_pos[k]]] - mx - log(sum);
        cr_expect_lt(fabs(lps[k] - want), 1e-4, "log-prob %zu: %f vs %f", k, lps[k], want);
    }
    free(logits);
}

static void check_kv(int bias, int kv_heads) {
    rt_log_set_level(RT_LOG_OFF);
    model m;
    tiny_model_kv(&m, bias, kv_heads);
    rollout_model_policy *p;
    rt_error e;
    cr_assert_eq(rollout_model_policy_init(&p, &m, 4, &e), RT_OK, "%s", e.msg);
    rollout_policy ops = rollout_model_policy_ops(p);
    int32_t seq_ids[64];
    size_t n = 0;
    int32_t prompt[] = {3, 9, 27, 5, 1};
    for (size_t i = 0; i < 5; i++)
        seq_ids[n++] = prompt[i];
    rollout_sampling s = {.temperature = 1.0f, .top_p = 1.0f};
    int64_t a, b;
    cr_assert_eq(ops.open(ops.ctx, prompt, 5, &s, 1, &a, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(ops.open(ops.ctx, prompt, 3, &s, 2, &b, &e), RT_OK, "%s", e.msg); /* a neighbour in the batch */
    float lps[16];
    size_t lp_pos[16], nlp = 0;
    for (int step = 0; step < 10; step++) {
        if (step == 5) {
            int32_t interp[] = {40, 41, 42, 7, 7, 8, 2};
            cr_assert_eq(ops.append(ops.ctx, a, interp, 7, &e), RT_OK);
            for (int i = 0; i < 7; i++)
                seq_ids[n++] = interp[i];
        }
        int64_t seqs[2] = {a, b};
        int32_t tok[2];
        float lp[2];
        cr_assert_eq(ops.step(ops.ctx, seqs, 2, tok, lp, &e), RT_OK, "%s", e.msg);
        lp_pos[nlp] = n;
        lps[nlp++] = lp[0];
        seq_ids[n++] = tok[0];
    }
    cr_expect_eq(rollout_model_policy_prefilled(p), 5u + 3u + 7u, "prompt + interpreter tokens, never more");
    expect_full_forward(&m, p, a, seq_ids, n, lp_pos, lps, nlp);
    ops.close(ops.ctx, a);
    ops.close(ops.ctx, b);
    rollout_model_policy_free(p);
    model_free(&m);
}

Test(bind, kv_reuse_is_exact_llama) {
    check_kv(0, 2);
}
Test(bind, kv_reuse_is_exact_qwen2_bias) {
    check_kv(1, 2);
}
Test(bind, kv_reuse_is_exact_without_gqa) {
    check_kv(0, 4);
} /* one head per KV group: the one-row scoring path */

Test(bind, bad_prompts_are_refused) {
    model m;
    tiny_model(&m, 0);
    rollout_model_policy *p;
    rt_error e;
    cr_assert_eq(rollout_model_policy_init(&p, &m, 1, &e), RT_OK);
    rollout_policy ops = rollout_model_policy_ops(p);
    rollout_sampling s = {.temperature = 0};
    int32_t bad[] = {1, 99};
    int64_t a;
    cr_expect_eq(ops.open(ops.ctx, bad, 2, &s, 1, &a, &e), RT_EINVAL);
    cr_expect(strstr(e.msg, "id 99") != NULL, "%s", e.msg);
    int32_t ok[] = {1};
    cr_assert_eq(ops.open(ops.ctx, ok, 1, &s, 1, &a, &e), RT_OK);
    int64_t b;
    cr_expect_eq(ops.open(ops.ctx, ok, 1, &s, 1, &b, &e), RT_EBUSY);
    rollout_model_policy_free(p);
    model_free(&m);
}

/* The same through the batched ops: begin computes nothing, one advance prefills both prompts, and the interpreter
 * block of one sequence is prefilled in the same call that decodes its neighbour. The held logits and the behaviour
 * log-probs still equal a full forward over the same ids, and only prompt + interpreter tokens are prefilled. */
Test(bind, batched_advance_is_exact) {
    rt_log_set_level(RT_LOG_OFF);
    model m;
    tiny_model_kv(&m, 0, 2);
    rollout_model_policy *p;
    rt_error e;
    cr_assert_eq(rollout_model_policy_init(&p, &m, 4, &e), RT_OK, "%s", e.msg);
    rollout_policy ops = rollout_model_policy_ops(p);
    cr_assert(ops.begin && ops.advance, "the model policy offers the batched ops");
    int32_t prompt[] = {3, 9, 27, 5, 1}, interp[] = {40, 41, 42, 7, 7, 8, 2};
    rollout_sampling s = {.temperature = 1.0f, .top_p = 1.0f};
    int64_t a, b;
    size_t calls0 = rollout_model_policy_calls(p);
    cr_assert_eq(ops.begin(ops.ctx, prompt, 5, &s, 1, &a, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(ops.begin(ops.ctx, prompt, 3, &s, 2, &b, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(rollout_model_policy_calls(p), calls0, "begin computes nothing");
    cr_expect_eq(rollout_model_policy_prefilled(p), 0u);
    rollout_feed feeds[2] = {{a, prompt, 5}, {b, prompt, 3}};
    rt_error ferr[2] = {0};
    cr_assert_eq(ops.advance(ops.ctx, feeds, 2, ferr, NULL, 0, NULL, NULL, &e), RT_OK, "%s", e.msg);
    int32_t ids[64];
    size_t n = 0, lp_pos[16], nlp = 0;
    float lps[16];
    for (size_t i = 0; i < 5; i++)
        ids[n++] = prompt[i];
    for (int round = 0; round < 10; round++) {
        int64_t seqs[2] = {a, b};
        int32_t tok[2];
        float lp[2];
        if (round == 5) { /* a takes its interpreter block while b decodes, in one call */
            rollout_feed f = {a, interp, 7};
            size_t before = rollout_model_policy_calls(p);
            cr_assert_eq(ops.advance(ops.ctx, &f, 1, ferr, &b, 1, tok, lp, &e), RT_OK, "%s", e.msg);
            cr_expect_eq(rollout_model_policy_calls(p), before + 1, "one model call for the feed and the step");
            for (int i = 0; i < 7; i++)
                ids[n++] = interp[i];
            continue;
        }
        cr_assert_eq(ops.advance(ops.ctx, NULL, 0, ferr, seqs, 2, tok, lp, &e), RT_OK, "%s", e.msg);
        lp_pos[nlp] = n;
        lps[nlp++] = lp[0];
        ids[n++] = tok[0];
    }
    cr_expect_eq(rollout_model_policy_prefilled(p), 5u + 3u + 7u, "prompt + interpreter tokens, never more");
    expect_full_forward(&m, p, a, ids, n, lp_pos, lps, nlp);
    ops.close(ops.ctx, a);
    ops.close(ops.ctx, b);
    rollout_model_policy_free(p);
    model_free(&m);
}
