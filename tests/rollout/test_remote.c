/* The SandboxFusion client against small fake servers on loopback: field mapping, load spreading, a dead server
 * skipped, HTTP errors and hung servers turned into interpreter errors without stalling. */
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "base/timer.h"
#include "rollout/remote_exec.h"

typedef struct fake_server {
    struct MHD_Daemon *d;
    int port;
    int mode;     /* 0 = SandboxFusion, 1 = HTTP 500, 2 = hang 3 s, 3 = not JSON */
    int handled;
} fake_server;

typedef struct body_buf {
    char *data;
    size_t len;
} body_buf;

static const char *answer_for(const char *code, char *buf, size_t n) {
    if (strcmp(code, "print(1)") == 0)
        return "{\"status\":\"Success\",\"message\":\"\",\"compile_result\":null,\"run_result\":{\"status\":\"Finished\","
               "\"execution_time\":0.01,\"return_code\":0,\"stdout\":\"1\\n\",\"stderr\":\"\"},\"files\":{}}";
    if (strcmp(code, "1/0") == 0)
        return "{\"status\":\"Failed\",\"message\":\"\",\"compile_result\":null,\"run_result\":{\"status\":\"Finished\","
               "\"execution_time\":0.01,\"return_code\":1,\"stdout\":\"\",\"stderr\":\"Traceback (most recent call "
               "last):\\nZeroDivisionError: division by zero\\n\"},\"files\":{}}";
    if (strcmp(code, "while True: pass") == 0)
        return "{\"status\":\"Failed\",\"message\":\"\",\"compile_result\":null,\"run_result\":{\"status\":"
               "\"TimeLimitExceeded\",\"execution_time\":1.0,\"return_code\":null,\"stdout\":\"\",\"stderr\":\"\"},"
               "\"files\":{}}";
    snprintf(buf, n, "{\"status\":\"SandboxError\",\"message\":\"unknown test code\",\"run_result\":null}");
    return buf;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    fake_server *fs = cls;
    body_buf *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        b->data = realloc(b->data, b->len + *upload_size + 1);
        memcpy(b->data + b->len, upload, *upload_size);
        b->len += *upload_size;
        b->data[b->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    fs->handled++;
    char buf[256];
    const char *text;
    unsigned status = 200;
    if (strcmp(method, "POST") != 0 || strcmp(url, "/run_code") != 0) {
        status = 404;
        text = "{}";
    } else if (fs->mode == 1) {
        status = 500;
        text = "internal";
    } else if (fs->mode == 3) {
        text = "<html>not json</html>";
    } else {
        if (fs->mode == 2) sleep(3);
        cJSON *req = cJSON_Parse(b->data ? b->data : "");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(req, "code");
        const cJSON *lang = cJSON_GetObjectItemCaseSensitive(req, "language");
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(req, "run_timeout");
        if (!cJSON_IsString(code) || !cJSON_IsString(lang) || strcmp(lang->valuestring, "python") != 0 ||
            !cJSON_IsNumber(rt)) {
            status = 400;
            text = "{\"status\":\"SandboxError\",\"message\":\"bad request\"}";
        } else {
            text = answer_for(code->valuestring, buf, sizeof buf);
        }
        cJSON_Delete(req);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
    (void)cls;
    (void)c;
    (void)t;
    body_buf *b = *con_cls;
    if (b) free(b->data);
    free(b);
    *con_cls = NULL;
}

static void server_start(fake_server *fs, int mode) {
    memset(fs, 0, sizeof *fs);
    fs->mode = mode;
    fs->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler,
                             fs, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                             MHD_OPTION_END);
    cr_assert_not_null(fs->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(fs->d, MHD_DAEMON_INFO_BIND_PORT);
    fs->port = info->port;
}

static void url_of(const fake_server *fs, char *buf, size_t n) { snprintf(buf, n, "http://127.0.0.1:%d/", fs->port); }

/* Submits code and polls until its result comes back (or 10 s pass). */
static rollout_exec_result run_one(rollout_executor *x, const char *code, double timeout_s) {
    rollout_exec_request req = {.code = code, .timeout_s = timeout_s};
    rt_error e;
    cr_assert_eq(x->submit(x->ctx, 42, &req, &e), RT_OK, "%s", e.msg);
    uint64_t ticket;
    rollout_exec_result res;
    double t0 = rt_time_now();
    while (!x->poll(x->ctx, 0.1, &ticket, &res)) cr_assert_lt(rt_time_now() - t0, 10.0, "result never came");
    cr_expect_eq(ticket, 42u);
    return res;
}

static void res_free(rollout_exec_result *r) {
    free(r->stdout_text);
    free(r->stderr_text);
}

static void init(void) { rt_log_set_level(RT_LOG_OFF); }
TestSuite(remote, .init = init);

Test(remote, maps_sandboxfusion_fields) {
    fake_server fs;
    server_start(&fs, 0);
    char url[64];
    url_of(&fs, url, sizeof url);
    const char *urls[] = {url};
    rollout_remote_config cfg = {.urls = urls, .n_urls = 1};
    rollout_remote *r;
    rt_error e;
    cr_assert_eq(rollout_remote_open(&cfg, &r, &e), RT_OK, "%s", e.msg);
    rollout_executor x = rollout_remote_ops(r);
    rollout_exec_result res = run_one(&x, "print(1)", 5);
    cr_expect_eq(res.status, ROLLOUT_EXEC_OK);
    cr_expect_str_eq(res.stdout_text, "1\n");
    res_free(&res);
    res = run_one(&x, "1/0", 5);
    cr_expect_eq(res.status, ROLLOUT_EXEC_ERROR);
    cr_expect(strstr(res.stderr_text, "ZeroDivisionError") != NULL);
    res_free(&res);
    res = run_one(&x, "while True: pass", 5);
    cr_expect_eq(res.status, ROLLOUT_EXEC_TIMEOUT);
    res_free(&res);
    res = run_one(&x, "something else", 5);
    cr_expect_eq(res.status, ROLLOUT_EXEC_SANDBOX_ERROR);
    cr_expect_str_eq(res.stderr_text, "unknown test code");
    res_free(&res);
    rollout_exec_request stateful = {.code = "print(1)", .timeout_s = 1, .session = 3};
    cr_expect_eq(x.submit(x.ctx, 1, &stateful, &e), RT_EUNSUPPORTED);
    rollout_remote_free(r);
    MHD_stop_daemon(fs.d);
}

Test(remote, spreads_load_and_skips_a_dead_server) {
    fake_server a, b;
    server_start(&a, 0);
    server_start(&b, 0);
    char ua[64], ub[64];
    url_of(&a, ua, sizeof ua);
    url_of(&b, ub, sizeof ub);
    const char *urls[] = {ua, "http://127.0.0.1:1/", ub}; /* port 1: nothing listens */
    rollout_remote_config cfg = {.urls = urls, .n_urls = 3, .backoff_s = 60};
    rollout_remote *r;
    rt_error e;
    cr_assert_eq(rollout_remote_open(&cfg, &r, &e), RT_OK);
    rollout_executor x = rollout_remote_ops(r);
    int ok = 0, failed = 0;
    for (int round = 0; round < 4; round++) {
        for (uint64_t k = 0; k < 6; k++) {
            rollout_exec_request req = {.code = "print(1)", .timeout_s = 5};
            cr_assert_eq(x.submit(x.ctx, k, &req, &e), RT_OK);
        }
        int got = 0;
        double t0 = rt_time_now();
        while (got < 6 && rt_time_now() - t0 < 10) {
            uint64_t t;
            rollout_exec_result res;
            if (x.poll(x.ctx, 0.1, &t, &res)) {
                got++;
                if (res.status == ROLLOUT_EXEC_OK) ok++;
                else failed++;
                res_free(&res);
            }
        }
        cr_assert_eq(got, 6);
    }
    /* Only the first round can hit the dead server (at most its share of 6); after that it is skipped. */
    cr_expect_leq(failed, 2);
    cr_expect_eq(rollout_remote_sent(r, 1), (size_t)failed);
    cr_expect_geq(ok, 22);
    cr_expect_gt(rollout_remote_sent(r, 0), 5u);
    cr_expect_gt(rollout_remote_sent(r, 2), 5u);
    rollout_remote_free(r);
    MHD_stop_daemon(a.d);
    MHD_stop_daemon(b.d);
}

Test(remote, http_errors_and_garbage_become_sandbox_errors) {
    fake_server bad, junk;
    server_start(&bad, 1);
    server_start(&junk, 3);
    char u1[64], u2[64];
    url_of(&bad, u1, sizeof u1);
    url_of(&junk, u2, sizeof u2);
    const char *urls1[] = {u1};
    rollout_remote_config cfg = {.urls = urls1, .n_urls = 1, .backoff_s = 60};
    rollout_remote *r;
    rt_error e;
    cr_assert_eq(rollout_remote_open(&cfg, &r, &e), RT_OK);
    rollout_executor x = rollout_remote_ops(r);
    rollout_exec_result res = run_one(&x, "print(1)", 5);
    cr_expect_eq(res.status, ROLLOUT_EXEC_SANDBOX_ERROR);
    cr_expect(strstr(res.stderr_text, "HTTP 500") != NULL, "%s", res.stderr_text);
    res_free(&res);
    /* The only server is now skipped: the next call is answered at once, not stalled. */
    double t0 = rt_time_now();
    res = run_one(&x, "print(1)", 5);
    cr_expect_lt(rt_time_now() - t0, 0.5);
    cr_expect_str_eq(res.stderr_text, "all sandbox servers are busy or unreachable");
    res_free(&res);
    rollout_remote_free(r);
    const char *urls2[] = {u2};
    cfg.urls = urls2;
    cr_assert_eq(rollout_remote_open(&cfg, &r, &e), RT_OK);
    x = rollout_remote_ops(r);
    res = run_one(&x, "print(1)", 5);
    cr_expect_eq(res.status, ROLLOUT_EXEC_SANDBOX_ERROR);
    cr_expect(strstr(res.stderr_text, "not a SandboxFusion response") != NULL, "%s", res.stderr_text);
    res_free(&res);
    rollout_remote_free(r);
    MHD_stop_daemon(bad.d);
    MHD_stop_daemon(junk.d);
}

Test(remote, hung_server_times_out_as_an_error) {
    fake_server hang;
    server_start(&hang, 2);
    char u[64];
    url_of(&hang, u, sizeof u);
    const char *urls[] = {u};
    rollout_remote_config cfg = {.urls = urls, .n_urls = 1, .slack_s = 0.3};
    rollout_remote *r;
    rt_error e;
    cr_assert_eq(rollout_remote_open(&cfg, &r, &e), RT_OK);
    rollout_executor x = rollout_remote_ops(r);
    double t0 = rt_time_now();
    rollout_exec_result res = run_one(&x, "print(1)", 0.2);
    double took = rt_time_now() - t0;
    cr_expect_eq(res.status, ROLLOUT_EXEC_SANDBOX_ERROR);
    cr_expect(took < 2.0, "took %.2f s", took);
    res_free(&res);
    rollout_remote_free(r);
    MHD_stop_daemon(hang.d);
}

Test(remote, bad_urls_are_rejected) {
    const char *urls[] = {"ftp://x"};
    rollout_remote_config cfg = {.urls = urls, .n_urls = 1};
    rollout_remote *r;
    rt_error e;
    cr_expect_eq(rollout_remote_open(&cfg, &r, &e), RT_EINVAL);
    cr_expect(strstr(e.msg, "ftp://x") != NULL);
    cfg.n_urls = 0;
    cr_expect_eq(rollout_remote_open(&cfg, &r, &e), RT_EINVAL);
}
