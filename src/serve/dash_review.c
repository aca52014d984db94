#include "serve/dash_review.h"

#include <string.h>

#include "serve/review.h"

static cJSON *reasons_json(unsigned bits) {
    cJSON *a = cJSON_CreateArray();
    for (unsigned b = 0; b < SERVE_REVIEW_NREASONS; b++)
        if (bits & (1u << b)) cJSON_AddItemToArray(a, cJSON_CreateString(serve_review_reason_name(1u << b)));
    return a;
}

/* The last message's content (the question), cut to 300 bytes on a UTF-8 boundary. */
static void add_question(cJSON *item, const cJSON *entry) {
    const cJSON *msgs =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(entry, "request"), "messages");
    const cJSON *c =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1), "content");
    char buf[304] = "";
    if (cJSON_IsString(c)) {
        size_t n = strlen(c->valuestring);
        if (n > 300) {
            n = 300;
            while (n && ((unsigned char)c->valuestring[n] & 0xC0) == 0x80)
                n--;
        }
        memcpy(buf, c->valuestring, n);
        buf[n] = 0;
    }
    cJSON_AddStringToObject(item, "question", buf);
}

static cJSON *list_item(const dash_queue *q, size_t i, rt_error *err) {
    cJSON *entry;
    if (dash_queue_entry_json(q, i, &entry, err)) return NULL;
    const dash_entry *e = &q->e[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", dash_queue_id(q, i));
    cJSON_AddNumberToObject(o, "time", e->time);
    cJSON_AddStringToObject(o, "status", dash_status_name(e->status));
    cJSON_AddItemToObject(o, "reasons", reasons_json(e->reasons));
    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(entry, "completion"), "retool"), "answer");
    if (cJSON_IsString(ans))
        cJSON_AddStringToObject(o, "answer", ans->valuestring);
    else
        cJSON_AddNullToObject(o, "answer");
    add_question(o, entry);
    cJSON_AddStringToObject(o, "tag", q->tags[e->tag]);
    cJSON_AddNumberToObject(o, "request", e->request);
    cJSON_AddNumberToObject(o, "samples", e->samples);
    cJSON_AddNumberToObject(o, "tool_calls", e->tool_calls);
    cJSON_AddNumberToObject(o, "wall_s", e->wall_s);
    cJSON_Delete(entry);
    return o;
}

rt_status dash_review_list(const dash_queue *q, const dash_review_filter *f, size_t offset, size_t limit, cJSON **out,
                           rt_error *err) {
    int tag = -1;
    if (f->tag) {
        tag = DASH_MAX_TAGS; /* matches nothing unless found */
        for (size_t t = 0; t < q->ntags; t++)
            if (!strcmp(q->tags[t], f->tag)) tag = (int)t;
    }
    cJSON *o = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(o, "items");
    if (!o || !items) {
        cJSON_Delete(o);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    size_t total = 0;
    for (size_t i = q->n; i-- > 0;) {
        const dash_entry *e = &q->e[i];
        if ((f->status >= 0 && e->status != f->status) || (f->reasons && !(e->reasons & f->reasons)) ||
            (f->request >= 0 && e->request != (unsigned long long)f->request) || (tag >= 0 && e->tag != tag))
            continue;
        if (total >= offset && total < offset + limit) {
            cJSON *it = list_item(q, i, err);
            if (!it) {
                cJSON_Delete(o);
                return err->status;
            }
            cJSON_AddItemToArray(items, it);
        }
        total++;
    }
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    *out = o;
    return RT_OK;
}

rt_status dash_review_trace(const dash_queue *q, size_t i, cJSON **out, rt_error *err) {
    cJSON *entry = NULL, *dec = NULL;
    rt_status st = dash_queue_entry_json(q, i, &entry, err);
    if (!st) st = dash_queue_decisions_json(q, i, &dec, err);
    if (st) {
        cJSON_Delete(entry);
        return st;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", dash_queue_id(q, i));
    cJSON_AddStringToObject(o, "status", dash_status_name(q->e[i].status));
    cJSON_AddNumberToObject(o, "request", q->e[i].request);
    cJSON_AddItemToObject(o, "decisions", dec);
    cJSON_AddItemToObject(o, "entry", entry);
    *out = o;
    return RT_OK;
}
