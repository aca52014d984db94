#include "train/policy_loss.h"

#include <math.h>

void train_ppo_policy_loss(const float *logp, const float *old_logp, const float *adv, const uint8_t *mask, size_t T,
                           float clip_low, float clip_high, double norm, float *dlogp, train_pg_stats *stats) {
    double loss = 0.0, kl = 0.0;
    size_t clipped = 0, tokens = 0;
    for (size_t t = 0; t < T; t++) {
        if (!mask[t]) {
            dlogp[t] = 0.0f;
            continue;
        }
        tokens++;
        double log_ratio = (double)logp[t] - (double)old_logp[t];
        double ratio = exp(log_ratio);
        double a = adv[t];
        double lo = 1.0 - clip_low, hi = 1.0 + clip_high;
        double clipped_ratio = ratio < lo ? lo : ratio > hi ? hi : ratio;
        double unclipped_obj = ratio * a, clipped_obj = clipped_ratio * a;
        /* loss = -min(unclipped, clipped): the gradient flows only when the unclipped term is the minimum. */
        if (unclipped_obj <= clipped_obj) {
            loss += -unclipped_obj;
            dlogp[t] = (float)(-a * ratio / norm);
        } else {
            loss += -clipped_obj;
            dlogp[t] = 0.0f;
            clipped++;
        }
        kl += -log_ratio;
    }
    if (stats) {
        stats->loss = loss / norm;
        stats->clip_frac = tokens ? (double)clipped / (double)tokens : 0.0;
        stats->approx_kl = tokens ? kl / (double)tokens : 0.0;
        stats->tokens = tokens;
    }
}

double train_value_loss(const float *v, const float *old_v, const float *ret, const uint8_t *mask, size_t T,
                        float clip, double norm, float *dv) {
    double loss = 0.0;
    for (size_t t = 0; t < T; t++) {
        if (!mask[t]) {
            dv[t] = 0.0f;
            continue;
        }
        double err = (double)v[t] - (double)ret[t];
        double l_unclipped = 0.5 * err * err;
        if (clip > 0) {
            double d = (double)v[t] - (double)old_v[t];
            double dc = d < -clip ? -clip : d > clip ? clip : d;
            double vc = (double)old_v[t] + dc;
            double err_c = vc - (double)ret[t];
            double l_clipped = 0.5 * err_c * err_c;
            if (l_clipped > l_unclipped) {
                loss += l_clipped;
                /* v_clip moves with v only inside the clip range. */
                dv[t] = (float)((d > -clip && d < clip ? err_c : 0.0) / norm);
                continue;
            }
        }
        loss += l_unclipped;
        dv[t] = (float)(err / norm);
    }
    return loss / norm;
}

double train_kl_penalty(const float *logp, const float *ref_logp, const uint8_t *mask, size_t T, train_kl_kind kind,
                        float coef, double norm, float *dlogp) {
    double total = 0.0;
    for (size_t t = 0; t < T; t++) {
        if (!mask[t]) continue;
        double d = (double)ref_logp[t] - (double)logp[t]; /* log(ref / pi) */
        double k, grad;
        if (kind == TRAIN_KL_K1) {
            k = -d;
            grad = 1.0;
        } else {
            k = exp(d) - d - 1.0;
            grad = -exp(d) + 1.0; /* d k3 / d logp */
        }
        total += k;
        dlogp[t] += (float)(coef * grad / norm);
    }
    return total / norm;
}
