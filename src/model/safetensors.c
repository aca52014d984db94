/* safetensors reading: one file mmap'd with its header fully checked, or a (sharded) model folder. */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/json.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so must the host be");

/* Hugging Face's reader refuses headers above 100 MB; so do we. */
#define ST_HEADER_MAX ((uint64_t)100 * 1000 * 1000)
/* Largest integer a JSON number (a double) holds exactly. */
#define ST_JSON_INT_MAX 9007199254740992.0

static const char *const supported = "F32, BF16, F16, F64, I64, I32, U8, BOOL";

/* Adds an mmap'd file to set (so st_close releases it whatever happens next); returns its index or -1. */
static int64_t set_add_map(st_set *set, void *map, size_t size, const char *path) {
    void **maps = realloc(set->maps, (set->nmaps + 1) * sizeof *maps);
    if (!maps) return -1;
    set->maps = maps;
    size_t *sizes = realloc(set->map_sizes, (set->nmaps + 1) * sizeof *sizes);
    if (!sizes) return -1;
    set->map_sizes = sizes;
    char **paths = realloc(set->paths, (set->nmaps + 1) * sizeof *paths);
    if (!paths) return -1;
    set->paths = paths;
    char *p = strdup(path);
    if (!p) return -1;
    set->maps[set->nmaps] = map;
    set->map_sizes[set->nmaps] = size;
    set->paths[set->nmaps] = p;
    return (int64_t)set->nmaps++;
}

/* A JSON number that is a whole number in [0, 2^53]. */
static int json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= ST_JSON_INT_MAX && d == floor(d))) return 0;
    *out = (uint64_t)d;
    return 1;
}

typedef struct st_span {
    uint64_t begin, end;
    size_t tensor;
} st_span;

static int span_cmp(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Parses one tensor entry of the header into t (name already set); data_len is the size of the data area. */
static rt_status parse_entry(const char *path, const cJSON *entry, const unsigned char *data, uint64_t data_len,
                             st_tensor *t, st_span *span, rt_error *err) {
    const char *name = t->name;
    if (!cJSON_IsObject(entry))
        return rt_err_set(err, RT_EFORMAT, "%s: tensor '%s': expected an object with dtype, shape and data_offsets",
                          path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dt))
        return rt_err_set(err, RT_EFORMAT, "%s: tensor '%s': field 'dtype': missing or not a string", path, name);
    if (st_dtype_parse(dt->valuestring, &t->dtype))
        return rt_err_set(err, RT_EUNSUPPORTED, "%s: tensor '%s': dtype '%.40s' is not supported (supported: %s)", path,
                          name, dt->valuestring, supported);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(shape))
        return rt_err_set(err, RT_EFORMAT, "%s: tensor '%s': field 'shape': missing or not a list", path, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS)
        return rt_err_set(err, RT_EUNSUPPORTED, "%s: tensor '%s': %d dimensions (at most %d are supported)", path, name,
                          nd, ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t nbytes = st_dtype_size(t->dtype);
    int overflow = 0;
    for (int i = 0; i < nd; i++) {
        uint64_t d;
        if (!json_uint(cJSON_GetArrayItem(shape, i), &d))
            return rt_err_set(err, RT_EFORMAT, "%s: tensor '%s': field 'shape': entry %d is not a non-negative integer",
                              path, name, i);
        t->shape[i] = (int64_t)d;
        if (__builtin_mul_overflow(nbytes, d, &nbytes)) overflow = 1;
    }
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    uint64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(cJSON_GetArrayItem(offs, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &e) || b > e)
        return rt_err_set(err, RT_EFORMAT,
                          "%s: tensor '%s': field 'data_offsets': expected [begin, end] with 0 <= begin <= end", path,
                          name);
    if (e > data_len)
        return rt_err_set(err, RT_EFORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the data area (%llu bytes; "
                          "truncated file?)",
                          path, name, (unsigned long long)b, (unsigned long long)e, (unsigned long long)data_len);
    if (overflow || nbytes != e - b) {
        char dims[160] = "";
        size_t used = 0;
        for (int i = 0; i < nd && used < sizeof dims - 24; i++)
            used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        return rt_err_set(
            err, RT_EFORMAT,
            "%s: tensor '%s': shape [%s] of %s needs %s%llu bytes but data_offsets [%llu, %llu] span %llu", path, name,
            dims, st_dtype_name(t->dtype), overflow ? "more than " : "",
            (unsigned long long)(overflow ? UINT64_MAX : nbytes), (unsigned long long)b, (unsigned long long)e,
            (unsigned long long)(e - b));
    }
    t->data = data + b;
    t->nbytes = (size_t)nbytes;
    span->begin = b;
    span->end = e;
    return RT_OK;
}

/* Checks that no two tensors of one file share bytes (spans sorted by begin; empty tensors share nothing). */
static rt_status check_overlaps(const char *path, st_span *spans, size_t n, const st_tensor *tensors, rt_error *err) {
    qsort(spans, n, sizeof *spans, span_cmp);
    size_t prev = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (spans[i].begin == spans[i].end) continue;
        if (prev != SIZE_MAX && spans[i].begin < spans[prev].end)
            return rt_err_set(err, RT_EFORMAT, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap", path,
                              tensors[spans[prev].tensor].name, (unsigned long long)spans[prev].begin,
                              (unsigned long long)spans[prev].end, tensors[spans[i].tensor].name,
                              (unsigned long long)spans[i].begin, (unsigned long long)spans[i].end);
        prev = i;
    }
    return RT_OK;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

/* Every tensor name in set must be unique (within a file and across the shards of a folder). */
static rt_status check_unique(const st_set *set, rt_error *err) {
    if (set->ntensors < 2) return RT_OK;
    const st_tensor **order = malloc(set->ntensors * sizeof *order);
    if (!order) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i < set->ntensors; i++)
        order[i] = &set->tensors[i];
    qsort(order, set->ntensors, sizeof *order, name_cmp);
    rt_status st = RT_OK;
    for (size_t i = 1; i < set->ntensors; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            st = rt_err_set(err, RT_EFORMAT, "%s: tensor '%s' appears twice (also in %s)", order[i]->file,
                            order[i]->name, order[i - 1]->file);
            break;
        }
    free(order);
    return st;
}

