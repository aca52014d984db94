/* Pure parts of the sandbox layer against independent truths: SHA-256 against the NIST example vectors, base64
 * against RFC 4648, UTF-8 repair against hand-written cases, the embedded worker stub against its source, and the
 * seccomp filters' verdicts on foreign architectures read from the BPF program itself. */
#include <criterion/criterion.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "base/sha256.h"
#include "sandbox/fusion.h"
#include "sandbox/sbx_internal.h"

Test(sha256, nist_vectors) {
    char hex[65];
    rt_sha256_hex("abc", 3, hex);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    rt_sha256_hex("", 0, hex);
    cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    rt_sha256_hex(m448, strlen(m448), hex);
    cr_expect_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmn"
        "opqrstnopqrstu";
    rt_sha256_hex(m896, strlen(m896), hex);
    cr_expect_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* One million 'a', fed in uneven pieces through the streaming interface. */
    rt_sha256 s;
    rt_sha256_init(&s);
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        rt_sha256_update(&s, chunk, n);
        left -= n;
    }
    unsigned char d[32];
    rt_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(base64, rfc4648_vectors) {
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = sbx_b64_encode(plain[i], strlen(plain[i]));
        cr_expect_str_eq(e, enc[i]);
        free(e);
        unsigned char *d;
        size_t n;
        cr_assert_eq(sbx_b64_decode(enc[i], strlen(enc[i]), &d, &n), 0);
        cr_expect_eq(n, strlen(plain[i]));
        cr_expect(memcmp(d, plain[i], n) == 0);
        free(d);
    }
    unsigned char *d;
    size_t n;
    cr_expect_eq(sbx_b64_decode("Zm9v!", 5, &d, &n), -1, "a character outside the alphabet is refused");
    cr_expect_eq(sbx_b64_decode("Zm9vY", 5, &d, &n), -1, "a dangling 6 bits is refused");
}

Test(utf8, sanitize) {
    char *s = sbx_utf8_sanitize("h\xc3\xa9llo", 6);
    cr_expect_str_eq(s, "h\xc3\xa9llo", "valid UTF-8 passes unchanged");
    free(s);
    s = sbx_utf8_sanitize("a\xff"
                          "b",
                          3);
    cr_expect_str_eq(s,
                     "a\xef\xbf\xbd"
                     "b",
                     "an invalid byte becomes U+FFFD");
    free(s);
    s = sbx_utf8_sanitize("a\0b", 3);
    cr_expect_str_eq(s,
                     "a\xef\xbf\xbd"
                     "b",
                     "NUL becomes U+FFFD");
    free(s);
    s = sbx_utf8_sanitize("\xed\xa0\x80", 3);
    cr_expect_str_eq(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "a UTF-16 surrogate is not UTF-8");
    free(s);
    s = sbx_utf8_sanitize("\xe2\x82", 2);
    cr_expect_str_eq(s, "\xef\xbf\xbd\xef\xbf\xbd", "a truncated sequence is replaced");
    free(s);
    s = sbx_utf8_sanitize("\xc0\xaf", 2);
    cr_expect_str_eq(s, "\xef\xbf\xbd\xef\xbf\xbd", "overlong encodings are refused");
    free(s);
}

