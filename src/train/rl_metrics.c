#include "train/rl_metrics.h"

#include <stdlib.h>
#include <string.h>

#include "rollout/protocol.h"

static size_t code_lines(const char *code) {
    size_t lines = 0;
    const char *p = code;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        for (size_t i = 0; i < len; i++)
            if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
                lines++;
                break;
            }
        p = nl ? nl + 1 : NULL;
    }
    return lines;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void rl_metrics_add(cJSON *o, const rollout_trajectory *t, size_t n) {
    double reward = 0, correct = 0, length = 0, with_code = 0, lines = 0, calls = 0, errors = 0, ok_calls = 0,
           timing = 0, self_corr = 0, no_answer = 0, budget = 0;
    size_t timing_n = 0, lat_n = 0, lat_cap = 0;
    double *lat = NULL;
    for (size_t i = 0; i < n; i++) {
        const rollout_trajectory *x = &t[i];
        reward += x->reward;
        correct += x->reward > 0;
        length += (double)x->n_response;
        with_code += x->n_calls > 0;
        no_answer += (x->flags & ROLLOUT_FLAG_NO_ANSWER) != 0;
        budget += (x->flags & (ROLLOUT_FLAG_BUDGET_RESPONSE | ROLLOUT_FLAG_BUDGET_INTERPRETER |
                               ROLLOUT_FLAG_BUDGET_TOOL_CALLS | ROLLOUT_FLAG_BUDGET_WALL)) != 0;
        int failed_before = 0, corrected = 0;
        for (size_t k = 0; k < x->n_calls; k++) {
            const rollout_tool_call *c = &x->calls[k];
            calls++;
            lines += (double)code_lines(c->code);
            if (c->status == ROLLOUT_EXEC_OK && !c->refused) {
                ok_calls++;
                if (failed_before) corrected = 1;
            } else {
                errors++;
                failed_before = 1;
            }
            if (!c->refused) {
                if (lat_n == lat_cap) {
                    lat_cap = lat_cap ? lat_cap * 2 : 64;
                    double *p = realloc(lat, lat_cap * sizeof *p);
                    if (!p) continue;
                    lat = p;
                }
                lat[lat_n++] = c->latency_s;
            }
        }
        self_corr += corrected;
        if (x->n_calls > 0 && x->response_text) {
            const char *open = strstr(x->response_text, ROLLOUT_CODE_OPEN);
            size_t len = strlen(x->response_text);
            if (open && len) {
                timing += (double)(open - x->response_text) / (double)len;
                timing_n++;
            }
        }
    }
    double dn = n ? (double)n : 1.0;
    cJSON_AddNumberToObject(o, "trajectories", (double)n);
    cJSON_AddNumberToObject(o, "reward", reward / dn);
    cJSON_AddNumberToObject(o, "accuracy", correct / dn);
    cJSON_AddNumberToObject(o, "response_length", length / dn);
    cJSON_AddNumberToObject(o, "code_ratio", with_code / dn);
    cJSON_AddNumberToObject(o, "code_lines", lines / dn);
    cJSON_AddNumberToObject(o, "tool_calls", calls / dn);
    cJSON_AddNumberToObject(o, "tool_errors", errors / dn);
    cJSON_AddNumberToObject(o, "code_pass_rate", calls > 0 ? ok_calls / calls : 0.0);
    cJSON_AddNumberToObject(o, "invocation_timing", timing_n ? timing / (double)timing_n : 0.0);
    cJSON_AddNumberToObject(o, "self_corrections", self_corr / dn);
    cJSON_AddNumberToObject(o, "no_answer", no_answer / dn);
    cJSON_AddNumberToObject(o, "budget_hit", budget / dn);
    if (lat_n > 0) {
        qsort(lat, lat_n, sizeof *lat, cmp_double);
        cJSON_AddNumberToObject(o, "sandbox_p50_s", lat[(lat_n - 1) / 2]);
        cJSON_AddNumberToObject(o, "sandbox_p99_s", lat[(size_t)((double)(lat_n - 1) * 0.99)]);
    }
    free(lat);
}
