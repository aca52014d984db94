/* The sandbox on hosts unlike the developer machine: cgroup v2 (a directory tree laid out like cgroup2, and the real
 * cgroup2 file system where the host offers one), the leftover-cgroup count on v2, the worker uid range against
 * /etc/subuid, a server run by an ordinary user (unprivileged user namespaces), and a request's memory limit on both
 * worker tiers. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/timer.h"
#include "helpers.h"
#include "sandbox/sbx_internal.h"

static void put(const char *dir, const char *file, const char *text) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    cr_assert(f, "%s: %s", p, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static void get(const char *dir, const char *file, char *out, size_t n) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "r");
    cr_assert(f, "%s: %s", p, strerror(errno));
    size_t k = fread(out, 1, n - 1, f);
    out[k] = 0;
    fclose(f);
}

/* A folder laid out like a cgroup2 cgroup: the interface files the kernel would show (empty, as a write replaces). */
static void fake_cgroup(const char *dir, const char *controllers) {
    cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST, "%s: %s", dir, strerror(errno));
    put(dir, "cgroup.controllers", controllers);
    put(dir, "cgroup.subtree_control", "");
    put(dir, "cgroup.procs", "");
    put(dir, "cgroup.events", "populated 0\nfrozen 0\n");
}

static void rm_tree(const char *dir) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Host processes whose real uid is uid: how many, and the first one's pid in *first (-1 when none). */
static int uid_procs(unsigned uid, int *first) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    *first = -1;
    while (d && (e = readdir(d))) {
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "r") : NULL;
        while (f && fgets(line, sizeof line, f)) {
            unsigned u;
            if (sscanf(line, "Uid: %u", &u) == 1) {
                if (u == uid && !n++) *first = atoi(e->d_name);
                break;
            }
        }
        if (f) fclose(f);
    }
    if (d) closedir(d);
    return n;
}

/* The host pid of the process whose real uid is uid (waits up to 5 s for it to appear); -1 if none. */
static int pid_of_uid(unsigned uid) {
    int pid = -1;
    for (double end = rt_time_now() + 5; rt_time_now() < end && !uid_procs(uid, &pid); usleep(20000)) {
    }
    return pid;
}

/* Submits code (wall and CPU limits wall_s, cpu_s; 0: the default) and finds its running process on the host
 * (*child, by the code's host uid). */
static sbx_job *submit_running(sbx_pool *pool, const sbx_config *cfg, const char *code, double wall_s, double cpu_s,
                               int *child) {
    sbx_request req = {.code = code, .code_len = strlen(code)};
    req.limits.wall_s = wall_s;
    req.limits.cpu_s = cpu_s;
    sbx_job *job;
    rt_error err;
    cr_assert_eq(sbx_pool_submit(pool, &req, NULL, NULL, &job, &err), RT_OK, "%s", err.msg);
    *child = pid_of_uid(cfg->uid_base + 1);
    cr_assert_gt(*child, 0, "the running program (host uid %u) was not found", cfg->uid_base + 1);
    return job;
}

Test(host, cgroup_count_sees_a_leaked_v2_cgroup) {
    char dir[1024], leak[1200];
    if (!th_cgroup2_dir(dir, sizeof dir)) cr_skip("no cgroup2 file system is mounted on this host");
    int before = th_count_cgroups();
    snprintf(leak, sizeof leak, "%s/retool-sbx-%d-leak", dir, (int)getpid());
    if (mkdir(leak, 0755)) cr_skip("cannot create a cgroup in %s (%s): not root there", dir, strerror(errno));
    int during = th_count_cgroups();
    rmdir(leak);
    cr_expect_eq(during, before + 1, "a leftover v2 cgroup in %s is counted", dir);
    cr_expect_eq(th_count_cgroups(), before);
}

