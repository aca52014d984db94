/* The server over HTTP on loopback with the scripted backend and the real sandbox (local pool): tool traces, budgets,
 * review flags and queue, seeds, streaming, errors (400, 404, 405, 413, 429), metrics, and 64 concurrent clients (a
 * quarter of them streaming) with the audit log checked call by call. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timer.h"
#include "rollout/exec_spec.h"
#include "sandbox/server.h"
#include "scripted.h"
#include "serve/queue.h"
#include "serve/server.h"

static char dir[64], queue_path[128], audit_path[128];
static rollout_exec_spec *exec;
static rollout_executor xops;
static serve_audit audit;
static serve_server *srv;
static int port;

static void start(int max_concurrent, int64_t audit_bytes) {
    rt_log_set_level(RT_LOG_ERROR);
    snprintf(dir, sizeof dir, "/tmp/retool-serve-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(queue_path, sizeof queue_path, "%s/review.jsonl", dir);
    snprintf(audit_path, sizeof audit_path, "%s/audit.jsonl", dir);
    rt_error e;
    cr_assert_eq(rollout_exec_spec_open("local", 2, &exec, &e), RT_OK, "%s", e.msg);
    xops = rollout_exec_spec_ops(exec);
    cr_assert_eq(serve_audit_open(&audit, audit_path, audit_bytes, 1000, &e), RT_OK, "%s", e.msg);
    serve_config c;
    serve_config_default(&c);
    c.port = 0;
    c.model_name = "scripted";
    c.max_concurrent = max_concurrent;
    c.max_body_bytes = 4096;
    c.caps.max_tool_calls = 3;
    c.caps.max_tool_seconds = 5;
    c.caps.max_tokens = 400;
    c.caps.max_n = 8;
    c.review_queue = queue_path;
    c.sched.backend = scripted_backend();
    c.sched.exec = &xops;
    c.sched.audit = &audit;
    c.sched.max_batch = 64;
    c.sched.window_s = 0.005;
    cr_assert_eq(serve_server_start(&srv, &c, &e), RT_OK, "%s", e.msg);
    port = serve_server_port(srv);
}
static void setup(void) { start(8, 0); }
static void stop(void) {
    serve_server_stop(srv);
    rt_error e;
    cr_assert_eq(serve_audit_close(&audit, &e), RT_OK, "%s", e.msg);
    rollout_exec_spec_close(exec);
    exec = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(http, .init = setup, .fini = stop, .timeout = 60);

/* Sends a request; returns the HTTP status and the parsed body (NULL when not JSON). */
static int call(const char *method, const char *path, const char *body, cJSON **out, char **raw) {
    int status = 0;
    char *resp = NULL;
    size_t len = 0;
    rt_error e;
    rt_status st = sbx_http_request("127.0.0.1", port, method, path, body, body ? strlen(body) : 0, 30, &status,
                                    &resp, &len, &e);
    cr_assert_eq(st, RT_OK, "%s %s: %s", method, path, e.msg);
    if (out) *out = cJSON_Parse(resp);
    if (raw) *raw = resp;
    else free(resp);
    return status;
}

static cJSON *complete(const char *question, const char *extra, int want_status) {
    char body[2048];
    snprintf(body, sizeof body, "{\"model\": \"scripted\", \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}]%s%s}",
             question, extra ? ", " : "", extra ? extra : "");
    cJSON *o = NULL;
    char *raw = NULL;
    int st = call("POST", "/v1/chat/completions", body, &o, &raw);
    cr_assert_eq(st, want_status, "%s -> %d %s", body, st, raw);
    cr_assert_not_null(o, "not JSON: %s", raw);
    free(raw);
    return o;
}

