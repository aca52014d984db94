#include "rollout/trajectory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

void rollout_trajectory_init(rollout_trajectory *t) { memset(t, 0, sizeof *t); }

void rollout_trajectory_free(rollout_trajectory *t) {
    free(t->id);
    free(t->prompt_ids);
    free(t->response_ids);
    free(t->logprobs);
    free(t->mask);
    free(t->values);
    for (size_t i = 0; i < t->n_calls; i++) {
        free(t->calls[i].code);
        free(t->calls[i].output);
    }
    free(t->calls);
    free(t->answer);
    free(t->truth);
    free(t->prompt_text);
    free(t->response_text);
    free(t->model_text);
    memset(t, 0, sizeof *t);
}

static rt_status response_reserve(rollout_trajectory *t, size_t need, rt_error *err) {
    if (need <= t->cap_response) return RT_OK;
    size_t cap = t->cap_response ? t->cap_response : 256;
    while (cap < need) cap *= 2;
    int32_t *ids = realloc(t->response_ids, cap * sizeof *ids);
    if (ids) t->response_ids = ids;
    float *lp = realloc(t->logprobs, cap * sizeof *lp);
    if (lp) t->logprobs = lp;
    uint8_t *m = realloc(t->mask, cap);
    if (m) t->mask = m;
    if (!ids || !lp || !m) return rt_err_set(err, RT_ENOMEM, "out of memory growing trajectory to %zu tokens", cap);
    if (t->values) {
        float *v = realloc(t->values, cap * sizeof *v);
        if (!v) return rt_err_set(err, RT_ENOMEM, "out of memory growing trajectory values");
        t->values = v;
    }
    t->cap_response = cap;
    return RT_OK;
}

rt_status rollout_trajectory_push(rollout_trajectory *t, int32_t id, float logprob, uint8_t mask, rt_error *err) {
    rt_status st = response_reserve(t, t->n_response + 1, err);
    if (st) return st;
    t->response_ids[t->n_response] = id;
    t->logprobs[t->n_response] = mask ? logprob : 0.0f;
    t->mask[t->n_response] = mask;
    if (t->values) t->values[t->n_response] = 0.0f;
    t->n_response++;
    return RT_OK;
}

rt_status rollout_trajectory_add_call(rollout_trajectory *t, const rollout_tool_call *call, rt_error *err) {
    if (t->n_calls == t->cap_calls) {
        size_t cap = t->cap_calls ? t->cap_calls * 2 : 4;
        rollout_tool_call *c = realloc(t->calls, cap * sizeof *c);
        if (!c) return rt_err_set(err, RT_ENOMEM, "out of memory recording a tool call");
        t->calls = c;
        t->cap_calls = cap;
    }
    t->calls[t->n_calls++] = *call;
    return RT_OK;
}

static const char *const flag_names[ROLLOUT_NFLAGS] = {
    "budget_tool_calls", "budget_response_tokens", "budget_interpreter_tokens", "budget_wall_clock", "tool_error",
    "format_error",      "no_answer",              "needs_review",              "context_length"};

const char *rollout_flag_name(uint32_t bit) {
    for (int i = 0; i < ROLLOUT_NFLAGS; i++)
        if (bit == (1u << i)) return flag_names[i];
    return NULL;
}

static const char *const stop_names[] = {"none", "eos", "stop_string", "budget", "error"};

const char *rollout_stop_name(rollout_stop stop) { return (unsigned)stop < 5 ? stop_names[stop] : "none"; }

