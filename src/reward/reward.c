#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reward/reward.h"

void reward_options_default(reward_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->shape = REWARD_SHAPE_SIGNED;
    opt->no_answer_reward = -1.0;
}

static double value(const reward_options *opt, int right) {
    if (opt->shape == REWARD_SHAPE_BINARY) return right ? 1.0 : 0.0;
    return right ? 1.0 : -1.0;
}

rt_status reward_score(const char *response, const char *truth, const reward_options *opt, reward_result *out,
                       rt_error *err) {
    reward_options def;
    if (!opt) {
        reward_options_default(&def);
        opt = &def;
    }
    memset(out, 0, sizeof *out);
    rt_error why;
    rt_err_clear(&why);
    rt_status st = reward_extract(response, &out->answer, &why);
    if (st == RT_ENOTFOUND) {
        snprintf(out->reason, sizeof out->reason, "%.150s", why.msg);
        out->verdict = REWARD_NOT_EQUAL;
        out->reward = opt->format_penalty ? opt->no_answer_reward : value(opt, 0);
        return RT_OK;
    }
    if (st != RT_OK) {
        *err = why;
        return st;
    }
    out->has_answer = 1;
    st = reward_equivalent(truth, out->answer, opt->symbolic, opt->symbolic_ctx, &out->verdict, err);
    if (st != RT_OK) {
        reward_result_free(out);
        return st;
    }
    int right = out->verdict == REWARD_EQUAL || (out->verdict == REWARD_UNDECIDED && opt->undecided_is_equal);
    out->reward = value(opt, right);
    return RT_OK;
}

void reward_result_free(reward_result *r) {
    free(r->answer);
    r->answer = NULL;
}
