/* Worker launch: clone into new user, pid, mount, net, ipc and uts namespaces; map its uids (root: a pair of host
 * uids of its own; an ordinary user: its own uid, plus one of its /etc/subuid range through newuidmap where it has
 * one); join its cgroup, then a cgroup namespace; build a read-only root holding only /usr (and its /bin, /lib*
 * links), a minimal /etc and /dev, a fresh /proc and empty mount points for each run's tmpfs; pivot into it; rlimits,
 * PR_SET_NO_NEW_PRIVS and the worker seccomp filter; exec /usr/bin/python3. Everything after clone is a raw system
 * call: the supervisor is multithreaded, so the child may not allocate. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"

#define NEWROOT "/tmp"
#define SBX_NEWUIDMAP "/usr/bin/newuidmap"
#define SBX_NEWGIDMAP "/usr/bin/newgidmap"

static const char *const bind_paths[] = {
    "/usr",
    "/bin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/python3",
    "/etc/python3.11",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
};

static unsigned long statvfs_to_mount_flags(unsigned long f) {
    unsigned long m = 0;
    if (f & ST_NOSUID) m |= MS_NOSUID;
    if (f & ST_NODEV) m |= MS_NODEV;
    if (f & ST_NOEXEC) m |= MS_NOEXEC;
    if (f & ST_NOATIME) m |= MS_NOATIME;
    if (f & ST_NODIRATIME) m |= MS_NODIRATIME;
    if (f & ST_RELATIME) m |= MS_RELATIME;
    return m;
}

rt_status sbx_launch_prepare(sbx_launch *l, const sbx_config *cfg, rt_error *err) {
    memset(l, 0, sizeof *l);
    l->zygote_fd = -1;
    snprintf(l->python, sizeof l->python, "%s", cfg->python);
    if (access(l->python, X_OK)) return rt_err_errno(err, RT_ENOTFOUND, errno, "sandbox interpreter %s", l->python);
    l->uid_base = cfg->uid_base;
    l->own_uid = (uint32_t)getuid();
    l->own_gid = (uint32_t)getgid();
    /* Root maps each worker a pair of host uids of its own; an ordinary user its own uid plus, through newuidmap,
     * one of its subordinate uids per worker (SUBUID), or its own uid only (SELF). */
    uint32_t nw = (uint32_t)(cfg->workers + (cfg->light_workers > 0 ? cfg->light_workers : 0));
    l->uid_mode = geteuid() == 0 ? SBX_UIDS_RANGE : SBX_UIDS_SELF;
    struct passwd pw, *pwp = NULL;
    char pwbuf[4096];
    if (l->uid_mode == SBX_UIDS_SELF && !getpwuid_r(l->own_uid, &pw, pwbuf, sizeof pwbuf, &pwp) && pwp &&
        !access(SBX_NEWUIDMAP, X_OK) && !access(SBX_NEWGIDMAP, X_OK) &&
        !sbx_subid_find("/etc/subuid", pw.pw_name, l->own_uid, nw, &l->sub_uid) &&
        !sbx_subid_find("/etc/subgid", pw.pw_name, l->own_uid, nw, &l->sub_gid))
        l->uid_mode = SBX_UIDS_SUBUID;
    if (l->uid_mode == SBX_UIDS_RANGE) {
        uint32_t hi = cfg->uid_base + 2u * nw;
        char msg[512];
        if (sbx_subid_clash("/etc/subuid", cfg->uid_base, hi, msg, sizeof msg) ||
            sbx_subid_clash("/etc/subgid", cfg->uid_base, hi, msg, sizeof msg))
            return rt_err_set(err, RT_EUNSUPPORTED, "sandbox: %s", msg);
    }
    l->argv[0] = "python3";
    l->argv[1] = "-I";
    l->argv[2] = "-c";
    l->argv[3] = (char *)sbx_worker_stub;
    l->argv[4] = NULL;
    /* The worker's environment is also every run's: children do not change it. */
    static const char *const fixed_env[] = {
        "PATH=/usr/bin:/bin",     "HOME=/work",        "LANG=C.UTF-8",      "TMPDIR=/tmp",
        "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1", "MPLBACKEND=Agg"};
    static const char *const pass_env[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"};
    size_t nfixed = sizeof fixed_env / sizeof *fixed_env, n = 0;
    l->envp = calloc(nfixed + 3, sizeof *l->envp);
    if (!l->envp) return rt_err_set(err, RT_ENOMEM, "sandbox environment");
    for (size_t i = 0; i < nfixed; i++)
        l->envp[n++] = strdup(fixed_env[i]);
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(pass_env[i]);
        if (!v) continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s=%s", pass_env[i], v);
        l->envp[n++] = strdup(buf);
    }
    for (size_t i = 0; i < n; i++)
        if (!l->envp[i]) {
            sbx_launch_free(l);
            return rt_err_set(err, RT_ENOMEM, "sandbox environment");
        }
    for (size_t i = 0; i < sizeof bind_paths / sizeof *bind_paths && l->nbinds < SBX_MAX_BINDS; i++) {
        struct stat st;
        if (lstat(bind_paths[i], &st)) continue;
        sbx_bind *b = &l->binds[l->nbinds];
        memset(b, 0, sizeof *b);
        snprintf(b->src, sizeof b->src, "%s", bind_paths[i]);
        snprintf(b->dst, sizeof b->dst, NEWROOT "%s", bind_paths[i]);
        if (S_ISLNK(st.st_mode)) {
            ssize_t k = readlink(bind_paths[i], b->link, sizeof b->link - 1);
            if (k <= 0) continue;
            b->link[k] = 0;
        } else {
            struct statvfs sv;
            if (statvfs(bind_paths[i], &sv)) continue;
            b->is_dir = S_ISDIR(st.st_mode);
            b->flags = statvfs_to_mount_flags(sv.f_flag);
        }
        l->nbinds++;
    }
    rt_status s = sbx_seccomp_build(0, &l->prog, &l->prog_len, err);
    if (!s) {
        l->zygote_fd = (int)syscall(SYS_memfd_create, "retool-sandbox-zygote", (unsigned)MFD_CLOEXEC);
        size_t zlen = (size_t)(sbx_zygote_so_end - sbx_zygote_so);
        if (l->zygote_fd < 0 || write(l->zygote_fd, sbx_zygote_so, zlen) != (ssize_t)zlen)
            s = rt_err_errno(err, RT_EIO, errno, "writing the sandbox zygote to a memfd");
    }
    if (s) sbx_launch_free(l);
    return s;
}

