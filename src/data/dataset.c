#include "data/dataset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/strbuf.h"
#include "data/boxed.h"
#include "data/parquet.h"

static const char *const names[] = {"auto", "retool", "dapo", "aime", "math", "gsm8k"};

/* The instruction DAPO-Math-17k wraps around every problem (asking for "Answer: X"), stripped so that retool's own
 * prompt template applies. */
static const char dapo_prefix[] = "Solve the following math problem step by step. The last line of your response "
                                  "should be of the form Answer: $Answer (without quotes) where $Answer is the answer "
                                  "to the problem.\n\n";
static const char dapo_suffix[] = "\n\nRemember to put your answer on its own line after \"Answer:\".";

rt_status data_format_parse(const char *name, data_format *out, rt_error *err) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (data_format)i;
            return RT_OK;
        }
    return rt_err_set(err, RT_EINVAL, "format '%s': expected auto, retool, dapo, aime, math or gsm8k", name);
}

const char *data_format_name(data_format f) {
    return (size_t)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

static int has(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key) != NULL;
}

rt_status data_format_detect(const cJSON *record, data_format *out, rt_error *err) {
    if (!cJSON_IsObject(record)) return rt_err_set(err, RT_EFORMAT, "expected a JSON object a line");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(record, "prompt");
    if (has(record, "reward_model") && cJSON_IsArray(prompt)) {
        *out = DATA_FORMAT_DAPO;
    } else if (has(record, "question") && has(record, "answer")) {
        *out = DATA_FORMAT_GSM8K;
    } else if (has(record, "Problem") && has(record, "Answer")) {
        *out = DATA_FORMAT_AIME;
    } else if (has(record, "problem") && has(record, "solution")) {
        *out = DATA_FORMAT_MATH;
    } else if (has(record, "problem") && has(record, "answer")) {
        *out = DATA_FORMAT_AIME;
    } else if (cJSON_IsString(prompt) && has(record, "answer")) {
        *out = DATA_FORMAT_RETOOL;
    } else {
        rt_strbuf fields = {0};
        for (const cJSON *c = record->child; c; c = c->next)
            rt_strbuf_printf(&fields, "%s%s", c == record->child ? "" : ", ", c->string);
        char *list = rt_strbuf_take(&fields);
        rt_err_set(err, RT_EFORMAT,
                   "cannot tell the layout from the fields (%s); pass a format (retool, dapo, aime, "
                   "math, gsm8k)",
                   list && *list ? list : "none");
        free(list);
        return RT_EFORMAT;
    }
    return RT_OK;
}

static rt_status dup_to(char **dst, const char *s, rt_error *err) {
    *dst = strdup(s);
    return *dst ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
}

static char *trimmed_dup(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return strndup(s, n);
}

/* A field that may be a string or an integer (AIME answers are numbers in some releases, ids too). */
static rt_status string_or_int(const cJSON *o, const char *key, int optional, char **out, rt_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (optional) return RT_OK;
        return rt_err_set(err, RT_EFORMAT, "field '%s': missing", key);
    }
    if (cJSON_IsString(v)) return dup_to(out, v->valuestring, err);
    if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)v->valuedouble);
        return dup_to(out, buf, err);
    }
    return rt_err_set(err, RT_EFORMAT, "field '%s': expected a string or an integer", key);
}

static rt_status map_retool(const cJSON *r, data_problem *p, rt_error *err) {
    const char *s;
    rt_status st = rt_json_get_string(r, "prompt", &s, err);
    if (!st) st = dup_to(&p->prompt, s, err);
    if (!st) st = string_or_int(r, "answer", 0, &p->answer, err);
    if (!st) st = string_or_int(r, "id", 1, &p->id, err);
    const char *opt[] = {"family", "program", "text_solution"};
    char **dst[] = {&p->family, &p->program, &p->text_solution};
    for (int i = 0; !st && i < 3; i++) {
        s = NULL;
        st = rt_json_opt_string(r, opt[i], &s, err);
        if (!st && s) st = dup_to(dst[i], s, err);
    }
    int64_t level = 0;
    if (!st) st = rt_json_opt_int(r, "level", &level, err);
    p->level = (int)level;
    return st;
}

