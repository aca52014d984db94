/* The pieces of reward/: normalisation rules one by one, exact rational evaluation and its limits, extraction
 * reasons, reward shapes, the sympy translator's whitelist and the checker's timeout. */
#include <criterion/criterion.h>
#include <gmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reward/rational.h"
#include "reward/reward.h"

static void expect_norm(const char *in, const char *want) {
    char *out = NULL;
    rt_error err;
    cr_assert_eq(reward_normalize(in, &out, &err), RT_OK, "%s", err.msg);
    cr_expect_str_eq(out, want, "normalising '%s'", in);
    free(out);
}

Test(reward_normalize, each_rule) {
    expect_norm("  42 ", "42");
    expect_norm("\\text{Monday}", "Monday");
    expect_norm("\\mathrm{cm}", "cm");
    expect_norm("\\left( 1, 2 \\right)", "(1,2)");
    expect_norm("\\left.x\\right|", "x|");
    expect_norm("\\dfrac{1}{2}", "\\frac{1}{2}");
    expect_norm("\\tfrac 3 4", "\\frac{3}{4}");
    expect_norm("\\frac12", "\\frac{1}{2}");
    expect_norm("\\frac1{23}", "\\frac{1}{23}");
    expect_norm("\\frac{10}3", "\\frac{10}{3}");
    expect_norm("\\sqrt2", "\\sqrt{2}");
    expect_norm("30^\\circ", "30");
    expect_norm("30^{\\circ}", "30");
    expect_norm("12\\%", "12%");
    expect_norm("\\$1,000", "1000");
    expect_norm("$x$", "x");
    expect_norm("5 cm", "5");
    expect_norm("5 \\text{ square feet}", "5");
    expect_norm("3 m/s", "3");
    expect_norm("7.", "7");
    expect_norm("1,234,567", "1234567");
    expect_norm("(1,234)", "(1,234)");
    expect_norm("1, 234", "1,234"); /* a list: its space keeps it from being read as a thousands separator */
    expect_norm("x = 5", "5");
    expect_norm("a_1=3", "3");
    expect_norm("\\theta = 30^\\circ", "30");
    expect_norm("x=1,y=2", "x=1,y=2");
    expect_norm("1\\!000", "1000");
    expect_norm("1\\,000", "1000");
    expect_norm("\\boxed{7}", "7");
    expect_norm("{{3}}", "3");
    expect_norm("\\text{(B)}", "B");
    expect_norm("3 1/2", "3\\frac{1}{2}");
    expect_norm("\\leftarrow", "\\leftarrow");
    expect_norm("2 in", "2");
    expect_norm("x in", "xin");
}

static int eval(const char *s, const char *want) {
    mpq_t q, w;
    mpq_inits(q, w, NULL);
    reward_rat_status st = reward_rational_eval(s, q);
    int ok = 0;
    if (st == REWARD_RAT_OK && want) {
        mpq_set_str(w, want, 10);
        mpq_canonicalize(w);
        ok = mpq_equal(q, w);
        if (!ok) {
            char *got = mpq_get_str(NULL, 10, q);
            cr_log_error("%s = %s, wanted %s", s, got, want);
            free(got);
        }
    }
    mpq_clears(q, w, NULL);
    return want ? ok : (int)st;
}

Test(reward_rational, values) {
    cr_expect(eval("033", "33"));
    cr_expect(eval("0.125", "1/8"));
    cr_expect(eval(".5", "1/2"));
    cr_expect(eval("\\frac{1}{3}+\\frac{1}{6}", "1/2"));
    cr_expect(eval("-2^2", "-4"));
    cr_expect(eval("(-2)^2", "4"));
    cr_expect(eval("2^3^2", "512"));
    cr_expect(eval("2^-3", "1/8"));
    cr_expect(eval("1-2-3", "-4"));
    cr_expect(eval("12/3/2", "2"));
    cr_expect(eval("2\\cdot3\\times4\\div6", "4"));
    cr_expect(eval("7\\frac{3}{4}", "31/4"));
    cr_expect(eval("-7\\frac{3}{4}", "-31/4"));
    cr_expect(eval("3(1+1)", "6"));
    cr_expect(eval("{2}+{3}", "5"));
    cr_expect(eval("10^{30}", "1000000000000000000000000000000"));
    cr_expect(eval("1.000000000000000000001", "1000000000000000000001/1000000000000000000000"));
}

