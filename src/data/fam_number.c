/* Families: modular powers, digit sums of big powers, gcd/lcm chains, base conversion. */
#include <inttypes.h>
#include <string.h>

#include "data/families.h"

/* modpow: L1 B<10, E<100, M<100; L2 B<100, E<1000, M<1000; L3 B<1000, E<10000, M<10000. */
static void modpow_draw(rt_rng *r, int level, int64_t *ops) {
    static const int64_t hb[] = {0, 9, 99, 999}, le[] = {0, 10, 100, 1000}, lm[] = {0, 10, 100, 1000};
    ops[0] = rt_rng_range(r, 2, hb[level]);
    ops[1] = rt_rng_range(r, le[level], le[level] * 10 - 1);
    ops[2] = rt_rng_range(r, lm[level], lm[level] * 10 - 1);
}

/* Square-and-multiply, every value reduced mod M: "7^4=49*49=2401=401 (mod 1000)", then the product of the powers
 * of two that make up E: "7^96=801*...=...=... (mod 1000)". */
static rt_status modpow_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    int64_t b = ops[0], e = ops[1], m = ops[2];
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    rt_strbuf_printf(&prompt, "Compute %" PRId64 "^%" PRId64 " mod %" PRId64 ".", b, e, m);
    mpz_t ans, mz;
    mpz_inits(ans, mz, NULL);
    mpz_set_si(mz, m);
    mpz_set_si(ans, b);
    mpz_powm_ui(ans, ans, (unsigned long)e, mz);
    if (full) {
        rt_strbuf_printf(&prog, "print(pow(%" PRId64 ",%" PRId64 ",%" PRId64 "))", b, e, m);
        int64_t sq[64];
        int nbits = 0;
        while ((e >> nbits) > 0)
            nbits++;
        rt_strbuf_printf(&text, "%" PRId64 "=", e);
        for (int k = nbits - 1, first = 1; k >= 0; k--)
            if ((e >> k) & 1) {
                rt_strbuf_printf(&text, "%s%" PRId64, first ? "" : "+", (int64_t)1 << k);
                first = 0;
            }
        rt_strbuf_puts(&text, ".");
        sq[0] = b % m;
        if (b >= m) rt_strbuf_printf(&text, " %" PRId64 "=%" PRId64 " (mod %" PRId64 ").", b, sq[0], m);
        for (int k = 1; k < nbits; k++) {
            int64_t prod = sq[k - 1] * sq[k - 1];
            sq[k] = prod % m;
            rt_strbuf_printf(&text, " %" PRId64 "^%" PRId64 "=%" PRId64 "*%" PRId64 "=%" PRId64, b, (int64_t)1 << k,
                             sq[k - 1], sq[k - 1], prod);
            if (prod >= m) rt_strbuf_printf(&text, "=%" PRId64, sq[k]);
            rt_strbuf_printf(&text, " (mod %" PRId64 ").", m);
        }
        int64_t acc = -1, acc_exp = 0;
        for (int k = nbits - 1; k >= 0; k--) {
            if (!((e >> k) & 1)) continue;
            if (acc < 0) {
                acc = sq[k];
                acc_exp = (int64_t)1 << k;
                continue;
            }
            int64_t prod = acc * sq[k];
            acc_exp += (int64_t)1 << k;
            rt_strbuf_printf(&text, " %" PRId64 "^%" PRId64 "=%" PRId64 "*%" PRId64 "=%" PRId64, b, acc_exp, acc, sq[k],
                             prod);
            acc = prod % m;
            if (prod >= m) rt_strbuf_printf(&text, "=%" PRId64, acc);
            rt_strbuf_printf(&text, " (mod %" PRId64 ").", m);
        }
    }
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clears(ans, mz, NULL);
    return st;
}

/* B^E names one number whatever the base it is written in: 4^3 and 2^6 are one problem. */
static void power_canon(int level, int64_t *ops) {
    (void)level;
    data_power_root(&ops[0], &ops[1]);
}

const data_family data_fam_modpow = {"modpow",
                                     "B^E mod M: B<10, E<100, M<100 (L1); <100, <1000, <1000 (L2); <1000, "
                                     "<10^4, <10^4 (L3)",
                                     1, modpow_draw, modpow_make, power_canon};

/* digitsum: L1 B<10, E 10..30; L2 B<10, E 31..80; L3 B 11..99, E 20..60. */
static void digitsum_draw(rt_rng *r, int level, int64_t *ops) {
    static const int64_t lb[] = {0, 2, 2, 11}, hb[] = {0, 9, 9, 99}, le[] = {0, 10, 31, 20}, he[] = {0, 30, 80, 60};
    ops[0] = rt_rng_range(r, lb[level], hb[level]);
    ops[1] = rt_rng_range(r, le[level], he[level]);
}