/* Parses the header of the file mapped at set->maps[mi] and appends its tensors to set. */
static rt_status parse_header(st_set *set, size_t mi, rt_error *err) {
    const char *path = set->paths[mi];
    const unsigned char *map = set->maps[mi];
    size_t size = set->map_sizes[mi];
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | map[i];
    if (hlen < 2 || hlen > size - 8)
        return rt_err_set(err, RT_EFORMAT,
                          "%s: header length %llu does not fit in the file (%zu bytes after the 8-byte length; "
                          "truncated or not a safetensors file?)",
                          path, (unsigned long long)hlen, size - 8);
    if (hlen > ST_HEADER_MAX)
        return rt_err_set(err, RT_EFORMAT, "%s: header length %llu is over the 100 MB limit", path,
                          (unsigned long long)hlen);
    char what[600];
    snprintf(what, sizeof what, "%s (safetensors header)", path);
    cJSON *root = NULL;
    if (rt_json_parse((const char *)map + 8, (size_t)hlen, what, &root, err)) return err->status;
    rt_status st = RT_OK;
    st_span *spans = NULL;
    if (!cJSON_IsObject(root)) {
        st = rt_err_set(err, RT_EFORMAT, "%s: the safetensors header is not a JSON object", path);
        goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(root);
    st_tensor *grown = realloc(set->tensors, (set->ntensors + n + 1) * sizeof *grown);
    spans = malloc((n + 1) * sizeof *spans);
    if (grown) set->tensors = grown;
    if (!grown || !spans) {
        st = rt_err_set(err, RT_ENOMEM, "%s: out of memory for %zu tensors", path, n);
        goto done;
    }
    const unsigned char *data = map + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;
    size_t first = set->ntensors, nspans = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            const cJSON *kv;
            int ok = cJSON_IsObject(entry);
            cJSON_ArrayForEach(kv, entry) ok = ok && cJSON_IsString(kv);
            if (!ok) {
                st = rt_err_set(err, RT_EFORMAT, "%s: field '__metadata__': expected an object of strings", path);
                goto done;
            }
            if (!set->metadata_json && !(set->metadata_json = cJSON_PrintUnformatted(entry))) {
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
                goto done;
            }
            continue;
        }
        st_tensor *t = &set->tensors[set->ntensors];
        memset(t, 0, sizeof *t);
        if (!entry->string[0]) {
            st = rt_err_set(err, RT_EFORMAT, "%s: a tensor has an empty name", path);
            goto done;
        }
        if (!(t->name = strdup(entry->string))) {
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
            goto done;
        }
        t->file = path;
        set->ntensors++;
        spans[nspans].tensor = set->ntensors - 1 - first;
        if ((st = parse_entry(path, entry, data, data_len, t, &spans[nspans], err))) goto done;
        nspans++;
    }
    st = check_overlaps(path, spans, nspans, set->tensors + first, err);
done:
    free(spans);
    cJSON_Delete(root);
    return st;
}