void sbx_launch_free(sbx_launch *l) {
    if (l->envp)
        for (size_t i = 0; l->envp[i]; i++)
            free(l->envp[i]);
    free(l->envp);
    free(l->prog);
    l->envp = NULL;
    l->prog = NULL;
    if (l->zygote_fd >= 0) close(l->zygote_fd);
    l->zygote_fd = -1;
}

/* ---- the child side: async-signal-safe only ---- */

static size_t cstr_len(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void child_fail(int errfd, const char *step, const char *arg) {
    int e = errno;
    char num[16];
    int k = 0;
    do
        num[k++] = (char)('0' + e % 10), e /= 10;
    while (e && k < 15);
    ssize_t ignored = write(errfd, step, cstr_len(step));
    if (arg) {
        ignored = write(errfd, " ", 1);
        ignored = write(errfd, arg, cstr_len(arg));
    }
    ignored = write(errfd, ": errno ", 8);
    while (k)
        ignored = write(errfd, &num[--k], 1);
    (void)ignored;
    _exit(127);
}

static void child_write_file(int errfd, const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, cstr_len(text)) < 0) child_fail(errfd, "write", path);
    close(fd);
}

static void child_mkdir(int errfd, const char *path, mode_t mode) {
    if (mkdir(path, mode) && errno != EEXIST) child_fail(errfd, "mkdir", path);
}

