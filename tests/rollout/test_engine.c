/* The rollout engine driven by a scripted policy, a byte tokenizer and a fake executor: exact interleaving of model
 * and interpreter text, masks, prefill accounting, parked and resumed sequences, modes, budgets, format errors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "fakes.h"
#include "rollout/engine.h"
#include "rollout/protocol.h"

static fake_policy pol;
static fake_executor ex;

static void setup(void) {
    rt_log_set_level(RT_LOG_OFF);
    memset(&pol, 0, sizeof pol);
    memset(&ex, 0, sizeof ex);
    pol.eos_at_end = 1;
}
TestSuite(engine, .init = setup);

#define CODE(c) "<code>\n```python\n" c "\n```\n</code>"
#define INTERP(o) "\n<interpreter>\n" o "\n</interpreter>\n\n"

/* Runs n requests, prompt i = {i, 7, 7} (the script index, then filler). */
static void run(rollout_config *cfg, const char *const *scripts, size_t nscripts, const int *which, size_t n,
                rollout_trajectory *out, rollout_stats *stats) {
    pol.scripts = scripts;
    pol.nscripts = nscripts;
    rollout_policy p = fake_policy_ops(&pol);
    rollout_tokenizer t = fake_tokenizer_ops();
    rollout_executor x = fake_executor_ops(&ex);
    int32_t prompts[64][3];
    rollout_request reqs[64];
    for (size_t i = 0; i < n; i++) {
        prompts[i][0] = which ? which[i] : (int32_t)i;
        prompts[i][1] = prompts[i][2] = 7;
        reqs[i] = (rollout_request){.prompt = prompts[i], .n_prompt = 3, .prompt_index = (int64_t)i, .sample_index = 0};
    }
    rt_error err;
    cr_assert_eq(rollout_run(cfg, &p, &t, &x, reqs, n, out, stats, &err), RT_OK, "%s", err.msg);
}

Test(engine, one_call_interleaves_exactly) {
    const char *scripts[] = {"Compute.\n" CODE("print(12*34)") "So <answer>\n\\boxed{408}\n</answer>"};
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t;
    rollout_stats st;
    run(&cfg, scripts, 1, NULL, 1, &t, &st);
    cr_expect_str_eq(t.response_text,
                     "Compute.\n" CODE("print(12*34)") INTERP("408") "So <answer>\n\\boxed{408}\n</answer>");
    cr_expect_eq(t.stop, ROLLOUT_STOP_STRING);
    cr_expect_eq(t.flags, 0u);
    cr_assert_eq(t.n_calls, 1u);
    cr_expect_str_eq(t.calls[0].code, "print(12*34)");
    cr_expect_str_eq(t.calls[0].output, "408");
    cr_expect_eq(t.calls[0].status, ROLLOUT_EXEC_OK);
    size_t interp_len = strlen(INTERP("408"));
    cr_expect_eq(t.calls[0].n_tokens, interp_len);
    cr_expect_eq(t.calls[0].response_index, strlen("Compute.\n" CODE("print(12*34)")));
    for (size_t i = 0; i < t.n_response; i++) {
        int inside = i >= t.calls[0].response_index && i < t.calls[0].response_index + interp_len;
        cr_expect_eq(t.mask[i], inside ? 0 : 1, "mask at %zu", i);
    }
    /* Prefill: the prompt once, then only the interpreter tokens; never the context again. */
    cr_expect_eq(pol.total_prefilled, 3 + interp_len);
    cr_expect_eq(st.prompt_tokens + st.interpreter_tokens, pol.total_prefilled);
    cr_expect_eq(pol.seqs[0].appended, interp_len);
    for (size_t i = 0; i < interp_len; i++)
        cr_expect_eq(pol.seqs[0].appended_ids[i], (unsigned char)INTERP("408")[i]);
    cr_expect_eq(pol.opened, pol.closed);
    rollout_trajectory_free(&t);
}

