/* Trajectory filters on hand-built groups: flat groups, void turns, and resample-on-correct (proportions by hand,
 * the ranking of correct traces, the uniform choice of failed ones). */
#include <criterion/criterion.h>
#include <string.h>

#include "train/filter.h"

static rollout_tool_call failed_calls[8], ok_calls[8];

/* Sample i: reward[i], calls[i] calls of which errors[i] failed (errors <= calls), flags[i]. */
static void group(rollout_trajectory *g, const double *reward, const int *calls, const uint32_t *flags, size_t k) {
    for (size_t i = 0; i < 8; i++) {
        failed_calls[i].status = ROLLOUT_EXEC_ERROR;
        ok_calls[i].status = ROLLOUT_EXEC_OK;
    }
    for (size_t i = 0; i < k; i++) {
        memset(&g[i], 0, sizeof g[i]);
        g[i].reward = reward[i];
        g[i].n_calls = (size_t)calls[i];
        g[i].calls = ok_calls;
        g[i].flags = flags[i];
    }
}

/* Gives sample i `errors` failed calls (all its calls fail). */
static void fail_calls(rollout_trajectory *t, size_t errors) {
    t->n_calls = errors;
    t->calls = failed_calls;
}

static void filter(const rollout_trajectory *g, size_t n, const train_filter_opts *o, uint8_t *keep,
                   train_filter_counts *c) {
    rt_error err;
    cr_assert_eq(train_filter_group(g, n, o, keep, c, &err), RT_OK, "%s", err.msg);
}

Test(filter, flat_groups_are_dropped_only_when_asked) {
    rollout_trajectory g[3];
    double r[] = {1, 1, 1};
    int c[] = {1, 1, 0};
    uint32_t f[] = {0, 0, 0};
    group(g, r, c, f, 3);
    uint8_t keep[3];
    train_filter_counts n = {0};
    train_filter_opts none = {0}, flat = {.drop_flat_groups = 1};
    filter(g, 3, &none, keep, &n);
    cr_expect(keep[0] && keep[1] && keep[2]);
    filter(g, 3, &flat, keep, &n);
    cr_expect(!keep[0] && !keep[1] && !keep[2]);
    cr_expect_eq(n.flat, 3u);
}

Test(filter, void_turns) {
    /* 0: correct; 1: wrong, void (no code, no answer); 2: wrong with code and no answer. */
    rollout_trajectory g[3];
    double r[] = {1, -1, -1};
    int c[] = {1, 0, 1};
    uint32_t f[] = {0, ROLLOUT_FLAG_NO_ANSWER, ROLLOUT_FLAG_NO_ANSWER};
    group(g, r, c, f, 3);
    uint8_t keep[3];
    train_filter_counts n = {0};
    train_filter_opts o = {.drop_void = 1};
    filter(g, 3, &o, keep, &n);
    cr_expect(keep[0] && !keep[1] && keep[2]);
    cr_expect_eq(n.void_turns, 1u);
}

Test(filter, roc_issues_count_failed_calls_and_format) {
    rollout_trajectory t;
    memset(&t, 0, sizeof t);
    rollout_tool_call calls[4] = {{.status = ROLLOUT_EXEC_OK},
                                  {.status = ROLLOUT_EXEC_TIMEOUT},
                                  {.status = ROLLOUT_EXEC_OK, .refused = 1},
                                  {.status = ROLLOUT_EXEC_SANDBOX_ERROR}};
    t.calls = calls;
    t.n_calls = 4;
    cr_expect_eq(train_roc_issues(&t), 3u);
    t.flags = ROLLOUT_FLAG_FORMAT_ERROR;
    cr_expect_eq(train_roc_issues(&t), 4u);
}

/* 2K = 8 rolled out, K = 4 kept; with c correct the kept correct count is round(4c/8) half up, at least 1 of each
 * kind when both exist: c = 0..8 -> 0 1 1 2 2 3 3 3 4 (c = 7 would round to 4, leaving no failed trace). */
