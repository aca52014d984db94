# The markdown table of docs/SANDBOX.md from one or more parse.py outputs (ranges over them): table.py STEPS...
import re, sys
order = [
 ("W: pipes, setns + unshare(NEWPID)", "worker: 4 pipes, setns + unshare(CLONE_NEWPID)", "prefork"),
 ("fork -> child first runs", "fork: clone() in the worker until the child first runs (parent side alone: see below)", "prefork"),
 ("C: setsid..unshare enter", "child: after-fork (PyOS_AfterFork_Child, close_range, setsid), COW faults", "prefork"),
 ("C: unshare(NEWNS|NEWIPC)", "child: unshare(CLONE_NEWNS \\| CLONE_NEWIPC)", "prefork"),
 ("C: 3 tmpfs mounts", "child: mount tmpfs /tmp, /work, /dev/shm (3 calls)", "prefork"),
 ("C: mount /proc", "child: mount a fresh /proc", "prefork"),
 ("C: chown /work + write M", "child: chown /work, write \"M\"", "prefork"),
 ("W: M seen -> open root/work (prefork ready)", "worker: wake on \"M\", open /proc/PID/root/work", "prefork"),
 ("W: request in -> job sent (parse, header)", "worker: control frame in -> job frame sent (JSON parse, job header)", "request"),
 ("job sent -> child has read it", "job frame delivery (child wakes, reads)", "request"),
 ("C: parse job (JSON)", "child: parse the job header (cJSON; first-touch faults)", "request"),
 ("C: 8 rlimits", "child: 8 setrlimit", "request"),
 ("C: setgroups/setresgid/setresuid", "child: uid switch (setgroups, setresgid, setresuid)", "request"),
 ("C: chdir, stdin, dup2, close_range", "child: chdir, stdin (/dev/null), dup2, close_range", "request"),
 ("C: seccomp install (prctl)", "child: seccomp install (prctl SECCOMP_MODE_FILTER)", "request"),
 ("C: Python: reseed + compile + run print(1) + exit report", "child: Python: reseed, compile + run print(1), exit report", "request"),
 ("W: exit report -> answer sent", "worker: exit report -> answer frame sent (drain, JSON)", "request"),
 ("W: answer -> reaped (kill, wait4)", "teardown: kill + wait4 (child exit: mm, files, mount/ipc/pid ns)", "teardown"),
 ("W: reap closes -> next prefork", "worker: close the child's pipes and workfd", "teardown"),
]
def load(f):
    d = {}
    for line in open(f):
        m = re.match(r"(.*?)\s+n=\s*\d+ median\s+([\d.]+)\s+p90\s+([\d.]+)", line)
        if m: d[m.group(1).strip()] = (float(m.group(2)), float(m.group(3)))
    return d
runs = [load(f) for f in sys.argv[1:]]
tot = [sum(r[k][0] for k, _, _ in order) for r in runs]
print("| phase | step | median us | p90 us | share of the cycle |")
print("| --- | --- | --- | --- | --- |")
def rng(a):
    a = sorted(a); return "%.0f" % a[0] if round(a[0]) == round(a[-1]) else "%.0f-%.0f" % (a[0], a[-1])
for k, name, ph in order:
    med = [r[k][0] for r in runs]; p90 = [r[k][1] for r in runs]
    sh = [r[k][0] / t * 100 for r, t in zip(runs, tot)]
    print("| %s | %s | %s | %s | %s %% |" % (ph, name, rng(med), rng(p90), rng(sh)))
print("| | **sum of medians (one worker cycle)** | %s | | 100 %% |" % rng(tot))
for k in ["W: fork (clone syscall, parent side)", "PREFORK total (pipes -> ready)", "REQUEST PATH (W: request in -> answer sent)", "C: process exit event -> W wait4 returns", "CHILD LIFETIME fork -> exit", "idle: prefork ready -> request arrives"]:
    print("| extra | %s | %s | %s | |" % (k, rng([r[k][0] for r in runs]), rng([r[k][1] for r in runs])))