Test(engine, parked_sequences_do_not_block_others) {
    const char *scripts[] = {
        "A" CODE("# slow\nprint(2*3)") "a<answer>\\boxed{6}</answer>",
        "B" CODE("print(4*5)") "b<answer>\\boxed{20}</answer>",
        "C no code <answer>\\boxed{1}</answer>",
    };
    ex.delay_for_slow = 400; /* polls: the slow call returns long after the others finished */
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t[3];
    rollout_stats st;
    run(&cfg, scripts, 3, NULL, 3, t, &st);
    cr_expect_str_eq(t[0].response_text,
                     "A" CODE("# slow\nprint(2*3)") INTERP("6") "a<answer>\\boxed{6}</answer>");
    cr_expect_str_eq(t[1].response_text, "B" CODE("print(4*5)") INTERP("20") "b<answer>\\boxed{20}</answer>");
    cr_expect_str_eq(t[2].response_text, "C no code <answer>\\boxed{1}</answer>");
    cr_expect_eq(st.max_batch, 3u);
    cr_expect_gt(st.t_idle, 0.0, "the slow call left nothing to decode for a while");
    /* B and C finished while A was parked: their walls are shorter. */
    cr_expect_lt(t[1].wall_s, t[0].wall_s);
    cr_expect_lt(t[2].wall_s, t[0].wall_s);
    for (int i = 0; i < 3; i++) rollout_trajectory_free(&t[i]);
}

Test(engine, stateless_vs_stateful) {
    const char *scripts[] = {"s" CODE("x = 5") "t" CODE("print(x)") "<answer>\\boxed{5}</answer>"};
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_assert_eq(t.n_calls, 2u);
    cr_expect_str_eq(t.calls[1].output, "NameError: name 'x' is not defined");
    cr_expect(t.flags & ROLLOUT_FLAG_TOOL_ERROR);
    rollout_trajectory_free(&t);

    setup();
    cfg.tools = ROLLOUT_TOOLS_STATEFUL;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_assert_eq(t.n_calls, 2u);
    cr_expect_str_eq(t.calls[0].output, "");
    cr_expect_str_eq(t.calls[1].output, "5");
    cr_expect_eq(t.flags & ROLLOUT_FLAG_TOOL_ERROR, 0u);
    cr_expect_eq(ex.sessions_closed, 1u, "the session is closed when the trajectory ends");
    rollout_trajectory_free(&t);
}

Test(engine, tools_none_treats_code_as_text) {
    const char *scripts[] = {"x" CODE("print(1*1)") "<answer>\\boxed{1}</answer>"};
    rollout_config cfg = rollout_config_defaults();
    cfg.tools = ROLLOUT_TOOLS_NONE;
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_expect_eq(t.n_calls, 0u);
    cr_expect_eq(ex.submitted, 0u);
    cr_expect_str_eq(t.response_text, scripts[0]);
    for (size_t i = 0; i < t.n_response; i++) cr_expect_eq(t.mask[i], 1);
    rollout_trajectory_free(&t);
}

Test(engine, tool_call_budget_refuses_with_a_message) {
    const char *scripts[] = {CODE("print(1*2)") CODE("print(3*4)") CODE("print(5*6)") "<answer>x</answer>"};
    rollout_config cfg = rollout_config_defaults();
    cfg.budget.max_tool_calls = 2;
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_assert_eq(t.n_calls, 3u);
    cr_expect_eq(ex.submitted, 2u, "the third call is not run");
    cr_expect(t.calls[2].refused);
    cr_expect_str_eq(t.calls[2].output, ROLLOUT_MSG_TOOL_BUDGET);
    cr_expect_str_eq(t.calls[2].code, "print(5*6)");
    cr_expect(t.flags & ROLLOUT_FLAG_BUDGET_TOOL_CALLS);
    cr_expect(strstr(t.response_text, INTERP(ROLLOUT_MSG_TOOL_BUDGET)) != NULL);
    cr_expect_eq(t.stop, ROLLOUT_STOP_STRING, "the model may still finish");
    rollout_trajectory_free(&t);
}

