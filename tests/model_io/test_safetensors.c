/* safetensors: files from an independent Python writer read back to the same values (padded and unpadded headers,
 * sharded folders); retool's files read by the independent reader under Hugging Face's strict rules; round trips are
 * bit-identical; every malformed file is an error naming the file and tensor. */
#include <math.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/json.h"
#include "helpers.h"
#include "model/safetensors.h"

static char dir[64];
static void setup(void) {
    mio_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    mio_rmdir(dir);
}
TestSuite(safetensors, .init = setup, .fini = teardown);

/* Compares every tensor listed in an expected.json (written by the Python writer) with what set holds. */
static void compare_expected(const st_set *set, const char *expected_path) {
    cJSON *root;
    rt_error e;
    cr_assert_eq(rt_json_read_file(expected_path, &root, &e), RT_OK, "%s", e.msg);
    const cJSON *ent;
    int count = 0;
    cJSON_ArrayForEach(ent, root) {
        const st_tensor *t = st_find(set, ent->string);
        cr_assert_not_null(t, "tensor %s not found", ent->string);
        const cJSON *shape = cJSON_GetObjectItem(ent, "shape"), *vals = cJSON_GetObjectItem(ent, "values");
        cr_assert_eq(t->ndim, cJSON_GetArraySize(shape), "%s ndim", ent->string);
        for (int i = 0; i < t->ndim; i++)
            cr_expect_eq(t->shape[i], (int64_t)cJSON_GetArrayItem(shape, i)->valuedouble, "%s dim %d", t->name, i);
        size_t n = (size_t)cJSON_GetArraySize(vals);
        cr_assert_eq((int64_t)n, st_numel(t), "%s numel", t->name);
        float *f = malloc((n + 1) * sizeof *f);
        cr_assert_eq(st_to_f32(t, f, &e), RT_OK, "%s", e.msg);
        for (size_t i = 0; i < n; i++) {
            float want = (float)cJSON_GetArrayItem(vals, (int)i)->valuedouble;
            cr_expect_eq(memcmp(&f[i], &want, 4), 0, "%s[%zu]: %.9g vs %.9g", t->name, i, f[i], want);
        }
        free(f);
        count++;
    }
    cr_expect_gt(count, 0);
    cJSON_Delete(root);
}

