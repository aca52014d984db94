/* The dashboard's HTTP side: security headers, who may ask (token, session cookie, CSRF), the login, the embedded
 * page, and the standalone server of `retool dashboard`. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/body.h"
#include "serve/dash_internal.h"

#define DASH_COOKIE "retool_dash_session"
#define DASH_MAX_BODY (64u << 10)

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static struct MHD_Response *response(const void *data, size_t len, const char *type) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r) return NULL;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    return r;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned code, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result dash_send(struct MHD_Connection *c, unsigned code, const char *type, const void *data, size_t len) {
    return queue(c, code, response(data, len, type));
}

enum MHD_Result dash_send_json(struct MHD_Connection *c, unsigned code, cJSON *o) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return dash_send(c, 500, "application/json", "{\"error\": \"out of memory\"}", 26);
    enum MHD_Result ret = dash_send(c, code, "application/json", text, strlen(text));
    cJSON_free(text);
    return ret;
}

enum MHD_Result dash_send_error(struct MHD_Connection *c, unsigned code, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    return dash_send_json(c, code, o);
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to, const char *cookie) {
    struct MHD_Response *r = response("", 0, "text/plain");
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Location", to);
    if (cookie) MHD_add_response_header(r, "Set-Cookie", cookie);
    return queue(c, 303, r);
}

static enum MHD_Result asset(struct MHD_Connection *c, unsigned code, const char *name) {
    size_t len;
    const char *type;
    const char *data = dash_asset(name, &len, &type);
    if (!data) return dash_send_error(c, 404, "no such page");
    return dash_send(c, code, type, data, len);
}

/* The value of key in an application/x-www-form-urlencoded body, decoded into out; 0 when absent. */
static int form_value(const char *body, size_t len, const char *key, char *out, size_t cap) {
    size_t klen = strlen(key);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > klen && !memcmp(p, key, klen) && p[klen] == '=') {
            size_t n = 0;
            for (const char *s = p + klen + 1; s < stop && n + 1 < cap; s++) {
                unsigned v;
                if (*s == '+')
                    out[n++] = ' ';
                else if (*s == '%' && stop - s >= 3 && sscanf(s + 1, "%2x", &v) == 1)
                    out[n++] = (char)v, s += 2;
                else
                    out[n++] = *s;
            }
            out[n] = 0;
            return 1;
        }
        p = stop + 1;
    }
    return 0;
}

/* The login page again, saying the token was wrong. */
static enum MHD_Result login_failed(struct MHD_Connection *c) {
    static const char marker[] = "<!--failed-->", msg[] = "<p class=\"bad\" id=\"failed\">Wrong token.</p>";
    size_t len;
    const char *type, *page = dash_asset("login.html", &len, &type);
    const char *at = page ? memmem(page, len, marker, sizeof marker - 1) : NULL;
    if (!at) return dash_send_error(c, 500, "the embedded login page has no place for the message");
    size_t head = (size_t)(at - page), tail = len - head - (sizeof marker - 1);
    char *out = malloc(len + sizeof msg);
    if (!out) return MHD_NO;
    memcpy(out, page, head);
    memcpy(out + head, msg, sizeof msg - 1);
    memcpy(out + head + sizeof msg - 1, at + sizeof marker - 1, tail);
    enum MHD_Result ret = dash_send(c, 401, type, out, head + sizeof msg - 1 + tail);
    free(out);
    return ret;
}

static enum MHD_Result login(dash *d, struct MHD_Connection *c, int is_post, const char *body, size_t len) {
    if (!is_post) return asset(c, 200, "login.html");
    char token[4097];
    if (!body || !form_value(body, len, "token", token, sizeof token) ||
        !dash_auth_token_ok(&d->auth, token, strlen(token))) {
        /* A pause per wrong guess slows guessing down (one thread per connection: only this one waits). */
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return login_failed(c);
    }
    char sid[65], csrf[65], cookie[200];
    rt_error err;
    if (dash_auth_login(&d->auth, sid, csrf, &err)) return dash_send_error(c, 500, err.msg);
    snprintf(cookie, sizeof cookie, DASH_COOKIE "=%s; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=%d", sid,
             DASH_AUTH_SESSION_S);
    return redirect(c, "/ui/", cookie);
}

