#include "train/sft.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/timer.h"
#include "model/modeldir.h"
#include "model/optim.h"
#include "model/peft.h"
#include "rollout/trajectory.h"
#include "train/checkpoint.h"
#include "train/dist.h"
#include "train/dist_train.h"
#include "train/guard.h"
#include "train/lora_config.h"
#include "train/memplan.h"
#include "train/pack.h"
#include "train/rundir.h"

train_sft_config train_sft_defaults(void) {
    train_sft_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 1;
    c.batch_tokens = 4096;
    c.lr = 1e-4;
    c.min_lr = 1e-5;
    c.weight_decay = 0.01;
    c.clip_norm = 1.0;
    c.warmup_steps = 10;
    c.cosine = 1;
    c.eval_frac = 0.05;
    c.keep_last = 2;
    c.seed = 1;
    return c;
}

static cJSON *config_json(const train_sft_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "command", "sft");
    cJSON_AddStringToObject(o, "model", c->model_dir);
    cJSON_AddStringToObject(o, "data", c->data_path);
    cJSON_AddNumberToObject(o, "epochs", (double)c->epochs);
    cJSON_AddNumberToObject(o, "max_steps", (double)c->max_steps);
    cJSON_AddNumberToObject(o, "batch_tokens", (double)c->batch_tokens);
    cJSON_AddNumberToObject(o, "max_seq_len", (double)c->max_seq_len);
    cJSON_AddNumberToObject(o, "lr", c->lr);
    cJSON_AddNumberToObject(o, "min_lr", c->min_lr);
    cJSON_AddStringToObject(o, "schedule", c->cosine ? "cosine" : "constant");
    cJSON_AddNumberToObject(o, "warmup_steps", (double)c->warmup_steps);
    cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(o, "clip_norm", c->clip_norm);
    cJSON_AddNumberToObject(o, "eval_frac", c->eval_frac);
    cJSON_AddNumberToObject(o, "eval_every", (double)c->eval_every);
    cJSON_AddNumberToObject(o, "save_every", (double)c->save_every);
    cJSON_AddNumberToObject(o, "keep_last", (double)c->keep_last);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddStringToObject(o, "precision", c->f32 ? "f32" : "bf16");
    if (c->lora.rank) train_lora_config_json(o, &c->lora);
    cJSON_AddBoolToObject(o, "recompute", c->recompute);
    return o;
}

/* Mean loss per target over a set of trajectories (forward only). */
static rt_status eval_loss(model *m, const rollout_trajectory *data, const int64_t *which, size_t n, size_t max_len,
                           size_t batch_tokens, double *out, rt_error *err) {
    train_packed p;
    memset(&p, 0, sizeof p);
    double total = 0.0;
    size_t targets = 0, i = 0;
    float *logp = NULL;
    size_t cap = 0;
    rt_status st = RT_OK;
    while (!st && i < n) {
        train_packed_reset(&p);
        while (i < n && (p.n_rows == 0 || p.n_rows + train_packed_len(&data[which[i]], max_len) <= batch_tokens)) {
            st = train_packed_add(&p, &data[which[i]], which[i], max_len, NULL, err);
            i++;
            if (st) break;
        }
        if (st || p.n_rows == 0) break;
        if (p.n_rows > cap) {
            cap = p.n_rows;
            float *l = realloc(logp, cap * sizeof *l);
            if (!l) {
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
                break;
            }
            logp = l;
        }
        st = model_forward(m, &p.batch, logp, NULL, NULL, err);
        for (size_t r = 0; !st && r < p.n_rows; r++) {
            if (p.targets[r] < 0) continue;
            total -= logp[r];
            targets++;
        }
    }
    free(logp);
    train_packed_free(&p);
    *out = targets ? total / (double)targets : NAN;
    return st;
}

typedef struct step_times {
    double forward, backward, optim; /* seconds */
} step_times;

/* Forward, then backward of loss = -sum_r weight[r] * logp[r]; the loss in *loss, the times in *tm. */
static rt_status xent_step(model *m, const model_batch *b, const float *weight, float *loss, step_times *tm,
                           rt_error *err) {
    int64_t N = b->start[b->nseq];
    float *lp = malloc((size_t)N * 2 * sizeof(float));
    if (!lp) return rt_err_set(err, RT_ENOMEM, "sft: no memory for %lld log-probs", (long long)N);
    float *dl = lp + N;
    double t0 = rt_time_now();
    rt_status st = model_forward(m, b, lp, NULL, NULL, err);
    double t1 = rt_time_now();
    if (st == RT_OK) {
        double s = 0;
        for (int64_t r = 0; r < N; r++) {
            s -= (double)weight[r] * lp[r];
            dl[r] = -weight[r];
        }
        *loss = (float)s;
        st = model_backward(m, dl, NULL, NULL, err);
    }
    tm->forward += t1 - t0;
    tm->backward += rt_time_now() - t1;
    free(lp);
    return st;
}

