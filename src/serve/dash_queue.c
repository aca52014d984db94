#include "serve/dash_queue.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "serve/dash_jscan.h"
#include "serve/dash_qsave.h"
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
    q->saved = 0;
}

rt_status dash_queue_init(dash_queue *q, const char *path, rt_error *err) {
    memset(q, 0, sizeof *q);
    q->tags[0] = "";
    q->ntags = 1;
    q->nslots = 1024;
    q->save_every = DASH_QSAVE_BYTES;
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

static uint32_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (uint32_t)(h ^ h >> 32);
}

/* The slot holding id, or the empty one where it would go. */
static size_t probe(const dash_queue *q, const char *id, uint32_t h) {
    for (size_t k = h & (q->nslots - 1);; k = (k + 1) & (q->nslots - 1)) {
        const struct dash_slot *s = &q->slots[k];
        if (!s->entry || (s->hash == h && !strcmp(dash_queue_id(q, s->entry - 1), id))) return k;
    }
}

long dash_queue_find(const dash_queue *q, const char *id) {
    return (long)q->slots[probe(q, id, hash(id))].entry - 1;
}

void dash_queue_slot_insert(dash_queue *q, size_t i) {
    uint32_t h = hash(dash_queue_id(q, i));
    size_t k = h & (q->nslots - 1);
    while (q->slots[k].entry)
        k = (k + 1) & (q->nslots - 1);
    q->slots[k] = (struct dash_slot){(uint32_t)i + 1, h};
}

