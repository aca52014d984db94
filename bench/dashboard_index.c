/* The dashboard's indexes over a million-line review queue and audit log, against re-reading the file per request.
 *   build/bench/dashboard_index [LINES [DIR [open]]]   (default 1,000,000 lines of each, written under /tmp)
 * With open: only the queue's first open (two parsing threads, one, two), on DIR's queue.jsonl (written when missing:
 * keep LINES the same), for repeated runs against another build on the same file.
 * Writes a queue of LINES lines (9 entries to 1 decision, entries shaped like retool serve's, about 600 bytes) and an
 * audit log of LINES tool calls, then times: building each index once (with the memory it holds); listing the newest
 * 50 pending entries, and one filtered by reason; refreshing after 1,000 more lines are appended; audit searches by
 * request, by status and time range, and by text in the code or output. The baseline, in the same run: what a
 * dashboard without an index does per request, a pass over the whole file parsing every line with cJSON
 * (rt_jsonl_next). Then reopening the queue from the index saved beside it (dash_qsave.h) against building it, and
 * `retool review approve` (serve_queue_decide, reading up to the entry) against what it did before (loading the whole
 * queue with serve_queue_load). Checks that the index and the baseline find the same counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/timer.h"
#include "serve/dash_audit.h"
#include "serve/dash_qsave.h"
#include "serve/dash_review.h"
#include "serve/queue.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double rss_mb(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (!strncmp(line, "VmRSS:", 6)) kb = atof(line + 6);
    if (fp) fclose(fp);
    return kb / 1024.0;
}

static void write_queue(const char *path, size_t lines, size_t first, const char *mode) {
    FILE *fp = fopen(path, mode);
    if (!fp) exit(1);
    static const char *const reasons[] = {"\"no_answer\"", "\"tool_failed\"", "\"budget_hit\"",
                                          "\"samples_disagree\",\"tool_failed\""};
    for (size_t i = first; i < first + lines; i++) {
        size_t e = i - i / 10; /* entries so far */
        if (i % 10 == 9) {
            fprintf(fp,
                    "{\"kind\":\"decision\",\"id\":\"chatcmpl-b-%zu\",\"decision\":\"%s\",\"note\":\"checked\","
                    "\"reviewer\":\"ann\",\"time\":%zu}\n",
                    e - 3, i % 20 == 9 ? "approved" : "rejected", 1700000000 + i);
            continue;
        }
        fprintf(fp,
                "{\"kind\":\"entry\",\"id\":\"chatcmpl-b-%zu\",\"time\":%zu,\"request\":{\"model\":\"m\",\"messages\":"
                "[{\"role\":\"user\",\"content\":\"What is %zu * 7919 modulo 1000003?\"}],\"n\":1,\"temperature\":1,"
                "\"top_p\":1,\"user\":\"fam%zu\"},\"completion\":{\"id\":\"chatcmpl-b-%zu\",\"object\":\"chat."
                "completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"<code>\\n"
                "```python\\nprint(%zu*7919 %% 1000003)\\n```\\n</code>\\n<interpreter>\\n%zu\\n</interpreter>\\n"
                "<answer>\\\\boxed{%zu}</answer>\"},\"finish_reason\":\"stop\",\"retool\":{\"answer\":\"%zu\","
                "\"tool_calls\":[{\"code\":\"print(%zu*7919 %% 1000003)\",\"output\":\"%zu\",\"status\":\"ok\","
                "\"latency_s\":0.031}],\"wall_s\":0.42,\"review_reasons\":[%s]}}],\"retool\":{\"answer\":\"%zu\","
                "\"agreement\":1,\"needs_review\":true,\"review_reasons\":[%s]}}}\n",
                e, 1700000000 + i, i, i % 7, e, i, i * 7919 % 1000003, i * 7919 % 1000003, i * 7919 % 1000003, i,
                i * 7919 % 1000003, reasons[i % 4], i * 7919 % 1000003, reasons[i % 4]);
    }
    /* On disk before anything is timed: the first approve's fsync would otherwise write the whole file out. */
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) exit(1);
    fclose(fp);
}

static void write_audit(const char *path, size_t lines, size_t first, const char *mode) {
    FILE *fp = fopen(path, mode);
    if (!fp) exit(1);
    static const char *const st[] = {"ok", "ok", "ok", "error", "ok", "timeout", "ok", "refused"};
    for (size_t i = first; i < first + lines; i++)
        fprintf(fp,
                "{\"time\":%zu.5,\"trajectory\":\"p%zu-s%zu\",\"call\":%zu,\"code\":\"x = %zu\\nprint(x * 3)\","
                "\"output\":\"%s\",\"status\":\"%s\",\"latency_s\":0.0%zu}\n",
                1700000000 + i, i / 3, i % 2, i % 3, i, i == 777777 ? "needle <script>" : "12", st[i % 8], 1 + i % 9);
    fclose(fp);
}

