/* Choosing the sandbox behind a rollout from a user's spec: "none", "local" (the in-process pool), or a
 * comma-separated list of SandboxFusion server URLs. */
#ifndef RETOOL_PIPELINE_EXECUTOR_H
#define RETOOL_PIPELINE_EXECUTOR_H

#include "base/error.h"
#include "rollout/ops.h"

typedef struct pipe_executor pipe_executor;

/* Starts the executor the spec names (NULL or "none": *out is NULL and ops are unset). workers sizes a local pool. */
rt_status pipe_executor_open(const char *spec, int workers, pipe_executor **out, rt_error *err);

/* The executor interface (valid until pipe_executor_close). */
rollout_executor pipe_executor_ops(pipe_executor *x);

/* Stops the executor and whatever it started. NULL is fine. */
void pipe_executor_close(pipe_executor *x);

#endif
