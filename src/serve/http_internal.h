/* What the HTTP files of the server share (http.c: endpoints; http_stream.c: streamed completions). Not public. */
#ifndef RETOOL_SERVE_HTTP_INTERNAL_H
#define RETOOL_SERVE_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/body.h"
#include "serve/server.h"

struct serve_server {
    serve_config cfg;
    struct MHD_Daemon *daemon;
    serve_sched *sched;
    serve_metrics metrics;
    atomic_int in_flight;
    atomic_ullong next_number;
    uint64_t boot;
    int port;
};

typedef struct conn_ctx {
    rt_body body;
    double t0;
} conn_ctx;

/* Sends text (taken) with a status; counts the request in the metrics. */
enum MHD_Result serve_http_send_text(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, unsigned code,
                                     char *text, const char *type);

/* Sends o (taken) as JSON. */
enum MHD_Result serve_http_send_json(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, unsigned code,
                                     cJSON *o);

/* Sends an OpenAI-style error body. */
enum MHD_Result serve_http_send_error(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, unsigned code,
                                      const char *msg, const char *type, const char *param, const char *ecode);

/* Counts a finished request's samples, tokens and tool calls in the metrics. */
void serve_http_count(serve_server *s, const rollout_trajectory *t, size_t n, int flagged);

/* The completion of a finished job: stop strings applied, review judged, flagged answers queued, metrics counted.
 * NULL on failure (err says why). */
cJSON *serve_http_finalize(serve_server *s, const serve_request *req, serve_job *job, rt_error *err);

/* Frees the job's trajectories. */
void serve_http_free_trajectories(serve_job *job, size_t n);

/* Answers an admitted stream request (takes req and prompt; releases the in-flight slot when the response ends). */
enum MHD_Result serve_http_stream(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, serve_request *req,
                                  int32_t *prompt, size_t n_prompt);

#endif
