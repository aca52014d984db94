/* One model, three trainers on the same problems: `retool model init` from a config, then `retool rl --algo grpo`,
 * `retool sft` on the trajectories GRPO sampled (the same tokens), and `retool rl --algo ppo` (policy and critic), each
 * run as the CLI runs it. Reports, from each run's metrics.jsonl (its last step, so that one-time costs such as first
 * page faults and oneDNN primitive creation stay out): tokens/s of every trained model, GFLOP/s (6 x the parameters in
 * matrix products x tokens), against the bf16 matmul ceiling measured in the same run at the model's shapes and the
 * batch's row count, the RL/SFT ratio (by wall time, and by CPU time, which other processes on a shared machine do not
 * inflate), the time split and the command's peak RSS (wait4).
 *
 *   build/bench/rl_step [--config configs/model-qwen2.5-0.5b.json] [--prompts 2] [--samples 4] [--max-tokens 64]
 *                       [--steps 2] [--threads 2] [--work DIR] [--ppo 1] [--micro-tokens 1024]
 *   build/bench/rl_step --ceiling-rows N [--config ...]    (the ceiling alone)
 *
 * Runs of a real model's shape need several GB: run it under `flock /tmp/retool-bigmem.lock`. */
#include <errno.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "ceiling.h"
#include "engine_bench.h"
#include "kernels/matmul.h"
#include "kernels/pool.h"
#include "model/config.h"

static const char *g_bin;
static int g_threads;

/* Runs `retool ARGS` (ARGS split on spaces); exits on failure; returns wall seconds, peak RSS in *rss_gb. */
static double run_retool(double *rss_gb, const char *fmt, ...) {
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)g_bin;
    for (char *tok = strtok(line, " "); tok && argc < 63; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    double t0 = rt_time_now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        execv(g_bin, argv);
        perror(g_bin);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    double dt = rt_time_now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "rl_step: retool %s failed (status %d)\n", argv[1], status);
        exit(1);
    }
    if (rss_gb) *rss_gb = (double)ru.ru_maxrss / (1024.0 * 1024.0);
    return dt;
}

