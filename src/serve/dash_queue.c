#include "serve/dash_queue.h"

#include <stdlib.h>
#include <string.h>

#include "serve/dash_jscan.h"
#include "serve/review.h"

const char *dash_status_name(int status) {
    return status == DASH_APPROVED ? "approved" : status == DASH_REJECTED ? "rejected" : "pending";
}

static void reset(void *ctx) {
    dash_queue *q = ctx;
    q->n = q->nd = q->ids_len = 0;
    memset(q->slots, 0, q->nslots * sizeof *q->slots);
    for (size_t i = 1; i < q->ntags; i++)
        free(q->tags[i]);
    q->ntags = 1;
}

rt_status dash_queue_init(dash_queue *q, const char *path, rt_error *err) {
    memset(q, 0, sizeof *q);
    q->tags[0] = "";
    q->ntags = 1;
    q->nslots = 1024;
    q->slots = calloc(q->nslots, sizeof *q->slots);
    if (!q->slots) return rt_err_set(err, RT_ENOMEM, "out of memory");
    rt_status st = dash_lines_init(&q->lines, path, err);
    if (st) dash_queue_free(q);
    return st;
}

void dash_queue_free(dash_queue *q) {
    dash_lines_free(&q->lines);
    free(q->e);
    free(q->d);
    free(q->ids);
    free(q->slots);
    for (size_t i = 1; i < q->ntags; i++)
        free(q->tags[i]);
    memset(q, 0, sizeof *q);
}

const char *dash_queue_id(const dash_queue *q, size_t i) {
    return q->ids + q->e[i].id_off;
}

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

long dash_queue_find(const dash_queue *q, const char *id) {
    for (size_t k = hash(id) & (q->nslots - 1);; k = (k + 1) & (q->nslots - 1)) {
        uint32_t v = q->slots[k];
        if (!v) return -1;
        if (!strcmp(dash_queue_id(q, v - 1), id)) return (long)v - 1;
    }
}

static rt_status rehash(dash_queue *q, rt_error *err) {
    size_t ns = q->nslots * 2;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i < q->n; i++) {
        size_t k = hash(dash_queue_id(q, i)) & (ns - 1);
        while (s[k])
            k = (k + 1) & (ns - 1);
        s[k] = (uint32_t)i + 1;
    }
    free(q->slots);
    q->slots = s;
    q->nslots = ns;
    return RT_OK;
}

static rt_status grow(void **p, size_t *cap, size_t need, size_t size, rt_error *err) {
    if (need <= *cap) return RT_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * size);
    if (!np) return rt_err_set(err, RT_ENOMEM, "out of memory");
    *p = np;
    *cap = nc;
    return RT_OK;
}

static uint16_t tag_of(dash_queue *q, const char *user) {
    if (!*user) return 0;
    for (size_t i = 1; i < q->ntags; i++)
        if (!strcmp(q->tags[i], user)) return (uint16_t)i;
    /* The last slot is "(other)", for every tag past the table's size. */
    if (q->ntags == DASH_MAX_TAGS) return DASH_MAX_TAGS - 1;
    int full = q->ntags == DASH_MAX_TAGS - 1;
    char *t = strdup(full ? "(other)" : user);
    if (!t) return 0;
    q->tags[q->ntags] = t;
    return (uint16_t)q->ntags++;
}

/* The review reasons of the array at p, as bits; the end of the array in *after. */
static uint8_t reason_bits(const char *p, const char *end, const char **after, int *bad) {
    uint8_t bits = 0;
    *after = NULL;
    p = dash_js_ws(p, end);
    if (p >= end || *p != '[') {
        *after = dash_js_skip(p, end);
        if (!*after) *bad = 1;
        return 0;
    }
    const char *e = dash_js_ws(p + 1, end);
    if (e < end && *e == ']') {
        *after = e + 1;
        return 0;
    }
    while (e && !*bad) {
        char name[40];
        const char *ee = dash_js_str(e, end, name, sizeof name);
        if (!ee) return *bad = 1, 0;
        for (unsigned b = 0; b < SERVE_REVIEW_NREASONS; b++)
            if (!strcmp(name, serve_review_reason_name(1u << b))) bits |= (uint8_t)(1u << b);
        e = dash_js_after_elem(ee, end, after, bad);
    }
    return bits;
}

