/* retool generate end to end on a tiny random model (text-only, so no sandbox is needed here): every problem gets K
 * scored trajectories, the same seed gives the same file, prompts are the problems' text, bad inputs are named. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "model/modeldir.h"
#include "pipeline/generate.h"
#include "rollout/prompt.h"
#include "rollout/trajectory.h"
#include "tokenizer/tokenizer.h"
#include "../base/tiny_model.h"
#include "../cli/run_cli.h"

static char dir[64], model_dir[256], prompts[256];

static void arithmetic_corpus(FILE *fp) {
    for (int i = 0; i < 200; i++) fprintf(fp, "Compute %d*%d.\n\\boxed{%d}\n", i, i + 3, i * (i + 3));
}

static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/retool-gen-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    tiny_model_spec spec = {arithmetic_corpus, 300, 320, 32, 64, 2, 2, 256, 3};
    tiny_model_make(dir, &spec, model_dir, sizeof model_dir);
    snprintf(prompts, sizeof prompts, "%s/p.jsonl", dir);
    FILE *fp = fopen(prompts, "w");
    fprintf(fp, "{\"prompt\": \"Compute 12*15.\", \"answer\": \"180\"}\n{\"prompt\": \"Compute 7*8.\", \"answer\": \"56\"}\n"
                "{\"prompt\": \"Compute 2*2.\", \"answer\": \"4\"}\n");
    fclose(fp);
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(generate, .init = setup, .fini = teardown);

static pipe_generate_config cfg_for(const char *out, uint64_t seed) {
    pipe_generate_config c = pipe_generate_defaults();
    c.model_dir = model_dir;
    c.prompts_path = prompts;
    c.out_path = out;
    c.samples = 4;
    c.template_kind = ROLLOUT_TEMPLATE_PLAIN;
    c.rollout.tools = ROLLOUT_TOOLS_NONE;
    c.rollout.budget.max_response_tokens = 24;
    c.rollout.seed = seed;
    c.rollout.max_concurrent = 5; /* fewer slots than trajectories: continuous batching */
    c.threads = 1;
    c.f32 = 1;
    c.quiet = 1;
    return c;
}

Test(generate, every_problem_gets_k_scored_trajectories) {
    char out[300];
    snprintf(out, sizeof out, "%s/g.jsonl", dir);
    pipe_generate_config c = cfg_for(out, 1);
    pipe_generate_summary s;
    rt_error e;
    cr_assert_eq(pipe_generate(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.trajectories, 12u);
    cr_expect_leq(s.stats.max_batch, 5u);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(n, 12u);
    const char *truth[] = {"180", "56", "4"};
    const char *text[] = {"Compute 12*15.\n", "Compute 7*8.\n", "Compute 2*2.\n"};
    int count[3] = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t p = t[i].prompt_index;
        cr_assert(p >= 0 && p < 3);
        count[p]++;
        cr_expect_str_eq(t[i].truth, truth[p]);
        cr_expect_str_eq(t[i].prompt_text, text[p]);
        cr_expect(t[i].reward == 1.0 || t[i].reward == -1.0);
        cr_expect_leq(t[i].n_response, 24u);
        cr_expect_eq(t[i].n_calls, 0u);
        /* A random model does not answer: the flag says so and the reward is -1. */
        if (!t[i].answer) cr_expect(t[i].flags & ROLLOUT_FLAG_NO_ANSWER);
    }
    for (int p = 0; p < 3; p++) cr_expect_eq(count[p], 4);
    rollout_trajectories_free(t, n);
}

