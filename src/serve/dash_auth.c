#include "serve/dash_auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "base/sha256.h"
#include "base/timer.h"

static rt_status random_hex(char out[65], rt_error *err) {
    unsigned char b[32];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return rt_err_errno(err, RT_EIO, errno, "getrandom");
        got += (size_t)r;
    }
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return RT_OK;
}

rt_status dash_auth_init(dash_auth *a, const char *path, rt_error *err) {
    memset(a, 0, sizeof *a);
    char buf[4097];
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_err_errno(err, RT_EIO, errno, "cannot read the dashboard token file %s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    char *s = buf;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = 0;
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)s[i]))
            return rt_err_set(err, RT_EINVAL, "the dashboard token file %s: the token holds a space or control byte",
                              path);
    if (len < DASH_TOKEN_MIN)
        return rt_err_set(err, RT_EINVAL,
                          "the dashboard token file %s holds %zu characters; a token needs at least %d (e.g. `head "
                          "-c 32 /dev/urandom | base64 > %s`)",
                          path, len, DASH_TOKEN_MIN, path);
    rt_sha256 h;
    rt_sha256_init(&h);
    rt_sha256_update(&h, s, len);
    rt_sha256_final(&h, a->token_hash);
    memset(buf, 0, sizeof buf);
    rt_status st = random_hex(a->bearer_csrf, err);
    if (st) return st;
    pthread_mutex_init(&a->mu, NULL);
    return RT_OK;
}

void dash_auth_destroy(dash_auth *a) {
    pthread_mutex_destroy(&a->mu);
    memset(a, 0, sizeof *a);
}

int dash_auth_token_ok(const dash_auth *a, const char *token, size_t len) {
    unsigned char d[32];
    rt_sha256 h;
    rt_sha256_init(&h);
    rt_sha256_update(&h, token, len);
    rt_sha256_final(&h, d);
    unsigned char diff = 0;
    for (int i = 0; i < 32; i++)
        diff |= (unsigned char)(d[i] ^ a->token_hash[i]);
    return diff == 0;
}

int dash_auth_equal(const char *x, const char *y) {
    size_t nx = strlen(x), ny = strlen(y);
    unsigned char diff = nx != ny;
    for (size_t i = 0; i < nx && i < ny; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

rt_status dash_auth_login(dash_auth *a, char sid[65], char csrf[65], rt_error *err) {
    rt_status st = random_hex(sid, err);
    if (!st) st = random_hex(csrf, err);
    if (st) return st;
    double now = rt_time_wall();
    pthread_mutex_lock(&a->mu);
    /* A free or expired slot, else the one closest to expiring. */
    size_t k = 0;
    for (size_t i = 0; i < DASH_AUTH_SESSIONS; i++) {
        if (a->s[i].expires < now) {
            k = i;
            break;
        }
        if (a->s[i].expires < a->s[k].expires) k = i;
    }
    memcpy(a->s[k].sid, sid, 65);
    memcpy(a->s[k].csrf, csrf, 65);
    a->s[k].expires = now + DASH_AUTH_SESSION_S;
    pthread_mutex_unlock(&a->mu);
    return RT_OK;
}

int dash_auth_session(dash_auth *a, const char *sid, char csrf[65]) {
    double now = rt_time_wall();
    int found = 0;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < DASH_AUTH_SESSIONS; i++) {
        int live = a->s[i].expires >= now && a->s[i].sid[0];
        if (dash_auth_equal(a->s[i].sid, sid) && live && !found) {
            memcpy(csrf, a->s[i].csrf, 65);
            found = 1;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return found;
}

void dash_auth_logout(dash_auth *a, const char *sid) {
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < DASH_AUTH_SESSIONS; i++)
        if (a->s[i].sid[0] && dash_auth_equal(a->s[i].sid, sid)) memset(&a->s[i], 0, sizeof a->s[i]);
    pthread_mutex_unlock(&a->mu);
}
