#include "pipeline/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "rollout/protocol.h"

#define METRICS_JSON_VERSION 1

double pipe_pass_at_k(size_t n, size_t c, size_t k) {
    if (k == 0 || k > n) return NAN;
    if (n - c < k) return 1.0;
    /* C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i) (Chen et al. 2021, numerically stable form). */
    double prod = 1.0;
    for (size_t i = n - c + 1; i <= n; i++)
        prod *= 1.0 - (double)k / (double)i;
    return 1.0 - prod;
}

static int by_prompt_then_sample(const void *a, const void *b) {
    const rollout_trajectory *x = *(const rollout_trajectory *const *)a;
    const rollout_trajectory *y = *(const rollout_trajectory *const *)b;
    if (x->prompt_index != y->prompt_index) return x->prompt_index < y->prompt_index ? -1 : 1;
    if (x->sample_index != y->sample_index) return x->sample_index < y->sample_index ? -1 : 1;
    return 0;
}

static int is_correct(const rollout_trajectory *t) {
    return t->reward > 0;
}

/* Majority vote over g[0..k) (sorted by sample index): the answer with the most votes wins; among tied answers the
 * one that appears first (lowest sample index) wins. Trajectories without an answer do not vote. Returns 1 when the
 * winning answer's first trajectory is correct, 0 otherwise (also when nobody voted). */
static int majority_correct(const rollout_trajectory *const *g, size_t k) {
    size_t best = k, best_votes = 0;
    for (size_t i = 0; i < k; i++) {
        if (!g[i]->answer) continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = g[j]->answer && strcmp(g[j]->answer, g[i]->answer) == 0;
        if (seen) continue;
        size_t votes = 0;
        for (size_t j = i; j < k; j++)
            votes += g[j]->answer && strcmp(g[j]->answer, g[i]->answer) == 0;
        if (votes > best_votes) {
            best_votes = votes;
            best = i;
        }
    }
    return best < k && is_correct(g[best]);
}

static size_t code_lines(const char *code) {
    size_t lines = 0;
    int nonblank = 0;
    for (const char *p = code;; p++) {
        if (*p == '\n' || *p == '\0') {
            lines += nonblank;
            nonblank = 0;
            if (!*p) break;
        } else if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\f' && *p != '\v') {
            nonblank = 1;
        }
    }
    return lines;
}

/* Byte offset in text of the <code> tag that opens the first tool call: the last <code> before the first
 * <interpreter> (or before the end when there is none). -1 when there is none. */
static long long first_code_offset(const char *text) {
    const char *end = strstr(text, ROLLOUT_INTERP_OPEN);
    if (!end) end = text + strlen(text);
    const char *found = NULL;
    for (const char *p = text; (p = strstr(p, ROLLOUT_CODE_OPEN)) && p < end; p++)
        found = p;
    return found ? (long long)(found - text) : -1;
}

/* Start of the first code block as a fraction of the response, or NaN when it cannot be measured. */
static double invocation_timing(const rollout_trajectory *t, const rollout_tokenizer *tok) {
    if (!t->response_text || t->n_calls == 0) return NAN;
    long long off = first_code_offset(t->response_text);
    if (off < 0) return NAN;
    if (!tok) {
        size_t len = strlen(t->response_text);
        return len ? (double)off / (double)len : NAN;
    }
    if (t->n_response == 0) return NAN;
    size_t pos = 0;
    char buf[64];
    for (size_t i = 0; i < t->n_response; i++) {
        size_t nb = tok->token_bytes(tok->ctx, t->response_ids[i], buf, sizeof buf);
        if (pos + nb > (size_t)off) return (double)i / (double)t->n_response;
        pos += nb;
    }
    return NAN; /* the text is longer than the tokens: they do not belong together */
}

static double ratio(double num, size_t den) {
    return den ? num / (double)den : NAN;
}

