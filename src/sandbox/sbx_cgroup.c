/* Worker cgroups: memory and pids limits per worker, under this process's own cgroup. Each controller is used
 * through the hierarchy that holds it: a v1 hierarchy mounted for it, or the v2 unified hierarchy (where the
 * controllers must first be enabled in cgroup.subtree_control; a cgroup with processes cannot enable them for its
 * children, so this process moves into a leaf of its own first, and back when the last pool is gone). Where neither
 * can be used the pool falls back to rlimits and says why. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"

const char *sbx_cg_mech_name(sbx_cg_mech m) {
    return m == SBX_CG_V1 ? "cgroup v1" : m == SBX_CG_V2 ? "cgroup v2" : "none";
}

static int cg_write(const char *dir, const char *file, const char *value) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* Reads dir/file (first 1 KiB, newlines kept) into out; 0 or -1 with errno. */
static int cg_read(const char *dir, const char *file, char *out, size_t n) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t k = read(fd, out, n - 1);
    int e = errno;
    close(fd);
    errno = e;
    if (k < 0) return -1;
    out[k] = 0;
    return 0;
}

/* Non-zero when word is one of the space- or comma-separated words of list. */
static int has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || strchr(" ,\n", p[-1])) && strchr(" ,\n", p[n])) return 1;
    return 0;
}

/* The folder of this process's cgroup in the hierarchy of controller ctl (v1, ctl != NULL) or the unified one (v2,
 * ctl == NULL), found through /proc/self/cgroup and /proc/self/mountinfo; 0, or -1 when there is none. */
static int cg_own_dir(const char *ctl, char *out, size_t n) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return -1;
    char line[1024], path[512] = "";
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *a = strchr(line, ':');
        char *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = 0;
        if (ctl ? has_word(a + 1, ctl) : !a[1] && a == line + 1 && line[0] == '0') { /* v2: "0::/path" */
            snprintf(path, sizeof path, "%s", b + 1);
            found = 1;
        }
    }
    fclose(f);
    if (!found || !(f = fopen("/proc/self/mountinfo", "r"))) return -1;
    found = -1;
    while (found && fgets(line, sizeof line, f)) {
        char root[512], mnt[512], fstype[32], super[512];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
            sscanf(dash + 3, "%31s %*s %511s", fstype, super) != 2)
            continue;
        if (ctl ? strcmp(fstype, "cgroup") || !has_word(super, ctl) : strcmp(fstype, "cgroup2")) continue;
        size_t rl = strcmp(root, "/") ? strlen(root) : 0;
        if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/')) continue; /* a mount of another subtree */
        const char *rest = path + rl;
        found = (size_t)snprintf(out, n, "%s%s", mnt, strcmp(rest, "/") ? rest : "") >= n ? -1 : 0;
    }
    fclose(f);
    return found;
}

/* ---- cgroup v2: controllers for the children of this process's cgroup ---- */

/* What this process changed in one v2 folder: the controllers it enabled and the leaf it moved into. */
typedef struct v2_change {
    int refs;
    char dir[512];
    char leaf[600];   /* where this process moved to, "" when it did not move */
    char enabled[64]; /* "-memory -pids" to undo what was enabled, "" when nothing was */
} v2_change;

/* The change the pools of this process hold (one folder at a time; another folder's change is not undone). */
static pthread_mutex_t v2_mu = PTHREAD_MUTEX_INITIALIZER;
static v2_change v2;

/* Enables the controllers in want ("memory pids") for dir's children; moves this process into dir/<leaf> first when
 * dir holds processes. Lock held. 0, or -1 with a reason. */
