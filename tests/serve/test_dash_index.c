/* The dashboard's indexes against independent truths: the JSON scanner against cJSON on random documents; the queue
 * view against serve_queue_load (the loader `retool review` uses) as lines are appended, and after the file is
 * replaced; audit searches against a brute-force filter computed here; malformed lines named by file and line. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/tmpdir.h"
#include "serve/audit.h"
#include "serve/dash_audit.h"
#include "serve/dash_jscan.h"
#include "serve/dash_review.h"
#include "serve/queue.h"

static char dir[64];
static void setup(void) {
    test_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    test_rmdir(dir);
}
TestSuite(dash_index, .init = setup, .fini = teardown, .timeout = 60);

static unsigned rng_state = 12345;
static unsigned rnd(unsigned n) {
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* A random string with quotes, backslashes, control bytes, HTML and multi-byte characters. */
static void rand_text(char *buf, size_t cap) {
    static const char *const parts[] = {"a", "\"", "\\", "\n", "\t", "<script>", "é",   "€",
                                        "😀", "}",  "]",  ",",  ":",  "\x01",     "x y", "{\"k\": 1}"};
    size_t n = 0, k = rnd(12);
    buf[0] = 0;
    for (size_t i = 0; i < k; i++) {
        const char *p = parts[rnd(sizeof parts / sizeof parts[0])];
        if (n + strlen(p) + 1 >= cap) break;
        strcpy(buf + n, p);
        n += strlen(p);
    }
}

