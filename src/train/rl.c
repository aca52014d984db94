#include "train/rl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/timer.h"
#include "data/dataset.h"
#include "kernels/pool.h"
#include "model/modeldir.h"
#include "model/peft.h"
#include "rollout/bind.h"
#include "rollout/exec_spec.h"
#include "rollout/score.h"
#include "tokenizer/tokenizer.h"
#include "train/advantage.h"
#include "train/checkpoint.h"
#include "train/dist.h"
#include "train/dist_train.h"
#include "train/filter.h"
#include "train/lora_config.h"
#include "train/memplan.h"
#include "train/rl_metrics.h"
#include "train/rl_update.h"
#include "train/rundir.h"

/* Everything a run holds. */
typedef struct rl_run {
    train_rl_config cfg;
    cJSON *cfg_json; /* config.json of a resumed run (cfg's strings point into it) */
    tok_tokenizer *tok;
    data_dataset ds;
    model policy, critic, ref;
    int has_critic, has_ref;
    int ref_is_base;     /* LoRA: the KL reference is the policy with its adapters off */
    tok_template family; /* the prompt template, recorded in the checkpoints and the output model */
    train_rundir rd;
    rollout_exec_spec *exec;
    train_state state;
    int64_t *order; /* data order of the current epoch */
    size_t max_len;
} rl_run;

/* The next problem index in the epoch order (reshuffling at each new epoch). */
static int64_t next_problem(rl_run *r) {
    if ((size_t)r->state.data_pos >= r->ds.n) {
        r->state.epoch++;
        r->state.data_pos = 0;
    }
    if (r->state.data_pos == 0) {
        rt_rng ep = rt_rng_split(&r->state.rng, (uint64_t)r->state.epoch);
        rt_rng_permutation(&ep, r->order, r->ds.n);
    }
    return r->order[r->state.data_pos++];
}

/* Tokens a trajectory may hold: a 1024-token prompt allowance, the response and the interpreter output, within the
 * context of max_pos positions. Rollouts are planned at it, and their caches grow no further (unless a prompt is
 * longer). */
static int64_t rollout_tokens(const train_rl_config *c, int64_t max_pos) {
    int64_t len =
        1024 + (int64_t)c->rollout.budget.max_response_tokens + (int64_t)c->rollout.budget.max_interpreter_tokens;
    return len > max_pos ? max_pos : len;
}

/* Refuses, before anything is loaded, a run whose step will not fit in memory (train/memplan.h). Rollouts are
 * planned at their budget. */
static rt_status check_memory(const train_rl_config *c, rt_error *err) {
    model_config mc;
    int rank = c->lora.rank;
    unsigned targets = c->lora.targets;
    rt_status st = train_mem_model_config(c->model_dir, &mc, &rank, &targets, err);
    if (st) return st;
    int64_t n = c->prompts_per_step * c->samples * (c->resample_on_correct ? 2 : 1);
    int64_t len = rollout_tokens(c, mc.max_position_embeddings);
    int64_t live = (int64_t)c->rollout.max_concurrent < n ? (int64_t)c->rollout.max_concurrent : n;
    int64_t rows = n * len < c->micro_tokens ? n * len : c->micro_tokens;
    train_mem_req q = {
        c->algo == TRAIN_ALGO_PPO ? 2 : 1, c->kl_coef != 0, rows, live, len, c->recompute, rank, targets, c->kv_bf16};
    return train_mem_check(&mc, &q, c->algo == TRAIN_ALGO_PPO ? "rl (PPO)" : "rl (GRPO)", err);
}

