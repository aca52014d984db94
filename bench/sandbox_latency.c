/* Sandbox latency and throughput through the HTTP API (loopback), against the fresh-interpreter method SandboxFusion
 * uses (a shell starting python3 per request, no isolation), served by the same HTTP front end in the same run.
 *   build/bench/sandbox_latency [--workers N] [--light-workers N] [--requests N] [--seconds S] [--clients N]
 * Prints p50/p99 of print(1) back to back (and the p50 of a fresh `/usr/bin/python3 -c 'print(1)'` beside it), p50
 * of a sympy snippet, and executions per second with C concurrent clients for both methods (with p50/p99 under that
 * load), for three programs: print(1) (served by the light tier), a numpy one and a sympy one (served by the full
 * tier; the fresh interpreter has to import the package each time). */
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/timer.h"
#include "sandbox/sandbox.h"
#include "sandbox/server.h"

extern char **environ;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

/* One request; returns its latency in seconds, or -1 when it failed or the output was wrong. */
static double one(int port, const char *body, const char *expect) {
    double t0 = rt_time_now();
    int status;
    char *resp;
    rt_error err;
    if (sbx_http_request("127.0.0.1", port, "POST", "/run_code", body, strlen(body), 60, &status, &resp, NULL, &err))
        return -1;
    double dt = rt_time_now() - t0;
    int ok = status == 200 && strstr(resp, expect) != NULL;
    free(resp);
    return ok ? dt : -1;
}

/* ---- the baseline: write the code to a file, `sh -c "python3 FILE"`, collect the output ---- */

static char *run_fresh(const char *code, int *rc) {
    char path[] = "/tmp/retool-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    if (write(fd, code, strlen(code)) < 0) {
        close(fd);
        return NULL;
    }
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", path);
    int out[2];
    if (pipe2(out, O_CLOEXEC)) return NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;
    int e = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char *buf = malloc(1 << 16);
    size_t len = 0;
    ssize_t k;
    while (!e && buf && (k = read(out[0], buf + len, (1 << 16) - 1 - len)) > 0)
        len += (size_t)k;
    close(out[0]);
    int st = 0;
    if (!e) waitpid(pid, &st, 0);
    unlink(path);
    if (buf) buf[len] = 0;
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

