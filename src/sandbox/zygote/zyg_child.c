/* A child's life on the C side: the fork (in a pid namespace of its own, so that it is pid 1 and its whole tree
 * dies with it), its setup before the job (private mount and ipc namespaces, tmpfs /tmp, /work and /dev/shm, a
 * fresh /proc), the job's application (rlimits, uid 1000, files, stdin, descriptors, seccomp), then the kill and the
 * reap on the worker's side. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"
#include "sandbox/zygote/zyg.h"

static void fail(int sw, const char *what, const char *detail, int e) {
    char b[600];
    int n = snprintf(b, sizeof b, "S%s%s%s%s%s\n", what, detail ? " " : "", detail ? detail : "", e ? ": " : "",
                     e ? strerror(e) : "");
    if (n > (int)sizeof b - 1) n = (int)sizeof b - 1;
    ssize_t ignored = write(sw, b, (size_t)n);
    (void)ignored;
    _exit(125);
}

/* Closes every descriptor from 3 up except those in keep (ascending, all >= 3). */
static void close_except(const int *keep, int n) {
    unsigned lo = 3;
    for (int i = 0; i < n; i++) {
        if ((unsigned)keep[i] > lo) syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
        lo = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0u, 0);
}

static void sort_fds(int *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static void set_limit(int sw, int res, rlim_t soft, rlim_t hard) {
    struct rlimit r = {soft, hard};
    if (setrlimit(res, &r)) fail(sw, "setrlimit", NULL, errno);
}

static void apply_limits(int sw, const cJSON *lim, long long base_vm) {
    double mb = zyg_num(lim, "mem_mb", 1024);
    if (mb > 0)
        set_limit(sw, RLIMIT_AS, (rlim_t)(base_vm + (long long)mb * 1048576),
                  (rlim_t)(base_vm + (long long)mb * 1048576));
    double c = zyg_num(lim, "cpu", 10);
    rlim_t cpu = c < 1 ? 1 : (rlim_t)(c + 0.999);
    set_limit(sw, RLIMIT_CPU, cpu, cpu + 1);
    rlim_t fsize = (rlim_t)zyg_num(lim, "fsize", 16 << 20);
    set_limit(sw, RLIMIT_FSIZE, fsize, fsize);
    set_limit(sw, RLIMIT_NOFILE, 64, 64);
    rlim_t nproc = (rlim_t)zyg_num(lim, "nproc", 64);
    set_limit(sw, RLIMIT_NPROC, nproc, nproc);
    set_limit(sw, RLIMIT_CORE, 0, 0);
    set_limit(sw, RLIMIT_MEMLOCK, 0, 0);
    set_limit(sw, RLIMIT_MSGQUEUE, 0, 0);
}

/* Only one uid is mapped (no root on the host, no subordinate range): the code stays uid 0 of the worker's user
 * namespace, so every capability goes, for good: the bounding set, and securebits so that no execve (of anything,
 * setuid or not) gives any back. */
static void drop_all_caps(int sw) {
    for (int c = 0; c <= 63; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL) fail(sw, "PR_CAPBSET_DROP", NULL, errno);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
        fail(sw, "PR_CAP_AMBIENT", NULL, errno);
    /* SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP, SECBIT_KEEP_CAPS off, SECBIT_NO_CAP_AMBIENT_RAISE, each locked */
    if (prctl(PR_SET_SECUREBITS, 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80, 0, 0, 0))
        fail(sw, "PR_SET_SECUREBITS", NULL, errno);
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0}; /* _LINUX_CAPABILITY_VERSION_3 */
    uint32_t data[6] = {0};
    if (syscall(SYS_capset, &hdr, data)) fail(sw, "capset", NULL, errno);
}

