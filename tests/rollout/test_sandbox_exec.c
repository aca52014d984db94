/* The rollout engine over the real sandbox pool: code runs isolated, stateless and stateful modes, errors and timeouts
 * reach the model, nothing stalls. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "fakes.h"
#include "rollout/engine.h"
#include "rollout/exec_spec.h"
#include "rollout/sandbox_exec.h"

static sbx_pool *pool;

static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = 2;
    rt_error e;
    cr_assert_eq(sbx_pool_init(&pool, &cfg, &e), RT_OK, "%s", e.msg);
}
static void teardown(void) { sbx_pool_free(pool); }
TestSuite(sandbox_exec, .init = setup, .fini = teardown);

#define CODE(c) "<code>\n```python\n" c "\n```\n</code>"
#define INTERP(o) "\n<interpreter>\n" o "\n</interpreter>\n\n"

static void run(rollout_tools_mode mode, const char *const *scripts, size_t n, rollout_trajectory *out) {
    static fake_policy pol;
    memset(&pol, 0, sizeof pol);
    pol.eos_at_end = 1;
    pol.scripts = scripts;
    pol.nscripts = n;
    rollout_sandbox_exec *x;
    rt_error e;
    cr_assert_eq(rollout_sandbox_exec_init(&x, pool, 0, 0, &e), RT_OK);
    rollout_policy p = fake_policy_ops(&pol);
    rollout_tokenizer t = fake_tokenizer_ops();
    rollout_executor ex = rollout_sandbox_exec_ops(x);
    rollout_config cfg = rollout_config_defaults();
    cfg.tools = mode;
    cfg.budget.call_timeout_s = 2.0;
    int32_t prompts[8][1];
    rollout_request reqs[8];
    for (size_t i = 0; i < n; i++) {
        prompts[i][0] = (int32_t)i;
        reqs[i] = (rollout_request){.prompt = prompts[i], .n_prompt = 1, .prompt_index = (int64_t)i};
    }
    cr_assert_eq(rollout_run(&cfg, &p, &t, &ex, reqs, n, out, NULL, &e), RT_OK, "%s", e.msg);
    rollout_sandbox_exec_free(x);
}

Test(sandbox_exec, real_python_results_interleave) {
    const char *scripts[] = {
        "a" CODE("print(48213*9177)") "<answer>x</answer>",
        "b" CODE("import sympy\nprint(sympy.factorint(2**32+1))") "<answer>y</answer>",
        "c" CODE("1/0") "<answer>z</answer>",
        "d" CODE("while True: pass") "<answer>w</answer>",
    };
    rollout_trajectory t[4];
    run(ROLLOUT_TOOLS_STATELESS, scripts, 4, t);
    cr_expect_str_eq(t[0].calls[0].output, "442450701");
    cr_expect_str_eq(t[1].calls[0].output, "{641: 1, 6700417: 1}");
    cr_expect_str_eq(t[2].calls[0].output, "ZeroDivisionError: division by zero");
    cr_expect_eq(t[3].calls[0].status, ROLLOUT_EXEC_TIMEOUT);
    cr_expect_str_eq(t[3].calls[0].output, "Timeout Error");
    cr_expect(strstr(t[0].response_text, INTERP("442450701")) != NULL);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(t[i].stop, ROLLOUT_STOP_STRING, "trajectory %d", i);
        rollout_trajectory_free(&t[i]);
    }
}

Test(sandbox_exec, stateful_sessions_keep_variables) {
    const char *scripts[] = {"s" CODE("x = 6*7") "t" CODE("print(x)") "<answer>42</answer>",
                             "u" CODE("x = 1") "v" CODE("print(x + 1)") "<answer>2</answer>"};
    rollout_trajectory t[2];
    run(ROLLOUT_TOOLS_STATEFUL, scripts, 2, t);
    cr_assert_eq(t[0].n_calls, 2u);
    cr_expect_str_eq(t[0].calls[1].output, "42");
    cr_expect_str_eq(t[1].calls[1].output, "2", "sessions are separate per trajectory");
    for (int i = 0; i < 2; i++) rollout_trajectory_free(&t[i]);
    const char *scripts2[] = {"s" CODE("x = 6*7") "t" CODE("print(x)") "<answer>42</answer>"};
    run(ROLLOUT_TOOLS_STATELESS, scripts2, 1, t);
    cr_expect(strstr(t[0].calls[1].output, "NameError") != NULL, "%s", t[0].calls[1].output);
    rollout_trajectory_free(&t[0]);
}

/* The spec "local:allow-weaker=NAME,..." starts the local pool allowing the named protections to be missing; an
 * unknown name is an error that names it, and a malformed spec names the accepted forms. */
Test(exec_spec, local_allow_weaker) {
    rt_error e;
    rollout_exec_spec *x = NULL;
    cr_assert_eq(rollout_exec_spec_open("local:allow-weaker=cgroup-memory,uid-separation", 1, &x, &e), RT_OK, "%s",
                 e.msg);
    cr_assert_not_null(x);
    cr_assert_not_null(rollout_exec_spec_ops(x).submit);
    rollout_exec_spec_close(x);
    x = NULL;
    cr_assert_neq(rollout_exec_spec_open("local:allow-weaker=no-such-thing", 1, &x, &e), RT_OK);
    cr_assert_null(x);
    cr_assert_not_null(strstr(e.msg, "no-such-thing"), "%s", e.msg);
    cr_assert_neq(rollout_exec_spec_open("locale", 1, &x, &e), RT_OK);
    cr_assert_not_null(strstr(e.msg, "local:allow-weaker="), "%s", e.msg);
}