/* Wall seconds of one `/usr/bin/python3 -c 'print(1)'` (output to a pipe, read to the end), or -1 when it failed. */
static double fresh_print1(void) {
    int out[2];
    if (pipe2(out, O_CLOEXEC)) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {"python3", "-c", "print(1)", NULL};
    double t0 = rt_time_now();
    pid_t pid;
    int e = posix_spawn(&pid, "/usr/bin/python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char buf[64];
    size_t len = 0;
    ssize_t k;
    while (!e && (k = read(out[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)k;
    close(out[0]);
    int st = 0;
    if (!e) waitpid(pid, &st, 0);
    double dt = rt_time_now() - t0;
    return !e && WIFEXITED(st) && WEXITSTATUS(st) == 0 && len == 2 && !memcmp(buf, "1\n", 2) ? dt : -1;
}

static enum MHD_Result baseline_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                        const char *version, const char *data, size_t *size, void **ctx) {
    (void)cls, (void)url, (void)method, (void)version;
    if (!*ctx) {
        *ctx = calloc(1, 1 << 16);
        return MHD_YES;
    }
    char *body = *ctx;
    if (*size) {
        size_t have = strlen(body), n = *size < (1u << 16) - 1 - have ? *size : (1u << 16) - 1 - have;
        memcpy(body + have, data, n);
        *size = 0;
        return MHD_YES;
    }
    cJSON *req = cJSON_Parse(body), *resp = cJSON_CreateObject();
    const cJSON *code = cJSON_GetObjectItem(req, "code");
    int rc = -1;
    char *out = cJSON_IsString(code) ? run_fresh(code->valuestring, &rc) : NULL;
    cJSON_AddStringToObject(resp, "status", rc == 0 ? "Success" : "Failed");
    cJSON *rr = cJSON_AddObjectToObject(resp, "run_result");
    cJSON_AddStringToObject(rr, "stdout", out ? out : "");
    free(out);
    cJSON_Delete(req);
    char *text = cJSON_PrintUnformatted(resp);
    cJSON_Delete(resp);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void baseline_done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode t) {
    (void)cls, (void)c, (void)t;
    free(*ctx);
    *ctx = NULL;
}

/* ---- load ---- */

typedef struct load {
    int port;
    double until;
    const char *body, *expect;
    double *lat;
    int n, cap, failed;
} load;

static void *client(void *arg) {
    load *l = arg;
    while (rt_time_now() < l->until) {
        double dt = one(l->port, l->body, l->expect);
        if (dt < 0)
            l->failed++;
        else if (l->n < l->cap)
            l->lat[l->n++] = dt;
    }
    return NULL;
}

/* Runs `clients` threads for `seconds`; prints executions/s and p50/p99 latency; returns executions/s. */
static double throughput(const char *name, int port, int clients, double seconds, const char *body,
                         const char *expect) {
    load *l = calloc((size_t)clients, sizeof *l);
    pthread_t *t = calloc((size_t)clients, sizeof *t);
    double t0 = rt_time_now();
    for (int i = 0; i < clients; i++) {
        l[i] = (load){.port = port, .until = t0 + seconds, .body = body, .expect = expect, .cap = 100000};
        l[i].lat = malloc(sizeof(double) * 100000);
        pthread_create(&t[i], NULL, client, &l[i]);
    }
    int total = 0, failed = 0;
    for (int i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    double elapsed = rt_time_now() - t0;
    double *all = malloc(sizeof(double) * 100000 * (size_t)clients);
    for (int i = 0; i < clients; i++) {
        memcpy(all + total, l[i].lat, sizeof(double) * (size_t)l[i].n);
        total += l[i].n;
        failed += l[i].failed;
        free(l[i].lat);
    }
    double rate = total / elapsed;
    printf("%-30s %d clients: %7.1f executions/s  p50 %6.2f ms  p99 %7.2f ms  (%d ok, %d failed, %.1f s)\n", name,
           clients, rate, total ? 1e3 * pct(all, total, 0.5) : 0, total ? 1e3 * pct(all, total, 0.99) : 0, total,
           failed, elapsed);
    free(all);
    free(l);
    free(t);
    return rate;
}

static double cpu_now(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           1e-6 * (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec + b.ru_stime.tv_usec);
}

/* CPU seconds (every process of the tree: supervisor, workers, children) per print(1), through the C API, measured
 * over a whole pool's life (start-up excluded), on a light worker and on a full one; and per fresh interpreter.
 * Robust to other users' load. */
static double cpu_per_exec_pool(int n, int light, int *ok_out) {
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = 1;
    cfg.light_workers = light ? 1 : -1;
    sbx_pool *p;
    rt_error err;
    if (sbx_pool_init(&p, &cfg, &err)) return -1;
    sbx_request req = {.code = "print(1)", .code_len = 8};
    sbx_result res;
    for (int i = 0; i < 5; i++) {
        if (sbx_pool_run(p, &req, &res, &err) == RT_OK) sbx_result_free(&res);
    }
    double c0 = cpu_now(); /* after start-up and five warm-up runs: start-up is not part of an execution */
    int ok = 0;
    for (int i = 0; i < n; i++)
        if (sbx_pool_run(p, &req, &res, &err) == RT_OK) ok += res.status == SBX_OK, sbx_result_free(&res);
    sbx_pool_free(p);
    *ok_out = ok;
    return (cpu_now() - c0) / n;
}

static void cpu_per_exec(int n) {
    int ok_light = 0, ok_full = 0;
    double light = cpu_per_exec_pool(n, 1, &ok_light), full = cpu_per_exec_pool(n, 0, &ok_full);
    double f0 = cpu_now();
    int m = n / 4 > 10 ? n / 4 : 10;
    for (int i = 0; i < m; i++) {
        int rc;
        free(run_fresh("print(1)", &rc));
    }
    double fresh = (cpu_now() - f0) / m;
    printf("CPU per print(1) (all processes; includes the pool's shutdown): retool light worker %.2f ms (%d/%d ok), "
           "full worker %.2f ms (%d/%d ok), fresh sh + python3 %.2f ms: ratios %.1fx and %.1fx\n",
           light * 1e3, ok_light, n, full * 1e3, ok_full, n, fresh * 1e3, fresh / light, fresh / full);
}

int main(int argc, char **argv) {
    int workers = 4, light_workers = 2, requests = 300, clients = 8;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--workers"))
            workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--light-workers"))
            light_workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests"))
            requests = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--clients"))
            clients = atoi(argv[i + 1]);
    }
    signal(SIGPIPE, SIG_IGN);
    cpu_per_exec(requests);
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = workers;
    cfg.light_workers = light_workers > 0 ? light_workers : -1;
    cfg.queue_max = 256;
    sbx_pool *pool;
    rt_error err;
    if (sbx_pool_init(&pool, &cfg, &err)) {
        fprintf(stderr, "sandbox_latency: %s\n", err.msg);
        return 1;
    }
    sbx_server_config scfg;
    sbx_server_config_default(&scfg);
    scfg.port = 0;
    sbx_server *srv;
    if (sbx_server_start(&srv, pool, &scfg, &err)) {
        fprintf(stderr, "sandbox_latency: %s\n", err.msg);
        return 1;
    }
    int port = sbx_server_port(srv);
    printf("sandbox_latency: %d full + %d light workers, HTTP on 127.0.0.1:%d, %ld cores online\n", workers,
           light_workers > 0 ? light_workers : 0, port, sysconf(_SC_NPROCESSORS_ONLN));
    const char *p1 = "{\"code\": \"print(1)\", \"language\": \"python\"}";
    const char *sy = "{\"code\": \"import sympy; print(sympy.factorint(2**64+1))\", \"language\": \"python\"}";
    for (int i = 0; i < 20; i++)
        one(port, p1, "1\\n");
    double *lat = malloc(sizeof(double) * (size_t)requests);
    int n = 0;
    for (int i = 0; i < requests; i++) {
        double dt = one(port, p1, "1\\n");
        if (dt >= 0) lat[n++] = dt;
    }
    double p50_one = pct(lat, n, 0.5);
    printf("print(1), one client back to back:   p50 %6.2f ms  p99 %6.2f ms  (%d/%d ok)\n", 1e3 * p50_one,
           1e3 * pct(lat, n, 0.99), n, requests);
    int nfresh = requests / 4 > 20 ? requests / 4 : 20, nf = 0;
    double *flat = malloc(sizeof(double) * (size_t)nfresh);
    for (int i = 0; flat && i < nfresh; i++) {
        double dt = fresh_print1();
        if (dt >= 0) flat[nf++] = dt;
    }
    if (nf) {
        double p50_fresh = pct(flat, nf, 0.5);
        printf("fresh /usr/bin/python3 -c 'print(1)', back to back: p50 %6.2f ms (%d/%d ok): the one client's p50 is "
               "1/%.1f of it\n",
               1e3 * p50_fresh, nf, nfresh, p50_fresh / p50_one);
    }
    free(flat);
    n = 0;
    for (int i = 0; i < requests; i++) {
        sbx_request req = {.code = "print(1)", .code_len = 8};
        sbx_result res;
        double t0 = rt_time_now();
        if (sbx_pool_run(pool, &req, &res, &err) == RT_OK && res.status == SBX_OK) lat[n++] = rt_time_now() - t0;
        sbx_result_free(&res);
    }
    printf("print(1), C API (no HTTP), back to back: p50 %6.2f ms  p99 %6.2f ms\n", 1e3 * pct(lat, n, 0.5),
           1e3 * pct(lat, n, 0.99));
    n = 0;
    int nsym = requests / 5 > 20 ? requests / 5 : 20;
    for (int i = 0; i < nsym; i++) {
        double dt = one(port, sy, "274177");
        if (dt >= 0) lat[n++] = dt;
    }
    printf("sympy.factorint(2**64+1), one client: p50 %6.2f ms  p99 %6.2f ms  (%d/%d ok)\n", 1e3 * pct(lat, n, 0.5),
           1e3 * pct(lat, n, 0.99), n, nsym);
    free(lat);
    struct MHD_Daemon *base =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                         baseline_handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, baseline_done, NULL, MHD_OPTION_END);
    int bport = MHD_get_daemon_info(base, MHD_DAEMON_INFO_BIND_PORT)->port;
    for (int i = 0; i < 3; i++)
        one(bport, p1, "1\\n");
    /* Alternate the two methods in slices so both see the same load from the machine's other users. */
    static const struct {
        const char *name, *body, *expect;
    } progs[] = {
        {"print(1)", "{\"code\": \"print(1)\", \"language\": \"python\"}", "1\\n"},
        {"numpy", "{\"code\": \"import numpy as np; print(int(np.arange(10).sum()))\", \"language\": \"python\"}",
         "45\\n"},
        {"sympy", "{\"code\": \"import sympy; print(sympy.factorint(2**64+1))\", \"language\": \"python\"}", "274177"},
    };
    int rounds = 5;
    for (size_t k = 0; k < sizeof progs / sizeof *progs; k++) {
        double ours = 0, fresh = 0;
        char a[64], b[64];
        snprintf(a, sizeof a, "retool, %s", progs[k].name);
        snprintf(b, sizeof b, "fresh python3, %s", progs[k].name);
        for (int r = 0; r < rounds; r++) {
            ours += throughput(a, port, clients, seconds / rounds, progs[k].body, progs[k].expect) / rounds;
            fresh += throughput(b, bport, clients, seconds / rounds, progs[k].body, progs[k].expect) / rounds;
        }
        printf("%s: mean over %d alternating slices: retool %.1f/s, fresh interpreter %.1f/s, ratio %.1fx\n",
               progs[k].name, rounds, ours, fresh, fresh > 0 ? ours / fresh : 0);
    }
    MHD_stop_daemon(base);
    sbx_server_stop(srv);
    sbx_pool_free(pool);
    return 0;
}