static cJSON *choice(cJSON *o, int i) { return cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), i); }
static cJSON *ext(cJSON *o, int i) { return cJSON_GetObjectItem(choice(o, i), "retool"); }
static const char *content(cJSON *o, int i) {
    return cJSON_GetObjectItem(cJSON_GetObjectItem(choice(o, i), "message"), "content")->valuestring;
}
static const char *str(cJSON *o, const char *k) {
    cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

Test(http, health_models_and_unknown_paths) {
    cJSON *o;
    cr_assert_eq(call("GET", "/health", NULL, &o, NULL), 200);
    cr_assert_str_eq(str(o, "status"), "ok");
    cJSON_Delete(o);
    cr_assert_eq(call("GET", "/v1/models", NULL, &o, NULL), 200);
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "data"), 0);
    cr_assert_str_eq(str(m, "id"), "scripted");
    cr_assert_str_eq(str(m, "object"), "model");
    cJSON_Delete(o);
    cr_assert_eq(call("GET", "/v1/models/scripted", NULL, &o, NULL), 200);
    cJSON_Delete(o);
    cr_assert_eq(call("GET", "/v1/models/other", NULL, &o, NULL), 404);
    cr_assert_str_eq(str(cJSON_GetObjectItem(o, "error"), "code"), "model_not_found");
    cJSON_Delete(o);
    cr_assert_eq(call("GET", "/v1/nothing", NULL, &o, NULL), 404);
    cr_assert_not_null(str(cJSON_GetObjectItem(o, "error"), "message"));
    cJSON_Delete(o);
    cr_assert_eq(call("GET", "/v1/chat/completions", NULL, &o, NULL), 405);
    cJSON_Delete(o);
    cr_assert_eq(call("POST", "/health", "{}", &o, NULL), 405);
    cJSON_Delete(o);
}

Test(http, tool_trace_in_the_answer) {
    cJSON *o = complete("tool please", NULL, 200);
    cr_assert_str_eq(str(o, "object"), "chat.completion");
    cr_assert_str_eq(str(choice(o, 0), "finish_reason"), "stop");
    const char *text = content(o, 0);
    /* The content is the whole tool-integrated text: the code, the interpreter's real output, the answer. */
    cr_assert(strstr(text, "print(6*7)") && strstr(text, "<interpreter>\n42\n</interpreter>") &&
              strstr(text, "\\boxed{42}"), "%s", text);
    cJSON *x = ext(o, 0);
    cr_assert_str_eq(str(x, "answer"), "42");
    cJSON *calls = cJSON_GetObjectItem(x, "tool_calls");
    cr_assert_eq(cJSON_GetArraySize(calls), 1);
    cJSON *c0 = cJSON_GetArrayItem(calls, 0);
    cr_assert_str_eq(str(c0, "code"), "print(6*7)");
    cr_assert_str_eq(str(c0, "output"), "42");
    cr_assert_str_eq(str(c0, "status"), "ok");
    cr_assert_gt(cJSON_GetObjectItem(c0, "latency_s")->valuedouble, 0);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(x, "needs_review")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "retool"), "review_id")));
    cJSON_Delete(o);
    /* Not flagged: nothing in the review queue; the audit log has the call. */
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(queue_path, &q, &e), RT_OK);
    cr_assert_eq(q.n, 0);
    serve_queue_free(&q);
    fflush(audit.fp);
    char *log = NULL;
    size_t len;
    FILE *fp = fopen(audit_path, "r");
    cr_assert_not_null(fp);
    log = calloc(1, 65536);
    len = fread(log, 1, 65535, fp);
    fclose(fp);
    cr_assert_gt(len, 0);
    cJSON *line = cJSON_Parse(log);
    cr_assert_str_eq(str(line, "code"), "print(6*7)");
    cr_assert_str_eq(str(line, "status"), "ok");
    cr_assert_str_eq(str(line, "trajectory"), "p1-s0");
    cJSON_Delete(line);
    free(log);
}

Test(http, failed_tool_is_flagged_and_queued_repaired_is_not) {
    cJSON *o = complete("this will fail", NULL, 200);
    cJSON *x = ext(o, 0);
    cr_assert_str_eq(str(x, "answer"), "1");
    cr_assert_str_eq(str(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "tool_calls"), 0), "status"), "error");
    cr_assert(strstr(str(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "tool_calls"), 0), "output"), "ValueError"));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(x, "needs_review")));
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "review_reasons"), 0)->valuestring, "tool_failed");
    const char *rid = str(cJSON_GetObjectItem(o, "retool"), "review_id");
    cr_assert_not_null(rid);
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(queue_path, &q, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(q.n, 1);
    const serve_queue_item *it = serve_queue_find(&q, rid);
    cr_assert_not_null(it);
    cr_assert_str_eq(it->status, "pending");
    /* The whole trace is in the entry: the question and the tool call's code. */
    cJSON *req = cJSON_GetObjectItem(it->entry, "request");
    cr_assert_str_eq(str(cJSON_GetArrayItem(cJSON_GetObjectItem(req, "messages"), 0), "content"), "this will fail");
    cJSON *comp = cJSON_GetObjectItem(it->entry, "completion");
    cJSON *calls = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(comp, "choices"), 0),
                                                           "retool"), "tool_calls");
    cr_assert_str_eq(str(cJSON_GetArrayItem(calls, 0), "code"), "raise ValueError('bad')");
    serve_queue_free(&q);
    cJSON_Delete(o);
    o = complete("repair it", NULL, 200);
    x = ext(o, 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(x, "tool_calls")), 2);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(x, "needs_review")), "a failure repaired by a later call is fine");
    cJSON_Delete(o);
}

