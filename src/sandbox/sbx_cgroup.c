/* Worker cgroups: memory and pids limits per worker, under this process's own cgroup (v1 controllers, or a v2
 * unified hierarchy). Where they cannot be used the pool falls back to rlimits and says so. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"

/* The folder of this process's cgroup for controller ctl (v1), or the unified one (v2); 0 on success. */
static int cg_own_dir(const char *ctl, char *out, size_t n) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return -1;
    char line[1024];
    int found = -1;
    char v2[512] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *a = strchr(line, ':');
        char *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = 0;
        const char *ctls = a + 1, *path = b + 1;
        if (!*ctls) {
            snprintf(v2, sizeof v2, "%s", path);
            continue;
        }
        char buf[256];
        snprintf(buf, sizeof buf, "%s", ctls);
        for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (!strcmp(t, ctl)) {
                found =
                    (size_t)snprintf(out, n, "/sys/fs/cgroup/%s%s", ctl, strcmp(path, "/") ? path : "") >= n ? -1 : 0;
            }
    }
    fclose(f);
    if (found && v2[0] && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
        found = (size_t)snprintf(out, n, "/sys/fs/cgroup%s", strcmp(v2, "/") ? v2 : "") >= n ? -1 : 0;
    }
    return found;
}

static int cg_write(const char *dir, const char *file, const char *value) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int cg_is_v2(const char *dir) {
    char p[700];
    snprintf(p, sizeof p, "%s/cgroup.controllers", dir);
    return access(p, F_OK) == 0 && strncmp(dir, "/sys/fs/cgroup/memory", 21) && strncmp(dir, "/sys/fs/cgroup/pids", 19);
}

/* Makes dir/name with limit file=value; returns 0 and fills out, or -1 with a reason in why. */
static int cg_make(const char *ctl, const char *name, const char *file_v1, const char *file_v2, const char *value,
                   char *out, size_t n, char *why, size_t why_len) {
    char own[512];
    if (cg_own_dir(ctl, own, sizeof own)) {
        snprintf(why, why_len, "no %s cgroup controller is mounted", ctl);
        return -1;
    }
    int v2 = cg_is_v2(own);
    if ((size_t)snprintf(out, n, "%s/%s", own, name) >= n) {
        snprintf(why, why_len, "cgroup path too long");
        return -1;
    }
    if (mkdir(out, 0755) && errno != EEXIST) {
        snprintf(why, why_len, "cannot create %s: %s", out, strerror(errno));
        out[0] = 0;
        return -1;
    }
    if (cg_write(out, v2 ? file_v2 : file_v1, value)) {
        snprintf(why, why_len, "cannot set %s/%s: %s", out, v2 ? file_v2 : file_v1, strerror(errno));
        rmdir(out);
        out[0] = 0;
        return -1;
    }
    return 0;
}

void sbx_cgroup_probe(int *mem, int *pids, char *why, size_t why_len) {
    char name[64], dir[512], w1[300] = "", w2[300] = "";
    snprintf(name, sizeof name, "retool-sbx-probe-%d", (int)getpid());
    *mem = cg_make("memory", name, "memory.limit_in_bytes", "memory.max", "1073741824", dir, sizeof dir, w1,
                   sizeof w1) == 0;
    if (*mem) rmdir(dir);
    *pids = cg_make("pids", name, "pids.max", "pids.max", "64", dir, sizeof dir, w2, sizeof w2) == 0;
    if (*pids) rmdir(dir);
    snprintf(why, why_len, "%s%s%s", w1, w1[0] && w2[0] ? "; " : "", w2);
}

void sbx_cgroup_create(sbx_cgroup *cg, const char *name, int64_t mem_mb, int64_t pids) {
    char v[64], why[300];
    snprintf(v, sizeof v, "%lld", (long long)mem_mb * 1048576);
    if (cg_make("memory", name, "memory.limit_in_bytes", "memory.max", v, cg->mem, sizeof cg->mem, why, sizeof why))
        cg->mem[0] = 0;
    else
        cg_write(cg->mem, "memory.swappiness", "0");
    snprintf(v, sizeof v, "%lld", (long long)pids);
    if (cg_make("pids", name, "pids.max", "pids.max", v, cg->pids, sizeof cg->pids, why, sizeof why)) cg->pids[0] = 0;
}

int sbx_cgroup_attach(const sbx_cgroup *cg, pid_t pid) {
    char v[32];
    snprintf(v, sizeof v, "%d", (int)pid);
    if (cg->mem[0] && cg_write(cg->mem, "cgroup.procs", v)) return -1;
    if (cg->pids[0] && cg_write(cg->pids, "cgroup.procs", v)) return -1;
    return 0;
}

int64_t sbx_cgroup_oom_kills(const sbx_cgroup *cg) {
    if (!cg->mem[0]) return -1;
    char path[700], line[256];
    int v2 = cg_is_v2(cg->mem);
    snprintf(path, sizeof path, "%s/%s", cg->mem, v2 ? "memory.events" : "memory.oom_control");
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long long n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "oom_kill %lld", &n) == 1) break;
    fclose(f);
    return n;
}

void sbx_cgroup_destroy(sbx_cgroup *cg) {
    char *dirs[2] = {cg->mem, cg->pids};
    for (int i = 0; i < 2; i++) {
        if (!dirs[i][0]) continue;
        for (int tries = 0; tries < 200 && rmdir(dirs[i]) && errno == EBUSY; tries++) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        dirs[i][0] = 0;
    }
}