static cJSON *rand_value(int depth) {
    char s[200];
    switch (depth > 3 ? rnd(4) : rnd(6)) {
    case 0:
        rand_text(s, sizeof s);
        return cJSON_CreateString(s);
    case 1:
        return cJSON_CreateNumber((double)(int)rnd(100000) / 8.0 - 1000);
    case 2:
        return rnd(2) ? cJSON_CreateTrue() : cJSON_CreateNull();
    case 3:
        return cJSON_CreateNumber(-1.5e-7);
    case 4: {
        cJSON *a = cJSON_CreateArray();
        for (unsigned i = rnd(4); i > 0; i--)
            cJSON_AddItemToArray(a, rand_value(depth + 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        for (unsigned i = rnd(5); i > 0; i--) {
            rand_text(s, 20);
            if (!cJSON_GetObjectItemCaseSensitive(o, s)) cJSON_AddItemToObject(o, s, rand_value(depth + 1));
        }
        return o;
    }
    }
}

Test(dash_index, scanner_reads_what_cjson_reads) {
    for (int doc = 0; doc < 400; doc++) {
        cJSON *o = cJSON_CreateObject();
        char target_s[200];
        rand_text(target_s, sizeof target_s);
        double target_n = (double)(int)rnd(1000000) / 1024.0;
        for (unsigned i = rnd(4); i > 0; i--)
            cJSON_AddItemToObject(o, i == 1 ? "pre\"x" : "pre", rand_value(1));
        cJSON_AddStringToObject(o, "s", target_s);
        for (unsigned i = rnd(4); i > 0; i--)
            cJSON_AddItemToObject(o, i == 2 ? "mid" : "m\\id", rand_value(1));
        cJSON_AddNumberToObject(o, "n", target_n);
        cJSON *arr = cJSON_AddArrayToObject(o, "a");
        unsigned na = rnd(5);
        for (unsigned i = 0; i < na; i++)
            cJSON_AddItemToArray(arr, rand_value(2));
        char *text = doc % 2 ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
        const char *end = text + strlen(text);
        int bad = 0;
        char got[400];
        const char *v = dash_js_get(text, end, "s", &bad);
        cr_assert(v && dash_js_str(v, end, got, sizeof got), "no 's' in %s", text);
        cr_assert_str_eq(got, target_s);
        double n;
        v = dash_js_get(text, end, "n", &bad);
        cr_assert(v && dash_js_num(v, end, &n));
        cr_assert_float_eq(n, target_n, 1e-9);
        cr_assert_null(dash_js_get(text, end, "absent", &bad));
        unsigned count = 0;
        for (const char *e = dash_js_first(dash_js_get(text, end, "a", &bad), end, &bad); e;
             e = dash_js_next(e, end, &bad))
            count++;
        cr_assert_eq(count, na);
        cr_assert_eq(dash_js_skip(text, end), end);
        /* The iterator visits the same keys, in order, as cJSON holds them. */
        dash_js_iter it;
        const cJSON *c = o->child;
        for (dash_js_iter_init(&it, text, end); dash_js_member(&it); c = c->next) {
            cr_assert_not_null(c);
            cJSON *ks = cJSON_CreateString(c->string);
            char *k = cJSON_PrintUnformatted(ks); /* the key as written */
            cr_assert_eq(it.klen, strlen(k) - 2);
            cr_assert_eq(memcmp(it.key, k + 1, it.klen), 0);
            cJSON_free(k);
            cJSON_Delete(ks);
        }
        cr_assert_null(c);
        cr_assert_eq(it.bad, 0);
        cr_assert_eq(bad, 0, "%s", text);
        /* Cut anywhere inside, the document is malformed: the scanner says so rather than reading past it. */
        size_t cut = 1 + rnd((unsigned)(end - text - 1));
        cr_assert_null(dash_js_skip(text, text + cut));
        cJSON_free(text);
        cJSON_Delete(o);
    }
}

static const char *const reason_names[] = {"samples_disagree", "tool_failed", "budget_hit", "no_answer",
                                           "generation_error"};

/* An entry as retool serve writes it (the fields the dashboard reads), with reasons bits and a user tag. */
static cJSON *entry(int i, unsigned reasons, const char *user) {
    char id[64], q[64];
    snprintf(id, sizeof id, "chatcmpl-t-%d", i);
    snprintf(q, sizeof q, "Question %d <b>\"x\"</b>", i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "entry");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "time", 1700000000 + i);
    cJSON *r = cJSON_AddObjectToObject(o, "request");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", q);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "messages"), m);
    if (user) cJSON_AddStringToObject(r, "user", user);
    cJSON *comp = cJSON_AddObjectToObject(o, "completion");
    cJSON *choices = cJSON_AddArrayToObject(comp, "choices");
    for (int k = 0; k < 1 + i % 3; k++) {
        cJSON *ch = cJSON_CreateObject();
        cJSON *x = cJSON_AddObjectToObject(ch, "retool");
        cJSON *calls = cJSON_AddArrayToObject(x, "tool_calls");
        for (int c = 0; c < k; c++)
            cJSON_AddItemToArray(calls, cJSON_CreateObject());
        cJSON_AddNumberToObject(x, "wall_s", 0.25 * (k + 1));
        cJSON_AddItemToArray(choices, ch);
    }
    cJSON *x = cJSON_AddObjectToObject(comp, "retool");
    cJSON_AddStringToObject(x, "answer", "42");
    cJSON *rs = cJSON_AddArrayToObject(x, "review_reasons");
    for (unsigned b = 0; b < 5; b++)
        if (reasons & (1u << b)) cJSON_AddItemToArray(rs, cJSON_CreateString(reason_names[b]));
    return o;
}

static void append_entry(const char *path, int i, unsigned reasons, const char *user) {
    cJSON *o = entry(i, reasons, user);
    rt_error e;
    cr_assert_eq(serve_queue_append(path, o, &e), RT_OK, "%s", e.msg);
    cJSON_Delete(o);
}

/* The view agrees with serve_queue_load on every entry's id, order and status. */
static void agrees(const dash_queue *v, const char *path) {
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(path, &q, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(v->n, q.n);
    for (size_t i = 0; i < q.n; i++) {
        cr_assert_str_eq(dash_queue_id(v, i), q.items[i].id);
        cr_assert_str_eq(dash_status_name(v->e[i].status), q.items[i].status, "%s", q.items[i].id);
        cr_assert_eq(dash_queue_find(v, q.items[i].id), (long)i);
    }
    serve_queue_free(&q);
}

/* A key written with escapes is found as cJSON reads it; a longer key that starts with it, or one that decodes to
 * another name, is not. */
Test(dash_index, scanner_finds_keys_written_with_escapes) {
    const char *text = "{\"\\u006bindly\": 1, \"k\\u0069nd\": \"entry\", \"\\u0069d\": \"a\\\"b\"}";
    const char *end = text + strlen(text);
    int bad = 0;
    char got[16];
    const char *v = dash_js_get(text, end, "kind", &bad);
    cr_assert(v && dash_js_str(v, end, got, sizeof got), "no kind in %s", text);
    cr_assert_str_eq(got, "entry");
    v = dash_js_get(text, end, "id", &bad);
    cr_assert(v && dash_js_str(v, end, got, sizeof got));
    cr_assert_str_eq(got, "a\"b");
    cr_assert_null(dash_js_get(text, end, "kin", &bad));
    cr_assert_null(dash_js_get(text, end, "kindl", &bad));
    cr_assert_eq(bad, 0);
}

Test(dash_index, queue_view_follows_appends_like_the_loader) {
    char path[128];
    snprintf(path, sizeof path, "%s/q.jsonl", dir);
    dash_queue v;
    rt_error e;
    cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
    cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "a missing queue is an empty one: %s", e.msg);
    cr_assert_eq(v.n, 0);
    int next = 0;
    for (int round = 0; round < 5; round++) {
        for (int k = 0; k < 80; k++, next++) {
            append_entry(path, next, 1u << (next % 5) | (next % 7 == 0 ? 4u : 0u), next % 4 ? "famA" : NULL);
            if (next % 3 == 2) {
                char id[64];
                snprintf(id, sizeof id, "chatcmpl-t-%d", (int)rnd((unsigned)next));
                cr_assert_eq(serve_queue_append_decision(path, id, rnd(2) ? "approved" : "rejected", "n", "r", &e),
                             RT_OK);
            }
        }
        /* A line being written (no newline yet) is left for a later refresh. */
        if (round == 2) {
            FILE *fp = fopen(path, "a");
            fputs("{\"kind\": \"entry\", \"id\": \"chatcmpl-t-half\"", fp);
            fclose(fp);
            cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "%s", e.msg);
            cr_assert_eq(dash_queue_find(&v, "chatcmpl-t-half"), -1);
            fp = fopen(path, "a");
            fputs(", \"time\": 1}\n", fp);
            fclose(fp);
        }
        cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "%s", e.msg);
        agrees(&v, path);
    }
    /* The listing: newest first, filtered, paged; checked against the summaries counted here. */
    dash_review_filter f = {DASH_PENDING, 1u << 2, -1, "famA"};
    size_t want = 0;
    for (size_t i = 0; i < v.n; i++)
        want += v.e[i].status == DASH_PENDING && (v.e[i].reasons & 4u) && !strcmp(v.tags[v.e[i].tag], "famA");
    cJSON *o;
    cr_assert_eq(dash_review_list(&v, &f, 7, 20, &o, &e), RT_OK, "%s", e.msg);
    cr_assert_eq((size_t)cJSON_GetObjectItem(o, "total")->valueint, want);
    double last = INFINITY;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "items")) {
        double t = cJSON_GetObjectItem(it, "time")->valuedouble;
        cr_assert_lt(t, last);
        last = t;
        cr_assert_str_eq(cJSON_GetObjectItem(it, "status")->valuestring, "pending");
        cr_assert_str_eq(cJSON_GetObjectItem(it, "tag")->valuestring, "famA");
        int has = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(it, "reasons")) has |= !strcmp(r->valuestring, "budget_hit");
        cr_assert(has);
        int i = atoi(strrchr(cJSON_GetObjectItem(it, "id")->valuestring, '-') + 1);
        cr_assert_eq(cJSON_GetObjectItem(it, "tool_calls")->valueint, (i % 3) * (i % 3 + 1) / 2);
        char q[64];
        snprintf(q, sizeof q, "Question %d <b>\"x\"</b>", i);
        cr_assert_str_eq(cJSON_GetObjectItem(it, "question")->valuestring, q);
    }
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "items")),
                 want > 7 ? (int)(want - 7 < 20 ? want - 7 : 20) : 0);
    cJSON_Delete(o);
    /* Replaced by another file (a new inode): read anew. */
    char other[160];
    snprintf(other, sizeof other, "%s/q2.jsonl", dir);
    append_entry(other, 9999, 1, NULL);
    cr_assert_eq(rename(other, path), 0);
    cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(v.n, 1);
    agrees(&v, path);
    dash_queue_free(&v);
}