static void child_main(const sbx_launch *l, int syncfd, int errfd, int sock, const int *acct) {
    char b;
    if (read(syncfd, &b, 1) != 1) _exit(126); /* the supervisor failed to map our ids */
    close(syncfd);
    int acct_hi[2] = {-1, -1}; /* out of the way of the numbers 0-7 assigned below */
    for (int i = 0; i < 2; i++)
        if (acct[i] >= 0 && (acct_hi[i] = fcntl(acct[i], F_DUPFD_CLOEXEC, 20)) < 0)
            child_fail(errfd, "fcntl", "run cgroup");
    /* Now that the supervisor has moved us into the worker cgroup: it becomes our cgroup root, so /proc/self/cgroup
     * shows "/" instead of the host's path (which names the server's pid). */
    if (unshare(CLONE_NEWCGROUP)) child_fail(errfd, "unshare the cgroup namespace", NULL);
    if (setsid() < 0) child_fail(errfd, "setsid", NULL);
    if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) child_fail(errfd, "become root of the user namespace", NULL);
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) child_fail(errfd, "make mounts private", NULL);
    if (mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755,nr_inodes=512"))
        child_fail(errfd, "mount root tmpfs", NULL);
    static const char *const dirs[] = {NEWROOT "/proc",    NEWROOT "/tmp", NEWROOT "/work", NEWROOT "/dev",
                                       NEWROOT "/dev/shm", NEWROOT "/etc", NEWROOT "/.old"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        child_mkdir(errfd, dirs[i], 0755);
    for (int i = 0; i < l->nbinds; i++) {
        const sbx_bind *bd = &l->binds[i];
        if (bd->link[0]) {
            if (symlink(bd->link, bd->dst)) child_fail(errfd, "symlink", bd->dst);
            continue;
        }
        if (bd->is_dir) {
            child_mkdir(errfd, bd->dst, 0755);
        } else {
            int fd = open(bd->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) child_fail(errfd, "create mount point", bd->dst);
            close(fd);
        }
        if (mount(bd->src, bd->dst, NULL, MS_BIND | MS_REC, NULL)) child_fail(errfd, "bind", bd->src);
        int is_dev = bd->src[1] == 'd' && bd->src[2] == 'e' && bd->src[3] == 'v';
        if (!is_dev &&
            mount(NULL, bd->dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | bd->flags, NULL))
            child_fail(errfd, "remount read-only", bd->src);
    }
    child_write_file(errfd, NEWROOT "/etc/passwd",
                     "root:x:0:0:root:/work:/usr/sbin/nologin\nsandbox:x:1000:1000:sandbox:/work:/usr/sbin/nologin\n");
    child_write_file(errfd, NEWROOT "/etc/group", "root:x:0:\nsandbox:x:1000:\n");
    child_write_file(errfd, NEWROOT "/etc/hosts", "127.0.0.1 localhost sandbox\n");
    child_write_file(errfd, NEWROOT "/etc/hostname", "sandbox\n");
    if (mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
        child_fail(errfd, "mount /proc", NULL);
    if (sethostname("sandbox", 7)) child_fail(errfd, "sethostname", NULL);
    if (chdir(NEWROOT)) child_fail(errfd, "chdir", NEWROOT);
    if (syscall(SYS_pivot_root, ".", ".old")) child_fail(errfd, "pivot_root", NULL);
    if (chdir("/")) child_fail(errfd, "chdir", "/");
    if (umount2("/.old", MNT_DETACH)) child_fail(errfd, "detach the host root", NULL);
    if (rmdir("/.old")) child_fail(errfd, "rmdir", "/.old");
    if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL))
        child_fail(errfd, "remount the root read-only", NULL);
    struct rlimit core = {0, 0}, nofile = {1024, 1024};
    if (setrlimit(RLIMIT_CORE, &core) || setrlimit(RLIMIT_NOFILE, &nofile)) child_fail(errfd, "setrlimit", NULL);
    errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 10);
    if (errfd < 0) _exit(125);
    if (sock != 3) {
        if (dup2(sock, 3) != 3) child_fail(errfd, "dup2", "control socket");
    } else if (fcntl(3, F_SETFD, 0)) {
        child_fail(errfd, "fcntl", "control socket");
    }
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0 || dup2(nul, 0) != 0 || dup2(nul, 1) != 1) child_fail(errfd, "open", "/dev/null");
    if (errfd != 4 && dup2(errfd, 4) != 4) child_fail(errfd, "dup2", "error pipe");
    fcntl(4, F_SETFD, FD_CLOEXEC);
    errfd = 4;
    if (nul > 4) close(nul);
    if (dup2(l->zygote_fd, 5) != 5 || fcntl(5, F_SETFD, 0)) child_fail(errfd, "dup2", "zygote");
    /* fd 6: the run cgroup's cgroup.procs (each run's process moves itself there), 7: its CPU usage (zyg_run.c) */
    for (int i = 0; i < 2; i++)
        if (acct_hi[i] >= 0 && dup2(acct_hi[i], 6 + i) != 6 + i) child_fail(errfd, "dup2", "run cgroup");
    if (syscall(SYS_close_range, acct_hi[0] >= 0 ? 8 : 6, ~0u, 0)) child_fail(errfd, "close_range", NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL)) child_fail(errfd, "PR_SET_PDEATHSIG", NULL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) child_fail(errfd, "PR_SET_NO_NEW_PRIVS", NULL);
    struct sock_fprog fp = {(unsigned short)l->prog_len, l->prog};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp)) child_fail(errfd, "seccomp", NULL);
    execve(l->python, l->argv, l->envp);
    child_fail(errfd, "execve", l->python);
}

