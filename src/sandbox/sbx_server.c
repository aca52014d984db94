/* The HTTP server (see server.h): one libmicrohttpd event-loop thread. A /run_code request suspends its connection,
 * submits its job with a callback and is resumed when the result is in (no thread waits on a job); a /run_jupyter
 * request, which runs its cells one after the other, does so on a thread of its own and is resumed the same way. */
#include <arpa/inet.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/body.h"
#include "base/log.h"
#include "base/timer.h"
#include "sandbox/fusion.h"
#include "sandbox/sandbox.h"
#include "sandbox/server.h"

struct sbx_server {
    struct MHD_Daemon *daemon;
    sbx_pool *pool;
    sbx_server_config cfg;
    atomic_ullong next_id;
    atomic_int suspended; /* connections waiting on the sandbox: the daemon may only stop at zero */
    atomic_int unsent;    /* requests taken to the sandbox whose answer is not yet sent (or their connection closed) */
    int port;
    /* Every open TCP connection (event-loop thread only), to shed idle ones when the slots run short. */
    struct tcp_conn *conns;
    int nconns;
    double log_t;     /* libmicrohttpd's messages: the second of the last one written */
    long log_dropped; /* and how many were dropped since */
};

/* One TCP connection, from accept to close (the socket context of libmicrohttpd). */
typedef struct tcp_conn {
    struct MHD_Connection *c;
    struct tcp_conn *prev, *next;
    int busy;    /* its request is with the sandbox: never shed */
    int hurried; /* its idle timeout was shortened */
} tcp_conn;

/* Past this share of the slots, every connection not waiting on the sandbox gets a 1 s idle timeout: connections
 * that send nothing (a header-only request, a slow drip from many addresses) leave room for the others within about
 * a second instead of read_timeout_s. */
#define SHED_NUM 3
#define SHED_DEN 4

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe) {
    sbx_server *s = cls;
    tcp_conn *t = *socket_ctx;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (!t) return;
        if (t->prev)
            t->prev->next = t->next;
        else
            s->conns = t->next;
        if (t->next) t->next->prev = t->prev;
        s->nconns--;
        free(t);
        *socket_ctx = NULL;
        return;
    }
    t = calloc(1, sizeof *t);
    if (!t) return;
    t->c = c;
    t->next = s->conns;
    if (s->conns) s->conns->prev = t;
    s->conns = t;
    s->nconns++;
    *socket_ctx = t;
    if ((long)s->nconns * SHED_DEN < (long)s->cfg.max_connections * SHED_NUM) return;
    for (tcp_conn *o = s->conns; o; o = o->next)
        if (o != t && !o->busy && !o->hurried) {
            o->hurried = 1;
            MHD_set_connection_option(o->c, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
        }
}

/* Marks c's request as with the sandbox (busy = 1) or answered (busy = 0): a busy connection is never shed. */
static void conn_busy(struct MHD_Connection *c, int busy) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tcp_conn *t = ci ? ci->socket_context : NULL;
    if (t) t->busy = busy;
}

enum { CONN_READING, CONN_WAITING, CONN_READY };

typedef struct conn_ctx {
    rt_body body;
    sbx_server *srv;
    struct MHD_Connection *conn;
    atomic_int state;
    uint64_t id;
    double t0;
    double t_open;      /* when the handler first saw the request (its headers were in) */
    size_t body_bytes;  /* the body's size, kept after it is freed */
    unsigned http_code; /* the answer, once CONN_READY */
    cJSON *resp;
    char *resp_text;   /* a /run_code answer built off the event loop (instead of resp) */
    sbx_fusion_req fr; /* a /run_code request while its job runs */
    sbx_result res;    /* its result */
    int res_ok;        /* res holds a copy */
    int unsent;        /* counted in srv->unsent until the request completes */
} conn_ctx;

void sbx_server_config_default(sbx_server_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->max_body_bytes = 16 << 20;
    cfg->max_connections = 256;
    cfg->max_client_conns = 32;
    cfg->read_timeout_s = 30;
    cfg->default_memory_mb = 1024;
    cfg->max_memory_mb = 2048;
    cfg->max_run_timeout_s = 300;
    cfg->max_fetch_bytes = 8 << 20;
    cfg->max_answer_bytes = 8 << 20;
}

