/* The MPI layer in a single process (no launcher): every collective is the identity, nothing needs mpirun; the hash
 * that compares ranks' parameters tells apart buffers that differ in one bit. (Several ranks: test_mpi.c.) */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "train/dist.h"

Test(dist, single_process_collectives_are_the_identity) {
    /* A launcher's variables would make dist_init start MPI; a plain run has none. */
    cr_assert_null(getenv("OMPI_COMM_WORLD_SIZE"), "the test must not run under mpirun");
    cr_assert_null(getenv("PMIX_RANK"));
    rt_error e;
    cr_assert_eq(dist_init(&e), RT_OK, "%s", e.msg);
    cr_expect_eq(dist_rank(), 0);
    cr_expect_eq(dist_size(), 1);
    float f[3] = {1.5f, -2.0f, 0.25f};
    cr_expect_eq(dist_allreduce_f32(f, 3, &e), RT_OK);
    cr_expect(f[0] == 1.5f && f[1] == -2.0f && f[2] == 0.25f);
    double d[2] = {3.0, 4.0};
    cr_expect_eq(dist_allreduce_f64(d, 2, &e), RT_OK);
    cr_expect(d[0] == 3.0 && d[1] == 4.0);
    char b[4] = "abc";
    cr_expect_eq(dist_broadcast(b, 4, &e), RT_OK);
    cr_expect_str_eq(b, "abc");
    char *all = NULL;
    size_t n = 0;
    cr_assert_eq(dist_gather_bytes("hello\n", 6, &all, &n, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(n, 6);
    cr_expect_arr_eq(all, "hello\n", 6);
    free(all);
    cr_assert_eq(dist_gather_bytes(NULL, 0, &all, &n, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(n, 0);
    free(all);
    cr_expect_eq(dist_barrier(&e), RT_OK);
    cr_expect_eq(dist_check_same(12345, "parameters", &e), RT_OK);
    cr_expect_eq(dist_finalize(&e), RT_OK);
    dist_abort(1); /* returns in a single process */
}

Test(dist, hash_tells_apart_one_bit) {
    unsigned char buf[67];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    uint64_t h = dist_hash(buf, sizeof buf, DIST_HASH_INIT);
    cr_expect_eq(dist_hash(buf, sizeof buf, DIST_HASH_INIT), h, "deterministic");
    /* Every single-bit flip, in the 8-byte words and in the tail, changes the hash. */
    for (size_t i = 0; i < sizeof buf; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (unsigned char)(1u << bit);
            cr_expect_neq(dist_hash(buf, sizeof buf, DIST_HASH_INIT), h, "byte %zu bit %d", i, bit);
            buf[i] ^= (unsigned char)(1u << bit);
        }
    /* Chaining: hashing in two parts at a word boundary equals hashing the whole. */
    cr_expect_eq(dist_hash(buf + 16, sizeof buf - 16, dist_hash(buf, 16, DIST_HASH_INIT)), h);
    /* The empty buffer leaves the running value as it is. */
    cr_expect_eq(dist_hash(buf, 0, 42), 42);
}
