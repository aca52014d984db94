#include "train/rl_update.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/timer.h"
#include "train/dist.h"
#include "train/dist_train.h"
#include "train/guard.h"
#include "train/lora_config.h"
#include "train/pack.h"

rt_status rl_item_init(rl_item *it, rollout_trajectory *t, int need_ref, rt_error *err) {
    memset(it, 0, sizeof *it);
    it->t = t;
    size_t n = t->n_response ? t->n_response : 1;
    it->adv = calloc(n, sizeof(float));
    it->ret = calloc(n, sizeof(float));
    it->old_logp = calloc(n, sizeof(float));
    it->old_value = calloc(n, sizeof(float));
    if (need_ref) it->ref_logp = calloc(n, sizeof(float));
    if (!it->adv || !it->ret || !it->old_logp || !it->old_value || (need_ref && !it->ref_logp)) {
        rl_item_free(it);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    return RT_OK;
}

void rl_item_free(rl_item *it) {
    free(it->adv);
    free(it->ret);
    free(it->old_logp);
    free(it->old_value);
    free(it->ref_logp);
    memset(it, 0, sizeof *it);
}

/* Grows a float buffer to at least n. */
static rt_status ensure(float **buf, size_t *cap, size_t n, rt_error *err) {
    if (n <= *cap) return RT_OK;
    float *p = realloc(*buf, n * sizeof *p);
    if (!p) return rt_err_set(err, RT_ENOMEM, "out of memory for %zu rows", n);
    *buf = p;
    *cap = n;
    return RT_OK;
}

/* Row of the prediction of response token j of packed sequence s (-1 when the sequence was cut before it). */
static int64_t row_of(const train_packed *p, size_t s, size_t j) {
    int64_t r = p->resp_row[s] + (int64_t)j; /* token j sits at row r + 1 */
    return r >= p->start[s] && r + 1 < p->start[s + 1] ? r : -1;
}

rt_status rl_forward(model *m, rl_item *items, size_t n, size_t max_len, size_t max_tokens, float **logp_out,
                     float **value_out, double *entropy_sum, size_t *entropy_count, rt_error *err) {
    train_packed p;
    memset(&p, 0, sizeof p);
    float *logp = NULL, *ent = NULL, *val = NULL;
    size_t cap = 0, cap2 = 0, cap3 = 0;
    rt_status st = RT_OK;
    size_t i = 0;
    while (!st && i < n) {
        train_packed_reset(&p);
        size_t first = i;
        while (i < n && (p.n_rows == 0 || p.n_rows + train_packed_len(items[i].t, max_len) <= max_tokens)) {
            st = train_packed_add(&p, items[i].t, (int64_t)i, max_len, NULL, err);
            if (st) break;
            i++;
        }
        if (st || p.n_rows == 0) break;
        st = ensure(&logp, &cap, p.n_rows, err);
        if (!st && entropy_sum) st = ensure(&ent, &cap2, p.n_rows, err);
        if (!st && value_out) st = ensure(&val, &cap3, p.n_rows, err);
        if (!st) st = model_forward(m, &p.batch, logp, entropy_sum ? ent : NULL, value_out ? val : NULL, err);
        for (size_t s = 0; !st && s < (size_t)p.batch.nseq; s++) {
            rl_item *it = &items[first + s];
            for (size_t j = 0; j < it->t->n_response; j++) {
                int64_t r = row_of(&p, s, j);
                if (logp_out) logp_out[first + s][j] = r >= 0 && it->t->mask[j] ? logp[r] : 0.0f;
                if (value_out) value_out[first + s][j] = r >= 0 ? val[r] : 0.0f;
                if (entropy_sum && r >= 0 && it->t->mask[j]) {
                    *entropy_sum += ent[r];
                    (*entropy_count)++;
                }
            }
        }
    }
    free(logp);
    free(ent);
    free(val);
    train_packed_free(&p);
    return st;
}

/* Model-written tokens of items[idx[0..n)] as packed (cut to max_len), summed over every rank: the loss's normaliser.
 */
static rt_status count_targets(rl_item *items, const size_t *idx, size_t n, size_t max_len, double *norm,
                               rt_error *err) {
    train_packed p;
    memset(&p, 0, sizeof p);
    rt_status st = RT_OK;
    for (size_t k = 0; !st && k < n; k++)
        st = train_packed_add(&p, items[idx[k]].t, (int64_t)idx[k], max_len, NULL, err);
    *norm = (double)p.n_targets;
    train_packed_free(&p);
    return st ? st : dist_allreduce_f64(norm, 1, err);
}

/* Packs the next micro-batch of items[idx[*k..n)] into p (at least one item, then up to micro_tokens rows); *k moves
 * past it and *first is where it began. */
static rt_status next_micro(train_packed *p, rl_item *items, const size_t *idx, size_t n, size_t *k, size_t *first,
                            size_t max_len, size_t micro_tokens, rt_error *err) {
    train_packed_reset(p);
    *first = *k;
    rt_status st = RT_OK;
    while (!st && *k < n &&
           (p->n_rows == 0 || p->n_rows + train_packed_len(items[idx[*k]].t, max_len) <= micro_tokens)) {
        st = train_packed_add(p, items[idx[*k]].t, (int64_t)idx[*k], max_len, NULL, err);
        (*k)++;
    }
    return st;
}

/* The LoRA dropout key of micro-batch k of an update keyed by key (0: none). */
static uint64_t micro_key(uint64_t key, size_t k) {
    if (!key) return 0;
    rt_rng r;
    rt_rng_seed(&r, key);
    return train_lora_dropout_key(&r, 0, (uint64_t)k);
}

/* Sums of one policy update's statistics over its micro-batches. */
typedef struct policy_sums {
    double loss, clip_frac, approx_kl, kl, entropy;
} policy_sums;

/* Forward and backward (gradients accumulated) of the policy loss on one packed micro-batch whose sequence s is item
 * idx[s]. */
static rt_status policy_micro(model *m, rl_item *items, const size_t *idx, const train_packed *p, double norm,
                              const rl_policy_hp *hp, uint64_t key, policy_sums *sum, rl_update_stats *stats,
                              rt_error *err) {
    size_t N = p->n_rows ? p->n_rows : 1, maxT = 0;
    for (size_t s = 0; s < (size_t)p->batch.nseq; s++)
        if (items[idx[s]].t->n_response > maxT) maxT = items[idx[s]].t->n_response;
    float *logp = calloc(N, sizeof(float)), *ent = calloc(N, sizeof(float)), *dlogp = calloc(N, sizeof(float)),
          *dent = hp->entropy_coef != 0 ? calloc(N, sizeof(float)) : NULL;
    float *lp = calloc(maxT + 1, sizeof(float)), *d = calloc(maxT + 1, sizeof(float));
    uint8_t *mask = malloc(maxT + 1);
    rt_status st = RT_OK;
    if (!logp || !ent || !dlogp || (hp->entropy_coef != 0 && !dent) || !lp || !d || !mask)
        st = rt_err_set(err, RT_ENOMEM, "out of memory");
    double t0 = rt_time_now();
    m->lora_dropout_key = key; /* for this forward and its backward */
    if (!st) st = model_forward(m, &p->batch, logp, ent, NULL, err);
    stats->t_forward += rt_time_now() - t0;
    for (size_t s = 0; !st && s < (size_t)p->batch.nseq; s++) {
        rl_item *it = &items[idx[s]];
        const rollout_trajectory *t = it->t;
        for (size_t j = 0; j < t->n_response; j++) {
            int64_t r = row_of(p, s, j);
            mask[j] = r >= 0 && t->mask[j];
            lp[j] = mask[j] ? logp[r] : 0.0f;
            if (hp->old_from_update) it->old_logp[j] = lp[j];
            d[j] = 0.0f;
            if (mask[j]) sum->entropy += ent[r];
        }
        train_pg_stats ps;
        train_ppo_policy_loss(lp, it->old_logp, it->adv, mask, t->n_response, hp->clip_low, hp->clip_high, norm, d,
                              &ps);
        sum->loss += ps.loss;
        sum->clip_frac += ps.clip_frac * (double)ps.tokens;
        sum->approx_kl += ps.approx_kl * (double)ps.tokens;
        if (hp->kl_coef != 0 && it->ref_logp)
            sum->kl +=
                train_kl_penalty(lp, it->ref_logp, mask, t->n_response, hp->kl_kind, (float)hp->kl_coef, norm, d);
        for (size_t j = 0; j < t->n_response; j++) {
            if (!mask[j]) continue;
            int64_t r = row_of(p, s, j);
            dlogp[r] = d[j];
            if (dent) dent[r] = (float)(-hp->entropy_coef / norm); /* loss -= coef * mean entropy */
        }
    }
    t0 = rt_time_now();
    if (!st) st = model_backward(m, dlogp, dent, NULL, err);
    m->lora_dropout_key = 0;
    stats->t_backward += rt_time_now() - t0;
    stats->policy_tokens += (double)p->n_rows;
    free(logp), free(ent), free(dlogp), free(dent), free(lp), free(d), free(mask);
    return st;
}

rt_status rl_policy_update(model *m, rl_item *items, const size_t *idx, size_t n, size_t max_len, size_t micro_tokens,
                           const rl_policy_hp *hp, rl_update_stats *stats, rt_error *err) {
    /* Token-level normalisation over the minibatch of every rank (data parallel: this rank holds its share). */
    double norm = 0;
    rt_status st = count_targets(items, idx, n, max_len, &norm, err);
    if (st || norm == 0) return st;
    model_zero_grad(m);
    policy_sums sum = {0, 0, 0, 0, 0};
    train_packed p;
    memset(&p, 0, sizeof p);
    for (size_t k = 0, first = 0; !st && k < n;) {
        st = next_micro(&p, items, idx, n, &k, &first, max_len, micro_tokens, err);
        if (!st)
            st = policy_micro(m, items, idx + first, &p, norm, hp, micro_key(hp->dropout_key, first), &sum, stats, err);
    }
    train_packed_free(&p);
    if (!st && dist_size() > 1) {
        double sums[5] = {sum.loss, sum.clip_frac, sum.approx_kl, sum.kl, sum.entropy};
        st = dist_allreduce_f64(sums, 5, err);
        if (!st) st = train_dist_sum_grads(m, err);
        sum = (policy_sums){sums[0], sums[1], sums[2], sums[3], sums[4]};
    }
    if (!st) st = train_guard(m, sum.loss, "policy update", (int64_t)stats->updates + 1, err);
    if (!st) {
        double t0 = rt_time_now();
        double gn = model_clip_grad(m, hp->clip_norm);
        model_adamw_step(m, &hp->opt, hp->lr);
        stats->t_optim += rt_time_now() - t0;
        stats->grad_norm += gn;
        stats->policy_loss += sum.loss;
        stats->clip_frac += sum.clip_frac / norm;
        stats->approx_kl += sum.approx_kl / norm;
        stats->kl += sum.kl;
        stats->entropy += sum.entropy / norm;
        stats->updates++;
    }
    return st;
}

/* Forward and backward (gradients accumulated) of the critic's clipped value loss on one packed micro-batch; adds the
 * loss to *loss. With values_ready, the forward's values become the old values first. */
static rt_status critic_micro(model *critic, rl_item *items, const size_t *idx, const train_packed *p, double norm,
                              float value_clip, uint64_t key, rl_values_ready_fn values_ready, void *ctx, double *loss,
                              rl_update_stats *stats, rt_error *err) {
    size_t N = p->n_rows ? p->n_rows : 1, maxT = 0;
    for (size_t s = 0; s < (size_t)p->batch.nseq; s++)
        if (items[idx[s]].t->n_response > maxT) maxT = items[idx[s]].t->n_response;
    float *val = calloc(N, sizeof(float)), *dval = calloc(N, sizeof(float));
    float *v = calloc(maxT + 1, sizeof(float)), *dv = calloc(maxT + 1, sizeof(float));
    uint8_t *mask = calloc(maxT + 1, 1);
    rt_status st = RT_OK;
    if (!val || !dval || !v || !dv || !mask) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    double t0 = rt_time_now();
    critic->lora_dropout_key = key; /* for this forward and its backward */
    if (!st) st = model_forward(critic, &p->batch, NULL, NULL, val, err);
    stats->t_forward += rt_time_now() - t0;
    for (size_t s = 0; !st && s < (size_t)p->batch.nseq; s++) {
        rl_item *it = &items[idx[s]];
        for (size_t j = 0; values_ready && j < it->t->n_response; j++) {
            int64_t r = row_of(p, s, j);
            it->old_value[j] = r >= 0 ? val[r] : 0.0f;
        }
        if (values_ready) st = values_ready(ctx, it, err);
        for (size_t j = 0; j < it->t->n_response; j++) {
            int64_t r = row_of(p, s, j);
            mask[j] = r >= 0 && it->t->mask[j];
            v[j] = mask[j] ? val[r] : 0.0f;
        }
        *loss += train_value_loss(v, it->old_value, it->ret, mask, it->t->n_response, value_clip, norm, dv);
        for (size_t j = 0; j < it->t->n_response; j++)
            if (mask[j]) dval[row_of(p, s, j)] = dv[j];
    }
    t0 = rt_time_now();
    if (!st) st = model_backward(critic, NULL, NULL, dval, err);
    critic->lora_dropout_key = 0;
    stats->t_backward += rt_time_now() - t0;
    stats->critic_tokens += (double)p->n_rows;
    free(val), free(dval), free(v), free(dv), free(mask);
    return st;
}

rt_status rl_critic_update(model *critic, rl_item *items, const size_t *idx, size_t n, size_t max_len,
                           size_t micro_tokens, float value_clip, double clip_norm, double lr, const model_adamw *opt,
                           uint64_t dropout_key, rl_values_ready_fn values_ready, void *ctx, rl_update_stats *stats,
                           rt_error *err) {
    double norm = 0; /* over every rank's share of the minibatch */
    rt_status st = count_targets(items, idx, n, max_len, &norm, err);
    if (st || norm == 0) return st;
    model_zero_grad(critic);
    double loss = 0;
    train_packed p;
    memset(&p, 0, sizeof p);
    for (size_t k = 0, first = 0; !st && k < n;) {
        st = next_micro(&p, items, idx, n, &k, &first, max_len, micro_tokens, err);
        if (!st)
            st = critic_micro(critic, items, idx + first, &p, norm, value_clip, micro_key(dropout_key, first),
                              values_ready, ctx, &loss, stats, err);
    }
    train_packed_free(&p);
    if (!st && dist_size() > 1) {
        st = dist_allreduce_f64(&loss, 1, err);
        if (!st) st = train_dist_sum_grads(critic, err);
    }
    if (!st) st = train_guard(critic, loss, "critic update", 0, err);
    if (!st) {
        double t0 = rt_time_now();
        double gn = model_clip_grad(critic, clip_norm);
        model_adamw_step(critic, opt, lr);
        stats->t_optim += rt_time_now() - t0;
        stats->value_loss += loss;
        stats->value_grad_norm += gn;
        stats->value_updates++;
    }
    return st;
}
