/* `retool model init|info` through the built binary: success paths, the figures info prints (checked against
 * hand-computed values), and usage / runtime errors with their exit codes. */
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/json.h"
#include "helpers.h"
#include "model/config.h"
#include "model/safetensors.h"

static char dir[64], out[65536], args[2048];
static void setup(void) {
    mio_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    mio_rmdir(dir);
}
TestSuite(cli_model, .init = setup, .fini = teardown);

static int cli(const char *fmt, const char *a, const char *b) {
    snprintf(args, sizeof args, fmt, a, b);
    return mio_cli(args, out, sizeof out);
}

Test(cli_model, init_then_info_tiny) {
    cr_assert_eq(cli("model init --config configs/model-tiny.json --out %s/m --seed 3 --dtype bf16%s", dir, ""), 0,
                 "%s", out);
    /* tiny: V=512 C=128 I=344 L=4 tied: 512*128 + 4*(2*128 + 4*128*128 + 3*128*344) + 128 = 857216 */
    cr_expect(mio_has(out, "857216 parameters") && mio_has(out, "BF16"), "%s", out);
    char path[256];
    snprintf(path, sizeof path, "%s/m/model.safetensors", dir);
    cr_expect(rt_path_exists(path));
    cr_assert_eq(cli("model info %s/m%s", dir, ""), 0, "%s", out);
    cr_expect(mio_has(out, "LlamaForCausalLM"), "%s", out);
    cr_expect(mio_has(out, "857216"), "%s", out);
    cr_expect(mio_has(out, "1714432 bytes; bf16"), "bf16 weights = 2 x 857216: %s", out);
    /* KV per 1k tokens: 2 (K,V) x 4 layers x 4 kv heads x 32 x 1024 x 2 bytes = 2 MiB */
    cr_expect(mio_has(out, "2097152 bytes; K and V"), "%s", out);
    cr_expect(mio_has(out, "15429888 bytes; 18 bytes a parameter"), "training total = 18 x 857216: %s", out);
    cr_expect(mio_has(out, "38 tensors (all 38 the architecture needs, shapes match; 38 BF16)"), "%s", out);
}

Test(cli_model, info_qwen2_config_file) {
    cr_assert_eq(cli("model info configs/model-qwen2.5-0.5b.json%s%s", "", ""), 0, "%s", out);
    cr_expect(mio_has(out, "Qwen2ForCausalLM"), "%s", out);
    cr_expect(mio_has(out, "494032768"), "Qwen2.5-0.5B's published parameter count: %s", out);
    cr_expect(mio_has(out, "2 kv heads, q/k/v bias"), "%s", out);
    /* 2 x 24 layers x 2 kv heads x 64 x 1024 x 2 bytes */
    cr_expect(mio_has(out, "12582912 bytes; K and V"), "%s", out);
}

Test(cli_model, init_with_tokenizer_and_force) {
    char tok[256], path[256];
    snprintf(tok, sizeof tok, "%s/tok", dir);
    mkdir(tok, 0755);
    mio_write(tok, "tokenizer.json",
              "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1}}, \"added_tokens\": [{\"id\": 511}]}", path, sizeof path);
    mio_write(tok, "tokenizer_config.json", "{\"eos_token\": \"<eos>\"}", path, sizeof path);
    /* the tokenizer folder does not say how the model will be prompted: asked for, nothing written */
    cr_expect_eq(cli("model init --config configs/model-tiny.json --out %s/m --tokenizer %s", dir, tok), 1, "%s", out);
    cr_expect(mio_has(out, "tokenizer_config.json") && mio_has(out, "--template"), "%s", out);
    snprintf(path, sizeof path, "%s/m/model.safetensors", dir);
    cr_expect(!rt_path_exists(path), "nothing written");
    cr_assert_eq(
        cli("model init --config configs/model-tiny.json --out %s/m --template plain --tokenizer %s", dir, tok), 0,
        "%s", out);
    cr_expect(mio_has(out, "prompt template plain"), "%s", out);
    snprintf(path, sizeof path, "%s/m/tokenizer_config.json", dir);
    cJSON *cfg = NULL;
    rt_error e;
    cr_assert_eq(rt_json_read_file(path, &cfg, &e), RT_OK, "%s", e.msg);
    const cJSON *k = cJSON_GetObjectItem(cfg, "retool_template"), *j = cJSON_GetObjectItem(cfg, "chat_template"),
                *eos = cJSON_GetObjectItem(cfg, "eos_token");
    cr_expect(cJSON_IsString(k) && strcmp(k->valuestring, "plain") == 0, "retool_template recorded");
    /* the Jinja string HF renders: the last user message and a newline */
    cr_expect(cJSON_IsString(j) && strstr(j->valuestring, "message['content']") && strstr(j->valuestring, "'\\n'"),
              "%s", cJSON_IsString(j) ? j->valuestring : "(no chat_template)");
    cr_expect(cJSON_IsString(eos) && strcmp(eos->valuestring, "<eos>") == 0, "the tokenizer's other keys are kept");
    cJSON_Delete(cfg);
    /* a tokenizer folder that records its template passes it on */
    char m2[256];
    snprintf(m2, sizeof m2, "%s/m", dir);
    cr_assert_eq(cli("model init --config configs/model-tiny.json --out %s/m2 --tokenizer %s", dir, m2), 0, "%s", out);
    cr_expect(mio_has(out, "prompt template plain"), "%s", out);
    cr_expect_eq(
        cli("model init --config configs/model-tiny.json --out %s/m3 --template alpaca --tokenizer %s", dir, tok), 2,
        "%s", out);
    cr_expect(mio_has(out, "alpaca"), "%s", out);
    cr_expect_eq(cli("model init --config configs/model-tiny.json --out %s/m3 --template plain%s", dir, ""), 2, "%s",
                 out);
    cr_expect_eq(cli("model init --config configs/model-tiny.json --out %s/m%s", dir, ""), 1, "%s", out);
    cr_expect(mio_has(out, "already exists") && mio_has(out, "--force"), "%s", out);
    cr_expect_eq(cli("model init --config configs/model-tiny.json --out %s/m --force%s", dir, ""), 0, "%s", out);
    /* a tokenizer bigger than the vocabulary: refused before anything is written */
    mio_write(tok, "tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 512}]}", path,
              sizeof path);
    cr_expect_eq(
        cli("model init --config configs/model-tiny.json --out %s/n --template chatml --tokenizer %s", dir, tok), 1,
        "%s", out);
    cr_expect(mio_has(out, "512") && mio_has(out, "vocab_size"), "%s", out);
    snprintf(path, sizeof path, "%s/n", dir);
    cr_expect(!rt_path_exists(path), "nothing written");
}

