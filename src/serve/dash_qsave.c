#include "serve/dash_qsave.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"

#define QSAVE_MAGIC "RTDASHQ\n"
#define QSAVE_VERSION 1
#define QSAVE_EDGE 4096 /* bytes hashed at each end of the covered part of the queue */

typedef struct qsave_header {
    char magic[8];
    uint32_t version, entry_size; /* entry_size: sizeof(dash_entry) of the writer */
    uint64_t size;                /* bytes of the queue covered */
    int64_t mtime_s, mtime_ns;    /* the queue's mtime when written */
    uint64_t head, tail;          /* hashes of the first and the last QSAVE_EDGE bytes of those */
    uint64_t nlines, n, nd, ids_len, ntags, tags_len;
} qsave_header;

char *dash_qsave_path(const char *queue_path) {
    size_t n = strlen(queue_path);
    char *p = malloc(n + sizeof ".dashidx");
    if (p) memcpy(p, queue_path, n), memcpy(p + n, ".dashidx", sizeof ".dashidx");
    return p;
}

/* FNV-1a of bytes [from, to) of fd (to - from <= QSAVE_EDGE); 0 with *ok cleared when they cannot be read. */
static uint64_t edge_hash(int fd, uint64_t from, uint64_t to, int *ok) {
    char buf[QSAVE_EDGE];
    size_t n = (size_t)(to - from), got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(from + got));
        if (r <= 0) return *ok = 0, 0;
        got += (size_t)r;
    }
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
    return h;
}

static void edges(int fd, uint64_t size, uint64_t *head, uint64_t *tail, int *ok) {
    *head = edge_hash(fd, 0, size < QSAVE_EDGE ? size : QSAVE_EDGE, ok);
    *tail = edge_hash(fd, size < QSAVE_EDGE ? 0 : size - QSAVE_EDGE, size, ok);
}

rt_status dash_qsave_write(const dash_queue *q, rt_error *err) {
    const dash_lines *x = &q->lines;
    struct stat st;
    if (x->fd < 0) return RT_OK; /* no queue yet: nothing to save */
    if (fstat(x->fd, &st) != 0) return rt_err_errno(err, RT_EIO, errno, "cannot stat %s", x->path);
    qsave_header h = {QSAVE_MAGIC,
                      QSAVE_VERSION,
                      sizeof(dash_entry),
                      x->off[x->n],
                      (int64_t)st.st_mtim.tv_sec,
                      (int64_t)st.st_mtim.tv_nsec,
                      0,
                      0,
                      x->n,
                      q->n,
                      q->nd,
                      q->ids_len,
                      q->ntags,
                      0};
    int ok = 1;
    edges(x->fd, h.size, &h.head, &h.tail, &ok);
    if (!ok) return rt_err_errno(err, RT_EIO, errno, "reading %s", x->path);
    for (size_t i = 1; i < q->ntags; i++)
        h.tags_len += strlen(q->tags[i]) + 1;
    char *path = dash_qsave_path(x->path);
    if (!path) return rt_err_set(err, RT_ENOMEM, "out of memory");
    rt_atomic_file af;
    rt_status s = rt_atomic_open(&af, path, err);
    free(path);
    if (s) return s;
    s = rt_atomic_write(&af, &h, sizeof h, err);
    if (!s) s = rt_atomic_write(&af, x->off, (x->n + 1) * sizeof *x->off, err);
    if (!s) s = rt_atomic_write(&af, q->e, q->n * sizeof *q->e, err);
    if (!s) s = rt_atomic_write(&af, q->d, q->nd * sizeof *q->d, err);
    if (!s) s = rt_atomic_write(&af, q->ids, q->ids_len, err);
    for (size_t i = 1; i < q->ntags && !s; i++)
        s = rt_atomic_write(&af, q->tags[i], strlen(q->tags[i]) + 1, err);
    if (s) {
        rt_atomic_abort(&af);
        return s;
    }
    return rt_atomic_commit(&af, err);
}

/* Reads n bytes at *at of fd into a new buffer (advancing *at); NULL when they cannot be read. */
static void *take(int fd, uint64_t *at, size_t n) {
    char *p = malloc(n ? n : 1);
    size_t got = 0;
    while (p && got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(*at + got));
        if (r <= 0) {
            free(p);
            return NULL;
        }
        got += (size_t)r;
    }
    *at += n;
    return p;
}

/* Whether the arrays read from a saved index hold together (a damaged file is not used). */
static int consistent(const qsave_header *h, const uint64_t *off, const dash_entry *e, const dash_decision *d,
                      const char *ids, const char *tags) {
    if (off[0] != 0 || off[h->nlines] != h->size) return 0;
    for (uint64_t i = 0; i < h->nlines; i++)
        if (off[i + 1] <= off[i]) return 0;
    if (h->ids_len && ids[h->ids_len - 1]) return 0;
    for (uint64_t i = 0; i < h->n; i++)
        if (e[i].line >= h->nlines || e[i].id_off >= h->ids_len || e[i].tag >= h->ntags || e[i].status > 2) return 0;
    for (uint64_t i = 0; i < h->nd; i++)
        if (d[i].entry >= h->n || d[i].line >= h->nlines) return 0;
    uint64_t nul = 0;
    for (uint64_t i = 0; i < h->tags_len; i++)
        nul += !tags[i];
    return nul == h->ntags - 1 && (!h->tags_len || !tags[h->tags_len - 1]);
}

