/* The worker's loop in C: control frames from the supervisor (run, open, close), one pre-forked child kept ready,
 * sessions as long-lived children, results back as frames. sbx_zygote_serve returns only in a child, to let
 * Python run the code. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"
#include "sandbox/zygote/zyg.h"

#define MAX_SESSIONS 64

/* Sends hdr with blobs: none, or stdout and stderr, or those and the fetched files' bytes (one after the other). */
static int send_frame(int fd, cJSON *hdr, const zyg_buf *out, const zyg_buf *err, const zyg_buf *files) {
    cJSON *blobs = cJSON_AddArrayToObject(hdr, "blobs");
    size_t nb = 0;
    const zyg_buf *b[3] = {out, err, files};
    const void *bp[3];
    size_t bl[3];
    for (int i = 0; i < 3 && out && err && b[i]; i++) {
        cJSON_AddItemToArray(blobs, cJSON_CreateNumber((double)b[i]->n));
        bp[nb] = b[i]->p;
        bl[nb++] = b[i]->n;
    }
    char *text = cJSON_PrintUnformatted(hdr);
    if (!text) return -1;
    int rc = sbx_proto_send(fd, text, bp, bl, nb);
    zyg_free(text);
    return rc;
}

/* The request's id, echoed in its answer (null when none). */
static void add_id(cJSON *h, const cJSON *id) {
    cJSON_AddItemToObject(h, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
}

static void send_simple(int fd, const char *type, const cJSON *id, const char *message) {
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "t", type);
    add_id(h, id);
    if (message) cJSON_AddStringToObject(h, "message", message);
    send_frame(fd, h, NULL, NULL, NULL);
    cJSON_Delete(h);
}

typedef struct zyg_state {
    zyg_cfg cfg;
    zyg_child pre;
    zyg_child sessions[MAX_SESSIONS];
    int nsessions;
    zyg_child dying; /* the last run's child: killed, descriptors closed, reaped after the next pre-fork */
} zyg_state;

static zyg_child *session_find(zyg_state *s, uint64_t sid) {
    for (int i = 0; i < s->nsessions; i++)
        if (s->sessions[i].sid == sid) return &s->sessions[i];
    return NULL;
}

static void session_drop(zyg_state *s, zyg_child *c) {
    zyg_child_kill(c);
    zyg_child_reap(c, NULL, NULL);
    *c = s->sessions[--s->nsessions];
}

/* Sends the "done" answer res (taken) to request id, with out, err and the fetched files' bytes as its blobs (taken;
 * may be NULL). */
static void answer(zyg_state *s, cJSON *res, const cJSON *id, zyg_buf *out, zyg_buf *err, zyg_buf *files) {
    cJSON_AddStringToObject(res, "t", "done");
    add_id(res, id);
    send_frame(s->cfg.ctl, res, out, err, files);
    cJSON_Delete(res);
    if (out) zyg_free(out->p);
    if (err) zyg_free(err->p);
    if (files) zyg_free(files->p);
}

/* A child's setup frame header from a run or open message: its limits, files and stdin (a session's has none). */
static char *job_header(const cJSON *msg) {
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(msg, "limits"),
                *files = cJSON_GetObjectItemCaseSensitive(msg, "files"),
                *in = cJSON_GetObjectItemCaseSensitive(msg, "stdin");
    cJSON *job = cJSON_CreateObject();
    cJSON_AddItemToObject(job, "limits", lim ? cJSON_Duplicate(lim, 1) : cJSON_CreateObject());
    cJSON_AddItemToObject(job, "files", files ? cJSON_Duplicate(files, 1) : cJSON_CreateObject());
    cJSON_AddStringToObject(job, "stdin", cJSON_IsString(in) ? in->valuestring : "");
    char *hdr = cJSON_PrintUnformatted(job);
    cJSON_Delete(job);
    return hdr;
}

/* A stateless run on the pre-forked child: the result, then the kill; the reap waits until the next child is forked
 * (the loop reaps it before it reads the next job, so the whole tree is gone before any other code runs). */