/* A new file dir/name for writing (its path in path). */
static FILE *create(const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert(fp, "%s", path);
    return fp;
}

/* Read in chunks of any size (lines longer than a chunk, lines across chunk ends, chunks of thousands of lines
 * parsed on two threads), the view holds what the generator wrote and what the loader reads. */
Test(dash_index, queue_view_is_the_same_for_any_chunk_size) {
    char path[128];
    FILE *fp = create("q.jsonl", path, sizeof path);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        cJSON *o = entry(i, 1u << (i % 5), i % 4 ? (i % 4 == 1 ? "famA" : "famB") : NULL);
        char *t = cJSON_PrintUnformatted(o);
        fprintf(fp, "%s\n%s", t, i % 50 == 0 ? "\n" : "");
        free(t);
        cJSON_Delete(o);
        if (i % 3 == 2)
            fprintf(fp, "{\"kind\":\"decision\",\"id\":\"chatcmpl-t-%d\",\"decision\":\"%s\"}\n", i / 2,
                    i % 4 ? "approved" : "rejected");
    }
    fclose(fp);
    static const size_t chunks[] = {700, 5000, DASH_LINES_CHUNK};
    for (size_t c = 0; c < 3; c++) {
        dash_queue v;
        rt_error e;
        cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
        v.lines.chunk = chunks[c];
        cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "%s", e.msg);
        agrees(&v, path);
        cr_assert_eq(v.n, N);
        cr_assert_eq(v.nd, N / 3);
        for (int i = 0; i < N; i++) {
            const dash_entry *x = &v.e[i];
            cr_assert_eq(x->request, (uint32_t)i);
            cr_assert_eq(x->time, 1700000000.0 + i);
            cr_assert_eq(x->samples, 1 + i % 3, "chunk %zu entry %d", chunks[c], i);
            cr_assert_eq(x->tool_calls, (i % 3) * (i % 3 + 1) / 2);
            cr_assert_eq(x->wall_s, 0.25f * (float)(i % 3 + 1));
            cr_assert_eq(x->reasons, 1u << (i % 5));
            cr_assert_str_eq(v.tags[x->tag], i % 4 ? (i % 4 == 1 ? "famA" : "famB") : "");
        }
        dash_queue_free(&v);
    }
}