static rt_status open_run(rl_run *r, const train_rl_config *in, rt_error *err) {
    r->cfg = *in;
    rt_status st = RT_OK;
    if (in->resume) {
        char path[4200];
        snprintf(path, sizeof path, "%s/config.json", in->out_dir);
        st = rt_json_read_file(path, &r->cfg_json, err);
        if (!st) st = train_rl_config_from_json(r->cfg_json, &r->cfg, err);
        if (st) return rt_err_prefix(err, "resuming %s", in->out_dir);
        r->cfg.out_dir = in->out_dir;
        r->cfg.resume = 1;
        r->cfg.quiet = in->quiet;
        r->cfg.reward_fn = in->reward_fn;
        r->cfg.reward_ctx = in->reward_ctx;
        if (in->steps > 0) r->cfg.steps = in->steps;
    }
    train_rl_config *c = &r->cfg;
    if (c->samples < 1 || c->prompts_per_step < 1 || c->steps < 0 || c->ppo_epochs < 1 || c->minibatches < 1 ||
        c->micro_tokens < 1)
        return rt_err_set(err, RT_EINVAL,
                          "samples, prompts per step, PPO epochs, minibatches and micro-batch tokens must be >= 1");
    st = kern_init(c->threads, err);
    if (!st) st = check_memory(c, err);
    if (!st) st = tok_load(c->model_dir, &r->tok, err);
    if (!st) st = rollout_template_resolve(c->model_dir, c->template_kind, &c->template_kind, err);
    if (!st) st = rollout_template_family(r->tok, c->template_kind, &r->family, err);
    data_format fmt;
    if (!st) st = data_format_parse(c->format, &fmt, err);
    if (!st) st = data_dataset_read(c->data_path, fmt, &r->ds, err);
    if (!st && r->ds.n == 0) st = rt_err_set(err, RT_EINVAL, "%s holds no problems", c->data_path);
    if (st) return st;
    cJSON *cj = train_rl_config_to_json(c);
    st = train_dist_rundir_open(&r->rd, c->out_dir, c->resume ? NULL : cj, err);
    cJSON_Delete(cj);
    if (st) return st;
    model_opts po = {.prec = c->f32 ? MODEL_PREC_F32 : MODEL_PREC_BF16, .lora = c->lora};
    model_opts co = {.prec = po.prec, .value_head = 1, .lora = c->lora};
    r->has_critic = c->algo == TRAIN_ALGO_PPO;
    rt_rng_seed(&r->state.rng, c->seed);
    int64_t latest = -1;
    if (c->resume) st = train_dist_latest_checkpoint(&r->rd, &latest, err);
    if (!st && latest >= 0) {
        char ck[4096];
        train_rundir_checkpoint_path(&r->rd, latest, ck, sizeof ck);
        st = train_checkpoint_load(ck, &r->policy, &po, r->has_critic ? &r->critic : NULL, &co, &r->state, err);
        if (!st && dist_rank() == 0) st = train_rundir_truncate_metrics(&r->rd, r->state.step, err);
        if (!st && dist_rank() == 0) rt_log_info("rl: resuming %s at step %lld", c->out_dir, (long long)r->state.step);
    } else if (!st) {
        st = model_load(&r->policy, c->model_dir, &po, err);
        /* fresh adapters: PEFT's initialisation from the seed; an adapter folder's (cold-start SFT's) are kept */
        if (!st && r->policy.lora && !model_peft_is_adapter(c->model_dir)) model_init_random(&r->policy, c->seed, 0);
        if (!st) st = model_train_init(&r->policy, err);
        co.share = r->policy.base; /* LoRA: the critic's adapters sit on the policy's frozen base */
        if (!st && r->has_critic && r->policy.lora && c->critic_dir && !model_peft_is_adapter(c->critic_dir))
            st = rt_err_set(err, RT_EINVAL,
                            "--critic %s: with --lora-rank the critic shares the policy's base; give an adapter folder "
                            "(a LoRA critic checkpoint) or no --critic",
                            c->critic_dir);
        if (!st && r->has_critic) st = model_load(&r->critic, c->critic_dir ? c->critic_dir : c->model_dir, &co, err);
        if (!st && r->has_critic && r->critic.lora && !c->critic_dir) model_init_random(&r->critic, c->seed + 1, 0);
        if (!st && r->has_critic) st = model_train_init(&r->critic, err);
    }
    if (st) {
        r->has_critic = 0;
        return st;
    }
    r->policy.recompute = r->critic.recompute = c->recompute;
    /* Data parallel: every rank must start from the same models and state (rank 0 only writes them). */
    st = train_dist_check_model(&r->policy, latest >= 0 ? "checkpoint policy parameters" : "starting policy parameters",
                                err);
    if (!st && r->has_critic)
        st = train_dist_check_model(&r->critic,
                                    latest >= 0 ? "checkpoint critic parameters" : "starting critic parameters", err);
    if (!st) st = train_dist_check_state(&r->state, err);
    if (st) return st;
    if (c->kl_coef != 0 && r->policy.lora) {
        r->ref_is_base = 1; /* the frozen base with the adapters off: no second model */
    } else if (c->kl_coef != 0) {
        st = model_load(&r->ref, c->model_dir, &po, err);
        if (st) return rt_err_prefix(err, "reference policy");
        r->has_ref = 1;
        st = train_dist_check_model(&r->ref, "reference policy parameters", err);
        if (st) return st;
    }
    if (!st && c->rollout.tools != ROLLOUT_TOOLS_NONE) {
        if (!c->sandbox || strcmp(c->sandbox, "none") == 0)
            return rt_err_set(err, RT_EINVAL,
                              "tool-integrated RL needs a sandbox (local or URLs); use --tools none for text-only RL");
        st = rollout_exec_spec_open(c->sandbox, c->sandbox_workers, &r->exec, err);
    }
    r->order = malloc(r->ds.n * sizeof *r->order);
    if (!st && !r->order) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    if (!st) {
        /* Rebuild this epoch's order (the position within it comes from the checkpoint). */
        rt_rng ep = rt_rng_split(&r->state.rng, (uint64_t)r->state.epoch);
        rt_rng_permutation(&ep, r->order, r->ds.n);
    }
    r->max_len = (size_t)r->policy.cfg.max_position_embeddings;
    return st;
}

