/* fileio: atomic writes keep the old file on failure (a full disk simulated by a write error), mkdir -p, reads. */
#include <criterion/criterion.h>
#include <dirent.h>

#include "base/fileio.h"
#include "base/json.h"
#include "tmpdir.h"

static char dir[64];
static void setup(void) { test_tmpdir(dir, sizeof dir); }
static void teardown(void) {
    rt_fileio_simulate_full_disk(-1);
    test_rmdir(dir);
}
TestSuite(fileio, .init = setup, .fini = teardown);

static int count_entries(const char *d) {
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (de->d_name[0] != '.') n++;
    closedir(dp);
    return n;
}

Test(fileio, atomic_write_then_read) {
    char path[256];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    rt_error e;
    cr_assert_eq(rt_file_write_atomic(path, "hello", 5, &e), RT_OK, "%s", e.msg);
    char *buf;
    size_t len;
    cr_assert_eq(rt_file_read_all(path, &buf, &len, &e), RT_OK);
    cr_expect_eq(len, 5u);
    cr_expect_str_eq(buf, "hello");
    free(buf);
    cr_expect_eq(count_entries(dir), 1, "no temp file left behind");
}

Test(fileio, full_disk_keeps_old_file_intact) {
    char path[256];
    snprintf(path, sizeof path, "%s/ckpt.json", dir);
    rt_error e;
    cr_assert_eq(rt_file_write_atomic(path, "old contents", 12, &e), RT_OK);
    rt_fileio_simulate_full_disk(4);
    rt_atomic_file af;
    cr_assert_eq(rt_atomic_open(&af, path, &e), RT_OK);
    cr_expect_eq(rt_atomic_write(&af, "new", 3, &e), RT_OK);
    cr_expect_eq(rt_atomic_write(&af, " contents that do not fit", 25, &e), RT_EIO);
    cr_expect(strstr(e.msg, "No space left") != NULL, "%s", e.msg);
    cr_expect_eq(rt_atomic_commit(&af, &e), RT_EIO);
    cr_expect(strstr(e.msg, "nothing was replaced") != NULL, "%s", e.msg);
    rt_fileio_simulate_full_disk(-1);
    char *buf;
    cr_assert_eq(rt_file_read_all(path, &buf, NULL, &e), RT_OK);
    cr_expect_str_eq(buf, "old contents");
    free(buf);
    cr_expect_eq(count_entries(dir), 1, "the failed temp file was removed");
}

Test(fileio, abort_discards) {
    char path[256];
    snprintf(path, sizeof path, "%s/x", dir);
    rt_atomic_file af;
    rt_error e;
    cr_assert_eq(rt_atomic_open(&af, path, &e), RT_OK);
    rt_atomic_write(&af, "abc", 3, &e);
    rt_atomic_abort(&af);
    cr_expect_not(rt_path_exists(path));
    cr_expect_eq(count_entries(dir), 0);
}

Test(fileio, open_in_missing_folder_fails_clearly) {
    rt_atomic_file af;
    rt_error e;
    cr_expect_eq(rt_atomic_open(&af, "/nonexistent-dir/x", &e), RT_EIO);
    cr_expect(strstr(e.msg, "/nonexistent-dir/x") != NULL, "%s", e.msg);
}

Test(fileio, mkdir_p_nested_and_existing) {
    char path[256];
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    rt_error e;
    cr_expect_eq(rt_mkdir_p(path, &e), RT_OK, "%s", e.msg);
    cr_expect_eq(rt_mkdir_p(path, &e), RT_OK);
    cr_expect(rt_path_exists(path));
    char file[256];
    test_write(dir, "f", "x", 1, file, sizeof file);
    char under[300];
    snprintf(under, sizeof under, "%s/sub", file);
    cr_expect_neq(rt_mkdir_p(under, &e), RT_OK);
}

Test(fileio, read_missing_and_big) {
    char *buf;
    rt_error e;
    cr_expect_eq(rt_file_read_all("/nonexistent/file", &buf, NULL, &e), RT_ENOTFOUND);
    cr_expect_null(buf);
    size_t n = 300000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
    char path[256];
    test_write(dir, "big", data, n, path, sizeof path);
    size_t len;
    cr_assert_eq(rt_file_read_all(path, &buf, &len, &e), RT_OK);
    cr_expect_eq(len, n);
    cr_expect_eq(memcmp(buf, data, n), 0);
    free(buf);
    free(data);
}

Test(fileio, json_write_file_round_trip) {
    char path[256];
    snprintf(path, sizeof path, "%s/c.json", dir);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "lr", 1e-6);
    rt_error e;
    cr_assert_eq(rt_json_write_file(path, o, &e), RT_OK);
    cJSON_Delete(o);
    cJSON *back;
    cr_assert_eq(rt_json_read_file(path, &back, &e), RT_OK);
    double lr;
    cr_expect_eq(rt_json_get_double(back, "lr", &lr, &e), RT_OK);
    cr_expect_float_eq(lr, 1e-6, 1e-18);
    cJSON_Delete(back);
}