Test(http, budgets_per_request_said_plainly) {
    /* One call allowed: the second is refused with a message the model sees; the answer says so. */
    cJSON *o = complete("twice", "\"retool\": {\"max_tool_calls\": 1}", 200);
    cJSON *x = ext(o, 0);
    cJSON *calls = cJSON_GetObjectItem(x, "tool_calls");
    cr_assert_eq(cJSON_GetArraySize(calls), 2);
    cr_assert_str_eq(str(cJSON_GetArrayItem(calls, 1), "status"), "refused");
    cJSON *b = cJSON_GetObjectItem(x, "budget");
    cr_assert_eq(cJSON_GetObjectItem(b, "max_tool_calls")->valuedouble, 1);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "hit"), 0)->valuestring, "tool_calls");
    cr_assert(strstr(str(b, "message"), "tool-call budget of 1"), "%s", str(b, "message"));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(x, "needs_review")));
    cJSON_Delete(o);
    /* Token budget: an endless answer ends at max_tokens with finish_reason length. */
    o = complete("long", "\"max_tokens\": 25", 200);
    cr_assert_str_eq(str(choice(o, 0), "finish_reason"), "length");
    cr_assert_eq(strlen(content(o, 0)), 25);
    x = ext(o, 0);
    cr_assert(strstr(str(cJSON_GetObjectItem(x, "budget"), "message"), "token budget of 25"));
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "completion_tokens")->valuedouble, 25);
    cJSON_Delete(o);
    /* Tool seconds: a sleeping call is stopped at the request's limit. */
    double t0 = rt_time_now();
    o = complete("sleep", "\"retool\": {\"max_tool_seconds\": 0.5}", 200);
    cr_assert_lt(rt_time_now() - t0, 10);
    x = ext(o, 0);
    cr_assert_str_eq(str(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "tool_calls"), 0), "status"), "timeout");
    cr_assert(strstr(str(cJSON_GetObjectItem(x, "budget"), "message"), "0.5 s"));
    cJSON_Delete(o);
    /* Over the caps: a clear 400, not a silent cut. */
    o = complete("tool", "\"retool\": {\"max_tool_calls\": 4}", 400);
    cr_assert_str_eq(str(cJSON_GetObjectItem(o, "error"), "code"), "over_cap");
    cJSON_Delete(o);
}

Test(http, samples_disagree_and_seeds_repeat) {
    /* Seeded: the same request twice gives the same answers per sample, and the sampling settings reach the policy. */
    cJSON *a = complete("seeded", "\"n\": 6, \"seed\": 11, \"temperature\": 0.25", 200);
    cr_assert_float_eq(scripted_last_temperature(), 0.25, 1e-6);
    cJSON *b = complete("seeded", "\"n\": 6, \"seed\": 11", 200);
    cJSON *c = complete("seeded", "\"n\": 6, \"seed\": 12", 200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(a, "choices")), 6);
    int differ_c = 0, distinct = 0;
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(content(a, i), content(b, i), "sample %d", i);
        differ_c += strcmp(content(a, i), content(c, i)) != 0;
        distinct += strcmp(content(a, i), content(a, 0)) != 0;
        cr_assert_eq(cJSON_GetObjectItem(choice(a, i), "index")->valuedouble, i);
    }
    cr_assert_gt(differ_c, 0, "another seed gives other samples");
    /* Three possible answers over six samples: check the flag against the samples' own agreement. */
    cJSON *top = cJSON_GetObjectItem(a, "retool");
    double agreement = cJSON_GetObjectItem(top, "agreement")->valuedouble;
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 6; i++) counts[atoi(str(ext(a, i), "answer"))]++;
    int best = counts[0] > counts[1] ? counts[0] : counts[1];
    best = best > counts[2] ? best : counts[2];
    cr_assert_float_eq(agreement, best / 6.0, 1e-9);
    cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(top, "needs_review")), best < 6);
    cr_assert_eq(distinct > 0, best < 6);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    /* Samples that agree are not flagged. */
    a = complete("tool", "\"n\": 3", 200);
    cr_assert_float_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "retool"), "agreement")->valuedouble, 1.0, 1e-9);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "retool"), "needs_review")));
    cJSON_Delete(a);
}

