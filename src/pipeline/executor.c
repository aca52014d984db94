#include "pipeline/executor.h"

#include <stdlib.h>
#include <string.h>

#include "rollout/remote_exec.h"

struct pipe_executor {
    rollout_remote *remote;
    char **urls;
    size_t n_urls;
};

static void free_urls(pipe_executor *x) {
    for (size_t i = 0; i < x->n_urls; i++) free(x->urls[i]);
    free(x->urls);
}

rt_status pipe_executor_open(const char *spec, int workers, pipe_executor **out, rt_error *err) {
    (void)workers;
    *out = NULL;
    if (!spec || strcmp(spec, "none") == 0) return RT_OK;
    pipe_executor *x = calloc(1, sizeof *x);
    if (!x) return rt_err_set(err, RT_ENOMEM, "out of memory");
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
    return rt_err_set(err, RT_EINVAL, "sandbox '%s': expected none, local, or http(s):// URLs separated by commas",
                      spec);
}

rollout_executor pipe_executor_ops(pipe_executor *x) {
    rollout_executor e;
    memset(&e, 0, sizeof e);
    if (x && x->remote) e = rollout_remote_ops(x->remote);
    return e;
}

void pipe_executor_close(pipe_executor *x) {
    if (!x) return;
    if (x->remote) rollout_remote_free(x->remote);
    free_urls(x);
    free(x);
}
