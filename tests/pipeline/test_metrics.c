/* The method's metrics on hand-built trajectories, against values computed by hand; pass@k against the closed form
 * with exact binomials; maj@k tie-breaking; families; bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "pipeline/metrics.h"

#define EPS 1e-12

/* T1 p0 s0: 16 model + 4 interpreter tokens; calls: error (2 non-empty lines), ok (1 line); answer "2", correct.
 * T2 p0 s1: 8 model tokens, no calls; answer "3", wrong; flag budget_response_tokens.
 * T3 p1 s0: 10 + 2 tokens; calls: timeout (1 line), sandbox error (2 lines), refused (1 line); "5", wrong.
 * T4 p1 s1: 4 + 2 tokens; calls: ok (1), format error without code (0), ok (1); "6", correct; no text. */
static const char *T1_TEXT = "ab <code> cd<code>print(1)</code><interpreter>1</interpreter>abc"; /* 64 bytes */
static const char *T3_TEXT = "xxxx<code>ab</code>";                                              /* 19 bytes */

static void make_set(rollout_trajectory *t) {
    call_spec c1[] = {{"x = 1\n\nprint(x)\n  \n", ROLLOUT_EXEC_ERROR, 0}, {"print(2)", ROLLOUT_EXEC_OK, 0}};
    call_spec c3[] = {{"while True: pass", ROLLOUT_EXEC_TIMEOUT, 0},
                      {"a\n\t\nb\n", ROLLOUT_EXEC_SANDBOX_ERROR, 0},
                      {"c", ROLLOUT_EXEC_ERROR, 1}};
    call_spec c4[] = {
        {"print(5)", ROLLOUT_EXEC_OK, 0}, {NULL, ROLLOUT_EXEC_ERROR, 0}, {"print(6)", ROLLOUT_EXEC_OK, 0}};
    /* Stored out of order: the metrics sort by prompt, then sample. */
    make_traj(&t[2], "p1-s0", 1, 0, 10, 2, c3, 3, "5", -1, ROLLOUT_FLAG_TOOL_ERROR | ROLLOUT_FLAG_BUDGET_TOOL_CALLS,
              T3_TEXT);
    make_traj(&t[0], "p0-s0", 0, 0, 16, 4, c1, 2, "2", 1, 0, T1_TEXT);
    make_traj(&t[3], "p1-s1", 1, 1, 4, 2, c4, 3, "6", 1, 0, NULL);
    make_traj(&t[1], "p0-s1", 0, 1, 8, 0, NULL, 0, "3", -1, ROLLOUT_FLAG_BUDGET_RESPONSE, "no code here");
}

static void free_set(rollout_trajectory *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        rollout_trajectory_free(&t[i]);
}

