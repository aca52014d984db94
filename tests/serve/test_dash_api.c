/* The dashboard's HTTP API on loopback (the standalone server, in process), as a client sees it: requests without
 * the token, with a wrong one, or without the CSRF token are refused (401/403) and leave the queue file byte for
 * byte as it was; paging is newest first, disjoint and complete; the login sets an HttpOnly, SameSite=Strict cookie;
 * every answer carries the security headers; an approval is what `retool review list` then reports; two clients
 * deciding while entries are appended lose no line and tear none. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/tmpdir.h"
#include "base/fileio.h"
#include "scripted.h"
#include "serve/dash.h"
#include "serve/queue.h"
#include "serve/server.h"

#define TOKEN "s3cret-token-0123456789"

static char dir[64], qpath[128], apath[128], tpath[128];
static dash *d;
static dash_server *srv;
static int port;

static void add_entry(const char *path, int i) {
    char id[64], q[80];
    snprintf(id, sizeof id, "chatcmpl-api-%d", i);
    snprintf(q, sizeof q, "What is %d + 1?", i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "entry");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "time", 1700000000 + i);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", q);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "request"), "messages"), m);
    cJSON *x = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "completion"), "retool");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(x, "review_reasons"), cJSON_CreateString("no_answer"));
    rt_error e;
    cr_assert_eq(serve_queue_append(path, o, &e), RT_OK, "%s", e.msg);
    cJSON_Delete(o);
}

static void start(int entries) {
    test_tmpdir(dir, sizeof dir);
    snprintf(qpath, sizeof qpath, "%s/q.jsonl", dir);
    snprintf(apath, sizeof apath, "%s/a.jsonl", dir);
    test_write(dir, "token", TOKEN "\n", strlen(TOKEN) + 1, tpath, sizeof tpath);
    for (int i = 1; i <= entries; i++)
        add_entry(qpath, i);
    dash_config c = {qpath, apath, tpath, NULL, NULL};
    rt_error e;
    cr_assert_eq(dash_open(&d, &c, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(dash_server_start(&srv, d, "127.0.0.1", 0, &e), RT_OK, "%s", e.msg);
    port = dash_server_port(srv);
}
static void setup(void) {
    start(120);
}
static void stop(void) {
    dash_server_stop(srv);
    dash_close(d);
    test_rmdir(dir);
}
TestSuite(dash_api, .init = setup, .fini = stop, .timeout = 60);

typedef struct reply {
    long status;
    char *body, *headers;
    size_t len, hlen;
} reply;

static size_t gather(char *p, size_t size, size_t n, void *ud) {
    char **buf = ud;
    size_t have = *buf ? strlen(*buf) : 0, add = size * n;
    char *nb = realloc(*buf, have + add + 1);
    memcpy(nb + have, p, add);
    nb[have + add] = 0;
    *buf = nb;
    return add;
}

/* One request; hdrs: NULL-terminated extra header lines; body for POST. */
static reply req(const char *method, const char *path, const char *const *hdrs, const char *body) {
    reply r = {0};
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    struct curl_slist *h = NULL;
    for (const char *const *p = hdrs; p && *p; p++)
        h = curl_slist_append(h, *p);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (!strcmp(method, "POST")) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gather);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, gather);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r.body) r.body = strdup("");
    return r;
}
static void reply_free(reply *r) {
    free(r->body);
    free(r->headers);
}

static const char *const bearer[] = {"Authorization: Bearer " TOKEN, NULL};

