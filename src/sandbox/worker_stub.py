# retool sandbox worker (runs as pid 1 of its own namespaces; embedded in sbx_worker_py.c by
# scripts/sandbox-embed-stub.sh). Imports its preloads once (a full worker: numpy and sympy; a light one: the standard
# library modules math code uses), freezes them, then hands control to the zygote (src/sandbox/zygote/, a shared
# object the pool passes as fd 5): a C loop that never returns to Python in the worker, so that nothing here writes to
# the Python heap between forks. It forks one child per execution (one kept pre-forked) or one long-lived child per
# session, and does each child's setup in C (own pid, mount, ipc and, for sessions, net namespace; private tmpfs
# /tmp, /work and /dev/shm; a fresh /proc; rlimits; uid 1000; files and stdin; closed fds; the strict seccomp filter).
# sbx_zygote_serve returns only in a child, whose job is then to run the code here.
# Frames on fd 3: 4-byte little-endian length, then a JSON header line, then the binary blobs it lists.
import builtins, ctypes, gc, json, linecache, os, struct, sys, traceback, resource, ast

numpy = sympy = None
libc = ctypes.CDLL(None, use_errno=True)
CTL = 3
ZYGOTE_FD = 5
OUT = (ctypes.c_int64 * 5)()  # filled by the zygote in a child: kind, status fd, job fd, code address, code length
CODE_BUF = bytearray(1 << 16)  # the child's code, copied here by the zygote when it fits


def read_exact(fd, n):
    buf = bytearray()
    while len(buf) < n:
        b = os.read(fd, n - len(buf))
        if not b:
            raise EOFError
        buf += b
    return bytes(buf)


def recv_frame(fd):
    (n,) = struct.unpack("<I", read_exact(fd, 4))
    return read_exact(fd, n)


def parse_frame(body):
    nl = body.index(b"\n")
    return json.loads(body[:nl]), body[nl + 1:]


def run_code(code, glb, interactive=False):
    """Runs code in glb; returns its exit code and the class name of the exception that ended it ("" if none)."""
    rc, exc = 0, ""
    linecache.cache["<code>"] = (len(code), None, code.splitlines(True), "<code>")
    try:
        last = None
        if interactive:  # a notebook cell: the value of a final expression is shown
            tree = ast.parse(code, "<code>", "exec")
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, "<code>", "exec"), glb)
        else:  # straight from source: building the AST as Python objects costs a run more than it compiles
            exec(compile(code, "<code>", "exec"), glb)
        if last is not None:
            val = eval(compile(last, "<code>", "eval"), glb)
            if val is not None:
                print(repr(val))
    except SystemExit as e:
        c = e.code
        rc = c if isinstance(c, int) else (0 if c is None else 1)
        if not isinstance(c, int) and c is not None:
            print(c, file=sys.stderr)
    except BaseException as e:
        exc = type(e).__name__
        if isinstance(e, MemoryError):
            exc = "MemoryError"
        try:
            tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
            traceback.print_exception(type(e), e, tb)
        except BaseException:
            pass
        rc = 1
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass
    return rc & 255, exc


def collapse_heap():
    """Backs the worker's anonymous memory with 2 MiB pages where the kernel allows (MADV_COLLAPSE): every fork then
    copies one page-table entry per 2 MiB instead of 512."""
    try:
        maps = open("/proc/self/maps").read().splitlines()
    except OSError:
        return
    for line in maps:
        parts = line.split()
        path = parts[5] if len(parts) > 5 else ""
        if "w" not in parts[1] or (path and path != "[heap]"):
            continue
        a, b = (int(x, 16) for x in parts[0].split("-"))
        start, end = (a + (1 << 21) - 1) & ~((1 << 21) - 1), b & ~((1 << 21) - 1)
        if end - start >= 1 << 21:
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), 14)  # MADV_HUGEPAGE
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), 25)  # MADV_COLLAPSE


FULL_TIER_PRELOADS = frozenset(("numpy", "sympy", "mpmath"))


