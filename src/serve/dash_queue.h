/* The dashboard's view of a review queue file (serve/queue.h's format): one small summary per entry (time, status,
 * reasons, tag, tool calls, wall time) kept in memory and extended as lines are appended, so listing the newest
 * entries of a million-line queue reads only the lines shown. Not thread-safe: the owner locks. */
#ifndef RETOOL_SERVE_DASH_QUEUE_H
#define RETOOL_SERVE_DASH_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "serve/dash_lines.h"

enum { DASH_PENDING = 0, DASH_APPROVED = 1, DASH_REJECTED = 2 };
#define DASH_MAX_TAGS 256 /* distinct tags (the request's "user") told apart; later ones count as "(other)" */

typedef struct dash_entry {
    double time;
    float wall_s;        /* the slowest sample's wall time */
    uint32_t line;       /* line number of the entry (0-based) */
    uint32_t id_off;     /* into dash_queue.ids */
    uint32_t request;    /* the N of chatcmpl-BOOT-N (0 when the id has no such suffix) */
    uint16_t tool_calls; /* tool calls over all samples, refused ones included */
    uint8_t status;      /* DASH_PENDING, DASH_APPROVED, DASH_REJECTED */
    uint8_t reasons;     /* serve/review.h bits */
    uint16_t tag;        /* index into tags; 0 = none */
    uint16_t samples;
} dash_entry;

typedef struct dash_decision {
    uint32_t entry, line;
} dash_decision;

typedef struct dash_queue {
    dash_lines lines;
    dash_entry *e;
    size_t n, cap;
    dash_decision *d;
    size_t nd, dcap;
    char *ids; /* every id, NUL-terminated, back to back */
    size_t ids_len, ids_cap;
    struct dash_slot {
        uint32_t entry, hash; /* entry index + 1 (0 = empty) and the id's hash, compared before the id */
    } * slots;                /* id hash table, open addressing */
    size_t nslots;
    char *tags[DASH_MAX_TAGS];
    size_t ntags;
    uint32_t tag_hash[DASH_MAX_TAGS]; /* dash_queue_hash of the first ntag_hash tags */
    size_t ntag_hash;
    uint64_t saved;      /* bytes of the queue its saved index (dash_qsave.h) covers */
    uint64_t save_every; /* the saved index is written again once this many more bytes are indexed */
    int save_tried, save_failed;
} dash_queue;

#define DASH_QSAVE_BYTES (64u << 20)

/* Sets up the view of path (read on the first refresh, from the index saved beside it when that still matches it;
 * see dash_qsave.h). */
rt_status dash_queue_init(dash_queue *q, const char *path, rt_error *err);

/* Reads what was appended, and saves the index once DASH_QSAVE_BYTES more of the queue are indexed (a failure to
 * save is logged once, and the view goes on in memory). A malformed line is an error naming path:line (reported again
 * on every refresh until the file is replaced). */
rt_status dash_queue_refresh(dash_queue *q, rt_error *err);

/* The hash of an id the view's table keys on (FNV-1a folded to 32 bits). */
uint32_t dash_queue_hash(const char *id);

/* Puts entry i into the id hash (for a view loaded from a saved index). */
void dash_queue_slot_insert(dash_queue *q, size_t i);

/* The entry with this id, or -1. */
long dash_queue_find(const dash_queue *q, const char *id);

/* The id of entry i. */
const char *dash_queue_id(const dash_queue *q, size_t i);

/* The status name ("pending", "approved", "rejected"). */
const char *dash_status_name(int status);

/* Entry i's line, parsed (the caller deletes it). */
rt_status dash_queue_entry_json(const dash_queue *q, size_t i, cJSON **out, rt_error *err);

/* Entry i's decisions as an array of their objects, oldest first (the caller deletes it). */
rt_status dash_queue_decisions_json(const dash_queue *q, size_t i, cJSON **out, rt_error *err);

/* Frees the view. */
void dash_queue_free(dash_queue *q);

#endif