/* Decodes an HTTP/1.1 chunked body in place (the loopback client returns it raw); returns 0 when malformed. */
static int dechunk(char *body) {
    char *in = body, *out = body;
    for (;;) {
        char *end;
        long n = strtol(in, &end, 16);
        if (end == in || strncmp(end, "\r\n", 2)) return 0;
        in = end + 2;
        if (n == 0) break;
        memmove(out, in, (size_t)n);
        out += n;
        in += n;
        if (strncmp(in, "\r\n", 2)) return 0;
        in += 2;
    }
    *out = 0;
    return 1;
}

/* Streams a request; reassembles choice 0's content as a client does; counts the content chunks; returns the final
 * chunk's finish_reason (malloc'd). */
static char *stream(const char *question, const char *extra, char *content, size_t cap, int *chunks) {
    char body[1024];
    snprintf(body, sizeof body, "{\"model\": \"scripted\", \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}], "
             "\"stream\": true%s%s}", question, extra ? ", " : "", extra ? extra : "");
    char *raw = NULL;
    cr_assert_eq(call("POST", "/v1/chat/completions", body, NULL, &raw), 200);
    cr_assert(dechunk(raw), "not a chunked body: %s", raw);
    size_t n = strlen(raw);
    cr_assert(n > 16 && !strcmp(raw + n - 14, "data: [DONE]\n\n"), "%s", raw);
    content[0] = 0;
    *chunks = 0;
    char *finish = NULL;
    int done = 0;
    for (char *line = strtok(raw, "\n"); line; line = strtok(NULL, "\n")) {
        cr_assert(!strncmp(line, "data: ", 6), "not an SSE data line: %s", line);
        cr_assert_eq(done, 0, "data after [DONE]");
        if (!strcmp(line + 6, "[DONE]")) {
            done = 1;
            continue;
        }
        cJSON *k = cJSON_Parse(line + 6);
        cr_assert_not_null(k, "%s", line);
        cr_assert_str_eq(str(k, "object"), "chat.completion.chunk");
        cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(k, "choices"), 0);
        const char *piece = ch ? str(cJSON_GetObjectItem(ch, "delta"), "content") : NULL;
        if (piece && *piece) {
            cr_assert_lt(strlen(content) + strlen(piece), cap);
            strcat(content, piece);
            (*chunks)++;
        }
        if (ch && str(ch, "finish_reason")) finish = strdup(str(ch, "finish_reason"));
        cJSON_Delete(k);
    }
    free(raw);
    cr_assert_not_null(finish);
    return finish;
}

Test(http, stream_token_by_token_equals_the_answer) {
    cJSON *o = complete("tool", NULL, 200);
    char text[4096];
    int chunks = 0;
    /* The scripted model writes one byte a token, slowly here: the text arrives in many pieces as it is made. */
    char *finish = stream("tool slowly", NULL, text, sizeof text, &chunks);
    cr_assert_str_eq(text, content(o, 0));
    cr_assert_str_eq(finish, "stop");
    cr_assert_gt(chunks, 20, "only %d content chunks: not streamed as generated", chunks);
    free(finish);
    cJSON_Delete(o);
    /* A stop string: the stream never sends past it, and ends where the plain answer is cut. */
    finish = stream("tool", "\"stop\": [\"<code>\"]", text, sizeof text, &chunks);
    cr_assert_str_eq(text, "Let me compute.\n");
    cr_assert_str_eq(finish, "stop");
    free(finish);
    o = complete("tool", "\"stop\": [\"<code>\"]", 200);
    cr_assert_str_eq(content(o, 0), "Let me compute.\n");
    cr_assert_str_eq(str(choice(o, 0), "finish_reason"), "stop");
    cJSON_Delete(o);
}

