#include "reward/rational.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 200 };
#define MAX_POW_BITS (4u << 20)

typedef struct parser {
    const char *s;
    size_t i;
    int depth;
    reward_rat_status st;
} parser;

static void expr(parser *p, mpq_t out);

static int fail(parser *p, reward_rat_status st) {
    if (p->st == REWARD_RAT_OK) p->st = st;
    return 0;
}

/* Consumes the command cmd ("\frac") when it is next and is not a prefix of a longer command. */
static int eat_cmd(parser *p, const char *cmd) {
    size_t n = strlen(cmd);
    if (strncmp(p->s + p->i, cmd, n) != 0 || isalpha((unsigned char)p->s[p->i + n])) return 0;
    p->i += n;
    return 1;
}

static int eat(parser *p, char c) {
    if (p->s[p->i] != c) return 0;
    p->i++;
    return 1;
}

/* digits ['.' digits] | '.' digits; *is_int tells whether there was no decimal point. */
static int number(parser *p, mpq_t out, int *is_int) {
    const char *s = p->s;
    size_t a = p->i, i = a;
    while (isdigit((unsigned char)s[i]))
        i++;
    size_t int_end = i, frac_len = 0;
    *is_int = 1;
    if (s[i] == '.' && (i > a || isdigit((unsigned char)s[i + 1]))) {
        *is_int = 0;
        i++;
        while (isdigit((unsigned char)s[i + frac_len]))
            frac_len++;
        i += frac_len;
    }
    if (i == a || (int_end == a && frac_len == 0)) return fail(p, REWARD_RAT_SYNTAX);
    char *digits = malloc(i - a + 1);
    if (!digits) return fail(p, REWARD_RAT_TOO_BIG);
    size_t w = 0;
    for (size_t k = a; k < i; k++)
        if (s[k] != '.') digits[w++] = s[k];
    digits[w] = '\0';
    mpz_set_str(mpq_numref(out), w ? digits : "0", 10);
    free(digits);
    mpz_ui_pow_ui(mpq_denref(out), 10, frac_len);
    mpq_canonicalize(out);
    p->i = i;
    return 1;
}

/* '{' expr '}' */
static int braced(parser *p, mpq_t out) {
    if (!eat(p, '{')) return fail(p, REWARD_RAT_SYNTAX);
    expr(p, out);
    if (p->st) return 0;
    if (!eat(p, '}')) return fail(p, REWARD_RAT_SYNTAX);
    return 1;
}

/* "{digits}" exactly, for the fraction of a mixed number. */
static int braced_int(const char *s, size_t *i, mpz_t out) {
    size_t k = *i;
    if (s[k] != '{') return 0;
    k++;
    size_t a = k;
    while (isdigit((unsigned char)s[k]))
        k++;
    if (k == a || s[k] != '}') return 0;
    char *d = strndup(s + a, k - a);
    if (!d) return 0;
    mpz_set_str(out, d, 10);
    free(d);
    *i = k + 1;
    return 1;
}

static int frac(parser *p, mpq_t out) {
    mpq_t den;
    mpq_init(den);
    int ok = braced(p, out) && braced(p, den);
    if (ok && mpq_sgn(den) == 0) ok = fail(p, REWARD_RAT_UNDEFINED);
    if (ok) mpq_div(out, out, den);
    mpq_clear(den);
    return ok;
}

static int primary(parser *p, mpq_t out) {
    if (++p->depth > MAX_DEPTH) return fail(p, REWARD_RAT_SYNTAX);
    int ok;
    if (eat(p, '(')) {
        expr(p, out);
        ok = !p->st && (eat(p, ')') || fail(p, REWARD_RAT_SYNTAX));
    } else if (p->s[p->i] == '{') {
        ok = braced(p, out);
    } else if (eat_cmd(p, "\\frac")) {
        ok = frac(p, out);
    } else {
        int is_int;
        ok = number(p, out, &is_int);
        if (ok && is_int && strncmp(p->s + p->i, "\\frac", 5) == 0) {
            /* A mixed number: 3\frac{1}{2} is 3 + 1/2, only with a proper fraction of plain integers. */
            size_t k = p->i + 5;
            mpz_t n, d;
            mpz_inits(n, d, NULL);
            if (braced_int(p->s, &k, n) && braced_int(p->s, &k, d) && mpz_sgn(n) > 0 && mpz_cmp(n, d) < 0) {
                mpq_t f;
                mpq_init(f);
                mpq_set_num(f, n);
                mpq_set_den(f, d);
                mpq_canonicalize(f);
                mpq_add(out, out, f);
                mpq_clear(f);
                p->i = k;
            } else {
                ok = fail(p, REWARD_RAT_SYNTAX);
            }
            mpz_clears(n, d, NULL);
        }
    }
    p->depth--;
    return ok;
}

