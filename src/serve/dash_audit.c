#include "serve/dash_audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* What the line callback needs: the view, the file and where its lines go in c. */
typedef struct seg_ctx {
    dash_audit *a;
    size_t s;
    int reset;
} seg_ctx;

static void reset(void *ctx) {
    ((seg_ctx *)ctx)->reset = 1;
}

/* The request N and sample K of a trajectory name "p<N>-s<K>" (left 0 when the name has another form). */
static void trajectory(const char *s, dash_call *c) {
    char *e;
    if (*s != 'p' || s[1] < '0' || s[1] > '9') return;
    unsigned long n = strtoul(s + 1, &e, 10);
    if (e[0] != '-' || e[1] != 's' || e[2] < '0' || e[2] > '9') return;
    unsigned long k = strtoul(e + 2, &e, 10);
    if (*e) return;
    c->request = (uint32_t)n;
    c->sample = (uint16_t)k;
}

static rt_status line(void *ctx, size_t line_no, const char *text, size_t len, const void *rec, rt_error *err) {
    (void)rec;
    seg_ctx *sc = ctx;
    dash_audit *a = sc->a;
    const char *path = a->seg[sc->s].path;
    size_t at = a->first[sc->s] + line_no;
    if (at >= a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 1024;
        dash_call *n = realloc(a->c, nc * sizeof *n);
        if (!n) return rt_err_set(err, RT_ENOMEM, "out of memory indexing %s", path);
        a->c = n;
        a->cap = nc;
    }
    a->n = at + 1;
    dash_call *c = &a->c[at];
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
            trajectory(s, c);
        }
    }
    if (o.bad || dash_js_ws(o.p, end) != end)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no + 1);
    if (!have_time) return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'time' must be a number", path, line_no + 1);
    return RT_OK;
}

rt_status dash_audit_init(dash_audit *a, const char *path, rt_error *err) {
    memset(a, 0, sizeof *a);
    a->path = strdup(path);
    return a->path ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
}

static void drop_files(dash_audit *a) {
    for (size_t s = 0; s < a->nseg; s++)
        dash_lines_free(&a->seg[s]);
    free(a->seg);
    free(a->first);
    a->seg = NULL;
    a->first = NULL;
    a->nseg = 0;
    a->n = 0;
}

void dash_audit_free(dash_audit *a) {
    drop_files(a);
    free(a->path);
    free(a->c);
    memset(a, 0, sizeof *a);
}

size_t dash_audit_bytes(const dash_audit *a) {
    size_t b = 0;
    for (size_t s = 0; s < a->nseg; s++)
        b += (size_t)a->seg[s].off[a->seg[s].n];
    return b;
}

/* Sets up one index per file: the rotated ones that exist (FILE.1, FILE.2, ... up to the first missing), oldest
 * first, then FILE. */
static rt_status open_files(dash_audit *a, rt_error *err) {
    size_t k = 0, n = strlen(a->path) + 16;
    char *name = malloc(n);
    if (!name) return rt_err_set(err, RT_ENOMEM, "out of memory");
    while (k + 1 < DASH_AUDIT_MAX_FILES) {
        snprintf(name, n, "%s.%zu", a->path, k + 1);
        if (access(name, F_OK) != 0) break;
        k++;
    }
    a->seg = calloc(k + 1, sizeof *a->seg);
    a->first = calloc(k + 1, sizeof *a->first);
    rt_status st = a->seg && a->first ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t s = 0; s <= k && !st; s++) {
        if (s < k) snprintf(name, n, "%s.%zu", a->path, k - s);
        st = dash_lines_init(&a->seg[s], s < k ? name : a->path, err);
        if (!st) a->nseg++;
    }
    free(name);
    return st;
}

/* 1 when FILE is no longer the file the last index reads (rotated, replaced or gone), or was never opened. */
static int rotated(const dash_audit *a) {
    const dash_lines *x = &a->seg[a->nseg - 1];
    struct stat st;
    /* Never opened (FILE did not exist): look again for rotated files too; nothing is lost by it. */
    if (x->fd < 0) return 1;
    return stat(a->path, &st) != 0 || st.st_ino != x->ino || st.st_dev != x->dev;
}

rt_status dash_audit_refresh(dash_audit *a, rt_error *err) {
    rt_status st = RT_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!a->nseg || rotated(a)) {
            drop_files(a);
            if ((st = open_files(a, err))) return st;
        }
        /* Rotated files are whole; only FILE grows. Each is read from where its index ends. */
        int again = 0;
        for (size_t s = 0; s < a->nseg && !st; s++) {
            if (s) a->first[s] = a->first[s - 1] + a->seg[s - 1].n;
            seg_ctx sc = {a, s, 0};
            dash_lines_ops ops = {.reset = reset, .line = line, .ctx = &sc};
            st = dash_lines_refresh(&a->seg[s], &ops, err);
            again |= sc.reset && s + 1 < a->nseg;
        }
        a->n = a->first[a->nseg - 1] + a->seg[a->nseg - 1].n;
        if (st || !again) return st;
        /* A rotated file changed under the index (a rotation while reading): read everything anew. */
        drop_files(a);
    }
    return st;
}

