/* Whole-file reading and atomic file writes (temp file in the same folder, fsync, rename, fsync of the folder):
 * a crash or a full disk never leaves a half-written file in place of a good one. */
#ifndef RETOOL_BASE_FILEIO_H
#define RETOOL_BASE_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* Reads a whole file into a NUL-terminated malloc'd buffer (*out_len excludes the NUL). Caller frees *out. */
rt_status rt_file_read_all(const char *path, char **out, size_t *out_len, rt_error *err);

/* Writes len bytes to path atomically: the old file (if any) stays intact unless the new one is complete on disk. */
rt_status rt_file_write_atomic(const char *path, const void *data, size_t len, rt_error *err);

/* An atomic writer for content produced piece by piece. Open, write, then commit (or abort to discard). */
typedef struct rt_atomic_file {
    FILE *fp;           /* the temp file being written; use with fwrite/fprintf or rt_atomic_write */
    char *path;         /* final path */
    char *tmp_path;     /* temp path in the same folder */
    int failed;         /* set once any write failed; commit then refuses */
    int saved_errno;    /* errno of the first failure */
} rt_atomic_file;

/* Opens a temp file beside path for writing. */
rt_status rt_atomic_open(rt_atomic_file *af, const char *path, rt_error *err);

/* Appends len bytes; a failure is remembered and reported by commit. */
rt_status rt_atomic_write(rt_atomic_file *af, const void *data, size_t len, rt_error *err);

/* Flushes, fsyncs, renames over the final path and fsyncs the folder; on any failure the temp file is removed. */
rt_status rt_atomic_commit(rt_atomic_file *af, rt_error *err);

/* Discards the temp file; the final path is untouched. Safe after commit (does nothing). */
void rt_atomic_abort(rt_atomic_file *af);

/* Creates a folder and its parents (mkdir -p); success when it already exists. */
rt_status rt_mkdir_p(const char *path, rt_error *err);

/* Non-zero when path exists (any kind of file). */
int rt_path_exists(const char *path);

/* Test hook: when set, rt_atomic_write and commit behave as if the disk were full after limit bytes
 * (-1 turns the simulation off). Not for production use. */
void rt_fileio_simulate_full_disk(long long limit);

#endif
