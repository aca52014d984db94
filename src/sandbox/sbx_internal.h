/* Internals of the sandbox layer shared by its files: worker launch, seccomp, cgroups, the worker protocol. */
#ifndef RETOOL_SANDBOX_INTERNAL_H
#define RETOOL_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/error.h"
#include "sandbox/sandbox.h"

/* The Python worker stub (src/sandbox/worker_stub.py), embedded. */
extern const char sbx_worker_stub[];

/* ---- seccomp (sbx_seccomp.c) ---- */

/* Builds a seccomp BPF program. strict = 0: the worker's filter (it may still unshare pid/mount/ipc/net namespaces
 * and mount, to set up each child); strict = 1: the child's filter that user code runs under. *prog is malloc'd. */
rt_status sbx_seccomp_build(int strict, struct sock_filter **prog, size_t *len, rt_error *err);

/* ---- cgroups (sbx_cgroup.c) ---- */

/* Which mechanism a limit uses on this host. */
typedef enum sbx_cg_mech { SBX_CG_NONE = 0, SBX_CG_V1 = 1, SBX_CG_V2 = 2 } sbx_cg_mech;

/* "cgroup v1", "cgroup v2" or "none". */
const char *sbx_cg_mech_name(sbx_cg_mech m);

/* Where the worker cgroups go: per controller, the mechanism and the parent folder. */
typedef struct sbx_cgroup_host {
    sbx_cg_mech mem, pids;
    sbx_cg_mech cpu; /* CPU accounting of each worker and its runs: a v2 cgroup (cpu.stat) or v1 cpuacct */
    char mem_parent[512], pids_parent[512], cpu_parent[512];
    char why_mem[400], why_pids[400], why_cpu[400]; /* why a controller is not used ("" when it is) */
    int v2_held;                                    /* holds a reference on the v2 subtree_control change */
} sbx_cgroup_host;

/* Finds the mechanism of the memory and pids controllers: a v1 hierarchy that has it, else the v2 unified hierarchy
 * (root, when not NULL, is used as this process's v2 cgroup folder instead of the host's: tests point it at a
 * directory tree laid out like cgroup2). On v2 it enables the controllers in cgroup.subtree_control, first moving
 * this process into a leaf cgroup of its own when its cgroup holds processes; sbx_cgroup_host_release undoes that
 * when the last holder is gone. A controller that cannot be used gets SBX_CG_NONE and a reason in h->why_mem /
 * why_pids. */
void sbx_cgroup_host_acquire(sbx_cgroup_host *h, const char *root);

/* Drops the reference sbx_cgroup_host_acquire took (the last one restores subtree_control and this process's
 * cgroup). */
void sbx_cgroup_host_release(sbx_cgroup_host *h);

/* Enables the v2 controllers want ("memory pids") in dir's cgroup.subtree_control, first moving this process into a
 * leaf dir/retool-sbx-PID-server when dir holds processes (the "no internal processes" rule). 0: enabled, and a
 * reference is held that sbx_cgroup_v2_unclaim drops (the last one disables what was enabled and moves this process
 * back); 1: enabled in a folder other than the one this process already holds (nothing to undo); -1: refused, the
 * reason in why (nothing is left changed). */
int sbx_cgroup_v2_claim(const char *dir, const char *want, char *why, size_t why_len);

/* Drops a reference sbx_cgroup_v2_claim took. */
void sbx_cgroup_v2_unclaim(void);

typedef struct sbx_cgroup {
    char mem[512];  /* folder of the memory cgroup, "" when none */
    char pids[512]; /* folder of the pids cgroup, "" when none (the same folder as mem on v2) */
    char cpu[512];  /* folder that accounts the CPU of the worker and its runs, "" when none (mem's on v2) */
    char run[520];  /* cpu/run: each run's process joins it (the worker's session children do not) */
    int mem_v2;     /* mem is a v2 cgroup (memory.max, memory.events) */
    int cpu_v2;     /* cpu is a v2 cgroup (cpu.stat), else v1 (cpuacct.usage) */
} sbx_cgroup;

/* Creates the worker cgroup name under h's parents with memory.max (or memory.limit_in_bytes) = mem_mb MiB,
 * memory.swap.max = 0 (v1: swappiness 0) and pids.max = pids, and its CPU-accounting cgroup. 0, or -1 when a
 * controller could not be set up: its folder is left "" (nothing made) and the reason is in why_mem, why_pids or
 * why_cpu. */
int sbx_cgroup_create(sbx_cgroup *cg, const sbx_cgroup_host *h, const char *name, int64_t mem_mb, int64_t pids,
                      char *why_mem, char *why_pids, char *why_cpu, size_t why_len);

/* Gives up the memory, pids and/or CPU-accounting cgroup of cg before any process joined it (removes each folder
 * once no other of the three uses it; a v2 folder kept for another has its memory.max / pids.max reset to max). */
void sbx_cgroup_drop(sbx_cgroup *cg, int mem, int pids, int cpu);

/* Moves pid into the cgroups; returns 0, or -1 with errno. */
int sbx_cgroup_attach(const sbx_cgroup *cg, pid_t pid);

