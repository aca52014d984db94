/* arena: alignment, zeroing, exhaustion, reset. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "base/arena.h"

Test(arena, aligned_and_zeroed) {
    rt_arena a;
    rt_error e;
    cr_assert_eq(rt_arena_init(&a, 1000, &e), RT_OK);
    unsigned char *p = rt_arena_alloc(&a, 3, &e);
    unsigned char *q = rt_arena_alloc(&a, 100, &e);
    cr_assert(p && q);
    cr_expect_eq((uintptr_t)p % RT_ARENA_ALIGN, 0u);
    cr_expect_eq((uintptr_t)q % RT_ARENA_ALIGN, 0u);
    cr_expect_geq(q - p, 3);
    for (int i = 0; i < 100; i++) cr_expect_eq(q[i], 0);
    rt_arena_free(&a);
}

Test(arena, full_is_an_error_not_a_crash) {
    rt_arena a;
    rt_error e;
    cr_assert_eq(rt_arena_init(&a, 128, &e), RT_OK);
    cr_assert_not_null(rt_arena_alloc(&a, 100, &e));
    cr_expect_null(rt_arena_alloc(&a, 100, &e));
    cr_expect_eq(e.status, RT_ENOMEM);
    cr_expect(strstr(e.msg, "arena full") != NULL, "%s", e.msg);
    cr_expect_null(rt_arena_alloc(&a, SIZE_MAX, &e));
    rt_arena_reset(&a, 1);
    cr_expect_not_null(rt_arena_alloc(&a, 128, &e));
    cr_expect_eq(rt_arena_remaining(&a), 0u);
    rt_arena_free(&a);
}

Test(arena, reset_zeroes_when_asked) {
    rt_arena a;
    rt_error e;
    cr_assert_eq(rt_arena_init(&a, 64, &e), RT_OK);
    unsigned char *p = rt_arena_alloc(&a, 64, &e);
    memset(p, 0xAB, 64);
    rt_arena_reset(&a, 1);
    unsigned char *q = rt_arena_alloc(&a, 64, &e);
    cr_expect_eq(p, q);
    for (int i = 0; i < 64; i++) cr_expect_eq(q[i], 0);
    rt_arena_free(&a);
}