static void close_run(rl_run *r) {
    rollout_exec_spec_close(r->exec);
    if (r->rd.path) train_rundir_close(&r->rd);
    model_free(&r->policy);
    if (r->has_critic) model_free(&r->critic);
    if (r->has_ref) model_free(&r->ref);
    data_dataset_free(&r->ds);
    tok_free(r->tok);
    free(r->order);
    cJSON_Delete(r->cfg_json);
}

/* Samples rolled out per prompt: K, or 2K with resample-on-correct (brought back to K by train_filter_group). */
static size_t rl_group_size(const train_rl_config *c) {
    return (size_t)c->samples * (c->resample_on_correct ? 2 : 1);
}

/* Samples and scores this step's trajectories: under mpirun, those of this rank's share of the step's prompts (a
 * contiguous block, in rank order; every rank walks the whole data order so all agree on the step's prompts). A
 * trajectory's prompt_index is its prompt's place in the whole step, so its sampling seed does not depend on the
 * number of ranks. */
static rt_status rollout_step(rl_run *r, rollout_trajectory **out, size_t *n_out, rollout_stats *rs, rt_error *err) {
    const train_rl_config *c = &r->cfg;
    size_t np = (size_t)c->prompts_per_step, k = rl_group_size(c), world = (size_t)dist_size(),
           rank = (size_t)dist_rank();
    size_t plo = np * rank / world, phi = np * (rank + 1) / world, n = (phi - plo) * k;
    memset(rs, 0, sizeof *rs);
    tok_ids *prompts = calloc(np, sizeof *prompts);
    int64_t *problem = calloc(np, sizeof *problem);
    rollout_request *reqs = calloc(n ? n : 1, sizeof *reqs);
    rollout_trajectory *t = calloc(n ? n : 1, sizeof *t);
    rollout_model_policy *pol = NULL;
    rt_status st = !prompts || !problem || !reqs || !t ? rt_err_set(err, RT_ENOMEM, "out of memory") : RT_OK;
    int tools = c->rollout.tools != ROLLOUT_TOOLS_NONE;
    for (size_t i = 0; !st && i < np; i++) {
        problem[i] = next_problem(r);
        if (i < plo || i >= phi) continue;
        st = rollout_prompt_ids(r->tok, c->template_kind, tools, r->ds.items[problem[i]].prompt, &prompts[i], err);
        for (size_t s = 0; !st && s < k; s++)
            reqs[(i - plo) * k + s] = (rollout_request){.prompt = prompts[i].ids,
                                                        .n_prompt = prompts[i].len,
                                                        .prompt_index = (int64_t)i,
                                                        .sample_index = (int64_t)s};
    }
    rollout_config rc = c->rollout;
    int32_t stops[ROLLOUT_MAX_STOP_IDS];
    rc.n_stop_ids = rollout_stop_ids(&r->policy, r->tok, stops);
    rc.stop_ids = stops;
    rt_rng seeds = rt_rng_split(&r->state.rng, 0x5151000000ull + (uint64_t)r->state.step);
    rc.seed = rt_rng_u64(&seeds);
    if (rc.max_concurrent > n) rc.max_concurrent = n;
    if (!st && n > 0) st = rollout_model_policy_init(&pol, &r->policy, rc.max_concurrent, err);
    if (!st && n > 0) st = rollout_model_policy_kv_bf16(pol, c->kv_bf16, err);
    if (!st && n > 0) rollout_model_policy_seq_limit(pol, rollout_tokens(c, r->policy.cfg.max_position_embeddings));
    if (!st && n > 0) {
        rollout_policy p = rollout_model_policy_ops(pol);
        rollout_tokenizer tk = rollout_tokenizer_ops(r->tok);
        rollout_executor x = rollout_exec_spec_ops(r->exec);
        st = rollout_run(&rc, &p, &tk, tools ? &x : NULL, reqs, n, t, rs, err);
    }
    reward_options ro;
    reward_options_default(&ro);
    for (size_t i = 0; !st && i < n; i++) {
        const data_problem *pr = &r->ds.items[problem[t[i].prompt_index]];
        st = rollout_score(&t[i], pr->answer, &ro, err);
        if (!st && c->reward_fn) t[i].reward = c->reward_fn(c->reward_ctx, &t[i], pr->answer);
        if (!st) st = tok_decode(r->tok, t[i].prompt_ids, t[i].n_prompt, 0, &t[i].prompt_text, NULL, err);
        /* The id names the problem of the data set, so trajectories of different steps can be compared. */
        char id[64];
        snprintf(id, sizeof id, "q%lld-s%lld", (long long)problem[t[i].prompt_index], (long long)t[i].sample_index);
        free(t[i].id);
        t[i].id = strdup(id);
    }
    rollout_model_policy_free(pol);
    for (size_t i = 0; prompts && i < np; i++)
        tok_ids_free(&prompts[i]);
    free(prompts);
    free(problem);
    free(reqs);
    if (st) {
        for (size_t i = 0; t && i < n; i++)
            rollout_trajectory_free(&t[i]);
        free(t);
        return st;
    }
    *out = t;
    *n_out = n;
    return RT_OK;
}

