#include "serve/dash_queue.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "serve/dash_jscan.h"
#include "serve/dash_qline.h"
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
    q->ntag_hash = 0;
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

uint32_t dash_queue_hash(const char *s) {
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
    return (long)q->slots[probe(q, id, dash_queue_hash(id))].entry - 1;
}

void dash_queue_slot_insert(dash_queue *q, size_t i) {
    uint32_t h = dash_queue_hash(dash_queue_id(q, i));
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

/* The tag of a request's user (h: its dash_queue_hash), added when new. */
static uint16_t tag_of(dash_queue *q, const char *user, uint32_t h) {
    if (!*user) return 0;
    for (; q->ntag_hash < q->ntags; q->ntag_hash++)
        q->tag_hash[q->ntag_hash] = dash_queue_hash(q->tags[q->ntag_hash]);
    for (size_t i = 1; i < q->ntags; i++)
        if (q->tag_hash[i] == h && !strcmp(q->tags[i], user)) return (uint16_t)i;
    /* The last slot is "(other)", for every tag past the table's size. */
    if (q->ntags == DASH_MAX_TAGS) return DASH_MAX_TAGS - 1;
    int full = q->ntags == DASH_MAX_TAGS - 1;
    char *t = strdup(full ? "(other)" : user);
    if (!t) return 0;
    q->tags[q->ntags] = t;
    return (uint16_t)q->ntags++;
}

static rt_status add_entry(dash_queue *q, size_t line_no, const dash_qline *r, const char *id, rt_error *err) {
    const char *path = q->lines.path;
    size_t idlen = strlen(id) + 1;
    rt_status st = (q->n + 1) * 2 > q->nslots ? rehash(q, err) : RT_OK;
    if (st) return st;
    uint32_t h = r->id_hash;
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
    e->tag = tag_of(q, r->user, r->user_hash);
    memcpy(q->ids + q->ids_len, id, idlen);
    q->ids_len += idlen;
    q->slots[k] = (struct dash_slot){(uint32_t)q->n + 1, h};
    q->n++;
    return RT_OK;
}

/* Reads one line (on two threads at once: it touches only its record). */
static void parse(const char *text, size_t len, void *rec) {
    dash_qline_read(text, len, rec);
}

/* Fetches the id hash slot a line will look at into the cache (a miss per line otherwise: the table is large). */
static void ahead(void *ctx, const void *rec) {
    const dash_queue *q = ctx;
    const dash_qline *r = rec;
    if (r->what == DASH_QLINE_ENTRY || r->what == DASH_QLINE_DECISION)
        __builtin_prefetch(&q->slots[r->id_hash & (q->nslots - 1)]);
}

static rt_status line(void *ctx, size_t line_no, const char *text, size_t len, const void *rec, rt_error *err) {
    dash_queue *q = ctx;
    const dash_qline *r = rec;
    const char *path = q->lines.path;
    switch (r->what) {
    case DASH_QLINE_BLANK:
        return RT_OK;
    case DASH_QLINE_NOT_OBJECT:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no + 1);
    case DASH_QLINE_NOT_STRINGS:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' and 'id' must be strings", path, line_no + 1);
    case DASH_QLINE_ID_LONG:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'id' is over %d bytes", path, line_no + 1, DASH_QLINE_ID_MAX);
    case DASH_QLINE_BAD_KIND:
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' must be \"entry\" or \"decision\", not \"%.40s\"",
                          path, line_no + 1, r->kind);
    }
    char buf[DASH_QLINE_ID_MAX + 8];
    const char *id = r->id_text;
    if (r->id_len == UINT16_MAX) id = dash_js_str(r->id, text + len, buf, sizeof buf) ? buf : "";
    if (r->what == DASH_QLINE_ENTRY) return add_entry(q, line_no, r, id, err);
    if (r->malformed) return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no + 1);
    long at = (long)q->slots[probe(q, id, r->id_hash)].entry - 1;
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
    dash_lines_ops ops = {reset, parse, sizeof(dash_qline), ahead, line, q};
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
