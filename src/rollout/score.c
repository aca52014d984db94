#include "rollout/score.h"

#include <stdlib.h>
#include <string.h>

#include "rollout/protocol.h"

/* Length of the block at p when it is exactly the interpreter block of output o (from "<interpreter>" to the end of
 * "</interpreter>"), else 0. */
static size_t exact_block(const char *p, const char *o) {
    static const char open[] = ROLLOUT_INTERP_OPEN "\n", close[] = "\n" ROLLOUT_INTERP_CLOSE;
    size_t lo = strlen(open), lout = strlen(o), lc = strlen(close);
    if (strncmp(p, open, lo) != 0 || strncmp(p + lo, o, lout) != 0 || strncmp(p + lo + lout, close, lc) != 0) return 0;
    return lo + lout + lc;
}

char *rollout_strip_interpreter(const char *text, const rollout_tool_call *calls, size_t n_calls) {
    size_t len = strlen(text), n = 0, j = 0;
    char *out = malloc(len + 1);
    if (!out) return NULL;
    const size_t lopen = strlen(ROLLOUT_INTERP_OPEN), lclose = strlen(ROLLOUT_INTERP_CLOSE);
    const char *p = text;
    for (const char *open; (open = strstr(p, ROLLOUT_INTERP_OPEN));) {
        memcpy(out + n, p, (size_t)(open - p));
        n += (size_t)(open - p);
        while (j < n_calls && calls[j].n_tokens == 0) j++; /* a call whose block never entered the response */
        size_t exact = j < n_calls && calls[j].output ? exact_block(open, calls[j].output) : 0;
        if (exact) {
            p = open + exact;
            j++;
            continue;
        }
        const char *close = strstr(open + lopen, ROLLOUT_INTERP_CLOSE);
        p = close ? close + lclose : text + len;
    }
    size_t rest = strlen(p);
    memcpy(out + n, p, rest + 1);
    return out;
}

rt_status rollout_model_text(const rollout_trajectory *t, char **out, rt_error *err) {
    *out = t->model_text ? strdup(t->model_text)
                         : rollout_strip_interpreter(t->response_text ? t->response_text : "", t->calls, t->n_calls);
    return *out ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory copying the model's text");
}

rt_status rollout_score(rollout_trajectory *t, const char *truth, const reward_options *opt, rt_error *err) {
    char *own = NULL;
    rt_status st = rollout_model_text(t, &own, err);
    if (st) return st;
    reward_result r;
    memset(&r, 0, sizeof r);
    st = reward_score(own, truth, opt, &r, err);
    free(own);
    if (st) return st;
    free(t->truth);
    free(t->answer);
    t->truth = strdup(truth);
    t->answer = r.answer ? strdup(r.answer) : NULL;
    t->reward = r.reward;
    if (r.has_answer) t->flags &= ~(uint32_t)ROLLOUT_FLAG_NO_ANSWER;
    else t->flags |= ROLLOUT_FLAG_NO_ANSWER;
    int lost = !t->truth || (r.answer && !t->answer);
    reward_result_free(&r);
    if (lost) return rt_err_set(err, RT_ENOMEM, "out of memory");
    return RT_OK;
}

/* The answer reward_extract finds in text (*answer malloc'd, NULL when none). */
static rt_status answer_of(const char *text, char **answer, rt_error *err) {
    rt_status st = reward_extract(text, answer, err);
    return st == RT_ENOTFOUND ? RT_OK : st;
}

static int same_answer(const char *a, const char *b) {
    return a ? b && strcmp(a, b) == 0 : !b;
}

rt_status rollout_score_recheck(rollout_trajectory *t, const reward_options *opt, int *rescored, rt_error *err) {
    *rescored = 0;
    if (!t->response_text) return RT_OK;
    char *own = NULL, *answer = NULL, *whole = NULL;
    rt_status st = rollout_model_text(t, &own, err);
    if (!st) st = answer_of(own, &answer, err);
    free(own);
    /* Re-scored only when the stored answer is the one the whole response gives (the old rule) and the model's own
     * text gives another: a stored answer that came from elsewhere (a custom reward, a hand-made file) is kept. */
    if (!st && !same_answer(answer, t->answer)) st = answer_of(t->response_text, &whole, err);
    int stale = !st && !same_answer(answer, t->answer) && same_answer(whole, t->answer);
    free(whole);
    if (st || !stale) {
        free(answer);
        return st;
    }
    *rescored = 1;
    if (t->truth) {
        free(answer);
        char *truth = strdup(t->truth);
        if (!truth) return rt_err_set(err, RT_ENOMEM, "out of memory");
        st = rollout_score(t, truth, opt, err);
        free(truth);
        return st;
    }
    free(t->answer);
    t->answer = answer;
    t->reward = opt->shape == REWARD_SHAPE_BINARY ? 0.0 : -1.0;
    if (answer) t->flags &= ~(uint32_t)ROLLOUT_FLAG_NO_ANSWER;
    else t->flags |= ROLLOUT_FLAG_NO_ANSWER;
    return RT_OK;
}
