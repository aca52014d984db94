#include "pipeline/coldstart.h"

#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/timer.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "pipeline/coldstart_item.h"
#include "pipeline/coldstart_rewrite.h"
#include "rollout/exec_spec.h"

static const char *const reason_names[PIPE_CS_NREASONS] = {"kept",       "format",        "wrong_answer",
                                                           "code_error", "sandbox_error", "no_solution"};

const char *pipe_cs_reason_name(pipe_cs_reason r) {
    return r >= 0 && r < PIPE_CS_NREASONS ? reason_names[r] : "unknown";
}

pipe_coldstart_config pipe_coldstart_defaults(void) {
    pipe_coldstart_config c;
    memset(&c, 0, sizeof c);
    c.template_kind = ROLLOUT_TEMPLATE_AUTO;
    c.mode = PIPE_CS_CODE;
    c.repair_rate = 0.1;
    c.sandbox = "local";
    c.workers = 2;
    c.call_timeout_s = 10;
    c.shape = rollout_shape_defaults();
    return c;
}

void pipe_coldstart_summary_free(pipe_coldstart_summary *sum) {
    for (size_t i = 0; i < sum->n_families; i++)
        free(sum->families[i].family);
    free(sum->families);
    memset(sum, 0, sizeof *sum);
}

static rt_status count_item(pipe_coldstart_summary *sum, const pipe_cs_item *it, rt_error *err) {
    sum->all.read++;
    sum->all.n[it->reason]++;
    sum->all.repairs += it->reason == PIPE_CS_KEPT && it->repair;
    const char *fam = it->p->family;
    if (!fam) return RT_OK;
    size_t i = 0;
    while (i < sum->n_families && strcmp(sum->families[i].family, fam) != 0)
        i++;
    if (i == sum->n_families) {
        pipe_cs_counts *f = realloc(sum->families, (i + 1) * sizeof *f);
        if (!f) return rt_err_set(err, RT_ENOMEM, "out of memory");
        sum->families = f;
        memset(&f[i], 0, sizeof f[i]);
        f[i].family = strdup(fam);
        if (!f[i].family) return rt_err_set(err, RT_ENOMEM, "out of memory");
        sum->n_families++;
    }
    pipe_cs_counts *c = &sum->families[i];
    c->read++;
    c->n[it->reason]++;
    c->repairs += it->reason == PIPE_CS_KEPT && it->repair;
    return RT_OK;
}

/* Runs every block of the items that still stand through the executor, a bounded number at a time. */
static rt_status run_blocks(const pipe_coldstart_config *cfg, pipe_cs_item *items, size_t n, size_t *nblocks,
                            rt_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].reason == PIPE_CS_KEPT) total += items[i].tr.n_blocks;
    *nblocks = total;
    if (total == 0) return RT_OK;
    size_t *owner = malloc(total * sizeof *owner), *block = malloc(total * sizeof *block);
    if (!owner || !block) {
        free(owner);
        free(block);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; items[i].reason == PIPE_CS_KEPT && b < items[i].tr.n_blocks; b++) {
            owner[k] = i;
            block[k++] = b;
        }
    rollout_exec_spec *x = NULL;
    rt_status st = rollout_exec_spec_open(cfg->sandbox ? cfg->sandbox : "local", cfg->workers, &x, err);
    if (!st && !x) st = rt_err_set(err, RT_EINVAL, "cold-start construction needs a sandbox (local or URLs)");
    rt_progress bar;
    if (!st && !cfg->quiet) rt_progress_init(&bar, "coldstart", total, "block");
    rollout_executor ops = x ? rollout_exec_spec_ops(x) : (rollout_executor){0};
    /* Below the pool's queue (64 by default), so a submission is never refused as busy. */
    size_t next = 0, done = 0, inflight = 0, max_inflight = (size_t)(cfg->workers > 0 ? cfg->workers : 2) * 4;
    if (max_inflight > 32) max_inflight = 32;
    /* The executors never stall by contract; should one do so anyway, fail instead of waiting forever. */
    const double stall_s = cfg->call_timeout_s + 120;
    double last_result = rt_time_now();
    double *t_start = calloc(total, sizeof *t_start);
    if (!st && !t_start) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    while (!st && done < total) {
        while (!st && next < total && inflight < max_inflight) {
            pipe_cs_item *it = &items[owner[next]];
            rollout_exec_request req = {.code = it->tr.codes[block[next]], .timeout_s = cfg->call_timeout_s};
            t_start[next] = rt_time_now();
            st = ops.submit(ops.ctx, next + 1, &req, err);
            if (st) break;
            next++;
            inflight++;
        }
        uint64_t ticket = 0;
        rollout_exec_result res = {0};
        if (st) break;
        if (!ops.poll(ops.ctx, 0.5, &ticket, &res)) {
            if (rt_time_now() - last_result > stall_s)
                st = rt_err_set(err, RT_ETIMEOUT, "the sandbox returned nothing for %.0f s (%zu blocks pending)",
                                stall_s, inflight);
            continue;
        }
        last_result = rt_time_now();
        if (ticket < 1 || ticket > total) {
            free(res.stdout_text);
            free(res.stderr_text);
            st = rt_err_set(err, RT_EINTERNAL, "executor returned unknown ticket %llu", (unsigned long long)ticket);
            break;
        }
        size_t j = (size_t)ticket - 1;
        pipe_cs_item *it = &items[owner[j]];
        size_t b = block[j];
        it->status[b] = res.status;
        it->latency[b] = rt_time_now() - t_start[j];
        it->outputs[b] = rollout_shape_output(&cfg->shape, res.status, res.stdout_text, res.stderr_text);
        free(res.stdout_text);
        free(res.stderr_text);
        if (!it->outputs[b]) st = rt_err_set(err, RT_ENOMEM, "out of memory");
        inflight--;
        done++;
        if (!cfg->quiet) rt_progress_update(&bar, done);
    }
    if (!cfg->quiet && x) rt_progress_finish(&bar);
    /* On failure, wait for what is still running so no callback outlives the buffers. */
    double drain_until = rt_time_now() + stall_s;
    while (x && inflight > 0 && rt_time_now() < drain_until) {
        uint64_t ticket = 0;
        rollout_exec_result res = {0};
        if (ops.poll(ops.ctx, 1.0, &ticket, &res)) {
            free(res.stdout_text);
            free(res.stderr_text);
            inflight--;
        }
    }
    rollout_exec_spec_close(x);
    free(t_start);
    free(owner);
    free(block);
    return st;
}

