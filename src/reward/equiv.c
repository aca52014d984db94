/* reward_equivalent: exact string, then lists (tuples, intervals, sets, bare lists) element by element, then exact
 * rationals, then plain words; whatever is left is undecided (or goes to the symbolic checker). */
#include <ctype.h>
#include <gmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reward/rational.h"
#include "reward/reward.h"

typedef struct span {
    const char *s;
    size_t n;
} span;

typedef struct cmp_ctx {
    reward_symbolic_fn symbolic;
    void *symbolic_ctx;
    int symbolic_left; /* calls of the symbolic checker still allowed for this comparison */
    int depth;         /* nesting of lists being compared */
    int oom;
} cmp_ctx;

enum { MAX_DEPTH = 16, MAX_SYMBOLIC_CALLS = 16 };

static reward_verdict compare(cmp_ctx *c, span a, span b);

static char *span_dup(span x) {
    return strndup(x.s, x.n);
}

static int span_eq(span a, span b) {
    return a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
}

static int starts(span x, const char *p) {
    size_t n = strlen(p);
    return x.n >= n && memcmp(x.s, p, n) == 0;
}

static int ends(span x, const char *p) {
    size_t n = strlen(p);
    return x.n >= n && memcmp(x.s + x.n - n, p, n) == 0;
}

/* Splits x at top-level occurrences of sep (outside (), [], {}), writing up to max pieces; returns the count
 * (0 when there are more than max pieces or the brackets do not balance). */
static size_t split_top(span x, const char *sep, span *parts, size_t max) {
    size_t n = strlen(sep), count = 0, start = 0;
    int depth = 0;
    for (size_t i = 0; i < x.n; i++) {
        char ch = x.s[i];
        if (ch == '\\' && i + 1 < x.n && (x.s[i + 1] == '{' || x.s[i + 1] == '}')) {
            depth += x.s[i + 1] == '{' ? 1 : -1;
            i++;
            continue;
        }
        if (ch == '(' || ch == '[' || ch == '{') depth++;
        if (ch == ')' || ch == ']' || ch == '}') depth--;
        if (depth < 0) return 0;
        if (depth == 0 && i + n <= x.n && memcmp(x.s + i, sep, n) == 0 &&
            !(sep[0] == '\\' && i + n < x.n && isalpha((unsigned char)x.s[i + n]))) {
            if (count == max) return 0;
            parts[count++] = (span){x.s + start, i - start};
            start = i + n;
            i += n - 1;
        }
    }
    if (depth != 0 || count == max) return 0;
    parts[count++] = (span){x.s + start, x.n - start};
    return count;
}

/* When x is one bracket group "(...)", "[...)", "\{...\}" spanning the whole string, sets the inner span and the
 * open/close kinds and returns 1. */
static int bracket_group(span x, span *inner, char *open, char *close) {
    size_t ol, cl;
    if (starts(x, "\\{") && ends(x, "\\}")) {
        *open = '{';
        *close = '}';
        ol = cl = 2;
    } else if (x.n >= 2 && (x.s[0] == '(' || x.s[0] == '[') && (x.s[x.n - 1] == ')' || x.s[x.n - 1] == ']')) {
        *open = x.s[0];
        *close = x.s[x.n - 1];
        ol = cl = 1;
    } else {
        return 0;
    }
    if (x.n < ol + cl) return 0;
    span in = {x.s + ol, x.n - ol - cl};
    span one[1];
    /* The inner part must balance on its own, so "(1)+(2)" is not a group. */
    if (split_top(in, "\x01", one, 1) != 1) return 0;
    *inner = in;
    return 1;
}

static reward_verdict combine(reward_verdict acc, reward_verdict v) {
    if (acc == REWARD_NOT_EQUAL || v == REWARD_NOT_EQUAL) return REWARD_NOT_EQUAL;
    if (acc == REWARD_UNDECIDED || v == REWARD_UNDECIDED) return REWARD_UNDECIDED;
    return REWARD_EQUAL;
}

enum { MAX_ITEMS = 64 };

static reward_verdict in_order(cmp_ctx *c, const span *a, const span *b, size_t n) {
    reward_verdict v = REWARD_EQUAL;
    for (size_t i = 0; i < n && v != REWARD_NOT_EQUAL; i++)
        v = combine(v, compare(c, a[i], b[i]));
    return v;
}

/* Multiset comparison for unordered lists: a greedy matching on decided-equal pairs. */
static reward_verdict unordered(cmp_ctx *c, const span *a, const span *b, size_t n) {
    if (in_order(c, a, b, n) == REWARD_EQUAL) return REWARD_EQUAL;
    int used[MAX_ITEMS] = {0};
    int any_undecided = 0;
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t j = 0; j < n && !found; j++) {
            if (used[j]) continue;
            reward_verdict v = compare(c, a[i], b[j]);
            if (v == REWARD_EQUAL) {
                used[j] = found = 1;
            } else if (v == REWARD_UNDECIDED) {
                any_undecided = 1;
            }
        }
        if (!found) return any_undecided ? REWARD_UNDECIDED : REWARD_NOT_EQUAL;
    }
    return REWARD_EQUAL;
}