Test(host, cgroup2_tree_limits_and_oom, .timeout = 60) {
    char root[] = "/tmp/retool-cg2-XXXXXX";
    cr_assert(mkdtemp(root));
    fake_cgroup(root, "cpuset cpu io memory hugetlb pids rdma misc\n");
    char wdir[256];
    snprintf(wdir, sizeof wdir, "%s/retool-sbx-%d-0", root, (int)getpid());
    /* What the kernel shows in a child once memory and pids are enabled for it (pre-made: a plain folder cannot
     * grow files on mkdir). */
    fake_cgroup(wdir, "memory pids\n");
    put(wdir, "memory.max", "max\n");
    put(wdir, "memory.swap.max", "max\n");
    put(wdir, "pids.max", "max\n");
    put(wdir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    char rdir[300]; /* the runs' cgroup, where each run accounts its CPU */
    snprintf(rdir, sizeof rdir, "%s/run", wdir);
    fake_cgroup(rdir, "");
    put(rdir, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.cgroup_root = root;
    cfg.worker_memory_mb = 3000;
    cfg.worker_pids = 300;
    sbx_pool *pool;
    rt_error err;
    cr_assert_eq(sbx_pool_init(&pool, &cfg, &err), RT_OK, "%s", err.msg);
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.cgroup_memory, SBX_CG_V2);
    cr_expect_eq(st.cgroup_pids, SBX_CG_V2);
    char text[256];
    get(root, "cgroup.subtree_control", text, sizeof text);
    cr_expect_str_eq(text, "+memory +pids", "both controllers are enabled for the children");
    get(wdir, "memory.max", text, sizeof text);
    cr_expect_eq(strtoll(text, NULL, 10), 3000LL << 20, "memory.max: %s", text);
    get(wdir, "memory.swap.max", text, sizeof text);
    cr_expect_str_eq(text, "0");
    get(wdir, "pids.max", text, sizeof text);
    cr_expect_str_eq(text, "300");
    int wpid = 0;
    cr_assert_eq(sbx_pool_worker_pids(pool, &wpid, 1), 1);
    get(wdir, "cgroup.procs", text, sizeof text);
    cr_expect_eq(atoi(text), wpid, "the worker joined its cgroup: %s vs %d", text, wpid);
    /* What the kernel does on an OOM kill: count it in memory.events, then SIGKILL the process. */
    int child;
    /* Two children burn 0.6 s of CPU each and are waited for, so the run's cpu_s passes its 1 s CPU limit although
     * no process reached its own RLIMIT_CPU: the OOM kill must still be reported as memory, not as the CPU limit. */
    const char *code = "import os, time\ndef burn():\n    t = time.process_time()\n"
                       "    while time.process_time() - t < 0.6: pass\n    os._exit(0)\n"
                       "for i in range(2):\n    if os.fork() == 0: burn()\nos.wait()\nos.wait()\ntime.sleep(20)\n";
    sbx_job *job = submit_running(pool, &cfg, code, 30, 1, &child);
    double end = rt_time_now() + 20;
    while (uid_procs(cfg.uid_base + 1, &child) < 3 && rt_time_now() < end) /* the children are running */
        usleep(5000);
    while (uid_procs(cfg.uid_base + 1, &child) > 1 && rt_time_now() < end) /* they are done and waited for */
        usleep(20000);
    cr_assert_gt(child, 0);
    put(wdir, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
    kill(child, SIGKILL);
    cr_assert(sbx_job_wait(job, 20));
    const sbx_result *r = sbx_job_result(job);
    cr_expect_eq(r->status, SBX_MEMORY, "an OOM kill counted in memory.events is a memory error: %s %s",
                 sbx_status_name(r->status), r->message);
    cr_expect_geq(r->cpu_s, 1.1, "the children's 1.2 s are in cpu_s (%.3f s)", r->cpu_s);
    sbx_job_free(job);
    sbx_result r2 = th_run(pool, "print(6*7)", 10);
    cr_expect_str_eq(r2.out, "42\n", "the next run is not blamed for the old kill");
    cr_expect_eq(r2.status, SBX_OK);
    sbx_result_free(&r2);
    sbx_pool_free(pool);
    get(root, "cgroup.subtree_control", text, sizeof text);
    cr_expect_str_eq(text, "-memory -pids", "what was enabled is disabled again when the pool is gone");
    rm_tree(root);
}

Test(host, cgroup2_without_the_controllers, .timeout = 60) {
    /* A real cgroup2 cgroup when the host has one (no controller is enabled for a new child), else a laid-out one. */
    char dir[1024], root[1200];
    int real = th_cgroup2_dir(dir, sizeof dir);
    if (real) {
        snprintf(root, sizeof root, "%s/retool-sbx-%d-nc", dir, (int)getpid());
        real = mkdir(root, 0755) == 0;
    }
    if (!real) {
        snprintf(root, sizeof root, "/tmp/retool-cg2-nc-%d", (int)getpid());
        fake_cgroup(root, "cpu io\n");
    }
    char ctl[256];
    get(root, "cgroup.controllers", ctl, sizeof ctl);
    if (strstr(ctl, "memory")) {
        rmdir(root);
        cr_skip("this host's cgroup2 offers the memory controller to a new cgroup: nothing is missing to test");
    }
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.cgroup_root = root;
    sbx_pool *pool;
    rt_error err;
    cr_expect_eq(sbx_pool_init(&pool, &cfg, &err), RT_EUNSUPPORTED, "a host without the controllers is refused");
    cr_expect(strstr(err.msg, "cgroup-memory") && strstr(err.msg, "cgroup-pids") &&
                  strstr(err.msg, "--allow-weaker-isolation") && strstr(err.msg, "does not offer"),
              "%s", err.msg);
    cfg.allow_weaker = SBX_WEAK_CGROUP_MEMORY | SBX_WEAK_CGROUP_PIDS;
    cr_assert_eq(sbx_pool_init(&pool, &cfg, &err), RT_OK, "%s", err.msg);
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.cgroup_memory, SBX_CG_NONE);
    cr_expect_eq(st.weaker, SBX_WEAK_CGROUP_MEMORY | SBX_WEAK_CGROUP_PIDS);
    sbx_result r = th_run(pool, "print(1)", 10);
    cr_expect_str_eq(r.out, "1\n");
    sbx_result_free(&r);
    sbx_pool_free(pool);
    if (real)
        cr_expect_eq(rmdir(root), 0, "%s", strerror(errno));
    else
        rm_tree(root);
}

Test(host, cgroup2_real_memory_kill, .timeout = 90) {
    char dir[1024], ctl[256] = "";
    if (!th_cgroup2_dir(dir, sizeof dir)) cr_skip("no cgroup2 file system is mounted on this host");
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    int v1_memory = 0;
    while (f && fgets(line, sizeof line, f))
        v1_memory |= strstr(line, ":memory:") != NULL;
    if (f) fclose(f);
    get(dir, "cgroup.controllers", ctl, sizeof ctl);
    ctl[strcspn(ctl, "\n")] = 0;
    if (v1_memory || !strstr(ctl, "memory") || !strstr(ctl, "pids"))
        cr_skip("cgroup2 at %s offers '%s' only%s: the memory and pids controllers cannot be tested on it here", dir,
                ctl, v1_memory ? " (memory is bound to a v1 hierarchy on this host)" : "");
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.worker_memory_mb = 400;
    sbx_pool *pool;
    rt_error err;
    rt_status rc = sbx_pool_init(&pool, &cfg, &err);
    if (rc && strstr(err.msg, "holds other processes"))
        cr_skip("our cgroup %s holds other processes (the test runner's): controllers cannot be enabled for its "
                "children (%s)",
                dir, err.msg);
    cr_assert_eq(rc, RT_OK, "%s", err.msg);
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.cgroup_memory, SBX_CG_V2);
    sbx_request req = {.code = "b = bytearray(800 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('kept')"};
    req.code_len = strlen(req.code);
    req.limits.wall_s = 30;
    req.limits.memory_mb = -1; /* no RLIMIT_AS: only the cgroup can stop it */
    sbx_result r;
    cr_assert_eq(sbx_pool_run(pool, &req, &r, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(r.status, SBX_MEMORY, "%s: %s", sbx_status_name(r.status), r.message);
    sbx_result_free(&r);
    sbx_pool_free(pool);
    cr_expect_eq(th_count_cgroups(), 0, "no cgroup is left");
}

/* Waits up to 5 s for a v2 cgroup's cgroup.events to say "populated 0"; returns the last value read. */
static int wait_unpopulated(const char *dir) {
    int v = -1;
    for (double end = rt_time_now() + 5; (v = sbx_cgroup_populated(dir)) == 1 && rt_time_now() < end;)
        usleep(10000);
    return v;
}

/* Non-zero when the cgroup folder's cgroup.procs lists pid. */
static int procs_has(const char *dir, int pid) {
    char text[4096];
    get(dir, "cgroup.procs", text, sizeof text);
    for (char *save, *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
        if (atoi(t) == pid) return 1;
    return 0;
}

Test(host, finds_its_own_cgroup2_folder) {
    /* The pool's own look-up (/proc/self/cgroup's "0::" line, then /proc/self/mountinfo) against the tests'. */
    char dir[1024];
    if (!th_cgroup2_dir(dir, sizeof dir)) cr_skip("no cgroup2 file system is mounted on this host");
    sbx_cgroup_host h;
    sbx_cgroup_host_acquire(&h, NULL);
    cr_expect_eq(h.cpu, SBX_CG_V2, "CPU accounting on the mounted cgroup2: %s", h.why_cpu);
    cr_expect_str_eq(h.cpu_parent, dir);
    sbx_cgroup_host_release(&h);
}

Test(host, cgroup2_real_subtree, .timeout = 90) {
    /* The v2 code against the kernel: a fresh subtree of the real cgroup2 mount is the pool's cgroup root. */
    char dir[1024], root[1200], ctl[256];
    if (!th_cgroup2_dir(dir, sizeof dir)) cr_skip("no cgroup2 file system is mounted on this host");
    snprintf(root, sizeof root, "%s/retool-sbx-%d-real", dir, (int)getpid());
    if (mkdir(root, 0755)) cr_skip("cgroup2 at %s is not writable by this user (%s)", dir, strerror(errno));
    get(root, "cgroup.controllers", ctl, sizeof ctl);
    int has_ctl = strstr(ctl, "memory") && strstr(ctl, "pids");
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.cgroup_root = root;
    sbx_pool *pool;
    rt_error err;
    if (!has_ctl) { /* never silently without a memory limit: refused, naming what is missing and the flag */
        cr_expect_eq(sbx_pool_init(&pool, &cfg, &err), RT_EUNSUPPORTED, "%s lacks memory/pids ('%s')", root, ctl);
        cr_expect(strstr(err.msg, "cgroup-memory") && strstr(err.msg, "cgroup-pids") &&
                      strstr(err.msg, "does not offer") && strstr(err.msg, "--allow-weaker-isolation"),
                  "%s", err.msg);
        cr_expect_eq(th_count_cgroups_in(root), 0, "a refused pool leaves no cgroup in %s", root);
        cfg.allow_weaker = SBX_WEAK_CGROUP_MEMORY | SBX_WEAK_CGROUP_PIDS;
    }
    cr_assert_eq(sbx_pool_init(&pool, &cfg, &err), RT_OK, "%s", err.msg);
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.cgroup_memory, has_ctl ? SBX_CG_V2 : SBX_CG_NONE);
    cr_expect_eq(st.weaker & SBX_WEAK_CGROUP_MEMORY, has_ctl ? 0u : (unsigned)SBX_WEAK_CGROUP_MEMORY,
                 "a missing memory limit is named, not silent");
    cr_expect_eq(st.cgroup_cpu, SBX_CG_V2, "CPU accounting in the v2 subtree: %s", st.cgroup_why[2]);
    char w[1400], run[1500], text[256];
    snprintf(w, sizeof w, "%s/retool-sbx-%d-0", root, (int)getpid());
    snprintf(run, sizeof run, "%s/run", w);
    int wpid = 0;
    cr_assert_eq(sbx_pool_worker_pids(pool, &wpid, 1), 1);
    cr_expect(procs_has(w, wpid), "the kernel lists the worker (%d) in %s/cgroup.procs", wpid, w);
    cr_expect_eq(th_count_cgroups(), 2, "the leftover count sees the worker's folder inside the subtree");
    if (has_ctl) {
        get(w, "memory.max", text, sizeof text);
        cr_expect_eq(strtoll(text, NULL, 10), cfg.worker_memory_mb << 20, "memory.max: %s", text);
        get(root, "cgroup.subtree_control", text, sizeof text);
        cr_expect(strstr(text, "memory") && strstr(text, "pids"), "subtree_control: %s", text);
    }
    /* A run (and a grandchild it leaves behind) sits in the run cgroup, the worker does not. */
    int child;
    sbx_job *job = submit_running(
        pool, &cfg, "import os, time\nif os.fork() == 0:\n    time.sleep(30)\ntime.sleep(20)\n", 1, 0, &child);
    cr_expect(procs_has(run, child), "the run's process %d is in %s", child, run);
    cr_expect(!procs_has(run, wpid), "the worker is not in the run cgroup");
    cr_assert(sbx_job_wait(job, 20));
    cr_expect_eq(sbx_job_result(job)->status, SBX_TIMEOUT);
    sbx_job_free(job);
    cr_expect_eq(wait_unpopulated(run), 0, "the kernel says %s is empty after the run (grandchild included)", run);
    sbx_result r = th_run(pool, "print(6*7)", 10);
    cr_expect_str_eq(r.out, "42\n");
    sbx_result_free(&r);
    sbx_pool_free(pool);
    cr_expect_eq(access(w, F_OK), -1, "%s is removed with the pool", w);
    cr_expect_eq(sbx_cgroup_populated(root), 0, "nothing is left in %s", root);
    cr_expect_eq(th_count_cgroups(), 1, "the leftover count sees the subtree root, and nothing else");
    if (has_ctl) {
        get(root, "cgroup.subtree_control", text, sizeof text);
        text[strcspn(text, "\n")] = 0;
        cr_expect_str_eq(text, "", "what was enabled is disabled again");
    }
    /* What the pool's cleanup does with a process still inside (cgroup.kill, then "populated 0", then rmdir). */
    sbx_cgroup_host h;
    sbx_cgroup_host_acquire(&h, root);
    sbx_cgroup cg;
    char why[3][300], name[64];
    snprintf(name, sizeof name, "retool-sbx-%d-kill", (int)getpid());
    sbx_cgroup_create(&cg, &h, name, 100, 10, why[0], why[1], why[2], sizeof why[0]);
    cr_assert(cg.cpu[0], "%s", why[2]);
    pid_t left = fork();
    if (left == 0) {
        pause();
        _exit(0);
    }
    cr_assert_eq(sbx_cgroup_attach(&cg, left), 0, "%s", strerror(errno));
    cr_expect(procs_has(cg.cpu, left));
    char folder[512];
    snprintf(folder, sizeof folder, "%s", cg.cpu);
    sbx_cgroup_destroy(&cg);
    int wst = 0;
    cr_expect_eq(waitpid(left, &wst, 0), left);
    cr_expect(WIFSIGNALED(wst), "the process left in %s was killed with it (wait status %d)", folder, wst);
    cr_expect_eq(access(folder, F_OK), -1, "%s is removed", folder);
    sbx_cgroup_host_release(&h);
    cr_expect_eq(rmdir(root), 0, "%s: %s", root, strerror(errno));
    cr_expect_eq(th_count_cgroups(), 0);
}

Test(host, cgroup2_real_leaf_move, .timeout = 60) {
    /* The "no internal processes" rule on the kernel: enabling a controller for the children of a cgroup that holds
     * this process moves it into a leaf first, and back; another process there makes it refuse. The controllers the
     * mount offers are used (on this kind of machine only hugetlb: the pool's memory and pids are bound to v1). */
    char dir[1024], d[1200], leaf[1300], ctl[256], sub[256];
    if (!th_cgroup2_dir(dir, sizeof dir)) cr_skip("no cgroup2 file system is mounted on this host");
    get(dir, "cgroup.controllers", ctl, sizeof ctl);
    ctl[strcspn(ctl, " \n")] = 0;
    if (!ctl[0]) cr_skip("cgroup2 at %s offers no controller to enable", dir);
    get(dir, "cgroup.subtree_control", sub, sizeof sub);
    int enabled_here = 0;
    if (!strstr(sub, ctl)) {
        char add[300];
        snprintf(add, sizeof add, "+%s", ctl);
        FILE *f = fopen(strcat(strcpy(sub, dir), "/cgroup.subtree_control"), "w");
        enabled_here = f && fputs(add, f) >= 0;
        if (f && fclose(f)) enabled_here = 0;
        if (!enabled_here) cr_skip("cannot enable %s for the children of %s (%s)", ctl, dir, strerror(errno));
    }
    snprintf(d, sizeof d, "%s/retool-sbx-%d-leaf", dir, (int)getpid());
    snprintf(leaf, sizeof leaf, "%s/retool-sbx-%d-server", d, (int)getpid());
    cr_assert_eq(mkdir(d, 0755), 0, "%s: %s", d, strerror(errno));
    put(d, "cgroup.procs", "0"); /* this process into d */
    int me = (int)getpid();
    char why[400] = "";
    cr_expect_eq(sbx_cgroup_v2_claim(d, ctl, why, sizeof why), 0, "%s", why);
    cr_expect(procs_has(leaf, me), "moved into the leaf %s", leaf);
    cr_expect(!procs_has(d, me), "%s holds no process any more", d);
    get(d, "cgroup.subtree_control", sub, sizeof sub);
    cr_expect(strstr(sub, ctl), "%s enabled in %s: '%s'", ctl, d, sub);
    sbx_cgroup_v2_unclaim();
    get(d, "cgroup.subtree_control", sub, sizeof sub);
    sub[strcspn(sub, "\n")] = 0;
    cr_expect_str_eq(sub, "", "disabled again");
    cr_expect(procs_has(d, me), "back in %s", d);
    cr_expect_eq(access(leaf, F_OK), -1, "the leaf is removed");
    /* Another process in d: the kernel refuses even after the move; nothing is left changed. */
    pid_t other = fork();
    if (other == 0) {
        pause();
        _exit(0);
    }
    cr_expect_eq(sbx_cgroup_v2_claim(d, ctl, why, sizeof why), -1);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "pid %d", (int)other);
    cr_expect(strstr(why, "holds other processes") && strstr(why, pid_text) && strstr(why, "Delegate=yes"), "%s", why);
    cr_expect(procs_has(d, me) && procs_has(d, other), "both still in %s", d);
    cr_expect_eq(access(leaf, F_OK), -1, "no leaf is left");
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
    put(dir, "cgroup.procs", "0");
    cr_expect_eq(rmdir(d), 0, "%s: %s", d, strerror(errno));
    if (enabled_here) {
        char del[300];
        snprintf(del, sizeof del, "-%s", ctl);
        put(dir, "cgroup.subtree_control", del);
    }
}

/* A run's CPU counts its orphaned and auto-reaped descendants: each burns a measured amount of CPU that the run's
 * process never waits for (getrusage cannot see it). */
Test(host, cpu_of_descendants_not_waited_for, .timeout = 60) {
    const char *code = "import os, signal, time\n"
                       "def burn(s, w):\n"
                       "    t = time.process_time()\n"
                       "    while time.process_time() - t < s: pass\n"
                       "    os.write(w, b'%.3f\\n' % time.process_time())\n"
                       "    os._exit(0)\n"
                       "r, w = os.pipe()\n"
                       "if os.fork() == 0:\n" /* a grandchild, orphaned: reparented, never waited for */
                       "    if os.fork() == 0: burn(0.3, w)\n"
                       "    os._exit(0)\n"
                       "os.wait()\n"
                       "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n" /* a child the kernel reaps itself */
                       "if os.fork() == 0: burn(0.2, w)\n"
                       "got = [float(x) for x in (os.read(r, 64) + os.read(r, 64)).split()]\n"
                       "print(sum(got))\n";
    /* Pass 0: the host's mechanism. Pass 1, where that was cgroup v2 and a v1 cpuacct hierarchy exists: the v1
     * path, in a mount namespace of this test's own without the cgroup2 mount. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            char dir[1024];
            if (geteuid() != 0 || !th_cgroup2_dir(dir, sizeof dir)) break;
            if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || umount2(dir, MNT_DETACH))
                break; /* our v2 cgroup is not a mount point of its own: no v1 pass */
        }
        sbx_config cfg;
        th_config(&cfg, 1);
        sbx_pool *pool;
        rt_error err;
        cr_assert_eq(sbx_pool_init(&pool, &cfg, &err), RT_OK, "%s", err.msg);
        sbx_stats st;
        sbx_pool_stats(pool, &st);
        if (!st.cgroup_cpu || (pass == 1 && st.cgroup_cpu != SBX_CG_V1)) {
            sbx_pool_free(pool);
            if (pass == 1) break;
            cr_skip("no cgroup accounts a run's CPU on this host: %s", st.cgroup_why[2]);
        }
        sbx_result r = th_run(pool, code, 20);
        cr_assert_eq(r.status, SBX_OK, "%s %s", sbx_status_name(r.status), r.err);
        double burned = atof(r.out);
        const char *mech = sbx_cg_mech_name((sbx_cg_mech)st.cgroup_cpu);
        cr_log_info("pass %d: a run's CPU accounted by %s: cpu_s %.3f s, the descendants burned %.3f s", pass, mech,
                    r.cpu_s, burned);
        cr_expect_geq(burned, 0.49, "the descendants report their own CPU: %s", r.out);
        cr_expect_geq(r.cpu_s, burned, "%s: cpu_s %.3f s counts the %.3f s the descendants burned", mech, r.cpu_s,
                      burned);
        cr_expect_lt(r.cpu_s, burned + 1.0, "%s: cpu_s %.3f s: not much more than the run burned", mech, r.cpu_s);
        sbx_result_free(&r);
        sbx_pool_free(pool);
        cr_expect_eq(th_count_cgroups(), 0, "%s: no cgroup is left", mech);
    }
}

