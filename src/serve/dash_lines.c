#include "serve/dash_lines.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PARSE_BLOCK 64   /* lines a parsing thread takes at a time */
#define AHEAD 8          /* lines ops->ahead sees before ops->line */
#define PARSE_BATCH 8192 /* lines parsed before they are applied */

rt_status dash_lines_init(dash_lines *x, const char *path, rt_error *err) {
    memset(x, 0, sizeof *x);
    x->fd = -1;
    x->path = strdup(path);
    x->off = malloc(16 * sizeof *x->off);
    if (!x->path || !x->off) {
        dash_lines_free(x);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    x->cap = 15;
    x->off[0] = 0;
    x->chunk = DASH_LINES_CHUNK;
    x->threads = 2;
    return RT_OK;
}

void dash_lines_free(dash_lines *x) {
    if (x->fd >= 0) close(x->fd);
    free(x->path);
    free(x->off);
    free(x->buf);
    free(x->span);
    free(x->rec);
    memset(x, 0, sizeof *x);
    x->fd = -1;
}

static void forget(dash_lines *x, const dash_lines_ops *ops) {
    if (x->fd >= 0) close(x->fd);
    x->fd = -1;
    x->n = 0;
    x->off[0] = 0;
    ops->reset(ops->ctx);
}

static rt_status push(dash_lines *x, uint64_t end, rt_error *err) {
    if (x->n == x->cap) {
        size_t nc = x->cap * 2 + 1;
        uint64_t *no = realloc(x->off, (nc + 1) * sizeof *no);
        if (!no) return rt_err_set(err, RT_ENOMEM, "out of memory indexing %s", x->path);
        x->off = no;
        x->cap = nc;
    }
    x->off[++x->n] = end;
    return RT_OK;
}

/* Opens the file when it is new or was replaced; *gone when it does not exist. */
static rt_status reopen(dash_lines *x, const dash_lines_ops *ops, struct stat *st, int *gone, rt_error *err) {
    *gone = 0;
    if (x->fd >= 0) {
        struct stat now;
        if (stat(x->path, &now) != 0 || now.st_ino != x->ino || now.st_dev != x->dev) forget(x, ops);
    }
    if (x->fd < 0) {
        x->fd = open(x->path, O_RDONLY | O_CLOEXEC);
        if (x->fd < 0) {
            if (errno == ENOENT) return *gone = 1, RT_OK;
            return rt_err_errno(err, RT_EIO, errno, "cannot open %s", x->path);
        }
    }
    if (fstat(x->fd, st) != 0) return rt_err_errno(err, RT_EIO, errno, "cannot stat %s", x->path);
    if (x->n && (st->st_ino != x->ino || st->st_dev != x->dev || (uint64_t)st->st_size < x->off[x->n])) {
        /* Cut shorter (or replaced between stat and open): everything is read again. */
        int fd = x->fd;
        x->fd = -1;
        forget(x, ops);
        x->fd = fd;
    }
    x->dev = st->st_dev;
    x->ino = st->st_ino;
    return RT_OK;
}

/* The lines of one chunk being parsed: each of two threads takes PARSE_BLOCK lines at a time until none are left,
 * so a thread the machine's other work holds up leaves its share to the other. */
typedef struct parse_job {
    const dash_lines_ops *ops;
    const char *buf;
    const size_t *span;
    char *rec;
    size_t n;
    atomic_size_t next;
} parse_job;

static void *parse_some(void *arg) {
    parse_job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, PARSE_BLOCK), e = i + PARSE_BLOCK < j->n ? i + PARSE_BLOCK : j->n;
        if (i >= j->n) return NULL;
        for (; i < e; i++)
            j->ops->parse(j->buf + j->span[2 * i], j->span[2 * i + 1] - j->span[2 * i], j->rec + i * j->ops->rec_size);
    }
}

/* Runs ops->parse over the n lines of buf from the first-th, on a second thread too when there are enough of them. */
static void parse_lines(dash_lines *x, const dash_lines_ops *ops, size_t first, size_t n) {
    parse_job j = {ops, x->buf, x->span + 2 * first, x->rec, n, 0};
    pthread_t t;
    /* Without a second thread (none could be started) this one parses every line: the same records, later. */
    int two = x->threads > 1 && n >= 4 * PARSE_BLOCK && pthread_create(&t, NULL, parse_some, &j) == 0;
    parse_some(&j);
    if (two) pthread_join(t, NULL);
}

