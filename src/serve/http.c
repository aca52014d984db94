/* The HTTP side of the server (see server.h). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timer.h"
#include "serve/http_internal.h"
#include "serve/queue.h"
#include "serve/response.h"

void serve_config_default(serve_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->model_name = "retool";
    cfg->max_body_bytes = 1 << 20;
    cfg->max_concurrent = 64;
    cfg->caps = serve_caps_defaults();
    cfg->review = serve_review_defaults();
    cfg->sched.tools = ROLLOUT_TOOLS_STATELESS;
    cfg->sched.window_s = 0.01;
    cfg->sched.max_batch = 16;
    cfg->sched.max_interpreter_tokens = 2048;
    cfg->sched.shape = rollout_shape_defaults();
}

enum MHD_Result serve_http_send_text(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, unsigned code, char *text,
                                 const char *type) {
    if (!text) {
        text = strdup("{\"error\": {\"message\": \"out of memory\", \"type\": \"server_error\", \"param\": null, "
                      "\"code\": null}}");
        code = 500;
        if (!text) return MHD_NO;
    }
    serve_metrics_request(&s->metrics, (int)code, rt_time_now() - ctx->t0);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (!strncmp(type, "text/event-stream", 17)) MHD_add_response_header(r, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result serve_http_send_json(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, unsigned code, cJSON *o) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return serve_http_send_text(s, ctx, c, code, text, "application/json");
}

enum MHD_Result serve_http_send_error(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, unsigned code,
                                  const char *msg, const char *type, const char *param, const char *ecode) {
    return serve_http_send_text(s, ctx, c, code, serve_error_body(msg, type, param, ecode), "application/json");
}

void serve_http_count(serve_server *s, const rollout_trajectory *t, size_t n, int flagged) {
    serve_metrics *m = &s->metrics;
    pthread_mutex_lock(&m->mu);
    m->samples += n;
    m->flagged += flagged != 0;
    m->answered++;
    if (n) m->prompt_tokens += t[0].n_prompt;
    double slowest = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].wall_s > slowest) slowest = t[i].wall_s;
        m->completion_tokens += t[i].n_response;
        for (size_t k = 0; k < t[i].n_calls; k++) {
            const rollout_tool_call *c = &t[i].calls[k];
            m->interpreter_tokens += c->n_tokens;
            if (c->refused) m->tool_refused++;
            else if (c->code) m->tool_calls++;
            if (!c->refused && c->status != ROLLOUT_EXEC_OK) m->tool_errors++;
        }
    }
    m->answer_seconds += slowest;
    pthread_mutex_unlock(&m->mu);
}

void serve_http_free_trajectories(serve_job *job, size_t n) {
    for (size_t i = 0; job->traj && i < n; i++) rollout_trajectory_free(&job->traj[i]);
    free(job->traj);
    job->traj = NULL;
}

cJSON *serve_http_finalize(serve_server *s, const serve_request *req, serve_job *job, rt_error *err) {
    size_t n = (size_t)req->n;
    int *cut = calloc(n, sizeof *cut);
    if (!cut) {
        rt_err_set(err, RT_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) cut[i] = serve_apply_stop(&job->traj[i], req);
    serve_review rv;
    char id[64];
    snprintf(id, sizeof id, "chatcmpl-%llx-%llu", (unsigned long long)s->boot, (unsigned long long)job->number);
    if (serve_review_judge(&s->cfg.review, job->traj, n, &rv, err)) {
        free(cut);
        return NULL;
    }
    int queued = rv.any && s->cfg.review_queue;
    cJSON *o = serve_completion_json(id, (int64_t)rt_time_wall(), s->cfg.model_name, req, job->traj, cut, &rv,
                                     queued ? id : NULL);
    if (queued) {
        cJSON *entry = serve_review_entry(id, req, o);
        rt_error qerr;
        if (serve_queue_append(s->cfg.review_queue, entry, &qerr)) {
            rt_log_error("serve: %s: cannot queue for review: %s", id, qerr.msg);
            cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "retool");
            cJSON_ReplaceItemInObject(x, "review_id", cJSON_CreateNull());
            cJSON_AddStringToObject(x, "review_queue_error", qerr.msg);
        }
        cJSON_Delete(entry);
    }
    serve_http_count(s, job->traj, n, rv.any != 0);
    serve_review_free(&rv);
    free(cut);
    return o;
}

static enum MHD_Result completions(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c) {
    serve_request req;
    serve_req_error re;
    rt_error err;
    rt_err_clear(&err);
    if (serve_request_parse(ctx->body.buf, ctx->body.len, &s->cfg.caps, &req, &re, &err))
        return serve_http_send_error(s, ctx, c, (unsigned)re.http, err.msg, re.type, re.param, re.code);
    if (strcmp(req.model, s->cfg.model_name)) {
        char msg[400];
        snprintf(msg, sizeof msg, "The model '%.100s' does not exist; this server serves '%.100s'", req.model,
                 s->cfg.model_name);
        serve_request_free(&req);
        return serve_http_send_error(s, ctx, c, 404, msg, "invalid_request_error", "model", "model_not_found");
    }
    int32_t *prompt = NULL;
    size_t n_prompt = 0;
    const serve_backend *b = &s->cfg.sched.backend;
    if (b->prompt(b->prompt_ctx, req.msgs, req.n_msgs, &prompt, &n_prompt, &err)) {
        serve_request_free(&req);
        return serve_http_send_error(s, ctx, c, 400, err.msg, "invalid_request_error", "messages", "invalid_value");
    }
    if (b->context_len && n_prompt + 1 >= b->context_len) {
        char msg[200];
        snprintf(msg, sizeof msg, "The prompt is %zu tokens; this model's context is %zu tokens", n_prompt,
                 b->context_len);
        free(prompt);
        serve_request_free(&req);
        return serve_http_send_error(s, ctx, c, 400, msg, "invalid_request_error", "messages", "context_length_exceeded");
    }
    if (atomic_fetch_add(&s->in_flight, 1) >= s->cfg.max_concurrent) {
        atomic_fetch_sub(&s->in_flight, 1);
        free(prompt);
        serve_request_free(&req);
        char msg[200];
        snprintf(msg, sizeof msg, "Too many requests in flight (the limit is %d); retry later", s->cfg.max_concurrent);
        return serve_http_send_error(s, ctx, c, 429, msg, "rate_limit_error", NULL, "rate_limit_exceeded");
    }
    serve_metrics_gauge(&s->metrics, &s->metrics.in_flight, 1);
    if (req.stream) return serve_http_stream(s, ctx, c, &req, prompt, n_prompt);
    serve_job job;
    memset(&job, 0, sizeof job);
    job.req = &req;
    job.prompt = prompt;
    job.n_prompt = n_prompt;
    job.number = atomic_fetch_add(&s->next_number, 1) + 1;
    serve_sched_run(s->sched, &job);
    enum MHD_Result ret;
    if (job.status) {
        unsigned code = job.status == RT_EBUSY ? 503 : 500;
        ret = serve_http_send_error(s, ctx, c, code, job.err.msg, "server_error", NULL, NULL);
    } else {
        cJSON *o = serve_http_finalize(s, &req, &job, &err);
        if (!o) ret = serve_http_send_error(s, ctx, c, 500, err.msg, "server_error", NULL, NULL);
        else ret = serve_http_send_json(s, ctx, c, 200, o);
    }
    serve_http_free_trajectories(&job, (size_t)req.n);
    serve_metrics_gauge(&s->metrics, &s->metrics.in_flight, -1);
    atomic_fetch_sub(&s->in_flight, 1);
    free(prompt);
    serve_request_free(&req);
    return ret;
}

static enum MHD_Result get_endpoint(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, const char *url) {
    if (!strcmp(url, "/health")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        cJSON_AddStringToObject(o, "model", s->cfg.model_name);
        cJSON_AddNumberToObject(o, "in_flight", (double)atomic_load(&s->in_flight));
        return serve_http_send_json(s, ctx, c, 200, o);
    }
    if (!strcmp(url, "/metrics"))
        return serve_http_send_text(s, ctx, c, 200, serve_metrics_text(&s->metrics), "text/plain; version=0.0.4");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", s->cfg.model_name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)s->boot);
    cJSON_AddStringToObject(m, "owned_by", "retool");
    if (!strcmp(url, "/v1/models")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "object", "list");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "data"), m);
        return serve_http_send_json(s, ctx, c, 200, o);
    }
    const char *id = url + strlen("/v1/models/");
    if (strcmp(id, s->cfg.model_name)) {
        cJSON_Delete(m);
        char msg[300];
        snprintf(msg, sizeof msg, "The model '%.100s' does not exist", id);
        return serve_http_send_error(s, ctx, c, 404, msg, "invalid_request_error", "model", "model_not_found");
    }
    return serve_http_send_json(s, ctx, c, 200, m);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    (void)version;
    serve_server *s = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return MHD_NO;
        ctx->t0 = rt_time_now();
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rt_body_append(&ctx->body, upload_data, *upload_size, s->cfg.max_body_bytes)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (s->cfg.dashboard && dash_owns(url)) {
        if (ctx->body.too_large)
            return serve_http_send_error(s, ctx, c, 413, "The request body is too large", "invalid_request_error", NULL,
                                         "request_too_large");
        return dash_handle(s->cfg.dashboard, c, url, method, ctx->body.buf, ctx->body.len);
    }
    int is_get = !strcmp(method, "GET"), is_post = !strcmp(method, "POST");
    int get_path = !strcmp(url, "/health") || !strcmp(url, "/metrics") || !strcmp(url, "/v1/models") ||
                   !strncmp(url, "/v1/models/", 11);
    int post_path = !strcmp(url, "/v1/chat/completions");
    if (!get_path && !post_path) {
        char msg[300];
        snprintf(msg, sizeof msg, "No endpoint %.200s: use POST /v1/chat/completions, GET /v1/models, GET /health or "
                                  "GET /metrics", url);
        return serve_http_send_error(s, ctx, c, 404, msg, "invalid_request_error", NULL, "unknown_url");
    }
    if ((get_path && !is_get) || (post_path && !is_post)) {
        char msg[200];
        snprintf(msg, sizeof msg, "%.20s is not allowed on %.100s (use %s)", method, url, get_path ? "GET" : "POST");
        return serve_http_send_error(s, ctx, c, 405, msg, "invalid_request_error", NULL, "method_not_allowed");
    }
    if (get_path) return get_endpoint(s, ctx, c, url);
    if (ctx->body.too_large) {
        char msg[200];
        snprintf(msg, sizeof msg, "The request body is over this server's limit of %zu bytes", s->cfg.max_body_bytes);
        return serve_http_send_error(s, ctx, c, 413, msg, "invalid_request_error", NULL, "request_too_large");
    }
    return completions(s, ctx, c);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    conn_ctx *ctx = *con_cls;
    if (ctx) {
        rt_body_free(&ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

rt_status serve_server_start(serve_server **out, const serve_config *cfg, rt_error *err) {
    if (cfg->max_concurrent < 1) return rt_err_set(err, RT_EINVAL, "--max-concurrent must be at least 1");
    if ((size_t)cfg->caps.max_n > cfg->sched.max_batch)
        return rt_err_set(err, RT_EINVAL, "the cap on n (%lld) is over the batch size (%zu)",
                          (long long)cfg->caps.max_n, cfg->sched.max_batch);
    serve_server *s = calloc(1, sizeof *s);
    if (!s) return rt_err_set(err, RT_ENOMEM, "out of memory");
    s->cfg = *cfg;
    s->boot = (uint64_t)rt_time_wall();
    serve_metrics_init(&s->metrics);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    rt_status st = RT_OK;
    if (cfg->port < 0 || cfg->port > 65535 || inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1)
        st = rt_err_set(err, RT_EINVAL, "--host %s --port %d: not an IPv4 address and port", cfg->host, cfg->port);
    if (!st) st = serve_sched_start(&s->sched, &cfg->sched, &s->metrics, err);
    if (st) {
        serve_metrics_destroy(&s->metrics);
        free(s);
        return st;
    }
    /* Room for the requests in flight plus as many again to be told 429, and the GETs. */
    unsigned limit = (unsigned)cfg->max_concurrent * 2 + 16;
    s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_LISTENING_ADDRESS_REUSE,
                                 (unsigned)1, MHD_OPTION_END);
    if (!s->daemon) {
        serve_sched_stop(s->sched);
        serve_sched_free(s->sched);
        serve_metrics_destroy(&s->metrics);
        free(s);
        return rt_err_set(err, RT_EIO, "cannot listen on %s:%d (in use, or not an address of this host)", cfg->host,
                          cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return RT_OK;
}

int serve_server_port(const serve_server *s) { return s->port; }

serve_metrics *serve_server_metrics(serve_server *s) { return &s->metrics; }

void serve_server_stop(serve_server *s) {
    if (!s) return;
    serve_sched_stop(s->sched);
    MHD_stop_daemon(s->daemon);
    serve_sched_free(s->sched);
    serve_metrics_destroy(&s->metrics);
    free(s);
}
