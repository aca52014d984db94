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
#include "pipeline/html.h"
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

/* The tool pipeline's sandbox spec. */
static const char *demo_sandbox(const pipe_demo_config *c) {
    return c->sandbox ? c->sandbox : "local";
}

static void stage(const pipe_demo_config *c, const char *fmt, const char *what) {
    if (c->quiet) return;
    fprintf(stderr, "\n== demo: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
}

/* Draws n problems of a split; the held-out set keeps one of each canonical problem (a*b and b*a count once). */
static rt_status gen_problems(const pipe_demo_config *c, data_split split, int64_t n, uint64_t seed, const char *path,
                              rt_error *err) {
    if (rt_path_exists(path)) return RT_OK;
    data_gen_options o = {.family = c->families, .n = (size_t)n, .split = split, .seed = seed, .level = c->level};
    data_problem *ps = NULL;
    rt_status st = data_generate(&o, &ps, err);
    size_t kept = st ? 0 : split == DATA_SPLIT_TEST ? data_problems_dedupe(ps, (size_t)n) : (size_t)n;
    if (!st) st = data_problems_write_jsonl(path, ps, kept, err);
    for (size_t i = 0; ps && i < (size_t)n; i++)
        data_problem_free(&ps[i]);
    free(ps);
    return st;
}

/* The number of problems in a JSONL problems file. */
static rt_status count_problems(const char *path, size_t *n, rt_error *err) {
    data_dataset ds;
    rt_status st = data_dataset_read(path, DATA_FORMAT_RETOOL, &ds, err);
    if (st) return st;
    *n = ds.n;
    data_dataset_free(&ds);
    return RT_OK;
}

/* DIR/settings.json: written by the first run into DIR; a later run into DIR must ask for the same settings, or the
 * stored stages would be reported under settings they were not made with. */
static rt_status check_settings(const pipe_demo_config *c, rt_error *err) {
    char path[PATH_MAX_LEN], train[PATH_MAX_LEN];
    path_join(path, c->out_dir, "settings.json");
    snprintf(train, sizeof train, "%s/data/train.jsonl", c->out_dir);
    cJSON *want = pipe_demo_settings_json(c);
    if (!want) return rt_err_set(err, RT_ENOMEM, "out of memory");
    rt_status st = RT_OK;
    if (!rt_path_exists(path)) {
        if (rt_path_exists(train))
            st = rt_err_set(err, RT_EINVAL,
                            "%s holds a demo run without settings.json (made by an older retool): its stages cannot be "
                            "matched to these settings; pass another --out, or remove %s",
                            c->out_dir, c->out_dir);
        else
            st = rt_json_write_file(path, want, err);
        cJSON_Delete(want);
        return st;
    }
    cJSON *have = NULL;
    st = rt_json_read_file(path, &have, err);
    for (const cJSON *w = want->child; !st && w; w = w->next) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(have, w->string);
        if (h && cJSON_Compare(h, w, 1)) continue;
        char *hs = h ? cJSON_PrintUnformatted(h) : NULL, *ws = cJSON_PrintUnformatted(w);
        st = rt_err_set(err, RT_EINVAL,
                        "%s was made with %s = %s, and this run asks for %s: its results are not this run's; pass "
                        "another --out (or remove %s to start over)",
                        c->out_dir, w->string, hs ? hs : "(not recorded)", ws ? ws : "?", c->out_dir);
        free(hs);
        free(ws);
    }
    cJSON_Delete(have);
    cJSON_Delete(want);
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
    if (!st)
        st = rt_atomic_commit(&af, err);
    else if (af.fp)
        rt_atomic_abort(&af);
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

/* Responses in a trajectory file that stopped on a budget. */
static rt_status count_budget_stops(const char *path, size_t *n, rt_error *err) {
    rt_jsonl_reader r;
    rt_status st = rt_jsonl_open(&r, path, RT_JSONL_STOP, err);
    *n = 0;
    cJSON *o = NULL;
    while (!st && (st = rt_jsonl_next(&r, &o, err)) == RT_OK && o) {
        const cJSON *stop = cJSON_GetObjectItemCaseSensitive(o, "stop");
        *n += cJSON_IsString(stop) && strcmp(stop->valuestring, rollout_stop_name(ROLLOUT_STOP_BUDGET)) == 0;
        cJSON_Delete(o);
        o = NULL;
    }
    rt_jsonl_close(&r);
    return st;
}

/* Evaluates model_dir on the test problems with the pipeline's own budget; writes DIR/eval-NAME.json and hands its
 * content to *out (the metrics, per family, and the responses stopped by the budget). */
static rt_status evaluate(const pipe_demo_config *c, const demo_paths *p, const char *pdir, const char *name,
                          const char *model_dir, int tools, cJSON **out, double *wall, rt_error *err) {
    char marker[64];
    snprintf(marker, sizeof marker, "eval-%s.json", name);
    char path[PATH_MAX_LEN];
    path_join(path, pdir, marker);
    if (done_marker(pdir, marker, wall)) return rt_json_read_file(path, out, err);
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
    g.sandbox = tools ? demo_sandbox(c) : "none";
    g.sandbox_workers = c->sandbox_workers;
    g.rollout.tools = tools ? ROLLOUT_TOOLS_STATELESS : ROLLOUT_TOOLS_NONE;
    g.rollout.sampling.temperature = (float)c->eval_temperature;
    g.rollout.sampling.top_p = (float)c->eval_top_p;
    g.rollout.budget.max_response_tokens = (size_t)c->max_response_tokens[tools];
    g.rollout.budget.max_tool_calls = (size_t)c->max_tool_calls;
    g.rollout.seed = c->seed;
    g.quiet = c->quiet;
    pipe_eval_config ec = {.gen = g};
    pipe_eval_result er;
    rt_status st = pipe_eval(&ec, &er, err);
    if (st) return st;
    size_t budget_stops = 0;
    st = count_budget_stops(traj, &budget_stops, err);
    *wall = rt_time_now() - t0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pass1", er.report.all.pass1);
    cJSON_AddNumberToObject(o, "responses", (double)er.report.all.n_responses);
    cJSON_AddNumberToObject(o, "budget_stops", (double)budget_stops);
    cJSON_AddNumberToObject(o, "max_response_tokens", (double)c->max_response_tokens[tools]);
    cJSON_AddItemToObject(o, "metrics", pipe_eval_to_json(&ec, &er));
    pipe_eval_result_free(&er);
    if (st) {
        cJSON_Delete(o);
        return st;
    }
    *out = cJSON_Duplicate(o, 1);
    return write_marker(pdir, marker, o, *wall, err);
}

typedef struct demo_result {
    cJSON *eval_cold, *eval_rl; /* the evaluation markers' content (pass1, metrics per family, budget stops) */
    double wall;
    int64_t rl_steps; /* the RL steps the final model was trained for, as the run recorded them */
} demo_result;

static void demo_result_free(demo_result *r) {
    cJSON_Delete(r->eval_cold);
    cJSON_Delete(r->eval_rl);
    memset(r, 0, sizeof *r);
}

static double json_number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static rt_status pipeline(const pipe_demo_config *c, const demo_paths *p, const char *name, int tools, demo_result *res,
                          rt_error *err) {
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
        if (tools) cc.sandbox = demo_sandbox(c);
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
    if (!st) st = evaluate(c, p, pdir, "cold-start", sft_model, tools, &res->eval_cold, &w, err);
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
        r.sandbox = tools ? demo_sandbox(c) : "none";
        r.sandbox_workers = c->sandbox_workers;
        r.algo = c->rl_algo;
        r.steps = c->rl_steps;
        r.prompts_per_step = c->rl_prompts_per_step;
        r.samples = c->rl_samples;
        r.template_kind = c->template_kind;
        r.rollout.tools = tools ? ROLLOUT_TOOLS_STATELESS : ROLLOUT_TOOLS_NONE;
        r.rollout.budget.max_response_tokens = (size_t)c->max_response_tokens[tools];
        r.rollout.budget.max_tool_calls = (size_t)c->max_tool_calls;
        r.rollout.sampling.temperature = (float)c->rl_temperature;
        r.drop_flat_groups = c->rl_drop_flat_groups;
        r.lr = c->rl_lr;
        r.critic_lr = 2 * c->rl_lr;
        r.critic_warmup = c->rl_critic_warmup;
        r.seed = c->seed;
        r.threads = c->threads;
        r.quiet = c->quiet;
        train_rl_result rr;
        st = train_rl_run(&r, &rr, err);
        w = rt_time_now() - t0;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "steps", (double)rr.steps);
        if (!st)
            st = write_marker(pdir, "rl.done.json", m, w, err);
        else
            cJSON_Delete(m);
    }
    res->wall += w;
    if (!st) {
        char path[PATH_MAX_LEN];
        path_join(path, pdir, "rl.done.json");
        cJSON *m;
        st = rt_json_read_file(path, &m, err);
        if (!st) st = rt_json_get_int(m, "steps", &res->rl_steps, err);
        cJSON_Delete(m);
    }
    if (!st) stage(c, "%s: evaluation after RL", name);
    if (!st) st = evaluate(c, p, pdir, "rl", rl_model, tools, &res->eval_rl, &w, err);
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