/* Whitens the advantages of the model-written tokens over the whole step: every rank's items (mean and unbiased
 * variance summed over ranks; the same arithmetic as train_whiten in one process). */
static rt_status whiten(rl_item *items, size_t n, rt_error *err) {
    double acc[2] = {0, 0}; /* sum, count */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < items[i].t->n_response; j++)
            if (items[i].t->mask[j]) {
                acc[0] += items[i].adv[j];
                acc[1] += 1;
            }
    rt_status st = dist_allreduce_f64(acc, 2, err);
    if (st || acc[1] == 0) return st;
    double mean = acc[0] / acc[1], sq = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < items[i].t->n_response; j++)
            if (items[i].t->mask[j]) sq += ((double)items[i].adv[j] - mean) * ((double)items[i].adv[j] - mean);
    st = dist_allreduce_f64(&sq, 1, err);
    if (st) return st;
    double var = acc[1] > 1 ? sq / (acc[1] - 1) : 0.0; /* unbiased, as torch.var */
    double inv = 1.0 / (sqrt(var) + (double)1e-8f);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < items[i].t->n_response; j++)
            if (items[i].t->mask[j]) items[i].adv[j] = (float)(((double)items[i].adv[j] - mean) * inv);
    return RT_OK;
}

/* Advantages (GRPO by group, PPO by GAE on the critic's values) for the kept items. */
static rt_status advantages(rl_run *r, rl_item *items, size_t n, rt_error *err) {
    const train_rl_config *c = &r->cfg;
    rt_status st = RT_OK;
    if (c->algo == TRAIN_ALGO_GRPO) {
        /* Items are in group order (prompt_index); normalise within each group, whatever its size. */
        int64_t *grp = malloc((n ? n : 1) * sizeof *grp);
        float *rw = malloc((n ? n : 1) * sizeof *rw), *adv = malloc((n ? n : 1) * sizeof *adv);
        if (!grp || !rw || !adv) st = rt_err_set(err, RT_ENOMEM, "out of memory for %zu advantages", n);
        for (size_t i = 0; !st && i < n; i++) {
            grp[i] = items[i].t->prompt_index;
            rw[i] = (float)items[i].t->reward;
        }
        if (!st) train_grpo_batch_advantages(grp, rw, n, c->grpo_scale_std, 1e-6f, adv);
        for (size_t i = 0; !st && i < n; i++)
            for (size_t p = 0; p < items[i].t->n_response; p++)
                items[i].adv[p] = adv[i];
        free(grp);
        free(rw);
        free(adv);
        return st;
    }
    float **vals = malloc((n ? n : 1) * sizeof *vals);
    if (!vals) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        vals[i] = items[i].old_value;
    st = rl_forward(&r->critic, items, n, r->max_len, (size_t)c->micro_tokens, NULL, vals, NULL, NULL, err);
    free(vals);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        train_gae(items[i].old_value, items[i].t->mask, items[i].t->n_response, (float)items[i].t->reward, c->gamma,
                  c->lambda, items[i].adv, items[i].ret);
    if (c->whiten) return whiten(items, n, err);
    return RT_OK;
}