/* The saved index in fd, checked against the queue qfd (its stat in qst); 0 when it does not match it. */
static int matches(int fd, const qsave_header *h, int qfd, const struct stat *qst) {
    struct stat st;
    if (memcmp(h->magic, QSAVE_MAGIC, 8) || h->version != QSAVE_VERSION || h->entry_size != sizeof(dash_entry))
        return 0;
    if (h->nlines > UINT32_MAX || h->n > h->nlines || h->nd > h->nlines || h->ids_len > h->size || h->ntags < 1 ||
        h->ntags > DASH_MAX_TAGS || h->tags_len > (uint64_t)DASH_MAX_TAGS * 256)
        return 0;
    uint64_t want = sizeof *h + (h->nlines + 1) * sizeof(uint64_t) + h->n * sizeof(dash_entry) +
                    h->nd * sizeof(dash_decision) + h->ids_len + h->tags_len;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != want) return 0;
    /* The queue must still start with the bytes indexed: not cut, not rewritten in place. */
    if ((uint64_t)qst->st_size < h->size) return 0;
    if ((uint64_t)qst->st_size == h->size && (qst->st_mtim.tv_sec != h->mtime_s || qst->st_mtim.tv_nsec != h->mtime_ns))
        return 0;
    uint64_t head, tail;
    int ok = 1;
    edges(qfd, h->size, &head, &tail, &ok);
    return ok && head == h->head && tail == h->tail;
}

int dash_qsave_read(dash_queue *q, rt_error *err) {
    dash_lines *x = &q->lines;
    char *path = dash_qsave_path(x->path);
    if (!path) return rt_err_set(err, RT_ENOMEM, "out of memory"), -1;
    if (q->n || x->n) return 0; /* only into an empty view */
    int fd = open(path, O_RDONLY | O_CLOEXEC), qfd = fd < 0 ? -1 : open(x->path, O_RDONLY | O_CLOEXEC);
    qsave_header h;
    struct stat qst;
    int use = qfd >= 0 && fstat(qfd, &qst) == 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
              matches(fd, &h, qfd, &qst);
    uint64_t at = sizeof h;
    uint64_t *off = use ? take(fd, &at, (h.nlines + 1) * sizeof *off) : NULL;
    dash_entry *e = off ? take(fd, &at, h.n * sizeof *e) : NULL;
    dash_decision *d = e ? take(fd, &at, h.nd * sizeof *d) : NULL;
    char *ids = d ? take(fd, &at, h.ids_len) : NULL, *tags = ids ? take(fd, &at, h.tags_len) : NULL;
    if (tags && !consistent(&h, off, e, d, ids, tags)) {
        rt_log_warn("dashboard: %s is damaged; indexing %s anew", path, x->path);
        free(tags), tags = NULL;
    }
    if (fd >= 0) close(fd);
    free(path);
    size_t nslots = 1024, ntags = 0;
    while (tags && nslots < 2 * h.n + 2)
        nslots *= 2;
    struct dash_slot *slots = tags ? calloc(nslots, sizeof *slots) : NULL;
    char *tag[DASH_MAX_TAGS];
    for (char *t = tags; slots && ntags + 1 < h.ntags && (tag[ntags] = strdup(t)); t += strlen(t) + 1)
        ntags++;
    if (!slots || ntags + 1 != h.ntags) {
        while (ntags)
            free(tag[--ntags]);
        free(off), free(e), free(d), free(ids), free(tags), free(slots);
        if (qfd >= 0) close(qfd);
        return 0;
    }
    free(tags);
    /* Installed: the view as it was, with the queue open where its lines are read. */
    free(x->off);
    x->off = off, x->n = x->cap = h.nlines, x->fd = qfd, x->dev = qst.st_dev, x->ino = qst.st_ino;
    free(q->e), free(q->d), free(q->ids), free(q->slots);
    q->e = e, q->n = q->cap = h.n, q->d = d, q->nd = q->dcap = h.nd, q->ids = ids, q->ids_len = q->ids_cap = h.ids_len;
    q->slots = slots, q->nslots = nslots;
    for (size_t i = 0; i < h.n; i++)
        dash_queue_slot_insert(q, i);
    q->ntag_hash = 0;
    for (q->ntags = 1; q->ntags < h.ntags; q->ntags++)
        q->tags[q->ntags] = tag[q->ntags - 1];
    q->saved = h.size;
    return 1;
}
