#include "serve/review.h"

#include <stdlib.h>
#include <string.h>

#include "reward/reward.h"
#include "rollout/score.h"

serve_review_config serve_review_defaults(void) {
    serve_review_config c = {.min_agreement = 1.0,
                             .reasons = SERVE_REVIEW_DISAGREE | SERVE_REVIEW_TOOL_FAILED | SERVE_REVIEW_BUDGET |
                                        SERVE_REVIEW_NO_ANSWER | SERVE_REVIEW_ERROR};
    return c;
}

const char *serve_review_reason_name(uint32_t bit) {
    switch (bit) {
    case SERVE_REVIEW_DISAGREE: return "samples_disagree";
    case SERVE_REVIEW_TOOL_FAILED: return "tool_failed";
    case SERVE_REVIEW_BUDGET: return "budget_hit";
    case SERVE_REVIEW_NO_ANSWER: return "no_answer";
    case SERVE_REVIEW_ERROR: return "generation_error";
    default: return NULL;
    }
}

int serve_tool_failed_unrepaired(const rollout_trajectory *t) {
    int failed = 0;
    for (size_t i = 0; i < t->n_calls; i++) {
        const rollout_tool_call *c = &t->calls[i];
        if (c->refused) continue;
        failed = c->status != ROLLOUT_EXEC_OK;
    }
    return failed;
}

void serve_review_free(serve_review *r) {
    for (size_t i = 0; r->answers && i < r->n; i++) free(r->answers[i]);
    free(r->answers);
    free(r->reasons);
    free(r->consensus);
    memset(r, 0, sizeof *r);
}

static int same(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    reward_verdict v = REWARD_NOT_EQUAL;
    rt_error e;
    if (reward_equivalent(a, b, NULL, NULL, &v, &e)) return 0;
    return v == REWARD_EQUAL;
}

rt_status serve_review_judge(const serve_review_config *cfg, const rollout_trajectory *t, size_t n, serve_review *out,
                             rt_error *err) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->answers = calloc(n ? n : 1, sizeof *out->answers);
    out->reasons = calloc(n ? n : 1, sizeof *out->reasons);
    if (!out->answers || !out->reasons) {
        serve_review_free(out);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    const uint32_t budget = ROLLOUT_FLAG_BUDGET_TOOL_CALLS | ROLLOUT_FLAG_BUDGET_RESPONSE |
                            ROLLOUT_FLAG_BUDGET_INTERPRETER | ROLLOUT_FLAG_BUDGET_WALL | ROLLOUT_FLAG_CONTEXT;
    for (size_t i = 0; i < n; i++) {
        rt_error e;
        char *a = NULL;
        /* Only what the model wrote answers; a program that prints an answer does not (docs/REWARD.md). */
        char *own = NULL;
        if (t[i].response_text && rollout_model_text(&t[i], &own, &e) != RT_OK) {
            serve_review_free(out);
            return rt_err_set(err, RT_ENOMEM, "out of memory");
        }
        if (own && reward_extract(own, &a, &e) == RT_OK) out->answers[i] = a;
        free(own);
        uint32_t r = 0;
        if (!out->answers[i]) r |= SERVE_REVIEW_NO_ANSWER;
        if (serve_tool_failed_unrepaired(&t[i])) r |= SERVE_REVIEW_TOOL_FAILED;
        if ((t[i].flags & budget) || t[i].stop == ROLLOUT_STOP_BUDGET) r |= SERVE_REVIEW_BUDGET;
        if (t[i].stop == ROLLOUT_STOP_ERROR) r |= SERVE_REVIEW_ERROR;
        out->reasons[i] = r;
    }
    size_t best = 0, best_i = n;
    for (size_t i = 0; i < n; i++) {
        if (!out->answers[i]) continue;
        size_t c = 0;
        for (size_t j = 0; j < n; j++) c += out->answers[j] && same(out->answers[i], out->answers[j]);
        if (c > best) {
            best = c;
            best_i = i;
        }
    }
    out->agreement = n ? (double)best / (double)n : 0;
    if (best_i < n) {
        out->consensus = strdup(out->answers[best_i]);
        if (!out->consensus) {
            serve_review_free(out);
            return rt_err_set(err, RT_ENOMEM, "out of memory");
        }
    }
    if (n > 1 && best > 0 && out->agreement < cfg->min_agreement)
        for (size_t i = 0; i < n; i++) out->reasons[i] |= SERVE_REVIEW_DISAGREE;
    for (size_t i = 0; i < n; i++) {
        out->reasons[i] &= cfg->reasons;
        out->any |= out->reasons[i];
    }
    return RT_OK;
}
