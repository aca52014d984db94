/* A fresh temp folder per test, and small file helpers for tests. */
#ifndef RETOOL_TESTS_BASE_TMPDIR_H
#define RETOOL_TESTS_BASE_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Creates /tmp/retool-test-XXXXXX and writes its path into buf. */
static inline void test_tmpdir(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/retool-test-XXXXXX");
    if (!mkdtemp(buf)) abort();
}

/* Writes len bytes to dir/name and stores the full path in out. */
static inline void test_write(const char *dir, const char *name, const void *data, size_t len, char *out, size_t n) {
    snprintf(out, n, "%s/%s", dir, name);
    FILE *fp = fopen(out, "wb");
    if (!fp || fwrite(data, 1, len, fp) != len) abort();
    fclose(fp);
}

/* Removes a temp folder made by test_tmpdir (and all in it). */
static inline void test_rmdir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) abort();
}

#endif
