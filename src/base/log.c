#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static rt_log_level log_level = RT_LOG_INFO;
static int log_level_from_env_done = 0;
static FILE *log_stream = NULL;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int rt_log_parse_level(const char *name, rt_log_level *out) {
    for (int i = 0; i <= RT_LOG_OFF; i++) {
        if (name && strcasecmp(name, level_names[i]) == 0) {
            *out = (rt_log_level)i;
            return 0;
        }
    }
    return -1;
}

static void log_env_once(void) {
    if (log_level_from_env_done) return;
    log_level_from_env_done = 1;
    const char *env = getenv("RETOOL_LOG");
    rt_log_level lvl;
    if (env && rt_log_parse_level(env, &lvl) == 0) log_level = lvl;
}

void rt_log_set_level(rt_log_level level) {
    pthread_mutex_lock(&log_mutex);
    log_level_from_env_done = 1;
    log_level = level;
    pthread_mutex_unlock(&log_mutex);
}

rt_log_level rt_log_get_level(void) {
    pthread_mutex_lock(&log_mutex);
    log_env_once();
    rt_log_level l = log_level;
    pthread_mutex_unlock(&log_mutex);
    return l;
}

void rt_log_set_stream(FILE *stream) {
    pthread_mutex_lock(&log_mutex);
    log_stream = stream;
    pthread_mutex_unlock(&log_mutex);
}

void rt_log(rt_log_level level, const char *fmt, ...) {
    pthread_mutex_lock(&log_mutex);
    log_env_once();
    if (level < log_level || level >= RT_LOG_OFF) {
        pthread_mutex_unlock(&log_mutex);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    FILE *out = log_stream ? log_stream : stderr;
    static const char *const tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    fprintf(out, "%s.%03ldZ %s ", stamp, ts.tv_nsec / 1000000L, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
    pthread_mutex_unlock(&log_mutex);
}
