/* Run directories: layout, metrics appending and truncation on resume, atomic checkpoints, keep-last-N, leftovers of
 * interrupted checkpoint writes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "train/rundir.h"

static char dir[64];
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/retool-run-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(rundir, .init = setup, .fini = teardown);

static int exists(const char *fmt, const char *a) {
    char p[1100];
    snprintf(p, sizeof p, fmt, a);
    return rt_path_exists(p);
}

static void write_file(const char *folder, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", folder, name);
    rt_error e;
    cr_assert_eq(rt_file_write_atomic(p, text, strlen(text), &e), RT_OK);
}

Test(rundir, layout_config_and_metrics) {
    train_rundir rd;
    rt_error e;
    cJSON *cfg = cJSON_Parse("{\"algo\": \"ppo\", \"lr\": 1e-6}");
    cr_assert_eq(train_rundir_open(&rd, dir, cfg, &e), RT_OK, "%s", e.msg);
    cJSON_Delete(cfg);
    cr_expect(exists("%s/config.json", dir));
    cr_expect(exists("%s/checkpoints", dir));
    cr_expect(exists("%s/rollouts", dir));
    for (int s = 1; s <= 3; s++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "reward", s * 0.5);
        cr_assert_eq(train_rundir_log_metrics(&rd, s, m, &e), RT_OK);
        cJSON_Delete(m);
    }
    char *text;
    char p[256];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    cr_assert_eq(rt_file_read_all(p, &text, NULL, &e), RT_OK);
    cr_expect_str_eq(text, "{\"step\":1,\"reward\":0.5}\n{\"step\":2,\"reward\":1}\n{\"step\":3,\"reward\":1.5}\n");
    free(text);
    /* Resume from step 1: later lines go, so steps 2 and 3 are not logged twice. */
    cr_assert_eq(train_rundir_truncate_metrics(&rd, 1, &e), RT_OK, "%s", e.msg);
    cJSON *m = cJSON_CreateObject();
    cr_assert_eq(train_rundir_log_metrics(&rd, 2, m, &e), RT_OK);
    cJSON_Delete(m);
    cr_assert_eq(rt_file_read_all(p, &text, NULL, &e), RT_OK);
    cr_expect_str_eq(text, "{\"step\":1,\"reward\":0.5}\n{\"step\":2}\n");
    free(text);
    train_rundir_close(&rd);
}

Test(rundir, truncated_last_metrics_line_is_dropped) {
    train_rundir rd;
    rt_error e;
    cr_assert_eq(train_rundir_open(&rd, dir, NULL, &e), RT_OK);
    write_file(dir, "metrics.jsonl", "{\"step\":1}\n{\"step\":2}\n{\"step\":3,\"rew");
    cr_assert_eq(train_rundir_truncate_metrics(&rd, 5, &e), RT_OK);
    char *text;
    char p[256];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    cr_assert_eq(rt_file_read_all(p, &text, NULL, &e), RT_OK);
    cr_expect_str_eq(text, "{\"step\":1}\n{\"step\":2}\n");
    free(text);
    train_rundir_close(&rd);
}

Test(rundir, checkpoints_are_atomic_and_rotated) {
    train_rundir rd;
    rt_error e;
    cr_assert_eq(train_rundir_open(&rd, dir, NULL, &e), RT_OK);
    cr_expect_eq(train_rundir_latest_checkpoint(&rd), -1);
    char tmp[512];
    for (int s = 10; s <= 40; s += 10) {
        cr_assert_eq(train_rundir_checkpoint_begin(&rd, s, tmp, sizeof tmp, &e), RT_OK, "%s", e.msg);
        write_file(tmp, "state.json", "{}");
        cr_expect_eq(train_rundir_latest_checkpoint(&rd), s == 10 ? -1 : s - 10, "a temp folder is not a checkpoint");
        cr_assert_eq(train_rundir_checkpoint_commit(&rd, s, 2, &e), RT_OK, "%s", e.msg);
        cr_expect_eq(train_rundir_latest_checkpoint(&rd), s);
    }
    char p[512];
    train_rundir_checkpoint_path(&rd, 40, p, sizeof p);
    cr_expect(exists("%s/state.json", p));
    cr_expect(exists("%s/checkpoints/step-30", dir));
    cr_expect_not(exists("%s/checkpoints/step-20", dir), "keep-last 2 removed older ones");
    cr_expect_not(exists("%s/checkpoints/step-10", dir));
    /* An interrupted write leaves a temp folder: ignored, and removed when the run is reopened. */
    cr_assert_eq(train_rundir_checkpoint_begin(&rd, 50, tmp, sizeof tmp, &e), RT_OK);
    write_file(tmp, "half", "x");
    cr_expect_eq(train_rundir_latest_checkpoint(&rd), 40);
    train_rundir_close(&rd);
    cr_assert_eq(train_rundir_open(&rd, dir, NULL, &e), RT_OK);
    cr_expect_not(exists("%s/checkpoints/.step-50.tmp", dir));
    cr_expect_eq(train_rundir_latest_checkpoint(&rd), 40);
    train_rundir_close(&rd);
}

Test(rundir, unwritable_place_is_a_clear_error) {
    train_rundir rd;
    rt_error e;
    char p[256];
    snprintf(p, sizeof p, "%s/file", dir);
    write_file(dir, "file", "x");
    snprintf(p, sizeof p, "%s/file/run", dir);
    cr_expect_neq(train_rundir_open(&rd, p, NULL, &e), RT_OK);
    cr_expect(strstr(e.msg, "run directory") != NULL, "%s", e.msg);
}
