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
    cfg->uid_base = 0x70100000u + (uint32_t)(getpid() % 20000) * 64; /* above the default's, apart per process */
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

/* The folder of our cgroup in the hierarchy of one /proc/self/cgroup line (controllers ctls, path), found in
 * /proc/self/mountinfo: a v1 mount whose super options hold one of ctls, or the cgroup2 mount for a v2 line. */
static int th_cgroup_dir(const char *ctls, const char *path, char *out, size_t n) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[2048];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        char root[512], mnt[512], type[32], super[512];
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
            sscanf(dash + 3, "%31s %*s %511s", type, super) != 2)
            continue;
        int match = 0;
        if (!ctls[0]) {
            match = !strcmp(type, "cgroup2");
        } else if (!strcmp(type, "cgroup")) {
            char c[256];
            snprintf(c, sizeof c, "%s", ctls);
            for (char *save, *t = strtok_r(c, ",", &save); t && !match; t = strtok_r(NULL, ",", &save)) {
                char s2[520];
                snprintf(s2, sizeof s2, ",%s,", super);
                char w[270];
                snprintf(w, sizeof w, ",%s,", t);
                match = strstr(s2, w) != NULL;
            }
        }
        size_t rl = strcmp(root, "/") ? strlen(root) : 0;
        if (!match || strncmp(path, root, rl)) continue;
        snprintf(out, n, "%s%s", mnt, strcmp(path + rl, "/") ? path + rl : "");
        found = 1;
    }
    if (f) fclose(f);
    return found;
}

/* Folders named prefix* in dir and below (depth levels down): a leaked worker cgroup may sit in a subtree. */
static int count_prefixed(const char *dir, const char *prefix, int depth) {
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        n += !strncmp(e->d_name, prefix, strlen(prefix));
        char sub[1400];
        if (depth > 0 && (size_t)snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) < sizeof sub)
            n += count_prefixed(sub, prefix, depth - 1);
    }
    if (d) closedir(d);
    return n;
}

int th_count_cgroups_in(const char *dir) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "retool-sbx-%d-", (int)getpid());
    return count_prefixed(dir, prefix, 3);
}

int th_count_cgroups(void) {
    int n = 0;
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = 0;
        /* v2 ("0::/path") and the v1 memory, pids and cpuacct hierarchies */
        if (a[1] && !strstr(a + 1, "memory") && !strstr(a + 1, "pids") && !strstr(a + 1, "cpuacct")) continue;
        char dir[1200];
        if (th_cgroup_dir(a + 1, b + 1, dir, sizeof dir)) n += th_count_cgroups_in(dir);
    }
    if (f) fclose(f);
    return n;
}

int th_cgroup2_dir(char *out, size_t n) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "0::", 3)) continue;
        found = th_cgroup_dir("", line + 3, out, n);
    }
    if (f) fclose(f);
    return found;
}

th_server th_server_start(const sbx_config *cfg, const sbx_server_config *scfg) {
    th_server s;
    rt_error err;
    cr_assert_eq(sbx_pool_init(&s.pool, cfg, &err), RT_OK, "%s", err.msg);
    sbx_server_config sc = *scfg;
    sc.port = 0;
    cr_assert_eq(sbx_server_start(&s.srv, s.pool, &sc, &err), RT_OK, "%s", err.msg);
    s.port = sbx_server_port(s.srv);
    return s;
}

void th_server_stop(th_server *s) {
    sbx_server_stop(s->srv);
    sbx_pool_free(s->pool);
}

sbx_result th_run(sbx_pool *pool, const char *code, double wall_s) {
    sbx_request req = {.code = code, .code_len = strlen(code)};
    req.limits.wall_s = wall_s;
    sbx_result res;
    rt_error err;
    cr_assert_eq(sbx_pool_run(pool, &req, &res, &err), RT_OK, "%s", err.msg);
    return res;
}
