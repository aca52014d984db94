/* `retool score --model DIR`: teacher-forced log-probabilities of token-id lines read on stdin. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "kernels/ops.h"
#include "kernels/pool.h"
#include "model/infer.h"
#include "model/model.h"

/* Scores one line's ids: out[i] = log p(ids[i+1] | ids[0..i]); runs through the KV cache in chunks of at most
 * chunk tokens so memory stays bounded by chunk x vocabulary. */
static rt_status score_ids(model *m, model_kv *kv, const int32_t *ids, int64_t n, int64_t chunk, float *logits,
                           double *out, rt_error *err) {
    int64_t sid;
    rt_status st = model_seq_new(kv, &sid, err);
    if (st != RT_OK) return st;
    int64_t V = m->cfg.vocab_size;
    for (int64_t b = 0; b < n - 1 && st == RT_OK; b += chunk) {
        int64_t cnt = n - 1 - b < chunk ? n - 1 - b : chunk, off[2] = {0, cnt};
        st = model_infer(m, kv, 1, &sid, off, ids + b, NULL, logits, err);
        for (int64_t i = 0; i < cnt && st == RT_OK; i++) {
            float ent, lse;
            out[b + i] = kern_logits_stats(logits + i * V, V, ids[b + i + 1], &ent, &lse);
        }
    }
    model_seq_free(kv, sid);
    return st;
}

int cmd_score(int argc, char **argv) {
    const char *dir = NULL, *prec = "f32";
    long long threads = 2, chunk = 256;
    const cli_flag flags[] = {
        {"model", CLI_FLAG_STRING, &dir, "DIR", "model folder (config.json + safetensors)"},
        {"threads", CLI_FLAG_INT, &threads, "N", "compute threads (default 2)"},
        {"precision", CLI_FLAG_STRING, &prec, "P", "f32 (default) or bf16 matrix products"},
        {"chunk", CLI_FLAG_INT, &chunk, "N", "tokens per forward pass (default 256; bounds memory to N x vocab)"},
    };
    cli_args args;
    int rc = cli_parse(argc, argv, "retool score --model DIR [--threads N] [--precision f32|bf16] < ids.jsonl",
                       "Reads lines of JSON arrays of token ids on stdin; writes for each a JSON array of the natural-log "
                       "probability of every token after the first given its prefix.",
                       flags, sizeof flags / sizeof flags[0], &args);
    if (rc) return rc;
    cli_args_free(&args);
    if (!dir) return cli_fail("score", CLI_EXIT_USAGE, "--model DIR is required");
    if (strcmp(prec, "f32") && strcmp(prec, "bf16"))
        return cli_fail("score", CLI_EXIT_USAGE, "--precision must be f32 or bf16, not '%s'", prec);
    if (threads < 1 || threads > 256) return cli_fail("score", CLI_EXIT_USAGE, "--threads must be in 1..256");
    if (chunk < 1) return cli_fail("score", CLI_EXIT_USAGE, "--chunk must be positive");
    rt_error err;
    if (kern_init((int)threads, &err) != RT_OK) return cli_fail_err("score", &err);
    model m;
    model_opts o = {.prec = strcmp(prec, "bf16") ? MODEL_PREC_F32 : MODEL_PREC_BF16, .frozen = !strcmp(prec, "bf16")};
    if (model_load(&m, dir, &o, &err) != RT_OK) return cli_fail_err("score", &err);
    model_kv *kv = NULL;
    float *logits = malloc((size_t)chunk * (size_t)m.cfg.vocab_size * sizeof(float));
    if (!logits || model_kv_init(&kv, &m, &err) != RT_OK) {
        free(logits);
        model_free(&m);
        return cli_fail("score", CLI_EXIT_FAILURE, "no memory for %lld x %lld logits", chunk,
                        (long long)m.cfg.vocab_size);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    int status = CLI_EXIT_OK;
    int32_t *ids = NULL;
    double *lp = NULL;
    while (status == CLI_EXIT_OK && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        cJSON *arr = NULL;
        char name[64];
        snprintf(name, sizeof name, "stdin line %lld", (long long)lineno);
        if (rt_json_parse(line, (size_t)len, name, &arr, &err) != RT_OK) {
            status = cli_fail_err("score", &err);
            break;
        }
        int64_t n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
        if (n < 0) {
            cJSON_Delete(arr);
            status = cli_fail("score", CLI_EXIT_FAILURE, "stdin line %lld: expected a JSON array of token ids",
                              (long long)lineno);
            break;
        }
        int32_t *ni = realloc(ids, (size_t)(n + 1) * sizeof *ids);
        double *nl = realloc(lp, (size_t)(n + 1) * sizeof *lp);
        if (ni) ids = ni;
        if (nl) lp = nl;
        if (!ni || !nl) {
            cJSON_Delete(arr);
            status = cli_fail("score", CLI_EXIT_FAILURE, "stdin line %lld: no memory", (long long)lineno);
            break;
        }
        int64_t i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
            if (v < 0 || v >= (double)m.cfg.vocab_size || v != floor(v)) {
                status = cli_fail("score", CLI_EXIT_FAILURE,
                                  "stdin line %lld: element %lld is not a token id in [0, %lld)", (long long)lineno,
                                  (long long)i, (long long)m.cfg.vocab_size);
                break;
            }
            ids[i++] = (int32_t)v;
        }
        cJSON_Delete(arr);
        if (status != CLI_EXIT_OK) break;
        if (n > 1 && score_ids(&m, kv, ids, n, chunk, logits, lp, &err) != RT_OK) {
            rt_err_prefix(&err, "stdin line %lld", (long long)lineno);
            status = cli_fail_err("score", &err);
            break;
        }
        putchar('[');
        for (int64_t j = 0; j + 1 < n; j++) printf(j ? ", %.9g" : "%.9g", lp[j]);
        printf("]\n");
    }
    fflush(stdout);
    free(line);
    free(ids);
    free(lp);
    free(logits);
    model_kv_free(kv);
    model_free(&m);
    kern_shutdown();
    return status;
}
