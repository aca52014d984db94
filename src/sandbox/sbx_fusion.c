/* SandboxFusion request parsing and response building. Status mapping:
 *   ok -> Success/Finished; error, memory, output-limit -> Failed/Finished (return_code set, message says why);
 *   timeout -> Failed/TimeLimitExceeded (return_code null); sandbox-error -> SandboxError, run_result null. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/fusion.h"
#include "sandbox/sbx_internal.h"

char *sbx_utf8_sanitize(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n = 0;
        unsigned cp = 0;
        if (c >= 0x01 && c < 0x80)
            n = 1, cp = c;
        else if (c >= 0xC2 && c <= 0xDF)
            n = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 4, cp = c & 0x07;
        int ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                ok = 0;
            else
                cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if (ok &&
            ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            ok = 0;
        if (ok) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 1;
        }
    }
    out[o] = 0;
    return out;
}

static rt_status get_str(const cJSON *o, const char *k, char **out, size_t *len, rt_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v)) return RT_OK;
    if (!cJSON_IsString(v)) return rt_err_set(err, RT_EINVAL, "field '%s': expected a string", k);
    *out = strdup(v->valuestring);
    if (!*out) return rt_err_set(err, RT_ENOMEM, "field '%s': out of memory", k);
    if (len) *len = strlen(v->valuestring);
    return RT_OK;
}

static rt_status get_num(const cJSON *o, const char *k, double *out, rt_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v)) return RT_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return rt_err_set(err, RT_EINVAL, "field '%s': expected a number", k);
    *out = v->valuedouble;
    return RT_OK;
}

static rt_status parse_files(const cJSON *root, sbx_fusion_req *r, rt_error *err) {
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    if (files && !cJSON_IsNull(files)) {
        if (!cJSON_IsObject(files)) return rt_err_set(err, RT_EINVAL, "field 'files': expected an object of base64");
        int n = cJSON_GetArraySize(files);
        r->files = calloc((size_t)n + 1, sizeof *r->files);
        if (!r->files) return rt_err_set(err, RT_ENOMEM, "field 'files': out of memory");
        const cJSON *f;
        cJSON_ArrayForEach(f, files) {
            sbx_file *o = &r->files[r->nfiles];
            if (!cJSON_IsString(f)) return rt_err_set(err, RT_EINVAL, "files['%s']: expected base64 text", f->string);
            if (sbx_b64_decode(f->valuestring, strlen(f->valuestring), &o->data, &o->len))
                return rt_err_set(err, RT_EINVAL, "files['%s']: not valid base64", f->string);
            o->name = strdup(f->string);
            r->nfiles++;
            if (!o->name) return rt_err_set(err, RT_ENOMEM, "files: out of memory");
        }
    }
    const cJSON *fetch = cJSON_GetObjectItemCaseSensitive(root, "fetch_files");
    if (fetch && !cJSON_IsNull(fetch)) {
        if (!cJSON_IsArray(fetch)) return rt_err_set(err, RT_EINVAL, "field 'fetch_files': expected an array");
        int n = cJSON_GetArraySize(fetch);
        if (n > SBX_FUSION_MAX_FETCH)
            return rt_err_set(err, RT_EINVAL, "field 'fetch_files': %d names, over the cap of %d", n,
                              SBX_FUSION_MAX_FETCH);
        r->fetch = calloc((size_t)n + 1, sizeof *r->fetch);
        if (!r->fetch) return rt_err_set(err, RT_ENOMEM, "fetch_files: out of memory");
        const cJSON *f;
        cJSON_ArrayForEach(f, fetch) {
            if (!cJSON_IsString(f)) return rt_err_set(err, RT_EINVAL, "fetch_files[%zu]: expected a string", r->nfetch);
            if (!(r->fetch[r->nfetch++] = strdup(f->valuestring)))
                return rt_err_set(err, RT_ENOMEM, "fetch_files: out of memory");
        }
    }
    return RT_OK;
}

size_t sbx_json_count_values(const char *s, size_t len, size_t max) {
    size_t n = 1;
    int in_str = 0;
    for (size_t i = 0; i < len && n <= max; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{' || c == ',' || c == ':') {
            n++;
        }
    }
    return n;
}

rt_status sbx_fusion_parse(const char *body, size_t len, int jupyter, int64_t default_memory_mb, int64_t max_memory_mb,
                           sbx_fusion_req *r, rt_error *err) {
    memset(r, 0, sizeof *r);
    if (sbx_json_count_values(body, len, SBX_FUSION_MAX_VALUES) > SBX_FUSION_MAX_VALUES)
        return rt_err_set(err, RT_EINVAL, "request body: more than %d JSON values (the cap on one request)",
                          SBX_FUSION_MAX_VALUES);
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) return rt_err_set(err, RT_EINVAL, "request body is not valid JSON");
    rt_status st = RT_OK;
    if (!cJSON_IsObject(root)) st = rt_err_set(err, RT_EINVAL, "request body: expected a JSON object");
    const char *lang_key = jupyter ? "kernel" : "language";
    char *lang = NULL;
    if (!st) st = get_str(root, lang_key, &lang, NULL, err);
    snprintf(r->language, sizeof r->language, "%s", lang ? lang : (jupyter ? "python3" : "python"));
    free(lang);
    if (!st && strcmp(r->language, "python") && strcmp(r->language, "python3"))
        st = rt_err_set(err, RT_EUNSUPPORTED, "%s '%s' is not supported: this sandbox runs only python (%s \"python\")",
                        lang_key, r->language, lang_key);
    double run_timeout = 10, mem = -1, compile_timeout = 10;
    if (!st) st = get_num(root, "run_timeout", &run_timeout, err);
    if (!st) st = get_num(root, "compile_timeout", &compile_timeout, err);
    if (!st) st = get_num(root, "memory_limit_MB", &mem, err);
    if (!st && jupyter) {
        r->cell_timeout_s = 0;
        r->total_timeout_s = 45;
        st = get_num(root, "cell_timeout", &r->cell_timeout_s, err);
        if (!st) st = get_num(root, "total_timeout", &r->total_timeout_s, err);
        const cJSON *cells = cJSON_GetObjectItemCaseSensitive(root, "cells");
        if (!st && !cJSON_IsArray(cells)) st = rt_err_set(err, RT_EINVAL, "field 'cells': expected an array of code");
        if (!st) {
            r->cells = calloc((size_t)cJSON_GetArraySize(cells) + 1, sizeof *r->cells);
            if (!r->cells) st = rt_err_set(err, RT_ENOMEM, "cells: out of memory");
            const cJSON *c;
            cJSON_ArrayForEach(c, cells) {
                if (st) break;
                if (!cJSON_IsString(c))
                    st = rt_err_set(err, RT_EINVAL, "cells[%zu]: expected a string", r->ncells);
                else if (!(r->cells[r->ncells++] = strdup(c->valuestring)))
                    st = rt_err_set(err, RT_ENOMEM, "cells");
            }
        }
    } else if (!st) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "code");
        if (!cJSON_IsString(c))
            st = rt_err_set(err, RT_EINVAL, "field 'code': expected a string");
        else
            st = get_str(root, "code", &r->code, &r->code_len, err);
        if (!st) st = get_str(root, "stdin", &r->stdin_data, &r->stdin_len, err);
    }
    if (!st) st = parse_files(root, r, err);
    if (!st && (run_timeout <= 0 || run_timeout > 3600))
        st = rt_err_set(err, RT_EINVAL, "field 'run_timeout': %g is not in (0, 3600] seconds", run_timeout);
    if (!st && jupyter && (r->total_timeout_s <= 0 || r->total_timeout_s > 3600))
        st = rt_err_set(err, RT_EINVAL, "field 'total_timeout': %g is not in (0, 3600] seconds", r->total_timeout_s);
    if (!st && mem != -1 && (mem < 16 || mem > 1 << 20))
        st = rt_err_set(err, RT_EINVAL, "field 'memory_limit_MB': %g is not -1 or in [16, 1048576]", mem);
    if (!st && max_memory_mb > 0 && mem > (double)max_memory_mb)
        st = rt_err_set(err, RT_EINVAL,
                        "field 'memory_limit_MB': %g is over this server's cap of %lld (--max-memory-mb)", mem,
                        (long long)max_memory_mb);
    cJSON_Delete(root);
    if (st) {
        sbx_fusion_req_free(r);
        return st;
    }
    r->limits.wall_s = run_timeout;
    r->limits.cpu_s = run_timeout;
    r->limits.memory_mb = mem == -1 ? default_memory_mb : (int64_t)mem;
    return RT_OK;
}

void sbx_fusion_req_free(sbx_fusion_req *r) {
    free(r->code);
    for (size_t i = 0; i < r->ncells; i++)
        free(r->cells[i]);
    free(r->cells);
    free(r->stdin_data);
    for (size_t i = 0; i < r->nfiles; i++) {
        free(r->files[i].name);
        free(r->files[i].data);
    }
    free(r->files);
    for (size_t i = 0; i < r->nfetch; i++)
        free(r->fetch[i]);
    free(r->fetch);
    memset(r, 0, sizeof *r);
}

static void add_text(cJSON *o, const char *key, const char *s, size_t len) {
    char *t = sbx_utf8_sanitize(s ? s : "", s ? len : 0);
    cJSON_AddStringToObject(o, key, t ? t : "");
    free(t);
}

static void add_files(cJSON *resp, const sbx_result *res) {
    cJSON *files = cJSON_AddObjectToObject(resp, "files");
    for (size_t i = 0; res && i < res->nfiles; i++) {
        char *b = sbx_b64_encode(res->files[i].data, res->files[i].len);
        char *name = sbx_utf8_sanitize(res->files[i].name, strlen(res->files[i].name));
        if (b && name) cJSON_AddStringToObject(files, name, b);
        free(name);
        free(b);
    }
}

cJSON *sbx_fusion_error_response(const char *message) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "SandboxError");
    add_text(o, "message", message, strlen(message)); /* it may quote the request's own bytes */
    cJSON_AddNullToObject(o, "compile_result");
    cJSON_AddNullToObject(o, "run_result");
    cJSON_AddStringToObject(o, "executor_pod_name", "retool-sandbox");
    cJSON_AddObjectToObject(o, "files");
    return o;
}

