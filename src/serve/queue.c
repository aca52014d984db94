#include "serve/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/json.h"
#include "base/timer.h"
#include "serve/dash_jscan.h"

rt_status serve_queue_append(const char *path, const cJSON *obj, rt_error *err) {
    char *text = cJSON_PrintUnformatted(obj);
    if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t len = strlen(text);
    /* One byte of room in front: a newline when the file's last line was torn (a crash mid-write). */
    char *buf = malloc(len + 3);
    if (!buf) {
        free(text);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    buf[0] = '\n';
    memcpy(buf + 1, text, len);
    free(text);
    buf[1 + len++] = '\n';
    buf[1 + len] = 0;
    char *line = buf + 1;
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(buf);
        return rt_err_errno(err, RT_EIO, errno, "cannot open review queue %s", path);
    }
    rt_status st = RT_OK;
    if (flock(fd, LOCK_EX) != 0) st = rt_err_errno(err, RT_EIO, errno, "cannot lock review queue %s", path);
    off_t size = st ? 0 : lseek(fd, 0, SEEK_END);
    char last = '\n';
    if (!st && size > 0 && pread(fd, &last, 1, size - 1) != 1)
        st = rt_err_errno(err, RT_EIO, errno, "reading review queue %s", path);
    if (!st && last != '\n') { /* the torn line stays a line of its own (load names it), this one stays whole */
        line = buf;
        len++;
    }
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
    free(buf);
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
        if (!it)
            return rt_err_set(err, RT_EFORMAT, "%s:%zu: decision on %s, which has no entry before it", path, line,
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

/* Sets *found when line line_no [p, end) of path is the entry id (got: a buffer of strlen(id) + 2 bytes); a line that
 * is no object with string kind and id is an error naming it. */
static rt_status line_is_entry(const char *path, size_t line_no, const char *p, const char *end, const char *id,
                               char *got, int *found, rt_error *err) {
    p = dash_js_ws(p, end);
    if (p == end) return RT_OK; /* blank line */
    int bad = 0;
    char kind[16];
    const char *k = dash_js_get(p, end, "kind", &bad), *i = dash_js_get(p, end, "id", &bad);
    if (bad || *p != '{') return rt_err_set(err, RT_EFORMAT, "%s:%zu: not a JSON object", path, line_no);
    /* got holds one byte more than id: a longer id is cut there and compares unequal. */
    if (!k || !i || !dash_js_str(k, end, kind, sizeof kind) || !dash_js_str(i, end, got, strlen(id) + 2))
        return rt_err_set(err, RT_EFORMAT, "%s:%zu: field 'kind' and 'id' must be strings", path, line_no);
    *found = !strcmp(kind, "entry") && !strcmp(got, id);
    return RT_OK;
}

/* Sets *found when path has an entry with this id, reading its lines in blocks up to that entry (a missing file has
 * none). */
static rt_status find_entry(const char *path, const char *id, int *found, rt_error *err) {
    *found = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? RT_OK : rt_err_errno(err, RT_EIO, errno, "cannot open review queue %s", path);
    size_t cap = 1u << 20, have = 0, line_no = 0;
    char *buf = malloc(cap), *got = malloc(strlen(id) + 2);
    rt_status st = buf && got ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
    while (!st && !*found) {
        if (have == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = rt_err_set(err, RT_ENOMEM, "out of memory reading %s", path);
                break;
            }
            buf = nb, cap *= 2;
        }
        ssize_t r = read(fd, buf + have, cap - have);
        if (r < 0) {
            st = rt_err_errno(err, RT_EIO, errno, "reading review queue %s", path);
            break;
        }
        size_t len = have + (size_t)r, start = 0;
        for (char *nl; !st && !*found && (nl = memchr(buf + start, '\n', len - start)); start = (size_t)(nl - buf) + 1)
            st = line_is_entry(path, ++line_no, buf + start, nl, id, got, found, err);
        /* The last line may have no newline. */
        if (r == 0) {
            if (!st && !*found && start < len)
                st = line_is_entry(path, ++line_no, buf + start, buf + len, id, got, found, err);
            break;
        }
        memmove(buf, buf + start, len - start);
        have = len - start;
    }
    free(buf);
    free(got);
    close(fd);
    return st;
}

rt_status serve_queue_decide(const char *path, const char *id, const char *decision, const char *note,
                             const char *reviewer, rt_error *err) {
    if (strcmp(decision, "approved") && strcmp(decision, "rejected"))
        return rt_err_set(err, RT_EINVAL, "decision must be approved or rejected, not %s", decision);
    int found;
    rt_status st = find_entry(path, id, &found, err);
    if (st) return st;
    if (!found) return rt_err_set(err, RT_ENOTFOUND, "%s has no entry %s", path, id);
    return serve_queue_append_decision(path, id, decision, note, reviewer, err);
}
