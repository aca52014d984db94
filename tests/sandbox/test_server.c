/* The SandboxFusion-compatible server over loopback: verl-style request bodies with every response field checked,
 * run_jupyter with its timeouts enforced, the error answers (400, 404, 405, 413, 429, unsupported language), the
 * audit log, and a clean SIGTERM shutdown of `retool sandbox serve` that leaves no worker behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/sha256.h"
#include "base/timer.h"
#include "helpers.h"
#include "sandbox/server.h"

typedef th_server fixture;

static fixture fx_start(int workers, int queue_max, size_t max_body, sbx_audit *audit) {
    sbx_config cfg;
    th_config(&cfg, workers);
    if (queue_max) cfg.queue_max = queue_max;
    sbx_server_config scfg;
    sbx_server_config_default(&scfg);
    scfg.audit = audit;
    if (max_body) scfg.max_body_bytes = max_body;
    return th_server_start(&cfg, &scfg);
}

static void fx_stop(fixture *f) {
    th_server_stop(f);
}

static cJSON *post(int port, const char *path, const char *body, int *status) {
    char *resp;
    rt_error err;
    cr_assert_eq(sbx_http_request("127.0.0.1", port, "POST", path, body, strlen(body), 30, status, &resp, NULL, &err),
                 RT_OK, "%s", err.msg);
    cJSON *o = cJSON_Parse(resp);
    cr_assert(o != NULL, "response is JSON: %s", resp);
    free(resp);
    return o;
}

static const cJSON *field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(v != NULL, "response field '%s' is present", k);
    return v;
}

/* Checks every field of a run_code response. */
static void check_run(const cJSON *o, const char *status, const char *run_status, int rc, const char *out) {
    cr_expect_str_eq(field(o, "status")->valuestring, status);
    cr_expect(cJSON_IsString(field(o, "message")));
    cr_expect(cJSON_IsNull(field(o, "compile_result")));
    cr_expect(cJSON_IsString(field(o, "executor_pod_name")));
    cr_expect(cJSON_IsObject(field(o, "files")));
    const cJSON *rr = field(o, "run_result");
    cr_assert(cJSON_IsObject(rr));
    cr_expect_str_eq(field(rr, "status")->valuestring, run_status);
    cr_expect(cJSON_IsNumber(field(rr, "execution_time")));
    cr_expect_geq(field(rr, "execution_time")->valuedouble, 0.0);
    if (rc == 999)
        cr_expect(cJSON_IsNull(field(rr, "return_code")));
    else
        cr_expect_eq(field(rr, "return_code")->valueint, rc);
    cr_expect(cJSON_IsString(field(rr, "stdout")));
    cr_expect(cJSON_IsString(field(rr, "stderr")));
    if (out) cr_expect_str_eq(field(rr, "stdout")->valuestring, out);
}

