/* The dashboard's queue index (dash_qline.c's walk over each line, 64 bytes at a time) against an independent truth:
 * cJSON parses every line of a generated queue and the summary is computed here from its tree. The queue holds what
 * a fast reader can get wrong: whitespace (spaces, tabs, CR) between any tokens, strings written with every escape
 * (\uXXXX, surrogate pairs, \/, runs of backslashes before quotes, brackets and quotes inside strings) so that
 * escapes and quotes fall on every offset of a 64-byte block, raw multi-byte UTF-8, CRLF line ends, ids too long to
 * keep inline, lines of hundreds of kilobytes, decisions, and a torn last line. It is read in chunks of several sizes
 * on one and two threads. Lines cut or with a bracket or quote taken out are rejected and named by line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/tmpdir.h"
#include "serve/dash_jtok.h"
#include "serve/dash_queue.h"
#include "serve/review.h"

static char dir[64];
static void setup(void) {
    test_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    test_rmdir(dir);
}
TestSuite(dash_qline, .init = setup, .fini = teardown, .timeout = 60);

static unsigned long long rng = 88172645463325252ull;
static unsigned rnd(unsigned n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A growing text buffer. */
typedef struct out {
    char *s;
    size_t n, cap;
} out;

static void put(out *o, const char *s, size_t n) {
    if (o->n + n + 1 > o->cap) {
        o->cap = (o->n + n + 1) * 2;
        o->s = realloc(o->s, o->cap);
        cr_assert_not_null(o->s);
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = 0;
}

static void puts_(out *o, const char *s) {
    put(o, s, strlen(s));
}

/* Whitespace between tokens, now and then. */
static void ws(out *o) {
    static const char *const w[] = {" ", "\t", "\r", "  \t "};
    if (rnd(4) == 0) puts_(o, w[rnd(4)]);
}

/* s as a JSON string, each byte written plainly or escaped in one of the ways JSON allows. */
static void emit_string(out *o, const char *s) {
    puts_(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char b[16];
        unsigned c = *p;
        if (c >= 0xF0 && p[1] && p[2] && p[3] && rnd(2)) {
            /* A 4-byte character as a surrogate pair. */
            unsigned cp = (c & 7u) << 18 | (p[1] & 63u) << 12 | (p[2] & 63u) << 6 | (p[3] & 63u);
            cp -= 0x10000;
            snprintf(b, sizeof b, "\\u%04X\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            puts_(o, b);
            p += 3;
        } else if (c == '"' || c == '\\') {
            if (rnd(3))
                snprintf(b, sizeof b, "\\%c", c);
            else
                snprintf(b, sizeof b, "\\u%04x", c);
            puts_(o, b);
        } else if (c < 0x20) {
            snprintf(b, sizeof b, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\u%04x", c);
            puts_(o, b);
        } else if (c == '/' && rnd(2)) {
            puts_(o, "\\/");
        } else if (c < 0x80 && rnd(8) == 0) {
            snprintf(b, sizeof b, "\\u%04X", c);
            puts_(o, b);
        } else {
            put(o, (const char *)p, 1);
        }
    }
    puts_(o, "\"");
}

/* The tree as one line of JSON, with whitespace and escapes chosen at random. */
static void emit(out *o, const cJSON *v) {
    ws(o);
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int obj = cJSON_IsObject(v);
        puts_(o, obj ? "{" : "[");
        for (const cJSON *c = v->child; c; c = c->next) {
            if (obj) {
                ws(o);
                emit_string(o, c->string);
                ws(o);
                puts_(o, ":");
            }
            emit(o, c);
            ws(o);
            if (c->next) puts_(o, ",");
        }
        ws(o);
        puts_(o, obj ? "}" : "]");
    } else if (cJSON_IsString(v)) {
        emit_string(o, v->valuestring);
    } else {
        char *t = cJSON_PrintUnformatted(v);
        puts_(o, t);
        cJSON_free(t);
    }
}

/* Text a model or a program might print: quotes, backslash runs, brackets, HTML, multi-byte characters. */
static void rand_text(out *o, size_t parts) {
    static const char *const p[] = {"a", "\"", "\\",   "\\\\\"", "\n",   "\t",          "{", "}",
                                    "[", "]",  ",",    ":",      "é",    "€",           "😀", "<b>",
                                    "/", "\r", "\\\\", "x y",    "\x01", "{\"k\": [1]}"};
    for (size_t i = 0; i < parts; i++)
        puts_(o, p[rnd(sizeof p / sizeof p[0])]);
}

static const char *const reason_names[] = {"samples_disagree", "tool_failed", "budget_hit", "no_answer",
                                           "generation_error"};

static cJSON *text_value(size_t parts) {
    out t = {0};
    rand_text(&t, parts);
    cJSON *s = cJSON_CreateString(t.s ? t.s : "");
    free(t.s);
    return s;
}

/* Adds a few members the index does not read, anywhere in an object. */
static void noise(cJSON *o) {
    for (unsigned i = rnd(3); i > 0; i--) {
        char k[32];
        snprintf(k, sizeof k, "x%u\"[", rnd(1000));
        if (cJSON_GetObjectItemCaseSensitive(o, k)) continue;
        switch (rnd(4)) {
        case 0:
            cJSON_AddItemToObject(o, k, text_value(rnd(30)));
            break;
        case 1:
            cJSON_AddNumberToObject(o, k, (double)rnd(100000) / 64.0 - 50);
            break;
        case 2: {
            cJSON *a = cJSON_AddArrayToObject(o, k);
            for (unsigned j = rnd(4); j > 0; j--)
                cJSON_AddItemToArray(a, rnd(2) ? text_value(rnd(5)) : cJSON_CreateObject());
            break;
        }
        default:
            cJSON_AddItemToObject(o, k, rnd(2) ? cJSON_CreateNull() : cJSON_CreateFalse());
        }
    }
}

/* Moves o's members into a random order. */
static void shuffle(cJSON *o) {
    cJSON *items[32];
    int n = 0;
    while (o->child && n < 32)
        items[n++] = cJSON_DetachItemViaPointer(o, o->child);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rnd((unsigned)i + 1);
        cJSON *t = items[i];
        items[i] = items[j];
        items[j] = t;
    }
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(o, items[i]);
}

/* An entry shaped like retool serve's, with an id, a user, samples, tool calls and reasons chosen at random; huge
 * puts a model text of hundreds of kilobytes in it. */
static cJSON *gen_entry(const char *id, int huge) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "entry");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "time", 1700000000.0 + (double)rnd(1000000) / 16.0);
    cJSON *r = cJSON_AddObjectToObject(o, "request");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddItemToObject(m, "content", text_value(rnd(40)));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "messages"), m);
    if (rnd(4)) {
        static const char *const users[] = {"famA", "fam\"B\"", "fam\\C", "fämD", "fam/E", "😀"};
        cJSON_AddStringToObject(r, "user", users[rnd(6)]);
    }
    noise(r);
    shuffle(r);
    cJSON *c = cJSON_AddObjectToObject(o, "completion");
    cJSON_AddStringToObject(c, "id", id);
    cJSON *choices = cJSON_AddArrayToObject(c, "choices");
    for (unsigned k = rnd(4); k > 0; k--) {
        cJSON *ch = cJSON_CreateObject();
        cJSON *msg = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddItemToObject(msg, "content", huge ? text_value(60000) : text_value(rnd(60)));
        huge = 0;
        cJSON *x = cJSON_AddObjectToObject(ch, "retool");
        cJSON *calls = cJSON_AddArrayToObject(x, "tool_calls");
        for (unsigned j = rnd(4); j > 0; j--) {
            cJSON *call = cJSON_CreateObject();
            cJSON_AddItemToObject(call, "code", text_value(rnd(20)));
            cJSON_AddItemToObject(call, "output", text_value(rnd(20)));
            cJSON_AddStringToObject(call, "status", "ok");
            cJSON_AddItemToArray(calls, call);
        }
        cJSON_AddNumberToObject(x, "wall_s", (double)rnd(10000) / 128.0);
        cJSON_AddItemToObject(x, "review_reasons", cJSON_CreateArray());
        noise(x);
        shuffle(x);
        noise(ch);
        shuffle(ch);
        cJSON_AddItemToArray(choices, ch);
    }
    cJSON *x = cJSON_AddObjectToObject(c, "retool");
    cJSON_AddStringToObject(x, "answer", "42");
    cJSON *rs = cJSON_AddArrayToObject(x, "review_reasons");
    for (unsigned b = 0; b < SERVE_REVIEW_NREASONS; b++)
        if (rnd(3) == 0) cJSON_AddItemToArray(rs, cJSON_CreateString(reason_names[b]));
    noise(x);
    shuffle(x);
    noise(c);
    shuffle(c);
    noise(o);
    shuffle(o);
    return o;
}

