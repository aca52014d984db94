/* The seccomp filters: a denylist over a default-allow policy (Python and numpy use a wide set of syscalls), with
 * sockets limited to AF_UNIX and every non-native ABI (i386, x32) killing the process. */
#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/sbx_internal.h"

/* Denied for everyone in the sandbox: kernel attack surface and escapes. */
static const char *const deny_always[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "quotactl",
    "quotactl_fd",
    "iopl",
    "ioperm",
    "vhangup",
    "syslog",
    "fanotify_init",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "pidfd_getfd",
    "kcmp",
    "process_madvise",
    "personality",
    "uselib",
    "nfsservctl",
    "mbind",
    "migrate_pages",
    "move_pages",
    "set_mempolicy",
    "landlock_create_ruleset",
};

/* Denied to user code only (the worker needs them to give each child its own namespaces). */
static const char *const deny_strict[] = {"mount", "unshare", "setns"};

/* A comparison on the first argument (SCMP_A0 leaves a field to the compiler; clang warns). */
static struct scmp_arg_cmp arg0(enum scmp_compare op, uint64_t a, uint64_t b) {
    struct scmp_arg_cmp c = {.arg = 0, .op = op, .datum_a = a, .datum_b = b};
    return c;
}

static int deny(scmp_filter_ctx ctx, const char *name, int errnum) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0; /* not on this kernel/arch */
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, 0);
}

rt_status sbx_seccomp_build(int strict, struct sock_filter **prog, size_t *len, rt_error *err) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return rt_err_set(err, RT_ENOMEM, "seccomp_init failed");
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (!rc) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (size_t i = 0; !rc && i < sizeof deny_always / sizeof *deny_always; i++)
        rc = deny(ctx, deny_always[i], EPERM);
    for (size_t i = 0; strict && !rc && i < sizeof deny_strict / sizeof *deny_strict; i++)
        rc = deny(ctx, deny_strict[i], EPERM);
    /* Sockets: AF_UNIX only (no network, no netlink, no raw packets). */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1, arg0(SCMP_CMP_NE, AF_UNIX, 0));
    if (!rc)
        rc =
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair), 1, arg0(SCMP_CMP_NE, AF_UNIX, 0));
    /* clone3 hides its flags in memory a filter cannot read: make libc fall back to clone, whose flags we check. */
    if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    uint64_t ns_flags =
        CLONE_NEWUSER |
        (strict ? (uint64_t)(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
                : 0);
    for (int bit = 0; !rc && bit < 64; bit++) {
        uint64_t f = 1ull << bit;
        if (!(ns_flags & f)) continue;
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, arg0(SCMP_CMP_MASKED_EQ, f, f));
    }
    /* The worker may unshare a user namespace: a session child takes one of its own before its code runs, so that its
     * processes count against a process limit of its own (zyg_child.c). User code never can (deny_strict). */
    if (rc) {
        seccomp_release(ctx);
        return rt_err_set(err, RT_EINTERNAL, "building the seccomp filter: %s", strerror(-rc));
    }
    int mfd = memfd_create("sbx-bpf", MFD_CLOEXEC);
    if (mfd < 0) {
        seccomp_release(ctx);
        return rt_err_errno(err, RT_EIO, errno, "memfd_create for the seccomp filter");
    }
    rc = seccomp_export_bpf(ctx, mfd);
    seccomp_release(ctx);
    off_t size = lseek(mfd, 0, SEEK_END);
    if (rc || size <= 0 || size % (off_t)sizeof(struct sock_filter)) {
        close(mfd);
        return rt_err_set(err, RT_EINTERNAL, "exporting the seccomp filter failed (%d)", rc);
    }
    struct sock_filter *p = malloc((size_t)size);
    if (!p || pread(mfd, p, (size_t)size, 0) != size) {
        free(p);
        close(mfd);
        return rt_err_set(err, RT_EIO, "reading back the seccomp filter");
    }
    close(mfd);
    *prog = p;
    *len = (size_t)size / sizeof(struct sock_filter);
    return RT_OK;
}