static void do_run(zyg_state *s, const cJSON *msg, const unsigned char *payload, size_t plen) {
    zyg_child c = s->pre;
    s->pre.alive = 0;
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(msg, "limits");
    char *hdr = job_header(msg);
    int workfd = dup(c.workfd);
    zyg_buf out = {0}, err = {0};
    cJSON *res = zyg_execute(&c, 0, hdr ? hdr : "{}", payload, plen, lim, &out, &err);
    zyg_free(hdr);
    cJSON *files_out = cJSON_AddArrayToObject(res, "files"), *missing = cJSON_AddArrayToObject(res, "missing");
    const cJSON *fetch = cJSON_GetObjectItemCaseSensitive(msg, "fetch");
    zyg_buf fetched = {0};
    if (cJSON_GetArraySize(fetch) > 0 && workfd >= 0)
        zyg_fetch(workfd, fetch, (size_t)zyg_num(lim, "out_cap", 1 << 20), (size_t)zyg_num(lim, "fetch_cap", 8 << 20),
                  files_out, &fetched, missing);
    if (workfd >= 0) close(workfd);
    answer(s, res, cJSON_GetObjectItemCaseSensitive(msg, "id"), &out, &err, &fetched);
    zyg_child_kill(&c);
    zyg_child_close(&c);
    s->dying = c;
}

static void do_cell(zyg_state *s, const cJSON *msg, const unsigned char *payload, size_t plen) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    zyg_child *c = session_find(s, (uint64_t)zyg_num(msg, "session", 0));
    if (!c || !c->alive) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddStringToObject(h, "why", "session");
        cJSON_AddStringToObject(h, "exc", "");
        cJSON_AddNumberToObject(h, "rc", -1);
        cJSON_AddFalseToObject(h, "session_alive");
        answer(s, h, id, NULL, NULL, NULL);
        return;
    }
    zyg_buf out = {0}, err = {0};
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(msg, "limits");
    cJSON *res = zyg_execute(c, 1, "{}", payload, plen, lim, &out, &err);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "session_alive"))) session_drop(s, c);
    answer(s, res, id, &out, &err, NULL);
}

/* Returns 1 in the new session child. */
static int do_open(zyg_state *s, const cJSON *msg) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    if (s->nsessions >= MAX_SESSIONS) {
        send_simple(s->cfg.ctl, "error", id, "worker: too many sessions");
        return 0;
    }
    zyg_child *c = &s->sessions[s->nsessions];
    char why[600];
    int r = zyg_child_new(&s->cfg, c, ZYG_SESSION, why, sizeof why);
    if (r == 1) return 1;
    if (r < 0) {
        char m[700];
        snprintf(m, sizeof m, "worker: %s", why);
        send_simple(s->cfg.ctl, "error", id, m);
        return 0;
    }
    c->sid = (uint64_t)zyg_num(msg, "session", 0);
    s->nsessions++;
    char *hdr = job_header(msg);
    if (!hdr || zyg_send_frame(c->jw, hdr, NULL, 0)) {
        zyg_free(hdr);
        session_drop(s, c);
        send_simple(s->cfg.ctl, "error", id, "worker: cannot send the session its setup");
        return 0;
    }
    zyg_free(hdr);
    send_simple(s->cfg.ctl, "opened", id, NULL);
    return 0;
}

static void do_close(zyg_state *s, const cJSON *msg) {
    zyg_child *c = session_find(s, (uint64_t)zyg_num(msg, "session", 0));
    if (c) session_drop(s, c);
    send_simple(s->cfg.ctl, "closed", cJSON_GetObjectItemCaseSensitive(msg, "id"), NULL);
}

static int prefork(zyg_state *s) {
    char why[600];
    int r = zyg_child_new(&s->cfg, &s->pre, ZYG_RUN, why, sizeof why);
    if (r < 0) {
        char m[700];
        snprintf(m, sizeof m, "worker: cannot fork a child: %s", why);
        send_simple(s->cfg.ctl, "error", NULL, m);
    }
    return r;
}

/* The worker's loop. Returns ZYG_RUN or ZYG_SESSION in a child (which finds what to run in out[] and code_buf), 0 when
 * the supervisor closed the control socket, -1 when the worker cannot go on. */