static int unary(parser *p, mpq_t out);

/* primary ['^' (braced | unary)], right-associative, integer exponents only. */
static int power(parser *p, mpq_t out) {
    if (!primary(p, out)) return 0;
    if (!eat(p, '^')) return 1;
    mpq_t e;
    mpq_init(e);
    int ok = p->s[p->i] == '{' ? braced(p, e) : unary(p, e);
    if (ok && mpz_cmp_ui(mpq_denref(e), 1) != 0) ok = fail(p, REWARD_RAT_SYNTAX); /* 2^{1/2} is a radical */
    if (ok && !mpz_fits_slong_p(mpq_numref(e))) ok = fail(p, REWARD_RAT_TOO_BIG);
    if (ok) {
        long k = mpz_get_si(mpq_numref(e));
        unsigned long mag = (unsigned long)(k < 0 ? -k : k);
        size_t bits = mpz_sizeinbase(mpq_numref(out), 2) + mpz_sizeinbase(mpq_denref(out), 2);
        if (mpq_sgn(out) == 0 && k < 0) {
            ok = fail(p, REWARD_RAT_UNDEFINED);
        } else if (mpq_sgn(out) != 0 && mpz_cmpabs_ui(mpq_numref(out), 1) == 0 && mpz_cmp_ui(mpq_denref(out), 1) == 0) {
            if (mag % 2 == 0) mpq_set_ui(out, 1, 1); /* (+-1)^k needs no size check */
        } else if (mpq_sgn(out) != 0 && (mag > MAX_POW_BITS || bits * mag > MAX_POW_BITS)) {
            ok = fail(p, REWARD_RAT_TOO_BIG);
        } else {
            mpz_pow_ui(mpq_numref(out), mpq_numref(out), mag);
            mpz_pow_ui(mpq_denref(out), mpq_denref(out), mag);
            if (k < 0 && mpq_sgn(out) != 0) mpq_inv(out, out);
        }
    }
    mpq_clear(e);
    return ok;
}

static int unary(parser *p, mpq_t out) {
    if (++p->depth > MAX_DEPTH) return fail(p, REWARD_RAT_SYNTAX);
    int ok;
    if (eat(p, '+')) {
        ok = unary(p, out);
    } else if (eat(p, '-')) {
        ok = unary(p, out);
        if (ok) mpq_neg(out, out);
    } else {
        ok = power(p, out);
    }
    p->depth--;
    return ok;
}

static void term(parser *p, mpq_t out) {
    if (!unary(p, out)) return;
    mpq_t r;
    mpq_init(r);
    for (;;) {
        int op;
        if (eat(p, '*') || eat_cmd(p, "\\cdot") || eat_cmd(p, "\\times")) {
            op = '*';
        } else if (eat(p, '/') || eat_cmd(p, "\\div")) {
            op = '/';
        } else if (p->s[p->i] == '(') {
            op = '*'; /* 2(3+4) */
        } else {
            break;
        }
        if (!unary(p, r)) break;
        if (op == '*') {
            mpq_mul(out, out, r);
        } else if (mpq_sgn(r) == 0) {
            fail(p, REWARD_RAT_UNDEFINED);
            break;
        } else {
            mpq_div(out, out, r);
        }
    }
    mpq_clear(r);
}

static void expr(parser *p, mpq_t out) {
    term(p, out);
    mpq_t r;
    mpq_init(r);
    while (!p->st) {
        int op = p->s[p->i];
        if (op != '+' && op != '-') break;
        p->i++;
        term(p, r);
        if (p->st) break;
        if (op == '+')
            mpq_add(out, out, r);
        else
            mpq_sub(out, out, r);
    }
    mpq_clear(r);
}

reward_rat_status reward_rational_eval(const char *s, mpq_t out) {
    parser p = {s, 0, 0, REWARD_RAT_OK};
    if (!*s) return REWARD_RAT_SYNTAX;
    expr(&p, out);
    if (p.st == REWARD_RAT_OK && s[p.i] != '\0') p.st = REWARD_RAT_SYNTAX;
    return p.st;
}
