/* Shared helpers of the sandbox tests: pools with a uid range of their own, and leak probes on the host side. */
#ifndef RETOOL_TESTS_SANDBOX_HELPERS_H
#define RETOOL_TESTS_SANDBOX_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "sandbox/server.h"

/* A config for tests: small tmpfs, a uid range unique to this test process (so leak counts see only ours). */
void th_config(sbx_config *cfg, int workers);

/* Host processes whose real uid is in [uid_base, uid_base + 64) (the sandbox workers' uids). */
int th_count_uid_procs(uint32_t uid_base);

/* Open file descriptors of this process. */
int th_count_fds(void);

/* Number of cgroup folders named retool-sbx-<our pid>-* under our cgroups, up to 3 levels down: the v1 memory, pids
 * and cpuacct hierarchies and the v2 unified one (each found through /proc/self/cgroup and /proc/self/mountinfo). */
int th_count_cgroups(void);

/* Number of folders named retool-sbx-<our pid>-* in dir and up to 3 levels below it. */
int th_count_cgroups_in(const char *dir);

/* The folder of our cgroup in the mounted cgroup2 hierarchy; 0 when none is mounted. */
int th_cgroup2_dir(char *out, size_t n);

/* A pool serving SandboxFusion's API on a free port of 127.0.0.1. */
typedef struct th_server {
    sbx_pool *pool;
    sbx_server *srv;
    int port;
} th_server;

/* Starts a pool of cfg and a server with scfg's settings on a free port (asserts both started). */
th_server th_server_start(const sbx_config *cfg, const sbx_server_config *scfg);

/* Stops the server, then frees its pool. */
void th_server_stop(th_server *s);

/* Runs code with the given wall limit and returns the result (asserts the submission worked). */
sbx_result th_run(sbx_pool *pool, const char *code, double wall_s);

#endif
