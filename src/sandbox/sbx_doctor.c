/* The doctor (see doctor.h): every check is observed from inside a real sandboxed run, not inferred from config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "sandbox/doctor.h"
#include "sandbox/sandbox.h"
#include "sandbox/sbx_internal.h"

static const char probe_code[] =
    "import os, json, socket, resource, ctypes\n"
    "st = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
    "def blocked(fam, typ):\n"
    "    try:\n"
    "        socket.socket(fam, typ).close(); return False\n"
    "    except OSError: return True\n"
    "def ro(path):\n"
    "    try:\n"
    "        open(path, 'w').close(); return False\n"
    "    except OSError: return True\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "r = {'uid': os.getuid(), 'pid': os.getpid(), 'hostname': socket.gethostname(),\n"
    "     'seccomp': st.get('Seccomp', '?').strip(), 'nnp': st.get('NoNewPrivs', '?').strip(),\n"
    "     'capeff': st.get('CapEff', '?').strip(), 'capbnd': st.get('CapBnd', '?').strip(),\n"
    "     'inet': blocked(socket.AF_INET, socket.SOCK_STREAM), 'inet6': blocked(socket.AF_INET6, socket.SOCK_DGRAM),\n"
    "     'netlink': blocked(socket.AF_NETLINK, socket.SOCK_RAW),\n"
    "     'ptrace': libc.ptrace(0, 0, 0, 0) != 0, 'unshare': libc.unshare(0x10000000) != 0,\n"
    "     'present': [p for p in ('/root', '/home', '/var', '/srv', '/opt', '/mnt', '/media', '/run', '/boot')\n"
    "                 if os.path.exists(p)],\n"
    "     'usr_ro': ro('/usr/retool-probe'), 'etc_ro': ro('/etc/retool-probe'),\n"
    "     'tmp_empty': os.listdir('/tmp') == [], 'work_empty': os.listdir('.') == [], 'cwd': os.getcwd(),\n"
    "     'env': sorted(os.environ),\n"
    "     'cgroup_root': all(l.rsplit(':', 1)[-1] == '/' for l in open('/proc/self/cgroup').read().splitlines()),\n"
    "     'fds': sorted(int(f) for f in os.listdir('/proc/self/fd')),\n"
    "     'rlimits': {n: resource.getrlimit(getattr(resource, 'RLIMIT_' + n))[0]\n"
    "                 for n in ('AS', 'CPU', 'FSIZE', 'NOFILE', 'NPROC', 'CORE')}}\n"
    "print(json.dumps(r))\n";

static void line(FILE *out, int ok, int *missing, const char *name, const char *detail) {
    fprintf(out, "%-8s %s: %s\n", ok ? "active" : "MISSING", name, detail);
    if (!ok) (*missing)++;
}

static int jbool(const cJSON *o, const char *k) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

/* Runs code on the pool and parses its stdout as JSON (NULL with err set when it failed). */
static cJSON *probe(sbx_pool *pool, const char *code, rt_error *err) {
    sbx_request req = {.code = code, .code_len = strlen(code)};
    req.limits.wall_s = 20;
    sbx_result res;
    if (sbx_pool_run(pool, &req, &res, err)) return NULL;
    cJSON *r = res.status == SBX_OK ? cJSON_Parse(res.out) : NULL;
    if (!r)
        rt_err_set(err, RT_EINTERNAL, "the doctor's probe failed (%s): %.300s", sbx_status_name(res.status), res.err);
    sbx_result_free(&res);
    return r;
}