Test(reward_rational, refusals) {
    cr_expect_eq(eval("\\sqrt{2}", NULL), REWARD_RAT_SYNTAX);
    cr_expect_eq(eval("2\\pi", NULL), REWARD_RAT_SYNTAX);
    cr_expect_eq(eval("x", NULL), REWARD_RAT_SYNTAX);
    cr_expect_eq(eval("", NULL), REWARD_RAT_SYNTAX);
    cr_expect_eq(eval("1+", NULL), REWARD_RAT_SYNTAX);
    cr_expect_eq(eval("(1", NULL), REWARD_RAT_SYNTAX);
    cr_expect_eq(eval("2^{1/2}", NULL), REWARD_RAT_SYNTAX);
    cr_expect_eq(eval("3\\frac{5}{2}", NULL), REWARD_RAT_SYNTAX); /* improper: not a mixed number */
    cr_expect_eq(eval("1/0", NULL), REWARD_RAT_UNDEFINED);
    cr_expect_eq(eval("\\frac{1}{1-1}", NULL), REWARD_RAT_UNDEFINED);
    cr_expect_eq(eval("0^{-2}", NULL), REWARD_RAT_UNDEFINED);
    cr_expect_eq(eval("2^{100000000}", NULL), REWARD_RAT_TOO_BIG);
    cr_expect_eq(eval("10^{10^{10}}", NULL), REWARD_RAT_TOO_BIG);
    cr_expect(eval("1^{100000000000}", "1"));
    /* Deep nesting is refused, not a stack overflow. */
    char deep[4096];
    size_t n = 0;
    for (int i = 0; i < 1500; i++)
        deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 1500; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    cr_expect_eq(eval(deep, NULL), REWARD_RAT_SYNTAX);
}

