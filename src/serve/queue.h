/* The review queue: one JSONL file holding flagged answers ({"kind": "entry", "id", ...the whole trace}) and the
 * decisions people made about them ({"kind": "decision", "id", "decision": "approved"|"rejected", "note", "time"}).
 * Lines are only ever appended, each with one write under an exclusive lock and then fsync, so a crash loses at most
 * the line being written and never an earlier one; a later decision on the same id supersedes the earlier one, and
 * both stay in the file. */
#ifndef RETOOL_SERVE_QUEUE_H
#define RETOOL_SERVE_QUEUE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/error.h"

/* Appends obj as one line to path (created if missing): one write under flock, then fsync; after a torn last line
 * (no newline: a crash mid-write) it starts a new line, so only the torn line is malformed. */
rt_status serve_queue_append(const char *path, const cJSON *obj, rt_error *err);

typedef struct serve_queue_item {
    cJSON *entry;       /* the entry object (owned) */
    const char *id;     /* entry's id (inside entry) */
    const char *status; /* "pending", "approved" or "rejected" */
    cJSON *decisions;   /* array of the decision objects on this id, oldest first (owned) */
} serve_queue_item;

typedef struct serve_queue {
    serve_queue_item *items;
    size_t n;
} serve_queue;

/* Reads path: every entry with its decisions. A malformed line is an error naming path:line; a decision on an id
 * with no entry is an error too. A missing file is an empty queue. */
rt_status serve_queue_load(const char *path, serve_queue *q, rt_error *err);

/* The item with this id, or NULL. */
const serve_queue_item *serve_queue_find(const serve_queue *q, const char *id);

/* Frees a loaded queue. */
void serve_queue_free(serve_queue *q);

/* Records a decision ("approved" or "rejected") on id with an optional note and reviewer; RT_ENOTFOUND when the queue
 * has no entry with that id. The queue is read line by line up to that entry (a line before it that is no object with
 * string kind and id is an error naming it; the lines after it are not read). */
rt_status serve_queue_decide(const char *path, const char *id, const char *decision, const char *note,
                             const char *reviewer, rt_error *err);

/* Appends a decision line on id without reading the queue (the caller knows the entry exists: the dashboard's
 * index). Same line format and locking as serve_queue_decide. */
rt_status serve_queue_append_decision(const char *path, const char *id, const char *decision, const char *note,
                                      const char *reviewer, rt_error *err);

#endif
