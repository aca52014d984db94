/* One job on one child, worker side: the job frame goes in, stdout and stderr are drained continuously up to their
 * cap, the status pipe says how the code ended (E: exception class, S: setup failure, X: exit report, F: needs the
 * full tier), the deadline is enforced with SIGKILL; then the requested work-dir files are fetched without following
 * links. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"
#include "sandbox/zygote/zyg.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double zyg_num(const cJSON *o, const char *key, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int zyg_buf_add(zyg_buf *b, const void *p, size_t n, size_t cap) {
    size_t room = b->n < cap ? cap - b->n : 0, take = n < room ? n : room;
    if (b->n + take > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + take)
            nc *= 2;
        unsigned char *q = zyg_realloc(b->p, nc);
        if (!q) return 1;
        b->p = q;
        b->cap = nc;
    }
    if (take) memcpy(b->p + b->n, p, take);
    b->n += take;
    return take < n;
}

int zyg_write_all(int fd, const void *p, size_t n) {
    struct iovec v = {(void *)p, n};
    return sbx_send_iov(fd, &v, 1);
}

int zyg_send_frame(int fd, const char *hdr, const unsigned char *payload, size_t plen) {
    size_t hl = strlen(hdr), total = hl + 1 + plen;
    unsigned char len4[4] = {(unsigned char)total, (unsigned char)(total >> 8), (unsigned char)(total >> 16),
                             (unsigned char)(total >> 24)};
    struct iovec iov[4] = {{len4, 4}, {(void *)hdr, hl}, {"\n", 1}, {(void *)payload, plen}};
    return sbx_send_iov(fd, iov, plen ? 4 : 3); /* one writev: the child wakes once for its whole job */
}

static int read_exact(int fd, unsigned char *p, size_t n) {
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int zyg_read_frame(int fd, unsigned char **body, size_t *len) {
    unsigned char h[4];
    if (read_exact(fd, h, 4)) return -1;
    size_t n = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
    if (n > (1u << 30)) return -1;
    *body = zyg_malloc(n + 1);
    if (!*body || read_exact(fd, *body, n)) {
        zyg_free(*body);
        return -1;
    }
    (*body)[n] = 0;
    *len = n;
    return 0;
}

/* The job frame (length, header, newline, payload) in one buffer, to be written piece by piece. */
static unsigned char *frame_bytes(const char *hdr, const unsigned char *payload, size_t plen, size_t *len) {
    size_t hl = strlen(hdr), total = hl + 1 + plen;
    unsigned char *f = zyg_malloc(4 + total);
    if (!f) return NULL;
    for (int i = 0; i < 4; i++)
        f[i] = (unsigned char)(total >> (8 * i));
    memcpy(f + 4, hdr, hl);
    f[4 + hl] = '\n';
    if (plen) memcpy(f + 5 + hl, payload, plen);
    *len = 4 + total;
    return f;
}

/* Writes what the pipe takes now of f[*sent..n) (fd is non-blocking); -1 when the reader is gone. */
static int feed(int fd, const unsigned char *f, size_t n, size_t *sent) {
    while (*sent < n) {
        ssize_t k = write(fd, f + *sent, n - *sent);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return errno == EAGAIN ? 0 : -1;
        *sent += (size_t)k;
    }
    return 0;
}

/* 1 when the child's main thread is blocked reading its job pipe (fd jr in the child): a session's cell has really
 * ended, whatever its code wrote to the status pipe before. Read from /proc/PID/syscall ("NR arg1 ..."); 1 also when
 * the kernel does not offer that file (the status line is then taken as it is). */
static int waiting_for_job(pid_t pid, int jr) {
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 1;
    buf[n] = 0;
    long nr = -1;
    unsigned long a1 = 0;
    if (sscanf(buf, "%ld %lx", &nr, &a1) != 2) return 0; /* "running" */
    return nr == SYS_read && a1 == (unsigned long)jr;
}

/* CPU seconds counted so far in a cgroup's usage file (v2 cpu.stat usage_usec, v1 cpuacct.usage in ns); -1 when
 * unreadable. */
static double cgroup_cpu(int fd) {
    char text[512];
    ssize_t n = fd >= 0 ? pread(fd, text, sizeof text - 1, 0) : -1;
    if (n <= 0) return -1;
    text[n] = 0;
    const char *p = strstr(text, "usage_usec ");
    if (p && (p == text || p[-1] == '\n')) return 1e-6 * strtod(p + 11, NULL);
    return text[0] >= '0' && text[0] <= '9' ? 1e-9 * strtod(text, NULL) : -1;
}

/* Takes what the pipe holds now (non-blocking), up to cap; returns 1 when some did not fit. */
static int drain_now(int fd, zyg_buf *b, size_t cap) {
    unsigned char tmp[65536];
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 0) <= 0) return 0;
        ssize_t k = read(fd, tmp, sizeof tmp);
        if (k <= 0) return 0;
        if (zyg_buf_add(b, tmp, (size_t)k, cap)) return 1;
    }
}