/* Keeps the trajectories that carry signal (filters); returns how many items were made. */
static rt_status make_items(rl_run *r, rollout_trajectory *t, size_t n, rl_item *items, size_t *n_items,
                            train_filter_counts *dropped, rt_error *err) {
    const train_rl_config *c = &r->cfg;
    size_t k = rl_group_size(c), m = 0;
    train_filter_opts fo = {.drop_flat_groups = c->drop_flat_groups,
                            .drop_void = c->drop_void,
                            .resample_on_correct = c->resample_on_correct,
                            .keep = (size_t)c->samples};
    rt_rng seeds = rt_rng_split(&r->state.rng, 0x2c0c000000ull + (uint64_t)r->state.step);
    uint8_t *keep = malloc(k);
    if (!keep) return rt_err_set(err, RT_ENOMEM, "out of memory");
    rt_status st = RT_OK;
    for (size_t g = 0; !st && g < n / k; g++) {
        rollout_trajectory *grp = &t[g * k];
        /* One seed per group, keyed by its prompt's place in the step: the choice does not depend on the ranks. */
        rt_rng gs = rt_rng_split(&seeds, (uint64_t)grp[0].prompt_index);
        fo.seed = rt_rng_u64(&gs);
        st = train_filter_group(grp, k, &fo, keep, dropped, err);
        for (size_t s = 0; !st && s < k; s++) {
            if (!keep[s]) continue;
            st = rl_item_init(&items[m], &grp[s], r->has_ref || r->ref_is_base, err);
            if (!st) m++;
        }
    }
    free(keep);
    *n_items = m;
    return st;
}

/* The critic's hook of an on-policy update: GAE on the old values its forward just filled. */
typedef struct gae_hook {
    rl_run *r;
    rl_item *items;
    size_t n;
    int done;
} gae_hook;

static rt_status gae_ready(void *ctx, rl_item *it, rt_error *err) {
    (void)err;
    gae_hook *h = ctx;
    const train_rl_config *c = &h->r->cfg;
    train_gae(it->old_value, it->t->mask, it->t->n_response, (float)it->t->reward, c->gamma, c->lambda, it->adv,
              it->ret);
    h->done = 1;
    return RT_OK;
}

