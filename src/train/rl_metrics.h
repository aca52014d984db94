/* Per-step metrics of RL over a step's trajectories (the method's analysis curves): accuracy, reward, response
 * length, code ratio, code lines, tool calls and errors, code pass rate, invocation timing, self-corrections, sandbox
 * latency percentiles. Internal to train/. */
#ifndef RETOOL_TRAIN_RL_METRICS_H
#define RETOOL_TRAIN_RL_METRICS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "rollout/trajectory.h"

/* Adds the metrics of t[0, n) to o. */
void rl_metrics_add(cJSON *o, const rollout_trajectory *t, size_t n);

#endif
