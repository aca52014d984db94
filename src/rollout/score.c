#include "rollout/score.h"

#include <stdlib.h>
#include <string.h>

rt_status rollout_score(rollout_trajectory *t, const char *truth, const reward_options *opt, rt_error *err) {
    reward_result r;
    memset(&r, 0, sizeof r);
    rt_status st = reward_score(t->response_text ? t->response_text : "", truth, opt, &r, err);
    if (st) return st;
    free(t->truth);
    free(t->answer);
    t->truth = strdup(truth);
    t->answer = r.answer ? strdup(r.answer) : NULL;
    t->reward = r.reward;
    if (!r.has_answer) t->flags |= ROLLOUT_FLAG_NO_ANSWER;
    reward_result_free(&r);
    if (!t->truth) return rt_err_set(err, RT_ENOMEM, "out of memory");
    return RT_OK;
}
