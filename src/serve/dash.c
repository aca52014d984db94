/* The dashboard's JSON API under /ui/api/ (see dash.h and docs/SERVE.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/dash_internal.h"
#include "serve/dash_review.h"
#include "serve/dash_stats.h"
#include "serve/queue.h"
#include "serve/review.h"

#define DASH_MAX_LIMIT 200
#define DASH_MAX_NOTE 4000

rt_status dash_open(dash **out, const dash_config *cfg, rt_error *err) {
    if (!cfg->token_file)
        return rt_err_set(err, RT_EINVAL,
                          "the dashboard needs a token: --dashboard-token-file FILE (there is no "
                          "dashboard without one)");
    if (!cfg->review_queue && !cfg->audit_log)
        return rt_err_set(err, RT_EINVAL, "the dashboard needs a review queue or an audit log to show");
    dash *d = calloc(1, sizeof *d);
    if (!d) return rt_err_set(err, RT_ENOMEM, "out of memory");
    d->cfg = *cfg;
    if (!d->cfg.reviewer) d->cfg.reviewer = "dashboard";
    rt_status st = dash_auth_init(&d->auth, cfg->token_file, err);
    if (st) {
        free(d);
        return st;
    }
    pthread_mutex_init(&d->mu, NULL);
    if (cfg->review_queue && !(st = dash_queue_init(&d->q, cfg->review_queue, err))) d->has_q = 1;
    if (!st && cfg->audit_log && !(st = dash_audit_init(&d->a, cfg->audit_log, err))) d->has_a = 1;
    if (st) {
        dash_close(d);
        return st;
    }
    *out = d;
    return RT_OK;
}

void dash_set_live(dash *d, serve_metrics *live) {
    pthread_mutex_lock(&d->mu);
    d->cfg.live = live;
    pthread_mutex_unlock(&d->mu);
}

void dash_close(dash *d) {
    if (!d) return;
    if (d->has_q) dash_queue_free(&d->q);
    if (d->has_a) dash_audit_free(&d->a);
    pthread_mutex_destroy(&d->mu);
    dash_auth_destroy(&d->auth);
    free(d);
}

/* A non-negative integer query argument (def when absent); -1 with msg set when malformed. */
static long long arg_int(struct MHD_Connection *c, const char *name, long long def, long long max, char *msg,
                         size_t cap) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !*v) return def;
    char *e;
    errno = 0;
    long long x = strtoll(v, &e, 10);
    if (*e || errno || x < 0 || x > max) {
        snprintf(msg, cap, "query argument '%s' must be an integer 0..%lld", name, max);
        return -1;
    }
    return x;
}

static double arg_time(struct MHD_Connection *c, const char *name, char *msg, size_t cap) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !*v) return 0;
    char *e;
    double x = strtod(v, &e);
    if (*e || !(x >= 0)) {
        snprintf(msg, cap, "query argument '%s' must be a time in seconds since 1970", name);
        return -1;
    }
    return x;
}

static const char *arg_str(struct MHD_Connection *c, const char *name) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

/* Refreshes both views; answers 500 naming the file and line when one is malformed. */
static int refresh(dash *d, rt_error *err) {
    if (d->has_q && dash_queue_refresh(&d->q, err)) return -1;
    if (d->has_a && dash_audit_refresh(&d->a, err)) return -1;
    return 0;
}