/* ---- the supervisor side ---- */

static int write_map(pid_t pid, const char *file, const char *text) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Runs tool (newuidmap or newgidmap) to map 0 to own and 1000 to sub in pid's user namespace; 0 when it succeeded. */
static int run_idmap(const char *tool, pid_t pid, uint32_t own, uint32_t sub) {
    char p[16], o[16], s[16];
    snprintf(p, sizeof p, "%d", (int)pid);
    snprintf(o, sizeof o, "%u", own);
    snprintf(s, sizeof s, "%u", sub);
    char *argv[] = {(char *)tool, p, "0", o, "1", "1000", s, "1", NULL};
    char *envp[] = {NULL};
    pid_t c;
    if (posix_spawn(&c, tool, NULL, NULL, argv, envp)) return -1;
    int status;
    while (waitpid(c, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

rt_status sbx_launch_worker(const sbx_launch *l, int index, const sbx_cgroup *cg, pid_t *pid_out, int *fd_out,
                            rt_error *err) {
    int sv[2], syncp[2], errp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return rt_err_errno(err, RT_EIO, errno, "socketpair for a sandbox worker");
    if (pipe2(syncp, O_CLOEXEC)) {
        close(sv[0]);
        close(sv[1]);
        return rt_err_errno(err, RT_EIO, errno, "pipe for a sandbox worker");
    }
    if (pipe2(errp, O_CLOEXEC)) {
        close(sv[0]);
        close(sv[1]);
        close(syncp[0]);
        close(syncp[1]);
        return rt_err_errno(err, RT_EIO, errno, "pipe for a sandbox worker");
    }
    /* The run cgroup's files, opened here (by the host's user): a worker in its namespaces could not open them. */
    int acct[2] = {-1, -1};
    if (cg && cg->run[0]) {
        char path[600];
        snprintf(path, sizeof path, "%s/cgroup.procs", cg->run);
        acct[0] = open(path, O_WRONLY | O_CLOEXEC);
        if (acct[0] >= 0) {
            snprintf(path, sizeof path, "%s/%s", cg->run, cg->cpu_v2 ? "cpu.stat" : "cpuacct.usage");
            acct[1] = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (acct[1] < 0) {
            int e = errno;
            if (acct[0] >= 0) close(acct[0]);
            close(sv[0]), close(sv[1]), close(syncp[0]), close(syncp[1]), close(errp[0]), close(errp[1]);
            return rt_err_errno(err, RT_EIO, e, "opening %s", path);
        }
    }
    long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        close(sv[0]);
        close(syncp[1]);
        close(errp[0]);
        child_main(l, syncp[0], errp[1], sv[1], acct);
        _exit(127);
    }
    int clone_errno = errno;
    for (int i = 0; i < 2; i++)
        if (acct[i] >= 0) close(acct[i]);
    close(sv[1]);
    close(syncp[0]);
    close(errp[1]);
    if (pid < 0) {
        close(sv[0]);
        close(syncp[1]);
        close(errp[0]);
        return rt_err_errno(err, RT_EUNSUPPORTED, clone_errno,
                            "creating the sandbox namespaces (user, pid, mount, net, ipc, uts)%s",
                            geteuid() ? " as an ordinary user: the host must allow unprivileged user namespaces "
                                        "(sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone = 1, "
                                        "kernel.apparmor_restrict_unprivileged_userns = 0)"
                                      : "");
    }
    char map[128], gmap[128];
    uint32_t base = l->uid_base + 2u * (uint32_t)index; /* each worker its own pair of host uids */
    snprintf(map, sizeof map, "0 %u 1\n1000 %u 1\n", base, base + 1);
    snprintf(gmap, sizeof gmap, "%s", map);
    if (l->uid_mode == SBX_UIDS_SELF) { /* what an unprivileged process may write: its own ids, setgroups denied */
        snprintf(map, sizeof map, "0 %u 1\n", l->own_uid);
        snprintf(gmap, sizeof gmap, "0 %u 1\n", l->own_gid);
    }
    rt_status st = RT_OK;
    if (l->uid_mode == SBX_UIDS_SUBUID) {
        if (run_idmap(SBX_NEWUIDMAP, pid, l->own_uid, l->sub_uid + (uint32_t)index) ||
            run_idmap(SBX_NEWGIDMAP, pid, l->own_gid, l->sub_gid + (uint32_t)index))
            st = rt_err_set(err, RT_EUNSUPPORTED,
                            "newuidmap/newgidmap refused to map uid and gid %u, %u of /etc/subuid and /etc/subgid for "
                            "a sandbox worker (their message is above)",
                            l->sub_uid + (uint32_t)index, l->sub_gid + (uint32_t)index);
    } else if ((l->uid_mode == SBX_UIDS_SELF && write_map(pid, "setgroups", "deny")) ||
               write_map(pid, "uid_map", map) || write_map(pid, "gid_map", gmap))
        st = rt_err_errno(err, RT_EUNSUPPORTED, errno, "writing the sandbox uid/gid map (%s)",
                          l->uid_mode == SBX_UIDS_SELF ? "own uid only" : "uid_base range; needs root");
    if (!st && cg && sbx_cgroup_attach(cg, pid))
        st = rt_err_errno(err, RT_EIO, errno, "moving a sandbox worker into its cgroup");
    if (!st && write(syncp[1], "g", 1) != 1) st = rt_err_errno(err, RT_EIO, errno, "starting a sandbox worker");
    close(syncp[1]);
    char msg[512];
    ssize_t n = 0, k;
    while ((k = read(errp[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
        n += k;
    close(errp[0]);
    if (!st && n > 0) {
        msg[n] = 0;
        st = rt_err_set(err, RT_EUNSUPPORTED, "sandbox worker setup failed at %s", msg);
    }
    if (st) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sv[0]);
        return st;
    }
    *pid_out = pid;
    *fd_out = sv[0];
    return RT_OK;
}
