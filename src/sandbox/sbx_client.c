/* A minimal HTTP/1.1 client (Connection: close) for the sandbox's own tests, benchmarks and remote sandboxes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sandbox/server.h"

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

rt_status sbx_http_request(const char *host, int port, const char *method, const char *path, const char *body,
                           size_t body_len, double timeout_s, int *status, char **resp, size_t *resp_len,
                           rt_error *err) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return rt_err_set(err, RT_EINVAL, "bad IPv4 address %s", host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return rt_err_errno(err, RT_EIO, errno, "socket");
    struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
        int e = errno;
        close(fd);
        return rt_err_errno(err, RT_EIO, e, "connecting to %s:%d", host, port);
    }
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      method, path, host, port, body ? body_len : 0);
    if (send_all(fd, head, (size_t)hn) || (body && body_len && send_all(fd, body, body_len))) {
        int e = errno;
        close(fd);
        return rt_err_errno(err, RT_EIO, e, "sending to %s:%d", host, port);
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            close(fd);
            return rt_err_set(err, RT_ENOMEM, "http response");
        }
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) free(buf);
            buf = nb;
            cap *= 2;
            continue;
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return rt_err_errno(err, e == EAGAIN ? RT_ETIMEOUT : RT_EIO, e, "reading from %s:%d", host, port);
        }
        if (k == 0) break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
        free(buf);
        return rt_err_set(err, RT_EFORMAT, "malformed HTTP response from %s:%d", host, port);
    }
    size_t off = (size_t)(sep + 4 - buf);
    memmove(buf, buf + off, len - off + 1);
    *resp = buf;
    if (resp_len) *resp_len = len - off;
    return RT_OK;
}
