/* `retool eval-metrics` and `retool report` through the built binary: output, exit codes, errors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../base/tmpdir.h"
#include "../cli/run_cli.h"
#include "base/fileio.h"
#include "base/json.h"
#include "helpers.h"

/* Writes text to dir/name (full path into out). */
static void put_text(const char *d, const char *name, const char *text, char *out, size_t n) {
    test_write(d, name, text, strlen(text), out, n);
}

static char dir[256];
static void setup(void) {
    test_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    test_rmdir(dir);
}
TestSuite(cli_pipeline, .init = setup, .fini = teardown);

/* Four trajectories over two prompts: p0 right/wrong (with code), p1 wrong/wrong (no code). */
static void write_trajectories(const char *path) {
    rollout_trajectory t[4];
    call_spec ok[] = {{"print(1)\nprint(2)", ROLLOUT_EXEC_OK, 0}};
    make_traj(&t[0], "p0-s0", 0, 0, 5, 2, ok, 1, "3", 1, 0, "<code>x</code><interpreter>3</interpreter>");
    make_traj(&t[1], "p0-s1", 0, 1, 5, 2, ok, 1, "4", -1, 0, "<code>x</code><interpreter>3</interpreter>");
    make_traj(&t[2], "p1-s0", 1, 0, 5, 0, NULL, 0, "1", -1, 0, "text");
    make_traj(&t[3], "p1-s1", 1, 1, 5, 0, NULL, 0, "1", -1, 0, "text");
    FILE *fp = fopen(path, "w");
    rt_error e;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(rollout_trajectory_write(fp, &t[i], &e), RT_OK);
        rollout_trajectory_free(&t[i]);
    }
    fclose(fp);
}

Test(cli_pipeline, eval_metrics_json_and_table) {
    char path[512], fam[512], args[2048];
    static char out[65536];
    snprintf(path, sizeof path, "%s/t.jsonl", dir);
    write_trajectories(path);
    snprintf(args, sizeof args, "eval-metrics --json %s", path);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "%s", out);
    const cJSON *all = cJSON_GetObjectItem(j, "all");
    cr_expect_float_eq(cJSON_GetObjectItem(all, "pass1")->valuedouble, 0.25, 1e-12);
    cr_expect_float_eq(cJSON_GetObjectItem(all, "code_ratio")->valuedouble, 0.5, 1e-12);
    cr_expect_float_eq(cJSON_GetObjectItem(all, "code_lines")->valuedouble, 1.0, 1e-12);
    cr_expect_float_eq(cJSON_GetObjectItem(all, "invocation_timing")->valuedouble, 0.0, 1e-12);
    cr_expect_float_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(all, "maj_at_k"), "2")->valuedouble, 0.5, 1e-12);
    cJSON_Delete(j);
    char famfile[600];
    snprintf(famfile, sizeof famfile, "%s/data.jsonl", dir);
    put_text(dir, "data.jsonl", "{\"prompt\": \"a\", \"family\": \"mul\"}\n{\"prompt\": \"b\", \"family\": \"pow\"}\n",
             fam, sizeof fam);
    snprintf(args, sizeof args, "eval-metrics --families %s %s", famfile, path);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "pass@1") && strstr(out, "mul") && strstr(out, "pow") && strstr(out, "code ratio"), "%s",
              out);
}

/* A file scored by the old rule: the program printed the right answer block, the model wrote none, yet the stored
 * reward is +1. eval-metrics reads only the model's text: the trajectory is wrong (the other is right on its own). */
Test(cli_pipeline, eval_metrics_rescores_answers_printed_by_programs) {
    char path[512], args[1024];
    static char out[65536];
    snprintf(path, sizeof path, "%s/hack.jsonl", dir);
    rollout_trajectory t[2];
    const char *code = "<code>\n```python\nprint(s)\n```\n</code>";
    char hacked[512], honest[512];
    snprintf(hacked, sizeof hacked, "%s\n<interpreter>\n<answer>\n\\boxed{42}\n</answer>\n</interpreter>\n\nNot sure.",
             code);
    snprintf(honest, sizeof honest, "%s\n<interpreter>\n41\n</interpreter>\n\n<answer>\n\\boxed{42}\n</answer>", code);
    make_traj(&t[0], "p0-s0", 0, 0, 5, 2, NULL, 0, "42", 1, 0, hacked);
    make_traj(&t[1], "p0-s1", 0, 1, 5, 2, NULL, 0, "42", 1, 0, honest);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    rt_error e;
    for (int i = 0; i < 2; i++) {
        t[i].truth = strdup("42");
        cr_assert_eq(rollout_trajectory_write(fp, &t[i], &e), RT_OK);
        rollout_trajectory_free(&t[i]);
    }
    fclose(fp);
    snprintf(args, sizeof args, "eval-metrics --json %s", path);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    cJSON *j = cJSON_Parse(strchr(out, '{'));
    cr_assert_not_null(j, "%s", out);
    const cJSON *all = cJSON_GetObjectItem(j, "all");
    cr_expect_float_eq(cJSON_GetObjectItem(all, "pass1")->valuedouble, 0.5, 1e-12, "%s", out);
    cr_expect_float_eq(cJSON_GetObjectItem(all, "correct")->valuedouble, 1.0, 1e-12, "%s", out);
    cJSON_Delete(j);
}

Test(cli_pipeline, eval_metrics_errors) {
    static char out[8192];
    cr_expect_eq(run_cli("eval-metrics", out, sizeof out), 2, "%s", out);
    char args[1024], path[512];
    snprintf(args, sizeof args, "eval-metrics %s/missing.jsonl", dir);
    cr_expect_eq(run_cli(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "missing.jsonl"), "%s", out);
    put_text(dir, "bad.jsonl", "{\"version\": 1, \"prompt_ids\": [1]}\n", path, sizeof path);
    snprintf(args, sizeof args, "eval-metrics %s", path);
    cr_expect_eq(run_cli(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "bad.jsonl:1"), "%s", out);
}

Test(cli_pipeline, report_default_out_and_errors) {
    static char out[8192];
    char path[512], args[2048];
    char run[300];
    snprintf(run, sizeof run, "%s/run", dir);
    rt_error e;
    cr_assert_eq(rt_mkdir_p(run, &e), RT_OK);
    put_text(run, "metrics.jsonl", "{\"step\": 1, \"accuracy\": 0.5}\n{\"step\": 2, \"accuracy\": 0.75}\n", path,
             sizeof path);
    snprintf(args, sizeof args, "report %s", run);
    cr_assert_eq(run_cli(args, out, sizeof out), 0, "%s", out);
    snprintf(path, sizeof path, "%s/report.html", run);
    cr_expect(rt_path_exists(path));
    snprintf(args, sizeof args, "report %s %s", run, run);
    cr_expect_eq(run_cli(args, out, sizeof out), 2, "several runs need --out: %s", out);
    cr_expect_eq(run_cli("report", out, sizeof out), 2, "%s", out);
    snprintf(args, sizeof args, "report --samples -1 %s", run);
    cr_expect_eq(run_cli(args, out, sizeof out), 2, "%s", out);
    put_text(run, "metrics.jsonl", "{\"step\": 1, \"accuracy\": 0.5}\n{\"step\": \"two\"}\n", path, sizeof path);
    snprintf(args, sizeof args, "report --out %s/r.html %s", dir, run);
    cr_expect_eq(run_cli(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "metrics.jsonl:2") && strstr(out, "step"), "%s", out);
}