static char *csrf_of(const char *const *auth) {
    reply r = req("GET", "/ui/api/session", auth, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cJSON *o = cJSON_Parse(r.body);
    char *t = strdup(cJSON_GetObjectItem(o, "csrf")->valuestring);
    cJSON_Delete(o);
    reply_free(&r);
    return t;
}

static char *queue_bytes(void) {
    char *buf;
    size_t n;
    rt_error e;
    cr_assert_eq(rt_file_read_all(qpath, &buf, &n, &e), RT_OK, "%s", e.msg);
    return buf;
}

Test(dash_api, refusals_change_nothing) {
    char *before = queue_bytes();
    char *csrf = csrf_of(bearer);
    char csrf_hdr[120], bad_csrf[120];
    snprintf(csrf_hdr, sizeof csrf_hdr, "X-CSRF-Token: %s", csrf);
    /* The session's token with its last character changed (never the same one: a token ending in the character
     * written instead would be the right token, and the request rightly accepted). */
    size_t clen = strlen(csrf);
    cr_assert_gt(clen, 8);
    snprintf(bad_csrf, sizeof bad_csrf, "X-CSRF-Token: %.*s%c", (int)clen - 1, csrf, csrf[clen - 1] == '0' ? '1' : '0');
    const char *none[] = {csrf_hdr, NULL};
    const char *wrong[] = {"Authorization: Bearer s3cret-token-0123456788", csrf_hdr, NULL};
    const char *prefix[] = {"Authorization: Bearer s3cret", csrf_hdr, NULL};
    const char *basic[] = {"Authorization: Basic " TOKEN, csrf_hdr, NULL};
    const char *cookie[] = {
        "Cookie: retool_dash_session=0000000000000000000000000000000000000000000000000000000000000000", csrf_hdr, NULL};
    const char *no_csrf[] = {"Authorization: Bearer " TOKEN, NULL};
    const char *wrong_csrf[] = {"Authorization: Bearer " TOKEN, bad_csrf, NULL};
    struct {
        const char *const *h;
        long want;
    } cases[] = {{none, 401},   {wrong, 401},   {prefix, 401},    {basic, 401},
                 {cookie, 401}, {no_csrf, 403}, {wrong_csrf, 403}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        reply r = req("POST", "/ui/api/review/chatcmpl-api-3/approve", cases[k].h, "{\"note\": \"sneaky\"}");
        cr_assert_eq(r.status, cases[k].want, "case %zu: %ld %s", k, r.status, r.body);
        reply_free(&r);
        if (cases[k].want == 401) {
            /* Reading needs the token too: the API, the page and its script. */
            static const char *const reads[] = {"/ui/api/review",  "/ui/api/review/chatcmpl-api-3",
                                                "/ui/api/audit",   "/ui/api/stats",
                                                "/ui/api/session", "/ui/",
                                                "/ui/app.js"};
            for (size_t p = 0; p < sizeof reads / sizeof reads[0]; p++) {
                r = req("GET", reads[p], cases[k].h, NULL);
                cr_assert_eq(r.status, 401, "GET %s with case %zu: %ld", reads[p], k, r.status);
                cr_assert_null(strstr(r.body, "What is"), "data leaked to an unauthenticated client");
                reply_free(&r);
            }
        }
    }
    char *after = queue_bytes();
    cr_assert_str_eq(after, before, "a refused request changed the queue");
    free(after);
    /* The right token and CSRF token: the same request is accepted. */
    const char *ok[] = {"Authorization: Bearer " TOKEN, csrf_hdr, NULL};
    reply r = req("POST", "/ui/api/review/chatcmpl-api-3/approve", ok, "{\"note\": \"fine\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    reply_free(&r);
    after = queue_bytes();
    cr_assert_gt(strlen(after), strlen(before));
    free(after);
    free(before);
    free(csrf);
}

Test(dash_api, paging_is_newest_first_disjoint_and_complete) {
    int seen[121] = {0}, last = 1000;
    for (int off = 0; off < 150; off += 50) {
        char path[100];
        snprintf(path, sizeof path, "/ui/api/review?offset=%d&limit=50", off);
        reply r = req("GET", path, bearer, NULL);
        cr_assert_eq(r.status, 200);
        cJSON *o = cJSON_Parse(r.body);
        cr_assert_eq(cJSON_GetObjectItem(o, "total")->valueint, 120);
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "items")), off < 100 ? 50 : 20);
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "items")) {
            int i = atoi(strrchr(cJSON_GetObjectItem(it, "id")->valuestring, '-') + 1);
            cr_assert_lt(i, last);
            last = i;
            cr_assert_eq(seen[i]++, 0);
        }
        cJSON_Delete(o);
        reply_free(&r);
    }
    for (int i = 1; i <= 120; i++)
        cr_assert_eq(seen[i], 1, "entry %d never listed", i);
    static const char *const bad[] = {"/ui/api/review?limit=201",  "/ui/api/review?offset=-1",
                                      "/ui/api/review?status=x",   "/ui/api/review?reason=bogus",
                                      "/ui/api/audit?status=fine", "/ui/api/audit?from=x",
                                      "/ui/api/stats?buckets=0"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        reply r = req("GET", bad[k], bearer, NULL);
        cr_assert_eq(r.status, 400, "%s: %ld", bad[k], r.status);
        cr_assert(strstr(r.body, "query argument") || strstr(r.body, "buckets"), "%s", r.body);
        reply_free(&r);
    }
    reply r = req("GET", "/ui/api/review/chatcmpl-api-999", bearer, NULL);
    cr_assert_eq(r.status, 404);
    reply_free(&r);
}