Test(stub, embedded_copy_matches_source) {
    char *src;
    size_t len;
    rt_error err;
    cr_assert_eq(rt_file_read_all("src/sandbox/worker_stub.py", &src, &len, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(strlen(sbx_worker_stub), len, "run scripts/sandbox-embed-stub.sh after editing worker_stub.py");
    cr_expect(strcmp(src, sbx_worker_stub) == 0, "run scripts/sandbox-embed-stub.sh after editing worker_stub.py");
    free(src);
}

Test(seccomp, filters_build) {
    struct sock_filter *p;
    size_t n;
    rt_error err;
    cr_assert_eq(sbx_seccomp_build(1, &p, &n, &err), RT_OK, "%s", err.msg);
    cr_expect_gt(n, 40u);
    free(p);
    cr_assert_eq(sbx_seccomp_build(0, &p, &n, &err), RT_OK, "%s", err.msg);
    free(p);
}

/* A classic-BPF interpreter for what a seccomp filter may use (loads from seccomp_data, ALU, jumps, returns): the
 * filter's verdict on a system call the kernel never has to execute. Returns the SECCOMP_RET_* word. */
static uint32_t bpf_run(const struct sock_filter *p, size_t n, const struct seccomp_data *d) {
    uint32_t a = 0, x = 0, mem[16] = {0};
    for (size_t pc = 0; pc < n; pc++) {
        const struct sock_filter *f = &p[pc];
        uint32_t src = BPF_SRC(f->code) == BPF_X ? x : f->k;
        switch (BPF_CLASS(f->code)) {
        case BPF_LD:
            if (BPF_MODE(f->code) == BPF_ABS) {
                cr_assert(f->k + 4 <= sizeof *d && f->k % 4 == 0, "load at offset %u", f->k);
                memcpy(&a, (const char *)d + f->k, 4);
            } else if (BPF_MODE(f->code) == BPF_IMM) {
                a = f->k;
            } else if (BPF_MODE(f->code) == BPF_MEM) {
                a = mem[f->k & 15];
            } else {
                cr_assert_fail("load mode 0x%x", f->code);
            }
            break;
        case BPF_LDX:
            x = BPF_MODE(f->code) == BPF_MEM ? mem[f->k & 15] : f->k;
            break;
        case BPF_ST:
            mem[f->k & 15] = a;
            break;
        case BPF_STX:
            mem[f->k & 15] = x;
            break;
        case BPF_ALU:
            switch (BPF_OP(f->code)) {
            case BPF_AND:
                a &= src;
                break;
            case BPF_OR:
                a |= src;
                break;
            case BPF_ADD:
                a += src;
                break;
            case BPF_SUB:
                a -= src;
                break;
            case BPF_RSH:
                a >>= src;
                break;
            case BPF_LSH:
                a <<= src;
                break;
            default:
                cr_assert_fail("alu op 0x%x", f->code);
            }
            break;
        case BPF_JMP:
            if (BPF_OP(f->code) == BPF_JA) {
                pc += f->k;
            } else {
                int t = BPF_OP(f->code) == BPF_JEQ   ? a == src
                        : BPF_OP(f->code) == BPF_JGT ? a > src
                        : BPF_OP(f->code) == BPF_JGE ? a >= src
                                                     : (a & src) != 0;
                pc += t ? f->jt : f->jf;
            }
            break;
        case BPF_RET:
            return BPF_RVAL(f->code) == BPF_A ? a : f->k;
        case BPF_MISC:
            if (BPF_MISCOP(f->code) == BPF_TAX)
                x = a;
            else
                a = x;
            break;
        default:
            cr_assert_fail("opcode 0x%x", f->code);
        }
    }
    cr_assert_fail("the filter ran off its end");
    return 0;
}

/* What each filter answers to the native, the x32 and the i386 entry points, read from the BPF program itself: the
 * verdict does not depend on whether the kernel was built with 32-bit emulation (without it, the kernel answers
 * int 0x80 with SIGSEGV before any filter runs; with it, the filter kills). */
Test(seccomp, foreign_architectures_killed) {
    for (int strict = 0; strict < 2; strict++) {
        struct sock_filter *p;
        size_t n;
        rt_error err;
        cr_assert_eq(sbx_seccomp_build(strict, &p, &n, &err), RT_OK, "%s", err.msg);
        struct seccomp_data d = {.nr = 39 /* getpid */, .arch = AUDIT_ARCH_X86_64};
        cr_expect_eq(bpf_run(p, n, &d), SECCOMP_RET_ALLOW, "native getpid is allowed (strict %d)", strict);
        d.nr = 101; /* ptrace */
        cr_expect_eq(bpf_run(p, n, &d) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ERRNO, "native ptrace is refused");
        d.nr = 0x40000000 | 39; /* x32 getpid */
        cr_expect_eq(bpf_run(p, n, &d), SECCOMP_RET_KILL_PROCESS, "x32 getpid kills (strict %d)", strict);
        d.nr = 0x40000000 | 101; /* x32 ptrace */
        cr_expect_eq(bpf_run(p, n, &d), SECCOMP_RET_KILL_PROCESS, "x32 ptrace kills (strict %d)", strict);
        d = (struct seccomp_data){.nr = 20 /* getpid on i386 */, .arch = AUDIT_ARCH_I386};
        cr_expect_eq(bpf_run(p, n, &d), SECCOMP_RET_KILL_PROCESS, "i386 getpid kills (strict %d)", strict);
        d.nr = 26; /* ptrace on i386 */
        cr_expect_eq(bpf_run(p, n, &d), SECCOMP_RET_KILL_PROCESS, "i386 ptrace kills (strict %d)", strict);
        d.arch = 0xc00000b7; /* AUDIT_ARCH_AARCH64: any other architecture */
        cr_expect_eq(bpf_run(p, n, &d), SECCOMP_RET_KILL_PROCESS, "aarch64 kills (strict %d)", strict);
        free(p);
    }
}

/* The light tier may take a program only when it names no package that the full tier preloads (or a way to import
 * by a computed name); the test is on whole words, so longer names that contain one do not count. */
Test(route, full_tier_words) {
    static const struct {
        const char *code;
        int full;
    } cases[] = {
        {"print(1)", 0},
        {"import math\nprint(math.comb(10, 3))", 0},
        {"from fractions import Fraction\nprint(Fraction(1, 3) + 1)", 0},
        {"import itertools, functools\nprint(sum(1 for _ in itertools.permutations(range(5))))", 0},
        {"import numpy as np\nprint(np.arange(3))", 1},
        {"from sympy import *\nx = symbols('x')", 1},
        {"import scipy.special", 1},
        {"from mpmath import mp", 1},
        {"# numpy would be overkill\nprint(2 ** 10)", 1},
        {"s = 'sympy'", 1},
        {"m = __import__('math')", 1},
        {"import importlib\nimportlib.import_module('math')", 1},
        {"exec('print(1)')", 1},
        {"print(eval('1 + 2'))", 1},
        {"my_numpy_array = [1, 2]\nsympy2 = 3\nprint(numpyish := 4)", 0},
        {"x = 1e5\nprint(0x1f, 2sympy)", 0}, /* "2sympy" is one (bad) number token, not the word sympy */
        {"print('nümpy', numpy_)", 0},
        {"sympy", 1},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(sbx_code_needs_full(cases[i].code, strlen(cases[i].code)), cases[i].full, "case %zu: %s", i,
                     cases[i].code);
}