/* The isolation lines, from the probe's answers on the full tier (f) and the light tier (l). */
static void isolation_lines(FILE *out, int *missing, const cJSON *f, const cJSON *l, const sbx_stats *stats) {
    char d[600];
    double uid = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "uid"));
    double luid = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(l, "uid"));
    if (stats->uid_mode == SBX_UIDS_SELF)
        snprintf(d, sizeof d,
                 "code runs as uid %g inside, mapped to this process's own host uid %u (no uid of its own: "
                 "uid-separation is MISSING below)",
                 uid, (unsigned)getuid());
    else if (stats->uid_mode == SBX_UIDS_SUBUID)
        snprintf(d, sizeof d,
                 "code runs as uid %g inside, mapped to host uid %u of this user's /etc/subuid range (worker 0; "
                 "newuidmap); the worker itself is this process's uid",
                 uid, stats->code_uid);
    else
        snprintf(d, sizeof d, "code runs as uid %g inside, mapped to unprivileged host uid %u (worker 0)", uid,
                 stats->code_uid);
    int want_uid = stats->uid_mode == SBX_UIDS_SELF ? 0 : 1000;
    line(out, uid == want_uid && luid == want_uid, missing, "user namespace", d);
    double pid = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "pid"));
    snprintf(d, sizeof d, "each run is pid %g of its own pid namespace (killing it kills its whole tree)", pid);
    line(out, pid == 1 && cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(l, "pid")) == 1, missing,
         "pid namespace", d);
    const cJSON *both[2] = {f, l};
    int cgns = 1, net = 1, hidden = 1, tmp = 1, sec = 1, sc = 1, caps = 1, host = 1, rl_ok = 1, env_ok = 1, fd_ok = 1;
    for (int i = 0; i < 2; i++) {
        const cJSON *r = both[i];
        net &= jbool(r, "inet") && jbool(r, "inet6") && jbool(r, "netlink");
        hidden &= cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "present")) == 0 && jbool(r, "usr_ro") &&
                  jbool(r, "etc_ro");
        tmp &= jbool(r, "tmp_empty") && jbool(r, "work_empty");
        sec &= !strcmp(jstr(r, "seccomp"), "2") && !strcmp(jstr(r, "nnp"), "1");
        sc &= jbool(r, "ptrace") && jbool(r, "unshare");
        /* uid 0 inside (one uid mapped) must also have lost the bounding set: an execve would refill the rest */
        caps &= !strcmp(jstr(r, "capeff"), "0000000000000000") &&
                (want_uid || !strcmp(jstr(r, "capbnd"), "0000000000000000"));
        host &= !strcmp(jstr(r, "hostname"), "sandbox");
        cgns &= jbool(r, "cgroup_root");
        const cJSON *rl = cJSON_GetObjectItemCaseSensitive(r, "rlimits");
        const cJSON *v;
        cJSON_ArrayForEach(v, rl) rl_ok &= cJSON_GetNumberValue(v) >= 0;
        env_ok &= cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "env")) <= 10;
        fd_ok &= cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "fds")) <= 6;
    }
    line(out, net, missing, "network",
         net ? "own net namespace with loopback down; AF_INET/AF_INET6/netlink denied"
             : "a non-unix socket could be created");
    snprintf(d, sizeof d, "hostname '%s'", jstr(f, "hostname"));
    line(out, host, missing, "uts namespace", d);
    line(out, cgns, missing, "cgroup namespace",
         cgns ? "/proc/self/cgroup shows / (the worker's cgroup is its root)" : "the host's cgroup paths show");
    line(out, hidden, missing, "mount namespace",
         hidden ? "only /usr, /bin, /lib*, a minimal /etc and /dev, read-only; /root, /home, /var, host /tmp absent"
                : "host paths visible or system folders writable");
    line(out, tmp, missing, "private tmpfs", tmp ? "fresh /tmp, /work (cwd) and /dev/shm per run" : "not empty");
    snprintf(d, sizeof d, "Seccomp mode %s, NoNewPrivs %s", jstr(f, "seccomp"), jstr(f, "nnp"));
    line(out, sec, missing, "seccomp + no_new_privs", d);
    line(out, sc, missing, "seccomp denials", sc ? "ptrace and unshare refused" : "ptrace or unshare allowed");
    snprintf(d, sizeof d, "effective capabilities %s, bounding set %s", jstr(f, "capeff"), jstr(f, "capbnd"));
    line(out, caps, missing, "capabilities dropped", d);
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(f, "rlimits");
    size_t off = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, rl) off +=
        (size_t)snprintf(d + off, sizeof d - off, "%s%s=%.0f", off ? " " : "", v->string, cJSON_GetNumberValue(v));
    line(out, rl_ok, missing, "rlimits", d);
    snprintf(d, sizeof d, "%d variables (%s)", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "env")),
             "PATH, HOME, TMPDIR, LANG, thread counts");
    line(out, env_ok, missing, "scrubbed environment", d);
    snprintf(d, sizeof d, "%d open descriptors at start (stdin, stdout, stderr, status pipe + the probe's own)",
             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "fds")));
    line(out, fd_ok, missing, "closed descriptors", d);
}