cJSON *sbx_fusion_run_response(const sbx_result *res) {
    if (res->status == SBX_SANDBOX_ERROR) return sbx_fusion_error_response(res->message);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", res->status == SBX_OK ? "Success" : "Failed");
    add_text(o, "message", res->message, strlen(res->message));
    cJSON_AddNullToObject(o, "compile_result");
    cJSON *rr = cJSON_AddObjectToObject(o, "run_result");
    cJSON_AddStringToObject(rr, "status", res->status == SBX_TIMEOUT ? "TimeLimitExceeded" : "Finished");
    cJSON_AddNumberToObject(rr, "execution_time", res->wall_s);
    if (res->status == SBX_TIMEOUT)
        cJSON_AddNullToObject(rr, "return_code");
    else
        cJSON_AddNumberToObject(rr, "return_code", res->signal ? -res->signal : res->exit_code);
    add_text(rr, "stdout", res->out, res->out_len);
    add_text(rr, "stderr", res->err, res->err_len);
    cJSON_AddStringToObject(o, "executor_pod_name", "retool-sandbox");
    add_files(o, res);
    return o;
}

void sbx_fusion_add_cell(cJSON *cells, const sbx_result *res) {
    cJSON *c = cJSON_CreateObject();
    add_text(c, "stdout", res->out, res->out_len);
    add_text(c, "stderr", res->err, res->err_len);
    cJSON_AddArrayToObject(c, "display");
    cJSON *errs = cJSON_AddArrayToObject(c, "error");
    if (res->status != SBX_OK) {
        cJSON *e = cJSON_CreateObject();
        /* The last stderr line of a traceback is "Name: value". */
        char *text = sbx_utf8_sanitize(res->err ? res->err : "", res->err ? res->err_len : 0);
        char *last = text ? text : NULL;
        if (text) {
            size_t n = strlen(text);
            while (n && text[n - 1] == '\n')
                text[--n] = 0;
            char *nl = strrchr(text, '\n');
            last = nl ? nl + 1 : text;
        }
        char *colon = last ? strstr(last, ": ") : NULL;
        const char *ename = res->status == SBX_TIMEOUT ? "TimeoutError" : sbx_status_name(res->status);
        if (colon && res->status == SBX_ERROR) {
            *colon = 0;
            ename = last;
        }
        cJSON_AddStringToObject(e, "ename", ename);
        const char *evalue = colon && res->status == SBX_ERROR ? colon + 2 : res->message;
        add_text(e, "evalue", evalue, strlen(evalue));
        cJSON *tb = cJSON_AddArrayToObject(e, "traceback");
        char *full = sbx_utf8_sanitize(res->err ? res->err : "", res->err ? res->err_len : 0);
        cJSON_AddItemToArray(tb, cJSON_CreateString(full ? full : ""));
        free(full);
        free(text);
        cJSON_AddItemToArray(errs, e);
    }
    cJSON_AddItemToArray(cells, c);
}