/* What the index should hold for one entry, from cJSON's tree. */
typedef struct truth {
    char id[400];
    double time;
    float wall_s;
    unsigned reasons, samples, tool_calls, request;
    char user[64];
    int status;
} truth;

static void summarize(const cJSON *o, truth *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring);
    t->time = cJSON_GetObjectItemCaseSensitive(o, "time")->valuedouble;
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "request"), "user");
    if (cJSON_IsString(user)) snprintf(t->user, sizeof t->user, "%s", user->valuestring);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "completion"), *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(c, "choices")) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(ch, "retool");
        t->samples++;
        t->tool_calls += (unsigned)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(x, "tool_calls"));
        double w = cJSON_GetObjectItemCaseSensitive(x, "wall_s")->valuedouble;
        if (w > t->wall_s) t->wall_s = (float)w;
    }
    const cJSON *r;
    cJSON_ArrayForEach(
        r, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "retool"), "review_reasons")) {
        for (unsigned b = 0; b < SERVE_REVIEW_NREASONS; b++)
            if (!strcmp(r->valuestring, reason_names[b])) t->reasons |= 1u << b;
    }
    const char *dash = strrchr(t->id, '-');
    t->request = dash ? (unsigned)strtoul(dash + 1, NULL, 10) : 0;
}