static rt_status update(rl_run *r, rl_item *items, size_t n, rl_update_stats *us, rt_error *err) {
    const train_rl_config *c = &r->cfg;
    /* On-policy (one pass, one minibatch): the policy and the critic are still the sampling ones when their update's
     * forward runs, so that forward gives the old log-probs and old values; no separate forward. Several processes
     * keep the separate forwards (whitening is collective, and a rank may have nothing to train). */
    int onpolicy = c->ppo_epochs == 1 && c->minibatches == 1,
        critic_hook = onpolicy && r->has_critic && dist_size() == 1;
    /* LoRA dropout applies in the gradient passes only; the critic's old values (GAE's input) then come from a
     * forward without it. The policy keeps the on-policy shortcut: its old log-probs are the update's own forward's,
     * under the same masks, so the ratio starts at 1. */
    if (c->lora.dropout > 0) critic_hook = 0;
    float **lp = malloc((n ? n : 1) * sizeof *lp);
    if (!lp) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        lp[i] = items[i].old_logp;
    double t0 = rt_time_now(), c0 = rt_time_cpu();
    size_t micro = (size_t)c->micro_tokens; /* rows of one forward/backward */
    rt_status st = onpolicy ? RT_OK : rl_forward(&r->policy, items, n, r->max_len, micro, lp, NULL, NULL, NULL, err);
    if (!st && (r->has_ref || r->ref_is_base)) {
        for (size_t i = 0; i < n; i++)
            lp[i] = items[i].ref_logp;
        model *ref = r->ref_is_base ? &r->policy : &r->ref;
        ref->lora_off = r->ref_is_base;
        st = rl_forward(ref, items, n, r->max_len, micro, lp, NULL, NULL, NULL, err);
        ref->lora_off = 0;
        if (r->has_ref) model_release_activations(&r->ref); /* with several models, one model's activations at a time */
    }
    free(lp);
    double t1 = rt_time_now(), c1 = rt_time_cpu();
    if (!st && !critic_hook) st = advantages(r, items, n, err);
    double t2 = rt_time_now(), c2 = rt_time_cpu();
    us->cpu_policy += c1 - c0;
    us->cpu_critic += c2 - c1;
    gae_hook hook = {r, items, n, 0};
    us->t_forward += t2 - t0; /* old log-probs, reference log-probs, old values */
    us->t_policy += t1 - t0;
    us->t_critic += t2 - t1;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!st && !idx) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    rl_policy_hp hp = {.clip_low = c->clip_low,
                       .clip_high = c->clip_high,
                       .kl_coef = c->kl_coef,
                       .kl_kind = c->kl_kind,
                       .entropy_coef = c->entropy_coef,
                       .clip_norm = c->clip_norm,
                       .opt = model_adamw_defaults(),
                       .old_from_update = onpolicy};
    hp.opt.weight_decay = c->weight_decay;
    model_lr_schedule sched = {
        .kind = MODEL_LR_CONSTANT, .peak = c->lr, .warmup_steps = c->warmup_steps, .total_steps = c->steps};
    hp.lr = model_lr_at(&sched, r->state.step);
    model_adamw copt = model_adamw_defaults();
    copt.weight_decay = c->weight_decay;
    int policy_on = !r->has_critic || r->state.step >= c->critic_warmup;
    rt_rng shuf = rt_rng_split(&r->state.rng, 0xab0000000ull + (uint64_t)r->state.step);
    /* Data parallel: minibatch b is the union of every rank's slice b of its own (shuffled) items, so all ranks make
     * the same number of optimizer steps (a rank with fewer items contributes an empty slice). */
    double n_all = (double)n;
    if (!st) st = dist_allreduce_f64(&n_all, 1, err);
    for (int64_t ep = 0; !st && ep < c->ppo_epochs && n_all > 0; ep++) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)rt_rng_below(&shuf, i), x = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = x;
        }
        size_t mb = (double)c->minibatches < n_all ? (size_t)c->minibatches : (size_t)n_all;
        for (size_t b = 0; !st && b < mb; b++) {
            size_t lo = b * n / mb, hi = (b + 1) * n / mb;
            double u0 = rt_time_now(), v0 = rt_time_cpu();
            /* LoRA dropout masks: keyed by the seed, the step, the pass and the rank (resume draws the same) */
            uint64_t pass = ((uint64_t)ep * mb + b) * (uint64_t)dist_size() + (uint64_t)dist_rank();
            hp.dropout_key = train_lora_dropout_key(&r->state.rng, 0xd5f8000000000ull + (uint64_t)r->state.step, pass);
            if (r->has_critic)
                st = rl_critic_update(
                    &r->critic, items, idx + lo, hi - lo, r->max_len, micro, c->value_clip, c->clip_norm, c->critic_lr,
                    &copt, train_lora_dropout_key(&r->state.rng, 0xd5f9000000000ull + (uint64_t)r->state.step, pass),
                    critic_hook ? gae_ready : NULL, &hook, us, err);
            if (r->has_critic) model_release_activations(&r->critic);
            if (!st && critic_hook && !hook.done)
                st = advantages(r, items, n, err); /* nothing trained: still needed */
            else if (!st && critic_hook && c->whiten)
                st = whiten(items, n, err); /* GAE ran item by item */
            double u1 = rt_time_now(), v1 = rt_time_cpu();
            if (!st && policy_on)
                st = rl_policy_update(&r->policy, items, idx + lo, hi - lo, r->max_len, micro, &hp, us, err);
            if (r->has_critic || r->has_ref) model_release_activations(&r->policy);
            us->t_critic += u1 - u0;
            us->t_policy += rt_time_now() - u1;
            us->cpu_critic += v1 - v0;
            us->cpu_policy += rt_time_cpu() - v1;
        }
    }
    free(idx);
    /* The next rollout's KV cache never sits beside these: a step needs the larger of its two phases (train/memplan.h). */
    model_release_activations(&r->policy);
    if (r->has_critic) model_release_activations(&r->critic);
    return st;
}

static rt_status write_rollouts(rl_run *r, rollout_trajectory *t, size_t n, rt_error *err) {
    char path[4200];
    train_rundir_rollouts_path(&r->rd, r->state.step + 1, path, sizeof path); /* the step being completed */
    rt_atomic_file af;
    rt_status st = rt_atomic_open(&af, path, err);
    for (size_t i = 0; !st && i < n; i++)
        st = rollout_trajectory_write(af.fp, &t[i], err);
    if (!st) return rt_atomic_commit(&af, err);
    if (af.fp) rt_atomic_abort(&af);
    return st;
}

static void rollouts_free(rollout_trajectory *t, size_t n) {
    for (size_t i = 0; t && i < n; i++)
        rollout_trajectory_free(&t[i]);
    free(t);
}

