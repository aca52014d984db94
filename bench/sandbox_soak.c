/* Sandbox soak: N mixed executions (normal, failing, hostile) from 8 client threads, half through the HTTP API and
 * half through the C API. Fails (exit 1) on any unexpected status, a descriptor or memory leak in the supervisor,
 * a worker restart, a process or cgroup left after the pool is freed, or latency drift (p50 of print(1) over the
 * last tenth more than twice that of the first tenth, plus 2 ms).
 *   build/bench/sandbox_soak [--n 2000] [--workers 4]      (tests/long/sandbox_soak.sh runs --n 100000) */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timer.h"
#include "sandbox/sandbox.h"
#include "sandbox/server.h"

typedef struct kind {
    const char *code;
    double wall;
    sbx_status expect;
    const char *fusion_status; /* run_result.status or top-level status expected over HTTP */
    int weight;
} kind;

static const kind kinds[] = {
    {"print(1)", 5, SBX_OK, "\"Success\"", 60},
    {"import sympy\nprint(sympy.factorint(2**64+1))", 5, SBX_OK, "67280421310721", 10},
    {"import numpy as np\nprint(int(np.arange(1000).sum()))", 5, SBX_OK, "499500", 10},
    {"raise ValueError('x')", 5, SBX_ERROR, "\"Failed\"", 8},
    {"import sys\nsys.exit(2)", 5, SBX_ERROR, "\"Failed\"", 4},
    {"while True: pass", 0.2, SBX_TIMEOUT, "TimeLimitExceeded", 1},
    {"x = bytearray(8 << 30)", 5, SBX_MEMORY, "\"Failed\"", 2},
    {"import sys\nwhile True: sys.stdout.write('x' * 65536)", 5, SBX_OUTPUT_LIMIT, "\"Failed\"", 2},
    {"import os, time\nif os.fork() == 0:\n    os.setsid(); time.sleep(100)\nprint('p')", 5, SBX_OK, "\"Success\"", 2},
    {"import os\nwhile True:\n    try: os.fork()\n    except OSError: break\nprint('f')", 5, SBX_OK, "\"Success\"", 1},
};

static int nkinds = sizeof kinds / sizeof *kinds;
static int total_weight;
static sbx_pool *pool;
static int port;
static atomic_long next_i, bad;
static long n_total;
static double *lat_print; /* latency of print(1) by execution index, -1 when not print(1) */

static int pick(long i) {
    long r = (i * 2654435761u) % total_weight;
    for (int k = 0; k < nkinds; k++) {
        if (r < kinds[k].weight) return k;
        r -= kinds[k].weight;
    }
    return 0;
}

static void *client(void *arg) {
    (void)arg;
    for (;;) {
        long i = atomic_fetch_add(&next_i, 1);
        if (i >= n_total) return NULL;
        const kind *k = &kinds[pick(i)];
        double t0 = rt_time_now();
        int ok;
        if (i % 2) {
            char body[512];
            snprintf(body, sizeof body, "{\"code\": \"%s\", \"run_timeout\": %g}", k->code, k->wall);
            /* escape newlines for JSON */
            char esc[1024];
            size_t o = 0;
            for (const char *p = body; *p && o < sizeof esc - 2; p++) {
                if (*p == '\n') {
                    esc[o++] = '\\';
                    esc[o++] = 'n';
                } else {
                    esc[o++] = *p;
                }
            }
            esc[o] = 0;
            int status = 0;
            char *resp = NULL;
            rt_error err;
            ok = sbx_http_request("127.0.0.1", port, "POST", "/run_code", esc, o, 60, &status, &resp, NULL, &err) ==
                     RT_OK &&
                 status == 200 && strstr(resp, k->fusion_status) != NULL;
            if (!ok) fprintf(stderr, "soak %ld (%s): http %d %.200s\n", i, k->code, status, resp ? resp : err.msg);
            free(resp);
        } else {
            sbx_request req = {.code = k->code, .code_len = strlen(k->code)};
            req.limits.wall_s = k->wall;
            req.limits.output_bytes = 1 << 16;
            sbx_result res;
            rt_error err;
            ok = sbx_pool_run(pool, &req, &res, &err) == RT_OK && res.status == k->expect;
            if (!ok) fprintf(stderr, "soak %ld (%s): %s %s\n", i, k->code, sbx_status_name(res.status), res.message);
            sbx_result_free(&res);
        }
        if (!ok) atomic_fetch_add(&bad, 1);
        lat_print[i] = k == &kinds[0] ? rt_time_now() - t0 : -1;
    }
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d) closedir(d);
    return n;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50 of print(1) latencies among executions [lo, hi). */