/* One sample (a choice): its wall time and tool calls. */
static void sample(const char *p, const char *end, dash_entry *e, const char **after, int *bad) {
    dash_js_iter c, x;
    double d;
    e->samples++;
    for (dash_js_iter_init(&c, p, end); dash_js_member(&c);) {
        if (!dash_js_key_is(&c, "retool")) continue;
        for (dash_js_iter_init(&x, c.val, end); dash_js_member(&x);) {
            if (dash_js_key_is(&x, "wall_s") && dash_js_num(x.val, end, &d) && d > e->wall_s) e->wall_s = (float)d;
            if (!dash_js_key_is(&x, "tool_calls")) continue;
            int b = 0;
            for (const char *t = dash_js_first(x.val, end, &b); t; t = dash_js_next(t, end, &b))
                e->tool_calls++;
            *bad |= b;
        }
        *bad |= x.bad;
        c.val = NULL, c.p = x.p;
    }
    *bad |= c.bad;
    *after = c.p;
}

/* The completion: the reasons of the request (its top-level retool object) and each sample. */
static void completion(const char *p, const char *end, dash_entry *e, const char **after, int *bad) {
    dash_js_iter c, x;
    for (dash_js_iter_init(&c, p, end); dash_js_member(&c) && !*bad;) {
        if (dash_js_key_is(&c, "retool")) {
            for (dash_js_iter_init(&x, c.val, end); dash_js_member(&x) && !*bad;) {
                if (!dash_js_key_is(&x, "review_reasons")) continue;
                e->reasons = reason_bits(x.val, end, &x.p, bad);
                x.val = NULL;
            }
            *bad |= x.bad;
            c.val = NULL, c.p = x.p;
        } else if (dash_js_key_is(&c, "choices")) {
            const char *q = dash_js_ws(c.val, end), *el = q < end && *q == '[' ? dash_js_ws(q + 1, end) : NULL;
            if (!el) {
                *bad = 1;
                break;
            }
            if (*el == ']') {
                c.val = NULL, c.p = el + 1;
                continue;
            }
            const char *at = NULL;
            while (el && !*bad) {
                const char *ee;
                sample(el, end, e, &ee, bad);
                if (!*bad) el = dash_js_after_elem(ee, end, &at, bad);
            }
            c.val = NULL, c.p = at;
        }
    }
    *bad |= c.bad;
    *after = c.p;
}

/* The summary fields of an entry line, in one pass; 1 when the line is malformed. */
static int summarize(dash_queue *q, const char *p, const char *end, dash_entry *e) {
    int bad = 0;
    double d;
    char user[128] = "";
    dash_js_iter o, r;
    for (dash_js_iter_init(&o, p, end); dash_js_member(&o) && !bad;) {
        if (dash_js_key_is(&o, "time") && dash_js_num(o.val, end, &d)) {
            e->time = d;
        } else if (dash_js_key_is(&o, "request")) {
            for (dash_js_iter_init(&r, o.val, end); dash_js_member(&r);)
                if (dash_js_key_is(&r, "user")) dash_js_str(r.val, end, user, sizeof user);
            bad |= r.bad;
            o.val = NULL, o.p = r.p;
        } else if (dash_js_key_is(&o, "completion")) {
            completion(o.val, end, e, &o.p, &bad);
            o.val = NULL;
        }
    }
    e->tag = tag_of(q, user);
    return bad || o.bad || dash_js_ws(o.p, end) != end;
}

static rt_status add_entry(dash_queue *q, size_t line_no, const char *p, const char *end, const char *id,
                           rt_error *err) {
    const char *path = q->lines.path;
    if (dash_queue_find(q, id) >= 0)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: entry %s appears twice", path, line_no + 1, id);
    size_t idlen = strlen(id) + 1;
    rt_status st = grow((void **)&q->e, &q->cap, q->n + 1, sizeof *q->e, err);
    if (!st) st = grow((void **)&q->ids, &q->ids_cap, q->ids_len + idlen, 1, err);
    if (!st && (q->n + 1) * 2 > q->nslots) st = rehash(q, err);
    if (st) return st;
    dash_entry *e = &q->e[q->n];
    memset(e, 0, sizeof *e);
    e->line = (uint32_t)line_no;
    e->id_off = (uint32_t)q->ids_len;
    const char *dash = strrchr(id, '-');
    e->request = dash ? (uint32_t)strtoul(dash + 1, NULL, 10) : 0;
    if (summarize(q, p, end, e))
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: malformed JSON in entry %s", path, line_no + 1, id);
    memcpy(q->ids + q->ids_len, id, idlen);
    q->ids_len += idlen;
    size_t k = hash(id) & (q->nslots - 1);
    while (q->slots[k])
        k = (k + 1) & (q->nslots - 1);
    q->slots[k] = (uint32_t)q->n + 1;
    q->n++;
    return RT_OK;
}

