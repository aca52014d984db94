/* config.json: real Hugging Face configs parse to the right fields and parameter counts; every bad field is an error
 * naming the file and the field; save -> load gives the same config. */
#include <math.h>

#include "base/json.h"
#include "helpers.h"
#include "model/config.h"

static char dir[64];
static void setup(void) {
    mio_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    mio_rmdir(dir);
}
TestSuite(config, .init = setup, .fini = teardown);

/* Qwen/Qwen2.5-0.5B-Instruct's config.json as published. */
static const char *qwen_05b =
    "{\"architectures\": [\"Qwen2ForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 151643,"
    " \"eos_token_id\": 151645, \"hidden_act\": \"silu\", \"hidden_size\": 896, \"initializer_range\": 0.02,"
    " \"intermediate_size\": 4864, \"max_position_embeddings\": 32768, \"max_window_layers\": 21,"
    " \"model_type\": \"qwen2\", \"num_attention_heads\": 14, \"num_hidden_layers\": 24, \"num_key_value_heads\": 2,"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"sliding_window\": 32768, \"tie_word_embeddings\": true,"
    " \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.43.1\", \"use_cache\": true,"
    " \"use_sliding_window\": false, \"vocab_size\": 151936}";

/* TinyLlama/TinyLlama-1.1B-Chat-v1.0's config.json as published. */
static const char *tinyllama =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"bos_token_id\": 1, \"eos_token_id\": 2,"
    " \"hidden_act\": \"silu\", \"hidden_size\": 2048, \"initializer_range\": 0.02, \"intermediate_size\": 5632,"
    " \"max_position_embeddings\": 2048, \"model_type\": \"llama\", \"num_attention_heads\": 32,"
    " \"num_hidden_layers\": 22, \"num_key_value_heads\": 4, \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05,"
    " \"rope_scaling\": null, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.35.0\", \"use_cache\": true, \"vocab_size\": 32000}";

static rt_status load_text(const char *text, model_config *cfg, rt_error *e, char *path, size_t n) {
    mio_write(dir, "config.json", text, path, n);
    rt_err_clear(e);
    return model_config_load(path, cfg, e);
}

Test(config, qwen2_05b_fields_and_param_count) {
    model_config c;
    rt_error e;
    char path[256];
    cr_assert_eq(load_text(qwen_05b, &c, &e, path, sizeof path), RT_OK, "%s", e.msg);
    cr_expect_eq(c.arch, MODEL_ARCH_QWEN2);
    cr_expect_eq(c.hidden_size, 896);
    cr_expect_eq(c.intermediate_size, 4864);
    cr_expect_eq(c.num_layers, 24);
    cr_expect_eq(c.num_heads, 14);
    cr_expect_eq(c.num_kv_heads, 2);
    cr_expect_eq(c.head_dim, 64);
    cr_expect_eq(c.vocab_size, 151936);
    cr_expect_eq(c.max_position_embeddings, 32768);
    cr_expect_eq(c.tie_word_embeddings, 1);
    cr_expect_eq(c.attention_bias, 1, "Qwen2 always has q/k/v bias");
    cr_expect_eq(c.bos_token_id, 151643);
    cr_expect_eq(c.eos_token_id, 151645);
    cr_expect_float_eq(c.rms_norm_eps, 1e-6, 1e-20);
    cr_expect_float_eq(c.rope_theta, 1e6, 1e-6);
    cr_expect_str_eq(c.torch_dtype, "bfloat16");
    /* Qwen2.5-0.5B: 494,032,768 parameters (model.num_parameters() in transformers) */
    cr_expect_eq(model_config_param_count(&c), 494032768LL);
}

Test(config, tinyllama_fields_and_param_count) {
    model_config c;
    rt_error e;
    char path[256];
    cr_assert_eq(load_text(tinyllama, &c, &e, path, sizeof path), RT_OK, "%s", e.msg);
    cr_expect_eq(c.arch, MODEL_ARCH_LLAMA);
    cr_expect_eq(c.num_kv_heads, 4);
    cr_expect_eq(c.head_dim, 64);
    cr_expect_eq(c.attention_bias, 0);
    cr_expect_eq(c.tie_word_embeddings, 0);
    cr_expect_float_eq(c.rope_theta, 10000.0, 1e-9);
    /* TinyLlama-1.1B: 1,100,048,384 parameters */
    cr_expect_eq(model_config_param_count(&c), 1100048384LL);
}