Test(host, worker_uids_against_subuid) {
    char path[] = "/tmp/retool-subuid-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *text = "# comment\nalice:100000:65536\nbob:165536:65536\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char msg[512];
    cr_expect(sbx_subid_clash(path, 100000, 100008, msg, sizeof msg), "the default range overlaps alice's");
    cr_expect(strstr(msg, "line 2") && strstr(msg, "alice") && strstr(msg, "--uid-base"), "%s", msg);
    cr_expect(sbx_subid_clash(path, 99990, 100001, msg, sizeof msg), "one uid in common is a clash");
    cr_expect(!sbx_subid_clash(path, 99990, 100000, msg, sizeof msg), "[99990, 100000) ends before alice's");
    cr_expect(sbx_subid_clash(path, 231071, 231080, msg, sizeof msg) && strstr(msg, "bob"), "bob's last uid");
    cr_expect(!sbx_subid_clash(path, 231072, 231080, msg, sizeof msg), "after bob's range");
    /* The pool refuses such a range: the file is bound over /etc/subuid in a mount namespace of this test's own. */
    if (geteuid() == 0) {
        cr_assert(!unshare(CLONE_NEWNS) && !mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) &&
                      !mount(path, "/etc/subuid", NULL, MS_BIND, NULL),
                  "binding a file over /etc/subuid in a mount namespace of our own: %s", strerror(errno));
        sbx_config cfg;
        th_config(&cfg, 1);
        cfg.uid_base = 165000;
        sbx_pool *pool;
        rt_error err;
        cr_expect_eq(sbx_pool_init(&pool, &cfg, &err), RT_EUNSUPPORTED, "an overlapping uid_base is refused");
        cr_expect(strstr(err.msg, "/etc/subuid line 2 (alice: 100000-165535)") && strstr(err.msg, "165000-165001"),
                  "%s", err.msg);
    }
    unlink(path);
    cr_expect(!sbx_subid_clash("/nonexistent/subuid", 0, 1u << 31, msg, sizeof msg), "no file, no clash");
}