static void has_header(const reply *r, const char *h) {
    cr_assert(r->headers && strcasestr(r->headers, h), "missing header %s in:\n%s", h, r->headers);
}

Test(dash_api, login_cookie_and_security_headers) {
    reply r = req("GET", "/ui/login", NULL, NULL);
    cr_assert_eq(r.status, 200);
    reply_free(&r);
    r = req("POST", "/ui/login", NULL, "token=wrong-wrong-wrong-wrong");
    cr_assert_eq(r.status, 401);
    cr_assert_null(r.headers ? strcasestr(r.headers, "Set-Cookie") : NULL);
    reply_free(&r);
    r = req("POST", "/ui/login", NULL, "token=s3cret%2Dtoken-0123456789");
    cr_assert_eq(r.status, 303, "%ld %s", r.status, r.body);
    has_header(&r, "Set-Cookie: retool_dash_session=");
    has_header(&r, "HttpOnly");
    has_header(&r, "SameSite=Strict");
    has_header(&r, "Location: /ui/");
    char *sc = strcasestr(r.headers, "retool_dash_session=") + strlen("retool_dash_session=");
    char cookie[200];
    snprintf(cookie, sizeof cookie, "Cookie: retool_dash_session=%.64s", sc);
    reply_free(&r);
    const char *auth[] = {cookie, NULL};
    char *csrf = csrf_of(auth);
    cr_assert_eq(strlen(csrf), 64);
    char *bearer_csrf = csrf_of(bearer);
    cr_assert_str_neq(csrf, bearer_csrf, "a session's CSRF token is its own");
    char csrf_hdr[120];
    snprintf(csrf_hdr, sizeof csrf_hdr, "X-CSRF-Token: %s", bearer_csrf);
    const char *other[] = {cookie, csrf_hdr, NULL};
    r = req("POST", "/ui/api/review/chatcmpl-api-5/reject", other, "{}");
    cr_assert_eq(r.status, 403, "another principal's CSRF token was accepted");
    reply_free(&r);
    snprintf(csrf_hdr, sizeof csrf_hdr, "X-CSRF-Token: %s", csrf);
    const char *mine[] = {cookie, csrf_hdr, NULL};
    r = req("POST", "/ui/api/review/chatcmpl-api-5/reject", mine, "{\"note\": \"wrong sum\", \"reviewer\": \"ann\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    reply_free(&r);
    static const char *const pages[] = {"/ui/", "/ui/app.js", "/ui/app.css", "/ui/api/review", "/ui/api/stats"};
    for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
        r = req("GET", pages[k], auth, NULL);
        cr_assert_eq(r.status, 200, "%s", pages[k]);
        has_header(&r, "Content-Security-Policy: default-src 'none'; script-src 'self';");
        has_header(&r, "X-Content-Type-Options: nosniff");
        has_header(&r, "Cache-Control: no-store");
        has_header(&r, "X-Frame-Options: DENY");
        reply_free(&r);
    }
    /* The page has no inline script: its only script is the file. */
    r = req("GET", "/ui/", auth, NULL);
    cr_assert_not_null(strstr(r.body, "<script src=\"/ui/app.js\""));
    cr_assert_null(strstr(r.body, "<script>"));
    cr_assert_null(strstr(r.body, "onclick"));
    reply_free(&r);
    /* Logged out: the cookie opens nothing any more. */
    r = req("POST", "/ui/logout", mine, "");
    cr_assert_eq(r.status, 303);
    reply_free(&r);
    r = req("GET", "/ui/api/review", auth, NULL);
    cr_assert_eq(r.status, 401);
    reply_free(&r);
    free(csrf);
    free(bearer_csrf);
}

/* Runs `retool review list --queue q`, returning its output. */
static char *review_list(void) {
    const char *bin = getenv("RETOOL_BIN") ? getenv("RETOOL_BIN") : "build/retool";
    char cmd[400];
    snprintf(cmd, sizeof cmd, "%s review list --queue %s 2>&1", bin, qpath);
    FILE *p = popen(cmd, "r");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    cr_assert_eq(pclose(p), 0, "%s", buf);
    return buf;
}