Test(server, verl_requests, .timeout = 60) {
    fixture f = fx_start(2, 0, 0, NULL);
    char *resp;
    int status;
    rt_error err;
    cr_assert_eq(sbx_http_request("127.0.0.1", f.port, "GET", "/v1/ping", NULL, 0, 5, &status, &resp, NULL, &err),
                 RT_OK);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(resp, "pong");
    free(resp);
    /* The shape verl's sandbox_fusion client posts. */
    cJSON *o = post(f.port, "/run_code",
                    "{\"code\": \"print(int(input()) * 6)\", \"stdin\": \"7\\n\", \"compile_timeout\": 10, "
                    "\"run_timeout\": 5, \"memory_limit_MB\": 1024, \"language\": \"python\", \"files\": {}, "
                    "\"fetch_files\": []}",
                    &status);
    cr_expect_eq(status, 200);
    check_run(o, "Success", "Finished", 0, "42\n");
    cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "run_result"), "stderr")->valuestring, "");
    cJSON_Delete(o);
    o = post(f.port, "/run_code",
             "{\"code\": \"import time\\ntime.sleep(10)\", \"run_timeout\": 1, "
             "\"language\": \"python\"}",
             &status);
    check_run(o, "Failed", "TimeLimitExceeded", 999, "");
    cJSON_Delete(o);
    o = post(f.port, "/run_code", "{\"code\": \"print('a')\\nraise KeyError('k')\", \"language\": \"python\"}",
             &status);
    check_run(o, "Failed", "Finished", 1, "a\n");
    cr_expect(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "run_result"), "stderr")->valuestring,
                     "KeyError: 'k'") != NULL);
    cJSON_Delete(o);
    /* files in (base64 "21"), a file out. */
    o = post(f.port, "/run_code",
             "{\"code\": \"open('b.txt','w').write(str(2*int(open('a.txt').read())))\", \"files\": {\"a.txt\": "
             "\"MjE=\"}, \"fetch_files\": [\"b.txt\"]}",
             &status);
    check_run(o, "Success", "Finished", 0, "");
    cr_expect_str_eq(field(field(o, "files"), "b.txt")->valuestring, "NDI=", "base64 of '42'");
    cJSON_Delete(o);
    o = post(f.port, "/run_code", "{\"code\": \"print(1)\", \"language\": \"cpp\"}", &status);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(field(o, "status")->valuestring, "SandboxError");
    cr_expect(strstr(field(o, "message")->valuestring, "python") != NULL);
    cr_expect(cJSON_IsNull(field(o, "run_result")));
    cJSON_Delete(o);
    o = post(f.port, "/run_code", "{\"code\": 1", &status);
    cr_expect_eq(status, 400);
    cJSON_Delete(o);
    o = post(f.port, "/run_code", "{\"code\": \"1\", \"files\": {\"../x\": \"eA==\"}}", &status);
    cr_expect_eq(status, 400);
    cr_expect(strstr(field(o, "message")->valuestring, "../x") != NULL, "%s", field(o, "message")->valuestring);
    cJSON_Delete(o);
    o = post(f.port, "/nowhere", "{}", &status);
    cr_expect_eq(status, 404);
    cJSON_Delete(o);
    cr_assert_eq(sbx_http_request("127.0.0.1", f.port, "GET", "/run_code", NULL, 0, 5, &status, &resp, NULL, &err),
                 RT_OK);
    cr_expect_eq(status, 405);
    free(resp);
    fx_stop(&f);
}

