/* The official openai npm client against `retool serve` (the CLI, RETOOL_BIN) on a tiny random model: models, a plain
 * completion, the same request streamed (same seed: the reassembled stream must equal the plain text), n = 3, and the
 * errors the client raises (400 unknown field, 404 model, 400 over the cap, 413 oversize), then SIGTERM. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "model/modeldir.h"
#include "tokenizer/tokenizer.h"
#include "../base/tiny_model.h"

static char dir[64], model_dir[256];

static void arithmetic_corpus(FILE *fp) {
    for (int i = 0; i < 200; i++) fprintf(fp, "Compute %d*%d.\n\\boxed{%d}\n", i, i + 3, i * (i + 3));
}

static void make_model(void) {
    rt_log_set_level(RT_LOG_WARN);
    snprintf(dir, sizeof dir, "/tmp/retool-node-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    tiny_model_spec spec = {arithmetic_corpus, 300, 320, 32, 64, 2, 2, 512, 3};
    tiny_model_make(dir, &spec, model_dir, sizeof model_dir);
}

static void cleanup(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    cr_assert(cJSON_IsNumber(v), "field %s is not a number", k);
    return v->valuedouble;
}

Test(node, openai_client_talks_to_retool_serve, .init = make_model, .fini = cleanup, .timeout = 120) {
    cr_assert_eq(access("tests/node/node_modules/openai/package.json", R_OK), 0,
                 "the openai npm package is missing: run bash scripts/install-deps.sh --test");
    const char *bin = getenv("RETOOL_BIN") ? getenv("RETOOL_BIN") : "build/retool";
    char queue[300], audit[300];
    snprintf(queue, sizeof queue, "%s/review.jsonl", dir);
    snprintf(audit, sizeof audit, "%s/audit.jsonl", dir);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(bin, bin, "serve", "--model", model_dir, "--port", "0", "--sandbox", "local", "--workers", "1",
              "--review-queue", queue, "--audit-log", audit, "--threads", "1", "--f32", "--max-tokens", "64",
              (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    FILE *out = fdopen(pfd[0], "r");
    char line[512] = "";
    cr_assert_not_null(fgets(line, sizeof line, out), "retool serve printed nothing (did it start?)");
    const char *at = strstr(line, "http://127.0.0.1:");
    cr_assert_not_null(at, "unexpected first line: %s", line);
    int port = atoi(at + strlen("http://127.0.0.1:"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "node tests/node/openai_client.mjs http://127.0.0.1:%d/v1 model 2>&1", port);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    int rc = pclose(p);
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    fclose(out);
    cr_assert_eq(rc, 0, "node failed: %s", buf);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "retool serve did not stop cleanly on SIGTERM");
    cJSON *o = cJSON_Parse(buf);
    cr_assert_not_null(o, "node printed: %s", buf);
    /* the served name is the model folder's */
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "models"), 0)->valuestring, "model");
    cJSON *plain = cJSON_GetObjectItem(o, "plain");
    cr_assert_str_eq(str(plain, "object"), "chat.completion");
    cr_assert_str_eq(str(plain, "role"), "assistant");
    const char *text = str(plain, "content");
    cr_assert(text && *text, "empty content");
    const char *fr = str(plain, "finish_reason");
    cr_assert(fr && (!strcmp(fr, "stop") || !strcmp(fr, "length")), "finish_reason %s", fr ? fr : "(none)");
    cJSON *x = cJSON_GetObjectItem(plain, "retool");
    cr_assert(cJSON_IsObject(x), "no retool extension");
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(x, "tool_calls")));
    /* A random model gives no boxed answer: flagged, with the reason. */
    if (cJSON_IsNull(cJSON_GetObjectItem(x, "answer"))) cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(x, "needs_review")));
    cJSON *usage = cJSON_GetObjectItem(plain, "usage");
    cr_assert_eq(num(usage, "total_tokens"), num(usage, "prompt_tokens") + num(usage, "completion_tokens"));
    cr_assert_leq(num(usage, "completion_tokens"), 24);
    cJSON *stream = cJSON_GetObjectItem(o, "stream");
    cr_assert_str_eq(str(stream, "content"), text, "the stream reassembled differs from the plain answer");
    cr_assert_str_eq(str(stream, "finish_reason"), fr);
    cr_assert_geq(num(stream, "chunks"), 3);
    cr_assert_eq(num(cJSON_GetObjectItem(stream, "usage"), "total_tokens"), num(usage, "total_tokens"));
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(stream, "retool")));
    cJSON *n3 = cJSON_GetObjectItem(o, "n3");
    cr_assert_eq(num(n3, "count"), 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(n3, "indices"), i)->valuedouble, i);
    cJSON *errs = cJSON_GetObjectItem(o, "errors");
    cJSON *u = cJSON_GetObjectItem(errs, "unknown");
    cr_assert_eq(num(u, "status"), 400);
    cr_assert_str_eq(str(u, "code"), "unknown_field");
    cr_assert_str_eq(str(u, "param"), "frequency_penalti");
    cr_assert_str_eq(str(u, "type"), "invalid_request_error");
    cr_assert_eq(num(cJSON_GetObjectItem(errs, "model"), "status"), 404);
    cr_assert_str_eq(str(cJSON_GetObjectItem(errs, "model"), "code"), "model_not_found");
    cr_assert_eq(num(cJSON_GetObjectItem(errs, "cap"), "status"), 400);
    cr_assert_str_eq(str(cJSON_GetObjectItem(errs, "cap"), "code"), "over_cap");
    cr_assert_eq(num(cJSON_GetObjectItem(errs, "big"), "status"), 413);
    cr_assert_eq(num(o, "after"), 1);
    cJSON_Delete(o);
    /* Flagged answers were queued, whole lines each. */
    snprintf(cmd, sizeof cmd, "%s review list --queue %s", bin, queue);
    p = popen(cmd, "r");
    n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    cr_assert_eq(pclose(p), 0, "%s", buf);
    cr_assert(strstr(buf, "chatcmpl-") && strstr(buf, "pending"), "%s", buf);
}
