#include "serve/response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "base/timer.h"

char *serve_error_body(const char *message, const char *type, const char *param, const char *code) {
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "type", type ? type : "invalid_request_error");
    if (param && *param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    if (code) cJSON_AddStringToObject(e, "code", code);
    else cJSON_AddNullToObject(e, "code");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

int serve_apply_stop(rollout_trajectory *t, const serve_request *req) {
    if (!t->response_text) return 0;
    char *cut = NULL;
    for (size_t i = 0; i < req->n_stop; i++) {
        char *p = strstr(t->response_text, req->stop[i]);
        if (p && (!cut || p < cut)) cut = p;
    }
    if (!cut) return 0;
    *cut = 0;
    /* The model's text ran past the cut: the answer is now read from the cut response (rollout_model_text). */
    free(t->model_text);
    t->model_text = NULL;
    return 1;
}

const char *serve_finish_reason(const rollout_trajectory *t, int cut_by_stop) {
    if (cut_by_stop) return "stop";
    switch (t->stop) {
    case ROLLOUT_STOP_BUDGET: return "length";
    case ROLLOUT_STOP_ERROR: return "error";
    default: return "stop";
    }
}

cJSON *serve_budget_json(const rollout_trajectory *t, const serve_request *req) {
    cJSON *b = cJSON_CreateObject();
    size_t run = 0, refused = 0;
    for (size_t i = 0; i < t->n_calls; i++) {
        if (t->calls[i].refused) refused++;
        else if (t->calls[i].code) run++;
    }
    cJSON_AddNumberToObject(b, "max_tool_calls", (double)req->max_tool_calls);
    cJSON_AddNumberToObject(b, "max_tool_seconds", req->max_tool_seconds);
    cJSON_AddNumberToObject(b, "max_tokens", (double)req->max_tokens);
    cJSON_AddNumberToObject(b, "tool_calls_run", (double)run);
    cJSON_AddNumberToObject(b, "tool_calls_refused", (double)refused);
    cJSON_AddNumberToObject(b, "tokens", (double)t->n_response);
    cJSON *hit = cJSON_AddArrayToObject(b, "hit");
    rt_strbuf msg = {0};
    char line[200];
    if (t->flags & ROLLOUT_FLAG_BUDGET_TOOL_CALLS) {
        cJSON_AddItemToArray(hit, cJSON_CreateString("tool_calls"));
        snprintf(line, sizeof line, "The tool-call budget of %lld was reached: %zu later call%s refused. ",
                 (long long)req->max_tool_calls, refused, refused == 1 ? " was" : "s were");
        rt_strbuf_puts(&msg, line);
    }
    if (t->flags & ROLLOUT_FLAG_BUDGET_RESPONSE) {
        cJSON_AddItemToArray(hit, cJSON_CreateString("tokens"));
        snprintf(line, sizeof line, "The token budget of %lld was reached: the answer is cut off. ",
                 (long long)req->max_tokens);
        rt_strbuf_puts(&msg, line);
    }
    if (t->flags & ROLLOUT_FLAG_BUDGET_INTERPRETER) {
        cJSON_AddItemToArray(hit, cJSON_CreateString("interpreter_tokens"));
        rt_strbuf_puts(&msg, "The interpreter-output budget was reached: the answer is cut off. ");
    }
    if (t->flags & ROLLOUT_FLAG_BUDGET_WALL) {
        cJSON_AddItemToArray(hit, cJSON_CreateString("time"));
        rt_strbuf_puts(&msg, "The server's time cap per answer was reached: the answer is cut off. ");
    }
    if (t->flags & ROLLOUT_FLAG_CONTEXT) {
        cJSON_AddItemToArray(hit, cJSON_CreateString("context"));
        rt_strbuf_puts(&msg, "The model's context length was reached: the answer is cut off. ");
    }
    for (size_t i = 0; i < t->n_calls; i++)
        if (!t->calls[i].refused && t->calls[i].status == ROLLOUT_EXEC_TIMEOUT) {
            cJSON_AddItemToArray(hit, cJSON_CreateString("tool_seconds"));
            snprintf(line, sizeof line, "A tool call ran past the limit of %g s and was stopped. ",
                     req->max_tool_seconds);
            rt_strbuf_puts(&msg, line);
            break;
        }
    char *m = rt_strbuf_take(&msg);
    if (m && *m) m[strlen(m) - 1] = 0;
    if (m && *m) cJSON_AddStringToObject(b, "message", m);
    else cJSON_AddNullToObject(b, "message");
    free(m);
    return b;
}

static cJSON *choice_json(size_t i, const rollout_trajectory *t, int cut, const serve_request *req,
                          const serve_review *rv) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", (double)i);
    cJSON *m = cJSON_AddObjectToObject(c, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", t->response_text ? t->response_text : "");
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddStringToObject(c, "finish_reason", serve_finish_reason(t, cut));
    cJSON *x = cJSON_AddObjectToObject(c, "retool");
    if (rv->answers[i]) cJSON_AddStringToObject(x, "answer", rv->answers[i]);
    else cJSON_AddNullToObject(x, "answer");
    cJSON *calls = cJSON_AddArrayToObject(x, "tool_calls");
    for (size_t k = 0; k < t->n_calls; k++) {
        const rollout_tool_call *tc = &t->calls[k];
        cJSON *o = cJSON_CreateObject();
        if (tc->code) cJSON_AddStringToObject(o, "code", tc->code);
        else cJSON_AddNullToObject(o, "code");
        cJSON_AddStringToObject(o, "output", tc->output ? tc->output : "");
        cJSON_AddStringToObject(o, "status", tc->refused ? "refused" : rollout_exec_status_name(tc->status));
        cJSON_AddNumberToObject(o, "latency_s", tc->latency_s);
        cJSON_AddItemToArray(calls, o);
    }
    cJSON_AddItemToObject(x, "budget", serve_budget_json(t, req));
    cJSON_AddStringToObject(x, "stop", rollout_stop_name(t->stop));
    cJSON_AddBoolToObject(x, "needs_review", rv->reasons[i] != 0);
    cJSON *rs = cJSON_AddArrayToObject(x, "review_reasons");
    for (uint32_t b = 0; b < SERVE_REVIEW_NREASONS; b++)
        if (rv->reasons[i] & (1u << b)) cJSON_AddItemToArray(rs, cJSON_CreateString(serve_review_reason_name(1u << b)));
    cJSON_AddNumberToObject(x, "wall_s", t->wall_s);
    return c;
}

cJSON *serve_completion_json(const char *id, int64_t created, const char *model, const serve_request *req,
                             const rollout_trajectory *t, const int *cut, const serve_review *rv,
                             const char *review_id) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)created);
    cJSON_AddStringToObject(o, "model", model);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    size_t completion = 0;
    for (size_t i = 0; i < rv->n; i++) {
        cJSON_AddItemToArray(choices, choice_json(i, &t[i], cut[i], req, rv));
        completion += t[i].n_response;
    }
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    size_t prompt = rv->n ? t[0].n_prompt : 0;
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt + completion));
    cJSON *x = cJSON_AddObjectToObject(o, "retool");
    if (rv->consensus) cJSON_AddStringToObject(x, "answer", rv->consensus);
    else cJSON_AddNullToObject(x, "answer");
    cJSON_AddNumberToObject(x, "agreement", rv->agreement);
    cJSON_AddBoolToObject(x, "needs_review", rv->any != 0);
    cJSON *rs = cJSON_AddArrayToObject(x, "review_reasons");
    for (uint32_t b = 0; b < SERVE_REVIEW_NREASONS; b++)
        if (rv->any & (1u << b)) cJSON_AddItemToArray(rs, cJSON_CreateString(serve_review_reason_name(1u << b)));
    if (review_id) cJSON_AddStringToObject(x, "review_id", review_id);
    else cJSON_AddNullToObject(x, "review_id");
    return o;
}