int dash_owns(const char *url) {
    return !strcmp(url, "/ui") || !strncmp(url, "/ui/", 4);
}

/* Who asks: 1 with the CSRF token they must send back, 0 with no credentials, -1 with wrong ones. */
static int who(dash *d, struct MHD_Connection *c, char csrf[65], char sid[65]) {
    sid[0] = 0;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h) {
        if (strncmp(h, "Bearer ", 7) || !dash_auth_token_ok(&d->auth, h + 7, strlen(h + 7))) return -1;
        memcpy(csrf, d->auth.bearer_csrf, 65);
        return 1;
    }
    const char *s = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, DASH_COOKIE);
    if (!s) return 0;
    if (strlen(s) != 64 || !dash_auth_session(&d->auth, s, csrf)) return -1;
    memcpy(sid, s, 65);
    return 1;
}

enum MHD_Result dash_handle(dash *d, struct MHD_Connection *c, const char *url, const char *method, const char *body,
                            size_t body_len) {
    int is_get = !strcmp(method, "GET"), is_post = !strcmp(method, "POST");
    if (!is_get && !is_post) return dash_send_error(c, 405, "the dashboard answers GET and POST only");
    if (!strcmp(url, "/ui/login")) return login(d, c, is_post, body, body_len);
    if (!strcmp(url, "/ui/app.css") && is_get) return asset(c, 200, "app.css");
    char csrf[65], sid[65];
    int w = who(d, c, csrf, sid);
    int api = !strncmp(url, "/ui/api/", 8);
    if (w <= 0) {
        if (api)
            return dash_send_error(c, 401,
                                   w < 0 ? "wrong token or expired session"
                                         : "log in first: "
                                           "Authorization: Bearer TOKEN or POST /ui/login");
        return asset(c, 401, "unauthorized.html");
    }
    if (is_post) {
        const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!t || !dash_auth_equal(t, csrf))
            return dash_send_error(c, 403, "missing or wrong X-CSRF-Token (GET /ui/api/session gives it)");
    }
    if (api) return dash_api(d, c, url + 8, is_post, body, body_len, csrf);
    if (is_post && !strcmp(url, "/ui/logout")) {
        if (sid[0]) dash_auth_logout(&d->auth, sid);
        return redirect(c, "/ui/login", DASH_COOKIE "=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    }
    if (is_post) return dash_send_error(c, 405, "POST is for /ui/api/review/ID/approve|reject and /ui/logout");
    if (!strcmp(url, "/ui") || !strcmp(url, "/ui/") || !strcmp(url, "/ui/index.html"))
        return asset(c, 200, "index.html");
    if (!strcmp(url, "/ui/app.js")) return asset(c, 200, "app.js");
    return dash_send_error(c, 404, "no such page");
}

/* ---- the standalone server ---- */

struct dash_server {
    dash *d;
    struct MHD_Daemon *daemon;
    int port;
};

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
    (void)version;
    dash_server *s = cls;
    rt_body *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rt_body_append(b, upload_data, *upload_size, DASH_MAX_BODY)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (b->too_large) return dash_send_error(c, 413, "the request body is over 64 KiB");
    if (!strcmp(url, "/")) return redirect(c, "/ui/", NULL);
    if (!dash_owns(url)) return dash_send_error(c, 404, "the dashboard is under /ui/");
    return dash_handle(s->d, c, url, method, b->buf, b->len);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    rt_body *b = *con_cls;
    if (b) {
        rt_body_free(b);
        free(b);
        *con_cls = NULL;
    }
}

rt_status dash_server_start(dash_server **out, dash *d, const char *host, int port, rt_error *err) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (port < 0 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return rt_err_set(err, RT_EINVAL, "--host %s --port %d: not an IPv4 address and port", host, port);
    dash_server *s = calloc(1, sizeof *s);
    if (!s) return rt_err_set(err, RT_ENOMEM, "out of memory");
    s->d = d;
    s->daemon =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                         NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED,
                         completed, s, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return rt_err_set(err, RT_EIO, "cannot listen on %s:%d (in use, or not an address of this host)", host, port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return RT_OK;
}

int dash_server_port(const dash_server *s) {
    return s->port;
}

void dash_server_stop(dash_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