static rt_status map_dapo(const cJSON *r, data_problem *p, rt_error *err) {
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r, "prompt");
    if (!cJSON_IsArray(msgs)) return rt_err_set(err, RT_EFORMAT, "field 'prompt': expected a list of messages");
    const char *content = NULL;
    int idx = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, idx++) {
        const char *role, *c;
        if (!cJSON_IsObject(m) || rt_json_get_string(m, "role", &role, err) ||
            rt_json_get_string(m, "content", &c, err))
            return rt_err_set(err, RT_EFORMAT, "field 'prompt[%d]': expected {\"role\": string, \"content\": string}",
                              idx);
        if (strcmp(role, "user") == 0) content = c; /* the last user message is the problem */
    }
    if (!content) return rt_err_set(err, RT_EFORMAT, "field 'prompt': no message with role 'user'");
    size_t n = strlen(content), a = 0;
    if (strncmp(content, dapo_prefix, sizeof dapo_prefix - 1) == 0) a = sizeof dapo_prefix - 1;
    size_t ls = sizeof dapo_suffix - 1;
    if (n - a >= ls && strcmp(content + n - ls, dapo_suffix) == 0) n -= ls;
    p->prompt = trimmed_dup(content + a, n - a);
    if (!p->prompt) return rt_err_set(err, RT_ENOMEM, "out of memory");
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(r, "reward_model");
    if (!cJSON_IsObject(rm)) return rt_err_set(err, RT_EFORMAT, "field 'reward_model': expected an object");
    rt_status st = string_or_int(rm, "ground_truth", 0, &p->answer, err);
    if (st) return rt_err_prefix(err, "in 'reward_model'");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(r, "extra_info");
    if (cJSON_IsObject(extra)) {
        st = string_or_int(extra, "index", 1, &p->id, err);
        if (st) return rt_err_prefix(err, "in 'extra_info'");
    }
    return RT_OK;
}

static rt_status map_aime(const cJSON *r, data_problem *p, rt_error *err) {
    int upper = has(r, "Problem");
    const char *s;
    rt_status st = rt_json_get_string(r, upper ? "Problem" : "problem", &s, err);
    if (!st) st = dup_to(&p->prompt, s, err);
    if (!st) st = string_or_int(r, upper ? "Answer" : "answer", 0, &p->answer, err);
    if (!st) st = string_or_int(r, upper ? "ID" : "id", 1, &p->id, err);
    return st;
}

static rt_status map_math(const cJSON *r, data_problem *p, rt_error *err) {
    const char *problem, *solution, *s = NULL;
    rt_status st = rt_json_get_string(r, "problem", &problem, err);
    if (!st) st = rt_json_get_string(r, "solution", &solution, err);
    if (!st) st = dup_to(&p->prompt, problem, err);
    if (!st) st = dup_to(&p->text_solution, solution, err);
    if (st) return st;
    if (has(r, "answer")) {
        st = string_or_int(r, "answer", 0, &p->answer, err); /* MATH-500 stores the answer beside the solution */
    } else {
        size_t a, b;
        data_boxed_result br = data_boxed_last(solution, strlen(solution), &a, &b);
        if (br != DATA_BOXED_FOUND)
            return rt_err_set(err, RT_EFORMAT, "field 'solution': %s", data_boxed_result_name(br));
        p->answer = strndup(solution + a, b - a);
        if (!p->answer) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    if (!st) st = rt_json_opt_string(r, "type", &s, err);
    if (!st && !s) st = rt_json_opt_string(r, "subject", &s, err);
    if (!st && s) st = dup_to(&p->family, s, err);
    if (!st) st = string_or_int(r, "unique_id", 1, &p->id, err);
    /* "level": "Level 3" (MATH) or 3 (MATH-500). */
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(r, "level");
    if (!st && cJSON_IsString(lv) && strncmp(lv->valuestring, "Level ", 6) == 0) p->level = atoi(lv->valuestring + 6);
    if (!st && cJSON_IsNumber(lv)) p->level = lv->valueint;
    return st;
}

static rt_status map_gsm8k(const cJSON *r, data_problem *p, rt_error *err) {
    const char *q, *a;
    rt_status st = rt_json_get_string(r, "question", &q, err);
    if (!st) st = rt_json_get_string(r, "answer", &a, err);
    if (!st) st = dup_to(&p->prompt, q, err);
    if (st) return st;
    const char *mark = strstr(a, "####");
    if (!mark) return rt_err_set(err, RT_EFORMAT, "field 'answer': no '#### <answer>' line");
    p->answer = trimmed_dup(mark + 4, strlen(mark + 4));
    p->text_solution = trimmed_dup(a, (size_t)(mark - a));
    if (!p->answer || !p->text_solution) return rt_err_set(err, RT_ENOMEM, "out of memory");
    if (!*p->answer) return rt_err_set(err, RT_EFORMAT, "field 'answer': nothing after '####'");
    return RT_OK;
}

rt_status data_record_map(const cJSON *record, data_format f, data_problem *out, rt_error *err) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(record)) return rt_err_set(err, RT_EFORMAT, "expected a JSON object a line");
    rt_status st;
    switch (f) {
    case DATA_FORMAT_RETOOL:
        st = map_retool(record, out, err);
        break;
    case DATA_FORMAT_DAPO:
        st = map_dapo(record, out, err);
        break;
    case DATA_FORMAT_AIME:
        st = map_aime(record, out, err);
        break;
    case DATA_FORMAT_MATH:
        st = map_math(record, out, err);
        break;
    case DATA_FORMAT_GSM8K:
        st = map_gsm8k(record, out, err);
        break;
    default:
        return rt_err_set(err, RT_EINVAL, "format %s cannot map a record", data_format_name(f));
    }
    if (st == RT_OK && !*out->prompt) st = rt_err_set(err, RT_EFORMAT, "the problem text is empty");
    if (st == RT_OK && !*out->answer) st = rt_err_set(err, RT_EFORMAT, "the answer is empty");
    if (st) {
        data_problem_free(out);
        rt_err_prefix(err, "%s layout", data_format_name(f));
    }
    return st;
}

