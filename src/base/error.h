/* Error values with context: what failed and which file, line or field. Library code returns an rt_status and
 * fills an rt_error; only the CLI decides to exit. */
#ifndef RETOOL_BASE_ERROR_H
#define RETOOL_BASE_ERROR_H

#include <stddef.h>

typedef enum rt_status {
    RT_OK = 0,
    RT_EINVAL,       /* bad argument or bad value in an input */
    RT_EIO,          /* reading or writing a file failed */
    RT_ENOMEM,       /* an allocation failed */
    RT_EFORMAT,      /* an input file is malformed */
    RT_EUNSUPPORTED, /* valid input that retool does not handle */
    RT_ERANGE,       /* a value is out of its allowed range */
    RT_ETIMEOUT,     /* a deadline passed */
    RT_EBUSY,        /* a queue or pool is full; try again later */
    RT_ENOTFOUND,    /* a named thing does not exist */
    RT_EINTERNAL,    /* a bug in retool */
} rt_status;

#define RT_ERROR_MSG_MAX 1024

typedef struct rt_error {
    rt_status status;
    char msg[RT_ERROR_MSG_MAX];
} rt_error;

/* Sets err (when not NULL) to status and a printf-formatted message; returns status. */
rt_status rt_err_set(rt_error *err, rt_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err to status with the message followed by ": " and strerror(errnum); returns status. */
rt_status rt_err_errno(rt_error *err, rt_status status, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends "context: " to the message already in err (e.g. the file being loaded); returns err->status. */
rt_status rt_err_prefix(rt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err to RT_OK with an empty message. */
void rt_err_clear(rt_error *err);

/* A short lower-case name for a status ("invalid argument", "i/o error", ...). */
const char *rt_status_name(rt_status status);

#endif
