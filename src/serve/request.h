/* Parsing and validating a POST /v1/chat/completions body (OpenAI's chat completions request plus an optional "retool"
 * extension object): every field is checked by name, unknown fields are refused, budgets are resolved against the
 * server's caps (a field left out takes the cap; a value over the cap is refused, never cut silently). */
#ifndef RETOOL_SERVE_REQUEST_H
#define RETOOL_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* The server's caps: the most a request may ask for. */
typedef struct serve_caps {
    int64_t max_tool_calls;     /* tool calls run per sample (default 8) */
    double max_tool_seconds;    /* wall-clock limit of one tool call (default 10) */
    int64_t max_tokens;         /* response tokens per sample, model + interpreter (default 1024) */
    int64_t max_n;              /* samples per request (default 8) */
    size_t max_messages;        /* messages per request (default 64) */
} serve_caps;

/* The default caps. */
serve_caps serve_caps_defaults(void);

typedef struct serve_message {
    char *role;                 /* "system", "user" or "assistant" */
    char *content;
} serve_message;

typedef struct serve_request {
    char *model;
    serve_message *msgs;
    size_t n_msgs;
    double temperature;         /* default 1 */
    double top_p;               /* default 1 */
    int64_t max_tokens;         /* resolved against the caps */
    int64_t n;                  /* default 1 */
    char **stop;                /* up to 4 stop strings */
    size_t n_stop;
    int has_seed;
    uint64_t seed;
    int stream;
    int include_usage;          /* stream_options.include_usage */
    int64_t max_tool_calls;     /* resolved against the caps */
    double max_tool_seconds;    /* resolved against the caps */
    char *user;                 /* the caller's end-user id, recorded in the review queue */
} serve_request;

/* Why a request was refused, in OpenAI's error terms. */
typedef struct serve_req_error {
    int http;                   /* 400, 404 */
    const char *type;           /* "invalid_request_error" */
    char param[128];            /* the offending field ("" when none) */
    const char *code;           /* "invalid_json", "unknown_field", "invalid_value", "over_cap", ... */
} serve_req_error;

/* Parses body[0, len) into out (zeroed first; free with serve_request_free). On failure returns RT_EINVAL with the
 * message in err and the details in *rerr; out is left empty. */
rt_status serve_request_parse(const char *body, size_t len, const serve_caps *caps, serve_request *out,
                              serve_req_error *rerr, rt_error *err);

/* Frees what a request owns and zeroes it. */
void serve_request_free(serve_request *r);

#endif
