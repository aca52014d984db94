#include "rollout/remote_exec.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "base/timer.h"

typedef struct remote_server {
    char *url;             /* base + "/run_code" */
    size_t in_flight;
    size_t sent;
    double skip_until;     /* rt_time_now() before which the server is not used */
} remote_server;

typedef struct remote_call {
    struct remote_call *next, *prev; /* calls in flight */
    uint64_t ticket;
    size_t server;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char *resp;
    size_t resp_len, resp_cap;
} remote_call;

typedef struct ready_result {
    uint64_t ticket;
    rollout_exec_result result;
} ready_result;

struct rollout_remote {
    CURLM *multi;
    remote_server *servers;
    size_t n_servers;
    size_t max_in_flight;
    double backoff_s, slack_s;
    remote_call *calls;     /* in flight */
    ready_result *ready;    /* results waiting for poll (FIFO) */
    size_t n_ready, cap_ready;
};

static int curl_ready = 0;

rt_status rollout_remote_open(const rollout_remote_config *cfg, rollout_remote **out, rt_error *err) {
    *out = NULL;
    if (cfg->n_urls == 0) return rt_err_set(err, RT_EINVAL, "no sandbox server URL given");
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return rt_err_set(err, RT_EINTERNAL, "libcurl failed to start");
        curl_ready = 1;
    }
    rollout_remote *r = calloc(1, sizeof *r);
    if (!r) return rt_err_set(err, RT_ENOMEM, "out of memory");
    r->servers = calloc(cfg->n_urls, sizeof *r->servers);
    r->multi = curl_multi_init();
    if (!r->servers || !r->multi) {
        rollout_remote_free(r);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    r->n_servers = cfg->n_urls;
    r->max_in_flight = cfg->max_in_flight ? cfg->max_in_flight : 16;
    r->backoff_s = cfg->backoff_s > 0 ? cfg->backoff_s : 5.0;
    r->slack_s = cfg->slack_s > 0 ? cfg->slack_s : 5.0;
    for (size_t i = 0; i < cfg->n_urls; i++) {
        const char *u = cfg->urls[i];
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            rollout_remote_free(r);
            return rt_err_set(err, RT_EINVAL, "sandbox URL '%s': expected http:// or https://", u);
        }
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/') n--;
        r->servers[i].url = malloc(n + 16);
        if (!r->servers[i].url) {
            rollout_remote_free(r);
            return rt_err_set(err, RT_ENOMEM, "out of memory");
        }
        memcpy(r->servers[i].url, u, n);
        strcpy(r->servers[i].url + n, "/run_code");
    }
    *out = r;
    return RT_OK;
}

static void call_free(remote_call *c) {
    if (!c) return;
    if (c->easy) curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->body);
    free(c->resp);
    free(c);
}

void rollout_remote_free(rollout_remote *r) {
    if (!r) return;
    if (r->multi) {
        while (r->calls) {
            remote_call *c = r->calls;
            r->calls = c->next;
            curl_multi_remove_handle(r->multi, c->easy);
            call_free(c);
        }
        curl_multi_cleanup(r->multi);
    }
    for (size_t i = 0; i < r->n_ready; i++) {
        free(r->ready[i].result.stdout_text);
        free(r->ready[i].result.stderr_text);
    }
    free(r->ready);
    for (size_t i = 0; r->servers && i < r->n_servers; i++) free(r->servers[i].url);
    free(r->servers);
    free(r);
}

size_t rollout_remote_sent(const rollout_remote *r, size_t i) { return i < r->n_servers ? r->servers[i].sent : 0; }

static int push_ready(rollout_remote *r, uint64_t ticket, rollout_exec_status status, char *out, char *errtext) {
    if (r->n_ready == r->cap_ready) {
        size_t cap = r->cap_ready ? r->cap_ready * 2 : 16;
        ready_result *p = realloc(r->ready, cap * sizeof *p);
        if (!p) {
            free(out);
            free(errtext);
            return -1;
        }
        r->ready = p;
        r->cap_ready = cap;
    }
    ready_result *x = &r->ready[r->n_ready++];
    x->ticket = ticket;
    x->result.status = status;
    x->result.stdout_text = out;
    x->result.stderr_text = errtext;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    remote_call *c = user;
    size_t n = size * nmemb;
    if (c->resp_len + n + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : 4096;
        while (cap < c->resp_len + n + 1) cap *= 2;
        if (cap > (64u << 20)) return 0; /* a 64 MiB answer is not an interpreter output: fail the transfer */
        char *p = realloc(c->resp, cap);
        if (!p) return 0;
        c->resp = p;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, data, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

/* The least loaded server that is not being skipped, or SIZE_MAX. */
static size_t pick_server(rollout_remote *r) {
    double now = rt_time_now();
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < r->n_servers; i++) {
        remote_server *s = &r->servers[i];
        if (s->skip_until > now || s->in_flight >= r->max_in_flight) continue;
        if (best == SIZE_MAX || s->in_flight < r->servers[best].in_flight) best = i;
    }
    return best;
}

static rt_status remote_submit(void *ctx, uint64_t ticket, const rollout_exec_request *req, rt_error *err) {
    rollout_remote *r = ctx;
    if (req->session != 0)
        return rt_err_set(err, RT_EUNSUPPORTED, "remote sandbox servers run each code block alone (no sessions)");
    size_t si = pick_server(r);
    if (si == SIZE_MAX) {
        /* Every server is down or full: answer at once, as an interpreter error. */
        char *msg = strdup("all sandbox servers are busy or unreachable");
        return push_ready(r, ticket, ROLLOUT_EXEC_SANDBOX_ERROR, NULL, msg) ? rt_err_set(err, RT_ENOMEM, "oom")
                                                                            : RT_OK;
    }
    remote_call *c = calloc(1, sizeof *c);
    cJSON *body = cJSON_CreateObject();
    if (!c || !body) {
        free(c);
        cJSON_Delete(body);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    cJSON_AddStringToObject(body, "code", req->code);
    cJSON_AddStringToObject(body, "language", "python");
    cJSON_AddNumberToObject(body, "compile_timeout", req->timeout_s);
    cJSON_AddNumberToObject(body, "run_timeout", req->timeout_s);
    c->body = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    c->ticket = ticket;
    c->server = si;
    c->easy = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!c->body || !c->easy || !c->headers) {
        call_free(c);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    curl_easy_setopt(c->easy, CURLOPT_URL, r->servers[si].url);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)((req->timeout_s + r->slack_s) * 1000.0));
    if (curl_multi_add_handle(r->multi, c->easy) != CURLM_OK) {
        call_free(c);
        return rt_err_set(err, RT_EINTERNAL, "libcurl refused a request");
    }
    c->next = r->calls;
    if (r->calls) r->calls->prev = c;
    r->calls = c;
    r->servers[si].in_flight++;
    r->servers[si].sent++;
    return RT_OK;
}

