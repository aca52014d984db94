#include "serve/request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json.h"

serve_caps serve_caps_defaults(void) {
    serve_caps c = {.max_tool_calls = 8, .max_tool_seconds = 10, .max_tokens = 1024, .max_n = 8, .max_messages = 64};
    return c;
}

void serve_request_free(serve_request *r) {
    free(r->model);
    for (size_t i = 0; i < r->n_msgs; i++) {
        free(r->msgs[i].role);
        free(r->msgs[i].content);
    }
    free(r->msgs);
    for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->stop);
    free(r->user);
    memset(r, 0, sizeof *r);
}

static rt_status fail(serve_req_error *re, rt_error *err, const char *param, const char *code, const char *fmt,
                      const char *a, double x) {
    re->http = 400;
    re->type = "invalid_request_error";
    snprintf(re->param, sizeof re->param, "%s", param ? param : "");
    re->code = code;
    char msg[600];
    snprintf(msg, sizeof msg, fmt, a ? a : "", x);
    return rt_err_set(err, RT_EINVAL, "%s", msg);
}

/* OpenAI fields this server knows but does not implement: named as such instead of "unknown". */
static const char *const unsupported[] = {"tools", "tool_choice", "functions", "function_call", "logprobs",
                                          "top_logprobs", "logit_bias", "frequency_penalty", "presence_penalty",
                                          "response_format", "parallel_tool_calls", "audio", "modalities",
                                          "prediction", "store", "metadata", "reasoning_effort", "service_tier"};

static int is_unsupported(const char *k) {
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
        if (!strcmp(k, unsupported[i])) return 1;
    return 0;
}

static int in_list(const char *k, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, list[i])) return 1;
    return 0;
}

/* A number field: *out set when present and not null; min/max inclusive; integral when asked. */
static rt_status number(const cJSON *o, const char *key, const char *param, double min, double max, int integral,
                        double *out, int *present, serve_req_error *re, rt_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *present = 0;
    if (!v || cJSON_IsNull(v)) return RT_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(re, err, param, "invalid_type", "%s must be a number", param, 0);
    double x = v->valuedouble;
    if (integral && x != floor(x)) return fail(re, err, param, "invalid_type", "%s must be an integer", param, 0);
    if (x < min) return fail(re, err, param, "invalid_value", "%s must be at least %g", param, min);
    if (x > max) return fail(re, err, param, "invalid_value", "%s must be at most %g", param, max);
    *out = x;
    *present = 1;
    return RT_OK;
}

static char *dupstr(const char *s) { return strdup(s ? s : ""); }

/* Message content: a string, or an array of {"type": "text", "text": ...} parts joined. */
static rt_status content_text(const cJSON *c, const char *param, char **out, serve_req_error *re, rt_error *err) {
    if (cJSON_IsString(c)) {
        *out = dupstr(c->valuestring);
        return *out ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    if (!cJSON_IsArray(c))
        return fail(re, err, param, "invalid_type", "%s must be a string or an array of text parts", param, 0);
    size_t total = 1;
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text))
            return fail(re, err, param, "invalid_value",
                        "%s: only text parts ({\"type\": \"text\", \"text\": ...}) are supported", param, 0);
        total += strlen(text->valuestring);
    }
    char *s = malloc(total);
    if (!s) return rt_err_set(err, RT_ENOMEM, "out of memory");
    s[0] = 0;
    cJSON_ArrayForEach(p, c) strcat(s, cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring);
    *out = s;
    return RT_OK;
}

static rt_status parse_messages(const cJSON *m, const serve_caps *caps, serve_request *r, serve_req_error *re,
                                rt_error *err) {
    if (!m) return fail(re, err, "messages", "missing_field", "messages is required", NULL, 0);
    if (!cJSON_IsArray(m)) return fail(re, err, "messages", "invalid_type", "messages must be an array", NULL, 0);
    size_t n = (size_t)cJSON_GetArraySize(m);
    if (n == 0) return fail(re, err, "messages", "invalid_value", "messages must not be empty", NULL, 0);
    if (n > caps->max_messages)
        return fail(re, err, "messages", "over_cap", "messages: more than this server's cap of %s%g messages", "",
                    (double)caps->max_messages);
    r->msgs = calloc(n, sizeof *r->msgs);
    if (!r->msgs) return rt_err_set(err, RT_ENOMEM, "out of memory");
    static const char *const fields[] = {"role", "content", "name"};
    size_t i = 0;
    const cJSON *msg;
    cJSON_ArrayForEach(msg, m) {
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!cJSON_IsObject(msg)) return fail(re, err, param, "invalid_type", "%s must be an object", param, 0);
        for (const cJSON *f = msg->child; f; f = f->next)
            if (!in_list(f->string, fields, 3)) {
                char p2[128];
                snprintf(p2, sizeof p2, "%s.%.40s", param, f->string);
                return fail(re, err, p2, "unknown_field", "unknown field %s (a message has role and content)", p2, 0);
            }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        if (!cJSON_IsString(role) || (strcmp(role->valuestring, "system") && strcmp(role->valuestring, "user") &&
                                      strcmp(role->valuestring, "assistant") && strcmp(role->valuestring, "developer")))
            return fail(re, err, param, "invalid_value", "%s.role must be system, developer, user or assistant",
                        param, 0);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        char p2[96];
        snprintf(p2, sizeof p2, "%s.content", param);
        if (!content) return fail(re, err, p2, "missing_field", "%s is required", p2, 0);
        r->msgs[i].role = dupstr(!strcmp(role->valuestring, "developer") ? "system" : role->valuestring);
        r->n_msgs = i + 1;
        if (!r->msgs[i].role) return rt_err_set(err, RT_ENOMEM, "out of memory");
        rt_status st = content_text(content, p2, &r->msgs[i].content, re, err);
        if (st) return st;
        i++;
    }
    if (strcmp(r->msgs[n - 1].role, "user"))
        return fail(re, err, "messages", "invalid_value",
                    "messages: the last message must come from the user (the server answers it)", NULL, 0);
    return RT_OK;
}