static rt_status line(void *ctx, size_t line_no, const char *text, size_t len, rt_error *err) {
    dash_queue *q = ctx;
    const char *path = q->lines.path, *end = text + len, *p = dash_js_ws(text, end);
    if (p == end) return RT_OK; /* blank line */
    int bad = 0;
    char kind[16], id[1024];
    const char *k = dash_js_get(p, end, "kind", &bad), *i = dash_js_get(p, end, "id", &bad);
    if (bad || *p != '{') return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no + 1);
    if (!k || !i || !dash_js_str(k, end, kind, sizeof kind) || !dash_js_str(i, end, id, sizeof id))
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' and 'id' must be strings", path, line_no + 1);
    const char *id_end = dash_js_skip(i, end);
    if (!id_end || (size_t)(id_end - dash_js_ws(i, end)) > sizeof id - 8)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'id' is over %zu bytes", path, line_no + 1, sizeof id - 8);
    if (!strcmp(kind, "entry")) return add_entry(q, line_no, p, end, id, err);
    if (strcmp(kind, "decision"))
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' must be \"entry\" or \"decision\", not \"%.40s\"",
                          path, line_no + 1, kind);
    const char *after = dash_js_skip(p, end);
    if (!after || dash_js_ws(after, end) != end)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no + 1);
    long at = dash_queue_find(q, id);
    if (at < 0)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: decision on %s, which has no entry before it", path, line_no + 1,
                          id);
    char dec[16] = "";
    const char *d = dash_js_get(p, end, "decision", &bad);
    if (!d || !dash_js_str(d, end, dec, sizeof dec) || (strcmp(dec, "approved") && strcmp(dec, "rejected")))
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'decision' must be \"approved\" or \"rejected\"", path,
                          line_no + 1);
    rt_status st = grow((void **)&q->d, &q->dcap, q->nd + 1, sizeof *q->d, err);
    if (st) return st;
    q->d[q->nd++] = (dash_decision){(uint32_t)at, (uint32_t)line_no};
    q->e[at].status = !strcmp(dec, "approved") ? DASH_APPROVED : DASH_REJECTED;
    return RT_OK;
}

rt_status dash_queue_refresh(dash_queue *q, rt_error *err) {
    /* A malformed line is not indexed: each refresh reads it again and reports it, until the file is replaced. */
    dash_lines_ops ops = {reset, line, q};
    return dash_lines_refresh(&q->lines, &ops, err);
}

rt_status dash_queue_entry_json(const dash_queue *q, size_t i, cJSON **out, rt_error *err) {
    char *text;
    size_t len;
    rt_status st = dash_lines_read(&q->lines, q->e[i].line, &text, &len, err);
    if (st) return st;
    *out = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*out) return rt_err_set(err, RT_EFORMAT, "%s:%u: not JSON", q->lines.path, q->e[i].line + 1);
    return RT_OK;
}

rt_status dash_queue_decisions_json(const dash_queue *q, size_t i, cJSON **out, rt_error *err) {
    cJSON *a = cJSON_CreateArray();
    if (!a) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t k = 0; k < q->nd; k++) {
        if (q->d[k].entry != i) continue;
        char *text;
        size_t len;
        rt_status st = dash_lines_read(&q->lines, q->d[k].line, &text, &len, err);
        if (st) {
            cJSON_Delete(a);
            return st;
        }
        cJSON *o = cJSON_ParseWithLength(text, len);
        free(text);
        if (!o) {
            cJSON_Delete(a);
            return rt_err_set(err, RT_EFORMAT, "%s:%u: not JSON", q->lines.path, q->d[k].line + 1);
        }
        cJSON_AddItemToArray(a, o);
    }
    *out = a;
    return RT_OK;
}