/* Data parallel: rank 0 gets every rank's trajectories t[0, n) in rank order (which is prompt order) in *all; the
 * other ranks get NULL. They travel as trajectory JSONL, which reads back exactly. */
static rt_status gather_trajectories(rollout_trajectory *t, size_t n, rollout_trajectory **all, size_t *n_all,
                                     rt_error *err) {
    *all = NULL;
    *n_all = 0;
    char *buf = NULL, *got = NULL;
    size_t len = 0, got_n = 0;
    FILE *mem = open_memstream(&buf, &len);
    rt_status st = mem ? RT_OK : rt_err_errno(err, RT_ENOMEM, errno, "cannot open a memory stream");
    for (size_t i = 0; !st && i < n; i++)
        st = rollout_trajectory_write(mem, &t[i], err);
    if (mem && fclose(mem) != 0 && !st) st = rt_err_set(err, RT_ENOMEM, "out of memory formatting trajectories");
    /* A rank that failed still takes part (with nothing), then its error aborts the job. */
    rt_status gst = dist_gather_bytes(buf, st ? 0 : len, &got, &got_n, err);
    free(buf);
    if (!st) st = gst;
    if (st || dist_rank() != 0) {
        free(got);
        return st;
    }
    size_t lines = 0;
    for (size_t i = 0; i < got_n; i++)
        lines += got[i] == '\n';
    rollout_trajectory *out = calloc(lines ? lines : 1, sizeof *out);
    if (!out) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t k = 0;
    for (char *p = got, *end = got + got_n; !st && p < end && k < lines; k++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
        if (!o) st = rt_err_set(err, RT_EFORMAT, "gathered trajectory %zu is not valid JSON", k);
        if (!st) st = rollout_trajectory_from_json(o, &out[k], err);
        cJSON_Delete(o);
        p = nl + 1;
    }
    free(got);
    if (st) {
        rollouts_free(out, k);
        return st;
    }
    *all = out;
    *n_all = lines;
    return RT_OK;
}