Test(http, bad_requests_get_openai_errors_and_the_server_goes_on) {
    cJSON *o = complete("q", "\"frequency_penalty\": 1", 400);
    cJSON *e = cJSON_GetObjectItem(o, "error");
    cr_assert_str_eq(str(e, "type"), "invalid_request_error");
    cr_assert_str_eq(str(e, "param"), "frequency_penalty");
    cJSON_Delete(o);
    cr_assert_eq(call("POST", "/v1/chat/completions", "{\"model\": ", &o, NULL), 400);
    cr_assert_str_eq(str(cJSON_GetObjectItem(o, "error"), "code"), "invalid_json");
    cJSON_Delete(o);
    o = complete("q", NULL, 200);
    cJSON_Delete(o);
    char *big = malloc(10000);
    memset(big, 'a', 9999);
    big[9999] = 0;
    char *body = malloc(10100);
    snprintf(body, 10100, "{\"model\": \"scripted\", \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}]}", big);
    cr_assert_eq(call("POST", "/v1/chat/completions", body, &o, NULL), 413);
    cr_assert_str_eq(str(cJSON_GetObjectItem(o, "error"), "code"), "request_too_large");
    cJSON_Delete(o);
    free(big);
    free(body);
    o = complete("q", NULL, 200);
    cJSON_Delete(o);
    cr_assert_eq(call("POST", "/v1/chat/completions",
                      "{\"model\": \"gpt-4\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}", &o, NULL), 404);
    cr_assert_str_eq(str(cJSON_GetObjectItem(o, "error"), "code"), "model_not_found");
    cJSON_Delete(o);
    char *text = NULL;
    cr_assert_eq(call("GET", "/metrics", NULL, NULL, &text), 200);
    cr_assert(strstr(text, "retool_requests_total{code=\"413\"} 1\n"), "%s", text);
    cr_assert(strstr(text, "retool_requests_total{code=\"400\"} 2\n"), "%s", text);
    cr_assert(strstr(text, "retool_requests_total{code=\"200\"} 2\n"), "%s", text);
    free(text);
}

/* Many clients at once. Each thread sends requests in a loop until the deadline; every answer is checked. */
typedef struct client {
    int id;
    double until;
    int ok, busy, bad, lost, streamed;
    int calls;                /* tool calls reported in the answers */
    char trajs[64][32];       /* trajectory ids the answers imply, "p<number>-s0" */
    int ntraj;
} client;

/* A whole SSE stream as the object a plain answer would be: id, and choice 0's finish_reason and retool from its
 * final chunk; NULL unless it is complete (every line an event, the final chunk, [DONE] last). */
static cJSON *sse_answer(char *raw) {
    if (!dechunk(raw)) return NULL;
    size_t n = strlen(raw);
    if (n < 14 || strcmp(raw + n - 14, "data: [DONE]\n\n")) return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    for (char *save = NULL, *line = strtok_r(raw, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "data: ", 6) || !strcmp(line + 6, "[DONE]")) continue;
        cJSON *k = cJSON_Parse(line + 6);
        if (!k) {
            cJSON_Delete(o);
            return NULL;
        }
        if (!cJSON_GetObjectItem(o, "id") && str(k, "id")) cJSON_AddStringToObject(o, "id", str(k, "id"));
        cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(k, "choices"), 0);
        if (ch && str(ch, "finish_reason")) cJSON_AddItemToArray(choices, cJSON_Duplicate(ch, 1));
        cJSON_Delete(k);
    }
    return o;
}

static void *client_main(void *arg) {
    client *c = arg;
    int k = 0;
    while (rt_time_now() < c->until) {
        const char *q = (k + c->id) % 3 == 0 ? "tool" : (k + c->id) % 3 == 1 ? "this will fail" : "plain";
        int streamed = (k + c->id) % 4 == 0;
        k++;
        char body[256];
        snprintf(body, sizeof body, "{\"model\": \"scripted\", \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}]%s}",
                 q, streamed ? ", \"stream\": true" : "");
        int status = 0;
        char *resp = NULL;
        size_t len;
        rt_error e;
        if (sbx_http_request("127.0.0.1", port, "POST", "/v1/chat/completions", body, strlen(body), 30, &status,
                             &resp, &len, &e)) {
            c->lost++;
            continue;
        }
        cJSON *o = streamed && status == 200 ? sse_answer(resp) : cJSON_Parse(resp);
        free(resp);
        if (!o) {
            c->lost++;
            continue;
        }
        c->streamed += streamed && status == 200;
        if (status == 200) {
            cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0);
            const char *fr = str(ch, "finish_reason");
            cJSON *x = cJSON_GetObjectItem(ch, "retool");
            if (!fr || !x || !str(x, "answer")) c->lost++;
            else c->ok++;
            int n = cJSON_GetArraySize(cJSON_GetObjectItem(x, "tool_calls"));
            c->calls += n;
            const char *id = str(o, "id");
            const char *num = id ? strrchr(id, '-') : NULL;
            if (n && num && c->ntraj < 64) snprintf(c->trajs[c->ntraj++], 32, "p%s-s0", num + 1);
        } else if (status == 429 && str(cJSON_GetObjectItem(o, "error"), "message")) {
            c->busy++;
        } else {
            c->bad++;
        }
        cJSON_Delete(o);
    }
    return NULL;
}