enum { N = 1500 };
static truth want[N];

/* Writes the queue: N entries (some ids long, with escapes), decisions on earlier ones, huge lines, CRLF ends, blank
 * lines, and a torn last line. Every line is checked to be what cJSON reads. */
static void write_queue(const char *path) {
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    for (int i = 0; i < N; i++) {
        char id[400];
        if (i % 97 == 5) {
            int n = snprintf(id, sizeof id, "chatcmpl-\"long\\");
            while (n < 200)
                n += snprintf(id + n, sizeof id - (size_t)n, "é/x");
            snprintf(id + n, sizeof id - (size_t)n, "-%d", i);
        } else {
            snprintf(id, sizeof id, i % 3 ? "chatcmpl-q-%d" : "chatcmpl-\"q\\%d-%d", i % 3 ? i : i * 7, i);
        }
        cJSON *o = gen_entry(id, i % 500 == 250);
        summarize(o, &want[i]);
        out line = {0};
        emit(&line, o);
        cJSON *back = cJSON_Parse(line.s);
        cr_assert_not_null(back, "generated line %d is no JSON", i);
        truth t;
        summarize(back, &t);
        cr_assert_str_eq(t.id, want[i].id);
        cJSON_Delete(back);
        cJSON_Delete(o);
        fputs(line.s, fp);
        fputs(i % 7 == 3 ? "\r\n" : "\n", fp);
        free(line.s);
        if (i % 40 == 0) fputs(i % 80 ? "\n" : " \t\r\n", fp);
        if (i % 4 == 3) {
            int at = (int)rnd((unsigned)i + 1), ok = (int)rnd(2);
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "kind", "decision");
            cJSON_AddStringToObject(d, "id", want[at].id);
            cJSON_AddStringToObject(d, "decision", ok ? "approved" : "rejected");
            cJSON_AddItemToObject(d, "note", text_value(rnd(10)));
            noise(d);
            shuffle(d);
            out dl = {0};
            emit(&dl, d);
            fputs(dl.s, fp);
            fputs("\n", fp);
            free(dl.s);
            cJSON_Delete(d);
            want[at].status = ok ? DASH_APPROVED : DASH_REJECTED;
        }
    }
    fputs("{\"kind\": \"entry\", \"id\": \"torn\", \"time\": 1", fp); /* being written: no newline yet */
    fclose(fp);
}