int64_t train_sft_total_steps(int64_t steps_per_epoch, int64_t epochs, int64_t max_steps) {
    if (steps_per_epoch < 0) steps_per_epoch = 0;
    if (epochs < 0) epochs = 0;
    int64_t total = epochs > 0 && steps_per_epoch > INT64_MAX / epochs ? INT64_MAX : steps_per_epoch * epochs;
    return max_steps > 0 && max_steps < total ? max_steps : total;
}

rt_status train_sft_run(const train_sft_config *cfg, train_sft_result *res, rt_error *err) {
    memset(res, 0, sizeof *res);
    res->eval_loss = NAN;
    if (cfg->epochs < 1 || cfg->batch_tokens < 2)
        return rt_err_set(err, RT_EINVAL, "epochs must be >= 1 and batch tokens >= 2");
    /* Refused before any work when the step will not fit in memory (train/memplan.h). */
    model_config mc;
    int lora_rank = cfg->lora.rank;
    unsigned lora_targets = cfg->lora.targets;
    rt_status st = train_mem_model_config(cfg->model_dir, &mc, &lora_rank, &lora_targets, err);
    train_mem_req q = {1, 0, cfg->batch_tokens, 0, 0, cfg->recompute, lora_rank, lora_targets, 0};
    if (!st) st = train_mem_check(&mc, &q, "sft", err);
    if (st) return st;
    rollout_trajectory *data = NULL;
    size_t n = 0;
    st = rollout_trajectory_read_file(cfg->data_path, &data, &n, err);
    if (st) return st;
    if (n == 0) {
        rollout_trajectories_free(data, n);
        return rt_err_set(err, RT_EINVAL, "%s holds no trajectories", cfg->data_path);
    }
    /* Data parallel (mpirun): every rank packs the same global batch and trains on its share of its sequences; rank 0
     * alone writes the run directory. */
    int rank = dist_rank(), world = dist_size(), root = rank == 0;
    /* The output folders are prompted as the input folder is: its template, recorded with retool's key (a folder that
     * records none is copied as it is, and generation asks for --template). */
    tok_template tmpl = 0;
    rt_error ignored;
    rt_err_clear(&ignored);
    if (tok_template_read(cfg->model_dir, &tmpl, &ignored)) tmpl = 0;
    train_rundir rd;
    cJSON *cj = config_json(cfg);
    if (world > 1) cJSON_AddNumberToObject(cj, "ranks", world);
    st = train_dist_rundir_open(&rd, cfg->out_dir, cfg->resume ? NULL : cj, err);
    cJSON_Delete(cj);
    if (st) {
        rollout_trajectories_free(data, n);
        return st;
    }
    model m;
    memset(&m, 0, sizeof m);
    model_opts opts = {.prec = cfg->f32 ? MODEL_PREC_F32 : MODEL_PREC_BF16, .value_head = 0, .lora = cfg->lora};
    train_state state;
    memset(&state, 0, sizeof state);
    rt_rng_seed(&state.rng, cfg->seed);
    int64_t latest = -1;
    if (cfg->resume) st = train_dist_latest_checkpoint(&rd, &latest, err);
    if (!st && latest >= 0) {
        char ck[4096];
        train_rundir_checkpoint_path(&rd, latest, ck, sizeof ck);
        st = train_checkpoint_load(ck, &m, &opts, NULL, NULL, &state, err);
        if (!st && root) st = train_rundir_truncate_metrics(&rd, state.step, err);
        if (!st && root) rt_log_info("sft: resuming %s from step %lld", cfg->out_dir, (long long)state.step);
    } else if (!st) {
        st = model_load(&m, cfg->model_dir, &opts, err);
        /* fresh adapters: PEFT's initialisation from the seed; an adapter folder's own are trained on */
        if (!st && m.lora && !model_peft_is_adapter(cfg->model_dir)) model_init_random(&m, cfg->seed, 0);
        if (!st) st = model_train_init(&m, err);
    }
    m.recompute = cfg->recompute;
    if (!st) st = train_dist_check_model(&m, latest >= 0 ? "checkpoint parameters" : "starting parameters", err);
    if (!st) st = train_dist_check_state(&state, err);
    if (st) {
        train_rundir_close(&rd);
        rollout_trajectories_free(data, n);
        return st;
    }
    size_t max_len = (size_t)(cfg->max_seq_len > 0 ? cfg->max_seq_len : m.cfg.max_position_embeddings);
    /* Held-out split: a fixed permutation from the seed, independent of the epoch order. */
    int64_t *perm = malloc(n * sizeof *perm), *order = malloc(n * sizeof *order);
    if (!perm || !order) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t n_eval = 0;
    if (!st) {
        rt_rng split;
        rt_rng_seed(&split, cfg->seed ^ 0x5eed5eedull);
        rt_rng_permutation(&split, perm, n);
        n_eval = cfg->eval_frac > 0 ? (size_t)ceil(cfg->eval_frac * (double)n) : 0;
        if (n_eval >= n) n_eval = n > 1 ? 1 : 0;
    }
    const int64_t *eval_idx = perm, *train_idx = perm + n_eval;
    size_t n_train = n - n_eval;
    res->train_samples = n_train;
    res->eval_samples = n_eval;
    /* Steps per epoch, from the packing (same for every order only approximately: count per epoch as we go). */
    size_t total_tokens = 0;
    for (size_t i = 0; i < n_train; i++)
        total_tokens += train_packed_len(&data[train_idx[i]], max_len);
    int64_t steps_per_epoch = (int64_t)((total_tokens + (size_t)cfg->batch_tokens - 1) / (size_t)cfg->batch_tokens);
    if (steps_per_epoch < 1) steps_per_epoch = 1;
    model_lr_schedule sched = {.kind = cfg->cosine ? MODEL_LR_COSINE : MODEL_LR_CONSTANT,
                               .peak = cfg->lr,
                               .min_lr = cfg->min_lr,
                               .warmup_steps = cfg->warmup_steps,
                               .total_steps = steps_per_epoch * cfg->epochs};
    model_adamw opt = model_adamw_defaults();
    opt.weight_decay = cfg->weight_decay;
    train_packed p, local; /* the global batch, and this rank's share of it (with several ranks) */
    memset(&p, 0, sizeof p);
    memset(&local, 0, sizeof local);
    float *weight = NULL;
    size_t wcap = 0;
    rt_progress bar;
    int64_t first_step = state.step;
    int64_t run_steps = train_sft_total_steps(steps_per_epoch, cfg->epochs, cfg->max_steps);
    rt_progress_init(&bar, "sft", (uint64_t)(run_steps > first_step ? run_steps - first_step : 0), "steps");
    int stopped = 0;
    while (!st && !stopped && state.epoch < cfg->epochs) {
        rt_rng ep = rt_rng_split(&state.rng, (uint64_t)state.epoch);
        rt_rng_permutation(&ep, order, n_train);
        while (!st && (size_t)state.data_pos < n_train) {
            if (cfg->max_steps > 0 && state.step >= cfg->max_steps) {
                stopped = 1;
                break;
            }
            double t0 = rt_time_now(), c0 = rt_time_cpu();
            step_times tm = {0, 0, 0};
            train_packed_reset(&p);
            size_t truncated = 0;
            while ((size_t)state.data_pos < n_train) {
                const rollout_trajectory *t = &data[train_idx[order[state.data_pos]]];
                if (p.n_rows > 0 && p.n_rows + train_packed_len(t, max_len) > (size_t)cfg->batch_tokens) break;
                int cut = 0;
                st = train_packed_add(&p, t, train_idx[order[state.data_pos]], max_len, &cut, err);
                if (st) break;
                truncated += (size_t)cut;
                state.data_pos++;
            }
            if (st) break;
            res->truncated += truncated;
            if (p.n_targets == 0) continue; /* nothing the model wrote in these samples */
            train_packed *mine = &p;
            if (world > 1) {
                /* Contiguous blocks of the global batch's sequences, in rank order: their union is the batch. */
                train_packed_reset(&local);
                size_t ns = (size_t)p.batch.nseq, lo = ns * (size_t)rank / (size_t)world,
                       hi = ns * (size_t)(rank + 1) / (size_t)world;
                for (size_t s = lo; !st && s < hi; s++)
                    st = train_packed_add(&local, &data[p.traj[s]], p.traj[s], max_len, NULL, err);
                if (st) break;
                mine = &local;
            }
            if (mine->n_rows > wcap) {
                wcap = mine->n_rows;
                float *w = realloc(weight, wcap * sizeof *w);
                if (!w) {
                    st = rt_err_set(err, RT_ENOMEM, "out of memory");
                    break;
                }
                weight = w;
            }
            /* Normalised by the global target count, so the summed gradients equal one process's on the batch. */
            for (size_t r = 0; r < mine->n_rows; r++)
                weight[r] = mine->targets[r] >= 0 ? 1.0f / (float)p.n_targets : 0.0f;
            model_zero_grad(&m);
            float loss = 0;
            /* LoRA dropout (when set): masks keyed by the seed, the step and the rank */
            m.lora_dropout_key =
                train_lora_dropout_key(&state.rng, 0xd5f7000000000ull + (uint64_t)state.step, (uint64_t)rank);
            if (mine->n_rows > 0) st = xent_step(&m, &mine->batch, weight, &loss, &tm, err);
            m.lora_dropout_key = 0;
            if (st) break;
            if (world > 1) {
                double l = loss;
                st = dist_allreduce_f64(&l, 1, err);
                if (!st) st = train_dist_sum_grads(&m, err);
                if (st) break;
                loss = (float)l;
            }
            st = train_guard(&m, loss, "sft", state.step + 1, err);
            if (st) break;
            double o0 = rt_time_now();
            double gnorm = model_clip_grad(&m, cfg->clip_norm);
            double lr = model_lr_at(&sched, state.step);
            model_adamw_step(&m, &opt, lr);
            tm.optim = rt_time_now() - o0;
            state.step++;
            double dt = rt_time_now() - t0;
            if (state.step == first_step + 1) res->first_loss = loss;
            res->last_loss = loss;
            cJSON *mj = cJSON_CreateObject();
            cJSON_AddNumberToObject(mj, "epoch", (double)state.epoch);
            cJSON_AddNumberToObject(mj, "loss", loss);
            cJSON_AddNumberToObject(mj, "lr", lr);
            cJSON_AddNumberToObject(mj, "grad_norm", gnorm);
            cJSON_AddNumberToObject(mj, "tokens", (double)p.n_rows);
            cJSON_AddNumberToObject(mj, "targets", (double)p.n_targets);
            cJSON_AddNumberToObject(mj, "tokens_per_s", (double)p.n_rows / dt);
            cJSON_AddNumberToObject(mj, "step_s", dt);
            cJSON_AddNumberToObject(mj, "step_cpu_s", rt_time_cpu() - c0);
            cJSON_AddNumberToObject(mj, "time_forward_s", tm.forward);
            cJSON_AddNumberToObject(mj, "time_backward_s", tm.backward);
            cJSON_AddNumberToObject(mj, "time_optimizer_s", tm.optim);
            if (root && cfg->eval_every > 0 && state.step % cfg->eval_every == 0 && n_eval > 0) {
                double el;
                st = eval_loss(&m, data, eval_idx, n_eval, max_len, (size_t)cfg->batch_tokens, &el, err);
                cJSON_AddNumberToObject(mj, "eval_loss", el);
            }
            if (!st && root) st = train_rundir_log_metrics(&rd, state.step, mj, err);
            cJSON_Delete(mj);
            if (!cfg->quiet && root) rt_progress_update(&bar, (uint64_t)(state.step - first_step));
            if (!st && root && cfg->save_every > 0 && state.step % cfg->save_every == 0)
                st = train_checkpoint_save(&rd, &m, NULL, &state, cfg->model_dir, tmpl, (size_t)cfg->keep_last, err);
        }
        if (st || stopped) break;
        state.epoch++;
        state.data_pos = 0;
        if (root && cfg->eval_every == 0 && n_eval > 0) {
            double el;
            st = eval_loss(&m, data, eval_idx, n_eval, max_len, (size_t)cfg->batch_tokens, &el, err);
            if (!st) rt_log_info("sft: epoch %lld held-out loss %.4f", (long long)state.epoch, el);
        }
    }
    if (!cfg->quiet && root) rt_progress_finish(&bar);
    if (!st && root && n_eval > 0)
        st = eval_loss(&m, data, eval_idx, n_eval, max_len, (size_t)cfg->batch_tokens, &res->eval_loss, err);
    if (!st && root)
        st = train_checkpoint_save(&rd, &m, NULL, &state, cfg->model_dir, tmpl, (size_t)cfg->keep_last, err);
    if (!st && root) {
        char out[4200];
        snprintf(out, sizeof out, "%s/model", cfg->out_dir);
        st = model_save(&m, out, 0, err);
        char tokjson[4200];
        snprintf(tokjson, sizeof tokjson, "%s/tokenizer.json", cfg->model_dir);
        if (!st && rt_path_exists(tokjson)) {
            st = model_dir_copy_tokenizer(cfg->model_dir, out, NULL, err);
            if (!st && tmpl) st = tok_template_write(out, tmpl, err);
        }
    }
    res->steps = state.step;
    free(weight);
    train_packed_free(&p);
    train_packed_free(&local);
    free(perm);
    free(order);
    model_free(&m);
    train_rundir_close(&rd);
    rollout_trajectories_free(data, n);
    return st;
}