Test(dash_api, an_approval_is_what_review_list_reports) {
    char *csrf = csrf_of(bearer), hdr[120];
    snprintf(hdr, sizeof hdr, "X-CSRF-Token: %s", csrf);
    const char *h[] = {"Authorization: Bearer " TOKEN, hdr, NULL};
    reply r = req("POST", "/ui/api/review/chatcmpl-api-7/approve", h, "{\"note\": \"checked by hand\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    reply_free(&r);
    const char *out = review_list();
    const char *line = strstr(out, "chatcmpl-api-7 ");
    cr_assert_not_null(line, "%s", out);
    cr_assert(!strncmp(strstr(line, "Z  ") + 3, "approved", 8), "%.120s", line);
    /* And the other way: a decision made with the CLI shows in the dashboard at once. */
    const char *bin = getenv("RETOOL_BIN") ? getenv("RETOOL_BIN") : "build/retool";
    char cmd[400];
    snprintf(cmd, sizeof cmd, "%s review reject chatcmpl-api-8 --queue %s --note cli >/dev/null", bin, qpath);
    cr_assert_eq(system(cmd), 0);
    r = req("GET", "/ui/api/review/chatcmpl-api-8", bearer, NULL);
    cJSON *o = cJSON_Parse(r.body);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "rejected");
    cJSON *dec = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "decisions"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(dec, "note")->valuestring, "cli");
    cJSON_Delete(o);
    reply_free(&r);
    r = req("GET", "/ui/api/review?status=approved", bearer, NULL);
    o = cJSON_Parse(r.body);
    cr_assert_eq(cJSON_GetObjectItem(o, "total")->valueint, 1);
    cJSON_Delete(o);
    reply_free(&r);
    free(csrf);
}

typedef struct client {
    const char *decision;
    int first, count, failures;
    char csrf[65];
} client;

static void *decider(void *arg) {
    client *c = arg;
    char hdr[120];
    snprintf(hdr, sizeof hdr, "X-CSRF-Token: %s", c->csrf);
    const char *h[] = {"Authorization: Bearer " TOKEN, hdr, NULL};
    for (int i = 0; i < c->count; i++) {
        char path[120];
        snprintf(path, sizeof path, "/ui/api/review/chatcmpl-api-%d/%s", c->first + i % 60, c->decision);
        reply r = req("POST", path, h, "{\"note\": \"concurrent\"}");
        c->failures += r.status != 200;
        reply_free(&r);
    }
    return NULL;
}

static void *appender(void *arg) {
    (void)arg;
    for (int i = 1000; i < 1150; i++)
        add_entry(qpath, i);
    return NULL;
}

Test(dash_api, concurrent_decisions_and_appends_lose_nothing) {
    char *csrf = csrf_of(bearer);
    client a = {"approve", 1, 80, 0, ""}, b = {"reject", 30, 80, 0, ""};
    memcpy(a.csrf, csrf, 65);
    memcpy(b.csrf, csrf, 65);
    pthread_t ta, tb, tc;
    pthread_create(&ta, NULL, decider, &a);
    pthread_create(&tb, NULL, decider, &b);
    pthread_create(&tc, NULL, appender, NULL);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_join(tc, NULL);
    cr_assert_eq(a.failures + b.failures, 0);
    /* Every line whole and parseable, each decision and entry there exactly once. */
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_OK, "a torn line: %s", e.msg);
    cr_assert_eq(q.n, 120 + 150);
    size_t decisions = 0, concurrent = 0;
    for (size_t i = 0; i < q.n; i++) {
        decisions += (size_t)cJSON_GetArraySize(q.items[i].decisions);
        const cJSON *dd;
        cJSON_ArrayForEach(dd, q.items[i].decisions) concurrent +=
            !strcmp(cJSON_GetObjectItem(dd, "note")->valuestring, "concurrent");
    }
    cr_assert_eq(decisions, 160);
    cr_assert_eq(concurrent, 160);
    serve_queue_free(&q);
    char *bytes = queue_bytes();
    size_t lines = 0;
    for (char *p = bytes; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 120 + 150 + 160);
    free(bytes);
    /* The dashboard's view agrees. */
    reply r = req("GET", "/ui/api/review?limit=1", bearer, NULL);
    cJSON *o = cJSON_Parse(r.body);
    cr_assert_eq(cJSON_GetObjectItem(o, "total")->valueint, 270);
    cJSON_Delete(o);
    reply_free(&r);
    free(csrf);
}

