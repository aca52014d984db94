#include "base/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"

int rt_utf8_valid(const char *str, size_t len, size_t *bad_at) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t need;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            min = 0x80;
            c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            min = 0x800;
            c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            goto bad;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80) goto bad;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) goto bad;
        i += need + 1;
    }
    return 1;
bad:
    if (bad_at) *bad_at = i;
    return 0;
}

static void line_col(const char *text, const char *at, size_t *line, size_t *col) {
    size_t l = 1, c = 1;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Non-zero when text stops inside a string or with brackets still open: the file was cut short. */
static int json_unterminated(const char *text, size_t len) {
    int in_string = 0, escape = 0;
    long depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escape) escape = 0;
            else if (c == '\\') escape = 1;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return in_string || depth > 0;
}

/* Parses text; on failure returns the 1-based line and column of the problem and a static description. */
static cJSON *json_parse_at(const char *text, size_t len, size_t *line, size_t *col, const char **why) {
    size_t bad;
    const char *at = NULL;
    cJSON *item = NULL;
    const char *z = memchr(text, '\0', len);
    if (!rt_utf8_valid(text, len, &bad)) {
        at = text + bad;
        *why = "invalid UTF-8";
    } else if (z) {
        at = z;
        *why = "NUL byte inside JSON text";
    } else {
        const char *end = NULL;
        item = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!item) {
            at = end ? end : cJSON_GetErrorPtr();
            if (!at || at < text || at > text + len) at = text + len;
            /* Truncated: the parser stopped at the end, or on the last token of text that leaves a string or a
             * bracket open. An error with more text after it is a syntax error where it stands. */
            const char *rest = at < text + len ? at + 1 : text + len;
            while (rest < text + len && (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')) rest++;
            if (at >= text + len || (rest == text + len && json_unterminated(text, len))) {
                at = text + len;
                *why = "JSON ends too early (truncated?)";
            } else {
                *why = "JSON syntax error";
            }
        } else {
            for (const char *p = end ? end : text + len; p < text + len; p++) {
                if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                    cJSON_Delete(item);
                    item = NULL;
                    at = p;
                    *why = "unexpected text after the JSON value";
                    break;
                }
            }
        }
    }
    if (!item) line_col(text, at, line, col);
    return item;
}

rt_status rt_json_parse(const char *text, size_t len, const char *name, cJSON **out, rt_error *err) {
    size_t line, col;
    const char *why;
    *out = json_parse_at(text, len, &line, &col, &why);
    if (!*out) return rt_err_set(err, RT_EFORMAT, "%s:%zu:%zu: %s", name, line, col, why);
    return RT_OK;
}

rt_status rt_json_read_file(const char *path, cJSON **out, rt_error *err) {
    char *text;
    size_t len;
    *out = NULL;
    rt_status st = rt_file_read_all(path, &text, &len, err);
    if (st) return st;
    st = rt_json_parse(text, len, path, out, err);
    free(text);
    return st;
}

rt_status rt_json_write_file(const char *path, const cJSON *item, rt_error *err) {
    char *text = cJSON_Print(item);
    if (!text) return rt_err_set(err, RT_ENOMEM, "cannot format JSON for %s", path);
    size_t n = strlen(text);
    rt_atomic_file af;
    rt_status st = rt_atomic_open(&af, path, err);
    if (!st) st = rt_atomic_write(&af, text, n, err);
    if (!st) st = rt_atomic_write(&af, "\n", 1, err);
    if (!st) st = rt_atomic_commit(&af, err);
    else rt_atomic_abort(&af);
    cJSON_free(text);
    return st;
}

