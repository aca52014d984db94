/* Hand-built trajectories for the pipeline tests. */
#ifndef RETOOL_TESTS_PIPELINE_HELPERS_H
#define RETOOL_TESTS_PIPELINE_HELPERS_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/trajectory.h"

/* A call spec: code (NULL = none extracted), status, refused. */
typedef struct call_spec {
    const char *code;
    rollout_exec_status status;
    int refused;
} call_spec;

/* Fills t: n_model tokens with mask 1 (ids = token_id), then n_interp tokens with mask 0; the given calls; answer,
 * reward, flags and response text (NULLs allowed). */
static inline void make_traj(rollout_trajectory *t, const char *id, int64_t prompt, int64_t sample, size_t n_model,
                             size_t n_interp, const call_spec *calls, size_t ncalls, const char *answer, double reward,
                             uint32_t flags, const char *text) {
    rollout_trajectory_init(t);
    rt_error e;
    t->id = id ? strdup(id) : NULL;
    t->prompt_index = prompt;
    t->sample_index = sample;
    for (size_t i = 0; i < n_model; i++)
        cr_assert_eq(rollout_trajectory_push(t, 7, -0.5f, 1, &e), RT_OK);
    for (size_t i = 0; i < n_interp; i++)
        cr_assert_eq(rollout_trajectory_push(t, 9, 0.0f, 0, &e), RT_OK);
    for (size_t i = 0; i < ncalls; i++) {
        rollout_tool_call c = {.response_index = n_model,
                               .n_tokens = 0,
                               .code = calls[i].code ? strdup(calls[i].code) : NULL,
                               .output = strdup("out"),
                               .status = calls[i].status,
                               .refused = calls[i].refused};
        cr_assert_eq(rollout_trajectory_add_call(t, &c, &e), RT_OK);
    }
    t->answer = answer ? strdup(answer) : NULL;
    t->reward = reward;
    t->flags = flags;
    t->response_text = text ? strdup(text) : NULL;
}

#endif