Test(server, jupyter_cells_and_timeouts, .timeout = 60) {
    fixture f = fx_start(1, 0, 0, NULL);
    int status;
    cJSON *o = post(f.port, "/run_jupyter",
                    "{\"cells\": [\"x = 5\", \"print(x * 2)\", \"x + 1\"], \"kernel\": "
                    "\"python3\"}",
                    &status);
    cr_expect_eq(status, 200);
    cr_expect_str_eq(field(o, "status")->valuestring, "Success");
    const cJSON *cells = field(o, "cells");
    cr_assert_eq(cJSON_GetArraySize(cells), 3);
    cr_expect_str_eq(field(cJSON_GetArrayItem(cells, 1), "stdout")->valuestring, "10\n");
    cr_expect_str_eq(field(cJSON_GetArrayItem(cells, 2), "stdout")->valuestring, "6\n");
    cr_expect(cJSON_IsArray(field(cJSON_GetArrayItem(cells, 0), "display")));
    cr_expect_eq(cJSON_GetArraySize(field(cJSON_GetArrayItem(cells, 0), "error")), 0);
    cr_expect_str_eq(field(field(o, "driver"), "status")->valuestring, "Finished");
    cJSON_Delete(o);
    double t0 = rt_time_now();
    o = post(f.port, "/run_jupyter",
             "{\"cells\": [\"import time\", \"time.sleep(30)\", \"print(1)\"], "
             "\"cell_timeout\": 1, \"total_timeout\": 20}",
             &status);
    cr_expect_lt(rt_time_now() - t0, 10.0, "cell_timeout is enforced (the cell sleeps 30 s)");
    cr_expect_str_eq(field(o, "status")->valuestring, "Failed");
    cr_expect_str_eq(field(field(o, "driver"), "status")->valuestring, "TimeLimitExceeded");
    cr_expect_eq(cJSON_GetArraySize(field(o, "cells")), 2, "cells after a timeout do not run");
    cJSON_Delete(o);
    t0 = rt_time_now();
    o = post(f.port, "/run_jupyter",
             "{\"cells\": [\"import time\", \"time.sleep(2)\", \"time.sleep(2)\", "
             "\"time.sleep(2)\", \"time.sleep(2)\"], \"total_timeout\": 2}",
             &status);
    cr_expect_lt(rt_time_now() - t0, 6.0, "total_timeout (2 s) is enforced (the cells need 8 s)");
    cr_expect_str_eq(field(o, "status")->valuestring, "Failed");
    cr_expect_str_eq(field(field(o, "driver"), "status")->valuestring, "TimeLimitExceeded");
    cJSON_Delete(o);
    o = post(f.port, "/run_jupyter", "{\"cells\": [\"1/0\"]}", &status);
    const cJSON *err0 = cJSON_GetArrayItem(field(cJSON_GetArrayItem(field(o, "cells"), 0), "error"), 0);
    cr_assert(err0 != NULL);
    cr_expect_str_eq(field(err0, "ename")->valuestring, "ZeroDivisionError");
    cr_expect_str_eq(field(err0, "evalue")->valuestring, "division by zero");
    cJSON_Delete(o);
    fx_stop(&f);
}

Test(server, saturation_size_cap_and_audit, .timeout = 60) {
    char path[] = "/tmp/retool-audit-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    sbx_audit *audit;
    rt_error err;
    cr_assert_eq(sbx_audit_open(&audit, path, &err), RT_OK);
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path); /* nothing is left in /tmp even when an assertion below ends the test */
    cr_assert_geq(rfd, 0);
    fixture f = fx_start(1, 1, 4096, audit);
    sbx_request slow = {.code = "import time\ntime.sleep(1.5)", .code_len = 27};
    sbx_job *a, *b;
    cr_assert_eq(sbx_pool_submit(f.pool, &slow, NULL, NULL, &a, &err), RT_OK);
    sbx_stats st;
    do {
        usleep(5000);
        sbx_pool_stats(f.pool, &st);
    } while (st.running < 1);
    cr_assert_eq(sbx_pool_submit(f.pool, &slow, NULL, NULL, &b, &err), RT_OK);
    int status;
    double t0 = rt_time_now();
    cJSON *o = post(f.port, "/run_code", "{\"code\": \"print(1)\"}", &status);
    cr_expect_eq(status, 429, "a saturated pool answers 429");
    cr_expect_lt(rt_time_now() - t0, 1.0, "at once, never a hang (the queued jobs take 1.5 s each)");
    cr_expect_str_eq(field(o, "status")->valuestring, "SandboxError");
    cJSON_Delete(o);
    char *big = malloc(8192);
    memset(big, ' ', 8191);
    memcpy(big, "{\"code\": \"1\"}", 13);
    big[8191] = 0;
    o = post(f.port, "/run_code", big, &status);
    cr_expect_eq(status, 413);
    cJSON_Delete(o);
    free(big);
    sbx_job_wait(a, 10);
    sbx_job_wait(b, 10);
    sbx_job_free(a);
    sbx_job_free(b);
    o = post(f.port, "/run_code", "{\"code\": \"print('audited')\"}", &status);
    cr_expect_eq(status, 200);
    cJSON_Delete(o);
    fx_stop(&f);
    sbx_audit_close(audit);
    char *text = calloc(1, 1 << 16);
    ssize_t len = read(rfd, text, (1 << 16) - 1);
    close(rfd);
    cr_assert_gt(len, 0);
    int lines = 0;
    cJSON *last = NULL;
    for (char *save, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        cJSON_Delete(last);
        last = cJSON_Parse(line);
        cr_assert(last != NULL, "audit line %d is JSON: %s", lines, line);
    }
    cr_expect_eq(lines, 3, "429, 413 and the run are each audited");
    char hex[65];
    rt_sha256_hex("print('audited')", 16, hex);
    cr_expect_str_eq(field(last, "code_sha256")->valuestring, hex);
    cr_expect_str_eq(field(last, "status")->valuestring, "ok");
    cr_expect_eq(field(last, "stdout_bytes")->valueint, 8);
    cr_expect(cJSON_IsString(field(last, "time")));
    cr_expect(cJSON_IsNumber(field(last, "request_id")));
    cr_expect(cJSON_IsNumber(field(last, "wall_s")));
    cJSON_Delete(last);
    free(text);
}

