/* Which trajectories of a group (the samples of one prompt) an RL step trains on. Each filter is a flag:
 * resample-on-correct (rStar2-Agent: the group was oversampled to twice the group size and is brought back to it,
 * keeping the best correct traces and a uniform choice of the failed ones, in the oversampled proportion), flat
 * groups (all rewards equal: no signal), and void trajectories (neither code nor a final answer: a known cause of
 * collapse). */
#ifndef RETOOL_TRAIN_FILTER_H
#define RETOOL_TRAIN_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rollout/trajectory.h"

typedef struct train_filter_opts {
    int drop_flat_groups;
    int drop_void;
    int resample_on_correct; /* keep `keep` of the (oversampled) group with train_roc_select, then the other filters */
    size_t keep;             /* the group size to bring an oversampled group back to (0: half the group) */
    uint64_t seed;           /* the random choice of failed traces and of ties; the caller varies it per group */
} train_filter_opts;

typedef struct train_filter_counts {
    size_t flat, void_turns, resampled;
} train_filter_counts;

/* How bad a correct trace is, for resample-on-correct: its failed tool calls (an error, a timeout, a sandbox error, a
 * call refused at the budget, code without a fence) plus 1 for a format error. Lower is better. */
size_t train_roc_issues(const rollout_trajectory *t);

/* Resample-on-correct (rStar2-Agent): sets keep[i] for k of the n samples g[0, n) (all of them when n <= k). The
 * correct (reward > 0) and failed ones keep the group's proportion: round(k * correct / n) correct (half up), at
 * least one of each kind when both exist and k >= 2, never more than there are. Correct traces are taken by fewest
 * train_roc_issues (ties at random); failed ones uniformly at random. Draws from seed only. */
rt_status train_roc_select(const rollout_trajectory *g, size_t n, size_t k, uint64_t seed, uint8_t *keep,
                           rt_error *err);

/* Sets keep[i] to 1 for the samples of group g[0, n) to train on, 0 for the others; adds the drops to counts
 * (resampled: the samples resample-on-correct left out). */
rt_status train_filter_group(const rollout_trajectory *g, size_t n, const train_filter_opts *o, uint8_t *keep,
                             train_filter_counts *counts, rt_error *err);

#endif