static double p50(long lo, long hi) {
    double *v = malloc(sizeof(double) * (size_t)(hi - lo));
    long n = 0;
    for (long i = lo; i < hi; i++)
        if (lat_print[i] >= 0) v[n++] = lat_print[i];
    qsort(v, (size_t)n, sizeof *v, cmp);
    double r = n ? v[n / 2] : 0;
    free(v);
    return r;
}

int main(int argc, char **argv) {
    n_total = 2000;
    int workers = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n_total = atol(argv[i + 1]);
        if (!strcmp(argv[i], "--workers")) workers = atoi(argv[i + 1]);
    }
    signal(SIGPIPE, SIG_IGN);
    for (int k = 0; k < nkinds; k++)
        total_weight += kinds[k].weight;
    lat_print = malloc(sizeof(double) * (size_t)n_total);
    int fds0 = count_fds();
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = workers;
    cfg.queue_max = 256;
    cfg.uid_base = 500000;
    rt_error err;
    if (sbx_pool_init(&pool, &cfg, &err)) {
        fprintf(stderr, "sandbox_soak: %s\n", err.msg);
        return 1;
    }
    sbx_server_config scfg;
    sbx_server_config_default(&scfg);
    scfg.port = 0;
    sbx_server *srv;
    if (sbx_server_start(&srv, pool, &scfg, &err)) {
        fprintf(stderr, "sandbox_soak: %s\n", err.msg);
        return 1;
    }
    port = sbx_server_port(srv);
    int fds1 = count_fds();
    long rss_start = 0;
    double t0 = rt_time_now();
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, client, NULL);
    long last = -1;
    while (atomic_load(&next_i) < n_total) {
        sleep(1);
        long done = atomic_load(&next_i);
        if (!rss_start && done > n_total / 10) rss_start = rss_kb();
        if (done / 10000 != last / 10000) {
            printf("soak: %ld/%ld executions, %ld unexpected, %.0f s\n", done, n_total, atomic_load(&bad),
                   rt_time_now() - t0);
            fflush(stdout);
        }
        last = done;
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    double elapsed = rt_time_now() - t0;
    long rss_end = rss_kb();
    int fds2 = count_fds();
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    double first = p50(0, n_total / 10), lastp = p50(n_total - n_total / 10, n_total);
    sbx_server_stop(srv);
    sbx_pool_free(pool);
    int fds3 = count_fds();
    int fail = 0;
    printf("soak: %ld executions in %.0f s (%.0f/s), %ld unexpected results, %lld worker restarts\n", n_total, elapsed,
           n_total / elapsed, atomic_load(&bad), (long long)st.worker_restarts);
    printf("soak: print(1) p50 first tenth %.2f ms, last tenth %.2f ms\n", first * 1e3, lastp * 1e3);
    printf("soak: supervisor RSS %ld kB after the first tenth, %ld kB at the end; fds %d -> %d (running) -> %d\n",
           rss_start, rss_end, fds1, fds2, fds3);
    if (atomic_load(&bad)) fail = 1, printf("FAIL: unexpected results\n");
    if (st.worker_restarts) fail = 1, printf("FAIL: workers restarted\n");
    if (fds2 > fds1 + 16 || fds3 != fds0) fail = 1, printf("FAIL: descriptor leak\n");
    if (rss_start > 0 && rss_end > rss_start + 65536) fail = 1, printf("FAIL: supervisor memory grew by over 64 MiB\n");
    if (lastp > 2 * first + 0.002) fail = 1, printf("FAIL: latency drift\n");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ps -eo uid= | awk '$1 >= 500000 && $1 < 500064' | wc -l");
    FILE *ps = popen(cmd, "r");
    int left = -1;
    if (ps && fscanf(ps, "%d", &left) != 1) left = -1;
    if (ps) pclose(ps);
    printf("soak: sandbox processes left after the pool was freed: %d\n", left);
    if (left != 0) fail = 1, printf("FAIL: processes left behind\n");
    free(lat_print);
    printf("%s\n", fail ? "soak FAILED" : "soak passed");
    return fail;
}
