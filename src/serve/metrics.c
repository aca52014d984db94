#include "serve/metrics.h"

#include <string.h>

#include "base/strbuf.h"

static const int codes[SERVE_METRICS_NCODES] = {200, 400, 404, 405, 413, 429, 500, 503};
static const double bounds[SERVE_METRICS_NBUCKETS] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void serve_metrics_init(serve_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void serve_metrics_destroy(serve_metrics *m) { pthread_mutex_destroy(&m->mu); }

void serve_metrics_request(serve_metrics *m, int http_status, double latency_s) {
    pthread_mutex_lock(&m->mu);
    int k = SERVE_METRICS_NCODES - 2; /* unknown codes count as 500 */
    for (int i = 0; i < SERVE_METRICS_NCODES; i++)
        if (codes[i] == http_status) k = i;
    m->by_code[k]++;
    m->latency_count++;
    m->latency_sum += latency_s;
    for (int i = 0; i < SERVE_METRICS_NBUCKETS; i++)
        if (latency_s <= bounds[i]) m->latency_buckets[i]++;
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_add(serve_metrics *m, uint64_t *field, uint64_t v) {
    pthread_mutex_lock(&m->mu);
    *field += v;
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_gauge(serve_metrics *m, int64_t *field, int64_t d) {
    pthread_mutex_lock(&m->mu);
    *field += d;
    pthread_mutex_unlock(&m->mu);
}

static void counter(rt_strbuf *b, const char *name, const char *help, uint64_t v) {
    rt_strbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

char *serve_metrics_text(serve_metrics *m) {
    rt_strbuf b = {0};
    pthread_mutex_lock(&m->mu);
    rt_strbuf_puts(&b, "# HELP retool_requests_total HTTP requests answered, by status code.\n"
                       "# TYPE retool_requests_total counter\n");
    for (int i = 0; i < SERVE_METRICS_NCODES; i++)
        rt_strbuf_printf(&b, "retool_requests_total{code=\"%d\"} %llu\n", codes[i],
                         (unsigned long long)m->by_code[i]);
    counter(&b, "retool_prompt_tokens_total", "Prompt tokens of completed samples.", m->prompt_tokens);
    counter(&b, "retool_completion_tokens_total", "Response tokens (model and interpreter) of completed samples.",
            m->completion_tokens);
    counter(&b, "retool_interpreter_tokens_total", "Interpreter-output tokens inside responses.", m->interpreter_tokens);
    counter(&b, "retool_tool_calls_total", "Tool calls run in the sandbox.", m->tool_calls);
    counter(&b, "retool_tool_errors_total", "Tool calls that failed (error, timeout, sandbox error, bad format).",
            m->tool_errors);
    counter(&b, "retool_tool_calls_refused_total", "Tool calls refused by the tool-call budget.", m->tool_refused);
    counter(&b, "retool_samples_total", "Samples (choices) generated.", m->samples);
    counter(&b, "retool_review_flagged_total", "Requests flagged for review.", m->flagged);
    counter(&b, "retool_batches_total", "Batches run through the rollout engine.", m->batches);
    counter(&b, "retool_batched_samples_total", "Samples over all batches (divide by batches for the mean width).",
            m->batched_samples);
    rt_strbuf_puts(&b, "# HELP retool_request_duration_seconds Time from request to response.\n"
                       "# TYPE retool_request_duration_seconds histogram\n");
    for (int i = 0; i < SERVE_METRICS_NBUCKETS; i++)
        rt_strbuf_printf(&b, "retool_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                         (unsigned long long)m->latency_buckets[i]);
    rt_strbuf_printf(&b, "retool_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                     (unsigned long long)m->latency_count);
    rt_strbuf_printf(&b, "retool_request_duration_seconds_sum %.6f\n", m->latency_sum);
    rt_strbuf_printf(&b, "retool_request_duration_seconds_count %llu\n", (unsigned long long)m->latency_count);
    rt_strbuf_printf(&b, "# HELP retool_queue_depth Requests waiting for the next batch.\n# TYPE retool_queue_depth "
                         "gauge\nretool_queue_depth %lld\n", (long long)m->queue_depth);
    rt_strbuf_printf(&b, "# HELP retool_requests_in_flight Completion requests admitted and not yet answered.\n"
                         "# TYPE retool_requests_in_flight gauge\nretool_requests_in_flight %lld\n",
                     (long long)m->in_flight);
    pthread_mutex_unlock(&m->mu);
    return rt_strbuf_take(&b);
}