static int v2_enable(v2_change *c, const char *dir, const char *want, char *why, size_t why_len) {
    char have[256], add[64] = "", undo[64] = "";
    if (cg_read(dir, "cgroup.subtree_control", have, sizeof have)) {
        snprintf(why, why_len, "cannot read %s/cgroup.subtree_control: %s", dir, strerror(errno));
        return -1;
    }
    char w[64];
    snprintf(w, sizeof w, "%s", want);
    for (char *save, *t = strtok_r(w, " ", &save); t; t = strtok_r(NULL, " ", &save))
        if (!has_word(have, t)) {
            size_t k = strlen(add);
            snprintf(add + k, sizeof add - k, "%s+%s", k ? " " : "", t);
            k = strlen(undo);
            snprintf(undo + k, sizeof undo - k, "%s-%s", k ? " " : "", t);
        }
    if (!add[0]) return 0;
    int rc = cg_write(dir, "cgroup.subtree_control", add);
    if (rc && errno == EBUSY && !c->leaf[0]) {
        /* The "no internal processes" rule: dir has processes (this one, at least). Move this one into a leaf. */
        snprintf(c->leaf, sizeof c->leaf, "%s/retool-sbx-%d-server", dir, (int)getpid());
        char pid[32], procs[1024];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        if ((mkdir(c->leaf, 0755) && errno != EEXIST) || cg_write(c->leaf, "cgroup.procs", pid)) {
            snprintf(why, why_len, "cannot move this process into %.300s (to enable controllers in its parent): %s",
                     c->leaf, strerror(errno));
            rmdir(c->leaf);
            c->leaf[0] = 0;
            return -1;
        }
        rc = cg_write(dir, "cgroup.subtree_control", add);
        if (rc) { /* still refused: move back, and say why */
            int e = errno;
            if (e == EBUSY && !cg_read(dir, "cgroup.procs", procs, sizeof procs) && procs[0]) {
                procs[strcspn(procs, "\n")] = 0;
                snprintf(why, why_len,
                         "%s holds other processes (pid %.12s, ...), so controllers cannot be enabled for its "
                         "children; run the server in a cgroup of its own (e.g. systemd-run --scope -p "
                         "Delegate=yes)",
                         dir, procs);
            } else {
                snprintf(why, why_len, "cannot write '%s' to %s/cgroup.subtree_control: %s", add, dir, strerror(e));
            }
            cg_write(dir, "cgroup.procs", pid);
            rmdir(c->leaf);
            c->leaf[0] = 0;
            return -1;
        }
    }
    if (rc) {
        snprintf(why, why_len, "cannot write '%s' to %s/cgroup.subtree_control: %s", add, dir, strerror(errno));
        return -1;
    }
    snprintf(c->enabled, sizeof c->enabled, "%s", undo);
    return 0;
}

/* Undoes what v2_enable did, once no pool uses it (lock held). */
static void v2_restore(void) {
    if (v2.enabled[0]) cg_write(v2.dir, "cgroup.subtree_control", v2.enabled);
    if (v2.leaf[0]) {
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        if (!cg_write(v2.dir, "cgroup.procs", pid)) rmdir(v2.leaf);
    }
    memset(&v2, 0, sizeof v2);
}

int sbx_cgroup_v2_claim(const char *dir, const char *want, char *why, size_t why_len) {
    pthread_mutex_lock(&v2_mu);
    if (v2.refs == 0) {
        memset(&v2, 0, sizeof v2);
        snprintf(v2.dir, sizeof v2.dir, "%s", dir);
    }
    v2_change other = {0};
    int tracked = !strcmp(v2.dir, dir);
    int rc = v2_enable(tracked ? &v2 : &other, dir, want, why, why_len);
    if (!rc && tracked) v2.refs++;
    if (!rc && !tracked) rc = 1; /* enabled (or already so) in another folder: nothing to undo later */
    if (v2.refs == 0) memset(&v2, 0, sizeof v2);
    pthread_mutex_unlock(&v2_mu);
    return rc;
}

void sbx_cgroup_v2_unclaim(void) {
    pthread_mutex_lock(&v2_mu);
    if (v2.refs > 0 && --v2.refs == 0) v2_restore();
    pthread_mutex_unlock(&v2_mu);
}

/* ---- the host's mechanism per controller ---- */

