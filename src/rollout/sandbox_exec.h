/* An executor over the in-process sandbox pool (src/sandbox): stateless runs, or one stateful session per trajectory
 * (variables persist across its code blocks). Results come back through the pool's callbacks into a queue that poll
 * drains; a full pool answers as an interpreter error, never by blocking. */
#ifndef RETOOL_ROLLOUT_SANDBOX_EXEC_H
#define RETOOL_ROLLOUT_SANDBOX_EXEC_H

#include "base/error.h"
#include "rollout/ops.h"
#include "sandbox/sandbox.h"

typedef struct rollout_sandbox_exec rollout_sandbox_exec;

/* An executor over pool (not owned); memory_mb and output_bytes (0 = the pool's defaults) apply to every run. */
rt_status rollout_sandbox_exec_init(rollout_sandbox_exec **out, sbx_pool *pool, int64_t memory_mb,
                                    int64_t output_bytes, rt_error *err);

/* Closes every session and frees the executor (jobs still running finish into nothing). */
void rollout_sandbox_exec_free(rollout_sandbox_exec *x);

/* The executor interface over x. */
rollout_executor rollout_sandbox_exec_ops(rollout_sandbox_exec *x);

#endif
