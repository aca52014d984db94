/* Streamed completions (server-sent events) as the text is generated: the connection's thread reads the job's stream
 * (serve/stream.h) and writes chunks; once the job is done it sends the rest of each choice, the final chunks with
 * finish_reason and the retool extension, and [DONE]. The job lives until both the scheduler and the connection are
 * through with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "base/timer.h"
#include "serve/http_internal.h"
#include "serve/response.h"

typedef struct stream_conn {
    serve_server *s;
    serve_request req;
    int32_t *prompt;
    serve_job job;
    serve_stream st;
    rt_strbuf *sent;        /* [n] text sent per choice */
    rt_strbuf out;          /* bytes to hand to the connection */
    size_t out_pos;
    int phase;              /* 0 role chunks, 1 text as it comes, 2 final chunks, 3 end */
    int finalized;
    double t0;
    char id[64];
    int64_t created;
} stream_conn;

static void event(rt_strbuf *b, cJSON *o) {
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        b->oom = 1;
        return;
    }
    rt_strbuf_puts(b, "data: ");
    rt_strbuf_puts(b, text);
    rt_strbuf_puts(b, "\n\n");
    cJSON_free(text);
}

/* A chunk for choice index (or none when index < 0). */
static cJSON *chunk(const stream_conn *sc, cJSON **choice, int index) {
    cJSON *k = cJSON_CreateObject();
    cJSON_AddStringToObject(k, "id", sc->id);
    cJSON_AddStringToObject(k, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(k, "created", (double)sc->created);
    cJSON_AddStringToObject(k, "model", sc->s->cfg.model_name);
    cJSON *arr = cJSON_AddArrayToObject(k, "choices");
    if (index >= 0) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", index);
        cJSON_AddObjectToObject(c, "delta");
        cJSON_AddNullToObject(c, "logprobs");
        cJSON_AddItemToArray(arr, c);
        *choice = c;
    }
    if (sc->req.include_usage) cJSON_AddNullToObject(k, "usage");
    return k;
}

static void content_chunk(stream_conn *sc, int index, const char *text) {
    cJSON *c;
    cJSON *k = chunk(sc, &c, index);
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(c, "delta"), "content", text);
    cJSON_AddNullToObject(c, "finish_reason");
    event(&sc->out, k);
}

static void role_chunks(stream_conn *sc) {
    for (int i = 0; i < (int)sc->req.n; i++) {
        cJSON *c;
        cJSON *k = chunk(sc, &c, i);
        cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "delta");
        cJSON_AddStringToObject(d, "role", "assistant");
        cJSON_AddStringToObject(d, "content", "");
        cJSON_AddNullToObject(c, "finish_reason");
        event(&sc->out, k);
    }
}

/* Takes the safe new text of every choice into content chunks; returns 1 when the job is done (all taken). */
static int take_text(stream_conn *sc) {
    pthread_mutex_lock(&sc->st.mu);
    for (;;) {
        int any = 0;
        for (size_t i = 0; i < sc->st.n; i++) {
            char *t = NULL;
            size_t len = 0;
            rt_error err;
            if (serve_stream_take_locked(&sc->st, i, &sc->req, &t, &len, &err)) sc->out.oom = 1;
            if (t) {
                content_chunk(sc, (int)i, t);
                rt_strbuf_putn(&sc->sent[i], t, len);
                free(t);
                any = 1;
            }
        }
        if (sc->st.done || any) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&sc->st.cv, &sc->st.mu, &ts);
    }
    int done = sc->st.done;
    pthread_mutex_unlock(&sc->st.mu);
    return done;
}