/* Exact square-and-multiply ("2^64=2^32*2^32" with values), then the digits added up. */
static rt_status digitsum_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    int64_t b = ops[0], e = ops[1];
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    rt_strbuf_printf(&prompt, "Sum the digits of %" PRId64 "^%" PRId64 ".", b, e);
    mpz_t ans, pw[8], acc, prod;
    mpz_inits(ans, acc, prod, NULL);
    mpz_ui_pow_ui(prod, (unsigned long)b, (unsigned long)e);
    char *digits = mpz_get_str(NULL, 10, prod);
    long sum = 0;
    for (const char *c = digits; *c; c++)
        sum += *c - '0';
    mpz_set_si(ans, sum);
    if (full) {
        rt_strbuf_printf(&prog, "print(sum(map(int,str(%" PRId64 "**%" PRId64 "))))", b, e);
        int nbits = 0;
        while ((e >> nbits) > 0)
            nbits++;
        mpz_init_set_si(pw[0], b);
        for (int k = 1; k < nbits; k++) {
            mpz_init(pw[k]);
            mpz_mul(pw[k], pw[k - 1], pw[k - 1]);
            rt_strbuf_printf(&text, "%s%" PRId64 "^%" PRId64 "=", k > 1 ? " " : "", b, (int64_t)1 << k);
            data_put_mpz(&text, pw[k - 1]);
            rt_strbuf_puts(&text, "*");
            data_put_mpz(&text, pw[k - 1]);
            rt_strbuf_puts(&text, "=");
            data_put_mpz(&text, pw[k]);
            rt_strbuf_puts(&text, ".");
        }
        int64_t acc_exp = 0;
        for (int k = nbits - 1; k >= 0; k--) {
            if (!((e >> k) & 1)) continue;
            if (acc_exp == 0) {
                mpz_set(acc, pw[k]);
                acc_exp = (int64_t)1 << k;
                continue;
            }
            acc_exp += (int64_t)1 << k;
            rt_strbuf_printf(&text, " %" PRId64 "^%" PRId64 "=", b, acc_exp);
            data_put_mpz(&text, acc);
            rt_strbuf_puts(&text, "*");
            data_put_mpz(&text, pw[k]);
            mpz_mul(acc, acc, pw[k]);
            rt_strbuf_puts(&text, "=");
            data_put_mpz(&text, acc);
            rt_strbuf_puts(&text, ".");
        }
        for (int k = 0; k < nbits; k++)
            mpz_clear(pw[k]);
        rt_strbuf_puts(&text, " ");
        for (const char *c = digits; *c; c++) {
            if (c != digits) rt_strbuf_putc(&text, '+');
            rt_strbuf_putc(&text, *c);
        }
        rt_strbuf_printf(&text, "=%ld.", sum);
    }
    void (*freefunc)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &freefunc);
    freefunc(digits, strlen(digits) + 1);
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clears(ans, acc, prod, NULL);
    return st;
}

const data_family data_fam_digitsum = {"digitsum",
                                       "digit sum of B^E: B<10, E<=30 (L1); B<10, E<=80 (L2); B<100, E<=60 (L3)", 1,
                                       digitsum_draw, digitsum_make, power_canon};

/* gcdlcm: L1 gcd(A,B) with a planted common factor; L2 lcm(A,B) of 2-3 digit numbers; L3 lcm(A,B,C) of 1-2 digits. */
static void gcdlcm_draw(rt_rng *r, int level, int64_t *ops) {
    if (level == 1) {
        int64_t g = rt_rng_range(r, 2, 30), x = rt_rng_range(r, 2, 60), y;
        do
            y = rt_rng_range(r, 2, 60);
        while (y == x);
        ops[0] = g * x;
        ops[1] = g * y;
    } else if (level == 2) {
        ops[0] = rt_rng_range(r, 12, 999);
        ops[1] = rt_rng_range(r, 12, 999);
    } else {
        for (int i = 0; i < 3; i++)
            ops[i] = rt_rng_range(r, 6, 99);
    }
}

