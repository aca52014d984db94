/* The dashboard's review answers: a page of the queue, newest first, filtered; one entry as its whole trace. */
#ifndef RETOOL_SERVE_DASH_REVIEW_H
#define RETOOL_SERVE_DASH_REVIEW_H

#include <cjson/cJSON.h>

#include "base/error.h"
#include "serve/dash_queue.h"

typedef struct dash_review_filter {
    int status;        /* DASH_PENDING.., or -1 */
    unsigned reasons;  /* entries with any of these serve/review.h bits; 0: any */
    long long request; /* the N of chatcmpl-BOOT-N, or -1 */
    const char *tag;   /* the request's "user", or NULL */
} dash_review_filter;

/* {"total", "offset", "items": [{id, time, status, reasons, answer, question, tag, request, samples, tool_calls,
 * wall_s}]} for matches [offset, offset + limit), newest first. */
rt_status dash_review_list(const dash_queue *q, const dash_review_filter *f, size_t offset, size_t limit, cJSON **out,
                           rt_error *err);

/* {"id", "status", "decisions", "entry"} for entry i. */
rt_status dash_review_trace(const dash_queue *q, size_t i, cJSON **out, rt_error *err);

#endif
