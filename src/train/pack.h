/* Packing trajectories into model batches for teacher-forced training: sequence = prompt + response; the row of
 * token r predicts token r + 1 when that token is a response token the model wrote (mask 1). */
#ifndef RETOOL_TRAIN_PACK_H
#define RETOOL_TRAIN_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/model.h"
#include "rollout/trajectory.h"

typedef struct train_packed {
    model_batch batch;
    int64_t *start;      /* [nseq + 1] */
    int32_t *tokens;     /* [N] */
    int32_t *targets;    /* [N] (-1 = no target) */
    int64_t *traj;       /* [nseq]: index of the trajectory each sequence came from */
    int64_t *resp_row;   /* [nseq]: row of the first response token's prediction (= n_prompt - 1 + start) */
    size_t n_rows, n_targets, cap_rows, cap_seq;
} train_packed;

/* Empties p for reuse (keeps its buffers). */
void train_packed_reset(train_packed *p);

/* Frees p's buffers. */
void train_packed_free(train_packed *p);

/* Appends trajectory t (index idx) cut to max_len tokens; sets *cut when it was cut. */
rt_status train_packed_add(train_packed *p, const rollout_trajectory *t, int64_t idx, size_t max_len, int *cut,
                           rt_error *err);

/* Total tokens trajectory t takes in a batch (prompt + response, at most max_len). */
size_t train_packed_len(const rollout_trajectory *t, size_t max_len);

#endif