void sbx_cgroup_host_acquire(sbx_cgroup_host *h, const char *root) {
    memset(h, 0, sizeof *h);
    char v2dir[512] = "", ctls[256] = "", want[64] = "";
    if (root)
        snprintf(v2dir, sizeof v2dir, "%s", root);
    else if (cg_own_dir(NULL, v2dir, sizeof v2dir))
        v2dir[0] = 0;
    pthread_mutex_lock(&v2_mu);
    if (v2.refs > 0 && v2.leaf[0] && !strcmp(v2dir, v2.leaf)) /* moved there by a pool still alive */
        snprintf(v2dir, sizeof v2dir, "%s", v2.dir);
    pthread_mutex_unlock(&v2_mu);
    if (v2dir[0] && cg_read(v2dir, "cgroup.controllers", ctls, sizeof ctls)) v2dir[0] = 0;
    const char *names[2] = {"memory", "pids"};
    sbx_cg_mech *mech[2] = {&h->mem, &h->pids};
    char *dirs[2] = {h->mem_parent, h->pids_parent}, *whys[2] = {h->why_mem, h->why_pids};
    for (int i = 0; i < 2; i++) {
        if (!root && !cg_own_dir(names[i], dirs[i], sizeof h->mem_parent)) {
            *mech[i] = SBX_CG_V1;
        } else if (v2dir[0] && has_word(ctls, names[i])) {
            *mech[i] = SBX_CG_V2;
            snprintf(dirs[i], sizeof h->mem_parent, "%s", v2dir);
            size_t k = strlen(want);
            snprintf(want + k, sizeof want - k, "%s%s", k ? " " : "", names[i]);
        } else if (v2dir[0]) {
            snprintf(whys[i], sizeof h->why_mem,
                     "no %s controller: no v1 hierarchy has it and the v2 cgroup %.200s does not offer it "
                     "(cgroup.controllers: '%.*s')",
                     names[i], v2dir, (int)strcspn(ctls, "\n"), ctls);
        } else {
            snprintf(whys[i], sizeof h->why_mem,
                     "no %s controller: no v1 hierarchy has it and no cgroup2 file system is mounted", names[i]);
        }
    }
    /* CPU accounting: any v2 cgroup has cpu.stat (no controller needed), else a v1 hierarchy with cpuacct. */
    if (v2dir[0]) {
        h->cpu = SBX_CG_V2;
        snprintf(h->cpu_parent, sizeof h->cpu_parent, "%s", v2dir);
    } else if (!root && !cg_own_dir("cpuacct", h->cpu_parent, sizeof h->cpu_parent)) {
        h->cpu = SBX_CG_V1;
    } else {
        snprintf(h->why_cpu, sizeof h->why_cpu, "no cgroup2 file system is mounted and no v1 hierarchy has cpuacct");
    }
    if (!want[0]) return;
    char why[400] = "";
    int rc = sbx_cgroup_v2_claim(v2dir, want, why, sizeof why);
    if (rc < 0) {
        for (int i = 0; i < 2; i++)
            if (*mech[i] == SBX_CG_V2) {
                *mech[i] = SBX_CG_NONE;
                dirs[i][0] = 0;
                snprintf(whys[i], sizeof h->why_mem, "%s", why);
            }
    } else {
        h->v2_held = rc == 0;
    }
}

void sbx_cgroup_host_release(sbx_cgroup_host *h) {
    if (!h->v2_held) return;
    sbx_cgroup_v2_unclaim();
    h->v2_held = 0;
}

/* ---- worker cgroups ---- */

/* Makes parent/name (out) with limit file=value (none when file is NULL); 0, or -1 with a reason in why (out is ""
 * when nothing was made). */
static int cg_make(const char *parent, const char *name, const char *file, const char *value, char *out, size_t n,
                   char *why, size_t why_len) {
    if ((size_t)snprintf(out, n, "%s/%s", parent, name) >= n) {
        snprintf(why, why_len, "cgroup path too long");
        out[0] = 0;
        return -1;
    }
    if (mkdir(out, 0755) && errno != EEXIST) {
        snprintf(why, why_len, "cannot create %s: %s", out, strerror(errno));
        out[0] = 0;
        return -1;
    }
    if (file && cg_write(out, file, value)) {
        snprintf(why, why_len, "cannot set %s/%s: %s", out, file, strerror(errno));
        return -1; /* out stays: the caller removes it */
    }
    return 0;
}

/* The distinct folders of cg (at most 3); returns how many. */
static int cg_dirs(sbx_cgroup *cg, char **out) {
    char *all[3] = {cg->mem, cg->pids, cg->cpu};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int seen = !all[i][0];
        for (int k = 0; k < n && !seen; k++)
            seen = !strcmp(out[k], all[i]);
        if (!seen) out[n++] = all[i];
    }
    return n;
}

/* Non-zero when dir is a folder of a v2 hierarchy (it has cgroup.events). */
static int cg_is_v2(const char *dir) {
    char path[700];
    snprintf(path, sizeof path, "%s/cgroup.events", dir);
    return access(path, F_OK) == 0;
}