Test(generate, same_seed_same_file_other_seed_differs) {
    char a[300], b[300], c2[300];
    snprintf(a, sizeof a, "%s/a.jsonl", dir);
    snprintf(b, sizeof b, "%s/b.jsonl", dir);
    snprintf(c2, sizeof c2, "%s/c.jsonl", dir);
    pipe_generate_summary s;
    rt_error e;
    pipe_generate_config c = cfg_for(a, 7);
    cr_assert_eq(pipe_generate(&c, &s, &e), RT_OK, "%s", e.msg);
    c.out_path = b;
    c.rollout.max_concurrent = 12; /* other batching, same streams */
    cr_assert_eq(pipe_generate(&c, &s, &e), RT_OK, "%s", e.msg);
    c.out_path = c2;
    c.rollout.seed = 8;
    cr_assert_eq(pipe_generate(&c, &s, &e), RT_OK, "%s", e.msg);
    rollout_trajectory *ta, *tb, *tc;
    size_t na, nb, nc;
    cr_assert_eq(rollout_trajectory_read_file(a, &ta, &na, &e), RT_OK);
    cr_assert_eq(rollout_trajectory_read_file(b, &tb, &nb, &e), RT_OK);
    cr_assert_eq(rollout_trajectory_read_file(c2, &tc, &nc, &e), RT_OK);
    int same_ab = 1, same_ac = 1;
    for (size_t i = 0; i < na; i++) {
        same_ab &= ta[i].n_response == tb[i].n_response &&
                   memcmp(ta[i].response_ids, tb[i].response_ids, ta[i].n_response * 4) == 0;
        same_ac &= ta[i].n_response == tc[i].n_response &&
                   memcmp(ta[i].response_ids, tc[i].response_ids, ta[i].n_response * 4) == 0;
    }
    cr_expect(same_ab, "the same seed must give the same tokens whatever the batching");
    cr_expect_not(same_ac, "another seed should sample differently");
    rollout_trajectories_free(ta, na);
    rollout_trajectories_free(tb, nb);
    rollout_trajectories_free(tc, nc);
}

Test(generate, plain_prompt_is_one_encoding_of_problem_and_newline) {
    /* Encoding the problem and the newline apart would split merges that training text has (e.g. ".\n"). */
    tok_tokenizer *tok;
    rt_error e;
    cr_assert_eq(tok_load(model_dir, &tok, &e), RT_OK, "%s", e.msg);
    tok_ids a = {0}, b = {0};
    cr_assert_eq(rollout_prompt_ids(tok, ROLLOUT_TEMPLATE_PLAIN, 1, "Compute 12*15.", &a, &e), RT_OK);
    cr_assert_eq(tok_encode(tok, "Compute 12*15.\n", 15, TOK_ENCODE_NO_SPECIAL, &b, &e), RT_OK);
    cr_assert_eq(a.len, b.len);
    cr_expect_eq(memcmp(a.ids, b.ids, a.len * sizeof(int32_t)), 0);
    tok_ids_free(&a);
    tok_ids_free(&b);
    tok_free(tok);
}

Test(generate, bad_inputs_are_named) {
    char out[300];
    snprintf(out, sizeof out, "%s/g.jsonl", dir);
    pipe_generate_config c = cfg_for(out, 1);
    c.prompts_path = "/nonexistent/p.jsonl";
    pipe_generate_summary s;
    rt_error e;
    cr_expect_neq(pipe_generate(&c, &s, &e), RT_OK);
    cr_expect(strstr(e.msg, "/nonexistent/p.jsonl") != NULL, "%s", e.msg);
    c = cfg_for(out, 1);
    c.rollout.tools = ROLLOUT_TOOLS_STATELESS;
    c.sandbox = "none";
    cr_expect_eq(pipe_generate(&c, &s, &e), RT_EINVAL);
    cr_expect(strstr(e.msg, "needs a sandbox") != NULL, "%s", e.msg);
    c.sandbox = "ftp://x";
    cr_expect_eq(pipe_generate(&c, &s, &e), RT_EINVAL);
    cr_expect_not(rt_path_exists(out), "nothing is written on failure");
}

