/* Test helpers for the model I/O tests: temp folders, small files, running the independent Python writer. */
#ifndef RETOOL_TESTS_MODEL_IO_HELPERS_H
#define RETOOL_TESTS_MODEL_IO_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define PY "/usr/bin/python3 tests/model_io/write_safetensors.py"

/* Creates /tmp/retool-mio-XXXXXX and writes its path into buf. */
static inline void mio_tmpdir(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/retool-mio-XXXXXX");
    if (!mkdtemp(buf)) abort();
}

/* Removes a folder made by mio_tmpdir. */
static inline void mio_rmdir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) abort();
}

/* Writes text to dir/name; the full path goes to out. */
static inline void mio_write(const char *dir, const char *name, const char *text, char *out, size_t n) {
    if (snprintf(out, n, "%s/%s", dir, name) >= (int)n) abort();
    FILE *fp = fopen(out, "wb");
    if (!fp || fwrite(text, 1, strlen(text), fp) != strlen(text)) abort();
    fclose(fp);
}

/* Runs a shell command; fails the test when it does not exit 0. */
static inline void mio_sh(const char *fmt, const char *a, const char *b) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

/* Non-zero when haystack contains needle. */
static inline int mio_has(const char *haystack, const char *needle) {
    return strstr(haystack, needle) != NULL;
}

/* Runs "$RETOOL_BIN ARGS 2>&1" (./build/retool when unset); returns the exit code, output in out. */
static inline int mio_cli(const char *args, char *out, size_t n) {
    const char *bin = getenv("RETOOL_BIN");
    if (!bin) bin = "./build/retool";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t len = fread(out, 1, n - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