rt_status data_records_open(data_records *r, const char *path, rt_error *err) {
    memset(r, 0, sizeof *r);
    if (strcmp(path, "-") != 0 && data_parquet_sniff(path)) return data_parquet_open(path, &r->pq, err);
    return rt_jsonl_open(&r->jl, path, RT_JSONL_STOP, err);
}

rt_status data_records_next(data_records *r, cJSON **rec, rt_error *err) {
    return r->pq ? data_parquet_next(r->pq, rec, err) : rt_jsonl_next(&r->jl, rec, err);
}

rt_status data_records_prefix(const data_records *r, const char *path, rt_error *err) {
    if (r->pq) return rt_err_prefix(err, "%s: row %lld", path, (long long)data_parquet_row_no(r->pq));
    return rt_err_prefix(err, "%s:%zu", path, r->jl.line_no);
}

void data_records_close(data_records *r) {
    if (r->pq)
        data_parquet_close(r->pq);
    else
        rt_jsonl_close(&r->jl);
    memset(r, 0, sizeof *r);
}

rt_status data_dataset_read(const char *path, data_format f, data_dataset *out, rt_error *err) {
    memset(out, 0, sizeof *out);
    data_records r;
    rt_status st = data_records_open(&r, path, err);
    if (st) return st;
    for (;;) {
        cJSON *rec;
        st = data_records_next(&r, &rec, err);
        if (st || !rec) break;
        if (f == DATA_FORMAT_AUTO) {
            st = data_format_detect(rec, &f, err);
            if (st) {
                data_records_prefix(&r, path, err);
                cJSON_Delete(rec);
                break;
            }
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            data_problem *items = realloc(out->items, cap * sizeof *items);
            if (!items) {
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
                data_records_prefix(&r, path, err);
                cJSON_Delete(rec);
                break;
            }
            out->items = items;
            out->cap = cap;
        }
        st = data_record_map(rec, f, &out->items[out->n], err);
        cJSON_Delete(rec);
        if (st) {
            data_records_prefix(&r, path, err);
            break;
        }
        out->n++;
    }
    data_records_close(&r);
    out->format = f;
    if (st == RT_OK && out->n == 0) st = rt_err_set(err, RT_EFORMAT, "%s: no problems in the file", path);
    if (st) data_dataset_free(out);
    return st;
}

void data_dataset_free(data_dataset *ds) {
    for (size_t i = 0; i < ds->n; i++)
        data_problem_free(&ds->items[i]);
    free(ds->items);
    memset(ds, 0, sizeof *ds);
}
