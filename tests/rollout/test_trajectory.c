/* Trajectory JSONL: exact round trip (ids, float bits, masks, calls, flags) and field-named errors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/rng.h"
#include "rollout/trajectory.h"

static void make(rollout_trajectory *t) {
    rollout_trajectory_init(t);
    rt_error e;
    t->id = strdup("p3-s1");
    t->prompt_index = 3;
    t->sample_index = 1;
    t->n_prompt = 4;
    t->prompt_ids = malloc(4 * sizeof(int32_t));
    for (int i = 0; i < 4; i++) t->prompt_ids[i] = 151644 + i;
    rt_rng r;
    rt_rng_seed(&r, 5);
    for (int i = 0; i < 300; i++) {
        float lp = -(float)rt_rng_uniform(&r) * 20.0f;
        if (i == 7) lp = -1e-30f;                      /* tiny */
        if (i == 8) lp = -3.4028235e38f;               /* most negative float */
        cr_assert_eq(rollout_trajectory_push(t, (int32_t)rt_rng_below(&r, 200000), lp, i % 5 != 0, &e), RT_OK);
    }
    rollout_tool_call c = {.response_index = 10, .n_tokens = 5, .code = strdup("print(\"é\\n\")"),
                           .output = strdup("é"), .status = ROLLOUT_EXEC_ERROR, .refused = 1, .latency_s = 0.125};
    cr_assert_eq(rollout_trajectory_add_call(t, &c, &e), RT_OK);
    t->answer = strdup("\\frac{1}{2}");
    t->reward = -1;
    t->flags = ROLLOUT_FLAG_TOOL_ERROR | ROLLOUT_FLAG_BUDGET_WALL;
    t->stop = ROLLOUT_STOP_BUDGET;
    t->response_text = strdup("text with \"quotes\" and \x01 control");
}

Test(trajectory, round_trip_is_exact) {
    rollout_trajectory a, b;
    make(&a);
    char *mem = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&mem, &len);
    rt_error e;
    cr_assert_eq(rollout_trajectory_write(fp, &a, &e), RT_OK);
    fclose(fp);
    cr_expect_eq(mem[len - 1], '\n');
    cr_expect_null(memchr(mem, '\n', len - 1), "one line");
    cJSON *j;
    cr_assert_eq(rt_json_parse(mem, len, "line", &j, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(rollout_trajectory_from_json(j, &b, &e), RT_OK, "%s", e.msg);
    cJSON_Delete(j);
    cr_expect_str_eq(b.id, a.id);
    cr_assert_eq(b.n_prompt, a.n_prompt);
    cr_expect_eq(memcmp(b.prompt_ids, a.prompt_ids, a.n_prompt * sizeof(int32_t)), 0);
    cr_assert_eq(b.n_response, a.n_response);
    cr_expect_eq(memcmp(b.response_ids, a.response_ids, a.n_response * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(b.logprobs, a.logprobs, a.n_response * sizeof(float)), 0, "log-probs bit-exact");
    cr_expect_eq(memcmp(b.mask, a.mask, a.n_response), 0);
    cr_assert_eq(b.n_calls, 1u);
    cr_expect_str_eq(b.calls[0].code, a.calls[0].code);
    cr_expect_str_eq(b.calls[0].output, "é");
    cr_expect_eq(b.calls[0].status, ROLLOUT_EXEC_ERROR);
    cr_expect_eq(b.calls[0].refused, 1);
    cr_expect_str_eq(b.answer, a.answer);
    cr_expect_null(b.truth);
    cr_expect_eq(b.flags, a.flags);
    cr_expect_eq(b.stop, ROLLOUT_STOP_BUDGET);
    cr_expect_str_eq(b.response_text, a.response_text);
    free(mem);
    rollout_trajectory_free(&a);
    rollout_trajectory_free(&b);
}

static void expect_error(const char *json, const char *want) {
    cJSON *j;
    rt_error e;
    cr_assert_eq(rt_json_parse(json, strlen(json), "t", &j, &e), RT_OK, "%s", e.msg);
    rollout_trajectory t;
    cr_expect_neq(rollout_trajectory_from_json(j, &t, &e), RT_OK);
    cr_expect(strstr(e.msg, want) != NULL, "got '%s', want '%s'", e.msg, want);
    cJSON_Delete(j);
}

Test(trajectory, bad_fields_are_named) {
    expect_error("{\"prompt_ids\": []}", "field 'version'");
    expect_error("{\"version\": 9}", "trajectory format 9");
    expect_error("{\"version\": 1, \"prompt_ids\": [1, -2]}", "field 'prompt_ids'[1]");
    expect_error("{\"version\": 1, \"prompt_ids\": [], \"response_ids\": [1,2], \"logprobs\": [0]}",
                 "field 'logprobs': 1 values for 2");
    expect_error("{\"version\": 1, \"prompt_ids\": [], \"response_ids\": [1], \"logprobs\": [0], \"mask\": [2]}",
                 "field 'mask'[0]");
    expect_error("{\"version\": 1, \"prompt_ids\": [], \"response_ids\": [1], \"logprobs\": [0], \"mask\": [1],"
                 "\"tool_calls\": [{\"response_index\": 0, \"n_tokens\": 5, \"status\": \"ok\"}]}",
                 "tool_calls[0]: field 'response_index'");
    expect_error("{\"version\": 1, \"prompt_ids\": [], \"response_ids\": [], \"logprobs\": [], \"mask\": [],"
                 "\"tool_calls\": [], \"flags\": [\"bogus\"]}",
                 "field 'flags'");
}
