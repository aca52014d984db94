#include "helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void th_config(sbx_config *cfg, int workers) {
    sbx_config_default(cfg);
    cfg->workers = workers;
    cfg->light_workers = -1; /* tests that need the light tier ask for it */
    cfg->tmpfs_mb = 16;
    cfg->uid_base = 300000 + (uint32_t)(getpid() % 20000) * 64;
}

int th_count_uid_procs(uint32_t uid_base) {
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            unsigned uid;
            if (sscanf(line, "Uid: %u", &uid) == 1) {
                if (uid >= uid_base && uid < uid_base + 64) n++;
                break;
            }
        }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

int th_count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d) closedir(d);
    return n;
}

int th_count_cgroups(void) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "retool-sbx-%d-", (int)getpid());
    int n = 0;
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = 0;
        if (strcmp(a + 1, "memory") && strcmp(a + 1, "pids")) continue;
        char dir[1200];
        snprintf(dir, sizeof dir, "/sys/fs/cgroup/%s%s", a + 1, strcmp(b + 1, "/") ? b + 1 : "");
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
        if (d) closedir(d);
    }
    if (f) fclose(f);
    return n;
}

sbx_result th_run(sbx_pool *pool, const char *code, double wall_s) {
    sbx_request req = {.code = code, .code_len = strlen(code)};
    req.limits.wall_s = wall_s;
    sbx_result res;
    rt_error err;
    cr_assert_eq(sbx_pool_run(pool, &req, &res, &err), RT_OK, "%s", err.msg);
    return res;
}