/* Runs a shell command, returns its exit status and its output (stdout and stderr) in out. */
static int sh(const char *cmd, char *out, size_t n) {
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t k = fread(out, 1, n - 1, p);
    out[k] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The checks an ordinary user's sandbox must still pass (each prints a word; a failure names itself). */
static const char nonroot_probe[] =
    "import os, socket, ctypes\n"
    "st = open('/proc/self/status').read()\n"
    "def f(x): return st.split(x + ':')[1].split()[0]\n"
    "print('uid', os.getuid(), 'eff', f('CapEff'), 'bnd', f('CapBnd'), 'nnp', f('NoNewPrivs'), 'sec', f('Seccomp'))\n"
    "def refused(fn):\n"
    "    try: fn(); return 'ALLOWED'\n"
    "    except OSError: return 'refused'\n"
    "print('usr', refused(lambda: open('/usr/x', 'w')))\n"
    "print('net', refused(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)))\n"
    "def put(path, text):\n"
    "    fd = os.open(path, os.O_WRONLY)\n"
    "    try: os.write(fd, text)\n"
    "    finally: os.close(fd)\n"
    "print('uidmap', refused(lambda: put('/proc/self/uid_map', b'0 0 1')))\n"
    "print('sysctl', refused(lambda: put('/proc/sys/kernel/hostname', b'x')))\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "print('unshare', 'refused' if libc.unshare(0x10000000) else 'ALLOWED')\n"
    "print('mount', 'refused' if libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) else 'ALLOWED')\n"
    "print('setuid', refused(lambda: os.setuid(1000)))\n"
    "print('home', os.path.exists('/home') or os.path.exists('/root'))\n"
    "open('out.txt', 'w').write('ok')\n"
    "print('work', open('out.txt').read())\n";

Test(host, ordinary_user, .timeout = 120) {
    const char *bin = getenv("RETOOL_BIN");
    if (!bin) cr_skip("RETOOL_BIN is not set (the test runs the CLI as another user)");
    if (geteuid() != 0) cr_skip("not root: cannot switch to a throwaway user (uid 65534) to run the server");
    char out[8192];
    if (sh("command -v setpriv >/dev/null 2>&1", out, sizeof out))
        cr_skip("setpriv (util-linux) is missing: cannot run the server as an ordinary user");
    const char *as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s unshare -U -r -m -p -f --mount-proc true 2>&1", as_nobody);
    if (sh(cmd, out, sizeof out))
        cr_skip("this host does not let an ordinary user (uid 65534) create user, mount and pid namespaces: %s", out);
    char dir[] = "/tmp/retool-nonroot-XXXXXX";
    cr_assert(mkdtemp(dir));
    chmod(dir, 0755);
    char prog[300];
    snprintf(prog, sizeof prog, "%s/probe.py", dir);
    put(dir, "probe.py", nonroot_probe);
    chmod(prog, 0644);
    /* Without the flag: refused, naming what is missing and the flag. */
    snprintf(cmd, sizeof cmd, "%s %s sandbox run %s 2>&1", as_nobody, bin, prog);
    int rc = sh(cmd, out, sizeof out);
    cr_expect_neq(rc, 0, "an ordinary user's server must not start silently weaker: %s", out);
    cr_expect(strstr(out, "uid-separation") && strstr(out, "--allow-weaker-isolation"), "%s", out);
    /* With it: every other protection holds. */
    snprintf(cmd, sizeof cmd,
             "%s %s sandbox run --allow-weaker-isolation uid-separation,cgroup-memory,cgroup-pids %s 2>/dev/null",
             as_nobody, bin, prog);
    rc = sh(cmd, out, sizeof out);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "uid 0 eff 0000000000000000 bnd 0000000000000000 nnp 1 sec 2\n"), "%s", out);
    const char *refused[] = {"usr", "net", "uidmap", "sysctl", "unshare", "mount", "setuid"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char want[64];
        snprintf(want, sizeof want, "\n%s refused\n", refused[i]);
        cr_expect(strstr(out, want), "%s must be refused to an ordinary user's sandbox: %s", refused[i], out);
    }
    cr_expect(strstr(out, "home False\nwork ok\n"), "%s", out);
    /* The doctor says what is missing and how the server treats it. */
    snprintf(cmd, sizeof cmd, "%s %s sandbox doctor 2>/dev/null", as_nobody, bin);
    rc = sh(cmd, out, sizeof out);
    cr_expect_eq(rc, 1, "the doctor exits 1 when a protection is missing: %s", out);
    cr_expect(strstr(out, "MISSING  uid-separation:") && strstr(out, "--allow-weaker-isolation uid-separation"), "%s",
              out);
    cr_expect(strstr(out, "active   capabilities dropped") && strstr(out, "active   mount namespace"), "%s", out);
    rm_tree(dir);
}

