/* What the server writes: completion objects and their SSE form, budget messages, stop strings, metrics text, the
 * audit log's rotation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/audit.h"
#include "serve/metrics.h"
#include "serve/response.h"

static void traj(rollout_trajectory *t, const char *text, rollout_stop stop, uint32_t flags) {
    rollout_trajectory_init(t);
    t->response_text = strdup(text);
    t->stop = stop;
    t->flags = flags;
    t->n_prompt = 10;
    t->n_response = 20;
}

static serve_request req(void) {
    serve_request r;
    memset(&r, 0, sizeof r);
    r.model = "m";
    r.n = 1;
    r.max_tokens = 20;
    r.max_tool_calls = 1;
    r.max_tool_seconds = 2;
    return r;
}

Test(output, finish_reasons) {
    rollout_trajectory t;
    traj(&t, "x", ROLLOUT_STOP_STRING, 0);
    cr_assert_str_eq(serve_finish_reason(&t, 0), "stop");
    t.stop = ROLLOUT_STOP_EOS;
    cr_assert_str_eq(serve_finish_reason(&t, 0), "stop");
    t.stop = ROLLOUT_STOP_BUDGET;
    cr_assert_str_eq(serve_finish_reason(&t, 0), "length");
    cr_assert_str_eq(serve_finish_reason(&t, 1), "stop");
    t.stop = ROLLOUT_STOP_ERROR;
    cr_assert_str_eq(serve_finish_reason(&t, 0), "error");
    rollout_trajectory_free(&t);
}

Test(output, stop_strings_cut_at_the_earliest) {
    rollout_trajectory t;
    traj(&t, "abc END def ### ghi", ROLLOUT_STOP_EOS, 0);
    serve_request r = req();
    char *stops[] = {"###", "END"};
    r.stop = stops;
    r.n_stop = 2;
    cr_assert_eq(serve_apply_stop(&t, &r), 1);
    cr_assert_str_eq(t.response_text, "abc ");
    r.n_stop = 0;
    cr_assert_eq(serve_apply_stop(&t, &r), 0);
    rollout_trajectory_free(&t);
}

Test(output, budget_says_what_was_hit) {
    rollout_trajectory t;
    traj(&t, "x", ROLLOUT_STOP_BUDGET, ROLLOUT_FLAG_BUDGET_TOOL_CALLS | ROLLOUT_FLAG_BUDGET_RESPONSE);
    rollout_tool_call ok = {.code = strdup("print(1)"), .output = strdup("1")};
    rollout_tool_call no = {.code = strdup("print(2)"), .output = strdup("refused"), .refused = 1};
    rt_error e;
    rollout_trajectory_add_call(&t, &ok, &e);
    rollout_trajectory_add_call(&t, &no, &e);
    serve_request r = req();
    cJSON *b = serve_budget_json(&t, &r);
    cr_assert_eq(cJSON_GetObjectItem(b, "tool_calls_run")->valuedouble, 1);
    cr_assert_eq(cJSON_GetObjectItem(b, "tool_calls_refused")->valuedouble, 1);
    cJSON *hit = cJSON_GetObjectItem(b, "hit");
    cr_assert_eq(cJSON_GetArraySize(hit), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(hit, 0)->valuestring, "tool_calls");
    cr_assert_str_eq(cJSON_GetArrayItem(hit, 1)->valuestring, "tokens");
    const char *msg = cJSON_GetObjectItem(b, "message")->valuestring;
    cr_assert(strstr(msg, "tool-call budget of 1 was reached: 1 later call was refused"), "%s", msg);
    cr_assert(strstr(msg, "token budget of 20 was reached"), "%s", msg);
    cJSON_Delete(b);
    rollout_trajectory_free(&t);
    traj(&t, "x", ROLLOUT_STOP_STRING, 0);
    b = serve_budget_json(&t, &r);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "hit")), 0);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(b, "message")));
    cJSON_Delete(b);
    rollout_trajectory_free(&t);
}

Test(output, completion_and_its_stream_carry_the_same_answer) {
    rollout_trajectory t[2];
    traj(&t[0], "a <answer>\\boxed{5}</answer>", ROLLOUT_STOP_STRING, 0);
    traj(&t[1], "b \"quoted\"\n<answer>\\boxed{6}</answer>", ROLLOUT_STOP_STRING, 0);
    serve_request r = req();
    r.n = 2;
    serve_review rv;
    rt_error e;
    serve_review_config cfg = serve_review_defaults();
    cr_assert_eq(serve_review_judge(&cfg, t, 2, &rv, &e), RT_OK);
    int cut[2] = {0, 0};
    cJSON *o = serve_completion_json("chatcmpl-1", 123, "m", &r, t, cut, &rv, "chatcmpl-1");
    cJSON *choices = cJSON_GetObjectItem(o, "choices");
    cr_assert_eq(cJSON_GetArraySize(choices), 2);
    cJSON *x1 = cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 1), "retool");
    cr_assert_str_eq(cJSON_GetObjectItem(x1, "answer")->valuestring, "6");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(x1, "needs_review")));
    cJSON *usage = cJSON_GetObjectItem(o, "usage");
    cr_assert_eq(cJSON_GetObjectItem(usage, "prompt_tokens")->valuedouble, 10);
    cr_assert_eq(cJSON_GetObjectItem(usage, "completion_tokens")->valuedouble, 40);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "retool"), "review_id")->valuestring, "chatcmpl-1");
    /* Reassemble the stream like a client: per choice, concatenate delta.content; the final chunk has usage. */
    char *sse = serve_completion_sse(o, 1);
    char content[2][200] = {"", ""};
    char finish[2][20] = {"", ""};
    int done = 0, usage_seen = 0;
    for (char *line = strtok(sse, "\n"); line; line = strtok(NULL, "\n")) {
        cr_assert(!strncmp(line, "data: ", 6), "not an SSE data line: %s", line);
        if (!strcmp(line + 6, "[DONE]")) {
            done = 1;
            continue;
        }
        cr_assert_eq(done, 0, "data after [DONE]");
        cJSON *k = cJSON_Parse(line + 6);
        cr_assert_not_null(k, "bad chunk %s", line);
        cr_assert_str_eq(cJSON_GetObjectItem(k, "object")->valuestring, "chat.completion.chunk");
        cr_assert_str_eq(cJSON_GetObjectItem(k, "id")->valuestring, "chatcmpl-1");
        cJSON *u = cJSON_GetObjectItem(k, "usage");
        if (cJSON_IsObject(u)) usage_seen = (int)cJSON_GetObjectItem(u, "total_tokens")->valuedouble;
        cJSON *ch;
        cJSON_ArrayForEach(ch, cJSON_GetObjectItem(k, "choices")) {
            int i = (int)cJSON_GetObjectItem(ch, "index")->valuedouble;
            cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "delta"), "content");
            if (cJSON_IsString(c)) strcat(content[i], c->valuestring);
            cJSON *f = cJSON_GetObjectItem(ch, "finish_reason");
            if (cJSON_IsString(f)) snprintf(finish[i], sizeof finish[i], "%s", f->valuestring);
        }
        cJSON_Delete(k);
    }
    cr_assert_eq(done, 1);
    cr_assert_eq(usage_seen, 50);
    cr_assert_str_eq(content[0], t[0].response_text);
    cr_assert_str_eq(content[1], t[1].response_text);
    cr_assert_str_eq(finish[0], "stop");
    cr_assert_str_eq(finish[1], "stop");
    free(sse);
    cJSON_Delete(o);
    serve_review_free(&rv);
    rollout_trajectory_free(&t[0]);
    rollout_trajectory_free(&t[1]);
}

