#include "train/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/json.h"

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* rm -rf of a folder tree that retool wrote (no symlinks followed). */
static int remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *child = join(path, de->d_name);
        if (!child) {
            rc = -1;
            break;
        }
        struct stat sb;
        if (lstat(child, &sb) == 0 && S_ISDIR(sb.st_mode)) rc |= remove_tree(child);
        else if (unlink(child) != 0) rc = -1;
        free(child);
    }
    closedir(d);
    if (rmdir(path) != 0) rc = -1;
    return rc;
}

static int parse_step_name(const char *name, int64_t *step) {
    if (strncmp(name, "step-", 5) != 0) return 0;
    char *end;
    long long v = strtoll(name + 5, &end, 10);
    if (end == name + 5 || *end || v < 0) return 0;
    *step = v;
    return 1;
}

rt_status train_rundir_open(train_rundir *rd, const char *path, const cJSON *config, rt_error *err) {
    memset(rd, 0, sizeof *rd);
    rt_status st = rt_mkdir_p(path, err);
    if (st) return rt_err_prefix(err, "run directory %s", path);
    rd->path = strdup(path);
    char *ck = join(path, "checkpoints"), *ro = join(path, "rollouts"), *cfg = join(path, "config.json"),
         *met = join(path, "metrics.jsonl");
    if (!rd->path || !ck || !ro || !cfg || !met) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    if (!st) st = rt_mkdir_p(ck, err);
    if (!st) st = rt_mkdir_p(ro, err);
    if (!st) {
        DIR *d = opendir(ck);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp")) {
                char *tmp = join(ck, de->d_name);
                if (tmp) remove_tree(tmp);
                free(tmp);
            }
        }
        if (d) closedir(d);
    }
    if (!st && config) st = rt_json_write_file(cfg, config, err);
    if (!st) {
        rd->metrics = fopen(met, "a");
        if (!rd->metrics) st = rt_err_errno(err, RT_EIO, errno, "cannot open %s", met);
    }
    free(ck);
    free(ro);
    free(cfg);
    free(met);
    if (st) {
        train_rundir_close(rd);
        return rt_err_prefix(err, "run directory %s", path);
    }
    return RT_OK;
}

void train_rundir_close(train_rundir *rd) {
    if (rd->metrics) fclose(rd->metrics);
    free(rd->path);
    memset(rd, 0, sizeof *rd);
}

rt_status train_rundir_log_metrics(train_rundir *rd, int64_t step, const cJSON *metrics, rt_error *err) {
    cJSON *line = cJSON_CreateObject();
    if (!line) return rt_err_set(err, RT_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(line, "step", (double)step);
    const cJSON *f;
    cJSON_ArrayForEach(f, metrics) {
        if (strcmp(f->string, "step") == 0) continue;
        cJSON_AddItemToObject(line, f->string, cJSON_Duplicate(f, 1));
    }
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory");
    int bad = fprintf(rd->metrics, "%s\n", text) < 0 || fflush(rd->metrics) != 0 || fsync(fileno(rd->metrics)) != 0;
    cJSON_free(text);
    if (bad) return rt_err_errno(err, RT_EIO, errno, "cannot append to %s/metrics.jsonl", rd->path);
    return RT_OK;
}

rt_status train_rundir_truncate_metrics(train_rundir *rd, int64_t step, rt_error *err) {
    char *met = join(rd->path, "metrics.jsonl");
    if (!met) return rt_err_set(err, RT_ENOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    rt_status st = rt_file_read_all(met, &text, &len, err);
    if (st) {
        free(met);
        return st;
    }
    /* Keep lines up to and including `step`; a last line cut short by a crash goes too. */
    size_t keep = 0, pos = 0;
    while (pos < len) {
        char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) break;
        cJSON *o = cJSON_ParseWithLength(text + pos, (size_t)(nl - (text + pos)));
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "step");
        int ok = cJSON_IsNumber(s) && s->valuedouble <= (double)step;
        cJSON_Delete(o);
        if (!ok) break;
        pos = (size_t)(nl - text) + 1;
        keep = pos;
    }
    if (keep != len) {
        fclose(rd->metrics);
        rd->metrics = NULL;
        st = rt_file_write_atomic(met, text, keep, err);
        rd->metrics = fopen(met, "a");
        if (!st && !rd->metrics) st = rt_err_errno(err, RT_EIO, errno, "cannot reopen %s", met);
    }
    free(text);
    free(met);
    return st;
}

