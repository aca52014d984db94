/* The tool-call audit log behind the server: the rollout engine writes its JSONL lines (one per tool call) to the
 * FILE this holds; between batches the file is rotated by size (FILE -> FILE.1 -> ... -> FILE.K, the oldest
 * dropped), so no batch's lines are split across a rename. */
#ifndef RETOOL_SERVE_AUDIT_H
#define RETOOL_SERVE_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

typedef struct serve_audit {
    char *path;
    FILE *fp;
    int64_t max_bytes;  /* rotate once the file reaches this size; 0 = never */
    int keep;           /* rotated files kept (FILE.1 .. FILE.keep) */
} serve_audit;

/* Opens path for appending. */
rt_status serve_audit_open(serve_audit *a, const char *path, int64_t max_bytes, int keep, rt_error *err);

/* Rotates when the file has reached max_bytes; the FILE* changes (callers re-read a->fp). */
rt_status serve_audit_maybe_rotate(serve_audit *a, rt_error *err);

/* Flushes, syncs and closes (always frees); an error says the file's last lines may not be on disk. */
rt_status serve_audit_close(serve_audit *a, rt_error *err);

#endif
