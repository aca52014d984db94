/* The operations dashboard (/ui/): review queue, audit log, cost and health, for the people who run a tool-using
 * model. Served by `retool serve --dashboard` on the server's port and alone by `retool dashboard`. An admin
 * surface: every /ui/ path but the login needs the token (Authorization: Bearer, or the cookie of a login), every
 * decision a CSRF token; pages carry a strict Content-Security-Policy and are never cached. See docs/SERVE.md. */
#ifndef RETOOL_SERVE_DASH_H
#define RETOOL_SERVE_DASH_H

#include <microhttpd.h>
#include <stddef.h>

#include "base/error.h"
#include "serve/metrics.h"

typedef struct dash_config {
    const char *review_queue; /* the queue file, or NULL */
    const char *audit_log;    /* the audit log, or NULL */
    const char *token_file;   /* required: no token, no dashboard */
    serve_metrics *live;      /* the serving process's metrics, or NULL */
    const char *reviewer;     /* recorded with decisions that name none (default "dashboard") */
} dash_config;

typedef struct dash dash;

/* Reads the token and sets up the views (the files are read on the first request). */
rt_status dash_open(dash **out, const dash_config *cfg, rt_error *err);

/* Points the dashboard at the serving process's metrics (once the server has started). */
void dash_set_live(dash *d, serve_metrics *live);

/* Frees the dashboard. */
void dash_close(dash *d);

/* 1 when url is the dashboard's (/ui or under /ui/). */
int dash_owns(const char *url);

/* Answers one request under /ui/ (body: the whole request body, NUL-terminated, or NULL). */
enum MHD_Result dash_handle(dash *d, struct MHD_Connection *c, const char *url, const char *method, const char *body,
                            size_t body_len);

typedef struct dash_server dash_server;

/* Serves the dashboard alone on host:port (0 picks a free port). */
rt_status dash_server_start(dash_server **out, dash *d, const char *host, int port, rt_error *err);

/* The port bound. */
int dash_server_port(const dash_server *s);

/* Stops serving (the dashboard stays the caller's). */
void dash_server_stop(dash_server *s);

#endif