class FullTierOnly:
    """A light worker's import hook: a program the router sent here that imports what only the full tier preloads
    (through a module of its own, say) stops at that import (status line F) and the pool runs it again, from the
    start, on a full worker. So the import never comes out of its memory limit, which means the same on both tiers:
    the address space on top of the full tier's preloads."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if OUT[1] > 0 and name.partition(".")[0] in FULL_TIER_PRELOADS:  # OUT[1]: a child's status fd
            try:
                os.write(OUT[1], b"F\n")
            finally:
                os._exit(0)
        return None


def preload(full):
    """Imports and warms what every run of this worker's tier may use without paying for the import."""
    global numpy, sympy
    # Not random (nor statistics, which imports it): its after-fork reseed hook would cost every run ~40 page copies
    # (~0.1 ms here), more than the 0.5 ms its import costs the few programs that use it.
    import bisect, cmath, collections, decimal, fractions, functools, heapq, itertools, math, operator, re, string
    fractions.Fraction(3, 4) + 1; math.comb(10, 3); re.compile(r"\d+").findall("a1b22")
    if full:
        import numpy, sympy
        numpy.arange(16).sum(); sympy.factorint(2**64 + 1); sympy.Symbol("x") + 1
    else:
        sys.meta_path.insert(0, FullTierOnly)


def child_run(kind):
    """In a child the zygote has set up and given its job: runs the code (kind 1) or the session's cells (kind 2)."""
    sw = OUT[1]
    try:
        if numpy is not None:
            numpy.random.seed()  # (`random` was reseeded by the interpreter's after-fork hook)
        sys.argv = ["main.py"]
    except BaseException as e:
        try:
            os.write(sw, ("S%s\n" % e).encode()[:500])
        except OSError:
            pass
        os._exit(125)
    glb = {"__name__": "__main__", "__builtins__": builtins}
    if kind == 1:
        n = OUT[4]
        code = CODE_BUF[:n] if n <= len(CODE_BUF) else ctypes.string_at(OUT[3], n)
        rc, exc = run_code(code.decode("utf-8", "replace"), glb)
        ru, rc_ = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = ru.ru_utime + ru.ru_stime + rc_.ru_utime + rc_.ru_stime  # with the processes it waited for
        try:  # the exit report (one write) lets the worker answer before the namespaces are torn down
            os.write(sw, ("E%s\nX%d %.6f\n" % (exc, rc, cpu)).encode())
        except OSError:
            pass
        os._exit(rc)
    jr = OUT[2]
    while True:
        try:
            _, cell = parse_frame(recv_frame(jr))
        except BaseException:
            os._exit(0)
        _, exc = run_code(cell.decode("utf-8", "replace"), glb, True)
        try:
            os.write(sw, ("E%s\n" % exc).encode())
        except OSError:
            pass


def main():
    hdr, blob = parse_frame(recv_frame(CTL))
    preload(bool(hdr.get("full", True)))
    zyg = ctypes.PyDLL("/proc/self/fd/%d" % ZYGOTE_FD)
    os.close(ZYGOTE_FD)
    zyg.sbx_zygote_serve.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.c_longlong, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    with open("/proc/self/statm") as f:
        base_vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE") + (64 << 20)
    init = json.dumps(hdr).encode()
    gc.collect()
    gc.freeze()  # imported objects leave the collector's view: children copy fewer pages on write
    collapse_heap()
    sys.stdout.flush()
    sys.stderr.flush()
    code_buf = (ctypes.c_char * len(CODE_BUF)).from_buffer(CODE_BUF)
    kind = zyg.sbx_zygote_serve(CTL, init, blob, len(blob), base_vm, ctypes.addressof(OUT), ctypes.addressof(code_buf),
                                len(CODE_BUF))
    if kind <= 0:  # the supervisor closed the control socket (0), or the worker cannot go on
        os._exit(0 if kind == 0 else 1)
    child_run(kind)


main()
