#include "train/filter.h"

void train_filter_group(const rollout_trajectory *g, size_t k, const train_filter_opts *o, uint8_t *keep,
                        train_filter_counts *counts) {
    for (size_t s = 0; s < k; s++) keep[s] = 1;
    int flat = 1;
    for (size_t s = 1; s < k; s++) flat &= g[s].reward == g[0].reward;
    if (o->drop_flat_groups && flat && k > 1) {
        for (size_t s = 0; s < k; s++) keep[s] = 0;
        counts->flat += k;
        return;
    }
    if (o->drop_void) {
        for (size_t s = 0; s < k; s++) {
            if (g[s].n_calls == 0 && (g[s].flags & ROLLOUT_FLAG_NO_ANSWER)) {
                keep[s] = 0;
                counts->void_turns++;
            }
        }
    }
    if (o->resample_on_correct) {
        int clean_correct = 0;
        for (size_t s = 0; s < k; s++)
            clean_correct |= keep[s] && g[s].reward > 0 && !(g[s].flags & ROLLOUT_FLAG_TOOL_ERROR);
        for (size_t s = 0; clean_correct && s < k; s++) {
            if (keep[s] && g[s].reward > 0 && (g[s].flags & ROLLOUT_FLAG_TOOL_ERROR)) {
                keep[s] = 0;
                counts->resampled++;
            }
        }
    }
}
