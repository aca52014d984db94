/* The demo end to end at a toy size (a few steps on a handful of problems): what summary.json reports (the distinct
 * held-out problems, per-family pass@1 of both pipelines, the algorithm and budgets that ran), the headline of
 * report.html, PPO as well as GRPO, and a resume with other settings refused rather than reported as this run's. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../base/tmpdir.h"
#include "../cli/run_cli.h"
#include "base/fileio.h"
#include "base/json.h"

static char g_dir[256], g_cfg[512];

/* A demo config at toy size: two tool families and one without a tool, 2 SFT steps, 1 RL step. */
static void setup(void) {
    test_tmpdir(g_dir, sizeof g_dir);
    const char *cfg =
        "{\"families\": \"all\", \"level\": 1, \"train_problems\": 60, \"test_problems\": 40, \"tokenizer_vocab\": 300,"
        " \"model_config\": \"configs/model-tiny.json\", \"template\": \"plain\", \"threads\": 2, \"sandbox_workers\": 1,"
        " \"sft\": {\"max_steps\": 2, \"batch_tokens\": 256, \"lr\": 0.002, \"min_lr\": 0.0002, \"warmup\": 1},"
        " \"rl\": {\"algo\": \"grpo\", \"steps\": 1, \"prompts_per_step\": 2, \"samples\": 2, \"lr\": 0.0005,"
        " \"temperature\": 1.0, \"drop_flat_groups\": false, \"critic_warmup\": 0},"
        " \"eval\": {\"samples\": 1, \"temperature\": 1.0, \"top_p\": 0.7},"
        " \"budgets\": {\"text\": {\"max_tokens\": 48}, \"tool\": {\"max_tokens\": 24, \"max_tool_calls\": 1}}}";
    char path[512];
    test_write(g_dir, "demo.json", cfg, strlen(cfg), path, sizeof path);
    snprintf(g_cfg, sizeof g_cfg, "%s", path);
}

static void teardown(void) { test_rmdir(g_dir); }

TestSuite(demo, .init = setup, .fini = teardown, .timeout = 300);

static cJSON *read_json(const char *dir, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cJSON *o = NULL;
    rt_error err;
    cr_assert_eq(rt_json_read_file(path, &o, &err), RT_OK, "%s", err.msg);
    return o;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "no number '%s'", key);
    return v->valuedouble;
}

/* Lines of a file. */
static size_t lines(const char *path) {
    FILE *fp = fopen(path, "r");
    cr_assert(fp, "%s", path);
    size_t n = 0;
    for (int c; (c = fgetc(fp)) != EOF;)
        n += c == '\n';
    fclose(fp);
    return n;
}

static void check_summary(const char *out, const char *algo) {
    cJSON *s = read_json(out, "summary.json");
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(s, "algo")->valuestring, algo);
    char test[600];
    snprintf(test, sizeof test, "%s/data/test.jsonl", out);
    size_t distinct = lines(test);
    cr_expect_eq(num(s, "held_out_distinct"), (double)distinct, "the count is the test file's");
    cr_expect_leq(distinct, 40u);
    cr_expect_lt(distinct, 40u, "40 draws over 11 families at level 1 repeat some small-family problems");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(s, "pipelines");
    const char *names[2] = {"text", "tool"};
    const double budgets[2] = {48, 24};
    for (int i = 0; i < 2; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(pl, names[i]);
        cr_assert(p, "pipeline %s", names[i]);
        cr_expect_eq(num(p, "max_response_tokens"), budgets[i], "%s: each pipeline its own budget", names[i]);
        cr_expect_eq(num(p, "rl_steps"), 1.0);
        cr_expect_eq(num(p, "responses"), (double)distinct, "one sample per distinct problem");
        const cJSON *fams = cJSON_GetObjectItemCaseSensitive(p, "families");
        cr_expect_eq(cJSON_GetArraySize(fams), 11, "%s: pass@1 for each of the 11 families", names[i]);
        double problems = 0;
        for (const cJSON *f = fams ? fams->child : NULL; f; f = f->next) {
            double c = num(f, "pass1_cold_start"), r = num(f, "pass1_rl");
            cr_expect(c >= 0 && c <= 1 && r >= 0 && r <= 1, "%s %s: %g %g", names[i], f->string, c, r);
            problems += num(f, "problems");
        }
        cr_expect_eq(problems, (double)distinct, "the families partition the held-out set");
    }
    cJSON_Delete(s);
    char report[600], *html = NULL;
    size_t len = 0;
    snprintf(report, sizeof report, "%s/report.html", out);
    rt_error err;
    cr_assert_eq(rt_file_read_all(report, &html, &len, &err), RT_OK, "%s", err.msg);
    const char *head = strstr(html, "<h2>Results</h2>"), *curves = strstr(html, "Curves over training");
    cr_expect(head && curves && head < curves, "the headline comes before the curves");
    cr_expect(head && strstr(head, "tool-integrated: after RL") && strstr(head, "<td>modpow</td>"),
              "per-family rows in the headline");
    free(html);
}