static char *dup_field(const cJSON *o, const char *key) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    return strdup(cJSON_IsString(f) ? f->valuestring : "");
}

/* Maps a SandboxFusion response body to a result; a body that is not one is a sandbox error. */
static void parse_response(const char *body, rollout_exec_result *res, const char *url) {
    memset(res, 0, sizeof *res);
    cJSON *o = body ? cJSON_Parse(body) : NULL;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(o, "run_result");
    char msg[512];
    if (!cJSON_IsString(status)) {
        snprintf(msg, sizeof msg, "%s answered something that is not a SandboxFusion response", url);
        res->status = ROLLOUT_EXEC_SANDBOX_ERROR;
        res->stderr_text = strdup(msg);
    } else if (strcmp(status->valuestring, "SandboxError") == 0 || !cJSON_IsObject(run)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
        snprintf(msg, sizeof msg, "%s", cJSON_IsString(m) && *m->valuestring ? m->valuestring : "sandbox error");
        res->status = ROLLOUT_EXEC_SANDBOX_ERROR;
        res->stderr_text = strdup(msg);
    } else {
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(run, "status");
        const cJSON *rc = cJSON_GetObjectItemCaseSensitive(run, "return_code");
        res->stdout_text = dup_field(run, "stdout");
        res->stderr_text = dup_field(run, "stderr");
        if (cJSON_IsString(rs) && strcmp(rs->valuestring, "TimeLimitExceeded") == 0)
            res->status = ROLLOUT_EXEC_TIMEOUT;
        else if (cJSON_IsString(rs) && strcmp(rs->valuestring, "Finished") == 0 &&
                 (!cJSON_IsNumber(rc) || rc->valuedouble == 0) && strcmp(status->valuestring, "Success") == 0)
            res->status = ROLLOUT_EXEC_OK;
        else
            res->status = ROLLOUT_EXEC_ERROR;
    }
    cJSON_Delete(o);
}

/* Moves finished transfers to the ready list. */
static void collect(rollout_remote *r) {
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(r->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        remote_call *c = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        long code = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        remote_server *s = &r->servers[c->server];
        s->in_flight--;
        rollout_exec_result res;
        if (m->data.result != CURLE_OK || code == 429 || code >= 500 || code == 0) {
            char msg[512];
            if (m->data.result != CURLE_OK)
                snprintf(msg, sizeof msg, "sandbox server %s: %s", s->url, curl_easy_strerror(m->data.result));
            else
                snprintf(msg, sizeof msg, "sandbox server %s answered HTTP %ld", s->url, code);
            if (code != 429) {
                s->skip_until = rt_time_now() + r->backoff_s;
                rt_log_warn("%s; skipping it for %.0f s", msg, r->backoff_s);
            }
            memset(&res, 0, sizeof res);
            res.status = ROLLOUT_EXEC_SANDBOX_ERROR;
            res.stderr_text = strdup(msg);
        } else {
            parse_response(c->resp, &res, s->url);
        }
        push_ready(r, c->ticket, res.status, res.stdout_text, res.stderr_text);
        curl_multi_remove_handle(r->multi, m->easy_handle);
        if (c->prev) c->prev->next = c->next;
        else r->calls = c->next;
        if (c->next) c->next->prev = c->prev;
        call_free(c);
    }
}

static int remote_poll(void *ctx, double wait_s, uint64_t *ticket, rollout_exec_result *result) {
    rollout_remote *r = ctx;
    int running = 0;
    curl_multi_perform(r->multi, &running);
    collect(r);
    if (r->n_ready == 0 && running > 0 && wait_s > 0) {
        curl_multi_poll(r->multi, NULL, 0, (int)(wait_s * 1000.0), NULL);
        curl_multi_perform(r->multi, &running);
        collect(r);
    }
    if (r->n_ready == 0) return 0;
    *ticket = r->ready[0].ticket;
    *result = r->ready[0].result;
    memmove(r->ready, r->ready + 1, (r->n_ready - 1) * sizeof *r->ready);
    r->n_ready--;
    return 1;
}

rollout_executor rollout_remote_ops(rollout_remote *r) {
    rollout_executor e = {.ctx = r, .submit = remote_submit, .poll = remote_poll, .session_close = NULL};
    return e;
}
