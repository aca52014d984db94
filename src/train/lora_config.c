#include "train/lora_config.h"

#include <string.h>

#include "base/json.h"
#include "base/rng.h"
#include "model/lora.h"

uint64_t train_lora_dropout_key(const rt_rng *rng, uint64_t tag, uint64_t index) {
    rt_rng a = rt_rng_split(rng, tag), b = rt_rng_split(&a, index);
    uint64_t k = rt_rng_u64(&b);
    return k ? k : 1;
}

void train_lora_config_json(cJSON *o, const model_lora_cfg *c) {
    cJSON *l = cJSON_CreateObject(), *t = cJSON_CreateArray();
    cJSON_AddNumberToObject(l, "rank", c->rank);
    cJSON_AddNumberToObject(l, "alpha", c->alpha);
    cJSON_AddNumberToObject(l, "dropout", c->dropout);
    for (int i = 0; i < MODEL_LORA_NTARGETS; i++)
        if (c->targets & (1u << i)) cJSON_AddItemToArray(t, cJSON_CreateString(model_lora_target_name(i)));
    cJSON_AddItemToObject(l, "targets", t);
    cJSON_AddItemToObject(o, "lora", l);
}

rt_status train_lora_config_from_json(const cJSON *o, model_lora_cfg *c, rt_error *err) {
    memset(c, 0, sizeof *c);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "lora");
    if (!l) return RT_OK;
    int64_t rank = 0;
    rt_status st = rt_json_get_int(l, "rank", &rank, err);
    if (!st) st = rt_json_get_double(l, "alpha", &c->alpha, err);
    if (!st) st = rt_json_opt_double(l, "dropout", &c->dropout, err); /* runs from before it: 0 */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, "targets"), *x;
    if (!st && !cJSON_IsArray(t)) st = rt_err_set(err, RT_EFORMAT, "field 'targets': expected a list");
    if (st) t = NULL;
    cJSON_ArrayForEach(x, t) {
        unsigned one;
        if (!cJSON_IsString(x)) st = rt_err_set(err, RT_EFORMAT, "field 'targets': not a string");
        if (!st) st = model_lora_parse_targets(x->valuestring, &one, err);
        if (st) break;
        c->targets |= one;
    }
    c->rank = (int)rank;
    if (!st) st = model_lora_check(c, err);
    if (st) return rt_err_prefix(err, "field 'lora'");
    return RT_OK;
}