Test(demo, grpo_then_a_resume_with_another_seed_is_refused) {
    char out[400], args[2048], buf[8192];
    snprintf(out, sizeof out, "%s/run", g_dir);
    snprintf(args, sizeof args, "demo --quiet --config %s --out %s --seed 1", g_cfg, out);
    cr_assert_eq(run_cli(args, buf, sizeof buf), 0, "%s", buf);
    check_summary(out, "grpo");
    /* The final models say how they are prompted: without --template, the same trajectories as with the template the
     * demo trained them with (plain), and not those of ChatML. */
    const char *common = "--temperature 0 --max-tokens 24 --max-tool-calls 1 --workers 1 --quiet";
    char f_auto[600], f_plain[600], f_chat[600];
    snprintf(f_auto, sizeof f_auto, "%s/auto.jsonl", g_dir);
    snprintf(f_plain, sizeof f_plain, "%s/plain.jsonl", g_dir);
    snprintf(f_chat, sizeof f_chat, "%s/chat.jsonl", g_dir);
    snprintf(args, sizeof args, "generate --model %s/tool/model --prompts %s/data/test.jsonl --out %s %s", out, out,
             f_auto, common);
    cr_assert_eq(run_cli(args, buf, sizeof buf), 0, "%s", buf);
    snprintf(args, sizeof args, "generate --model %s/tool/model --prompts %s/data/test.jsonl --out %s %s --template plain",
             out, out, f_plain, common);
    cr_assert_eq(run_cli(args, buf, sizeof buf), 0, "%s", buf);
    snprintf(args, sizeof args, "generate --model %s/tool/model --prompts %s/data/test.jsonl --out %s %s --template chat",
             out, out, f_chat, common);
    cr_expect_eq(run_cli(args, buf, sizeof buf), 0, "%s", buf);
    char *ta = NULL, *tp = NULL, *tc = NULL;
    size_t la = 0, lp = 0, lc = 0;
    rt_error err;
    cr_assert_eq(rt_file_read_all(f_auto, &ta, &la, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(rt_file_read_all(f_plain, &tp, &lp, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(rt_file_read_all(f_chat, &tc, &lc, &err), RT_OK, "%s", err.msg);
    const char *pa = strstr(ta, "\"prompt_ids\""), *pp = strstr(tp, "\"prompt_ids\""), *pc = strstr(tc, "\"prompt_ids\"");
    cr_assert(pa && pp && pc);
    cr_expect(strncmp(pa, pp, 200) == 0, "no flag and --template plain prompt alike:\n%.200s\n%.200s", pa, pp);
    cr_expect(strncmp(pa, pc, 200) != 0, "a ChatML prompt differs");
    free(ta);
    free(tp);
    free(tc);
    snprintf(args, sizeof args, "eval --model %s/text/model --data %s/data/test.jsonl --samples 1 --max-tokens 24 "
                                "--tools none --quiet", out, out);
    cr_expect_eq(run_cli(args, buf, sizeof buf), 0, "eval without flags on the text model: %s", buf);
    /* Resuming the finished run with its own settings redoes nothing and succeeds. */
    cr_expect_eq(run_cli(args, buf, sizeof buf), 0, "%s", buf);
    /* Another seed, or another algorithm, over it: a clear refusal naming the setting, and nothing rewritten. */
    snprintf(args, sizeof args, "demo --quiet --config %s --out %s --seed 7", g_cfg, out);
    cr_expect_eq(run_cli(args, buf, sizeof buf), 2, "a usage error: %s", buf);
    cr_expect(strstr(buf, "seed = 1") && strstr(buf, "asks for 7"), "%s", buf);
    snprintf(args, sizeof args, "demo --quiet --config %s --out %s --seed 1 --algo ppo", g_cfg, out);
    cr_expect_eq(run_cli(args, buf, sizeof buf), 2, "a usage error: %s", buf);
    cr_expect(strstr(buf, "rl.algo") != NULL, "%s", buf);
    cJSON *s = read_json(out, "summary.json");
    cr_expect_eq(num(s, "seed"), 1.0);
    cJSON_Delete(s);
}

Test(demo, ppo_runs_with_a_critic) {
    char out[400], args[2048], buf[8192];
    snprintf(out, sizeof out, "%s/ppo", g_dir);
    snprintf(args, sizeof args, "demo --quiet --config %s --out %s --seed 2 --algo ppo", g_cfg, out);
    cr_assert_eq(run_cli(args, buf, sizeof buf), 0, "%s", buf);
    check_summary(out, "ppo");
    cJSON *c = read_json(out, "tool/rl/config.json");
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(c, "algo")->valuestring, "ppo");
    cJSON_Delete(c);
}

Test(demo, old_budget_fields_are_named) {
    char path[512], buf[4096], args[1200];
    const char *cfg = "{\"families\": \"all\", \"level\": 1, \"train_problems\": 6, \"test_problems\": 4,"
                      " \"tokenizer_vocab\": 300, \"model_config\": \"configs/model-tiny.json\", \"template\": \"plain\","
                      " \"threads\": 1, \"sandbox_workers\": 1,"
                      " \"sft\": {\"max_steps\": 1, \"batch_tokens\": 64, \"lr\": 0.1, \"min_lr\": 0.1, \"warmup\": 0},"
                      " \"rl\": {\"algo\": \"grpo\", \"steps\": 1, \"prompts_per_step\": 1, \"samples\": 1, \"lr\": 0.1,"
                      " \"max_tokens\": 160, \"temperature\": 1.0, \"drop_flat_groups\": true, \"critic_warmup\": 0},"
                      " \"eval\": {\"samples\": 1, \"temperature\": 1.0, \"top_p\": 0.7}}";
    test_write(g_dir, "old.json", cfg, strlen(cfg), path, sizeof path);
    snprintf(args, sizeof args, "demo --quiet --config %s --out %s/never", path, g_dir);
    cr_expect_eq(run_cli(args, buf, sizeof buf), 1, "%s", buf);
    cr_expect(strstr(buf, "rl.max_tokens") && strstr(buf, "budgets.text"), "%s", buf);
}