static void final_chunks(stream_conn *sc) {
    serve_server *s = sc->s;
    if (sc->job.status) {
        char *body = serve_error_body(sc->job.err.msg, "server_error", NULL, NULL);
        if (body) {
            rt_strbuf_puts(&sc->out, "data: ");
            rt_strbuf_puts(&sc->out, body);
            rt_strbuf_puts(&sc->out, "\n\n");
            free(body);
        }
        rt_strbuf_puts(&sc->out, "data: [DONE]\n\n");
        serve_metrics_request(&s->metrics, sc->job.status == RT_EBUSY ? 503 : 500, rt_time_now() - sc->t0);
        return;
    }
    rt_error err;
    cJSON *o = serve_http_finalize(s, &sc->req, &sc->job, &err);
    sc->finalized = 1;
    if (!o) {
        char *body = serve_error_body(err.msg, "server_error", NULL, NULL);
        if (body) {
            rt_strbuf_puts(&sc->out, "data: ");
            rt_strbuf_puts(&sc->out, body);
            rt_strbuf_puts(&sc->out, "\n\ndata: [DONE]\n\n");
            free(body);
        }
        serve_metrics_request(&s->metrics, 500, rt_time_now() - sc->t0);
        return;
    }
    cJSON *ch;
    int i = 0;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(o, "choices")) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ch, "message"),
                                                                "content");
        const char *full = cJSON_IsString(content) ? content->valuestring : "";
        const rt_strbuf *sent = &sc->sent[i];
        size_t n = sent->len;
        if (n && (strlen(full) < n || memcmp(full, sent->s, n))) {
            /* Cannot happen by construction (stream.h); say so rather than send a wrong text. */
            rt_log_error("serve: %s choice %d: the streamed text is not a prefix of the answer", sc->id, i);
            n = strlen(full);
        }
        if (full[n]) content_chunk(sc, i, full + n);
        cJSON *c;
        cJSON *k = chunk(sc, &c, i);
        cJSON_AddItemToObject(c, "finish_reason",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ch, "finish_reason"), 1));
        cJSON_AddItemToObject(c, "retool", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ch, "retool"), 1));
        event(&sc->out, k);
        i++;
    }
    cJSON *k = chunk(sc, NULL, -1);
    cJSON_AddItemToObject(k, "retool", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "retool"), 1));
    if (sc->req.include_usage)
        cJSON_ReplaceItemInObject(k, "usage", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "usage"), 1));
    event(&sc->out, k);
    rt_strbuf_puts(&sc->out, "data: [DONE]\n\n");
    cJSON_Delete(o);
    serve_metrics_request(&s->metrics, 200, rt_time_now() - sc->t0);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_conn *sc = cls;
    for (;;) {
        if (sc->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (sc->out_pos < sc->out.len) {
            size_t n = sc->out.len - sc->out_pos < max ? sc->out.len - sc->out_pos : max;
            memcpy(buf, sc->out.s + sc->out_pos, n);
            sc->out_pos += n;
            return (ssize_t)n;
        }
        sc->out.len = 0;
        sc->out_pos = 0;
        if (sc->phase == 3) return MHD_CONTENT_READER_END_OF_STREAM;
        if (sc->phase == 0) {
            role_chunks(sc);
            sc->phase = 1;
        } else if (sc->phase == 1) {
            if (take_text(sc)) sc->phase = 2;
        } else {
            final_chunks(sc);
            sc->phase = 3;
        }
    }
}

static void release(void *cls) {
    stream_conn *sc = cls;
    serve_server *s = sc->s;
    /* The scheduler may still be writing to the stream (a client that left early): wait for the job. */
    pthread_mutex_lock(&sc->st.mu);
    while (!sc->st.done) pthread_cond_wait(&sc->st.cv, &sc->st.mu);
    pthread_mutex_unlock(&sc->st.mu);
    if (!sc->finalized && !sc->job.status) {
        /* The client left before the end: the answer is still judged, queued for review and counted. */
        rt_error err;
        cJSON *o = serve_http_finalize(s, &sc->req, &sc->job, &err);
        cJSON_Delete(o);
        serve_metrics_request(&s->metrics, 200, rt_time_now() - sc->t0);
    }
    serve_http_free_trajectories(&sc->job, (size_t)sc->req.n);
    for (size_t i = 0; i < (size_t)sc->req.n; i++) rt_strbuf_free(&sc->sent[i]);
    free(sc->sent);
    rt_strbuf_free(&sc->out);
    serve_stream_destroy(&sc->st);
    free(sc->prompt);
    serve_request_free(&sc->req);
    free(sc);
    serve_metrics_gauge(&s->metrics, &s->metrics.in_flight, -1);
    atomic_fetch_sub(&s->in_flight, 1);
}

enum MHD_Result serve_http_stream(serve_server *s, conn_ctx *ctx, struct MHD_Connection *c, serve_request *req,
                                  int32_t *prompt, size_t n_prompt) {
    stream_conn *sc = calloc(1, sizeof *sc);
    rt_error err;
    rt_status st = sc ? RT_OK : rt_err_set(&err, RT_ENOMEM, "out of memory");
    if (!st) {
        sc->s = s;
        sc->req = *req;
        memset(req, 0, sizeof *req);
        sc->prompt = prompt;
        sc->t0 = ctx->t0;
        sc->created = (int64_t)rt_time_wall();
        sc->sent = calloc((size_t)sc->req.n, sizeof *sc->sent);
        if (!sc->sent) st = rt_err_set(&err, RT_ENOMEM, "out of memory");
    }
    if (!st) st = serve_stream_init(&sc->st, (size_t)sc->req.n, &err);
    if (!st) {
        sc->job.req = &sc->req;
        sc->job.prompt = prompt;
        sc->job.n_prompt = n_prompt;
        sc->job.number = atomic_fetch_add(&s->next_number, 1) + 1;
        sc->job.stream = &sc->st;
        snprintf(sc->id, sizeof sc->id, "chatcmpl-%llx-%llu", (unsigned long long)s->boot,
                 (unsigned long long)sc->job.number);
        st = serve_sched_submit(s->sched, &sc->job, &err);
    }
    struct MHD_Response *r = NULL;
    if (!st) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, sc, release);
        if (!r) {
            /* The job is queued: let release wait for it and clean up. */
            release(sc);
            return MHD_NO;
        }
    }
    if (st) {
        if (sc) {
            serve_stream_destroy(&sc->st);
            free(sc->sent);
            serve_request_free(&sc->req);
            free(sc);
        } else {
            serve_request_free(req);
        }
        free(prompt);
        serve_metrics_gauge(&s->metrics, &s->metrics.in_flight, -1);
        atomic_fetch_sub(&s->in_flight, 1);
        return serve_http_send_error(s, ctx, c, st == RT_EBUSY ? 503 : 500, err.msg, "server_error", NULL, NULL);
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