int sbx_zygote_serve(int ctl, const char *init_json, const unsigned char *bpf, size_t bpf_len, long long base_vm,
                     int64_t *out, unsigned char *code_buf, size_t code_cap) {
    static zyg_state s; /* static: the children inherit it, Python's heap stays untouched */
    memset(&s, 0, sizeof s);
    s.dying.jw = s.dying.sr = s.dying.outr = s.dying.errr = s.dying.workfd = -1;
    cJSON *init = cJSON_Parse(init_json);
    s.cfg.ctl = ctl;
    s.cfg.bpf = bpf;
    s.cfg.bpf_len = bpf_len;
    s.cfg.tmpfs_mb = (long)zyg_num(init, "tmpfs_mb", 64);
    s.cfg.run_uid = (int)zyg_num(init, "uid", 1000);
    s.cfg.acct = zyg_num(init, "acct", 0) != 0;
    s.cfg.base_vm = base_vm;
    s.cfg.out = out;
    s.cfg.code_buf = code_buf;
    s.cfg.code_cap = code_cap;
    cJSON_Delete(init);
    s.cfg.self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (s.cfg.self_pidns < 0) {
        send_simple(ctl, "error", NULL, "worker: cannot open its pid namespace");
        return -1;
    }
    signal(SIGCHLD, SIG_DFL);
    zyg_arena_init();
    int r = prefork(&s);
    if (r) return r < 0 ? -1 : ZYG_RUN;
    cJSON *ready = cJSON_CreateObject();
    cJSON_AddStringToObject(ready, "t", "ready");
    cJSON_AddNumberToObject(ready, "base_vm", (double)base_vm);
    cJSON_AddNumberToObject(ready, "pid", (double)getpid());
    send_frame(ctl, ready, NULL, NULL, NULL);
    cJSON_Delete(ready);
    for (;;) {
        unsigned char *body;
        size_t len;
        zyg_arena_reset(); /* nothing allocated for the last message outlives it */
        if (zyg_read_frame(ctl, &body, &len)) break;
        unsigned char *nl = memchr(body, '\n', len);
        cJSON *msg = nl ? cJSON_ParseWithLength((const char *)body, (size_t)(nl - body)) : NULL;
        const unsigned char *payload = nl ? nl + 1 : NULL;
        size_t plen = nl ? len - (size_t)(nl + 1 - body) : 0;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "t");
        const char *type = cJSON_IsString(t) ? t->valuestring : "";
        int has_session = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(msg, "session"));
        if (!msg) {
            send_simple(ctl, "error", NULL, "worker: malformed frame");
        } else if (!strcmp(type, "run") && !has_session) {
            if (!s.pre.alive) { /* the last pre-fork failed: try again, and fail this job if it fails again */
                char why[600];
                r = zyg_child_new(&s.cfg, &s.pre, ZYG_RUN, why, sizeof why);
                if (r > 0) return ZYG_RUN;
                if (r < 0) {
                    char m[700];
                    snprintf(m, sizeof m, "worker: cannot fork a child: %s", why);
                    send_simple(ctl, "error", cJSON_GetObjectItemCaseSensitive(msg, "id"), m);
                }
            }
            if (s.pre.alive) do_run(&s, msg, payload, plen);
        } else if (!strcmp(type, "run")) {
            do_cell(&s, msg, payload, plen);
        } else if (!strcmp(type, "open")) {
            if (do_open(&s, msg)) return ZYG_SESSION; /* (msg lives in the worker's arena, which a child lacks) */
        } else if (!strcmp(type, "close")) {
            do_close(&s, msg);
        } else {
            char m[300];
            snprintf(m, sizeof m, "unknown message '%.200s'", type);
            send_simple(ctl, "error", cJSON_GetObjectItemCaseSensitive(msg, "id"), m);
        }
        cJSON_Delete(msg);
        zyg_free(body);
        /* The next child is forked while the last run's child exits (its address space, mounts and namespaces go on
         * the other core), then that child is reaped: the pid namespace's init has exited only when every process
         * of its tree has, so nothing of the last run is left when the next job is read. */
        r = s.pre.alive ? 0 : prefork(&s);
        if (r > 0) return ZYG_RUN;
        zyg_child_reap(&s.dying, NULL, NULL);
        if (r < 0) return -1; /* the supervisor restarts a worker that cannot fork */
    }
    zyg_child_kill(&s.pre);
    zyg_child_reap(&s.pre, NULL, NULL);
    zyg_child_reap(&s.dying, NULL, NULL);
    while (s.nsessions)
        session_drop(&s, &s.sessions[0]);
    return 0;
}
