/* Per-run cost of the run cgroup (docs/SANDBOX.md, "Hosts"): what a freshly forked child pays to join a worker's run
 * cgroup (writing "0" to its cgroup.procs through a descriptor opened beforehand) and to take a cgroup namespace
 * rooted there, and what the worker pays to read the run cgroup's CPU usage (twice per run), on this kernel. The
 * baseline, measured in the same run and alternated with it, is the same child doing neither (the clock's cost).
 *   build/bench/sandbox_cgroup_cost [--n 400] [--parent DIR]
 * DIR: the folder to make retool-bench-PID/run under (a cgroup2 folder, or one of a v1 cpuacct hierarchy; default:
 * the folder the pool would use for CPU accounting). Needs root (or a delegated cgroup); says so and exits 0 when it
 * cannot make the folders. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[(int)(p * (n - 1) + 0.5)];
}

/* One child: the microseconds it spent joining the run cgroup and unsharing a cgroup namespace (join = 0: nothing,
 * the baseline); -1 on failure. */
static double one_child(int procs_fd, int join) {
    int p[2];
    if (pipe(p)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        double t0 = now_us();
        int ok = !join || (write(procs_fd, "0", 1) == 1 && unshare(CLONE_NEWCGROUP) == 0);
        double dt = ok ? now_us() - t0 : -1;
        _exit(write(p[1], &dt, sizeof dt) == sizeof dt ? 0 : 1);
    }
    close(p[1]);
    double dt = -1;
    if (pid < 0 || read(p[0], &dt, sizeof dt) != sizeof dt) dt = -1;
    close(p[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return dt;
}

int main(int argc, char **argv) {
    int n = 400;
    const char *parent = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--parent")) parent = argv[i + 1];
    }
    if (n < 10) n = 10;
    sbx_cgroup_host h;
    sbx_cgroup_host_acquire(&h, NULL);
    if (!parent && !h.cpu) {
        printf("sandbox_cgroup_cost: no cgroup for CPU accounting on this host (%s): nothing to measure\n", h.why_cpu);
        return 0;
    }
    if (!parent) parent = h.cpu_parent;
    char w[700], run[720], procs[760], usage[760];
    snprintf(w, sizeof w, "%s/retool-bench-%d", parent, (int)getpid());
    snprintf(run, sizeof run, "%s/run", w);
    if ((mkdir(w, 0755) && errno != EEXIST) || (mkdir(run, 0755) && errno != EEXIST)) {
        printf("sandbox_cgroup_cost: cannot make %s (%s): nothing to measure\n", run, strerror(errno));
        rmdir(w);
        return 0;
    }
    char events[760];
    snprintf(events, sizeof events, "%s/cgroup.events", run);
    int v2 = access(events, F_OK) == 0;
    snprintf(procs, sizeof procs, "%s/cgroup.procs", run);
    snprintf(usage, sizeof usage, "%s/%s", run, v2 ? "cpu.stat" : "cpuacct.usage");
    int pfd = open(procs, O_WRONLY | O_CLOEXEC), ufd = open(usage, O_RDONLY | O_CLOEXEC);
    double *with = calloc((size_t)n, sizeof *with), *without = calloc((size_t)n, sizeof *without),
           *rd = calloc((size_t)n, sizeof *rd);
    int bad = pfd < 0 || ufd < 0 || !with || !without || !rd;
    for (int i = 0; !bad && i < n; i++) {
        without[i] = one_child(pfd, 0);
        with[i] = one_child(pfd, 1);
        char text[512];
        double t0 = now_us();
        bad |= pread(ufd, text, sizeof text, 0) <= 0;
        rd[i] = now_us() - t0;
        bad |= with[i] < 0 || without[i] < 0;
    }
    if (bad) {
        fprintf(stderr, "sandbox_cgroup_cost: a measurement failed in %s: %s\n", run, strerror(errno));
    } else {
        printf("sandbox_cgroup_cost: %s run cgroup %s, %d children each way, alternating\n",
               v2 ? "cgroup v2" : "cgroup v1", run, n);
        printf("child joins the run cgroup + unshare(CLONE_NEWCGROUP): p50 %.1f us  p90 %.1f us\n", pct(with, n, 0.5),
               pct(with, n, 0.9));
        printf("baseline (the same child, neither call):           p50 %.1f us  p90 %.1f us\n", pct(without, n, 0.5),
               pct(without, n, 0.9));
        printf("worker reads %s (twice per run):          p50 %.1f us  p90 %.1f us\n",
               v2 ? "cpu.stat" : "cpuacct.usage", pct(rd, n, 0.5), pct(rd, n, 0.9));
    }
    if (pfd >= 0) close(pfd);
    if (ufd >= 0) close(ufd);
    free(with);
    free(without);
    free(rd);
    rmdir(run);
    rmdir(w);
    sbx_cgroup_host_release(&h);
    return bad;
}