cJSON *zyg_execute(zyg_child *c, int cell_mode, const char *job_hdr, const unsigned char *payload, size_t plen,
                   const cJSON *lim, zyg_buf *out, zyg_buf *err) {
    size_t cap = (size_t)zyg_num(lim, "out_cap", 1 << 20);
    double wall = zyg_num(lim, "wall", 10);
    int trunc_out = 0, trunc_err = 0;
    double t0 = now(), deadline = t0 + wall;
    /* The job goes in without blocking the worker: a session child that does not read it (its last cell's code still
     * running after a forged end line) stalls only its own cell, never the worker and the other sessions on it. */
    double cg_start = cell_mode ? -1 : cgroup_cpu(c->acct_fd); /* the child has done nothing of its job yet */
    size_t flen = 0, fsent = 0;
    unsigned char *frame = frame_bytes(job_hdr, payload, plen, &flen);
    fcntl(c->jw, F_SETFL, fcntl(c->jw, F_GETFL) | O_NONBLOCK);
    if (!frame || feed(c->jw, frame, flen, &fsent)) fsent = flen; /* a child that died early shows below as EOF */
    if (!cell_mode && fsent == flen) {
        close(c->jw);
        c->jw = -1;
    }
    c->slen = 0; /* status lines of an earlier cell that were still in the buffer say nothing about this one */
    int fds[3] = {c->outr, c->errr, c->sr}, open_fds = 3;
    const char *why = "";
    char exc[256] = "";
    int done = 0, exited = 0, x_rc = 0, ended = 0;
    double x_cpu = 0;
    unsigned char tmp[65536];
    while (open_fds && !done && !why[0]) {
        double left = deadline - now();
        if (left <= 0) {
            why = "timeout";
            break;
        }
        int waiting = 0; /* the cell's end line, and the child is back waiting for the next cell */
        for (int k = 0; ended && !waiting && k < 3; k++)
            if (!(waiting = waiting_for_job(c->pid, c->jr_child))) sched_yield(); /* it is on its way there */
        if (waiting) {
            done = 1;
            break;
        }
        struct pollfd pf[4];
        int map[4], np = 0;
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0) pf[np] = (struct pollfd){fds[i], POLLIN, 0}, map[np++] = i;
        if (fsent < flen && c->jw >= 0) pf[np] = (struct pollfd){c->jw, POLLOUT, 0}, map[np++] = 3;
        int ms = (int)(left * 1000) + 1;
        if (ended && ms > 1) ms = 1; /* an end line came first: look again shortly whether the child is waiting */
        int r = poll(pf, (nfds_t)np, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        for (int k = 0; k < np && !why[0]; k++) {
            if (!pf[k].revents) continue;
            int i = map[k];
            if (i == 3) {
                if (feed(c->jw, frame, flen, &fsent)) fsent = flen;
                if (!cell_mode && fsent == flen) {
                    close(c->jw);
                    c->jw = -1;
                }
                continue;
            }
            ssize_t n = read(fds[i], tmp, sizeof tmp);
            if (n <= 0) {
                fds[i] = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                if (zyg_buf_add(out, tmp, (size_t)n, cap)) trunc_out = 1, why = "output";
                continue;
            }
            if (i == 1) {
                if (zyg_buf_add(err, tmp, (size_t)n, cap)) trunc_err = 1, why = "output";
                continue;
            }
            /* the status pipe: lines */
            if (c->slen + (size_t)n > c->scap) {
                size_t nc = c->scap ? c->scap * 2 : 1024;
                while (nc < c->slen + (size_t)n)
                    nc *= 2;
                char *q = realloc(c->status, nc);
                if (!q) {
                    why = "output";
                    break;
                }
                c->status = q;
                c->scap = nc;
            }
            memcpy(c->status + c->slen, tmp, (size_t)n);
            c->slen += (size_t)n;
            char *nl;
            while ((nl = memchr(c->status, '\n', c->slen))) {
                *nl = 0;
                char *line = c->status;
                if (line[0] == 'E') {
                    snprintf(exc, sizeof exc, "%s", line + 1);
                    ended = cell_mode && fsent == flen;
                } else if (line[0] == 'S') {
                    snprintf(exc, sizeof exc, "SandboxSetup");
                    zyg_buf_add(err, line + 1, strlen(line + 1), cap);
                    zyg_buf_add(err, "\n", 1, cap);
                } else if (line[0] == 'F' && !cell_mode) {
                    why = "full"; /* a light worker's child imported a full-tier preload: run it there */
                } else if (line[0] == 'X' && !cell_mode) {
                    exited = sscanf(line + 1, "%d %lf", &x_rc, &x_cpu) >= 1;
                    if (!exited) x_rc = 1, exited = 1;
                    done = 1;
                }
                size_t used = (size_t)(nl + 1 - c->status);
                memmove(c->status, nl + 1, c->slen - used);
                c->slen -= used;
            }
            if (c->slen > 65536) { /* a flood on the status pipe */
                c->slen = 0;
                why = "output";
            }
        }
    }
    zyg_free(frame);
    double cg_end = -1; /* read before the kill: nothing after the run's end is its own */
    if (!cell_mode && cg_start >= 0 && exited && !why[0]) cg_end = cgroup_cpu(c->acct_fd);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "wall", now() - t0);
    cJSON_AddStringToObject(res, "exc", exc);
    int rc = 0, sig = 0, alive = 0;
    double cpu = 0;
    if (exited && !why[0]) {
        /* The program has returned: take what its pipes hold now; output of leftover processes is dropped. */
        if (drain_now(c->outr, out, cap)) trunc_out = 1, why = "output";
        if (!why[0] && drain_now(c->errr, err, cap)) trunc_err = 1, why = "output";
        rc = x_rc;
        cpu = x_cpu;
        zyg_child_kill(c);
    } else if (cell_mode && done && !why[0]) {
        if (drain_now(c->outr, out, cap)) trunc_out = 1;
        if (drain_now(c->errr, err, cap)) trunc_err = 1;
        rc = exc[0] ? 1 : 0;
        alive = 1;
    } else {
        zyg_child_kill(c);
        int st = 0;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        zyg_child_reap(c, &st, &ru);
        if (WIFEXITED(st))
            rc = WEXITSTATUS(st);
        else if (WIFSIGNALED(st))
            sig = WTERMSIG(st), rc = -1;
        cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
              1e-6 * (double)ru.ru_stime.tv_usec;
        cJSON_AddNumberToObject(res, "maxrss_kb", (double)ru.ru_maxrss);
        if (!cell_mode && cg_start >= 0) cg_end = cgroup_cpu(c->acct_fd); /* the whole tree has been reaped */
    }
    /* The cgroup also counts processes the run never waited for (orphans, auto-reaped children); what the run's
     * process reported is the floor (a still-running process's last slice may not be in the cgroup's sum yet). */
    if (cg_start >= 0 && cg_end >= cg_start && cg_end - cg_start > cpu) cpu = cg_end - cg_start;
    cJSON_AddStringToObject(res, "why", why);
    cJSON_AddBoolToObject(res, "out_trunc", trunc_out);
    cJSON_AddBoolToObject(res, "err_trunc", trunc_err);
    cJSON_AddNumberToObject(res, "rc", rc);
    cJSON_AddNumberToObject(res, "sig", sig);
    cJSON_AddNumberToObject(res, "cpu", cpu);
    cJSON_AddBoolToObject(res, "session_alive", alive);
    return res;
}

