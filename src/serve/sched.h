/* The scheduler: HTTP threads hand in jobs (one request, n samples); one thread collects the jobs waiting for a short
 * window (or until a batch is full), runs those with the same budgets together through the rollout engine (rollout_run:
 * continuous batching, tool calls through the sandbox), and hands each job its trajectories. Per-request sampling
 * (temperature, top_p, seed) is applied per sequence inside a batch; requests with different budgets run in different
 * batches. */
#ifndef RETOOL_SERVE_SCHED_H
#define RETOOL_SERVE_SCHED_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rollout/engine.h"
#include "serve/audit.h"
#include "serve/backend.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/stream.h"

typedef struct serve_sched_config {
    serve_backend backend;
    const rollout_executor *exec;   /* the sandbox (NULL: tools off, text only) */
    rollout_tools_mode tools;       /* stateless (default) or stateful */
    serve_audit *audit;             /* may be NULL */
    size_t max_batch;               /* samples per batch (at most backend.max_seqs) */
    double window_s;                /* how long the first waiting job waits for company (default 0.01) */
    size_t max_interpreter_tokens;  /* per sample (default 2048) */
    double max_request_seconds;     /* wall cap of one sample (0 = none) */
    rollout_shape_config shape;
} serve_sched_config;

/* One request on its way through the scheduler. */
typedef struct serve_job {
    const serve_request *req;
    const int32_t *prompt;
    size_t n_prompt;
    uint64_t number;                /* unique per server: names trajectories "p<number>-s<k>" in the audit log */
    serve_stream *stream;           /* when set, receives the text as it is generated, and finish when done */
    /* Filled by the scheduler: */
    rollout_trajectory *traj;       /* [req->n] (owned by the job's submitter once done; free each and the array) */
    rt_status status;
    rt_error err;
    int done;
    struct serve_job *next;
} serve_job;

typedef struct serve_sched serve_sched;

/* Starts the scheduler thread. */
rt_status serve_sched_start(serve_sched **out, const serve_sched_config *cfg, serve_metrics *metrics, rt_error *err);

/* Queues a job (zero its result fields first) and waits until it is done. */
void serve_sched_run(serve_sched *s, serve_job *job);

/* Queues a job and returns at once; its stream (required) is finished when the job is done. RT_EBUSY when the
 * scheduler is stopping (the job is then not queued). */
rt_status serve_sched_submit(serve_sched *s, serve_job *job, rt_error *err);

/* Stops the thread after the batch in flight; jobs still queued, and jobs submitted later, end with RT_EBUSY
 * ("shutting down"). Idempotent. */
void serve_sched_stop(serve_sched *s);

/* Frees a stopped scheduler once no thread can still be inside serve_sched_run. NULL is fine. */
void serve_sched_free(serve_sched *s);

#endif
