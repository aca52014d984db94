#include "pipeline/runlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

/* One line as read: its step and (key index, value) pairs. */
typedef struct row {
    int64_t step;
    size_t line;
    size_t n;
    size_t *keys;
    double *vals;
} row;

static void rows_free(row *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(rows[i].keys);
        free(rows[i].vals);
    }
    free(rows);
}

static int by_step(const void *a, const void *b) {
    const row *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Index of key in log->keys, adding it when new; -1 on out of memory. */
static long key_index(pipe_runlog *log, size_t *cap, const char *key) {
    long k = pipe_runlog_key(log, key);
    if (k >= 0) return k;
    if (log->n_keys == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nk = realloc(log->keys, nc * sizeof *nk);
        if (!nk) return -1;
        log->keys = nk;
        *cap = nc;
    }
    log->keys[log->n_keys] = strdup(key);
    if (!log->keys[log->n_keys]) return -1;
    return (long)log->n_keys++;
}

/* Parses one line's object into r. */
static rt_status read_row(pipe_runlog *log, size_t *key_cap, const cJSON *obj, row *r, rt_error *err) {
    if (!cJSON_IsObject(obj)) return rt_err_set(err, RT_EFORMAT, "expected a JSON object");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(obj, "step");
    if (!js) return rt_err_set(err, RT_EFORMAT, "field 'step': missing");
    if (!cJSON_IsNumber(js) || js->valuedouble != floor(js->valuedouble) || js->valuedouble < 0 ||
        js->valuedouble > 9e15)
        return rt_err_set(err, RT_EFORMAT, "field 'step': expected an integer >= 0");
    r->step = (int64_t)js->valuedouble;
    size_t n = (size_t)cJSON_GetArraySize(obj);
    r->keys = malloc((n ? n : 1) * sizeof *r->keys);
    r->vals = malloc((n ? n : 1) * sizeof *r->vals);
    if (!r->keys || !r->vals) return rt_err_set(err, RT_ENOMEM, "out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (!it->string || strcmp(it->string, "step") == 0 || !cJSON_IsNumber(it)) continue;
        long k = key_index(log, key_cap, it->string);
        if (k < 0) return rt_err_set(err, RT_ENOMEM, "out of memory");
        r->keys[r->n] = (size_t)k;
        r->vals[r->n++] = it->valuedouble;
    }
    return RT_OK;
}

rt_status pipe_runlog_read(const char *path, pipe_runlog *out, rt_error *err) {
    memset(out, 0, sizeof *out);
    rt_jsonl_reader rd;
    rt_status st = rt_jsonl_open(&rd, path, RT_JSONL_STOP, err);
    if (st) return st;
    row *rows = NULL;
    size_t nrows = 0, cap = 0, key_cap = 0;
    for (;;) {
        cJSON *obj = NULL;
        st = rt_jsonl_next(&rd, &obj, err); /* its errors name path:line */
        if (st || !obj) break;
        if (nrows == cap) {
            size_t nc = cap ? cap * 2 : 64;
            row *nr = realloc(rows, nc * sizeof *nr);
            if (!nr) {
                cJSON_Delete(obj);
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
                break;
            }
            rows = nr;
            cap = nc;
        }
        memset(&rows[nrows], 0, sizeof rows[nrows]);
        rows[nrows].line = rd.line_no;
        st = read_row(out, &key_cap, obj, &rows[nrows], err);
        nrows++;
        cJSON_Delete(obj);
        if (st) {
            rt_err_prefix(err, "%s:%zu", path, rd.line_no);
            break;
        }
    }
    rt_jsonl_close(&rd);
    if (!st) {
        qsort(rows, nrows, sizeof *rows, by_step);
        out->n_steps = nrows;
        out->steps = malloc((nrows ? nrows : 1) * sizeof *out->steps);
        size_t cells = nrows * out->n_keys;
        out->values = malloc((cells ? cells : 1) * sizeof *out->values);
        if (!out->steps || !out->values) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !st && i < nrows; i++) {
        out->steps[i] = rows[i].step;
        for (size_t k = 0; k < out->n_keys; k++)
            out->values[i * out->n_keys + k] = NAN;
        for (size_t j = 0; j < rows[i].n; j++)
            out->values[i * out->n_keys + rows[i].keys[j]] = rows[i].vals[j];
    }
    rows_free(rows, nrows);
    if (st) pipe_runlog_free(out);
    return st;
}

void pipe_runlog_free(pipe_runlog *log) {
    for (size_t k = 0; k < log->n_keys; k++)
        free(log->keys[k]);
    free(log->keys);
    free(log->steps);
    free(log->values);
    memset(log, 0, sizeof *log);
}

long pipe_runlog_key(const pipe_runlog *log, const char *key) {
    for (size_t k = 0; k < log->n_keys; k++)
        if (strcmp(log->keys[k], key) == 0) return (long)k;
    return -1;
}

double pipe_runlog_value(const pipe_runlog *log, size_t i, size_t k) {
    return log->values[i * log->n_keys + k];
}
