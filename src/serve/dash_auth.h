/* The dashboard's access control: one secret token (read from a file), compared in constant time; browser sessions
 * (a random id in an HttpOnly, SameSite=Strict cookie) made by logging in with the token; and a CSRF token per
 * session (and one for Bearer clients) that every state-changing request must send. Thread-safe. */
#ifndef RETOOL_SERVE_DASH_AUTH_H
#define RETOOL_SERVE_DASH_AUTH_H

#include <pthread.h>
#include <stddef.h>

#include "base/error.h"

#define DASH_AUTH_SESSIONS 64
#define DASH_AUTH_SESSION_S (12 * 3600) /* a login lasts 12 hours */
#define DASH_TOKEN_MIN 16               /* shortest token accepted */

typedef struct dash_session {
    char sid[65], csrf[65];
    double expires;
} dash_session;

typedef struct dash_auth {
    unsigned char token_hash[32]; /* SHA-256 of the token: compared, never the token itself */
    char bearer_csrf[65];         /* the CSRF token of Bearer clients */
    dash_session s[DASH_AUTH_SESSIONS];
    pthread_mutex_t mu;
} dash_auth;

/* Reads the token from path (surrounding whitespace dropped; at least DASH_TOKEN_MIN printable characters, no
 * spaces): an error naming the file otherwise. */
rt_status dash_auth_init(dash_auth *a, const char *path, rt_error *err);

/* Frees the lock. */
void dash_auth_destroy(dash_auth *a);

/* 1 when token (len bytes) is the token; the time taken does not depend on where they differ. */
int dash_auth_token_ok(const dash_auth *a, const char *token, size_t len);

/* Starts a session; copies its id and CSRF token out. RT_EIO when no randomness can be had. */
rt_status dash_auth_login(dash_auth *a, char sid[65], char csrf[65], rt_error *err);

/* The CSRF token of the live session sid into csrf; 0 when there is no such session. */
int dash_auth_session(dash_auth *a, const char *sid, char csrf[65]);

/* Ends session sid. */
void dash_auth_logout(dash_auth *a, const char *sid);

/* Constant-time comparison of two NUL-terminated strings (time depends on their lengths only). */
int dash_auth_equal(const char *x, const char *y);

#endif