/* Metrics of the n trajectories in ts (sorted by prompt, then sample). */
static void compute_set(const rollout_trajectory *const *ts, size_t n, const rollout_tokenizer *tok, pipe_metrics *m) {
    memset(m, 0, sizeof *m);
    m->n_responses = n;
    m->timing_in_tokens = tok != NULL;
    double len_sum = 0, model_sum = 0, lines_sum = 0, ok_sum = 0, timing_sum = 0, repairs_sum = 0, err_sum = 0;
    size_t with_repair = 0, last_ok = 0, last_ok_correct = 0, last_ok_incorrect = 0;
    for (size_t i = 0; i < n; i++) {
        const rollout_trajectory *t = ts[i];
        int correct = is_correct(t);
        m->n_correct += correct;
        len_sum += (double)t->n_response;
        for (size_t j = 0; j < t->n_response; j++)
            model_sum += t->mask[j] != 0;
        for (int b = 0; b < ROLLOUT_NFLAGS; b++)
            m->flag_counts[b] += (t->flags >> b) & 1u;
        size_t repairs = 0;
        int pending_failure = 0;
        for (size_t j = 0; j < t->n_calls; j++) {
            const rollout_tool_call *c = &t->calls[j];
            m->calls_total++;
            if (c->code) lines_sum += (double)code_lines(c->code);
            if (c->refused) {
                m->calls_refused++;
                continue;
            }
            switch (c->status) {
            case ROLLOUT_EXEC_OK:
                m->calls_ok++;
                ok_sum += 1;
                if (pending_failure) repairs++;
                pending_failure = 0;
                break;
            case ROLLOUT_EXEC_ERROR:
                m->calls_error++;
                err_sum += 1;
                pending_failure = 1;
                break;
            case ROLLOUT_EXEC_TIMEOUT:
                m->calls_timeout++;
                err_sum += 1;
                pending_failure = 1;
                break;
            case ROLLOUT_EXEC_SANDBOX_ERROR: /* not the model's failure: neither a failure to repair nor a repair */
                m->calls_sandbox_error++;
                err_sum += 1;
                break;
            }
        }
        repairs_sum += (double)repairs;
        with_repair += repairs > 0;
        if (t->n_calls > 0) {
            const rollout_tool_call *last = &t->calls[t->n_calls - 1];
            int ok = !last->refused && last->status == ROLLOUT_EXEC_OK;
            m->n_with_code++;
            last_ok += ok;
            if (correct) {
                m->n_code_correct++;
                last_ok_correct += ok;
            } else {
                m->n_code_incorrect++;
                last_ok_incorrect += ok;
            }
            double tm = invocation_timing(t, tok);
            if (!isnan(tm)) {
                timing_sum += tm;
                m->n_timing++;
            }
        }
    }
    m->response_length = ratio(len_sum, n);
    m->model_tokens = ratio(model_sum, n);
    m->code_ratio = ratio((double)m->n_with_code, n);
    m->code_lines = ratio(lines_sum, n);
    m->code_calls = ratio((double)m->calls_total, n);
    m->correct_code = ratio(ok_sum, n);
    m->last_pass = ratio((double)last_ok, m->n_with_code);
    m->last_pass_correct = ratio((double)last_ok_correct, m->n_code_correct);
    m->last_pass_incorrect = ratio((double)last_ok_incorrect, m->n_code_incorrect);
    m->invocation_timing = ratio(timing_sum, m->n_timing);
    m->self_corrections = ratio(repairs_sum, n);
    m->self_correction_ratio = ratio((double)with_repair, n);
    m->tool_errors = ratio(err_sum, n);

    /* Per prompt: pass@1, pass@k, maj@k. */
    m->samples_min = SIZE_MAX;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ts[j]->prompt_index == ts[i]->prompt_index)
            j++;
        size_t g = j - i;
        m->n_prompts++;
        if (g < m->samples_min) m->samples_min = g;
        if (g > m->samples_max) m->samples_max = g;
        i = j;
    }
    for (size_t k = 1; k <= m->samples_min && m->n_k < PIPE_METRICS_MAX_K - 1; k *= 2)
        m->k[m->n_k++] = k;
    if (m->k[m->n_k - 1] != m->samples_min) m->k[m->n_k++] = m->samples_min;
    double pass1_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, c = 0;
        while (j < n && ts[j]->prompt_index == ts[i]->prompt_index)
            c += is_correct(ts[j++]);
        size_t g = j - i;
        pass1_sum += (double)c / (double)g;
        for (size_t q = 0; q < m->n_k; q++) {
            m->pass_at_k[q] += pipe_pass_at_k(g, c, m->k[q]);
            m->maj_at_k[q] += majority_correct(ts + i, m->k[q]);
        }
        i = j;
    }
    m->pass1 = pass1_sum / (double)m->n_prompts;
    for (size_t q = 0; q < m->n_k; q++) {
        m->pass_at_k[q] /= (double)m->n_prompts;
        m->maj_at_k[q] /= (double)m->n_prompts;
    }
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