Test(config, defaults_model_type_only_and_token_lists) {
    model_config c;
    rt_error e;
    char path[256];
    const char *text = "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128,"
                       " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"rms_norm_eps\": 1e-5,"
                       " \"vocab_size\": 100, \"eos_token_id\": [7, 8], \"head_dim\": 32}";
    cr_assert_eq(load_text(text, &c, &e, path, sizeof path), RT_OK, "%s", e.msg);
    cr_expect_eq(c.arch, MODEL_ARCH_LLAMA);
    cr_expect_eq(c.num_kv_heads, 4, "num_key_value_heads defaults to num_attention_heads");
    cr_expect_eq(c.head_dim, 32, "explicit head_dim wins over hidden/heads");
    cr_expect_float_eq(c.rope_theta, 10000.0, 1e-9);
    cr_expect_eq(c.max_position_embeddings, 2048);
    cr_expect_eq(c.tie_word_embeddings, 0);
    cr_expect_eq(c.attention_bias, 0);
    cr_expect_eq(c.bos_token_id, -1);
    cr_expect_eq(c.eos_token_id, 7, "first of a list");
    cr_expect_str_eq(c.torch_dtype, "float32");
}

Test(config, save_then_load_is_identical) {
    model_config c, d;
    rt_error e;
    char path[256], out[256];
    cr_assert_eq(load_text(qwen_05b, &c, &e, path, sizeof path), RT_OK, "%s", e.msg);
    snprintf(out, sizeof out, "%s/saved.json", dir);
    cr_assert_eq(model_config_save(out, &c, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(model_config_load(out, &d, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(memcmp(&c, &d, sizeof c), 0, "every field survives save -> load");
    /* fields transformers needs to pick the class, with HF's names */
    cJSON *root;
    cr_assert_eq(rt_json_read_file(out, &root, &e), RT_OK);
    cr_expect_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "architectures"), 0)->valuestring,
                     "Qwen2ForCausalLM");
    cr_expect_str_eq(cJSON_GetObjectItem(root, "model_type")->valuestring, "qwen2");
    cr_expect_eq(cJSON_GetObjectItem(root, "num_key_value_heads")->valueint, 2);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(root, "tie_word_embeddings")));
    cJSON_Delete(root);

    cr_assert_eq(load_text(tinyllama, &c, &e, path, sizeof path), RT_OK, "%s", e.msg);
    c.attention_bias = 1;
    cr_assert_eq(model_config_save(out, &c, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(model_config_load(out, &d, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(memcmp(&c, &d, sizeof c), 0, "llama with attention_bias survives");
}

/* Replaces (or removes, when value is NULL) one field of the TinyLlama config and expects an error naming it. */
static void expect_bad(const char *field, const char *value, rt_status want, const char *also) {
    cJSON *root = cJSON_Parse(tinyllama);
    cJSON_DeleteItemFromObject(root, field);
    if (value) cJSON_AddItemToObject(root, field, cJSON_Parse(value));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    model_config c;
    rt_error e;
    char path[256];
    rt_status st = load_text(text, &c, &e, path, sizeof path);
    free(text);
    cr_expect_eq(st, want, "%s=%s: status %d (%s), want %d", field, value ? value : "(removed)", st, e.msg, want);
    cr_expect(mio_has(e.msg, path), "error names the file: %s", e.msg);
    char quoted[128];
    snprintf(quoted, sizeof quoted, "'%s'", field);
    cr_expect(mio_has(e.msg, quoted), "error names field %s: %s", field, e.msg);
    if (also) cr_expect(mio_has(e.msg, also), "error mentions '%s': %s", also, e.msg);
}

Test(config, missing_required_fields) {
    const char *required[] = {"hidden_size",         "intermediate_size", "num_hidden_layers",
                              "num_attention_heads", "vocab_size",        "rms_norm_eps"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        expect_bad(required[i], NULL, RT_EFORMAT, "missing");
}

Test(config, mistyped_fields) {
    expect_bad("hidden_size", "\"2048\"", RT_EFORMAT, "integer");
    expect_bad("hidden_size", "2048.5", RT_EFORMAT, "integer");
    expect_bad("num_key_value_heads", "true", RT_EFORMAT, "integer");
    expect_bad("rms_norm_eps", "\"small\"", RT_EFORMAT, "number");
    expect_bad("tie_word_embeddings", "1", RT_EFORMAT, "true or false");
    expect_bad("attention_bias", "\"no\"", RT_EFORMAT, NULL);
    expect_bad("rope_theta", "[1]", RT_EFORMAT, "number");
    expect_bad("eos_token_id", "\"2\"", RT_EFORMAT, NULL);
    expect_bad("eos_token_id", "[2, -1]", RT_EFORMAT, NULL);
    expect_bad("bos_token_id", "-3", RT_EFORMAT, "negative");
    expect_bad("torch_dtype", "5", RT_EFORMAT, "string");
    expect_bad("architectures", "\"LlamaForCausalLM\"", RT_EFORMAT, NULL);
    expect_bad("model_type", "7", RT_EFORMAT, NULL);
}

Test(config, out_of_range_and_inconsistent) {
    expect_bad("hidden_size", "0", RT_ERANGE, NULL);
    expect_bad("hidden_size", "-64", RT_ERANGE, NULL);
    expect_bad("num_hidden_layers", "-1", RT_ERANGE, NULL);
    expect_bad("vocab_size", "100000000000", RT_ERANGE, NULL);
    expect_bad("intermediate_size", "0", RT_ERANGE, NULL);
    expect_bad("num_key_value_heads", "5", RT_EFORMAT, "divide");
    expect_bad("num_attention_heads", "3", RT_EFORMAT, "divide");
    expect_bad("head_dim", "33", RT_EFORMAT, "odd");
    expect_bad("rms_norm_eps", "0", RT_ERANGE, NULL);
    expect_bad("rope_theta", "-1", RT_ERANGE, NULL);
    expect_bad("eos_token_id", "32000", RT_ERANGE, "vocab_size");
    expect_bad("max_position_embeddings", "0", RT_ERANGE, NULL);
}

Test(config, unsupported_values) {
    expect_bad("architectures", "[\"GPT2LMHeadModel\"]", RT_EUNSUPPORTED, "GPT2LMHeadModel");
    expect_bad("architectures", "[\"MistralForCausalLM\"]", RT_EUNSUPPORTED, "LlamaForCausalLM, Qwen2ForCausalLM");
    expect_bad("model_type", "\"gpt2\"", RT_EUNSUPPORTED, "gpt2");
    expect_bad("model_type", "\"qwen2\"", RT_EFORMAT, "contradicts");
    expect_bad("rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}", RT_EUNSUPPORTED, NULL);
    expect_bad("hidden_act", "\"gelu\"", RT_EUNSUPPORTED, "gelu");
    expect_bad("mlp_bias", "true", RT_EUNSUPPORTED, NULL);
    expect_bad("pretraining_tp", "2", RT_EUNSUPPORTED, NULL);
    expect_bad("torch_dtype", "\"float8\"", RT_EUNSUPPORTED, "float8");
}

Test(config, qwen2_specific) {
    model_config c;
    rt_error e;
    char path[256];
    cJSON *root = cJSON_Parse(qwen_05b);
    cJSON_AddItemToObject(root, "attention_bias", cJSON_CreateFalse());
    char *text = cJSON_Print(root);
    cr_expect_eq(load_text(text, &c, &e, path, sizeof path), RT_EUNSUPPORTED);
    cr_expect(mio_has(e.msg, "'attention_bias'"), "%s", e.msg);
    free(text);
    cJSON_ReplaceItemInObject(root, "attention_bias", cJSON_CreateTrue());
    cJSON_ReplaceItemInObject(root, "use_sliding_window", cJSON_CreateTrue());
    text = cJSON_Print(root);
    cr_expect_eq(load_text(text, &c, &e, path, sizeof path), RT_EUNSUPPORTED);
    cr_expect(mio_has(e.msg, "'use_sliding_window'"), "%s", e.msg);
    free(text);
    cJSON_Delete(root);
}

Test(config, no_architecture_and_bad_json) {
    model_config c;
    rt_error e;
    char path[256];
    cr_expect_eq(load_text("{\"hidden_size\": 8}", &c, &e, path, sizeof path), RT_EFORMAT);
    cr_expect(mio_has(e.msg, "'architectures'") && mio_has(e.msg, path), "%s", e.msg);
    cr_expect_eq(load_text("{\"hidden_size\": 8,\n \"vocab_size\": }", &c, &e, path, sizeof path), RT_EFORMAT);
    cr_expect(mio_has(e.msg, ":2:"), "names the line: %s", e.msg);
    cr_expect_eq(load_text("[1, 2]", &c, &e, path, sizeof path), RT_EFORMAT);
    cr_expect(mio_has(e.msg, "object"), "%s", e.msg);
    snprintf(path, sizeof path, "%s/absent.json", dir);
    cr_expect_neq(model_config_load(path, &c, &e), RT_OK);
    cr_expect(mio_has(e.msg, path), "%s", e.msg);
}

Test(config, validate_names_the_caller) {
    model_config c;
    rt_error e;
    char path[256];
    cr_assert_eq(load_text(tinyllama, &c, &e, path, sizeof path), RT_OK, "%s", e.msg);
    cr_expect_eq(model_config_validate(&c, "mine", &e), RT_OK);
    c.num_kv_heads = 7;
    cr_expect_eq(model_config_validate(&c, "mine", &e), RT_EFORMAT);
    cr_expect(mio_has(e.msg, "mine") && mio_has(e.msg, "'num_key_value_heads'"), "%s", e.msg);
    c.num_kv_heads = 4;
    c.arch = (model_arch)9;
    cr_expect_eq(model_config_validate(&c, "mine", &e), RT_EUNSUPPORTED);
    snprintf(path, sizeof path, "%s/never.json", dir);
    cr_expect_neq(model_config_save(path, &c, &e), RT_OK, "save refuses an invalid config");
}