/* The families of an evaluation marker ({"metrics": {"families": {NAME: {...}}}}), or NULL. */
static const cJSON *eval_families(const cJSON *eval) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(eval, "metrics");
    return cJSON_GetObjectItemCaseSensitive(m, "families");
}

/* pass@1 of family name in an evaluation marker (NaN when it has none). */
static double family_pass1(const cJSON *eval, const char *name) {
    return json_number(cJSON_GetObjectItemCaseSensitive(eval_families(eval), name), "pass1");
}

static void add_number_or_null(cJSON *o, const char *key, double v) {
    if (isnan(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static cJSON *result_json(const demo_result *r, int64_t max_tokens) {
    cJSON *o = cJSON_CreateObject();
    add_number_or_null(o, "pass1_cold_start", json_number(r->eval_cold, "pass1"));
    add_number_or_null(o, "pass1_rl", json_number(r->eval_rl, "pass1"));
    cJSON_AddNumberToObject(o, "rl_steps", (double)r->rl_steps);
    cJSON_AddNumberToObject(o, "max_response_tokens", (double)max_tokens);
    add_number_or_null(o, "responses", json_number(r->eval_rl, "responses"));
    add_number_or_null(o, "budget_stops_cold_start", json_number(r->eval_cold, "budget_stops"));
    add_number_or_null(o, "budget_stops_rl", json_number(r->eval_rl, "budget_stops"));
    cJSON *fams = cJSON_AddObjectToObject(o, "families");
    for (const cJSON *f = eval_families(r->eval_rl) ? eval_families(r->eval_rl)->child : NULL; f; f = f->next) {
        cJSON *one = cJSON_AddObjectToObject(fams, f->string);
        add_number_or_null(one, "pass1_cold_start", family_pass1(r->eval_cold, f->string));
        add_number_or_null(one, "pass1_rl", json_number(f, "pass1"));
        add_number_or_null(one, "problems", json_number(f, "prompts"));
    }
    cJSON_AddNumberToObject(o, "wall_s", r->wall);
    return o;
}

static void pct_cell(pipe_buf *b, double v) {
    if (isnan(v))
        pipe_buf_puts(b, "<td>-</td>");
    else
        pipe_buf_printf(b, "<td>%.1f%%</td>", 100 * v);
}

/* The headline of report.html: both pipelines' pass@1 at cold start and after RL, overall and per family. */
static void headline_html(pipe_buf *b, const pipe_demo_config *c, const demo_result *text, const demo_result *tool,
                          size_t distinct) {
    pipe_buf_printf(b,
                    "<h2>Results</h2>\n<p>pass@1 (mean of %lld samples, T %.1f, top-p %.2f) on %zu distinct held-out "
                    "problems; %s, %lld RL steps; response budget %lld tokens text-only, %lld tool-integrated (up to "
                    "%lld tool calls); seed %llu.</p>\n",
                    (long long)c->eval_samples, c->eval_temperature, c->eval_top_p, distinct,
                    c->rl_algo == TRAIN_ALGO_PPO ? "PPO" : "GRPO", (long long)tool->rl_steps,
                    (long long)c->max_response_tokens[0], (long long)c->max_response_tokens[1],
                    (long long)c->max_tool_calls, (unsigned long long)c->seed);
    pipe_buf_puts(b, "<table><tr><th>family</th><th>problems</th><th>text-only: cold start</th><th>text-only: after "
                     "RL</th><th>tool-integrated: cold start</th><th>tool-integrated: after RL</th></tr>\n");
    pipe_buf_printf(b, "<tr><td><b>all</b></td><td>%zu</td>", distinct);
    pct_cell(b, json_number(text->eval_cold, "pass1"));
    pct_cell(b, json_number(text->eval_rl, "pass1"));
    pct_cell(b, json_number(tool->eval_cold, "pass1"));
    pct_cell(b, json_number(tool->eval_rl, "pass1"));
    pipe_buf_puts(b, "</tr>\n");
    const cJSON *fams = eval_families(tool->eval_rl);
    for (const cJSON *f = fams ? fams->child : NULL; f; f = f->next) {
        pipe_buf_puts(b, "<tr><td>");
        pipe_html_escape_str(b, f->string);
        pipe_buf_printf(b, "</td><td>%.0f</td>", json_number(f, "prompts"));
        pct_cell(b, family_pass1(text->eval_cold, f->string));
        pct_cell(b, family_pass1(text->eval_rl, f->string));
        pct_cell(b, family_pass1(tool->eval_cold, f->string));
        pct_cell(b, json_number(f, "pass1"));
        pipe_buf_puts(b, "</tr>\n");
    }
    pipe_buf_puts(b, "</table>\n");
    pipe_buf_printf(
        b,
        "<p>Responses that ended on the token budget after RL: text-only %.0f of %.0f, tool-integrated %.0f "
        "of %.0f.</p>\n",
        json_number(text->eval_rl, "budget_stops"), json_number(text->eval_rl, "responses"),
        json_number(tool->eval_rl, "budget_stops"), json_number(tool->eval_rl, "responses"));
}

static rt_status write_summary(const pipe_demo_config *c, const demo_result *text, const demo_result *tool,
                               size_t distinct, rt_error *err) {
    cJSON *sum = cJSON_CreateObject();
    cJSON_AddNumberToObject(sum, "version", 2);
    cJSON_AddNumberToObject(sum, "seed", (double)c->seed);
    cJSON_AddStringToObject(sum, "algo", train_algo_name(c->rl_algo));
    cJSON_AddNumberToObject(sum, "held_out_drawn", (double)c->test_problems);
    cJSON_AddNumberToObject(sum, "held_out_distinct", (double)distinct);
    cJSON *pl = cJSON_AddObjectToObject(sum, "pipelines");
    cJSON_AddItemToObject(pl, "text", result_json(text, c->max_response_tokens[0]));
    cJSON_AddItemToObject(pl, "tool", result_json(tool, c->max_response_tokens[1]));
    cJSON_AddItemToObject(sum, "settings", pipe_demo_settings_json(c));
    char path[PATH_MAX_LEN];
    path_join(path, c->out_dir, "summary.json");
    rt_status st = rt_json_write_file(path, sum, err);
    cJSON_Delete(sum);
    return st;
}

static void print_pct(double v) {
    if (isnan(v))
        printf(" %12s", "-");
    else
        printf(" %11.1f%%", 100 * v);
}

static void print_table(const pipe_demo_config *c, const demo_result *text, const demo_result *tool, size_t distinct,
                        const char *report) {
    printf("\nretool demo (seed %llu, %s): pass@1 on %zu distinct held-out problems\n", (unsigned long long)c->seed,
           c->rl_algo == TRAIN_ALGO_PPO ? "PPO" : "GRPO", distinct);
    printf("  %-18s %12s %12s %10s %10s %10s\n", "pipeline", "cold start", "after RL", "RL steps", "budget", "wall s");
    const demo_result *r[2] = {text, tool};
    const char *names[2] = {"text-only", "tool-integrated"};
    for (int i = 0; i < 2; i++) {
        printf("  %-18s", names[i]);
        print_pct(json_number(r[i]->eval_cold, "pass1"));
        print_pct(json_number(r[i]->eval_rl, "pass1"));
        printf(" %10lld %10lld %10.0f\n", (long long)r[i]->rl_steps, (long long)c->max_response_tokens[i], r[i]->wall);
    }
    printf("\n  %-18s %12s %12s %12s %12s\n", "family", "text cold", "text RL", "tool cold", "tool RL");
    const cJSON *fams = eval_families(tool->eval_rl);
    for (const cJSON *f = fams ? fams->child : NULL; f; f = f->next) {
        printf("  %-18s", f->string);
        print_pct(family_pass1(text->eval_cold, f->string));
        print_pct(family_pass1(text->eval_rl, f->string));
        print_pct(family_pass1(tool->eval_cold, f->string));
        print_pct(json_number(f, "pass1"));
        printf("\n");
    }
    printf("  summary: %s/summary.json   report: %s\n", c->out_dir, report);
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
    if (!st) st = check_settings(c, err);
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
    size_t distinct = 0;
    if (!st) st = count_problems(p.test, &distinct, err);
    demo_result text = {0}, tool = {0};
    if (!st) st = pipeline(c, &p, "text", 0, &text, err);
    if (!st) st = pipeline(c, &p, "tool", 1, &tool, err);
    if (!st) st = write_summary(c, &text, &tool, distinct, err);
    pipe_buf head;
    pipe_buf_init(&head);
    if (!st) headline_html(&head, c, &text, &tool, distinct);
    if (!st && head.failed) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    char text_rl[PATH_MAX_LEN], tool_rl[PATH_MAX_LEN], report[PATH_MAX_LEN];
    snprintf(text_rl, sizeof text_rl, "%s/text/rl", c->out_dir);
    snprintf(tool_rl, sizeof tool_rl, "%s/tool/rl", c->out_dir);
    path_join(report, c->out_dir, "report.html");
    const char *runs[] = {text_rl, tool_rl};
    pipe_report_options ro = {
        .runs = runs, .n_runs = 2, .out_path = report, .samples = 3, .title = "retool demo", .headline = head.data};
    if (!st) st = pipe_report_write(&ro, err);
    pipe_buf_free(&head);
    if (!st) print_table(c, &text, &tool, distinct, report);
    demo_result_free(&text);
    demo_result_free(&tool);
    return st;
}
