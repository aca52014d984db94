/* Building the answers: OpenAI's chat.completion object (or its chat.completion.chunk stream as server-sent events)
 * from a request's trajectories and review, with the "retool" extension per choice (final answer, tool trace, budget,
 * review flags), and OpenAI-style error bodies. */
#ifndef RETOOL_SERVE_RESPONSE_H
#define RETOOL_SERVE_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rollout/trajectory.h"
#include "serve/request.h"
#include "serve/review.h"

/* {"error": {"message", "type", "param" (null when empty), "code" (null when NULL)}} as malloc'd text. */
char *serve_error_body(const char *message, const char *type, const char *param, const char *code);

/* Cuts t's response_text at the earliest of the request's stop strings; returns 1 when it cut. */
int serve_apply_stop(rollout_trajectory *t, const serve_request *req);

/* OpenAI's finish_reason for a trajectory: "stop", "length" (token, interpreter, context or time budget), "error". */
const char *serve_finish_reason(const rollout_trajectory *t, int cut_by_stop);

/* The "budget" object of a choice: the limits, calls run and refused, and the budgets hit with a plain message. */
cJSON *serve_budget_json(const rollout_trajectory *t, const serve_request *req);

/* The whole response. id: "chatcmpl-..."; review_id: the review queue id when flagged, else NULL. cut[i]: choice i was
 * cut by a stop string. */
cJSON *serve_completion_json(const char *id, int64_t created, const char *model, const serve_request *req,
                             const rollout_trajectory *t, const int *cut, const serve_review *rv,
                             const char *review_id);

/* The same answer as a server-sent event stream: role chunk, content chunk and final chunk per choice, a usage chunk
 * when include_usage, then "data: [DONE]". malloc'd text. */
char *serve_completion_sse(const cJSON *completion, int include_usage);

/* The review queue entry for a flagged request: id, time, request (messages, settings), and the full completion
 * (every choice's text and tool trace). */
cJSON *serve_review_entry(const char *id, const serve_request *req, const cJSON *completion);

#endif
