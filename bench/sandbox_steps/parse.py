# Attributes one sandboxed run's time per step (docs/SANDBOX.md, "Where a run's time goes"), from a system-wide
# `perf record -e raw_syscalls:sys_enter -e raw_syscalls:sys_exit -e sched:sched_process_fork
#  -e sched:sched_process_exit [-e exceptions:page_fault_user]` while one client sends print(1) back to back
# (bench/sandbox_steps/client.py), read back with `perf script --ns -F comm,pid,tid,time,event,trace`.
# Usage: parse.py PERF_SCRIPT_OUTPUT WORKER_HOST_PID   (x86_64 syscall numbers; the zygote's syscall sequence of
# src/sandbox/zygote/zyg_child.c and zyg_run.c: a change there may need a change here.)
import re, sys, collections, statistics
W = int(sys.argv[2])  # the worker's host pid
ev = collections.defaultdict(list)  # pid -> [(t, kind, nr, extra)]
faults = collections.Counter()
children = []
rx = re.compile(r'^\s*(\S+)\s+(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s+(.*)$')
for line in open(sys.argv[1]):
    m = rx.match(line)
    if not m: continue
    pid, t, name, rest = int(m.group(2)), float(m.group(4)), m.group(5), m.group(6)
    if name == 'raw_syscalls:sys_enter':
        ev[pid].append((t, 'in', int(rest.split()[1]), rest))
    elif name == 'raw_syscalls:sys_exit':
        ev[pid].append((t, 'out', int(rest.split()[1]), rest))
    elif name == 'sched:sched_process_fork':
        cp = int(re.search(r'child_pid=(\d+)', rest).group(1))
        if pid == W: children.append((t, cp))
    elif name == 'sched:sched_process_exit':
        ev[pid].append((t, 'exit', -1, rest))
    elif name == 'exceptions:page_fault_user':
        faults[pid] += 1

def calls(pid, nr, t0=0, t1=1e18):
    """(enter, exit) pairs of syscall nr of pid within [t0, t1]."""
    out, pend = [], None
    for t, k, n, _ in ev[pid]:
        if n != nr or t < t0 or t > t1: continue
        if k == 'in': pend = t
        elif k == 'out' and pend is not None: out.append((pend, t)); pend = None
    return out

def first(pid, kind, nr, t0=0, t1=1e18):
    for t, k, n, r in ev[pid]:
        if t >= t0 and t <= t1 and k == kind and (nr is None or n == nr): return t
    return None

steps = collections.defaultdict(list)
wev = ev[W]
for i, (tf, c) in enumerate(children[1:-1], 1):
    ce = ev[c]
    if not ce or not any(k == 'exit' for _, k, _, _ in ce): continue
    # worker side, before the fork
    clone = [p for p in calls(W, 56, tf - 0.05, tf + 0.05) if p[0] <= tf <= p[1]]
    if not clone: continue
    ce_in, ce_out = clone[0]
    pp = [p for p in calls(W, 293, ce_in - 0.05, ce_in) ][-4:]
    sn = [p for p in calls(W, 308, ce_in - 0.05, ce_in)][-1:]
    us = [p for p in calls(W, 272, ce_in - 0.05, ce_in)][-1:]
    if len(pp) < 4 or not sn or not us: continue
    steps['W: pipes, setns + unshare(NEWPID)'].append(ce_in - pp[0][0])
    steps['W: fork (clone syscall, parent side)'].append(ce_out - ce_in)
    c_first = ce[0][0]
    steps['fork -> child first runs'].append(c_first - ce_in)
    u = calls(c, 272)
    mnt = calls(c, 165)
    if not u or len(mnt) != 4: continue
    steps['C: setsid..unshare enter'].append(u[0][0] - c_first)
    steps['C: unshare(NEWNS|NEWIPC)'].append(u[0][1] - u[0][0])
    steps['C: 3 tmpfs mounts'].append(sum(b - a for a, b in mnt[:3]))
    steps['C: mount /proc'].append(mnt[3][1] - mnt[3][0])
    wM = calls(c, 20, mnt[3][1])[0]
    steps['C: chown /work + write M'].append(wM[1] - mnt[3][1])
    # worker: M received -> open /proc/pid/root/work
    op = calls(W, 257, wM[0])[0]
    steps['W: M seen -> open root/work (prefork ready)'].append(op[1] - wM[1])
    # the job
    jobw = calls(W, 20, op[1])[0]  # writev of the job frame
    rd = [p for p in calls(W, 0, op[1], jobw[0])]
    treq = rd[0][1] if rd else None  # first read of the control frame returns
    steps['W: request in -> job sent (parse, header)'].append(jobw[0] - treq)
    steps['idle: prefork ready -> request arrives'].append(treq - op[1])
    cr = calls(c, 0, wM[1])  # the job frame: 4-byte length, then the body
    jr = cr[1][1] if len(cr) > 1 else cr[0][1]
    steps['job sent -> child has read it'].append(jr - jobw[0])
    rl = calls(c, 302, jr) or calls(c, 160, jr)
    steps['C: parse job (JSON)'].append(rl[0][0] - jr)
    steps['C: 8 rlimits'].append(rl[-1][1] - rl[0][0])
    su = calls(c, 117, jr)
    steps['C: setgroups/setresgid/setresuid'].append(su[0][1] - rl[-1][1])
    sec = [p for p in calls(c, 157, su[0][1])][0]
    steps['C: chdir, stdin, dup2, close_range'].append(sec[0] - su[0][1])
    steps['C: seccomp install (prctl)'].append(sec[1] - sec[0])
    tex = [t for t, k, _, _ in ce if k == 'exit'][0]
    st = calls(c, 1, sec[1])[-1]
    steps['C: Python: reseed + compile + run print(1) + exit report'].append(st[1] - sec[1])
    tex = [t for t, k, _, _ in ce if k == 'exit'][0]
    steps['C: exit report written -> process exit (_exit: mm, files, ns teardown)'].append(tex - st[1])
    ans = calls(W, 46, st[0])[0]
    steps['W: exit report -> answer sent'].append(ans[0] - st[1])
    steps['REQUEST PATH (W: request in -> answer sent)'].append(ans[0] - treq)
    wt = calls(W, 61, ans[0])[0]
    steps['W: answer -> reaped (kill, wait4)'].append(wt[1] - ans[0])
    nxt = calls(W, 293, wt[1])
    if nxt:
        steps['W: reap closes -> next prefork'].append(nxt[0][0] - wt[1])
    steps['C: process exit event -> W wait4 returns'].append(wt[1] - tex)
    steps['child user page faults (count, with --faults)'].append(faults[c] * 1e-6)
    steps['CHILD LIFETIME fork -> exit'].append(tex - ce_in)
    steps['PREFORK total (pipes -> ready)'].append(op[1] - pp[0][0])

def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(q * len(v)))]
print("runs analysed: %d (worker %d)" % (len(steps['C: 3 tmpfs mounts']), W))
for k, v in steps.items():
    if 'count' in k:
        print("%-58s n=%3d median %8.0f  p90 %8.0f" % (k, len(v), statistics.median(v) * 1e6, pct(v, .9) * 1e6))
        continue
    print("%-58s n=%3d median %8.1f  p90 %8.1f  us" % (k, len(v), statistics.median(v) * 1e6, pct(v, .9) * 1e6))
