/* The sandbox audit log: one JSON line per request (time, request id, sha256 of the code, status, durations,
 * output bytes), appended with a single write() each so concurrent lines never interleave. */
#ifndef RETOOL_SANDBOX_AUDIT_H
#define RETOOL_SANDBOX_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct sbx_audit sbx_audit;

/* One audited request. */
typedef struct sbx_audit_entry {
    uint64_t request_id;
    const char *endpoint; /* "/run_code", "/run_jupyter" */
    const char *code;     /* hashed, never stored */
    size_t code_len;
    const char *status; /* executor status name, or "busy", "bad-request", ... */
    int http_status;
    double wall_s, queue_s, cpu_s, total_s;
    size_t stdout_bytes, stderr_bytes;
} sbx_audit_entry;

/* Opens path for appending (created 0600 when missing). */
rt_status sbx_audit_open(sbx_audit **out, const char *path, rt_error *err);

/* Appends one line; thread-safe. Returns RT_EIO when the write failed. */
rt_status sbx_audit_write(sbx_audit *a, const sbx_audit_entry *e);

/* Closes the log. */
void sbx_audit_close(sbx_audit *a);

#endif