Test(filter, roc_keeps_the_oversampled_proportion) {
    const size_t want[9] = {0, 1, 1, 2, 2, 3, 3, 3, 4};
    for (size_t c = 0; c <= 8; c++) {
        rollout_trajectory g[8];
        double r[8];
        int calls[8] = {0};
        uint32_t f[8] = {0};
        for (size_t i = 0; i < 8; i++) r[i] = i < c ? 1 : -1;
        group(g, r, calls, f, 8);
        for (uint64_t seed = 0; seed < 20; seed++) {
            uint8_t keep[8];
            train_filter_counts n = {0};
            train_filter_opts o = {.resample_on_correct = 1, .keep = 4, .seed = seed};
            filter(g, 8, &o, keep, &n);
            size_t kept = 0, right = 0;
            for (size_t i = 0; i < 8; i++) {
                kept += keep[i];
                right += keep[i] && i < c;
            }
            cr_assert_eq(kept, 4u, "c %zu seed %llu", c, (unsigned long long)seed);
            cr_assert_eq(right, want[c], "c %zu seed %llu", c, (unsigned long long)seed);
            cr_assert_eq(n.resampled, 4u);
        }
    }
}

/* Correct traces with 2, 0, 1 failed calls and 1 failed call plus a format error (2 issues); 4 failed traces: 2 of
 * each kept, the correct ones 1 (0 issues) and 2 (1 issue) whatever the seed. */
Test(filter, roc_prefers_correct_traces_with_fewer_tool_errors) {
    rollout_trajectory g[8];
    double r[] = {1, 1, 1, 1, -1, -1, -1, -1};
    int c[8] = {0};
    uint32_t f[8] = {0};
    group(g, r, c, f, 8);
    fail_calls(&g[0], 2);
    fail_calls(&g[2], 1);
    fail_calls(&g[3], 1);
    g[3].flags = ROLLOUT_FLAG_FORMAT_ERROR;
    fail_calls(&g[5], 3); /* a failed trace's errors do not matter */
    for (uint64_t seed = 0; seed < 50; seed++) {
        uint8_t keep[8];
        rt_error err;
        cr_assert_eq(train_roc_select(g, 8, 4, seed, keep, &err), RT_OK);
        cr_assert(!keep[0] && keep[1] && keep[2] && !keep[3], "seed %llu", (unsigned long long)seed);
        cr_assert_eq(keep[4] + keep[5] + keep[6] + keep[7], 2);
    }
}

/* Failed traces (whatever their errors) and tied correct traces are chosen uniformly: over 2000 seeds each of 4
 * candidates for 2 places is kept with probability 1/2 (1000 expected, sd 22; bounds at 5.4 sd). */
Test(filter, roc_chooses_failed_traces_and_ties_uniformly) {
    rollout_trajectory g[8];
    double r[] = {1, 1, 1, 1, -1, -1, -1, -1};
    int c[8] = {0};
    uint32_t f[8] = {0};
    group(g, r, c, f, 8);
    fail_calls(&g[4], 3);
    fail_calls(&g[6], 1);
    size_t hits[8] = {0};
    for (uint64_t seed = 0; seed < 2000; seed++) {
        uint8_t keep[8];
        rt_error err;
        cr_assert_eq(train_roc_select(g, 8, 4, seed, keep, &err), RT_OK);
        for (size_t i = 0; i < 8; i++) hits[i] += keep[i];
    }
    for (size_t i = 0; i < 8; i++) cr_expect(hits[i] > 880 && hits[i] < 1120, "sample %zu kept %zu times", i, hits[i]);
}

/* A group no larger than K is kept whole; flat and void filters then look only at the kept samples. */
Test(filter, roc_then_the_other_filters) {
    rollout_trajectory g[4];
    double r[] = {1, -1, -1, -1};
    int c[] = {1, 0, 1, 1};
    uint32_t f[] = {0, ROLLOUT_FLAG_NO_ANSWER, 0, 0};
    group(g, r, c, f, 4);
    uint8_t keep[4];
    rt_error err;
    cr_assert_eq(train_roc_select(g, 4, 4, 1, keep, &err), RT_OK);
    cr_expect(keep[0] && keep[1] && keep[2] && keep[3]);
    /* 4 -> 2: one correct, one failed (not flat); the void one goes only if chosen. */
    train_filter_opts o = {.resample_on_correct = 1, .keep = 2, .drop_flat_groups = 1, .drop_void = 1};
    for (uint64_t seed = 0; seed < 30; seed++) {
        train_filter_counts n = {0};
        o.seed = seed;
        filter(g, 4, &o, keep, &n);
        cr_assert(keep[0], "the only correct trace stays");
        cr_assert_eq(n.resampled, 2u);
        cr_assert_eq(n.flat, 0u);
        cr_assert_eq(keep[1] + keep[2] + keep[3] + n.void_turns, 1u);
    }
}
