/* safetensors dtypes: names, sizes, and float conversions (bf16 and f16 with round-to-nearest-even). */
#include <math.h>
#include <string.h>

#include "model/safetensors.h"

static const char *const dtype_names[] = {"F32", "BF16", "F16", "F64", "I64", "I32", "U8", "BOOL"};
static const size_t dtype_sizes[] = {4, 2, 2, 8, 8, 4, 1, 1};
#define DTYPE_COUNT (sizeof dtype_names / sizeof dtype_names[0])

size_t st_dtype_size(st_dtype dtype) {
    return (size_t)dtype < DTYPE_COUNT ? dtype_sizes[dtype] : 0;
}

const char *st_dtype_name(st_dtype dtype) {
    return (size_t)dtype < DTYPE_COUNT ? dtype_names[dtype] : "?";
}

int st_dtype_parse(const char *name, st_dtype *out) {
    for (size_t i = 0; i < DTYPE_COUNT; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (st_dtype)i;
            return 0;
        }
    return -1;
}

static uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t st_f32_to_bf16(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* NaN: keep sign, make quiet */
    u += 0x7fffu + ((u >> 16) & 1u);                                             /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float st_bf16_to_f32(uint16_t x) {
    return f32_from_bits((uint32_t)x << 16);
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13)); /* inf or NaN (payload kept) */
    if (exp == 0) {                                                           /* zero or subnormal: mant * 2^-24 */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t st_f32_to_f16(float x) {
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN stays NaN (quiet) */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (halfway past the largest half): inf */
    if (a < 0x38800000u) {                                   /* below 2^-14: subnormal half or zero */
        /* integer rounding of the 24-bit significand shifted right to units of 2^-24 */
        if (a < 0x33000000u) return sign; /* below 2^-25: rounds to zero (2^-25 itself ties to even zero) */
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e; /* value = m * 2^(e-150); in units of 2^-24: m >> (126 - e) */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t odd = (a >> 13) & 1u;
    a += 0xc8000fffu + odd; /* rebias the exponent (-112 << 23, mod 2^32) and round to nearest even */
    return (uint16_t)(sign | (a >> 13));
}

void st_f32_to_bf16_n(const float *in, uint16_t *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = st_f32_to_bf16(in[i]);
}

void st_bf16_to_f32_n(const uint16_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = st_bf16_to_f32(in[i]);
}

int64_t st_numel(const st_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

int st_aligned(const st_tensor *t) {
    size_t a = st_dtype_size(t->dtype);
    return a && ((uintptr_t)t->data % a) == 0;
}

rt_status st_to_f32(const st_tensor *t, float *out, rt_error *err) {
    size_t n = (size_t)st_numel(t);
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case ST_F32:
        if (n) memcpy(out, p, n * 4);
        return RT_OK;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = st_bf16_to_f32(h);
        }
        return RT_OK;
    case ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = st_f16_to_f32(h);
        }
        return RT_OK;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
        }
        return RT_OK;
    default:
        return rt_err_set(err, RT_EUNSUPPORTED,
                          "%s: tensor '%s': dtype %s is not a float type (need F32, BF16, F16 or F64)",
                          t->file ? t->file : "(memory)", t->name, st_dtype_name(t->dtype));
    }
}