void train_rundir_checkpoint_path(const train_rundir *rd, int64_t step, char *buf, size_t n) {
    snprintf(buf, n, "%s/checkpoints/step-%lld", rd->path, (long long)step);
}

static void tmp_path(const train_rundir *rd, int64_t step, char *buf, size_t n) {
    snprintf(buf, n, "%s/checkpoints/.step-%lld.tmp", rd->path, (long long)step);
}

rt_status train_rundir_checkpoint_begin(const train_rundir *rd, int64_t step, char *buf, size_t n, rt_error *err) {
    tmp_path(rd, step, buf, n);
    remove_tree(buf);
    if (mkdir(buf, 0755) != 0) return rt_err_errno(err, RT_EIO, errno, "cannot create %s", buf);
    return RT_OK;
}

static rt_status fsync_path(const char *path, int dir, rt_error *err) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return rt_err_errno(err, RT_EIO, errno, "cannot open %s to sync it", path);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) return rt_err_errno(err, RT_EIO, e, "cannot sync %s", path);
    return RT_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

rt_status train_rundir_checkpoint_commit(const train_rundir *rd, int64_t step, size_t keep_last, rt_error *err) {
    char tmp[4096], final[4096];
    tmp_path(rd, step, tmp, sizeof tmp);
    train_rundir_checkpoint_path(rd, step, final, sizeof final);
    DIR *d = opendir(tmp);
    if (!d) return rt_err_errno(err, RT_EIO, errno, "checkpoint folder %s is missing", tmp);
    struct dirent *de;
    rt_status st = RT_OK;
    while (!st && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *f = join(tmp, de->d_name);
        struct stat sb;
        if (f && stat(f, &sb) == 0 && S_ISREG(sb.st_mode)) st = fsync_path(f, 0, err);
        free(f);
    }
    closedir(d);
    if (!st) st = fsync_path(tmp, 1, err);
    if (st) return st;
    remove_tree(final); /* a checkpoint of the same step from a run that was resumed earlier */
    if (rename(tmp, final) != 0) return rt_err_errno(err, RT_EIO, errno, "cannot rename %s to %s", tmp, final);
    char *ckdir = join(rd->path, "checkpoints");
    if (!ckdir) return rt_err_set(err, RT_ENOMEM, "out of memory");
    st = fsync_path(ckdir, 1, err);
    if (!st && keep_last > 0) {
        int64_t steps[4096];
        size_t n = 0;
        d = opendir(ckdir);
        while (d && (de = readdir(d)) && n < 4096)
            if (parse_step_name(de->d_name, &steps[n])) n++;
        if (d) closedir(d);
        qsort(steps, n, sizeof steps[0], cmp_i64);
        for (size_t i = 0; i + keep_last < n; i++) {
            char old[4096];
            train_rundir_checkpoint_path(rd, steps[i], old, sizeof old);
            remove_tree(old);
        }
    }
    free(ckdir);
    return st;
}

int64_t train_rundir_latest_checkpoint(const train_rundir *rd) {
    char *ckdir = join(rd->path, "checkpoints");
    if (!ckdir) return -1;
    DIR *d = opendir(ckdir);
    free(ckdir);
    if (!d) return -1;
    int64_t best = -1, s;
    struct dirent *de;
    while ((de = readdir(d)))
        if (parse_step_name(de->d_name, &s) && s > best) best = s;
    closedir(d);
    return best;
}

rt_status train_rundir_rollouts_path(const train_rundir *rd, int64_t step, char *buf, size_t n) {
    snprintf(buf, n, "%s/rollouts/step-%lld.jsonl", rd->path, (long long)step);
    return RT_OK;
}
