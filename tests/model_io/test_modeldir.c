/* Model folders: random initialisation has the statistics it claims (normal 0.02, scaled projections, ones, zeros),
 * is seeded, and reads back through the safetensors reader and the independent Python reader; model_dir_write
 * stores f32 bit-identically and bf16 rounded to nearest even; the tokenizer copy is byte-exact and size-checked. */
#include <math.h>

#include "../base/fixtures.h"
#include "base/fileio.h"
#include "base/json.h"
#include "helpers.h"
#include "model/modeldir.h"

static char dir[64];
static void setup(void) {
    mio_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    mio_rmdir(dir);
}
TestSuite(modeldir, .init = setup, .fini = teardown);

static model_config small(model_arch arch, int tied) {
    model_config c = {.arch = arch,
                      .vocab_size = 300,
                      .hidden_size = 64,
                      .intermediate_size = 160,
                      .num_layers = 3,
                      .num_heads = 4,
                      .num_kv_heads = 2,
                      .head_dim = 16,
                      .max_position_embeddings = 256,
                      .rms_norm_eps = 1e-6,
                      .rope_theta = 1e4,
                      .tie_word_embeddings = tied,
                      .attention_bias = arch == MODEL_ARCH_QWEN2,
                      .bos_token_id = 1,
                      .eos_token_id = 2,
                      .torch_dtype = "float32"};
    return c;
}

/* Checks one tensor's values against its init kind: exact for ones / zeros; mean, std and the one-sigma mass for
 * normals (bounds at about 5 standard errors, so a correct initialisation essentially never fails). */
static void check_stats(const model_config *c, const model_tensor_spec *s, const float *v, size_t n) {
    if (s->init == MODEL_INIT_ONES || s->init == MODEL_INIT_ZEROS) {
        float want = s->init == MODEL_INIT_ONES ? 1.0f : 0.0f;
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(v[i], want, "%s[%zu] = %g", s->name, i, v[i]);
        return;
    }
    double want = s->init == MODEL_INIT_NORMAL ? 0.02 : 0.02 / sqrt(2.0 * (double)c->num_layers);
    cr_expect_float_eq(model_tensor_init_std(c, s), want, 1e-15);
    double sum = 0, sq = 0;
    size_t inside = 0;
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
        sq += (double)v[i] * v[i];
        inside += fabs(v[i]) < want;
    }
    double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean), frac = (double)inside / (double)n;
    cr_expect_lt(fabs(mean), 5 * want / sqrt((double)n), "%s mean %g", s->name, mean);
    cr_expect_lt(fabs(sd / want - 1), 5 / sqrt(2.0 * (double)n) + 0.005, "%s std %g, want %g", s->name, sd, want);
    cr_expect_lt(fabs(frac - 0.682689), 5 * sqrt(0.2166 / (double)n) + 0.005, "%s one-sigma mass %g", s->name, frac);
}