static rt_status parse_stop(const cJSON *s, serve_request *r, serve_req_error *re, rt_error *err) {
    if (!s || cJSON_IsNull(s)) return RT_OK;
    size_t n = cJSON_IsString(s) ? 1 : cJSON_IsArray(s) ? (size_t)cJSON_GetArraySize(s) : 0;
    if (!cJSON_IsString(s) && !cJSON_IsArray(s))
        return fail(re, err, "stop", "invalid_type", "stop must be a string or an array of up to 4 strings", NULL, 0);
    if (n > 4) return fail(re, err, "stop", "invalid_value", "stop holds at most 4 strings", NULL, 0);
    r->stop = calloc(n ? n : 1, sizeof *r->stop);
    if (!r->stop) return rt_err_set(err, RT_ENOMEM, "out of memory");
    const cJSON *one = s;
    for (size_t i = 0; i < n; i++) {
        if (cJSON_IsArray(s)) one = cJSON_GetArrayItem(s, (int)i);
        if (!cJSON_IsString(one) || !one->valuestring[0])
            return fail(re, err, "stop", "invalid_value", "stop strings must be non-empty strings", NULL, 0);
        r->stop[i] = dupstr(one->valuestring);
        r->n_stop = i + 1;
        if (!r->stop[i]) return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    return RT_OK;
}

static rt_status parse_ext(const cJSON *x, const serve_caps *caps, serve_request *r, serve_req_error *re,
                           rt_error *err) {
    r->max_tool_calls = caps->max_tool_calls;
    r->max_tool_seconds = caps->max_tool_seconds;
    if (!x || cJSON_IsNull(x)) return RT_OK;
    if (!cJSON_IsObject(x)) return fail(re, err, "retool", "invalid_type", "retool must be an object", NULL, 0);
    static const char *const fields[] = {"max_tool_calls", "max_tool_seconds"};
    for (const cJSON *f = x->child; f; f = f->next)
        if (!in_list(f->string, fields, 2)) {
            char p[64];
            snprintf(p, sizeof p, "retool.%.40s", f->string);
            return fail(re, err, p, "unknown_field", "unknown field %s (retool takes max_tool_calls, max_tool_seconds)",
                        p, 0);
        }
    double v;
    int has;
    rt_status st = number(x, "max_tool_calls", "retool.max_tool_calls", 0, 1e9, 1, &v, &has, re, err);
    if (st) return st;
    if (has && v > (double)caps->max_tool_calls)
        return fail(re, err, "retool.max_tool_calls", "over_cap",
                    "retool.max_tool_calls is over this server's cap of %s%g", "", (double)caps->max_tool_calls);
    if (has) r->max_tool_calls = (int64_t)v;
    st = number(x, "max_tool_seconds", "retool.max_tool_seconds", 0.001, 1e9, 0, &v, &has, re, err);
    if (st) return st;
    if (has && v > caps->max_tool_seconds)
        return fail(re, err, "retool.max_tool_seconds", "over_cap",
                    "retool.max_tool_seconds is over this server's cap of %s%g s", "", caps->max_tool_seconds);
    if (has) r->max_tool_seconds = v;
    return RT_OK;
}

static rt_status parse_obj(const cJSON *o, const serve_caps *caps, serve_request *r, serve_req_error *re,
                           rt_error *err) {
    if (!cJSON_IsObject(o)) return fail(re, err, NULL, "invalid_type", "the body must be a JSON object", NULL, 0);
    static const char *const fields[] = {"model", "messages", "temperature", "top_p", "max_tokens",
                                         "max_completion_tokens", "n", "stop", "seed", "stream", "stream_options",
                                         "user", "retool"};
    for (const cJSON *f = o->child; f; f = f->next) {
        if (in_list(f->string, fields, sizeof fields / sizeof *fields)) continue;
        if (is_unsupported(f->string))
            return fail(re, err, f->string, "unsupported_field", "%s is not supported by this server", f->string, 0);
        return fail(re, err, f->string, "unknown_field",
                    "unknown field %s (known: model, messages, temperature, top_p, max_tokens, n, stop, seed, stream, "
                    "stream_options, user, retool)", f->string, 0);
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
    if (!model) return fail(re, err, "model", "missing_field", "model is required", NULL, 0);
    if (!cJSON_IsString(model)) return fail(re, err, "model", "invalid_type", "model must be a string", NULL, 0);
    r->model = dupstr(model->valuestring);
    if (!r->model) return rt_err_set(err, RT_ENOMEM, "out of memory");
    rt_status st = parse_messages(cJSON_GetObjectItemCaseSensitive(o, "messages"), caps, r, re, err);
    double v;
    int has;
    r->temperature = 1;
    if (!st) st = number(o, "temperature", "temperature", 0, 2, 0, &v, &has, re, err);
    if (!st && has) r->temperature = v;
    r->top_p = 1;
    if (!st) st = number(o, "top_p", "top_p", 0, 1, 0, &v, &has, re, err);
    if (!st && has) r->top_p = v;
    r->n = 1;
    if (!st) st = number(o, "n", "n", 1, 1e9, 1, &v, &has, re, err);
    if (!st && has && v > (double)caps->max_n)
        return fail(re, err, "n", "over_cap", "n is over this server's cap of %s%g samples", "", (double)caps->max_n);
    if (!st && has) r->n = (int64_t)v;
    r->max_tokens = caps->max_tokens;
    const char *mt[] = {"max_tokens", "max_completion_tokens"};
    for (int k = 0; k < 2 && !st; k++) {
        st = number(o, mt[k], mt[k], 1, 1e12, 1, &v, &has, re, err);
        if (!st && has && v > (double)caps->max_tokens)
            return fail(re, err, mt[k], "over_cap", "%s is over this server's cap of %g tokens", mt[k],
                        (double)caps->max_tokens);
        if (!st && has) r->max_tokens = (int64_t)v;
    }
    if (!st) st = number(o, "seed", "seed", -9.2e18, 9.2e18, 1, &v, &has, re, err);
    if (!st && has) {
        r->has_seed = 1;
        r->seed = (uint64_t)(int64_t)v;
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(o, "stream");
    if (!st && stream && !cJSON_IsNull(stream)) {
        if (!cJSON_IsBool(stream)) return fail(re, err, "stream", "invalid_type", "stream must be a boolean", NULL, 0);
        r->stream = cJSON_IsTrue(stream);
    }
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "stream_options");
    if (!st && so && !cJSON_IsNull(so)) {
        const cJSON *iu = cJSON_GetObjectItemCaseSensitive(so, "include_usage");
        if (!cJSON_IsObject(so) || (so->child && (!cJSON_IsBool(iu) || cJSON_GetArraySize(so) != 1)))
            return fail(re, err, "stream_options", "invalid_value",
                        "stream_options takes one boolean field, include_usage", NULL, 0);
        if (!r->stream)
            return fail(re, err, "stream_options", "invalid_value", "stream_options needs stream: true", NULL, 0);
        r->include_usage = cJSON_IsTrue(iu);
    }
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(o, "user");
    if (!st && user && !cJSON_IsNull(user)) {
        if (!cJSON_IsString(user)) return fail(re, err, "user", "invalid_type", "user must be a string", NULL, 0);
        r->user = dupstr(user->valuestring);
    }
    if (!st) st = parse_stop(cJSON_GetObjectItemCaseSensitive(o, "stop"), r, re, err);
    if (!st) st = parse_ext(cJSON_GetObjectItemCaseSensitive(o, "retool"), caps, r, re, err);
    return st;
}

rt_status serve_request_parse(const char *body, size_t len, const serve_caps *caps, serve_request *out,
                              serve_req_error *rerr, rt_error *err) {
    memset(out, 0, sizeof *out);
    memset(rerr, 0, sizeof *rerr);
    if (!body || len == 0) return fail(rerr, err, NULL, "invalid_json", "the request body is empty", NULL, 0);
    if (!rt_utf8_valid(body, len, NULL)) return fail(rerr, err, NULL, "invalid_json", "the body is not valid UTF-8", NULL, 0);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!o) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        return fail(rerr, err, NULL, "invalid_json", "malformed JSON at byte %s%g", "", (double)at);
    }
    rt_status st = parse_obj(o, caps, out, rerr, err);
    cJSON_Delete(o);
    if (st) serve_request_free(out);
    return st;
}