/* Runs code (with files, when helper is not NULL: helper.py) at a memory limit of limit_mb; returns the result. */
static sbx_result run_mem(sbx_pool *pool, const char *code, const char *helper, int64_t limit_mb) {
    sbx_file f = {.name = "helper.py", .data = (unsigned char *)helper, .len = helper ? strlen(helper) : 0};
    sbx_request req = {.code = code, .code_len = strlen(code), .files = helper ? &f : NULL, .nfiles = helper ? 1 : 0};
    req.limits.wall_s = 30;
    req.limits.memory_mb = limit_mb;
    sbx_result r;
    rt_error err;
    cr_assert_eq(sbx_pool_run(pool, &req, &r, &err), RT_OK, "%s", err.msg);
    return r;
}

Test(host, memory_limit_same_on_both_tiers, .timeout = 120) {
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.light_workers = 1;
    sbx_pool *pool;
    rt_error err;
    cr_assert_eq(sbx_pool_init(&pool, &cfg, &err), RT_OK, "%s", err.msg);
    const int64_t limit = 256;
    /* Three ways in: a plain program (light tier), one the router sends to the full tier (it names numpy in a
     * comment), and one that reaches numpy and sympy through a module of its own, which the router cannot see. Each
     * says whether numpy was already loaded when it started (preloaded only on the full tier). */
    const char *helper = "import numpy, sympy\n";
    const char *ways[3] = {"import sys\npre = 'num' 'py' in sys.modules\n",
                           "# numpy\nimport sys\npre = 'num' 'py' in sys.modules\n",
                           "import sys\npre = 'num' 'py' in sys.modules\nsys.path.insert(0, '.')\nimport helper\n"};
    const char *pre_want[3] = {"False", "True", "True"};
    const char *name[3] = {"light tier", "full tier", "light-routed program reaching numpy and sympy"};
    for (int w = 0; w < 3; w++) {
        /* limit - 16 MiB fits on every tier; limit + 100 MiB does not (the baseline adds 64 MiB of headroom). */
        int64_t sizes[2] = {limit - 16, limit + 100};
        for (int k = 0; k < 2; k++) {
            char code[512];
            snprintf(code, sizeof code, "%sb = bytearray(%lld << 20)\nprint(pre, len(b) >> 20)\n", ways[w],
                     (long long)sizes[k]);
            sbx_result r = run_mem(pool, code, w == 2 ? helper : NULL, limit);
            if (k == 0) {
                char want[64];
                snprintf(want, sizeof want, "%s %lld\n", pre_want[w], (long long)sizes[k]);
                cr_expect_eq(r.status, SBX_OK, "%s: %lld MiB under a %lld MiB limit must fit: %s %s", name[w],
                             (long long)sizes[k], (long long)limit, sbx_status_name(r.status), r.err);
                cr_expect_str_eq(r.out, want, "%s: %s", name[w], r.out);
            } else {
                cr_expect_eq(r.status, SBX_MEMORY, "%s: %lld MiB over a %lld MiB limit must not fit: %s %s", name[w],
                             (long long)sizes[k], (long long)limit, sbx_status_name(r.status), r.out);
            }
            sbx_result_free(&r);
        }
    }
    /* Output before the import is the full tier's run's alone (the light attempt's is dropped). */
    sbx_result r = run_mem(pool, "import sys\nprint('start')\nsys.path.insert(0, '.')\nimport helper\nprint('end')\n",
                           helper, limit);
    cr_expect_str_eq(r.out, "start\nend\n");
    sbx_result_free(&r);
    /* The cgroup namespace: the host's cgroup paths (which name the server's pid) do not show. */
    r = th_run(pool, "print(sorted({l.rsplit(':', 1)[1] for l in open('/proc/self/cgroup').read().split()}))", 10);
    cr_expect_str_eq(r.out, "['/']\n", "/proc/self/cgroup inside the sandbox: %s", r.out);
    sbx_result_free(&r);
    sbx_pool_free(pool);
}