/* Answers of at least this size give their memory back to the system once sent: after a burst of large answers the
 * server's RSS returns to its idle size instead of keeping its peak. */
#define TRIM_BYTES ((size_t)1 << 20)

static void free_answer(void *text) {
    size_t n = strlen(text);
    free(text);
    if (n >= TRIM_BYTES) malloc_trim(0);
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned code, char *text, const char *type) {
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free_answer);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned code, cJSON *o) {
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return MHD_NO;
    return respond_text(c, code, text, "application/json");
}

static void audit(sbx_server *s, uint64_t id, const char *endpoint, const char *code, size_t code_len,
                  const char *status, int http, const sbx_result *res, double t0) {
    if (!s->cfg.audit) return;
    sbx_audit_entry e = {.request_id = id,
                         .endpoint = endpoint,
                         .code = code,
                         .code_len = code_len,
                         .status = status,
                         .http_status = http,
                         .total_s = rt_time_now() - t0};
    if (res) {
        e.wall_s = res->wall_s;
        e.queue_s = res->queue_s;
        e.cpu_s = res->cpu_s;
        e.stdout_bytes = res->out_len;
        e.stderr_bytes = res->err_len;
    }
    if (sbx_audit_write(s->cfg.audit, &e)) rt_log_warn("sandbox: writing the audit log failed");
}

/* Marks ctx answered and hands its connection back to the event loop (any thread). */
static void finish(conn_ctx *ctx) {
    sbx_server *s = ctx->srv;
    atomic_store(&ctx->state, CONN_READY);
    MHD_resume_connection(ctx->conn);
    atomic_fetch_sub(&s->suspended, 1);
}

/* Takes the connection off the event loop until finish (called before the work starts, so finish can never come
 * first). */
static void suspend(sbx_server *s, conn_ctx *ctx, struct MHD_Connection *c) {
    ctx->conn = c;
    atomic_store(&ctx->state, CONN_WAITING);
    if (!ctx->unsent) {
        ctx->unsent = 1;
        atomic_fetch_add(&s->unsent, 1);
    }
    atomic_fetch_add(&s->suspended, 1);
    conn_busy(c, 1);
    MHD_suspend_connection(c);
}

/* Runs fn(ctx) on a detached thread; 0, or -1 when no thread could be started. */
static int spawn(void *(*fn)(void *), conn_ctx *ctx) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &attr, fn, ctx);
    pthread_attr_destroy(&attr);
    return e ? -1 : 0;
}

