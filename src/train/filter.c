#include "train/filter.h"

#include <stdlib.h>

#include "base/rng.h"

size_t train_roc_issues(const rollout_trajectory *t) {
    size_t bad = (t->flags & ROLLOUT_FLAG_FORMAT_ERROR) ? 1 : 0;
    for (size_t i = 0; i < t->n_calls; i++) bad += t->calls[i].refused || t->calls[i].status != ROLLOUT_EXEC_OK;
    return bad;
}

/* Shuffles idx[0, n) (Fisher-Yates). */
static void shuffle(rt_rng *rng, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rt_rng_below(rng, i), x = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = x;
    }
}

rt_status train_roc_select(const rollout_trajectory *g, size_t n, size_t k, uint64_t seed, uint8_t *keep,
                           rt_error *err) {
    for (size_t i = 0; i < n; i++) keep[i] = n <= k;
    if (n <= k || k == 0) return RT_OK;
    size_t *pos = malloc(n * sizeof *pos), *neg = malloc(n * sizeof *neg), *key = malloc(n * sizeof *key);
    size_t np = 0, nn = 0;
    if (!pos || !neg || !key) {
        free(pos);
        free(neg);
        free(key);
        return rt_err_set(err, RT_ENOMEM, "resample-on-correct: out of memory for a group of %zu", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (g[i].reward > 0) pos[np++] = i;
        else neg[nn++] = i;
    }
    size_t kp = (2 * k * np + n) / (2 * n); /* round(k * np / n), half up */
    if (np > 0 && nn > 0 && k >= 2) {
        if (kp < 1) kp = 1;
        if (kp > k - 1) kp = k - 1;
    }
    if (kp > np) kp = np;
    if (k - kp > nn) kp = k - nn;
    rt_rng rng;
    rt_rng_seed(&rng, seed);
    shuffle(&rng, pos, np);
    shuffle(&rng, neg, nn);
    /* Correct traces by fewest issues; a stable insertion sort keeps the shuffled order among ties. */
    for (size_t i = 0; i < np; i++) key[pos[i]] = train_roc_issues(&g[pos[i]]);
    for (size_t i = 1; i < np; i++) {
        size_t x = pos[i], j = i;
        for (; j > 0 && key[pos[j - 1]] > key[x]; j--) pos[j] = pos[j - 1];
        pos[j] = x;
    }
    for (size_t i = 0; i < kp; i++) keep[pos[i]] = 1;
    for (size_t i = 0; i < k - kp; i++) keep[neg[i]] = 1;
    free(pos);
    free(neg);
    free(key);
    return RT_OK;
}

rt_status train_filter_group(const rollout_trajectory *g, size_t n, const train_filter_opts *o, uint8_t *keep,
                             train_filter_counts *counts, rt_error *err) {
    for (size_t s = 0; s < n; s++) keep[s] = 1;
    if (o->resample_on_correct) {
        size_t k = o->keep ? o->keep : n / 2;
        rt_status st = train_roc_select(g, n, k, o->seed, keep, err);
        if (st) return st;
        for (size_t s = 0; s < n; s++) counts->resampled += !keep[s];
    }
    /* The other filters look at the samples still kept. */
    size_t kept = 0, first = n;
    int flat = 1;
    for (size_t s = 0; s < n; s++) {
        if (!keep[s]) continue;
        if (first == n) first = s;
        flat &= g[s].reward == g[first].reward;
        kept++;
    }
    if (o->drop_flat_groups && flat && kept > 1) {
        for (size_t s = 0; s < n; s++) keep[s] = 0;
        counts->flat += kept;
        return RT_OK;
    }
    if (o->drop_void) {
        for (size_t s = 0; s < n; s++) {
            if (keep[s] && g[s].n_calls == 0 && (g[s].flags & ROLLOUT_FLAG_NO_ANSWER)) {
                keep[s] = 0;
                counts->void_turns++;
            }
        }
    }
    return RT_OK;
}
