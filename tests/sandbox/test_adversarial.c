/* The adversarial suite: hostile programs run through one pool, two at a time. Each asserts containment (its own
 * checks print CONTAINED, nothing prints ESCAPED, and the status is one of those allowed); then the pool must still
 * answer, no worker may have died, and freeing it must leave no process, descriptor, cgroup or host file behind.
 * Where the kind of refusal depends on the host rather than on the sandbox (a kernel without 32-bit emulation answers
 * `int 0x80` with SIGSEGV, not seccomp's SIGSYS; on slow page faults a memory bomb spends its CPU limit before it
 * reaches its memory limit), the case asserts the kind of refusal and that the program never got what it asked for,
 * not one signal number or one limit. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timer.h"
#include "helpers.h"
#include "sandbox/server.h"

#define OK (1 << SBX_OK)
#define ERR (1 << SBX_ERROR)
#define TMO (1 << SBX_TIMEOUT)
#define MEM (1 << SBX_MEMORY)
#define OUT (1 << SBX_OUTPUT_LIMIT)

typedef struct adv_case {
    const char *name;
    const char *code; /* "PORT" is replaced by the server's port */
    double wall_s;
    int allowed;            /* bit mask of allowed statuses */
    const char *expect_out; /* substring stdout must hold, NULL for none */
    const char *expect_err; /* substring stderr must hold, NULL for none */
    int expect_signal;      /* 0: any; > 0: that signal; < 0: a REFUSED_* kind of refusal */
} adv_case;

enum {
    /* A forbidden system call: either the call failed (status OK, the program printed CONTAINED after checking its
     * return value) or the program was killed by a signal at the call (status ERROR, no exit code): SIGSYS from the
     * seccomp filter, or SIGSEGV where the kernel has no such entry point. It must have reached the call ("start"). */
    REFUSED_KILLED_OR_DENIED = -1,
    /* A memory bomb that prints "held N" (MiB) after each piece: stopped by the memory limit or by the CPU limit
     * (which it reaches first where page faults are slow), never holding much more than the memory limit and never
     * printing its success marker. */
    REFUSED_MEMORY_OR_CPU = -2,
};

#define SYSCALL_DENIED(nr)                                                                                             \
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.syscall(" #nr ", 0, 0, 0, 0, 0)\n"              \
    "print('CONTAINED' if r == -1 and ctypes.get_errno() in (1, 38) else 'ESCAPED %d' % r)\n"