rt_status train_rl_run(const train_rl_config *cfg, train_rl_result *res, rt_error *err) {
    memset(res, 0, sizeof *res);
    rl_run r;
    memset(&r, 0, sizeof r);
    rt_status st = open_run(&r, cfg, err);
    const train_rl_config *c = &r.cfg;
    int root = dist_rank() == 0; /* data parallel: rank 0 alone writes the run */
    rt_progress bar;
    int64_t first = r.state.step;
    rt_progress_init(&bar, c->algo == TRAIN_ALGO_PPO ? "rl ppo" : "rl grpo",
                     (uint64_t)(c->steps > first ? c->steps - first : 0), "steps");
    while (!st && r.state.step < c->steps) {
        double t0 = rt_time_now();
        rollout_trajectory *t = NULL;
        size_t n = 0;
        rollout_stats rs;
        st = rollout_step(&r, &t, &n, &rs, err);
        if (st) break;
        double t1 = rt_time_now();
        rl_item *items = calloc(n ? n : 1, sizeof *items);
        size_t n_items = 0;
        train_filter_counts dropped = {0};
        if (!items) st = rt_err_set(err, RT_ENOMEM, "out of memory");
        if (!st) st = make_items(&r, t, n, items, &n_items, &dropped, err);
        rl_update_stats us;
        memset(&us, 0, sizeof us);
        double t2 = rt_time_now();
        if (!st) st = update(&r, items, n_items, &us, err);
        double t3 = rt_time_now();
        for (size_t i = 0; items && i < n_items; i++)
            rl_item_free(&items[i]);
        free(items);
        /* Rank 0 gathers the step's trajectories of every rank (in prompt order) and counts over all of them. */
        rollout_trajectory *all = t;
        size_t n_all = n;
        double sums[5] = {(double)n_items, (double)dropped.flat, (double)dropped.void_turns,
                          rs.t_total > 0 ? (double)rs.decoded_tokens / rs.t_total : 0, (double)dropped.resampled};
        if (!st && dist_size() > 1) st = gather_trajectories(t, n, &all, &n_all, err);
        if (!st) st = dist_allreduce_f64(sums, 5, err);
        if (!st && root) st = write_rollouts(&r, all, n_all, err);
        if (!st) r.state.step++;
        if (!st && root) {
            cJSON *m = cJSON_CreateObject();
            rl_metrics_add(m, all, n_all);
            double upd = us.updates ? (double)us.updates : 1.0;
            cJSON_AddNumberToObject(m, "policy_loss", us.policy_loss / upd);
            cJSON_AddNumberToObject(m, "clip_frac", us.clip_frac / upd);
            cJSON_AddNumberToObject(m, "approx_kl", us.approx_kl / upd);
            cJSON_AddNumberToObject(m, "kl", us.kl / upd);
            cJSON_AddNumberToObject(m, "entropy", us.entropy / upd);
            cJSON_AddNumberToObject(m, "grad_norm", us.grad_norm / upd);
            if (r.has_critic) {
                double cu = us.value_updates ? (double)us.value_updates : 1.0;
                cJSON_AddNumberToObject(m, "value_loss", us.value_loss / cu);
                cJSON_AddNumberToObject(m, "value_grad_norm", us.value_grad_norm / cu);
            }
            cJSON_AddNumberToObject(m, "policy_updates", (double)us.updates);
            cJSON_AddNumberToObject(m, "trained_trajectories", sums[0]);
            cJSON_AddNumberToObject(m, "dropped_flat", sums[1]);
            cJSON_AddNumberToObject(m, "dropped_void", sums[2]);
            cJSON_AddNumberToObject(m, "dropped_resampled", sums[4]);
            cJSON_AddNumberToObject(m, "tokens_per_s", sums[3]); /* summed over ranks; the times below are rank 0's */
            cJSON_AddNumberToObject(m, "time_rollout_s", t1 - t0);
            cJSON_AddNumberToObject(m, "time_sandbox_wait_s", rs.t_idle);
            cJSON_AddNumberToObject(m, "time_decode_s", rs.t_decode);
            cJSON_AddNumberToObject(m, "time_prefill_s", rs.t_prefill);
            cJSON_AddNumberToObject(m, "time_fused_s", rs.t_fused); /* calls that decoded and prefilled together */
            cJSON_AddNumberToObject(m, "time_scoring_s", t2 - t1);
            cJSON_AddNumberToObject(m, "time_update_s", t3 - t2);
            cJSON_AddNumberToObject(m, "time_forward_s", us.t_forward);
            cJSON_AddNumberToObject(m, "time_backward_s", us.t_backward);
            cJSON_AddNumberToObject(m, "time_optimizer_s", us.t_optim);
            cJSON_AddNumberToObject(m, "time_policy_s", us.t_policy);
            cJSON_AddNumberToObject(m, "cpu_policy_s", us.cpu_policy);
            cJSON_AddNumberToObject(m, "policy_tokens", us.policy_tokens);
            if (r.has_critic) {
                cJSON_AddNumberToObject(m, "time_critic_s", us.t_critic);
                cJSON_AddNumberToObject(m, "cpu_critic_s", us.cpu_critic);
                cJSON_AddNumberToObject(m, "critic_tokens", us.critic_tokens);
            }
            const cJSON *acc = cJSON_GetObjectItemCaseSensitive(m, "accuracy");
            const cJSON *rew = cJSON_GetObjectItemCaseSensitive(m, "reward");
            if (r.state.step == first + 1) {
                res->first_reward = rew->valuedouble;
                res->first_accuracy = acc->valuedouble;
            }
            res->last_reward = rew->valuedouble;
            res->last_accuracy = acc->valuedouble;
            st = train_rundir_log_metrics(&r.rd, r.state.step, m, err);
            cJSON_Delete(m);
            if (!c->quiet && root) rt_progress_update(&bar, (uint64_t)(r.state.step - first));
        }
        if (all != t) rollouts_free(all, n_all);
        rollouts_free(t, n);
        if (!st && root && c->save_every > 0 && r.state.step % c->save_every == 0)
            st = train_checkpoint_save(&r.rd, &r.policy, r.has_critic ? &r.critic : NULL, &r.state, c->model_dir,
                                       r.family, (size_t)c->keep_last, err);
    }
    if (!c->quiet && root && r.rd.path) rt_progress_finish(&bar);
    if (!st && root)
        st = train_checkpoint_save(&r.rd, &r.policy, r.has_critic ? &r.critic : NULL, &r.state, c->model_dir, r.family,
                                   (size_t)c->keep_last, err);
    if (!st && root) {
        char out[4200], tokjson[4200];
        snprintf(out, sizeof out, "%s/model", c->out_dir);
        st = model_save(&r.policy, out, 0, err);
        snprintf(tokjson, sizeof tokjson, "%s/tokenizer.json", c->model_dir);
        if (!st && rt_path_exists(tokjson)) st = model_dir_copy_tokenizer(c->model_dir, out, NULL, err);
        if (!st) st = tok_template_write(out, r.family, err);
    }
    res->steps = r.state.step;
    close_run(&r);
    return st;
}
