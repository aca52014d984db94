/* GAE, whitening, GRPO advantages, PPO/value/KL losses: hand-computed values and finite-difference gradients. */
#include <criterion/criterion.h>
#include <math.h>

#include "train/advantage.h"
#include "train/policy_loss.h"

#define EPS 1e-5

Test(advantage, gae_gamma_lambda_one_is_return_minus_value) {
    float values[] = {0.5f, 9.0f, 0.2f, -0.1f};
    uint8_t mask[] = {1, 0, 1, 1};
    float adv[4], ret[4];
    train_gae(values, mask, 4, 1.0f, 1.0f, 1.0f, adv, ret);
    cr_expect_float_eq(adv[0], 0.5f, EPS);
    cr_expect_float_eq(adv[1], 0.0f, 0);
    cr_expect_float_eq(adv[2], 0.8f, EPS);
    cr_expect_float_eq(adv[3], 1.1f, EPS);
    for (int i = 0; i < 4; i++) cr_expect_float_eq(ret[i], mask[i] ? 1.0f : 0.0f, EPS);
}

Test(advantage, gae_discounted_by_hand) {
    /* Hand computation, interpreter token at index 1 skipped:
     * t=3: delta = 1 + 0 - (-0.1) = 1.1, A = 1.1
     * t=2: delta = 0.9 * -0.1 - 0.2 = -0.29, A = -0.29 + 0.45 * 1.1 = 0.205
     * t=0: delta = 0.9 * 0.2 - 0.5 = -0.32, A = -0.32 + 0.45 * 0.205 = -0.22775 */
    float values[] = {0.5f, 9.0f, 0.2f, -0.1f};
    uint8_t mask[] = {1, 0, 1, 1};
    float adv[4], ret[4];
    train_gae(values, mask, 4, 1.0f, 0.9f, 0.5f, adv, ret);
    cr_expect_float_eq(adv[3], 1.1f, EPS);
    cr_expect_float_eq(adv[2], 0.205f, EPS);
    cr_expect_float_eq(adv[0], -0.22775f, EPS);
    cr_expect_float_eq(ret[0], 0.27225f, EPS);
    cr_expect_float_eq(ret[2], 0.405f, EPS);
}

Test(advantage, whiten_over_valid_tokens) {
    float x[] = {2, 4, 6, 100};
    uint8_t mask[] = {1, 1, 1, 0};
    cr_expect_eq(train_whiten(x, mask, 4, 1, 0.0f), 3u);
    cr_expect_float_eq(x[0], -1.0f, EPS);
    cr_expect_float_eq(x[1], 0.0f, EPS);
    cr_expect_float_eq(x[2], 1.0f, EPS);
    cr_expect_float_eq(x[3], 100.0f, 0);
    float y[] = {2, 4, 6};
    train_whiten(y, mask, 3, 0, 0.0f);
    cr_expect_float_eq(y[0], 3.0f, EPS);
    cr_expect_float_eq(y[2], 5.0f, EPS);
}

Test(advantage, grpo_groups) {
    float r1[] = {1, -1, -1, 1}, a1[4];
    train_grpo_group_advantages(r1, 4, 1, 0.0f, a1);
    for (int i = 0; i < 4; i++) cr_expect_float_eq(a1[i], r1[i], EPS);
    float r2[] = {1, 1, 1, -1}, a2[4];
    train_grpo_group_advantages(r2, 4, 1, 0.0f, a2);
    cr_expect_float_eq(a2[0], 0.5773503f, EPS); /* 0.5 / sqrt(0.75) */
    cr_expect_float_eq(a2[3], -1.7320508f, EPS);
    train_grpo_group_advantages(r2, 4, 0, 0.0f, a2);
    cr_expect_float_eq(a2[0], 0.5f, EPS);
    cr_expect_float_eq(a2[3], -1.5f, EPS);
    float flat[] = {-1, -1, -1};
    cr_expect(train_group_is_flat(flat, 3));
    cr_expect_not(train_group_is_flat(r2, 4));
}

/* A group of 300 (past the 256 the step once stopped at): 100 right (+1), 200 wrong (-1): mean -1/3, population std
 * sqrt(8/9), so +1 -> (4/3)/sqrt(8/9) = sqrt(2) and -1 -> (-2/3)/sqrt(8/9) = -1/sqrt(2); the next group {1, -1} is
 * normalised on its own (+1, -1). */
Test(advantage, grpo_batch_groups_of_any_size) {
    enum { G = 300, N = G + 2 };
    int64_t group[N];
    float rw[N], adv[N];
    for (size_t i = 0; i < N; i++) {
        group[i] = i < G ? 7 : 8;
        rw[i] = i < 100 ? 1.0f : -1.0f;
    }
    rw[G] = 1.0f;
    train_grpo_batch_advantages(group, rw, N, 1, 0.0f, adv);
    for (size_t i = 0; i < G; i++) cr_assert_float_eq(adv[i], i < 100 ? 1.4142136f : -0.7071068f, EPS, "item %zu", i);
    cr_expect_float_eq(adv[G], 1.0f, EPS);
    cr_expect_float_eq(adv[G + 1], -1.0f, EPS);
}