/* Which mechanism each limit uses (cgroup v1, cgroup v2, rlimit, none), and each protection the host lacks. */
static void limit_lines(FILE *out, int *missing, const sbx_stats *st, const sbx_config *cfg) {
    char d[900];
    const char *mech_mem = sbx_cg_mech_name((sbx_cg_mech)st->cgroup_memory);
    snprintf(d, sizeof d, "%s (%s%lld MiB, the worker and all its runs)", mech_mem,
             st->cgroup_memory == SBX_CG_V2 ? "memory.max = "
             : st->cgroup_memory            ? "memory.limit_in_bytes = "
                                            : "no cgroup: only each run's RLIMIT_AS; wanted ",
             (long long)cfg->worker_memory_mb);
    fprintf(out, "limit    memory per worker: %s\n", d);
    snprintf(d, sizeof d, "%s (%s)", st->cgroup_memory ? mech_mem : "none",
             st->cgroup_memory == SBX_CG_V2 ? "memory.swap.max = 0, where swap is accounted"
             : st->cgroup_memory            ? "memory.swappiness = 0"
                                            : "no cgroup");
    fprintf(out, "limit    swap per worker: %s\n", d);
    snprintf(d, sizeof d, "%s (pids.max = %lld)", sbx_cg_mech_name((sbx_cg_mech)st->cgroup_pids),
             (long long)cfg->worker_pids);
    fprintf(out, "limit    processes per worker: %s\n",
            st->cgroup_pids ? d : "none (no cgroup: only each run's RLIMIT_NPROC)");
    fprintf(out, "limit    memory per run: rlimit (RLIMIT_AS = the worker's own address space + 64 MiB + the "
                 "request's limit; a light-tier program that imports numpy/sympy/mpmath is rerun on the full tier)\n");
    fprintf(out, "limit    processes per run: rlimit (RLIMIT_NPROC, per uid of the worker's user namespace)\n");
    fprintf(out, "limit    CPU per run: rlimit (RLIMIT_CPU); wall clock: the worker's deadline\n");
    if (st->cgroup_cpu)
        fprintf(out, "account  CPU per run (cpu_s): %s (%s of the worker's run cgroup: every process of the run)\n",
                sbx_cg_mech_name((sbx_cg_mech)st->cgroup_cpu),
                st->cgroup_cpu == SBX_CG_V2 ? "cpu.stat usage_usec" : "cpuacct.usage");
    else
        fprintf(out,
                "account  CPU per run (cpu_s): getrusage only (the run's process and the children it waited for; "
                "no cgroup: %s)\n",
                st->cgroup_why[2]);
    for (unsigned bit = 1; bit <= SBX_WEAK_UID_SEPARATION; bit <<= 1)
        if (st->weaker & bit) {
            snprintf(d, sizeof d, "%s; the server refuses to start unless --allow-weaker-isolation %s names it",
                     bit == SBX_WEAK_UID_SEPARATION
                         ? "not root and no /etc/subuid range: the workers and the code run as this process's own "
                           "host uid (uid 0 inside, every capability and the bounding set dropped)"
                     : st->cgroup_why[bit == SBX_WEAK_CGROUP_PIDS][0] ? st->cgroup_why[bit == SBX_WEAK_CGROUP_PIDS]
                                                                      : "not in force",
                     sbx_weaker_name(bit));
            line(out, 0, missing, sbx_weaker_name(bit), d);
        }
}

