/* Read throughput of retool's Parquet reader vs DuckDB's node package (@duckdb/node-api), same file, same run.
 *   build/bench/parquet_read [FILE.parquet|- [ROWS]]   (default: 100,000-row DAPO-Math-17k-shaped files)
 * Without FILE (or with -), writes ROWS (default 100000) DAPO-Math-17k-shaped rows (prompt: list<struct{content,
 * role}>, data_source, ability, reward_model: struct{ground_truth, style}, extra_info: struct{index, split}) three
 * times through tests/node/parquet-writers/parquet_bench.mjs: with DuckDB's defaults (one row group, one page per
 * column chunk), with DuckDB's PARQUET_VERSION v2 (data pages v2, strings DELTA_LENGTH_BYTE_ARRAY), then with
 * arrow-rs's (parquet-wasm: pages of about 1 MB); it installs that folder's npm packages first when they are missing
 * (`npm ci` there). For each file: reads every row as a cJSON object with retool (one thread), then every row as a JS
 * object with DuckDB, once with one thread and once with its default thread count, and prints rows/s, MB/s (file
 * bytes), CPU time, peak RSS (retool: this process's VmHWM, reset before each file through /proc/self/clear_refs;
 * DuckDB: node's max RSS) and the ratios by wall time and by CPU time. Fails when the row counts differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/timer.h"
#include "data/parquet.h"

#define WRITERS "tests/node/parquet-writers"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A line of /proc/self/status in MB (VmHWM: peak resident set; VmRSS: now). */
static double status_mb(const char *key) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    size_t kl = strlen(key);
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') kb = atof(line + kl + 1);
    if (fp) fclose(fp);
    return kb / 1024.0;
}

static int ensure_writers(void) {
    if (access(WRITERS "/node_modules/@duckdb/node-api", R_OK) == 0) return 0;
    fprintf(stderr, "parquet_read: installing DuckDB's node package into " WRITERS "/node_modules (npm ci)\n");
    return system("cd " WRITERS " && npm ci --no-audit --no-fund --loglevel=error") == 0 ? 0 : -1;
}

typedef struct ref_run {
    double s, cpu, rss;
    long long rows;
    int threads;
} ref_run;

static int duck_read(const char *path, int threads, ref_run *r) {
    char cmd[2048], line[512] = {0};
    if (threads > 0)
        snprintf(cmd, sizeof cmd, "cd " WRITERS " && node parquet_bench.mjs read '%s' %d", path, threads);
    else
        snprintf(cmd, sizeof cmd, "cd " WRITERS " && node parquet_bench.mjs read '%s'", path);
    memset(r, 0, sizeof *r);
    r->rows = -1;
    FILE *p = popen(cmd, "r");
    if (p && fgets(line, sizeof line, p)) {
        const char *k;
        if ((k = strstr(line, "\"rows\":"))) r->rows = atoll(k + 7);
        if ((k = strstr(line, "\"seconds\":"))) r->s = atof(k + 10);
        if ((k = strstr(line, "\"cpu_seconds\":"))) r->cpu = atof(k + 14);
        if ((k = strstr(line, "\"rss_mb\":"))) r->rss = atof(k + 9);
        if ((k = strstr(line, "\"threads\":"))) r->threads = atoi(k + 10);
    }
    if (p) pclose(p);
    return r->s > 0 && r->rows >= 0 ? 0 : -1;
}

/* Reads path with retool, then with DuckDB (1 thread, then its default); prints the figures. Returns 0 when every
 * reader ran and the row counts agree. */
