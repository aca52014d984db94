/* retool eval end to end on a tiny model: cold-start traces (pipe_coldstart), a short SFT on them so some samples are
 * right, then pipe_eval with the sandbox: the JSON holds every metric, pass@1 equals the mean correctness of the
 * written trajectories (recomputed here per prompt), per family too; the CLI prints the table and writes the JSON. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/tiny_model.h"
#include "../base/tmpdir.h"
#include "../cli/run_cli.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/timer.h"
#include "model/modeldir.h"
#include "pipeline/coldstart.h"
#include "pipeline/eval.h"
#include "rollout/trajectory.h"
#include "tokenizer/tokenizer.h"
#include "train/sft.h"

static char dir[256], model_dir[512], problems[512];

static const char *const probs[][4] = {
    {"Compute 2*3.", "6", "mul", "print(2*3)"},
    {"Compute 7+5.", "12", "add", "print(7+5)"},
    {"Compute 9*4.", "36", "mul", "print(9*4)"},
};

static void tool_corpus(FILE *fp) {
    for (int i = 0; i < 100; i++)
        fprintf(fp,
                "Compute %d*%d.\n<code>\n```python\nprint(%d*%d)\n```\n</code>\n<interpreter>\n%d\n</interpreter>\n\n"
                "<answer>\n\\boxed{%d}\n</answer>\n",
                i, i + 3, i, i + 3, i * (i + 3), i * (i + 3));
}

static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    test_tmpdir(dir, sizeof dir);
    /* max_pos: room for the rewriting prompt, little for its draft */
    tiny_model_spec spec = {tool_corpus, 300, 320, 64, 128, 2, 4, 400, 3};
    tiny_model_make(dir, &spec, model_dir, sizeof model_dir);
    snprintf(problems, sizeof problems, "%s/p.jsonl", dir);
    FILE *fp = fopen(problems, "w");
    for (size_t i = 0; i < 3; i++)
        fprintf(fp,
                "{\"prompt\":\"%s\",\"answer\":\"%s\",\"family\":\"%s\",\"program\":\"%s\",\"text_solution\":\"x\"}\n",
                probs[i][0], probs[i][1], probs[i][2], probs[i][3]);
    fclose(fp);
}
static void teardown(void) {
    test_rmdir(dir);
}
/* No .timeout: Criterion 2.4.1 leaks 48 bytes in its runner when a test with a timeout runs for seconds (ASan). */
TestSuite(eval, .init = setup, .fini = teardown);

