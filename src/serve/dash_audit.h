/* The dashboard's view of an audit log (one JSON line per tool call, rollout/engine.c's format) and of the files it
 * was rotated into (FILE.K, ..., FILE.1, FILE: oldest first; serve/audit.h): per call its time, request, sample,
 * status and latency, kept in memory and extended as lines are appended to FILE; when FILE is rotated (another
 * inode) every file is indexed anew. Searches filter on the summaries and read only the lines they must (text search
 * reads the files in blocks, then decodes the code and output of the lines that contain the text; a file cut
 * shorter during a search makes it an error, not a crash). Not
 * thread-safe: the owner locks. */
#ifndef RETOOL_SERVE_DASH_AUDIT_H
#define RETOOL_SERVE_DASH_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "serve/dash_lines.h"

enum {
    DASH_CALL_OK,
    DASH_CALL_ERROR,
    DASH_CALL_TIMEOUT,
    DASH_CALL_SANDBOX_ERROR,
    DASH_CALL_REFUSED,
    DASH_CALL_OTHER,
    DASH_CALL_NSTATUS
};

typedef struct dash_call {
    double time;
    float latency_s;
    uint32_t request; /* N of the trajectory "p<N>-s<K>" */
    uint16_t sample;  /* K */
    uint8_t status;   /* DASH_CALL_* */
    uint8_t blank;    /* a blank line: no call */
} dash_call;

#define DASH_AUDIT_MAX_FILES 1000 /* rotated files read at most (FILE.1 .. FILE.999) */

typedef struct dash_audit {
    char *path;
    dash_lines *seg; /* [nseg]: FILE.K .. FILE.1, FILE */
    size_t *first;   /* [nseg]: index in c of each file's first line */
    size_t nseg;
    dash_call *c; /* [n]: one per line of every file, oldest first */
    size_t n, cap;
} dash_audit;

/* What a search keeps. */
typedef struct dash_audit_filter {
    long long request; /* -1: any */
    double from, to;   /* time range (inclusive); to <= 0: no upper bound */
    int status;        /* DASH_CALL_*, or -1 */
    const char *text;  /* in the code or the output (exact bytes), or NULL */
} dash_audit_filter;

/* The name of a DASH_CALL_* status, and back (-1 when unknown). */
const char *dash_call_status_name(int status);
int dash_call_status_parse(const char *name);

/* Sets up the view of path. */
rt_status dash_audit_init(dash_audit *a, const char *path, rt_error *err);

/* Reads what was appended; a malformed line is an error naming path:line. */
rt_status dash_audit_refresh(dash_audit *a, rt_error *err);

/* The calls that pass f, newest first: {"total", "offset", "items": [{file, line, time, trajectory, request,
 * sample, call, code, output, status, latency_s}]} for items [offset, offset + limit) of the matches. */
rt_status dash_audit_search(dash_audit *a, const dash_audit_filter *f, size_t offset, size_t limit, cJSON **out,
                            rt_error *err);

/* The bytes indexed, over every file. */
size_t dash_audit_bytes(const dash_audit *a);

/* Frees the view. */
void dash_audit_free(dash_audit *a);

#endif
