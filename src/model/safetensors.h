/* safetensors files: reading (mmap'd, every header offset checked), writing (atomic), sharded model folders
 * (model.safetensors.index.json), and dtype conversion. Names follow Hugging Face
 * (model.layers.0.self_attn.q_proj.weight). */
#ifndef RETOOL_MODEL_SAFETENSORS_H
#define RETOOL_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum st_dtype { ST_F32 = 0, ST_BF16, ST_F16, ST_F64, ST_I64, ST_I32, ST_U8, ST_BOOL } st_dtype;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* points into the mapped file (read) or the caller's buffer (write); aligned to the dtype
                       * when the writer padded the header to 8 bytes as Hugging Face's does; other writers may
                       * not, so read through memcpy or st_to_f32 unless st_aligned(t) */
    size_t nbytes;
    const char *file; /* the file it was read from (owned by the st_set), for error messages; NULL when writing */
} st_tensor;

/* One opened safetensors file or a whole (possibly sharded) model folder. */
typedef struct st_set {
    st_tensor *tensors;
    size_t ntensors;
    void **maps; /* mmap'd files */
    size_t *map_sizes;
    size_t nmaps;
    char *metadata_json; /* the "__metadata__" object as JSON text, or NULL (first file's, for a folder) */
    char **paths;        /* the path of each mapped file (nmaps entries) */
    char *origin;        /* what was opened (file or folder), for error messages */
} st_set;

/* Bytes per element of dtype. */
size_t st_dtype_size(st_dtype dtype);

/* "F32", "BF16", ... as written in safetensors headers. */
const char *st_dtype_name(st_dtype dtype);

/* Opens one .safetensors file; a bad header (offsets outside the file, overlapping, wrong sizes, unknown dtype)
 * is an error naming the file and tensor. */
rt_status st_open_file(const char *path, st_set *set, rt_error *err);

/* Opens a model folder: model.safetensors when present (as transformers does), else the shards listed in
 * model.safetensors.index.json. */
rt_status st_open_dir(const char *dir, st_set *set, rt_error *err);

/* Unmaps and frees everything in set. */
void st_close(st_set *set);

/* The tensor named name, or NULL. */
const st_tensor *st_find(const st_set *set, const char *name);

/* Looks up name and checks its shape equals shape[0..ndim); errors name the tensor, its shape and the expected one. */
rt_status st_expect(const st_set *set, const char *name, int ndim, const int64_t *shape, const st_tensor **out,
                    rt_error *err);

/* Non-zero when t->data is aligned for its dtype (direct loads are safe). */
int st_aligned(const st_tensor *t);

/* Number of elements of t (product of its shape; 1 for a scalar). */
int64_t st_numel(const st_tensor *t);

/* Converts a tensor of any float dtype (F32, BF16, F16, F64) to f32; out holds numel floats. */
rt_status st_to_f32(const st_tensor *t, float *out, rt_error *err);

/* Writes tensors (in the given order, each with dtype and data set by the caller) to path atomically, with an
 * optional __metadata__ of string pairs (metadata_kv: key0, value0, key1, value1, ..., NULL). */
rt_status st_write_file(const char *path, const st_tensor *tensors, size_t n, const char *const *metadata_kv,
                        rt_error *err);

/* bf16 <-> f32 (round to nearest even; NaN stays NaN) and f16 -> f32. */
uint16_t st_f32_to_bf16(float x);
float st_bf16_to_f32(uint16_t x);
float st_f16_to_f32(uint16_t x);
uint16_t st_f32_to_f16(float x);

/* Converts n floats to bf16 (round to nearest even) and back. */
void st_f32_to_bf16_n(const float *in, uint16_t *out, size_t n);
void st_bf16_to_f32_n(const uint16_t *in, float *out, size_t n);

/* Parses a dtype name as written in headers ("F32", "BF16", ...); returns 0 and sets *out, or -1 when unknown. */
int st_dtype_parse(const char *name, st_dtype *out);

#endif
