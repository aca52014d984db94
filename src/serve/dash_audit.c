#include "serve/dash_audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "serve/dash_jscan.h"

static const char *const names[DASH_CALL_NSTATUS] = {"ok", "error", "timeout", "sandbox_error", "refused", "other"};

const char *dash_call_status_name(int status) {
    return status >= 0 && status < DASH_CALL_NSTATUS ? names[status] : "other";
}

int dash_call_status_parse(const char *name) {
    for (int i = 0; i < DASH_CALL_NSTATUS; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

static void reset(void *ctx) {
    (void)ctx;
}

static rt_status line(void *ctx, size_t line_no, const char *text, size_t len, rt_error *err) {
    dash_audit *a = ctx;
    if (line_no >= a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 1024;
        dash_call *n = realloc(a->c, nc * sizeof *n);
        if (!n) return rt_err_set(err, RT_ENOMEM, "out of memory indexing %s", a->lines.path);
        a->c = n;
        a->cap = nc;
    }
    dash_call *c = &a->c[line_no];
    memset(c, 0, sizeof *c);
    const char *end = text + len, *p = dash_js_ws(text, end);
    if (p == end) return c->blank = 1, RT_OK;
    double d;
    char s[64];
    int have_time = 0;
    c->status = DASH_CALL_OTHER;
    dash_js_iter o;
    for (dash_js_iter_init(&o, p, end); dash_js_member(&o);) {
        if (dash_js_key_is(&o, "time")) {
            have_time = dash_js_num(o.val, end, &d) != NULL;
            c->time = d;
        } else if (dash_js_key_is(&o, "latency_s") && dash_js_num(o.val, end, &d)) {
            c->latency_s = (float)d;
        } else if (dash_js_key_is(&o, "status") && dash_js_str(o.val, end, s, sizeof s)) {
            int st = dash_call_status_parse(s);
            c->status = (uint8_t)(st < 0 ? DASH_CALL_OTHER : st);
        } else if (dash_js_key_is(&o, "trajectory") && dash_js_str(o.val, end, s, sizeof s)) {
            unsigned long long n = 0, k = 0;
            if (sscanf(s, "p%llu-s%llu", &n, &k) == 2) c->request = (uint32_t)n, c->sample = (uint16_t)k;
        }
    }
    if (o.bad || dash_js_ws(o.p, end) != end)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", a->lines.path, line_no + 1);
    if (!have_time)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'time' must be a number", a->lines.path, line_no + 1);
    return RT_OK;
}

rt_status dash_audit_init(dash_audit *a, const char *path, rt_error *err) {
    memset(a, 0, sizeof *a);
    return dash_lines_init(&a->lines, path, err);
}

void dash_audit_free(dash_audit *a) {
    dash_lines_free(&a->lines);
    free(a->c);
    memset(a, 0, sizeof *a);
}

rt_status dash_audit_refresh(dash_audit *a, rt_error *err) {
    dash_lines_ops ops = {reset, line, a};
    return dash_lines_refresh(&a->lines, &ops, err);
}

/* 1 when the decoded code or output of the line holds text. */
static int text_in(const char *p, const char *end, const char *text, char *buf, size_t cap) {
    static const char *const keys[] = {"code", "output"};
    for (int k = 0; k < 2; k++) {
        int bad = 0;
        const char *v = dash_js_get(p, end, keys[k], &bad);
        if (v && dash_js_str(v, end, buf, cap) && strstr(buf, text)) return 1;
    }
    return 0;
}

/* The needle as cJSON writes it inside a string (the audit log's writer), without the quotes. */
static char *escaped(const char *text) {
    cJSON *s = cJSON_CreateString(text);
    char *e = s ? cJSON_PrintUnformatted(s) : NULL;
    cJSON_Delete(s);
    if (!e) return NULL;
    size_t n = strlen(e);
    memmove(e, e + 1, n - 2);
    e[n - 2] = 0;
    return e;
}

static cJSON *item(const dash_audit *a, size_t i, rt_error *err) {
    char *text;
    size_t len;
    if (dash_lines_read(&a->lines, i, &text, &len, err)) return NULL;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    if (!o) {
        rt_err_set(err, RT_EFORMAT, "%s:%zu: not JSON", a->lines.path, i + 1);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "line", (double)(i + 1));
    cJSON_AddNumberToObject(o, "request", a->c[i].request);
    cJSON_AddNumberToObject(o, "sample", a->c[i].sample);
    return o;
}

rt_status dash_audit_search(dash_audit *a, const dash_audit_filter *f, size_t offset, size_t limit, cJSON **out,
                            rt_error *err) {
    size_t n = a->lines.n;
    const char *map = NULL;
    size_t map_len = n ? (size_t)a->lines.off[n] : 0;
    char *needle = NULL, *buf = NULL;
    size_t needle_len = 0, buf_cap = 0;
    if (f->text && *f->text && map_len) {
        needle = escaped(f->text);
        if (!needle) return rt_err_set(err, RT_ENOMEM, "out of memory");
        needle_len = strlen(needle);
        void *m = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, a->lines.fd, 0);
        if (m == MAP_FAILED) {
            free(needle);
            return rt_err_errno(err, RT_EIO, errno, "cannot map %s", a->lines.path);
        }
        map = m;
    }
    cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
    size_t total = 0;
    rt_status st = RT_OK;
    for (size_t i = n; i-- > 0 && !st;) {
        const dash_call *c = &a->c[i];
        if (c->blank || (f->request >= 0 && c->request != (uint64_t)f->request) || c->time < f->from ||
            (f->to > 0 && c->time > f->to) || (f->status >= 0 && c->status != f->status))
            continue;
        if (map) {
            const char *p = map + a->lines.off[i];
            size_t len = (size_t)(a->lines.off[i + 1] - a->lines.off[i]);
            if (!memmem(p, len, needle, needle_len)) continue;
            if (len + 1 > buf_cap) {
                free(buf);
                buf_cap = len + 1;
                buf = malloc(buf_cap);
                if (!buf) {
                    st = rt_err_set(err, RT_ENOMEM, "out of memory");
                    break;
                }
            }
            if (!text_in(p, p + len, f->text, buf, buf_cap)) continue;
        }
        if (total >= offset && total < offset + limit) {
            cJSON *it = item(a, i, err);
            if (!it)
                st = err->status ? err->status : RT_ENOMEM;
            else
                cJSON_AddItemToArray(items, it);
        }
        total++;
    }
    if (map) munmap((void *)map, map_len);
    free(needle);
    free(buf);
    if (st || !o || !items) {
        cJSON_Delete(o);
        cJSON_Delete(items);
        return st ? st : rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    cJSON_AddItemToObject(o, "items", items);
    *out = o;
    return RT_OK;
}