static void concurrency_setup(void) { start(48, 4096); }
/* RETOOL_SERVE_SOAK_S sets the duration (tests/long/serve_soak.sh runs a minute); 3 s in make test. */
TestSuite(load, .init = concurrency_setup, .fini = stop, .timeout = 240);

Test(load, sixty_four_clients_nothing_lost) {
    enum { N = 64 };
    static client cl[N];
    pthread_t th[N];
    const char *soak = getenv("RETOOL_SERVE_SOAK_S");
    double secs = soak ? atof(soak) : 3.0;
    cr_assert(secs > 0 && secs <= 180, "RETOOL_SERVE_SOAK_S must be in (0, 180]");
    double until = rt_time_now() + secs;
    for (int i = 0; i < N; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        cl[i].id = i;
        cl[i].until = until;
        cr_assert_eq(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
    }
    int ok = 0, busy = 0, bad = 0, lost = 0, calls = 0, streamed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += cl[i].ok;
        busy += cl[i].busy;
        bad += cl[i].bad;
        lost += cl[i].lost;
        calls += cl[i].calls;
        streamed += cl[i].streamed;
    }
    cr_assert_eq(lost, 0, "%d answers incomplete or lost", lost);
    cr_assert_eq(bad, 0, "%d unexpected errors", bad);
    cr_assert_gt(ok, 0, "no answers at all");
    cr_assert_gt(streamed, 0, "no streamed answers");
    cr_assert_gt(calls, 0);
    /* 64 clients against 48 slots: some were told 429, cleanly. */
    cr_assert_gt(busy, 0, "no 429 with 64 clients and 48 slots");
    /* Stop the server so every audit line is flushed, then count lines over the rotated files too. */
    serve_server_stop(srv);
    srv = NULL;
    rt_error ce;
    cr_assert_eq(serve_audit_close(&audit, &ce), RT_OK, "%s", ce.msg);
    int lines = 0, files = 0;
    char *seen = NULL;
    size_t seen_len = 0;
    FILE *all = open_memstream(&seen, &seen_len);
    for (int k = 0; k < 1000; k++) {
        char p[160];
        if (k == 0) snprintf(p, sizeof p, "%s", audit_path);
        else snprintf(p, sizeof p, "%s.%d", audit_path, k);
        FILE *fp = fopen(p, "r");
        if (!fp) break;
        files++;
        char buf[4096];
        while (fgets(buf, sizeof buf, fp)) {
            cJSON *o = cJSON_Parse(buf);
            cr_assert_not_null(o, "%s: a partial line: %s", p, buf);
            fprintf(all, "%s\n", str(o, "trajectory"));
            cJSON_Delete(o);
            lines++;
        }
        fclose(fp);
    }
    fclose(all);
    cr_assert_gt(files, 1, "the audit log never rotated");
    cr_assert_eq(lines, calls, "audit log has %d lines, the answers reported %d tool calls", lines, calls);
    for (int i = 0; i < N; i++)
        for (int t = 0; t < cl[i].ntraj; t++) {
            char key[40];
            snprintf(key, sizeof key, "\n%s\n", cl[i].trajs[t]);
            char *hay = malloc(seen_len + 2);
            hay[0] = '\n';
            memcpy(hay + 1, seen, seen_len + 1);
            cr_assert_not_null(strstr(hay, key), "trajectory %s is not in the audit log", cl[i].trajs[t]);
            free(hay);
        }
    free(seen);
    cr_log_info("64 clients, %g s: %d answers (%d streamed), %d told 429, %d tool calls, %d audit files", secs, ok, streamed, busy, calls, files);
}
