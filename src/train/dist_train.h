/* The trainers' side of data parallelism (train/dist.h underneath): rank 0 alone owns the run directory, every rank
 * starts from the same checkpoint and checks that its model and state equal rank 0's, and gradients are summed over
 * ranks before clipping and the optimizer step. In a single process all of it reduces to the plain calls. */
#ifndef RETOOL_TRAIN_DIST_TRAIN_H
#define RETOOL_TRAIN_DIST_TRAIN_H

#include <cjson/cJSON.h>

#include "base/error.h"
#include "model/model.h"
#include "train/checkpoint.h"
#include "train/rundir.h"

/* Rank 0 opens the run directory (train_rundir_open); the other ranks only note its path and write nothing. */
rt_status train_dist_rundir_open(train_rundir *rd, const char *path, const cJSON *config, rt_error *err);

/* The newest complete checkpoint's step as rank 0 sees it (-1 when none), the same on every rank. */
rt_status train_dist_latest_checkpoint(const train_rundir *rd, int64_t *step, rt_error *err);

/* Fails on every rank, naming what, unless every rank holds rank 0's parameters (and AdamW moments and step when
 * allocated). */
rt_status train_dist_check_model(const model *m, const char *what, rt_error *err);

/* Fails on every rank unless every rank holds rank 0's run state (step, epoch, data position, RNG). */
rt_status train_dist_check_state(const train_state *s, rt_error *err);

/* Sums the gradients of m over ranks (in place). */
rt_status train_dist_sum_grads(model *m, rt_error *err);

#endif
