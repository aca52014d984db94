/* The review policy on hand-built trajectories, and the review queue file (append, decisions, bad lines). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/queue.h"
#include "serve/review.h"

/* A finished trajectory whose response is text, with calls given as a status string: 'o' ok, 'e' error, 't' timeout,
 * 'r' refused. */
static void make(rollout_trajectory *t, const char *text, const char *calls, rollout_stop stop, uint32_t flags) {
    rollout_trajectory_init(t);
    t->response_text = strdup(text);
    t->stop = stop;
    t->flags = flags;
    for (const char *c = calls; *c; c++) {
        rollout_tool_call call = {0};
        call.code = strdup("print(1)");
        call.output = strdup("1");
        call.status = *c == 'o' ? ROLLOUT_EXEC_OK : *c == 't' ? ROLLOUT_EXEC_TIMEOUT : ROLLOUT_EXEC_ERROR;
        call.refused = *c == 'r';
        rt_error e;
        cr_assert_eq(rollout_trajectory_add_call(t, &call, &e), RT_OK);
    }
}

Test(review, unrepaired_tool_failure) {
    rollout_trajectory t;
    const struct {
        const char *calls;
        int failed;
    } cases[] = {
        {"", 0}, {"o", 0}, {"e", 1}, {"t", 1}, {"eo", 0}, {"oe", 1}, {"eoe", 1}, {"eor", 0}, {"er", 1}, {"r", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        make(&t, "x", cases[i].calls, ROLLOUT_STOP_STRING, 0);
        cr_assert_eq(serve_tool_failed_unrepaired(&t), cases[i].failed, "calls %s", cases[i].calls);
        rollout_trajectory_free(&t);
    }
}

static serve_review judge(const serve_review_config *cfg, rollout_trajectory *t, size_t n) {
    serve_review rv;
    rt_error e;
    cr_assert_eq(serve_review_judge(cfg, t, n, &rv, &e), RT_OK, "%s", e.msg);
    return rv;
}

Test(review, clean_single_answer_is_not_flagged) {
    serve_review_config cfg = serve_review_defaults();
    rollout_trajectory t;
    make(&t, "so <answer>\n\\boxed{42}\n</answer>", "eo", ROLLOUT_STOP_STRING, ROLLOUT_FLAG_TOOL_ERROR);
    serve_review rv = judge(&cfg, &t, 1);
    cr_assert_eq(rv.any, 0u, "reasons %x", rv.any);
    cr_assert_str_eq(rv.answers[0], "42");
    cr_assert_str_eq(rv.consensus, "42");
    cr_assert_eq(rv.agreement, 1.0);
    serve_review_free(&rv);
    rollout_trajectory_free(&t);
}

Test(review, each_reason) {
    serve_review_config cfg = serve_review_defaults();
    rollout_trajectory t;
    make(&t, "no box here", "", ROLLOUT_STOP_EOS, 0);
    serve_review rv = judge(&cfg, &t, 1);
    cr_assert_eq(rv.any, (uint32_t)SERVE_REVIEW_NO_ANSWER);
    serve_review_free(&rv);
    rollout_trajectory_free(&t);
    make(&t, "\\boxed{1}", "oe", ROLLOUT_STOP_STRING, ROLLOUT_FLAG_TOOL_ERROR);
    rv = judge(&cfg, &t, 1);
    cr_assert_eq(rv.any, (uint32_t)SERVE_REVIEW_TOOL_FAILED);
    serve_review_free(&rv);
    rollout_trajectory_free(&t);
    /* A refused call is a budget, not a failure. */
    make(&t, "\\boxed{1}", "or", ROLLOUT_STOP_STRING, ROLLOUT_FLAG_BUDGET_TOOL_CALLS);
    rv = judge(&cfg, &t, 1);
    cr_assert_eq(rv.any, (uint32_t)SERVE_REVIEW_BUDGET);
    serve_review_free(&rv);
    rollout_trajectory_free(&t);
    make(&t, "cut", "", ROLLOUT_STOP_BUDGET, ROLLOUT_FLAG_BUDGET_RESPONSE);
    rv = judge(&cfg, &t, 1);
    cr_assert_eq(rv.any, (uint32_t)(SERVE_REVIEW_BUDGET | SERVE_REVIEW_NO_ANSWER));
    serve_review_free(&rv);
    rollout_trajectory_free(&t);
    make(&t, "\\boxed{3}", "", ROLLOUT_STOP_ERROR, 0);
    rv = judge(&cfg, &t, 1);
    cr_assert_eq(rv.any, (uint32_t)SERVE_REVIEW_ERROR);
    serve_review_free(&rv);
    rollout_trajectory_free(&t);
    /* Reasons switched off do not flag. */
    cfg.reasons &= ~(uint32_t)SERVE_REVIEW_NO_ANSWER;
    make(&t, "nothing", "", ROLLOUT_STOP_EOS, 0);
    rv = judge(&cfg, &t, 1);
    cr_assert_eq(rv.any, 0u);
    serve_review_free(&rv);
    rollout_trajectory_free(&t);
}

Test(review, self_consistency_threshold) {
    rollout_trajectory t[4];
    /* 1/2, 0.50 and \frac{1}{2} are the same answer; 3 is not: majority share 3/4. */
    make(&t[0], "\\boxed{1/2}", "", ROLLOUT_STOP_STRING, 0);
    make(&t[1], "\\boxed{3}", "", ROLLOUT_STOP_STRING, 0);
    make(&t[2], "\\boxed{0.50}", "", ROLLOUT_STOP_STRING, 0);
    make(&t[3], "\\boxed{\\frac{1}{2}}", "", ROLLOUT_STOP_STRING, 0);
    serve_review_config cfg = serve_review_defaults();
    serve_review rv = judge(&cfg, t, 4);
    cr_assert_float_eq(rv.agreement, 0.75, 1e-12);
    cr_assert_str_eq(rv.consensus, "1/2");
    cr_assert_eq(rv.any, (uint32_t)SERVE_REVIEW_DISAGREE);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rv.reasons[i], (uint32_t)SERVE_REVIEW_DISAGREE);
    serve_review_free(&rv);
    cfg.min_agreement = 0.75;
    rv = judge(&cfg, t, 4);
    cr_assert_eq(rv.any, 0u, "0.75 agreement meets a 0.75 threshold");
    serve_review_free(&rv);
    cfg.min_agreement = 0.76;
    rv = judge(&cfg, t, 4);
    cr_assert_eq(rv.any, (uint32_t)SERVE_REVIEW_DISAGREE);
    serve_review_free(&rv);
    /* A sample without an answer counts against agreement (2 of 4 answered alike: 0.5). */
    rollout_trajectory_free(&t[1]);
    make(&t[1], "none", "", ROLLOUT_STOP_EOS, 0);
    rollout_trajectory_free(&t[3]);
    make(&t[3], "none", "", ROLLOUT_STOP_EOS, 0);
    cfg.min_agreement = 0.5;
    rv = judge(&cfg, t, 4);
    cr_assert_float_eq(rv.agreement, 0.5, 1e-12);
    cr_assert_eq(rv.reasons[0], 0u);
    cr_assert_eq(rv.reasons[1], (uint32_t)SERVE_REVIEW_NO_ANSWER);
    serve_review_free(&rv);
    for (int i = 0; i < 4; i++)
        rollout_trajectory_free(&t[i]);
}

