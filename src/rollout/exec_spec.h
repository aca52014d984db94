/* Choosing the sandbox behind a rollout from a user's spec: "none", "local" (the in-process pool),
 * "local:allow-weaker=NAME,..." (the pool, allowed to start without the protections named, see
 * `retool sandbox doctor`), or a comma-separated list of SandboxFusion server URLs. */
#ifndef RETOOL_ROLLOUT_EXEC_SPEC_H
#define RETOOL_ROLLOUT_EXEC_SPEC_H

#include "base/error.h"
#include "rollout/ops.h"

typedef struct rollout_exec_spec rollout_exec_spec;

/* Starts the executor the spec names (NULL or "none": *out is NULL and ops are unset). workers sizes a local pool. */
rt_status rollout_exec_spec_open(const char *spec, int workers, rollout_exec_spec **out, rt_error *err);

/* The executor interface (valid until rollout_exec_spec_close). */
rollout_executor rollout_exec_spec_ops(rollout_exec_spec *x);

/* Stops the executor and whatever it started. NULL is fine. */
void rollout_exec_spec_close(rollout_exec_spec *x);

#endif