static cJSON *int_array(const int32_t *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *float_array(const float *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

static void add_string_or_null(cJSON *o, const char *key, const char *s) {
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

cJSON *rollout_trajectory_to_json(const rollout_trajectory *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "version", ROLLOUT_TRAJECTORY_VERSION);
    add_string_or_null(o, "id", t->id);
    cJSON_AddNumberToObject(o, "prompt_index", (double)t->prompt_index);
    cJSON_AddNumberToObject(o, "sample_index", (double)t->sample_index);
    cJSON_AddItemToObject(o, "prompt_ids", int_array(t->prompt_ids, t->n_prompt));
    cJSON_AddItemToObject(o, "response_ids", int_array(t->response_ids, t->n_response));
    cJSON_AddItemToObject(o, "logprobs", float_array(t->logprobs, t->n_response));
    cJSON *mask = cJSON_CreateArray();
    for (size_t i = 0; i < t->n_response; i++) cJSON_AddItemToArray(mask, cJSON_CreateNumber(t->mask[i]));
    cJSON_AddItemToObject(o, "mask", mask);
    if (t->values) cJSON_AddItemToObject(o, "values", float_array(t->values, t->n_response));
    cJSON *calls = cJSON_CreateArray();
    for (size_t i = 0; i < t->n_calls; i++) {
        const rollout_tool_call *c = &t->calls[i];
        cJSON *jc = cJSON_CreateObject();
        cJSON_AddNumberToObject(jc, "response_index", (double)c->response_index);
        cJSON_AddNumberToObject(jc, "n_tokens", (double)c->n_tokens);
        add_string_or_null(jc, "code", c->code);
        add_string_or_null(jc, "output", c->output);
        cJSON_AddStringToObject(jc, "status", rollout_exec_status_name(c->status));
        cJSON_AddBoolToObject(jc, "refused", c->refused);
        cJSON_AddNumberToObject(jc, "latency_s", c->latency_s);
        cJSON_AddItemToArray(calls, jc);
    }
    cJSON_AddItemToObject(o, "tool_calls", calls);
    add_string_or_null(o, "answer", t->answer);
    add_string_or_null(o, "truth", t->truth);
    cJSON_AddNumberToObject(o, "reward", t->reward);
    cJSON *flags = cJSON_CreateArray();
    for (int i = 0; i < ROLLOUT_NFLAGS; i++)
        if (t->flags & (1u << i)) cJSON_AddItemToArray(flags, cJSON_CreateString(flag_names[i]));
    cJSON_AddItemToObject(o, "flags", flags);
    cJSON_AddStringToObject(o, "stop", rollout_stop_name(t->stop));
    cJSON_AddNumberToObject(o, "wall_s", t->wall_s);
    add_string_or_null(o, "prompt_text", t->prompt_text);
    add_string_or_null(o, "response_text", t->response_text);
    return o;
}

static rt_status read_ints(const cJSON *o, const char *key, int32_t **out, size_t *n, rt_error *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a)) return rt_err_set(err, RT_EFORMAT, "field '%s': expected an array of token ids", key);
    size_t len = (size_t)cJSON_GetArraySize(a);
    int32_t *v = malloc((len ? len : 1) * sizeof *v);
    if (!v) return rt_err_set(err, RT_ENOMEM, "out of memory reading '%s'", key);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        double d = e->valuedouble;
        if (!cJSON_IsNumber(e) || d != floor(d) || d < 0 || d > 2147483647.0) {
            free(v);
            return rt_err_set(err, RT_EFORMAT, "field '%s'[%zu]: expected a token id (integer >= 0)", key, i);
        }
        v[i++] = (int32_t)d;
    }
    *out = v;
    *n = len;
    return RT_OK;
}

static rt_status read_floats(const cJSON *o, const char *key, size_t want, float **out, rt_error *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a)) return rt_err_set(err, RT_EFORMAT, "field '%s': expected an array of numbers", key);
    if ((size_t)cJSON_GetArraySize(a) != want)
        return rt_err_set(err, RT_EFORMAT, "field '%s': %d values for %zu response tokens", key, cJSON_GetArraySize(a),
                          want);
    float *v = malloc((want ? want : 1) * sizeof *v);
    if (!v) return rt_err_set(err, RT_ENOMEM, "out of memory reading '%s'", key);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsNumber(e)) {
            free(v);
            return rt_err_set(err, RT_EFORMAT, "field '%s'[%zu]: expected a number", key, i);
        }
        v[i++] = (float)e->valuedouble;
    }
    *out = v;
    return RT_OK;
}

