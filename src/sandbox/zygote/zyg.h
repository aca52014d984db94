/* The sandbox worker's zygote: C code that the worker's Python loads (from a memfd) once it has imported and frozen
 * its preloads. The loop runs in C so that the worker never writes to its Python heap between forks (no
 * copy-on-write in the worker, nothing for the next child to copy), and each child's setup (namespaces, mounts,
 * rlimits, uid, files, stdin, descriptors, seccomp) runs in C before control returns to Python only to run the code.
 * Built as a shared object by the Makefile (never part of libretool.a); embedded by src/sandbox/sbx_zygote_blob.c. */
#ifndef RETOOL_SANDBOX_ZYGOTE_ZYG_H
#define RETOOL_SANDBOX_ZYGOTE_ZYG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

enum { ZYG_RUN = 1, ZYG_SESSION = 2 };

typedef struct zyg_cfg {
    int ctl;                  /* the control socket to the supervisor */
    const unsigned char *bpf; /* the children's seccomp program */
    size_t bpf_len;           /* in bytes */
    long tmpfs_mb;            /* size of each child's /tmp, /work and /dev/shm */
    int run_uid;              /* the uid code runs as: 1000, or 0 (without capabilities) where only one uid is mapped */
    long long base_vm;        /* the worker's address space, added to each run's memory limit */
    int self_pidns;           /* the worker's own pid namespace */
    int acct;                 /* fds 6 and 7: the run cgroup's cgroup.procs and CPU usage file (sbx_launch.c) */
    int64_t *out;             /* Python's: a child writes kind, status fd, job fd, code address, code length */
    unsigned char *code_buf;  /* Python's: a child copies its code here when it fits */
    size_t code_cap;
} zyg_cfg;

typedef struct zyg_child {
    int kind;
    pid_t pid;
    int jw, sr, outr, errr, workfd;
    int jr_child; /* the job pipe's descriptor number in the child */
    int acct_fd;  /* a run child's cgroup CPU usage file (the worker's fd 7), -1 when none */
    char *status; /* status-pipe bytes not yet consumed */
    size_t slen, scap;
    int alive;
    uint64_t sid; /* sessions: the supervisor's id */
} zyg_child;

/* A growing byte buffer. */
typedef struct zyg_buf {
    unsigned char *p;
    size_t n, cap;
} zyg_buf;

/* Forks a child of kind: 0 in the worker (c filled, the child waits for its job), 1 in the child once its job has
 * been applied (cfg->out and cfg->code_buf filled; return to Python), -1 on failure (msg says why). */
int zyg_child_new(const zyg_cfg *cfg, zyg_child *c, int kind, char *msg, size_t msg_len);

/* In a new child: namespaces, mounts, then waits for its job and applies it; returns only when ready (else _exit). */
void zyg_child_setup(const zyg_cfg *cfg, int kind, int jr, int sw, int ow, int ew);

/* SIGKILL to the child (its whole pid namespace). */
void zyg_child_kill(zyg_child *c);

/* Waits for a killed or exited child and closes its descriptors; *status and *ru when it was alive (else -1). */
int zyg_child_reap(zyg_child *c, int *status, struct rusage *ru);

/* Closes the worker's descriptors to the child (pipes, its /work), frees its status buffer; the child may still run. */
void zyg_child_close(zyg_child *c);

/* Runs a job on child c (a run, or a session cell when cell_mode) and returns the result header (the caller adds
 * t, id, files); out and err receive the bytes. A run's "cpu" is the CPU its cgroup counted (every process of the
 * run, reaped or not) where c->acct_fd is set, and never less than what the run's process reported for itself and
 * the children it waited for. */
cJSON *zyg_execute(zyg_child *c, int cell_mode, const char *job_hdr, const unsigned char *payload, size_t plen,
                   const cJSON *limits, zyg_buf *out, zyg_buf *err);

/* Opens, never following a link, the directory that holds the last component of name (a name sbx_name_ok
 * accepts) under root, making missing directories when create; *leaf is that last component. -1 with errno. */
int zyg_open_parent(int root, const char *name, int create, const char **leaf);

/* Reads the requested work-dir files of a finished run through workfd (never following a link): each up to cap bytes,
 * all together up to total_cap, their bytes appended to data and [name, length] to files (an array); a file past
 * either cap is listed in missing with the reason. */
void zyg_fetch(int workfd, const cJSON *names, size_t cap, size_t total_cap, cJSON *files, zyg_buf *data,
               cJSON *missing);

/* Appends n bytes to b, at most up to cap bytes in all; returns 1 when some did not fit. */
int zyg_buf_add(zyg_buf *b, const void *p, size_t n, size_t cap);

/* Writes all of p to fd (a pipe or a file; sbx_send_iov with one piece); -1 on error. */
int zyg_write_all(int fd, const void *p, size_t n);

/* Writes one frame (4-byte little-endian length, hdr, a newline, payload) to a pipe in one writev when it fits. */
int zyg_send_frame(int fd, const char *hdr, const unsigned char *payload, size_t plen);

/* Reads one frame (4-byte little-endian length, then the bytes) from a blocking fd into a malloc'd buffer. */
int zyg_read_frame(int fd, unsigned char **body, size_t *len);

/* A number field of o, or def. */
double zyg_num(const cJSON *o, const char *key, double def);

/* The worker's scratch arena (zyg_arena.c): set up once, emptied per control message, left by a new child. */
void zyg_arena_init(void);
void zyg_arena_reset(void);
void zyg_arena_leave(void);
/* malloc, realloc and free that use the arena in the worker and malloc elsewhere (pointers of either kind accepted). */
void *zyg_malloc(size_t n);
void *zyg_realloc(void *p, size_t n);
void zyg_free(void *p);

/* The CPython fork hooks (resolved against the interpreter that loads this object). */
void PyOS_BeforeFork(void);
void PyOS_AfterFork_Parent(void);
void PyOS_AfterFork_Child(void);

#endif