/* Non-zero when two trajectory files hold the same prompts and responses (wall times aside). */
static int same_trajectories(const char *pa, const char *pb) {
    rollout_trajectory *a, *b;
    size_t na, nb;
    rt_error e;
    cr_assert_eq(rollout_trajectory_read_file(pa, &a, &na, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(rollout_trajectory_read_file(pb, &b, &nb, &e), RT_OK, "%s", e.msg);
    int same = na == nb && na > 0;
    for (size_t i = 0; same && i < na; i++)
        same = a[i].n_prompt == b[i].n_prompt && a[i].n_response == b[i].n_response &&
               memcmp(a[i].prompt_ids, b[i].prompt_ids, a[i].n_prompt * sizeof(int32_t)) == 0 &&
               memcmp(a[i].response_ids, b[i].response_ids, a[i].n_response * sizeof(int32_t)) == 0 &&
               a[i].reward == b[i].reward;
    rollout_trajectories_free(a, na);
    rollout_trajectories_free(b, nb);
    return same;
}

Test(generate, the_folder_says_how_it_is_prompted) {
    rt_error e;
    char out[300], cfgpath[300];
    snprintf(out, sizeof out, "%s/g.jsonl", dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/tokenizer_config.json", model_dir);
    /* a folder marked plain: no template asked for gives the plain prompt, the problem and a newline */
    cr_assert_eq(tok_template_write(model_dir, TOK_TEMPLATE_PLAIN, &e), RT_OK, "%s", e.msg);
    pipe_generate_config c = cfg_for(out, 1);
    c.template_kind = ROLLOUT_TEMPLATE_AUTO;
    pipe_generate_summary s;
    cr_assert_eq(pipe_generate(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.template_kind, ROLLOUT_TEMPLATE_PLAIN);
    rollout_trajectory *t;
    size_t n;
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_expect_str_eq(t[0].prompt_text, "Compute 12*15.\n");
    rollout_trajectories_free(t, n);
    /* a folder marked ChatML: the chat prompt (the tiny tokenizer has the markers) */
    cr_assert_eq(tok_template_write(model_dir, TOK_TEMPLATE_CHATML, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(pipe_generate(&c, &s, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(s.template_kind, ROLLOUT_TEMPLATE_CHATML);
    cr_assert_eq(rollout_trajectory_read_file(out, &t, &n, &e), RT_OK, "%s", e.msg);
    cr_expect(strncmp(t[0].prompt_text, "<|im_start|>user\n", 17) == 0 && strstr(t[0].prompt_text, "Compute 12*15."),
              "%s", t[0].prompt_text);
    rollout_trajectories_free(t, n);
    /* a folder that says nothing: an error naming its tokenizer_config.json, nothing written */
    remove(out);
    const char *bare = "{\"eos_token\": \"<|im_end|>\"}";
    cr_assert_eq(rt_file_write_atomic(cfgpath, bare, strlen(bare), &e), RT_OK, "%s", e.msg);
    cr_expect_neq(pipe_generate(&c, &s, &e), RT_OK);
    cr_expect(strstr(e.msg, cfgpath) && strstr(e.msg, "--template"), "%s", e.msg);
    cr_expect_not(rt_path_exists(out));
    /* ... unless the caller says which */
    c.template_kind = ROLLOUT_TEMPLATE_PLAIN;
    cr_expect_eq(pipe_generate(&c, &s, &e), RT_OK, "%s", e.msg);
}

Test(generate, cli_without_template_on_a_plain_folder_equals_template_plain) {
    /* The issue: `generate` without --template on a model trained plain built chat prompts (0% correct). */
    rt_error e;
    cr_assert_eq(tok_template_write(model_dir, TOK_TEMPLATE_PLAIN, &e), RT_OK, "%s", e.msg);
    static char log[65536];
    char args[2048], path[3][300];
    const char *flag[3] = {"", "--template plain", "--template chat"};
    for (int i = 0; i < 3; i++) {
        snprintf(path[i], sizeof path[i], "%s/cli%d.jsonl", dir, i);
        snprintf(args, sizeof args,
                 "generate --model %s --prompts %s --out %s --samples 2 --tools none --max-tokens 12 --seed 7 "
                 "--threads 1 --f32 --quiet %s",
                 model_dir, prompts, path[i], flag[i]);
        cr_assert_eq(run_cli(args, log, sizeof log), 0, "%s", log);
    }
    cr_expect(same_trajectories(path[0], path[1]), "the same trajectories with and without --template plain");
    cr_expect(!same_trajectories(path[0], path[2]), "--template chat still overrides the folder");
}
