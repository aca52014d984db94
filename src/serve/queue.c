#include "serve/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/json.h"
#include "base/timer.h"

rt_status serve_queue_append(const char *path, const cJSON *obj, rt_error *err) {
    char *text = cJSON_PrintUnformatted(obj);
    if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    line[len++] = '\n';
    line[len] = 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(line);
        return rt_err_errno(err, RT_EIO, errno, "cannot open review queue %s", path);
    }
    rt_status st = RT_OK;
    if (flock(fd, LOCK_EX) != 0) st = rt_err_errno(err, RT_EIO, errno, "cannot lock review queue %s", path);
    ssize_t w = st ? 0 : write(fd, line, len);
    if (!st && (w < 0 || (size_t)w != len)) {
        st = rt_err_errno(err, RT_EIO, w < 0 ? errno : ENOSPC, "writing review queue %s", path);
        /* A short write leaves a partial line: cut it off so the file stays whole lines. */
        if (w > 0) {
            off_t end = lseek(fd, 0, SEEK_END);
            if (end >= w && ftruncate(fd, end - w) != 0) rt_err_prefix(err, "and cannot truncate it back");
        }
    }
    if (!st && fsync(fd) != 0) st = rt_err_errno(err, RT_EIO, errno, "fsync of review queue %s", path);
    flock(fd, LOCK_UN);
    close(fd);
    free(line);
    return st;
}

void serve_queue_free(serve_queue *q) {
    for (size_t i = 0; i < q->n; i++) {
        cJSON_Delete(q->items[i].entry);
        cJSON_Delete(q->items[i].decisions);
    }
    free(q->items);
    memset(q, 0, sizeof *q);
}

const serve_queue_item *serve_queue_find(const serve_queue *q, const char *id) {
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->items[i].id, id)) return &q->items[i];
    return NULL;
}

static rt_status add_line(serve_queue *q, cJSON *o, size_t *cap, const char *path, size_t line, rt_error *err) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!cJSON_IsString(kind) || !cJSON_IsString(id))
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' and 'id' must be strings", path, line);
    if (!strcmp(kind->valuestring, "entry")) {
        if (serve_queue_find(q, id->valuestring))
            return rt_err_set(err, RT_EFORMAT, "%s:%zu: entry %s appears twice", path, line, id->valuestring);
        if (q->n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            serve_queue_item *ni = realloc(q->items, nc * sizeof *ni);
            if (!ni) return rt_err_set(err, RT_ENOMEM, "out of memory");
            q->items = ni;
            *cap = nc;
        }
        serve_queue_item *it = &q->items[q->n];
        it->decisions = cJSON_CreateArray();
        if (!it->decisions) return rt_err_set(err, RT_ENOMEM, "out of memory");
        it->entry = o;
        it->id = id->valuestring;
        it->status = "pending";
        q->n++;
        return RT_OK;
    }
    if (!strcmp(kind->valuestring, "decision")) {
        serve_queue_item *it = (serve_queue_item *)serve_queue_find(q, id->valuestring);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "decision");
        if (!it) return rt_err_set(err, RT_EFORMAT, "%s:%zu: decision on %s, which has no entry before it", path, line,
                                   id->valuestring);
        if (!cJSON_IsString(d) || (strcmp(d->valuestring, "approved") && strcmp(d->valuestring, "rejected")))
            return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'decision' must be \"approved\" or \"rejected\"", path,
                              line);
        cJSON_AddItemToArray(it->decisions, o);
        it->status = !strcmp(d->valuestring, "approved") ? "approved" : "rejected";
        return RT_OK;
    }
    return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' must be \"entry\" or \"decision\", not \"%.40s\"", path,
                      line, kind->valuestring);
}

rt_status serve_queue_load(const char *path, serve_queue *q, rt_error *err) {
    memset(q, 0, sizeof *q);
    if (access(path, F_OK) != 0 && errno == ENOENT) return RT_OK;
    rt_jsonl_reader r;
    rt_status st = rt_jsonl_open(&r, path, RT_JSONL_STOP, err);
    if (st) return st;
    size_t cap = 0;
    for (;;) {
        cJSON *o = NULL;
        st = rt_jsonl_next(&r, &o, err);
        if (st || !o) break;
        st = add_line(q, o, &cap, path, r.line_no, err);
        if (st) {
            cJSON_Delete(o);
            break;
        }
    }
    rt_jsonl_close(&r);
    if (st) serve_queue_free(q);
    return st;
}

rt_status serve_queue_append_decision(const char *path, const char *id, const char *decision, const char *note,
                                      const char *reviewer, rt_error *err) {
    if (strcmp(decision, "approved") && strcmp(decision, "rejected"))
        return rt_err_set(err, RT_EINVAL, "decision must be approved or rejected, not %s", decision);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "decision");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "decision", decision);
    if (note) cJSON_AddStringToObject(o, "note", note);
    if (reviewer) cJSON_AddStringToObject(o, "reviewer", reviewer);
    cJSON_AddNumberToObject(o, "time", rt_time_wall());
    rt_status st = serve_queue_append(path, o, err);
    cJSON_Delete(o);
    return st;
}

rt_status serve_queue_decide(const char *path, const char *id, const char *decision, const char *note,
                             const char *reviewer, rt_error *err) {
    if (strcmp(decision, "approved") && strcmp(decision, "rejected"))
        return rt_err_set(err, RT_EINVAL, "decision must be approved or rejected, not %s", decision);
    serve_queue q;
    rt_status st = serve_queue_load(path, &q, err);
    if (st) return st;
    int found = serve_queue_find(&q, id) != NULL;
    serve_queue_free(&q);
    if (!found) return rt_err_set(err, RT_ENOTFOUND, "%s has no entry %s", path, id);
    return serve_queue_append_decision(path, id, decision, note, reviewer, err);
}