static rt_status dup_opt_string(const cJSON *o, const char *key, char **out, rt_error *err) {
    const char *s = NULL;
    rt_status st = rt_json_opt_string(o, key, &s, err);
    if (st) return st;
    *out = s ? strdup(s) : NULL;
    return RT_OK;
}

static rt_status read_calls(const cJSON *o, rollout_trajectory *t, rt_error *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "tool_calls");
    if (!cJSON_IsArray(a)) return rt_err_set(err, RT_EFORMAT, "field 'tool_calls': expected an array");
    size_t i = 0;
    const cJSON *jc;
    cJSON_ArrayForEach(jc, a) {
        rollout_tool_call c;
        memset(&c, 0, sizeof c);
        int64_t idx = 0, ntok = 0;
        const char *status = NULL;
        int refused = 0;
        rt_status st = rt_json_get_int(jc, "response_index", &idx, err);
        if (!st) st = rt_json_get_int(jc, "n_tokens", &ntok, err);
        if (!st) st = rt_json_get_string(jc, "status", &status, err);
        if (!st) st = rt_json_opt_bool(jc, "refused", &refused, err);
        if (!st) st = rt_json_opt_double(jc, "latency_s", &c.latency_s, err);
        if (!st && rollout_exec_status_parse(status, &c.status) != 0)
            st = rt_err_set(err, RT_EFORMAT, "field 'status': unknown status '%s'", status);
        if (!st && (idx < 0 || ntok < 0 || (size_t)(idx + ntok) > t->n_response))
            st = rt_err_set(err, RT_EFORMAT, "field 'response_index': call outside the response");
        if (!st) st = dup_opt_string(jc, "code", &c.code, err);
        if (!st) st = dup_opt_string(jc, "output", &c.output, err);
        c.response_index = (size_t)idx;
        c.n_tokens = (size_t)ntok;
        c.refused = refused;
        if (!st) st = rollout_trajectory_add_call(t, &c, err);
        if (st) {
            free(c.code);
            free(c.output);
            return rt_err_prefix(err, "tool_calls[%zu]", i);
        }
        i++;
    }
    return RT_OK;
}

