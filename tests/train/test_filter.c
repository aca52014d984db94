/* Trajectory filters on hand-built groups. */
#include <criterion/criterion.h>
#include <string.h>

#include "train/filter.h"

static void group(rollout_trajectory *g, const double *reward, const int *calls, const uint32_t *flags, size_t k) {
    for (size_t i = 0; i < k; i++) {
        memset(&g[i], 0, sizeof g[i]);
        g[i].reward = reward[i];
        g[i].n_calls = (size_t)calls[i];
        g[i].flags = flags[i];
    }
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
    train_filter_group(g, 3, &none, keep, &n);
    cr_expect(keep[0] && keep[1] && keep[2]);
    train_filter_group(g, 3, &flat, keep, &n);
    cr_expect(!keep[0] && !keep[1] && !keep[2]);
    cr_expect_eq(n.flat, 3u);
}

Test(filter, void_turns_and_resample_on_correct) {
    /* 0: correct, clean; 1: correct with a tool error; 2: wrong, void (no code, no answer); 3: wrong with code. */
    rollout_trajectory g[4];
    double r[] = {1, 1, -1, -1};
    int c[] = {1, 2, 0, 1};
    uint32_t f[] = {0, ROLLOUT_FLAG_TOOL_ERROR, ROLLOUT_FLAG_NO_ANSWER, ROLLOUT_FLAG_TOOL_ERROR};
    group(g, r, c, f, 4);
    uint8_t keep[4];
    train_filter_counts n = {0};
    train_filter_opts o = {.drop_void = 1, .resample_on_correct = 1};
    train_filter_group(g, 4, &o, keep, &n);
    cr_expect_eq(keep[0], 1);
    cr_expect_eq(keep[1], 0, "a correct answer with a tool error goes when a clean one exists");
    cr_expect_eq(keep[2], 0, "void");
    cr_expect_eq(keep[3], 1, "wrong answers stay: they carry the negative signal");
    cr_expect_eq(n.void_turns, 1u);
    cr_expect_eq(n.resampled, 1u);
    /* Without a clean correct sample, correct ones with errors are kept. */
    g[0].flags = ROLLOUT_FLAG_TOOL_ERROR;
    train_filter_group(g, 4, &o, keep, &n);
    cr_expect(keep[0] && keep[1]);
}
