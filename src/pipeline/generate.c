#include "pipeline/generate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/progress.h"
#include "data/dataset.h"
#include "kernels/pool.h"
#include "model/model.h"
#include "rollout/exec_spec.h"
#include "rollout/bind.h"
#include "rollout/score.h"
#include "tokenizer/tokenizer.h"

pipe_generate_config pipe_generate_defaults(void) {
    pipe_generate_config c;
    memset(&c, 0, sizeof c);
    c.format = "auto";
    c.sandbox = "local";
    c.sandbox_workers = 2;
    c.samples = 1;
    c.template_kind = ROLLOUT_TEMPLATE_AUTO;
    c.rollout = rollout_config_defaults();
    c.threads = 2;
    return c;
}

static void on_done(void *ctx, size_t index, const rollout_trajectory *t) {
    (void)index;
    (void)t;
    rt_progress *bar = ctx;
    rt_progress_update(bar, bar->done + 1);
}

rt_status pipe_generate(const pipe_generate_config *cfg, pipe_generate_summary *sum, rt_error *err) {
    memset(sum, 0, sizeof *sum);
    if (cfg->samples < 1) return rt_err_set(err, RT_EINVAL, "samples must be at least 1");
    int tools = cfg->rollout.tools != ROLLOUT_TOOLS_NONE;
    rt_status st = kern_init(cfg->threads, err);
    if (st) return st;
    tok_tokenizer *tok = NULL;
    model m;
    memset(&m, 0, sizeof m);
    data_dataset ds;
    memset(&ds, 0, sizeof ds);
    rollout_exec_spec *exec = NULL;
    rollout_model_policy *pol = NULL;
    tok_ids *prompts = NULL;
    rollout_request *reqs = NULL;
    rollout_trajectory *out = NULL;
    size_t n_problems = 0, n = 0;
    data_format fmt;
    st = data_format_parse(cfg->format, &fmt, err);
    if (!st) st = tok_load(cfg->model_dir, &tok, err);
    if (!st) st = rollout_template_resolve(cfg->model_dir, cfg->template_kind, &sum->template_kind, err);
    model_opts mo = {.prec = cfg->f32 ? MODEL_PREC_F32 : MODEL_PREC_BF16, .frozen = !cfg->f32}; /* bf16 only */
    if (!st) st = model_load(&m, cfg->model_dir, &mo, err);
    if (!st && tok_vocab_size(tok) > (size_t)m.cfg.vocab_size)
        st = rt_err_set(err, RT_EINVAL, "%s: the tokenizer has %zu ids but the model only %lld", cfg->model_dir,
                        tok_vocab_size(tok), (long long)m.cfg.vocab_size);
    if (!st) st = data_dataset_read(cfg->prompts_path, fmt, &ds, err);
    if (!st) {
        n_problems = cfg->limit > 0 && (size_t)cfg->limit < ds.n ? (size_t)cfg->limit : ds.n;
        n = n_problems * (size_t)cfg->samples;
        if (n == 0) st = rt_err_set(err, RT_EINVAL, "%s holds no problems", cfg->prompts_path);
    }
    if (!st && tools) {
        if (!cfg->sandbox || strcmp(cfg->sandbox, "none") == 0)
            st = rt_err_set(err, RT_EINVAL, "tool-integrated generation needs a sandbox (local or URLs)");
        else
            st = rollout_exec_spec_open(cfg->sandbox, cfg->sandbox_workers, &exec, err);
    }
    if (!st) {
        prompts = calloc(n_problems, sizeof *prompts);
        reqs = calloc(n, sizeof *reqs);
        out = calloc(n, sizeof *out);
        if (!prompts || !reqs || !out) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !st && i < n_problems; i++) {
        st = rollout_prompt_ids(tok, sum->template_kind, tools, ds.items[i].prompt, &prompts[i], err);
        if (st) rt_err_prefix(err, "%s: problem %zu", cfg->prompts_path, i + 1);
        for (int64_t s = 0; !st && s < cfg->samples; s++) {
            rollout_request *r = &reqs[i * (size_t)cfg->samples + (size_t)s];
            r->prompt = prompts[i].ids;
            r->n_prompt = prompts[i].len;
            r->prompt_index = (int64_t)i;
            r->sample_index = s;
        }
    }
    rollout_config rc = cfg->rollout;
    int32_t stops[ROLLOUT_MAX_STOP_IDS];
    FILE *audit = NULL;
    rt_progress bar;
    if (!st) {
        rc.n_stop_ids = rollout_stop_ids(&m, tok, stops);
        rc.stop_ids = stops;
        if (rc.max_concurrent > n) rc.max_concurrent = n;
        st = rollout_model_policy_init(&pol, &m, rc.max_concurrent, err);
    }
    if (!st && cfg->audit_path) {
        audit = fopen(cfg->audit_path, "a");
        if (!audit) st = rt_err_errno(err, RT_EIO, errno, "cannot open audit log %s", cfg->audit_path);
        rc.audit = audit;
    }
    if (!st) {
        rt_progress_init(&bar, "generate", n, "traj");
        if (!cfg->quiet) {
            rc.on_done = on_done;
            rc.on_done_ctx = &bar;
        }
        rollout_policy p = rollout_model_policy_ops(pol);
        rollout_tokenizer t = rollout_tokenizer_ops(tok);
        rollout_executor x = rollout_exec_spec_ops(exec);
        st = rollout_run(&rc, &p, &t, tools ? &x : NULL, reqs, n, out, &sum->stats, err);
        if (!cfg->quiet) rt_progress_finish(&bar);
    }
    if (audit && fclose(audit) != 0 && !st)
        st = rt_err_errno(err, RT_EIO, errno, "closing audit log %s", cfg->audit_path);
    reward_options ro;
    reward_options_default(&ro);
    for (size_t k = 0; !st && k < n; k++) {
        rollout_trajectory *t = &out[k];
        const data_problem *pr = &ds.items[t->prompt_index];
        st = rollout_score(t, pr->answer, &ro, err);
        if (!st) st = tok_decode(tok, t->prompt_ids, t->n_prompt, 0, &t->prompt_text, NULL, err);
        sum->correct += t->reward > 0;
        sum->with_code += t->n_calls > 0;
        sum->tool_calls += t->n_calls;
        sum->tool_errors += (t->flags & ROLLOUT_FLAG_TOOL_ERROR) != 0;
    }
    if (!st) {
        rt_atomic_file af;
        st = rt_atomic_open(&af, cfg->out_path, err);
        for (size_t k = 0; !st && k < n; k++) st = rollout_trajectory_write(af.fp, &out[k], err);
        if (!st) st = rt_atomic_commit(&af, err);
        else if (af.fp) rt_atomic_abort(&af);
    }
    sum->problems = n_problems;
    sum->trajectories = n;
    for (size_t k = 0; out && k < n; k++) rollout_trajectory_free(&out[k]);
    free(out);
    free(reqs);
    for (size_t i = 0; prompts && i < n_problems; i++) tok_ids_free(&prompts[i]);
    free(prompts);
    rollout_model_policy_free(pol);
    rollout_exec_spec_close(exec);
    data_dataset_free(&ds);
    model_free(&m);
    tok_free(tok);
    return st;
}
