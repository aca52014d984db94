#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void err_vformat(rt_error *err, rt_status status, const char *fmt, va_list ap) {
    err->status = status;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

rt_status rt_err_set(rt_error *err, rt_status status, const char *fmt, ...) {
    if (!err) return status;
    va_list ap;
    va_start(ap, fmt);
    err_vformat(err, status, fmt, ap);
    va_end(ap);
    return status;
}

rt_status rt_err_errno(rt_error *err, rt_status status, int errnum, const char *fmt, ...) {
    if (!err) return status;
    va_list ap;
    va_start(ap, fmt);
    err_vformat(err, status, fmt, ap);
    va_end(ap);
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
    return status;
}

rt_status rt_err_prefix(rt_error *err, const char *fmt, ...) {
    if (!err) return RT_EINTERNAL;
    char prefix[RT_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    if (plen > sizeof err->msg - 3) plen = sizeof err->msg - 3;
    size_t olen = strnlen(err->msg, sizeof err->msg - 1);
    if (plen + 2 + olen > sizeof err->msg - 1) olen = sizeof err->msg - 1 - plen - 2;
    memmove(err->msg + plen + 2, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + olen] = '\0';
    return err->status;
}

void rt_err_clear(rt_error *err) {
    if (!err) return;
    err->status = RT_OK;
    err->msg[0] = '\0';
}

const char *rt_status_name(rt_status status) {
    switch (status) {
    case RT_OK: return "ok";
    case RT_EINVAL: return "invalid argument";
    case RT_EIO: return "i/o error";
    case RT_ENOMEM: return "out of memory";
    case RT_EFORMAT: return "malformed input";
    case RT_EUNSUPPORTED: return "unsupported";
    case RT_ERANGE: return "out of range";
    case RT_ETIMEOUT: return "timed out";
    case RT_EBUSY: return "busy";
    case RT_ENOTFOUND: return "not found";
    case RT_EINTERNAL: return "internal error";
    }
    return "unknown status";
}
