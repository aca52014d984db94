/* dtype conversions: bf16 against torch's rounding, f16 against numpy's, and hand-computed cases (ties to even, NaN,
 * inf, subnormals); BF16 values survive f32 -> bf16 -> f32 exactly. */
#include <math.h>

#include "base/json.h"
#include "helpers.h"
#include "model/safetensors.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

Test(convert, bf16_hand_computed) {
    cr_expect_eq(st_f32_to_bf16(1.0f), 0x3f80);
    cr_expect_eq(st_f32_to_bf16(-2.0f), 0xc000);
    cr_expect_eq(st_f32_to_bf16(from_bits(0x3f808000)), 0x3f80, "tie, lower is even: down");
    cr_expect_eq(st_f32_to_bf16(from_bits(0x3f818000)), 0x3f82, "tie, upper is even: up");
    cr_expect_eq(st_f32_to_bf16(from_bits(0x3f808001)), 0x3f81, "just above the tie: up");
    cr_expect_eq(st_f32_to_bf16(from_bits(0x3f807fff)), 0x3f80, "just below the tie: down");
    cr_expect_eq(st_f32_to_bf16(INFINITY), 0x7f80);
    cr_expect_eq(st_f32_to_bf16(-INFINITY), 0xff80);
    cr_expect_eq(st_f32_to_bf16(from_bits(0x7f7fffff)), 0x7f80, "FLT_MAX rounds to inf");
    cr_expect_eq(st_f32_to_bf16(from_bits(0x00000001)), 0x0000, "smallest f32 subnormal rounds to +0");
    cr_expect_eq(st_f32_to_bf16(from_bits(0x00018000)), 0x0002, "subnormal tie to even");
    cr_expect_eq(st_f32_to_bf16(-0.0f), 0x8000, "sign of zero kept");
    uint16_t n = st_f32_to_bf16(NAN);
    cr_expect((n & 0x7f80) == 0x7f80 && (n & 0x7f), "NaN stays NaN: %04x", n);
    n = st_f32_to_bf16(from_bits(0x7f800001)); /* a NaN whose payload is only in the dropped bits */
    cr_expect((n & 0x7f80) == 0x7f80 && (n & 0x7f), "low-payload NaN stays NaN (not inf): %04x", n);
    n = st_f32_to_bf16(from_bits(0xffffffff));
    cr_expect((n & 0x8000) && isnan(st_bf16_to_f32(n)), "negative NaN stays NaN: %04x", n);
    cr_expect_eq(st_bf16_to_f32(0x3f80), 1.0f);
    cr_expect_eq(to_bits(st_bf16_to_f32(0x0001)), 0x00010000u, "bf16 subnormal widens exactly");
}

Test(convert, f16_hand_computed) {
    cr_expect_eq(st_f32_to_f16(1.0f), 0x3c00);
    cr_expect_eq(st_f32_to_f16(65504.0f), 0x7bff);
    cr_expect_eq(st_f32_to_f16(65519.99f), 0x7bff, "below the halfway point to 65536: max finite");
    cr_expect_eq(st_f32_to_f16(65520.0f), 0x7c00, "halfway: ties to even = inf");
    cr_expect_eq(st_f32_to_f16(0x1p-24f), 0x0001, "smallest subnormal");
    cr_expect_eq(st_f32_to_f16(0x1p-25f), 0x0000, "half the smallest subnormal: tie to even zero");
    cr_expect_eq(st_f32_to_f16(0x1.8p-24f), 0x0002, "1.5 units: tie to even 2");
    cr_expect_eq(st_f32_to_f16(0x1.000002p-25f), 0x0001, "just above half a unit: up");
    cr_expect_eq(st_f32_to_f16(0x1.ff8p-15f), 0x03ff, "largest subnormal (1023 units)");
    cr_expect_eq(st_f32_to_f16(0x1.ffap-15f), 0x03ff, "1023.25 units: down");
    cr_expect_eq(st_f32_to_f16(0x1.ffcp-15f), 0x0400, "1023.5 units: tie to even, into the smallest normal");
    cr_expect_eq(st_f32_to_f16(-0.0f), 0x8000);
    cr_expect_eq(st_f32_to_f16(-INFINITY), 0xfc00);
    uint16_t n = st_f32_to_f16(from_bits(0x7f800001));
    cr_expect((n & 0x7c00) == 0x7c00 && (n & 0x3ff), "NaN stays NaN: %04x", n);
    cr_expect_eq(st_f16_to_f32(0x0001), 0x1p-24f);
    cr_expect_eq(st_f16_to_f32(0x8400), -0x1p-14f);
    cr_expect_eq(st_f16_to_f32(0x7c00), INFINITY);
    cr_expect(isnan(st_f16_to_f32(0x7e00)));
}

