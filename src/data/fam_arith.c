/* Families: long multiplication (needs the tool) and single-digit addition, subtraction and comparison (no tool). */
#include <inttypes.h>

#include "data/families.h"

static int64_t digits(rt_rng *r, int n) {
    int64_t lo = 1;
    for (int i = 1; i < n; i++)
        lo *= 10;
    return rt_rng_range(r, lo, lo * 10 - 1);
}

/* mul: L1 3x2 digits, L2 4x4, L3 6x5. */
static void mul_draw(rt_rng *r, int level, int64_t *ops) {
    static const int da[] = {0, 3, 4, 6}, db[] = {0, 2, 4, 5};
    ops[0] = digits(r, da[level]);
    ops[1] = digits(r, db[level]);
}

/* Text: one partial product per nonzero digit of b (least significant first), then the running sum. */
static rt_status mul_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    int64_t a = ops[0], b = ops[1];
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    rt_strbuf_printf(&prompt, "Compute %" PRId64 "*%" PRId64 ".", a, b);
    mpz_t ans, part, sum, place;
    mpz_inits(ans, part, sum, place, NULL);
    mpz_set_si(ans, a);
    mpz_mul_si(ans, ans, b);
    if (full) {
        rt_strbuf_printf(&prog, "print(%" PRId64 "*%" PRId64 ")", a, b);
        mpz_t parts[20];
        int np = 0;
        mpz_set_ui(place, 1);
        for (int64_t rest = b; rest > 0; rest /= 10) {
            int64_t d = rest % 10;
            if (d) {
                mpz_mul_si(part, place, d); /* the digit at its place: 7, 70, 100, 9000 */
                rt_strbuf_printf(&text, "%s%" PRId64 "*", np ? " " : "", a);
                data_put_mpz(&text, part);
                mpz_mul_si(part, part, a);
                rt_strbuf_puts(&text, "=");
                data_put_mpz(&text, part);
                rt_strbuf_puts(&text, ".");
                mpz_init_set(parts[np++], part);
            }
            mpz_mul_ui(place, place, 10);
        }
        mpz_set(sum, parts[0]);
        for (int i = 1; i < np; i++) {
            rt_strbuf_puts(&text, " ");
            data_put_mpz(&text, sum);
            rt_strbuf_puts(&text, "+");
            data_put_mpz(&text, parts[i]);
            mpz_add(sum, sum, parts[i]);
            rt_strbuf_puts(&text, "=");
            data_put_mpz(&text, sum);
            rt_strbuf_puts(&text, ".");
        }
        for (int i = 0; i < np; i++)
            mpz_clear(parts[i]);
    }
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clears(ans, part, sum, place, NULL);
    return st;
}

/* a*b and b*a are one problem. */
static void pair_canon(int level, int64_t *ops) {
    (void)level;
    data_ops_sort_desc(ops, 2);
}

const data_family data_fam_mul = {"mul", "products: 3x2-digit (L1), 4x4 (L2), 6x5 (L3)", 1, mul_draw, mul_make,
                                  pair_canon};

/* add / sub: single digits at every level (the level is recorded, the operands do not grow). */
static void digit_pair_draw(rt_rng *r, int level, int64_t *ops) {
    (void)level;
    ops[0] = rt_rng_range(r, 0, 9);
    ops[1] = rt_rng_range(r, 0, 9);
}

static rt_status simple_make(const char *fmt_prompt, const char *op, int64_t a, int64_t b, int64_t v, int full,
                             data_problem *p, rt_error *err) {
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    rt_strbuf_printf(&prompt, fmt_prompt, a, b);
    rt_strbuf_printf(&prog, "print(%" PRId64 "%s%" PRId64 ")", a, op, b);
    rt_strbuf_printf(&text, "%" PRId64 "%s%" PRId64 "=%" PRId64 ".", a, op, b, v);
    mpz_t ans;
    mpz_init_set_si(ans, v);
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clear(ans);
    return st;
}

static rt_status add_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    return simple_make("Compute %" PRId64 "+%" PRId64 ".", "+", ops[0], ops[1], ops[0] + ops[1], full, p, err);
}

const data_family data_fam_add = {"add", "single-digit addition (no tool needed)", 0, digit_pair_draw, add_make,
                                  pair_canon};

static void sub_draw(rt_rng *r, int level, int64_t *ops) {
    (void)level;
    ops[0] = rt_rng_range(r, 0, 9);
    ops[1] = rt_rng_range(r, 0, ops[0]);
}

static rt_status sub_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    return simple_make("Compute %" PRId64 "-%" PRId64 ".", "-", ops[0], ops[1], ops[0] - ops[1], full, p, err);
}

const data_family data_fam_sub = {"sub", "single-digit subtraction, never negative (no tool needed)", 0, sub_draw,
                                  sub_make, NULL};

/* compare: two different numbers of 1 (L1), 2 (L2) or 3 (L3) digits. */
static void compare_draw(rt_rng *r, int level, int64_t *ops) {
    static const int64_t hi[] = {0, 9, 99, 999};
    int64_t lo = level == 1 ? 0 : hi[level - 1] + 1;
    ops[0] = rt_rng_range(r, lo, hi[level]);
    do
        ops[1] = rt_rng_range(r, lo, hi[level]);
    while (ops[1] == ops[0]);
}

static rt_status compare_make(int level, const int64_t *ops, int full, data_problem *p, rt_error *err) {
    (void)level;
    int64_t a = ops[0], b = ops[1], big = a > b ? a : b, small = a > b ? b : a;
    rt_strbuf prompt = {0}, prog = {0}, text = {0};
    rt_strbuf_printf(&prompt, "Which is larger, %" PRId64 " or %" PRId64 "?", a, b);
    rt_strbuf_printf(&prog, "print(max(%" PRId64 ",%" PRId64 "))", a, b);
    rt_strbuf_printf(&text, "%" PRId64 ">%" PRId64 ", so %" PRId64 " is larger.", big, small, big);
    mpz_t ans;
    mpz_init_set_si(ans, big);
    rt_status st = data_fill(p, &prompt, ans, &prog, &text, full, err);
    mpz_clear(ans);
    return st;
}

const data_family data_fam_compare = {"compare", "the larger of two numbers of 1 (L1), 2 (L2), 3 (L3) digits (no tool)",
                                      0, compare_draw, compare_make, pair_canon};
