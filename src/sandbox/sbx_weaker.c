/* Protections a host may not offer (cgroups, uid separation), the names `--allow-weaker-isolation` takes, and the
 * check that refuses to start a pool without one unless it was named; the worker uid range against /etc/subuid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "sandbox/sbx_pool_internal.h"

static const char *const weak_names[] = {"cgroup-memory", "cgroup-pids", "uid-separation"};
#define NWEAK (sizeof weak_names / sizeof *weak_names)

const char *sbx_weaker_name(unsigned bit) {
    for (unsigned i = 0; i < NWEAK; i++)
        if (bit == 1u << i) return weak_names[i];
    return "?";
}

rt_status sbx_weaker_parse(const char *list, unsigned *mask, rt_error *err) {
    *mask = 0;
    const char *p = list;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        unsigned i = 0;
        while (i < NWEAK && (strlen(weak_names[i]) != n || strncmp(p, weak_names[i], n)))
            i++;
        if (i == NWEAK)
            return rt_err_set(err, RT_EINVAL,
                              "--allow-weaker-isolation: unknown protection '%.*s' (known: cgroup-memory, "
                              "cgroup-pids, uid-separation)",
                              (int)n, p);
        *mask |= 1u << i;
        p += n + (p[n] == ',');
    }
    return RT_OK;
}

int sbx_subid_clash(const char *path, uint32_t lo, uint32_t hi, char *msg, size_t msg_len) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512];
    int lineno = 0, clash = 0;
    while (!clash && fgets(line, sizeof line, f)) {
        lineno++;
        char name[256];
        unsigned long long start, count;
        if (sscanf(line, "%255[^:]:%llu:%llu", name, &start, &count) != 3) continue;
        if (start < hi && start + count > lo) {
            snprintf(msg, msg_len,
                     "the sandbox worker uids %u-%u overlap %s line %d (%s: %llu-%llu): a process of that user's "
                     "containers would share a host uid with sandboxed code; choose another uid_base (--uid-base)",
                     lo, hi - 1, path, lineno, name, start, start + count - 1);
            clash = 1;
        }
    }
    fclose(f);
    return clash;
}

int sbx_subid_find(const char *path, const char *user, uint32_t id, uint32_t need, uint32_t *start) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512], num[16];
    snprintf(num, sizeof num, "%u", id);
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        char name[256];
        unsigned long long s, c;
        if (sscanf(line, "%255[^:]:%llu:%llu", name, &s, &c) != 3) continue;
        if ((strcmp(name, user) && strcmp(name, num)) || c < need || s + c > 0xffffffffull) continue;
        *start = (uint32_t)s;
        found = 0;
    }
    fclose(f);
    return found;
}

rt_status sbx_isolation_check(sbx_pool *p, rt_error *err) {
    p->weaker = 0;
    p->weaker_why[0] = 0;
    size_t off = 0;
    const char *why[3] = {p->cgh.why_mem, p->cgh.why_pids,
                          p->launch.uid_mode == SBX_UIDS_SELF
                              ? "not root, and no /etc/subuid and /etc/subgid range for this user with newuidmap and "
                                "newgidmap: workers and code run as this process's own host uid (uid 0 without "
                                "capabilities inside)"
                              : ""};
    if (!p->w[0].cg.mem[0]) p->weaker |= SBX_WEAK_CGROUP_MEMORY;
    if (!p->w[0].cg.pids[0]) p->weaker |= SBX_WEAK_CGROUP_PIDS;
    if (p->launch.uid_mode == SBX_UIDS_SELF) p->weaker |= SBX_WEAK_UID_SEPARATION;
    for (unsigned i = 0; i < NWEAK && off < sizeof p->weaker_why; i++)
        if (p->weaker & (1u << i))
            off += (size_t)snprintf(p->weaker_why + off, sizeof p->weaker_why - off, "%s%s: %s", off ? "; " : "",
                                    weak_names[i], why[i][0] ? why[i] : "not in force");
    unsigned refused = p->weaker & ~p->cfg.allow_weaker;
    if (!refused) {
        if (p->weaker) rt_log_warn("sandbox: weaker isolation, as allowed: %s", p->weaker_why);
        return RT_OK;
    }
    char names[128] = "";
    for (unsigned i = 0, k = 0; i < NWEAK; i++)
        if (refused & (1u << i))
            k += (unsigned)snprintf(names + k, sizeof names - k, "%s%s", k ? "," : "", weak_names[i]);
    return rt_err_set(err, RT_EUNSUPPORTED,
                      "sandbox: this host cannot give every protection (%s); start anyway with "
                      "--allow-weaker-isolation %s (retool sandbox run/serve), --sandbox local:allow-weaker=%s (commands "
                      "that run rollouts), or sbx_config.allow_weaker (C); or fix the host (docs/SANDBOX.md)",
                      p->weaker_why, names, names);
}