static void init_and_check(model_arch arch, int tied, st_dtype dtype) {
    model_config c = small(arch, tied);
    rt_error e;
    cr_assert_eq(model_dir_init(&c, dir, 42, dtype, &e), RT_OK, "%s", e.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    model_config back;
    cr_assert_eq(model_config_load(path, &back, &e), RT_OK, "%s", e.msg);
    cr_expect_str_eq(back.torch_dtype, dtype == ST_BF16 ? "bfloat16" : "float32");
    snprintf(back.torch_dtype, sizeof back.torch_dtype, "float32");
    cr_expect_eq(memcmp(&back, &c, sizeof c), 0, "config.json holds the config");
    st_set set;
    cr_assert_eq(st_open_dir(dir, &set, &e), RT_OK, "%s", e.msg);
    size_t ns = model_tensor_specs(&c, NULL);
    model_tensor_spec *specs = calloc(ns, sizeof *specs);
    model_tensor_specs(&c, specs);
    cr_expect_eq(set.ntensors, ns, "exactly the layout's tensors");
    for (size_t i = 0; i < ns; i++) {
        const st_tensor *t;
        cr_assert_eq(st_expect(&set, specs[i].name, specs[i].ndim, specs[i].shape, &t, &e), RT_OK, "%s", e.msg);
        cr_expect_eq(t->dtype, dtype);
        cr_expect_str_eq(set.tensors[i].name, specs[i].name, "HF order");
        size_t n = (size_t)model_tensor_spec_numel(&specs[i]);
        float *v = malloc(n * sizeof *v), *ref = malloc(n * sizeof *ref);
        cr_assert_eq(st_to_f32(t, v, &e), RT_OK);
        check_stats(&c, &specs[i], v, n);
        model_init_tensor(&c, &specs[i], 42, i, ref);
        for (size_t k = 0; k < n; k++) {
            float want = dtype == ST_BF16 ? st_bf16_to_f32(st_f32_to_bf16(ref[k])) : ref[k];
            if (memcmp(&v[k], &want, 4)) cr_assert_fail("%s[%zu]: file %a, init %a", specs[i].name, k, v[k], want);
        }
        free(v);
        free(ref);
    }
    cr_expect(mio_has(set.metadata_json, "\"format\":\"pt\""), "transformers requires format=pt: %s",
              set.metadata_json);
    st_close(&set);
    free(specs);
    /* Hugging Face's strict layout rules, checked by the independent reader */
    char st_path[256], out[256];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    snprintf(out, sizeof out, "%s/read.json", dir);
    mio_sh(PY " read %s %s", st_path, out);
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    cJSON *g;
    cr_assert_eq(rt_json_read_file(path, &g, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(cJSON_GetObjectItem(g, "eos_token_id")->valueint, 2);
    cr_expect_eq(cJSON_GetObjectItem(g, "bos_token_id")->valueint, 1);
    cJSON_Delete(g);
}

Test(modeldir, init_qwen2_tied_f32) {
    init_and_check(MODEL_ARCH_QWEN2, 1, ST_F32);
}
Test(modeldir, init_llama_untied_bf16) {
    init_and_check(MODEL_ARCH_LLAMA, 0, ST_BF16);
}

/* Large tensors make the statistics tight: 0.02 within 1% on a 512 x 2048 matrix. */
Test(modeldir, init_std_close_to_002_on_a_large_tensor) {
    model_config c = small(MODEL_ARCH_LLAMA, 1);
    c.vocab_size = 2048;
    c.hidden_size = 512;
    model_tensor_spec *s = calloc(model_tensor_specs(&c, NULL), sizeof *s);
    model_tensor_specs(&c, s);
    cr_assert_str_eq(s[0].name, "model.embed_tokens.weight");
    size_t n = 2048 * 512;
    float *v = malloc(n * sizeof *v);
    model_init_tensor(&c, &s[0], 7, 0, v);
    double sq = 0;
    for (size_t i = 0; i < n; i++)
        sq += (double)v[i] * v[i];
    cr_expect_lt(fabs(sqrt(sq / (double)n) / 0.02 - 1), 0.01);
    free(v);
    free(s);
}

Test(modeldir, init_is_seeded) {
    model_config c = small(MODEL_ARCH_QWEN2, 1);
    rt_error e;
    char a[256], b[256], d2[128];
    snprintf(d2, sizeof d2, "%s/again", dir);
    cr_assert_eq(model_dir_init(&c, dir, 5, ST_F32, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(model_dir_init(&c, d2, 5, ST_F32, &e), RT_OK, "%s", e.msg);
    snprintf(a, sizeof a, "%s/model.safetensors", dir);
    snprintf(b, sizeof b, "%s/model.safetensors", d2);
    char *x, *y;
    size_t nx, ny;
    cr_assert_eq(rt_file_read_all(a, &x, &nx, &e), RT_OK);
    cr_assert_eq(rt_file_read_all(b, &y, &ny, &e), RT_OK);
    cr_expect(nx == ny && memcmp(x, y, nx) == 0, "same seed, same bytes");
    free(y);
    cr_assert_eq(model_dir_init(&c, d2, 6, ST_F32, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(rt_file_read_all(b, &y, &ny, &e), RT_OK);
    cr_expect(nx == ny && memcmp(x, y, nx) != 0, "another seed, other weights");
    free(x);
    free(y);
    /* different tensors draw different streams */
    model_tensor_spec s[40];
    model_tensor_specs(&c, s);
    float q[64 * 64], k[64 * 64];
    model_init_tensor(&c, &s[2], 5, 2, q);
    model_init_tensor(&c, &s[2], 5, 4, k);
    cr_expect_neq(memcmp(q, k, sizeof(float) * 64 * 32), 0);
}

/* Builds f32 tensors for every spec with distinctive values, writes them, and reads them back. */
static void write_and_compare(st_dtype dtype) {
    model_config c = small(MODEL_ARCH_LLAMA, 0);
    size_t ns = model_tensor_specs(&c, NULL);
    model_tensor_spec *specs = calloc(ns, sizeof *specs);
    model_tensor_specs(&c, specs);
    st_tensor *ts = calloc(ns + 1, sizeof *ts);
    float **bufs = calloc(ns + 1, sizeof *bufs);
    for (size_t i = 0; i < ns; i++) {
        size_t n = (size_t)model_tensor_spec_numel(&specs[i]);
        bufs[i] = malloc(n * sizeof(float));
        for (size_t k = 0; k < n; k++)
            bufs[i][k] = (float)sin((double)(i * 1000 + k)) * 1.2345678f;
        ts[ns - 1 - i] = (st_tensor){.name = specs[i].name,
                                     .dtype = ST_F32,
                                     .ndim = specs[i].ndim,
                                     .data = bufs[i],
                                     .nbytes = n * 4}; /* given in reverse order */
        memcpy(ts[ns - 1 - i].shape, specs[i].shape, sizeof specs[i].shape);
    }
    float head[64];
    for (int k = 0; k < 64; k++)
        head[k] = (float)k / 3.0f;
    bufs[ns] = NULL;
    ts[ns] = (st_tensor){
        .name = "value_head.weight", .dtype = ST_F32, .ndim = 2, .shape = {1, 64}, .data = head, .nbytes = 256};
    rt_error e;
    cr_assert_eq(model_dir_write(dir, &c, ts, ns + 1, dtype, &e), RT_OK, "%s", e.msg);
    st_set set;
    cr_assert_eq(st_open_dir(dir, &set, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(set.ntensors, ns + 1);
    for (size_t i = 0; i < ns; i++) {
        cr_expect_str_eq(set.tensors[i].name, specs[i].name, "written in HF order");
        const st_tensor *t = &set.tensors[i];
        size_t n = (size_t)st_numel(t);
        float *v = malloc(n * sizeof *v);
        cr_assert_eq(st_to_f32(t, v, &e), RT_OK);
        for (size_t k = 0; k < n; k++) {
            float want = dtype == ST_BF16 ? st_bf16_to_f32(st_f32_to_bf16(bufs[i][k])) : bufs[i][k];
            if (memcmp(&v[k], &want, 4)) cr_assert_fail("%s[%zu]: %a vs %a", t->name, k, v[k], want);
        }
        free(v);
    }
    cr_expect_str_eq(set.tensors[ns].name, "value_head.weight", "extra tensors after the layout's");
    st_close(&set);
    /* a missing and a misshaped tensor are refused, naming the tensor */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/bad", dir);
    cr_expect_eq(model_dir_write(sub, &c, ts + 1, ns, dtype, &e), RT_EINVAL);
    cr_expect(mio_has(e.msg, specs[ns - 1].name) && mio_has(e.msg, "missing"), "%s", e.msg);
    ts[0].shape[0] += 1;
    cr_expect_eq(model_dir_write(sub, &c, ts, ns, dtype, &e), RT_EINVAL);
    cr_expect(mio_has(e.msg, ts[0].name) && mio_has(e.msg, "shape"), "%s", e.msg);
    ts[0].shape[0] -= 1;
    cr_expect_eq(model_dir_write(sub, &c, ts, ns, ST_F16, &e), RT_EINVAL, "F16 output is not offered");
    cr_expect(!rt_path_exists(sub), "nothing written for refused calls");
    for (size_t i = 0; i < ns; i++)
        free(bufs[i]);
    free(bufs);
    free(ts);
    free(specs);
}

Test(modeldir, write_f32_bit_identical) {
    write_and_compare(ST_F32);
}
Test(modeldir, write_bf16_rounded_to_nearest_even) {
    write_and_compare(ST_BF16);
}

Test(modeldir, tokenizer_copy_is_byte_exact_and_size_checked) {
    const char *tok = FIXTURE_TOK_QWEN3;
    char src[256];
    snprintf(src, sizeof src, "%s/tokenizer.json", tok);
    cr_assert(rt_path_exists(src), "the Qwen3 tokenizer fixture %s is missing (make fixtures unpacks it)", src);
    model_config c = small(MODEL_ARCH_QWEN2, 1);
    rt_error e;
    cr_expect_eq(model_dir_copy_tokenizer(tok, dir, &c, &e), RT_EINVAL, "300 tokens cannot hold Qwen3's vocabulary");
    cr_expect(mio_has(e.msg, "vocab_size") && mio_has(e.msg, src), "%s", e.msg);
    c.vocab_size = 151936;
    cr_assert_eq(model_dir_copy_tokenizer(tok, dir, &c, &e), RT_OK, "%s", e.msg);
    const char *files[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        char a[256], b[256];
        snprintf(a, sizeof a, "%s/%s", tok, files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        char *x, *y;
        size_t nx, ny;
        cr_assert_eq(rt_file_read_all(a, &x, &nx, &e), RT_OK);
        cr_assert_eq(rt_file_read_all(b, &y, &ny, &e), RT_OK);
        cr_expect(nx == ny && memcmp(x, y, nx) == 0, "%s copied byte for byte", files[i]);
        free(x);
        free(y);
    }
    char blocked[300];
    snprintf(blocked, sizeof blocked, "%s/tokenizer.json/sub", dir); /* a folder under a file cannot exist */
    cr_expect_neq(model_dir_copy_tokenizer(dir, blocked, NULL, &e), RT_OK, "unwritable destination");
    cr_expect(mio_has(e.msg, "tokenizer.json/sub"), "%s", e.msg);
    cr_expect_eq(model_dir_copy_tokenizer("/nonexistent-tok", dir, NULL, &e), RT_ENOTFOUND);
    cr_expect(mio_has(e.msg, "/nonexistent-tok") && mio_has(e.msg, "tokenizer.json"), "%s", e.msg);
}

Test(modeldir, tokenizer_max_id) {
    char path[256];
    mio_write(dir, "tokenizer.json",
              "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 9}},"
              " \"added_tokens\": [{\"id\": 12, \"content\": \"<eos>\"}]}",
              path, sizeof path);
    int64_t mx = 0;
    rt_error e;
    cr_assert_eq(model_tokenizer_max_id(path, &mx, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(mx, 12);
    mio_write(dir, "tokenizer.json", "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1], [\"b\", -2]]}}",
              path, sizeof path);
    cr_assert_eq(model_tokenizer_max_id(path, &mx, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(mx, 1);
    mio_write(dir, "tokenizer.json", "{\"x\": 1}", path, sizeof path);
    cr_expect_eq(model_tokenizer_max_id(path, &mx, &e), RT_EFORMAT);
    cr_expect(mio_has(e.msg, path), "%s", e.msg);
}