static enum MHD_Result review_list(dash *d, struct MHD_Connection *c) {
    char msg[200] = "";
    long long offset = arg_int(c, "offset", 0, 1LL << 40, msg, sizeof msg);
    long long limit = arg_int(c, "limit", 50, DASH_MAX_LIMIT, msg, sizeof msg);
    long long request = arg_int(c, "request", -1, 1LL << 40, msg, sizeof msg);
    dash_review_filter f = {-1, 0, request, arg_str(c, "tag")};
    const char *status = arg_str(c, "status"), *reason = arg_str(c, "reason");
    if (status) {
        f.status = !strcmp(status, "pending")    ? DASH_PENDING
                   : !strcmp(status, "approved") ? DASH_APPROVED
                   : !strcmp(status, "rejected") ? DASH_REJECTED
                                                 : -2;
        if (f.status == -2) snprintf(msg, sizeof msg, "query argument 'status' must be pending, approved or rejected");
    }
    if (reason) {
        for (unsigned b = 0; b < SERVE_REVIEW_NREASONS; b++)
            if (!strcmp(reason, serve_review_reason_name(1u << b))) f.reasons = 1u << b;
        if (!f.reasons)
            snprintf(msg, sizeof msg,
                     "query argument 'reason' must be samples_disagree, tool_failed, budget_hit, "
                     "no_answer or generation_error");
    }
    if (msg[0]) return dash_send_error(c, 400, msg);
    if (!d->has_q) return dash_send_error(c, 404, "this dashboard has no review queue (--review-queue)");
    cJSON *o;
    rt_error err;
    pthread_mutex_lock(&d->mu);
    rt_status st = refresh(d, &err) ? RT_EFORMAT : dash_review_list(&d->q, &f, (size_t)offset, (size_t)limit, &o, &err);
    pthread_mutex_unlock(&d->mu);
    return st ? dash_send_error(c, 500, err.msg) : dash_send_json(c, 200, o);
}

static enum MHD_Result review_one(dash *d, struct MHD_Connection *c, const char *id) {
    if (!d->has_q) return dash_send_error(c, 404, "this dashboard has no review queue (--review-queue)");
    cJSON *o = NULL;
    rt_error err;
    rt_status st = RT_OK;
    pthread_mutex_lock(&d->mu);
    if (refresh(d, &err)) st = RT_EFORMAT;
    long i = st ? -1 : dash_queue_find(&d->q, id);
    if (!st && i >= 0) st = dash_review_trace(&d->q, (size_t)i, &o, &err);
    pthread_mutex_unlock(&d->mu);
    if (st) return dash_send_error(c, 500, err.msg);
    if (i < 0) return dash_send_error(c, 404, "no such entry in the review queue");
    return dash_send_json(c, 200, o);
}

static const char *json_str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static enum MHD_Result decide(dash *d, struct MHD_Connection *c, const char *id, const char *decision, const char *body,
                              size_t body_len) {
    if (!d->has_q) return dash_send_error(c, 404, "this dashboard has no review queue (--review-queue)");
    cJSON *b = body_len ? cJSON_ParseWithLength(body, body_len) : cJSON_CreateObject();
    const char *note = json_str(b, "note"), *reviewer = json_str(b, "reviewer");
    const char *bad = !cJSON_IsObject(b) ? "the body must be a JSON object {\"note\", \"reviewer\"}"
                      : (note && strlen(note) > DASH_MAX_NOTE) || (reviewer && strlen(reviewer) > 200)
                          ? "the note is over 4000 bytes or the reviewer over 200"
                          : NULL;
    if (bad) {
        cJSON_Delete(b);
        return dash_send_error(c, 400, bad);
    }
    rt_error err;
    rt_status st = RT_OK;
    pthread_mutex_lock(&d->mu);
    if (refresh(d, &err)) st = RT_EFORMAT;
    long i = st ? -1 : dash_queue_find(&d->q, id);
    pthread_mutex_unlock(&d->mu);
    /* The append takes the queue's own lock (serve/queue.c), as `retool review` does; entries are never removed, so
     * the one found stays. */
    if (!st && i >= 0)
        st = serve_queue_append_decision(d->cfg.review_queue, id, decision, note && *note ? note : NULL,
                                         reviewer && *reviewer ? reviewer : d->cfg.reviewer, &err);
    cJSON_Delete(b);
    if (st) return dash_send_error(c, 500, err.msg);
    if (i < 0) return dash_send_error(c, 404, "no such entry in the review queue");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "status", decision);
    return dash_send_json(c, 200, o);
}

