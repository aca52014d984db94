/* Data parallelism through the CLI: `mpirun -np 2 retool sft|rl ...` on one global batch gives the same parameters as
 * one process on the same batch (relative difference under 1e-5 on every tensor), rank 0 alone writes the run, and
 * ranks that load different models stop with a clear error. The test binary itself never needs mpirun. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "model/safetensors.h"
#include "sft_fixture.h"
#include "tokenizer/tokenizer.h"
#include "../base/tiny_model.h"

static char dir[64], model_dir[256], data[256];

static const char *bin(void) {
    const char *b = getenv("RETOOL_BIN");
    return b && *b ? b : "./build/retool";
}

/* The mpirun command prefix, or NULL when Open MPI's launcher is missing. */
static const char *mpirun(void) {
    if (system("command -v mpirun > /dev/null 2>&1") != 0) return NULL;
    /* Root in containers and CI needs --allow-run-as-root; 2 ranks on fewer cores need --oversubscribe. Open MPI's
     * own allocations are not ours to check under the sanitizers. */
    return "mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS=detect_leaks=0";
}

/* Runs cmd (stdout and stderr into dir/log.txt); returns its exit status, output in out. */
static int run(const char *cmd, char *out, size_t n) {
    char full[4096], log[300];
    snprintf(log, sizeof log, "%s/log.txt", dir);
    snprintf(full, sizeof full, "%s > %s 2>&1", cmd, log);
    int rc = system(full);
    out[0] = '\0';
    FILE *fp = fopen(log, "r");
    if (fp) {
        size_t k = fread(out, 1, n - 1, fp);
        out[k] = '\0';
        fclose(fp);
    }
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Largest relative difference ||a - b|| / ||a|| over the tensors of two model folders (same names and shapes
 * required); *moved gets the smallest ||a - start|| / ||start|| over tensors that changed (how far training moved). */
static double max_rel_diff(const char *a_dir, const char *b_dir, const char *start_dir, double *moved) {
    st_set a, b, s;
    rt_error e;
    cr_assert_eq(st_open_dir(a_dir, &a, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(st_open_dir(b_dir, &b, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(st_open_dir(start_dir, &s, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(a.ntensors, b.ntensors);
    double worst = 0, least_moved = INFINITY;
    for (size_t i = 0; i < a.ntensors; i++) {
        const st_tensor *ta = &a.tensors[i], *tb = st_find(&b, ta->name), *ts = st_find(&s, ta->name);
        cr_assert_not_null(tb, "tensor %s missing from %s", ta->name, b_dir);
        /* (a tensor absent from the start, like a new value head, started at zero) */
        int64_t n = st_numel(ta);
        cr_assert_eq(st_numel(tb), n, "tensor %s", ta->name);
        float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y),
              *z = malloc((size_t)n * sizeof *z);
        cr_assert_eq(st_to_f32(ta, x, &e), RT_OK);
        cr_assert_eq(st_to_f32(tb, y, &e), RT_OK);
        if (ts) {
            cr_assert_eq(st_numel(ts), n, "tensor %s", ta->name);
            cr_assert_eq(st_to_f32(ts, z, &e), RT_OK);
        } else {
            memset(z, 0, (size_t)n * sizeof *z);
        }
        double d = 0, na = 0, dm = 0, ns = 0;
        for (int64_t k = 0; k < n; k++) {
            d += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
            na += (double)x[k] * x[k];
            dm += ((double)x[k] - z[k]) * ((double)x[k] - z[k]);
            ns += (double)z[k] * z[k];
        }
        double rel = na > 0 ? sqrt(d / na) : sqrt(d);
        if (rel > worst) worst = rel;
        double mv = ns > 0 ? sqrt(dm / ns) : sqrt(dm);
        if (dm > 0 && mv < least_moved) least_moved = mv;
        free(x);
        free(y);
        free(z);
    }
    st_close(&a);
    st_close(&b);
    st_close(&s);
    *moved = least_moved;
    return worst;
}

static size_t count_lines(const char *path) {
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

static void setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/retool-mpi-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(fixture_model(dir, model_dir, sizeof model_dir), 0);
    snprintf(data, sizeof data, "%s/data.jsonl", dir);
    cr_assert_eq(fixture_data(data, 16, 1, 2), 0);
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(mpi, .init = setup, .fini = teardown);

/* 16 samples of 10 tokens, 80 tokens a batch: two global batches of 8 sequences, 4 per rank. */
#define SFT_FLAGS                                                                                                      \
    "--batch-tokens 80 --eval-frac 0 --lr 1e-2 --warmup 0 --constant-lr --weight-decay 0.01 --clip 0.5 --f32 --quiet"

Test(mpi, sft_two_ranks_equal_one_process) {
    const char *mr = mpirun();
    if (!mr) cr_skip_test("mpirun (Open MPI) is not installed");
    char cmd[2048], out[8192], one[300], two[300], path[400];
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(two, sizeof two, "%s/two", dir);
    snprintf(cmd, sizeof cmd, "%s sft --model %s --data %s --out %s " SFT_FLAGS, bin(), model_dir, data, one);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s sft --model %s --data %s --out %s " SFT_FLAGS, mr, bin(), model_dir, data,
             two);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    /* Rank 0 alone printed the summary and wrote the run: one metrics line per step, not one per rank. */
    const char *first = strstr(out, "sft: 2 steps");
    cr_expect_not_null(first, "%s", out);
    cr_expect(first && !strstr(first + 1, "sft: 2 steps"), "the summary is printed once: %s", out);
    snprintf(path, sizeof path, "%s/metrics.jsonl", two);
    cr_expect_eq(count_lines(path), 2);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/model", one);
    snprintf(b, sizeof b, "%s/model", two);
    double moved;
    double rel = max_rel_diff(a, b, model_dir, &moved);
    cr_log_info("sft, 2 ranks vs 1 process: largest relative difference %g; training moved tensors by >= %g", rel,
                moved);
    cr_expect_lt(rel, 1e-5, "2 ranks vs 1 process: relative difference %g", rel);
    /* Two steps moved every trained tensor far beyond the tolerance, so a rank that trained on its half alone (or
     * not at all) could not pass. */
    cr_expect_gt(moved, 1e-3, "training moved a tensor by only %g", moved);
    snprintf(b, sizeof b, "%s/checkpoints/step-2/policy", two);
    cr_expect(rt_path_exists(b), "rank 0 wrote the final checkpoint");
}

Test(mpi, sft_resume_under_two_ranks_matches_straight) {
    const char *mr = mpirun();
    if (!mr) cr_skip_test("mpirun (Open MPI) is not installed");
    char cmd[2048], out[8192], straight[300], split[300];
    snprintf(straight, sizeof straight, "%s/straight", dir);
    snprintf(split, sizeof split, "%s/split", dir);
    /* 2 epochs = 4 steps straight in one process; 1 step, then a resume to the end, under 2 ranks. */
    snprintf(cmd, sizeof cmd, "%s sft --model %s --data %s --out %s --epochs 2 " SFT_FLAGS, bin(), model_dir, data,
             straight);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s sft --model %s --data %s --out %s --epochs 2 --max-steps 1 " SFT_FLAGS, mr,
             bin(), model_dir, data, split);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s sft --model %s --data %s --out %s --epochs 2 --resume " SFT_FLAGS, mr, bin(),
             model_dir, data, split);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    char a[400], b[400], path[400];
    snprintf(a, sizeof a, "%s/model", straight);
    snprintf(b, sizeof b, "%s/model", split);
    double moved;
    double rel = max_rel_diff(a, b, model_dir, &moved);
    cr_log_info("sft resumed under 2 ranks vs straight: largest relative difference %g", rel);
    cr_expect_lt(rel, 1e-5, "resumed 2-rank run vs straight run: relative difference %g", rel);
    snprintf(path, sizeof path, "%s/metrics.jsonl", split);
    cr_expect_eq(count_lines(path), 4);
}

Test(mpi, ranks_with_different_models_stop_with_a_clear_error) {
    const char *mr = mpirun();
    if (!mr) cr_skip_test("mpirun (Open MPI) is not installed");
    char other[256], cfg_path[300], cmd[2048], out[8192], run_dir[300];
    /* Same shapes, different random weights. */
    snprintf(other, sizeof other, "%s/other", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", model_dir);
    rt_error e;
    model_config cfg;
    cr_assert_eq(model_config_load(cfg_path, &cfg, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(model_dir_init(&cfg, other, 99, ST_F32, &e), RT_OK, "%s", e.msg);
    snprintf(run_dir, sizeof run_dir, "%s/bad", dir);
    /* MPMD launch: rank 0 loads the fixture, rank 1 the other model. */
    snprintf(cmd, sizeof cmd,
             "%s -np 1 %s sft --model %s --data %s --out %s " SFT_FLAGS
             " : -np 1 %s sft --model %s --data %s --out %s " SFT_FLAGS,
             mr, bin(), model_dir, data, run_dir, bin(), other, data, run_dir);
    int rc = run(cmd, out, sizeof out);
    cr_expect_neq(rc, 0, "%s", out);
    cr_expect_not_null(strstr(out, "starting parameters differ across ranks"), "%s", out);
}

/* RL through the CLI: a tiny model with a trained tokenizer, text-only rollouts. */
static char rl_dir[64], rl_model[256], rl_data[256];

static void question_corpus(FILE *fp) {
    for (int i = 0; i < 50; i++) fprintf(fp, "question %d answer %d\n", i, i * 7);
}

static void rl_setup(void) {
    rt_log_set_level(RT_LOG_WARN);
    snprintf(rl_dir, sizeof rl_dir, "/tmp/retool-mpi-rl-XXXXXX");
    cr_assert_not_null(mkdtemp(rl_dir));
    snprintf(dir, sizeof dir, "%s", rl_dir); /* run() logs here */
    tiny_model_spec spec = {question_corpus, 270, 288, 32, 64, 1, 2, 64, 5};
    tiny_model_make(rl_dir, &spec, rl_model, sizeof rl_model);
    snprintf(rl_data, sizeof rl_data, "%s/p.jsonl", rl_dir);
    FILE *fp = fopen(rl_data, "w");
    for (int i = 0; i < 6; i++)
        fprintf(fp, "{\"prompt\": \"question %d\", \"answer\": \"%d\"}\n", i, i * 7);
    fclose(fp);
}
static void rl_teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", rl_dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(mpi_rl, .init = rl_setup, .fini = rl_teardown);

/* 2 steps of 2 prompts x 4 samples: each rank rolls out one prompt's group per step. */
#define RL_FLAGS                                                                                                       \
    "--steps 2 --prompts-per-step 2 --samples 4 --max-tokens 6 --tools none --sandbox none --template plain "          \
    "--lr 1e-2 --critic-lr 1e-2 --threads 1 --f32 --quiet"

/* Runs `retool rl ALGO_FLAGS` in one process and under 2 ranks; compares the final policies (and critics). */
static void rl_two_ranks_equal_one_process(const char *algo_flags, int critic) {
    const char *mr = mpirun();
    if (!mr) cr_skip_test("mpirun (Open MPI) is not installed");
    char cmd[2048], out[8192], one[300], two[300];
    snprintf(one, sizeof one, "%s/one", rl_dir);
    snprintf(two, sizeof two, "%s/two", rl_dir);
    snprintf(cmd, sizeof cmd, "%s rl --model %s --data %s --out %s %s " RL_FLAGS, bin(), rl_model, rl_data, one,
             algo_flags);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s rl --model %s --data %s --out %s %s " RL_FLAGS, mr, bin(), rl_model, rl_data,
             two, algo_flags);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    /* Rank 0 gathered every rank's trajectories: the same rollouts file, one metrics line per step. */
    char a[400], b[400];
    for (int step = 1; step <= 2; step++) {
        snprintf(a, sizeof a, "%s/rollouts/step-%d.jsonl", one, step);
        snprintf(b, sizeof b, "%s/rollouts/step-%d.jsonl", two, step);
        rollout_trajectory *ta = NULL, *tb = NULL;
        size_t na = 0, nb = 0;
        rt_error e;
        cr_assert_eq(rollout_trajectory_read_file(a, &ta, &na, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(rollout_trajectory_read_file(b, &tb, &nb, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(na, 8, "step %d: %zu trajectories in one process's rollouts", step, na);
        cr_assert_eq(nb, na, "step %d: rank 0 wrote %zu of %zu trajectories", step, nb, na);
        /* Same prompts, same samples (seeds by prompt and sample index), same order; only wall times differ. */
        for (size_t i = 0; i < na; i++) {
            cr_expect_str_eq(tb[i].id, ta[i].id, "step %d trajectory %zu", step, i);
            cr_expect_eq(tb[i].prompt_index, ta[i].prompt_index);
            cr_expect_eq(tb[i].sample_index, ta[i].sample_index);
            cr_expect_eq(tb[i].reward, ta[i].reward);
            cr_assert_eq(tb[i].n_response, ta[i].n_response, "step %d %s: response lengths differ", step, ta[i].id);
            cr_expect_arr_eq(tb[i].response_ids, ta[i].response_ids, ta[i].n_response * sizeof *ta[i].response_ids,
                             "step %d %s: sampled tokens differ", step, ta[i].id);
            for (size_t j = 0; j < ta[i].n_response; j++)
                cr_expect_leq(fabs((double)tb[i].logprobs[j] - ta[i].logprobs[j]), 1e-5, "step %d %s token %zu", step,
                              ta[i].id, j);
        }
        rollout_trajectories_free(ta, na);
        rollout_trajectories_free(tb, nb);
    }
    snprintf(b, sizeof b, "%s/metrics.jsonl", two);
    cr_expect_eq(count_lines(b), 2);
    snprintf(a, sizeof a, "%s/model", one);
    snprintf(b, sizeof b, "%s/model", two);
    double moved;
    double rel = max_rel_diff(a, b, rl_model, &moved);
    cr_log_info("rl %s, 2 ranks vs 1 process: policy relative difference %g; moved >= %g", algo_flags, rel, moved);
    cr_expect_lt(rel, 1e-5, "policy: relative difference %g", rel);
    cr_expect_gt(moved, 1e-3, "training moved a policy tensor by only %g", moved);
    if (critic) {
        snprintf(a, sizeof a, "%s/checkpoints/step-2/critic", one);
        snprintf(b, sizeof b, "%s/checkpoints/step-2/critic", two);
        rel = max_rel_diff(a, b, rl_model, &moved);
        cr_log_info("rl %s, 2 ranks vs 1 process: critic relative difference %g", algo_flags, rel);
        cr_expect_lt(rel, 1e-5, "critic: relative difference %g", rel);
    }
}

/* Untrained, every answer is wrong (flat groups): the entropy bonus is the gradient, normalised by every rank's
 * tokens. */
Test(mpi_rl, grpo_two_ranks_equal_one_process) {
    rl_two_ranks_equal_one_process("--algo grpo --entropy-coef 0.05", 0);
}

/* PPO: critic values make the advantages, whitened over both ranks' tokens; policy and critic both step. */
Test(mpi_rl, ppo_two_ranks_equal_one_process) {
    rl_two_ranks_equal_one_process("--algo ppo", 1);
}

/* PPO: 1 step under 2 ranks, then `--resume` under 2 ranks to step 2, equals 2 steps straight in one process. */
Test(mpi_rl, ppo_resume_under_two_ranks_matches_straight) {
    const char *mr = mpirun();
    if (!mr) cr_skip_test("mpirun (Open MPI) is not installed");
    char cmd[2048], out[8192], straight[300], split[300];
    snprintf(straight, sizeof straight, "%s/straight", rl_dir);
    snprintf(split, sizeof split, "%s/split", rl_dir);
    snprintf(cmd, sizeof cmd, "%s rl --model %s --data %s --out %s --algo ppo " RL_FLAGS, bin(), rl_model, rl_data,
             straight);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s rl --model %s --data %s --out %s --algo ppo " RL_FLAGS " --steps 1", mr,
             bin(), rl_model, rl_data, split);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    snprintf(cmd, sizeof cmd, "%s -np 2 %s rl --resume %s --steps 2 --quiet", mr, bin(), split);
    cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
    char a[400], b[400];
    snprintf(b, sizeof b, "%s/metrics.jsonl", split);
    cr_expect_eq(count_lines(b), 2);
    double moved;
    const char *sub[] = {"model", "checkpoints/step-2/critic"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", straight, sub[i]);
        snprintf(b, sizeof b, "%s/%s", split, sub[i]);
        double rel = max_rel_diff(a, b, rl_model, &moved);
        cr_log_info("rl ppo resumed under 2 ranks vs straight, %s: relative difference %g", sub[i], rel);
        cr_expect_lt(rel, 1e-5, "%s: relative difference %g", sub[i], rel);
    }
}