/* Only letters (and ' -): a word answer such as "Monday", "even", "C". */
static int is_word(span x) {
    if (x.n == 0) return 0;
    for (size_t i = 0; i < x.n; i++)
        if (!(isalpha((unsigned char)x.s[i]) || x.s[i] == '\'' || x.s[i] == '-')) return 0;
    return isalpha((unsigned char)x.s[0]);
}

static int is_infinity(span x) {
    return (x.n == 6 && memcmp(x.s, "\\infty", 6) == 0) ||
           (x.n == 7 && (memcmp(x.s, "-\\infty", 7) == 0 || memcmp(x.s, "+\\infty", 7) == 0));
}

/* "1011_2", "A2_{16}": a numeral with a base subscript (2-36). The digits must include a decimal digit, so a
 * subscripted variable such as "a_{12}" is not read as a numeral. */
static int base_numeral(span x, span *digits, int *base) {
    size_t us = x.n;
    while (us > 0 && x.s[us - 1] != '_')
        us--;
    if (us < 2) return 0;
    span d = {x.s, us - 1}, sub = {x.s + us, x.n - us};
    if (sub.n >= 2 && sub.s[0] == '{' && sub.s[sub.n - 1] == '}') sub = (span){sub.s + 1, sub.n - 2};
    if (sub.n == 0 || sub.n > 2) return 0;
    int b = 0, has_digit = 0;
    for (size_t i = 0; i < sub.n; i++) {
        if (!isdigit((unsigned char)sub.s[i])) return 0;
        b = b * 10 + (sub.s[i] - '0');
    }
    for (size_t i = 0; i < d.n; i++) {
        if (!isalnum((unsigned char)d.s[i])) return 0;
        has_digit |= isdigit((unsigned char)d.s[i]) != 0;
    }
    if (b < 2 || b > 36 || !has_digit) return 0;
    *digits = d;
    *base = b;
    return 1;
}

/* The value of the numeral x in base b; 0 when x is not one (a digit out of range, not alphanumeric). */
static int numeral_value(span x, int b, mpz_t out) {
    if (x.n == 0 || x.n > 4096) return 0;
    char buf[4097];
    for (size_t i = 0; i < x.n; i++) {
        if (!isalnum((unsigned char)x.s[i])) return 0;
        buf[i] = x.s[i];
    }
    buf[x.n] = '\0';
    return mpz_set_str(out, buf, b) == 0;
}

/* Numerals with a base subscript: both subscripted compare by value; a plain numeral beside a subscripted one is
 * read in the same base (the subscript left off). Returns REWARD_UNDECIDED when the rule does not apply. */
static reward_verdict compare_bases(span a, span b) {
    span da = a, db = b;
    int ba = 0, bb = 0, sa = base_numeral(a, &da, &ba), sb = base_numeral(b, &db, &bb);
    if (!sa && !sb) return REWARD_UNDECIDED;
    if (!sa) ba = bb;
    if (!sb) bb = ba;
    mpz_t x, y;
    mpz_inits(x, y, NULL);
    int vx = numeral_value(da, ba, x), vy = numeral_value(db, bb, y);
    reward_verdict v = REWARD_UNDECIDED;
    if (vx && vy) {
        v = mpz_cmp(x, y) == 0 ? REWARD_EQUAL : REWARD_NOT_EQUAL;
    } else if (vx != vy) {
        /* One side is a valid numeral, the other an alphanumeric string that is not one in its base ("1021_2"). */
        span bad = vx ? db : da;
        int alnum = bad.n > 0;
        for (size_t i = 0; i < bad.n; i++)
            alnum &= isalnum((unsigned char)bad.s[i]) != 0;
        if (alnum) v = REWARD_NOT_EQUAL;
    }
    mpz_clears(x, y, NULL);
    return v;
}

