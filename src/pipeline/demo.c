#include "pipeline/demo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timer.h"
#include "data/dataset.h"
#include "data/problem.h"
#include "data/synth.h"
#include "kernels/pool.h"
#include "model/config.h"
#include "model/modeldir.h"
#include "pipeline/coldstart.h"
#include "pipeline/eval.h"
#include "pipeline/report.h"
#include "rollout/protocol.h"
#include "tokenizer/tokenizer.h"
#include "train/sft.h"

#define PATH_MAX_LEN 4200

typedef struct demo_paths {
    char train[PATH_MAX_LEN], test[PATH_MAX_LEN], corpus[PATH_MAX_LEN], tok[PATH_MAX_LEN], init[PATH_MAX_LEN];
} demo_paths;

/* buf = a/b; a path too long for the buffer is cut and flagged in path_too_long, checked before the run. */
static int path_too_long;
static void path_join(char *buf, const char *a, const char *b) {
    if (snprintf(buf, PATH_MAX_LEN, "%s/%s", a, b) >= PATH_MAX_LEN) path_too_long = 1;
}

static void stage(const pipe_demo_config *c, const char *fmt, const char *what) {
    if (c->quiet) return;
    fprintf(stderr, "\n== demo: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
}

static rt_status gen_problems(const pipe_demo_config *c, data_split split, int64_t n, uint64_t seed, const char *path,
                              rt_error *err) {
    if (rt_path_exists(path)) return RT_OK;
    data_gen_options o = {.family = c->families, .n = (size_t)n, .split = split, .seed = seed, .level = c->level};
    data_problem *ps = NULL;
    rt_status st = data_generate(&o, &ps, err);
    if (!st) st = data_problems_write_jsonl(path, ps, (size_t)n, err);
    for (size_t i = 0; ps && i < (size_t)n; i++) data_problem_free(&ps[i]);
    free(ps);
    return st;
}

/* The tokenizer's corpus: what the model will read and write in both pipelines. */
static rt_status write_corpus(const char *train, const char *path, rt_error *err) {
    if (rt_path_exists(path)) return RT_OK;
    data_dataset ds;
    rt_status st = data_dataset_read(train, DATA_FORMAT_RETOOL, &ds, err);
    if (st) return st;
    rt_atomic_file af;
    st = rt_atomic_open(&af, path, err);
    for (size_t i = 0; !st && i < ds.n; i++) {
        const data_problem *p = &ds.items[i];
        if (fprintf(af.fp,
                    "%s\n%s\n" ROLLOUT_CODE_OPEN "\n" ROLLOUT_PY_FENCE "\n%s\n" ROLLOUT_FENCE "\n" ROLLOUT_CODE_CLOSE
                    "\n" ROLLOUT_INTERP_OPEN "\n%s\n" ROLLOUT_INTERP_CLOSE "\n\n" ROLLOUT_ANSWER_OPEN
                    "\n\\boxed{%s}\n" ROLLOUT_ANSWER_CLOSE "\n",
                    p->prompt, p->text_solution ? p->text_solution : "", p->program ? p->program : "", p->answer,
                    p->answer) < 0)
            st = rt_err_set(err, RT_EIO, "cannot write %s", path);
    }
    if (!st) st = rt_atomic_commit(&af, err);
    else if (af.fp) rt_atomic_abort(&af);
    data_dataset_free(&ds);
    return st;
}

static rt_status make_model(const pipe_demo_config *c, const demo_paths *p, rt_error *err) {
    char weights[PATH_MAX_LEN];
    path_join(weights, p->init, "model.safetensors");
    if (rt_path_exists(weights)) return RT_OK;
    model_config mc;
    rt_status st = model_config_load(c->model_config, &mc, err);
    tok_tokenizer *tok = NULL;
    if (!st) st = tok_load(p->tok, &tok, err);
    if (!st) {
        int64_t need = (int64_t)tok_vocab_size(tok);
        if (mc.vocab_size < need) mc.vocab_size = (need + 63) / 64 * 64;
        mc.eos_token_id = -1;
        mc.bos_token_id = -1;
    }
    /* The folder says how it is prompted (the demo config's template; auto: the tokenizer's), so every folder trained
     * from it does too. */
    rollout_template t = ROLLOUT_TEMPLATE_AUTO;
    tok_template family;
    if (!st) st = rollout_template_resolve(p->tok, c->template_kind, &t, err);
    if (!st) st = rollout_template_family(tok, t, &family, err);
    tok_free(tok);
    if (!st) st = model_dir_init(&mc, p->init, c->seed, ST_F32, err);
    if (!st) st = model_dir_copy_tokenizer(p->tok, p->init, &mc, err);
    if (!st) st = tok_template_write(p->init, family, err);
    return st;
}

static int done_marker(const char *dir, const char *name, double *wall) {
    char path[PATH_MAX_LEN];
    path_join(path, dir, name);
    cJSON *o;
    if (!rt_path_exists(path) || rt_json_read_file(path, &o, NULL) != RT_OK) return 0;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wall_s");
    if (wall && cJSON_IsNumber(w)) *wall = w->valuedouble;
    cJSON_Delete(o);
    return 1;
}

static rt_status write_marker(const char *dir, const char *name, cJSON *o, double wall, rt_error *err) {
    char path[PATH_MAX_LEN];
    path_join(path, dir, name);
    cJSON_AddNumberToObject(o, "wall_s", wall);
    rt_status st = rt_json_write_file(path, o, err);
    cJSON_Delete(o);
    return st;
}

/* Evaluates model_dir on the test problems; writes DIR/eval-NAME.json; returns pass@1. */
static rt_status evaluate(const pipe_demo_config *c, const demo_paths *p, const char *pdir, const char *name,
                          const char *model_dir, int tools, double *pass1, double *wall, rt_error *err) {
    char marker[64];
    snprintf(marker, sizeof marker, "eval-%s.json", name);
    char path[PATH_MAX_LEN];
    path_join(path, pdir, marker);
    if (done_marker(pdir, marker, wall)) {
        cJSON *o;
        rt_status st = rt_json_read_file(path, &o, err);
        if (!st) st = rt_json_get_double(o, "pass1", pass1, err);
        cJSON_Delete(o);
        return st;
    }
    double t0 = rt_time_now();
    char traj[PATH_MAX_LEN];
    char trajname[64];
    snprintf(trajname, sizeof trajname, "eval-%s.jsonl", name);
    path_join(traj, pdir, trajname);
    pipe_generate_config g = pipe_generate_defaults();
    g.model_dir = model_dir;
    g.prompts_path = p->test;
    g.out_path = traj;
    g.format = "retool";
    g.samples = c->eval_samples;
    g.template_kind = c->template_kind;
    g.threads = c->threads;
    g.sandbox = tools ? "local" : "none";
    g.sandbox_workers = c->sandbox_workers;
    g.rollout.tools = tools ? ROLLOUT_TOOLS_STATELESS : ROLLOUT_TOOLS_NONE;
    g.rollout.sampling.temperature = (float)c->eval_temperature;
    g.rollout.sampling.top_p = (float)c->eval_top_p;
    g.rollout.budget.max_response_tokens = (size_t)c->eval_max_tokens;
    g.rollout.budget.max_tool_calls = (size_t)c->rl_max_tool_calls;
    g.rollout.seed = c->seed;
    g.quiet = c->quiet;
    pipe_eval_config ec = {.gen = g};
    pipe_eval_result er;
    rt_status st = pipe_eval(&ec, &er, err);
    if (st) return st;
    *pass1 = er.report.all.pass1;
    *wall = rt_time_now() - t0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pass1", er.report.all.pass1);
    cJSON_AddItemToObject(o, "metrics", pipe_eval_to_json(&ec, &er));
    pipe_eval_result_free(&er);
    return write_marker(pdir, marker, o, *wall, err);
}

typedef struct demo_result {
    double pass1_cold, pass1_rl, wall;
    int64_t rl_steps;
} demo_result;

static rt_status pipeline(const pipe_demo_config *c, const demo_paths *p, const char *name, int tools,
                          demo_result *res, rt_error *err) {
    char pdir[PATH_MAX_LEN], cold[PATH_MAX_LEN], sft_dir[PATH_MAX_LEN], sft_model[PATH_MAX_LEN], rl_dir[PATH_MAX_LEN],
        rl_model[PATH_MAX_LEN], final_dir[PATH_MAX_LEN];
    path_join(pdir, c->out_dir, name);
    path_join(cold, pdir, "cold-start.jsonl");
    path_join(sft_dir, pdir, "sft");
    path_join(sft_model, sft_dir, "model");
    path_join(rl_dir, pdir, "rl");
    path_join(rl_model, rl_dir, "model");
    path_join(final_dir, pdir, "model");
    memset(res, 0, sizeof *res);
    rt_status st = rt_mkdir_p(pdir, err);
    double w = 0;
    /* Cold-start traces: code-integrated (verified in the sandbox) or text-only worked solutions. */
    if (!st && rt_path_exists(cold) && done_marker(pdir, "cold-start.done.json", &w)) {
        res->wall += w;
    } else if (!st) {
        stage(c, "%s: cold-start traces", name);
        double t0 = rt_time_now();
        pipe_coldstart_config cc = pipe_coldstart_defaults();
        cc.in_path = p->train;
        cc.out_path = cold;
        cc.tokenizer_dir = p->init;
        cc.template_kind = c->template_kind;
        cc.mode = tools ? PIPE_CS_CODE : PIPE_CS_TEXT;
        cc.seed = c->seed;
        cc.workers = c->sandbox_workers;
        cc.quiet = c->quiet;
        pipe_coldstart_summary cs;
        memset(&cs, 0, sizeof cs);
        st = pipe_coldstart(&cc, &cs, err);
        if (!st && !c->quiet)
            fprintf(stderr, "kept %zu of %zu traces (%.1f s)\n", cs.all.n[PIPE_CS_KEPT], cs.all.read, cs.wall_s);
        pipe_coldstart_summary_free(&cs);
        w = rt_time_now() - t0;
        res->wall += w;
        if (!st) st = write_marker(pdir, "cold-start.done.json", cJSON_CreateObject(), w, err);
    }
    w = 0;
    /* Cold-start SFT. */
    if (!st && !done_marker(pdir, "sft.done.json", &w)) {
        stage(c, "%s: cold-start SFT", name);
        double t0 = rt_time_now();
        train_sft_config s = train_sft_defaults();
        s.model_dir = p->init;
        s.data_path = cold;
        s.out_dir = sft_dir;
        s.resume = rt_path_exists(sft_dir);
        s.epochs = 1000;
        s.max_steps = c->sft_max_steps;
        s.batch_tokens = c->sft_batch_tokens;
        s.lr = c->sft_lr;
        s.min_lr = c->sft_min_lr;
        s.warmup_steps = c->sft_warmup;
        s.eval_frac = 0.02;
        s.seed = c->seed;
        s.quiet = c->quiet;
        train_sft_result sr;
        st = train_sft_run(&s, &sr, err);
        w = rt_time_now() - t0;
        if (!st) st = write_marker(pdir, "sft.done.json", cJSON_CreateObject(), w, err);
    }
    res->wall += w;
    if (!st) stage(c, "%s: evaluation after cold start", name);
    if (!st) st = evaluate(c, p, pdir, "cold-start", sft_model, tools, &res->pass1_cold, &w, err);
    res->wall += w;
    /* RL from the cold-start model. */
    w = 0;
    if (!st && !done_marker(pdir, "rl.done.json", &w)) {
        stage(c, "%s: RL", name);
        double t0 = rt_time_now();
        train_rl_config r = train_rl_defaults();
        r.model_dir = sft_model;
        r.data_path = p->train;
        r.format = "retool";
        r.out_dir = rl_dir;
        r.resume = rt_path_exists(rl_dir);
        r.sandbox = tools ? "local" : "none";
        r.sandbox_workers = c->sandbox_workers;
        r.algo = c->rl_algo;
        r.steps = c->rl_steps;
        r.prompts_per_step = c->rl_prompts_per_step;
        r.samples = c->rl_samples;
        r.template_kind = c->template_kind;
        r.rollout.tools = tools ? ROLLOUT_TOOLS_STATELESS : ROLLOUT_TOOLS_NONE;
        r.rollout.budget.max_response_tokens = (size_t)c->rl_max_tokens;
        r.rollout.budget.max_tool_calls = (size_t)c->rl_max_tool_calls;
        r.rollout.sampling.temperature = (float)c->rl_temperature;
        r.drop_flat_groups = c->rl_drop_flat_groups;
        r.lr = c->rl_lr;
        r.critic_lr = 2 * c->rl_lr;
        r.seed = c->seed;
        r.threads = c->threads;
        r.quiet = c->quiet;
        train_rl_result rr;
        st = train_rl_run(&r, &rr, err);
        w = rt_time_now() - t0;
        if (!st) st = write_marker(pdir, "rl.done.json", cJSON_CreateObject(), w, err);
    }
    res->wall += w;
    res->rl_steps = c->rl_steps;
    if (!st) stage(c, "%s: evaluation after RL", name);
    if (!st) st = evaluate(c, p, pdir, "rl", rl_model, tools, &res->pass1_rl, &w, err);
    res->wall += w;
    /* The final model folder, loadable by every other command. */
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"};
    if (!st) st = rt_mkdir_p(final_dir, err);
    for (size_t i = 0; !st && i < sizeof files / sizeof files[0]; i++) {
        char from[PATH_MAX_LEN], to[PATH_MAX_LEN];
        path_join(from, rl_model, files[i]);
        path_join(to, final_dir, files[i]);
        char *data = NULL;
        size_t len = 0;
        st = rt_file_read_all(from, &data, &len, err);
        if (!st) st = rt_file_write_atomic(to, data, len, err);
        free(data);
    }
    if (st) return rt_err_prefix(err, "demo pipeline '%s'", name);
    return RT_OK;
}

static cJSON *result_json(const demo_result *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pass1_cold_start", r->pass1_cold);
    cJSON_AddNumberToObject(o, "pass1_rl", r->pass1_rl);
    cJSON_AddNumberToObject(o, "rl_steps", (double)r->rl_steps);
    cJSON_AddNumberToObject(o, "wall_s", r->wall);
    return o;
}

rt_status pipe_demo_run(const pipe_demo_config *c, rt_error *err) {
    demo_paths p;
    char data_dir[PATH_MAX_LEN];
    path_join(data_dir, c->out_dir, "data");
    path_join(p.train, data_dir, "train.jsonl");
    path_join(p.test, data_dir, "test.jsonl");
    path_join(p.corpus, data_dir, "tokenizer-corpus.txt");
    path_join(p.tok, c->out_dir, "tokenizer");
    path_join(p.init, c->out_dir, "init");
    if (strlen(c->out_dir) > 1024 || path_too_long)
        return rt_err_set(err, RT_EINVAL, "output folder name is too long (%zu characters)", strlen(c->out_dir));
    rt_status st = rt_mkdir_p(data_dir, err);
    if (!st) st = kern_init(c->threads, err);
    if (!st) stage(c, "%s", "synthetic problems (train and held-out test, disjoint by construction)");
    if (!st) st = gen_problems(c, DATA_SPLIT_TRAIN, c->train_problems, c->seed, p.train, err);
    if (!st) st = gen_problems(c, DATA_SPLIT_TEST, c->test_problems, c->seed + 1, p.test, err);
    if (!st) stage(c, "%s", "tokenizer and model");
    if (!st) st = write_corpus(p.train, p.corpus, err);
    char tokjson[PATH_MAX_LEN];
    path_join(tokjson, p.tok, "tokenizer.json");
    if (!st && !rt_path_exists(tokjson)) {
        tok_train_opts to = {.vocab_size = (size_t)c->tokenizer_vocab, .min_frequency = 2, .tags_as_tokens = 1};
        const char *files[] = {p.corpus};
        st = tok_train(files, 1, &to, p.tok, err);
    }
    if (!st) st = make_model(c, &p, err);
    demo_result text, tool;
    if (!st) st = pipeline(c, &p, "text", 0, &text, err);
    if (!st) st = pipeline(c, &p, "tool", 1, &tool, err);
    if (st) return st;
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddNumberToObject(sum, "seed", (double)c->seed);
    cJSON *pl = cJSON_AddObjectToObject(sum, "pipelines");
    cJSON_AddItemToObject(pl, "text", result_json(&text));
    cJSON_AddItemToObject(pl, "tool", result_json(&tool));
    char path[PATH_MAX_LEN];
    path_join(path, c->out_dir, "summary.json");
    st = rt_json_write_file(path, sum, err);
    cJSON_Delete(sum);
    if (st) return st;
    char text_rl[PATH_MAX_LEN], tool_rl[PATH_MAX_LEN], report[PATH_MAX_LEN];
    snprintf(text_rl, sizeof text_rl, "%s/text/rl", c->out_dir);
    snprintf(tool_rl, sizeof tool_rl, "%s/tool/rl", c->out_dir);
    path_join(report, c->out_dir, "report.html");
    const char *runs[] = {text_rl, tool_rl};
    pipe_report_options ro = {.runs = runs, .n_runs = 2, .out_path = report, .samples = 3, .title = "retool demo"};
    st = pipe_report_write(&ro, err);
    if (st) return st;
    printf("\nretool demo (seed %llu): pass@1 on %lld held-out problems\n", (unsigned long long)c->seed,
           (long long)c->test_problems);
    printf("  %-18s %12s %12s %10s %10s\n", "pipeline", "cold start", "after RL", "RL steps", "wall s");
    printf("  %-18s %11.1f%% %11.1f%% %10lld %10.0f\n", "text-only", 100 * text.pass1_cold, 100 * text.pass1_rl,
           (long long)text.rl_steps, text.wall);
    printf("  %-18s %11.1f%% %11.1f%% %10lld %10.0f\n", "tool-integrated", 100 * tool.pass1_cold, 100 * tool.pass1_rl,
           (long long)tool.rl_steps, tool.wall);
    printf("  summary: %s/summary.json   report: %s\n", c->out_dir, report);
    return RT_OK;
}
