/* The divergence guard: before an optimizer step, a NaN or inf in the loss or in any gradient stops the step with an
 * error that names the first tensor whose gradient is not finite; the caller then writes nothing, so the last good
 * checkpoint stays as it was. */
#ifndef RETOOL_TRAIN_GUARD_H
#define RETOOL_TRAIN_GUARD_H

#include <stdint.h>

#include "base/error.h"
#include "model/model.h"

/* The name of the first tensor of m whose gradient holds a NaN or inf, or NULL when all are finite. */
const char *train_nonfinite_grad(const model *m);

/* RT_OK when loss and every gradient of m are finite; else RT_ERANGE naming what (e.g. "policy"), the step, the loss
 * and the first bad tensor. */
rt_status train_guard(const model *m, double loss, const char *what, int64_t step, rt_error *err);

#endif
