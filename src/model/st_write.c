/* safetensors writing: header built in the caller's tensor order, padded with spaces to 8 bytes as Hugging Face's
 * writer does, written atomically. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "model/safetensors.h"

typedef struct st_buf {
    char *p;
    size_t len, cap;
    int oom;
} st_buf;

static void buf_put(st_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_printf(st_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(st_buf *b, const char *fmt, ...) {
    char tmp[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Appends s as a JSON string literal. */
static void buf_string(st_buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            buf_put(b, esc, 6);
        } else {
            buf_put(b, (const char *)p, 1);
        }
    }
    buf_put(b, "\"", 1);
}

/* Checks one tensor the caller wants written: name, dtype, shape and byte count agree. */
static rt_status check_tensor(const char *path, const st_tensor *t, rt_error *err) {
    const char *name = t->name ? t->name : "(null)";
    size_t bad;
    if (!t->name || !t->name[0] || !rt_utf8_valid(t->name, strlen(t->name), &bad) || !strcmp(name, "__metadata__"))
        return rt_err_set(err, RT_EINVAL, "%s: tensor name '%s' is empty, reserved or not UTF-8", path, name);
    if (st_dtype_size(t->dtype) == 0)
        return rt_err_set(err, RT_EINVAL, "%s: tensor '%s': unknown dtype %d", path, name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
        return rt_err_set(err, RT_EINVAL, "%s: tensor '%s': %d dimensions (0..%d allowed)", path, name, t->ndim,
                          ST_MAX_DIMS);
    uint64_t bytes = st_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0 || __builtin_mul_overflow(bytes, (uint64_t)t->shape[i], &bytes))
            return rt_err_set(err, RT_EINVAL, "%s: tensor '%s': dimension %d is negative or too large", path, name, i);
    if (bytes != t->nbytes)
        return rt_err_set(err, RT_EINVAL, "%s: tensor '%s': nbytes %zu but its shape and dtype need %llu", path, name,
                          t->nbytes, (unsigned long long)bytes);
    if (bytes && !t->data) return rt_err_set(err, RT_EINVAL, "%s: tensor '%s': no data", path, name);
    return RT_OK;
}

static int ptr_name_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static rt_status check_all(const char *path, const st_tensor *tensors, size_t n, rt_error *err) {
    for (size_t i = 0; i < n; i++)
        if (check_tensor(path, &tensors[i], err)) return err->status;
    if (n < 2) return RT_OK;
    const char **names = malloc(n * sizeof *names);
    if (!names) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = tensors[i].name;
    qsort(names, n, sizeof *names, ptr_name_cmp);
    rt_status st = RT_OK;
    for (size_t i = 1; i < n && !st; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            st = rt_err_set(err, RT_EINVAL, "%s: tensor '%s' given twice", path, names[i]);
    free(names);
    return st;
}

/* Builds the header JSON (without the length prefix), padded with spaces so that 8 + length is a multiple of 8. */
static rt_status build_header(const char *path, const st_tensor *tensors, size_t n, const char *const *kv, st_buf *b,
                              rt_error *err) {
    buf_put(b, "{", 1);
    int first = 1;
    if (kv && kv[0]) {
        buf_string(b, "__metadata__");
        buf_put(b, ":{", 2);
        for (size_t i = 0; kv[i]; i += 2) {
            size_t bad;
            if (!kv[i + 1] || !rt_utf8_valid(kv[i], strlen(kv[i]), &bad) ||
                !rt_utf8_valid(kv[i + 1], strlen(kv[i + 1]), &bad))
                return rt_err_set(err, RT_EINVAL, "%s: metadata key '%s' has no value or is not UTF-8", path, kv[i]);
            if (i) buf_put(b, ",", 1);
            buf_string(b, kv[i]);
            buf_put(b, ":", 1);
            buf_string(b, kv[i + 1]);
        }
        buf_put(b, "}", 1);
        first = 0;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = &tensors[i];
        if (!first) buf_put(b, ",", 1);
        first = 0;
        buf_string(b, t->name);
        buf_put(b, ":{\"dtype\":", 10);
        buf_string(b, st_dtype_name(t->dtype));
        buf_put(b, ",\"shape\":[", 10);
        for (int d = 0; d < t->ndim; d++)
            buf_printf(b, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                   (unsigned long long)(off + t->nbytes));
        off += t->nbytes;
    }
    buf_put(b, "}", 1);
    while (!b->oom && b->len % 8 != 0)
        buf_put(b, " ", 1);
    if (b->oom) return rt_err_set(err, RT_ENOMEM, "%s: out of memory building the header", path);
    return RT_OK;
}

rt_status st_write_file(const char *path, const st_tensor *tensors, size_t n, const char *const *metadata_kv,
                        rt_error *err) {
    if (check_all(path, tensors, n, err)) return err->status;
    st_buf b = {0};
    if (build_header(path, tensors, n, metadata_kv, &b, err)) {
        free(b.p);
        return err->status;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)b.len >> (8 * i));
    rt_atomic_file af;
    rt_status st = rt_atomic_open(&af, path, err);
    if (!st) st = rt_atomic_write(&af, len8, 8, err);
    if (!st) st = rt_atomic_write(&af, b.p, b.len, err);
    for (size_t i = 0; i < n && !st; i++)
        if (tensors[i].nbytes) st = rt_atomic_write(&af, tensors[i].data, tensors[i].nbytes, err);
    if (!st)
        st = rt_atomic_commit(&af, err);
    else
        rt_atomic_abort(&af);
    free(b.p);
    return st;
}