Test(dash_index, malformed_lines_are_named) {
    static const char *const bad[] = {
        "{\"kind\": \"entry\", \"id\": \"a\"}\n{\"kind\": \"entry\", \"id\": \"a\"}\n",
        "{\"kind\": \"entry\", \"id\": \"a\"}\n{\"kind\": \"decision\", \"id\": \"b\", \"decision\": \"approved\"}\n",
        "{\"kind\": \"entry\", \"id\": \"a\"}\n{\"kind\": \"decision\", \"id\": \"a\", \"decision\": \"maybe\"}\n",
        "{\"kind\": \"entry\", \"id\": \"a\"}\n\n{\"kind\": \"entry\", \"id\": \"b\", \"completion\": {\"x\": [}}\n",
        "{\"kind\": \"entry\", \"id\": \"a\"}\nnot json\n",
    };
    static const char *const line_no[] = {":2:", ":2:", ":2:", ":3:", ":2:"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char path[160];
        test_write(dir, "bad.jsonl", bad[k], strlen(bad[k]), path, sizeof path);
        dash_queue v;
        rt_error e;
        cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
        cr_assert_eq(dash_queue_refresh(&v, &e), RT_EFORMAT, "case %zu was accepted", k);
        cr_assert(strstr(e.msg, path) && strstr(e.msg, line_no[k]), "case %zu: %s", k, e.msg);
        /* Reported again, not skipped. */
        cr_assert_eq(dash_queue_refresh(&v, &e), RT_EFORMAT);
        /* The loader `retool review` uses rejects the same file. */
        serve_queue q;
        cr_assert_neq(serve_queue_load(path, &q, &e), RT_OK, "case %zu", k);
        dash_queue_free(&v);
    }
    char path[160];
    const char *audit = "{\"time\": 1, \"status\": \"ok\"}\n{\"status\": \"ok\"}\n";
    test_write(dir, "a.jsonl", audit, strlen(audit), path, sizeof path);
    dash_audit a;
    rt_error e;
    cr_assert_eq(dash_audit_init(&a, path, &e), RT_OK);
    cr_assert_eq(dash_audit_refresh(&a, &e), RT_EFORMAT);
    cr_assert(strstr(e.msg, ":2:") && strstr(e.msg, "time"), "%s", e.msg);
    dash_audit_free(&a);
}