/* Every bf16 bit pattern (but NaNs, checked for NaN-ness) survives bf16 -> f32 -> bf16 exactly. */
Test(convert, bf16_round_trip_exact_for_all_values) {
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float f = st_bf16_to_f32((uint16_t)h);
        uint16_t back = st_f32_to_bf16(f);
        if (isnan(f))
            cr_assert(isnan(st_bf16_to_f32(back)), "NaN %04x", h);
        else
            cr_assert_eq(back, h, "%04x -> %a -> %04x", h, f, back);
    }
    float in[3] = {1.5f, -3.25f, 0x1p-130f};
    uint16_t mid[3];
    float out[3];
    st_f32_to_bf16_n(in, mid, 3);
    st_bf16_to_f32_n(mid, out, 3);
    cr_expect(out[0] == 1.5f && out[1] == -3.25f && out[2] == 0x1p-130f);
}

/* Every f16 bit pattern survives f16 -> f32 -> f16 exactly. */
Test(convert, f16_round_trip_exact_for_all_values) {
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float f = st_f16_to_f32((uint16_t)h);
        uint16_t back = st_f32_to_f16(f);
        if (isnan(f))
            cr_assert(isnan(st_f16_to_f32(back)), "NaN %04x", h);
        else
            cr_assert_eq(back, h, "%04x -> %a -> %04x", h, f, back);
    }
}

/* ~6000 f32 bit patterns (edge cases, random, and the f16 subnormal range): bf16 equals torch's, f16 equals numpy's. */
Test(convert, against_torch_and_numpy) {
    char dir[64], path[128];
    mio_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/conv.json", dir);
    mio_sh(PY " convert %s%s", path, "");
    cJSON *root;
    rt_error e;
    cr_assert_eq(rt_json_read_file(path, &root, &e), RT_OK, "%s", e.msg);
    const cJSON *f32 = cJSON_GetObjectItem(root, "f32"), *bf = cJSON_GetObjectItem(root, "bf16");
    const cJSON *h = cJSON_GetObjectItem(root, "f16"), *back = cJSON_GetObjectItem(root, "f16_to_f32");
    int n = cJSON_GetArraySize(f32), bad_bf = 0, bad_h = 0, bad_back = 0;
    cr_assert_gt(n, 5000);
    const cJSON *a = f32->child, *b = bf->child, *c = h->child, *d = back->child;
    for (; a && b && c && d; a = a->next, b = b->next, c = c->next, d = d->next) {
        float x = from_bits((uint32_t)a->valuedouble);
        if (st_f32_to_bf16(x) != (uint16_t)b->valuedouble && bad_bf++ < 5)
            cr_expect_fail("bf16(%08x) = %04x, torch %04x", (uint32_t)a->valuedouble, st_f32_to_bf16(x),
                           (unsigned)b->valuedouble);
        if (st_f32_to_f16(x) != (uint16_t)c->valuedouble && bad_h++ < 5)
            cr_expect_fail("f16(%08x) = %04x, numpy %04x", (uint32_t)a->valuedouble, st_f32_to_f16(x),
                           (unsigned)c->valuedouble);
        if (to_bits(st_f16_to_f32((uint16_t)c->valuedouble)) != (uint32_t)d->valuedouble && bad_back++ < 5)
            cr_expect_fail("f32(f16 %04x) differs from numpy", (unsigned)c->valuedouble);
    }
    cr_expect_eq(bad_bf + bad_h + bad_back, 0, "%d bf16, %d f16, %d f16->f32 mismatches of %d", bad_bf, bad_h, bad_back,
                 n);
    cJSON_Delete(root);
    mio_rmdir(dir);
}

Test(convert, dtype_names_and_sizes) {
    const char *names[] = {"F32", "BF16", "F16", "F64", "I64", "I32", "U8", "BOOL"};
    const size_t sizes[] = {4, 2, 2, 8, 8, 4, 1, 1};
    for (int i = 0; i < 8; i++) {
        st_dtype d;
        cr_expect_eq(st_dtype_parse(names[i], &d), 0);
        cr_expect_eq(d, (st_dtype)i);
        cr_expect_str_eq(st_dtype_name(d), names[i]);
        cr_expect_eq(st_dtype_size(d), sizes[i]);
    }
    st_dtype d;
    cr_expect_eq(st_dtype_parse("f32", &d), -1, "names are case-sensitive as in the format");
    cr_expect_eq(st_dtype_size((st_dtype)42), 0u);
}