/* Indexes the whole lines of buf[0, len), which starts at file offset pos; *used gets the bytes they span. */
static rt_status index_chunk(dash_lines *x, const dash_lines_ops *ops, uint64_t pos, size_t len, size_t *used,
                             rt_error *err) {
    size_t n = 0, start = 0;
    for (char *nl; (nl = memchr(x->buf + start, '\n', len - start)); start = (size_t)(nl - x->buf) + 1) {
        if (2 * n + 2 > x->span_cap) {
            size_t nc = x->span_cap ? x->span_cap * 2 : 2048;
            size_t *ns = realloc(x->span, nc * sizeof *ns);
            if (!ns) return rt_err_set(err, RT_ENOMEM, "out of memory indexing %s", x->path);
            x->span = ns;
            x->span_cap = nc;
        }
        x->span[2 * n] = start;
        x->span[2 * n + 1] = (size_t)(nl - x->buf);
        n++;
    }
    *used = start;
    /* Parsed and applied PARSE_BATCH lines at a time: the records of a chunk of short lines stay a few megabytes. */
    for (size_t first = 0; first < n; first += PARSE_BATCH) {
        size_t m = n - first < PARSE_BATCH ? n - first : PARSE_BATCH;
        if (ops->parse) {
            if (m * ops->rec_size > x->rec_cap) {
                char *nr = realloc(x->rec, m * ops->rec_size);
                if (!nr) return rt_err_set(err, RT_ENOMEM, "out of memory indexing %s", x->path);
                x->rec = nr;
                x->rec_cap = m * ops->rec_size;
            }
            parse_lines(x, ops, first, m);
        }
        for (size_t i = 0; i < m; i++) {
            size_t b = x->span[2 * (first + i)], e = x->span[2 * (first + i) + 1];
            const void *rec = ops->parse ? x->rec + i * ops->rec_size : NULL;
            if (ops->ahead && ops->parse && i + AHEAD < m) ops->ahead(ops->ctx, x->rec + (i + AHEAD) * ops->rec_size);
            rt_status s = ops->line(ops->ctx, x->n, x->buf + b, e - b, rec, err);
            if (!s) s = push(x, pos + e + 1, err);
            if (s) return s;
        }
    }
    return RT_OK;
}

rt_status dash_lines_refresh(dash_lines *x, const dash_lines_ops *ops, rt_error *err) {
    struct stat st;
    int gone;
    rt_status s = reopen(x, ops, &st, &gone, err);
    if (s || gone) return s;
    uint64_t size = (uint64_t)st.st_size, pos = x->off[x->n];
    size_t have = 0; /* bytes of a line begun in an earlier chunk, at the start of buf */
    while (pos + have < size) {
        size_t want = x->chunk;
        if (have + want > x->buf_cap) {
            size_t nc = (have + want) * 2;
            char *nb = realloc(x->buf, nc);
            if (!nb) return rt_err_set(err, RT_ENOMEM, "out of memory indexing %s", x->path);
            x->buf = nb;
            x->buf_cap = nc;
        }
        if (want > size - pos - have) want = (size_t)(size - pos - have);
        ssize_t r = pread(x->fd, x->buf + have, want, (off_t)(pos + have));
        if (r < 0) return rt_err_errno(err, RT_EIO, errno, "reading %s", x->path);
        if (r == 0) break;
        size_t len = have + (size_t)r, used = 0;
        if ((s = index_chunk(x, ops, pos, len, &used, err))) return s;
        memmove(x->buf, x->buf + used, len - used);
        pos += used;
        have = len - used;
    }
    return RT_OK;
}

rt_status dash_lines_read(const dash_lines *x, size_t i, char **text, size_t *len, rt_error *err) {
    if (i >= x->n || x->fd < 0) return rt_err_set(err, RT_EINVAL, "%s has no line %zu", x->path, i + 1);
    size_t n = (size_t)(x->off[i + 1] - x->off[i] - 1);
    char *t = malloc(n + 1);
    if (!t) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(x->fd, t + got, n - got, (off_t)(x->off[i] + got));
        if (r <= 0) {
            free(t);
            return rt_err_errno(err, RT_EIO, r < 0 ? errno : EIO, "reading %s line %zu", x->path, i + 1);
        }
        got += (size_t)r;
    }
    t[n] = 0;
    *text = t;
    *len = n;
    return RT_OK;
}