Test(metrics, every_metric_by_hand) {
    cr_assert_eq(strlen(T1_TEXT), 64u);
    rollout_trajectory t[4];
    make_set(t);
    pipe_metrics_report r;
    rt_error e;
    cr_assert_eq(pipe_metrics_compute(t, 4, NULL, &r, &e), RT_OK, "%s", e.msg);
    const pipe_metrics *m = &r.all;
    cr_expect_eq(r.n_families, 0u);
    cr_expect_eq(m->n_responses, 4u);
    cr_expect_eq(m->n_prompts, 2u);
    cr_expect_eq(m->samples_min, 2u);
    cr_expect_eq(m->samples_max, 2u);
    cr_expect_eq(m->n_correct, 2u);
    cr_expect_float_eq(m->pass1, 0.5, EPS);
    cr_assert_eq(m->n_k, 2u);
    cr_expect_eq(m->k[0], 1u);
    cr_expect_eq(m->k[1], 2u);
    cr_expect_float_eq(m->pass_at_k[0], 0.5, EPS);
    cr_expect_float_eq(m->pass_at_k[1], 1.0, EPS); /* each prompt has one correct of two */
    cr_expect_float_eq(m->maj_at_k[0], 0.5, EPS);  /* p0 s0 right, p1 s0 wrong */
    cr_expect_float_eq(m->maj_at_k[1], 0.5, EPS);  /* ties: the first answer wins: "2" (right), "5" (wrong) */
    cr_expect_float_eq(m->response_length, 46.0 / 4, EPS);
    cr_expect_float_eq(m->model_tokens, 38.0 / 4, EPS);
    cr_expect_float_eq(m->code_ratio, 0.75, EPS);
    cr_expect_float_eq(m->code_lines, 9.0 / 4, EPS); /* 3 + 4 + 2 */
    cr_expect_float_eq(m->code_calls, 2.0, EPS);
    cr_expect_float_eq(m->correct_code, 0.75, EPS);
    cr_expect_eq(m->n_with_code, 3u);
    cr_expect_eq(m->n_code_correct, 2u);
    cr_expect_eq(m->n_code_incorrect, 1u);
    cr_expect_float_eq(m->last_pass, 2.0 / 3, EPS);
    cr_expect_float_eq(m->last_pass_correct, 1.0, EPS);
    cr_expect_float_eq(m->last_pass_incorrect, 0.0, EPS);
    cr_expect_eq(m->timing_in_tokens, 0);
    cr_expect_eq(m->n_timing, 2u); /* T4 has no text */
    cr_expect_float_eq(m->invocation_timing, (12.0 / 64 + 4.0 / 19) / 2, EPS);
    cr_expect_float_eq(m->self_corrections, 0.5, EPS);
    cr_expect_float_eq(m->self_correction_ratio, 0.5, EPS);
    cr_expect_eq(m->calls_total, 8u);
    cr_expect_eq(m->calls_ok, 3u);
    cr_expect_eq(m->calls_error, 2u);
    cr_expect_eq(m->calls_timeout, 1u);
    cr_expect_eq(m->calls_sandbox_error, 1u);
    cr_expect_eq(m->calls_refused, 1u);
    cr_expect_float_eq(m->tool_errors, 1.0, EPS);
    cr_expect_eq(m->flag_counts[1], 1u); /* budget_response_tokens */
    cr_expect_eq(m->flag_counts[4], 1u); /* tool_error */
    cr_expect_eq(m->flag_counts[0], 1u); /* budget_tool_calls */
    cr_expect_eq(m->flag_counts[2] + m->flag_counts[3] + m->flag_counts[5] + m->flag_counts[6], 0u);
    pipe_metrics_report_free(&r);
    free_set(t, 4);
}