Test(dash_api, no_token_no_dashboard, .init = NULL, .fini = NULL) {
    char tdir[64], p[128];
    test_tmpdir(tdir, sizeof tdir);
    dash *x = NULL;
    rt_error e;
    dash_config c = {"/nonexistent/q", NULL, NULL, NULL, NULL};
    cr_assert_neq(dash_open(&x, &c, &e), RT_OK);
    cr_assert(strstr(e.msg, "token"), "%s", e.msg);
    test_write(tdir, "short", "abc\n", 4, p, sizeof p);
    c.token_file = p;
    cr_assert_neq(dash_open(&x, &c, &e), RT_OK);
    cr_assert(strstr(e.msg, p) && strstr(e.msg, "at least"), "%s", e.msg);
    c.token_file = "/nonexistent/token";
    cr_assert_neq(dash_open(&x, &c, &e), RT_OK);
    cr_assert(strstr(e.msg, "/nonexistent/token"), "%s", e.msg);
    test_write(tdir, "spaced", "abcdefgh ijklmnopqrs\n", 21, p, sizeof p);
    c.token_file = p;
    cr_assert_neq(dash_open(&x, &c, &e), RT_OK);
    test_rmdir(tdir);
}

/* `retool serve` answers /ui/ only with a dashboard: with one, the same port serves it with the server's live
 * counts; without, /ui/ is an unknown path. */
Test(dash_api, served_by_the_server_only_when_asked) {
    serve_config c;
    serve_config_default(&c);
    c.port = 0;
    c.model_name = "scripted";
    c.review_queue = qpath;
    c.sched.backend = scripted_backend();
    c.sched.max_batch = 8;
    c.caps.max_n = 8;
    c.dashboard = d;
    serve_server *s;
    rt_error e;
    cr_assert_eq(serve_server_start(&s, &c, &e), RT_OK, "%s", e.msg);
    dash_set_live(d, serve_server_metrics(s));
    int saved = port;
    port = serve_server_port(s);
    reply r = req("POST", "/v1/chat/completions", (const char *const[]){"Content-Type: application/json", NULL},
                  "{\"model\": \"scripted\", \"messages\": [{\"role\": \"user\", \"content\": \"plain\"}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    reply_free(&r);
    r = req("GET", "/ui/api/stats", bearer, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cJSON *o = cJSON_Parse(r.body);
    cJSON *live = cJSON_GetObjectItem(o, "live");
    cr_assert_eq(cJSON_GetObjectItem(live, "answered")->valueint, 1);
    cJSON_Delete(o);
    reply_free(&r);
    r = req("GET", "/ui/api/stats", NULL, NULL);
    cr_assert_eq(r.status, 401);
    reply_free(&r);
    serve_server_stop(s);
    c.dashboard = NULL;
    cr_assert_eq(serve_server_start(&s, &c, &e), RT_OK, "%s", e.msg);
    port = serve_server_port(s);
    r = req("GET", "/ui/api/stats", bearer, NULL);
    cr_assert_eq(r.status, 404, "a server without --dashboard answered /ui/");
    reply_free(&r);
    serve_server_stop(s);
    dash_set_live(d, NULL);
    port = saved;
}

/* The CLI refuses to serve a dashboard without a token, with a message that says so (exit 2). */
Test(dash_api, cli_needs_a_token) {
    const char *bin = getenv("RETOOL_BIN") ? getenv("RETOOL_BIN") : "build/retool";
    static const char *const args[] = {"dashboard --review-queue /tmp/q.jsonl",
                                       "serve --model /nonexistent --dashboard",
                                       "serve --model /nonexistent --dashboard-token-file /tmp/t"};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args[k]);
        FILE *p = popen(cmd, "r");
        char buf[2000];
        size_t n = fread(buf, 1, sizeof buf - 1, p);
        buf[n] = 0;
        int st = pclose(p);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s: exit %d: %s", args[k], WEXITSTATUS(st), buf);
        cr_assert(strstr(buf, "token") || strstr(buf, "--dashboard"), "%s", buf);
    }
}