static int bench_file(const char *path, const char *writer) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "parquet_read: %s: cannot stat\n", path);
        return 1;
    }
    FILE *cr = fopen("/proc/self/clear_refs", "w"); /* "5": reset the peak resident set to the current one */
    if (cr) {
        fputs("5", cr);
        fclose(cr);
    }
    double mb = (double)sb.st_size / 1048576.0, rss0 = status_mb("VmRSS");

    rt_error err;
    rt_err_clear(&err);
    data_parquet *pq;
    double t0 = rt_time_now(), c0 = cpu_now();
    if (data_parquet_open(path, &pq, &err)) {
        fprintf(stderr, "parquet_read: %s\n", err.msg);
        return 1;
    }
    long long rows = 0;
    size_t chars = 0;
    for (;;) {
        cJSON *row;
        if (data_parquet_next(pq, &row, &err)) {
            fprintf(stderr, "parquet_read: %s\n", err.msg);
            data_parquet_close(pq);
            return 1;
        }
        if (!row) break;
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(row, "prompt");
        const cJSON *c = pr && pr->child ? cJSON_GetObjectItemCaseSensitive(pr->child, "content") : NULL;
        if (cJSON_IsString(c)) chars += strlen(c->valuestring);
        cJSON_Delete(row);
        rows++;
    }
    data_parquet_close(pq);
    double t = rt_time_now() - t0, ct = cpu_now() - c0, hwm = status_mb("VmHWM");

    ref_run one, dflt;
    int ok1 = duck_read(path, 1, &one), okd = duck_read(path, 0, &dflt);
    printf("%s%s%s: %.1f MB, %lld rows (%zu prompt characters)\n", path, writer ? ", written by " : "",
           writer ? writer : "", mb, rows, chars);
    printf("  retool          %.3f s wall = %8.0f rows/s %6.1f MB/s, %.3f s CPU, peak RSS %.1f MB (%.1f MB before "
           "open)\n",
           t, (double)rows / t, mb / t, ct, hwm, rss0);
    int rc = 0;
    const ref_run *refs[2] = {ok1 ? NULL : &one, okd ? NULL : &dflt};
    for (int i = 0; i < 2; i++) {
        const ref_run *r = refs[i];
        if (!r) {
            printf("  DuckDB node     did not run (cd " WRITERS " && npm ci)\n");
            rc = 1;
            continue;
        }
        printf("  DuckDB %d thr%s  %.3f s wall = %8.0f rows/s %6.1f MB/s, %.3f s CPU, peak RSS %.1f MB\n", r->threads,
               r->threads == 1 ? " " : "s", r->s, (double)r->rows / r->s, mb / r->s, r->cpu, r->rss);
        printf("  ratio           retool is %.2fx DuckDB (%d thread%s) by wall time, %.2fx by CPU time%s\n", r->s / t,
               r->threads, r->threads == 1 ? "" : "s", r->cpu / ct, r->rows == rows ? "" : "  (ROW COUNTS DIFFER)");
        if (r->rows != rows) rc = 1;
    }
    return rc;
}

int main(int argc, char **argv) {
    long rows_want = argc > 2 ? atol(argv[2]) : 100000;
    if (ensure_writers()) {
        fprintf(stderr, "parquet_read: cannot install " WRITERS " (npm ci); it needs the npm registry once\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "-") != 0) return bench_file(argv[1], NULL);
    static const char *const modes[][2] = {{"write", "DuckDB"}, {"write-v2", "DuckDB-v2"}, {"write-rs", "arrow-rs"}};
    char dir[] = "/tmp/retool-bench-pq-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    int rc = 0;
    for (int m = 0; m < 3; m++) {
        char gen[256], cmd[512];
        snprintf(gen, sizeof gen, "%s/dapo-%s.parquet", dir, modes[m][1]);
        snprintf(cmd, sizeof cmd, "cd " WRITERS " && node parquet_bench.mjs %s '%s' %ld", modes[m][0], gen, rows_want);
        if (system(cmd) != 0) {
            fprintf(stderr, "parquet_read: writing %s with %s failed\n", gen, modes[m][1]);
            rc = 1;
            continue;
        }
        rc |= bench_file(gen, modes[m][1]);
        unlink(gen);
    }
    rmdir(dir);
    return rc;
}
