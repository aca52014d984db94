/* The dashboard's cost and health figures: tool calls per answer, tool latency p50/p99, time per answer, budget
 * hits, review rate and refusals, in total, over time (equal time buckets) and per tag (the request's "user"). */
#ifndef RETOOL_SERVE_DASH_STATS_H
#define RETOOL_SERVE_DASH_STATS_H

#include <cjson/cJSON.h>

#include "base/error.h"
#include "serve/dash_audit.h"
#include "serve/dash_queue.h"
#include "serve/metrics.h"

/* {"totals", "series": [per bucket], "tags": [per tag], "live": the server's counters or null}. Answers with tool
 * calls are counted from the audit log (one per trajectory p<N>-s<K>), flagged answers from the queue; live (NULL
 * standalone) adds the server's own counts of every answer. */
rt_status dash_stats_json(const dash_queue *q, const dash_audit *a, serve_metrics *live, int buckets, cJSON **out,
                          rt_error *err);

#endif
