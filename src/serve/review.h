/* The review policy: which answers a person should look at before anyone relies on them. A sample is flagged when
 * the request's samples disagree (self-consistency of the extracted answers below a threshold), when a tool call
 * failed and no later call succeeded, when a budget ended or limited it, when it gave no final answer, or when
 * generation failed. */
#ifndef RETOOL_SERVE_REVIEW_H
#define RETOOL_SERVE_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "rollout/trajectory.h"

/* Reasons, as bits. */
enum {
    SERVE_REVIEW_DISAGREE = 1u << 0,     /* some sample answered, and the answers agree less than the threshold */
    SERVE_REVIEW_TOOL_FAILED = 1u << 1,  /* a tool call failed and no later call succeeded */
    SERVE_REVIEW_BUDGET = 1u << 2,       /* a budget (tool calls, tokens, interpreter tokens, wall, context) was hit */
    SERVE_REVIEW_NO_ANSWER = 1u << 3,    /* no final \boxed{} answer */
    SERVE_REVIEW_ERROR = 1u << 4,        /* generation failed */
};
#define SERVE_REVIEW_NREASONS 5

typedef struct serve_review_config {
    double min_agreement;   /* flag when the majority answer's share of the samples is below this (default 1) */
    uint32_t reasons;       /* which reasons flag at all (default: every one) */
} serve_review_config;

/* The defaults: every reason flags, and any disagreement between samples flags. */
serve_review_config serve_review_defaults(void);

/* Name of one reason bit ("samples_disagree", "tool_failed", "budget_hit", "no_answer", "generation_error"). */
const char *serve_review_reason_name(uint32_t bit);

/* The verdict over the n samples of one request. */
typedef struct serve_review {
    char **answers;         /* [n] extracted answer of each sample, or NULL */
    uint32_t *reasons;      /* [n] reasons per sample (the disagreement bit is set on every sample) */
    char *consensus;        /* the majority answer (ties: the earliest sample's), or NULL when no sample answered */
    double agreement;       /* the majority answer's share of all n samples (0 when none answered) */
    uint32_t any;           /* union of all reasons (masked by the config): non-zero = needs review */
    size_t n;
} serve_review;

/* 1 when the trajectory's last failed tool call (error, timeout, sandbox error, bad format; refused calls aside) has
 * no successful call after it. */
int serve_tool_failed_unrepaired(const rollout_trajectory *t);

/* Judges n trajectories of one request (answers are extracted from each response_text). */
rt_status serve_review_judge(const serve_review_config *cfg, const rollout_trajectory *t, size_t n, serve_review *out,
                             rt_error *err);

/* Frees what a review owns. */
void serve_review_free(serve_review *r);

#endif
