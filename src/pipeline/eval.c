#include "pipeline/eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/timer.h"
#include "data/dataset.h"
#include "rollout/bind.h"
#include "tokenizer/tokenizer.h"

pipe_eval_config pipe_eval_defaults(void) {
    pipe_eval_config c;
    memset(&c, 0, sizeof c);
    c.gen = pipe_generate_defaults();
    c.gen.samples = 32;
    c.gen.rollout.sampling.temperature = 1.0f;
    c.gen.rollout.sampling.top_p = 0.7f;
    if (!c.gen.sandbox) c.gen.sandbox = "local";
    return c;
}

void pipe_eval_result_free(pipe_eval_result *res) {
    pipe_metrics_report_free(&res->report);
    memset(res, 0, sizeof *res);
}

/* The family of each problem, from the families file or the problems' own records. */
static rt_status family_map(const pipe_eval_config *cfg, char ***fams, size_t *n, rt_error *err) {
    if (cfg->families_path) return pipe_families_read(cfg->families_path, fams, n, err);
    data_format fmt;
    rt_status st = data_format_parse(cfg->gen.format ? cfg->gen.format : "auto", &fmt, err);
    data_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (!st) st = data_dataset_read(cfg->gen.prompts_path, fmt, &ds, err);
    *fams = NULL;
    *n = 0;
    if (!st && ds.n) {
        *fams = calloc(ds.n, sizeof **fams);
        if (!*fams) st = rt_err_set(err, RT_ENOMEM, "out of memory");
        for (size_t i = 0; !st && i < ds.n; i++) {
            (*n)++;
            if (ds.items[i].family && !((*fams)[i] = strdup(ds.items[i].family)))
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
        }
    }
    data_dataset_free(&ds);
    if (st) {
        pipe_families_free(*fams, *n);
        *fams = NULL;
        *n = 0;
    }
    return st;
}

rt_status pipe_eval(const pipe_eval_config *cfg, pipe_eval_result *res, rt_error *err) {
    memset(res, 0, sizeof *res);
    double t0 = rt_time_now();
    pipe_generate_config g = cfg->gen;
    char tmp[256] = "";
    if (!g.out_path) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/retool-eval-XXXXXX", dir && *dir ? dir : "/tmp");
        int fd = mkstemp(tmp);
        if (fd < 0) return rt_err_errno(err, RT_EIO, errno, "cannot create a temporary file in %s", tmp);
        close(fd);
        g.out_path = tmp;
    }
    char **fams = NULL;
    size_t nfams = 0;
    rollout_trajectory *ts = NULL;
    size_t n = 0;
    tok_tokenizer *tok = NULL;
    rt_status st = family_map(cfg, &fams, &nfams, err);
    if (!st) st = pipe_generate(&g, &res->gen, err);
    if (!st) st = rollout_trajectory_read_file(g.out_path, &ts, &n, err);
    if (!st) st = tok_load(g.model_dir, &tok, err);
    if (!st) {
        rollout_tokenizer rt = rollout_tokenizer_ops(tok);
        pipe_metrics_options opt = {.families = (const char *const *)fams, .n_families = nfams, .tok = &rt};
        st = pipe_metrics_compute(ts, n, &opt, &res->report, err);
    }
    res->wall_s = rt_time_now() - t0;
    if (!st && cfg->json_path) {
        cJSON *j = pipe_eval_to_json(cfg, res);
        char *text = j ? cJSON_Print(j) : NULL;
        if (!text)
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
        else {
            size_t len = strlen(text);
            text[len] = '\n';
            st = rt_file_write_atomic(cfg->json_path, text, len + 1, err);
        }
        cJSON_free(text);
        cJSON_Delete(j);
    }
    if (tmp[0]) unlink(tmp);
    tok_free(tok);
    rollout_trajectories_free(ts, n);
    pipe_families_free(fams, nfams);
    if (st) pipe_eval_result_free(res);
    return st;
}

cJSON *pipe_eval_to_json(const pipe_eval_config *cfg, const pipe_eval_result *res) {
    cJSON *j = pipe_metrics_report_to_json(&res->report);
    cJSON *e = j ? cJSON_AddObjectToObject(j, "eval") : NULL;
    if (!e) {
        cJSON_Delete(j);
        return NULL;
    }
    const pipe_generate_config *g = &cfg->gen;
    int ok = cJSON_AddStringToObject(e, "model", g->model_dir) && cJSON_AddStringToObject(e, "data", g->prompts_path) &&
             cJSON_AddNumberToObject(e, "samples", (double)g->samples) &&
             cJSON_AddNumberToObject(e, "problems", (double)res->gen.problems) &&
             cJSON_AddNumberToObject(e, "trajectories", (double)res->gen.trajectories) &&
             cJSON_AddStringToObject(e, "tools", g->rollout.tools == ROLLOUT_TOOLS_NONE ? "none" : "python") &&
             cJSON_AddStringToObject(e, "template", rollout_template_name(res->gen.template_kind)) &&
             cJSON_AddNumberToObject(e, "temperature", g->rollout.sampling.temperature) &&
             cJSON_AddNumberToObject(e, "top_p", g->rollout.sampling.top_p) &&
             cJSON_AddNumberToObject(e, "max_tokens", (double)g->rollout.budget.max_response_tokens) &&
             cJSON_AddNumberToObject(e, "max_tool_calls", (double)g->rollout.budget.max_tool_calls) &&
             cJSON_AddNumberToObject(e, "seed", (double)g->rollout.seed) &&
             cJSON_AddNumberToObject(e, "wall_s", res->wall_s);
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