Test(reward_extract, reasons_are_distinct) {
    char *a;
    rt_error err;
    cr_expect_eq(reward_extract("no box", &a, &err), RT_ENOTFOUND);
    cr_expect(a == NULL);
    cr_expect(strstr(err.msg, "no \\boxed{} found") != NULL, "%s", err.msg);
    cr_expect_eq(reward_extract("\\boxed{1+{2}", &a, &err), RT_ENOTFOUND);
    cr_expect(strstr(err.msg, "not closed") != NULL, "%s", err.msg);
    cr_expect_eq(reward_extract("\\boxed{ }", &a, &err), RT_ENOTFOUND);
    cr_expect(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    cr_expect_eq(reward_extract("\\boxed{1} <answer>none</answer>", &a, &err), RT_ENOTFOUND);
    cr_expect(strstr(err.msg, "<answer>") != NULL, "%s", err.msg);
    cr_assert_eq(reward_extract("\\boxed{\\{1,2\\}}", &a, &err), RT_OK);
    cr_expect_str_eq(a, "\\{1,2\\}");
    free(a);
    cr_assert_eq(reward_extract("\\boxed{\\frac{a}{b}} and \\boxedfoo{3}", &a, &err), RT_OK);
    cr_expect_str_eq(a, "\\frac{a}{b}");
    free(a);
}

static reward_verdict always_equal(void *ctx, const char *a, const char *b) {
    (*(int *)ctx)++;
    (void)a;
    (void)b;
    return REWARD_EQUAL;
}

static reward_verdict count_calls(void *ctx, const char *a, const char *b) {
    (*(int *)ctx)++;
    (void)a;
    (void)b;
    return REWARD_UNDECIDED;
}

Test(reward_score, shapes_and_penalties) {
    reward_options opt;
    reward_options_default(&opt);
    reward_result r;
    rt_error err;
    cr_assert_eq(reward_score("\\boxed{4}", "4", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, 1.0);
    cr_expect_str_eq(r.answer, "4");
    reward_result_free(&r);
    cr_assert_eq(reward_score("\\boxed{5}", "4", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, -1.0);
    reward_result_free(&r);
    opt.shape = REWARD_SHAPE_BINARY;
    cr_assert_eq(reward_score("\\boxed{5}", "4", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, 0.0);
    reward_result_free(&r);
    cr_assert_eq(reward_score("4", "4", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, 0.0);
    cr_expect_eq(r.has_answer, 0);
    cr_expect(strstr(r.reason, "no \\boxed") != NULL, "%s", r.reason);
    reward_result_free(&r);
    opt.format_penalty = 1;
    opt.no_answer_reward = -0.5;
    cr_assert_eq(reward_score("4", "4", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, -0.5);
    reward_result_free(&r);
    /* Undecided scores as wrong unless asked; the symbolic hook is consulted only when undecided. */
    reward_options_default(&opt);
    cr_assert_eq(reward_score("\\boxed{\\sqrt{4}}", "2", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.verdict, REWARD_UNDECIDED);
    cr_expect_eq(r.reward, -1.0);
    reward_result_free(&r);
    opt.undecided_is_equal = 1;
    cr_assert_eq(reward_score("\\boxed{\\sqrt{4}}", "2", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, 1.0);
    reward_result_free(&r);
    int calls = 0;
    reward_options_default(&opt);
    opt.symbolic = always_equal;
    opt.symbolic_ctx = &calls;
    cr_assert_eq(reward_score("\\boxed{3}", "2", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, -1.0);
    cr_expect_eq(calls, 0);
    reward_result_free(&r);
    cr_assert_eq(reward_score("\\boxed{\\sqrt{4}}", "2", &opt, &r, &err), RT_OK);
    cr_expect_eq(r.reward, 1.0);
    cr_expect_eq(calls, 1);
    reward_result_free(&r);
    /* The truth may be given boxed. */
    cr_assert_eq(reward_score("\\boxed{0.5}", "\\boxed{\\frac{1}{2}}", NULL, &r, &err), RT_OK);
    cr_expect_eq(r.reward, 1.0);
    reward_result_free(&r);
}

Test(reward_sympy, translation_and_whitelist) {
    char *s = reward_latex_to_sympy("\\frac{\\sqrt{3}}{2}");
    cr_assert(s);
    cr_expect_str_eq(s, "((sqrt(3))/(2))");
    free(s);
    s = reward_latex_to_sympy("2^{x}\\cdot\\pi");
    cr_assert(s);
    cr_expect_str_eq(s, "2**(x) *  pi ");
    free(s);
    const char *refused[] = {"__import__('os')", "\\binom{5}{2}", "abs(x)", "x;y", "a[0]", "\"s\"", "\\frac{1}", ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_expect(reward_latex_to_sympy(refused[i]) == NULL, "'%s' was not refused", refused[i]);
}

Test(reward_sympy, timeout_and_missing_interpreter_are_undecided) {
    reward_python_checker fast = {NULL, 0.05};
    cr_expect_eq(reward_symbolic_python(&fast, "\\sqrt{12}", "2\\sqrt{3}"), REWARD_UNDECIDED);
    reward_python_checker none = {"/nonexistent/python3", 5.0};
    cr_expect_eq(reward_symbolic_python(&none, "\\sqrt{12}", "2\\sqrt{3}"), REWARD_UNDECIDED);
    reward_python_checker ok = {NULL, 20.0};
    cr_expect_eq(reward_symbolic_python(&ok, "\\sqrt{12}", "2\\sqrt{3}"), REWARD_EQUAL);
}

/* Random answers built from the tokens real answers use: comparing never crashes, is reflexive and symmetric. */
Test(reward_equivalent, random_answers_reflexive_and_symmetric) {
    static const char *const tok[] = {"1",        "2",        "0",   "33",         ".5",    ",", "(",       ")",
                                      "[",        "]",        "\\{", "\\}",        "{",     "}", "\\frac",  "\\sqrt",
                                      "\\pi",     "x",        "+",   "-",          "*",     "/", "^",       "%",
                                      "\\%",      "\\cup",    " ",   "\\text{cm}", "\\$",   "=", "\\infty", "\\left(",
                                      "\\right)", "\\boxed{", ".",   "_2",         "_{16}", "A", "7"};
    uint64_t state = 12345;
    size_t ntok = sizeof tok / sizeof tok[0];
    for (int iter = 0; iter < 3000; iter++) {
        char a[256] = "", b[256] = "";
        for (int side = 0; side < 2; side++) {
            char *s = side ? b : a;
            int len = (int)(state % 12) + 1;
            for (int k = 0; k < len; k++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                strcat(s, tok[(state >> 33) % ntok]);
            }
        }
        reward_verdict ab, ba, aa;
        rt_error err;
        cr_assert_eq(reward_equivalent(a, b, NULL, NULL, &ab, &err), RT_OK, "%s", err.msg);
        cr_assert_eq(reward_equivalent(b, a, NULL, NULL, &ba, &err), RT_OK, "%s", err.msg);
        cr_assert_eq(reward_equivalent(a, a, NULL, NULL, &aa, &err), RT_OK, "%s", err.msg);
        cr_expect_eq(aa, REWARD_EQUAL, "'%s' vs itself: %s", a, reward_verdict_name(aa));
        cr_expect_eq(ab, ba, "'%s' vs '%s': %s one way, %s the other", a, b, reward_verdict_name(ab),
                     reward_verdict_name(ba));
    }
}

Test(reward_equivalent, deep_nesting_and_long_lists_are_bounded) {
    /* Tuples nested 2000 deep that differ only at the innermost element: past the depth limit (16) the verdict is
     * undecided instead of a recursion as deep as the input. */
    static char deep[8192], deep2[8192];
    for (int i = 0; i < 2000; i++)
        strcat(deep, "(1,");
    strcpy(deep2, deep);
    strcat(deep, "1");
    strcat(deep2, "2");
    for (int i = 0; i < 2000; i++) {
        strcat(deep, ")");
        strcat(deep2, ")");
    }
    reward_verdict v;
    rt_error err;
    cr_assert_eq(reward_equivalent(deep, deep2, NULL, NULL, &v, &err), RT_OK);
    cr_expect_eq(v, REWARD_UNDECIDED);
    cr_assert_eq(reward_equivalent("((1,2),(3,4))", "((1,2),(3,5))", NULL, NULL, &v, &err), RT_OK);
    cr_expect_eq(v, REWARD_NOT_EQUAL);
    cr_assert_eq(reward_equivalent("((1,2),(3,4))", "((1,2),(3,\\frac{8}{2}))", NULL, NULL, &v, &err), RT_OK);
    cr_expect_eq(v, REWARD_EQUAL);
    int calls = 0;
    char list[4096] = "";
    for (int i = 0; i < 60; i++)
        strcat(list, i ? ",\\sqrt{2}" : "\\sqrt{2}");
    cr_assert_eq(reward_equivalent(list, list + 1, count_calls, &calls, &v, &err), RT_OK);
    cr_expect_leq(calls, 16, "%d symbolic calls", calls);
}