/* Cold-start traces of the problems, repeated, then SFT: a model that answers some samples right. */
static void train_model(char *trained, size_t n) {
    cr_assert_lt(strlen(dir), 200u);
    char traces[300], many[300], run[300];
    snprintf(traces, sizeof traces, "%s/cs.jsonl", dir);
    snprintf(many, sizeof many, "%s/cs_many.jsonl", dir);
    snprintf(run, sizeof run, "%s/sft", dir);
    pipe_coldstart_config cc = pipe_coldstart_defaults();
    cc.in_path = problems;
    cc.out_path = traces;
    cc.tokenizer_dir = model_dir;
    cc.template_kind = ROLLOUT_TEMPLATE_PLAIN;
    cc.repair_rate = 0;
    cc.quiet = 1;
    pipe_coldstart_summary s;
    rt_error e;
    cr_assert_eq(pipe_coldstart(&cc, &s, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(s.all.n[PIPE_CS_KEPT], 3u);
    pipe_coldstart_summary_free(&s);
    char *text;
    size_t len;
    cr_assert_eq(rt_file_read_all(traces, &text, &len, &e), RT_OK);
    FILE *fp = fopen(many, "w");
    for (int i = 0; i < 16; i++)
        fwrite(text, 1, len, fp);
    fclose(fp);
    free(text);
    train_sft_config c = train_sft_defaults();
    c.model_dir = model_dir;
    c.data_path = many;
    c.out_dir = run;
    c.epochs = 6;
    c.batch_tokens = 256;
    c.lr = 1e-2;
    c.min_lr = 1e-3;
    c.warmup_steps = 2;
    c.eval_frac = 0;
    c.f32 = 1;
    c.quiet = 1;
    train_sft_result r;
    cr_assert_eq(train_sft_run(&c, &r, &e), RT_OK, "%s", e.msg);
    snprintf(trained, n, "%s/model", run);
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(v != NULL, "missing key %s", k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* pass@1 recomputed from trajectories: per prompt the share of correct samples, mean over prompts (family filter). */
static double mean_correct(const rollout_trajectory *t, size_t n, const char *family) {
    double sum = 0;
    size_t np = 0;
    for (int64_t p = 0; p < 3; p++) {
        if (family && strcmp(probs[p][2], family) != 0) continue;
        size_t k = 0, c = 0;
        for (size_t i = 0; i < n; i++)
            if (t[i].prompt_index == p) {
                k++;
                c += t[i].reward > 0;
            }
        cr_assert_gt(k, 0u);
        sum += (double)c / (double)k;
        np++;
    }
    return sum / (double)np;
}

Test(eval, end_to_end_json_has_every_metric_and_pass1_is_mean_correctness) {
    char trained[700], json[600], traj[600];
    double t0 = rt_time_now();
    train_model(trained, sizeof trained);
    cr_log_info("cold start + sft: %.1f s", rt_time_now() - t0);
    snprintf(json, sizeof json, "%s/eval.json", dir);
    snprintf(traj, sizeof traj, "%s/eval.jsonl", dir);
    pipe_eval_config c = pipe_eval_defaults();
    cr_expect_eq(c.gen.samples, 32);
    cr_expect_float_eq(c.gen.rollout.sampling.top_p, 0.7f, 1e-6);
    cr_expect_float_eq(c.gen.rollout.sampling.temperature, 1.0f, 1e-6);
    c.gen.model_dir = trained;
    c.gen.prompts_path = problems;
    c.gen.out_path = traj;
    c.gen.samples = 6;
    c.gen.template_kind = ROLLOUT_TEMPLATE_PLAIN;
    c.gen.rollout.budget.max_response_tokens = 64;
    c.gen.rollout.seed = 3;
    c.gen.threads = 1;
    c.gen.f32 = 1;
    c.gen.quiet = 1;
    c.json_path = json;
    pipe_eval_result r;
    rt_error e;
    t0 = rt_time_now();
    cr_assert_eq(pipe_eval(&c, &r, &e), RT_OK, "%s", e.msg);
    cr_log_info("eval: %.1f s", rt_time_now() - t0);
    cr_expect_eq(r.gen.trajectories, 18u);
    pipe_eval_result_free(&r);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(traj, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 18u);
    size_t correct = 0, calls = 0;
    for (size_t i = 0; i < n; i++) {
        correct += t[i].reward > 0;
        calls += t[i].n_calls;
    }
    cr_log_info("eval: %zu of %zu correct, %zu tool calls", correct, n, calls);
    cr_expect_gt(correct, 0u, "the cold-started model answers some samples right");
    cr_expect_gt(calls, 0u, "and calls the tool");
    char *text;
    size_t len;
    cr_assert_eq(rt_file_read_all(json, &text, &len, &e), RT_OK, "%s", e.msg);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j);
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(j, "all");
    cr_assert_not_null(all);
    const char *keys[] = {"pass1",          "response_length",   "code_ratio",       "code_lines", "correct_code",
                          "last_code_pass", "invocation_timing", "self_corrections", "tool_errors"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect(cJSON_GetObjectItemCaseSensitive(all, keys[i]) != NULL, "%s", keys[i]);
    cr_expect(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(all, "pass_at_k")));
    cr_expect(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(all, "maj_at_k")));
    cr_expect_float_eq(num(all, "pass1"), mean_correct(t, n, NULL), 1e-9);
    const cJSON *fams = cJSON_GetObjectItemCaseSensitive(j, "families");
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(fams, "mul"));
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(fams, "add"));
    cr_expect_float_eq(num(cJSON_GetObjectItemCaseSensitive(fams, "mul"), "pass1"), mean_correct(t, n, "mul"), 1e-9);
    cr_expect_float_eq(num(cJSON_GetObjectItemCaseSensitive(fams, "add"), "pass1"), mean_correct(t, n, "add"), 1e-9);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "eval");
    cr_expect_eq(num(ev, "samples"), 6);
    cr_expect_float_eq(num(ev, "top_p"), 0.7, 1e-6);
    cJSON_Delete(j);
    rollout_trajectories_free(t, n);
}

Test(eval, cli_prints_the_table_and_names_bad_inputs) {
    char json[600], args[2048];
    static char out[65536];
    snprintf(json, sizeof json, "%s/cli.json", dir);
    snprintf(args, sizeof args,
             "eval --model %s --data %s --samples 2 --tools none --template plain --max-tokens 16 --threads 1 --f32 "
             "--quiet --json %s",
             model_dir, problems, json);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "pass@1") || strstr(out, "pass1"), "%s", out);
    cr_expect(strstr(out, "mul") && strstr(out, "add"), "per-family columns: %s", out);
    cr_expect(rt_path_exists(json));
    snprintf(args, sizeof args, "eval --model %s --data %s/nope.jsonl --quiet", model_dir, dir);
    cr_expect_eq(run_cli(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "nope.jsonl") != NULL, "%s", out);
    snprintf(args, sizeof args, "eval --model %s --data %s --top-p 0", model_dir, problems);
    cr_expect_eq(run_cli(args, out, sizeof out), 2, "%s", out);
    cr_expect_eq(run_cli("eval --data x.jsonl", out, sizeof out), 2, "%s", out);
}

Test(eval, a_local_rewriting_model_really_runs_and_its_drafts_are_verified) {
    /* The random model writes no valid trace: its draft is read, and dropped for its format, never faked. */
    char in[600], out[600];
    snprintf(in, sizeof in, "%s/noprog.jsonl", dir);
    snprintf(out, sizeof out, "%s/rw.jsonl", dir);
    FILE *fp = fopen(in, "w");
    fprintf(fp, "{\"prompt\":\"Compute 2*3.\",\"answer\":\"6\",\"text_solution\":\"2*3=6.\"}\n");
    fclose(fp);
    pipe_coldstart_config cc = pipe_coldstart_defaults();
    cc.in_path = in;
    cc.out_path = out;
    cc.tokenizer_dir = model_dir;
    cc.template_kind = ROLLOUT_TEMPLATE_PLAIN;
    cc.rewriter = model_dir;
    cc.quiet = 1;
    pipe_coldstart_summary s;
    rt_error e;
    cr_assert_eq(pipe_coldstart(&cc, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.all.read, 1u);
    cr_expect_eq(s.all.n[PIPE_CS_FORMAT], 1u);
    cr_expect_eq(s.all.n[PIPE_CS_KEPT], 0u);
    pipe_coldstart_summary_free(&s);
}