rt_status pipe_metrics_compute(const rollout_trajectory *t, size_t n, const pipe_metrics_options *opt,
                               pipe_metrics_report *out, rt_error *err) {
    memset(out, 0, sizeof *out);
    if (n == 0) return rt_err_set(err, RT_EINVAL, "no trajectories to measure");
    pipe_metrics_options none = {0};
    if (!opt) opt = &none;
    const rollout_trajectory **ts = malloc(n * sizeof *ts);
    char **fam = calloc(n, sizeof *fam);     /* family of each sorted trajectory, malloc'd, or NULL */
    char **names = calloc(n, sizeof *names); /* distinct names (borrowed from fam) */
    const rollout_trajectory **sub = malloc(n * sizeof *sub);
    rt_status st = RT_OK;
    if (!ts || !fam || !names || !sub) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; !st && i < n; i++)
        ts[i] = &t[i];
    if (!st) qsort(ts, n, sizeof *ts, by_prompt_then_sample);
    for (size_t i = 1; !st && i < n; i++)
        if (ts[i]->prompt_index == ts[i - 1]->prompt_index && ts[i]->sample_index == ts[i - 1]->sample_index)
            st = rt_err_set(err, RT_EINVAL, "trajectories '%s' and '%s': the same prompt %lld and sample %lld twice",
                            ts[i - 1]->id ? ts[i - 1]->id : "?", ts[i]->id ? ts[i]->id : "?",
                            (long long)ts[i]->prompt_index, (long long)ts[i]->sample_index);
    size_t n_names = 0;
    for (size_t i = 0; !st && i < n; i++) {
        const rollout_trajectory *x = ts[i];
        if (opt->families) {
            if (x->prompt_index < 0 || (size_t)x->prompt_index >= opt->n_families) {
                st = rt_err_set(err, RT_EINVAL,
                                "trajectory '%s': prompt index %lld outside the family map (%zu prompts)",
                                x->id ? x->id : "?", (long long)x->prompt_index, opt->n_families);
                break;
            }
            const char *f = opt->families[x->prompt_index];
            if (f) fam[i] = strdup(f);
        } else if (x->id && strchr(x->id, '/')) {
            fam[i] = strndup(x->id, (size_t)(strchr(x->id, '/') - x->id));
        }
        if ((opt->families ? opt->families[x->prompt_index] != NULL : x->id && strchr(x->id, '/')) && !fam[i])
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
        if (st || !fam[i]) continue;
        size_t k = 0;
        while (k < n_names && strcmp(names[k], fam[i]) != 0)
            k++;
        if (k == n_names) names[n_names++] = fam[i];
    }
    if (!st) {
        compute_set(ts, n, opt->tok, &out->all);
        qsort(names, n_names, sizeof *names, by_name);
        out->families = n_names ? calloc(n_names, sizeof *out->families) : NULL;
        if (n_names && !out->families) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    for (size_t f = 0; !st && f < n_names; f++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (fam[i] && strcmp(fam[i], names[f]) == 0) sub[m++] = ts[i];
        compute_set(sub, m, opt->tok, &out->families[f]);
        out->families[f].family = strdup(names[f]);
        out->n_families = f + 1;
        if (!out->families[f].family) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; fam && i < n; i++)
        free(fam[i]);
    free(fam);
    free(names);
    free(sub);
    free(ts);
    if (st) pipe_metrics_report_free(out);
    return st;
}

void pipe_metrics_report_free(pipe_metrics_report *r) {
    for (size_t i = 0; i < r->n_families; i++)
        free(r->families[i].family);
    free(r->families);
    free(r->all.family);
    memset(r, 0, sizeof *r);
}