Test(engine, response_token_budget_ends_the_trajectory) {
    const char *scripts[] = {"0123456789abcdefghij<answer>x</answer>"};
    rollout_config cfg = rollout_config_defaults();
    cfg.budget.max_response_tokens = 10;
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_expect_eq(t.n_response, 10u);
    cr_expect_str_eq(t.response_text, "0123456789");
    cr_expect_eq(t.stop, ROLLOUT_STOP_BUDGET);
    cr_expect(t.flags & ROLLOUT_FLAG_BUDGET_RESPONSE);
    rollout_trajectory_free(&t);
}

Test(engine, interpreter_budget_ends_before_passing_it) {
    const char *scripts[] = {CODE("print('A'*500)") "more"};
    rollout_config cfg = rollout_config_defaults();
    cfg.budget.max_interpreter_tokens = 100;
    rollout_trajectory t;
    rollout_stats st;
    run(&cfg, scripts, 1, NULL, 1, &t, &st);
    cr_expect_eq(t.stop, ROLLOUT_STOP_BUDGET);
    cr_expect(t.flags & ROLLOUT_FLAG_BUDGET_INTERPRETER);
    cr_expect_eq(st.interpreter_tokens, 0u, "nothing was appended");
    cr_assert_eq(t.n_calls, 1u);
    cr_expect_eq(t.calls[0].n_tokens, 0u);
    /* The output was cut to 200 + ... + 200 before the budget was checked. */
    cr_expect_eq(strlen(t.calls[0].output), 403u);
    rollout_trajectory_free(&t);
}

Test(engine, timeout_is_shown_to_the_model) {
    const char *scripts[] = {CODE("while True: pass") "<answer>x</answer>"};
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_assert_eq(t.n_calls, 1u);
    cr_expect_str_eq(t.calls[0].output, "Timeout Error");
    cr_expect_eq(t.calls[0].status, ROLLOUT_EXEC_TIMEOUT);
    cr_expect(t.flags & ROLLOUT_FLAG_TOOL_ERROR);
    rollout_trajectory_free(&t);
}

Test(engine, wall_cap_ends_a_stalled_call) {
    const char *scripts[] = {CODE("while True: pass") "never", "quick<answer>1</answer>"};
    ex.timeout_never_returns = 1;
    rollout_config cfg = rollout_config_defaults();
    cfg.budget.wall_s = 0.3;
    rollout_trajectory t[2];
    run(&cfg, scripts, 2, NULL, 2, t, NULL);
    cr_expect_eq(t[0].stop, ROLLOUT_STOP_BUDGET);
    cr_expect(t[0].flags & ROLLOUT_FLAG_BUDGET_WALL);
    cr_expect_geq(t[0].wall_s, 0.3);
    cr_expect_eq(t[1].stop, ROLLOUT_STOP_STRING);
    for (int i = 0; i < 2; i++) rollout_trajectory_free(&t[i]);
}

Test(engine, format_errors_are_answered_not_run) {
    const char *scripts[] = {"<code>print(1)</code>then </code> end<answer>x</answer>"};
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_expect_eq(ex.submitted, 0u);
    cr_assert_eq(t.n_calls, 2u);
    cr_expect_str_eq(t.calls[0].output, ROLLOUT_MSG_NO_FENCE);
    cr_expect_str_eq(t.calls[1].output, ROLLOUT_MSG_NO_FENCE);
    cr_expect(t.flags & ROLLOUT_FLAG_FORMAT_ERROR);
    cr_expect(t.flags & ROLLOUT_FLAG_TOOL_ERROR, "a call that could not run is a failed call");
    rollout_trajectory_free(&t);
}

