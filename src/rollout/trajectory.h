/* A trajectory (docs/ARCHITECTURE.md): token ids end to end, with per-token behaviour log-probs and loss mask, the
 * tool calls, the final answer, reward and flags. Written as JSONL (ids and decoded text both) and read back exactly. */
#ifndef RETOOL_ROLLOUT_TRAJECTORY_H
#define RETOOL_ROLLOUT_TRAJECTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "rollout/shape.h"

#define ROLLOUT_TRAJECTORY_VERSION 1

/* Flags: why a trajectory ended early or needs a look. */
enum {
    ROLLOUT_FLAG_BUDGET_TOOL_CALLS = 1u << 0,   /* a call was refused: max tool calls reached */
    ROLLOUT_FLAG_BUDGET_RESPONSE = 1u << 1,     /* ended at max response tokens */
    ROLLOUT_FLAG_BUDGET_INTERPRETER = 1u << 2,  /* ended: interpreter tokens would pass their budget */
    ROLLOUT_FLAG_BUDGET_WALL = 1u << 3,         /* ended at the wall-clock cap */
    ROLLOUT_FLAG_TOOL_ERROR = 1u << 4,          /* some call failed (error, timeout, sandbox error, malformed) */
    ROLLOUT_FLAG_FORMAT_ERROR = 1u << 5,        /* a code block without a fence, or </code> without <code> */
    ROLLOUT_FLAG_NO_ANSWER = 1u << 6,           /* no final \boxed{} answer */
    ROLLOUT_FLAG_NEEDS_REVIEW = 1u << 7,        /* set by a review policy */
    ROLLOUT_FLAG_CONTEXT = 1u << 8,             /* ended: the model's context length was reached */
};
#define ROLLOUT_NFLAGS 9

/* Why generation stopped. */
typedef enum rollout_stop {
    ROLLOUT_STOP_NONE = 0,   /* still running */
    ROLLOUT_STOP_EOS,        /* a stop token id */
    ROLLOUT_STOP_STRING,     /* a stop string (default "</answer>") */
    ROLLOUT_STOP_BUDGET,     /* a budget ended it (see flags) */
    ROLLOUT_STOP_ERROR,      /* the policy failed on this sequence */
} rollout_stop;

typedef struct rollout_tool_call {
    size_t response_index;   /* index in response ids of the first interpreter token */
    size_t n_tokens;         /* interpreter tokens appended */
    char *code;              /* code that ran (NULL when none was extracted) */
    char *output;            /* what the model saw inside <interpreter> */
    rollout_exec_status status;
    int refused;             /* 1 when not run because of the tool-call budget */
    double latency_s;        /* submit to result */
} rollout_tool_call;

typedef struct rollout_trajectory {
    char *id;                /* e.g. "p12-s3" */
    int64_t prompt_index;
    int64_t sample_index;
    int32_t *prompt_ids;
    size_t n_prompt;
    int32_t *response_ids;
    float *logprobs;         /* behaviour log-prob per response token (0 where mask is 0) */
    uint8_t *mask;           /* 1 = written by the model, 0 = interpreter output or template */
    float *values;           /* PPO value per response token, or NULL */
    size_t n_response;
    size_t cap_response;
    rollout_tool_call *calls;
    size_t n_calls;
    size_t cap_calls;
    char *answer;            /* extracted final answer, or NULL */
    char *truth;             /* ground truth when known, or NULL */
    double reward;
    uint32_t flags;
    rollout_stop stop;
    double wall_s;           /* from start to end of this trajectory */
    char *prompt_text;       /* decoded, for reading (not used for training) */
    char *response_text;
    char *model_text;        /* the part of response_text the model wrote (its mask-1 tokens), set by the engine; not
                              * written to files (NULL when read back); NULL when unknown (rollout_model_text) */
} rollout_trajectory;

/* Zeroes t. */
void rollout_trajectory_init(rollout_trajectory *t);

/* Frees everything t owns and zeroes it. */
void rollout_trajectory_free(rollout_trajectory *t);

/* Appends one response token with its log-prob and mask. */
rt_status rollout_trajectory_push(rollout_trajectory *t, int32_t id, float logprob, uint8_t mask, rt_error *err);

/* Appends a tool call record (takes ownership of code and output). */
rt_status rollout_trajectory_add_call(rollout_trajectory *t, const rollout_tool_call *call, rt_error *err);

/* Name of one flag bit ("budget_tool_calls", ...), or NULL. */
const char *rollout_flag_name(uint32_t bit);

/* Name of a stop reason ("eos", "stop_string", "budget", "error", "none"). */
const char *rollout_stop_name(rollout_stop stop);

/* The trajectory as one JSON object (version, ids, logprobs, mask, values, calls, answer, reward, flags, texts). */
cJSON *rollout_trajectory_to_json(const rollout_trajectory *t);

/* Reads a trajectory from its JSON object; errors name the field. The float arrays come back bit-exact. */
rt_status rollout_trajectory_from_json(const cJSON *obj, rollout_trajectory *t, rt_error *err);

/* Reads every trajectory of a JSONL file into a malloc'd array (*out, *n); a bad line is an error naming file:line
 * and field. Free with rollout_trajectories_free. */
rt_status rollout_trajectory_read_file(const char *path, rollout_trajectory **out, size_t *n, rt_error *err);

/* Frees n trajectories and the array. */
void rollout_trajectories_free(rollout_trajectory *t, size_t n);

/* Writes the trajectory as one JSONL line to fp. */
rt_status rollout_trajectory_write(FILE *fp, const rollout_trajectory *t, rt_error *err);

#endif