static const adv_case cases[] = {
    {"fork bomb", "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n", 2, TMO | ERR, 0, 0, 0},
    {"thread bomb",
     "import threading, time\nn = 0\ntry:\n    while True:\n        threading.Thread(target=time.sleep, args=(30,), "
     "daemon=True).start(); n += 1\nexcept RuntimeError:\n    print('CONTAINED', n, flush=True)\nimport "
     "os\nos._exit(0)\n",
     5, OK, "CONTAINED", 0, 0},
    {"memory bomb bytearray", "x = bytearray(8 << 30)\n", 5, MEM, 0, "MemoryError", 0},
    {"memory bomb numpy", "import numpy as np\nx = np.ones(2**31)\n", 5, MEM, 0, "Unable to allocate", 0},
    {"memory bomb mmap",
     "import mmap\ntry:\n    m = mmap.mmap(-1, 8 << 30)\n    m[::4096] = b'x' * len(m[::4096])\n    print('ESCAPED')\n"
     "except (OSError, MemoryError, ValueError):\n    print('CONTAINED')\n",
     5, OK | MEM, 0, 0, 0},
    {"memory bomb gradual",
     "l = []\nfor i in range(4096):\n    l.append(bytearray(16 << 20))\n    print('held', 16 * len(l), flush=True)\n"
     "print('ESCAPED: 64 GiB held')\n",
     10, MEM | TMO, 0, 0, REFUSED_MEMORY_OR_CPU},
    {"infinite loop python", "while True:\n    pass\n", 1.5, TMO, 0, 0, 0},
    {"infinite loop numpy", "import numpy as np\na = np.random.rand(300, 300)\nwhile True:\n    np.linalg.svd(a)\n",
     1.5, TMO, 0, 0, 0},
    {"sleep forever", "import time\ntime.sleep(10**6)\n", 1.5, TMO, 0, 0, 0},
    {"SIGXCPU ignored",
     "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
     "while True:\n    pass\n",
     3, TMO, 0, 0, 0},
    {"SIGTERM ignored", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(100)\n", 1.5,
     TMO, 0, 0, 0},
    {"1 GB of output", "import sys\nb = 'x' * (1 << 20)\nfor i in range(1024):\n    sys.stdout.write(b)\n", 10, OUT, 0,
     0, 0},
    {"one huge line", "print('y' * (64 << 20))\n", 10, OUT, 0, 0, 0},
    {"stderr flood", "import sys\nwhile True:\n    sys.stderr.write('e' * 65536)\n", 10, OUT, 0, 0, 0},
    {"invalid utf-8", "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\x00ok')\n", 5, OK, 0, 0, 0},
    {"daemonised grandchild keeps stdout",
     "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(100)\n"
     "    os._exit(0)\nprint('CONTAINED parent leaves')\n",
     5, OK, "CONTAINED", 0, 0},
    {"network external address",
     "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=1); print('ESCAPED')\n"
     "except OSError:\n    print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"network dns",
     "import socket\ntry:\n    print('ESCAPED', socket.getaddrinfo('example.com', 80))\nexcept OSError:\n"
     "    print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"network to the server's own port",
     "import socket\ntry:\n    socket.create_connection(('127.0.0.1', PORT), timeout=1); print('ESCAPED')\n"
     "except OSError:\n    print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"network ipv6",
     "import socket\ntry:\n    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.connect(('::1', PORT))\n"
     "    print('ESCAPED')\nexcept OSError:\n    print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"network raw socket",
     "import socket\nok = 0\nfor fam, t in ((socket.AF_INET, socket.SOCK_RAW), (socket.AF_PACKET, socket.SOCK_RAW)):\n"
     "    try:\n        socket.socket(fam, t, 0 if fam == socket.AF_PACKET else 1)\n    except OSError:\n        ok += "
     "1\n"
     "print('CONTAINED' if ok == 2 else 'ESCAPED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"network netlink",
     "import socket\ntry:\n    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); print('ESCAPED')\nexcept "
     "OSError:\n"
     "    print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"network udp",
     "import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))\n"
     "    print('ESCAPED')\nexcept OSError:\n    print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"/proc/1/environ and environment",
     "import os\nenv = dict(os.environ)\ntry:\n    env['p1'] = open('/proc/1/environ', 'rb').read().decode()\n"
     "except OSError:\n    pass\nprint('ESCAPED' if 'RETOOL_ADV_SECRET' in repr(env) else 'CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"kill(-1)",
     "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint('CONTAINED')\n", 5,
     OK | ERR, 0, 0, 0},
    {"kill(parent)",
     "import os, signal\nprint('ppid', os.getppid(), flush=True)\nfor pid in range(2, 64):\n    try:\n"
     "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\nos.kill(os.getppid(), signal.SIGKILL)\n"
     "print('CONTAINED')\n",
     5, OK | ERR, "ppid 0", 0, 0},
    {"ptrace",
     "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
     "a = libc.ptrace(16, 1, 0, 0)\nb = libc.ptrace(0, 0, 0, 0)\n"
     "print('CONTAINED' if a == -1 and b == -1 else 'ESCAPED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"process_vm_readv", SYSCALL_DENIED(310), 5, OK, "CONTAINED", 0, 0},
    {"bpf", SYSCALL_DENIED(321), 5, OK, "CONTAINED", 0, 0},
    {"perf_event_open", SYSCALL_DENIED(298), 5, OK, "CONTAINED", 0, 0},
    {"keyctl", SYSCALL_DENIED(250), 5, OK, "CONTAINED", 0, 0},
    {"userfaultfd", SYSCALL_DENIED(323), 5, OK, "CONTAINED", 0, 0},
    {"io_uring_setup", SYSCALL_DENIED(425), 5, OK, "CONTAINED", 0, 0},
    {"kexec_load", SYSCALL_DENIED(246), 5, OK, "CONTAINED", 0, 0},
    {"finit_module", SYSCALL_DENIED(313), 5, OK, "CONTAINED", 0, 0},
    {"mount and umount",
     "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
     "a = libc.mount(b'tmpfs', b'/tmp', b'tmpfs', 0, None)\nb = libc.umount2(b'/proc', 2)\n"
     "print('CONTAINED' if a == -1 and b == -1 else 'ESCAPED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"unshare and setns",
     "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
     "a = libc.unshare(0x10000000)\nb = libc.unshare(0x20000)\nfd = os.open('/proc/self/ns/net', os.O_RDONLY)\n"
     "c = libc.setns(fd, 0)\nprint('CONTAINED' if a == b == c == -1 else 'ESCAPED')\n",
     5, OK, "CONTAINED", 0, 0},
    /* getpid through the x32 and the i386 entry points: a pid back (> 0) means the call ran. */
    {"x32 system call",
     "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint('start', flush=True)\n"
     "r = libc.syscall(0x40000000 | 39)\nprint('CONTAINED' if r == -1 else 'ESCAPED %d' % r)\n",
     5, OK | ERR, "start", 0, REFUSED_KILLED_OR_DENIED},
    {"i386 int 0x80",
     "import ctypes, mmap\nm = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
     "m.write(b'\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\xc3')\n"
     "f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))\nprint('start', flush=True)\n"
     "r = f()\nprint('CONTAINED' if r < 0 else 'ESCAPED %d' % r)\n",
     5, OK | ERR, "start", 0, REFUSED_KILLED_OR_DENIED},
    {"symlinks planted for the host",
     "import os\nos.symlink('/etc/passwd', 'out.txt')\nos.symlink('/', 'root')\nprint('planted')\n", 5, OK, "planted",
     0, 0},
    {"writes outside the work dir",
     "import os\nbad = []\nfor p in ('/usr/x', '/etc/x', '/x', '/proc/sys/kernel/hostname', '/dev/x', '/bin/x'):\n"
     "    try:\n        open(p, 'w').write('x'); bad.append(p)\n    except OSError:\n        pass\n"
     "open('/tmp/retool-adv-escape', 'w').write('x')\nprint('ESCAPED', bad) if bad else print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"host and project paths",
     "import os\nseen = [p for p in ('/root', '/home', '/var', '/work/wt', '/etc/shadow', '/srv',\n"
     "        '/dev/mem', '/dev/vda', '/dev/kmsg', '/sys', '/run', '/opt') if os.path.exists(p)]\n"
     "print('ESCAPED', seen) if seen else print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"sys.exit early", "import sys\nprint('before')\nsys.exit(5)\nprint('after')\n", 5, ERR, "before", 0, 0},
    {"os._exit early", "import os\nos.write(1, b'CONTAINED')\nos._exit(0)\n", 5, OK, "CONTAINED", 0, 0},
    {"deep recursion", "def f(n):\n    return f(n + 1)\nf(0)\n", 5, ERR, 0, "RecursionError", 0},
    {"deep recursion past the C stack",
     "import sys, threading\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)\n", 5, ERR | TMO | MEM,
     0, 0, 0},
    {"ctypes null dereference", "import ctypes\nctypes.string_at(0)\n", 5, ERR, 0, 0, SIGSEGV},
    {"input() with no stdin", "x = input()\n", 5, ERR, 0, "EOFError", 0},
    {"disk fill",
     "import os\nn = 0\ntry:\n    for i in range(10**6):\n        with open('/tmp/f%d' % i, 'wb') as f:\n"
     "            f.write(b'z' * (1 << 20)); n += 1\nexcept OSError as e:\n    print('CONTAINED', n, e.errno)\n",
     10, OK, "CONTAINED", 0, 0},
    {"one file past the size limit",
     "try:\n    open('big', 'wb').write(b'z' * (64 << 20)); print('ESCAPED')\nexcept OSError as e:\n"
     "    print('CONTAINED', e.errno)\n",
     10, OK | MEM, 0, 0, 0},
    /* What matters is not the uid inside (an ordinary user's sandbox code is uid 0 of its own user namespace) but
     * what it can reach: after setuid/setgid/chroot games (and the chroot-and-climb escape) no capability, no host
     * root in its uid map (host root's files show as the overflow uid), no host file outside the sandbox's root, no
     * /etc/shadow, and no host-root-owned file it can change. */
    {"setuid and chroot",
     "import os\nbad = []\ndef tried(f):\n    try:\n        f(); return 1\n    except OSError:\n        return 0\n"
     "for f in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.setuid(12345), lambda: os.chroot('/tmp')):\n"
     "    tried(f)\n"
     "def climb():\n    os.makedirs('/tmp/j', exist_ok=True); os.chroot('/tmp/j')\n"
     "    for i in range(64): os.chdir('..')\n    os.chroot('.')\n"
     "tried(climb)\n"
     "if int(open('/proc/self/status').read().split('CapEff:')[1].split()[0], 16): bad.append('capabilities')\n"
     "for line in open('/proc/self/uid_map'):\n    i, h, n = map(int, line.split())\n"
     "    if h == 0: bad.append('host root mapped')\n"
     "bad += [p for p in ('/etc/shadow', '/root', '/home', '/var', '/srv', '/.old', '/proc/1/root/etc/shadow')\n"
     "        if os.path.exists(p)]\n"
     "if tried(lambda: open('/etc/shadow').read()): bad.append('read /etc/shadow')\n"
     "ov = int(open('/proc/sys/kernel/overflowuid').read())\n"
     "for p in ('/usr', '/usr/bin', '/etc/ld.so.cache', '/dev/null'):\n"
     "    st = os.stat(p)\n"
     "    if st.st_uid != ov: bad.append('%s owned by uid %d inside' % (p, st.st_uid))\n"
     /* /dev/null is on a writable mount: only changes that need ownership, each to the value it already has */
     "    changes = [lambda: os.chmod(p, st.st_mode & 0o7777), lambda: os.utime(p, (st.st_atime, st.st_mtime))]\n"
     "    if not p.startswith('/dev'):\n"
     "        changes += [lambda: os.chown(p, os.getuid(), os.getgid()),\n"
     "                    lambda: open(p + ('/x' if os.path.isdir(p) else ''), 'ab')]\n"
     "    for f in changes:\n"
     "        if tried(f): bad.append('changed ' + p)\n"
     "print('ESCAPED', bad) if bad else print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"descriptors and limits",
     "import os, resource\nfds = os.listdir('/proc/self/fd')\ncore = resource.getrlimit(resource.RLIMIT_CORE)\n"
     "print('CONTAINED' if len(fds) <= 6 and core == (0, 0) else 'ESCAPED %r %r' % (fds, core))\n",
     5, OK, "CONTAINED", 0, 0},
    {"sysv ipc of the host",
     "print('ESCAPED' if len(open('/proc/sysvipc/shm').read().splitlines()) > 1 else "
     "'CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
    {"status pipe flood",
     "import os\nfor fd in [int(f) for f in os.listdir('/proc/self/fd') if int(f) > 2]:\n    try:\n"
     "        os.write(fd, b'x' * (1 << 20))\n    except OSError:\n        pass\nprint('done')\n",
     5, OUT | OK, 0, 0, 0},
    {"forged exit report",
     "import os, time\nfor fd in [int(f) for f in os.listdir('/proc/self/fd') if int(f) > 2]:\n    try:\n"
     "        os.write(fd, b'X0 0.0\\n')\n    except OSError:\n        pass\ntime.sleep(100)\n",
     3, OK | TMO, 0, 0, 0},
    {"processes of others",
     "import os\nothers = [p for p in os.listdir('/proc') if p.isdigit() and p != '1']\n"
     "print('ESCAPED', others) if others else print('CONTAINED')\n",
     5, OK, "CONTAINED", 0, 0},
};

/* A holder keeps a secret file, a secret in memory and an abstract socket while a prober looks for them. */
static const char holder[] =
    "import socket, time\nopen('/tmp/secret-h', 'w').write('RETOOL-HELD')\nopen('secret-h', 'w').write('RETOOL-HELD')\n"
    "keep = 'RETOOL-' + 'HELD-IN-MEMORY'\ns = socket.socket(socket.AF_UNIX)\ns.bind('\\0retool-adv')\ns.listen()\n"
    "print('HELD', flush=True)\ntime.sleep(3)\n";
static const char prober[] =
    "import os, socket, glob\nfound = [p for p in ('/tmp/secret-h', '/work/secret-h') if os.path.exists(p)]\n"
    "found += glob.glob('/proc/*/root/*/secret-h')\n"
    "for pid in os.listdir('/proc'):\n    if pid.isdigit() and pid != '1':\n        found.append('pid ' + pid)\n"
    "s = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect('\\0retool-adv'); found.append('abstract socket')\n"
    "except OSError:\n    pass\nprint('ESCAPED', found) if found else print('CONTAINED')\n";

static char *with_port(const char *code, int port) {
    const char *at = strstr(code, "PORT");
    char *out = malloc(strlen(code) + 16);
    if (!at) {
        strcpy(out, code);
        return out;
    }
    sprintf(out, "%.*s%d%s", (int)(at - code), code, port, at + 4);
    char *again = strstr(out, "PORT");
    if (again) {
        char *o2 = with_port(out, port);
        free(out);
        return o2;
    }
    return out;
}

/* The largest "held N" that a memory bomb printed (0 if none); a line cut by the kill does not parse. */
static long max_held(const char *out) {
    long best = 0;
    for (const char *at = strstr(out, "held "); at; at = strstr(at + 1, "held ")) {
        long v;
        char nl;
        if (sscanf(at, "held %ld%c", &v, &nl) == 2 && nl == '\n' && v > best) best = v;
    }
    return best;
}

static void check_case(const adv_case *c, const sbx_result *r, int64_t memory_mb) {
    cr_expect(r->status < 32 && (c->allowed & (1 << r->status)),
              "%s: status %s not allowed (%s, cpu %.2f s, wall %.2f s) stderr: %.300s", c->name,
              sbx_status_name(r->status), r->message, r->cpu_s, r->wall_s, r->err);
    cr_expect(!strstr(r->out, "ESCAPED"), "%s: %.300s", c->name, r->out);
    if (c->expect_out) cr_expect(strstr(r->out, c->expect_out) != NULL, "%s: stdout %.300s", c->name, r->out);
    if (c->expect_err) cr_expect(strstr(r->err, c->expect_err) != NULL, "%s: stderr %.300s", c->name, r->err);
    if (c->expect_signal > 0) cr_expect_eq(r->signal, c->expect_signal, "%s: signal %d", c->name, r->signal);
    if (c->expect_signal == REFUSED_KILLED_OR_DENIED) {
        if (r->status == SBX_OK)
            cr_expect(strstr(r->out, "CONTAINED") != NULL, "%s: the call neither failed nor was stopped: %.300s",
                      c->name, r->out);
        else
            cr_expect(r->signal > 0 && r->exit_code == -1, "%s: status %s without a killing signal (exit %d): %.300s",
                      c->name, sbx_status_name(r->status), r->exit_code, r->err);
    }
    if (c->expect_signal == REFUSED_MEMORY_OR_CPU) {
        if (r->status == SBX_TIMEOUT)
            cr_expect(strstr(r->message, "CPU limit") != NULL, "%s: stopped by %s, not by the memory or CPU limit",
                      c->name, r->message);
        long held = max_held(r->out);
        cr_expect(held > 0, "%s: never held a first piece, so no limit was tested: %.300s", c->name, r->err);
        /* RLIMIT_AS is the worker's address space when it started, plus 64 MiB of headroom (sbx_worker_py.c), plus
         * memory_mb: a program may hold a little more than memory_mb, never twice as much. */
        cr_expect_leq(held, memory_mb + 128, "%s: held %ld MiB, past the memory limit of %lld MiB", c->name, held,
                      (long long)memory_mb);
    }
}

Test(adversarial, suite_is_contained) {
    cr_assert_geq(sizeof cases / sizeof *cases, 40u);
    setenv("RETOOL_ADV_SECRET", "host-secret", 1);
    unlink("/tmp/retool-adv-escape");
    int fds = th_count_fds();
    sbx_config cfg;
    th_config(&cfg, 2);
    cfg.light_workers = 2; /* hostile programs that name no numpy run on the light tier: both tiers are checked */
    cfg.queue_max = 128;
    /* Run as an ordinary user (tests/long/sandbox_nonroot.sh), the host cannot give these: every case must still be
     * contained without them. */
    if (geteuid() != 0) cfg.allow_weaker = SBX_WEAK_CGROUP_MEMORY | SBX_WEAK_CGROUP_PIDS | SBX_WEAK_UID_SEPARATION;
    sbx_pool *pool;
    rt_error err;
    cr_assert_eq(sbx_pool_init(&pool, &cfg, &err), RT_OK, "%s", err.msg);
    sbx_server_config scfg;
    sbx_server_config_default(&scfg);
    scfg.port = 0;
    sbx_server *srv;
    cr_assert_eq(sbx_server_start(&srv, pool, &scfg, &err), RT_OK, "%s", err.msg);
    int port = sbx_server_port(srv);

    /* Phase 1: two runs side by side, on the two workers. */
    sbx_request hreq = {.code = holder, .code_len = strlen(holder)};
    sbx_job *h, *p;
    cr_assert_eq(sbx_pool_submit(pool, &hreq, NULL, NULL, &h, &err), RT_OK);
    double end = rt_time_now() + 10;
    sbx_stats st;
    do {
        usleep(20000);
        sbx_pool_stats(pool, &st);
    } while (st.running < 1 && rt_time_now() < end);
    usleep(300000); /* the holder has written its files and bound its socket */
    sbx_request preq = {.code = prober, .code_len = strlen(prober)};
    cr_assert_eq(sbx_pool_submit(pool, &preq, NULL, NULL, &p, &err), RT_OK);
    sbx_job_wait(p, 30);
    cr_expect_str_eq(sbx_job_result(p)->out, "CONTAINED\n", "%s", sbx_job_result(p)->err);
    cr_expect(!sbx_job_done(h), "the prober ran while the holder was alive");
    /* A run that signals its process group (kill(0)) and every pid it can name must not reach the holder. */
    const char *killer =
        "import os, signal\nfor p in range(2, 300):\n    try: os.kill(p, 9)\n    except OSError: pass\n"
        "os.kill(0, signal.SIGKILL)\n";
    sbx_request kreq = {.code = killer, .code_len = strlen(killer)};
    sbx_job *k;
    cr_assert_eq(sbx_pool_submit(pool, &kreq, NULL, NULL, &k, &err), RT_OK);
    sbx_job_wait(k, 30);
    cr_expect(sbx_job_done(k), "the killer finished (as pid 1 of its namespace it cannot even kill itself)");
    cr_expect(!sbx_job_done(h), "the holder is still running");
    sbx_job_free(k);
    sbx_job_wait(h, 30);
    cr_expect_str_eq(sbx_job_result(h)->out, "HELD\n", "%s", sbx_job_result(h)->err);
    cr_expect_eq(sbx_job_result(h)->status, SBX_OK, "the holder ended normally");
    sbx_job_free(h);
    sbx_job_free(p);

    /* Phase 2: every hostile program, queued at once. */
    size_t n = sizeof cases / sizeof *cases;
    sbx_job **jobs = calloc(n, sizeof *jobs);
    char **codes = calloc(n, sizeof *codes);
    const char *fetch[] = {"out.txt", "root/etc/passwd"};
    sbx_limits limits;
    sbx_limits_default(&limits);
    for (size_t i = 0; i < n; i++) {
        codes[i] = with_port(cases[i].code, port);
        sbx_request req = {.code = codes[i], .code_len = strlen(codes[i])};
        req.limits.wall_s = cases[i].wall_s;
        req.limits.cpu_s = cases[i].wall_s > 2 ? 1 : 0;
        if (!strcmp(cases[i].name, "symlinks planted for the host")) {
            req.fetch = fetch;
            req.nfetch = 2;
        }
        cr_assert_eq(sbx_pool_submit(pool, &req, NULL, NULL, &jobs[i], &err), RT_OK, "%s: %s", cases[i].name, err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        cr_assert(sbx_job_wait(jobs[i], 60), "%s never finished", cases[i].name);
        const sbx_result *r = sbx_job_result(jobs[i]);
        check_case(&cases[i], r, limits.memory_mb);
        if (!strcmp(cases[i].name, "invalid utf-8"))
            cr_expect(r->out_len == 5 && memcmp(r->out, "\xff\xfe\x00ok", 5) == 0, "bytes come back unchanged");
        if (!strcmp(cases[i].name, "symlinks planted for the host"))
            cr_expect_eq(r->nfiles, 0u, "no symlink is followed when fetching: %s", r->message);
        if (r->status == SBX_TIMEOUT) cr_expect_lt(r->wall_s, cases[i].wall_s + 5, "%s", cases[i].name);
        sbx_job_free(jobs[i]);
        free(codes[i]);
    }
    free(jobs);
    free(codes);
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.worker_restarts, 0, "no hostile program took a worker down");
    sbx_result r = th_run(pool, "print(6 * 7)", 5);
    cr_expect_str_eq(r.out, "42\n", "the pool still answers");
    sbx_result_free(&r);
    sbx_server_stop(srv);
    sbx_pool_free(pool);
    cr_expect_eq(th_count_uid_procs(cfg.uid_base), 0, "no sandbox process is left");
    cr_expect_eq(th_count_fds(), fds, "no descriptor is left");
    cr_expect_eq(th_count_cgroups(), 0, "no cgroup is left");
    cr_expect(access("/tmp/retool-adv-escape", F_OK) != 0, "nothing reached the host's /tmp");
}
