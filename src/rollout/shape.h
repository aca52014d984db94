/* Shaping interpreter output into what the model sees: stdout, else the error's last line, "Timeout Error" on
 * timeout, invalid UTF-8 replaced by U+FFFD, cut to a character budget (first H + "..." + last T characters, counted
 * in UTF-8 code points). */
#ifndef RETOOL_ROLLOUT_SHAPE_H
#define RETOOL_ROLLOUT_SHAPE_H

#include <stddef.h>

typedef enum rollout_exec_status {
    ROLLOUT_EXEC_OK = 0,        /* the program ran and exited 0 */
    ROLLOUT_EXEC_ERROR,         /* it raised or exited non-zero */
    ROLLOUT_EXEC_TIMEOUT,       /* it ran past its wall-clock limit */
    ROLLOUT_EXEC_SANDBOX_ERROR, /* the sandbox could not run it (busy, unreachable, internal failure) */
} rollout_exec_status;

typedef struct rollout_shape_config {
    size_t head_chars;       /* characters kept from the start (default 200) */
    size_t tail_chars;       /* characters kept from the end (default 200) */
    int stdout_with_error;   /* on error, keep stdout before the error line (default 1) */
} rollout_shape_config;

/* The defaults of the reference evaluation: 200 + "..." + 200, stdout kept before the error line. */
rollout_shape_config rollout_shape_defaults(void);

/* Name of a status: "ok", "error", "timeout", "sandbox_error". */
const char *rollout_exec_status_name(rollout_exec_status status);

/* Parses a status name; returns -1 when unknown. */
int rollout_exec_status_parse(const char *name, rollout_exec_status *out);

/* The last non-empty line of text (e.g. "NameError: name 'x' is not defined" of a traceback), malloc'd. */
char *rollout_last_line(const char *text);

/* Builds the output text the model sees (malloc'd) for a finished execution. */
char *rollout_shape_output(const rollout_shape_config *cfg, rollout_exec_status status, const char *out,
                           const char *err);

/* A copy of text with every byte that is not part of valid UTF-8 replaced by U+FFFD (malloc'd). */
char *rollout_utf8_sanitize(const char *text);

/* Cuts text to head + "..." + tail code points when it is longer than head + tail; malloc'd copy. */
char *rollout_truncate_middle(const char *text, size_t head, size_t tail);

#endif
