/* One problem: what every dataset reader and synthetic generator produces, and what data gen writes as JSONL:
 * {"id", "prompt", "answer", "family", "level", "program", "text_solution"} (optional fields omitted when unset). */
#ifndef RETOOL_DATA_PROBLEM_H
#define RETOOL_DATA_PROBLEM_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "base/error.h"

typedef struct data_problem {
    char *id;            /* stable id ("mul-1f2e...": synthetic; the dataset's own id; or NULL) */
    char *prompt;        /* the problem statement shown to the model */
    char *answer;        /* the reference answer, as text */
    char *family;        /* synthetic family, or the dataset's subject/type; may be NULL */
    int level;           /* 1-3 for synthetic problems, the dataset's level, or 0 when unknown */
    char *program;       /* reference Python program printing the answer (synthetic only) */
    char *text_solution; /* worked solution in text (synthetic; MATH and GSM8K solutions) */
} data_problem;

/* Frees the strings of p and zeroes it. */
void data_problem_free(data_problem *p);

/* The JSON object of p (caller frees with cJSON_Delete). */
rt_status data_problem_to_json(const data_problem *p, cJSON **out, rt_error *err);

/* Writes problems to path as JSONL, atomically. */
rt_status data_problems_write_jsonl(const char *path, const data_problem *ps, size_t n, rt_error *err);

#endif
