/* An executor that runs code on remote servers speaking SandboxFusion's API (`POST /run_code`): `retool sandbox serve`
 * on other machines, or an existing SandboxFusion deployment. Requests are spread across the servers by load; a
 * server that fails is skipped for a while and retried later; every failure reaches the model as an interpreter error
 * (status sandbox_error), never as a stalled rollout. Stateless only: each code block runs alone. */
#ifndef RETOOL_ROLLOUT_REMOTE_EXEC_H
#define RETOOL_ROLLOUT_REMOTE_EXEC_H

#include <stddef.h>

#include "base/error.h"
#include "rollout/ops.h"

typedef struct rollout_remote_config {
    const char *const *urls;      /* base URLs, e.g. "http://10.0.0.5:8080" (the path /run_code is added) */
    size_t n_urls;
    size_t max_in_flight;         /* per server (default 16) */
    double backoff_s;             /* how long a failing server is skipped (default 5) */
    double slack_s;               /* HTTP timeout = call timeout + slack (default 5) */
} rollout_remote_config;

typedef struct rollout_remote rollout_remote;

/* Starts a client for the given servers (no connection is made yet). */
rt_status rollout_remote_open(const rollout_remote_config *cfg, rollout_remote **out, rt_error *err);

/* Stops the client; requests still in flight are dropped. */
void rollout_remote_free(rollout_remote *r);

/* The executor interface over r. */
rollout_executor rollout_remote_ops(rollout_remote *r);

/* Requests sent to server i so far (for tests and metrics). */
size_t rollout_remote_sent(const rollout_remote *r, size_t i);

#endif