Test(host, ordinary_user_in_a_delegated_cgroup2, .timeout = 120) {
    /* An ordinary user's server in a cgroup2 folder delegated to it (owned by it, as systemd's Delegate=yes does):
     * it finds that folder as its own, makes its workers' accounting cgroups there, and a run's cpu_s counts a
     * grandchild it never waited for; nothing is left in the folder afterwards. */
    const char *bin = getenv("RETOOL_BIN");
    if (!bin) cr_skip("RETOOL_BIN is not set (the test runs the CLI as another user)");
    if (geteuid() != 0) cr_skip("not root: cannot delegate a cgroup to a throwaway user (uid 65534)");
    char dir[1024], d[1200], out[8192], cmd[4096];
    if (!th_cgroup2_dir(dir, sizeof dir)) cr_skip("no cgroup2 file system is mounted on this host");
    if (sh("setpriv --reuid=65534 --regid=65534 --clear-groups unshare -U -r -m -p -f --mount-proc true 2>&1", out,
           sizeof out))
        cr_skip("this host does not let uid 65534 create user, mount and pid namespaces: %s", out);
    snprintf(d, sizeof d, "%s/retool-sbx-%d-deleg", dir, (int)getpid());
    cr_assert_eq(mkdir(d, 0755), 0, "%s: %s", d, strerror(errno));
    const char *owned[] = {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) {
        char p[1300];
        snprintf(p, sizeof p, "%s%s", d, owned[i]);
        cr_assert_eq(chown(p, 65534, 65534), 0, "%s: %s", p, strerror(errno));
    }
    char prog[] = "/tmp/retool-deleg-XXXXXX";
    int fd = mkstemp(prog);
    cr_assert(fd >= 0);
    const char *code = "import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n    if os.fork() == 0:\n"
                       "        t = time.process_time()\n        while time.process_time() - t < 0.4: pass\n"
                       "        os.write(w, b'%.3f' % time.process_time())\n        os._exit(0)\n    os._exit(0)\n"
                       "os.wait()\nprint('burned', os.read(r, 64).decode())\n";
    cr_assert_eq(write(fd, code, strlen(code)), (ssize_t)strlen(code));
    close(fd);
    chmod(prog, 0644);
    snprintf(cmd, sizeof cmd,
             "sh -c 'echo $$ > %s/cgroup.procs && exec setpriv --reuid=65534 --regid=65534 --clear-groups %s sandbox "
             "run --allow-weaker-isolation uid-separation,cgroup-memory,cgroup-pids %s' 2>&1",
             d, bin, prog);
    int rc = sh(cmd, out, sizeof out);
    unlink(prog);
    cr_expect_eq(rc, 0, "%s", out);
    const char *b = strstr(out, "burned "), *c = strstr(out, " cpu=");
    cr_assert(b && c, "%s", out);
    double burned = atof(b + 7), cpu = atof(c + 5);
    cr_expect_geq(burned, 0.39, "%s", out);
    cr_expect_geq(cpu, burned, "cpu_s counts the grandchild's %.3f s: %s", burned, out);
    cr_expect_eq(rmdir(d), 0, "no folder or process is left in the delegated folder %s: %s", d, strerror(errno));
}