typedef struct call_truth {
    double time;
    int request, status;
    char code[200], output[200];
} call_truth;

Test(dash_index, audit_search_matches_a_brute_force_filter) {
    static const char *const st[] = {"ok", "error", "timeout", "sandbox_error", "refused"};
    static const char *const needles[] = {"<script>", "\"", "\\n", "\n", "é€", "x", "zzz-none", "print(\"a\")"};
    enum { N = 1500 };
    static call_truth t[N];
    char path[160];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    dash_audit a;
    rt_error e;
    cr_assert_eq(dash_audit_init(&a, path, &e), RT_OK);
    for (int i = 0; i < N; i++) {
        t[i].time = 1700000000 + i * 0.5;
        t[i].request = (int)rnd(40);
        t[i].status = (int)rnd(5);
        rand_text(t[i].code, sizeof t[i].code);
        if (rnd(4) == 0) strcat(t[i].code, "print(\"a\")");
        rand_text(t[i].output, sizeof t[i].output);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "time", t[i].time);
        char traj[40];
        snprintf(traj, sizeof traj, "p%d-s%d", t[i].request, i % 2);
        cJSON_AddStringToObject(o, "trajectory", traj);
        cJSON_AddNumberToObject(o, "call", 0);
        cJSON_AddStringToObject(o, "code", t[i].code);
        cJSON_AddStringToObject(o, "output", t[i].output);
        cJSON_AddStringToObject(o, "status", st[t[i].status]);
        cJSON_AddNumberToObject(o, "latency_s", 0.01);
        char *line = cJSON_PrintUnformatted(o);
        FILE *fp = fopen(path, "a");
        fprintf(fp, "%s\n", line);
        fclose(fp);
        cJSON_free(line);
        cJSON_Delete(o);
        if (i % 500 == 499) cr_assert_eq(dash_audit_refresh(&a, &e), RT_OK, "%s", e.msg);
    }
    for (int q = 0; q < 60; q++) {
        dash_audit_filter f = {rnd(3) ? -1 : (long long)rnd(40), rnd(2) ? 0 : 1700000000 + rnd(N / 2),
                               rnd(2) ? 0 : 1700000000 + N / 4 + rnd(N / 2), rnd(3) ? -1 : (int)rnd(5),
                               rnd(3) ? NULL : needles[rnd(sizeof needles / sizeof needles[0])]};
        size_t want = 0;
        int newest = -1;
        for (int i = N - 1; i >= 0; i--) {
            if ((f.request >= 0 && t[i].request != f.request) || t[i].time < f.from || (f.to > 0 && t[i].time > f.to) ||
                (f.status >= 0 && t[i].status != f.status) ||
                (f.text && !strstr(t[i].code, f.text) && !strstr(t[i].output, f.text)))
                continue;
            if (newest < 0) newest = i;
            want++;
        }
        cJSON *o;
        cr_assert_eq(dash_audit_search(&a, &f, 0, 5, &o, &e), RT_OK, "%s", e.msg);
        cr_assert_eq((size_t)cJSON_GetObjectItem(o, "total")->valueint, want, "query %d (text %s)", q,
                     f.text ? f.text : "-");
        cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "items"), 0);
        if (newest >= 0) {
            cr_assert_eq(cJSON_GetObjectItem(first, "line")->valueint, newest + 1);
            cr_assert_str_eq(cJSON_GetObjectItem(first, "code")->valuestring, t[newest].code);
            cr_assert_eq(cJSON_GetObjectItem(first, "request")->valueint, t[newest].request);
        } else {
            cr_assert_null(first);
        }
        cJSON_Delete(o);
    }
    dash_audit_free(&a);
}