Test(metrics, families_from_map_and_from_ids) {
    rollout_trajectory t[4];
    make_set(t);
    const char *fams[] = {"arith", "modpow"};
    pipe_metrics_options opt = {.families = fams, .n_families = 2};
    pipe_metrics_report r;
    rt_error e;
    cr_assert_eq(pipe_metrics_compute(t, 4, &opt, &r, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(r.n_families, 2u);
    cr_expect_str_eq(r.families[0].family, "arith");
    cr_expect_str_eq(r.families[1].family, "modpow");
    cr_expect_eq(r.families[0].n_responses, 2u);
    cr_expect_float_eq(r.families[0].code_ratio, 0.5, EPS);
    cr_expect_float_eq(r.families[0].code_lines, 1.5, EPS);
    cr_expect_float_eq(r.families[0].tool_errors, 0.5, EPS);
    cr_expect_float_eq(r.families[1].code_ratio, 1.0, EPS);
    cr_expect_float_eq(r.families[1].tool_errors, 1.5, EPS);
    cr_expect_float_eq(r.families[1].last_pass, 0.5, EPS);
    cr_expect_float_eq(r.families[1].maj_at_k[1], 0.0, EPS);
    cr_expect(isnan(r.families[0].last_pass_incorrect), "T2 has no code: no wrong answer with code in arith");
    pipe_metrics_report_free(&r);

    /* From ids "FAMILY/...": T1 and T3 get families, the others none (whole-set metrics still count them). */
    free(t[0].id);
    t[0].id = strdup("zeta/p0-s0");
    free(t[2].id);
    t[2].id = strdup("alpha/p1-s0");
    cr_assert_eq(pipe_metrics_compute(t, 4, NULL, &r, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(r.n_families, 2u);
    cr_expect_str_eq(r.families[0].family, "alpha");
    cr_expect_eq(r.families[0].n_responses, 1u);
    cr_expect_float_eq(r.families[1].pass1, 1.0, EPS);
    cr_expect_eq(r.all.n_responses, 4u);
    pipe_metrics_report_free(&r);
    free_set(t, 4);
}

/* Exact C(n, k) for small n. */
static uint64_t binom(unsigned n, unsigned k) {
    if (k > n) return 0;
    uint64_t r = 1;
    for (unsigned i = 1; i <= k; i++)
        r = r * (n - k + i) / i;
    return r;
}

Test(metrics, pass_at_k_matches_closed_form) {
    for (unsigned n = 1; n <= 16; n++)
        for (unsigned c = 0; c <= n; c++)
            for (unsigned k = 1; k <= n; k++) {
                double want = 1.0 - (double)binom(n - c, k) / (double)binom(n, k);
                cr_expect_float_eq(pipe_pass_at_k(n, c, k), want, 1e-12, "n=%u c=%u k=%u", n, c, k);
            }
    cr_expect(isnan(pipe_pass_at_k(3, 1, 4)));
    cr_expect_float_eq(pipe_pass_at_k(10, 3, 1), 0.3, 1e-15);
}

Test(metrics, majority_ties_and_missing_answers) {
    rollout_trajectory t[8];
    /* p0: A(wrong) B(right) B(right) A(wrong); p1: none, C(right), D(wrong), D(wrong). Stored shuffled. */
    make_traj(&t[0], "p0-s3", 0, 3, 1, 0, NULL, 0, "A", -1, 0, NULL);
    make_traj(&t[1], "p1-s2", 1, 2, 1, 0, NULL, 0, "D", -1, 0, NULL);
    make_traj(&t[2], "p0-s0", 0, 0, 1, 0, NULL, 0, "A", -1, 0, NULL);
    make_traj(&t[3], "p1-s0", 1, 0, 1, 0, NULL, 0, NULL, -1, ROLLOUT_FLAG_NO_ANSWER, NULL);
    make_traj(&t[4], "p0-s2", 0, 2, 1, 0, NULL, 0, "B", 1, 0, NULL);
    make_traj(&t[5], "p1-s1", 1, 1, 1, 0, NULL, 0, "C", 1, 0, NULL);
    make_traj(&t[6], "p0-s1", 0, 1, 1, 0, NULL, 0, "B", 1, 0, NULL);
    make_traj(&t[7], "p1-s3", 1, 3, 1, 0, NULL, 0, "D", -1, 0, NULL);
    pipe_metrics_report r;
    rt_error e;
    cr_assert_eq(pipe_metrics_compute(t, 8, NULL, &r, &e), RT_OK, "%s", e.msg);
    const pipe_metrics *m = &r.all;
    cr_assert_eq(m->n_k, 3u);
    cr_expect_eq(m->k[2], 4u);
    cr_expect_float_eq(m->maj_at_k[0], 0.0, EPS); /* A wrong; p1 s0 did not vote */
    cr_expect_float_eq(m->maj_at_k[1], 0.5, EPS); /* p0: A/B tie -> A (first); p1: C alone -> right */
    cr_expect_float_eq(m->maj_at_k[2], 0.0, EPS); /* p0: 2-2 tie -> A; p1: D beats C */
    cr_expect_float_eq(m->pass1, (0.5 + 0.25) / 2, EPS);
    cr_expect_float_eq(m->pass_at_k[1], (5.0 / 6 + 0.5) / 2, EPS);
    cr_expect_float_eq(m->pass_at_k[2], 1.0, EPS);
    cr_expect_eq(m->flag_counts[6], 1u);
    cr_expect(isnan(m->code_lines) == 0 && m->code_lines == 0.0);
    cr_expect(isnan(m->last_pass) && isnan(m->invocation_timing), "no code: no denominator");
    pipe_metrics_report_free(&r);
    free_set(t, 8);
}

Test(metrics, uneven_samples_limit_k) {
    rollout_trajectory t[5];
    make_traj(&t[0], "a", 0, 0, 1, 0, NULL, 0, "1", 1, 0, NULL);
    make_traj(&t[1], "b", 0, 1, 1, 0, NULL, 0, "1", 1, 0, NULL);
    make_traj(&t[2], "c", 0, 2, 1, 0, NULL, 0, "2", -1, 0, NULL);
    make_traj(&t[3], "d", 1, 0, 1, 0, NULL, 0, "9", -1, 0, NULL);
    make_traj(&t[4], "e", 1, 1, 1, 0, NULL, 0, "9", -1, 0, NULL);
    pipe_metrics_report r;
    rt_error e;
    cr_assert_eq(pipe_metrics_compute(t, 5, NULL, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.all.samples_min, 2u);
    cr_expect_eq(r.all.samples_max, 3u);
    cr_expect_eq(r.all.n_k, 2u);
    cr_expect_float_eq(r.all.pass1, (2.0 / 3 + 0) / 2, EPS); /* mean over prompts, not over responses */
    cr_expect_float_eq(r.all.pass_at_k[1], (1.0 - 0.0 / 3) / 2, EPS);
    pipe_metrics_report_free(&r);
    free_set(t, 5);
}

/* A tokenizer stand-in: token id i has i bytes. */
static size_t fake_token_bytes(void *ctx, int32_t id, char *buf, size_t cap) {
    (void)ctx;
    for (size_t i = 0; i < cap && i < (size_t)id; i++)
        buf[i] = 'a';
    return (size_t)id;
}

Test(metrics, invocation_timing_in_tokens) {
    rollout_trajectory t;
    call_spec c[] = {{"print(1)", ROLLOUT_EXEC_OK, 0}};
    make_traj(&t, "p0-s0", 0, 0, 0, 0, c, 1, "1", 1, 0, T1_TEXT);
    rt_error e;
    /* 13 tokens of 5 bytes: byte 12 (the <code> that opens the call) lies in token 2. */
    for (int i = 0; i < 13; i++)
        cr_assert_eq(rollout_trajectory_push(&t, 5, 0, 1, &e), RT_OK);
    rollout_tokenizer tok = {.ctx = NULL, .encode = NULL, .token_bytes = fake_token_bytes};
    pipe_metrics_options opt = {.tok = &tok};
    pipe_metrics_report r;
    cr_assert_eq(pipe_metrics_compute(&t, 1, &opt, &r, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(r.all.timing_in_tokens, 1);
    cr_expect_eq(r.all.n_timing, 1u);
    cr_expect_float_eq(r.all.invocation_timing, 2.0 / 13, EPS);
    pipe_metrics_report_free(&r);
    rollout_trajectory_free(&t);
}

Test(metrics, bad_inputs_are_named) {
    rollout_trajectory t[2];
    make_traj(&t[0], "p0-s0", 0, 0, 1, 0, NULL, 0, "1", 1, 0, NULL);
    make_traj(&t[1], "again", 0, 0, 1, 0, NULL, 0, "1", 1, 0, NULL);
    pipe_metrics_report r;
    rt_error e;
    cr_expect_eq(pipe_metrics_compute(t, 0, NULL, &r, &e), RT_EINVAL);
    cr_expect_eq(pipe_metrics_compute(t, 2, NULL, &r, &e), RT_EINVAL);
    cr_expect(strstr(e.msg, "again") && strstr(e.msg, "twice"), "%s", e.msg);
    t[1].prompt_index = 5;
    const char *fams[] = {"x"};
    pipe_metrics_options opt = {.families = fams, .n_families = 1};
    cr_expect_eq(pipe_metrics_compute(t, 2, &opt, &r, &e), RT_EINVAL);
    cr_expect(strstr(e.msg, "again") && strstr(e.msg, "family map"), "%s", e.msg);
    free_set(t, 2);
}

Test(metrics, json_form) {
    rollout_trajectory t[4];
    make_set(t);
    const char *fams[] = {"arith", NULL};
    pipe_metrics_options opt = {.families = fams, .n_families = 2};
    pipe_metrics_report r;
    rt_error e;
    cr_assert_eq(pipe_metrics_compute(t, 4, &opt, &r, &e), RT_OK, "%s", e.msg);
    cJSON *j = pipe_metrics_report_to_json(&r);
    cr_assert_not_null(j);
    const cJSON *all = cJSON_GetObjectItem(j, "all");
    cr_expect_float_eq(cJSON_GetObjectItem(all, "pass1")->valuedouble, 0.5, EPS);
    cr_expect_float_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(all, "pass_at_k"), "2")->valuedouble, 1.0, EPS);
    cr_expect_float_eq(cJSON_GetObjectItem(all, "code_ratio")->valuedouble, 0.75, EPS);
    cr_expect_str_eq(cJSON_GetObjectItem(all, "invocation_timing_unit")->valuestring, "bytes");
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(all, "calls"), "refused")->valueint, 1);
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(all, "flags"), "tool_error")->valueint, 1);
    const cJSON *arith = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "families"), "arith");
    cr_assert_not_null(arith);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(arith, "last_code_pass_incorrect")), "NaN is null");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "families")), 1);
    char *s = cJSON_PrintUnformatted(j);
    cr_expect_null(strstr(s, "nan"));
    free(s);
    cJSON_Delete(j);
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    pipe_metrics_report_print(fp, &r);
    fclose(fp);
    cr_expect(strstr(text, "pass@1") && strstr(text, "maj@2") && strstr(text, "arith"), "%s", text);
    free(text);
    pipe_metrics_report_free(&r);
    free_set(t, 4);
}
