#include "serve/audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rt_status serve_audit_open(serve_audit *a, const char *path, int64_t max_bytes, int keep, rt_error *err) {
    memset(a, 0, sizeof *a);
    if (keep < 1) return rt_err_set(err, RT_EINVAL, "audit log rotation keeps at least 1 file");
    a->path = strdup(path);
    if (!a->path) return rt_err_set(err, RT_ENOMEM, "out of memory");
    a->fp = fopen(path, "a");
    if (!a->fp) {
        rt_status st = rt_err_errno(err, RT_EIO, errno, "cannot open audit log %s", path);
        free(a->path);
        a->path = NULL;
        return st;
    }
    a->max_bytes = max_bytes;
    a->keep = keep;
    return RT_OK;
}

rt_status serve_audit_maybe_rotate(serve_audit *a, rt_error *err) {
    if (!a->fp || a->max_bytes <= 0) return RT_OK;
    if (fflush(a->fp) != 0) return rt_err_errno(err, RT_EIO, errno, "writing audit log %s", a->path);
    if (fsync(fileno(a->fp)) != 0) return rt_err_errno(err, RT_EIO, errno, "fsync of audit log %s", a->path);
    long size = ftell(a->fp);
    if (size < 0 || size < a->max_bytes) return RT_OK;
    size_t n = strlen(a->path) + 24;
    char *from = malloc(n), *to = malloc(n);
    if (!from || !to) {
        free(from);
        free(to);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    fclose(a->fp);
    a->fp = NULL;
    rt_status st = RT_OK;
    for (int k = a->keep - 1; k >= 1 && !st; k--) {
        snprintf(from, n, "%s.%d", a->path, k);
        snprintf(to, n, "%s.%d", a->path, k + 1);
        if (rename(from, to) != 0 && errno != ENOENT) st = rt_err_errno(err, RT_EIO, errno, "rotating %s", from);
    }
    snprintf(to, n, "%s.1", a->path);
    if (!st && rename(a->path, to) != 0) st = rt_err_errno(err, RT_EIO, errno, "rotating %s", a->path);
    a->fp = fopen(a->path, "a");
    if (!a->fp && !st) st = rt_err_errno(err, RT_EIO, errno, "cannot reopen audit log %s", a->path);
    free(from);
    free(to);
    return st;
}

rt_status serve_audit_close(serve_audit *a, rt_error *err) {
    rt_status st = RT_OK;
    if (a->fp) {
        if (fflush(a->fp) != 0) st = rt_err_errno(err, RT_EIO, errno, "writing audit log %s", a->path);
        if (!st && fsync(fileno(a->fp)) != 0) st = rt_err_errno(err, RT_EIO, errno, "fsync of audit log %s", a->path);
        if (fclose(a->fp) != 0 && !st) st = rt_err_errno(err, RT_EIO, errno, "closing audit log %s", a->path);
    }
    free(a->path);
    memset(a, 0, sizeof *a);
    return st;
}
