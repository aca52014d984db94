#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long long simulated_disk_left = -1;

void rt_fileio_simulate_full_disk(long long limit) { simulated_disk_left = limit; }

rt_status rt_file_read_all(const char *path, char **out, size_t *out_len, rt_error *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_err_errno(err, errno == ENOENT ? RT_ENOTFOUND : RT_EIO, errno, "cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        return rt_err_set(err, RT_ENOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (len + 1 >= cap) {
            size_t ncap = cap * 2;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                free(buf);
                fclose(fp);
                return rt_err_set(err, RT_ENOMEM, "out of memory reading %s (%zu bytes so far)", path, len);
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, fp);
        len += n;
        if (n == 0) break;
    }
    int read_error = ferror(fp);
    int saved = errno;
    fclose(fp);
    if (read_error) {
        free(buf);
        return rt_err_errno(err, RT_EIO, saved, "error reading %s", path);
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len) *out_len = len;
    return RT_OK;
}

static char *path_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static rt_status fsync_dir(const char *path, rt_error *err) {
    char *dir = path_dir(path);
    if (!dir) return rt_err_set(err, RT_ENOMEM, "out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        rt_status st = rt_err_errno(err, RT_EIO, errno, "cannot open folder %s to sync it", dir);
        free(dir);
        return st;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    rt_status st = RT_OK;
    if (rc != 0 && saved != EINVAL) st = rt_err_errno(err, RT_EIO, saved, "cannot sync folder %s", dir);
    free(dir);
    return st;
}

rt_status rt_atomic_open(rt_atomic_file *af, const char *path, rt_error *err) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->path = strdup(path);
    af->tmp_path = malloc(n);
    if (!af->path || !af->tmp_path) {
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    snprintf(af->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        rt_status st = rt_err_errno(err, RT_EIO, errno, "cannot create a temp file beside %s", path);
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return st;
    }
    fchmod(fd, 0644);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        rt_status st = rt_err_errno(err, RT_EIO, errno, "cannot open temp file %s", af->tmp_path);
        close(fd);
        unlink(af->tmp_path);
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return st;
    }
    return RT_OK;
}

rt_status rt_atomic_write(rt_atomic_file *af, const void *data, size_t len, rt_error *err) {
    if (!af->fp) return rt_err_set(err, RT_EINVAL, "atomic file is not open");
    if (af->failed) return rt_err_errno(err, RT_EIO, af->saved_errno, "earlier write to %s failed", af->tmp_path);
    if (simulated_disk_left >= 0) {
        if ((long long)len > simulated_disk_left) {
            af->failed = 1;
            af->saved_errno = ENOSPC;
            return rt_err_errno(err, RT_EIO, ENOSPC, "cannot write %s", af->path);
        }
        simulated_disk_left -= (long long)len;
    }
    if (len && fwrite(data, 1, len, af->fp) != len) {
        af->failed = 1;
        af->saved_errno = errno ? errno : EIO;
        return rt_err_errno(err, RT_EIO, af->saved_errno, "cannot write %s", af->path);
    }
    return RT_OK;
}

static void atomic_release(rt_atomic_file *af) {
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

void rt_atomic_abort(rt_atomic_file *af) {
    if (af->fp) {
        fclose(af->fp);
        unlink(af->tmp_path);
    }
    atomic_release(af);
}

rt_status rt_atomic_commit(rt_atomic_file *af, rt_error *err) {
    if (!af->fp) return rt_err_set(err, RT_EINVAL, "atomic file is not open");
    rt_status st = RT_OK;
    if (af->failed) {
        st = rt_err_errno(err, RT_EIO, af->saved_errno, "cannot write %s (nothing was replaced)", af->path);
    } else if (fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0) {
        st = rt_err_errno(err, RT_EIO, errno, "cannot flush %s to disk (nothing was replaced)", af->path);
    }
    if (fclose(af->fp) != 0 && st == RT_OK)
        st = rt_err_errno(err, RT_EIO, errno, "cannot close %s (nothing was replaced)", af->path);
    af->fp = NULL;
    if (st == RT_OK && rename(af->tmp_path, af->path) != 0)
        st = rt_err_errno(err, RT_EIO, errno, "cannot rename %s to %s", af->tmp_path, af->path);
    if (st != RT_OK) {
        unlink(af->tmp_path);
    } else {
        st = fsync_dir(af->path, err);
    }
    atomic_release(af);
    return st;
}

rt_status rt_file_write_atomic(const char *path, const void *data, size_t len, rt_error *err) {
    rt_atomic_file af;
    rt_status st = rt_atomic_open(&af, path, err);
    if (st) return st;
    st = rt_atomic_write(&af, data, len, err);
    if (st) {
        rt_atomic_abort(&af);
        return st;
    }
    return rt_atomic_commit(&af, err);
}

rt_status rt_mkdir_p(const char *path, rt_error *err) {
    size_t n = strlen(path);
    if (n == 0) return rt_err_set(err, RT_EINVAL, "empty folder name");
    char *buf = strdup(path);
    if (!buf) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                rt_status st = rt_err_errno(err, RT_EIO, errno, "cannot create folder %s", buf);
                free(buf);
                return st;
            }
            buf[i] = saved;
        }
    }
    struct stat sb;
    rt_status st = RT_OK;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) st = rt_err_set(err, RT_EIO, "%s exists and is not a folder", path);
    free(buf);
    return st;
}

int rt_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}