rt_status pipe_coldstart(const pipe_coldstart_config *cfg, pipe_coldstart_summary *sum, rt_error *err) {
    memset(sum, 0, sizeof *sum);
    double t0 = rt_time_now();
    if (cfg->repair_rate < 0 || cfg->repair_rate > 1)
        return rt_err_set(err, RT_EINVAL, "repair rate %g is not in [0, 1]", cfg->repair_rate);
    data_dataset ds;
    memset(&ds, 0, sizeof ds);
    tok_tokenizer *tok = NULL;
    pipe_rewriter *rw = NULL;
    pipe_cs_item *items = NULL;
    rt_status st = data_dataset_read(cfg->in_path, DATA_FORMAT_AUTO, &ds, err);
    if (!st && ds.n == 0) st = rt_err_set(err, RT_EINVAL, "%s holds no traces", cfg->in_path);
    if (!st) st = tok_load(cfg->tokenizer_dir, &tok, err);
    /* From here on cfg's template is the resolved one (the items build their prompts with it). */
    pipe_coldstart_config resolved = *cfg;
    if (!st) st = rollout_template_resolve(cfg->tokenizer_dir, cfg->template_kind, &resolved.template_kind, err);
    cfg = &resolved;
    pipe_cs_rewrite_fn rewrite = cfg->rewrite;
    void *rewrite_ctx = cfg->rewrite_ctx;
    /* Records without a program need a rewriting model: say so before doing anything. */
    for (size_t i = 0; !st && cfg->mode == PIPE_CS_CODE && i < ds.n; i++) {
        if (!pipe_cs_item_needs_rewrite(&ds.items[i]) || rewrite) continue;
        if (!cfg->rewriter) {
            st = rt_err_set(err, RT_EINVAL,
                            "%s: record %zu has no reference program to rewrite by template; give a rewriting model "
                            "(--rewriter URL of an OpenAI-compatible endpoint)",
                            cfg->in_path, i + 1);
        } else {
            st = pipe_rewriter_open(cfg->rewriter, cfg->rewriter_model, &rw, err);
            rewrite = pipe_rewriter_rewrite;
            rewrite_ctx = rw;
        }
    }
    if (!st) {
        items = calloc(ds.n, sizeof *items);
        if (!items) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    rt_rng root;
    rt_rng_seed(&root, cfg->seed);
    for (size_t i = 0; !st && i < ds.n; i++) {
        rt_rng r = rt_rng_split(&root, i);
        st = pipe_cs_item_prepare(&items[i], &ds.items[i], i, cfg, &r, rewrite, rewrite_ctx, err);
        if (st) rt_err_prefix(err, "%s: record %zu", cfg->in_path, i + 1);
    }
    if (!st) st = run_blocks(cfg, items, ds.n, &sum->code_blocks, err);
    rt_atomic_file af;
    memset(&af, 0, sizeof af);
    if (!st) st = rt_atomic_open(&af, cfg->out_path, err);
    size_t logged = 0;
    for (size_t i = 0; !st && i < ds.n; i++) {
        pipe_cs_item *it = &items[i];
        rollout_trajectory t;
        rollout_trajectory_init(&t);
        if (it->reason == PIPE_CS_KEPT) st = pipe_cs_item_finish(it, cfg, tok, &t, err);
        if (!st && it->reason == PIPE_CS_KEPT) st = rollout_trajectory_write(af.fp, &t, err);
        rollout_trajectory_free(&t);
        if (!st && it->reason != PIPE_CS_KEPT && logged++ < 5)
            rt_log_info("coldstart: record %zu dropped (%s): %s", i + 1, pipe_cs_reason_name(it->reason),
                        it->detail[0] ? it->detail : "-");
        if (!st) st = count_item(sum, it, err);
    }
    if (!st)
        st = rt_atomic_commit(&af, err);
    else if (af.fp)
        rt_atomic_abort(&af);
    for (size_t i = 0; items && i < ds.n; i++)
        pipe_cs_item_free(&items[i]);
    free(items);
    pipe_rewriter_close(rw);
    tok_free(tok);
    data_dataset_free(&ds);
    sum->wall_s = rt_time_now() - t0;
    if (st) pipe_coldstart_summary_free(sum);
    return st;
}