Test(engine, submit_failure_reaches_the_model_as_an_error) {
    const char *scripts[] = {CODE("print(1*1)") "<answer>x</answer>"};
    ex.fail_submit = 1;
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_assert_eq(t.n_calls, 1u);
    cr_expect_eq(t.calls[0].status, ROLLOUT_EXEC_SANDBOX_ERROR);
    cr_expect_str_eq(t.calls[0].output, "SandboxError: sandbox pool is full (429)");
    cr_expect_eq(t.stop, ROLLOUT_STOP_STRING);
    rollout_trajectory_free(&t);
}

Test(engine, continuous_batching_with_few_slots) {
    const char *scripts[] = {"a" CODE("print(1*2)") "<answer>2</answer>", "bb<answer>0</answer>",
                             "c" CODE("print(3*3)") "<answer>9</answer>"};
    int which[7] = {0, 1, 2, 1, 0, 2, 1};
    rollout_config cfg = rollout_config_defaults();
    cfg.max_concurrent = 2;
    ex.delay = 3;
    rollout_trajectory t[7];
    rollout_stats st;
    run(&cfg, scripts, 3, which, 7, t, &st);
    cr_expect_leq(pol.max_batch, 2u);
    cr_expect_eq(pol.opened, 7u);
    cr_expect_eq(pol.closed, 7u);
    for (int i = 0; i < 7; i++) {
        cr_expect_eq(t[i].stop, ROLLOUT_STOP_STRING, "trajectory %d", i);
        cr_expect_eq(t[i].prompt_index, i);
        if (which[i] == 0) cr_expect(strstr(t[i].response_text, INTERP("2")) != NULL);
        if (which[i] == 2) cr_expect(strstr(t[i].response_text, INTERP("9")) != NULL);
        rollout_trajectory_free(&t[i]);
    }
}

Test(engine, eos_token_is_kept_with_mask_one) {
    const char *scripts[] = {"done"};
    rollout_config cfg = rollout_config_defaults();
    int32_t stop[] = {FAKE_EOS};
    cfg.stop_ids = stop;
    cfg.n_stop_ids = 1;
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_expect_eq(t.stop, ROLLOUT_STOP_EOS);
    cr_expect_eq(t.n_response, 5u);
    cr_expect_eq(t.response_ids[4], FAKE_EOS);
    cr_expect_eq(t.mask[4], 1);
    cr_expect_str_eq(t.response_text, "done<eos>");
    rollout_trajectory_free(&t);
}

Test(engine, open_failure_ends_only_that_trajectory) {
    const char *scripts[] = {"ok<answer>1</answer>"};
    int which[2] = {0, 5}; /* no script 5: open fails */
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t[2];
    run(&cfg, scripts, 1, which, 2, t, NULL);
    cr_expect_eq(t[0].stop, ROLLOUT_STOP_STRING);
    cr_expect_eq(t[1].stop, ROLLOUT_STOP_ERROR);
    for (int i = 0; i < 2; i++) rollout_trajectory_free(&t[i]);
}

Test(engine, audit_log_has_every_call) {
    const char *scripts[] = {CODE("print(2*2)") CODE("bad code") "<answer>4</answer>"};
    char *mem = NULL;
    size_t len = 0;
    FILE *audit = open_memstream(&mem, &len);
    rollout_config cfg = rollout_config_defaults();
    cfg.audit = audit;
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    fclose(audit);
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += mem[i] == '\n';
    cr_expect_eq(lines, 2);
    cr_expect(strstr(mem, "\"trajectory\":\"p0-s0\",\"call\":0,\"code\":\"print(2*2)\",\"output\":\"4\",\"status\":\"ok\"") != NULL, "%s", mem);
    cr_expect(strstr(mem, "\"call\":1,\"code\":\"bad code\",\"output\":\"SyntaxError: invalid syntax\",\"status\":\"error\"") != NULL, "%s", mem);
    free(mem);
    rollout_trajectory_free(&t);
}