static void event(rt_strbuf *b, cJSON *chunk) {
    char *s = cJSON_PrintUnformatted(chunk);
    if (s) {
        rt_strbuf_puts(b, "data: ");
        rt_strbuf_puts(b, s);
        rt_strbuf_puts(b, "\n\n");
        cJSON_free(s);
    } else {
        b->oom = 1;
    }
    cJSON_Delete(chunk);
}

static cJSON *chunk_head(const cJSON *c) {
    cJSON *k = cJSON_CreateObject();
    cJSON_AddItemToObject(k, "id", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "id"), 1));
    cJSON_AddStringToObject(k, "object", "chat.completion.chunk");
    cJSON_AddItemToObject(k, "created", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "created"), 1));
    cJSON_AddItemToObject(k, "model", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "model"), 1));
    return k;
}

char *serve_completion_sse(const cJSON *c, int include_usage) {
    rt_strbuf b = {0};
    const cJSON *choice;
    cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(c, "choices")) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(choice, "index");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
        for (int part = 0; part < 3; part++) {
            cJSON *k = chunk_head(c);
            cJSON *arr = cJSON_AddArrayToObject(k, "choices");
            cJSON *ch = cJSON_CreateObject();
            cJSON_AddItemToObject(ch, "index", cJSON_Duplicate(idx, 1));
            cJSON *delta = cJSON_AddObjectToObject(ch, "delta");
            if (part == 0) {
                cJSON_AddStringToObject(delta, "role", "assistant");
                cJSON_AddStringToObject(delta, "content", "");
            } else if (part == 1) {
                cJSON_AddItemToObject(delta, "content",
                                      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "content"), 1));
            }
            cJSON_AddNullToObject(ch, "logprobs");
            if (part == 2) {
                cJSON_AddItemToObject(ch, "finish_reason",
                                      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"), 1));
                cJSON_AddItemToObject(ch, "retool", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(choice, "retool"),
                                                                    1));
            } else {
                cJSON_AddNullToObject(ch, "finish_reason");
            }
            cJSON_AddItemToArray(arr, ch);
            if (include_usage) cJSON_AddNullToObject(k, "usage");
            event(&b, k);
        }
    }
    cJSON *k = chunk_head(c);
    cJSON_AddArrayToObject(k, "choices");
    cJSON_AddItemToObject(k, "retool", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "retool"), 1));
    if (include_usage) cJSON_AddItemToObject(k, "usage", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "usage"), 1));
    event(&b, k);
    rt_strbuf_puts(&b, "data: [DONE]\n\n");
    return rt_strbuf_take(&b);
}

cJSON *serve_review_entry(const char *id, const serve_request *req, const cJSON *completion) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "entry");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "time", rt_time_wall());
    cJSON *r = cJSON_AddObjectToObject(o, "request");
    cJSON_AddStringToObject(r, "model", req->model);
    cJSON *msgs = cJSON_AddArrayToObject(r, "messages");
    for (size_t i = 0; i < req->n_msgs; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", req->msgs[i].role);
        cJSON_AddStringToObject(m, "content", req->msgs[i].content);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON_AddNumberToObject(r, "n", (double)req->n);
    cJSON_AddNumberToObject(r, "temperature", req->temperature);
    cJSON_AddNumberToObject(r, "top_p", req->top_p);
    if (req->has_seed) cJSON_AddNumberToObject(r, "seed", (double)(int64_t)req->seed);
    if (req->user) cJSON_AddStringToObject(r, "user", req->user);
    cJSON_AddItemToObject(o, "completion", cJSON_Duplicate(completion, 1));
    return o;
}