/* The last line of RUN/metrics.jsonl, parsed. */
static cJSON *last_metrics(const char *run) {
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    static char line[1 << 16], last[1 << 16];
    last[0] = 0;
    while (fgets(line, sizeof line, f))
        if (line[0] == '{') memcpy(last, line, sizeof last);
    fclose(f);
    cJSON *o = cJSON_Parse(last);
    if (!o) {
        fprintf(stderr, "rl_step: %s has no metrics line\n", path);
        exit(1);
    }
    return o;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

typedef struct row {
    const char *name;
    double tokens, seconds, fwd, bwd, opt, rollout, other, rss;
    int no_head; /* a critic: its value head replaces the lm_head's product */
    double cpu;  /* CPU seconds (all threads) of the same work: what other processes on the cores do not inflate */
} row;

static void print_row(const row *r, const model_config *c, double ceil, const row *sft) {
    double P = matmul_params(c) - (r->no_head ? (double)c->vocab_size * (double)c->hidden_size : 0.0);
    double tps = r->tokens / r->seconds, gf = 6.0 * P * r->tokens / r->seconds / 1e9, tpc = r->tokens / r->cpu;
    printf("%-12s %5.0f tok %7.2f s %6.1f tok/s %6.1f GFLOP/s %5.1f%% of ceiling %5.2fx SFT | %6.2f CPU-s %5.2fx SFT "
           "by CPU | fwd %.2f bwd %.2f opt %.2f other %.2f s | rollout %.2f s | peak RSS %.2f GB\n",
           r->name, r->tokens, r->seconds, tps, gf, 100.0 * gf / ceil, tps / (sft->tokens / sft->seconds), r->cpu,
           tpc / (sft->tokens / sft->cpu), r->fwd, r->bwd, r->opt, r->other, r->rollout, r->rss);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *config = bench_flag_s(argc, argv, "--config", "configs/model-qwen2.5-0.5b.json");
    int prompts = (int)bench_flag(argc, argv, "--prompts", 2), samples = (int)bench_flag(argc, argv, "--samples", 4);
    int max_tokens = (int)bench_flag(argc, argv, "--max-tokens", 64), steps = (int)bench_flag(argc, argv, "--steps", 2);
    int ppo = (int)bench_flag(argc, argv, "--ppo", 1), micro = (int)bench_flag(argc, argv, "--micro-tokens", 1024);
    g_threads = (int)bench_flag(argc, argv, "--threads", 2);
    g_bin = getenv("RETOOL_BIN") ? getenv("RETOOL_BIN") : "build/retool";
    char work[4096];
    const char *w = bench_flag_s(argc, argv, "--work", NULL);
    if (w) {
        snprintf(work, sizeof work, "%s", w);
    } else {
        snprintf(work, sizeof work, "/tmp/retool-rl-step-XXXXXX");
        if (!mkdtemp(work)) {
            perror("mkdtemp");
            return 1;
        }
    }
    rt_error err;
    model_config cfg;
    bench_ok(model_config_load(config, &cfg, &err), &err, "config");
    bench_ok(kern_init(g_threads, &err), &err, "threads");
    int64_t only = bench_flag(argc, argv, "--ceiling-rows", 0); /* only the ceiling at that many rows */
    if (only > 0) {
        ceiling_gflops(&cfg, only, NULL); /* creates the primitives */
        double fl = 0, c0 = rt_time_cpu(), gf = ceiling_gflops(&cfg, only, &fl), cpu = rt_time_cpu() - c0;
        printf("bf16 matmul ceiling at %lld rows: %.1f GFLOP/s by wall (best of 3), %.1f GFLOP per CPU-second (%s)\n",
               (long long)only, gf, fl / cpu / 1e9, kern_gemm_impl_name(KERN_BF16));
        return 0;
    }
    /* the ceiling before the runs and after them (the better of the two: the machine may be shared), at the rows of
     * the batch: prompts x samples x (a 64-token prompt allowance + max_tokens) before the runs say */
    double ceil0 = ceiling_gflops(&cfg, (int64_t)prompts * samples * (64 + max_tokens), NULL);
    printf("rl_step: %s, %d prompts x %d samples x %d tokens, %d steps, %d threads, work %s\n", config, prompts,
           samples, max_tokens, steps, g_threads, work);
    double rss;
    run_retool(&rss,
               "model init --config %s --out %s/model --tokenizer %s/tokenizers/qwen3 --template chatml --dtype "
               "bf16 --force",
               config, work, RETOOL_FIXTURES);
    run_retool(NULL, "data gen --n %d --out %s/problems.jsonl --seed 1", prompts * steps, work);
    const char *rl_args = "--model %s/model --data %s/problems.jsonl --steps %d --prompts-per-step %d --samples %d "
                          "--max-tokens %d --tools none --quiet --threads %d --micro-tokens %d --out %s/%s";
    char fmt[1024];
    row rows[4];
    int nrows = 0;
    double P = matmul_params(&cfg);
    /* GRPO */
    snprintf(fmt, sizeof fmt, "rl --algo grpo %s", rl_args);
    double wall = run_retool(&rss, fmt, work, work, steps, prompts, samples, max_tokens, g_threads, micro, work, "grpo");
    char run[4200];
    snprintf(run, sizeof run, "%s/grpo", work);
    cJSON *g = last_metrics(run);
    row gr = {"grpo policy",
              num(g, "policy_tokens"),
              num(g, "time_policy_s"),
              num(g, "time_forward_s"),
              num(g, "time_backward_s"),
              num(g, "time_optimizer_s"),
              num(g, "time_rollout_s"),
              0,
              rss,
              0,
              0};
    gr.other = num(g, "time_update_s") - gr.fwd - gr.bwd - gr.opt;
    gr.cpu = num(g, "cpu_policy_s");
    printf("grpo command: %.1f s wall\n", wall);
    cJSON_Delete(g);
    /* SFT on the trajectories GRPO sampled at its last step, all in one batch (its rows), as many steps as RL took */
    wall = run_retool(&rss,
                      "sft --model %s/model --data %s/grpo/rollouts/step-%d.jsonl --out %s/sft --epochs %d --max-steps "
                      "%d --batch-tokens %.0f --eval-frac 0 --warmup 0 --quiet --threads %d",
                      work, work, steps, work, steps, steps, gr.tokens, g_threads);
    snprintf(run, sizeof run, "%s/sft", work);
    cJSON *s = last_metrics(run);
    row sr = {"sft",
              num(s, "tokens"),
              num(s, "step_s"),
              num(s, "time_forward_s"),
              num(s, "time_backward_s"),
              num(s, "time_optimizer_s"),
              0,
              0,
              rss,
              0,
              0};
    sr.other = sr.seconds - sr.fwd - sr.bwd - sr.opt;
    sr.cpu = num(s, "step_cpu_s");
    printf("sft command: %.1f s wall\n", wall);
    cJSON_Delete(s);
    rows[nrows++] = sr;
    rows[nrows++] = gr;
    if (ppo) {
        snprintf(fmt, sizeof fmt, "rl --algo ppo %s", rl_args);
        wall = run_retool(&rss, fmt, work, work, steps, prompts, samples, max_tokens, g_threads, micro, work, "ppo");
        snprintf(run, sizeof run, "%s/ppo", work);
        cJSON *p = last_metrics(run);
        double upd = num(p, "time_update_s"), f = num(p, "time_forward_s"), b = num(p, "time_backward_s"),
               o = num(p, "time_optimizer_s");
        row pp = {"ppo policy",
                  num(p, "policy_tokens"),
                  num(p, "time_policy_s"),
                  f,
                  b,
                  o,
                  num(p, "time_rollout_s"),
                  upd - f - b - o,
                  rss,
                  0,
                  0};
        row pc = {"ppo critic", num(p, "critic_tokens"), num(p, "time_critic_s"), 0, 0, 0, 0, 0, rss, 1, 0};
        pp.cpu = num(p, "cpu_policy_s");
        pc.cpu = num(p, "cpu_critic_s");
        printf("ppo command: %.1f s wall (fwd/bwd/opt below: both models)\n", wall);
        cJSON_Delete(p);
        rows[nrows++] = pp;
        rows[nrows++] = pc;
    }
    double ceil1 = ceiling_gflops(&cfg, (int64_t)sr.tokens, NULL), ceil = ceil0 > ceil1 ? ceil0 : ceil1;
    printf("bf16 matmul ceiling at %0.f rows: %.1f GFLOP/s (before the runs %.1f, after %.1f; %s); %.0f parameters in "
           "products\n",
           sr.tokens, ceil, ceil0, ceil1, kern_gemm_impl_name(KERN_BF16), P);
    for (int i = 0; i < nrows; i++) print_row(&rows[i], &cfg, ceil, &sr);
    return 0;
}