Test(output, error_body_is_openai_shaped) {
    char *s = serve_error_body("bad \"thing\"", "invalid_request_error", "", NULL);
    cJSON *o = cJSON_Parse(s);
    cJSON *e = cJSON_GetObjectItem(o, "error");
    cr_assert_str_eq(cJSON_GetObjectItem(e, "message")->valuestring, "bad \"thing\"");
    cr_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "param")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(e, "code")));
    cJSON_Delete(o);
    free(s);
}

Test(output, metrics_text) {
    serve_metrics m;
    serve_metrics_init(&m);
    serve_metrics_request(&m, 200, 0.02);
    serve_metrics_request(&m, 200, 3.0);
    serve_metrics_request(&m, 429, 0.001);
    serve_metrics_add(&m, &m.tool_calls, 5);
    serve_metrics_gauge(&m, &m.queue_depth, 3);
    serve_metrics_gauge(&m, &m.queue_depth, -1);
    char *s = serve_metrics_text(&m);
    cr_assert(strstr(s, "retool_requests_total{code=\"200\"} 2\n"), "%s", s);
    cr_assert(strstr(s, "retool_requests_total{code=\"429\"} 1\n"));
    cr_assert(strstr(s, "retool_tool_calls_total 5\n"));
    cr_assert(strstr(s, "retool_queue_depth 2\n"));
    /* Cumulative buckets: 0.001 and 0.02 are <= 0.025; all three <= 5 and +Inf. */
    cr_assert(strstr(s, "retool_request_duration_seconds_bucket{le=\"0.01\"} 1\n"), "%s", s);
    cr_assert(strstr(s, "retool_request_duration_seconds_bucket{le=\"0.025\"} 2\n"));
    cr_assert(strstr(s, "retool_request_duration_seconds_bucket{le=\"2.5\"} 2\n"));
    cr_assert(strstr(s, "retool_request_duration_seconds_bucket{le=\"5\"} 3\n"));
    cr_assert(strstr(s, "retool_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
    cr_assert(strstr(s, "retool_request_duration_seconds_count 3\n"));
    cr_assert(strstr(s, "retool_request_duration_seconds_sum 3.021000\n"));
    /* Every non-comment line is "name[{labels}] value". */
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *sp = strrchr(line, ' ');
        cr_assert_not_null(sp, "%s", line);
        char *end;
        strtod(sp + 1, &end);
        cr_assert_eq(*end, 0, "value of %s", line);
    }
    free(s);
    serve_metrics_destroy(&m);
}

Test(output, audit_log_rotates_by_size) {
    char dir[64], path[128], p[160];
    snprintf(dir, sizeof dir, "/tmp/retool-audit-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    serve_audit a;
    rt_error e;
    cr_assert_eq(serve_audit_open(&a, path, 200, 2, &e), RT_OK, "%s", e.msg);
    /* Four "batches" of 3 lines (about 114 bytes): rotation after the 2nd (228 >= 200) and the 4th; keep 2: .1, .2. */
    for (int b = 0; b < 4; b++) {
        for (int i = 0; i < 3; i++) fprintf(a.fp, "{\"batch\": %d, \"line\": %d, \"pad\": \"x\"}\n", b, i);
        cr_assert_eq(serve_audit_maybe_rotate(&a, &e), RT_OK, "%s", e.msg);
    }
    cr_assert_eq(serve_audit_close(&a, &e), RT_OK, "%s", e.msg);
    struct { const char *suffix; int first_batch; long size; } want[] = {{"", -1, 0}, {".1", 2, 0}, {".2", 0, 0}};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s%s", path, want[k].suffix);
        FILE *fp = fopen(p, "r");
        cr_assert_not_null(fp, "%s missing", p);
        int batch = -1, lines = 0;
        char buf[200];
        while (fgets(buf, sizeof buf, fp)) {
            if (lines++ == 0) sscanf(buf, "{\"batch\": %d", &batch);
        }
        fclose(fp);
        cr_assert_eq(batch, want[k].first_batch, "%s starts with batch %d", p, batch);
        cr_assert_eq(lines, k == 0 ? 0 : 6, "%s has %d lines", p, lines);
    }
    snprintf(p, sizeof p, "%s.3", path);
    cr_assert_eq(access(p, F_OK), -1, "only 2 rotated files are kept");
    snprintf(p, sizeof p, "rm -rf %s", dir);
    cr_assert_eq(system(p), 0);
}

/* Streaming: whatever the pieces, the text taken along the way is a prefix of the final content (the raw text
 * repaired by rollout_utf8_sanitize and cut at the earliest stop string, as the plain answer is), and at the end it
 * is all of it up to the cut. Random byte soups with UTF-8 characters split across pieces, invalid bytes and stops. */
#include "base/rng.h"
#include "serve/stream.h"

Test(output, stream_takes_are_prefixes_of_the_final_text) {
    static const char *const atoms[] = {"a", "b", "END", "EN", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3",
                                        "\x82", "\xff", "\xe2\x82", " ", "\n"};
    rt_rng rng;
    rt_rng_seed(&rng, 7);
    char *stops[] = {"END", "\xe2\x82\xac!"};
    for (int trial = 0; trial < 400; trial++) {
        serve_request r = req();
        r.stop = stops;
        r.n_stop = trial % 3 == 0 ? 0 : trial % 3 == 1 ? 1 : 2;
        char raw[512] = "";
        size_t rl = 0;
        serve_stream st;
        rt_error e;
        cr_assert_eq(serve_stream_init(&st, 1, &e), RT_OK);
        char taken[2048] = "";
        size_t tl = 0;
        int pieces = 1 + (int)rt_rng_below(&rng, 40);
        for (int p = 0; p <= pieces; p++) {
            if (p < pieces) {
                /* A piece: 1..3 atoms, sometimes split mid-character. */
                char piece[32] = "";
                int na = 1 + (int)rt_rng_below(&rng, 3);
                for (int a = 0; a < na; a++) strcat(piece, atoms[rt_rng_below(&rng, sizeof atoms / sizeof *atoms)]);
                size_t pl = strlen(piece);
                memcpy(raw + rl, piece, pl);
                rl += pl;
                raw[rl] = 0;
                serve_stream_push(&st, 0, piece, pl);
            } else {
                serve_stream_finish(&st);
            }
            pthread_mutex_lock(&st.mu);
            char *t;
            size_t len;
            cr_assert_eq(serve_stream_take_locked(&st, 0, &r, &t, &len, &e), RT_OK);
            pthread_mutex_unlock(&st.mu);
            if (t) {
                memcpy(taken + tl, t, len);
                tl += len;
                taken[tl] = 0;
                free(t);
            }
            rollout_trajectory tr;
            traj(&tr, "", ROLLOUT_STOP_EOS, 0);
            free(tr.response_text);
            tr.response_text = rollout_utf8_sanitize(raw);
            serve_apply_stop(&tr, &r);
            cr_assert(strncmp(tr.response_text, taken, tl) == 0 && strlen(tr.response_text) >= tl,
                      "trial %d piece %d: taken is not a prefix of the final text", trial, p);
            /* Once done, nothing is held back: the taken text is the final text. */
            if (p == pieces) cr_assert_str_eq(taken, tr.response_text, "trial %d", trial);
            rollout_trajectory_free(&tr);
        }
        serve_stream_destroy(&st);
    }
}