/* A full disk under the audit log: the run fails and says so (the line is not lost silently). */
Test(engine, audit_log_write_failure_is_an_error) {
    const char *scripts[] = {CODE("print(2*2)") "<answer>\\boxed{4}</answer>"};
    FILE *audit = fopen("/dev/full", "w");
    cr_assert_not_null(audit);
    rollout_config cfg = rollout_config_defaults();
    cfg.audit = audit;
    rollout_trajectory t;
    rt_error err;
    rt_err_clear(&err);
    cr_expect_eq(fake_rollout_one(&cfg, &pol, &ex, scripts[0], &t, &err), RT_EIO);
    cr_expect(strstr(err.msg, "audit log") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "No space left") != NULL, "%s", err.msg);
    fclose(audit);
    rollout_trajectory_free(&t);
}

typedef struct stream_capture {
    char text[4096];
    char mask[4096];
    size_t len;
} stream_capture;

static void capture(void *ctx, size_t index, const char *bytes, size_t len, int mask) {
    stream_capture *c = ctx;
    cr_assert_eq(index, 0u);
    cr_assert_lt(c->len + len, sizeof c->text);
    memcpy(c->text + c->len, bytes, len);
    memset(c->mask + c->len, mask ? '1' : '0', len);
    c->len += len;
}

Test(engine, streaming_hook_sees_the_response_as_it_grows) {
    const char *scripts[] = {"Compute.\n" CODE("print(6*7)") "So <answer>42</answer>"};
    stream_capture cap;
    memset(&cap, 0, sizeof cap);
    rollout_config cfg = rollout_config_defaults();
    cfg.on_token = capture;
    cfg.on_token_ctx = &cap;
    rollout_trajectory t;
    run(&cfg, scripts, 1, NULL, 1, &t, NULL);
    cr_expect_str_eq(cap.text, t.response_text);
    const char *interp = strstr(cap.text, INTERP("42"));
    cr_assert_not_null(interp);
    size_t at = (size_t)(interp - cap.text);
    for (size_t i = 0; i < cap.len; i++) {
        int inside = i >= at && i < at + strlen(INTERP("42"));
        cr_expect_eq(cap.mask[i], inside ? '0' : '1', "byte %zu", i);
    }
    rollout_trajectory_free(&t);
}

Test(engine, prompts_and_interpreter_blocks_prefill_in_one_call_per_round) {
    /* Eight trajectories close their code at the same step (same script length, no executor delay), so all eight
     * interpreter blocks are due in the same round; a ninth decodes on, so that round's call is fused with its step. */
    const char *scripts[] = {"a" CODE("print(2*3)") "x<answer>6</answer>",
                             "no code here, just a longer text that keeps decoding <answer>0</answer>"};
    int which[9] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t[9];
    rollout_stats st;
    run(&cfg, scripts, 2, which, 9, t, &st);
    size_t interp_len = strlen(INTERP("6"));
    cr_expect_eq(pol.max_feeds, 9u, "the nine prompts are prefilled in one call");
    cr_expect_eq(pol.feed_calls, 2u, "one call for the prompts, one for the eight interpreter blocks");
    cr_expect_eq(pol.fused_calls, 1u, "the blocks are prefilled in the ninth trajectory's decode step");
    cr_expect_eq(st.prefill_calls, 2u);
    cr_expect_eq(st.model_calls, pol.calls);
    cr_expect_eq(pol.total_prefilled, 9 * 3 + 8 * interp_len);
    cr_expect_eq(st.prompt_tokens, 27u);
    cr_expect_eq(st.interpreter_tokens, 8 * interp_len);
    for (int i = 0; i < 8; i++)
        cr_expect_str_eq(t[i].response_text, "a" CODE("print(2*3)") INTERP("6") "x<answer>6</answer>");
    cr_expect_str_eq(t[8].response_text, scripts[1]);
    for (int i = 0; i < 9; i++) rollout_trajectory_free(&t[i]);
}