static enum MHD_Result audit(dash *d, struct MHD_Connection *c) {
    char msg[200] = "";
    long long offset = arg_int(c, "offset", 0, 1LL << 40, msg, sizeof msg);
    long long limit = arg_int(c, "limit", 50, DASH_MAX_LIMIT, msg, sizeof msg);
    dash_audit_filter f = {arg_int(c, "request", -1, 1LL << 40, msg, sizeof msg), arg_time(c, "from", msg, sizeof msg),
                           arg_time(c, "to", msg, sizeof msg), -1, arg_str(c, "q")};
    const char *status = arg_str(c, "status");
    if (status && (f.status = dash_call_status_parse(status)) < 0)
        snprintf(msg, sizeof msg, "query argument 'status' must be ok, error, timeout, sandbox_error or refused");
    if (msg[0]) return dash_send_error(c, 400, msg);
    if (!d->has_a) return dash_send_error(c, 404, "this dashboard has no audit log (--audit-log)");
    cJSON *o;
    rt_error err;
    pthread_mutex_lock(&d->mu);
    rt_status st =
        refresh(d, &err) ? RT_EFORMAT : dash_audit_search(&d->a, &f, (size_t)offset, (size_t)limit, &o, &err);
    pthread_mutex_unlock(&d->mu);
    return st ? dash_send_error(c, 500, err.msg) : dash_send_json(c, 200, o);
}

static enum MHD_Result stats(dash *d, struct MHD_Connection *c) {
    char msg[200] = "";
    long long buckets = arg_int(c, "buckets", 24, 256, msg, sizeof msg);
    if (msg[0] || buckets < 1) return dash_send_error(c, 400, "query argument 'buckets' must be 1..256");
    /* Empty views stand in for a file the dashboard was not given. */
    dash_queue q0;
    dash_audit a0;
    memset(&q0, 0, sizeof q0);
    memset(&a0, 0, sizeof a0);
    q0.tags[0] = "";
    q0.ntags = 1;
    cJSON *o;
    rt_error err;
    pthread_mutex_lock(&d->mu);
    rt_status st = refresh(d, &err) ? RT_EFORMAT
                                    : dash_stats_json(d->has_q ? &d->q : &q0, d->has_a ? &d->a : &a0, d->cfg.live,
                                                      (int)buckets, &o, &err);
    pthread_mutex_unlock(&d->mu);
    return st ? dash_send_error(c, 500, err.msg) : dash_send_json(c, 200, o);
}

enum MHD_Result dash_api(dash *d, struct MHD_Connection *c, const char *path, int is_post, const char *body,
                         size_t body_len, const char *csrf) {
    const char *rest = NULL;
    if (!strcmp(path, "session") && !is_post) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "csrf", csrf);
        if (d->has_q) cJSON_AddStringToObject(o, "review_queue", d->cfg.review_queue);
        if (d->has_a) cJSON_AddStringToObject(o, "audit_log", d->cfg.audit_log);
        pthread_mutex_lock(&d->mu);
        cJSON_AddBoolToObject(o, "live", d->cfg.live != NULL);
        pthread_mutex_unlock(&d->mu);
        return dash_send_json(c, 200, o);
    }
    if (!strcmp(path, "review") && !is_post) return review_list(d, c);
    if (!strcmp(path, "audit") && !is_post) return audit(d, c);
    if (!strcmp(path, "stats") && !is_post) return stats(d, c);
    if (!strncmp(path, "review/", 7)) rest = path + 7;
    if (rest && *rest && !strchr(rest, '/') && !is_post) return review_one(d, c, rest);
    const char *slash = rest ? strrchr(rest, '/') : NULL;
    if (slash && is_post && slash > rest && (!strcmp(slash, "/approve") || !strcmp(slash, "/reject"))) {
        char id[1024];
        size_t n = (size_t)(slash - rest);
        if (n >= sizeof id) return dash_send_error(c, 404, "no such entry in the review queue");
        memcpy(id, rest, n);
        id[n] = 0;
        return decide(d, c, id, !strcmp(slash, "/approve") ? "approved" : "rejected", body, body_len);
    }
    return dash_send_error(c, 404,
                           "no such dashboard endpoint (GET session, review, review/ID, audit, stats; POST "
                           "review/ID/approve, review/ID/reject)");
}
