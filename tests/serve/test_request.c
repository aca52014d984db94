/* Request parsing: OpenAI fields, budgets resolved against the caps, every bad input refused naming its field. */
#include <criterion/criterion.h>
#include <string.h>

#include "serve/request.h"

static serve_caps caps(void) {
    serve_caps c = serve_caps_defaults();
    c.max_tool_calls = 4;
    c.max_tool_seconds = 5;
    c.max_tokens = 100;
    c.max_n = 4;
    return c;
}

/* Parses body expecting a refusal; returns the error (code and param) and checks the message names the field. */
static serve_req_error refuse(const char *body, const char *param, const char *code) {
    serve_caps c = caps();
    serve_request r;
    serve_req_error re;
    rt_error err;
    rt_status st = serve_request_parse(body, strlen(body), &c, &r, &re, &err);
    cr_assert_eq(st, RT_EINVAL, "accepted: %s", body);
    cr_assert_eq(re.http, 400);
    cr_assert_str_eq(re.param, param, "%s: param %s", body, re.param);
    cr_assert_str_eq(re.code, code, "%s: code %s (%s)", body, re.code, err.msg);
    if (*param) cr_assert(strstr(err.msg, param) || strstr(err.msg, "JSON"), "message does not name %s: %s", param,
                          err.msg);
    cr_assert_null(r.msgs);
    return re;
}

Test(request, defaults_take_the_caps) {
    const char *b = "{\"model\": \"m\", \"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, "
                    "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"What is \"}, "
                    "{\"type\": \"text\", \"text\": \"6*7?\"}]}]}";
    serve_caps c = caps();
    serve_request r;
    serve_req_error re;
    rt_error err;
    cr_assert_eq(serve_request_parse(b, strlen(b), &c, &r, &re, &err), RT_OK, "%s", err.msg);
    cr_assert_str_eq(r.model, "m");
    cr_assert_eq(r.n_msgs, 2);
    cr_assert_str_eq(r.msgs[1].content, "What is 6*7?");
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.temperature, 1.0);
    cr_assert_eq(r.top_p, 1.0);
    cr_assert_eq(r.max_tokens, 100);
    cr_assert_eq(r.max_tool_calls, 4);
    cr_assert_eq(r.max_tool_seconds, 5.0);
    cr_assert_eq(r.has_seed, 0);
    cr_assert_eq(r.stream, 0);
    serve_request_free(&r);
}

Test(request, every_field_within_the_caps) {
    const char *b = "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}], \"temperature\": 0.5, "
                    "\"top_p\": 0.7, \"max_tokens\": 50, \"n\": 3, \"stop\": [\"END\", \"###\"], \"seed\": -7, "
                    "\"stream\": true, \"stream_options\": {\"include_usage\": true}, \"user\": \"u1\", "
                    "\"retool\": {\"max_tool_calls\": 2, \"max_tool_seconds\": 1.5}}";
    serve_caps c = caps();
    serve_request r;
    serve_req_error re;
    rt_error err;
    cr_assert_eq(serve_request_parse(b, strlen(b), &c, &r, &re, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(r.temperature, 0.5);
    cr_assert_float_eq(r.top_p, 0.7, 1e-12);
    cr_assert_eq(r.max_tokens, 50);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.n_stop, 2);
    cr_assert_str_eq(r.stop[1], "###");
    cr_assert_eq(r.has_seed, 1);
    cr_assert_eq((int64_t)r.seed, -7);
    cr_assert_eq(r.stream, 1);
    cr_assert_eq(r.include_usage, 1);
    cr_assert_str_eq(r.user, "u1");
    cr_assert_eq(r.max_tool_calls, 2);
    cr_assert_eq(r.max_tool_seconds, 1.5);
    serve_request_free(&r);
    /* max_completion_tokens is the newer name of max_tokens; a single stop string is fine too. */
    b = "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}], \"max_completion_tokens\": 9, "
        "\"stop\": \"X\"}";
    cr_assert_eq(serve_request_parse(b, strlen(b), &c, &r, &re, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(r.max_tokens, 9);
    cr_assert_eq(r.n_stop, 1);
    serve_request_free(&r);
}

#define MSG "\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]"

Test(request, malformed_json_names_the_byte) {
    serve_req_error re = refuse("{\"model\": \"m\", ", "", "invalid_json");
    (void)re;
    refuse("", "", "invalid_json");
    refuse("[1, 2]", "", "invalid_type");
    refuse("{\"model\": \"m\xff\"}", "", "invalid_json");
}

Test(request, unknown_and_unsupported_fields) {
    refuse("{\"model\": \"m\", " MSG ", \"temprature\": 1}", "temprature", "unknown_field");
    refuse("{\"model\": \"m\", " MSG ", \"tools\": []}", "tools", "unsupported_field");
    refuse("{\"model\": \"m\", " MSG ", \"retool\": {\"max_calls\": 1}}", "retool.max_calls", "unknown_field");
    refuse("{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"q\", \"extra\": 1}]}",
           "messages[0].extra", "unknown_field");
}

Test(request, bad_values) {
    refuse("{" MSG "}", "model", "missing_field");
    refuse("{\"model\": \"m\"}", "messages", "missing_field");
    refuse("{\"model\": \"m\", \"messages\": []}", "messages", "invalid_value");
    refuse("{\"model\": \"m\", \"messages\": [{\"role\": \"robot\", \"content\": \"q\"}]}", "messages[0]",
           "invalid_value");
    refuse("{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", "
           "\"content\": \"a\"}]}", "messages", "invalid_value");
    refuse("{\"model\": \"m\", " MSG ", \"temperature\": 3}", "temperature", "invalid_value");
    refuse("{\"model\": \"m\", " MSG ", \"temperature\": \"hot\"}", "temperature", "invalid_type");
    refuse("{\"model\": \"m\", " MSG ", \"n\": 1.5}", "n", "invalid_type");
    refuse("{\"model\": \"m\", " MSG ", \"n\": 0}", "n", "invalid_value");
    refuse("{\"model\": \"m\", " MSG ", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", "stop", "invalid_value");
    refuse("{\"model\": \"m\", " MSG ", \"stream\": 1}", "stream", "invalid_type");
    refuse("{\"model\": \"m\", " MSG ", \"stream_options\": {\"include_usage\": true}}", "stream_options",
           "invalid_value");
}

Test(request, over_the_caps_is_refused_not_cut) {
    refuse("{\"model\": \"m\", " MSG ", \"max_tokens\": 101}", "max_tokens", "over_cap");
    refuse("{\"model\": \"m\", " MSG ", \"n\": 5}", "n", "over_cap");
    refuse("{\"model\": \"m\", " MSG ", \"retool\": {\"max_tool_calls\": 5}}", "retool.max_tool_calls", "over_cap");
    refuse("{\"model\": \"m\", " MSG ", \"retool\": {\"max_tool_seconds\": 5.5}}", "retool.max_tool_seconds",
           "over_cap");
    /* Exactly at the cap is fine. */
    const char *b = "{\"model\": \"m\", " MSG ", \"max_tokens\": 100, \"n\": 4, \"retool\": {\"max_tool_calls\": 0}}";
    serve_caps c = caps();
    serve_request r;
    serve_req_error re;
    rt_error err;
    cr_assert_eq(serve_request_parse(b, strlen(b), &c, &r, &re, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(r.max_tool_calls, 0);
    serve_request_free(&r);
}