static reward_verdict compare_scalar(cmp_ctx *c, span a, span b) {
    reward_verdict bv = compare_bases(a, b);
    if (bv != REWARD_UNDECIDED) return bv;
    int pa = ends(a, "%"), pb = ends(b, "%");
    span na = {a.s, a.n - (size_t)pa}, nb = {b.s, b.n - (size_t)pb};
    char *sa = span_dup(na), *sb = span_dup(nb);
    if (!sa || !sb) {
        free(sa);
        free(sb);
        c->oom = 1;
        return REWARD_UNDECIDED;
    }
    mpq_t qa, qb;
    mpq_inits(qa, qb, NULL);
    reward_rat_status ra = reward_rational_eval(sa, qa), rb = reward_rational_eval(sb, qb);
    reward_verdict v = REWARD_UNDECIDED;
    if (ra == REWARD_RAT_OK && rb == REWARD_RAT_OK) {
        v = mpq_equal(qa, qb) ? REWARD_EQUAL : REWARD_NOT_EQUAL;
        if (v == REWARD_NOT_EQUAL && pa != pb) {
            /* "50%" and "0.5": a percentage on one side only may also mean the fraction. */
            mpq_t hundred;
            mpq_init(hundred);
            mpq_set_ui(hundred, 100, 1);
            mpq_div(pa ? qa : qb, pa ? qa : qb, hundred);
            if (mpq_equal(qa, qb)) v = REWARD_EQUAL;
            mpq_clear(hundred);
        }
    } else if ((ra == REWARD_RAT_OK && rb == REWARD_RAT_UNDEFINED) ||
               (ra == REWARD_RAT_UNDEFINED && rb == REWARD_RAT_OK)) {
        v = REWARD_NOT_EQUAL; /* a number against "1/0" */
    } else if (!pa && !pb && is_word(a) && is_word(b)) {
        v = (a.n == b.n && strncasecmp(a.s, b.s, a.n) == 0) ? REWARD_EQUAL : REWARD_NOT_EQUAL;
    } else if ((ra == REWARD_RAT_OK && (is_word(b) || is_infinity(b))) ||
               (rb == REWARD_RAT_OK && (is_word(a) || is_infinity(a))) || (is_infinity(a) && is_infinity(b))) {
        v = REWARD_NOT_EQUAL; /* a number against a word or an infinity; +oo against -oo (equal strings matched) */
    }
    if (v == REWARD_UNDECIDED && c->symbolic && c->symbolic_left > 0) {
        c->symbolic_left--;
        char *ta = span_dup(a), *tb = span_dup(b);
        if (ta && tb)
            v = c->symbolic(c->symbolic_ctx, ta, tb);
        else
            c->oom = 1;
        free(ta);
        free(tb);
    }
    mpq_clears(qa, qb, NULL);
    free(sa);
    free(sb);
    return v;
}

static reward_verdict compare_nested(cmp_ctx *c, span a, span b);

static reward_verdict compare(cmp_ctx *c, span a, span b) {
    if (span_eq(a, b)) return REWARD_EQUAL;
    if (c->depth >= MAX_DEPTH) return REWARD_UNDECIDED; /* lists nested this deep are not an answer format */
    c->depth++;
    reward_verdict v = compare_nested(c, a, b);
    c->depth--;
    return v;
}

static reward_verdict compare_nested(cmp_ctx *c, span a, span b) {
    span pa[MAX_ITEMS], pb[MAX_ITEMS];
    /* Unions of intervals: piece by piece, in order. */
    size_t ua = split_top(a, "\\cup", pa, MAX_ITEMS), ub = split_top(b, "\\cup", pb, MAX_ITEMS);
    if (ua > 1 || ub > 1) return ua == ub ? in_order(c, pa, pb, ua) : REWARD_NOT_EQUAL;
    /* Bracketed lists: the brackets must agree; sets are unordered, tuples and intervals ordered. */
    span ia, ib;
    char oa, ca, ob, cb;
    int ga = bracket_group(a, &ia, &oa, &ca), gb = bracket_group(b, &ib, &ob, &cb);
    size_t na = ga ? split_top(ia, ",", pa, MAX_ITEMS) : 0, nb = gb ? split_top(ib, ",", pb, MAX_ITEMS) : 0;
    int la = ga && (na > 1 || oa == '{'), lb = gb && (nb > 1 || ob == '{');
    if (la || lb) {
        if (!(la && lb) || oa != ob || ca != cb || na != nb) return REWARD_NOT_EQUAL;
        return oa == '{' ? unordered(c, pa, pb, na) : in_order(c, pa, pb, na);
    }
    /* Bare lists "1,2,3": unordered (the "enter all solutions" answers). */
    na = split_top(a, ",", pa, MAX_ITEMS);
    nb = split_top(b, ",", pb, MAX_ITEMS);
    if (na > 1 || nb > 1) return na == nb ? unordered(c, pa, pb, na) : REWARD_NOT_EQUAL;
    return compare_scalar(c, a, b);
}

rt_status reward_equivalent(const char *truth, const char *pred, reward_symbolic_fn symbolic, void *symbolic_ctx,
                            reward_verdict *out, rt_error *err) {
    char *a = NULL, *b = NULL;
    rt_status st = reward_normalize(truth, &a, err);
    if (st == RT_OK) st = reward_normalize(pred, &b, err);
    if (st == RT_OK) {
        cmp_ctx c = {symbolic, symbolic_ctx, MAX_SYMBOLIC_CALLS, 0, 0};
        *out = compare(&c, (span){a, strlen(a)}, (span){b, strlen(b)});
        if (c.oom) st = rt_err_set(err, RT_ENOMEM, "comparing answers: out of memory");
    }
    free(a);
    free(b);
    return st;
}

const char *reward_verdict_name(reward_verdict v) {
    switch (v) {
    case REWARD_EQUAL:
        return "equal";
    case REWARD_NOT_EQUAL:
        return "not_equal";
    case REWARD_UNDECIDED:
        return "undecided";
    }
    return "unknown";
}
