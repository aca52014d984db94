/* Families: counting integers with divisibility conditions, sums of series, binomial coefficients. */
#include <inttypes.h>

#include "data/families.h"

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* count: L1 multiples of A in 1..N (N<1000); L2 of A or B in 1..N (N<10^4); L3 of A or B in L..R (R<10^6). */
static void count_draw(rt_rng *r, int level, int64_t *ops) {
    if (level == 1) {
        ops[0] = 1;
        ops[1] = rt_rng_range(r, 100, 999);
        ops[2] = rt_rng_range(r, 3, 19);
        ops[3] = 0;
    } else {
        ops[0] = level == 2 ? 1 : rt_rng_range(r, 1000, 99999);
        ops[1] = level == 2 ? rt_rng_range(r, 1000, 9999) : ops[0] + rt_rng_range(r, 1000, 899999);
        ops[2] = rt_rng_range(r, 2, 15);
        ops[3] = rt_rng_range(r, ops[2] + 1, level == 2 ? 30 : 40);
    }
}

/* Divisible by A or B is divisible by B or A. */
static void count_canon(int level, int64_t *ops) {
    (void)level;
    if (ops[3]) data_ops_sort_desc(ops + 2, 2);
}

/* "N=A*q+r." for each divisor (and the lcm), then inclusion-exclusion; returns the count of 1..n. */
static int64_t count_upto(rt_strbuf *t, int64_t n, int64_t a, int64_t b) {
    rt_strbuf_printf(t, " %" PRId64 "=%" PRId64 "*%" PRId64 "+%" PRId64 ".", n, a, n / a, n % a);
    if (!b) return n / a;
    int64_t l = a / gcd64(a, b) * b;
    rt_strbuf_printf(t, " %" PRId64 "=%" PRId64 "*%" PRId64 "+%" PRId64 ".", n, b, n / b, n % b);
    rt_strbuf_printf(t, " lcm(%" PRId64 ",%" PRId64 ")=%" PRId64 ".", a, b, l);
    rt_strbuf_printf(t, " %" PRId64 "=%" PRId64 "*%" PRId64 "+%" PRId64 ".", n, l, n / l, n % l);
    int64_t c = n / a + n / b - n / l;
    rt_strbuf_printf(t, " %" PRId64 "+%" PRId64 "-%" PRId64 "=%" PRId64 ".", n / a, n / b, n / l, c);
    return c;
}

static rt_status count_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    int64_t lo = ops[0], hi = ops[1], a = ops[2], b = ops[3], c;
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    rt_strbuf_printf(&prompt, "How many integers from %" PRId64 " to %" PRId64 " are divisible by %" PRId64, lo, hi, a);
    if (b) rt_strbuf_printf(&prompt, " or %" PRId64, b);
    rt_strbuf_puts(&prompt, "?");
    rt_strbuf_printf(&prog, "print(sum(1 for n in range(%" PRId64 ",%" PRId64 ") if n%%%" PRId64 "==0", lo, hi + 1, a);
    if (b) rt_strbuf_printf(&prog, " or n%%%" PRId64 "==0", b);
    rt_strbuf_puts(&prog, "))");
    if (lo == 1) {
        rt_strbuf_printf(&text, "Count the multiples up to %" PRId64 ".", hi);
        c = count_upto(&text, hi, a, b);
    } else {
        rt_strbuf_printf(&text, "Count up to %" PRId64 ", then subtract the count up to %" PRId64 ".", hi, lo - 1);
        int64_t ch = count_upto(&text, hi, a, b), cl = count_upto(&text, lo - 1, a, b);
        c = ch - cl;
        rt_strbuf_printf(&text, " %" PRId64 "-%" PRId64 "=%" PRId64 ".", ch, cl, c);
    }
    mpz_t ans;
    mpz_init_set_si(ans, c);
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clear(ans);
    return st;
}

const data_family data_fam_count = {"count",
                                    "integers divisible by A in 1..N<1000 (L1); by A or B in 1..N<10^4 (L2); "
                                    "by A or B in L..R<10^6 (L3)",
                                    1, count_draw, count_make, count_canon};

/* series: L1 1+2+...+N (N<1000); L2 squares (N<1000); L3 cubes (N<10^4). */
static void series_draw(rt_rng *r, int level, int64_t *ops) {
    static const int64_t lo[] = {0, 50, 20, 100}, hi[] = {0, 999, 999, 9999};
    ops[0] = rt_rng_range(r, lo[level], hi[level]);
}

