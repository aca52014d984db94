/* The audit log (see audit.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/sha256.h"
#include "base/timer.h"
#include "sandbox/audit.h"

struct sbx_audit {
    int fd;
    pthread_mutex_t mu;
};

rt_status sbx_audit_open(sbx_audit **out, const char *path, rt_error *err) {
    sbx_audit *a = calloc(1, sizeof *a);
    if (!a) return rt_err_set(err, RT_ENOMEM, "audit log");
    a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        free(a);
        return rt_err_errno(err, RT_EIO, errno, "opening the audit log %s", path);
    }
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return RT_OK;
}

rt_status sbx_audit_write(sbx_audit *a, const sbx_audit_entry *e) {
    char hash[65], stamp[40], line[1024];
    rt_sha256_hex(e->code ? e->code : "", e->code ? e->code_len : 0, hash);
    double now = rt_time_wall();
    time_t secs = (time_t)now;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + k, sizeof stamp - k, ".%03dZ", (int)((now - (double)secs) * 1000));
    int n = snprintf(line, sizeof line,
                     "{\"time\":\"%s\",\"request_id\":%llu,\"endpoint\":\"%s\",\"code_sha256\":\"%s\","
                     "\"code_bytes\":%zu,\"status\":\"%s\",\"http_status\":%d,\"wall_s\":%.6f,\"queue_s\":%.6f,"
                     "\"cpu_s\":%.6f,\"total_s\":%.6f,\"stdout_bytes\":%zu,\"stderr_bytes\":%zu}\n",
                     stamp, (unsigned long long)e->request_id, e->endpoint, hash, e->code ? e->code_len : 0, e->status,
                     e->http_status, e->wall_s, e->queue_s, e->cpu_s, e->total_s, e->stdout_bytes, e->stderr_bytes);
    if (n < 0 || (size_t)n >= sizeof line) return RT_EINTERNAL;
    pthread_mutex_lock(&a->mu);
    ssize_t w = write(a->fd, line, (size_t)n);
    pthread_mutex_unlock(&a->mu);
    return w == n ? RT_OK : RT_EIO;
}

void sbx_audit_close(sbx_audit *a) {
    if (!a) return;
    close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