/* The file holding call i, and i's line in it. */
static size_t seg_of(const dash_audit *a, size_t i, size_t *line) {
    size_t s = a->nseg - 1;
    while (s && a->first[s] > i)
        s--;
    *line = i - a->first[s];
    return s;
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
    size_t len, ln, s = seg_of(a, i, &ln);
    if (dash_lines_read(&a->seg[s], ln, &text, &len, err)) return NULL;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    if (!o) {
        rt_err_set(err, RT_EFORMAT, "%s:%zu: not JSON", a->seg[s].path, ln + 1);
        return NULL;
    }
    cJSON_AddStringToObject(o, "file", a->seg[s].path);
    cJSON_AddNumberToObject(o, "line", (double)(ln + 1));
    cJSON_AddNumberToObject(o, "request", a->c[i].request);
    cJSON_AddNumberToObject(o, "sample", a->c[i].sample);
    return o;
}

static int passes(const dash_call *c, const dash_audit_filter *f) {
    return !c->blank && (f->request < 0 || c->request == (uint64_t)f->request) && c->time >= f->from &&
           (f->to <= 0 || c->time <= f->to) && (f->status < 0 || c->status == f->status);
}

/* What a text search keeps between lines: the text as the log writes it, and a buffer to decode into. */
typedef struct text_search {
    const char *text;
    char *needle, *buf;
    size_t needle_len, buf_cap;
} text_search;

/* 1 when line [p, p + len) holds the text in its code or output; -1 when out of memory. */
static int holds(text_search *t, const char *p, size_t len) {
    if (!memmem(p, len, t->needle, t->needle_len)) return 0;
    if (len + 1 > t->buf_cap) {
        free(t->buf);
        t->buf_cap = len + 1;
        t->buf = malloc(t->buf_cap);
        if (!t->buf) return -1;
    }
    return text_in(p, p + len, t->text, t->buf, t->buf_cap);
}

/* The part of one file a text search has read: lines are visited newest first, so each read is a block that ends
 * with the line asked for. */
typedef struct window {
    char *buf;
    size_t cap;
    uint64_t from, to; /* file offsets of buf[0] and of its end */
} window;

#define SEARCH_BLOCK (1u << 20)

/* The text of line ln of x (with its newline), read through w; NULL with err set when it cannot be read, as when the
 * file was cut shorter since it was indexed. */
static const char *window_line(window *w, const dash_lines *x, size_t ln, rt_error *err) {
    uint64_t a = x->off[ln], b = x->off[ln + 1];
    if (a >= w->from && b <= w->to) return w->buf + (a - w->from);
    uint64_t from = b > SEARCH_BLOCK ? b - SEARCH_BLOCK : 0;
    if (from > a) from = a;
    size_t n = (size_t)(b - from), got = 0;
    if (n > w->cap) {
        char *nb = realloc(w->buf, n);
        if (!nb) return rt_err_set(err, RT_ENOMEM, "out of memory"), NULL;
        w->buf = nb;
        w->cap = n;
    }
    w->from = w->to = 0;
    while (got < n) {
        ssize_t r = pread(x->fd, w->buf + got, n - got, (off_t)(from + got));
        if (r < 0) return rt_err_errno(err, RT_EIO, errno, "reading %s", x->path), NULL;
        if (r == 0)
            return rt_err_set(err, RT_EIO, "%s was cut shorter while it was searched (line %zu is gone); search again",
                              x->path, ln + 1),
                   NULL;
        got += (size_t)r;
    }
    w->from = from;
    w->to = b;
    return w->buf + (a - from);
}

rt_status dash_audit_search(dash_audit *a, const dash_audit_filter *f, size_t offset, size_t limit, cJSON **out,
                            rt_error *err) {
    text_search t = {f->text && *f->text ? f->text : NULL, NULL, NULL, 0, 0};
    if (t.text) {
        t.needle = escaped(t.text);
        if (!t.needle) return rt_err_set(err, RT_ENOMEM, "out of memory");
        t.needle_len = strlen(t.needle);
    }
    cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
    size_t total = 0;
    rt_status st = o && items ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
    /* Newest first: the files from FILE back to the oldest rotated one, each from its end. */
    for (size_t s = a->nseg; s-- > 0 && !st;) {
        const dash_lines *x = &a->seg[s];
        window w = {NULL, 0, 0, 0};
        for (size_t ln = x->n; ln-- > 0 && !st;) {
            size_t i = a->first[s] + ln;
            if (!passes(&a->c[i], f)) continue;
            if (t.text) {
                const char *p = window_line(&w, x, ln, err);
                int h = p ? holds(&t, p, (size_t)(x->off[ln + 1] - x->off[ln])) : 0;
                if (!p) st = err->status;
                if (h < 0) st = rt_err_set(err, RT_ENOMEM, "out of memory");
                if (h <= 0) continue;
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
        free(w.buf);
    }
    free(t.needle);
    free(t.buf);
    if (st) {
        cJSON_Delete(o);
        cJSON_Delete(items);
        return st;
    }
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    cJSON_AddItemToObject(o, "items", items);
    *out = o;
    return RT_OK;
}