typedef struct slow_req {
    int port, status;
    rt_status st; /* of the HTTP exchange */
    rt_error err;
    char *resp;
} slow_req;

static void *post_slow(void *arg) {
    slow_req *s = arg;
    const char *body = "{\"code\": \"import time\\ntime.sleep(60)\", \"run_timeout\": 60}";
    s->st = sbx_http_request("127.0.0.1", s->port, "POST", "/run_code", body, strlen(body), 30, &s->status, &s->resp,
                             NULL, &s->err);
    if (s->st) s->resp = NULL;
    return NULL;
}

static int children_of(pid_t parent, int *out, int max) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) && n < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *rp = strrchr(buf, ')');
            int ppid;
            if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == parent) out[n++] = atoi(e->d_name);
        }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

Test(server, sigterm_leaves_nothing, .timeout = 60) {
    const char *bin = getenv("RETOOL_BIN");
    if (!bin) bin = "build/retool";
    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(bin, bin, "sandbox", "serve", "--port", "0", "--workers", "2", "--light-workers", "1", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256] = "";
    cr_assert(fgets(line, sizeof line, f) != NULL, "the server printed its address");
    const char *colon = strrchr(line, ':');
    cr_assert(colon != NULL, "%s", line);
    slow_req s = {.port = atoi(colon + 1)};
    pthread_t t;
    pthread_create(&t, NULL, post_slow, &s);
    int workers[8], nw = 0;
    double end = rt_time_now() + 10;
    while ((nw = children_of(pid, workers, 8)) < 3 && rt_time_now() < end)
        usleep(10000);
    cr_expect_eq(nw, 3, "two full workers and one light worker run under the server");
    usleep(300000);
    double t0 = rt_time_now();
    kill(pid, SIGTERM);
    int wst;
    waitpid(pid, &wst, 0);
    cr_expect_lt(rt_time_now() - t0, 15.0, "shutdown is prompt (a 60 s run was in flight)");
    cr_expect(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "exit status 0 after SIGTERM");
    pthread_join(t, NULL);
    /* docs/SANDBOX.md: the requests in flight are answered with SandboxError; no answer at all is a failure. */
    cr_expect_eq(s.st, RT_OK, "the request in flight got an HTTP answer: %s", s.err.msg);
    cr_expect(s.resp != NULL && s.resp[0] != '\0', "the answer to the request in flight is not empty");
    cr_expect_eq(s.status, 200, "HTTP status of the answer: %d", s.status);
    cr_expect(s.resp != NULL && strstr(s.resp, "SandboxError") != NULL, "answered with SandboxError: %s",
              s.resp ? s.resp : "(none)");
    free(s.resp);
    usleep(100000);
    for (int i = 0; i < nw; i++)
        cr_expect(kill(workers[i], 0) != 0, "worker %d is gone", workers[i]);
    fclose(f);
}