static void write_one(int sw, const char *name, const char *b64) {
    if (!sbx_name_ok(name)) fail(sw, "file name", name, 0);
    unsigned char *data;
    size_t len;
    if (sbx_b64_decode(b64, strlen(b64), &data, &len)) fail(sw, "file content (base64)", name, 0);
    int w = open("/work", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w < 0) fail(sw, "open", "/work", errno);
    const char *leaf;
    int d = zyg_open_parent(w, name, 1, &leaf);
    if (d < 0) fail(sw, "directory of", name, errno);
    close(w);
    int fd = openat(d, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) fail(sw, "create", name, errno);
    if (len && zyg_write_all(fd, data, len)) fail(sw, "write", name, errno);
    close(fd);
    close(d);
    free(data);
}

static void set_stdin(int sw, const char *b64) {
    int fd;
    if (b64 && b64[0]) {
        unsigned char *data;
        size_t len;
        if (sbx_b64_decode(b64, strlen(b64), &data, &len)) fail(sw, "stdin (base64)", NULL, 0);
        fd = (int)syscall(SYS_memfd_create, "stdin", 0u);
        if (fd < 0) fail(sw, "memfd_create", NULL, errno);
        if (len && zyg_write_all(fd, data, len)) fail(sw, "write stdin", NULL, errno);
        lseek(fd, 0, SEEK_SET);
        free(data);
    } else {
        fd = open("/dev/null", O_RDONLY);
        if (fd < 0) fail(sw, "open", "/dev/null", errno);
    }
    if (dup2(fd, 0) != 0) fail(sw, "dup2", "stdin", errno);
    if (fd != 0) close(fd);
}

void zyg_child_setup(const zyg_cfg *cfg, int kind, int jr, int sw, int ow, int ew) {
    if (setsid() < 0) fail(sw, "setsid", NULL, errno); /* kill(0, ...) reaches nothing outside this run */
    signal(SIGTERM, SIG_DFL);
    /* (The worker is already in a cgroup namespace rooted at its own cgroup: /proc/self/cgroup shows "/".) */
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC | (kind == ZYG_SESSION ? CLONE_NEWNET : 0)))
        fail(sw, "unshare", NULL, errno);
    static const char *const dirs[] = {"/tmp", "/work", "/dev/shm"};
    static const char *const modes[] = {"1777", "0755", "1777"};
    for (int i = 0; i < 3; i++) {
        char opts[96];
        snprintf(opts, sizeof opts, "size=%ldm,mode=%s,nr_inodes=4096", cfg->tmpfs_mb, modes[i]);
        if (mount("tmpfs", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV, opts)) fail(sw, "mount tmpfs", dirs[i], errno);
    }
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) fail(sw, "mount", "/proc", errno);
    if (cfg->run_uid && chown("/work", 1000, 1000)) fail(sw, "chown", "/work", errno);
    /* A session's processes must not eat the process count that every run of this worker shares (uid 1000's, under
     * RLIMIT_NPROC): in a user namespace of its own, the session's uid 1000 is counted apart, and the namespace itself
     * against the worker's root. The worker writes its uid and gid maps on "M", before the job (and the uid switch). */
    if (kind == ZYG_SESSION && unshare(CLONE_NEWUSER)) fail(sw, "unshare", "user namespace", errno);
    if (zyg_write_all(sw, "M\n", 2)) _exit(125);
    unsigned char *frame;
    size_t flen;
    if (zyg_read_frame(jr, &frame, &flen)) _exit(0); /* the worker went away or closed the job unsent */
    unsigned char *nl = memchr(frame, '\n', flen);
    if (!nl) fail(sw, "malformed job frame", NULL, 0);
    cJSON *job = cJSON_ParseWithLength((const char *)frame, (size_t)(nl - frame));
    if (!job) fail(sw, "malformed job header", NULL, 0);
    apply_limits(sw, cJSON_GetObjectItemCaseSensitive(job, "limits"), cfg->base_vm);
    if (cfg->run_uid) {
        if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
            fail(sw, "drop privileges", NULL, errno);
    } else {
        drop_all_caps(sw);
    }
    if (chdir("/work")) fail(sw, "chdir", "/work", errno);
    const cJSON *f, *files = cJSON_GetObjectItemCaseSensitive(job, "files");
    cJSON_ArrayForEach(f, files) {
        if (!f->string || !cJSON_IsString(f)) fail(sw, "files: not a name -> base64 map", NULL, 0);
        write_one(sw, f->string, f->valuestring);
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(job, "stdin");
    set_stdin(sw, cJSON_IsString(in) ? in->valuestring : NULL);
    if (dup2(ow, 1) != 1 || dup2(ew, 2) != 2) fail(sw, "dup2", "stdout/stderr", errno);
    int keep[2] = {sw, kind == ZYG_SESSION ? jr : sw};
    sort_fds(keep, 2);
    close_except(keep, keep[0] == keep[1] ? 1 : 2);
    struct sock_fprog prog = {(unsigned short)(cfg->bpf_len / sizeof(struct sock_filter)),
                              (struct sock_filter *)cfg->bpf};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) fail(sw, "seccomp", NULL, errno);
    /* Handed over through memory Python owns: reading it costs the child no foreign-function call. */
    size_t code_len = flen - (size_t)(nl + 1 - frame);
    cfg->out[0] = kind;
    cfg->out[1] = sw;
    cfg->out[2] = kind == ZYG_SESSION ? jr : -1;
    cfg->out[3] = (int64_t)(uintptr_t)(nl + 1);
    cfg->out[4] = (int64_t)code_len;
    if (code_len <= cfg->code_cap) memcpy(cfg->code_buf, nl + 1, code_len);
    cJSON_Delete(job);
}

