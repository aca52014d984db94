/* `retool review` over a queue file: list, show, approve, reject, with exit codes and nothing lost. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve/queue.h"

static char dir[64], q[128];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/retool-rcli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(q, sizeof q, "%s/q.jsonl", dir);
    const char *ids[] = {"chatcmpl-a-1", "chatcmpl-a-2"};
    for (int i = 0; i < 2; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", "entry");
        cJSON_AddStringToObject(o, "id", ids[i]);
        cJSON_AddNumberToObject(o, "time", 1700000000 + i);
        cJSON *msgs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "request"), "messages");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", i ? "What is 2+2?" : "What is 6*7?");
        cJSON_AddItemToArray(msgs, m);
        cJSON *x = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "completion"), "retool");
        cJSON_AddStringToObject(x, "answer", i ? "5" : "42");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(x, "review_reasons"), cJSON_CreateString("tool_failed"));
        rt_error e;
        cr_assert_eq(serve_queue_append(q, o, &e), RT_OK, "%s", e.msg);
        cJSON_Delete(o);
    }
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(review_cli, .init = setup, .fini = teardown, .timeout = 30);

/* Runs `retool review ARGS --queue q`; returns the exit code and the output (stdout and stderr). */
static int review(const char *args, char *out, size_t cap) {
    const char *bin = getenv("RETOOL_BIN") ? getenv("RETOOL_BIN") : "build/retool";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s review %s --queue %s 2>&1", bin, args, q);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(review_cli, list_decide_show) {
    char out[8192];
    cr_assert_eq(review("list", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "chatcmpl-a-1") && strstr(out, "chatcmpl-a-2") && strstr(out, "2 of 2 entries"), "%s", out);
    cr_assert(strstr(out, "answer: 42") && strstr(out, "What is 2+2?") && strstr(out, "tool_failed"), "%s", out);
    cr_assert_eq(review("approve chatcmpl-a-1 --note 'checked: 6*7=42' --reviewer ann", out, sizeof out), 0, "%s", out);
    cr_assert_eq(review("reject chatcmpl-a-2 --note '2+2 is 4'", out, sizeof out), 0, "%s", out);
    cr_assert_eq(review("list --status pending", out, sizeof out), 0);
    cr_assert(strstr(out, "0 of 2 entries"), "%s", out);
    cr_assert_eq(review("list --status approved", out, sizeof out), 0);
    cr_assert(strstr(out, "chatcmpl-a-1") && !strstr(out, "chatcmpl-a-2") && strstr(out, "1 of 2"), "%s", out);
    cr_assert_eq(review("show chatcmpl-a-2", out, sizeof out), 0);
    cJSON *o = cJSON_Parse(out);
    cr_assert_not_null(o, "%s", out);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "rejected");
    cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "decisions"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(d, "note")->valuestring, "2+2 is 4");
    cJSON_Delete(o);
    /* Errors: an unknown id (exit 1, named), a missing queue flag or id (usage, 2), a bad status (2). */
    cr_assert_eq(review("approve chatcmpl-zz", out, sizeof out), 1);
    cr_assert(strstr(out, "chatcmpl-zz"), "%s", out);
    cr_assert_eq(review("show nope", out, sizeof out), 1);
    cr_assert_eq(review("approve", out, sizeof out), 2);
    cr_assert_eq(review("list --status maybe", out, sizeof out), 2);
    /* Nothing was lost: 2 entries and 2 decisions, whole lines. */
    serve_queue sq;
    rt_error e;
    cr_assert_eq(serve_queue_load(q, &sq, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(sq.n, 2);
    serve_queue_free(&sq);
}