Test(dash_qline, index_equals_a_cjson_parse_of_every_line) {
    char path[128];
    snprintf(path, sizeof path, "%s/q.jsonl", dir);
    write_queue(path);
    static const size_t chunks[] = {700, 70000, DASH_LINES_CHUNK};
    for (int k = 0; k < 8; k++) {
        dash_queue v;
        rt_error e;
        /* The last two with the bytes marked by SSE2 rather than AVX2. */
        dash_jtok_use_avx2(k < 6);
        cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
        v.lines.chunk = chunks[k % 3];
        v.lines.threads = k < 3 || k == 7 ? 2 : 1;
        v.save_every = UINT64_MAX;
        cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "%s", e.msg);
        cr_assert_eq(v.n, N);
        cr_assert_eq(v.nd, N / 4);
        cr_assert_eq(dash_queue_find(&v, "torn"), -1);
        for (size_t i = 0; i < N; i++) {
            const dash_entry *x = &v.e[i];
            const truth *t = &want[i];
            cr_assert_str_eq(dash_queue_id(&v, i), t->id);
            cr_assert_eq(dash_queue_find(&v, t->id), (long)i);
            cr_assert_eq(x->time, t->time, "entry %zu", i);
            cr_assert_eq(x->wall_s, t->wall_s, "entry %zu", i);
            cr_assert_eq(x->samples, t->samples, "entry %zu", i);
            cr_assert_eq(x->tool_calls, t->tool_calls, "entry %zu", i);
            cr_assert_eq(x->reasons, t->reasons, "entry %zu", i);
            cr_assert_eq(x->request, t->request, "entry %zu", i);
            cr_assert_eq(x->status, t->status, "entry %zu", i);
            cr_assert_str_eq(v.tags[x->tag], t->user, "entry %zu", i);
        }
        dash_queue_free(&v);
    }
}

/* A line taken from a well-formed queue with its closing bracket, one quote or one bracket taken out (anywhere, on
 * every offset of its blocks) is no JSON to cJSON, and the index names its line. */
