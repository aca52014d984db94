/* Logging with levels and timestamps, to stderr (or a chosen stream). */
#ifndef RETOOL_BASE_LOG_H
#define RETOOL_BASE_LOG_H

#include <stdio.h>

typedef enum rt_log_level { RT_LOG_DEBUG = 0, RT_LOG_INFO, RT_LOG_WARN, RT_LOG_ERROR, RT_LOG_OFF } rt_log_level;

/* Sets the lowest level that is printed (default RT_LOG_INFO, or $RETOOL_LOG=debug|info|warn|error|off). */
void rt_log_set_level(rt_log_level level);

/* The level currently in force. */
rt_log_level rt_log_get_level(void);

/* Parses "debug", "info", "warn", "error" or "off"; returns 0 and sets *out, or -1 for anything else. */
int rt_log_parse_level(const char *name, rt_log_level *out);

/* Sends log lines to stream (default stderr); NULL restores stderr. */
void rt_log_set_stream(FILE *stream);

/* Prints one line "YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL message" if level is enabled. Thread-safe. */
void rt_log(rt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rt_log_debug(...) rt_log(RT_LOG_DEBUG, __VA_ARGS__)
#define rt_log_info(...) rt_log(RT_LOG_INFO, __VA_ARGS__)
#define rt_log_warn(...) rt_log(RT_LOG_WARN, __VA_ARGS__)
#define rt_log_error(...) rt_log(RT_LOG_ERROR, __VA_ARGS__)

#endif