int zyg_open_parent(int root, const char *name, int create, const char **leaf) {
    int d = dup(root);
    const char *p = name, *e;
    while (d >= 0 && (e = strchr(p, '/'))) {
        char part[256]; /* sbx_name_ok caps a whole name at 255 bytes */
        memcpy(part, p, (size_t)(e - p));
        part[e - p] = 0;
        if (create && mkdirat(d, part, 0755) && errno != EEXIST) {
            int err = errno;
            close(d);
            errno = err;
            return -1;
        }
        int nd = openat(d, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;
        close(d);
        errno = err;
        d = nd;
        p = e + 1;
    }
    *leaf = p;
    return d;
}

void zyg_fetch(int workfd, const cJSON *names, size_t cap, size_t total_cap, cJSON *files, zyg_buf *data,
               cJSON *missing) {
    const cJSON *nm;
    size_t total = 0;
    cJSON_ArrayForEach(nm, names) {
        if (!cJSON_IsString(nm)) continue;
        const char *name = nm->valuestring, *why = NULL, *leaf;
        char reason[300];
        int fd = -1;
        if (!sbx_name_ok(name)) {
            why = "not a plain relative path";
        } else {
            int d = zyg_open_parent(workfd, name, 0, &leaf);
            if (d >= 0) {
                fd = openat(d, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0) snprintf(reason, sizeof reason, "%s", strerror(errno)), why = reason;
                close(d);
            } else {
                snprintf(reason, sizeof reason, "%s", strerror(errno));
                why = reason;
            }
        }
        struct stat st;
        if (!why && (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > cap)) {
            snprintf(reason, sizeof reason, "not a regular file of at most %zu bytes", cap);
            why = reason;
        }
        if (!why && (size_t)st.st_size > total_cap - total) {
            snprintf(reason, sizeof reason, "over the cap of %zu bytes for all fetched files together", total_cap);
            why = reason;
        }
        if (!why) { /* the bytes go as a blob of the answer frame: no base64, nothing for the supervisor to parse */
            unsigned char tmp[65536];
            ssize_t k;
            size_t room = total_cap - total < cap ? total_cap - total : cap, start = data->n;
            while ((k = read(fd, tmp, sizeof tmp)) > 0)
                if (zyg_buf_add(data, tmp, (size_t)k, start + room)) break;
            total += data->n - start;
            cJSON *entry = cJSON_CreateArray();
            cJSON_AddItemToArray(entry, cJSON_CreateString(name));
            cJSON_AddItemToArray(entry, cJSON_CreateNumber((double)(data->n - start)));
            cJSON_AddItemToArray(files, entry);
        }
        if (fd >= 0) close(fd);
        if (why) {
            char line[600];
            snprintf(line, sizeof line, "%s: %s", name, why);
            cJSON_AddItemToArray(missing, cJSON_CreateString(line));
        }
    }
}
