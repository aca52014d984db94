/* The doctor (see doctor.h): every check is observed from inside a real sandboxed run, not inferred from config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "     'capeff': st.get('CapEff', '?').strip(),\n"
    "     'inet': blocked(socket.AF_INET, socket.SOCK_STREAM), 'inet6': blocked(socket.AF_INET6, socket.SOCK_DGRAM),\n"
    "     'netlink': blocked(socket.AF_NETLINK, socket.SOCK_RAW),\n"
    "     'ptrace': libc.ptrace(0, 0, 0, 0) != 0, 'unshare': libc.unshare(0x10000000) != 0,\n"
    "     'present': [p for p in ('/root', '/home', '/var', '/srv', '/opt', '/mnt', '/media', '/run', '/boot')\n"
    "                 if os.path.exists(p)],\n"
    "     'usr_ro': ro('/usr/retool-probe'), 'etc_ro': ro('/etc/retool-probe'),\n"
    "     'tmp_empty': os.listdir('/tmp') == [], 'work_empty': os.listdir('.') == [], 'cwd': os.getcwd(),\n"
    "     'env': sorted(os.environ),\n"
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

rt_status sbx_doctor_run(FILE *out, int *missing, rt_error *err) {
    *missing = 0;
    int cg_mem = 0, cg_pids = 0;
    char why[700];
    sbx_cgroup_probe(&cg_mem, &cg_pids, why, sizeof why);
    sbx_config cfg;
    sbx_config_default(&cfg);
    cfg.workers = 1;
    cfg.light_workers = -1; /* both tiers set children up with the same code (src/sandbox/zygote); one is probed */
    sbx_pool *pool;
    rt_status st = sbx_pool_init(&pool, &cfg, err);
    if (st) {
        fprintf(out, "MISSING  sandbox: the worker could not start: %s\n", err->msg);
        return rt_err_prefix(err, "sandbox doctor");
    }
    sbx_request req = {.code = probe_code, .code_len = strlen(probe_code)};
    req.limits.wall_s = 20;
    sbx_result res;
    st = sbx_pool_run(pool, &req, &res, err);
    sbx_stats stats;
    sbx_pool_stats(pool, &stats);
    sbx_pool_free(pool);
    if (st) return st;
    cJSON *r = res.status == SBX_OK ? cJSON_Parse(res.out) : NULL;
    if (!r) {
        st = rt_err_set(err, RT_EINTERNAL, "the doctor's probe failed (%s): %.300s", sbx_status_name(res.status),
                        res.err);
        sbx_result_free(&res);
        return st;
    }
    char d[600];
    double uid = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "uid"));
    double pid = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "pid"));
    snprintf(d, sizeof d, "code runs as uid %g inside, mapped to unprivileged host uid %u", uid, cfg.uid_base + 1);
    line(out, uid == 1000, missing, "user namespace", d);
    snprintf(d, sizeof d, "each run is pid %g of its own pid namespace (killing it kills its whole tree)", pid);
    line(out, pid == 1, missing, "pid namespace", d);
    int net = jbool(r, "inet") && jbool(r, "inet6") && jbool(r, "netlink");
    line(out, net, missing, "network",
         net ? "own net namespace with loopback down; AF_INET/AF_INET6/netlink denied"
             : "a non-unix socket could be created");
    snprintf(d, sizeof d, "hostname '%s'", jstr(r, "hostname"));
    line(out, !strcmp(jstr(r, "hostname"), "sandbox"), missing, "uts namespace", d);
    const cJSON *present = cJSON_GetObjectItemCaseSensitive(r, "present");
    int hidden = cJSON_GetArraySize(present) == 0 && jbool(r, "usr_ro") && jbool(r, "etc_ro");
    line(out, hidden, missing, "mount namespace",
         hidden ? "only /usr, /bin, /lib*, a minimal /etc and /dev, read-only; /root, /home, /var, host /tmp absent"
                : "host paths visible or system folders writable");
    int tmp = jbool(r, "tmp_empty") && jbool(r, "work_empty");
    line(out, tmp, missing, "private tmpfs", tmp ? "fresh /tmp, /work (cwd) and /dev/shm per run" : "not empty");
    snprintf(d, sizeof d, "Seccomp mode %s, NoNewPrivs %s", jstr(r, "seccomp"), jstr(r, "nnp"));
    line(out, !strcmp(jstr(r, "seccomp"), "2") && !strcmp(jstr(r, "nnp"), "1"), missing, "seccomp + no_new_privs", d);
    int sc = jbool(r, "ptrace") && jbool(r, "unshare");
    line(out, sc, missing, "seccomp denials", sc ? "ptrace and unshare refused" : "ptrace or unshare allowed");
    snprintf(d, sizeof d, "effective capabilities %s", jstr(r, "capeff"));
    line(out, !strcmp(jstr(r, "capeff"), "0000000000000000"), missing, "capabilities dropped", d);
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(r, "rlimits");
    const char *names[] = {"AS", "CPU", "FSIZE", "NOFILE", "NPROC", "CORE"};
    int rl_ok = 1;
    size_t off = 0;
    for (int i = 0; i < 6; i++) {
        double v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rl, names[i]));
        if (v < 0) rl_ok = 0;
        off += (size_t)snprintf(d + off, sizeof d - off, "%s%s=%.0f", i ? " " : "", names[i], v);
    }
    line(out, rl_ok, missing, "rlimits", d);
    snprintf(d, sizeof d, "%d variables (%s)", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "env")),
             "PATH, HOME, TMPDIR, LANG, thread counts");
    line(out, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "env")) <= 10, missing, "scrubbed environment", d);
    snprintf(d, sizeof d, "%d open descriptors at start (stdin, stdout, stderr, status pipe + the probe's own)",
             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "fds")));
    line(out, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "fds")) <= 6, missing, "closed descriptors", d);
    snprintf(d, sizeof d, "%s",
             stats.cgroup_memory ? "per-worker memory cgroup in force"
                                 : "not in force, RLIMIT_AS limits each run instead");
    line(out, stats.cgroup_memory, missing, "cgroup memory", stats.cgroup_memory ? d : why[0] ? why : d);
    snprintf(d, sizeof d, "%s",
             stats.cgroup_pids ? "per-worker pids cgroup in force"
                               : "not in force, RLIMIT_NPROC limits each run instead");
    line(out, stats.cgroup_pids, missing, "cgroup pids", stats.cgroup_pids ? d : why[0] ? why : d);
    cJSON_Delete(r);
    sbx_result_free(&res);
    return RT_OK;
}
