/* What the dashboard's files share (dash.c: the JSON API; dash_http.c: HTTP, auth, assets, the standalone server).
 * Not public. */
#ifndef RETOOL_SERVE_DASH_INTERNAL_H
#define RETOOL_SERVE_DASH_INTERNAL_H

#include <pthread.h>

#include <cjson/cJSON.h>

#include "serve/dash.h"
#include "serve/dash_audit.h"
#include "serve/dash_auth.h"
#include "serve/dash_queue.h"

struct dash {
    dash_config cfg;
    dash_auth auth;
    pthread_mutex_t mu; /* guards q and a */
    dash_queue q;
    dash_audit a;
    int has_q, has_a;
};

/* Sends bytes with the dashboard's security headers (CSP, nosniff, no-store, no framing); copies data. */
enum MHD_Result dash_send(struct MHD_Connection *c, unsigned code, const char *type, const void *data, size_t len);

/* Sends o (taken) as JSON. */
enum MHD_Result dash_send_json(struct MHD_Connection *c, unsigned code, cJSON *o);

/* Sends {"error": msg}. */
enum MHD_Result dash_send_error(struct MHD_Connection *c, unsigned code, const char *msg);

/* Answers an authenticated request under /ui/api/ (csrf_ok: the request carried the right CSRF token). */
enum MHD_Result dash_api(dash *d, struct MHD_Connection *c, const char *path, int is_post, const char *body,
                         size_t body_len, const char *csrf);

/* The embedded assets (dash_assets.c): the bytes of src/serve/dash/NAME, or NULL. */
const char *dash_asset(const char *name, size_t *len, const char **type);

#endif