static void read_python_file(int pad) {
    char path[256], exp[300];
    snprintf(path, sizeof path, "%s/py.safetensors", dir);
    snprintf(exp, sizeof exp, "%s.expected.json", path);
    mio_sh(PY " good %s %s", path, pad ? "" : "--no-pad");
    st_set set;
    rt_error e;
    cr_assert_eq(st_open_file(path, &set, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(set.ntensors, 7u);
    compare_expected(&set, exp);
    cr_assert_not_null(set.metadata_json);
    cr_expect(mio_has(set.metadata_json, "\"format\":\"pt\""), "%s", set.metadata_json);
    const st_tensor *ids = st_find(&set, "ids");
    cr_assert_not_null(ids);
    cr_expect_eq(ids->dtype, ST_I64);
    int64_t v[6];
    memcpy(v, ids->data, sizeof v);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(v[i], i);
    float f[6];
    cr_expect_eq(st_to_f32(ids, f, &e), RT_EUNSUPPORTED, "integers are not converted to f32");
    cr_expect(mio_has(e.msg, "'ids'") && mio_has(e.msg, path), "%s", e.msg);
    const st_tensor *a = st_find(&set, "model.a.weight");
    if (pad) cr_expect(st_aligned(a), "HF-style padding keeps f32 data aligned");
    cr_expect_str_eq(a->file, path);
    st_close(&set);
}

Test(safetensors, reads_independent_writer_padded) {
    read_python_file(1);
}
Test(safetensors, reads_independent_writer_unpadded) {
    read_python_file(0);
}

Test(safetensors, reads_sharded_folder) {
    mio_sh(PY " sharded %s%s", dir, "");
    st_set set;
    rt_error e;
    cr_assert_eq(st_open_dir(dir, &set, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(set.ntensors, 5u);
    cr_expect_eq(set.nmaps, 2u);
    char exp[256];
    snprintf(exp, sizeof exp, "%s/expected.json", dir);
    compare_expected(&set, exp);
    cr_expect(mio_has(st_find(&set, "model.layers.1.w")->file, "model-00002-of-00002.safetensors"));
    const st_tensor *t;
    int64_t shape[2] = {2, 3};
    cr_expect_eq(st_expect(&set, "model.layers.2.w", 2, shape, &t, &e), RT_OK, "%s", e.msg);
    st_close(&set);
    /* a single model.safetensors beside the index wins, as in transformers */
    float one = 1.0f;
    st_tensor single = {.name = "only", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = &one, .nbytes = 4};
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(st_write_file(path, &single, 1, NULL, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(st_open_dir(dir, &set, &e), RT_OK, "%s", e.msg);
    cr_expect(set.ntensors == 1 && st_find(&set, "only"));
    st_close(&set);
}

Test(safetensors, sharded_index_errors) {
    mio_sh(PY " sharded %s%s", dir, "");
    char path[256], index[256];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    st_set set;
    rt_error e;
    /* a tensor the index names that the shard lacks */
    cJSON *root;
    cr_assert_eq(rt_json_read_file(index, &root, &e), RT_OK);
    cJSON *wm = cJSON_GetObjectItem(root, "weight_map");
    cJSON_AddStringToObject(wm, "ghost.weight", "model-00001-of-00002.safetensors");
    cr_assert_eq(rt_json_write_file(index, root, &e), RT_OK);
    cr_expect_eq(st_open_dir(dir, &set, &e), RT_ENOTFOUND);
    cr_expect(mio_has(e.msg, "'ghost.weight'") && mio_has(e.msg, index), "%s", e.msg);
    /* a tensor listed in the wrong shard */
    cJSON_DeleteItemFromObject(wm, "ghost.weight");
    cJSON_ReplaceItemInObject(wm, "model.layers.0.w", cJSON_CreateString("model-00002-of-00002.safetensors"));
    cr_assert_eq(rt_json_write_file(index, root, &e), RT_OK);
    cr_expect_eq(st_open_dir(dir, &set, &e), RT_EFORMAT);
    cr_expect(mio_has(e.msg, "'model.layers.0.w'") && mio_has(e.msg, "found in"), "%s", e.msg);
    /* a tensor in a shard that the index does not list */
    cJSON_ReplaceItemInObject(wm, "model.layers.0.w", cJSON_CreateString("model-00001-of-00002.safetensors"));
    cJSON_DeleteItemFromObject(wm, "model.layers.2.w");
    cr_assert_eq(rt_json_write_file(index, root, &e), RT_OK);
    cr_expect_eq(st_open_dir(dir, &set, &e), RT_EFORMAT);
    cr_expect(mio_has(e.msg, "'model.layers.2.w'") && mio_has(e.msg, "not listed"), "%s", e.msg);
    /* a shard name escaping the folder */
    cJSON_AddStringToObject(wm, "model.layers.2.w", "../elsewhere.safetensors");
    cr_assert_eq(rt_json_write_file(index, root, &e), RT_OK);
    cr_expect_eq(st_open_dir(dir, &set, &e), RT_EFORMAT);
    cr_expect(mio_has(e.msg, "'model.layers.2.w'"), "%s", e.msg);
    /* a missing shard file */
    cJSON_ReplaceItemInObject(wm, "model.layers.2.w", cJSON_CreateString("model-00003-of-00002.safetensors"));
    cr_assert_eq(rt_json_write_file(index, root, &e), RT_OK);
    cr_expect_eq(st_open_dir(dir, &set, &e), RT_ENOTFOUND);
    cr_expect(mio_has(e.msg, "model-00003-of-00002.safetensors"), "%s", e.msg);
    cJSON_Delete(root);
    /* no weights at all */
    snprintf(path, sizeof path, "%s/empty", dir);
    cr_assert_eq(rt_mkdir_p(path, &e), RT_OK);
    cr_expect_eq(st_open_dir(path, &set, &e), RT_ENOTFOUND);
    cr_expect(mio_has(e.msg, path), "%s", e.msg);
}

/* Writes a few tensors of every dtype with retool, reads them back through retool and through the Python reader. */
Test(safetensors, write_read_round_trip_bit_identical) {
    float a[12];
    for (int i = 0; i < 12; i++)
        a[i] = (float)(i * 0.37 - 1.5) * (i % 3 ? 1.0f : -1e-30f);
    a[5] = NAN;
    a[6] = -INFINITY;
    uint16_t bf[5] = {0x3f80, 0xc000, 0x0001, 0x7f80, 0x8000};
    uint16_t h[3] = {0x3c00, 0x0001, 0xfbff};
    double d[2] = {1.0 / 3.0, -2.5};
    int32_t i32[4] = {-1, 0, 7, 1 << 30};
    st_tensor ts[] = {
        {.name = "model.embed_tokens.weight", .dtype = ST_F32, .ndim = 2, .shape = {3, 4}, .data = a, .nbytes = 48},
        {.name = "b\"q\\uote", .dtype = ST_BF16, .ndim = 1, .shape = {5}, .data = bf, .nbytes = 10},
        {.name = "h", .dtype = ST_F16, .ndim = 3, .shape = {1, 3, 1}, .data = h, .nbytes = 6},
        {.name = "d", .dtype = ST_F64, .ndim = 1, .shape = {2}, .data = d, .nbytes = 16},
        {.name = "i", .dtype = ST_I32, .ndim = 2, .shape = {2, 2}, .data = i32, .nbytes = 16},
        {.name = "none", .dtype = ST_F32, .ndim = 2, .shape = {0, 4}, .data = NULL, .nbytes = 0},
    };
    size_t n = sizeof ts / sizeof ts[0];
    char path[256], out[300];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    rt_error e;
    const char *meta[] = {"format", "pt", "creator", "retool", NULL};
    cr_assert_eq(st_write_file(path, ts, n, meta, &e), RT_OK, "%s", e.msg);
    st_set set;
    cr_assert_eq(st_open_file(path, &set, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(set.ntensors, n);
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_find(&set, ts[i].name);
        cr_assert_not_null(t, "%s", ts[i].name);
        cr_expect_eq(t->dtype, ts[i].dtype);
        cr_expect_eq(t->ndim, ts[i].ndim);
        cr_expect_eq(memcmp(t->shape, ts[i].shape, sizeof(int64_t) * (size_t)t->ndim), 0);
        cr_assert_eq(t->nbytes, ts[i].nbytes);
        if (t->nbytes) cr_expect_eq(memcmp(t->data, ts[i].data, t->nbytes), 0, "%s bytes differ", t->name);
        cr_expect(st_aligned(t), "%s aligned", t->name);
    }
    cr_expect(mio_has(set.metadata_json, "\"creator\":\"retool\""), "%s", set.metadata_json);
    st_close(&set);

    /* the independent reader: HF's strict layout rules, same values, same order */
    snprintf(out, sizeof out, "%s/read.json", dir);
    mio_sh(PY " read %s %s", path, out);
    cJSON *root;
    cr_assert_eq(rt_json_read_file(out, &root, &e), RT_OK, "%s", e.msg);
    const cJSON *order = cJSON_GetObjectItem(root, "__order__");
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(cJSON_GetArrayItem(order, (int)i)->valuestring, ts[i].name);
    const cJSON *emb = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(root, "tensors"), "model.embed_tokens.weight"), "values");
    for (int i = 0; i < 12; i++) {
        if (i == 5 || i == 6) continue; /* JSON has no NaN / inf; the bytes were compared above */
        cr_expect_eq((float)cJSON_GetArrayItem(emb, i)->valuedouble, a[i], "value %d", i);
    }
    const cJSON *bfv =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "tensors"), "b\"q\\uote"), "values");
    cr_expect_eq(cJSON_GetArrayItem(bfv, 0)->valuedouble, 1.0);
    cr_expect_eq(cJSON_GetArrayItem(bfv, 1)->valuedouble, -2.0);
    cJSON_Delete(root);
}

Test(safetensors, write_rejects_bad_tensors) {
    float a[4] = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    rt_error e;
    st_tensor t = {.name = "w", .dtype = ST_F32, .ndim = 1, .shape = {4}, .data = a, .nbytes = 12};
    cr_expect_eq(st_write_file(path, &t, 1, NULL, &e), RT_EINVAL);
    cr_expect(mio_has(e.msg, "'w'") && mio_has(e.msg, path), "%s", e.msg);
    st_tensor two[2] = {t, t};
    two[0].nbytes = two[1].nbytes = 16;
    cr_expect_eq(st_write_file(path, two, 2, NULL, &e), RT_EINVAL);
    cr_expect(mio_has(e.msg, "twice"), "%s", e.msg);
    two[1].name = "__metadata__";
    cr_expect_eq(st_write_file(path, two, 2, NULL, &e), RT_EINVAL);
    cr_expect(!rt_path_exists(path), "nothing written on error");
}

/* Opens dir/<name>.safetensors (written by the Python writer's bad mode) and expects an error naming the file and
 * the given words. */
static void expect_bad_file(const char *name, rt_status want, const char *w1, const char *w2) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    st_set set;
    rt_error e;
    rt_err_clear(&e);
    rt_status st = st_open_file(path, &set, &e);
    cr_expect_eq(st, want, "%s: status %d, want %d: %s", name, st, want, e.msg);
    cr_expect(mio_has(e.msg, path), "%s: names the file: %s", name, e.msg);
    if (w1) cr_expect(mio_has(e.msg, w1), "%s: mentions %s: %s", name, w1, e.msg);
    if (w2) cr_expect(mio_has(e.msg, w2), "%s: mentions %s: %s", name, w2, e.msg);
    cr_expect_eq(set.ntensors, 0u, "the set is empty after a failure");
}

Test(safetensors, malformed_files_are_named_errors) {
    mio_sh(PY " bad %s%s", dir, "");
    expect_bad_file("truncated", RT_EFORMAT, "'u'", "truncated");
    expect_bad_file("tiny", RT_EFORMAT, "too short", NULL);
    expect_bad_file("hlen_past_end", RT_EFORMAT, "header length 1000000", NULL);
    expect_bad_file("hlen_huge", RT_EFORMAT, "header length", NULL);
    expect_bad_file("offsets_outside", RT_EFORMAT, "'t'", "past the end");
    expect_bad_file("overlap", RT_EFORMAT, "'a'", "'b'");
    expect_bad_file("shape_mismatch", RT_EFORMAT, "'t'", "[2, 2]");
    expect_bad_file("unknown_dtype", RT_EUNSUPPORTED, "'t'", "F33");
    expect_bad_file("not_json", RT_EFORMAT, "header", NULL);
    expect_bad_file("not_object", RT_EFORMAT, "object", NULL);
    expect_bad_file("negative_offset", RT_EFORMAT, "'t'", "data_offsets");
    expect_bad_file("reversed_offsets", RT_EFORMAT, "'t'", "data_offsets");
    expect_bad_file("missing_shape", RT_EFORMAT, "'t'", "shape");
    expect_bad_file("fractional_shape", RT_EFORMAT, "'t'", "shape");
    expect_bad_file("shape_overflow", RT_EFORMAT, "'t'", "more than");
    expect_bad_file("duplicate", RT_EFORMAT, "'t'", "twice");
    expect_bad_file("bad_metadata", RT_EFORMAT, "__metadata__", NULL);
    char path[256];
    st_set set;
    rt_error e;
    snprintf(path, sizeof path, "%s/gap_ok.safetensors", dir);
    cr_assert_eq(st_open_file(path, &set, &e), RT_OK, "gaps in the data area are accepted: %s", e.msg);
    float g[2];
    cr_assert_eq(st_to_f32(&set.tensors[0], g, &e), RT_OK);
    cr_expect(g[0] == 1.0f && g[1] == 2.0f, "offset 4 starts at the second float: %g %g", g[0], g[1]);
    st_close(&set);
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    cr_expect_eq(st_open_file(path, &set, &e), RT_ENOTFOUND);
    cr_expect(mio_has(e.msg, path), "%s", e.msg);
    cr_expect_eq(st_open_file(dir, &set, &e), RT_EFORMAT, "a folder is not a file: %s", e.msg);
}

/* Every prefix of a valid file is rejected cleanly (never a crash or an out-of-bounds read under ASan). */
Test(safetensors, every_truncation_is_an_error) {
    char path[256], cut[300];
    snprintf(path, sizeof path, "%s/py.safetensors", dir);
    snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
    mio_sh(PY " good %s%s", path, "");
    char *all;
    size_t len;
    rt_error e;
    cr_assert_eq(rt_file_read_all(path, &all, &len, &e), RT_OK);
    cr_assert_eq(rt_file_write_atomic(cut, all, len, &e), RT_OK);
    for (size_t n = len; n-- > 0;) {
        cr_assert_eq(truncate(cut, (off_t)n), 0);
        st_set set;
        rt_status st = st_open_file(cut, &set, &e);
        cr_expect_neq(st, RT_OK, "a %zu-byte prefix of %zu was accepted", n, len);
        if (st == RT_OK)
            st_close(&set);
        else
            cr_expect(mio_has(e.msg, cut), "%s", e.msg);
    }
    free(all);
}

Test(safetensors, expect_names_missing_and_misshaped) {
    float a[6] = {1, 2, 3, 4, 5, 6};
    st_tensor t = {.name = "model.norm.weight", .dtype = ST_F32, .ndim = 2, .shape = {2, 3}, .data = a, .nbytes = 24};
    char path[256];
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    rt_error e;
    cr_assert_eq(st_write_file(path, &t, 1, NULL, &e), RT_OK, "%s", e.msg);
    st_set set;
    cr_assert_eq(st_open_file(path, &set, &e), RT_OK, "%s", e.msg);
    const st_tensor *got = (const st_tensor *)&e; /* any non-NULL value, to see it reset */
    int64_t want[2] = {3, 2};
    cr_expect_eq(st_expect(&set, "model.norm.weight", 2, want, &got, &e), RT_EFORMAT);
    cr_expect_null(got);
    cr_expect(mio_has(e.msg, "'model.norm.weight'") && mio_has(e.msg, "[2, 3]") && mio_has(e.msg, "[3, 2]") &&
                  mio_has(e.msg, path),
              "%s", e.msg);
    int64_t flat[1] = {6};
    cr_expect_eq(st_expect(&set, "model.norm.weight", 1, flat, &got, &e), RT_EFORMAT, "rank differs");
    cr_expect_eq(st_expect(&set, "lm_head.weight", 2, want, &got, &e), RT_ENOTFOUND);
    cr_expect(mio_has(e.msg, "'lm_head.weight'") && mio_has(e.msg, path), "%s", e.msg);
    int64_t right[2] = {2, 3};
    cr_expect_eq(st_expect(&set, "model.norm.weight", 2, right, &got, &e), RT_OK);
    cr_expect_eq(got, st_find(&set, "model.norm.weight"));
    st_close(&set);
}