static rt_status series_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    int64_t n = ops[0];
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    mpz_t ans, x;
    mpz_inits(ans, x, NULL);
    if (level == 1) {
        rt_strbuf_printf(&prompt, "Compute 1+2+...+%" PRId64 ".", n);
        rt_strbuf_printf(&prog, "print(sum(range(1,%" PRId64 ")))", n + 1);
        int64_t s = n * (n + 1) / 2;
        rt_strbuf_printf(&text,
                         "The sum is n(n+1)/2 with n=%" PRId64 ". %" PRId64 "*%" PRId64 "=%" PRId64 ". %" PRId64
                         "/2=%" PRId64 ".",
                         n, n, n + 1, n * (n + 1), n * (n + 1), s);
        mpz_set_si(ans, s);
    } else if (level == 2) {
        rt_strbuf_printf(&prompt, "Compute 1^2+2^2+...+%" PRId64 "^2.", n);
        rt_strbuf_printf(&prog, "print(sum(k*k for k in range(1,%" PRId64 ")))", n + 1);
        int64_t ab = n * (n + 1), abc = ab * (2 * n + 1);
        rt_strbuf_printf(&text,
                         "The sum is n(n+1)(2n+1)/6 with n=%" PRId64 ". %" PRId64 "*%" PRId64 "=%" PRId64 ". %" PRId64
                         "*%" PRId64 "=%" PRId64 ". %" PRId64 "/6=%" PRId64 ".",
                         n, n, n + 1, ab, ab, 2 * n + 1, abc, abc, abc / 6);
        mpz_set_si(ans, abc / 6);
    } else {
        rt_strbuf_printf(&prompt, "Compute 1^3+2^3+...+%" PRId64 "^3.", n);
        rt_strbuf_printf(&prog, "print(sum(k**3 for k in range(1,%" PRId64 ")))", n + 1);
        int64_t t = n * (n + 1) / 2;
        mpz_set_si(x, t);
        mpz_mul(ans, x, x);
        rt_strbuf_printf(&text,
                         "The sum is (n(n+1)/2)^2 with n=%" PRId64 ". %" PRId64 "*%" PRId64 "/2=%" PRId64 ". %" PRId64
                         "*%" PRId64 "=",
                         n, n, n + 1, t, t, t);
        data_put_mpz(&text, ans);
        rt_strbuf_puts(&text, ".");
    }
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clears(ans, x, NULL);
    return st;
}

const data_family data_fam_series = {"series",
                                     "1+2+...+N, N<1000 (L1); sum of squares, N<1000 (L2); sum of cubes, "
                                     "N<10^4 (L3)",
                                     1, series_draw, series_make, NULL};

/* binom: C(N,K), N in 10..20 (L1), 21..40 (L2), 41..80 (L3), 2 <= K <= N-2. */
static void binom_draw(rt_rng *r, int level, int64_t *ops) {
    static const int64_t lo[] = {0, 10, 21, 41}, hi[] = {0, 20, 40, 80};
    ops[0] = rt_rng_range(r, lo[level], hi[level]);
    ops[1] = rt_rng_range(r, 2, ops[0] - 2);
}

/* The multiplicative formula, exact at every step: r = r*(N-k+i)/i for i = 1..k, k = min(K, N-K). */
static rt_status binom_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    int64_t n = ops[0], k = ops[1], kk = k < n - k ? k : n - k;
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    rt_strbuf_printf(&prompt, "Compute C(%" PRId64 ",%" PRId64 ").", n, k);
    rt_strbuf_printf(&prog, "import math;print(math.comb(%" PRId64 ",%" PRId64 "))", n, k);
    mpz_t r, prod;
    mpz_init_set_ui(r, 1);
    mpz_init(prod);
    if (kk != k) rt_strbuf_printf(&text, "C(%" PRId64 ",%" PRId64 ") equals C(%" PRId64 ",%" PRId64 "). ", n, k, n, kk);
    for (int64_t i = 1; i <= kk; i++) {
        mpz_mul_si(prod, r, n - kk + i);
        rt_strbuf_puts(&text, i > 1 ? " " : "");
        data_put_mpz(&text, r);
        rt_strbuf_printf(&text, "*%" PRId64 "/%" PRId64 "=", n - kk + i, i);
        mpz_divexact_ui(r, prod, (unsigned long)i);
        data_put_mpz(&text, r);
        rt_strbuf_puts(&text, ".");
    }
    rt_status st = data_fill(p, &prompt, r, &prog, &text, full, err);
    mpz_clears(r, prod, NULL);
    return st;
}

/* C(n,k) is C(n,n-k). */
static void binom_canon(int level, int64_t *ops) {
    (void)level;
    if (ops[0] - ops[1] < ops[1]) ops[1] = ops[0] - ops[1];
}

const data_family data_fam_binom = {"binom", "C(N,K) with N in 10..20 (L1), 21..40 (L2), 41..80 (L3)", 1, binom_draw,
                                    binom_make, binom_canon};
