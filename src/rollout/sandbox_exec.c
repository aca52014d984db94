#include "rollout/sandbox_exec.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct done_item {
    uint64_t ticket;
    rollout_exec_result result;
    struct done_item *next;
} done_item;

typedef struct session_entry {
    uint64_t id;
    sbx_session *s;
} session_entry;

typedef struct pending {
    struct rollout_sandbox_exec *x;
    uint64_t ticket;
} pending;

struct rollout_sandbox_exec {
    sbx_pool *pool;
    int64_t memory_mb, output_bytes;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    done_item *head, *tail;
    size_t in_flight;      /* callbacks not yet delivered */
    int closing;
    session_entry *sessions;
    size_t nsessions, cap_sessions;
};

rt_status rollout_sandbox_exec_init(rollout_sandbox_exec **out, sbx_pool *pool, int64_t memory_mb,
                                    int64_t output_bytes, rt_error *err) {
    rollout_sandbox_exec *x = calloc(1, sizeof *x);
    if (!x) return rt_err_set(err, RT_ENOMEM, "out of memory");
    x->pool = pool;
    x->memory_mb = memory_mb;
    x->output_bytes = output_bytes;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    *out = x;
    return RT_OK;
}

static rollout_exec_status map_status(sbx_status s) {
    switch (s) {
    case SBX_OK: return ROLLOUT_EXEC_OK;
    case SBX_TIMEOUT: return ROLLOUT_EXEC_TIMEOUT;
    case SBX_SANDBOX_ERROR: return ROLLOUT_EXEC_SANDBOX_ERROR;
    case SBX_ERROR:
    case SBX_MEMORY:
    case SBX_OUTPUT_LIMIT: return ROLLOUT_EXEC_ERROR;
    }
    return ROLLOUT_EXEC_SANDBOX_ERROR;
}

static void push_done(rollout_sandbox_exec *x, uint64_t ticket, rollout_exec_status st, char *out, char *errtext) {
    done_item *d = calloc(1, sizeof *d);
    if (!d) {
        free(out);
        free(errtext);
        return; /* out of memory: the rollout's wall cap ends the trajectory */
    }
    d->ticket = ticket;
    d->result.status = st;
    d->result.stdout_text = out;
    d->result.stderr_text = errtext;
    if (x->tail) x->tail->next = d;
    else x->head = d;
    x->tail = d;
}

/* What the model sees for limits the interpreter itself does not report on stderr. */
static char *stderr_for(const sbx_result *res) {
    const char *extra = NULL;
    if (res->status == SBX_MEMORY) extra = "MemoryError: the program ran out of its memory limit";
    else if (res->status == SBX_OUTPUT_LIMIT) extra = "OutputLimitError: the program printed more than the output limit";
    else if (res->status == SBX_SANDBOX_ERROR) extra = res->message[0] ? res->message : "sandbox error";
    if (!extra) return strndup(res->err ? res->err : "", res->err_len);
    size_t n = res->err_len + strlen(extra) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%.*s%s%s", (int)res->err_len, res->err ? res->err : "", res->err_len ? "\n" : "", extra);
    return s;
}

static void on_result(const sbx_result *res, void *user) {
    pending *p = user;
    rollout_sandbox_exec *x = p->x;
    pthread_mutex_lock(&x->mu);
    push_done(x, p->ticket, map_status(res->status), strndup(res->out ? res->out : "", res->out_len), stderr_for(res));
    x->in_flight--;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    free(p);
}

static sbx_session *session_get(rollout_sandbox_exec *x, uint64_t id, sbx_limits *lim, rt_error *err) {
    for (size_t i = 0; i < x->nsessions; i++)
        if (x->sessions[i].id == id) return x->sessions[i].s;
    if (x->nsessions == x->cap_sessions) {
        size_t cap = x->cap_sessions ? x->cap_sessions * 2 : 16;
        session_entry *p = realloc(x->sessions, cap * sizeof *p);
        if (!p) {
            rt_err_set(err, RT_ENOMEM, "out of memory");
            return NULL;
        }
        x->sessions = p;
        x->cap_sessions = cap;
    }
    sbx_session *s = NULL;
    if (sbx_session_open(x->pool, lim, NULL, 0, &s, err) != RT_OK) return NULL;
    x->sessions[x->nsessions++] = (session_entry){.id = id, .s = s};
    return s;
}

static rt_status sx_submit(void *ctx, uint64_t ticket, const rollout_exec_request *req, rt_error *err) {
    rollout_sandbox_exec *x = ctx;
    sbx_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.wall_s = req->timeout_s;
    lim.memory_mb = x->memory_mb;
    lim.output_bytes = x->output_bytes;
    pending *p = malloc(sizeof *p);
    if (!p) return rt_err_set(err, RT_ENOMEM, "out of memory");
    p->x = x;
    p->ticket = ticket;
    pthread_mutex_lock(&x->mu);
    x->in_flight++;
    pthread_mutex_unlock(&x->mu);
    rt_status st;
    if (req->session) {
        sbx_session *s = session_get(x, req->session, &lim, err);
        st = s ? sbx_session_submit(s, req->code, strlen(req->code), &lim, on_result, p, NULL, err) : err->status;
    } else {
        sbx_request r;
        memset(&r, 0, sizeof r);
        r.code = req->code;
        r.code_len = strlen(req->code);
        r.limits = lim;
        st = sbx_pool_submit(x->pool, &r, on_result, p, NULL, err);
    }
    if (st) {
        pthread_mutex_lock(&x->mu);
        x->in_flight--;
        pthread_mutex_unlock(&x->mu);
        free(p);
    }
    return st;
}

static int sx_poll(void *ctx, double wait_s, uint64_t *ticket, rollout_exec_result *result) {
    rollout_sandbox_exec *x = ctx;
    pthread_mutex_lock(&x->mu);
    if (!x->head && wait_s > 0 && x->in_flight > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = (long long)ts.tv_nsec + (long long)(wait_s * 1e9);
        ts.tv_sec += ns / 1000000000LL;
        ts.tv_nsec = ns % 1000000000LL;
        while (!x->head && x->in_flight > 0)
            if (pthread_cond_timedwait(&x->cv, &x->mu, &ts) != 0) break;
    }
    done_item *d = x->head;
    if (d) {
        x->head = d->next;
        if (!x->head) x->tail = NULL;
    }
    pthread_mutex_unlock(&x->mu);
    if (!d) return 0;
    *ticket = d->ticket;
    *result = d->result;
    free(d);
    return 1;
}

static void sx_session_close(void *ctx, uint64_t id) {
    rollout_sandbox_exec *x = ctx;
    for (size_t i = 0; i < x->nsessions; i++) {
        if (x->sessions[i].id == id) {
            sbx_session_close(x->sessions[i].s);
            x->sessions[i] = x->sessions[--x->nsessions];
            return;
        }
    }
}

void rollout_sandbox_exec_free(rollout_sandbox_exec *x) {
    if (!x) return;
    for (size_t i = 0; i < x->nsessions; i++) sbx_session_close(x->sessions[i].s);
    free(x->sessions);
    /* Wait for callbacks still due (each run ends by its own timeout). */
    pthread_mutex_lock(&x->mu);
    while (x->in_flight > 0) pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
    while (x->head) {
        done_item *d = x->head;
        x->head = d->next;
        free(d->result.stdout_text);
        free(d->result.stderr_text);
        free(d);
    }
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x);
}

rollout_executor rollout_sandbox_exec_ops(rollout_sandbox_exec *x) {
    rollout_executor e = {.ctx = x, .submit = sx_submit, .poll = sx_poll, .session_close = sx_session_close};
    return e;
}