/* How many processes the memory cgroup's OOM killer has killed so far (-1 when unknown). */
int64_t sbx_cgroup_oom_kills(const sbx_cgroup *cg);

/* A v2 cgroup's "populated" (cgroup.events): 1 while it or a descendant holds a process, 0 when not, -1 unknown. */
int sbx_cgroup_populated(const char *dir);

/* Removes the cgroups (after their processes are gone; on v2 whatever is left is killed through cgroup.kill and the
 * kernel's "populated 0" awaited first); retries briefly while the kernel releases them. */
void sbx_cgroup_destroy(sbx_cgroup *cg);

/* ---- worker launch (sbx_launch.c) ---- */

#define SBX_MAX_BINDS 24

typedef struct sbx_bind {
    char src[256];  /* host path */
    char dst[300];  /* path under the new root (prepared) */
    char link[256]; /* symlink target, when the host path is a symlink */
    int is_dir;
    unsigned long flags; /* mount flags the read-only remount must keep */
} sbx_bind;

typedef struct sbx_launch {
    char python[256];
    char *argv[6];
    char **envp;
    struct sock_filter *prog;
    size_t prog_len;
    sbx_bind binds[SBX_MAX_BINDS];
    int nbinds;
    uint32_t uid_base;
    int uid_mode; /* SBX_UIDS_*: how a worker's uids are mapped */
    uint32_t own_uid, own_gid;
    uint32_t sub_uid, sub_gid; /* SBX_UIDS_SUBUID: worker i's code runs as host uid sub_uid + i */
    int zygote_fd;             /* a memfd holding the zygote shared object; the worker gets it as fd 5 */
} sbx_launch;

/* Non-zero when the host uids [lo, hi) overlap a range of the subordinate id file path (/etc/subuid, /etc/subgid);
 * msg names the line, the user and the fix. */
int sbx_subid_clash(const char *path, uint32_t lo, uint32_t hi, char *msg, size_t msg_len);

/* Finds the first range of at least need ids for user (by name or number id) in a subordinate id file; 0 and
 * *start, or -1. */
int sbx_subid_find(const char *path, const char *user, uint32_t id, uint32_t need, uint32_t *start);

/* Precomputes everything the worker launch needs (no allocation may happen after clone). */
rt_status sbx_launch_prepare(sbx_launch *l, const sbx_config *cfg, rt_error *err);

/* Frees what sbx_launch_prepare allocated. */
void sbx_launch_free(sbx_launch *l);

/* Starts worker number index (its host uids are uid_base + 2 * index and the next) in new user, pid, mount, net, ipc
 * and uts namespaces; *fd is the supervisor's end of its control socket. cg (may be NULL) is joined before the worker
 * runs anything; where cg has a run folder the worker gets its cgroup.procs as fd 6 and its CPU usage file (v2
 * cpu.stat, v1 cpuacct.usage) as fd 7. Must be called from the thread that outlives the worker (it dies with it). */
rt_status sbx_launch_worker(const sbx_launch *l, int index, const sbx_cgroup *cg, pid_t *pid, int *fd, rt_error *err);

/* The zygote shared object (src/sandbox/zygote/, built by the Makefile), embedded by sbx_zygote_blob.c. */
extern const unsigned char sbx_zygote_so[], sbx_zygote_so_end[];

/* ---- protocol (sbx_proto.c) ---- */

/* Sends every byte of iov[0, n) (advancing it): sendmsg without SIGPIPE on a socket, writev on a pipe; waits up to
 * 5 s at a time when the other end is full. -1 with errno on failure. */
int sbx_send_iov(int fd, struct iovec *iov, int n);

/* Appends one frame (4-byte length, JSON header line, blobs) to fd; blocking. Returns 0 or -1 with errno. */
int sbx_proto_send(int fd, const char *json, const void *const *blobs, const size_t *lens, size_t nblobs);

/* A frame reader fed by non-blocking reads. */
typedef struct sbx_reader {
    unsigned char *buf;
    size_t len, cap;
} sbx_reader;

/* Reads what is available from fd; returns 1 on data, 0 on EOF, -1 on error (EAGAIN counts as data). */
int sbx_reader_fill(sbx_reader *r, int fd);

/* Takes one complete frame out of the buffer: *hdr (NUL-terminated JSON, malloc'd) and *body (the blobs, malloc'd,
 * may be NULL when empty); returns 1 when a frame was taken, 0 when none is complete, -1 when malformed. */
int sbx_reader_next(sbx_reader *r, char **hdr, unsigned char **body, size_t *body_len);

/* Frees the reader's buffer. */
void sbx_reader_free(sbx_reader *r);

/* ---- base64 (sbx_base64.c) ---- */

/* Encodes len bytes as base64 (NUL-terminated, malloc'd); NULL when out of memory. */
/* Non-zero when name is a relative path of at most 255 bytes without empty, "." or ".." components. */
int sbx_name_ok(const char *name);

/* Non-zero when code names a package only the full worker tier preloads, or imports by a computed name. */
int sbx_code_needs_full(const char *code, size_t len);

char *sbx_b64_encode(const void *data, size_t len);

/* Decodes base64 text (padding optional, no whitespace); returns 0 and a malloc'd *out, or -1 when malformed. */
int sbx_b64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len);

#endif