/* Opens the queue (no saved index) on threads threads; prints wall and CPU time. */
static int open_once(const char *qp, int threads, size_t *n) {
    dash_queue q;
    rt_error err;
    double t0 = rt_time_now(), c0 = cpu_now();
    if (dash_queue_init(&q, qp, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    q.save_every = UINT64_MAX;
    q.save_tried = 1; /* no saved index read */
    q.lines.threads = threads;
    if (dash_queue_refresh(&q, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    printf("  queue opened, %d parsing thread%s: %.0f ms wall, %.0f ms CPU (%zu entries)\n", threads,
           threads > 1 ? "s" : "", (rt_time_now() - t0) * 1e3, (cpu_now() - c0) * 1e3, q.n);
    *n = q.n;
    dash_queue_free(&q);
    return 0;
}

/* `open` mode: only the first open of the queue, on two threads, one, and two again (the queue is written when DIR
 * has none), for repeated runs that compare two builds on the same file. */
static int open_only(const char *qp, size_t lines) {
    struct stat st;
    if (stat(qp, &st) != 0) write_queue(qp, lines, 0, "w");
    size_t n[3];
    int bad = open_once(qp, 2, &n[0]) || open_once(qp, 1, &n[1]) || open_once(qp, 2, &n[2]);
    return bad || n[0] != n[1] || n[1] != n[2];
}

/* The baseline: parse every line with cJSON, counting what a query would count. */
static size_t full_pass(const char *path, int which) {
    rt_jsonl_reader r;
    rt_error err;
    if (rt_jsonl_open(&r, path, RT_JSONL_STOP, &err)) exit(1);
    size_t count = 0;
    cJSON *o;
    while (rt_jsonl_next(&r, &o, &err) == RT_OK && o) {
        const cJSON *k = cJSON_GetObjectItem(o, which == 0 ? "kind" : "status");
        const cJSON *code = cJSON_GetObjectItem(o, "output");
        if (which == 0)
            count += cJSON_IsString(k) && !strcmp(k->valuestring, "entry");
        else if (which == 1)
            count += cJSON_IsString(k) && !strcmp(k->valuestring, "timeout");
        else
            count += cJSON_IsString(code) && strstr(code->valuestring, "needle") != NULL;
        cJSON_Delete(o);
    }
    rt_jsonl_close(&r);
    return count;
}

/* Times one approve of id in path: serve_queue_decide, or (old) what it did before: load the whole queue, find,
 * append. */
static double approve(const char *path, const char *id, int old, double *cpu, int *bad) {
    rt_error err;
    double t0 = rt_time_now(), c0 = cpu_now();
    if (old) {
        serve_queue sq;
        *bad |= serve_queue_load(path, &sq, &err) != RT_OK || !serve_queue_find(&sq, id);
        serve_queue_free(&sq);
        *bad |= serve_queue_append_decision(path, id, "approved", "bench", "bench", &err) != RT_OK;
    } else {
        *bad |= serve_queue_decide(path, id, "approved", "bench", "bench", &err) != RT_OK;
    }
    *cpu = cpu_now() - c0;
    return rt_time_now() - t0;
}

#define TIME(label, expr)                                                                                              \
    do {                                                                                                               \
        double t0_ = rt_time_now();                                                                                    \
        expr;                                                                                                          \
        printf("  %-58s %9.2f ms\n", label, (rt_time_now() - t0_) * 1e3);                                              \
    } while (0)

int main(int argc, char **argv) {
    size_t lines = argc > 1 ? (size_t)atoll(argv[1]) : 1000000;
    char dir[256], qp[300], ap[300];
    if (argc > 2)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else {
        snprintf(dir, sizeof dir, "/tmp/retool-dashbench-XXXXXX");
        if (!mkdtemp(dir)) return 1;
    }
    snprintf(qp, sizeof qp, "%s/queue.jsonl", dir);
    snprintf(ap, sizeof ap, "%s/audit.jsonl", dir);
    if (argc > 3 && !strcmp(argv[3], "open")) {
        printf("dashboard_index: first open of the queue of %zu lines in %s\n", lines, dir);
        return open_only(qp, lines);
    }
    printf("dashboard_index: %zu queue lines and %zu audit lines in %s\n", lines, lines, dir);
    write_queue(qp, lines, 0, "w");
    write_audit(ap, lines, 0, "w");
    dash_queue q;
    dash_audit a;
    rt_error err;
    cJSON *o = NULL;
    int bad = 0;
    double rss0 = rss_mb();
    char *saved = dash_qsave_path(qp);
    unlink(saved);
    /* The same build with the lines parsed on one thread: what the second one gains on this machine now. */
    double t0 = rt_time_now(), c0 = cpu_now();
    if (dash_queue_init(&q, qp, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    q.save_every = UINT64_MAX;
    q.lines.threads = 1;
    if (dash_queue_refresh(&q, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double t_q1 = rt_time_now() - t0, c_q1 = cpu_now() - c0;
    dash_queue_free(&q);
    rss0 = rss_mb();
    t0 = rt_time_now(), c0 = cpu_now();
    if (dash_queue_init(&q, qp, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    q.save_every = UINT64_MAX; /* the save is timed on its own below */
    if (dash_queue_refresh(&q, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double t_qi = rt_time_now() - t0, c_qi = cpu_now() - c0;
    double rss_q = rss_mb() - rss0;
    t0 = rt_time_now(), c0 = cpu_now();
    if (dash_audit_init(&a, ap, &err) || dash_audit_refresh(&a, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double t_ai = rt_time_now() - t0, c_ai = cpu_now() - c0;
    double rss_a = rss_mb() - rss0 - rss_q;
    printf("index build (once):\n  queue: %.0f ms wall, %.0f ms CPU, %.1f MB held (%zu entries, %zu decisions, %.0f MB "
           "file)\n",
           t_qi * 1e3, c_qi * 1e3, rss_q, q.n, q.nd, (double)q.lines.off[q.lines.n] / 1e6);
    printf("  queue, parsed on one thread: %.0f ms wall, %.0f ms CPU (one thread / two: %.2fx wall)\n", t_q1 * 1e3,
           c_q1 * 1e3, t_q1 / t_qi);
    printf("  audit: %.0f ms wall, %.0f ms CPU, %.1f MB held (%zu calls, %.0f MB file)\n", t_ai * 1e3, c_ai * 1e3,
           rss_a, a.n, (double)dash_audit_bytes(&a) / 1e6);
    t0 = rt_time_now();
    if (dash_qsave_write(&q, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double t_save = rt_time_now() - t0;
    struct stat sst;
    stat(saved, &sst);
    dash_queue q2;
    t0 = rt_time_now(), c0 = cpu_now();
    if (dash_queue_init(&q2, qp, &err) || dash_queue_refresh(&q2, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    double t_reopen = rt_time_now() - t0, c_reopen = cpu_now() - c0;
    bad |= q2.n != q.n || q2.nd != q.nd || q2.saved != q.lines.off[q.lines.n];
    dash_queue_free(&q2);
    printf("  queue index saved beside it: %.0f ms (%.0f MB)\n", t_save * 1e3, (double)sst.st_size / 1e6);
    printf("  queue reopened from the saved index: %.0f ms wall, %.0f ms CPU (build / reopen: %.1fx wall)\n",
           t_reopen * 1e3, c_reopen * 1e3, t_qi / t_reopen);
    printf("requests on the index:\n");
    dash_review_filter pend = {DASH_PENDING, 0, -1, NULL}, reason = {-1, 1u << 2, -1, NULL};
    double t_list = rt_time_now();
    TIME("review: newest 50 pending (refresh + list)", {
        dash_queue_refresh(&q, &err);
        dash_review_list(&q, &pend, 0, 50, &o, &err);
    });
    t_list = rt_time_now() - t_list;
    bad |= cJSON_GetArraySize(cJSON_GetObjectItem(o, "items")) != 50;
    cJSON_Delete(o);
    TIME("review: page 100 of reason budget_hit", dash_review_list(&q, &reason, 5000, 50, &o, &err));
    cJSON_Delete(o);
    write_queue(qp, 1000, lines, "a");
    write_audit(ap, 1000, lines, "a");
    TIME("refresh after 1,000 appended lines (queue + audit)", {
        dash_queue_refresh(&q, &err);
        dash_audit_refresh(&a, &err);
    });
    bad |= a.n != lines + 1000;
    dash_audit_filter by_req = {(long long)(lines / 6), 0, 0, -1, NULL};
    dash_audit_filter by_status = {-1, 1700000000.0 + (double)lines / 2, 0, DASH_CALL_TIMEOUT, NULL};
    dash_audit_filter by_text = {-1, 0, 0, -1, "needle <script>"};
    dash_audit_filter all_timeouts = {-1, 0, 0, DASH_CALL_TIMEOUT, NULL};
    TIME("audit: calls of one request", dash_audit_search(&a, &by_req, 0, 50, &o, &err));
    bad |= cJSON_GetObjectItem(o, "total")->valueint != 3;
    cJSON_Delete(o);
    TIME("audit: status timeout in the newer half, newest 50", dash_audit_search(&a, &by_status, 0, 50, &o, &err));
    cJSON_Delete(o);
    double t_text = rt_time_now();
    TIME("audit: text in code or output (scans every byte)", dash_audit_search(&a, &by_text, 0, 50, &o, &err));
    t_text = rt_time_now() - t_text;
    size_t text_hits = (size_t)cJSON_GetObjectItem(o, "total")->valueint;
    cJSON_Delete(o);
    TIME("audit: all timeouts (count)", dash_audit_search(&a, &all_timeouts, 0, 50, &o, &err));
    size_t timeouts = (size_t)cJSON_GetObjectItem(o, "total")->valueint;
    cJSON_Delete(o);
    printf("baseline, a full cJSON pass per request:\n");
    size_t entries = 0, base_timeouts = 0, base_hits = 0;
    double t_bq = rt_time_now(), c_bq = cpu_now();
    entries = full_pass(qp, 0);
    t_bq = rt_time_now() - t_bq, c_bq = cpu_now() - c_bq;
    printf("  %-58s %9.2f ms (%.0f ms CPU)\n", "queue: parse every line", t_bq * 1e3, c_bq * 1e3);
    TIME("audit: parse every line, count timeouts", base_timeouts = full_pass(ap, 1));
    double t_ba = rt_time_now();
    base_hits = full_pass(ap, 2);
    t_ba = rt_time_now() - t_ba;
    printf("  %-58s %9.2f ms\n", "audit: parse every line, find the text", t_ba * 1e3);
    printf("ratios (baseline / index): newest-50 listing %.0fx, text search %.1fx; index build / one baseline pass "
           "(CPU): queue %.2f\n",
           t_bq / t_list, t_ba / t_text, c_qi / c_bq);
    /* retool review approve: the newest entry, one in the middle, and an id the queue lacks. */
    printf("retool review approve (serve_queue_decide) on the queue:\n");
    char newest[64], middle[64];
    snprintf(newest, sizeof newest, "%s", dash_queue_id(&q, q.n - 1));
    snprintf(middle, sizeof middle, "%s", dash_queue_id(&q, q.n / 2));
    double c_new, t_new = approve(qp, newest, 0, &c_new, &bad);
    printf("  %-58s %9.2f ms (%.0f ms CPU)\n", "newest entry (reads to the end)", t_new * 1e3, c_new * 1e3);
    double c_mid, t_mid = approve(qp, middle, 0, &c_mid, &bad);
    printf("  %-58s %9.2f ms (%.0f ms CPU)\n", "entry in the middle", t_mid * 1e3, c_mid * 1e3);
    TIME("an id the queue lacks (not found)",
         bad |= serve_queue_decide(qp, "chatcmpl-none", "approved", NULL, NULL, &err) != RT_ENOTFOUND);
    /* Before, approve loaded the whole queue (serve_queue_load, whose duplicate check is quadratic in the entries:
     * hours at a million lines): both ways on a queue of the first 50,000 lines at most. */
    size_t ns = lines < 50000 ? lines : 50000, last = (ns - 1) % 10 == 9 ? ns - 2 : ns - 1;
    char sp[320], sid[64];
    snprintf(sp, sizeof sp, "%s/queue-small.jsonl", dir);
    snprintf(sid, sizeof sid, "chatcmpl-b-%zu", last - last / 10);
    write_queue(sp, ns, 0, "w");
    double c_sn, t_sn = approve(sp, sid, 0, &c_sn, &bad), c_so, t_so = approve(sp, sid, 1, &c_so, &bad);
    printf("  %zu-line queue, newest entry, now:                      %9.2f ms (%.0f ms CPU)\n", ns, t_sn * 1e3,
           c_sn * 1e3);
    printf("  %zu-line queue, newest entry, before (load it whole):   %9.2f ms (%.0f ms CPU)\n", ns, t_so * 1e3,
           c_so * 1e3);
    printf("ratios: approve before / now on %zu lines %.0fx wall, %.0fx CPU\n", ns, t_so / t_sn, c_so / c_sn);
    unlink(sp);
    bad |= entries != q.n || base_timeouts != timeouts || base_hits != text_hits || text_hits != (lines > 777777);
    dash_queue_free(&q);
    dash_audit_free(&a);
    if (argc <= 2) {
        unlink(qp);
        unlink(ap);
        unlink(saved);
        rmdir(dir);
    }
    free(saved);
    if (bad) fprintf(stderr, "dashboard_index: the index and the baseline disagree\n");
    return bad;
}