static char qdir[64], qpath[128];
static void qsetup(void) {
    snprintf(qdir, sizeof qdir, "/tmp/retool-rq-XXXXXX");
    cr_assert_not_null(mkdtemp(qdir));
    snprintf(qpath, sizeof qpath, "%s/q.jsonl", qdir);
}
static void qteardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", qdir);
    cr_assert_eq(system(cmd), 0);
}

static void add_entry(const char *id, const char *answer) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "entry");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "answer", answer);
    rt_error e;
    cr_assert_eq(serve_queue_append(qpath, o, &e), RT_OK, "%s", e.msg);
    cJSON_Delete(o);
}

Test(queue, decisions_keep_every_entry, .init = qsetup, .fini = qteardown) {
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_OK, "a missing file is an empty queue");
    cr_assert_eq(q.n, 0);
    add_entry("a", "1");
    add_entry("b", "2");
    add_entry("c", "3");
    cr_assert_eq(serve_queue_decide(qpath, "b", "approved", "checked by hand", "ann", &e), RT_OK, "%s", e.msg);
    cr_assert_eq(serve_queue_decide(qpath, "c", "rejected", NULL, NULL, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(serve_queue_decide(qpath, "c", "approved", "second look", "bob", &e), RT_OK, "%s", e.msg);
    cr_assert_eq(serve_queue_decide(qpath, "zz", "approved", NULL, NULL, &e), RT_ENOTFOUND);
    cr_assert(strstr(e.msg, "zz"));
    cr_assert_eq(serve_queue_decide(qpath, "a", "maybe", NULL, NULL, &e), RT_EINVAL);
    cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(q.n, 3);
    cr_assert_str_eq(serve_queue_find(&q, "a")->status, "pending");
    cr_assert_str_eq(serve_queue_find(&q, "b")->status, "approved");
    const serve_queue_item *c = serve_queue_find(&q, "c");
    cr_assert_str_eq(c->status, "approved", "the later decision wins");
    cr_assert_eq(cJSON_GetArraySize(c->decisions), 2, "both decisions are kept");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(c->decisions, 1), "note")->valuestring, "second look");
    cr_assert_str_eq(cJSON_GetObjectItem(serve_queue_find(&q, "b")->entry, "answer")->valuestring, "2");
    serve_queue_free(&q);
    /* The file is whole lines: 3 entries + 3 decisions. */
    FILE *fp = fopen(qpath, "r");
    int lines = 0, ch, last = 0;
    while ((ch = fgetc(fp)) != EOF) {
        lines += ch == '\n';
        last = ch;
    }
    fclose(fp);
    cr_assert_eq(lines, 6);
    cr_assert_eq(last, '\n');
}

