/* The OpenAI-compatible HTTP server over libmicrohttpd (one thread per connection): POST /v1/chat/completions
 * (plain JSON or server-sent events), GET /v1/models, GET /health, GET /metrics. Bad input gets a 4xx with an
 * OpenAI-style error body (400 malformed or unknown fields, 404 unknown model or path, 405 wrong method, 413 body over
 * the cap, 429 too many requests in flight) and the server goes on serving the others. */
#ifndef RETOOL_SERVE_SERVER_H
#define RETOOL_SERVE_SERVER_H

#include <stddef.h>

#include "base/error.h"
#include "serve/dash.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/review.h"
#include "serve/sched.h"

typedef struct serve_config {
    const char *host;               /* IPv4 address ("127.0.0.1") */
    int port;                       /* 0 picks a free port */
    const char *model_name;         /* the id clients name in "model" */
    size_t max_body_bytes;          /* larger bodies get 413 (default 1 MiB) */
    int max_concurrent;             /* completion requests in flight before 429 (default 64) */
    serve_caps caps;
    serve_review_config review;
    const char *review_queue;       /* JSONL file for flagged answers, or NULL */
    serve_sched_config sched;       /* backend, sandbox, audit log, batching */
    dash *dashboard;                /* answers /ui/ when set (serve/dash.h); the caller's, outlives the server */
} serve_config;

/* Fills the defaults (the backend and the sandbox are the caller's to set). */
void serve_config_default(serve_config *cfg);

typedef struct serve_server serve_server;

/* Starts the scheduler and the HTTP daemon. The backend, executor and audit log must outlive the server. */
rt_status serve_server_start(serve_server **out, const serve_config *cfg, rt_error *err);

/* The port actually bound. */
int serve_server_port(const serve_server *s);

/* The server's metrics (live). */
serve_metrics *serve_server_metrics(serve_server *s);

/* Stops: requests still waiting get 503, the batch in flight finishes, connections close; frees the server. */
void serve_server_stop(serve_server *s);

#endif