/* The "call" numbers of every line of path's files, oldest first (FILE.K .. FILE.1, FILE), read directly. */
static size_t calls_on_disk(const char *path, int *out, size_t cap) {
    size_t n = 0;
    for (int k = 9; k >= 0; k--) {
        char name[200], line[400];
        if (k)
            snprintf(name, sizeof name, "%s.%d", path, k);
        else
            snprintf(name, sizeof name, "%s", path);
        FILE *fp = fopen(name, "r");
        while (fp && fgets(line, sizeof line, fp) && n < cap) {
            cJSON *o = cJSON_Parse(line);
            out[n++] = cJSON_GetObjectItem(o, "call")->valueint;
            cJSON_Delete(o);
        }
        if (fp) fclose(fp);
    }
    return n;
}

Test(dash_index, audit_view_follows_rotation) {
    char path[160];
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    serve_audit au;
    dash_audit a;
    rt_error e;
    cr_assert_eq(serve_audit_open(&au, path, 1500, 3, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(dash_audit_init(&a, path, &e), RT_OK);
    static int disk[1000];
    for (int i = 0; i < 300; i++) {
        fprintf(au.fp,
                "{\"time\":%d,\"trajectory\":\"p%d-s0\",\"call\":%d,\"code\":\"print(%d)\",\"output\":\"%d\","
                "\"status\":\"ok\",\"latency_s\":0.01}\n",
                1700000000 + i, i / 4, i, i, i);
        fflush(au.fp);
        if (i % 10 == 9) cr_assert_eq(serve_audit_maybe_rotate(&au, &e), RT_OK, "%s", e.msg);
        if (i % 7 != 0) continue;
        cr_assert_eq(dash_audit_refresh(&a, &e), RT_OK, "%s", e.msg);
        size_t n = calls_on_disk(path, disk, 1000);
        dash_audit_filter all = {-1, 0, 0, -1, NULL};
        cJSON *o;
        cr_assert_eq(dash_audit_search(&a, &all, 0, 1000, &o, &e), RT_OK, "%s", e.msg);
        cr_assert_eq((size_t)cJSON_GetObjectItem(o, "total")->valueint, n, "after %d calls", i + 1);
        size_t k = n;
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "items")) {
            cr_assert_eq(cJSON_GetObjectItem(it, "call")->valueint, disk[--k], "after %d calls", i + 1);
        }
        cJSON_Delete(o);
        /* A text search reaches into the rotated files too. */
        char needle[32];
        snprintf(needle, sizeof needle, "print(%d)", disk[0]);
        dash_audit_filter f = {-1, 0, 0, -1, needle};
        cr_assert_eq(dash_audit_search(&a, &f, 0, 5, &o, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(cJSON_GetObjectItem(o, "total")->valueint, 1, "%s", needle);
        cJSON_Delete(o);
    }
    cr_assert_gt(a.nseg, 3, "the test never saw the rotated files");
    dash_audit_free(&a);
    cr_assert_eq(serve_audit_close(&au, &e), RT_OK, "%s", e.msg);
}

/* Text search reads the log in blocks: it finds every line the generator put the text in, across block ends; a log
 * cut shorter after it was indexed is an error naming the file (never a crash), and the next refresh reads it anew. */
Test(dash_index, audit_text_search_survives_a_cut_log) {
    char path[128];
    FILE *fp = create("audit.jsonl", path, sizeof path);
    enum { N = 20000 };
    for (int i = 0; i < N; i++)
        fprintf(fp,
                "{\"time\":%d,\"trajectory\":\"p%d-s0\",\"call\":0,\"code\":\"print(%d)  # padding padding "
                "padding padding padding\",\"output\":\"%s\",\"status\":\"ok\",\"latency_s\":0.1}\n",
                1000 + i, i, i, i % 997 == 5 ? "a needle here" : "12");
    fclose(fp);
    dash_audit a;
    rt_error e;
    cr_assert_eq(dash_audit_init(&a, path, &e), RT_OK);
    cr_assert_eq(dash_audit_refresh(&a, &e), RT_OK, "%s", e.msg);
    cr_assert_gt(dash_audit_bytes(&a), 2u << 20, "the log spans several read blocks");
    dash_audit_filter f = {-1, 0, 0, -1, "needle"};
    int want = 0, want_half = 0;
    for (int i = 0; i < N; i++)
        want += i % 997 == 5, want_half += i % 997 == 5 && i < N / 2;
    cJSON *o;
    cr_assert_eq(dash_audit_search(&a, &f, 0, 5, &o, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(cJSON_GetObjectItem(o, "total")->valueint, want);
    cJSON_Delete(o);
    cr_assert_eq(truncate(path, (off_t)a.seg[0].off[N / 2]), 0);
    cr_assert_eq(dash_audit_search(&a, &f, 0, 5, &o, &e), RT_EIO, "a search of a cut log succeeded");
    cr_assert(strstr(e.msg, path) && strstr(e.msg, "cut shorter"), "%s", e.msg);
    cr_assert_eq(dash_audit_refresh(&a, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(a.n, N / 2);
    cr_assert_eq(dash_audit_search(&a, &f, 0, 5, &o, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(cJSON_GetObjectItem(o, "total")->valueint, want_half);
    cJSON_Delete(o);
    dash_audit_free(&a);
}

/* Numbers read exactly as strtod reads them (the scanner's fast path and its fallback alike). */
Test(dash_index, numbers_read_as_strtod_reads_them) {
    static const char *const fixed[] = {"0",
                                        "-0",
                                        "1700000000.5",
                                        "0.0001",
                                        "123456789012345",
                                        "1234567890123456789",
                                        "0.1",
                                        "2.675",
                                        "1e5",
                                        "-3.5E-7",
                                        "9007199254740993",
                                        "0.30000000000000004",
                                        "17e22",
                                        "1.0000000000000002"};
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0] + 3000; k++) {
        char buf[64];
        if (k < sizeof fixed / sizeof fixed[0])
            snprintf(buf, sizeof buf, "%s", fixed[k]);
        else
            snprintf(buf, sizeof buf, "%s%u.%0*u", rnd(2) ? "-" : "", rnd(2000000000), (int)(1 + rnd(9)), rnd(1000000));
        double got = -1, want = strtod(buf, NULL);
        cr_assert_not_null(dash_js_num(buf, buf + strlen(buf), &got), "%s", buf);
        cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s: %.17g, strtod %.17g", buf, got, want);
    }
}