/* Euclid's steps "a=q*b+r" until the remainder is 0; returns the gcd. */
static int64_t euclid(rt_strbuf *text, int64_t a, int64_t b) {
    if (a < b) {
        int64_t t = a;
        a = b;
        b = t;
    }
    while (b > 0) {
        rt_strbuf_printf(text, " %" PRId64 "=%" PRId64 "*%" PRId64 "+%" PRId64 ".", a, a / b, b, a % b);
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* lcm(a,b) with its Euclid steps and "a*b/g=l". */
static int64_t lcm_steps(rt_strbuf *text, int64_t a, int64_t b) {
    int64_t g = euclid(text, a, b);
    rt_strbuf_printf(text,
                     " gcd(%" PRId64 ",%" PRId64 ")=%" PRId64 ". %" PRId64 "*%" PRId64 "/%" PRId64 "=%" PRId64 ".", a,
                     b, g, a, b, g, a / g * b);
    return a / g * b;
}

static rt_status gcdlcm_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    mpz_t ans;
    mpz_init(ans);
    int64_t v;
    if (level == 1) {
        rt_strbuf_printf(&prompt, "Compute gcd(%" PRId64 ",%" PRId64 ").", ops[0], ops[1]);
        rt_strbuf_printf(&prog, "import math;print(math.gcd(%" PRId64 ",%" PRId64 "))", ops[0], ops[1]);
        v = euclid(&text, ops[0], ops[1]);
        rt_strbuf_printf(&text, " gcd(%" PRId64 ",%" PRId64 ")=%" PRId64 ".", ops[0], ops[1], v);
    } else if (level == 2) {
        rt_strbuf_printf(&prompt, "Compute lcm(%" PRId64 ",%" PRId64 ").", ops[0], ops[1]);
        rt_strbuf_printf(&prog, "import math;print(math.lcm(%" PRId64 ",%" PRId64 "))", ops[0], ops[1]);
        v = lcm_steps(&text, ops[0], ops[1]);
    } else {
        rt_strbuf_printf(&prompt, "Compute lcm(%" PRId64 ",%" PRId64 ",%" PRId64 ").", ops[0], ops[1], ops[2]);
        rt_strbuf_printf(&prog, "import math;print(math.lcm(%" PRId64 ",%" PRId64 ",%" PRId64 "))", ops[0], ops[1],
                         ops[2]);
        v = lcm_steps(&text, lcm_steps(&text, ops[0], ops[1]), ops[2]);
    }
    mpz_set_si(ans, v);
    /* The steps start with a space; drop it. */
    if (text.len && text.s[0] == ' ') memmove(text.s, text.s + 1, text.len--);
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clear(ans);
    return st;
}

/* gcd and lcm are symmetric in their arguments. */
static void gcdlcm_canon(int level, int64_t *ops) { data_ops_sort_desc(ops, level == 3 ? 3 : 2); }

const data_family data_fam_gcdlcm = {"gcdlcm", "gcd(A,B) (L1), lcm(A,B) (L2), lcm(A,B,C) (L3)", 1, gcdlcm_draw,
                                     gcdlcm_make, gcdlcm_canon};

/* base: write N (L1 < 256, L2 < 10^5) in base 2-9; L3 converts a base 2-9 numeral of N (10^5..10^9) to base 10. */
static void base_draw(rt_rng *r, int level, int64_t *ops) {
    static const int64_t lo[] = {0, 20, 256, 100000}, hi[] = {0, 255, 99999, 999999999};
    ops[0] = rt_rng_range(r, lo[level], hi[level]);
    ops[1] = rt_rng_range(r, 2, 9);
}

static void to_base(int64_t n, int64_t b, char *out) {
    char tmp[72];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + n % b);
        n /= b;
    } while (n > 0);
    for (int i = 0; i < k; i++)
        out[i] = tmp[k - 1 - i];
    out[k] = '\0';
}

static rt_status base_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    int64_t n = ops[0], b = ops[1];
    char digits[72];
    to_base(n, b, digits);
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    mpz_t ans;
    mpz_init(ans);
    if (level <= 2) {
        rt_strbuf_printf(&prompt, "Write %" PRId64 " in base %" PRId64 ".", n, b);
        rt_strbuf_printf(&prog, "import numpy;print(numpy.base_repr(%" PRId64 ",%" PRId64 "))", n, b);
        for (int64_t q = n; q > 0; q /= b)
            rt_strbuf_printf(&text, "%s%" PRId64 "=%" PRId64 "*%" PRId64 "+%" PRId64 ".", q == n ? "" : " ", q, b,
                             q / b, q % b);
        rt_strbuf_printf(&text, " The remainders from last to first: %s.", digits);
        mpz_set_str(ans, digits, 10); /* base <= 9: the numeral's digits are decimal digits */
    } else {
        rt_strbuf_printf(&prompt, "Convert %s from base %" PRId64 " to base 10.", digits, b);
        rt_strbuf_printf(&prog, "print(int('%s',%" PRId64 "))", digits, b);
        int64_t v = digits[0] - '0';
        for (const char *c = digits + 1; *c; c++) {
            rt_strbuf_printf(&text, "%s%" PRId64 "*%" PRId64 "+%c=%" PRId64 ".", c == digits + 1 ? "" : " ", v, b, *c,
                             v * b + (*c - '0'));
            v = v * b + (*c - '0');
        }
        mpz_set_si(ans, v);
    }
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clear(ans);
    return st;
}

const data_family data_fam_base = {"base",
                                   "N<256 (L1), N<10^5 (L2) written in base 2-9; a base 2-9 numeral of a "
                                   "number below 10^9 converted to base 10 (L3)",
                                   1, base_draw, base_make, NULL};