rt_status rollout_trajectory_from_json(const cJSON *o, rollout_trajectory *t, rt_error *err) {
    rollout_trajectory_init(t);
    int64_t version = 0;
    rt_status st = rt_json_get_int(o, "version", &version, err);
    if (st) return st;
    if (version != ROLLOUT_TRAJECTORY_VERSION)
        return rt_err_set(err, RT_EUNSUPPORTED, "field 'version': trajectory format %lld, this retool reads %d",
                          (long long)version, ROLLOUT_TRAJECTORY_VERSION);
    st = dup_opt_string(o, "id", &t->id, err);
    if (!st) st = rt_json_opt_int(o, "prompt_index", &t->prompt_index, err);
    if (!st) st = rt_json_opt_int(o, "sample_index", &t->sample_index, err);
    if (!st) st = read_ints(o, "prompt_ids", &t->prompt_ids, &t->n_prompt, err);
    if (!st) st = read_ints(o, "response_ids", &t->response_ids, &t->n_response, err);
    t->cap_response = t->n_response;
    if (!st) st = read_floats(o, "logprobs", t->n_response, &t->logprobs, err);
    if (!st && cJSON_GetObjectItemCaseSensitive(o, "values"))
        st = read_floats(o, "values", t->n_response, &t->values, err);
    if (!st) {
        int32_t *m = NULL;
        size_t nm = 0;
        st = read_ints(o, "mask", &m, &nm, err);
        if (!st && nm != t->n_response)
            st = rt_err_set(err, RT_EFORMAT, "field 'mask': %zu values for %zu response tokens", nm, t->n_response);
        if (!st) {
            t->mask = malloc(nm ? nm : 1);
            if (!t->mask) st = rt_err_set(err, RT_ENOMEM, "out of memory");
            for (size_t i = 0; !st && i < nm; i++) {
                if (m[i] > 1) st = rt_err_set(err, RT_EFORMAT, "field 'mask'[%zu]: expected 0 or 1", i);
                else t->mask[i] = (uint8_t)m[i];
            }
        }
        free(m);
    }
    if (!st) st = read_calls(o, t, err);
    if (!st) st = dup_opt_string(o, "answer", &t->answer, err);
    if (!st) st = dup_opt_string(o, "truth", &t->truth, err);
    if (!st) st = rt_json_opt_double(o, "reward", &t->reward, err);
    if (!st) st = rt_json_opt_double(o, "wall_s", &t->wall_s, err);
    if (!st) st = dup_opt_string(o, "prompt_text", &t->prompt_text, err);
    if (!st) st = dup_opt_string(o, "response_text", &t->response_text, err);
    if (!st) {
        const cJSON *flags = cJSON_GetObjectItemCaseSensitive(o, "flags");
        const cJSON *f;
        if (flags && !cJSON_IsArray(flags)) st = rt_err_set(err, RT_EFORMAT, "field 'flags': expected an array");
        cJSON_ArrayForEach(f, flags) {
            int known = 0;
            for (int i = 0; i < ROLLOUT_NFLAGS && cJSON_IsString(f); i++) {
                if (strcmp(f->valuestring, flag_names[i]) == 0) {
                    t->flags |= 1u << i;
                    known = 1;
                }
            }
            if (!known && !st) st = rt_err_set(err, RT_EFORMAT, "field 'flags': unknown flag");
        }
    }
    if (!st) {
        const char *stop = "none";
        st = rt_json_opt_string(o, "stop", &stop, err);
        int found = 0;
        for (int i = 0; !st && i < 5; i++)
            if (strcmp(stop, stop_names[i]) == 0) {
                t->stop = (rollout_stop)i;
                found = 1;
            }
        if (!st && !found) st = rt_err_set(err, RT_EFORMAT, "field 'stop': unknown stop reason '%s'", stop);
    }
    if (st) rollout_trajectory_free(t);
    return st;
}

rt_status rollout_trajectory_write(FILE *fp, const rollout_trajectory *t, rt_error *err) {
    cJSON *o = rollout_trajectory_to_json(t);
    if (!o) return rt_err_set(err, RT_ENOMEM, "out of memory formatting trajectory");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory formatting trajectory");
    int bad = fputs(text, fp) == EOF || fputc('\n', fp) == EOF;
    cJSON_free(text);
    if (bad) return rt_err_set(err, RT_EIO, "cannot write trajectory %s", t->id ? t->id : "");
    return RT_OK;
}

rt_status rollout_trajectory_read_file(const char *path, rollout_trajectory **out, size_t *n, rt_error *err) {
    *out = NULL;
    *n = 0;
    rt_jsonl_reader r;
    rt_status st = rt_jsonl_open(&r, path, RT_JSONL_STOP, err);
    if (st) return st;
    rollout_trajectory *arr = NULL;
    size_t count = 0, cap = 0;
    for (;;) {
        cJSON *o;
        st = rt_jsonl_next(&r, &o, err);
        if (st || !o) break;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            rollout_trajectory *p = realloc(arr, cap * sizeof *p);
            if (!p) {
                cJSON_Delete(o);
                st = rt_err_set(err, RT_ENOMEM, "out of memory reading %s", path);
                break;
            }
            arr = p;
        }
        st = rollout_trajectory_from_json(o, &arr[count], err);
        cJSON_Delete(o);
        if (st) {
            rt_err_prefix(err, "%s:%zu", path, r.line_no);
            break;
        }
        count++;
    }
    rt_jsonl_close(&r);
    if (st) {
        rollout_trajectories_free(arr, count);
        return st;
    }
    *out = arr;
    *n = count;
    return RT_OK;
}

void rollout_trajectories_free(rollout_trajectory *t, size_t n) {
    for (size_t i = 0; i < n; i++) rollout_trajectory_free(&t[i]);
    free(t);
}
