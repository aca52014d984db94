/* Server metrics in Prometheus' text format (version 0.0.4): request counts by HTTP status, tokens, tool calls and
 * errors, flagged answers, batches, a request latency histogram, queue depth and requests in flight. Thread-safe. */
#ifndef RETOOL_SERVE_METRICS_H
#define RETOOL_SERVE_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_METRICS_NBUCKETS 12
#define SERVE_METRICS_NCODES 8

typedef struct serve_metrics {
    pthread_mutex_t mu;
    uint64_t by_code[SERVE_METRICS_NCODES];   /* 200, 400, 404, 405, 413, 429, 500, 503 */
    uint64_t prompt_tokens, completion_tokens, interpreter_tokens;
    uint64_t tool_calls, tool_errors, tool_refused;
    uint64_t flagged, samples, batches, batched_samples;
    uint64_t answered;          /* completion requests answered (every sample done) */
    double answer_seconds;      /* their summed wall time (the slowest sample of each) */
    uint64_t latency_count;
    double latency_sum;
    uint64_t latency_buckets[SERVE_METRICS_NBUCKETS]; /* cumulative at write time */
    int64_t queue_depth, in_flight;
} serve_metrics;

/* Zeroes m and its lock. */
void serve_metrics_init(serve_metrics *m);

/* Frees the lock. */
void serve_metrics_destroy(serve_metrics *m);

/* Counts one finished HTTP request with its status and latency in seconds. */
void serve_metrics_request(serve_metrics *m, int http_status, double latency_s);

/* Adds to a counter field under the lock (e.g. serve_metrics_add(m, &m->tool_calls, 3)). */
void serve_metrics_add(serve_metrics *m, uint64_t *field, uint64_t v);

/* Adds d to a gauge field under the lock. */
void serve_metrics_gauge(serve_metrics *m, int64_t *field, int64_t d);

/* The exposition text (malloc'd). */
char *serve_metrics_text(serve_metrics *m);

#endif