rt_status rt_jsonl_open(rt_jsonl_reader *r, const char *path, rt_jsonl_mode mode, rt_error *err) {
    memset(r, 0, sizeof *r);
    r->mode = mode;
    if (strcmp(path, "-") == 0) {
        r->fp = stdin;
        r->owns_fp = 0;
        r->path = strdup("stdin");
    } else {
        r->fp = fopen(path, "rb");
        if (!r->fp) return rt_err_errno(err, errno == ENOENT ? RT_ENOTFOUND : RT_EIO, errno, "cannot open %s", path);
        r->owns_fp = 1;
        r->path = strdup(path);
    }
    if (!r->path) {
        rt_jsonl_close(r);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    return RT_OK;
}

rt_status rt_jsonl_next(rt_jsonl_reader *r, cJSON **out, rt_error *err) {
    *out = NULL;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line, &r->line_cap, r->fp);
        if (n < 0) {
            if (ferror(r->fp)) return rt_err_errno(err, RT_EIO, errno ? errno : EIO, "error reading %s", r->path);
            return RT_OK; /* end of file */
        }
        r->line_no++;
        size_t len = (size_t)n;
        int had_newline = len > 0 && r->line[len - 1] == '\n';
        if (had_newline) len--;
        if (len > 0 && r->line[len - 1] == '\r') len--;
        size_t k = 0;
        while (k < len && (r->line[k] == ' ' || r->line[k] == '\t')) k++;
        if (k == len) continue; /* blank line */
        size_t line, col;
        const char *why;
        cJSON *item = json_parse_at(r->line, len, &line, &col, &why);
        if (item) {
            *out = item;
            return RT_OK;
        }
        if (!had_newline && feof(r->fp) && strstr(why, "too early"))
            why = "last line is truncated (no closing newline and incomplete JSON)";
        if (r->mode == RT_JSONL_STOP)
            return rt_err_set(err, RT_EFORMAT, "%s:%zu:%zu: %s", r->path, r->line_no, col, why);
        r->skipped++;
        rt_log_warn("%s:%zu:%zu: skipping malformed line: %s", r->path, r->line_no, col, why);
    }
}

void rt_jsonl_close(rt_jsonl_reader *r) {
    if (r->fp && r->owns_fp) fclose(r->fp);
    free(r->path);
    free(r->line);
    memset(r, 0, sizeof *r);
}

static rt_status field_missing(const char *key, const char *want, rt_error *err) {
    return rt_err_set(err, RT_EFORMAT, "field '%s': missing (expected %s)", key, want);
}

static rt_status field_type(const char *key, const char *want, rt_error *err) {
    return rt_err_set(err, RT_EFORMAT, "field '%s': expected %s", key, want);
}

static const cJSON *field(const cJSON *obj, const char *key) {
    if (!cJSON_IsObject(obj)) return NULL;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (f && cJSON_IsNull(f)) return NULL;
    return f;
}

rt_status rt_json_get_string(const cJSON *obj, const char *key, const char **out, rt_error *err) {
    const cJSON *f = field(obj, key);
    if (!f) return field_missing(key, "a string", err);
    if (!cJSON_IsString(f)) return field_type(key, "a string", err);
    *out = f->valuestring;
    return RT_OK;
}

rt_status rt_json_get_double(const cJSON *obj, const char *key, double *out, rt_error *err) {
    const cJSON *f = field(obj, key);
    if (!f) return field_missing(key, "a number", err);
    if (!cJSON_IsNumber(f)) return field_type(key, "a number", err);
    *out = f->valuedouble;
    return RT_OK;
}

rt_status rt_json_get_int(const cJSON *obj, const char *key, int64_t *out, rt_error *err) {
    const cJSON *f = field(obj, key);
    if (!f) return field_missing(key, "an integer", err);
    double v = f->valuedouble;
    if (!cJSON_IsNumber(f) || v != floor(v) || fabs(v) > 9007199254740992.0)
        return field_type(key, "an integer", err);
    *out = (int64_t)v;
    return RT_OK;
}

rt_status rt_json_get_bool(const cJSON *obj, const char *key, int *out, rt_error *err) {
    const cJSON *f = field(obj, key);
    if (!f) return field_missing(key, "true or false", err);
    if (!cJSON_IsBool(f)) return field_type(key, "true or false", err);
    *out = cJSON_IsTrue(f);
    return RT_OK;
}

rt_status rt_json_opt_string(const cJSON *obj, const char *key, const char **out, rt_error *err) {
    return field(obj, key) ? rt_json_get_string(obj, key, out, err) : RT_OK;
}

rt_status rt_json_opt_int(const cJSON *obj, const char *key, int64_t *out, rt_error *err) {
    return field(obj, key) ? rt_json_get_int(obj, key, out, err) : RT_OK;
}

rt_status rt_json_opt_double(const cJSON *obj, const char *key, double *out, rt_error *err) {
    return field(obj, key) ? rt_json_get_double(obj, key, out, err) : RT_OK;
}

rt_status rt_json_opt_bool(const cJSON *obj, const char *key, int *out, rt_error *err) {
    return field(obj, key) ? rt_json_get_bool(obj, key, out, err) : RT_OK;
}