int sbx_cgroup_create(sbx_cgroup *cg, const sbx_cgroup_host *h, const char *name, int64_t mem_mb, int64_t pids,
                      char *why_mem, char *why_pids, char *why_cpu, size_t why_len) {
    memset(cg, 0, sizeof *cg);
    char v[64];
    int rc = 0;
    if (h->mem) {
        cg->mem_v2 = h->mem == SBX_CG_V2;
        snprintf(v, sizeof v, "%lld", (long long)mem_mb * 1048576);
        if (cg_make(h->mem_parent, name, cg->mem_v2 ? "memory.max" : "memory.limit_in_bytes", v, cg->mem,
                    sizeof cg->mem, why_mem, why_len)) {
            if (cg->mem[0] && (h->pids != SBX_CG_V2 || !cg->mem_v2)) rmdir(cg->mem);
            cg->mem[0] = 0;
            rc = -1;
        } else if (cg->mem_v2) {
            cg_write(cg->mem, "memory.swap.max", "0"); /* absent without swap accounting: nothing to limit */
        } else {
            cg_write(cg->mem, "memory.swappiness", "0");
        }
    }
    if (h->pids) {
        snprintf(v, sizeof v, "%lld", (long long)pids);
        if (cg_make(h->pids_parent, name, "pids.max", v, cg->pids, sizeof cg->pids, why_pids, why_len)) {
            if (cg->pids[0] && strcmp(cg->pids, cg->mem)) rmdir(cg->pids);
            cg->pids[0] = 0;
            rc = -1;
        }
    }
    if (h->cpu) {
        cg->cpu_v2 = h->cpu == SBX_CG_V2;
        if (cg_make(h->cpu_parent, name, NULL, NULL, cg->cpu, sizeof cg->cpu, why_cpu, why_len) ||
            cg_make(cg->cpu, "run", NULL, NULL, cg->run, sizeof cg->run, why_cpu, why_len)) {
            if (cg->cpu[0] && strcmp(cg->cpu, cg->mem) && strcmp(cg->cpu, cg->pids)) rmdir(cg->cpu);
            cg->cpu[0] = cg->run[0] = 0;
            rc = -1;
        }
    }
    return rc;
}

void sbx_cgroup_drop(sbx_cgroup *cg, int mem, int pids, int cpu) {
    char *before[3];
    char copy[3][512];
    int n = cg_dirs(cg, before);
    for (int i = 0; i < n; i++)
        snprintf(copy[i], sizeof copy[i], "%s", before[i]);
    if (mem && cg->mem[0] && cg->mem_v2) cg_write(cg->mem, "memory.max", "max"); /* the folder may stay (cpu) */
    if (pids && cg->pids[0] && cg_is_v2(cg->pids)) cg_write(cg->pids, "pids.max", "max");
    if (mem) cg->mem[0] = 0;
    if (pids) cg->pids[0] = 0;
    if (cpu && cg->run[0]) rmdir(cg->run);
    if (cpu) cg->cpu[0] = cg->run[0] = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(copy[i], cg->mem) && strcmp(copy[i], cg->pids) && strcmp(copy[i], cg->cpu)) rmdir(copy[i]);
}

int sbx_cgroup_attach(const sbx_cgroup *cg, pid_t pid) {
    char v[32];
    snprintf(v, sizeof v, "%d", (int)pid);
    char *dirs[3];
    int n = cg_dirs((sbx_cgroup *)cg, dirs);
    for (int i = 0; i < n; i++)
        if (cg_write(dirs[i], "cgroup.procs", v)) return -1;
    return 0;
}

int64_t sbx_cgroup_oom_kills(const sbx_cgroup *cg) {
    if (!cg->mem[0]) return -1;
    char text[1024];
    if (cg_read(cg->mem, cg->mem_v2 ? "memory.events" : "memory.oom_control", text, sizeof text)) return -1;
    const char *p = strstr(text, "oom_kill ");
    return p && (p == text || p[-1] == '\n') ? strtoll(p + 9, NULL, 10) : -1;
}

int sbx_cgroup_populated(const char *dir) {
    char text[256];
    if (cg_read(dir, "cgroup.events", text, sizeof text)) return -1;
    const char *p = strstr(text, "populated ");
    return p && (p == text || p[-1] == '\n') ? atoi(p + 10) : -1;
}

void sbx_cgroup_destroy(sbx_cgroup *cg) {
    char *dirs[4] = {cg->run}; /* the runs' folder first: a folder goes only once its children have */
    int n = cg_dirs(cg, dirs + 1) + 1;
    for (int i = 0; i < n; i++) {
        if (!dirs[i][0]) continue;
        if (cg_is_v2(dirs[i])) {
            /* Whatever is left in it dies (cgroup.kill, kernel 5.14+); then wait until the kernel says it is empty. */
            cg_write(dirs[i], "cgroup.kill", "1");
            for (int tries = 0; tries < 200 && sbx_cgroup_populated(dirs[i]) == 1; tries++) {
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        for (int tries = 0; tries < 200 && rmdir(dirs[i]) && errno == EBUSY; tries++) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    cg->mem[0] = cg->pids[0] = cg->cpu[0] = cg->run[0] = 0;
}