Test(cli_model, usage_errors_exit_2) {
    cr_expect_eq(cli("model%s%s", "", ""), 2, "%s", out);
    cr_expect_eq(cli("model inti%s%s", "", ""), 2, "%s", out);
    cr_expect(mio_has(out, "did you mean 'init'"), "%s", out);
    cr_expect_eq(cli("model init --out %s/m%s", dir, ""), 2, "%s", out);
    cr_expect(mio_has(out, "--config"), "%s", out);
    cr_expect_eq(cli("model init --config configs/model-tiny.json%s%s", "", ""), 2, "%s", out);
    cr_expect(mio_has(out, "--out"), "%s", out);
    cr_expect_eq(cli("model init --config configs/model-tiny.json --out %s/m --dtype f16%s", dir, ""), 2, "%s", out);
    cr_expect(mio_has(out, "f32 or bf16"), "%s", out);
    cr_expect_eq(cli("model init --config configs/model-tiny.json --out %s/m --sed 3%s", dir, ""), 2, "%s", out);
    cr_expect(mio_has(out, "--seed"), "suggests the closest flag: %s", out);
    cr_expect_eq(cli("model init --config configs/model-tiny.json --out %s/m --seed -1%s", dir, ""), 2, "%s", out);
    cr_expect_eq(cli("model info%s%s", "", ""), 2, "%s", out);
    cr_expect_eq(cli("model info a b%s%s", "", ""), 2, "%s", out);
    cr_expect_eq(cli("model init --help%s%s", "", ""), 0, "%s", out);
    cr_expect(mio_has(out, "--tokenizer DIR"), "%s", out);
}

Test(cli_model, runtime_errors_exit_1) {
    char path[256];
    mio_write(dir, "gpt2.json", "{\"architectures\": [\"GPT2LMHeadModel\"]}", path, sizeof path);
    cr_expect_eq(cli("model init --config %s --out %s/m", path, dir), 1, "%s", out);
    cr_expect(mio_has(out, "GPT2LMHeadModel") && mio_has(out, path), "%s", out);
    cr_expect_eq(cli("model info %s%s", path, ""), 1, "%s", out);
    cr_expect_eq(cli("model info %s/absent%s", dir, ""), 1, "%s", out);
    cr_expect(mio_has(out, "absent"), "%s", out);
    /* weights that do not match the config: a wider model's config over a tiny model's weights */
    cr_assert_eq(cli("model init --config configs/model-tiny.json --out %s/m%s", dir, ""), 0, "%s", out);
    model_config c;
    rt_error e;
    cr_assert_eq(model_config_load("configs/model-tiny.json", &c, &e), RT_OK, "%s", e.msg);
    c.intermediate_size = 256;
    snprintf(path, sizeof path, "%s/m/config.json", dir);
    cr_assert_eq(model_config_save(path, &c, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(cli("model info %s/m%s", dir, ""), 1, "%s", out);
    cr_expect(mio_has(out, "'model.layers.0.mlp.gate_proj.weight'") && mio_has(out, "[344, 128]") &&
                  mio_has(out, "[256, 128]"),
              "%s", out);
    /* corrupt weights */
    snprintf(path, sizeof path, "%s/m/model.safetensors", dir);
    cr_assert_eq(truncate(path, 100), 0);
    cr_expect_eq(cli("model info %s/m%s", dir, ""), 1, "%s", out);
    cr_expect(mio_has(out, path), "%s", out);
}