/* Maps path and appends its tensors to set. */
static rt_status append_file(st_set *set, const char *path, rt_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rt_err_errno(err, errno == ENOENT ? RT_ENOTFOUND : RT_EIO, errno, "cannot open %s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return rt_err_errno(err, RT_EIO, e, "cannot stat %s", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rt_err_set(err, RT_EFORMAT, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return rt_err_set(err, RT_EFORMAT,
                          "%s: %zu bytes is too short for a safetensors file (it starts with an 8-byte header "
                          "length; truncated?)",
                          path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return rt_err_errno(err, RT_EIO, e, "cannot map %s", path);
    int64_t mi = set_add_map(set, map, size, path);
    if (mi < 0) {
        munmap(map, size);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    return parse_header(set, (size_t)mi, err);
}

rt_status st_open_file(const char *path, st_set *set, rt_error *err) {
    memset(set, 0, sizeof *set);
    rt_status st = (set->origin = strdup(path)) ? append_file(set, path, err) : rt_err_set(err, RT_ENOMEM, "no memory");
    if (!st) st = check_unique(set, err);
    if (st) st_close(set);
    return st;
}

/* A shard name from the index must be a plain file name inside the folder. */
static int shard_name_ok(const char *s) {
    return s[0] && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') && strlen(s) < 256;
}

/* Opens the shards an index lists and checks every tensor lives where the index says, and nothing else is there. */
static rt_status open_sharded(st_set *set, const char *dir, const char *index_path, rt_error *err) {
    cJSON *root = NULL;
    if (rt_json_read_file(index_path, &root, err)) return err->status;
    rt_status st = RT_OK;
    char path[4096];
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map"), *e;
    if (!cJSON_IsObject(map) || cJSON_GetArraySize(map) == 0) {
        st = rt_err_set(err, RT_EFORMAT, "%s: field 'weight_map': missing, empty or not an object", index_path);
        goto done;
    }
    cJSON_ArrayForEach(e, map) {
        if (!cJSON_IsString(e) || !shard_name_ok(e->valuestring)) {
            st = rt_err_set(err, RT_EFORMAT, "%s: weight_map entry '%s': expected a file name in the folder",
                            index_path, e->string);
            goto done;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        int seen = 0;
        for (size_t i = 0; i < set->nmaps && !seen; i++)
            seen = strcmp(set->paths[i], path) == 0;
        if (!seen && (st = append_file(set, path, err))) goto done;
    }
    if ((st = check_unique(set, err))) goto done;
    cJSON_ArrayForEach(e, map) {
        const st_tensor *t = st_find(set, e->string);
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        if (!t) {
            st = rt_err_set(err, RT_ENOTFOUND, "%s: tensor '%s' is listed in weight_map but %s does not hold it",
                            index_path, e->string, path);
            goto done;
        }
        if (strcmp(t->file, path) != 0) {
            st = rt_err_set(err, RT_EFORMAT, "%s: tensor '%s' is listed in %s but found in %s", index_path, e->string,
                            path, t->file);
            goto done;
        }
    }
    if ((size_t)cJSON_GetArraySize(map) != set->ntensors) {
        for (size_t i = 0; i < set->ntensors; i++)
            if (!cJSON_GetObjectItemCaseSensitive(map, set->tensors[i].name)) {
                st = rt_err_set(err, RT_EFORMAT, "%s: tensor '%s' is not listed in %s", set->tensors[i].file,
                                set->tensors[i].name, index_path);
                goto done;
            }
        st = rt_err_set(err, RT_EFORMAT, "%s: weight_map lists a tensor twice", index_path);
    }
done:
    cJSON_Delete(root);
    return st;
}

rt_status st_open_dir(const char *dir, st_set *set, rt_error *err) {
    memset(set, 0, sizeof *set);
    char index[4096], single[4096];
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    rt_status st;
    if (!(set->origin = strdup(dir)))
        st = rt_err_set(err, RT_ENOMEM, "out of memory");
    else if (rt_path_exists(single)) /* transformers' precedence: the single file wins over an index */
        st = append_file(set, single, err);
    else if (rt_path_exists(index))
        st = open_sharded(set, dir, index, err);
    else
        st = rt_err_set(err, RT_ENOTFOUND, "%s: no model.safetensors or model.safetensors.index.json in the folder",
                        dir);
    if (!st) st = check_unique(set, err);
    if (st) st_close(set);
    return st;
}

void st_close(st_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->ntensors; i++)
        free(set->tensors[i].name);
    free(set->tensors);
    for (size_t i = 0; i < set->nmaps; i++) {
        munmap(set->maps[i], set->map_sizes[i]);
        free(set->paths[i]);
    }
    free(set->maps);
    free(set->map_sizes);
    free(set->paths);
    cJSON_free(set->metadata_json);
    free(set->origin);
    memset(set, 0, sizeof *set);
}

const st_tensor *st_find(const st_set *set, const char *name) {
    for (size_t i = 0; i < set->ntensors; i++)
        if (strcmp(set->tensors[i].name, name) == 0) return &set->tensors[i];
    return NULL;
}

static void format_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

rt_status st_expect(const st_set *set, const char *name, int ndim, const int64_t *shape, const st_tensor **out,
                    rt_error *err) {
    const st_tensor *t = st_find(set, name);
    if (out) *out = t;
    if (!t) return rt_err_set(err, RT_ENOTFOUND, "%s: tensor '%s' is missing", set->origin ? set->origin : "?", name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char have[200], want[200];
        format_shape(have, sizeof have, t->ndim, t->shape);
        format_shape(want, sizeof want, ndim, shape);
        if (out) *out = NULL;
        return rt_err_set(err, RT_EFORMAT, "%s: tensor '%s' has shape %s but the model needs %s", t->file, name, have,
                          want);
    }
    return RT_OK;
}