/* A request's memory limit on both tiers: limit - 16 MiB must fit and limit + 100 MiB (over the 64 MiB headroom)
 * must not, on the light tier, on the full tier, and for a light-routed program that reaches numpy and sympy through
 * a module of its own (the router cannot see it). */
static void memory_line(FILE *out, int *missing, sbx_pool *pool) {
    static const char *const ways[3] = {"", "# numpy\n", "import sys\nsys.path.insert(0, '.')\nimport helper\n"};
    static const char *const names[3] = {"light tier", "full tier", "light-routed program importing numpy"};
    const int64_t limit = 256, sizes[2] = {limit - 16, limit + 100};
    char bad[300] = "";
    for (int w = 0; w < 3; w++)
        for (int k = 0; k < 2; k++) {
            char code[256];
            snprintf(code, sizeof code, "%sb = bytearray(%lld << 20)\n", ways[w], (long long)sizes[k]);
            sbx_file f = {.name = "helper.py", .data = (unsigned char *)"import numpy, sympy\n", .len = 20};
            sbx_request req = {.code = code, .code_len = strlen(code), .files = &f, .nfiles = 1};
            req.limits.wall_s = 20;
            req.limits.memory_mb = limit;
            sbx_result res;
            rt_error err;
            sbx_status want = k ? SBX_MEMORY : SBX_OK;
            rt_status rc = sbx_pool_run(pool, &req, &res, &err);
            if (rc || res.status != want) {
                size_t n = strlen(bad);
                snprintf(bad + n, sizeof bad - n, "%s%s: %lld MiB %s", n ? "; " : "", names[w], (long long)sizes[k],
                         k ? "fitted" : "did not fit");
            }
            if (!rc) sbx_result_free(&res);
        }
    char d[500];
    snprintf(d, sizeof d,
             "a %lld MiB request lets %lld MiB in and keeps %lld MiB out on the light tier, the full tier and for a "
             "light-routed program that imports numpy%s%s",
             (long long)limit, (long long)sizes[0], (long long)sizes[1], bad[0] ? ": NOT SO: " : "", bad);
    line(out, !bad[0], missing, "memory limit per run", d);
}

rt_status sbx_doctor_run(FILE *out, int *missing, rt_error *err) {
    *missing = 0;
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = 1;
    cfg.light_workers = 1;  /* both tiers are probed */
    cfg.allow_weaker = ~0u; /* the doctor reports what is missing instead of refusing */
    sbx_pool *pool;
    rt_status st = sbx_pool_init(&pool, &cfg, err);
    if (st) {
        fprintf(out, "MISSING  sandbox: the worker could not start: %s\n", err->msg);
        return rt_err_prefix(err, "sandbox doctor");
    }
    char full_code[sizeof probe_code + 32];
    snprintf(full_code, sizeof full_code, "# numpy (full tier)\n%s", probe_code);
    cJSON *l = probe(pool, probe_code, err);
    cJSON *f = l ? probe(pool, full_code, err) : NULL;
    sbx_stats stats;
    sbx_pool_stats(pool, &stats);
    if (!f) {
        sbx_pool_free(pool);
        cJSON_Delete(l);
        return err->status ? err->status : RT_EINTERNAL;
    }
    isolation_lines(out, missing, f, l, &stats);
    memory_line(out, missing, pool);
    sbx_pool_free(pool);
    limit_lines(out, missing, &stats, &cfg);
    cJSON_Delete(f);
    cJSON_Delete(l);
    return RT_OK;
}