Test(policy_loss, ppo_clip_cases_by_hand) {
    /* ratio 1.5 or 0.5, advantage 2 or -1, clip 0.2 low / 0.28 high:
     * (A=2, r=1.5): min(3.0, 2.56) clipped   -> loss -2.56, no gradient
     * (A=2, r=0.5): min(1.0, 1.6) unclipped  -> loss -1.0, d/dlogp = -A r = -1.0
     * (A=-1, r=1.5): min(-1.5, -1.28) unclip -> loss 1.5, d/dlogp = 1.5
     * (A=-1, r=0.5): min(-0.5, -0.8) clipped -> loss 0.8, no gradient */
    float old[] = {-2, -2, -2, -2, -3};
    float logp[] = {-2 + logf(1.5f), -2 + logf(0.5f), -2 + logf(1.5f), -2 + logf(0.5f), 0};
    float adv[] = {2, 2, -1, -1, 7};
    uint8_t mask[] = {1, 1, 1, 1, 0};
    float d[5];
    train_pg_stats st;
    train_ppo_policy_loss(logp, old, adv, mask, 5, 0.2f, 0.28f, 4.0, d, &st);
    cr_expect_float_eq(st.loss, -0.315, 1e-6);
    cr_expect_float_eq(st.clip_frac, 0.5, 1e-12);
    cr_expect_eq(st.tokens, 4u);
    cr_expect_float_eq(d[0], 0.0f, 0);
    cr_expect_float_eq(d[1], -0.25f, EPS);
    cr_expect_float_eq(d[2], 0.375f, EPS);
    cr_expect_float_eq(d[3], 0.0f, 0);
    cr_expect_float_eq(d[4], 0.0f, 0);
}

Test(policy_loss, ppo_gradient_matches_finite_differences) {
    float old[] = {-1.0f, -0.3f, -2.2f};
    float logp[] = {-0.95f, -0.31f, -2.0f};
    float adv[] = {0.7f, -1.3f, 0.4f};
    uint8_t mask[] = {1, 1, 1};
    float d[3], scratch[3];
    train_ppo_policy_loss(logp, old, adv, mask, 3, 0.2f, 0.28f, 3.0, d, NULL);
    for (int t = 0; t < 3; t++) {
        float h = 1e-3f;
        float lp[3] = {logp[0], logp[1], logp[2]};
        train_pg_stats a, b;
        lp[t] = logp[t] + h;
        train_ppo_policy_loss(lp, old, adv, mask, 3, 0.2f, 0.28f, 3.0, scratch, &a);
        lp[t] = logp[t] - h;
        train_ppo_policy_loss(lp, old, adv, mask, 3, 0.2f, 0.28f, 3.0, scratch, &b);
        cr_expect_float_eq(d[t], (a.loss - b.loss) / (2 * h), 2e-3, "token %d", t);
    }
}

Test(policy_loss, value_loss_clipping_by_hand) {
    /* token 0: v 1.0, old 0.5, R 0: clipped v 0.7 gives 0.245 < 0.5 unclipped: loss 0.5, dv = 1.0
     * token 1: v 0.6, old 0.5, R 2, clip 0.05: v_clip 0.55 gives 1.05125 > 0.98: loss 1.05125, dv = 0 */
    float v[] = {1.0f, 0.6f}, old[] = {0.5f, 0.5f}, ret[] = {0.0f, 2.0f};
    uint8_t mask[] = {1, 1};
    float dv[2];
    float v0[] = {1.0f}, o0[] = {0.5f}, r0[] = {0.0f};
    cr_expect_float_eq(train_value_loss(v0, o0, r0, mask, 1, 0.2f, 1.0, dv), 0.5, 1e-6);
    cr_expect_float_eq(dv[0], 1.0f, EPS);
    float v1[] = {0.6f}, o1[] = {0.5f}, r1[] = {2.0f};
    cr_expect_float_eq(train_value_loss(v1, o1, r1, mask, 1, 0.05f, 1.0, dv), 1.05125, 1e-5);
    cr_expect_float_eq(dv[0], 0.0f, 0);
    cr_expect_float_eq(train_value_loss(v, old, ret, mask, 2, 0.0f, 2.0, dv), (0.5 + 0.98) / 2, 1e-5);
    cr_expect_float_eq(dv[1], -0.7f, EPS);
}

Test(policy_loss, kl_estimators_by_hand) {
    /* logp -1, ref -1.5: k1 = 0.5; k3 = e^-0.5 + 0.5 - 1 = 0.1065307, d k3/d logp = 1 - e^-0.5 = 0.3934693 */
    float logp[] = {-1.0f, 5.0f}, ref[] = {-1.5f, 0.0f};
    uint8_t mask[] = {1, 0};
    float d[2] = {0, 0};
    /* (Criterion's float macros evaluate their arguments twice: call first.) */
    double k1 = train_kl_penalty(logp, ref, mask, 2, TRAIN_KL_K1, 0.1f, 1.0, d);
    cr_expect_float_eq(k1, 0.5, 1e-6);
    cr_expect_float_eq(d[0], 0.1f, EPS);
    d[0] = 0;
    double k3 = train_kl_penalty(logp, ref, mask, 2, TRAIN_KL_K3, 1.0f, 1.0, d);
    cr_expect_float_eq(k3, 0.1065307, 1e-6);
    cr_expect_float_eq(d[0], 0.3934693f, EPS);
    cr_expect_float_eq(d[1], 0.0f, 0);
    float eq[] = {-1.0f};
    float ref_eq[] = {-1.0f};
    d[0] = 0;
    double k0 = train_kl_penalty(eq, ref_eq, mask, 1, TRAIN_KL_K3, 1.0f, 1.0, d);
    cr_expect_float_eq(k0, 0.0, 1e-12);
}
