#include "rollout/exec_spec.h"

#include <stdlib.h>
#include <string.h>

#include "rollout/remote_exec.h"
#include "rollout/sandbox_exec.h"
#include "sandbox/sandbox.h"

/* "local:allow-weaker=NAME,...": the local pool, allowed to start without the protections named. */
#define LOCAL_WEAKER "local:allow-weaker="

struct rollout_exec_spec {
    sbx_pool *pool;
    rollout_sandbox_exec *local;
    rollout_remote *remote;
    char **urls;
    size_t n_urls;
};

static void free_urls(rollout_exec_spec *x) {
    for (size_t i = 0; i < x->n_urls; i++) free(x->urls[i]);
    free(x->urls);
}

rt_status rollout_exec_spec_open(const char *spec, int workers, rollout_exec_spec **out, rt_error *err) {
    *out = NULL;
    if (!spec || strcmp(spec, "none") == 0) return RT_OK;
    rollout_exec_spec *x = calloc(1, sizeof *x);
    if (!x) return rt_err_set(err, RT_ENOMEM, "out of memory");
    const char *weaker = strncmp(spec, LOCAL_WEAKER, strlen(LOCAL_WEAKER)) == 0 ? spec + strlen(LOCAL_WEAKER) : NULL;
    if (strcmp(spec, "local") == 0 || weaker) {
        sbx_config sc;
        sbx_config_default(&sc);
        if (workers > 0) sc.workers = workers;
        rt_status st = weaker ? sbx_weaker_parse(weaker, &sc.allow_weaker, err) : RT_OK;
        if (!st) st = sbx_pool_init(&x->pool, &sc, err);
        if (!st) st = rollout_sandbox_exec_init(&x->local, x->pool, 0, 0, err);
        if (st) {
            rollout_exec_spec_close(x);
            return rt_err_prefix(err, "local sandbox");
        }
        *out = x;
        return RT_OK;
    }
    if (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0) {
        char *copy = strdup(spec);
        size_t cap = 8;
        x->urls = calloc(cap, sizeof *x->urls);
        for (char *save = NULL, *u = copy ? strtok_r(copy, ",", &save) : NULL; u && x->urls;
             u = strtok_r(NULL, ",", &save)) {
            if (x->n_urls == cap) {
                cap *= 2;
                char **p = realloc(x->urls, cap * sizeof *p);
                if (!p) break;
                x->urls = p;
            }
            x->urls[x->n_urls++] = strdup(u);
        }
        free(copy);
        rollout_remote_config rc = {.urls = (const char *const *)x->urls, .n_urls = x->n_urls};
        rt_status st = rollout_remote_open(&rc, &x->remote, err);
        if (st) {
            free_urls(x);
            free(x);
            return st;
        }
        *out = x;
        return RT_OK;
    }
    free(x);
    return rt_err_set(err, RT_EINVAL,
                      "sandbox '%s': expected none, local, local:allow-weaker=NAME,..., or http(s):// URLs "
                      "separated by commas",
                      spec);
}

rollout_executor rollout_exec_spec_ops(rollout_exec_spec *x) {
    rollout_executor e;
    memset(&e, 0, sizeof e);
    if (x && x->remote) e = rollout_remote_ops(x->remote);
    if (x && x->local) e = rollout_sandbox_exec_ops(x->local);
    return e;
}

void rollout_exec_spec_close(rollout_exec_spec *x) {
    if (!x) return;
    if (x->remote) rollout_remote_free(x->remote);
    if (x->local) rollout_sandbox_exec_free(x->local);
    if (x->pool) sbx_pool_free(x->pool);
    free_urls(x);
    free(x);
}