/* decide reads only up to the entry it looks for: it finds exactly the ids the loader finds (ids that are
 * prefixes of others, ids written with escapes, ids that only a decision or another field names, lines longer than its
 * read block), and records the decision the loader then reports. */
Test(queue, decide_finds_what_the_loader_finds, .init = qsetup, .fini = qteardown) {
    FILE *fp = fopen(qpath, "w");
    char *big = malloc(3u << 20);
    memset(big, 'x', (3u << 20) - 1);
    big[(3u << 20) - 1] = 0;
    for (int i = 0; i < 400; i++) {
        fprintf(fp, "{\"kind\": \"entry\", \"id\": \"r-%d\", \"answer\": \"%s\"}\n", i * 10,
                i == 7 ? big : "id r-5 and r-3 are only here");
        if (i % 4 == 3) fprintf(fp, "\n{\"kind\":\"decision\",\"id\":\"r-%d\",\"decision\":\"approved\"}\n", i * 10);
    }
    fprintf(fp, "{\"answer\": \"1\", \"id\": \"\\u0071\\\"uote\\u00e9\", \"kind\": \"entry\"}\n");
    fprintf(fp, "{\"\\u006bind\": \"entry\", \"\\u0069d\": \"esc\"}\n"); /* keys written with escapes */
    fprintf(fp, "{\"kind\": \"entry\", \"id\": \"last\"}\n");
    fclose(fp);
    free(big);
    static const char *const ids[] = {"r-0",   "r-10", "r-1", "r-3990", "r-39900", "r-5", "r-3", "q\"uote\xc3\xa9",
                                      "quote", "last", "las", "r-70",   "r-80", "esc"};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        serve_queue q;
        rt_error e;
        cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_OK, "%s", e.msg);
        const serve_queue_item *it = serve_queue_find(&q, ids[k]);
        int present = it != NULL;
        size_t before = present ? (size_t)cJSON_GetArraySize(it->decisions) : 0;
        serve_queue_free(&q);
        rt_status st = serve_queue_decide(qpath, ids[k], "rejected", "looked", "ann", &e);
        cr_assert_eq(st, present ? RT_OK : RT_ENOTFOUND, "%s: %s", ids[k], st ? e.msg : "found");
        cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_OK, "%s", e.msg);
        it = serve_queue_find(&q, ids[k]);
        if (present) {
            cr_assert_str_eq(it->status, "rejected");
            cr_assert_eq((size_t)cJSON_GetArraySize(it->decisions), before + 1);
            cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(it->decisions, (int)before), "note")->valuestring,
                             "looked");
        }
        serve_queue_free(&q);
    }
    /* A malformed line before the entry is named. */
    fp = fopen(qpath, "w");
    fprintf(fp, "{\"kind\": \"entry\", \"id\": \"a\"}\nnot json\n{\"kind\": \"entry\", \"id\": \"b\"}\n");
    fclose(fp);
    rt_error e;
    cr_assert_eq(serve_queue_decide(qpath, "b", "approved", NULL, NULL, &e), RT_EFORMAT);
    cr_assert(strstr(e.msg, qpath) && strstr(e.msg, ":2:"), "%s", e.msg);
}

