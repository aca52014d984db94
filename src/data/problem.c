#include "data/problem.h"

#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

void data_problem_free(data_problem *p) {
    free(p->id);
    free(p->prompt);
    free(p->answer);
    free(p->family);
    free(p->program);
    free(p->text_solution);
    memset(p, 0, sizeof *p);
}

static int add_str(cJSON *o, const char *key, const char *v) {
    return !v || cJSON_AddStringToObject(o, key, v);
}

rt_status data_problem_to_json(const data_problem *p, cJSON **out, rt_error *err) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && add_str(o, "id", p->id) && add_str(o, "prompt", p->prompt) && add_str(o, "answer", p->answer) &&
             add_str(o, "family", p->family) && (p->level == 0 || cJSON_AddNumberToObject(o, "level", p->level)) &&
             add_str(o, "program", p->program) && add_str(o, "text_solution", p->text_solution);
    if (!ok) {
        cJSON_Delete(o);
        return rt_err_set(err, RT_ENOMEM, "building a problem's JSON: out of memory");
    }
    *out = o;
    return RT_OK;
}

rt_status data_problems_write_jsonl(const char *path, const data_problem *ps, size_t n, rt_error *err) {
    rt_atomic_file af;
    rt_status st = rt_atomic_open(&af, path, err);
    for (size_t i = 0; st == RT_OK && i < n; i++) {
        cJSON *o;
        st = data_problem_to_json(&ps[i], &o, err);
        if (st) break;
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line) {
            st = rt_err_set(err, RT_ENOMEM, "writing %s: out of memory", path);
            break;
        }
        st = rt_atomic_write(&af, line, strlen(line), err);
        if (st == RT_OK) st = rt_atomic_write(&af, "\n", 1, err);
        cJSON_free(line);
    }
    if (st == RT_OK) return rt_atomic_commit(&af, err);
    if (af.fp) rt_atomic_abort(&af);
    return st;
}