/* Maps root and uid/gid 1000 of a session child's own user namespace onto the worker's (the same ids); root only
 * where the worker's namespace maps just one id (run_uid 0). */
static int map_ids(pid_t pid, int run_uid, char *msg, size_t msg_len) {
    static const char *const files[] = {"uid_map", "gid_map"};
    const char *map = run_uid ? "0 0 1\n1000 1000 1\n" : "0 0 1\n";
    size_t len = strlen(map);
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        int bad = fd < 0 || write(fd, map, len) != (ssize_t)len;
        int e = errno;
        if (fd >= 0) close(fd);
        if (bad) {
            snprintf(msg, msg_len, "child setup failed: writing %s: %s", path, strerror(e));
            return -1;
        }
    }
    return 0;
}

int zyg_child_new(const zyg_cfg *cfg, zyg_child *c, int kind, char *msg, size_t msg_len) {
    memset(c, 0, sizeof *c);
    c->jw = c->sr = c->outr = c->errr = c->workfd = c->acct_fd = -1;
    int p[4][2];
    for (int i = 0; i < 4; i++)
        if (pipe2(p[i], O_CLOEXEC)) {
            snprintf(msg, msg_len, "pipe: %s", strerror(errno));
            for (int k = 0; k < i; k++)
                close(p[k][0]), close(p[k][1]);
            return -1;
        }
    /* p[0]: job (child reads), p[1]: status, p[2]: stdout, p[3]: stderr (child writes) */
    if (setns(cfg->self_pidns, CLONE_NEWPID) || unshare(CLONE_NEWPID)) {
        snprintf(msg, msg_len, "pid namespace for a child: %s", strerror(errno));
        for (int k = 0; k < 4; k++)
            close(p[k][0]), close(p[k][1]);
        return -1;
    }
    PyOS_BeforeFork();
    pid_t pid = fork();
    if (pid == 0) {
        zyg_arena_leave(); /* not inherited: the child allocates with malloc */
        PyOS_AfterFork_Child();
        int jr = p[0][0], sw = p[1][1], ow = p[2][1], ew = p[3][1];
        if (kind == ZYG_RUN && cfg->acct) {
            /* Into the run cgroup ("0": this process), which every process of the run then inherits: its CPU is
             * counted there whatever becomes of them; then a cgroup namespace rooted there ("/" inside). */
            if (write(6, "0", 1) != 1) fail(sw, "join the run cgroup", NULL, errno);
            if (unshare(CLONE_NEWCGROUP)) fail(sw, "unshare", "cgroup namespace", errno);
        }
        int keep[4] = {jr, sw, ow, ew};
        sort_fds(keep, 4);
        close_except(keep, 4); /* the control socket, other children's pipes, the namespace fd */
        zyg_child_setup(cfg, kind, jr, sw, ow, ew);
        return 1;
    }
    int e = errno;
    PyOS_AfterFork_Parent();
    close(p[0][0]);
    close(p[1][1]);
    close(p[2][1]);
    close(p[3][1]);
    if (pid < 0) {
        snprintf(msg, msg_len, "fork: %s", strerror(e));
        close(p[0][1]), close(p[1][0]), close(p[2][0]), close(p[3][0]);
        return -1;
    }
    c->kind = kind;
    c->pid = pid;
    c->acct_fd = kind == ZYG_RUN && cfg->acct ? 7 : -1;
    c->alive = 1;
    c->jw = p[0][1];
    c->jr_child = p[0][0];
    c->sr = p[1][0];
    c->outr = p[2][0];
    c->errr = p[3][0];
    /* Wait for the child's "M" (set up, waiting for its job), 10 s at most. */
    char line[600];
    size_t n = 0;
    for (;;) {
        struct pollfd pf = {c->sr, POLLIN, 0};
        int r = poll(&pf, 1, 10000);
        if (r <= 0) {
            snprintf(msg, msg_len, "child setup failed: timeout waiting for the child");
            break;
        }
        ssize_t k = read(c->sr, line + n, sizeof line - 1 - n);
        if (k <= 0) {
            line[n] = 0;
            snprintf(msg, msg_len, "child setup failed: %s",
                     n && line[0] == 'S' ? line + 1 : "child exited during setup");
            break;
        }
        n += (size_t)k;
        line[n] = 0;
        char *eol = memchr(line, '\n', n);
        if (!eol) {
            if (n >= sizeof line - 1) {
                snprintf(msg, msg_len, "child setup failed: malformed status");
                break;
            }
            continue;
        }
        *eol = 0;
        if (strcmp(line, "M")) {
            snprintf(msg, msg_len, "child setup failed: %s", line[0] == 'S' ? line + 1 : line);
            break;
        }
        size_t rest = n - (size_t)(eol + 1 - line);
        if (rest) { /* nothing should follow M before the job; keep it for the run's status parsing */
            c->status = malloc(rest);
            if (c->status) memcpy(c->status, eol + 1, rest), c->slen = c->scap = rest;
        }
        if (kind == ZYG_SESSION && map_ids(pid, cfg->run_uid, msg, msg_len)) break;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/root/work", (int)pid);
        c->workfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->workfd < 0) {
            snprintf(msg, msg_len, "open %s: %s", path, strerror(errno));
            break;
        }
        return 0;
    }
    zyg_child_kill(c);
    zyg_child_reap(c, NULL, NULL);
    return -1;
}

void zyg_child_kill(zyg_child *c) {
    if (c->alive) kill(c->pid, SIGKILL);
}

int zyg_child_reap(zyg_child *c, int *status, struct rusage *ru) {
    int rc = -1;
    if (c->alive) {
        int st = 0;
        struct rusage r;
        while (wait4(c->pid, &st, 0, &r) < 0 && errno == EINTR) {
        }
        if (status) *status = st;
        if (ru) *ru = r;
        c->alive = 0;
        rc = 0;
    }
    zyg_child_close(c);
    return rc;
}

void zyg_child_close(zyg_child *c) {
    int *fds[] = {&c->jw, &c->sr, &c->outr, &c->errr, &c->workfd};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    free(c->status);
    c->status = NULL;
    c->slen = c->scap = 0;
}