Test(queue, bad_lines_are_named, .init = qsetup, .fini = qteardown) {
    add_entry("a", "1");
    FILE *fp = fopen(qpath, "a");
    fprintf(fp, "{\"kind\": \"decision\", \"id\": \"nope\", \"decision\": \"approved\"}\n");
    fclose(fp);
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_EFORMAT);
    cr_assert(strstr(e.msg, ":2:") && strstr(e.msg, "nope"), "%s", e.msg);
    fp = fopen(qpath, "w");
    fprintf(fp, "{\"kind\": \"entry\", \"id\": \"a\"}\n{\"kind\": \"entry\", \"id\": \"a\"}\n");
    fclose(fp);
    cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_EFORMAT);
    cr_assert(strstr(e.msg, ":2:") && strstr(e.msg, "twice"), "%s", e.msg);
    fp = fopen(qpath, "w");
    fprintf(fp, "{\"kind\": \"entry\", \"id\": \"a\"}\n{\"kind\": \"entry\", \"id\n");
    fclose(fp);
    cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_EFORMAT);
    cr_assert(strstr(e.msg, ":2"), "%s", e.msg);
}

/* A crash mid-append leaves a torn last line without its newline: the next append starts a line of its own, so the
 * torn line is the one the loader names and the new line is whole (not glued onto the torn one). */
Test(queue, an_append_after_a_torn_line_stays_whole, .init = qsetup, .fini = qteardown) {
    add_entry("a", "1");
    FILE *fp = fopen(qpath, "a");
    fprintf(fp, "{\"kind\": \"entry\", \"id\": \"b\", \"ans");
    fclose(fp);
    add_entry("c", "3");
    fp = fopen(qpath, "r");
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        n++;
        cr_assert_eq(line[strlen(line) - 1], '\n', "line %d has no newline", n);
        if (n == 3) {
            cJSON *o = cJSON_Parse(line);
            cr_assert_not_null(o, "the appended line was glued to the torn one: %s", line);
            cr_assert_str_eq(cJSON_GetObjectItem(o, "id")->valuestring, "c");
            cJSON_Delete(o);
        }
    }
    fclose(fp);
    cr_assert_eq(n, 3);
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(qpath, &q, &e), RT_EFORMAT);
    cr_assert(strstr(e.msg, ":2"), "the torn line is named: %s", e.msg);
}

/* The answer is what the model wrote: an answer block printed by a program (inside <interpreter>) is no answer, read
 * from the token mask (model_text) when the engine set it, else from the text less its interpreter blocks. */
Test(review, an_answer_printed_by_a_program_is_not_the_models) {
    serve_review_config cfg = serve_review_defaults();
    const char *text = "<code>\n```python\nprint(s)\n```\n</code>\n<interpreter>\n<answer>\n\\boxed{42}\n</answer>\n"
                       "</interpreter>\n\nI am not sure.";
    rollout_trajectory t[2];
    make(&t[0], text, "", ROLLOUT_STOP_EOS, 0);
    make(&t[1], text, "", ROLLOUT_STOP_EOS, 0);
    t[1].model_text = strdup("<code>\n```python\nprint(s)\n```\n</code>I am not sure.");
    serve_review rv = judge(&cfg, t, 2);
    for (int i = 0; i < 2; i++) {
        cr_expect_null(rv.answers[i], "sample %d", i);
        cr_expect(rv.reasons[i] & SERVE_REVIEW_NO_ANSWER, "sample %d", i);
    }
    cr_expect_null(rv.consensus);
    serve_review_free(&rv);
    rollout_trajectory_free(&t[0]);
    rollout_trajectory_free(&t[1]);
}
