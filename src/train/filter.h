/* Which trajectories of a group (the K samples of one prompt) an RL step trains on. Each filter is a flag:
 * flat groups (all rewards equal: no signal), void trajectories (neither code nor a final answer: a known cause of
 * collapse), and resample-on-correct (among the correct samples, drop those with tool errors when clean correct ones
 * exist, so failing code is not reinforced). */
#ifndef RETOOL_TRAIN_FILTER_H
#define RETOOL_TRAIN_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "rollout/trajectory.h"

typedef struct train_filter_opts {
    int drop_flat_groups;
    int drop_void;
    int resample_on_correct;
} train_filter_opts;

typedef struct train_filter_counts {
    size_t flat, void_turns, resampled;
} train_filter_counts;

/* Sets keep[i] to 1 for the samples of group g[0, k) to train on, 0 for the others; adds the drops to counts. */
void train_filter_group(const rollout_trajectory *g, size_t k, const train_filter_opts *o, uint8_t *keep,
                        train_filter_counts *counts);

#endif