static rt_status rehash(dash_queue *q, rt_error *err) {
    size_t ns = q->nslots * 2;
    struct dash_slot *s = calloc(ns, sizeof *s);
    if (!s) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i < q->nslots; i++) {
        if (!q->slots[i].entry) continue;
        size_t k = q->slots[i].hash & (ns - 1);
        while (s[k].entry)
            k = (k + 1) & (ns - 1);
        s[k] = q->slots[i];
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

/* The summary fields of an entry line, in one pass (the user's JSON string in *user, NULL when none); 1 when the
 * line is malformed. */
static int summarize(const char *p, const char *end, dash_entry *e, const char **user) {
    int bad = 0;
    double d;
    dash_js_iter o, r;
    for (dash_js_iter_init(&o, p, end); dash_js_member(&o) && !bad;) {
        if (dash_js_key_is(&o, "time") && dash_js_num(o.val, end, &d)) {
            e->time = d;
        } else if (dash_js_key_is(&o, "request")) {
            for (dash_js_iter_init(&r, o.val, end); dash_js_member(&r);)
                if (dash_js_key_is(&r, "user")) *user = r.val;
            bad |= r.bad;
            o.val = NULL, o.p = r.p;
        } else if (dash_js_key_is(&o, "completion")) {
            completion(o.val, end, e, &o.p, &bad);
            o.val = NULL;
        }
    }
    return bad || o.bad || dash_js_ws(o.p, end) != end;
}

/* What parse makes of a line, for line() to apply in order. */
enum { REC_BLANK, REC_ENTRY, REC_DECISION, REC_NOT_OBJECT, REC_NOT_STRINGS, REC_ID_LONG, REC_BAD_KIND };
typedef struct queue_rec {
    dash_entry e;          /* an entry's summary (its line, id and tag are set by line()) */
    const char *id, *user; /* the JSON strings of the id and the request's user (NULL: none) in the line */
    uint8_t what;          /* REC_* */
    uint8_t malformed;     /* an entry whose summary is unreadable, a decision that is not one object */
    uint8_t decision;      /* DASH_APPROVED, DASH_REJECTED, or DASH_PENDING when the field is bad */
    char kind[16];
} queue_rec;

#define ID_MAX 1016 /* bytes of an id, as written */

/* Reads one line without touching the view (run on two threads at once). */
static void parse(const char *text, size_t len, void *out) {
    queue_rec *r = out;
    memset(r, 0, offsetof(queue_rec, kind) + 1);
    const char *end = text + len, *p = dash_js_ws(text, end);
    if (p == end) return; /* blank line */
    int bad = 0;
    char id[ID_MAX + 8];
    const char *k = dash_js_get(p, end, "kind", &bad), *i = dash_js_get(p, end, "id", &bad);
    if (bad || *p != '{') {
        r->what = REC_NOT_OBJECT;
        return;
    }
    if (!k || !i || !dash_js_str(k, end, r->kind, sizeof r->kind) || !dash_js_str(i, end, id, sizeof id)) {
        r->what = REC_NOT_STRINGS;
        return;
    }
    const char *id_end = dash_js_skip(i, end);
    if (!id_end || (size_t)(id_end - dash_js_ws(i, end)) > ID_MAX) {
        r->what = REC_ID_LONG;
        return;
    }
    r->id = i;
    if (!strcmp(r->kind, "entry")) {
        r->what = REC_ENTRY;
        const char *dash = strrchr(id, '-');
        r->e.request = dash ? (uint32_t)strtoul(dash + 1, NULL, 10) : 0;
        r->malformed = (uint8_t)summarize(p, end, &r->e, &r->user);
        return;
    }
    if (strcmp(r->kind, "decision")) {
        r->what = REC_BAD_KIND;
        return;
    }
    r->what = REC_DECISION;
    const char *after = dash_js_skip(p, end);
    r->malformed = !after || dash_js_ws(after, end) != end;
    char dec[16] = "";
    const char *d = dash_js_get(p, end, "decision", &bad);
    if (d && dash_js_str(d, end, dec, sizeof dec))
        r->decision = !strcmp(dec, "approved") ? DASH_APPROVED : !strcmp(dec, "rejected") ? DASH_REJECTED : 0;
}

static rt_status add_entry(dash_queue *q, size_t line_no, const queue_rec *r, const char *end, const char *id,
                           rt_error *err) {
    const char *path = q->lines.path;
    size_t idlen = strlen(id) + 1;
    rt_status st = (q->n + 1) * 2 > q->nslots ? rehash(q, err) : RT_OK;
    if (st) return st;
    uint32_t h = hash(id);
    size_t k = probe(q, id, h);
    if (q->slots[k].entry) return rt_err_set(err, RT_EFORMAT, "%s:%zu: entry %s appears twice", path, line_no + 1, id);
    if (r->malformed) return rt_err_set(err, RT_EFORMAT, "%s:%zu: malformed JSON in entry %s", path, line_no + 1, id);
    st = grow((void **)&q->e, &q->cap, q->n + 1, sizeof *q->e, err);
    if (!st) st = grow((void **)&q->ids, &q->ids_cap, q->ids_len + idlen, 1, err);
    if (st) return st;
    dash_entry *e = &q->e[q->n];
    *e = r->e;
    e->line = (uint32_t)line_no;
    e->id_off = (uint32_t)q->ids_len;
    char user[128] = "";
    if (r->user && !dash_js_str(r->user, end, user, sizeof user)) user[0] = 0;
    e->tag = tag_of(q, user);
    memcpy(q->ids + q->ids_len, id, idlen);
    q->ids_len += idlen;
    q->slots[k] = (struct dash_slot){(uint32_t)q->n + 1, h};
    q->n++;
    return RT_OK;
}

static rt_status line(void *ctx, size_t line_no, const char *text, size_t len, const void *rec, rt_error *err) {
    dash_queue *q = ctx;
    const queue_rec *r = rec;
    const char *path = q->lines.path, *end = text + len;
    switch (r->what) {
    case REC_BLANK:
        return RT_OK;
    case REC_NOT_OBJECT:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no + 1);
    case REC_NOT_STRINGS:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' and 'id' must be strings", path, line_no + 1);
    case REC_ID_LONG:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'id' is over %d bytes", path, line_no + 1, ID_MAX);
    case REC_BAD_KIND:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' must be \"entry\" or \"decision\", not \"%.40s\"",
                          path, line_no + 1, r->kind);
    }
    char id[ID_MAX + 8];
    dash_js_str(r->id, end, id, sizeof id);
    if (r->what == REC_ENTRY) return add_entry(q, line_no, r, end, id, err);
    if (r->malformed) return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no + 1);
    long at = dash_queue_find(q, id);
    if (at < 0)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: decision on %s, which has no entry before it", path, line_no + 1,
                          id);
    if (r->decision == DASH_PENDING)
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'decision' must be \"approved\" or \"rejected\"", path,
                          line_no + 1);
    rt_status st = grow((void **)&q->d, &q->dcap, q->nd + 1, sizeof *q->d, err);
    if (st) return st;
    q->d[q->nd++] = (dash_decision){(uint32_t)at, (uint32_t)line_no};
    q->e[at].status = r->decision;
    return RT_OK;
}

rt_status dash_queue_refresh(dash_queue *q, rt_error *err) {
    if (!q->save_tried) {
        q->save_tried = 1;
        if (dash_qsave_read(q, err) < 0) return err->status;
    }
    /* A malformed line is not indexed: each refresh reads it again and reports it, until the file is replaced. */
    dash_lines_ops ops = {reset, parse, sizeof(queue_rec), line, q};
    rt_status st = dash_lines_refresh(&q->lines, &ops, err);
    if (st || q->save_failed || q->lines.off[q->lines.n] < q->saved + q->save_every) return st;
    rt_error e;
    if (dash_qsave_write(q, &e)) {
        q->save_failed = 1;
        rt_log_warn("dashboard: cannot save the index of %s (kept in memory only): %s", q->lines.path, e.msg);
    } else {
        q->saved = q->lines.off[q->lines.n];
    }
    return RT_OK;
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