/* The answer to a /run_code request whose job has finished (the event-loop thread, or answer_thread). */
static void run_answer(sbx_server *s, conn_ctx *ctx) {
    if (ctx->res_ok) {
        ctx->resp = sbx_fusion_run_response(&ctx->res);
        ctx->http_code = MHD_HTTP_OK;
        audit(s, ctx->id, "/run_code", ctx->fr.code, ctx->fr.code_len, sbx_status_name(ctx->res.status), 200, &ctx->res,
              ctx->t0);
        sbx_result_free(&ctx->res);
        ctx->res_ok = 0;
    } else {
        ctx->resp = sbx_fusion_error_response("sandbox: out of memory copying the result");
        ctx->http_code = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    sbx_fusion_req_free(&ctx->fr);
}

/* Results of this many bytes or more get their answer (base64, JSON escaping: tens of milliseconds for megabytes) built
 * on a thread of their own: neither the supervisor nor the event loop waits on one client's large answer. */
#define INLINE_ANSWER_BYTES ((size_t)256 << 10)

static void *answer_thread(void *arg) {
    conn_ctx *ctx = arg;
    run_answer(ctx->srv, ctx);
    ctx->resp_text = cJSON_PrintUnformatted(ctx->resp);
    cJSON_Delete(ctx->resp);
    ctx->resp = NULL;
    if (!ctx->resp_text) ctx->resp = sbx_fusion_error_response("sandbox: out of memory building the answer");
    finish(ctx);
    return NULL;
}

/* The pool's callback (supervisor thread): keeps a copy of the result and wakes the connection. */
static void run_done(const sbx_result *res, void *user) {
    conn_ctx *ctx = user;
    ctx->res_ok = sbx_result_copy(&ctx->res, res) == RT_OK;
    size_t bytes = ctx->res.out_len + ctx->res.err_len;
    for (size_t i = 0; ctx->res_ok && i < ctx->res.nfiles; i++)
        bytes += ctx->res.files[i].len;
    if (ctx->res_ok && bytes >= INLINE_ANSWER_BYTES && !spawn(answer_thread, ctx)) return;
    finish(ctx);
}

/* Parses a /run_code request and submits its job (the event-loop thread for a small body, a thread of its own for a
 * large one); the connection was suspended before, and is resumed by run_done or here on a refusal. */
static void run_start(sbx_server *s, conn_ctx *ctx) {
    sbx_fusion_req fr;
    rt_error err;
    rt_err_clear(&err);
    rt_status st =
        sbx_fusion_parse(ctx->body.buf, ctx->body.len, 0, s->cfg.default_memory_mb, s->cfg.max_memory_mb, &fr, &err);
    rt_body_free(&ctx->body);
    if (st) {
        unsigned code = st == RT_EUNSUPPORTED ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST;
        audit(s, ctx->id, "/run_code", NULL, 0, st == RT_EUNSUPPORTED ? "unsupported" : "bad-request", (int)code, NULL,
              ctx->t0);
        ctx->http_code = code;
        ctx->resp = sbx_fusion_error_response(err.msg);
        finish(ctx);
        return;
    }
    if (fr.limits.wall_s > s->cfg.max_run_timeout_s) fr.limits.wall_s = fr.limits.cpu_s = s->cfg.max_run_timeout_s;
    fr.limits.fetch_bytes = s->cfg.max_fetch_bytes;
    sbx_request req = {.code = fr.code,
                       .code_len = fr.code_len,
                       .stdin_data = fr.stdin_data,
                       .stdin_len = fr.stdin_len,
                       .files = fr.files,
                       .nfiles = fr.nfiles,
                       .fetch = (const char *const *)fr.fetch,
                       .nfetch = fr.nfetch,
                       .limits = fr.limits};
    ctx->fr = fr;
    st = sbx_pool_submit(s->pool, &req, run_done, ctx, NULL, &err);
    if (st) {
        unsigned code = st == RT_EBUSY ? MHD_HTTP_TOO_MANY_REQUESTS : MHD_HTTP_BAD_REQUEST;
        audit(s, ctx->id, "/run_code", fr.code, fr.code_len, st == RT_EBUSY ? "busy" : "bad-request", (int)code, NULL,
              ctx->t0);
        sbx_fusion_req_free(&ctx->fr);
        ctx->http_code = code;
        ctx->resp = sbx_fusion_error_response(err.msg);
        finish(ctx);
    }
}

static void *run_start_thread(void *arg) {
    conn_ctx *ctx = arg;
    run_start(ctx->srv, ctx);
    return NULL;
}

/* Bodies up to this size are parsed on the event-loop thread (a few hundred microseconds at most); larger ones on a
 * thread of their own, so that no client's body stalls the others' requests. */
#define INLINE_PARSE_BYTES ((size_t)256 << 10)

static enum MHD_Result run_code(sbx_server *s, struct MHD_Connection *c, conn_ctx *ctx, uint64_t id) {
    ctx->id = id;
    ctx->t0 = rt_time_now();
    suspend(s, ctx, c);
    if (ctx->body.len <= INLINE_PARSE_BYTES) {
        run_start(s, ctx);
    } else if (spawn(run_start_thread, ctx)) {
        ctx->http_code = MHD_HTTP_SERVICE_UNAVAILABLE;
        ctx->resp = sbx_fusion_error_response("sandbox server: cannot start a thread to parse this request");
        finish(ctx);
    }
    return MHD_YES;
}

/* A /run_jupyter request, start to end, on its own thread: the answer goes to ctx. */
static void jupyter_work(sbx_server *s, conn_ctx *ctx, uint64_t id) {
    double t0 = rt_time_now();
    sbx_fusion_req fr;
    rt_error err;
    rt_err_clear(&err);
    rt_status st =
        sbx_fusion_parse(ctx->body.buf, ctx->body.len, 1, s->cfg.default_memory_mb, s->cfg.max_memory_mb, &fr, &err);
    rt_body_free(&ctx->body);
    if (!st && fr.nfetch) {
        sbx_fusion_req_free(&fr);
        st = rt_err_set(&err, RT_EUNSUPPORTED, "fetch_files is not supported by /run_jupyter (use /run_code)");
    }
    if (st) {
        audit(s, id, "/run_jupyter", NULL, 0, "bad-request", st == RT_EUNSUPPORTED ? 200 : 400, NULL, t0);
        ctx->http_code = st == RT_EUNSUPPORTED ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST;
        ctx->resp = sbx_fusion_error_response(err.msg);
        return;
    }
    /* Capped like /run_code's run_timeout: the session's CPU limit is the total. */
    if (fr.total_timeout_s > s->cfg.max_run_timeout_s) fr.total_timeout_s = s->cfg.max_run_timeout_s;
    if (fr.cell_timeout_s > s->cfg.max_run_timeout_s) fr.cell_timeout_s = s->cfg.max_run_timeout_s;
    sbx_limits lim = fr.limits;
    lim.wall_s = fr.total_timeout_s;
    lim.cpu_s = fr.total_timeout_s;
    sbx_session *sess;
    st = sbx_session_open(s->pool, &lim, fr.files, fr.nfiles, &sess, &err);
    if (st) {
        unsigned code = st == RT_EBUSY ? MHD_HTTP_TOO_MANY_REQUESTS : MHD_HTTP_OK;
        audit(s, id, "/run_jupyter", NULL, 0, st == RT_EBUSY ? "busy" : "sandbox-error", (int)code, NULL, t0);
        sbx_fusion_req_free(&fr);
        ctx->http_code = code;
        ctx->resp = sbx_fusion_error_response(err.msg);
        return;
    }
    cJSON *resp = cJSON_CreateObject();
    cJSON *cells = cJSON_CreateArray();
    const char *status = "Success", *driver = "Finished";
    char message[1400] = "";
    sbx_result total = {0};
    size_t code_bytes = 0, answer_cap = (size_t)s->cfg.max_answer_bytes;
    for (size_t i = 0; i < fr.ncells; i++)
        code_bytes += strlen(fr.cells[i]);
    for (size_t i = 0; i < fr.ncells; i++) {
        double left = fr.total_timeout_s - (rt_time_now() - t0);
        if (left <= 0.01) {
            status = "Failed";
            driver = "TimeLimitExceeded";
            snprintf(message, sizeof message, "total_timeout of %g s reached before cell %zu", fr.total_timeout_s, i);
            break;
        }
        /* Every cell's stdout and stderr count against the request's answer cap; a cell gets what is left. */
        size_t used = total.out_len + total.err_len, room = used < answer_cap ? (answer_cap - used) / 2 : 0;
        if (room == 0) {
            status = "Failed";
            snprintf(message, sizeof message,
                     "cells' output reached the cap of %zu bytes for one request before cell %zu", answer_cap, i);
            break;
        }
        sbx_limits cl = {0};
        cl.wall_s = fr.cell_timeout_s > 0 && fr.cell_timeout_s < left ? fr.cell_timeout_s : left;
        cl.output_bytes = room < (1 << 20) ? (int64_t)room : 1 << 20;
        sbx_result r;
        if (sbx_session_run(sess, fr.cells[i], strlen(fr.cells[i]), &cl, &r, &err)) {
            status = "SandboxError";
            snprintf(message, sizeof message, "%.1000s", err.msg);
            break;
        }
        sbx_fusion_add_cell(cells, &r);
        total.wall_s += r.wall_s;
        total.out_len += r.out_len;
        total.err_len += r.err_len;
        sbx_status rs = r.status;
        if (rs == SBX_OUTPUT_LIMIT && room < (1 << 20))
            snprintf(message, sizeof message, "cell %zu: output-limit: %s of %zu bytes for one request", i,
                     "cells' output reached the cap", answer_cap);
        else if (rs != SBX_OK)
            snprintf(message, sizeof message, "cell %zu: %s%s%s", i, sbx_status_name(rs), r.message[0] ? ": " : "",
                     r.message);
        sbx_result_free(&r);
        if (rs == SBX_SANDBOX_ERROR) status = "SandboxError";
        if (rs != SBX_OK && strcmp(status, "SandboxError")) status = "Failed";
        if (rs == SBX_TIMEOUT) driver = "TimeLimitExceeded";
        if (rs != SBX_OK) break;
    }
    sbx_session_close(sess);
    cJSON_AddStringToObject(resp, "status", status);
    cJSON_AddStringToObject(resp, "message", message);
    cJSON *drv = cJSON_AddObjectToObject(resp, "driver");
    cJSON_AddStringToObject(drv, "status", driver);
    cJSON_AddNumberToObject(drv, "execution_time", rt_time_now() - t0);
    if (!strcmp(driver, "TimeLimitExceeded"))
        cJSON_AddNullToObject(drv, "return_code");
    else
        cJSON_AddNumberToObject(drv, "return_code", strcmp(status, "Success") ? 1 : 0);
    cJSON_AddStringToObject(drv, "stdout", "");
    cJSON_AddStringToObject(drv, "stderr", "");
    cJSON_AddItemToObject(resp, "cells", cells);
    cJSON_AddStringToObject(resp, "executor_pod_name", "retool-sandbox");
    cJSON_AddObjectToObject(resp, "files");
    /* The audited hash covers every cell, joined by newlines. */
    char *joined = malloc(code_bytes + fr.ncells + 1);
    size_t jl = 0;
    for (size_t i = 0; joined && i < fr.ncells; i++) {
        size_t n = strlen(fr.cells[i]);
        memcpy(joined + jl, fr.cells[i], n);
        jl += n;
        joined[jl++] = '\n';
    }
    audit(s, id, "/run_jupyter", joined, joined ? jl : 0, status, 200, &total, t0);
    free(joined);
    sbx_fusion_req_free(&fr);
    ctx->http_code = MHD_HTTP_OK;
    ctx->resp = resp;
}

static void *jupyter_thread(void *arg) {
    conn_ctx *ctx = arg;
    jupyter_work(ctx->srv, ctx, ctx->id);
    finish(ctx);
    return NULL;
}

static enum MHD_Result run_jupyter(sbx_server *s, struct MHD_Connection *c, conn_ctx *ctx, uint64_t id) {
    ctx->id = id;
    suspend(s, ctx, c);
    if (spawn(jupyter_thread, ctx)) {
        ctx->http_code = MHD_HTTP_SERVICE_UNAVAILABLE;
        ctx->resp = sbx_fusion_error_response("sandbox server: cannot start a thread for this notebook");
        finish(ctx);
    }
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    (void)version;
    sbx_server *s = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return MHD_NO;
        ctx->srv = s;
        ctx->t_open = rt_time_now();
        *con_cls = ctx;
        /* A body announced over the cap is refused before a byte of it is read. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes)
            ctx->body.too_large = 1;
        else
            return MHD_YES;
    }
    int state = atomic_load(&ctx->state);
    if (state == CONN_WAITING) return MHD_YES; /* not resumed yet */
    if (state == CONN_READY) {
        conn_busy(c, 0);
        if (ctx->resp_text) {
            char *text = ctx->resp_text;
            ctx->resp_text = NULL;
            return respond_text(c, ctx->http_code, text, "application/json");
        }
        if (!ctx->resp) run_answer(s, ctx); /* a /run_code result: every other answer is built where it is decided */
        cJSON *resp = ctx->resp;
        ctx->resp = NULL;
        return resp ? respond_json(c, ctx->http_code, resp) : MHD_NO;
    }
    if (*upload_size) {
        if (rt_time_now() - ctx->t_open > s->cfg.read_timeout_s) return MHD_NO; /* a body trickling in: drop it */
        if (rt_body_append(&ctx->body, upload_data, *upload_size, s->cfg.max_body_bytes)) return MHD_NO;
        ctx->body_bytes += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    uint64_t id = atomic_fetch_add(&s->next_id, 1) + 1;
    if (!strcmp(url, "/v1/ping") || !strcmp(url, "/ping"))
        return respond_text(c, MHD_HTTP_OK, strdup("pong"), "text/plain");
    int is_run = !strcmp(url, "/run_code"), is_nb = !strcmp(url, "/run_jupyter");
    if (!is_run && !is_nb) {
        char msg[300];
        snprintf(msg, sizeof msg, "no endpoint %.200s: use POST /run_code, POST /run_jupyter or GET /v1/ping", url);
        return respond_json(c, MHD_HTTP_NOT_FOUND, sbx_fusion_error_response(msg));
    }
    if (strcmp(method, "POST"))
        return respond_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, sbx_fusion_error_response("use POST with a JSON body"));
    if (ctx->body.too_large) {
        char msg[200];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes (--max-body-mb)", s->cfg.max_body_bytes);
        audit(s, id, url, NULL, 0, "too-large", 413, NULL, rt_time_now());
        return respond_json(c, MHD_HTTP_CONTENT_TOO_LARGE, sbx_fusion_error_response(msg));
    }
    if (!ctx->body.buf) {
        audit(s, id, url, NULL, 0, "bad-request", 400, NULL, rt_time_now());
        return respond_json(c, MHD_HTTP_BAD_REQUEST, sbx_fusion_error_response("empty request body"));
    }
    return is_run ? run_code(s, c, ctx, id) : run_jupyter(s, c, ctx, id);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    sbx_server *s = cls;
    (void)c;
    (void)toe;
    conn_ctx *ctx = *con_cls;
    if (ctx) {
        if (ctx->unsent) atomic_fetch_sub(&s->unsent, 1);
        rt_body_free(&ctx->body);
        cJSON_Delete(ctx->resp);
        free(ctx->resp_text);
        if (ctx->res_ok) sbx_result_free(&ctx->res);
        sbx_fusion_req_free(&ctx->fr); /* a /run_code request closed before its answer was built (server stopping) */
        size_t body = ctx->body_bytes;
        free(ctx);
        if (body >= TRIM_BYTES) malloc_trim(0);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's messages (event-loop thread), at most one a second: a client that opens connections past the limit
 * would otherwise make the server write a line for each. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    sbx_server *s = cls;
    double now = rt_time_now();
    if (now - s->log_t < 1) {
        s->log_dropped++;
        return;
    }
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = 0;
    if (s->log_dropped)
        rt_log_warn("sandbox server: %s (%ld more not shown since the last one)", msg, s->log_dropped);
    else
        rt_log_warn("sandbox server: %s", msg);
    s->log_t = now;
    s->log_dropped = 0;
}

rt_status sbx_server_start(sbx_server **out, sbx_pool *pool, const sbx_server_config *cfg, rt_error *err) {
    sbx_server *s = calloc(1, sizeof *s);
    if (!s) return rt_err_set(err, RT_ENOMEM, "sandbox server");
    s->pool = pool;
    s->cfg = *cfg;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (cfg->port < 0 || cfg->port > 65535 || inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        free(s);
        return rt_err_set(err, RT_EINVAL, "--host %s --port %d: not an IPv4 address and port", cfg->host, cfg->port);
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->max_client_conns, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->read_timeout_s + 0.999),
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return rt_err_set(err, RT_EIO, "cannot listen on %s:%d (in use, or not an address of this host)", cfg->host,
                          cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return RT_OK;
}

int sbx_server_port(const sbx_server *s) {
    return s->port;
}

void sbx_server_stop(sbx_server *s) {
    if (!s) return;
    /* libmicrohttpd may not stop with connections suspended: the requests still waiting on the sandbox finish first
     * (at once when the pool was shut down before, as `retool sandbox serve` does). */
    while (atomic_load(&s->suspended) > 0)
        usleep(5000);
    /* A resumed connection has its answer built and sent by the event loop: stopping the daemon before then would
     * close it unanswered. A client that stops reading holds the stop for 5 s at most. */
    double end = rt_time_now() + 5;
    while (atomic_load(&s->unsent) > 0 && rt_time_now() < end)
        usleep(5000);
    MHD_stop_daemon(s->daemon);
    free(s);
}