Test(host, ordinary_user_with_subuid, .timeout = 120) {
    const char *bin = getenv("RETOOL_BIN");
    if (!bin) cr_skip("RETOOL_BIN is not set (the test runs the CLI as another user)");
    if (geteuid() != 0) cr_skip("not root: cannot switch to a throwaway user (uid 65534) to run the server");
    char out[8192], cmd[4096];
    if (access("/usr/bin/newuidmap", X_OK) || access("/usr/bin/newgidmap", X_OK) ||
        sh("command -v setpriv >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1", out, sizeof out))
        cr_skip("newuidmap/newgidmap (Debian: uidmap) or setpriv/unshare (util-linux) are missing");
    snprintf(cmd, sizeof cmd, "setpriv --reuid=65534 --regid=65534 --clear-groups unshare -U -r true 2>&1");
    if (sh(cmd, out, sizeof out))
        cr_skip("this host does not let an ordinary user (uid 65534) create user namespaces: %s", out);
    char dir[] = "/tmp/retool-subuid-XXXXXX";
    cr_assert(mkdtemp(dir));
    chmod(dir, 0755);
    /* A range for uid 65534, seen only inside a private mount namespace (the host's files stay as they are). */
    put(dir, "subuid", "65534:2000000000:65536\n");
    put(dir, "subgid", "65534:2000000000:65536\n");
    put(dir, "probe.py",
        "import os\nprint(os.getuid(), open('/proc/self/uid_map').read().split(), "
        "open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n");
    snprintf(cmd, sizeof cmd, "chmod 644 %s/*", dir);
    cr_assert_eq(sh(cmd, out, sizeof out), 0);
    const char *fmt = "unshare -m sh -c 'mount --bind %s/subuid /etc/subuid && mount --bind %s/subgid /etc/subgid && "
                      "setpriv --reuid=65534 --regid=65534 --clear-groups %s sandbox run %s %s/probe.py' 2>&1";
    snprintf(cmd, sizeof cmd, fmt, dir, dir, bin, "", dir);
    int rc = sh(cmd, out, sizeof out);
    cr_expect_neq(rc, 0, "%s", out);
    cr_expect(strstr(out, "cgroup-memory") && !strstr(out, "uid-separation"),
              "with a subordinate range only the cgroups are missing: %s", out);
    snprintf(cmd, sizeof cmd, fmt, dir, dir, bin, "--allow-weaker-isolation cgroup-memory,cgroup-pids", dir);
    rc = sh(cmd, out, sizeof out);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "1000 ['0', '65534', '1', '1000', '2000000000', '1'] 0000000000000000\n"),
              "the code runs as uid 1000, the first uid of the range, without capabilities: %s", out);
    rm_tree(dir);
}
