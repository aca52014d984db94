/* The supervisor <-> worker frames: a 4-byte little-endian length, a JSON header line, then the blobs it lists. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"

#define SBX_FRAME_MAX (1u << 30)

int sbx_send_iov(int fd, struct iovec *iov, int n) {
    int sock = 1;
    while (n > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t k = sock ? sendmsg(fd, &m, MSG_NOSIGNAL) : writev(fd, iov, n);
        if (k < 0 && errno == ENOTSOCK && sock) {
            sock = 0;
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EAGAIN) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            if (poll(&pfd, 1, 5000) <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            continue;
        }
        if (k < 0) return -1;
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

int sbx_proto_send(int fd, const char *json, const void *const *blobs, const size_t *lens, size_t nblobs) {
    size_t total = strlen(json) + 1;
    for (size_t i = 0; i < nblobs; i++)
        total += lens[i];
    if (total > SBX_FRAME_MAX || nblobs > 8) {
        errno = EMSGSIZE;
        return -1;
    }
    unsigned char hdr[4] = {(unsigned char)total, (unsigned char)(total >> 8), (unsigned char)(total >> 16),
                            (unsigned char)(total >> 24)};
    /* One sendmsg for the whole frame: the reader wakes once, not once per piece. */
    struct iovec iov[11];
    int n = 0;
    iov[n++] = (struct iovec){hdr, 4};
    iov[n++] = (struct iovec){(void *)json, strlen(json)};
    iov[n++] = (struct iovec){"\n", 1};
    for (size_t i = 0; i < nblobs; i++)
        if (lens[i]) iov[n++] = (struct iovec){(void *)blobs[i], lens[i]};
    return sbx_send_iov(fd, iov, n);
}

/* A reader's buffer past this size is released once it is empty (the next frame starts a new one). */
#define SBX_READER_KEEP ((size_t)256 << 10)

int sbx_reader_fill(sbx_reader *r, int fd) {
    for (;;) {
        if (r->cap - r->len < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 131072;
            unsigned char *nb = realloc(r->buf, cap);
            if (!nb) {
                errno = ENOMEM;
                return -1;
            }
            r->buf = nb;
            r->cap = cap;
        }
        ssize_t k = read(fd, r->buf + r->len, r->cap - r->len);
        if (k > 0) {
            r->len += (size_t)k;
            continue;
        }
        if (k == 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return 1;
        return -1;
    }
}

int sbx_reader_next(sbx_reader *r, char **hdr, unsigned char **body, size_t *body_len) {
    if (r->len < 4) return 0;
    size_t n = (size_t)r->buf[0] | (size_t)r->buf[1] << 8 | (size_t)r->buf[2] << 16 | (size_t)r->buf[3] << 24;
    if (n > SBX_FRAME_MAX) return -1;
    if (r->len < 4 + n) return 0;
    unsigned char *p = r->buf + 4;
    unsigned char *nl = memchr(p, '\n', n);
    if (!nl) return -1;
    size_t hl = (size_t)(nl - p), bl = n - hl - 1;
    *hdr = malloc(hl + 1);
    *body = bl ? malloc(bl) : NULL;
    if (!*hdr || (bl && !*body)) {
        free(*hdr);
        free(*body);
        return -1;
    }
    memcpy(*hdr, p, hl);
    (*hdr)[hl] = 0;
    if (bl) memcpy(*body, nl + 1, bl);
    *body_len = bl;
    memmove(r->buf, r->buf + 4 + n, r->len - 4 - n);
    r->len -= 4 + n;
    if (!r->len && r->cap > SBX_READER_KEEP) sbx_reader_free(r); /* one large answer does not pin its buffer */
    return 1;
}

void sbx_reader_free(sbx_reader *r) {
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}