Test(dash_qline, damaged_lines_are_named) {
    char path[160];
    int tried = 0;
    for (int i = 0; i < 400; i++) {
        char id[32];
        snprintf(id, sizeof id, "chatcmpl-d-%d", i);
        cJSON *o = gen_entry(id, 0);
        out line = {0};
        emit(&line, o);
        cJSON_Delete(o);
        /* Which byte goes: the last '}', or a quote or bracket picked at random. */
        size_t at = line.n;
        while (at > 0 && line.s[at - 1] != '}')
            at--;
        at--;
        if (i % 4) {
            size_t n = 0;
            for (size_t j = 0; j < line.n; j++)
                n += strchr(i % 2 ? "\"" : "{}[]", line.s[j]) != NULL && line.s[j];
            size_t pick = rnd((unsigned)n);
            for (size_t j = 0; j < line.n; j++)
                if (line.s[j] && strchr(i % 2 ? "\"" : "{}[]", line.s[j]) && pick-- == 0) {
                    at = j;
                    break;
                }
        }
        memmove(line.s + at, line.s + at + 1, line.n - at);
        line.n--;
        cJSON *back = cJSON_Parse(line.s);
        if (back) {
            /* Taking out a quote can leave JSON (an escaped quote's backslash then escapes another byte). */
            cJSON_Delete(back);
            free(line.s);
            continue;
        }
        tried++;
        out file = {0};
        puts_(&file, "{\"kind\": \"entry\", \"id\": \"first\"}\n");
        put(&file, line.s, line.n);
        puts_(&file, "\n");
        test_write(dir, "bad.jsonl", file.s, file.n, path, sizeof path);
        dash_queue v;
        rt_error e;
        dash_jtok_use_avx2(i / 2 % 2);
        cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
        v.save_every = UINT64_MAX;
        cr_assert_eq(dash_queue_refresh(&v, &e), RT_EFORMAT, "accepted: %s", line.s);
        cr_assert(strstr(e.msg, path) && strstr(e.msg, ":2:"), "%s", e.msg);
        dash_queue_free(&v);
        free(file.s);
        free(line.s);
    }
    cr_assert_gt(tried, 250, "%d lines tried", tried);
}

/* A chunk of many short lines is parsed and applied a batch at a time: every entry and decision lands, in order,
 * across the batch ends. */
Test(dash_qline, short_lines_across_batches) {
    char path[128];
    snprintf(path, sizeof path, "%s/short.jsonl", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    enum { M = 20000 };
    for (int i = 0; i < M; i++) {
        fprintf(fp, "{\"kind\":\"entry\",\"id\":\"e-%d\",\"time\":%d}\n\n", i, 1000 + i);
        if (i % 5 == 4) fprintf(fp, "{\"kind\":\"decision\",\"id\":\"e-%d\",\"decision\":\"approved\"}\n", i - 2);
    }
    fclose(fp);
    dash_queue v;
    rt_error e;
    cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
    v.save_every = UINT64_MAX;
    cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(v.n, M);
    cr_assert_eq(v.nd, M / 5);
    for (int i = 0; i < M; i++) {
        char id[32];
        snprintf(id, sizeof id, "e-%d", i);
        cr_assert_eq(dash_queue_find(&v, id), i);
        cr_assert_eq(v.e[i].time, 1000.0 + i);
        cr_assert_eq(v.e[i].request, (uint32_t)i);
        cr_assert_eq(v.e[i].status, i % 5 == 2 ? DASH_APPROVED : DASH_PENDING, "entry %d", i);
    }
    dash_queue_free(&v);
}

/* An id of 1016 bytes as written (quotes included) is read; one byte more is an error naming the line and the field. */
Test(dash_qline, an_id_over_the_limit_is_named) {
    for (int over = 0; over < 2; over++) {
        char id[1100], text[1300], path[160];
        memset(id, 'x', sizeof id);
        id[1014 + over] = 0; /* 1014 bytes, 1016 with the quotes */
        int n =
            snprintf(text, sizeof text, "{\"kind\":\"entry\",\"id\":\"a\"}\n{\"kind\":\"entry\",\"id\":\"%s\"}\n", id);
        test_write(dir, "long.jsonl", text, (size_t)n, path, sizeof path);
        dash_queue v;
        rt_error e;
        cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
        v.save_every = UINT64_MAX;
        rt_status st = dash_queue_refresh(&v, &e);
        if (over) {
            cr_assert_eq(st, RT_EFORMAT);
            cr_assert(strstr(e.msg, ":2:") && strstr(e.msg, "'id'"), "%s", e.msg);
        } else {
            cr_assert_eq(st, RT_OK, "%s", e.msg);
            cr_assert_eq(dash_queue_find(&v, id), 1);
        }
        dash_queue_free(&v);
    }
}