/* Runs the same requests through the engine's batched path and its one-sequence-at-a-time path. */
static void both_paths(rollout_config *cfg, const char *const *scripts, size_t nscripts, const int *which, size_t n,
                       rollout_trajectory *a, rollout_trajectory *b) {
    rollout_stats sa, sb;
    run(cfg, scripts, nscripts, which, n, a, &sa);
    size_t prefilled = pol.total_prefilled;
    cr_expect_gt(pol.feed_calls, 0u);
    setup();
    pol.unbatched = 1;
    ex.delay = 2;
    ex.delay_for_slow = 9;
    run(cfg, scripts, nscripts, which, n, b, &sb);
    cr_expect_eq(pol.feed_calls, 0u);
    cr_expect_eq(pol.total_prefilled, prefilled);
    cr_expect_eq(sa.prompt_tokens, sb.prompt_tokens);
    cr_expect_eq(sa.interpreter_tokens, sb.interpreter_tokens);
    cr_expect_eq(sa.decoded_tokens, sb.decoded_tokens);
}

Test(engine, batched_and_one_at_a_time_paths_agree) {
    const char *scripts[] = {
        "A" CODE("# slow\nprint(2*3)") "a" CODE("print(5*5)") "<answer>\\boxed{6}</answer>",
        "B" CODE("print(4*5)") "b<answer>\\boxed{20}</answer>",
        "C no code <answer>\\boxed{1}</answer>",
        CODE("print('A'*500)") "more" CODE("bad code") "<answer>x</answer>",
    };
    int which[10] = {0, 1, 2, 3, 1, 0, 2, 3, 0, 1};
    rollout_config cfg = rollout_config_defaults();
    cfg.max_concurrent = 4;
    cfg.budget.max_interpreter_tokens = 600;
    ex.delay = 2;
    ex.delay_for_slow = 9;
    rollout_trajectory a[10], b[10];
    both_paths(&cfg, scripts, 4, which, 10, a, b);
    for (int i = 0; i < 10; i++) {
        cr_expect_str_eq(a[i].response_text, b[i].response_text, "trajectory %d", i);
        cr_assert_eq(a[i].n_response, b[i].n_response, "trajectory %d", i);
        for (size_t k = 0; k < a[i].n_response; k++) {
            cr_expect_eq(a[i].response_ids[k], b[i].response_ids[k]);
            cr_expect_eq(a[i].mask[k], b[i].mask[k]);
            cr_expect_eq(a[i].logprobs[k], b[i].logprobs[k]);
        }
        cr_expect_eq(a[i].stop, b[i].stop);
        cr_expect_eq(a[i].flags, b[i].flags);
        cr_assert_eq(a[i].n_calls, b[i].n_calls);
        for (size_t k = 0; k < a[i].n_calls; k++) {
            cr_expect_str_eq(a[i].calls[k].output, b[i].calls[k].output);
            cr_expect_eq(a[i].calls[k].response_index, b[i].calls[k].response_index);
            cr_expect_eq(a[i].calls[k].n_tokens, b[i].calls[k].n_tokens);
        }
        rollout_trajectory_free(&a[i]);
        rollout_trajectory_free(&b[i]);
    }
}

Test(engine, a_refused_feed_ends_only_its_trajectory) {
    const char *scripts[] = {"ok" CODE("print(1*2)") "<answer>2</answer>", "never fed<answer>1</answer>"};
    int which[3] = {0, 1, 0};
    pol.fail_feed_of = 1;
    rollout_config cfg = rollout_config_defaults();
    rollout_trajectory t[3];
    run(&cfg, scripts, 2, which, 3, t, NULL);
    cr_expect_eq(t[0].stop, ROLLOUT_STOP_STRING);
    cr_expect_eq(t[1].stop, ROLLOUT_STOP_ERROR);
    cr_expect_eq(t[1].n_response, 0u);
    cr_expect_eq(t[2].stop, ROLLOUT_STOP_STRING);
    cr_expect_eq(pol.opened, pol.closed);
    for (int i = 0; i < 3; i++) rollout_trajectory_free(&t[i]);
}