static void add_num(cJSON *o, const char *key, double v) {
    if (isnan(v) || isinf(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static cJSON *metrics_to_json(const pipe_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_num(o, "responses", (double)m->n_responses);
    add_num(o, "prompts", (double)m->n_prompts);
    add_num(o, "samples_min", (double)m->samples_min);
    add_num(o, "samples_max", (double)m->samples_max);
    add_num(o, "correct", (double)m->n_correct);
    add_num(o, "pass1", m->pass1);
    cJSON *pk = cJSON_AddObjectToObject(o, "pass_at_k");
    cJSON *mk = cJSON_AddObjectToObject(o, "maj_at_k");
    for (size_t q = 0; q < m->n_k; q++) {
        char key[32];
        snprintf(key, sizeof key, "%zu", m->k[q]);
        add_num(pk, key, m->pass_at_k[q]);
        add_num(mk, key, m->maj_at_k[q]);
    }
    add_num(o, "response_length", m->response_length);
    add_num(o, "model_tokens", m->model_tokens);
    add_num(o, "code_ratio", m->code_ratio);
    add_num(o, "code_lines", m->code_lines);
    add_num(o, "code_calls", m->code_calls);
    add_num(o, "correct_code", m->correct_code);
    add_num(o, "responses_with_code", (double)m->n_with_code);
    add_num(o, "last_code_pass", m->last_pass);
    add_num(o, "last_code_pass_correct", m->last_pass_correct);
    add_num(o, "last_code_pass_incorrect", m->last_pass_incorrect);
    add_num(o, "code_correct_responses", (double)m->n_code_correct);
    add_num(o, "code_incorrect_responses", (double)m->n_code_incorrect);
    add_num(o, "invocation_timing", m->invocation_timing);
    add_num(o, "invocation_timing_measured", (double)m->n_timing);
    cJSON_AddStringToObject(o, "invocation_timing_unit", m->timing_in_tokens ? "tokens" : "bytes");
    add_num(o, "self_corrections", m->self_corrections);
    add_num(o, "self_correction_ratio", m->self_correction_ratio);
    add_num(o, "tool_errors", m->tool_errors);
    cJSON *calls = cJSON_AddObjectToObject(o, "calls");
    add_num(calls, "total", (double)m->calls_total);
    add_num(calls, "ok", (double)m->calls_ok);
    add_num(calls, "error", (double)m->calls_error);
    add_num(calls, "timeout", (double)m->calls_timeout);
    add_num(calls, "sandbox_error", (double)m->calls_sandbox_error);
    add_num(calls, "refused", (double)m->calls_refused);
    cJSON *flags = cJSON_AddObjectToObject(o, "flags");
    for (int b = 0; b < ROLLOUT_NFLAGS; b++)
        add_num(flags, rollout_flag_name(1u << b), (double)m->flag_counts[b]);
    return o;
}

cJSON *pipe_metrics_report_to_json(const pipe_metrics_report *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "version", METRICS_JSON_VERSION);
    cJSON_AddItemToObject(o, "all", metrics_to_json(&r->all));
    cJSON *fams = cJSON_AddObjectToObject(o, "families");
    for (size_t i = 0; i < r->n_families; i++)
        cJSON_AddItemToObject(fams, r->families[i].family, metrics_to_json(&r->families[i]));
    return o;
}

/* One table row: label, then one value per column (the whole set, then each family). */
typedef double (*metric_get)(const pipe_metrics *m, size_t arg);

static double get_pass_k(const pipe_metrics *m, size_t k) {
    for (size_t q = 0; q < m->n_k; q++)
        if (m->k[q] == k) return m->pass_at_k[q];
    return NAN;
}
static double get_maj_k(const pipe_metrics *m, size_t k) {
    for (size_t q = 0; q < m->n_k; q++)
        if (m->k[q] == k) return m->maj_at_k[q];
    return NAN;
}

static void print_row(FILE *fp, const pipe_metrics_report *r, const char *label, size_t off, int is_count,
                      metric_get get, size_t arg) {
    fprintf(fp, "%-32s", label);
    for (size_t c = 0; c <= r->n_families; c++) {
        const pipe_metrics *m = c == 0 ? &r->all : &r->families[c - 1];
        double v = get        ? get(m, arg)
                   : is_count ? (double)*(const size_t *)((const char *)m + off)
                              : *(const double *)((const char *)m + off);
        if (isnan(v))
            fprintf(fp, " %12s", "-");
        else if (is_count)
            fprintf(fp, " %12.0f", v);
        else
            fprintf(fp, " %12.4f", v);
    }
    fputc('\n', fp);
}

#define ROW_D(label, field) print_row(fp, r, label, offsetof(pipe_metrics, field), 0, NULL, 0)
#define ROW_N(label, field) print_row(fp, r, label, offsetof(pipe_metrics, field), 1, NULL, 0)

void pipe_metrics_report_print(FILE *fp, const pipe_metrics_report *r) {
    fprintf(fp, "%-32s %12s", "metric", "all");
    for (size_t i = 0; i < r->n_families; i++)
        fprintf(fp, " %12.12s", r->families[i].family);
    fputc('\n', fp);
    ROW_N("responses", n_responses);
    ROW_N("prompts", n_prompts);
    ROW_N("samples per prompt (min)", samples_min);
    ROW_D("pass@1", pass1);
    for (size_t q = 0; q < r->all.n_k; q++) {
        char label[64];
        snprintf(label, sizeof label, "pass@%zu", r->all.k[q]);
        if (r->all.k[q] != 1) print_row(fp, r, label, 0, 0, get_pass_k, r->all.k[q]);
    }
    for (size_t q = 0; q < r->all.n_k; q++) {
        char label[64];
        snprintf(label, sizeof label, "maj@%zu", r->all.k[q]);
        print_row(fp, r, label, 0, 0, get_maj_k, r->all.k[q]);
    }
    ROW_D("response length (tokens)", response_length);
    ROW_D("model tokens", model_tokens);
    ROW_D("code ratio", code_ratio);
    ROW_D("code lines / response", code_lines);
    ROW_D("code calls / response", code_calls);
    ROW_D("correct code / response", correct_code);
    ROW_D("last code pass", last_pass);
    ROW_D("last code pass (correct)", last_pass_correct);
    ROW_D("last code pass (wrong)", last_pass_incorrect);
    ROW_D(r->all.timing_in_tokens ? "invocation timing (tokens)" : "invocation timing (bytes)", invocation_timing);
    ROW_D("self-corrections / resp.", self_corrections);
    ROW_D("responses self-correcting", self_correction_ratio);
    ROW_D("tool errors / response", tool_errors);
    ROW_N("calls", calls_total);
    ROW_N("calls ok", calls_ok);
    ROW_N("calls error", calls_error);
    ROW_N("calls timeout", calls_timeout);
    ROW_N("calls sandbox error", calls_sandbox_error);
    ROW_N("calls refused", calls_refused);
    for (int b = 0; b < ROLLOUT_NFLAGS; b++) {
        char label[64];
        snprintf(label, sizeof label, "flag %s", rollout_flag_name(1u << b));
        print_row(fp, r, label, offsetof(pipe_metrics, flag_counts) + (size_t)b * sizeof(size_t), 1, NULL, 0);
    }
}

rt_status pipe_families_read(const char *path, char ***out, size_t *n, rt_error *err) {
    *out = NULL;
    *n = 0;
    rt_jsonl_reader rd;
    rt_status st = rt_jsonl_open(&rd, path, RT_JSONL_STOP, err);
    if (st) return st;
    char **v = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        cJSON *item = NULL;
        st = rt_jsonl_next(&rd, &item, err); /* its errors name path:line already */
        if (st || !item) break;
        const char *f = NULL;
        if (!cJSON_IsObject(item)) st = rt_err_set(err, RT_EFORMAT, "expected a JSON object");
        if (!st) st = rt_json_opt_string(item, "family", &f, err);
        if (!st && len == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
            else {
                v = nv;
                cap = nc;
            }
        }
        if (!st) {
            v[len] = f ? strdup(f) : NULL;
            if (f && !v[len])
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
            else
                len++;
        }
        cJSON_Delete(item);
        if (st) {
            rt_err_prefix(err, "%s:%zu", path, rd.line_no);
            break;
        }
    }
    rt_jsonl_close(&rd);
    if (st) {
        pipe_families_free(v, len);
        return st;
    }
    *out = v;
    *n = len;
    return RT_OK;
}

void pipe_families_free(char **families, size_t n) {
    for (size_t i = 0; families && i < n; i++)
        free(families[i]);
    free(families);
}
