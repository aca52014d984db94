/* The "done when" through the built binary on files of the public layouts written by DuckDB
 * (tests/fixtures/parquet): `retool rl --data` on a DAPO-Math-17k-shaped file and `retool eval --data` on an AIME
 * 2024-shaped one, with a tiny model. Each trajectory's truth and prompt are checked against DuckDB's own read-back of
 * the file (the JSONL beside it) and the documented field mapping (docs/DATA.md): the answer field, and the problem
 * text with DAPO's fixed instructions removed. `retool data convert retool-sft.parquet --model` is tested in
 * test_sftconv.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/tiny_model.h"
#include "../base/tmpdir.h"
#include "../cli/run_cli.h"
#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "rollout/trajectory.h"

#define PQ RETOOL_FIXTURES "/parquet/"

static char dir[256], model[512];

static void corpus(FILE *fp) {
    for (int i = 0; i < 60; i++)
        fprintf(fp,
                "What is %d + %d?\n<code>\n```python\nprint(%d+%d)\n```\n</code>\n<interpreter>\n%d\n</interpreter>\n",
                i, i + 2, i, i + 2, 2 * i + 2);
}

static void setup(void) {
    rt_log_set_level(RT_LOG_ERROR);
    test_tmpdir(dir, sizeof dir);
    tiny_model_spec spec = {corpus, 300, 320, 32, 64, 1, 2, 512, 3};
    tiny_model_make(dir, &spec, model, sizeof model);
}
static void teardown(void) {
    test_rmdir(dir);
}
TestSuite(public_parquet, .init = setup, .fini = teardown);

/* Row i (0-based) of a fixture's read-back. */
static cJSON *readback_row(const char *name, size_t i) {
    char path[512];
    snprintf(path, sizeof path, PQ "%s.jsonl", name);
    rt_jsonl_reader r;
    rt_error e;
    cr_assert_eq(rt_jsonl_open(&r, path, RT_JSONL_STOP, &e), RT_OK, "%s", e.msg);
    cJSON *row = NULL;
    for (size_t k = 0; k <= i; k++) {
        cJSON_Delete(row);
        cr_assert_eq(rt_jsonl_next(&r, &row, &e), RT_OK, "%s", e.msg);
        cr_assert_not_null(row, "%s has no row %zu", path, i);
    }
    rt_jsonl_close(&r);
    return row;
}

/* The row of the data file a trajectory of `retool rl` came from: its id is "qN-sK", N the 0-based row. */
static size_t row_of(const char *id) {
    cr_assert(id[0] == 'q', "trajectory id %s", id);
    return (size_t)strtoul(id + 1, NULL, 10);
}

/* Runs retool with args, then reads the n_want trajectories it wrote to path. */
static rollout_trajectory *run_and_read(const char *args, const char *path, size_t n_want) {
    static char log[65536];
    cr_assert_eq(run_cli(args, log, sizeof log), 0, "%s", log);
    rollout_trajectory *t;
    size_t n;
    rt_error e;
    cr_assert_eq(rollout_trajectory_read_file(path, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, n_want, "%s: %zu trajectories", path, n);
    return t;
}

Test(public_parquet, rl_trains_on_dapo_parquet) {
    char args[2048], run[400], path[512];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(args, sizeof args,
             "rl --algo grpo --model %s --data " PQ "dapo_shaped.parquet --steps 1 --prompts-per-step 3 --samples 2 "
             "--max-tokens 8 --workers 1 --template plain --lr 1e-3 --out %s",
             model, run);
    snprintf(path, sizeof path, "%s/rollouts/step-1.jsonl", run);
    size_t n = 6;
    rollout_trajectory *t = run_and_read(args, path, n);
    for (size_t i = 0; i < n; i++) {
        cJSON *row = readback_row("dapo_shaped", row_of(t[i].id));
        const char *gt = cJSON_GetObjectItem(cJSON_GetObjectItem(row, "reward_model"), "ground_truth")->valuestring;
        const char *content = cJSON_GetArrayItem(cJSON_GetObjectItem(row, "prompt"), 0)->child->valuestring;
        cr_expect_str_eq(t[i].truth, gt, "%s", t[i].id);
        /* the problem is the content between DAPO's fixed instruction prefix and suffix */
        const char *p = strstr(content, "\n\n"), *q = strstr(content, "\n\nRemember");
        cr_assert(p && q && q > p, "%s", content);
        char problem[256];
        snprintf(problem, sizeof problem, "%.*s", (int)(q - p - 2), p + 2);
        cr_expect(strstr(t[i].prompt_text, problem) != NULL, "%s: '%s' not in the prompt '%s'", t[i].id, problem,
                  t[i].prompt_text);
        cr_expect(strstr(t[i].prompt_text, "Solve the following math problem") == NULL, "%s", t[i].prompt_text);
        cJSON_Delete(row);
    }
    rollout_trajectories_free(t, n);
    snprintf(path, sizeof path, "%s/model/model.safetensors", run);
    cr_expect(access(path, R_OK) == 0, "no trained model in %s", run);
}

Test(public_parquet, eval_scores_aime_parquet) {
    char args[2048], out[400], json[400];
    snprintf(out, sizeof out, "%s/eval.jsonl", dir);
    snprintf(json, sizeof json, "%s/eval.json", dir);
    snprintf(args, sizeof args,
             "eval --model %s --data " PQ "aime_shaped.parquet --samples 2 --limit 4 --max-tokens 8 --workers 1 "
             "--template plain --quiet --out %s --json %s",
             model, out, json);
    size_t n = 8;
    rollout_trajectory *t = run_and_read(args, out, n);
    for (size_t i = 0; i < n; i++) {
        cJSON *row = readback_row("aime_shaped", (size_t)t[i].prompt_index); /* the first 4 rows, in order */
        char want[64];
        snprintf(want, sizeof want, "%d", cJSON_GetObjectItem(row, "Answer")->valueint);
        cr_expect_str_eq(t[i].truth, want, "%s", t[i].id);
        const char *problem = cJSON_GetObjectItem(row, "Problem")->valuestring;
        cr_expect(strstr(t[i].prompt_text, problem) != NULL, "%s: '%s' not in '%s'", t[i].id, problem,
                  t[i].prompt_text);
        cJSON_Delete(row);
    }
    rollout_trajectories_free(t, n);
    cJSON *j = NULL;
    rt_error e;
    cr_assert_eq(rt_json_read_file(json, &j, &e), RT_OK, "%s", e.msg);
    cJSON_Delete(j);
}
